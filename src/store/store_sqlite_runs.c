/* store_sqlite_runs — workflow runs, their steps and durable timers in SQLite.
 *
 * Owns the run and run_step tables' operations. Every change that touches
 * more than one row — a create that finds or takes over a dedupe key, a
 * status compare-and-set, a step start or finish together with the run's
 * current step or last error — runs inside one BEGIN IMMEDIATE transaction,
 * so a process killed at any instant leaves each run either before or after
 * the change, and two workers can never both win a compare-and-set. Reads of
 * a run with its steps share one read transaction, so they see one snapshot.
 * Run ids come from store_new_run_id; an id collision (one in 36^16) is
 * retried with a fresh id. */
#include "store/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define RUN_ID_TRIES 4 /* fresh ids tried before giving up on a collision */

static int parse_run_status(struct store_sqlite *s, sqlite3_stmt *q, int col, const char *id,
                            enum store_run_status *out)
{
    const char *text = (const char *)sqlite3_column_text(q, col);
    if (store_run_status_parse(text, out) == 0)
        return 0;
    return store_fail(&s->base, ERR_PARSE, "%s: run %s has an unknown status \"%s\"", s->path, id,
                      text ? text : "(null)");
}

/* Reads the RUN_COLS of a row; the input too when with_input. */
static int read_run_row(struct store_sqlite *s, sqlite3_stmt *q, bool with_input,
                        struct store_run *out)
{
    store_sq_copy(q, 0, out->id, sizeof out->id);
    out->workflow = store_sq_text(q, 1);
    out->dedupe_key = store_sq_text_or_null(q, 2);
    out->current_step = store_sq_text(q, 5);
    out->attempts = sqlite3_column_int(q, 6);
    out->last_error = store_sq_text_or_null(q, 7);
    out->created_ms = sqlite3_column_int64(q, 8);
    out->updated_ms = sqlite3_column_int64(q, 9);
    out->finished_ms = sqlite3_column_int64(q, 10);
    out->wake_at_ms = sqlite3_column_int64(q, 11);
    int rc = parse_run_status(s, q, 4, out->id, &out->status);
    if (rc == 0 && with_input) {
        char what[STORE_ID_MAX + 32];
        snprintf(what, sizeof what, "run %s: the input", out->id);
        rc = store_sq_json_load(s, q, 3, what, &out->input);
    }
    return rc;
}

/* Reads the STEP_COLS of a row. */
static int read_step_row(struct store_sqlite *s, sqlite3_stmt *q, const char *run_id,
                         struct store_step *out)
{
    out->name = store_sq_text(q, 0);
    const char *status = (const char *)sqlite3_column_text(q, 1);
    int i = 0;
    while (i < STORE_STEP_STATUS_COUNT &&
           !(status && strcmp(status, store_step_status_name((enum store_step_status)i)) == 0))
        i++;
    if (i == STORE_STEP_STATUS_COUNT)
        return store_fail(&s->base, ERR_PARSE, "%s: step %s of run %s has an unknown status",
                          s->path, out->name, run_id);
    out->status = (enum store_step_status)i;
    out->attempts = sqlite3_column_int(q, 3);
    out->error = store_sq_text_or_null(q, 4);
    out->started_ms = sqlite3_column_int64(q, 5);
    out->finished_ms = sqlite3_column_int64(q, 6);
    if (sqlite3_column_type(q, 2) == SQLITE_NULL)
        return 0;
    char what[STORE_ID_MAX + STORE_NAME_MAX + 48];
    snprintf(what, sizeof what, "run %s: the output of step %s", run_id, out->name);
    return store_sq_json_load(s, q, 2, what, &out->output);
}

/* One run by id or by dedupe key (stmt SQ_RUN_GET or SQ_RUN_BY_KEY). */
static int load_run(struct store_sqlite *s, enum store_sq_stmt stmt, const char *key,
                    struct store_run *out)
{
    sqlite3_stmt *q = store_sq_stmt(s, stmt);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, key);
    int rc = sqlite3_step(q);
    int code;
    if (rc == SQLITE_ROW)
        code = read_run_row(s, q, true, out);
    else if (rc == SQLITE_DONE)
        code = store_fail(&s->base, ERR_NOT_FOUND,
                          stmt == SQ_RUN_GET ? "no run %s" : "no run with dedupe key %s", key);
    else
        code = store_sq_fail(s, rc, "reading a run");
    store_sq_reset(q);
    return code;
}

static int load_steps(struct store_sqlite *s, struct store_run *run)
{
    sqlite3_stmt *q = store_sq_stmt(s, SQ_STEP_LIST);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run->id);
    size_t cap = 0;
    int rc = SQLITE_DONE, code = 0;
    while (code == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (run->step_count == cap) {
            cap = cap ? cap * 2 : 8;
            run->steps = xrealloc(run->steps, cap * sizeof *run->steps);
        }
        struct store_step *step = &run->steps[run->step_count++];
        memset(step, 0, sizeof *step);
        code = read_step_row(s, q, run->id, step);
    }
    if (code == 0 && rc != SQLITE_DONE)
        code = store_sq_fail(s, rc, "reading a run's steps");
    store_sq_reset(q);
    return code;
}

/* Reads a run's status into *status: 0, ERR_NOT_FOUND or an error. */
static int run_status(struct store_sqlite *s, const char *id, enum store_run_status *status)
{
    sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_STATUS);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    int rc = sqlite3_step(q);
    int code;
    if (rc == SQLITE_ROW)
        code = parse_run_status(s, q, 0, id, status);
    else if (rc == SQLITE_DONE)
        code = store_fail(&s->base, ERR_NOT_FOUND, "no run %s", id);
    else
        code = store_sq_fail(s, rc, "reading a run's status");
    store_sq_reset(q);
    return code;
}

/* ---- creating and reading runs ---------------------------------------------------- */

static int insert_run(struct store_sqlite *s, const struct store_run_new *in, const char *input,
                      char id[STORE_RUN_ID_LEN + 1])
{
    for (int i = 0; i < RUN_ID_TRIES; i++) {
        store_new_run_id(id);
        sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_INSERT);
        if (!q)
            return ERR_IO;
        store_sq_bind_text(q, 1, id);
        store_sq_bind_text(q, 2, in->workflow);
        store_sq_bind_text(q, 3, in->dedupe_key);
        store_sq_bind_text(q, 4, input);
        store_sq_bind_int(q, 5, store_sq_now(s));
        store_sq_bind_int(q, 6, in->wake_at_ms);
        int changes = 0;
        int rc = store_sq_exec(s, q, "creating a run", &changes);
        if (rc || changes)
            return rc;
    }
    return store_fail(&s->base, ERR_IO, "%s: no free run id after %d tries", s->path, RUN_ID_TRIES);
}

static int create_locked(struct store_sqlite *s, const struct store_run_new *in, const char *input,
                         struct store_run *out, bool *created)
{
    if (in->dedupe_key) {
        int rc = load_run(s, SQ_RUN_BY_KEY, in->dedupe_key, out);
        if (rc == 0 && !in->force)
            return 0; /* the existing run, *created stays false */
        if (rc && rc != ERR_NOT_FOUND)
            return rc;
        if (rc == 0) {
            sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_DROP_KEY);
            if (!q)
                return ERR_IO;
            store_sq_bind_text(q, 1, out->id);
            store_sq_bind_int(q, 2, store_sq_now(s));
            if ((rc = store_sq_exec(s, q, "taking over a dedupe key", NULL)) != 0)
                return rc;
        }
        store_run_free(out);
        s->base.error[0] = '\0';
    }
    char id[STORE_RUN_ID_LEN + 1];
    int rc = insert_run(s, in, input, id);
    if (rc == 0)
        rc = load_run(s, SQ_RUN_GET, id, out);
    if (rc == 0)
        *created = true;
    return rc;
}

int store_sq_run_create(struct store *st, const struct store_run_new *in, struct store_run *out,
                        bool *created)
{
    struct store_sqlite *s = store_sq(st);
    char *input = NULL;
    int rc = store_sq_json_dump(s, in->input, "{}", "the run's input", &input);
    if (rc)
        return rc;
    rc = store_sq_begin(s, true);
    if (rc == 0)
        rc = store_sq_end(s, create_locked(s, in, input, out, created));
    free(input);
    return rc;
}

int store_sq_run_get(struct store *st, const char *id, bool with_steps, struct store_run *out)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, false);
    if (rc)
        return rc;
    rc = load_run(s, SQ_RUN_GET, id, out);
    if (rc == 0 && with_steps)
        rc = load_steps(s, out);
    return store_sq_end(s, rc);
}

int store_sq_run_find(struct store *st, const char *dedupe_key, struct store_run *out)
{
    return load_run(store_sq(st), SQ_RUN_BY_KEY, dedupe_key, out);
}

/* Fills out from a prepared, bound list query; at most limit rows. */
static int read_run_list(struct store_sqlite *s, sqlite3_stmt *q, size_t limit,
                         struct store_run_list *out)
{
    out->items = xcalloc(limit, sizeof *out->items);
    int rc = SQLITE_DONE, code = 0;
    while (code == 0 && out->count < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
        code = read_run_row(s, q, false, &out->items[out->count++]);
    if (code == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        code = store_sq_fail(s, rc, "listing runs");
    store_sq_reset(q);
    return code;
}

int store_sq_run_list(struct store *st, const struct store_run_filter *f,
                      struct store_run_list *out)
{
    struct store_sqlite *s = store_sq(st);
    /* The statuses as a JSON array for json_each: ["pending","failed"]. */
    char statuses[128] = "[";
    for (int i = 0; i < STORE_RUN_STATUS_COUNT; i++)
        if (f->status_mask & STORE_RUN_MASK(i))
            snprintf(statuses + strlen(statuses), sizeof statuses - strlen(statuses), "%s\"%s\"",
                     statuses[1] ? "," : "", store_run_status_name((enum store_run_status)i));
    strcat(statuses, "]");
    sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_LIST);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, statuses);
    store_sq_bind_text(q, 2, f->workflow);
    store_sq_bind_int(q, 3, (int64_t)f->limit);
    store_sq_bind_int(q, 4, (int64_t)f->offset);
    return read_run_list(s, q, f->limit, out);
}

int store_sq_run_due(struct store *st, size_t limit, struct store_run_list *out)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_DUE);
    if (!q)
        return ERR_IO;
    store_sq_bind_int(q, 1, store_sq_now(s));
    store_sq_bind_int(q, 2, (int64_t)limit);
    return read_run_list(s, q, limit, out);
}

/* ---- changing runs --------------------------------------------------------------- */

static void mask_names(unsigned mask, char *dst, size_t cap)
{
    dst[0] = '\0';
    for (int i = 0; i < STORE_RUN_STATUS_COUNT; i++)
        if (mask & STORE_RUN_MASK(i))
            snprintf(dst + strlen(dst), cap - strlen(dst), "%s%s", dst[0] ? "|" : "",
                     store_run_status_name((enum store_run_status)i));
}

static int transition_locked(struct store_sqlite *s, const char *id,
                             const struct store_run_transition *t, struct store_run *out)
{
    enum store_run_status now_status;
    int rc = run_status(s, id, &now_status);
    if (rc)
        return rc;
    if (t->from && !(t->from & STORE_RUN_MASK(now_status))) {
        char expected[96];
        mask_names(t->from, expected, sizeof expected);
        return store_fail(&s->base, ERR_CONFLICT, "run %s is %s, not %s", id,
                          store_run_status_name(now_status), expected);
    }
    int64_t now = store_sq_now(s);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_SET_STATUS);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    store_sq_bind_text(q, 2, store_run_status_name(t->to));
    store_sq_bind_int(q, 3, t->to == STORE_RUN_RUNNING && now_status != STORE_RUN_RUNNING);
    store_sq_bind_text(q, 4, t->error);
    store_sq_bind_int(q, 5, store_run_status_final(t->to) ? now : 0);
    store_sq_bind_int(q, 6, t->wake_at_ms);
    store_sq_bind_int(q, 7, now);
    rc = store_sq_exec(s, q, "changing a run's status", NULL);
    if (rc == 0 && out)
        rc = load_run(s, SQ_RUN_GET, id, out);
    return rc;
}

int store_sq_run_transition(struct store *st, const char *id, const struct store_run_transition *t,
                            struct store_run *out)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, true);
    return rc ? rc : store_sq_end(s, transition_locked(s, id, t, out));
}

int store_sq_run_delete(struct store *st, const char *id)
{
    struct store_sqlite *s = store_sq(st);
    sqlite3_stmt *q = store_sq_stmt(s, SQ_RUN_DELETE);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, id);
    int changes = 0;
    int rc = store_sq_exec(s, q, "deleting a run", &changes);
    if (rc == 0 && changes == 0)
        rc = store_fail(st, ERR_NOT_FOUND, "no run %s", id);
    return rc;
}

/* ---- steps ---------------------------------------------------------------------- */

/* Inside a write transaction: the run must exist and the step must not have
 * succeeded already. */
static int check_step_open(struct store_sqlite *s, const char *run_id, const char *step)
{
    enum store_run_status status;
    int rc = run_status(s, run_id, &status);
    if (rc)
        return rc;
    sqlite3_stmt *q = store_sq_stmt(s, SQ_STEP_STATUS);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run_id);
    store_sq_bind_text(q, 2, step);
    int step_rc = sqlite3_step(q);
    if (step_rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(q, 0);
        if (text && strcmp(text, "succeeded") == 0)
            rc = store_fail(&s->base, ERR_EXISTS,
                            "step %s of run %s already succeeded: its output is recorded", step,
                            run_id);
    } else if (step_rc != SQLITE_DONE) {
        rc = store_sq_fail(s, step_rc, "reading a step");
    }
    store_sq_reset(q);
    return rc;
}

/* UPDATE run SET current_step or last_error (stmt), and updated_ms. */
static int touch_run(struct store_sqlite *s, enum store_sq_stmt stmt, const char *run_id,
                     const char *value)
{
    sqlite3_stmt *q = store_sq_stmt(s, stmt);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run_id);
    store_sq_bind_text(q, 2, value);
    store_sq_bind_int(q, 3, store_sq_now(s));
    return store_sq_exec(s, q, "updating a run", NULL);
}

static int load_step(struct store_sqlite *s, const char *run_id, const char *step,
                     struct store_step *out)
{
    sqlite3_stmt *q = store_sq_stmt(s, SQ_STEP_GET);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run_id);
    store_sq_bind_text(q, 2, step);
    int rc = sqlite3_step(q);
    int code;
    if (rc == SQLITE_ROW)
        code = read_step_row(s, q, run_id, out);
    else if (rc == SQLITE_DONE)
        code = store_fail(&s->base, ERR_NOT_FOUND, "run %s has no step %s", run_id, step);
    else
        code = store_sq_fail(s, rc, "reading a step");
    store_sq_reset(q);
    return code;
}

static int start_locked(struct store_sqlite *s, const char *run_id, const char *step,
                        struct store_step *out)
{
    int rc = check_step_open(s, run_id, step);
    if (rc)
        return rc;
    sqlite3_stmt *q = store_sq_stmt(s, SQ_STEP_START);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run_id);
    store_sq_bind_text(q, 2, step);
    store_sq_bind_int(q, 3, store_sq_now(s));
    rc = store_sq_exec(s, q, "starting a step", NULL);
    if (rc == 0)
        rc = touch_run(s, SQ_RUN_SET_STEP, run_id, step);
    if (rc == 0 && out)
        rc = load_step(s, run_id, step, out);
    return rc;
}

int store_sq_step_start(struct store *st, const char *run_id, const char *step,
                        struct store_step *out)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, true);
    return rc ? rc : store_sq_end(s, start_locked(s, run_id, step, out));
}

/* Records a step's end (status succeeded with output, or failed with error)
 * and then sets the run's current step (SQ_RUN_SET_STEP) or last error
 * (SQ_RUN_SET_ERROR) to run_value. */
static int finish_locked(struct store_sqlite *s, const char *run_id, const char *step,
                         enum store_step_status status, const char *output, const char *error,
                         enum store_sq_stmt run_stmt, const char *run_value)
{
    int rc = check_step_open(s, run_id, step);
    if (rc)
        return rc;
    sqlite3_stmt *q = store_sq_stmt(s, SQ_STEP_FINISH);
    if (!q)
        return ERR_IO;
    store_sq_bind_text(q, 1, run_id);
    store_sq_bind_text(q, 2, step);
    store_sq_bind_text(q, 3, store_step_status_name(status));
    store_sq_bind_text(q, 4, output);
    store_sq_bind_text(q, 5, error);
    store_sq_bind_int(q, 6, store_sq_now(s));
    rc = store_sq_exec(s, q, "recording a step", NULL);
    if (rc == 0)
        rc = touch_run(s, run_stmt, run_id, run_value);
    return rc;
}

int store_sq_step_succeed(struct store *st, const char *run_id, const char *step,
                          const json_t *output, const char *next_step)
{
    struct store_sqlite *s = store_sq(st);
    char what[STORE_NAME_MAX + 32];
    snprintf(what, sizeof what, "the output of step %s", step);
    char *text = NULL;
    int rc = store_sq_json_dump(s, output, "null", what, &text);
    if (rc == 0)
        rc = store_sq_begin(s, true);
    if (rc == 0)
        rc = store_sq_end(s, finish_locked(s, run_id, step, STORE_STEP_SUCCEEDED, text, NULL,
                                           SQ_RUN_SET_STEP, next_step));
    free(text);
    return rc;
}

int store_sq_step_fail(struct store *st, const char *run_id, const char *step, const char *error)
{
    struct store_sqlite *s = store_sq(st);
    int rc = store_sq_begin(s, true);
    return rc ? rc
              : store_sq_end(s, finish_locked(s, run_id, step, STORE_STEP_FAILED, NULL, error,
                                              SQ_RUN_SET_ERROR, error));
}

int store_sq_step_get(struct store *st, const char *run_id, const char *step,
                      struct store_step *out)
{
    return load_step(store_sq(st), run_id, step, out);
}
