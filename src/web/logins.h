/* logins — the browser login sessions of `harde serve`, in memory.
 *
 * A login is what POST /v1/login creates: an opaque cookie token (256
 * random bits, see auth.h), the user it belongs to, and a CSRF token the
 * page must echo in X-CSRF-Token on every state-changing request. The table
 * is keyed by the SHA-256 of the cookie token, so the tokens themselves are
 * never kept. A login expires after idle_ms without use and after max_ms in
 * any case; an expired one is removed when next looked up or swept.
 *
 * Why memory and not the store: a lookup happens on every browser request
 * and must cost a hash-table probe, not a database read and write; logins
 * are cheap to lose (a restart asks reps to sign in again). The price is
 * that several `harde serve` processes do not share logins: behind a load
 * balancer, route each client to one process (nginx `ip_hash`, see deploy/);
 * bearer tokens, which live in the store, work on every process. The table is
 * bounded (max_entries); when full, the least recently used login is dropped.
 *
 * Thread-safe (one mutex). Times are wall-clock milliseconds from the caller. */
#ifndef HARDE_WEB_LOGINS_H
#define HARDE_WEB_LOGINS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "web/auth.h"

struct logins;

struct login_info {
    char user[STORE_USER_MAX + 1];
    char csrf[WEB_TOKEN_MAX];
    int64_t created_ms;
};

struct logins *logins_new(int64_t idle_ms, int64_t max_ms, size_t max_entries);
void logins_free(struct logins *l);

/* A new login for user: fills token (the cookie value) and csrf (each at
 * least WEB_TOKEN_MAX bytes). */
void logins_create(struct logins *l, const char *user, int64_t now_ms, char *token, char *csrf);
/* The login of token, refreshed (its idle time starts again): 0 with *out
 * filled, or ERR_NOT_FOUND when unknown or expired. */
int logins_lookup(struct logins *l, const char *token, int64_t now_ms, struct login_info *out);
/* Ends the login of token; 0 or ERR_NOT_FOUND. */
int logins_delete(struct logins *l, const char *token);
/* Ends every login of user (after the account was deleted). */
void logins_delete_user(struct logins *l, const char *user);
/* Removes expired logins; returns how many are left. */
size_t logins_sweep(struct logins *l, int64_t now_ms);

#endif
