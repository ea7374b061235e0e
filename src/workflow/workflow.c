/* workflow — the engine object, its registry of workflows and the calls that
 * steer runs (start, cancel, retry), the step context, and the retry policy.
 *
 * Owns the engine: the options with their defaults, up to
 * WORKFLOW_WORKFLOWS_MAX borrowed workflow tables checked once when
 * registered (so execution never meets a bad table), the error text and the
 * jitter's generator (splitmix64). Cancellation is recorded, not done: it is
 * a "_cancel.G" marker step, which the worker that next holds the run turns
 * into the end of the generation and the cleanup (see workflow_plan.c); a
 * parked run is woken so that happens at once. Execution lives in
 * workflow_exec.c. */
#define _POSIX_C_SOURCE 200809L
#include "workflow/workflow_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"

#define DEFAULT_BATCH     32
#define DEFAULT_PER_CLAIM 16
#define STEP_TIMEOUT_MAX  (INT64_C(7) * 86400000) /* a week: a bound, not a policy */

/* ---- the engine ------------------------------------------------------------------ */

int wf_fail(struct workflow_engine *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->error, sizeof e->error, fmt, ap);
    va_end(ap);
    return code;
}

int wf_store_fail(struct workflow_engine *e, int code, const char *doing)
{
    return wf_fail(e, code, "%s: %s", doing, store_error(e->st));
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double wf_rand01(struct workflow_engine *e)
{
    return (double)(splitmix64(&e->rng) >> 11) * 0x1.0p-53;
}

struct workflow_engine *workflow_engine_new(struct store *st, const struct workflow_options *opts)
{
    struct workflow_engine *e = xcalloc(1, sizeof *e);
    e->st = st;
    if (opts)
        e->opts = *opts;
    if (e->opts.lease_grace_ms <= 0)
        e->opts.lease_grace_ms = WORKFLOW_LEASE_GRACE_MS;
    if (e->opts.batch == 0)
        e->opts.batch = DEFAULT_BATCH;
    if (e->opts.batch > STORE_LIST_MAX)
        e->opts.batch = STORE_LIST_MAX;
    if (e->opts.steps_per_claim <= 0)
        e->opts.steps_per_claim = DEFAULT_PER_CLAIM;
    e->rng = e->opts.seed;
    if (e->rng == 0 && getrandom(&e->rng, sizeof e->rng, 0) != (ssize_t)sizeof e->rng)
        e->rng = (uint64_t)clock_now_ns();
    return e;
}

void workflow_engine_free(struct workflow_engine *e)
{
    free(e);
}

const char *workflow_engine_error(const struct workflow_engine *e)
{
    return e->error;
}

struct store *workflow_engine_store(struct workflow_engine *e)
{
    return e->st;
}

const struct wf_entry *wf_find_def(const struct workflow_engine *e, const char *name)
{
    for (size_t i = 0; name && i < e->def_count; i++)
        if (strcmp(e->defs[i].wf->name, name) == 0)
            return &e->defs[i];
    return NULL;
}

void wf_emit(struct workflow_engine *e, const struct workflow_event *ev)
{
    if (e->opts.on_event)
        e->opts.on_event(e->opts.event_arg, ev);
    if (e->run_cb && e->run_cb_id && strcmp(e->run_cb_id, ev->run_id) == 0)
        e->run_cb(e->run_cb_arg, ev);
}

void wf_point(struct workflow_engine *e, const char *point)
{
    if (e->opts.test_point)
        e->opts.test_point(e->opts.test_arg, point);
}

int64_t wf_step_ttl(const struct workflow_engine *e, const struct workflow_step *s)
{
    int64_t timeout = s && s->timeout_ms > 0 ? s->timeout_ms : WORKFLOW_TIMEOUT_DEFAULT_MS;
    return timeout + e->opts.lease_grace_ms;
}

/* ---- checking a workflow table --------------------------------------------------- */

bool wf_store_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7e || n >= STORE_NAME_MAX)
            return false;
    return n > 0;
}

static bool step_name_valid(const char *name)
{
    if (!name || name[0] == '_' || name[0] == '\0')
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= WORKFLOW_STEP_NAME_MAX)
            return false;
    }
    return true;
}

static int check_retry(struct workflow_engine *e, const struct workflow *wf, size_t i)
{
    const struct workflow_retry *r = &wf->steps[i].retry;
    const char *what = NULL;
    if (r->max_attempts < 0 || r->max_attempts > WORKFLOW_ATTEMPTS_MAX)
        what = "max_attempts out of range";
    else if (r->base_backoff_ms < 0 || r->base_backoff_ms > WORKFLOW_BACKOFF_LIMIT_MS ||
             r->max_backoff_ms < 0 || r->max_backoff_ms > WORKFLOW_BACKOFF_LIMIT_MS)
        what = "backoff out of range";
    else if (!(r->jitter >= 0.0 && r->jitter <= 1.0))
        what = "jitter must be between 0 and 1";
    else if (r->retry_on & ~((WORKFLOW_RETRY_CONFLICT << 1) - 1))
        what = "unknown retry_on bits";
    else if (wf->steps[i].timeout_ms < 0 || wf->steps[i].timeout_ms > STEP_TIMEOUT_MAX)
        what = "timeout_ms out of range";
    if (what)
        return wf_fail(e, ERR_INVALID, "workflow %s: step %s: %s", wf->name, wf->steps[i].name,
                       what);
    return 0;
}

static int check_step(struct workflow_engine *e, const struct workflow *wf, size_t i,
                      bool *cleanup_seen)
{
    const struct workflow_step *s = &wf->steps[i];
    if (!step_name_valid(s->name))
        return wf_fail(e, ERR_INVALID,
                       "workflow %s: step %zu: invalid name \"%.60s\" (1-%d of A-Z a-z 0-9 _ -, "
                       "not starting with _)",
                       wf->name, i + 1, s->name ? s->name : "(null)", WORKFLOW_STEP_NAME_MAX);
    for (size_t j = 0; j < i; j++)
        if (strcmp(wf->steps[j].name, s->name) == 0)
            return wf_fail(e, ERR_INVALID, "workflow %s: two steps are named %s", wf->name,
                           s->name);
    if (!s->fn)
        return wf_fail(e, ERR_INVALID, "workflow %s: step %s has no function", wf->name, s->name);
    if ((unsigned)s->kind > WORKFLOW_STEP_CLEANUP)
        return wf_fail(e, ERR_INVALID, "workflow %s: step %s has an unknown kind", wf->name,
                       s->name);
    if (s->kind == WORKFLOW_STEP_CLEANUP)
        *cleanup_seen = true;
    else if (*cleanup_seen)
        return wf_fail(e, ERR_INVALID, "workflow %s: step %s comes after a cleanup step", wf->name,
                       s->name);
    return check_retry(e, wf, i);
}

int workflow_register(struct workflow_engine *e, const struct workflow *wf, void *arg)
{
    e->error[0] = '\0';
    if (!wf || !wf_store_name_valid(wf->name))
        return wf_fail(e, ERR_INVALID, "invalid workflow name \"%.80s\"",
                       wf && wf->name ? wf->name : "(null)");
    if (!wf->steps || wf->step_count == 0 || wf->step_count > WORKFLOW_STEPS_MAX)
        return wf_fail(e, ERR_INVALID, "workflow %s: 1-%d steps, not %zu", wf->name,
                       WORKFLOW_STEPS_MAX, wf->steps ? wf->step_count : 0);
    bool cleanup_seen = false;
    for (size_t i = 0; i < wf->step_count; i++) {
        int rc = check_step(e, wf, i, &cleanup_seen);
        if (rc)
            return rc;
    }
    if (wf_find_def(e, wf->name))
        return wf_fail(e, ERR_EXISTS, "workflow %s is already registered", wf->name);
    if (e->def_count == WORKFLOW_WORKFLOWS_MAX)
        return wf_fail(e, ERR_LIMIT, "more than %d workflows", WORKFLOW_WORKFLOWS_MAX);
    e->defs[e->def_count++] = (struct wf_entry){.wf = wf, .arg = arg};
    return 0;
}

/* ---- steering runs --------------------------------------------------------------- */

int workflow_start(struct workflow_engine *e, const char *workflow, const json_t *input,
                   const char *dedupe_key, bool force, char run_id[STORE_ID_MAX + 1], bool *created)
{
    e->error[0] = '\0';
    run_id[0] = '\0';
    if (created)
        *created = false;
    if (!wf_find_def(e, workflow))
        return wf_fail(e, ERR_NOT_FOUND, "no workflow named %.80s", workflow ? workflow : "");
    struct store_run_new in = {
        .workflow = workflow, .input = input, .dedupe_key = dedupe_key, .force = force};
    struct store_run run = {0};
    int rc = store_run_create(e->st, &in, &run, created);
    if (rc)
        return wf_store_fail(e, rc, "starting a run");
    memcpy(run_id, run.id, sizeof run.id);
    store_run_free(&run);
    return 0;
}

/* Wakes a parked run (PENDING or WAITING) at once; a conflict means a worker
 * has it, and that worker sees the cancellation before its next step. */
static int wake_now(struct workflow_engine *e, const char *run_id)
{
    struct store_run_transition t = {
        .from = STORE_RUN_MASK(STORE_RUN_PENDING) | STORE_RUN_MASK(STORE_RUN_WAITING),
        .to = STORE_RUN_WAITING,
        .wake_at_ms = store_now_ms(e->st),
    };
    int rc = store_run_transition(e->st, run_id, &t, NULL);
    if (rc && rc != ERR_CONFLICT)
        return wf_store_fail(e, rc, "waking a cancelled run");
    return 0;
}

static int cancel_run(struct workflow_engine *e, struct store_run *run, const char *reason)
{
    if (store_run_status_final(run->status))
        return wf_fail(e, ERR_CONFLICT, "run %s is already %s", run->id,
                       store_run_status_name(run->status));
    /* A failed run that was retried and not picked up yet: begin its new
     * generation here, so the cancellation applies to it. That needs the
     * table (which steps are cleanup steps); nothing else does. */
    const struct wf_entry *def = wf_find_def(e, run->workflow);
    if (!def && run->status == STORE_RUN_PENDING && run->step_count > 0)
        return wf_fail(e, ERR_INVALID, "run %s: workflow %s is not registered here", run->id,
                       run->workflow);
    bool recorded = false;
    int rc = def ? wf_begin_retry(e, def, run, &recorded) : 0;
    if (rc)
        return rc;
    if (recorded) {
        char id[STORE_ID_MAX + 1];
        memcpy(id, run->id, sizeof id);
        store_run_free(run);
        if ((rc = store_run_get(e->st, id, true, run)) != 0)
            return wf_store_fail(e, rc, "cancelling a run");
    }
    struct wf_gen g;
    wf_gen_read(run, &g);
    if (g.end) {
        const char *why = NULL;
        enum workflow_outcome o = wf_end_outcome(g.end, &why);
        return wf_fail(e, ERR_CONFLICT, "run %s is already ending (%s); its cleanup is running",
                       run->id, workflow_outcome_name(o));
    }
    if (!g.cancel) {
        char name[STORE_NAME_MAX + 1];
        wf_marker_name(WF_MARKER_CANCEL, g.generation, name, sizeof name);
        json_t *out = json_pack("{s:s}", "reason", reason ? reason : "");
        rc = store_step_succeed(e->st, run->id, name, out, run->current_step);
        json_decref(out);
        if (rc && rc != ERR_EXISTS)
            return wf_store_fail(e, rc, "recording the cancellation");
    }
    return wake_now(e, run->id);
}

int workflow_cancel(struct workflow_engine *e, const char *run_id, const char *reason)
{
    e->error[0] = '\0';
    struct store_run run = {0};
    int rc = store_run_get(e->st, run_id, true, &run);
    if (rc)
        rc = wf_store_fail(e, rc, "cancelling a run");
    else
        rc = cancel_run(e, &run, reason);
    store_run_free(&run);
    return rc;
}

int workflow_retry(struct workflow_engine *e, const char *run_id)
{
    e->error[0] = '\0';
    int rc = store_run_retry(e->st, run_id);
    return rc ? wf_store_fail(e, rc, "retrying a run") : 0;
}

/* ---- the step context ------------------------------------------------------------ */

const char *workflow_ctx_run_id(const struct workflow_ctx *ctx)
{
    return ctx->run->id;
}

const char *workflow_ctx_workflow(const struct workflow_ctx *ctx)
{
    return ctx->def->wf->name;
}

const char *workflow_ctx_step(const struct workflow_ctx *ctx)
{
    return ctx->name;
}

const char *workflow_ctx_idempotency_key(const struct workflow_ctx *ctx)
{
    return ctx->has_key ? ctx->key : NULL;
}

void *workflow_ctx_arg(const struct workflow_ctx *ctx)
{
    return ctx->def->arg;
}

int workflow_ctx_attempt(const struct workflow_ctx *ctx)
{
    return ctx->attempt;
}

int workflow_ctx_max_attempts(const struct workflow_ctx *ctx)
{
    return ctx->max_attempts;
}

int64_t workflow_ctx_now_ms(const struct workflow_ctx *ctx)
{
    return store_now_ms(ctx->e->st);
}

int64_t workflow_ctx_deadline_ms(const struct workflow_ctx *ctx)
{
    return ctx->deadline_ms;
}

bool workflow_ctx_stopping(const struct workflow_ctx *ctx)
{
    return ctx->e->opts.stop && *ctx->e->opts.stop;
}

volatile sig_atomic_t *workflow_ctx_stop_flag(const struct workflow_ctx *ctx)
{
    return ctx->e->opts.stop;
}

int workflow_ctx_heartbeat(struct workflow_ctx *ctx)
{
    struct workflow_engine *e = ctx->e;
    if (ctx->lease_lost)
        return ERR_CONFLICT;
    int rc = store_lease_acquire(e->st, ctx->lease, ctx->owner, ctx->ttl_ms, NULL);
    if (rc == 0) {
        struct store_run_transition t = {.from = STORE_RUN_MASK(STORE_RUN_RUNNING),
                                         .to = STORE_RUN_RUNNING,
                                         .wake_at_ms = store_now_ms(e->st) + ctx->ttl_ms};
        rc = store_run_transition(e->st, ctx->run->id, &t, NULL);
    }
    if (rc == ERR_CONFLICT)
        ctx->lease_lost = true;
    return rc ? wf_store_fail(e, rc, "renewing a run's lease") : 0;
}

enum workflow_outcome workflow_ctx_outcome(const struct workflow_ctx *ctx)
{
    return ctx->outcome;
}

const char *workflow_ctx_reason(const struct workflow_ctx *ctx)
{
    return ctx->reason;
}

void workflow_ctx_wait_for(struct workflow_ctx *ctx, int64_t ms)
{
    workflow_ctx_wait_until(ctx, store_now_ms(ctx->e->st) + (ms > 0 ? ms : 0));
}

void workflow_ctx_wait_until(struct workflow_ctx *ctx, int64_t at_ms)
{
    ctx->wait_set = true;
    ctx->wake_at_ms = at_ms > 0 ? at_ms : 0;
}

void workflow_ctx_set_http_status(struct workflow_ctx *ctx, int status)
{
    ctx->http_status = status;
}

void workflow_ctx_retry_after(struct workflow_ctx *ctx, int64_t ms)
{
    ctx->retry_after_ms = ms > 0 ? ms : 0;
}

void workflow_ctx_set_retryable(struct workflow_ctx *ctx, bool retryable)
{
    ctx->retryable = retryable ? 1 : 0;
}

/* ---- policy and names ------------------------------------------------------------ */

struct workflow_retry wf_policy(const struct workflow_retry *policy)
{
    struct workflow_retry p = policy ? *policy : (struct workflow_retry){0};
    if (p.max_attempts <= 0)
        p.max_attempts = WORKFLOW_ATTEMPTS_DEFAULT;
    if (p.max_attempts > WORKFLOW_ATTEMPTS_MAX)
        p.max_attempts = WORKFLOW_ATTEMPTS_MAX;
    if (p.base_backoff_ms <= 0)
        p.base_backoff_ms = WORKFLOW_BACKOFF_DEFAULT_MS;
    if (p.max_backoff_ms <= 0)
        p.max_backoff_ms = WORKFLOW_BACKOFF_CAP_MS;
    if (p.max_backoff_ms < p.base_backoff_ms)
        p.max_backoff_ms = p.base_backoff_ms;
    if (!(p.jitter >= 0.0))
        p.jitter = 0.0;
    if (p.jitter > 1.0)
        p.jitter = 1.0;
    if (p.retry_on == 0)
        p.retry_on = WORKFLOW_RETRY_DEFAULT;
    return p;
}

bool workflow_retry_allows(const struct workflow_retry *policy, int code, int http_status)
{
    struct workflow_retry p = wf_policy(policy);
    if (p.retryable)
        return p.retryable(code, http_status);
    switch (code) {
    case ERR_NETWORK:
        return p.retry_on & WORKFLOW_RETRY_NETWORK;
    case ERR_TIMEOUT:
        return p.retry_on & WORKFLOW_RETRY_TIMEOUT;
    case ERR_RATE_LIMIT:
        return p.retry_on & WORKFLOW_RETRY_RATE_LIMIT;
    case ERR_IO:
        return p.retry_on & WORKFLOW_RETRY_IO;
    case ERR_CONFLICT:
        return p.retry_on & WORKFLOW_RETRY_CONFLICT;
    case ERR_HTTP:
        if (http_status == 408)
            return p.retry_on & WORKFLOW_RETRY_TIMEOUT;
        if (http_status == 429)
            return p.retry_on & WORKFLOW_RETRY_RATE_LIMIT;
        return http_status >= 500 && http_status <= 599 && (p.retry_on & WORKFLOW_RETRY_HTTP_5XX);
    default:
        return false;
    }
}

int64_t workflow_retry_delay_ms(const struct workflow_retry *policy, int attempt,
                                int64_t retry_after_ms, double rand01)
{
    struct workflow_retry p = wf_policy(policy);
    int64_t delay = p.base_backoff_ms;
    for (int i = 1; i < attempt && delay < p.max_backoff_ms; i++)
        delay *= 2;
    if (delay > p.max_backoff_ms)
        delay = p.max_backoff_ms;
    if (rand01 < 0.0 || !(rand01 < 1.0))
        rand01 = 0.0;
    delay -= (int64_t)llround((double)delay * p.jitter * rand01);
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return delay > WORKFLOW_BACKOFF_LIMIT_MS ? WORKFLOW_BACKOFF_LIMIT_MS : delay;
}

bool workflow_step_is_marker(const char *name)
{
    return name && name[0] == '_';
}

const char *workflow_outcome_name(enum workflow_outcome outcome)
{
    static const char *const names[] = {"none", "succeeded", "failed", "cancelled"};
    return (unsigned)outcome < sizeof names / sizeof names[0] ? names[outcome] : "unknown";
}

const char *workflow_event_name(enum workflow_event_kind kind)
{
    static const char *const names[] = {"step_started",    "step_succeeded", "step_failed",
                                        "retry_scheduled", "waiting",        "run_finished"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}
