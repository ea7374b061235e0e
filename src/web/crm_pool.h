/* crm_pool — one struct crm that many threads may use at once, backed by a
 * few real CRM handles lent out one call at a time.
 *
 * A real struct crm is used by one thread at a time (crm.h). The turn workers
 * of `harde serve` may be hundreds, and each worker's harde_app needs a CRM
 * for the agents' tools; giving each its own would cost a SQLite connection
 * (or, for Leap, a client with its own request budget) per worker. Instead
 * every worker's app->crm points at this proxy: a crm backend (crm.h's
 * vtable) whose every operation borrows one of n real handles, forwards the
 * call, and gives the handle back. A call waits only while all n handles are
 * busy in other calls, which for the local CRM takes microseconds.
 *
 * Thread-safe. Close the proxy with crm_close (it closes the real handles). */
#ifndef HARDE_WEB_CRM_POOL_H
#define HARDE_WEB_CRM_POOL_H

#include <stddef.h>

#include "services/crm/crm.h"

struct config;

/* Opens n (>= 1) CRM handles as crm_open_configured does and returns the
 * proxy (new), or NULL with err set. */
struct crm *crm_pool_open(const struct config *cfg, const char *data_dir, const char *share_dir,
                          size_t n, char *err, size_t errlen);

#endif
