/* store_sqlite_internal — the SQLite backend's shared parts, inside store/ only.
 *
 * struct store_sqlite is one connection (one per struct store, used by one
 * thread at a time) and its cache of prepared statements. Every statement the
 * backend runs is named in enum store_sq_stmt and written once in
 * store_sqlite_schema.c next to the migrations, so the whole schema and every
 * query can be read in one file. A statement is prepared on first use and
 * kept; every user resets it when done (store_sq_reset), which also ends the
 * implicit read transaction an unfinished SELECT would hold. The backend's
 * operations are spread over store_sqlite*.c and gathered into one table in
 * store_sqlite.c. */
#ifndef HARDE_STORE_STORE_SQLITE_INTERNAL_H
#define HARDE_STORE_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store_internal.h"

enum store_sq_stmt {
    SQ_BEGIN_READ,
    SQ_BEGIN_WRITE,
    SQ_COMMIT,
    SQ_ROLLBACK,

    SQ_SESSION_GET,
    SQ_SESSION_INSERT,
    SQ_SESSION_UPDATE,
    SQ_SESSION_VERSION,
    SQ_SESSION_LIST_ALL,
    SQ_SESSION_LIST_OWNER,
    SQ_SESSION_DELETE,
    SQ_SESSION_DELETE_IDLE,

    SQ_RUN_GET,
    SQ_RUN_BY_KEY,
    SQ_RUN_LIST,
    SQ_RUN_DUE,
    SQ_RUN_INSERT,
    SQ_RUN_DROP_KEY,
    SQ_RUN_STATUS,
    SQ_RUN_SET_STATUS,
    SQ_RUN_SET_STEP,
    SQ_RUN_SET_ERROR,
    SQ_RUN_DELETE,
    SQ_STEP_LIST,
    SQ_STEP_GET,
    SQ_STEP_STATUS,
    SQ_STEP_START,
    SQ_STEP_FINISH,

    SQ_LEASE_ACQUIRE,
    SQ_LEASE_GET,
    SQ_LEASE_DELETE,

    SQ_CHECKPOINT_GET,
    SQ_CHECKPOINT_PUT,
    SQ_CHECKPOINT_DELETE,

    SQ_USER_INSERT,
    SQ_USER_UPDATE,
    SQ_USER_GET,
    SQ_USER_LIST_ALL,
    SQ_USER_LIST_TEAM,
    SQ_USER_DELETE,
    SQ_TOKEN_INSERT,
    SQ_TOKEN_GET,
    SQ_TOKEN_TOUCH,
    SQ_TOKEN_LIST_ALL,
    SQ_TOKEN_LIST_USER,
    SQ_TOKEN_DELETE,

    SQ_COUNT
};

/* The SQL of each statement (store_sqlite_schema.c). */
extern const char *const store_sq_sql[SQ_COUNT];

struct store_sq_migration {
    int version;
    const char *summary;
    const char *sql; /* may hold several statements */
};
/* The migrations, in order, versions 1..store_sq_schema_latest. */
extern const struct store_sq_migration store_sq_migrations[];
extern const int store_sq_schema_latest;

struct store_sqlite {
    struct store base; /* first: a struct store * is a struct store_sqlite * */
    sqlite3 *db;
    char *path;
    int busy_timeout_ms;
    sqlite3_stmt *stmts[SQ_COUNT];
};

/* The backend behind a struct store (borrowed). */
static inline struct store_sqlite *store_sq(struct store *st)
{
    return (struct store_sqlite *)st;
}

/* The prepared statement id, ready to bind (borrowed; reset it with
 * store_sq_reset when done). NULL with the error set when it cannot be
 * prepared. */
sqlite3_stmt *store_sq_stmt(struct store_sqlite *s, enum store_sq_stmt id);
void store_sq_reset(sqlite3_stmt *q);
/* Sets the error from SQLite's last message on s's connection for result rc
 * while doing `what`, and returns the matching ERR_* code. */
int store_sq_fail(struct store_sqlite *s, int rc, const char *what);
/* Steps q, which must not return rows, and resets it: 0 or an error code.
 * *changes (may be NULL) gets the rows it changed. */
int store_sq_exec(struct store_sqlite *s, sqlite3_stmt *q, const char *what, int *changes);
/* A read (snapshot) or write (BEGIN IMMEDIATE: takes the write lock at once,
 * waiting up to the busy timeout) transaction. */
int store_sq_begin(struct store_sqlite *s, bool write);
/* Commits when rc is 0, else rolls back; returns rc, or the commit's error. */
int store_sq_end(struct store_sqlite *s, int rc);

/* Binders that keep NULL as SQL NULL. Strings are borrowed until reset. */
void store_sq_bind_text(sqlite3_stmt *q, int idx, const char *text);
void store_sq_bind_int(sqlite3_stmt *q, int idx, int64_t value);
/* A text column as a new string; "" for NULL. */
char *store_sq_text(sqlite3_stmt *q, int col);
/* A text column as a new string, or NULL for SQL NULL. */
char *store_sq_text_or_null(sqlite3_stmt *q, int col);
/* Copies a text column into a fixed buffer of size cap (cut to fit). */
void store_sq_copy(sqlite3_stmt *q, int col, char *dst, size_t cap);
/* Parses a JSON column into *out (new reference); ERR_PARSE naming `what`
 * when the stored text is not JSON. */
int store_sq_json_load(struct store_sqlite *s, sqlite3_stmt *q, int col, const char *what,
                       json_t **out);
/* Serialises v (NULL: fallback, a JSON literal) into *out (new string):
 * ERR_LIMIT past STORE_DOC_MAX, ERR_INVALID when it cannot be serialised. */
int store_sq_json_dump(struct store_sqlite *s, const json_t *v, const char *fallback,
                       const char *what, char **out);
/* The store's clock. */
int64_t store_sq_now(struct store_sqlite *s);

/* The operations, by file. */
int store_sq_session_get(struct store *st, const char *id, struct store_session *out);
int store_sq_session_put(struct store *st, const struct store_session_put *in,
                         int64_t *new_version);
int store_sq_session_list(struct store *st, const struct store_session_filter *f,
                          struct store_session_list *out);
int store_sq_session_delete(struct store *st, const char *id);
int store_sq_session_delete_idle(struct store *st, int64_t idle_ms, size_t *deleted);
int store_sq_lease_acquire(struct store *st, const char *name, const char *owner, int64_t ttl_ms,
                           struct store_lease *holder);
int store_sq_lease_release(struct store *st, const char *name, const char *owner);
int store_sq_lease_get(struct store *st, const char *name, struct store_lease *holder);
int store_sq_checkpoint_get(struct store *st, const char *key, char **value);
int store_sq_checkpoint_put(struct store *st, const char *key, const char *value);
int store_sq_checkpoint_delete(struct store *st, const char *key);

int store_sq_run_create(struct store *st, const struct store_run_new *in, struct store_run *out,
                        bool *created);
int store_sq_run_get(struct store *st, const char *id, bool with_steps, struct store_run *out);
int store_sq_run_find(struct store *st, const char *dedupe_key, struct store_run *out);
int store_sq_run_list(struct store *st, const struct store_run_filter *f,
                      struct store_run_list *out);
int store_sq_run_due(struct store *st, size_t limit, struct store_run_list *out);
int store_sq_run_transition(struct store *st, const char *id, const struct store_run_transition *t,
                            struct store_run *out);
int store_sq_run_delete(struct store *st, const char *id);
int store_sq_step_start(struct store *st, const char *run_id, const char *step,
                        struct store_step *out);
int store_sq_step_succeed(struct store *st, const char *run_id, const char *step,
                          const json_t *output, const char *next_step);
int store_sq_step_fail(struct store *st, const char *run_id, const char *step, const char *error);
int store_sq_step_get(struct store *st, const char *run_id, const char *step,
                      struct store_step *out);

int store_sq_user_create(struct store *st, const struct store_user_spec *u);
int store_sq_user_update(struct store *st, const struct store_user_spec *u);
int store_sq_user_get(struct store *st, const char *name, struct store_user *out);
int store_sq_user_list(struct store *st, const struct store_user_filter *f,
                       struct store_user_list *out);
int store_sq_user_delete(struct store *st, const char *name);
int store_sq_token_create(struct store *st, const char *hash, const char *user, const char *label);
int store_sq_token_lookup(struct store *st, const char *hash, struct store_token *out);
int store_sq_token_list(struct store *st, const char *user, struct store_token_list *out);
int store_sq_token_delete(struct store *st, const char *hash);

#endif
