/* limiter — token buckets in a bounded table. See limiter.h.
 *
 * A bucket stores its token count and the time it was last refilled; a
 * lookup first refills it for the time elapsed (capped at capacity). A new
 * key starts full. Keys too long for the table share one bucket ("…"), so an
 * oversized key is limited rather than let through. */
#define _POSIX_C_SOURCE 200809L
#include "web/limiter.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "web/table.h"

struct bucket {
    double tokens;
    int64_t refilled_ns;
};

struct limiter {
    pthread_mutex_t lock;
    double capacity;
    double per_ns;
    struct web_table *table;
};

struct limiter *limiter_new(double capacity, double per_minute, size_t max_keys)
{
    struct limiter *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->capacity = capacity < 1 ? 1 : capacity;
    l->per_ns = (per_minute > 0 ? per_minute : 1) / 60e9;
    l->table = web_table_new(sizeof(struct bucket), max_keys);
    return l;
}

void limiter_free(struct limiter *l)
{
    if (!l)
        return;
    web_table_free(l->table);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* The refilled bucket of key (borrowed; lock held). */
static struct bucket *bucket_of(struct limiter *l, const char *key, int64_t now_ns)
{
    bool created;
    struct bucket *b = web_table_put(l->table, key, &created);
    if (!b)
        b = web_table_put(l->table, "\xe2\x80\xa6", &created);
    if (created) {
        b->tokens = l->capacity;
        b->refilled_ns = now_ns;
    } else if (now_ns > b->refilled_ns) {
        b->tokens = fmin(l->capacity, b->tokens + (double)(now_ns - b->refilled_ns) * l->per_ns);
        b->refilled_ns = now_ns;
    }
    return b;
}

static int wait_seconds(const struct limiter *l, const struct bucket *b)
{
    double seconds = (1.0 - b->tokens) / l->per_ns / 1e9;
    int s = (int)ceil(seconds);
    return s < 1 ? 1 : s;
}

static int take_or_check(struct limiter *l, const char *key, int64_t now_ns, bool take)
{
    pthread_mutex_lock(&l->lock);
    struct bucket *b = bucket_of(l, key, now_ns);
    int wait = 0;
    if (b->tokens >= 1.0) {
        if (take)
            b->tokens -= 1.0;
    } else {
        wait = wait_seconds(l, b);
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

int limiter_take(struct limiter *l, const char *key, int64_t now_ns)
{
    return take_or_check(l, key, now_ns, true);
}

int limiter_check(struct limiter *l, const char *key, int64_t now_ns)
{
    return take_or_check(l, key, now_ns, false);
}

void limiter_reset(struct limiter *l, const char *key)
{
    pthread_mutex_lock(&l->lock);
    web_table_remove(l->table, key);
    pthread_mutex_unlock(&l->lock);
}
