/* store_pool — a few store connections shared by many threads, one borrower
 * at a time each.
 *
 * A struct store is used by one thread at a time (store.h), and each open
 * connection costs ~130 KiB, so the turn workers of `harde serve` (there may
 * be hundreds) do not each keep one: they borrow a connection for the
 * moment they save a session and give it back. take blocks while all are
 * lent out; connections are opened up front so a borrower never pays for
 * opening one.
 *
 * Thread-safe. */
#ifndef HARDE_WEB_STORE_POOL_H
#define HARDE_WEB_STORE_POOL_H

#include <stddef.h>

#include "store/store.h"

struct store_pool;

/* Opens n (>= 1) connections to location (see store_open). New, or NULL
 * with err set. */
struct store_pool *store_pool_open(const char *location, size_t n, char *err, size_t errlen);
/* Closes every connection; all must have been given back. NULL is fine. */
void store_pool_close(struct store_pool *pool);
/* A connection for this thread alone until store_pool_give (borrowed). */
struct store *store_pool_take(struct store_pool *pool);
void store_pool_give(struct store_pool *pool, struct store *st);

#endif
