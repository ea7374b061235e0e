/* store_sqlite_users — users and API tokens in the SQLite store.
 *
 * Owns the app_user and token tables' operations. The store never sees a
 * password or a raw token: it keeps the password hash the caller made
 * (opaque text) and the SHA-256 hex of each bearer token, so a stolen
 * database yields no usable credential. Deleting a user deletes their tokens
 * through the foreign key (ON DELETE CASCADE). A lookup marks the token used,
 * but writes last_used_ms at most once a minute (TOKEN_TOUCH_MS), so
 * authenticating a request is a read, not a write, almost always. */
#include "store/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/xalloc.h"

#define TOKEN_TOUCH_MS 60000

/* Reads the USER_COLS of a row. */
static int read_user_row(struct store_sqlite *s, sqlite3_stmt *q, struct store_user *out)
{
    store_sq_copy(q, 0, out->name, sizeof out->name);
    out->team = store_sq_text(q, 2);
    out->password_hash = store_sq_text(q, 3);
    out->created_ms = sqlite3_column_int64(q, 4);
    const char *role = (const char *)sqlite3_column_text(q, 1);
    if (store_role_parse(role, &out->role) != 0)
        return store_fail(&s->base, ERR_PARSE, "%s: user %s has an unknown role \"%s\"", s->path,
                          out->name, role ? role : "(null)");
    return 0;
}

/* Reads the TOKEN_COLS of a row. */
static void read_token_row(sqlite3_stmt *q, struct store_token *out)
{
    store_sq_copy(q, 0, out->hash, sizeof out->hash);
    store_sq_copy(q, 1, out->user, sizeof out->user);
    out->label = store_sq_text(q, 2);
    out->created_ms = sqlite3_column_int64(q, 3);
    out->last_used_ms = sqlite3_column_int64(q, 4);
}

/* ---- users ---------------------------------------------------------------------- */

int store_sq_user_create(struct store *st, const struct store_user_spec *u)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_USER_INSERT);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, u->name);
    store_sq_bind_text(q, 2, store_role_name(u->role));
    store_sq_bind_text(q, 3, u->team ? u->team : "");
    store_sq_bind_text(q, 4, u->password_hash ? u->password_hash : "");
    store_sq_bind_int(q, 5, store_sq_now(s));
    int changes = 0;
    int rc = store_sq_exec(s, q, "creating a user", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_EXISTS, "user %s already exists", u->name);
    return rc;
}

int store_sq_user_update(struct store *st, const struct store_user_spec *u)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_USER_UPDATE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, u->name);
    store_sq_bind_text(q, 2, store_role_name(u->role));
    store_sq_bind_text(q, 3, u->team);
    store_sq_bind_text(q, 4, u->password_hash);
    int changes = 0;
    int rc = store_sq_exec(s, q, "updating a user", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no user %s", u->name);
    return rc;
}

int store_sq_user_get(struct store *st, const char *name, struct store_user *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_USER_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, name);
    int rc = sqlite3_step(q);
    int code;
    if (rc == SQLITE_ROW)
        code = read_user_row(s, q, out);
    else if (rc == SQLITE_DONE)
        code = store_fail(st, ERR_NOT_FOUND, "no user %s", name);
    else
        code = store_sq_fail(s, rc, "reading a user");
    store_sq_reset(q);
    return code;
}

int store_sq_user_list(struct store *st, const struct store_user_filter *f,
                       struct store_user_list *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, f->team ? SQ_USER_LIST_TEAM : SQ_USER_LIST_ALL);
    if (!q)
        return ERR_IO;
    store_sq_bind_int(q, 1, (int64_t)f->limit);
    store_sq_bind_int(q, 2, (int64_t)f->offset);
    if (f->team)
        store_sq_bind_text(q, 3, f->team);
    out->items = xcalloc(f->limit, sizeof *out->items);
    int rc = SQLITE_DONE, code = 0;
    while (code == 0 && out->count < f->limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
        code = read_user_row(s, q, &out->items[out->count++]);
    if (code == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        code = store_sq_fail(s, rc, "listing users");
    store_sq_reset(q);
    return code;
}

int store_sq_user_delete(struct store *st, const char *name)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_USER_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, name);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting a user", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no user %s", name);
    return rc;
}

/* ---- tokens --------------------------------------------------------------------- */

static int token_create_locked(struct store_sqlite *s, const char *hash, const char *user,
                               const char *label)
{
    struct store_user owner = {0};
    int rc = store_sq_user_get(&s->base, user, &owner);
    store_user_free(&owner);
    if (rc)
        return rc;
    sqlite3_stmt *q = store_sq_stmt(s, SQ_TOKEN_INSERT);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, hash);
    store_sq_bind_text(q, 2, user);
    store_sq_bind_text(q, 3, label);
    store_sq_bind_int(q, 4, store_sq_now(s));
    int changes = 0;
    rc = store_sq_exec(s, q, "creating a token", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(&s->base, ERR_EXISTS, "a token with this hash already exists");
    return rc;
}

int store_sq_token_create(struct store *st, const char *hash, const char *user, const char *label)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, true);
    return rc ? rc : store_sq_end(s, token_create_locked(s, hash, user, label));
}

int store_sq_token_lookup(struct store *st, const char *hash, struct store_token *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_TOKEN_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, hash);
    int rc = sqlite3_step(q);
    int code = 0;
    if (rc == SQLITE_ROW)
        read_token_row(q, out);
    else if (rc == SQLITE_DONE)
        code = store_fail(st, ERR_NOT_FOUND, "no such token");
    else
        code = store_sq_fail(s, rc, "reading a token");
    store_sq_reset(q);
    int64_t now = store_sq_now(s);
    if (code || now - out->last_used_ms < TOKEN_TOUCH_MS)
        return code;
    q = store_sq_stmt(s, SQ_TOKEN_TOUCH);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, hash);
    store_sq_bind_int(q, 2, now);
    store_sq_bind_int(q, 3, now - TOKEN_TOUCH_MS);
    int changes = 0;
    code = store_sq_exec(s, q, "marking a token used", &changes);
    if (code == 0 && changes)
        out->last_used_ms = now;
    return code;
}

int store_sq_token_list(struct store *st, const char *user, struct store_token_list *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, user ? SQ_TOKEN_LIST_USER : SQ_TOKEN_LIST_ALL);
    if (!q)
        return ERR_IO;
    store_sq_bind_int(q, 1, STORE_LIST_MAX);
    if (user)
        store_sq_bind_text(q, 2, user);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && out->count < STORE_LIST_MAX) {
        if (out->count == cap) {
            cap = cap ? cap * 2 : 8;
            out->items = xrealloc(out->items, cap * sizeof *out->items);
        }
        struct store_token *t = &out->items[out->count++];
        *t = (struct store_token){0};
        read_token_row(q, t);
    }
    int code = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sq_fail(s, rc, "listing tokens");
    store_sq_reset(q);
    return code;
}

int store_sq_token_delete(struct store *st, const char *hash)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_TOKEN_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, hash);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting a token", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no such token");
    return rc;
}
