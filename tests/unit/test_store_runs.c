/* Unit tests for store/ workflow runs: create with input and generated ids,
 * dedupe keys (existing run returned, forced takeover), listing by status and
 * workflow, status compare-and-set (claim, heartbeat, wait, finish, cancel,
 * retry), due timers, step records (start, fail, restart, succeed with the
 * run's current step, a recorded step never re-run), corrupt stored JSON,
 * deletion, and argument checks. On an injected clock. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "store/store.h"

#define ALL_LIVE                                                                                   \
    (STORE_RUN_MASK(STORE_RUN_PENDING) | STORE_RUN_MASK(STORE_RUN_RUNNING) |                       \
     STORE_RUN_MASK(STORE_RUN_WAITING))

struct fixture {
    char *dir;
    char *path;
    int64_t now;
    struct store *st;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fixture *)ctx)->now;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    f->dir = xasprintf("%s/harde-runs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->path = xasprintf("%s/harde.sqlite", f->dir);
    f->now = 1700000000000;
    *state = f;
    struct store_options opts = {.now_ms = fake_now, .clock_ctx = f};
    char err[256] = "";
    int rc = store_open(f->path, &opts, &f->st, err, sizeof err);
    if (rc)
        print_error("store_open: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char *p = xasprintf("%s/%s", f->dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Creates a run; returns its id (new). */
static char *new_run(struct fixture *f, const char *workflow, const char *key, int64_t wake)
{
    json_t *input = json_pack("{s:i}", "job", 1042);
    struct store_run_new in = {
        .workflow = workflow, .input = input, .dedupe_key = key, .wake_at_ms = wake};
    struct store_run r;
    bool created = false;
    int rc = store_run_create(f->st, &in, &r, &created);
    if (rc)
        print_error("run_create: %s\n", store_error(f->st));
    assert_int_equal(rc, 0);
    assert_true(created);
    json_decref(input);
    char *id = xstrdup(r.id);
    store_run_free(&r);
    return id;
}

static int move(struct fixture *f, const char *id, unsigned from, enum store_run_status to,
                int64_t wake, const char *error)
{
    struct store_run_transition t = {.from = from, .to = to, .wake_at_ms = wake, .error = error};
    return store_run_transition(f->st, id, &t, NULL);
}

/* ---- create, get, dedupe, list ------------------------------------------------- */

static void create_and_get(void **state)
{
    struct fixture *f = *state;
    json_t *input = json_pack("{s:i,s:s}", "job", 1042, "customer", "Garcia");
    struct store_run_new in = {.workflow = "primer", .input = input};
    struct store_run r;
    bool created = false;
    assert_int_equal(store_run_create(f->st, &in, &r, &created), 0);
    assert_true(created);
    assert_int_equal(strlen(r.id), 16);
    assert_true(store_id_valid(r.id));
    assert_string_equal(r.workflow, "primer");
    assert_null(r.dedupe_key);
    assert_true(json_equal(r.input, input));
    assert_int_equal(r.status, STORE_RUN_PENDING);
    assert_string_equal(r.current_step, "");
    assert_int_equal(r.attempts, 0);
    assert_null(r.last_error);
    assert_int_equal(r.created_ms, f->now);
    assert_int_equal(r.updated_ms, f->now);
    assert_int_equal(r.finished_ms, 0);
    assert_int_equal(r.wake_at_ms, 0);
    assert_int_equal(r.step_count, 0);
    char id[STORE_ID_MAX + 1];
    strcpy(id, r.id);
    store_run_free(&r);
    json_decref(input);

    assert_int_equal(store_run_get(f->st, id, true, &r), 0);
    assert_string_equal(r.id, id);
    assert_int_equal(json_integer_value(json_object_get(r.input, "job")), 1042);
    assert_int_equal(r.step_count, 0);
    store_run_free(&r);

    /* NULL input is {}. */
    in = (struct store_run_new){.workflow = "primer"};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), 0);
    assert_true(json_is_object(r.input) && json_object_size(r.input) == 0);
    store_run_free(&r);

    assert_int_equal(store_run_get(f->st, "nosuchrun", false, &r), ERR_NOT_FOUND);
    assert_non_null(strstr(store_error(f->st), "nosuchrun"));
    assert_null(r.workflow);

    /* Ids are distinct. */
    char *ids[200];
    for (int i = 0; i < 200; i++)
        ids[i] = new_run(f, "bulk", NULL, 0);
    for (int i = 0; i < 200; i++) {
        for (int j = i + 1; j < 200; j++)
            assert_string_not_equal(ids[i], ids[j]);
        free(ids[i]);
    }
}

static void dedupe_keys(void **state)
{
    struct fixture *f = *state;
    char *first = new_run(f, "primer", "primer:job:1042", 0);

    /* The same key again: the existing run, and created says so. */
    json_t *input = json_pack("{s:i}", "job", 9999);
    struct store_run_new in = {
        .workflow = "primer", .input = input, .dedupe_key = "primer:job:1042"};
    struct store_run r;
    bool created = true;
    assert_int_equal(store_run_create(f->st, &in, &r, &created), 0);
    assert_false(created);
    assert_string_equal(r.id, first);
    assert_int_equal(json_integer_value(json_object_get(r.input, "job")), 1042);
    store_run_free(&r);

    struct store_run_list l;
    assert_int_equal(store_run_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 1);
    store_run_list_free(&l);

    /* Forced: a new run takes the key; the first keeps going without one. */
    f->now += 5;
    in.force = true;
    assert_int_equal(store_run_create(f->st, &in, &r, &created), 0);
    assert_true(created);
    assert_string_not_equal(r.id, first);
    assert_string_equal(r.dedupe_key, "primer:job:1042");
    char *second = xstrdup(r.id);
    store_run_free(&r);
    json_decref(input);

    assert_int_equal(store_run_get(f->st, first, false, &r), 0);
    assert_null(r.dedupe_key);
    assert_int_equal(r.status, STORE_RUN_PENDING);
    store_run_free(&r);
    assert_int_equal(store_run_find(f->st, "primer:job:1042", &r), 0);
    assert_string_equal(r.id, second);
    store_run_free(&r);
    assert_int_equal(store_run_find(f->st, "primer:job:7", &r), ERR_NOT_FOUND);

    /* Force with a key nobody holds simply creates. */
    in = (struct store_run_new){.workflow = "primer", .dedupe_key = "primer:job:7", .force = true};
    assert_int_equal(store_run_create(f->st, &in, &r, &created), 0);
    assert_true(created);
    store_run_free(&r);

    /* A finished run still holds its key: one primer per job unless forced. */
    assert_int_equal(move(f, second, 0, STORE_RUN_SUCCEEDED, 0, NULL), 0);
    in = (struct store_run_new){.workflow = "primer", .dedupe_key = "primer:job:1042"};
    assert_int_equal(store_run_create(f->st, &in, &r, &created), 0);
    assert_false(created);
    assert_string_equal(r.id, second);
    assert_int_equal(r.status, STORE_RUN_SUCCEEDED);
    store_run_free(&r);
    free(first);
    free(second);
}

static void list_runs(void **state)
{
    struct fixture *f = *state;
    char *ids[6];
    for (int i = 0; i < 6; i++) {
        f->now += 100;
        ids[i] = new_run(f, i % 2 ? "report" : "primer", NULL, 0);
    }
    assert_int_equal(move(f, ids[1], 0, STORE_RUN_FAILED, 0, "boom"), 0);
    assert_int_equal(move(f, ids[4], 0, STORE_RUN_RUNNING, 0, NULL), 0);
    assert_int_equal(move(f, ids[5], 0, STORE_RUN_FAILED, 0, NULL), 0);

    struct store_run_list l;
    assert_int_equal(store_run_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(l.items[i].id, ids[5 - i]); /* newest first */
        assert_null(l.items[i].input);
    }
    store_run_list_free(&l);

    struct store_run_filter filter = {.status_mask = STORE_RUN_MASK(STORE_RUN_FAILED)};
    assert_int_equal(store_run_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].id, ids[5]);
    assert_string_equal(l.items[1].id, ids[1]);
    assert_string_equal(l.items[1].last_error, "boom");
    store_run_list_free(&l);

    filter.status_mask |= STORE_RUN_MASK(STORE_RUN_RUNNING);
    filter.workflow = "primer";
    assert_int_equal(store_run_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].id, ids[4]);
    store_run_list_free(&l);

    filter = (struct store_run_filter){
        .status_mask = STORE_RUN_MASK(STORE_RUN_PENDING), .limit = 2, .offset = 1};
    assert_int_equal(store_run_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 2); /* pending: 3, 2, 0 → skip 3 */
    assert_string_equal(l.items[0].id, ids[2]);
    assert_string_equal(l.items[1].id, ids[0]);
    store_run_list_free(&l);

    filter = (struct store_run_filter){.status_mask = 1u << 9};
    assert_int_equal(store_run_list(f->st, &filter, &l), ERR_INVALID);
    for (int i = 0; i < 6; i++)
        free(ids[i]);
}

/* ---- status changes and timers ------------------------------------------------- */

static void transitions(void **state)
{
    struct fixture *f = *state;
    char *id = new_run(f, "primer", NULL, 0);
    const unsigned claimable =
        STORE_RUN_MASK(STORE_RUN_PENDING) | STORE_RUN_MASK(STORE_RUN_WAITING);

    /* Claim: pending → running counts an attempt; a second claim conflicts. */
    struct store_run r;
    struct store_run_transition t = {
        .from = claimable, .to = STORE_RUN_RUNNING, .wake_at_ms = f->now + 30000};
    assert_int_equal(store_run_transition(f->st, id, &t, &r), 0);
    assert_int_equal(r.status, STORE_RUN_RUNNING);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.wake_at_ms, f->now + 30000);
    store_run_free(&r);
    assert_int_equal(store_run_transition(f->st, id, &t, &r), ERR_CONFLICT);
    assert_non_null(strstr(store_error(f->st), "running, not pending|waiting"));
    assert_null(r.workflow);

    /* Heartbeat: running → running moves the deadline, no new attempt. */
    f->now += 1000;
    assert_int_equal(
        move(f, id, STORE_RUN_MASK(STORE_RUN_RUNNING), STORE_RUN_RUNNING, f->now + 30000, NULL), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.updated_ms, f->now);
    store_run_free(&r);

    /* Waiting on a durable timer with an error noted; then claimed again. */
    assert_int_equal(move(f, id, 0, STORE_RUN_WAITING, f->now + 900000, "tts: 503"), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.status, STORE_RUN_WAITING);
    assert_int_equal(r.wake_at_ms, f->now + 900000);
    assert_string_equal(r.last_error, "tts: 503");
    assert_int_equal(r.finished_ms, 0);
    store_run_free(&r);
    assert_int_equal(move(f, id, claimable, STORE_RUN_RUNNING, 0, NULL), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.last_error, "tts: 503"); /* NULL kept it */
    store_run_free(&r);

    /* Failing sets finished_ms; retry returns it to pending and clears it. */
    f->now += 10;
    assert_int_equal(move(f, id, 0, STORE_RUN_FAILED, 0, "render: gave up"), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.finished_ms, f->now);
    assert_string_equal(r.last_error, "render: gave up");
    store_run_free(&r);
    assert_int_equal(store_run_cancel(f->st, id), ERR_CONFLICT);
    assert_int_equal(store_run_retry(f->st, id), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.status, STORE_RUN_PENDING);
    assert_int_equal(r.finished_ms, 0);
    assert_int_equal(r.wake_at_ms, 0);
    store_run_free(&r);
    assert_int_equal(store_run_retry(f->st, id), ERR_CONFLICT);

    /* "" clears the error; cancel from a live status; cancelled is final. */
    assert_int_equal(move(f, id, 0, STORE_RUN_WAITING, f->now + 5, ""), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_null(r.last_error);
    store_run_free(&r);
    assert_int_equal(store_run_cancel(f->st, id), 0);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_int_equal(r.status, STORE_RUN_CANCELLED);
    assert_int_equal(r.wake_at_ms, 0);
    assert_int_equal(r.finished_ms, f->now);
    store_run_free(&r);
    assert_int_equal(store_run_cancel(f->st, id), ERR_CONFLICT);
    assert_int_equal(store_run_retry(f->st, id), ERR_CONFLICT);
    assert_int_equal(move(f, id, ALL_LIVE, STORE_RUN_RUNNING, 0, NULL), ERR_CONFLICT);

    assert_int_equal(store_run_cancel(f->st, "nosuchrun"), ERR_NOT_FOUND);
    assert_int_equal(move(f, id, 0, (enum store_run_status)42, 0, NULL), ERR_INVALID);
    assert_int_equal(move(f, id, 0, STORE_RUN_WAITING, -1, NULL), ERR_INVALID);
    assert_int_equal(move(f, "bad id!", 0, STORE_RUN_WAITING, 0, NULL), ERR_INVALID);
    free(id);
}

static void due_runs(void **state)
{
    struct fixture *f = *state;
    int64_t t = f->now;
    char *now_pending = new_run(f, "w", NULL, 0);
    char *later_pending = new_run(f, "w", NULL, t + 1000);
    char *waiting = new_run(f, "w", NULL, 0);
    char *stalled = new_run(f, "w", NULL, 0);
    char *busy = new_run(f, "w", NULL, 0);
    char *done = new_run(f, "w", NULL, 0);
    assert_int_equal(move(f, waiting, 0, STORE_RUN_WAITING, t + 500, NULL), 0);
    assert_int_equal(move(f, stalled, 0, STORE_RUN_RUNNING, t + 700, NULL), 0);
    assert_int_equal(move(f, busy, 0, STORE_RUN_RUNNING, 0, NULL), 0);
    assert_int_equal(move(f, done, 0, STORE_RUN_SUCCEEDED, 0, NULL), 0);

    struct store_run_list l;
    assert_int_equal(store_run_due(f->st, 0, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].id, now_pending);
    store_run_list_free(&l);

    f->now = t + 800;
    assert_int_equal(store_run_due(f->st, 0, &l), 0);
    assert_int_equal(l.count, 3); /* soonest timer first */
    assert_string_equal(l.items[0].id, now_pending);
    assert_string_equal(l.items[1].id, waiting);
    assert_string_equal(l.items[2].id, stalled);
    store_run_list_free(&l);

    f->now = t + 1000;
    assert_int_equal(store_run_due(f->st, 2, &l), 0);
    assert_int_equal(l.count, 2);
    store_run_list_free(&l);
    assert_int_equal(store_run_due(f->st, 0, &l), 0);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.items[3].id, later_pending);
    store_run_list_free(&l);

    /* Survives a re-open: the timer is data, not a sleep. */
    store_close(f->st);
    struct store_options opts = {.now_ms = fake_now, .clock_ctx = f};
    char err[256];
    assert_int_equal(store_open(f->path, &opts, &f->st, err, sizeof err), 0);
    assert_int_equal(store_run_due(f->st, 0, &l), 0);
    assert_int_equal(l.count, 4);
    store_run_list_free(&l);

    free(now_pending);
    free(later_pending);
    free(waiting);
    free(stalled);
    free(busy);
    free(done);
}

/* ---- steps ---------------------------------------------------------------------- */

static void step_records(void **state)
{
    struct fixture *f = *state;
    char *id = new_run(f, "primer", NULL, 0);

    struct store_step step;
    assert_int_equal(store_step_start(f->st, id, "context", &step), 0);
    assert_string_equal(step.name, "context");
    assert_int_equal(step.status, STORE_STEP_RUNNING);
    assert_int_equal(step.attempts, 1);
    assert_int_equal(step.started_ms, f->now);
    assert_int_equal(step.finished_ms, 0);
    assert_null(step.output);
    store_step_free(&step);

    json_t *ctx = json_pack("{s:s,s:s}", "customer", "Garcia", "city", "Austin");
    f->now += 20;
    assert_int_equal(store_step_succeed(f->st, id, "context", ctx, "script"), 0);
    struct store_run r;
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_string_equal(r.current_step, "script");
    assert_int_equal(r.updated_ms, f->now);
    store_run_free(&r);

    /* A recorded step is never started or recorded again. */
    assert_int_equal(store_step_start(f->st, id, "context", NULL), ERR_EXISTS);
    assert_non_null(strstr(store_error(f->st), "already succeeded"));
    assert_int_equal(store_step_succeed(f->st, id, "context", NULL, "audio"), ERR_EXISTS);
    assert_int_equal(store_step_fail(f->st, id, "context", "late"), ERR_EXISTS);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_string_equal(r.current_step, "script"); /* unchanged by the refused calls */
    store_run_free(&r);

    /* A step that fails, then is retried and succeeds. */
    assert_int_equal(store_step_start(f->st, id, "script", NULL), 0);
    f->now += 5;
    assert_int_equal(store_step_fail(f->st, id, "script", "model timed out"), 0);
    assert_int_equal(store_step_get(f->st, id, "script", &step), 0);
    assert_int_equal(step.status, STORE_STEP_FAILED);
    assert_string_equal(step.error, "model timed out");
    assert_int_equal(step.finished_ms, f->now);
    store_step_free(&step);
    assert_int_equal(store_run_get(f->st, id, false, &r), 0);
    assert_string_equal(r.last_error, "model timed out");
    assert_string_equal(r.current_step, "script");
    store_run_free(&r);
    f->now += 5;
    assert_int_equal(store_step_start(f->st, id, "script", &step), 0);
    assert_int_equal(step.attempts, 2);
    assert_int_equal(step.status, STORE_STEP_RUNNING);
    assert_string_equal(step.error, "model timed out"); /* why it is being retried */
    store_step_free(&step);
    assert_int_equal(store_step_succeed(f->st, id, "script", NULL, NULL), 0);
    assert_int_equal(store_step_get(f->st, id, "script", &step), 0);
    assert_true(json_is_null(step.output));
    assert_null(step.error);
    assert_int_equal(step.attempts, 2);
    store_step_free(&step);

    /* Recording a step never started counts one attempt; fail without start too. */
    assert_int_equal(store_step_succeed(f->st, id, "audio", ctx, "render"), 0);
    assert_int_equal(store_step_fail(f->st, id, "render", NULL), 0);

    /* The whole run with its steps, in the order first started. */
    assert_int_equal(store_run_get(f->st, id, true, &r), 0);
    assert_string_equal(r.current_step, "render");
    assert_string_equal(r.last_error, "failed");
    assert_int_equal(r.step_count, 4);
    const char *names[] = {"context", "script", "audio", "render"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(r.steps[i].name, names[i]);
    assert_true(json_equal(r.steps[0].output, ctx));
    assert_int_equal(r.steps[2].attempts, 1);
    assert_int_equal(r.steps[3].status, STORE_STEP_FAILED);
    assert_null(r.steps[3].output);
    store_run_free(&r);
    json_decref(ctx);

    assert_int_equal(store_step_get(f->st, id, "deliver", &step), ERR_NOT_FOUND);
    assert_int_equal(store_step_start(f->st, "nosuchrun", "x", NULL), ERR_NOT_FOUND);
    assert_int_equal(store_step_succeed(f->st, "nosuchrun", "x", NULL, NULL), ERR_NOT_FOUND);
    assert_int_equal(store_step_fail(f->st, "nosuchrun", "x", "e"), ERR_NOT_FOUND);
    assert_int_equal(store_step_start(f->st, id, "has space", NULL), ERR_INVALID);
    assert_int_equal(store_step_succeed(f->st, id, "ok", NULL, "bad next"), ERR_INVALID);

    /* Deleting the run deletes its steps. */
    assert_int_equal(store_run_delete(f->st, id), 0);
    assert_int_equal(store_run_delete(f->st, id), ERR_NOT_FOUND);
    assert_int_equal(store_step_get(f->st, id, "context", &step), ERR_NOT_FOUND);
    free(id);
}

static void corrupt_run_json_reported(void **state)
{
    struct fixture *f = *state;
    char *id = new_run(f, "primer", "primer:job:1", 0);
    json_t *out = json_pack("{s:s}", "url", "file:///x.mp4");
    assert_int_equal(store_step_succeed(f->st, id, "upload", out, "note"), 0);
    json_decref(out);

    char *sql = xasprintf("UPDATE run_step SET output = '{\"url\":' WHERE run_id = '%s'", id);
    raw_exec(f->path, sql);
    free(sql);
    struct store_run r;
    assert_int_equal(store_run_get(f->st, id, false, &r), 0); /* the run itself is fine */
    store_run_free(&r);
    assert_int_equal(store_run_get(f->st, id, true, &r), ERR_PARSE);
    assert_non_null(strstr(store_error(f->st), "step upload"));
    assert_null(r.steps);
    struct store_step step;
    assert_int_equal(store_step_get(f->st, id, "upload", &step), ERR_PARSE);

    sql = xasprintf("UPDATE run SET input = 'nope' WHERE id = '%s'", id);
    raw_exec(f->path, sql);
    free(sql);
    assert_int_equal(store_run_get(f->st, id, false, &r), ERR_PARSE);
    assert_non_null(strstr(store_error(f->st), id));
    assert_int_equal(store_run_find(f->st, "primer:job:1", &r), ERR_PARSE);
    /* A dedupe hit on a corrupt run is reported, not papered over. */
    struct store_run_new in = {.workflow = "primer", .dedupe_key = "primer:job:1"};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_PARSE);

    /* Lists do not read the input, so one bad run does not hide the others. */
    struct store_run_list l;
    assert_int_equal(store_run_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 1);
    store_run_list_free(&l);

    sql = xasprintf("PRAGMA ignore_check_constraints=ON; "
                    "UPDATE run SET status = 'sleeping' WHERE id = '%s'",
                    id);
    raw_exec(f->path, sql);
    free(sql);
    assert_int_equal(store_run_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 0); /* an unknown status matches no filter */
    store_run_list_free(&l);
    assert_int_equal(store_run_cancel(f->st, id), ERR_PARSE);
    assert_non_null(strstr(store_error(f->st), "sleeping"));
    free(id);
}

static void names_and_arguments(void **state)
{
    struct fixture *f = *state;
    enum store_run_status s;
    for (int i = 0; i < STORE_RUN_STATUS_COUNT; i++) {
        assert_int_equal(store_run_status_parse(store_run_status_name(i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(store_run_status_parse("done", &s), ERR_INVALID);
    assert_int_equal(store_run_status_parse(NULL, &s), ERR_INVALID);
    assert_string_equal(store_run_status_name(STORE_RUN_CANCELLED), "cancelled");
    assert_string_equal(store_step_status_name(STORE_STEP_SUCCEEDED), "succeeded");
    assert_string_equal(store_run_status_name((enum store_run_status)77), "unknown");
    assert_true(store_run_status_final(STORE_RUN_FAILED));
    assert_false(store_run_status_final(STORE_RUN_WAITING));

    struct store_run r;
    struct store_run_new in = {.workflow = "has space"};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_INVALID);
    in = (struct store_run_new){.workflow = NULL};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_INVALID);
    in = (struct store_run_new){.workflow = "w", .dedupe_key = ""};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_INVALID);
    in = (struct store_run_new){.workflow = "w", .wake_at_ms = -1};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_INVALID);
    assert_int_equal(store_run_get(f->st, "", false, &r), ERR_INVALID);
    assert_int_equal(store_run_find(f->st, NULL, &r), ERR_INVALID);
    char long_name[STORE_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    in = (struct store_run_new){.workflow = long_name};
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), ERR_INVALID);
    long_name[STORE_NAME_MAX] = '\0';
    assert_int_equal(store_run_create(f->st, &in, &r, NULL), 0);
    store_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(dedupe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(list_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(due_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(step_records, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_run_json_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(names_and_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
