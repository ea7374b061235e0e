/* store — Hard-E's durable state: sessions, workflow runs with their steps and
 * durable timers, leases, checkpoints, users and API tokens.
 *
 * This header is the one contract every caller uses. A backend (SQLite now,
 * Redis later) fills the operations table in store/store_internal.h; store.c
 * checks every argument once and dispatches, so callers never know which
 * backend they have and a new backend changes no caller. store_open picks the
 * backend from the location: a file path or "sqlite:PATH" today ("redis://…"
 * is reserved and refused with a clear message until that backend exists).
 *
 * Conventions, for every function below:
 *  - It returns 0 or a negative ERR_* code (base/error.h); store_error(st)
 *    then says in words what failed (which id, what the database said).
 *  - Arguments are borrowed. A struct the store fills ("out") is overwritten
 *    (its old contents are not freed) and owns what it points to: free it with
 *    the matching *_free, which frees the contents and zeroes the struct but
 *    not the struct itself. On failure an out struct is left zeroed.
 *  - Timestamps are wall-clock milliseconds since the epoch, taken from the
 *    store's clock (injectable through store_options, for tests).
 *  - Codes: ERR_INVALID (a bad argument: id syntax, unknown status, too long),
 *    ERR_NOT_FOUND, ERR_EXISTS, ERR_CONFLICT (the version or status changed
 *    under you; a lease held by someone else), ERR_PARSE (a stored JSON
 *    document is corrupt: reported, never crashed on), ERR_LIMIT (a document
 *    over STORE_DOC_MAX), ERR_TIMEOUT (another process kept the database
 *    locked longer than busy_timeout_ms), ERR_IO (anything else the database
 *    reports), ERR_CONFIG (store_open: unusable location, or a database
 *    written by a newer Hard-E).
 *
 * Threads and processes: one struct store is used by one thread at a time
 * (give each thread its own); any number of processes may open the same
 * location at once. */
#ifndef HARDE_STORE_STORE_H
#define HARDE_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_MAX         64         /* session and run ids: [A-Za-z0-9_-]{1,64} */
#define STORE_NAME_MAX       128        /* workflow, step, lease, owner and checkpoint names */
#define STORE_USER_MAX       64         /* user names: [A-Za-z0-9._@-]{1,64} */
#define STORE_TOKEN_HASH_LEN 64         /* SHA-256 as lowercase hex */
#define STORE_TEXT_MAX       (64 << 10) /* titles, errors, labels, teams, hashes, values */
#define STORE_DOC_MAX        (16 << 20) /* one JSON document, serialised */
#define STORE_LIST_DEFAULT   100        /* rows a list returns when limit is 0 */
#define STORE_LIST_MAX       1000       /* the most rows one list call returns */
#define STORE_ERROR_MAX      512        /* store_error's buffer */

struct store;

/* ---- opening ------------------------------------------------------------ */

struct store_options {
    /* The clock for every timestamp, lease expiry and due timer; NULL means
     * clock_wall_ms. Tests inject a fake one. */
    int64_t (*now_ms)(void *clock_ctx);
    void *clock_ctx;
    /* How long to wait for another process's write lock; 0 means 5000. */
    int busy_timeout_ms;
    /* SQLite: fsync every commit (survives power loss, not only a killed
     * process) at the cost of write latency. See store_sqlite.c. */
    bool synchronous_full;
};

/* Opens (creating when missing) the store at location and brings its schema
 * up to date. opts may be NULL for defaults. *out is new: close it with
 * store_close. On failure *out is NULL and err says why (ERR_CONFIG for an
 * unsupported location or a database from a newer Hard-E, ERR_IO otherwise). */
int store_open(const char *location, const struct store_options *opts, struct store **out,
               char *err, size_t errlen);
/* Closes st and frees it (NULL is fine). */
void store_close(struct store *st);
/* What the last failed call on st was about, "" after a success (borrowed). */
const char *store_error(const struct store *st);
/* "sqlite" (static). */
const char *store_backend(const struct store *st);
/* The store's clock now. */
int64_t store_now_ms(struct store *st);

/* True when id is 1–64 characters of [A-Za-z0-9_-]. */
bool store_id_valid(const char *id);
/* True when name is 1–64 characters of [A-Za-z0-9._@-]. */
bool store_user_name_valid(const char *name);

/* ---- sessions ----------------------------------------------------------- */

struct store_session {
    char id[STORE_ID_MAX + 1];
    char *owner;     /* user name, "" for none */
    char *title;     /* "" for none */
    json_t *doc;     /* the document (the store never looks inside); NULL in lists */
    int64_t version; /* 1 after create, +1 on every put */
    int64_t created_ms;
    int64_t updated_ms;
};

/* What store_session_put writes (all borrowed). */
struct store_session_put {
    const char *id;    /* caller-chosen, store_id_valid */
    const char *owner; /* NULL: "" on create, unchanged on update */
    const char *title; /* NULL: "" on create, unchanged on update */
    const json_t *doc; /* NULL: {} (any JSON value round-trips) */
    int64_t version;   /* the version you read: 0 creates */
};

struct store_session_filter {
    const char *owner; /* NULL: every session; "": those without an owner */
    size_t limit;      /* 0: STORE_LIST_DEFAULT; capped at STORE_LIST_MAX */
    size_t offset;
};

struct store_session_list {
    struct store_session *items;
    size_t count;
};

/* 0 with *out filled; ERR_NOT_FOUND; ERR_PARSE when the stored document is
 * not JSON. */
int store_session_get(struct store *st, const char *id, struct store_session *out);
/* Writes a session if its stored version is still in->version (optimistic
 * concurrency): version 0 creates and fails with ERR_EXISTS when the id is
 * taken; otherwise ERR_CONFLICT when someone wrote in between (read it again)
 * and ERR_NOT_FOUND when it was deleted. *new_version (may be NULL) gets the
 * version now stored. */
int store_session_put(struct store *st, const struct store_session_put *in, int64_t *new_version);
/* Sessions without their documents, most recently updated first. f may be NULL. */
int store_session_list(struct store *st, const struct store_session_filter *f,
                       struct store_session_list *out);
/* 0 or ERR_NOT_FOUND. */
int store_session_delete(struct store *st, const char *id);
/* Deletes every session not updated for more than idle_ms; *deleted (may be
 * NULL) gets how many. */
int store_session_delete_idle(struct store *st, int64_t idle_ms, size_t *deleted);
void store_session_free(struct store_session *s);
void store_session_list_free(struct store_session_list *l);

/* ---- workflow runs and steps -------------------------------------------- */

enum store_run_status {
    STORE_RUN_PENDING,   /* created or retried, due at wake_at_ms */
    STORE_RUN_RUNNING,   /* a worker has it */
    STORE_RUN_WAITING,   /* a durable timer or a backoff: due at wake_at_ms */
    STORE_RUN_SUCCEEDED, /* final */
    STORE_RUN_FAILED,    /* final until retried */
    STORE_RUN_CANCELLED, /* final */
};
#define STORE_RUN_STATUS_COUNT 6
/* A set of statuses for filters and transitions. */
#define STORE_RUN_MASK(status) (1u << (status))

enum store_step_status {
    STORE_STEP_RUNNING,
    STORE_STEP_SUCCEEDED, /* its output is recorded: the step never runs again */
    STORE_STEP_FAILED,    /* the last attempt failed; it may start again */
};
#define STORE_STEP_STATUS_COUNT 3

struct store_step {
    char *name;
    enum store_step_status status;
    json_t *output;      /* the recorded output of a succeeded step, else NULL */
    int attempts;        /* times it started */
    char *error;         /* the last failure (kept while a retry runs), or NULL */
    int64_t started_ms;  /* the last start */
    int64_t finished_ms; /* 0 while running */
};

struct store_run {
    char id[STORE_ID_MAX + 1]; /* store-generated, unguessable */
    char *workflow;
    char *dedupe_key; /* NULL for none */
    json_t *input;    /* NULL in lists */
    enum store_run_status status;
    char *current_step; /* "" before the first step and after the last */
    int attempts;       /* times the run entered RUNNING */
    char *last_error;   /* NULL for none */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t finished_ms;      /* when it reached a final status, else 0 */
    int64_t wake_at_ms;       /* the durable timer, 0 for none */
    struct store_step *steps; /* store_run_get with steps: in the order first started */
    size_t step_count;
};

/* What store_run_create makes (all borrowed). */
struct store_run_new {
    const char *workflow;   /* a name: 1–128 printable ASCII, no spaces */
    const json_t *input;    /* NULL: {} */
    const char *dedupe_key; /* NULL for none; e.g. "primer:job:1042" */
    int64_t wake_at_ms;     /* not due before this; 0: at once */
    bool force;             /* see store_run_create */
};

struct store_run_filter {
    unsigned status_mask; /* STORE_RUN_MASK bits; 0: any status */
    const char *workflow; /* NULL: any */
    size_t limit;         /* 0: STORE_LIST_DEFAULT; capped at STORE_LIST_MAX */
    size_t offset;
};

struct store_run_list {
    struct store_run *items;
    size_t count;
};

/* A compare-and-set on a run's status. */
struct store_run_transition {
    unsigned from; /* STORE_RUN_MASK bits the run must be in; 0: any */
    enum store_run_status to;
    int64_t wake_at_ms; /* the new timer (0: none); for RUNNING, a deadline
                           after which the run is due again (a lease-like
                           heartbeat, so a run whose worker died resumes) */
    const char *error;  /* new last_error: NULL keeps it, "" clears it */
};

/* Creates a PENDING run with a fresh id, or, when in->dedupe_key already
 * belongs to a run, returns that run and sets *created false. With in->force
 * a new run is made anyway and takes the key; the earlier run keeps going
 * without one. *out is the run (without steps); created may be NULL. */
int store_run_create(struct store *st, const struct store_run_new *in, struct store_run *out,
                     bool *created);
/* A run, with its steps when with_steps. ERR_NOT_FOUND; ERR_PARSE when its
 * input or a step's output is corrupt. */
int store_run_get(struct store *st, const char *id, bool with_steps, struct store_run *out);
/* The run holding dedupe_key (without steps), or ERR_NOT_FOUND. */
int store_run_find(struct store *st, const char *dedupe_key, struct store_run *out);
/* Runs without input or steps, newest first. f may be NULL. */
int store_run_list(struct store *st, const struct store_run_filter *f, struct store_run_list *out);
/* Runs due now, soonest timer first: PENDING or WAITING with wake_at_ms <=
 * now, and RUNNING ones whose deadline (wake_at_ms > 0) passed. Without input.
 * limit as in the filters. */
int store_run_due(struct store *st, size_t limit, struct store_run_list *out);
/* Moves a run to t->to if its status is in t->from, else ERR_CONFLICT.
 * Entering RUNNING from another status counts an attempt; entering a final
 * status sets finished_ms, any other clears it. out (may be NULL) gets the run
 * after the change, without steps. */
int store_run_transition(struct store *st, const char *id, const struct store_run_transition *t,
                         struct store_run *out);
/* PENDING, RUNNING or WAITING → CANCELLED (its timer cleared); ERR_CONFLICT
 * for a run already final. Cleanup is the workflow engine's business. */
int store_run_cancel(struct store *st, const char *id);
/* FAILED → PENDING, due at once; ERR_CONFLICT otherwise. Recorded steps stay. */
int store_run_retry(struct store *st, const char *id);
/* Deletes a run and its steps; 0 or ERR_NOT_FOUND. */
int store_run_delete(struct store *st, const char *id);

/* Marks a step RUNNING (an attempt more) and makes it the run's current step,
 * in one transaction. ERR_EXISTS when the step already succeeded: its output
 * is recorded, reuse it instead of repeating its effects. out may be NULL. */
int store_step_start(struct store *st, const char *run_id, const char *step,
                     struct store_step *out);
/* Records a step's output (NULL: JSON null) and makes next_step (NULL: "")
 * the run's current step, in one transaction: after a crash both or neither
 * are stored. ERR_EXISTS when the step had already succeeded (nothing is
 * changed). A step never started is recorded with one attempt. */
int store_step_succeed(struct store *st, const char *run_id, const char *step, const json_t *output,
                       const char *next_step);
/* Records a step's failure and sets it as the run's last_error, in one
 * transaction. The run's status is left to the caller (retry or fail it).
 * ERR_EXISTS when the step had already succeeded. */
int store_step_fail(struct store *st, const char *run_id, const char *step, const char *error);
/* One step of a run, or ERR_NOT_FOUND. */
int store_step_get(struct store *st, const char *run_id, const char *step, struct store_step *out);

/* Status names ("pending", …, "succeeded"), static; "unknown" out of range. */
const char *store_run_status_name(enum store_run_status status);
const char *store_step_status_name(enum store_step_status status);
/* 0 or ERR_INVALID. */
int store_run_status_parse(const char *name, enum store_run_status *out);
/* True for SUCCEEDED, FAILED and CANCELLED. */
bool store_run_status_final(enum store_run_status status);

void store_step_free(struct store_step *s);
void store_run_free(struct store_run *r);
void store_run_list_free(struct store_run_list *l);

/* ---- leases ------------------------------------------------------------- */

struct store_lease {
    char name[STORE_NAME_MAX + 1];
    char owner[STORE_NAME_MAX + 1];
    int64_t acquired_ms; /* when this owner got it (renewals keep it) */
    int64_t expires_ms;
};

/* Takes lease name for owner until now + ttl_ms when it is free, expired or
 * already owner's (which renews it). 0: granted; ERR_CONFLICT: someone else
 * holds it. holder (may be NULL) gets the lease as it now stands either way. */
int store_lease_acquire(struct store *st, const char *name, const char *owner, int64_t ttl_ms,
                        struct store_lease *holder);
/* Gives the lease up. 0 when owner held it (even expired); ERR_CONFLICT when
 * someone else does; ERR_NOT_FOUND when nobody does. */
int store_lease_release(struct store *st, const char *name, const char *owner);
/* Who holds the lease now: 0 with *holder filled, or ERR_NOT_FOUND when it is
 * free or expired. */
int store_lease_get(struct store *st, const char *name, struct store_lease *holder);

/* ---- checkpoints -------------------------------------------------------- */

/* *value is a new string (free it), or ERR_NOT_FOUND. */
int store_checkpoint_get(struct store *st, const char *key, char **value);
/* Sets key to value (up to STORE_TEXT_MAX bytes). */
int store_checkpoint_put(struct store *st, const char *key, const char *value);
/* 0 or ERR_NOT_FOUND. */
int store_checkpoint_delete(struct store *st, const char *key);

/* ---- users and tokens --------------------------------------------------- */

enum store_role { STORE_ROLE_REP, STORE_ROLE_MANAGER, STORE_ROLE_ADMIN };
#define STORE_ROLE_COUNT 3

struct store_user {
    char name[STORE_USER_MAX + 1];
    enum store_role role;
    char *team;          /* "" for none */
    char *password_hash; /* opaque to the store, "" for none */
    int64_t created_ms;
};

/* What store_user_create and store_user_update write (all borrowed). */
struct store_user_spec {
    const char *name;
    enum store_role role;
    const char *team;          /* NULL: "" on create, unchanged on update */
    const char *password_hash; /* NULL: "" on create, unchanged on update */
};

struct store_user_filter {
    const char *team; /* NULL: every user */
    size_t limit;     /* 0: STORE_LIST_DEFAULT; capped at STORE_LIST_MAX */
    size_t offset;
};

struct store_user_list {
    struct store_user *items;
    size_t count;
};

struct store_token {
    char hash[STORE_TOKEN_HASH_LEN + 1]; /* SHA-256 of the bearer token, hex */
    char user[STORE_USER_MAX + 1];
    char *label; /* "" for none */
    int64_t created_ms;
    int64_t last_used_ms; /* 0 until used; updated at most once a minute */
};

struct store_token_list {
    struct store_token *items;
    size_t count;
};

/* 0 or ERR_EXISTS. */
int store_user_create(struct store *st, const struct store_user_spec *u);
/* Sets role, and team and hash unless NULL. 0 or ERR_NOT_FOUND. */
int store_user_update(struct store *st, const struct store_user_spec *u);
/* 0 or ERR_NOT_FOUND. */
int store_user_get(struct store *st, const char *name, struct store_user *out);
/* Users by name. f may be NULL. */
int store_user_list(struct store *st, const struct store_user_filter *f,
                    struct store_user_list *out);
/* Deletes a user and their tokens; 0 or ERR_NOT_FOUND. */
int store_user_delete(struct store *st, const char *name);

/* Stores a token's hash (64 lowercase hex digits; the store never sees raw
 * tokens) for user. ERR_NOT_FOUND: no such user; ERR_EXISTS: hash taken. */
int store_token_create(struct store *st, const char *hash, const char *user, const char *label);
/* The token with that hash, or ERR_NOT_FOUND; marks it used. */
int store_token_lookup(struct store *st, const char *hash, struct store_token *out);
/* Tokens newest first: user's, or everyone's when user is NULL. */
int store_token_list(struct store *st, const char *user, struct store_token_list *out);
/* 0 or ERR_NOT_FOUND. */
int store_token_delete(struct store *st, const char *hash);

/* "rep", "manager", "admin" (static); "unknown" out of range. */
const char *store_role_name(enum store_role role);
/* 0 or ERR_INVALID. */
int store_role_parse(const char *name, enum store_role *out);

void store_user_free(struct store_user *u);
void store_user_list_free(struct store_user_list *l);
void store_token_free(struct store_token *t);
void store_token_list_free(struct store_token_list *l);

#endif
