/* pool — a bounded pool of worker threads fed by a bounded queue.
 *
 * The web server runs everything slow (store reads, password checks, model
 * turns) off the HTTP event-loop threads, on pools like this one. A pool has
 * up to `threads` workers, started lazily (a new one when a job arrives and
 * no worker is idle), each given its own context pointer (the worker's
 * harde_app: a context is only ever used by its one thread). Jobs wait in a
 * FIFO of at most `queue` entries; a submit to a full queue is refused at
 * once (the caller answers 503) rather than making the client wait unseen.
 *
 * Stopping refuses new jobs, hands every job still queued to `drop` (which
 * must answer and free it), lets running jobs finish and joins the threads.
 *
 * Thread-safe: submit and stats from any thread. */
#ifndef HARDE_WEB_POOL_H
#define HARDE_WEB_POOL_H

#include <stddef.h>

/* Runs one job on a worker thread; ctx is the worker's own context. */
typedef void web_pool_run_fn(void *ctx, void *job);
/* Disposes of a job that will never run (the pool is stopping). */
typedef void web_pool_drop_fn(void *job);
/* Called under the pool's lock just before a job is queued (see submit). */
typedef void web_pool_accept_fn(void *job);

struct web_pool_config {
    const char *name;   /* for logs, e.g. "turn" */
    size_t threads;     /* most workers (>= 1) */
    size_t queue;       /* most jobs waiting (>= 1) */
    size_t stack_bytes; /* per worker; 0: the system's default */
    void **contexts;    /* threads entries, borrowed; must outlive the pool */
    web_pool_run_fn *run;
    web_pool_drop_fn *drop;
};

struct web_pool_stats {
    size_t threads; /* started */
    size_t busy;    /* running a job */
    size_t queued;  /* waiting */
};

struct web_pool;

/* A new pool (no thread started yet); the config is copied. */
struct web_pool *web_pool_new(const struct web_pool_config *config);
/* Queues job. accepted (may be NULL) is called first, under the pool's lock,
 * only when the job will be queued — the place to take the request away from
 * the HTTP thread (http_req_defer) before any worker can see it. Returns 0,
 * ERR_LIMIT when the queue is full, ERR_CANCELED when the pool is stopping
 * (the job is then still the caller's). */
int web_pool_submit(struct web_pool *pool, void *job, web_pool_accept_fn *accepted);
/* Stops as described above. Idempotent. */
void web_pool_stop(struct web_pool *pool);
/* Stops (if needed) and frees the pool. NULL is fine. */
void web_pool_free(struct web_pool *pool);
void web_pool_get_stats(struct web_pool *pool, struct web_pool_stats *out);

#endif
