/* workflow — Hard-E's durable workflow engine: runs that survive any crash.
 *
 * A workflow is data: a name and a table of steps (struct workflow). A run is
 * one execution of a workflow with its input, kept in the store (store.h):
 * its status, each step's recorded output, attempts and errors, and its
 * durable timer. The engine is the only code that moves a run forward:
 *
 *  - Steps run in table order. A step's output is recorded in the same store
 *    transaction that advances the run (store_step_succeed), so after a crash
 *    a recorded step is skipped and its output reused; a step killed before
 *    its output was recorded runs again. Steps with outside effects are
 *    declared so (effects = true) and get an idempotency key (run id + "." +
 *    step name, workflow_ctx_idempotency_key) that they hand to the outside
 *    service, so a repeated attempt is recognised there and never happens
 *    twice. The key is stable across attempts, crashes and workflow_retry.
 *  - A failing step is retried per its policy (struct workflow_retry): the
 *    backoff is stored as the run's wake-up time (status WAITING), never
 *    slept in a process. A step that fails for good (not retryable, or out of
 *    attempts) fails the run with the reason. An attempt killed in flight
 *    counts as an attempt; when it was the last one, the step fails ("the
 *    worker running attempt N was lost"), so a step that crashes its worker
 *    every time cannot hold a run forever.
 *  - WAIT steps are durable timers: the step's function says when to wake
 *    (workflow_ctx_wait_for/_until), the engine records that time with the
 *    step's output and parks the run; any worker resumes it on time, after
 *    any number of restarts.
 *  - CLEANUP steps always run at the end — after success, failure or
 *    cancellation — and are themselves durable and retried. They see the
 *    outputs recorded so far (temporary files, cloud assets to remove) and
 *    the outcome (workflow_ctx_outcome). Only after them does the run reach
 *    its final status. A cleanup step that fails for good fails the run
 *    (even one whose main steps succeeded: leftovers need a person) and
 *    workflow_retry resumes the cleanup. Note that after a failure the
 *    cleanup runs before any retry: what a resumed step needs from earlier
 *    steps (a temporary file) must be kept by the cleanup when the outcome
 *    is FAILED, or be re-creatable by the step that needs it.
 *  - One worker executes a run at a time: a store lease named "run:ID" held
 *    by the worker's name. Its time to live is the step's timeout plus a
 *    grace period, and it is renewed before every step (see timeout_ms). A
 *    worker that dies leaves an expiring lease and an expiring RUNNING
 *    deadline on the run, after which store_run_due offers the run again and
 *    another worker takes over.
 *
 * The engine's decisions are themselves recorded as marker steps whose names
 * start with "_" (workflow_step_is_marker): "_end.G" (generation G's main
 * steps ended: {"outcome", "step", "error"}), "_cancel.G" (cancellation
 * asked, {"reason"}) and "_retry.K" (a failed run resumed by workflow_retry).
 * A generation is one pass from the first unrecorded step to the final
 * status; workflow_retry starts a new one, which resumes at the failed step
 * (recorded steps stay recorded) and runs the cleanup steps again under the
 * names "NAME.G". Lists and pages may hide marker steps or show them as
 * events.
 *
 * Time is the store's clock (store_options.now_ms), so a test that injects a
 * fake clock there can pass a 15-minute wait instantly; the only sleeping is
 * in workflow_run_to_end and workflow_work, through workflow_options.sleep_ms.
 *
 * Conventions: functions return 0 or a negative ERR_* code (base/error.h) and
 * workflow_engine_error then says what failed. Arguments are borrowed. One
 * engine, like its store, is used by one thread at a time; several engines
 * (threads or processes, each with its own store handle) may work on the same
 * store at once. Never change a run's status with store_run_cancel or
 * store_run_transition directly: use workflow_cancel and workflow_retry, or
 * the cleanup would not run. */
#ifndef HARDE_WORKFLOW_WORKFLOW_H
#define HARDE_WORKFLOW_WORKFLOW_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define WORKFLOW_STEPS_MAX           32 /* steps in one workflow */
#define WORKFLOW_STEP_NAME_MAX       48 /* [A-Za-z0-9_-], not starting with '_' */
#define WORKFLOW_WORKFLOWS_MAX       32 /* workflows one engine knows */
#define WORKFLOW_ATTEMPTS_DEFAULT    3
#define WORKFLOW_ATTEMPTS_MAX        100
#define WORKFLOW_BACKOFF_DEFAULT_MS  1000
#define WORKFLOW_BACKOFF_CAP_MS      300000   /* max_backoff_ms default: 5 minutes */
#define WORKFLOW_BACKOFF_LIMIT_MS    86400000 /* no delay, Retry-After included, exceeds a day */
#define WORKFLOW_TIMEOUT_DEFAULT_MS  600000   /* a step's timeout_ms default: 10 minutes */
#define WORKFLOW_LEASE_GRACE_MS      30000    /* lease ttl = timeout + this, by default */
#define WORKFLOW_ERROR_MAX           512      /* workflow_engine_error's buffer */
#define WORKFLOW_STEP_ERROR_MAX      1024     /* the err buffer a step function fills */
#define WORKFLOW_IDEMPOTENCY_KEY_MAX (STORE_ID_MAX + 1 + STORE_NAME_MAX)
#define WORKFLOW_LEASE_PREFIX        "run:" /* the lease on run ID is named "run:ID" */

struct workflow_engine;
struct workflow_ctx;

/* ---- a workflow as data ---------------------------------------------------------- */

/* Which failures are worth another attempt (struct workflow_retry.retry_on). */
#define WORKFLOW_RETRY_NETWORK    (1u << 0) /* ERR_NETWORK */
#define WORKFLOW_RETRY_TIMEOUT    (1u << 1) /* ERR_TIMEOUT, and ERR_HTTP with status 408 */
#define WORKFLOW_RETRY_RATE_LIMIT (1u << 2) /* ERR_RATE_LIMIT, and ERR_HTTP with status 429 */
#define WORKFLOW_RETRY_HTTP_5XX   (1u << 3) /* ERR_HTTP with status 500-599 */
#define WORKFLOW_RETRY_IO         (1u << 4) /* ERR_IO (a local disk or process hiccup) */
#define WORKFLOW_RETRY_CONFLICT   (1u << 5) /* ERR_CONFLICT */
#define WORKFLOW_RETRY_DEFAULT                                                                     \
    (WORKFLOW_RETRY_NETWORK | WORKFLOW_RETRY_TIMEOUT | WORKFLOW_RETRY_RATE_LIMIT |                 \
     WORKFLOW_RETRY_HTTP_5XX)

/* Decides instead of the flags: code is the step's ERR_* code, http_status
 * what it set with workflow_ctx_set_http_status (0: none). */
typedef bool (*workflow_retryable_fn)(int code, int http_status);

struct workflow_retry {
    int max_attempts;        /* 0: WORKFLOW_ATTEMPTS_DEFAULT; 1: never retried */
    int64_t base_backoff_ms; /* delay after the first failure, doubled each time; 0: default */
    int64_t max_backoff_ms;  /* 0: WORKFLOW_BACKOFF_CAP_MS */
    double jitter;           /* 0–1: the share of each delay drawn at random (0: exact) */
    unsigned retry_on;       /* WORKFLOW_RETRY_* bits; 0: WORKFLOW_RETRY_DEFAULT */
    workflow_retryable_fn retryable; /* NULL: the flags decide */
};

enum workflow_step_kind {
    WORKFLOW_STEP_NORMAL,
    WORKFLOW_STEP_WAIT,    /* a durable timer: the function sets the wake-up time */
    WORKFLOW_STEP_CLEANUP, /* runs at the end whatever happened; must come last in the table */
};

/* What the run's main steps came to, as cleanup steps see it. */
enum workflow_outcome {
    WORKFLOW_OUTCOME_NONE, /* main steps still running (a normal or WAIT step asks) */
    WORKFLOW_OUTCOME_SUCCEEDED,
    WORKFLOW_OUTCOME_FAILED,
    WORKFLOW_OUTCOME_CANCELLED,
};

/* A step. input is the run's input and outputs_so_far an object of every
 * recorded step's output by step name (both borrowed: read, do not keep or
 * change). On success it returns 0 and may set *output to a new JSON value
 * (the engine takes ownership and records it; NULL records JSON null). On
 * failure it returns a negative ERR_* code and writes why into err (errlen
 * is WORKFLOW_STEP_ERROR_MAX); *output is then ignored (and freed). A step
 * may run more than once (a crash before its output was recorded, a retry),
 * so whatever it does outside must be safe to repeat: use the idempotency
 * key, derive temporary names from the run id. */
typedef int (*workflow_step_fn)(struct workflow_ctx *ctx, const json_t *input,
                                json_t *outputs_so_far, json_t **output, char *err, size_t errlen);

struct workflow_step {
    const char *name; /* 1–WORKFLOW_STEP_NAME_MAX of [A-Za-z0-9_-], not starting with '_' */
    workflow_step_fn fn;
    enum workflow_step_kind kind;
    bool effects; /* it changes the outside world: it gets an idempotency key */
    struct workflow_retry retry;
    /* How long one attempt may take; 0: WORKFLOW_TIMEOUT_DEFAULT_MS. The
     * engine cannot interrupt a C function, so the step bounds its own work
     * by it (workflow_ctx_deadline_ms: HTTP timeouts, child-process waits).
     * The run's lease lives this long plus the engine's grace period, so a
     * step that keeps its timeout is never taken over while it runs; one
     * that may legitimately run longer calls workflow_ctx_heartbeat now and
     * then. We prefer this to a renewing thread: a store handle belongs to
     * one thread, and a thread renewing the lease of a hung step would keep
     * its run stuck forever. */
    int64_t timeout_ms;
};

struct workflow {
    const char *name; /* a store name: 1–128 printable ASCII, no spaces */
    const struct workflow_step *steps;
    size_t step_count; /* 1–WORKFLOW_STEPS_MAX */
};

/* ---- events ---------------------------------------------------------------------- */

enum workflow_event_kind {
    WORKFLOW_EVENT_STEP_STARTED,
    WORKFLOW_EVENT_STEP_SUCCEEDED,
    WORKFLOW_EVENT_STEP_FAILED,     /* every failed attempt; retry_scheduled may follow */
    WORKFLOW_EVENT_RETRY_SCHEDULED, /* wake_at_ms: when the next attempt is due */
    WORKFLOW_EVENT_WAITING,         /* a WAIT step: wake_at_ms */
    WORKFLOW_EVENT_RUN_FINISHED,    /* status: its final status; error: why, for a failure */
};

/* Everything borrowed, valid during the callback only. */
struct workflow_event {
    enum workflow_event_kind kind;
    const char *run_id;
    const char *workflow;
    const char *step;  /* the recorded step name; NULL for RUN_FINISHED */
    size_t step_index; /* its place in the table (0-based) */
    size_t step_count; /* the table's size */
    int attempt;       /* 1-based, since the run started or was last retried */
    int max_attempts;
    int64_t duration_ms;          /* STEP_SUCCEEDED, STEP_FAILED: how long the attempt took */
    int64_t wake_at_ms;           /* RETRY_SCHEDULED, WAITING */
    int code;                     /* STEP_FAILED: the step's ERR_* code */
    const char *error;            /* STEP_FAILED, RUN_FINISHED (failed or cancelled): the reason */
    enum store_run_status status; /* RUN_FINISHED */
};

typedef void (*workflow_event_cb)(void *arg, const struct workflow_event *event);

/* ---- the engine ------------------------------------------------------------------ */

struct workflow_options {
    /* Every event of every run this engine moves (logs, the web page). */
    workflow_event_cb on_event;
    void *event_arg;
    /* Added to a step's timeout to make the run's lease ttl; 0: WORKFLOW_LEASE_GRACE_MS. */
    int64_t lease_grace_ms;
    /* Due runs one workflow_tick looks at; 0: 32. */
    size_t batch;
    /* Steps one worker runs for one run before it lets others have a turn; 0: 16. */
    int steps_per_claim;
    /* Sleeps ms (or until *cancel becomes non-zero: ERR_CANCELED); NULL:
     * clock_sleep_ms. Tests pass one that advances their fake clock. */
    int (*sleep_ms)(void *sleep_arg, int64_t ms, volatile sig_atomic_t *cancel);
    void *sleep_arg;
    /* Set non-zero to ask the engine to stop (a worker's SIGTERM): a step
     * that fails while it is set is not counted as failed — its run is left
     * for the next worker. Steps read it with workflow_ctx_stopping. */
    volatile sig_atomic_t *stop;
    /* Seeds the jitter; 0: from the system's random source. */
    uint64_t seed;
    /* A test hook, NULL in production: called at every point where a crash
     * matters (claimed, step.starting, step.started, step.returned,
     * step.recorded, step.failed, end.recorded, run.waiting, run.finishing,
     * run.finished), so a test can kill the process there. */
    void (*test_point)(void *test_arg, const char *point);
    void *test_arg;
};

/* A new engine on store st (borrowed: it must outlive the engine). opts may
 * be NULL. Free it with workflow_engine_free. */
struct workflow_engine *workflow_engine_new(struct store *st, const struct workflow_options *opts);
void workflow_engine_free(struct workflow_engine *e);
/* What the last failed call was about, "" after a success (borrowed). */
const char *workflow_engine_error(const struct workflow_engine *e);
/* The engine's store (borrowed). */
struct store *workflow_engine_store(struct workflow_engine *e);

/* Teaches the engine a workflow after checking its table. wf (and its step
 * table) is borrowed and must outlive the engine — a static const table.
 * arg is handed to its steps (workflow_ctx_arg): the services they use.
 * ERR_INVALID (a bad table, said in words), ERR_EXISTS (a workflow of that
 * name is registered), ERR_LIMIT. */
int workflow_register(struct workflow_engine *e, const struct workflow *wf, void *arg);

/* ---- starting and steering runs -------------------------------------------------- */

/* Starts a run of the registered workflow named workflow with input (NULL:
 * {}). With a dedupe_key (NULL for none), a run already holding that key is
 * returned instead (*created false) unless force, which makes a new run that
 * takes the key. run_id gets the run's id. created may be NULL. The run is
 * due at once: a worker's workflow_tick, or workflow_run_to_end, runs it. */
int workflow_start(struct workflow_engine *e, const char *workflow, const json_t *input,
                   const char *dedupe_key, bool force, char run_id[STORE_ID_MAX + 1],
                   bool *created);
/* Asks a run to stop: its cleanup steps then run and it ends CANCELLED with
 * last_error "cancelled: REASON" ("cancelled" when reason is NULL or ""). A
 * step already running finishes first; a waiting run (a timer, a backoff) is
 * woken at once. The engine need not know the run's workflow, except for a
 * failed run that was retried and not picked up yet (ERR_INVALID). 0 also
 * when it was already asked; ERR_CONFLICT when the run is final or already
 * ending (its cleanup is running after a success or failure); ERR_NOT_FOUND. */
int workflow_cancel(struct workflow_engine *e, const char *run_id, const char *reason);
/* Resumes a FAILED run: due at once, it goes on from the step that failed
 * (recorded outputs are reused, its attempts start again from 1) and runs
 * its cleanup again at the end. ERR_CONFLICT when the run is not FAILED. */
int workflow_retry(struct workflow_engine *e, const char *run_id);

/* ---- working --------------------------------------------------------------------- */

/* One pass of a worker named owner (a store name, unique per worker, e.g.
 * "host:pid"): takes the runs due now, soonest first, whose workflow this
 * engine knows and whose lease is free, and moves each as far as it can go
 * (at most steps_per_claim steps) until it waits, finishes or fails.
 * *advanced (may be NULL) gets how many runs it moved. A store error on one
 * run is logged and the others still run; the last such error is returned. */
int workflow_tick(struct workflow_engine *e, const char *owner, size_t *advanced);

enum workflow_step_result {
    WORKFLOW_RESULT_STEPPED,  /* a step ran (recorded, failed or retried) */
    WORKFLOW_RESULT_WAITING,  /* the run waits for its timer (wake_at_ms) */
    WORKFLOW_RESULT_BUSY,     /* another worker holds it (until wake_at_ms, its lease) */
    WORKFLOW_RESULT_FINISHED, /* the run is final */
    WORKFLOW_RESULT_ABANDONED /* the lease was lost or the engine is stopping */
};

/* Runs at most one step of run_id as owner (with the bookkeeping around it:
 * starting a retried generation, recording the end, the final status). For
 * tests and fine control. *wake_at_ms (may be NULL) gets the time that
 * matters for WAITING and BUSY. ERR_NOT_FOUND: no such run; ERR_INVALID: its
 * workflow is not registered here. */
int workflow_run_step(struct workflow_engine *e, const char *owner, const char *run_id,
                      enum workflow_step_result *result, int64_t *wake_at_ms);

/* Runs one run to its end in the foreground (`harde primer JOB --wait`):
 * moves it as owner, sleeping only until its next wake-up time (or while
 * another worker holds it, until that lease ends, at most a second). on_event
 * (may be NULL) gets this run's events, in addition to the engine's.
 * timeout_ms <= 0: no limit. 0 when the run is final (*final, may be NULL,
 * gets its status); ERR_TIMEOUT; ERR_CANCELED when *cancel (may be NULL)
 * became non-zero. Either way the run itself goes on: it is durable, and a
 * worker finishes it. */
int workflow_run_to_end(struct workflow_engine *e, const char *owner, const char *run_id,
                        int64_t timeout_ms, volatile sig_atomic_t *cancel,
                        workflow_event_cb on_event, void *event_arg, enum store_run_status *final);

/* A worker's loop (`harde worker`): workflow_tick, and when nothing was due,
 * a sleep of poll_ms (0: 1000), until *stop (required) becomes non-zero.
 * Returns 0 then. Store errors are logged and the loop goes on. */
int workflow_work(struct workflow_engine *e, const char *owner, int64_t poll_ms,
                  volatile sig_atomic_t *stop);

/* ---- inside a step --------------------------------------------------------------- */

/* Borrowed, valid during the step. */
const char *workflow_ctx_run_id(const struct workflow_ctx *ctx);
const char *workflow_ctx_workflow(const struct workflow_ctx *ctx);
/* The recorded name: the table's, or "NAME.G" for a cleanup step in
 * generation G > 1. */
const char *workflow_ctx_step(const struct workflow_ctx *ctx);
/* "RUNID.STEP" for a step with effects, NULL for others (borrowed). */
const char *workflow_ctx_idempotency_key(const struct workflow_ctx *ctx);
/* The workflow's arg from workflow_register. */
void *workflow_ctx_arg(const struct workflow_ctx *ctx);
/* 1 for the first attempt since the run started or was retried. */
int workflow_ctx_attempt(const struct workflow_ctx *ctx);
int workflow_ctx_max_attempts(const struct workflow_ctx *ctx);
/* The engine's clock (the store's), and when this attempt should be over. */
int64_t workflow_ctx_now_ms(const struct workflow_ctx *ctx);
int64_t workflow_ctx_deadline_ms(const struct workflow_ctx *ctx);
/* Non-zero when the engine is asked to stop: wind down and return an error. */
bool workflow_ctx_stopping(const struct workflow_ctx *ctx);
/* The engine's stop flag, for cancellable sleeps and waits (may be NULL). */
volatile sig_atomic_t *workflow_ctx_stop_flag(const struct workflow_ctx *ctx);
/* Renews the run's lease and deadline for another timeout_ms + grace. 0, or
 * ERR_CONFLICT when another worker has taken the run over: stop at once (the
 * engine will not record this attempt). */
int workflow_ctx_heartbeat(struct workflow_ctx *ctx);
/* For cleanup steps: what the main steps came to, and the failure or
 * cancellation reason (borrowed, NULL for a success). */
enum workflow_outcome workflow_ctx_outcome(const struct workflow_ctx *ctx);
const char *workflow_ctx_reason(const struct workflow_ctx *ctx);

/* WAIT steps: wake the run after ms, or at the store-clock time at_ms. A
 * WAIT step that sets neither does not wait. Ignored in other steps. */
void workflow_ctx_wait_for(struct workflow_ctx *ctx, int64_t ms);
void workflow_ctx_wait_until(struct workflow_ctx *ctx, int64_t at_ms);
/* Failing steps: the HTTP status behind an ERR_HTTP (or 408/429) for the
 * retry decision; the server's Retry-After in ms (the next attempt waits at
 * least that long); or an explicit verdict that overrides the policy. */
void workflow_ctx_set_http_status(struct workflow_ctx *ctx, int status);
void workflow_ctx_retry_after(struct workflow_ctx *ctx, int64_t ms);
void workflow_ctx_set_retryable(struct workflow_ctx *ctx, bool retryable);

/* ---- helpers --------------------------------------------------------------------- */

/* Whether a failure is retryable under policy (defaults applied). */
bool workflow_retry_allows(const struct workflow_retry *policy, int code, int http_status);
/* The delay before the attempt after failed attempt number attempt (1-based):
 * min(base * 2^(attempt-1), max) less jitter * that * rand01 (rand01 in
 * [0, 1)), and at least retry_after_ms (-1 or 0: none), capped at
 * WORKFLOW_BACKOFF_LIMIT_MS. */
int64_t workflow_retry_delay_ms(const struct workflow_retry *policy, int attempt,
                                int64_t retry_after_ms, double rand01);
/* True for the engine's marker steps ("_end.1", "_cancel.1", "_retry.1"). */
bool workflow_step_is_marker(const char *name);
/* "none", "succeeded", "failed", "cancelled" (static). */
const char *workflow_outcome_name(enum workflow_outcome outcome);
/* "step_started", … "run_finished" (static). */
const char *workflow_event_name(enum workflow_event_kind kind);

#endif
