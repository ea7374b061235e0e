/* crm_local — the default CRM: a SQLite file in the data directory.
 *
 * Owns one SQLite connection per handle. The schema is versioned: the
 * migrations below are applied in order, each in its own transaction, and
 * schema_version records which ran (a database from a newer Hard-E is
 * refused rather than damaged). Tables: customers; jobs (trade and stage as
 * their snake_case keys, checked by CHECK constraints); job_notes;
 * job_stage_history (every stage a job entered, by whom and why); create_keys
 * (idempotency keys of client creates); crm_meta (where the seed came from).
 * WAL lets the web server read while a worker writes; foreign keys are on
 * and verified; writes are BEGIN IMMEDIATE transactions so a create, its job,
 * its first note, its history row and its key land together or not at all.
 *
 * A new book (no customers, never seeded) is seeded once from
 * data/crm_seed.json in one transaction; each entry is checked (names, a US
 * phone stored as E.164, trade, stage, appointment format), and a bad seed
 * fails the open naming the entry and leaves the book empty, so the next
 * open tries again. New customers get ids after 500 and new jobs after 1000,
 * so ids look like the company's (job 1042) even in an empty book. Search
 * scores every customer row with crm_match (a scan, fine
 * for a contractor's book of thousands; bounded by LOCAL_SCAN_MAX). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/crm/crm_internal.h"

#define LOCAL_BUSY_MS      5000
#define LOCAL_SCAN_MAX     100000      /* customer rows a search looks at */
#define LOCAL_SEED_MAX     (16u << 20) /* bytes of a seed file */
#define LOCAL_CUSTOMER_MIN 500         /* new customer ids come after this */
#define LOCAL_JOB_MIN      1000        /* new job ids come after this */

struct crm_local {
    struct crm base;
    sqlite3 *db;
};

static const char *const migrations[] = {
    /* 1: the book */
    "CREATE TABLE crm_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE customers("
    "  id INTEGER PRIMARY KEY,"
    "  first_name TEXT NOT NULL, last_name TEXT NOT NULL,"
    "  phone TEXT NOT NULL, email TEXT,"
    "  street TEXT, city TEXT, state TEXT, zip TEXT,"
    "  lead_source TEXT,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX customers_by_name ON customers(last_name COLLATE NOCASE,"
    "  first_name COLLATE NOCASE);"
    "CREATE INDEX customers_by_phone ON customers(phone);"
    "CREATE TABLE jobs("
    "  id INTEGER PRIMARY KEY,"
    "  customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,"
    "  trade TEXT NOT NULL CHECK (trade IN ('roofing', 'siding', 'gutters', 'windows',"
    "    'other')),"
    "  stage TEXT NOT NULL CHECK (stage IN ('lead', 'appointment_set', 'primer_video_sent',"
    "    'inspection', 'presentation', 'signed', 'production', 'complete', 'review_request')),"
    "  description TEXT NOT NULL,"
    "  appointment TEXT, rep TEXT,"
    "  created_at TEXT NOT NULL, stage_changed_at TEXT NOT NULL);"
    "CREATE INDEX jobs_by_customer ON jobs(customer_id);"
    "CREATE INDEX jobs_by_stage ON jobs(stage, id);"
    "CREATE TABLE job_notes("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  author TEXT, body TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE INDEX job_notes_by_job ON job_notes(job_id, id);"
    "CREATE TABLE job_stage_history("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  from_stage TEXT, to_stage TEXT NOT NULL,"
    "  changed_at TEXT NOT NULL, changed_by TEXT, reason TEXT);"
    "CREATE INDEX job_stage_history_by_job ON job_stage_history(job_id, id);"
    "CREATE TABLE create_keys("
    "  key TEXT PRIMARY KEY,"
    "  customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  created_at TEXT NOT NULL);",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

#define JOB_COLUMNS                                                                                \
    "SELECT j.id, j.customer_id, c.first_name, c.last_name, c.street, c.city, c.state, c.zip,"     \
    " j.trade, j.stage, j.appointment, j.rep, j.description, j.created_at,"                        \
    " j.stage_changed_at FROM jobs j JOIN customers c ON c.id = j.customer_id "

#define CUSTOMER_COLUMNS                                                                           \
    "SELECT id, first_name, last_name, phone, email, street, city, state, zip, lead_source,"       \
    " created_at FROM customers "

/* ---- sqlite helpers ------------------------------------------------------------ */

static int db_error(struct crm_local *L, const char *what, char *err, size_t errlen)
{
    int code = sqlite3_errcode(L->db);
    crm_set_err(err, errlen, "crm: local database: %s: %s", what, sqlite3_errmsg(L->db));
    return code == SQLITE_BUSY || code == SQLITE_LOCKED ? ERR_TIMEOUT : ERR_IO;
}

static int exec(struct crm_local *L, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(L->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(L, sql, err, errlen);
    return 0;
}

static void rollback(struct crm_local *L)
{
    if (!sqlite3_get_autocommit(L->db))
        sqlite3_exec(L->db, "ROLLBACK;", NULL, NULL, NULL);
}

static int prepare(struct crm_local *L, sqlite3_stmt **st, const char *sql, char *err,
                   size_t errlen)
{
    if (sqlite3_prepare_v2(L->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_error(L, "prepare", err, errlen);
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows; 0 or an error. */
static int step_done(struct crm_local *L, sqlite3_stmt *st, const char *what, char *err,
                     size_t errlen)
{
    return sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(L, what, err, errlen);
}

static char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static enum crm_stage col_stage(sqlite3_stmt *st, int i)
{
    enum crm_stage s = CRM_STAGE_UNKNOWN;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t || crm_stage_parse((const char *)t, &s) != 0)
        return CRM_STAGE_UNKNOWN;
    return s;
}

/* ---- rows to records ---------------------------------------------------------- */

static void customer_from_row(sqlite3_stmt *st, struct crm_customer *c)
{
    c->id = sqlite3_column_int64(st, 0);
    c->first_name = col(st, 1);
    c->last_name = col(st, 2);
    c->phone = col(st, 3);
    c->email = col(st, 4);
    c->street = col(st, 5);
    c->city = col(st, 6);
    c->state = col(st, 7);
    c->zip = col(st, 8);
    c->lead_source = col(st, 9);
    c->created_at = col(st, 10);
}

static void job_from_row(sqlite3_stmt *st, struct crm_job *j)
{
    const char *first = (const char *)sqlite3_column_text(st, 2);
    const char *last = (const char *)sqlite3_column_text(st, 3);
    j->id = sqlite3_column_int64(st, 0);
    j->customer_id = sqlite3_column_int64(st, 1);
    j->customer_name = crm_full_name(first, last);
    j->street = col(st, 4);
    j->city = col(st, 5);
    j->state = col(st, 6);
    j->zip = col(st, 7);
    enum crm_trade trade = CRM_TRADE_OTHER;
    const char *t = (const char *)sqlite3_column_text(st, 8);
    if (t)
        crm_trade_parse(t, &trade);
    j->trade = trade;
    j->stage = col_stage(st, 9);
    j->stage_name = xstrdup(crm_stage_label(j->stage));
    j->appointment = col(st, 10);
    j->rep = col(st, 11);
    j->description = col(st, 12);
    j->created_at = col(st, 13);
    j->stage_changed_at = col(st, 14);
}

/* Runs a job query (bound by the caller) and appends every row to *items. */
static int collect_jobs(struct crm_local *L, sqlite3_stmt *st, struct crm_job **items,
                        size_t *count, char *err, size_t errlen)
{
    size_t cap = *count;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            *items = xrealloc(*items, cap * sizeof **items);
        }
        struct crm_job *j = &(*items)[(*count)++];
        memset(j, 0, sizeof *j);
        job_from_row(st, j);
    }
    return rc == SQLITE_DONE ? 0 : db_error(L, "read jobs", err, errlen);
}

/* ---- writes shared by create and seed ------------------------------------------------ */

struct customer_row {
    int64_t id; /* 0: the next free id */
    const char *first, *last, *phone, *email, *street, *city, *state, *zip, *source, *created;
};

struct job_row {
    int64_t id; /* 0: the next free id */
    int64_t customer_id;
    enum crm_trade trade;
    enum crm_stage stage;
    const char *description, *appointment, *rep, *created, *by;
};

static int insert_customer(struct crm_local *L, const struct customer_row *r, int64_t *id,
                           char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "INSERT INTO customers(id, first_name, last_name, phone, email, street, city,"
                     " state, zip, lead_source, created_at, updated_at) VALUES (coalesce(?1,"
                     " (SELECT max(?12, coalesce(max(id), 0)) + 1 FROM customers)),"
                     " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11);",
                     err, errlen);
    if (rc)
        return rc;
    if (r->id > 0)
        sqlite3_bind_int64(st, 1, r->id);
    const char *text[] = {r->first, r->last,  r->phone, r->email,  r->street,
                          r->city,  r->state, r->zip,   r->source, r->created};
    for (int i = 0; i < 10; i++)
        bind_text(st, i + 2, text[i]);
    sqlite3_bind_int(st, 12, LOCAL_CUSTOMER_MIN);
    rc = step_done(L, st, "add a customer", err, errlen);
    sqlite3_finalize(st);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(L->db);
    return rc;
}

static int insert_history(struct crm_local *L, int64_t job_id, enum crm_stage from,
                          enum crm_stage to, const char *at, const char *by, const char *reason,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "INSERT INTO job_stage_history(job_id, from_stage, to_stage, changed_at,"
                     " changed_by, reason) VALUES (?, ?, ?, ?, ?, ?);",
                     err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, job_id);
    bind_text(st, 2, from == CRM_STAGE_UNKNOWN ? NULL : crm_stage_key(from));
    bind_text(st, 3, crm_stage_key(to));
    bind_text(st, 4, at);
    bind_text(st, 5, by);
    bind_text(st, 6, reason);
    rc = step_done(L, st, "record the stage", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Inserts a job and its first history row. */
static int insert_job(struct crm_local *L, const struct job_row *r, int64_t *id, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "INSERT INTO jobs(id, customer_id, trade, stage, description, appointment,"
                     " rep, created_at, stage_changed_at) VALUES (coalesce(?1, (SELECT max(?9,"
                     " coalesce(max(id), 0)) + 1 FROM jobs)), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8);",
                     err, errlen);
    if (rc)
        return rc;
    if (r->id > 0)
        sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->customer_id);
    bind_text(st, 3, crm_trade_key(r->trade));
    bind_text(st, 4, crm_stage_key(r->stage));
    bind_text(st, 5, r->description);
    bind_text(st, 6, r->appointment);
    bind_text(st, 7, r->rep);
    bind_text(st, 8, r->created);
    sqlite3_bind_int(st, 9, LOCAL_JOB_MIN);
    rc = step_done(L, st, "add a job", err, errlen);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    *id = sqlite3_last_insert_rowid(L->db);
    return insert_history(L, *id, CRM_STAGE_UNKNOWN, r->stage, r->created, r->by, NULL, err,
                          errlen);
}

static int insert_note(struct crm_local *L, int64_t job_id, const char *author, const char *text,
                       const char *at, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "INSERT INTO job_notes(job_id, author, body, created_at) VALUES (?, ?, ?, ?);",
                     err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, job_id);
    bind_text(st, 2, author);
    bind_text(st, 3, text);
    bind_text(st, 4, at);
    rc = step_done(L, st, "add a note", err, errlen);
    sqlite3_finalize(st);
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(L->db);
    return rc;
}

/* ---- reads ------------------------------------------------------------------------------ */

static int local_search(struct crm *crm, const char *query, size_t limit, struct crm_hits *out,
                        char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st, CUSTOMER_COLUMNS "ORDER BY id LIMIT ?;", err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, LOCAL_SCAN_MAX);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct crm_customer c;
        memset(&c, 0, sizeof c);
        customer_from_row(st, &c);
        const char *matched = NULL;
        int score = crm_match(&c, query, &matched);
        if (score <= 0) {
            crm_customer_free(&c);
            continue;
        }
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            out->items = xrealloc(out->items, cap * sizeof out->items[0]);
        }
        out->items[out->count++] =
            (struct crm_hit){.customer = c, .score = score, .matched = matched};
    }
    if (step != SQLITE_DONE)
        rc = db_error(L, "search customers", err, errlen);
    sqlite3_finalize(st);
    if (rc == 0)
        crm_hits_rank(out, limit);
    return rc;
}

static int local_customer_get(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                              size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st, CUSTOMER_COLUMNS "WHERE id = ?;", err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        customer_from_row(st, out);
    } else if (step == SQLITE_DONE) {
        crm_set_err(err, errlen, "crm: there is no customer %lld", (long long)id);
        rc = ERR_NOT_FOUND;
    } else {
        rc = db_error(L, "read a customer", err, errlen);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0)
        rc = prepare(L, &st, JOB_COLUMNS "WHERE j.customer_id = ? ORDER BY j.id;", err, errlen);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, id);
        out->jobs = xcalloc(1, sizeof *out->jobs); /* non-NULL: "jobs" were looked up */
        rc = collect_jobs(L, st, &out->jobs, &out->job_count, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static int read_notes(struct crm_local *L, struct crm_job *j, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "SELECT id, author, body, created_at FROM job_notes WHERE job_id = ?"
                     " ORDER BY id;",
                     err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, j->id);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->note_count == cap) {
            cap = cap ? cap * 2 : 8;
            j->notes = xrealloc(j->notes, cap * sizeof j->notes[0]);
        }
        j->notes[j->note_count++] = (struct crm_note){
            .id = sqlite3_column_int64(st, 0),
            .author = col(st, 1),
            .text = col(st, 2),
            .created_at = col(st, 3),
        };
    }
    if (step != SQLITE_DONE)
        rc = db_error(L, "read notes", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int read_history(struct crm_local *L, struct crm_job *j, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "SELECT from_stage, to_stage, changed_at, changed_by, reason"
                     " FROM job_stage_history WHERE job_id = ? ORDER BY id;",
                     err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, j->id);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->history_count == cap) {
            cap = cap ? cap * 2 : 8;
            j->history = xrealloc(j->history, cap * sizeof j->history[0]);
        }
        j->history[j->history_count++] = (struct crm_stage_change){
            .from = col_stage(st, 0),
            .to = col_stage(st, 1),
            .changed_at = col(st, 2),
            .changed_by = col(st, 3),
            .reason = col(st, 4),
        };
    }
    if (step != SQLITE_DONE)
        rc = db_error(L, "read the stage history", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int local_job_get(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st, JOB_COLUMNS "WHERE j.id = ?;", err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        job_from_row(st, out);
    } else if (step == SQLITE_DONE) {
        crm_set_err(err, errlen, "crm: there is no job %lld", (long long)id);
        rc = ERR_NOT_FOUND;
    } else {
        rc = db_error(L, "read a job", err, errlen);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = read_notes(L, out, err, errlen);
    if (rc == 0)
        rc = read_history(L, out, err, errlen);
    return rc;
}

static int cmp_pipeline(const void *pa, const void *pb)
{
    const struct crm_job *a = pa, *b = pb;
    if (a->stage != b->stage)
        return a->stage < b->stage ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int local_jobs_list(struct crm *crm, enum crm_stage stage, size_t limit,
                           struct crm_jobs *out, char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    sqlite3_stmt *st = NULL;
    bool any = stage == CRM_STAGE_ANY;
    int rc = prepare(
        L, &st, any ? JOB_COLUMNS "ORDER BY j.id;" : JOB_COLUMNS "WHERE j.stage = ? ORDER BY j.id;",
        err, errlen);
    if (rc)
        return rc;
    if (!any)
        bind_text(st, 1, crm_stage_key(stage));
    rc = collect_jobs(L, st, &out->items, &out->count, err, errlen);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (out->count > 1)
        qsort(out->items, out->count, sizeof out->items[0], cmp_pipeline);
    out->total = out->count;
    while (out->count > limit)
        crm_job_free(&out->items[--out->count]);
    return 0;
}

/* ---- writes ------------------------------------------------------------------------------ */

/* The ids stored under key, with the customer's name and phone to compare.
 * 0 with *found false when the key is new. */
static int find_key(struct crm_local *L, const struct crm_new_client *in, struct crm_created *out,
                    bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    int rc = prepare(L, &st,
                     "SELECT k.customer_id, k.job_id, c.first_name, c.last_name, c.phone"
                     " FROM create_keys k JOIN customers c ON c.id = k.customer_id"
                     " WHERE k.key = ?;",
                     err, errlen);
    if (rc)
        return rc;
    bind_text(st, 1, in->idempotency_key);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *found = true;
        const char *first = (const char *)sqlite3_column_text(st, 2);
        const char *last = (const char *)sqlite3_column_text(st, 3);
        const char *phone = (const char *)sqlite3_column_text(st, 4);
        if (strcasecmp(first, in->first_name) != 0 || strcasecmp(last, in->last_name) != 0 ||
            strcmp(phone, in->phone) != 0) {
            crm_set_err(err, errlen,
                        "crm: the idempotency key \"%s\" was already used to create %s %s; use a "
                        "new key for another client",
                        in->idempotency_key, first, last);
            rc = ERR_INVALID;
        }
        out->customer_id = sqlite3_column_int64(st, 0);
        out->job_id = sqlite3_column_int64(st, 1);
        out->replayed = true;
    } else if (step != SQLITE_DONE) {
        rc = db_error(L, "look up the idempotency key", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static int store_key(struct crm_local *L, const char *key, const struct crm_created *ids,
                     const char *now, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "INSERT INTO create_keys(key, customer_id, job_id, created_at)"
                     " VALUES (?, ?, ?, ?);",
                     err, errlen);
    if (rc)
        return rc;
    bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, ids->customer_id);
    sqlite3_bind_int64(st, 3, ids->job_id);
    bind_text(st, 4, now);
    rc = step_done(L, st, "store the idempotency key", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int create_rows(struct crm_local *L, const struct crm_new_client *in,
                       struct crm_created *out, char *err, size_t errlen)
{
    char now[32];
    crm_now_iso(now, sizeof now);
    struct customer_row cr = {
        .first = in->first_name,
        .last = in->last_name,
        .phone = in->phone,
        .email = in->email,
        .street = in->street,
        .city = in->city,
        .state = in->state,
        .zip = in->zip,
        .source = in->lead_source,
        .created = now,
    };
    int rc = insert_customer(L, &cr, &out->customer_id, err, errlen);
    char *description =
        in->description ? NULL : xasprintf("%s estimate", crm_trade_label(in->trade));
    struct job_row jr = {
        .customer_id = out->customer_id,
        .trade = in->trade,
        .stage = in->appointment ? CRM_STAGE_APPOINTMENT_SET : CRM_STAGE_LEAD,
        .description = in->description ? in->description : description,
        .appointment = in->appointment,
        .rep = in->rep,
        .created = now,
        .by = in->author,
    };
    if (rc == 0)
        rc = insert_job(L, &jr, &out->job_id, err, errlen);
    if (rc == 0 && in->notes)
        rc = insert_note(L, out->job_id, in->author, in->notes, now, NULL, err, errlen);
    if (rc == 0 && in->idempotency_key)
        rc = store_key(L, in->idempotency_key, out, now, err, errlen);
    free(description);
    return rc;
}

static int local_client_create(struct crm *crm, const struct crm_new_client *in,
                               struct crm_created *out, char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    bool found = false;
    int rc = exec(L, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        return rc;
    if (in->idempotency_key)
        rc = find_key(L, in, out, &found, err, errlen);
    if (rc == 0 && !found)
        rc = create_rows(L, in, out, err, errlen);
    if (rc == 0)
        rc = exec(L, "COMMIT;", err, errlen);
    if (rc)
        rollback(L);
    else
        log_info("crm", "%s client: customer %lld, job %lld", found ? "replayed" : "created",
                 (long long)out->customer_id, (long long)out->job_id);
    return rc;
}

/* 0 when job id exists, ERR_NOT_FOUND (with a sentence) when not. */
static int job_stage(struct crm_local *L, int64_t id, enum crm_stage *stage, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st, "SELECT stage FROM jobs WHERE id = ?;", err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *stage = col_stage(st, 0);
    } else if (step == SQLITE_DONE) {
        crm_set_err(err, errlen, "crm: there is no job %lld", (long long)id);
        rc = ERR_NOT_FOUND;
    } else {
        rc = db_error(L, "read a job", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static int local_note_add(struct crm *crm, int64_t job_id, const char *author, const char *text,
                          int64_t *note_id, char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    char now[32];
    enum crm_stage stage;
    crm_now_iso(now, sizeof now);
    int rc = exec(L, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        return rc;
    rc = job_stage(L, job_id, &stage, err, errlen);
    if (rc == 0)
        rc = insert_note(L, job_id, author, text, now, note_id, err, errlen);
    if (rc == 0)
        rc = exec(L, "COMMIT;", err, errlen);
    if (rc)
        rollback(L);
    return rc;
}

static int local_stage_move(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                            const char *reason, char *err, size_t errlen)
{
    struct crm_local *L = (struct crm_local *)crm;
    char now[32];
    enum crm_stage from = CRM_STAGE_UNKNOWN;
    sqlite3_stmt *st = NULL;
    crm_now_iso(now, sizeof now);
    int rc = exec(L, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        return rc;
    rc = job_stage(L, job_id, &from, err, errlen);
    bool moved = rc == 0 && from != to;
    if (moved)
        rc = prepare(L, &st, "UPDATE jobs SET stage = ?, stage_changed_at = ? WHERE id = ?;", err,
                     errlen);
    if (moved && rc == 0) {
        bind_text(st, 1, crm_stage_key(to));
        bind_text(st, 2, now);
        sqlite3_bind_int64(st, 3, job_id);
        rc = step_done(L, st, "move the job", err, errlen);
    }
    sqlite3_finalize(st);
    if (moved && rc == 0)
        rc = insert_history(L, job_id, from, to, now, by, reason, err, errlen);
    if (rc == 0)
        rc = exec(L, "COMMIT;", err, errlen);
    if (rc)
        rollback(L);
    else if (moved)
        log_info("crm", "job %lld moved from %s to %s", (long long)job_id, crm_stage_key(from),
                 crm_stage_key(to));
    return rc;
}

/* ---- the seed ------------------------------------------------------------------------------ */

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

static int seed_customer(struct crm_local *L, json_t *c, size_t index, const char *path,
                         int64_t *id, char *err, size_t errlen)
{
    char phone[20];
    json_int_t want = json_integer_value(json_object_get(c, "id"));
    if (!jstr(c, "first_name") || !jstr(c, "last_name") || want < 0 ||
        crm_phone_e164(jstr(c, "phone"), phone, sizeof phone) != 0) {
        crm_set_err(err, errlen,
                    "crm: seed %s: customer %zu needs first_name, last_name and a US phone", path,
                    index + 1);
        return ERR_PARSE;
    }
    char now[32];
    crm_now_iso(now, sizeof now);
    struct customer_row r = {
        .id = want,
        .first = jstr(c, "first_name"),
        .last = jstr(c, "last_name"),
        .phone = phone,
        .email = jstr(c, "email"),
        .street = jstr(c, "street"),
        .city = jstr(c, "city"),
        .state = jstr(c, "state"),
        .zip = jstr(c, "zip"),
        .source = jstr(c, "lead_source"),
        .created = jstr(c, "created_at") ? jstr(c, "created_at") : now,
    };
    return insert_customer(L, &r, id, err, errlen);
}

static int seed_notes(struct crm_local *L, json_t *notes, int64_t job_id, const char *created,
                      char *err, size_t errlen)
{
    size_t i;
    json_t *n;
    json_array_foreach(notes, i, n)
    {
        if (!jstr(n, "text")) {
            crm_set_err(err, errlen, "crm: seed: job %lld: note %zu has no text", (long long)job_id,
                        i + 1);
            return ERR_PARSE;
        }
        const char *at = jstr(n, "created_at") ? jstr(n, "created_at") : created;
        int rc = insert_note(L, job_id, jstr(n, "author"), jstr(n, "text"), at, NULL, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int seed_job(struct crm_local *L, json_t *j, int64_t customer_id, const char *path,
                    char *err, size_t errlen)
{
    enum crm_trade trade;
    enum crm_stage stage;
    json_int_t want = json_integer_value(json_object_get(j, "id"));
    const char *appt = jstr(j, "appointment");
    if (want < 0 || crm_trade_parse(jstr(j, "trade"), &trade) != 0 ||
        crm_stage_parse(jstr(j, "stage"), &stage) != 0 || !jstr(j, "description") ||
        (appt && !crm_appointment_valid(appt))) {
        crm_set_err(err, errlen,
                    "crm: seed %s: job %lld of customer %lld needs a trade, a stage, a "
                    "description and (if any) an appointment as YYYY-MM-DDTHH:MM",
                    path, (long long)want, (long long)customer_id);
        return ERR_PARSE;
    }
    char now[32];
    crm_now_iso(now, sizeof now);
    const char *created = jstr(j, "created_at") ? jstr(j, "created_at") : now;
    struct job_row r = {
        .id = want,
        .customer_id = customer_id,
        .trade = trade,
        .stage = stage,
        .description = jstr(j, "description"),
        .appointment = appt,
        .rep = jstr(j, "rep"),
        .created = created,
        .by = "seed",
    };
    int64_t id = 0;
    int rc = insert_job(L, &r, &id, err, errlen);
    return rc ? rc : seed_notes(L, json_object_get(j, "notes"), id, created, err, errlen);
}

static int seed_rows(struct crm_local *L, json_t *root, const char *path, char *err, size_t errlen)
{
    json_t *customers = json_object_get(root, "customers");
    if (!json_is_array(customers)) {
        crm_set_err(err, errlen, "crm: seed %s has no \"customers\" list", path);
        return ERR_PARSE;
    }
    size_t i, k;
    json_t *c, *j;
    json_array_foreach(customers, i, c)
    {
        int64_t id = 0;
        int rc = seed_customer(L, c, i, path, &id, err, errlen);
        json_array_foreach(json_object_get(c, "jobs"), k, j)
        {
            if (rc == 0)
                rc = seed_job(L, j, id, path, err, errlen);
        }
        if (rc)
            return rc;
    }
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(L, &st, "INSERT INTO crm_meta(key, value) VALUES ('seeded_from', ?);", err, errlen);
    if (rc == 0) {
        bind_text(st, 1, path);
        rc = step_done(L, st, "record the seed", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* True when nothing was ever seeded and no customer exists. */
static int book_is_new(struct crm_local *L, bool *is_new, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(L, &st,
                     "SELECT NOT EXISTS (SELECT 1 FROM crm_meta WHERE key = 'seeded_from')"
                     " AND NOT EXISTS (SELECT 1 FROM customers);",
                     err, errlen);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *is_new = sqlite3_column_int(st, 0) != 0;
    else
        rc = db_error(L, "inspect the book", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int seed(struct crm_local *L, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        crm_set_err(err, errlen, "crm: cannot read the seed file %s", path);
        return ERR_IO;
    }
    if ((size_t)sb.st_size > LOCAL_SEED_MAX) {
        crm_set_err(err, errlen, "crm: the seed file %s is over %u bytes", path, LOCAL_SEED_MAX);
        return ERR_LIMIT;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        crm_set_err(err, errlen, "crm: seed %s:%d: %s", path, jerr.line, jerr.text);
        return ERR_PARSE;
    }
    bool empty = false;
    int rc = exec(L, "BEGIN IMMEDIATE;", err, errlen);
    if (rc == 0) /* checked inside the transaction: two first opens seed once */
        rc = book_is_new(L, &empty, err, errlen);
    if (rc == 0 && empty)
        rc = seed_rows(L, root, path, err, errlen);
    if (rc == 0)
        rc = exec(L, "COMMIT;", err, errlen);
    if (rc)
        rollback(L);
    else if (empty)
        log_info("crm", "seeded the local CRM from %s", path);
    json_decref(root);
    return rc;
}

/* ---- schema ------------------------------------------------------------------------------ */

static int schema_version(struct crm_local *L, int *version, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(L,
                  "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY,"
                  " applied_at TEXT NOT NULL);",
                  err, errlen);
    if (rc == 0)
        rc = prepare(L, &st, "SELECT coalesce(max(version), 0) FROM schema_version;", err, errlen);
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *version = sqlite3_column_int(st, 0);
        else
            rc = db_error(L, "read the schema version", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static int migrate_one(struct crm_local *L, int version, char *err, size_t errlen)
{
    char now[32], *record;
    crm_now_iso(now, sizeof now);
    int rc = exec(L, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        return rc;
    int current = 0;
    rc = schema_version(L, &current, err, errlen);
    if (rc == 0 && current < version) { /* another process may have migrated meanwhile */
        rc = exec(L, migrations[version - 1], err, errlen);
        record = xasprintf("INSERT INTO schema_version(version, applied_at) VALUES (%d, '%s');",
                           version, now);
        if (rc == 0)
            rc = exec(L, record, err, errlen);
        free(record);
    }
    if (rc == 0)
        rc = exec(L, "COMMIT;", err, errlen);
    if (rc)
        rollback(L);
    return rc;
}

/* Applies the pending migrations. */
static int migrate(struct crm_local *L, const char *path, char *err, size_t errlen)
{
    int version = 0;
    int rc = schema_version(L, &version, err, errlen);
    if (rc)
        return rc;
    if (version > N_MIGRATIONS) {
        crm_set_err(err, errlen,
                    "crm: %s has schema version %d, newer than this Hard-E knows (%d); "
                    "upgrade Hard-E",
                    path, version, N_MIGRATIONS);
        return ERR_CONFIG;
    }
    for (int v = version + 1; v <= N_MIGRATIONS && rc == 0; v++)
        rc = migrate_one(L, v, err, errlen);
    return rc;
}

/* ---- the handle ---------------------------------------------------------------------------- */

static void local_close(struct crm *crm)
{
    struct crm_local *L = (struct crm_local *)crm;
    sqlite3_close(L->db);
    free(L);
}

static const struct crm_backend local_backend = {
    .name = "local",
    .search = local_search,
    .customer_get = local_customer_get,
    .job_get = local_job_get,
    .client_create = local_client_create,
    .note_add = local_note_add,
    .jobs_list = local_jobs_list,
    .stage_move = local_stage_move,
    .close = local_close,
};

static int configure(struct crm_local *L, char *err, size_t errlen)
{
    sqlite3_busy_timeout(L->db, LOCAL_BUSY_MS);
    /* WAL lets readers (the web server) work while a writer commits; ":memory:" ignores it. */
    sqlite3_exec(L->db, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL);
    int rc = exec(L, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", err, errlen);
    sqlite3_stmt *st = NULL;
    if (rc == 0)
        rc = prepare(L, &st, "PRAGMA foreign_keys;", err, errlen);
    if (rc == 0 && (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)) {
        crm_set_err(err, errlen, "crm: this SQLite library does not enforce foreign keys");
        rc = ERR_CONFIG;
    }
    sqlite3_finalize(st);
    return rc;
}

struct crm *crm_local_open(const char *db_path, const char *seed_path, char *err, size_t errlen)
{
    struct crm_local *L = xcalloc(1, sizeof *L);
    L->base.backend = &local_backend;
    int rc = 0;
    if (sqlite3_open_v2(db_path, &L->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        crm_set_err(err, errlen, "crm: cannot open %s: %s", db_path,
                    L->db ? sqlite3_errmsg(L->db) : "out of memory");
        rc = ERR_IO;
    }
    if (rc == 0)
        rc = configure(L, err, errlen);
    if (rc == 0)
        rc = migrate(L, db_path, err, errlen);
    bool is_new = false;
    if (rc == 0 && seed_path)
        rc = book_is_new(L, &is_new, err, errlen);
    if (rc == 0 && is_new)
        rc = seed(L, seed_path, err, errlen);
    if (rc) {
        local_close(&L->base);
        return NULL;
    }
    return &L->base;
}
