/* workflow_exec — moving runs: leases, claims, steps, timers, final statuses.
 *
 * Owns the execution of one run by one worker ("a claim") and the loops made
 * of claims (workflow_tick, workflow_run_step, workflow_run_to_end,
 * workflow_work). A claim takes the run's lease, re-reads the run, makes it
 * RUNNING with a deadline equal to the lease's expiry, then repeats: read
 * the run with its steps, ask workflow_plan.c what comes next, do exactly
 * that one thing with one store transaction at its heart (record a step, an
 * end marker, a timer, a final status) — so a crash between any two of them
 * leaves a state the next reader continues from. Before and after every
 * step function the lease and the deadline are renewed for the step's
 * timeout plus grace; a worker that finds its lease taken records nothing
 * and walks away (the step's effects are keyed, the other worker's record
 * wins). A step that fails retryably is recorded failed and the run parked
 * WAITING until its backoff ends; after any park the worker looks once more
 * for a cancellation recorded meanwhile and, if there is one, wakes the run
 * so it is not slept through. The lease is released when the claim ends. */
#define _POSIX_C_SOURCE 200809L
#include "workflow/workflow_internal.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

#define BUSY_POLL_MS         1000 /* run_to_end: how often to look at a run another worker has */
#define BUSY_MIN_MS          10
#define WORK_POLL_DEFAULT_MS 1000
#define REASON_MAX           (WORKFLOW_STEP_ERROR_MAX + 256)

struct claim {
    struct workflow_engine *e;
    const char *owner;
    const struct wf_entry *def;
    char run_id[STORE_ID_MAX + 1];
    char lease[STORE_NAME_MAX + 1];
    struct store_run run; /* the latest read, with its steps */
    bool held;            /* the lease is ours, as far as we know */
    enum workflow_step_result result;
    int64_t wake_at_ms;
};

enum flow { FLOW_CONTINUE, FLOW_STOP };

static int64_t now_ms(struct claim *c)
{
    return store_now_ms(c->e->st);
}

static int reload(struct claim *c)
{
    store_run_free(&c->run);
    int rc = store_run_get(c->e->st, c->run_id, true, &c->run);
    return rc ? wf_store_fail(c->e, rc, "reading a run") : 0;
}

static void stop_with(struct claim *c, enum workflow_step_result result, int64_t wake_at_ms)
{
    c->result = result;
    c->wake_at_ms = wake_at_ms;
}

/* ERR_CONFLICT is returned as is (the caller decides); other errors are explained. */
static int transition(struct claim *c, unsigned from, enum store_run_status to, int64_t wake_at,
                      const char *error)
{
    struct store_run_transition t = {.from = from, .to = to, .wake_at_ms = wake_at, .error = error};
    int rc = store_run_transition(c->e->st, c->run_id, &t, NULL);
    if (rc && rc != ERR_CONFLICT)
        return wf_store_fail(c->e, rc, "changing a run's status");
    return rc;
}

static void event_init(struct claim *c, struct workflow_event *ev, enum workflow_event_kind kind,
                       const struct wf_plan *p)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->run_id = c->run_id;
    ev->workflow = c->def->wf->name;
    ev->step_count = c->def->wf->step_count;
    if (p && p->action == WF_RUN) {
        ev->step = p->name;
        ev->step_index = p->index;
    }
}

/* Renews the lease and the run's deadline for ttl: 0, ERR_CONFLICT when the
 * run was taken over (or its status changed under us), or an error. */
static int renew(struct claim *c, int64_t ttl)
{
    int rc = store_lease_acquire(c->e->st, c->lease, c->owner, ttl, NULL);
    if (rc == ERR_CONFLICT) {
        c->held = false;
        return ERR_CONFLICT;
    }
    if (rc)
        return wf_store_fail(c->e, rc, "renewing a run's lease");
    return transition(c, STORE_RUN_MASK(STORE_RUN_RUNNING), STORE_RUN_RUNNING, now_ms(c) + ttl,
                      NULL);
}

/* Leaves the run due at once for the next worker (or the next tick). */
static int yield(struct claim *c, enum workflow_step_result result)
{
    stop_with(c, result, now_ms(c));
    if (!c->held)
        return 0;
    int rc = transition(c, STORE_RUN_MASK(STORE_RUN_RUNNING), STORE_RUN_RUNNING, now_ms(c), NULL);
    return rc == ERR_CONFLICT ? 0 : rc;
}

static int abandon(struct claim *c, const char *why)
{
    log_warn("workflow", "run %s: %s; leaving it to the next worker", c->run_id, why);
    return yield(c, WORKFLOW_RESULT_ABANDONED);
}

/* Parks the run until wake_at; wakes it again at once if a cancellation was
 * recorded while we held it (workflow_cancel could not wake a RUNNING run). */
static int park(struct claim *c, const struct wf_gen *g, int64_t wake_at)
{
    int rc = transition(c, STORE_RUN_MASK(STORE_RUN_RUNNING), STORE_RUN_WAITING, wake_at, NULL);
    if (rc == ERR_CONFLICT) {
        stop_with(c, WORKFLOW_RESULT_ABANDONED, now_ms(c));
        return 0;
    }
    if (rc)
        return rc;
    stop_with(c, WORKFLOW_RESULT_WAITING, wake_at);
    wf_point(c->e, "run.waiting");
    char name[STORE_NAME_MAX + 1];
    wf_marker_name(WF_MARKER_CANCEL, g->generation, name, sizeof name);
    struct store_step cancel = {0};
    if (!g->cancel && store_step_get(c->e->st, c->run_id, name, &cancel) == 0) {
        int64_t now = now_ms(c);
        rc = transition(c, STORE_RUN_MASK(STORE_RUN_WAITING), STORE_RUN_WAITING, now, NULL);
        stop_with(c, WORKFLOW_RESULT_WAITING, now);
    }
    store_step_free(&cancel);
    return rc == ERR_CONFLICT ? 0 : rc;
}

/* Records "_end.G": the main steps are over, the cleanup comes next. */
static int record_end(struct claim *c, int generation, enum workflow_outcome outcome,
                      const char *step, const char *reason)
{
    char name[STORE_NAME_MAX + 1], next[STORE_NAME_MAX + 1];
    wf_marker_name(WF_MARKER_END, generation, name, sizeof name);
    wf_first_cleanup_name(c->def->wf, generation, next, sizeof next);
    json_t *out = json_pack("{s:s}", "outcome", workflow_outcome_name(outcome));
    if (step)
        json_object_set_new(out, "step", json_string(step));
    if (reason)
        json_object_set_new(out, "error", json_string(reason));
    int rc = store_step_succeed(c->e->st, c->run_id, name, out, next);
    json_decref(out);
    if (rc && rc != ERR_EXISTS)
        return wf_store_fail(c->e, rc, "recording the end of a run");
    wf_point(c->e, "end.recorded");
    return 0;
}

static void emit_finished(struct claim *c, enum store_run_status status, const char *error)
{
    struct workflow_event ev;
    event_init(c, &ev, WORKFLOW_EVENT_RUN_FINISHED, NULL);
    ev.status = status;
    ev.error = error && *error ? error : NULL;
    wf_emit(c->e, &ev);
}

/* Gives the run its final status (error: its last_error, "" to clear it). */
static int finish(struct claim *c, enum store_run_status status, const char *error)
{
    wf_point(c->e, "run.finishing");
    int rc = transition(c, STORE_RUN_MASK(STORE_RUN_RUNNING), status, 0, error);
    if (rc == ERR_CONFLICT) {
        stop_with(c, WORKFLOW_RESULT_ABANDONED, now_ms(c));
        return 0;
    }
    if (rc)
        return rc;
    stop_with(c, WORKFLOW_RESULT_FINISHED, 0);
    emit_finished(c, status, error);
    wf_point(c->e, "run.finished");
    return 0;
}

static int finish_planned(struct claim *c, const struct wf_plan *p)
{
    switch (p->outcome) {
    case WORKFLOW_OUTCOME_SUCCEEDED:
        return finish(c, STORE_RUN_SUCCEEDED, "");
    case WORKFLOW_OUTCOME_CANCELLED:
        return finish(c, STORE_RUN_CANCELLED, p->reason ? p->reason : "cancelled");
    default:
        return finish(c, STORE_RUN_FAILED, p->reason ? p->reason : "failed");
    }
}

/* ---- one step -------------------------------------------------------------------- */

struct attempt {
    const struct wf_plan *p;
    const struct workflow_step *s;
    struct workflow_retry policy;
    struct workflow_ctx *ctx;
    int64_t took_ms;
};

static void emit_step(struct claim *c, const struct attempt *a, enum workflow_event_kind kind,
                      int code, const char *error, int64_t wake_at)
{
    struct workflow_event ev;
    event_init(c, &ev, kind, a->p);
    ev.attempt = a->ctx ? a->ctx->attempt : 0;
    ev.max_attempts = a->policy.max_attempts;
    ev.duration_ms = a->took_ms;
    ev.code = code;
    ev.error = error;
    ev.wake_at_ms = wake_at;
    wf_emit(c->e, &ev);
}

/* The step failed for good: the run's main steps end as failed, or, for a
 * cleanup step, the run fails with both reasons (workflow_retry resumes it). */
static int give_up(struct claim *c, const struct attempt *a, int code, const char *msg, int attempt,
                   bool retryable, enum flow *flow)
{
    const struct wf_plan *p = a->p;
    int rc = store_step_fail(c->e->st, c->run_id, p->name, msg);
    if (rc == ERR_EXISTS) {
        *flow = FLOW_CONTINUE; /* another worker recorded its output meanwhile */
        return 0;
    }
    if (rc)
        return wf_store_fail(c->e, rc, "recording a step's failure");
    emit_step(c, a, WORKFLOW_EVENT_STEP_FAILED, code, msg, 0);
    wf_point(c->e, "step.failed");
    char reason[REASON_MAX];
    if (retryable)
        snprintf(reason, sizeof reason, "step %s failed after %d attempt%s: %s", p->name, attempt,
                 attempt == 1 ? "" : "s", msg);
    else
        snprintf(reason, sizeof reason, "step %s failed: %s", p->name, msg);
    if (a->s->kind != WORKFLOW_STEP_CLEANUP) {
        *flow = FLOW_CONTINUE;
        return record_end(c, p->gen.generation, WORKFLOW_OUTCOME_FAILED, p->name, reason);
    }
    char error[2 * REASON_MAX];
    if (p->outcome == WORKFLOW_OUTCOME_SUCCEEDED)
        snprintf(error, sizeof error, "%s (the run itself had succeeded)", reason);
    else
        snprintf(error, sizeof error, "%s (after: %s)", reason, p->reason ? p->reason : "?");
    return finish(c, STORE_RUN_FAILED, error);
}

static int record_failure(struct claim *c, const struct attempt *a, int code, const char *err,
                          enum flow *flow)
{
    const struct workflow_ctx *ctx = a->ctx;
    bool retryable = ctx->retryable >= 0
                         ? ctx->retryable == 1
                         : workflow_retry_allows(&a->policy, code, ctx->http_status);
    char msg[WORKFLOW_STEP_ERROR_MAX + 64];
    snprintf(msg, sizeof msg, "%s: %s", err_name(code), err[0] ? err : err_message(code));
    if (!retryable || ctx->attempt >= a->policy.max_attempts)
        return give_up(c, a, code, msg, ctx->attempt, retryable, flow);
    int64_t delay =
        workflow_retry_delay_ms(&a->policy, ctx->attempt, ctx->retry_after_ms, wf_rand01(c->e));
    int rc = store_step_fail(c->e->st, c->run_id, a->p->name, msg);
    if (rc == ERR_EXISTS) {
        *flow = FLOW_CONTINUE;
        return 0;
    }
    if (rc)
        return wf_store_fail(c->e, rc, "recording a step's failure");
    emit_step(c, a, WORKFLOW_EVENT_STEP_FAILED, code, msg, 0);
    wf_point(c->e, "step.failed");
    int64_t wake_at = now_ms(c) + delay;
    if ((rc = park(c, &a->p->gen, wake_at)) != 0)
        return rc;
    emit_step(c, a, WORKFLOW_EVENT_RETRY_SCHEDULED, code, msg, c->wake_at_ms);
    return 0;
}

/* A WAIT step's output: the step's own object (or {"output": it}) with the
 * wake-up time the plan reads back. Takes output; returns a new value. */
static json_t *wait_output(json_t *output, int64_t wake_at)
{
    if (!json_is_object(output)) {
        json_t *wrapped = json_object();
        if (output)
            json_object_set_new(wrapped, "output", output);
        output = wrapped;
    }
    json_object_set_new(output, "wake_at_ms", json_integer(wake_at));
    return output;
}

static int record_success(struct claim *c, const struct attempt *a, json_t *output, enum flow *flow)
{
    const struct wf_plan *p = a->p;
    if (a->s->kind == WORKFLOW_STEP_WAIT)
        output = wait_output(output, a->ctx->wait_set ? a->ctx->wake_at_ms : now_ms(c));
    char next[STORE_NAME_MAX + 1];
    wf_next_name(c->def->wf, p->index, p->gen.generation, next, sizeof next);
    int rc = store_step_succeed(c->e->st, c->run_id, p->name, output, next);
    json_decref(output);
    *flow = FLOW_CONTINUE;
    if (rc == ERR_EXISTS) {
        log_info("workflow", "run %s: step %s was recorded by another worker; using that",
                 c->run_id, p->name);
        return 0;
    }
    if (rc == ERR_LIMIT || rc == ERR_INVALID) {
        char msg[STORE_ERROR_MAX + 64];
        snprintf(msg, sizeof msg, "%s: its output cannot be recorded: %s", err_name(rc),
                 store_error(c->e->st));
        return give_up(c, a, rc, msg, a->ctx->attempt, false, flow);
    }
    if (rc)
        return wf_store_fail(c->e, rc, "recording a step's output");
    emit_step(c, a, WORKFLOW_EVENT_STEP_SUCCEEDED, 0, NULL, 0);
    wf_point(c->e, "step.recorded");
    return 0;
}

static void ctx_init(struct claim *c, const struct attempt *a, int attempt, int64_t ttl,
                     struct workflow_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->e = c->e;
    ctx->owner = c->owner;
    ctx->lease = c->lease;
    ctx->run = &c->run;
    ctx->def = c->def;
    ctx->step = a->s;
    ctx->name = a->p->name;
    ctx->attempt = attempt;
    ctx->max_attempts = a->policy.max_attempts;
    ctx->ttl_ms = ttl;
    ctx->deadline_ms =
        now_ms(c) + (a->s->timeout_ms > 0 ? a->s->timeout_ms : WORKFLOW_TIMEOUT_DEFAULT_MS);
    ctx->outcome = a->p->outcome;
    ctx->reason = a->p->reason;
    ctx->retryable = -1;
    if (a->s->effects) {
        snprintf(ctx->key, sizeof ctx->key, "%s.%s", c->run_id, a->p->name);
        ctx->has_key = true;
    }
}

/* Starts the attempt in the store: 0 with *attempt, or ERR_EXISTS when the
 * step's output is recorded already. */
static int start_attempt(struct claim *c, const struct wf_plan *p, int *attempt)
{
    wf_point(c->e, "step.starting");
    struct store_step rec = {0};
    int rc = store_step_start(c->e->st, c->run_id, p->name, &rec);
    if (rc == 0)
        *attempt = rec.attempts - p->attempts_before > 0 ? rec.attempts - p->attempts_before : 1;
    store_step_free(&rec);
    if (rc && rc != ERR_EXISTS)
        return wf_store_fail(c->e, rc, "starting a step");
    return rc;
}

static int run_step(struct claim *c, const struct wf_plan *p, enum flow *flow)
{
    const struct workflow_step *s = &c->def->wf->steps[p->index];
    struct attempt a = {.p = p, .s = s, .policy = wf_policy(&s->retry)};
    int64_t ttl = wf_step_ttl(c->e, s);
    *flow = FLOW_STOP;
    int rc = renew(c, ttl);
    if (rc)
        return rc == ERR_CONFLICT ? abandon(c, "another worker has it") : rc;
    if (p->record && p->record->status == STORE_STEP_RUNNING &&
        p->record->attempts - p->attempts_before >= a.policy.max_attempts) {
        /* Its last attempt was in flight when its worker died. */
        char msg[160];
        snprintf(msg, sizeof msg, "TIMEOUT: the worker running attempt %d was lost",
                 p->record->attempts - p->attempts_before);
        return give_up(c, &a, ERR_TIMEOUT, msg, p->record->attempts - p->attempts_before, true,
                       flow);
    }
    int attempt = 0;
    rc = start_attempt(c, p, &attempt);
    if (rc == ERR_EXISTS)
        *flow = FLOW_CONTINUE;
    if (rc)
        return rc == ERR_EXISTS ? 0 : rc;
    struct workflow_ctx ctx;
    ctx_init(c, &a, attempt, ttl, &ctx);
    a.ctx = &ctx;
    emit_step(c, &a, WORKFLOW_EVENT_STEP_STARTED, 0, NULL, 0);
    json_t *outputs = wf_outputs(c->def->wf, &c->run, p->gen.generation);
    wf_point(c->e, "step.started");
    int64_t t0 = now_ms(c);
    json_t *output = NULL;
    char err[WORKFLOW_STEP_ERROR_MAX] = "";
    int code = s->fn(&ctx, c->run.input, outputs, &output, err, sizeof err);
    json_decref(outputs);
    a.took_ms = now_ms(c) - t0;
    wf_point(c->e, "step.returned");
    if (code > 0) {
        snprintf(err, sizeof err, "the step returned %d, not 0 or an error code", code);
        code = ERR_INVALID;
    }
    if (code) {
        json_decref(output);
        output = NULL;
    }
    bool stopping = code && c->e->opts.stop && *c->e->opts.stop;
    if (!ctx.lease_lost && !stopping && (rc = renew(c, ttl)) == 0)
        return code ? record_failure(c, &a, code, err, flow) : record_success(c, &a, output, flow);
    if (!code)
        json_decref(output);
    if (rc && rc != ERR_CONFLICT)
        return rc;
    if (ctx.lease_lost)
        c->held = false;
    return abandon(c, stopping ? "the worker is stopping"
                               : "another worker took it over during the step");
}

/* ---- claims ---------------------------------------------------------------------- */

int wf_begin_retry(struct workflow_engine *e, const struct wf_entry *def,
                   const struct store_run *run, bool *recorded)
{
    *recorded = false;
    struct wf_gen g;
    wf_gen_read(run, &g);
    json_t *marker = NULL;
    if (!wf_retry_due(def->wf, run, &g, &marker))
        return 0;
    char name[STORE_NAME_MAX + 1];
    wf_marker_name(WF_MARKER_RETRY, g.retries + 1, name, sizeof name);
    int rc = store_step_succeed(e->st, run->id, name, marker, run->current_step);
    json_decref(marker);
    if (rc && rc != ERR_EXISTS)
        return wf_store_fail(e, rc, "recording a retry");
    *recorded = true;
    return 0;
}

/* With the lease held: makes the run RUNNING if it is ours to move. */
static int claim(struct claim *c, bool *claimed)
{
    *claimed = false;
    int rc = reload(c);
    if (rc)
        return rc;
    enum store_run_status status = c->run.status;
    int64_t now = now_ms(c);
    if (store_run_status_final(status)) {
        stop_with(c, WORKFLOW_RESULT_FINISHED, 0);
        return 0;
    }
    if (status != STORE_RUN_RUNNING && c->run.wake_at_ms > now) {
        stop_with(c, WORKFLOW_RESULT_WAITING, c->run.wake_at_ms);
        return 0;
    }
    bool recorded = false;
    if (status == STORE_RUN_PENDING && (rc = wf_begin_retry(c->e, c->def, &c->run, &recorded)))
        return rc;
    rc = transition(c, STORE_RUN_MASK(status), STORE_RUN_RUNNING, now + wf_step_ttl(c->e, NULL),
                    NULL);
    if (rc == ERR_CONFLICT) {
        stop_with(c, WORKFLOW_RESULT_BUSY, now);
        return 0;
    }
    if (rc)
        return rc;
    *claimed = true;
    wf_point(c->e, "claimed");
    return 0;
}

static int drive(struct claim *c, int max_steps)
{
    /* Every action but a step is bookkeeping that moves the plan on; the
     * bound only guards against a plan that would not move (a bug or a
     * hand-edited database): the run is then left due for another look. */
    int actions_max = 4 * max_steps + 4 * WORKFLOW_STEPS_MAX;
    for (int steps = 0, actions = 0;; actions++) {
        if (actions == actions_max) {
            log_warn("workflow", "run %s: no progress after %d actions", c->run_id, actions);
            return yield(c, WORKFLOW_RESULT_STEPPED);
        }
        int rc = reload(c);
        if (rc)
            return rc;
        if (c->run.status != STORE_RUN_RUNNING) { /* changed under us (a raw store call) */
            bool final = store_run_status_final(c->run.status);
            stop_with(c, final ? WORKFLOW_RESULT_FINISHED : WORKFLOW_RESULT_ABANDONED,
                      c->run.wake_at_ms);
            return 0;
        }
        struct wf_plan p;
        wf_plan_make(c->def->wf, &c->run, now_ms(c), &p);
        enum flow flow = FLOW_STOP;
        char reason[REASON_MAX];
        switch (p.action) {
        case WF_WAIT:
            if ((rc = park(c, &p.gen, p.wake_at_ms)) == 0 && c->wake_at_ms == p.wake_at_ms) {
                struct workflow_event ev;
                event_init(c, &ev, WORKFLOW_EVENT_WAITING, NULL);
                ev.wake_at_ms = p.wake_at_ms;
                wf_emit(c->e, &ev);
            }
            break;
        case WF_END:
            snprintf(reason, sizeof reason, "cancelled%s%s", p.reason && *p.reason ? ": " : "",
                     p.reason ? p.reason : "");
            rc = record_end(c, p.gen.generation, p.outcome, NULL,
                            p.outcome == WORKFLOW_OUTCOME_CANCELLED ? reason : NULL);
            flow = FLOW_CONTINUE;
            break;
        case WF_FINISH:
            rc = finish_planned(c, &p);
            break;
        case WF_RUN:
            if (steps++ >= max_steps)
                rc = yield(c, WORKFLOW_RESULT_STEPPED);
            else
                rc = run_step(c, &p, &flow);
            if (rc == 0 && flow == FLOW_CONTINUE)
                stop_with(c, WORKFLOW_RESULT_STEPPED, 0);
            break;
        }
        if (rc || flow == FLOW_STOP)
            return rc;
    }
}

int wf_advance(struct workflow_engine *e, const char *owner, const char *run_id, int max_steps,
               enum workflow_step_result *result, int64_t *wake_at_ms, bool *moved)
{
    struct claim c = {.e = e, .owner = owner, .result = WORKFLOW_RESULT_BUSY};
    *moved = false;
    int rc = store_run_get(e->st, run_id, false, &c.run);
    if (rc) {
        rc = wf_store_fail(e, rc, "reading a run");
        goto out;
    }
    snprintf(c.run_id, sizeof c.run_id, "%s", c.run.id);
    snprintf(c.lease, sizeof c.lease, WF_LEASE_PREFIX "%s", c.run.id);
    if (!(c.def = wf_find_def(e, c.run.workflow))) {
        rc = wf_fail(e, ERR_INVALID, "run %s: workflow %s is not registered here", c.run_id,
                     c.run.workflow);
        goto out;
    }
    if (store_run_status_final(c.run.status)) {
        stop_with(&c, WORKFLOW_RESULT_FINISHED, 0);
        goto out;
    }
    struct store_lease holder = {0};
    rc = store_lease_acquire(e->st, c.lease, owner, wf_step_ttl(e, NULL), &holder);
    if (rc == ERR_CONFLICT) {
        stop_with(&c, WORKFLOW_RESULT_BUSY, holder.expires_ms);
        rc = 0;
        goto out;
    }
    if (rc) {
        rc = wf_store_fail(e, rc, "taking a run's lease");
        goto out;
    }
    c.held = true;
    bool claimed = false;
    rc = claim(&c, &claimed);
    if (rc == 0 && claimed) {
        *moved = true;
        rc = drive(&c, max_steps);
        if (rc && c.held) /* a store error: let the next worker try at once */
            yield(&c, WORKFLOW_RESULT_ABANDONED);
    }
    if (c.held)
        store_lease_release(e->st, c.lease, owner);
out:
    *result = c.result;
    *wake_at_ms = c.wake_at_ms;
    store_run_free(&c.run);
    return rc;
}

/* ---- the loops ------------------------------------------------------------------- */

static int check_owner(struct workflow_engine *e, const char *owner)
{
    e->error[0] = '\0';
    if (!wf_store_name_valid(owner))
        return wf_fail(e, ERR_INVALID, "invalid worker name \"%.80s\"", owner ? owner : "(null)");
    return 0;
}

int workflow_tick(struct workflow_engine *e, const char *owner, size_t *advanced)
{
    if (advanced)
        *advanced = 0;
    int rc = check_owner(e, owner);
    if (rc)
        return rc;
    struct store_run_list due = {0};
    if ((rc = store_run_due(e->st, e->opts.batch, &due)) != 0)
        return wf_store_fail(e, rc, "listing due runs");
    int last = 0;
    char last_error[WORKFLOW_ERROR_MAX] = "";
    for (size_t i = 0; i < due.count && !(e->opts.stop && *e->opts.stop); i++) {
        if (!wf_find_def(e, due.items[i].workflow))
            continue; /* another worker's workflow */
        enum workflow_step_result result;
        int64_t wake;
        bool moved = false;
        rc = wf_advance(e, owner, due.items[i].id, e->opts.steps_per_claim, &result, &wake, &moved);
        if (rc) {
            log_warn("workflow", "run %s: %s", due.items[i].id, e->error);
            last = rc;
            snprintf(last_error, sizeof last_error, "%s", e->error);
        } else if (moved && advanced) {
            (*advanced)++;
        }
    }
    store_run_list_free(&due);
    snprintf(e->error, sizeof e->error, "%s", last_error);
    return last;
}

int workflow_run_step(struct workflow_engine *e, const char *owner, const char *run_id,
                      enum workflow_step_result *result, int64_t *wake_at_ms)
{
    enum workflow_step_result r = WORKFLOW_RESULT_BUSY;
    int64_t wake = 0;
    bool moved = false;
    int rc = check_owner(e, owner);
    if (rc == 0)
        rc = wf_advance(e, owner, run_id, 1, &r, &wake, &moved);
    if (result)
        *result = r;
    if (wake_at_ms)
        *wake_at_ms = wake;
    return rc;
}

static int sleep_ms(struct workflow_engine *e, int64_t ms, volatile sig_atomic_t *cancel)
{
    if (e->opts.sleep_ms)
        return e->opts.sleep_ms(e->opts.sleep_arg, ms, cancel);
    return clock_sleep_ms(ms, cancel);
}

static bool flag_set(volatile sig_atomic_t *flag)
{
    return flag && *flag;
}

/* How long run_to_end sleeps after a result (0: go on at once). */
static int64_t pause_after(enum workflow_step_result r, int64_t wake, int64_t now)
{
    switch (r) {
    case WORKFLOW_RESULT_WAITING:
        return wake > now ? wake - now : 0;
    case WORKFLOW_RESULT_BUSY: {
        int64_t until = wake > now ? wake - now : 0;
        if (until > BUSY_POLL_MS)
            until = BUSY_POLL_MS;
        return until < BUSY_MIN_MS ? BUSY_MIN_MS : until;
    }
    case WORKFLOW_RESULT_ABANDONED:
        return BUSY_MIN_MS;
    default:
        return 0;
    }
}

static int to_end(struct workflow_engine *e, const char *owner, const char *run_id,
                  int64_t timeout_ms, volatile sig_atomic_t *cancel, enum store_run_status *final)
{
    int64_t deadline = timeout_ms > 0 ? store_now_ms(e->st) + timeout_ms : 0;
    for (;;) {
        if (flag_set(cancel) || flag_set(e->opts.stop))
            return wf_fail(e, ERR_CANCELED, "stopped waiting for run %s", run_id);
        enum workflow_step_result r;
        int64_t wake = 0;
        bool moved = false;
        int rc = wf_advance(e, owner, run_id, e->opts.steps_per_claim, &r, &wake, &moved);
        if (rc)
            return rc;
        if (r == WORKFLOW_RESULT_FINISHED) {
            struct store_run run = {0};
            if ((rc = store_run_get(e->st, run_id, false, &run)) != 0)
                return wf_store_fail(e, rc, "reading a run");
            if (final)
                *final = run.status;
            store_run_free(&run);
            return 0;
        }
        int64_t now = store_now_ms(e->st);
        int64_t pause = pause_after(r, wake, now);
        if (deadline && now >= deadline)
            return wf_fail(e, ERR_TIMEOUT, "run %s is not finished after %lld ms", run_id,
                           (long long)timeout_ms);
        if (deadline && pause > deadline - now)
            pause = deadline - now; /* one more look at the deadline, then give up */
        if (pause > 0 && sleep_ms(e, pause, cancel) == ERR_CANCELED)
            return wf_fail(e, ERR_CANCELED, "stopped waiting for run %s", run_id);
    }
}

int workflow_run_to_end(struct workflow_engine *e, const char *owner, const char *run_id,
                        int64_t timeout_ms, volatile sig_atomic_t *cancel,
                        workflow_event_cb on_event, void *event_arg, enum store_run_status *final)
{
    int rc = check_owner(e, owner);
    if (rc)
        return rc;
    e->run_cb = on_event;
    e->run_cb_arg = event_arg;
    e->run_cb_id = run_id;
    rc = to_end(e, owner, run_id, timeout_ms, cancel, final);
    e->run_cb = NULL;
    e->run_cb_arg = NULL;
    e->run_cb_id = NULL;
    return rc;
}

int workflow_work(struct workflow_engine *e, const char *owner, int64_t poll_ms,
                  volatile sig_atomic_t *stop)
{
    int rc = check_owner(e, owner);
    if (rc)
        return rc;
    if (!stop)
        return wf_fail(e, ERR_INVALID, "workflow_work needs a stop flag");
    if (poll_ms <= 0)
        poll_ms = WORK_POLL_DEFAULT_MS;
    while (!*stop) {
        size_t advanced = 0;
        workflow_tick(e, owner, &advanced); /* errors are logged by the tick */
        if (advanced == 0 && !*stop)
            sleep_ms(e, poll_ms, stop);
    }
    return 0;
}
