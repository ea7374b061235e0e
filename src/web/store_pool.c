/* store_pool — a stack of idle store connections behind a mutex and a
 * condition variable. See store_pool.h. */
#define _POSIX_C_SOURCE 200809L
#include "web/store_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct store_pool {
    pthread_mutex_t lock;
    pthread_cond_t given;
    struct store **all;
    struct store **idle;
    size_t n, n_idle;
};

struct store_pool *store_pool_open(const char *location, size_t n, char *err, size_t errlen)
{
    struct store_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->given, NULL);
    p->all = xcalloc(n ? n : 1, sizeof *p->all);
    p->idle = xcalloc(n ? n : 1, sizeof *p->idle);
    for (size_t i = 0; i < (n ? n : 1); i++) {
        if (store_open(location, NULL, &p->all[i], err, errlen) != 0) {
            store_pool_close(p);
            return NULL;
        }
        p->idle[p->n_idle++] = p->all[i];
        p->n++;
    }
    return p;
}

void store_pool_close(struct store_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        store_close(p->all[i]);
    free(p->all);
    free(p->idle);
    pthread_cond_destroy(&p->given);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

struct store *store_pool_take(struct store_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0)
        pthread_cond_wait(&p->given, &p->lock);
    struct store *st = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    return st;
}

void store_pool_give(struct store_pool *p, struct store *st)
{
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = st;
    pthread_cond_signal(&p->given);
    pthread_mutex_unlock(&p->lock);
}
