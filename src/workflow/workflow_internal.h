/* workflow_internal — what the workflow engine's files share (not a contract).
 *
 * workflow.c owns the engine (its registry of workflows, options, error text,
 * random source), the step context and the public helpers; workflow_plan.c
 * reads a run's recorded steps and decides, as a pure function, what comes
 * next; workflow_exec.c does it: leases, claims, step execution, recording,
 * timers, the final status, and the loops built on that (tick, run to end,
 * work). */
#ifndef HARDE_WORKFLOW_WORKFLOW_INTERNAL_H
#define HARDE_WORKFLOW_WORKFLOW_INTERNAL_H

#include "workflow/workflow.h"

#define WF_MARKER_END    "_end"
#define WF_MARKER_CANCEL "_cancel"
#define WF_MARKER_RETRY  "_retry"
#define WF_LEASE_PREFIX  WORKFLOW_LEASE_PREFIX

struct wf_entry {
    const struct workflow *wf; /* borrowed */
    void *arg;
};

struct workflow_engine {
    struct store *st;             /* borrowed */
    struct workflow_options opts; /* defaults applied */
    struct wf_entry defs[WORKFLOW_WORKFLOWS_MAX];
    size_t def_count;
    uint64_t rng;
    char error[WORKFLOW_ERROR_MAX];
    /* workflow_run_to_end's listener, for its run only. */
    workflow_event_cb run_cb;
    void *run_cb_arg;
    const char *run_cb_id;
};

struct workflow_ctx {
    struct workflow_engine *e;
    const char *owner;
    const char *lease;
    const struct store_run *run;
    const struct wf_entry *def;
    const struct workflow_step *step;
    const char *name; /* the recorded name */
    char key[WORKFLOW_IDEMPOTENCY_KEY_MAX + 1];
    bool has_key;
    int attempt;
    int max_attempts;
    int64_t ttl_ms;
    int64_t deadline_ms;
    enum workflow_outcome outcome;
    const char *reason;
    /* What the step said. */
    bool wait_set;
    int64_t wake_at_ms;
    int http_status;
    int64_t retry_after_ms;
    int retryable; /* -1: the policy decides */
    bool lease_lost;
};

/* ---- workflow.c ---- */

/* Sets e->error like printf and returns code. */
int wf_fail(struct workflow_engine *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies the store's error into e->error and returns code. */
int wf_store_fail(struct workflow_engine *e, int code, const char *doing);
/* The registered workflow named name, or NULL (borrowed). */
const struct wf_entry *wf_find_def(const struct workflow_engine *e, const char *name);
/* Calls the engine's listener and run_to_end's. */
void wf_emit(struct workflow_engine *e, const struct workflow_event *ev);
/* The test hook, when set. */
void wf_point(struct workflow_engine *e, const char *point);
/* A number in [0, 1) from the engine's generator. */
double wf_rand01(struct workflow_engine *e);
/* policy with its defaults filled in. */
struct workflow_retry wf_policy(const struct workflow_retry *policy);
/* The lease ttl for a step: its timeout plus the grace period. */
int64_t wf_step_ttl(const struct workflow_engine *e, const struct workflow_step *s);
/* True when the store may hold name as a step, workflow or owner name. */
bool wf_store_name_valid(const char *name);

/* ---- workflow_plan.c ---- */

/* The generation a run is in, from its marker steps (all borrowed from the run). */
struct wf_gen {
    int generation;                  /* 1 until a retry starts another */
    int retries;                     /* the highest K of the "_retry.K" markers */
    const json_t *baseline;          /* the latest retry's {"step": attempts}, or NULL */
    const struct store_step *end;    /* "_end.G" when recorded, else NULL */
    const struct store_step *cancel; /* "_cancel.G" when recorded, else NULL */
};

enum wf_action {
    WF_RUN,    /* run steps[index] under name */
    WF_WAIT,   /* park the run until wake_at_ms */
    WF_END,    /* record "_end.G" with outcome (success or cancellation) */
    WF_FINISH, /* give the run its final status from outcome */
};

struct wf_plan {
    enum wf_action action;
    struct wf_gen gen;
    size_t index;
    char name[STORE_NAME_MAX + 1];
    const struct store_step *record; /* WF_RUN: the step's record so far, or NULL */
    int attempts_before;             /* WF_RUN: its attempts before this generation or retry */
    int64_t wake_at_ms;              /* WF_WAIT */
    enum workflow_outcome outcome;   /* WF_END: to record; else the recorded one (or NONE) */
    const char *reason;              /* the failure or cancellation reason (borrowed), or NULL */
};

void wf_gen_read(const struct store_run *run, struct wf_gen *g);
/* Decides what comes next for run (with its steps) at time now. */
void wf_plan_make(const struct workflow *wf, const struct store_run *run, int64_t now,
                  struct wf_plan *p);
/* The outcome recorded in an "_end" marker, and its reason (borrowed). */
enum workflow_outcome wf_end_outcome(const struct store_step *end, const char **reason);
/* "_end.3" into buf. */
void wf_marker_name(const char *kind, int number, char *buf, size_t cap);
/* A step's recorded name in generation: its own, or "NAME.G" for cleanup steps after the first. */
void wf_record_name(const struct workflow_step *s, int generation, char *buf, size_t cap);
/* The recorded name of the step after steps[index] in generation, "" after the last. */
void wf_next_name(const struct workflow *wf, size_t index, int generation, char *buf, size_t cap);
/* The first cleanup step's recorded name, "" when there is none. */
void wf_first_cleanup_name(const struct workflow *wf, int generation, char *buf, size_t cap);
/* A new object of every recorded output by table name (cleanup steps of generation only). */
json_t *wf_outputs(const struct workflow *wf, const struct store_run *run, int generation);
/* For a PENDING run that workflow_retry resumed: true, with the generation it
 * resumes into and a new "_retry" marker output in *marker. */
bool wf_retry_due(const struct workflow *wf, const struct store_run *run, const struct wf_gen *g,
                  json_t **marker);

/* ---- workflow_exec.c ---- */

/* Moves run_id as owner: at most max_steps step executions. */
int wf_advance(struct workflow_engine *e, const char *owner, const char *run_id, int max_steps,
               enum workflow_step_result *result, int64_t *wake_at_ms, bool *moved);
/* Records a "_retry" marker for a PENDING run workflow_retry resumed, when it needs one. */
int wf_begin_retry(struct workflow_engine *e, const struct wf_entry *def,
                   const struct store_run *run, bool *recorded);

#endif
