/* limiter — token-bucket rate limits keyed by a string (a user name, a
 * client address), for the web server.
 *
 * Each key has a bucket of `capacity` tokens that refills at `per_minute`
 * tokens a minute; an action takes one token and is refused when the bucket
 * is empty, with the whole seconds until a token is back (for Retry-After).
 * Buckets live in a bounded table (web/table.h): when it is full the least
 * recently used key is forgotten, which can only make a limit more lenient
 * for a key nobody has used for a while, never grow memory.
 *
 * Thread-safe: one mutex per limiter, held for a table lookup. Times are
 * monotonic nanoseconds passed in by the caller (tests use a fake clock). */
#ifndef HARDE_WEB_LIMITER_H
#define HARDE_WEB_LIMITER_H

#include <stddef.h>
#include <stdint.h>

struct limiter;

/* A new limiter; capacity >= 1, per_minute > 0, max_keys >= 1. */
struct limiter *limiter_new(double capacity, double per_minute, size_t max_keys);
void limiter_free(struct limiter *l);

/* Takes one token for key: 0 when allowed, else the seconds (>= 1) until
 * one is available (nothing is taken). */
int limiter_take(struct limiter *l, const char *key, int64_t now_ns);
/* Like limiter_take without taking: 0 when a token is available. */
int limiter_check(struct limiter *l, const char *key, int64_t now_ns);
/* Forgets key (its bucket is full again). */
void limiter_reset(struct limiter *l, const char *key);

#endif
