/* workflow_plan — what a run does next, read from its recorded steps.
 *
 * Owns no state: every decision is a pure function of the workflow's table,
 * the run as the store holds it and the time, so any worker that reads the
 * run after any crash reaches the same decision. The rules: the generation
 * is the one named by the latest "_retry.K" marker (1 without one). While
 * "_end.G" is not recorded, a recorded "_cancel.G" ends the generation as
 * cancelled; otherwise the first main step without a recorded output runs,
 * unless the step before it is a WAIT whose recorded wake-up time is still
 * ahead; with every main step recorded the generation ends as succeeded.
 * Once "_end.G" is recorded, the cleanup steps run in order under their
 * names for G, then the run gets the final status the end recorded. A main
 * step's output recorded in any generation counts (a retry resumes where the
 * run failed); a cleanup step's only in its own generation. */
#include "workflow/workflow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct store_step *find_step(const struct store_run *run, const char *name)
{
    for (size_t i = 0; i < run->step_count; i++)
        if (run->steps[i].name && strcmp(run->steps[i].name, name) == 0)
            return &run->steps[i];
    return NULL;
}

static bool succeeded(const struct store_step *s)
{
    return s && s->status == STORE_STEP_SUCCEEDED;
}

/* N when name is kind + "." + a positive decimal N, else 0. */
static int marker_number(const char *name, const char *kind)
{
    size_t n = strlen(kind);
    if (strncmp(name, kind, n) != 0 || name[n] != '.' || name[n + 1] < '1' || name[n + 1] > '9')
        return 0;
    char *end = NULL;
    long v = strtol(name + n + 1, &end, 10);
    return *end == '\0' && v > 0 && v < 1000000 ? (int)v : 0;
}

void wf_marker_name(const char *kind, int number, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.%d", kind, number);
}

void wf_record_name(const struct workflow_step *s, int generation, char *buf, size_t cap)
{
    if (s->kind == WORKFLOW_STEP_CLEANUP && generation > 1)
        snprintf(buf, cap, "%s.%d", s->name, generation);
    else
        snprintf(buf, cap, "%s", s->name);
}

void wf_next_name(const struct workflow *wf, size_t index, int generation, char *buf, size_t cap)
{
    if (index + 1 < wf->step_count)
        wf_record_name(&wf->steps[index + 1], generation, buf, cap);
    else if (cap)
        buf[0] = '\0';
}

void wf_first_cleanup_name(const struct workflow *wf, int generation, char *buf, size_t cap)
{
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < wf->step_count; i++)
        if (wf->steps[i].kind == WORKFLOW_STEP_CLEANUP) {
            wf_record_name(&wf->steps[i], generation, buf, cap);
            return;
        }
}

void wf_gen_read(const struct store_run *run, struct wf_gen *g)
{
    memset(g, 0, sizeof *g);
    g->generation = 1;
    const struct store_step *latest = NULL;
    for (size_t i = 0; i < run->step_count; i++) {
        int k = marker_number(run->steps[i].name, WF_MARKER_RETRY);
        if (k > g->retries && succeeded(&run->steps[i])) {
            g->retries = k;
            latest = &run->steps[i];
        }
    }
    if (latest && json_is_object(latest->output)) {
        json_int_t gen = json_integer_value(json_object_get(latest->output, "generation"));
        if (gen >= 1 && gen < 1000000)
            g->generation = (int)gen;
        g->baseline = json_object_get(latest->output, "attempts");
    }
    char name[STORE_NAME_MAX + 1];
    wf_marker_name(WF_MARKER_END, g->generation, name, sizeof name);
    g->end = find_step(run, name);
    if (!succeeded(g->end))
        g->end = NULL;
    wf_marker_name(WF_MARKER_CANCEL, g->generation, name, sizeof name);
    g->cancel = find_step(run, name);
    if (!succeeded(g->cancel))
        g->cancel = NULL;
}

enum workflow_outcome wf_end_outcome(const struct store_step *end, const char **reason)
{
    if (reason)
        *reason = NULL;
    if (!end)
        return WORKFLOW_OUTCOME_NONE;
    const char *name = json_string_value(json_object_get(end->output, "outcome"));
    if (reason)
        *reason = json_string_value(json_object_get(end->output, "error"));
    for (int o = WORKFLOW_OUTCOME_SUCCEEDED; o <= WORKFLOW_OUTCOME_CANCELLED; o++)
        if (name && strcmp(name, workflow_outcome_name((enum workflow_outcome)o)) == 0)
            return (enum workflow_outcome)o;
    /* A marker we cannot read: failing is the safe reading (it can be retried). */
    if (reason && !*reason)
        *reason = "the recorded end of the run is unreadable";
    return WORKFLOW_OUTCOME_FAILED;
}

static int attempts_before(const struct wf_gen *g, const char *name)
{
    json_int_t n = json_integer_value(json_object_get(g->baseline, name));
    return n > 0 && n < WORKFLOW_ATTEMPTS_MAX * 1000 ? (int)n : 0;
}

static void plan_run(const struct workflow *wf, const struct store_run *run, size_t index,
                     struct wf_plan *p)
{
    p->action = WF_RUN;
    p->index = index;
    wf_record_name(&wf->steps[index], p->gen.generation, p->name, sizeof p->name);
    p->record = find_step(run, p->name);
    p->attempts_before = attempts_before(&p->gen, p->name);
}

/* Main steps: cancelled, the next one to run, a timer, or the end. */
static void plan_main(const struct workflow *wf, const struct store_run *run, int64_t now,
                      struct wf_plan *p)
{
    if (p->gen.cancel) {
        p->action = WF_END;
        p->outcome = WORKFLOW_OUTCOME_CANCELLED;
        p->reason = json_string_value(json_object_get(p->gen.cancel->output, "reason"));
        return;
    }
    size_t i = 0;
    while (i < wf->step_count && wf->steps[i].kind != WORKFLOW_STEP_CLEANUP &&
           succeeded(find_step(run, wf->steps[i].name)))
        i++;
    if (i == wf->step_count || wf->steps[i].kind == WORKFLOW_STEP_CLEANUP) {
        p->action = WF_END;
        p->outcome = WORKFLOW_OUTCOME_SUCCEEDED;
        return;
    }
    if (i > 0 && wf->steps[i - 1].kind == WORKFLOW_STEP_WAIT) {
        const struct store_step *w = find_step(run, wf->steps[i - 1].name);
        json_int_t wake = json_integer_value(json_object_get(w->output, "wake_at_ms"));
        if (wake > now) {
            p->action = WF_WAIT;
            p->wake_at_ms = wake;
            return;
        }
    }
    plan_run(wf, run, i, p);
}

void wf_plan_make(const struct workflow *wf, const struct store_run *run, int64_t now,
                  struct wf_plan *p)
{
    memset(p, 0, sizeof *p);
    wf_gen_read(run, &p->gen);
    if (!p->gen.end) {
        plan_main(wf, run, now, p);
        return;
    }
    p->outcome = wf_end_outcome(p->gen.end, &p->reason);
    char name[STORE_NAME_MAX + 1];
    for (size_t i = 0; i < wf->step_count; i++) {
        if (wf->steps[i].kind != WORKFLOW_STEP_CLEANUP)
            continue;
        wf_record_name(&wf->steps[i], p->gen.generation, name, sizeof name);
        if (!succeeded(find_step(run, name))) {
            plan_run(wf, run, i, p);
            return;
        }
    }
    p->action = WF_FINISH;
}

json_t *wf_outputs(const struct workflow *wf, const struct store_run *run, int generation)
{
    json_t *all = json_object();
    char name[STORE_NAME_MAX + 1];
    for (size_t i = 0; i < wf->step_count; i++) {
        wf_record_name(&wf->steps[i], generation, name, sizeof name);
        const struct store_step *s = find_step(run, name);
        if (succeeded(s))
            json_object_set(all, wf->steps[i].name, s->output ? s->output : json_null());
    }
    return all;
}

static bool cleanup_done(const struct workflow *wf, const struct store_run *run, int generation)
{
    char name[STORE_NAME_MAX + 1];
    for (size_t i = 0; i < wf->step_count; i++) {
        if (wf->steps[i].kind != WORKFLOW_STEP_CLEANUP)
            continue;
        wf_record_name(&wf->steps[i], generation, name, sizeof name);
        if (!succeeded(find_step(run, name)))
            return false;
    }
    return true;
}

bool wf_retry_due(const struct workflow *wf, const struct store_run *run, const struct wf_gen *g,
                  json_t **marker)
{
    *marker = NULL;
    if (run->status != STORE_RUN_PENDING)
        return false;
    /* Created runs are PENDING too: only a failed one that was retried has
     * an end or a failed step on record. */
    bool failed_step = false;
    for (size_t i = 0; i < run->step_count; i++)
        if (run->steps[i].status == STORE_STEP_FAILED &&
            !workflow_step_is_marker(run->steps[i].name))
            failed_step = true;
    if (!g->end && !failed_step)
        return false;
    int generation = g->generation;
    if (g->end && wf_end_outcome(g->end, NULL) == WORKFLOW_OUTCOME_FAILED &&
        cleanup_done(wf, run, generation))
        generation++; /* the main steps failed and were cleaned up: a new pass */
    json_t *attempts = json_object();
    for (size_t i = 0; i < run->step_count; i++)
        if (!workflow_step_is_marker(run->steps[i].name))
            json_object_set_new(attempts, run->steps[i].name, json_integer(run->steps[i].attempts));
    *marker = json_pack("{s:i, s:o}", "generation", generation, "attempts", attempts);
    return true;
}
