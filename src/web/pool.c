/* pool — worker threads and a ring-buffer queue behind one mutex. See pool.h.
 *
 * Workers are started by submit when the queue would otherwise wait for a
 * busy worker, up to the configured number; worker i always gets
 * contexts[i]. A worker sleeps on `work` while the queue is empty. */
#define _POSIX_C_SOURCE 200809L
#include "web/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

struct worker {
    struct web_pool *pool;
    void *ctx;
    pthread_t thread;
};

struct web_pool {
    struct web_pool_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t work;
    void **ring;
    size_t head, len;
    struct worker *workers;
    size_t started;
    size_t busy;
    bool stopping;
    bool stopped;
};

struct web_pool *web_pool_new(const struct web_pool_config *config)
{
    struct web_pool *p = xcalloc(1, sizeof *p);
    p->cfg = *config;
    if (p->cfg.threads < 1)
        p->cfg.threads = 1;
    if (p->cfg.queue < 1)
        p->cfg.queue = 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    p->ring = xcalloc(p->cfg.queue, sizeof *p->ring);
    p->workers = xcalloc(p->cfg.threads, sizeof *p->workers);
    return p;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct web_pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->len == 0 && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->len == 0)
            break;
        void *job = p->ring[p->head];
        p->head = (p->head + 1) % p->cfg.queue;
        p->len--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        p->cfg.run(w->ctx, job);
        pthread_mutex_lock(&p->lock);
        p->busy--;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Starts one more worker (lock held); false when it could not. */
static bool start_worker(struct web_pool *p)
{
    struct worker *w = &p->workers[p->started];
    w->pool = p;
    w->ctx = p->cfg.contexts ? p->cfg.contexts[p->started] : NULL;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (p->cfg.stack_bytes)
        pthread_attr_setstacksize(&attr, p->cfg.stack_bytes);
    int rc = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_error("web", "%s pool: cannot start worker %zu: %s", p->cfg.name, p->started,
                  strerror(rc));
        return false;
    }
    p->started++;
    return true;
}

int web_pool_submit(struct web_pool *p, void *job, web_pool_accept_fn *accepted)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        rc = ERR_CANCELED;
        goto out;
    }
    if (p->len == p->cfg.queue) {
        rc = ERR_LIMIT;
        goto out;
    }
    size_t idle = p->started - p->busy;
    if (idle <= p->len && p->started < p->cfg.threads && !start_worker(p) && p->started == 0) {
        rc = ERR_LIMIT;
        goto out;
    }
    if (accepted)
        accepted(job);
    p->ring[(p->head + p->len) % p->cfg.queue] = job;
    p->len++;
    pthread_cond_signal(&p->work);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void web_pool_stop(struct web_pool *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopped) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->stopping = true;
    /* Take the queued jobs out so that workers finish what runs and exit. */
    size_t n = p->len;
    void **left = xcalloc(n ? n : 1, sizeof *left);
    for (size_t i = 0; i < n; i++)
        left[i] = p->ring[(p->head + i) % p->cfg.queue];
    p->len = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++)
        p->cfg.drop(left[i]);
    free(left);
    for (size_t i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_lock(&p->lock);
    p->stopped = true;
    pthread_mutex_unlock(&p->lock);
}

void web_pool_free(struct web_pool *p)
{
    if (!p)
        return;
    web_pool_stop(p);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->ring);
    free(p->workers);
    free(p);
}

void web_pool_get_stats(struct web_pool *p, struct web_pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->threads = p->started;
    out->busy = p->busy;
    out->queued = p->len;
    pthread_mutex_unlock(&p->lock);
}
