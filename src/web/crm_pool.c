/* crm_pool — a forwarding CRM backend over a stack of real handles. See crm_pool.h.
 *
 * The proxy's vtable is a copy of the pattern below with the real backend's
 * name, so crm_backend_name(proxy) still says "local" or "leap". The crm_*
 * wrappers validate arguments before calling the proxy, so forwarding goes
 * straight to the real backend's function, exactly as the wrapper would. */
#define _POSIX_C_SOURCE 200809L
#include "web/crm_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct crm_pool {
    struct crm base; /* first: callers hold &base */
    struct crm_backend vtable;
    pthread_mutex_t lock;
    pthread_cond_t given;
    struct crm **all;
    struct crm **idle;
    size_t n, n_idle;
};

static struct crm *take(struct crm *proxy)
{
    struct crm_pool *p = (struct crm_pool *)proxy;
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0)
        pthread_cond_wait(&p->given, &p->lock);
    struct crm *real = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    return real;
}

static int give(struct crm *proxy, struct crm *real, int rc)
{
    struct crm_pool *p = (struct crm_pool *)proxy;
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = real;
    pthread_cond_signal(&p->given);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int fwd_search(struct crm *crm, const char *query, size_t limit, struct crm_hits *out,
                      char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->search(r, query, limit, out, err, errlen));
}

static int fwd_customer_get(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                            size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->customer_get(r, id, out, err, errlen));
}

static int fwd_job_get(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->job_get(r, id, out, err, errlen));
}

static int fwd_client_create(struct crm *crm, const struct crm_new_client *in,
                             struct crm_created *out, char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->client_create(r, in, out, err, errlen));
}

static int fwd_note_add(struct crm *crm, int64_t job_id, const char *author, const char *text,
                        int64_t *note_id, char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->note_add(r, job_id, author, text, note_id, err, errlen));
}

static int fwd_jobs_list(struct crm *crm, enum crm_stage stage, size_t limit, struct crm_jobs *out,
                         char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->jobs_list(r, stage, limit, out, err, errlen));
}

static int fwd_stage_move(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                          const char *reason, char *err, size_t errlen)
{
    struct crm *r = take(crm);
    return give(crm, r, r->backend->stage_move(r, job_id, to, by, reason, err, errlen));
}

static void pool_close(struct crm *crm)
{
    struct crm_pool *p = (struct crm_pool *)crm;
    for (size_t i = 0; i < p->n; i++)
        crm_close(p->all[i]);
    free(p->all);
    free(p->idle);
    pthread_cond_destroy(&p->given);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const struct crm_backend forwarding = {
    .name = "pool",
    .search = fwd_search,
    .customer_get = fwd_customer_get,
    .job_get = fwd_job_get,
    .client_create = fwd_client_create,
    .note_add = fwd_note_add,
    .jobs_list = fwd_jobs_list,
    .stage_move = fwd_stage_move,
    .close = pool_close,
};

struct crm *crm_pool_open(const struct config *cfg, const char *data_dir, const char *share_dir,
                          size_t n, char *err, size_t errlen)
{
    if (n < 1)
        n = 1;
    struct crm_pool *p = xcalloc(1, sizeof *p);
    p->vtable = forwarding;
    p->base.backend = &p->vtable;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->given, NULL);
    p->all = xcalloc(n, sizeof *p->all);
    p->idle = xcalloc(n, sizeof *p->idle);
    for (size_t i = 0; i < n; i++) {
        struct crm *real = crm_open_configured(cfg, data_dir, share_dir, err, errlen);
        if (!real) {
            pool_close(&p->base);
            return NULL;
        }
        p->all[p->n++] = real;
        p->idle[p->n_idle++] = real;
    }
    p->vtable.name = p->all[0]->backend->name;
    return &p->base;
}
