/* store_sqlite — the SQLite store: one database file, opened and migrated here.
 *
 * Owns the connection, its pragmas, the schema migrations, the statement
 * cache, transactions, the mapping of SQLite results to ERR_* codes, and the
 * operations table that store.c dispatches to (the operations themselves are
 * in store_sqlite_sessions.c, _leases.c, _runs.c and _users.c).
 *
 * Concurrency: one struct store (one connection, opened NOMUTEX) is used by
 * one thread at a time; several processes share the file. The journal is WAL,
 * so readers never block the writer nor the writer readers; writers are
 * serialised by SQLite's lock, and every change made of more than one
 * statement runs inside BEGIN IMMEDIATE, which takes the write lock before
 * reading, so a read-check-write sequence is a true compare-and-set across
 * processes and never fails half-way with SQLITE_BUSY. A writer that finds
 * the lock taken waits busy_timeout_ms (default 5 s) before ERR_TIMEOUT.
 *
 * Durability: synchronous=NORMAL. In WAL mode a commit is then written to the
 * WAL file before COMMIT returns but not fsynced; the WAL is fsynced at each
 * checkpoint. A process killed at any instant (the crash we design for: OOM
 * killer, deploy, SIGKILL) loses nothing that was committed, since the data is
 * in the kernel's page cache; a power loss or kernel crash may roll back the
 * last few commits, but never corrupts the database. That trade keeps a
 * commit at tens of microseconds instead of an fsync's milliseconds on every
 * turn and step; the workflow engine's idempotency keys cover a step repeated
 * after such a rollback. store_options.synchronous_full selects FULL (an fsync
 * per commit) for a deployment that wants power-loss durability too.
 *
 * Schema: a schema_version table holds one row per applied migration. At
 * open, every pending migration (store_sqlite_schema.c) runs inside one
 * BEGIN IMMEDIATE transaction, so two processes opening a new file at once do
 * not race and a failed migration leaves the previous schema intact. A file
 * whose version is newer than this build knows is refused with ERR_CONFIG
 * rather than misread; a SQLite file that holds other tables but no
 * schema_version (someone else's database) is refused too. */
#include "store/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SQ_JOURNAL_POLL_MS 20 /* retry interval while another process sets up WAL */

/* ---- helpers shared by the backend's files ---------------------------------- */

sqlite3_stmt *store_sq_stmt(struct store_sqlite *s, enum store_sq_stmt id)
{
    if (!s->stmts[id]) {
        int rc = sqlite3_prepare_v3(s->db, store_sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            store_sq_fail(s, rc, "preparing a query");
            sqlite3_finalize(s->stmts[id]);
            s->stmts[id] = NULL;
            return NULL;
        }
    }
    return s->stmts[id];
}

void store_sq_reset(sqlite3_stmt *q)
{
    if (q) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
}

int store_sq_fail(struct store_sqlite *s, int rc, const char *what)
{
    int code = ERR_IO;
    const char *hint = "";
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = ERR_TIMEOUT;
        hint = " (another process held the database longer than the busy timeout)";
        break;
    case SQLITE_TOOBIG:
        code = ERR_LIMIT;
        break;
    case SQLITE_NOTADB:
        hint = " (this file is not a SQLite database)";
        break;
    }
    return store_fail(&s->base, code, "%s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db), hint);
}

int store_sq_exec(struct store_sqlite *s, sqlite3_stmt *q, const char *what, int *changes)
{
    int rc = sqlite3_step(q);
    int code = 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        if (changes)
            *changes = sqlite3_changes(s->db);
    } else {
        code = store_sq_fail(s, rc, what);
    }
    store_sq_reset(q);
    return code;
}

static int run_simple(struct store_sqlite *s, enum store_sq_stmt id, const char *what)
{
    sqlite3_stmt *q = store_sq_stmt(s, id);
    return q ? store_sq_exec(s, q, what, NULL) : ERR_IO;
}

int store_sq_begin(struct store_sqlite *s, bool write)
{
    return run_simple(s, write ? SQ_BEGIN_WRITE : SQ_BEGIN_READ, "starting a transaction");
}

int store_sq_end(struct store_sqlite *s, int rc)
{
    if (rc == 0) {
        rc = run_simple(s, SQ_COMMIT, "committing");
        if (rc == 0)
            return 0;
    }
    /* An I/O error may already have rolled the transaction back. */
    if (!sqlite3_get_autocommit(s->db)) {
        char keep[STORE_ERROR_MAX];
        memcpy(keep, s->base.error, sizeof keep);
        run_simple(s, SQ_ROLLBACK, "rolling back");
        memcpy(s->base.error, keep, sizeof keep);
    }
    return rc;
}

void store_sq_bind_text(sqlite3_stmt *q, int idx, const char *text)
{
    if (text)
        sqlite3_bind_text(q, idx, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, idx);
}

void store_sq_bind_int(sqlite3_stmt *q, int idx, int64_t value)
{
    sqlite3_bind_int64(q, idx, value);
}

char *store_sq_text(sqlite3_stmt *q, int col)
{
    const char *text = (const char *)sqlite3_column_text(q, col);
    return xstrdup(text ? text : "");
}

char *store_sq_text_or_null(sqlite3_stmt *q, int col)
{
    if (sqlite3_column_type(q, col) == SQLITE_NULL)
        return NULL;
    return store_sq_text(q, col);
}

void store_sq_copy(sqlite3_stmt *q, int col, char *dst, size_t cap)
{
    const char *text = (const char *)sqlite3_column_text(q, col);
    snprintf(dst, cap, "%s", text ? text : "");
}

int store_sq_json_load(struct store_sqlite *s, sqlite3_stmt *q, int col, const char *what,
                       json_t **out)
{
    *out = NULL;
    const char *text = (const char *)sqlite3_column_text(q, col);
    size_t len = (size_t)sqlite3_column_bytes(q, col);
    if (!text)
        return store_fail(&s->base, ERR_PARSE, "%s: %s is missing (SQL NULL)", s->path, what);
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!*out)
        return store_fail(&s->base, ERR_PARSE,
                          "%s: %s is not valid JSON (line %d, column %d: %s); the stored "
                          "document is corrupt",
                          s->path, what, jerr.line, jerr.column, jerr.text);
    return 0;
}

int store_sq_json_dump(struct store_sqlite *s, const json_t *v, const char *fallback,
                       const char *what, char **out)
{
    *out = NULL;
    if (!v) {
        *out = xstrdup(fallback);
        return 0;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return store_fail(&s->base, ERR_INVALID, "%s cannot be serialised as JSON", what);
    if (strlen(text) > STORE_DOC_MAX) {
        free(text);
        return store_fail(&s->base, ERR_LIMIT, "%s is larger than %d bytes as JSON", what,
                          STORE_DOC_MAX);
    }
    *out = text;
    return 0;
}

int64_t store_sq_now(struct store_sqlite *s)
{
    return store_now_ms(&s->base);
}

/* ---- opening and migrations ------------------------------------------------- */

/* Runs SQL text that returns no rows worth keeping (pragmas, migrations). */
static int exec_text(struct store_sqlite *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_sq_fail(s, rc, what);
}

/* The first column of the first row of sql as an integer (0 without rows),
 * or the text into text_out when it is not NULL. */
static int query_one(struct store_sqlite *s, const char *sql, int64_t *value, char *text_out,
                     size_t text_cap, const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    int code = 0;
    if (rc == SQLITE_ROW) {
        if (value)
            *value = sqlite3_column_int64(q, 0);
        if (text_out)
            store_sq_copy(q, 0, text_out, text_cap);
    } else if (rc == SQLITE_DONE) {
        if (value)
            *value = 0;
        if (text_out && text_cap)
            text_out[0] = '\0';
    } else {
        code = store_sq_fail(s, rc, what);
    }
    sqlite3_finalize(q);
    return code;
}

/* WAL is a property of the file; when two processes create it at once, the
 * second can see SQLITE_BUSY without the busy handler, so poll. */
static int set_wal(struct store_sqlite *s)
{
    char mode[16];
    int64_t waited = 0;
    for (;;) {
        int rc = query_one(s, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode,
                           "setting the WAL journal");
        if (rc != ERR_TIMEOUT || waited >= s->busy_timeout_ms) {
            if (rc)
                return rc;
            break;
        }
        clock_sleep_ms(SQ_JOURNAL_POLL_MS, NULL);
        waited += SQ_JOURNAL_POLL_MS;
    }
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
        return store_fail(&s->base, ERR_IO, "%s: cannot use the WAL journal (got \"%s\")", s->path,
                          mode);
    return 0;
}

static int set_pragmas(struct store_sqlite *s, bool synchronous_full)
{
    int rc = set_wal(s);
    if (rc)
        return rc;
    rc = exec_text(s, synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   "setting synchronous");
    if (rc == 0)
        rc = exec_text(s, "PRAGMA foreign_keys=ON", "enabling foreign keys");
    int64_t fk = 0;
    if (rc == 0)
        rc = query_one(s, "PRAGMA foreign_keys", &fk, NULL, 0, "checking foreign keys");
    if (rc == 0 && fk != 1)
        rc = store_fail(&s->base, ERR_IO, "%s: this SQLite cannot enforce foreign keys", s->path);
    return rc;
}

/* Inside the migration transaction: refuses someone else's database, makes
 * schema_version, reads the version. */
static int read_version(struct store_sqlite *s, int64_t *version)
{
    int64_t has_versions = 0, tables = 0;
    int rc = query_one(s,
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                       "AND name = 'schema_version'",
                       &has_versions, NULL, 0, "reading the schema");
    if (rc == 0 && !has_versions)
        rc = query_one(s,
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                       "AND name NOT LIKE 'sqlite_%'",
                       &tables, NULL, 0, "reading the schema");
    if (rc)
        return rc;
    if (!has_versions && tables > 0)
        return store_fail(&s->base, ERR_CONFIG,
                          "%s holds %lld tables but no schema_version: it is not a Hard-E "
                          "store (refusing to add tables to another program's database)",
                          s->path, (long long)tables);
    rc = exec_text(s,
                   "CREATE TABLE IF NOT EXISTS schema_version("
                   "version INTEGER PRIMARY KEY, summary TEXT NOT NULL, "
                   "applied_ms INTEGER NOT NULL)",
                   "creating schema_version");
    if (rc == 0)
        rc = query_one(s, "SELECT coalesce(max(version), 0) FROM schema_version", version, NULL, 0,
                       "reading the schema version");
    return rc;
}

static int apply_migration(struct store_sqlite *s, const struct store_sq_migration *m)
{
    char what[64];
    snprintf(what, sizeof what, "applying migration %d", m->version);
    int rc = exec_text(s, m->sql, what);
    if (rc)
        return rc;
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT INTO schema_version(version, summary, applied_ms) "
                            "VALUES (?1, ?2, ?3)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q);
        return store_sq_fail(s, rc, what);
    }
    sqlite3_bind_int(q, 1, m->version);
    sqlite3_bind_text(q, 2, m->summary, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, store_sq_now(s));
    rc = sqlite3_step(q);
    int code = rc == SQLITE_DONE ? 0 : store_sq_fail(s, rc, what);
    sqlite3_finalize(q);
    return code;
}

static int migrate(struct store_sqlite *s)
{
    int rc = exec_text(s, "BEGIN IMMEDIATE", "starting the migration");
    if (rc)
        return rc;
    int64_t version = 0;
    rc = read_version(s, &version);
    if (rc == 0 && version > store_sq_schema_latest)
        rc = store_fail(&s->base, ERR_CONFIG,
                        "%s has schema version %lld, newer than this harde knows (%d): it was "
                        "written by a newer Hard-E; upgrade harde to open it",
                        s->path, (long long)version, store_sq_schema_latest);
    for (int i = 0; rc == 0 && i < store_sq_schema_latest; i++)
        if (store_sq_migrations[i].version > version)
            rc = apply_migration(s, &store_sq_migrations[i]);
    if (rc == 0)
        return exec_text(s, "COMMIT", "committing the migration");
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- the operations table ----------------------------------------------------- */

static void sq_close(struct store *st)
{
    struct store_sqlite *s = store_sq(st);
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .session_get = store_sq_session_get,
    .session_put = store_sq_session_put,
    .session_list = store_sq_session_list,
    .session_delete = store_sq_session_delete,
    .session_delete_idle = store_sq_session_delete_idle,
    .run_create = store_sq_run_create,
    .run_get = store_sq_run_get,
    .run_find = store_sq_run_find,
    .run_list = store_sq_run_list,
    .run_due = store_sq_run_due,
    .run_transition = store_sq_run_transition,
    .run_delete = store_sq_run_delete,
    .step_start = store_sq_step_start,
    .step_succeed = store_sq_step_succeed,
    .step_fail = store_sq_step_fail,
    .step_get = store_sq_step_get,
    .lease_acquire = store_sq_lease_acquire,
    .lease_release = store_sq_lease_release,
    .lease_get = store_sq_lease_get,
    .checkpoint_get = store_sq_checkpoint_get,
    .checkpoint_put = store_sq_checkpoint_put,
    .checkpoint_delete = store_sq_checkpoint_delete,
    .user_create = store_sq_user_create,
    .user_update = store_sq_user_update,
    .user_get = store_sq_user_get,
    .user_list = store_sq_user_list,
    .user_delete = store_sq_user_delete,
    .token_create = store_sq_token_create,
    .token_lookup = store_sq_token_lookup,
    .token_list = store_sq_token_list,
    .token_delete = store_sq_token_delete,
};

int store_sqlite_open(const char *path, const struct store_options *opts, struct store **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct store_sqlite *s = xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->base.now_ms = opts->now_ms;
    s->base.clock_ctx = opts->clock_ctx;
    s->busy_timeout_ms = opts->busy_timeout_ms;
    s->path = xstrdup(path);
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = s->db ? store_sq_fail(s, rc, "opening")
                   : store_fail(&s->base, ERR_IO, "%s: cannot open the database", path);
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    rc = set_pragmas(s, opts->synchronous_full);
    if (rc == 0)
        rc = migrate(s);
out:
    if (rc) {
        snprintf(err, errlen, "%s", s->base.error);
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
