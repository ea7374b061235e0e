/* store_sqlite_sessions — sessions, leases and checkpoints in the SQLite store.
 *
 * Owns the operations on three small tables. A session put is one statement:
 * an INSERT … ON CONFLICT DO NOTHING to create (no row changed: the id was
 * taken), or an UPDATE guarded by `version = expected` (no row changed: a
 * conflict or a deletion, told apart by a second look used only for the
 * message and code). A lease acquire is one UPSERT whose WHERE clause grants
 * the lease only when it is free, expired or already the caller's, so
 * granting is atomic across processes without a read-then-write; it runs in a
 * write transaction only so that the holder read back is the one that won. */
#include "store/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

/* ---- sessions ------------------------------------------------------------- */

/* Reads the SESSION_COLS of a row (columns 0–5). */
static void read_session_row(sqlite3_stmt *q, struct store_session *out)
{
    store_sq_copy(q, 0, out->id, sizeof out->id);
    out->owner = store_sq_text(q, 1);
    out->title = store_sq_text(q, 2);
    out->version = sqlite3_column_int64(q, 3);
    out->created_ms = sqlite3_column_int64(q, 4);
    out->updated_ms = sqlite3_column_int64(q, 5);
}

int store_sq_session_get(struct store *st, const char *id, struct store_session *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_SESSION_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    int rc = sqlite3_step(q);
    int code = 0;
    if (rc == SQLITE_ROW) {
        read_session_row(q, out);
        char what[STORE_ID_MAX + 32];
        snprintf(what, sizeof what, "session %s: the document", id);
        code = store_sq_json_load(s, q, 6, what, &out->doc);
    } else if (rc == SQLITE_DONE) {
        code = store_fail(st, ERR_NOT_FOUND, "no session %s", id);
    } else {
        code = store_sq_fail(s, rc, "reading a session");
    }
    store_sq_reset(q);
    return code;
}

/* Why an update guarded by a version changed nothing. */
static int explain_stale(struct store_sqlite *s, const char *id, int64_t expected)
{
    sqlite3_stmt *q = store_sq_stmt(s, SQ_SESSION_VERSION);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    int rc = sqlite3_step(q);
    int code;
    if (rc == SQLITE_ROW)
        code = store_fail(&s->base, ERR_CONFLICT,
                          "session %s changed: it is at version %lld, you wrote over %lld "
                          "(read it again)",
                          id, (long long)sqlite3_column_int64(q, 0), (long long)expected);
    else if (rc == SQLITE_DONE)
        code = store_fail(&s->base, ERR_NOT_FOUND, "no session %s (deleted?)", id);
    else
        code = store_sq_fail(s, rc, "reading a session's version");
    store_sq_reset(q);
    return code;
}

int store_sq_session_put(struct store *st, const struct store_session_put *in, int64_t *new_version)
{
    struct store_sqlite *s = store_sq(st);
    char what[STORE_ID_MAX + 32];
    snprintf(what, sizeof what, "session %s's document", in->id);
    char *doc = NULL;
    int rc = store_sq_json_dump(s, in->doc, "{}", what, &doc);
    if (rc)
        return rc;
    bool create = in->version == 0;
    sqlite3_stmt *q = store_sq_stmt(s, create ? SQ_SESSION_INSERT : SQ_SESSION_UPDATE);
    if (!q) {
        rc = ERR_IO;
        goto out;
    }
    store_sq_bind_text(q, 1, in->id);
    store_sq_bind_text(q, 2, create && !in->owner ? "" : in->owner);
    store_sq_bind_text(q, 3, create && !in->title ? "" : in->title);
    store_sq_bind_text(q, 4, doc);
    store_sq_bind_int(q, 5, store_sq_now(s));
    if (!create)
        store_sq_bind_int(q, 6, in->version);
    int changes = 0;
    rc = store_sq_exec(s, q, "writing a session", &changes);
    if (rc == 0 && changes == 0)
        rc = create ? store_fail(st, ERR_EXISTS, "session %s already exists", in->id)
                    : explain_stale(s, in->id, in->version);
    if (rc == 0)
        *new_version = in->version + 1;
out:
    free(doc);
    return rc;
}

int store_sq_session_list(struct store *st, const struct store_session_filter *f,
                          struct store_session_list *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, f->owner ? SQ_SESSION_LIST_OWNER : SQ_SESSION_LIST_ALL);
    if (!q)
        return ERR_IO;
    store_sq_bind_int(q, 1, (int64_t)f->limit);
    store_sq_bind_int(q, 2, (int64_t)f->offset);
    if (f->owner)
        store_sq_bind_text(q, 3, f->owner);
    out->items = xcalloc(f->limit, sizeof *out->items);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && out->count < f->limit)
        read_session_row(q, &out->items[out->count++]);
    int code = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sq_fail(s, rc, "listing sessions");
    store_sq_reset(q);
    return code;
}

int store_sq_session_delete(struct store *st, const char *id)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_SESSION_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting a session", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no session %s", id);
    return rc;
}

int store_sq_session_delete_idle(struct store *st, int64_t idle_ms, size_t *deleted)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_SESSION_DELETE_IDLE);
    if (!q)
        return ERR_IO;
    store_sq_bind_int(q, 1, store_sq_now(s) - idle_ms);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting idle sessions", &changes);
    *deleted = (size_t)changes;
    return rc;
}

/* ---- leases -------------------------------------------------------------------- */

/* Reads lease name into *holder: 1 when a row exists, 0 when none, or an error. */
static int read_lease(struct store_sqlite *s, const char *name, struct store_lease *holder)
{
    sqlite3_stmt *q = store_sq_stmt(s, SQ_LEASE_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, name);
    int rc = sqlite3_step(q);
    int found = 0;
    if (rc == SQLITE_ROW) {
        snprintf(holder->name, sizeof holder->name, "%s", name);
        store_sq_copy(q, 0, holder->owner, sizeof holder->owner);
        holder->acquired_ms = sqlite3_column_int64(q, 1);
        holder->expires_ms = sqlite3_column_int64(q, 2);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = store_sq_fail(s, rc, "reading a lease");
    }
    store_sq_reset(q);
    return found;
}

static int acquire_locked(struct store_sqlite *s, const char *name, const char *owner,
                          int64_t ttl_ms, struct store_lease *holder)
{
    int64_t now = store_sq_now(s);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_LEASE_ACQUIRE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, name);
    store_sq_bind_text(q, 2, owner);
    store_sq_bind_int(q, 3, now);
    store_sq_bind_int(q, 4, now + ttl_ms);
    int changes = 0;
    int rc = store_sq_exec(s, q, "acquiring a lease", &changes);
    if (rc)
        return rc;
    int found = read_lease(s, name, holder);
    if (found < 0)
        return found;
    if (changes == 0)
        return store_fail(&s->base, ERR_CONFLICT, "lease %s is held by %s for %lld ms more", name,
                          holder->owner, (long long)(holder->expires_ms - now));
    return 0;
}

int store_sq_lease_acquire(struct store *st, const char *name, const char *owner, int64_t ttl_ms,
                           struct store_lease *holder)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, true);
    if (rc)
        return rc;
    rc = acquire_locked(s, name, owner, ttl_ms, holder);
    /* A conflict is an answer, not a failure: commit (nothing changed). */
    int end = store_sq_end(s, rc == ERR_CONFLICT ? 0 : rc);
    return end ? end : rc;
}

int store_sq_lease_release(struct store *st, const char *name, const char *owner)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_LEASE_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, name);
    store_sq_bind_text(q, 2, owner);
    int changes = 0;
    int rc = store_sq_exec(s, q, "releasing a lease", &changes);
    if (rc || changes)
        return rc;
    struct store_lease other = {0};
    int found = read_lease(s, name, &other);
    if (found < 0)
        return found;
    if (found && other.expires_ms > store_sq_now(s))
        return store_fail(st, ERR_CONFLICT, "lease %s is held by %s, not %s", name, other.owner,
                          owner);
    return store_fail(st, ERR_NOT_FOUND, "lease %s is not held", name);
}

int store_sq_lease_get(struct store *st, const char *name, struct store_lease *holder)
{
    struct store_sqlite *s = store_sq(st);
    int found = read_lease(s, name, holder);
    if (found < 0)
        return found;
    if (!found || holder->expires_ms <= store_sq_now(s)) {
        memset(holder, 0, sizeof *holder);
        return store_fail(st, ERR_NOT_FOUND, "lease %s is free", name);
    }
    return 0;
}

/* ---- checkpoints --------------------------------------------------------------- */

int store_sq_checkpoint_get(struct store *st, const char *key, char **value)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_CHECKPOINT_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, key);
    int rc = sqlite3_step(q);
    int code = 0;
    if (rc == SQLITE_ROW)
        *value = store_sq_text(q, 0);
    else if (rc == SQLITE_DONE)
        code = store_fail(st, ERR_NOT_FOUND, "no checkpoint %s", key);
    else
        code = store_sq_fail(s, rc, "reading a checkpoint");
    store_sq_reset(q);
    return code;
}

int store_sq_checkpoint_put(struct store *st, const char *key, const char *value)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_CHECKPOINT_PUT);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, key);
    store_sq_bind_text(q, 2, value);
    store_sq_bind_int(q, 3, store_sq_now(s));
    return store_sq_exec(s, q, "writing a checkpoint", NULL);
}

int store_sq_checkpoint_delete(struct store *st, const char *key)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_CHECKPOINT_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, key);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting a checkpoint", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no checkpoint %s", key);
    return rc;
}
