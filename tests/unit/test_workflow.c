/* Unit tests for workflow/, the durable workflow engine, on an injected clock
 * (a 15-minute wait passes instantly) and a real SQLite store in a temporary
 * directory: steps run in order and their outputs flow; idempotency keys;
 * retries with backoff stored as the run's timer, then success; exhausted
 * retries and non-retryable failures fail the run with the reason and the
 * cleanup runs; a WAIT step survives a restart (a new store handle and
 * engine) and resumes exactly on time; two workers contend for a run (only
 * the lease holder executes, an expired lease is taken over and the loser
 * records nothing); a heartbeat keeps a long step's lease; cancellation of a
 * waiting, a pending, a running and a backing-off run runs the cleanup;
 * workflow_retry resumes from the failed step with fresh attempts and a
 * second cleanup; a failed cleanup fails the run and is resumed by a retry;
 * a worker lost on the last attempt fails the step; the stop flag abandons
 * without counting a failure; dedupe keys; run_to_end's timeout and cancel;
 * table checks; the retry policy's pure helpers. The crash test with real
 * processes is test_workflow_crash.c. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define T0       INT64_C(1700000000000)
#define MINUTE   INT64_C(60000)
#define WAIT_MS  (15 * MINUTE)
#define SLOW_TTL (INT64_C(60000) + INT64_C(30000)) /* slow's timeout + the default grace */

enum { S_FETCH, S_COMPOSE, S_FLAKY, S_PAUSE, S_SLOW, S_DELIVER, S_TIDY, S_COUNT };

struct world {
    int64_t now;
    int64_t slept;
    int calls[S_COUNT];
    int last_attempt[S_COUNT];
    char keys[S_COUNT][WORKFLOW_IDEMPOTENCY_KEY_MAX + 1];
    char names[S_COUNT][STORE_NAME_MAX + 1];
    /* flaky fails its first flaky_failures calls */
    int flaky_failures;
    int flaky_code;
    int flaky_http;
    int64_t flaky_retry_after;
    int flaky_verdict; /* -1: leave it to the policy */
    /* tidy fails its first tidy_failures calls */
    int tidy_failures;
    int tidy_code;
    enum workflow_outcome tidy_outcome;
    char tidy_reason[512];
    json_t *tidy_saw;
    char compose_saw[64];
    json_int_t compose_job;
    /* called inside slow and flaky (with the step's index) */
    void (*during)(struct world *w, struct workflow_ctx *ctx, int step);
    struct fixture *f;
    int depth;
    struct buf events;
};

struct fixture {
    char *dir;
    char *path;
    struct world w;
    struct store *st;
    struct workflow_engine *e;
    /* a second worker, for contention */
    struct store *st2;
    struct workflow_engine *e2;
    volatile sig_atomic_t stop;
};

/* ---- the steps ------------------------------------------------------------------- */

static struct world *enter(struct workflow_ctx *ctx, int step)
{
    struct world *w = workflow_ctx_arg(ctx);
    w->calls[step]++;
    w->last_attempt[step] = workflow_ctx_attempt(ctx);
    const char *key = workflow_ctx_idempotency_key(ctx);
    snprintf(w->keys[step], sizeof w->keys[step], "%s", key ? key : "(none)");
    snprintf(w->names[step], sizeof w->names[step], "%s", workflow_ctx_step(ctx));
    return w;
}

static int fetch(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                 char *err, size_t errlen)
{
    enter(ctx, S_FETCH);
    *output = json_pack("{s:s, s:s}", "customer", "Garcia", "temp", "/tmp/fetch.json");
    return 0;
}

static int compose(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                   char *err, size_t errlen)
{
    struct world *w = enter(ctx, S_COMPOSE);
    const char *customer =
        json_string_value(json_object_get(json_object_get(outputs, "fetch"), "customer"));
    snprintf(w->compose_saw, sizeof w->compose_saw, "%s", customer ? customer : "(none)");
    w->compose_job = json_integer_value(json_object_get(input, "job"));
    *output = json_pack("{s:s}", "text", "Hi Garcia");
    return 0;
}

static int flaky(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                 char *err, size_t errlen)
{
    struct world *w = enter(ctx, S_FLAKY);
    if (w->during)
        w->during(w, ctx, S_FLAKY);
    if (w->calls[S_FLAKY] > w->flaky_failures) {
        *output = json_pack("{s:i}", "attempt", workflow_ctx_attempt(ctx));
        return 0;
    }
    if (w->flaky_http)
        workflow_ctx_set_http_status(ctx, w->flaky_http);
    if (w->flaky_retry_after)
        workflow_ctx_retry_after(ctx, w->flaky_retry_after);
    if (w->flaky_verdict >= 0)
        workflow_ctx_set_retryable(ctx, w->flaky_verdict == 1);
    snprintf(err, errlen, "the service said no (call %d)", w->calls[S_FLAKY]);
    return w->flaky_code;
}

static int pause_step(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                      json_t **output, char *err, size_t errlen)
{
    enter(ctx, S_PAUSE);
    workflow_ctx_wait_for(ctx, WAIT_MS);
    *output = json_pack("{s:s}", "why", "let the note land first");
    return 0;
}

static int slow(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                char *err, size_t errlen)
{
    struct world *w = enter(ctx, S_SLOW);
    const char *by = w->depth ? "second" : "first";
    if (w->during && w->depth == 0) {
        w->depth++;
        w->during(w, ctx, S_SLOW);
        w->depth--;
    }
    *output = json_pack("{s:s}", "by", by);
    return 0;
}

static int deliver(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                   char *err, size_t errlen)
{
    enter(ctx, S_DELIVER);
    *output = json_pack("{s:b}", "sent", 1);
    return 0;
}

static int tidy(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                char *err, size_t errlen)
{
    struct world *w = enter(ctx, S_TIDY);
    w->tidy_outcome = workflow_ctx_outcome(ctx);
    const char *reason = workflow_ctx_reason(ctx);
    snprintf(w->tidy_reason, sizeof w->tidy_reason, "%s", reason ? reason : "(none)");
    json_decref(w->tidy_saw);
    w->tidy_saw = json_deep_copy(outputs);
    if (w->calls[S_TIDY] <= w->tidy_failures) {
        snprintf(err, errlen, "the bucket is locked");
        return w->tidy_code;
    }
    return 0;
}

#define FAST_RETRY                                                                                 \
    {                                                                                              \
        .max_attempts = 3, .base_backoff_ms = 1000, .max_backoff_ms = 8000                         \
    }

static const struct workflow_step basic_steps[] = {
    {.name = "fetch", .fn = fetch},
    {.name = "compose", .fn = compose, .effects = true},
    {.name = "deliver", .fn = deliver, .effects = true},
    {.name = "tidy",
     .fn = tidy,
     .kind = WORKFLOW_STEP_CLEANUP,
     .effects = true,
     .retry = FAST_RETRY},
};
static const struct workflow wf_basic = {"basic", basic_steps, 4};

static const struct workflow_step flaky_steps[] = {
    {.name = "fetch", .fn = fetch},
    {.name = "flaky", .fn = flaky, .effects = true, .retry = FAST_RETRY},
    {.name = "deliver", .fn = deliver, .effects = true},
    {.name = "tidy", .fn = tidy, .kind = WORKFLOW_STEP_CLEANUP, .retry = FAST_RETRY},
};
static const struct workflow wf_flaky = {"flaky", flaky_steps, 4};

static const struct workflow_step wait_steps[] = {
    {.name = "fetch", .fn = fetch},
    {.name = "pause", .fn = pause_step, .kind = WORKFLOW_STEP_WAIT},
    {.name = "deliver", .fn = deliver, .effects = true},
    {.name = "tidy", .fn = tidy, .kind = WORKFLOW_STEP_CLEANUP},
};
static const struct workflow wf_wait = {"wait", wait_steps, 4};

static const struct workflow_step slow_steps[] = {
    {.name = "fetch", .fn = fetch},
    {.name = "slow", .fn = slow, .timeout_ms = 60000},
    {.name = "deliver", .fn = deliver, .effects = true},
    {.name = "tidy", .fn = tidy, .kind = WORKFLOW_STEP_CLEANUP},
};
static const struct workflow wf_slow = {"slow", slow_steps, 4};

/* ---- fixture --------------------------------------------------------------------- */

static int64_t fake_now(void *ctx)
{
    return ((struct world *)ctx)->now;
}

static int fake_sleep(void *arg, int64_t ms, volatile sig_atomic_t *cancel)
{
    struct world *w = arg;
    if (cancel && *cancel)
        return ERR_CANCELED;
    w->now += ms;
    w->slept += ms;
    return 0;
}

static void on_event(void *arg, const struct workflow_event *ev)
{
    struct world *w = arg;
    const char *what = ev->step ? ev->step : store_run_status_name(ev->status);
    buf_printf(&w->events, "%s %s\n", workflow_event_name(ev->kind), what);
}

static struct store *open_store(struct fixture *f)
{
    struct store_options so = {.now_ms = fake_now, .clock_ctx = &f->w};
    struct store *st = NULL;
    char err[256] = "";
    if (store_open(f->path, &so, &st, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    return st;
}

static struct workflow_engine *open_engine(struct fixture *f, struct store *st, bool events)
{
    struct workflow_options o = {
        .on_event = events ? on_event : NULL,
        .event_arg = &f->w,
        .sleep_ms = fake_sleep,
        .sleep_arg = &f->w,
        .seed = 42,
        .stop = &f->stop,
    };
    struct workflow_engine *e = workflow_engine_new(st, &o);
    const struct workflow *all[] = {&wf_basic, &wf_flaky, &wf_wait, &wf_slow};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_int_equal(workflow_register(e, all[i], &f->w), 0);
    return e;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    f->dir = xasprintf("%s/harde-workflow-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->path = xasprintf("%s/harde.sqlite", f->dir);
    f->w.now = T0;
    f->w.flaky_verdict = -1;
    f->w.f = f;
    buf_init(&f->w.events, 1 << 20);
    f->st = open_store(f);
    f->e = open_engine(f, f->st, true);
    *state = f;
    return 0;
}

static void close_second(struct fixture *f)
{
    workflow_engine_free(f->e2);
    store_close(f->st2);
    f->e2 = NULL;
    f->st2 = NULL;
}

static void open_second(struct fixture *f)
{
    f->st2 = open_store(f);
    f->e2 = open_engine(f, f->st2, false);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close_second(f);
    workflow_engine_free(f->e);
    store_close(f->st);
    json_decref(f->w.tidy_saw);
    buf_free(&f->w.events);
    DIR *d = opendir(f->dir);
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL) {
        char *p = xasprintf("%s/%s", f->dir, ent->d_name);
        if (ent->d_name[0] != '.')
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

/* ---- helpers --------------------------------------------------------------------- */

static void start(struct fixture *f, const char *workflow, char id[STORE_ID_MAX + 1])
{
    json_t *input = json_pack("{s:i}", "job", 1042);
    bool created = false;
    int rc = workflow_start(f->e, workflow, input, NULL, false, id, &created);
    json_decref(input);
    if (rc)
        fail_msg("workflow_start: %s", workflow_engine_error(f->e));
    assert_true(created);
}

static void get_run(struct fixture *f, const char *id, struct store_run *run)
{
    assert_int_equal(store_run_get(f->st, id, true, run), 0);
}

static const struct store_step *step_of(const struct store_run *run, const char *name)
{
    for (size_t i = 0; i < run->step_count; i++)
        if (strcmp(run->steps[i].name, name) == 0)
            return &run->steps[i];
    return NULL;
}

static enum store_run_status run_status(struct fixture *f, const char *id)
{
    struct store_run run = {0};
    assert_int_equal(store_run_get(f->st, id, false, &run), 0);
    enum store_run_status s = run.status;
    store_run_free(&run);
    return s;
}

static enum store_run_status to_end(struct fixture *f, const char *id)
{
    enum store_run_status final = STORE_RUN_PENDING;
    int rc = workflow_run_to_end(f->e, "cli", id, 0, NULL, NULL, NULL, &final);
    if (rc)
        fail_msg("workflow_run_to_end: %s", workflow_engine_error(f->e));
    return final;
}

static size_t tick(struct fixture *f)
{
    size_t n = 0;
    int rc = workflow_tick(f->e, "worker-a", &n);
    if (rc)
        fail_msg("workflow_tick: %s", workflow_engine_error(f->e));
    return n;
}

/* The names of the run's recorded steps in order, space-separated. */
static void step_names(const struct store_run *run, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < run->step_count; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", run->steps[i].name);
}

/* ---- tests: the happy path ------------------------------------------------------- */

static void steps_run_in_order_and_outputs_flow(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "basic", id);
    enum store_run_status final = STORE_RUN_PENDING;
    assert_int_equal(workflow_run_to_end(f->e, "cli", id, 0, NULL, on_event, &f->w, &final), 0);
    assert_int_equal(final, STORE_RUN_SUCCEEDED);

    /* The engine's listener and run_to_end's each saw every event once. */
    const char *expected = "step_started fetch\nstep_started fetch\n"
                           "step_succeeded fetch\nstep_succeeded fetch\n"
                           "step_started compose\nstep_started compose\n"
                           "step_succeeded compose\nstep_succeeded compose\n"
                           "step_started deliver\nstep_started deliver\n"
                           "step_succeeded deliver\nstep_succeeded deliver\n"
                           "step_started tidy\nstep_started tidy\n"
                           "step_succeeded tidy\nstep_succeeded tidy\n"
                           "run_finished succeeded\nrun_finished succeeded\n";
    assert_string_equal(buf_str(&f->w.events), expected);

    assert_string_equal(f->w.compose_saw, "Garcia");
    assert_int_equal(f->w.compose_job, 1042);
    for (int s = 0; s < S_COUNT; s++)
        assert_int_equal(f->w.calls[s],
                         s == S_FETCH || s == S_COMPOSE || s == S_DELIVER || s == S_TIDY ? 1 : 0);
    /* Keys only for steps with effects: run id + step name. */
    assert_string_equal(f->w.keys[S_FETCH], "(none)");
    char key[WORKFLOW_IDEMPOTENCY_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s.compose", id);
    assert_string_equal(f->w.keys[S_COMPOSE], key);
    snprintf(key, sizeof key, "%s.tidy", id);
    assert_string_equal(f->w.keys[S_TIDY], key);
    /* The cleanup saw every output and the outcome. */
    assert_int_equal(f->w.tidy_outcome, WORKFLOW_OUTCOME_SUCCEEDED);
    assert_string_equal(f->w.tidy_reason, "(none)");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->w.tidy_saw, "fetch"), "temp")),
        "/tmp/fetch.json");
    assert_true(json_is_true(json_object_get(json_object_get(f->w.tidy_saw, "deliver"), "sent")));

    struct store_run run = {0};
    get_run(f, id, &run);
    char names[256];
    step_names(&run, names, sizeof names);
    assert_string_equal(names, "fetch compose deliver _end.1 tidy");
    assert_int_equal(run.status, STORE_RUN_SUCCEEDED);
    assert_null(run.last_error);
    assert_string_equal(run.current_step, "");
    assert_string_equal(
        json_string_value(json_object_get(step_of(&run, "_end.1")->output, "outcome")),
        "succeeded");
    for (size_t i = 0; i < run.step_count; i++) {
        assert_int_equal(run.steps[i].status, STORE_STEP_SUCCEEDED);
        assert_int_equal(run.steps[i].attempts, 1);
    }
    store_run_free(&run);

    /* A finished run stays finished: nothing is due, nothing runs again. */
    assert_int_equal(tick(f), 0);
    enum workflow_step_result r;
    assert_int_equal(workflow_run_step(f->e, "w", id, &r, NULL), 0);
    assert_int_equal(r, WORKFLOW_RESULT_FINISHED);
    assert_int_equal(f->w.calls[S_DELIVER], 1);
}

static void run_step_moves_one_step_at_a_time(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "basic", id);
    const char *expect_current[] = {"compose", "deliver", "tidy"};
    for (int i = 0; i < 3; i++) {
        enum workflow_step_result r;
        assert_int_equal(workflow_run_step(f->e, "w", id, &r, NULL), 0);
        assert_int_equal(r, WORKFLOW_RESULT_STEPPED);
        struct store_run run = {0};
        get_run(f, id, &run);
        assert_int_equal(run.status, STORE_RUN_RUNNING); /* due again at once */
        assert_true(run.wake_at_ms <= f->w.now);
        assert_string_equal(run.current_step, expect_current[i]);
        assert_int_equal(run.step_count, (size_t)(i + 1 + (i == 2)));
        store_run_free(&run);
    }
    enum workflow_step_result r;
    assert_int_equal(workflow_run_step(f->e, "w", id, &r, NULL), 0);
    assert_int_equal(r, WORKFLOW_RESULT_FINISHED);
    assert_int_equal(run_status(f, id), STORE_RUN_SUCCEEDED);
}

/* ---- tests: retries -------------------------------------------------------------- */

static void retries_with_backoff_then_success(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 2;
    f->w.flaky_code = ERR_NETWORK;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);

    assert_int_equal(tick(f), 1);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_WAITING);
    assert_int_equal(run.wake_at_ms, T0 + 1000); /* base backoff, no jitter */
    assert_non_null(strstr(run.last_error, "NETWORK: the service said no (call 1)"));
    assert_int_equal(step_of(&run, "flaky")->status, STORE_STEP_FAILED);
    store_run_free(&run);

    f->w.now += 999; /* not yet */
    assert_int_equal(tick(f), 0);
    assert_int_equal(f->w.calls[S_FLAKY], 1);
    f->w.now += 1;
    assert_int_equal(tick(f), 1);
    assert_int_equal(f->w.calls[S_FLAKY], 2);
    get_run(f, id, &run);
    assert_int_equal(run.wake_at_ms, f->w.now + 2000); /* doubled */
    store_run_free(&run);

    f->w.now += 2000;
    assert_int_equal(tick(f), 1);
    assert_int_equal(f->w.calls[S_FLAKY], 3);
    assert_int_equal(f->w.last_attempt[S_FLAKY], 3);
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_SUCCEEDED);
    assert_null(run.last_error);
    assert_int_equal(step_of(&run, "flaky")->attempts, 3);
    assert_int_equal(json_integer_value(json_object_get(step_of(&run, "flaky")->output, "attempt")),
                     3);
    store_run_free(&run);
    assert_non_null(strstr(buf_str(&f->w.events), "step_failed flaky\nretry_scheduled flaky\n"));
    assert_int_equal(f->w.calls[S_FETCH], 1); /* recorded steps never re-run */
}

static void retry_after_from_the_server_is_respected(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 1;
    f->w.flaky_code = ERR_HTTP;
    f->w.flaky_http = 429;
    f->w.flaky_retry_after = 30000;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(tick(f), 1);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_WAITING);
    assert_int_equal(run.wake_at_ms, T0 + 30000);
    store_run_free(&run);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.slept, 30000);
}

static void exhausted_retries_fail_the_run_and_cleanup_runs(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 100;
    f->w.flaky_code = ERR_TIMEOUT;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    assert_int_equal(f->w.calls[S_FLAKY], 3);
    assert_int_equal(f->w.calls[S_DELIVER], 0);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_int_equal(f->w.slept, 1000 + 2000); /* slept only until each wake-up */
    assert_int_equal(f->w.tidy_outcome, WORKFLOW_OUTCOME_FAILED);
    const char *reason =
        "step flaky failed after 3 attempts: TIMEOUT: the service said no (call 3)";
    assert_string_equal(f->w.tidy_reason, reason);
    assert_non_null(json_object_get(f->w.tidy_saw, "fetch"));
    assert_null(json_object_get(f->w.tidy_saw, "flaky"));

    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_FAILED);
    assert_string_equal(run.last_error, reason);
    assert_true(run.finished_ms > 0);
    const struct store_step *s = step_of(&run, "flaky");
    assert_int_equal(s->status, STORE_STEP_FAILED);
    assert_int_equal(s->attempts, 3);
    assert_string_equal(json_string_value(json_object_get(step_of(&run, "_end.1")->output, "step")),
                        "flaky");
    assert_int_equal(step_of(&run, "tidy")->status, STORE_STEP_SUCCEEDED);
    store_run_free(&run);
    assert_non_null(strstr(buf_str(&f->w.events), "run_finished failed\n"));
}

static void non_retryable_failure_fails_at_once(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 100;
    f->w.flaky_code = ERR_INVALID;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    assert_int_equal(f->w.calls[S_FLAKY], 1);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_int_equal(f->w.slept, 0);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_string_equal(run.last_error, "step flaky failed: INVALID: the service said no (call 1)");
    store_run_free(&run);
}

static void http_status_and_verdict_decide_retries(void **state)
{
    struct fixture *f = *state;
    struct {
        int code, http, verdict, calls;
    } cases[] = {
        {ERR_HTTP, 404, -1, 1}, {ERR_HTTP, 503, -1, 3}, {ERR_HTTP, 0, -1, 1},
        {ERR_NETWORK, 0, 0, 1}, {ERR_AUTH, 0, 1, 3},    {ERR_RATE_LIMIT, 0, -1, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(f->w.calls, 0, sizeof f->w.calls);
        f->w.flaky_failures = 100;
        f->w.flaky_code = cases[i].code;
        f->w.flaky_http = cases[i].http;
        f->w.flaky_verdict = cases[i].verdict;
        char id[STORE_ID_MAX + 1];
        start(f, "flaky", id);
        assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
        if (f->w.calls[S_FLAKY] != cases[i].calls)
            fail_msg("case %zu: %d calls, expected %d", i, f->w.calls[S_FLAKY], cases[i].calls);
    }
}

static void policy_helpers(void **state)
{
    (void)state;
    struct workflow_retry def = {0};
    assert_true(workflow_retry_allows(&def, ERR_NETWORK, 0));
    assert_true(workflow_retry_allows(&def, ERR_TIMEOUT, 0));
    assert_true(workflow_retry_allows(&def, ERR_RATE_LIMIT, 0));
    assert_true(workflow_retry_allows(&def, ERR_HTTP, 500));
    assert_true(workflow_retry_allows(&def, ERR_HTTP, 599));
    assert_true(workflow_retry_allows(&def, ERR_HTTP, 429));
    assert_true(workflow_retry_allows(&def, ERR_HTTP, 408));
    assert_false(workflow_retry_allows(&def, ERR_HTTP, 400));
    assert_false(workflow_retry_allows(&def, ERR_HTTP, 600));
    assert_false(workflow_retry_allows(&def, ERR_INVALID, 0));
    assert_false(workflow_retry_allows(&def, ERR_AUTH, 0));
    assert_false(workflow_retry_allows(&def, ERR_IO, 0));
    struct workflow_retry io = {.retry_on = WORKFLOW_RETRY_IO};
    assert_true(workflow_retry_allows(&io, ERR_IO, 0));
    assert_false(workflow_retry_allows(&io, ERR_NETWORK, 0));

    struct workflow_retry p = {.base_backoff_ms = 100, .max_backoff_ms = 1000};
    assert_int_equal(workflow_retry_delay_ms(&p, 1, -1, 0.5), 100);
    assert_int_equal(workflow_retry_delay_ms(&p, 2, -1, 0.5), 200);
    assert_int_equal(workflow_retry_delay_ms(&p, 4, -1, 0.5), 800);
    assert_int_equal(workflow_retry_delay_ms(&p, 5, -1, 0.5), 1000);
    assert_int_equal(workflow_retry_delay_ms(&p, 60, -1, 0.5), 1000);
    assert_int_equal(workflow_retry_delay_ms(&p, 1, 5000, 0.5), 5000); /* Retry-After wins */
    assert_int_equal(workflow_retry_delay_ms(&p, 1, INT64_C(1) << 50, 0.5),
                     WORKFLOW_BACKOFF_LIMIT_MS);
    p.jitter = 0.5;
    assert_int_equal(workflow_retry_delay_ms(&p, 4, -1, 0.0), 800);
    assert_int_equal(workflow_retry_delay_ms(&p, 4, -1, 0.5), 600);
    assert_true(workflow_retry_delay_ms(&p, 4, -1, 0.999999) >= 400);
    assert_int_equal(workflow_retry_delay_ms(&def, 1, -1, 0), WORKFLOW_BACKOFF_DEFAULT_MS);

    assert_true(workflow_step_is_marker("_end.1"));
    assert_false(workflow_step_is_marker("tidy"));
    assert_string_equal(workflow_outcome_name(WORKFLOW_OUTCOME_CANCELLED), "cancelled");
    assert_string_equal(workflow_event_name(WORKFLOW_EVENT_WAITING), "waiting");
    assert_string_equal(workflow_event_name((enum workflow_event_kind)99), "unknown");
}

/* ---- tests: durable timers ------------------------------------------------------- */

static void wait_survives_a_restart_and_resumes_on_time(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "wait", id);
    assert_int_equal(tick(f), 1);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_WAITING);
    assert_int_equal(run.wake_at_ms, T0 + WAIT_MS);
    const json_t *out = step_of(&run, "pause")->output;
    assert_int_equal(json_integer_value(json_object_get(out, "wake_at_ms")), T0 + WAIT_MS);
    assert_string_equal(json_string_value(json_object_get(out, "why")), "let the note land first");
    assert_string_equal(run.current_step, "deliver");
    store_run_free(&run);
    assert_non_null(strstr(buf_str(&f->w.events), "waiting "));

    /* The process goes away; a new one opens the store. */
    workflow_engine_free(f->e);
    store_close(f->st);
    f->w.now += 5 * MINUTE;
    f->st = open_store(f);
    f->e = open_engine(f, f->st, true);
    assert_int_equal(tick(f), 0);
    f->w.now = T0 + WAIT_MS - 1;
    assert_int_equal(tick(f), 0);
    assert_int_equal(f->w.calls[S_DELIVER], 0);
    f->w.now = T0 + WAIT_MS;
    assert_int_equal(tick(f), 1);
    assert_int_equal(f->w.calls[S_DELIVER], 1);
    assert_int_equal(f->w.calls[S_PAUSE], 1); /* the wait was never recomputed */
    assert_int_equal(run_status(f, id), STORE_RUN_SUCCEEDED);
}

static void run_to_end_sleeps_only_until_the_timer(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "wait", id);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.slept, WAIT_MS);
    assert_int_equal(f->w.calls[S_DELIVER], 1);
    assert_int_equal(f->w.calls[S_PAUSE], 1);
}

static void run_to_end_times_out_and_cancels(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "wait", id);
    enum store_run_status final = STORE_RUN_PENDING;
    assert_int_equal(workflow_run_to_end(f->e, "cli", id, MINUTE, NULL, NULL, NULL, &final),
                     ERR_TIMEOUT);
    assert_int_equal(f->w.now, T0 + MINUTE); /* slept to the deadline, no further */
    assert_int_equal(run_status(f, id), STORE_RUN_WAITING);
    assert_non_null(strstr(workflow_engine_error(f->e), "not finished"));
    volatile sig_atomic_t cancel = 1;
    assert_int_equal(workflow_run_to_end(f->e, "cli", id, 0, &cancel, NULL, NULL, &final),
                     ERR_CANCELED);
    assert_int_equal(run_status(f, id), STORE_RUN_WAITING); /* the run itself goes on */
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
}

/* ---- tests: leases --------------------------------------------------------------- */

static void contend_inside_slow(struct world *w, struct workflow_ctx *ctx, int step)
{
    struct fixture *f = w->f;
    const char *id = workflow_ctx_run_id(ctx);
    /* While worker A is inside the step, B finds nothing due and the lease held. */
    size_t n = 99;
    assert_int_equal(workflow_tick(f->e2, "worker-b", &n), 0);
    assert_int_equal(n, 0);
    enum workflow_step_result r;
    int64_t until = 0;
    assert_int_equal(workflow_run_step(f->e2, "worker-b", id, &r, &until), 0);
    assert_int_equal(r, WORKFLOW_RESULT_BUSY);
    assert_int_equal(until, w->now + SLOW_TTL);
    assert_int_equal(w->calls[S_SLOW], 1);
    /* A overruns its timeout: the lease and the run's deadline expire and
     * B takes the run over, finishing it. */
    w->now += SLOW_TTL;
    assert_int_equal(workflow_tick(f->e2, "worker-b", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(w->calls[S_SLOW], 2);
    assert_int_equal(run_status(f, id), STORE_RUN_SUCCEEDED);
}

static void two_workers_one_step_at_a_time_and_takeover(void **state)
{
    struct fixture *f = *state;
    open_second(f);
    f->w.during = contend_inside_slow;
    char id[STORE_ID_MAX + 1];
    start(f, "slow", id);
    enum workflow_step_result r;
    assert_int_equal(workflow_run_step(f->e, "worker-a", id, &r, NULL), 0); /* fetch */
    assert_int_equal(workflow_run_step(f->e, "worker-a", id, &r, NULL), 0); /* slow */
    assert_int_equal(r, WORKFLOW_RESULT_ABANDONED); /* A lost the run and recorded nothing */
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_SUCCEEDED);
    assert_string_equal(json_string_value(json_object_get(step_of(&run, "slow")->output, "by")),
                        "second");
    assert_int_equal(step_of(&run, "slow")->attempts, 2);
    store_run_free(&run);
    assert_int_equal(f->w.calls[S_DELIVER], 1);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_int_equal(f->w.calls[S_FETCH], 1);
}

static void heartbeat_inside_slow(struct world *w, struct workflow_ctx *ctx, int step)
{
    struct fixture *f = w->f;
    for (int i = 0; i < 3; i++) {
        w->now += SLOW_TTL - 1000; /* three times nearly a ttl: far past the first */
        assert_int_equal(workflow_ctx_heartbeat(ctx), 0);
        enum workflow_step_result r;
        assert_int_equal(workflow_run_step(f->e2, "worker-b", workflow_ctx_run_id(ctx), &r, NULL),
                         0);
        assert_int_equal(r, WORKFLOW_RESULT_BUSY);
    }
    assert_true(workflow_ctx_deadline_ms(ctx) < w->now); /* it overran, but kept its lease */
}

static void heartbeat_keeps_a_long_step(void **state)
{
    struct fixture *f = *state;
    open_second(f);
    f->w.during = heartbeat_inside_slow;
    char id[STORE_ID_MAX + 1];
    start(f, "slow", id);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.calls[S_SLOW], 1);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_string_equal(json_string_value(json_object_get(step_of(&run, "slow")->output, "by")),
                        "first");
    store_run_free(&run);
}

static void lost_worker_on_the_last_attempt_fails_the_step(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    /* Three workers died inside "flaky" (its limit), one after the other. */
    assert_int_equal(store_step_succeed(f->st, id, "fetch", NULL, "flaky"), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_step_start(f->st, id, "flaky", NULL), 0);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    assert_int_equal(f->w.calls[S_FLAKY], 0);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_non_null(strstr(run.last_error, "the worker running attempt 3 was lost"));
    store_run_free(&run);
}

static void stop_inside_flaky(struct world *w, struct workflow_ctx *ctx, int step)
{
    if (w->calls[S_FLAKY] == 1) {
        w->f->stop = 1;
        assert_true(workflow_ctx_stopping(ctx));
    }
}

static void stop_flag_abandons_without_a_failure(void **state)
{
    struct fixture *f = *state;
    f->w.during = stop_inside_flaky;
    f->w.flaky_failures = 1;
    f->w.flaky_code = ERR_CANCELED;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    enum workflow_step_result r;
    assert_int_equal(workflow_run_step(f->e, "w", id, &r, NULL), 0); /* fetch */
    assert_int_equal(workflow_run_step(f->e, "w", id, &r, NULL), 0); /* flaky, stopped */
    assert_int_equal(r, WORKFLOW_RESULT_ABANDONED);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_RUNNING);
    assert_true(run.wake_at_ms <= f->w.now); /* due at once for the next worker */
    assert_int_equal(step_of(&run, "flaky")->status, STORE_STEP_RUNNING);
    assert_null(run.last_error);
    store_run_free(&run);
    assert_null(strstr(buf_str(&f->w.events), "step_failed"));
    f->stop = 0;
    assert_int_equal(tick(f), 1);
    assert_int_equal(run_status(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.calls[S_FLAKY], 2);
}

/* ---- tests: cancel, retry, cleanup ---------------------------------------------- */

static void cancel_a_waiting_run_runs_cleanup(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "wait", id);
    assert_int_equal(tick(f), 1);
    assert_int_equal(run_status(f, id), STORE_RUN_WAITING);
    /* `harde run cancel` may use an engine that knows no workflows. */
    struct workflow_engine *bare = workflow_engine_new(f->st, NULL);
    assert_int_equal(workflow_cancel(bare, id, "the homeowner called"), 0);
    workflow_engine_free(bare);
    assert_int_equal(workflow_cancel(f->e, id, "twice"), 0); /* asking again is fine */
    assert_int_equal(tick(f), 1); /* woken at once, not after 15 minutes */
    assert_int_equal(f->w.calls[S_DELIVER], 0);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_int_equal(f->w.tidy_outcome, WORKFLOW_OUTCOME_CANCELLED);
    assert_string_equal(f->w.tidy_reason, "cancelled: the homeowner called");
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_CANCELLED);
    assert_string_equal(run.last_error, "cancelled: the homeowner called");
    char names[256];
    step_names(&run, names, sizeof names);
    assert_string_equal(names, "fetch pause _cancel.1 _end.1 tidy");
    store_run_free(&run);
    assert_int_equal(workflow_cancel(f->e, id, NULL), ERR_CONFLICT);
    assert_non_null(strstr(workflow_engine_error(f->e), "already cancelled"));
    assert_int_equal(workflow_cancel(f->e, "nosuchrun", NULL), ERR_NOT_FOUND);
}

static void cancel_a_pending_run_runs_only_cleanup(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_MAX + 1];
    start(f, "basic", id);
    assert_int_equal(workflow_cancel(f->e, id, NULL), 0);
    assert_int_equal(to_end(f, id), STORE_RUN_CANCELLED);
    assert_int_equal(f->w.calls[S_FETCH], 0);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_string_equal(f->w.tidy_reason, "cancelled");
}

static void cancel_inside_slow(struct world *w, struct workflow_ctx *ctx, int step)
{
    /* Another process (here: the second engine) cancels while A runs the step. */
    assert_int_equal(workflow_cancel(w->f->e2, workflow_ctx_run_id(ctx), "stop it"), 0);
}

static void cancel_a_running_run_after_its_step(void **state)
{
    struct fixture *f = *state;
    open_second(f);
    f->w.during = cancel_inside_slow;
    char id[STORE_ID_MAX + 1];
    start(f, "slow", id);
    assert_int_equal(to_end(f, id), STORE_RUN_CANCELLED);
    assert_int_equal(f->w.calls[S_SLOW], 1);    /* the running step finished... */
    assert_int_equal(f->w.calls[S_DELIVER], 0); /* ...and nothing after it ran */
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_non_null(json_object_get(f->w.tidy_saw, "slow"));
}

static void cancel_during_a_failing_step_wakes_the_backoff(void **state)
{
    struct fixture *f = *state;
    open_second(f);
    f->w.during = cancel_inside_slow; /* runs inside flaky too */
    f->w.flaky_failures = 100;
    f->w.flaky_code = ERR_NETWORK;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(tick(f), 1);
    /* The step failed retryably and parked the run, then saw the cancellation. */
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_int_equal(run.status, STORE_RUN_WAITING);
    assert_true(run.wake_at_ms <= f->w.now);
    store_run_free(&run);
    assert_int_equal(tick(f), 1);
    assert_int_equal(run_status(f, id), STORE_RUN_CANCELLED);
    assert_int_equal(f->w.calls[S_FLAKY], 1);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    assert_int_equal(f->w.slept, 0);
}

static void retry_resumes_from_the_failed_step(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 3; /* all three attempts of the first pass */
    f->w.flaky_code = ERR_NETWORK;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    assert_int_equal(f->w.calls[S_FLAKY], 3);
    assert_int_equal(f->w.calls[S_TIDY], 1);
    char first_key[WORKFLOW_IDEMPOTENCY_KEY_MAX + 1];
    snprintf(first_key, sizeof first_key, "%s", f->w.keys[S_FLAKY]);

    assert_int_equal(workflow_retry(f->e, "nosuchrun"), ERR_NOT_FOUND);
    assert_int_equal(workflow_retry(f->e, id), 0);
    assert_int_equal(run_status(f, id), STORE_RUN_PENDING);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.calls[S_FETCH], 1);           /* its output was reused */
    assert_int_equal(f->w.calls[S_FLAKY], 4);           /* resumed at the failed step */
    assert_int_equal(f->w.last_attempt[S_FLAKY], 1);    /* with fresh attempts */
    assert_string_equal(f->w.keys[S_FLAKY], first_key); /* and the same idempotency key */
    assert_int_equal(f->w.calls[S_DELIVER], 1);
    assert_int_equal(f->w.calls[S_TIDY], 2); /* cleanup again, for the new pass */
    assert_string_equal(f->w.names[S_TIDY], "tidy.2");
    assert_int_equal(f->w.tidy_outcome, WORKFLOW_OUTCOME_SUCCEEDED);

    struct store_run run = {0};
    get_run(f, id, &run);
    char names[256];
    step_names(&run, names, sizeof names);
    assert_string_equal(names, "fetch flaky _end.1 tidy _retry.1 deliver _end.2 tidy.2");
    assert_null(run.last_error);
    assert_int_equal(step_of(&run, "flaky")->attempts, 4);
    store_run_free(&run);
    assert_int_equal(workflow_retry(f->e, id), ERR_CONFLICT);
}

static void retried_run_can_be_cancelled_before_it_is_picked_up(void **state)
{
    struct fixture *f = *state;
    f->w.flaky_failures = 100;
    f->w.flaky_code = ERR_INVALID;
    char id[STORE_ID_MAX + 1];
    start(f, "flaky", id);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    assert_int_equal(workflow_retry(f->e, id), 0);
    /* Beginning the new pass needs the table: an engine without it says so. */
    struct workflow_engine *bare = workflow_engine_new(f->st, NULL);
    assert_int_equal(workflow_cancel(bare, id, "never mind"), ERR_INVALID);
    workflow_engine_free(bare);
    assert_int_equal(workflow_cancel(f->e, id, "never mind"), 0);
    assert_int_equal(to_end(f, id), STORE_RUN_CANCELLED);
    assert_int_equal(f->w.calls[S_FLAKY], 1);
    assert_int_equal(f->w.calls[S_TIDY], 2);
    assert_string_equal(f->w.names[S_TIDY], "tidy.2");
}

static void failed_cleanup_fails_the_run_and_retry_finishes_it(void **state)
{
    struct fixture *f = *state;
    f->w.tidy_failures = 1;
    f->w.tidy_code = ERR_AUTH;
    char id[STORE_ID_MAX + 1];
    start(f, "basic", id);
    assert_int_equal(to_end(f, id), STORE_RUN_FAILED);
    struct store_run run = {0};
    get_run(f, id, &run);
    assert_string_equal(run.last_error, "step tidy failed: AUTH: the bucket is locked "
                                        "(the run itself had succeeded)");
    store_run_free(&run);
    assert_int_equal(workflow_retry(f->e, id), 0);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.calls[S_DELIVER], 1);
    assert_int_equal(f->w.calls[S_TIDY], 2);
    assert_string_equal(f->w.names[S_TIDY], "tidy"); /* the same cleanup, resumed */
    get_run(f, id, &run);
    assert_null(run.last_error);
    store_run_free(&run);
}

static void cleanup_is_retried_like_any_step(void **state)
{
    struct fixture *f = *state;
    f->w.tidy_failures = 2;
    f->w.tidy_code = ERR_NETWORK;
    char id[STORE_ID_MAX + 1];
    start(f, "basic", id);
    assert_int_equal(to_end(f, id), STORE_RUN_SUCCEEDED);
    assert_int_equal(f->w.calls[S_TIDY], 3);
    assert_int_equal(f->w.slept, 1000 + 2000);
}

/* ---- tests: starting, registering ----------------------------------------------- */

static void dedupe_key_gives_one_run_unless_forced(void **state)
{
    struct fixture *f = *state;
    char a[STORE_ID_MAX + 1], b[STORE_ID_MAX + 1], c[STORE_ID_MAX + 1];
    bool created = false;
    assert_int_equal(workflow_start(f->e, "basic", NULL, "primer:job:1042", false, a, &created), 0);
    assert_true(created);
    assert_int_equal(workflow_start(f->e, "basic", NULL, "primer:job:1042", false, b, &created), 0);
    assert_false(created);
    assert_string_equal(a, b);
    assert_int_equal(workflow_start(f->e, "basic", NULL, "primer:job:1042", true, c, &created), 0);
    assert_true(created);
    assert_string_not_equal(a, c);
    assert_int_equal(workflow_start(f->e, "nosuch", NULL, NULL, false, c, NULL), ERR_NOT_FOUND);
    assert_int_equal(workflow_start(f->e, "basic", NULL, "bad key", false, c, NULL), ERR_INVALID);
    assert_string_equal(c, "");
    /* Both runs run; the first still does even though it lost its key. */
    assert_int_equal(tick(f), 2);
    assert_int_equal(f->w.calls[S_DELIVER], 2);
}

static void unknown_workflows_are_left_to_others(void **state)
{
    struct fixture *f = *state;
    struct store_run_new in = {.workflow = "someone-elses"};
    struct store_run run = {0};
    assert_int_equal(store_run_create(f->st, &in, &run, NULL), 0);
    assert_int_equal(tick(f), 0);
    assert_int_equal(workflow_run_step(f->e, "w", run.id, NULL, NULL), ERR_INVALID);
    assert_int_equal(run_status(f, run.id), STORE_RUN_PENDING);
    assert_int_equal(workflow_tick(f->e, "bad owner", NULL), ERR_INVALID);
    store_run_free(&run);
}

static int noop(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                char *err, size_t errlen)
{
    return 0;
}

static void register_checks_the_table(void **state)
{
    struct fixture *f = *state;
    struct workflow_step steps[3] = {{.name = "one", .fn = noop}, {.name = "two", .fn = noop}};
    struct workflow wf = {"checked", steps, 2};
    struct {
        const char *name;
        workflow_step_fn fn;
        enum workflow_step_kind kind;
        double jitter;
        int attempts;
    } bad[] = {
        {"_hidden", noop, 0, 0, 0},
        {"has space", noop, 0, 0, 0},
        {"has.dot", noop, 0, 0, 0},
        {"", noop, 0, 0, 0},
        {NULL, noop, 0, 0, 0},
        {"one", noop, 0, 0, 0},
        {"nofn", NULL, 0, 0, 0},
        {"kind", noop, 7, 0, 0},
        {"jitter", noop, 0, 1.5, 0},
        {"many", noop, 0, 0, 1000},
        {"a-very-long-step-name-that-goes-on-and-on-and-on-x", noop, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        steps[1] =
            (struct workflow_step){.name = bad[i].name, .fn = bad[i].fn, .kind = bad[i].kind};
        steps[1].retry.jitter = bad[i].jitter;
        steps[1].retry.max_attempts = bad[i].attempts;
        if (workflow_register(f->e, &wf, NULL) != ERR_INVALID)
            fail_msg("case %zu (%s) was accepted", i, bad[i].name ? bad[i].name : "NULL");
    }
    /* A cleanup step must come last. */
    steps[0].kind = WORKFLOW_STEP_CLEANUP;
    steps[1] = (struct workflow_step){.name = "two", .fn = noop};
    assert_int_equal(workflow_register(f->e, &wf, NULL), ERR_INVALID);
    assert_non_null(strstr(workflow_engine_error(f->e), "after a cleanup step"));
    steps[0].kind = WORKFLOW_STEP_NORMAL;
    struct workflow none = {"none", steps, 0};
    assert_int_equal(workflow_register(f->e, &none, NULL), ERR_INVALID);
    struct workflow spaced = {"has space", steps, 2};
    assert_int_equal(workflow_register(f->e, &spaced, NULL), ERR_INVALID);
    assert_int_equal(workflow_register(f->e, &wf, NULL), 0);
    assert_int_equal(workflow_register(f->e, &wf, NULL), ERR_EXISTS);
    assert_int_equal(workflow_register(f->e, &wf_basic, NULL), ERR_EXISTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(steps_run_in_order_and_outputs_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(run_step_moves_one_step_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(retries_with_backoff_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_from_the_server_is_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(exhausted_retries_fail_the_run_and_cleanup_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(non_retryable_failure_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(http_status_and_verdict_decide_retries, setup, teardown),
        cmocka_unit_test(policy_helpers),
        cmocka_unit_test_setup_teardown(wait_survives_a_restart_and_resumes_on_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(run_to_end_sleeps_only_until_the_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(run_to_end_times_out_and_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(two_workers_one_step_at_a_time_and_takeover, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(heartbeat_keeps_a_long_step, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_worker_on_the_last_attempt_fails_the_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop_flag_abandons_without_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_a_waiting_run_runs_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_a_pending_run_runs_only_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_a_running_run_after_its_step, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_during_a_failing_step_wakes_the_backoff, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(retry_resumes_from_the_failed_step, setup, teardown),
        cmocka_unit_test_setup_teardown(retried_run_can_be_cancelled_before_it_is_picked_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_cleanup_fails_the_run_and_retry_finishes_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cleanup_is_retried_like_any_step, setup, teardown),
        cmocka_unit_test_setup_teardown(dedupe_key_gives_one_run_unless_forced, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_workflows_are_left_to_others, setup, teardown),
        cmocka_unit_test_setup_teardown(register_checks_the_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
