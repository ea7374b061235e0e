/* crm — the CRM service: customers, their jobs, and the company's pipeline.
 *
 * One interface, two backends behind a vtable (struct crm_backend):
 *   "local" (default) — a SQLite file, seeded on first open with a sample book
 *                        (data/crm_seed.json); it keeps notes and a stage history;
 *   "leap"            — the Leap CRM (JobProgress) public API v3 over HTTP
 *                        (EXTERNAL_APIS.md §4): Bearer token, form-encoded writes,
 *                        a client-side budget of 60 requests a minute.
 * Callers open one with crm_open (or crm_open_configured from harde.ini) and use
 * the crm_* calls below, which validate their arguments once for every backend
 * (stage names, phone numbers, sizes) before the backend sees them. Where a
 * backend cannot do something — Leap's public API documents no way to move a job
 * to another stage — the call fails with CRM_ERR_UNSUPPORTED and a message that
 * says so plainly; nothing is pretended.
 *
 * Records are plain C structs (struct crm_customer, struct crm_job) whose
 * strings are owned by the struct and freed by crm_customer_free /
 * crm_job_free; crm_*_to_json turns them into the JSON that `harde crm --json`
 * and the agents' tools print. Ids are the CRM's own integer ids (job 1042).
 * Stages are the nine of data/kb/sales-process.md, with snake_case keys for
 * machines ("appointment_set") and the playbook's labels for people
 * ("Appointment Set").
 *
 * A struct crm is a long-lived handle used by one thread at a time. Writes
 * (create, note, stage move) are the caller's decision: the agents call them
 * only after the rep confirms. A create carrying an idempotency key is done at
 * most once per key, so a retried create never makes two customers. */
#ifndef HARDE_SERVICES_CRM_CRM_H
#define HARDE_SERVICES_CRM_CRM_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* An error code beyond base/error.h's table: the backend has no such
 * operation (err holds which, and what to do instead). crm_err_name and
 * crm_err_message know it and fall back to err_name / err_message. */
enum { CRM_ERR_UNSUPPORTED = -64 };
const char *crm_err_name(int code);
const char *crm_err_message(int code);

#define CRM_SEARCH_DEFAULT_LIMIT  10
#define CRM_SEARCH_MAX_LIMIT      100
#define CRM_LIST_DEFAULT_LIMIT    200
#define CRM_LIST_MAX_LIMIT        1000
#define CRM_QUERY_MAX             200  /* bytes of a search text */
#define CRM_FIELD_MAX             200  /* bytes of a name, street, email, rep, … */
#define CRM_TEXT_MAX              8000 /* bytes of a note or a job description */
#define CRM_KEY_MAX               128  /* bytes of an idempotency key */
#define CRM_LEAP_DEFAULT_BASE_URL "https://api.jobprogress.com/api/v3"

/* ---- the pipeline and the trades ------------------------------------------ */

enum crm_stage {
    CRM_STAGE_ANY = -2,     /* crm_jobs_list: every stage */
    CRM_STAGE_UNKNOWN = -1, /* a stage of the remote CRM that is not in the pipeline */
    CRM_STAGE_LEAD = 0,
    CRM_STAGE_APPOINTMENT_SET,
    CRM_STAGE_PRIMER_VIDEO_SENT,
    CRM_STAGE_INSPECTION,
    CRM_STAGE_PRESENTATION,
    CRM_STAGE_SIGNED,
    CRM_STAGE_PRODUCTION,
    CRM_STAGE_COMPLETE,
    CRM_STAGE_REVIEW_REQUEST,
    CRM_STAGE_COUNT
};

/* "appointment_set" (static; "unknown" / "any" for the sentinels). */
const char *crm_stage_key(enum crm_stage stage);
/* "Appointment Set" (static). */
const char *crm_stage_label(enum crm_stage stage);
/* Reads a stage written as its key, its label, its number in the pipeline
 * ("2") or a common alias ("appt set", "review requested", "sold"); case,
 * spaces, '-' and '_' do not matter. 0, or ERR_INVALID. */
int crm_stage_parse(const char *text, enum crm_stage *out);

enum crm_trade {
    CRM_TRADE_ROOFING = 0,
    CRM_TRADE_SIDING,
    CRM_TRADE_GUTTERS,
    CRM_TRADE_WINDOWS,
    CRM_TRADE_OTHER,
    CRM_TRADE_COUNT
};

const char *crm_trade_key(enum crm_trade trade);   /* "roofing" (static) */
const char *crm_trade_label(enum crm_trade trade); /* "Roofing" (static) */
/* "roofing", "Roof", "gutter", … ; 0 or ERR_INVALID. */
int crm_trade_parse(const char *text, enum crm_trade *out);

/* A US phone number in any common form ("(614) 555-0142", "614.555.0142",
 * "+1 614 555 0142") as E.164 ("+16145550142") in out (at least 16 bytes).
 * 0, or ERR_INVALID. */
int crm_phone_e164(const char *text, char *out, size_t outlen);

/* ---- records (strings owned by the struct; NULL when unknown) -------------- */

struct crm_note {
    int64_t id;
    char *author;
    char *text;
    char *created_at; /* "2026-11-25T16:08:42Z" */
};

struct crm_stage_change {
    enum crm_stage from; /* CRM_STAGE_UNKNOWN for the first entry */
    enum crm_stage to;
    char *changed_at;
    char *changed_by;
    char *reason;
};

struct crm_job {
    int64_t id;
    int64_t customer_id;
    char *number; /* the remote CRM's job number (Leap "2611-0001042-01"); NULL locally */
    char *customer_name;
    char *street, *city, *state, *zip; /* the job's address */
    enum crm_trade trade;
    enum crm_stage stage; /* CRM_STAGE_UNKNOWN when the CRM's stage is not in the pipeline */
    char *stage_name;     /* the CRM's own name for the stage */
    char *appointment;    /* local time "2026-12-01T18:00", or NULL */
    char *rep;            /* the assigned rep, or NULL */
    char *description;
    char *created_at;
    char *stage_changed_at;
    struct crm_note *notes; /* crm_job_get: oldest first; empty in lists */
    size_t note_count;
    struct crm_stage_change *history; /* crm_job_get on the local CRM: oldest first */
    size_t history_count;
};

struct crm_customer {
    int64_t id;
    char *first_name, *last_name;
    char *phone; /* E.164 */
    char *email;
    char *street, *city, *state, *zip;
    char *lead_source;
    char *created_at;
    struct crm_job *jobs; /* crm_customer_get: the customer's jobs, without notes */
    size_t job_count;
};

struct crm_hit {
    struct crm_customer customer; /* without jobs */
    int score;                    /* higher is better */
    const char *matched;          /* the field that matched best (static): "name", "phone", … */
};

struct crm_hits {
    struct crm_hit *items;
    size_t count;
};

struct crm_jobs {
    struct crm_job *items;
    size_t count;
    size_t total; /* jobs that matched; more than count when the limit cut the list */
};

/* These free the members (and the arrays) and zero the struct, not the struct itself. */
void crm_customer_free(struct crm_customer *customer);
void crm_job_free(struct crm_job *job);
void crm_hits_free(struct crm_hits *hits);
void crm_jobs_free(struct crm_jobs *jobs);

/* ---- inputs of the writes (all strings borrowed) --------------------------- */

struct crm_new_client {
    const char *first_name;                  /* required */
    const char *last_name;                   /* required */
    const char *phone;                       /* required; any US form, stored as E.164 */
    const char *email;                       /* optional */
    const char *street, *city, *state, *zip; /* optional; state: two letters; ZIP 5 or 5+4 */
    const char *lead_source;                 /* optional */
    enum crm_trade trade;
    const char *description;     /* the job; NULL: "<Trade> estimate" */
    const char *notes;           /* optional: the job's first note */
    const char *rep;             /* optional: the assigned rep */
    const char *appointment;     /* optional: local "YYYY-MM-DDTHH:MM" */
    const char *author;          /* optional: who asked (note author, history) */
    const char *idempotency_key; /* optional: the same key never creates twice */
};

struct crm_created {
    int64_t customer_id;
    int64_t job_id;
    bool replayed; /* the key had been used: these are the first create's ids */
};

/* ---- the backend vtable ---------------------------------------------------- */

struct crm;

/* What a backend implements. The crm_* functions below validate arguments,
 * zero the outputs and make sure err holds a sentence on failure before and
 * after calling these, so backends may assume valid input. */
struct crm_backend {
    const char *name; /* "local", "leap" */
    int (*search)(struct crm *crm, const char *query, size_t limit, struct crm_hits *out, char *err,
                  size_t errlen);
    int (*customer_get)(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                        size_t errlen);
    int (*job_get)(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen);
    int (*client_create)(struct crm *crm, const struct crm_new_client *in, struct crm_created *out,
                         char *err, size_t errlen);
    int (*note_add)(struct crm *crm, int64_t job_id, const char *author, const char *text,
                    int64_t *note_id, char *err, size_t errlen);
    int (*jobs_list)(struct crm *crm, enum crm_stage stage, size_t limit, struct crm_jobs *out,
                     char *err, size_t errlen);
    int (*stage_move)(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                      const char *reason, char *err, size_t errlen);
    void (*close)(struct crm *crm);
};

/* Every backend's handle starts with this. */
struct crm {
    const struct crm_backend *backend;
};

/* ---- opening ---------------------------------------------------------------- */

struct crm_options {
    const char *backend; /* "local" (NULL: local) or "leap" */
    /* local */
    const char *db_path;   /* the SQLite file, created if missing (required) */
    const char *seed_path; /* loaded into an empty, new database; NULL: start empty */
    /* leap */
    const char *leap_base_url;     /* NULL: CRM_LEAP_DEFAULT_BASE_URL */
    const char *leap_token;        /* required for leap (never logged) */
    double leap_per_minute;        /* request budget; 0: 60 */
    int leap_burst;                /* bucket size, < leap_per_minute; 0: 10 */
    long leap_max_wait_ms;         /* longest wait for the budget before ERR_RATE_LIMIT; 0: 30 s */
    long leap_timeout_ms;          /* per HTTP attempt; 0: 20 s */
    int leap_page_size;            /* 1..100; 0: 100 */
    int leap_retries;              /* retries of a failed read; 0: 2; < 0: none */
    long leap_retry_base_ms;       /* first backoff; 0: http_retry's default */
    volatile sig_atomic_t *cancel; /* non-zero abandons waits and requests; may be NULL */
};

/* Opens the backend the options name. New (crm_close), or NULL with err set. */
struct crm *crm_open(const struct crm_options *opts, char *err, size_t errlen);

/* Opens the CRM harde.ini describes:
 *   [crm] backend  local | leap; default: leap when LEAP_API_TOKEN is set,
 *                  else local (each key switches one service to the cloud);
 *   [crm] db       default DATA_DIR/crm.sqlite (relative: to data_dir);
 *   [crm] seed     default SHARE_DIR/crm_seed.json (relative: to share_dir;
 *                  "none": start empty);
 *   [leap] base_url, per_minute, timeout_ms — optional.
 * The token comes only from the environment (LEAP_API_TOKEN) and is registered
 * with log_add_secret. New, or NULL with err set. */
struct crm *crm_open_configured(const struct config *cfg, const char *data_dir,
                                const char *share_dir, char *err, size_t errlen);

void crm_close(struct crm *crm);
/* "local" or "leap" (static). */
const char *crm_backend_name(const struct crm *crm);

/* ---- operations: 0 or a negative code with a sentence in err --------------- */

/* Customers matching text in name, phone, email or address, best first (see
 * crm_match in crm_internal.h for the ranking); limit 0: the default. An empty
 * result is 0 with out->count 0. out is new (crm_hits_free). */
int crm_search(struct crm *crm, const char *text, size_t limit, struct crm_hits *out, char *err,
               size_t errlen);
/* The customer with their jobs. ERR_NOT_FOUND for an unknown id. out is new. */
int crm_customer_get(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                     size_t errlen);
/* The job with customer name, address, trade, stage, appointment, rep, notes
 * (and, locally, its stage history). ERR_NOT_FOUND for an unknown id. */
int crm_job_get(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen);
/* Creates a customer with one job in the Lead stage (locally: Appointment Set
 * when an appointment is given; Leap files a prospect in its first stage and
 * gets rep, appointment, lead source and notes in the job description) in
 * one call. With in->idempotency_key, a second call
 * with the same key returns the first call's ids with out->replayed set
 * (ERR_INVALID when that key was used for another person). */
int crm_client_create(struct crm *crm, const struct crm_new_client *in, struct crm_created *out,
                      char *err, size_t errlen);
/* Adds a note to a job; *note_id (may be NULL) gets its id. */
int crm_note_add(struct crm *crm, int64_t job_id, const char *author, const char *text,
                 int64_t *note_id, char *err, size_t errlen);
/* Jobs in stage (CRM_STAGE_ANY: all), in pipeline order then by id; limit 0:
 * the default. out is new (crm_jobs_free). */
int crm_jobs_list(struct crm *crm, enum crm_stage stage, size_t limit, struct crm_jobs *out,
                  char *err, size_t errlen);
/* Moves a job to a pipeline stage (a valid stage, never UNKNOWN/ANY); moving
 * to the stage it is in is a no-op. by and reason (may be NULL) go into the
 * history. Leap: CRM_ERR_UNSUPPORTED. */
int crm_stage_move(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                   const char *reason, char *err, size_t errlen);

/* ---- JSON (new references) ------------------------------------------------ */

/* {"id", "first_name", "last_name", "name", "phone", "email", "address":
 *  {"street","city","state","zip"}, "address_line", "lead_source",
 *  "created_at", "jobs": [job…]} ("jobs" only when the struct holds them). */
json_t *crm_customer_to_json(const struct crm_customer *customer);
/* {"id", "number"?, "customer_id", "customer_name", "address": {…},
 *  "address_line", "trade", "trade_label", "stage", "stage_label",
 *  "appointment", "rep", "description", "created_at", "stage_changed_at",
 *  "notes": [{"id","author","text","created_at"}],
 *  "stage_history": [{"from","to","changed_at","changed_by","reason"}]}. */
json_t *crm_job_to_json(const struct crm_job *job);
/* [customer + {"score", "matched"}, …] */
json_t *crm_hits_to_json(const struct crm_hits *hits);
/* {"count", "total", "jobs": [job…]} */
json_t *crm_jobs_to_json(const struct crm_jobs *jobs);
/* [{"key", "label", "position"}, …] — the pipeline. */
json_t *crm_stages_to_json(void);

#endif
