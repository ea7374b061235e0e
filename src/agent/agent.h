/* agent — agents, tools, handoffs, guardrails and the runner (the OpenAI
 * Agents SDK's model, in C). Knows nothing about contractors.
 *
 * An agent is data: a name, instructions (text or a function of the run
 * context), tools, the agents it may hand off to, a model and settings,
 * guardrails. The runner drives one run:
 *
 *   input guardrails → model → tool calls (in order) → model … → final text
 *                              ↘ transfer_to_<agent> switches the acting agent
 *                                 (the new agent sees the whole conversation)
 *   → output guardrails → result
 *
 * Tool arguments are parsed and validated against the tool's JSON Schema
 * before the tool runs; bad JSON or a schema violation goes back to the model
 * as a tool error it can correct. max_turns bounds the model calls of a run.
 * Everything produced is appended to the caller's conversation, reported as
 * events while it happens, and summed up in the result (path, items, usage
 * per model, trace spans). */
#ifndef HARDE_AGENT_AGENT_H
#define HARDE_AGENT_AGENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "llm/model.h"

#define AGENT_DEFAULT_MAX_TURNS 10

struct agent;

/* What tools and dynamic instructions see of the run. */
struct agent_context {
    void *user;                /* the caller's typed state (agent_run_options.context) */
    const struct agent *agent; /* the agent acting now */
    const char *input;         /* this run's user input */
};

/* A tool's implementation. args is the validated arguments object (borrowed).
 * Returns a new JSON result, or NULL with *error set to a new message that is
 * returned to the model as the tool's error. */
typedef json_t *agent_tool_fn(struct agent_context *ctx, json_t *args, char **error);

struct agent_tool {
    const char *name;        /* [a-zA-Z0-9_-]{1,64} */
    const char *description; /* told to the model */
    const char *parameters;  /* JSON Schema (an object schema) as text; NULL = no arguments */
    agent_tool_fn *fn;
    const char *activity; /* what a person is shown while it runs: "pricing the roof" */
};

/* Dynamic instructions: a new string built from the run context. */
typedef char *agent_instructions_fn(struct agent_context *ctx);

/* A guardrail looks at text (the input, or the final answer). It returns true
 * to trip, with *reason set to a new message; the run stops with ERR_GUARDRAIL. */
typedef bool agent_guardrail_fn(struct agent_context *ctx, const char *text, char **reason);

struct agent_guardrail {
    const char *name;
    agent_guardrail_fn *fn;
};

struct agent {
    const char *name;                            /* shown to users: "Pricing" */
    const char *handoff_description;             /* why another agent would hand off here */
    const char *instructions;                    /* static instructions, or NULL */
    agent_instructions_fn *dynamic_instructions; /* wins over instructions when set */
    const struct agent_tool *tools;
    size_t n_tools;
    const struct agent *const *handoffs; /* offered as transfer_to_<snake_case name> tools */
    size_t n_handoffs;
    const char *model; /* NULL: the run's default model */
    struct llm_settings settings;
    const struct agent_guardrail *input_guardrails;
    size_t n_input_guardrails;
    const struct agent_guardrail *output_guardrails;
    size_t n_output_guardrails;
};

/* The handoff tool name for an agent: "transfer_to_" + the name in snake case. */
void agent_handoff_tool_name(const struct agent *target, char *out, size_t outlen);

/* ---- events ------------------------------------------------------------ */

enum agent_event_type {
    AGENT_EVENT_AGENT_CHANGED, /* agent: the agent now acting (also at the start) */
    AGENT_EVENT_TEXT_DELTA,    /* text/len: a piece of the answer */
    AGENT_EVENT_TOOL_STARTED,  /* tool, call_id, arguments, activity */
    AGENT_EVENT_TOOL_FINISHED, /* tool, call_id, arguments, result, is_error */
    AGENT_EVENT_HANDOFF,       /* agent: from, target: to */
    AGENT_EVENT_FINAL,         /* text: the final answer */
    AGENT_EVENT_ERROR,         /* text: what went wrong; status: ERR_* */
};

struct agent_event {
    enum agent_event_type type;
    const char *agent; /* the acting agent's name */
    const char *text;  /* delta, final text or error message */
    size_t len;        /* length of text */
    const char *tool;
    const char *call_id;
    const char *arguments; /* JSON text */
    const char *result;    /* JSON text */
    const char *activity;
    const char *target; /* handoff target agent name */
    bool is_error;
    int status;
};

typedef void agent_event_cb(const struct agent_event *event, void *user);
const char *agent_event_type_name(enum agent_event_type type);

/* ---- running ----------------------------------------------------------- */

struct agent_run_options {
    struct llm_model *model;   /* the backend (borrowed) */
    const char *default_model; /* model name for agents with model == NULL */
    int max_turns;             /* model calls per run; 0 = AGENT_DEFAULT_MAX_TURNS */
    bool stream;               /* stream text deltas as events */
    agent_event_cb *on_event;  /* may be NULL */
    void *event_user;
    void *context; /* becomes agent_context.user */
    volatile sig_atomic_t *cancel;
    /* Budget of the conversation sent to the model, in estimated tokens
     * (about 4 bytes each); 0 = everything. Oldest whole turns are left out
     * first; the current turn is always sent. */
    long max_history_tokens;
};

/* Index of the first message of m to send under a budget of max_tokens
 * (see agent_run_options.max_history_tokens). Starts at a user message, so a
 * tool call is never sent without its result. */
size_t agent_history_start(const struct llm_messages *m, long max_tokens);

enum agent_span_kind {
    AGENT_SPAN_RUN,
    AGENT_SPAN_MODEL,
    AGENT_SPAN_TOOL,
    AGENT_SPAN_HANDOFF,
    AGENT_SPAN_GUARDRAIL
};

struct agent_span {
    enum agent_span_kind kind;
    char *name;       /* model name, tool name, target agent, guardrail name */
    char *agent;      /* the acting agent */
    int64_t start_ns; /* since the run started */
    int64_t duration_ns;
    int status; /* 0 or ERR_* */
};

struct agent_usage {
    char *model;
    long requests;
    long prompt_tokens;
    long completion_tokens;
    long total_tokens;
};

struct agent_result {
    int status;                     /* 0 or ERR_* */
    char *error;                    /* a sentence when status != 0 */
    char *final_text;               /* the answer, when status == 0 */
    const struct agent *last_agent; /* the agent that acted last (to continue with) */
    const char **path; /* names of the agents that acted, in order (borrowed from agents) */
    size_t n_path;
    json_t *items;             /* every item produced: messages, tool calls and results, handoffs */
    struct agent_usage *usage; /* summed per model */
    size_t n_usage;
    struct agent_span *spans;
    size_t n_spans;
    char *guardrail; /* the guardrail that tripped, if any */
};

/* Runs one turn: appends input (when not NULL) as a user message to
 * conversation, then runs start until a final answer, an error, or max_turns.
 * Everything produced is appended to conversation. Fills *result (zeroed
 * first; free with agent_result_free) and returns result->status. */
int agent_run(const struct agent *start, struct llm_messages *conversation, const char *input,
              const struct agent_run_options *options, struct agent_result *result);
void agent_result_free(struct agent_result *result);
/* The result as a new JSON object: final, status, error, path, items, usage,
 * spans (durations in ms). */
json_t *agent_result_to_json(const struct agent_result *result);
/* Writes the spans as JSON lines (one object per span); 0 or ERR_IO. */
int agent_trace_write_jsonl(const struct agent_result *result, const char *run_id, FILE *out);

#endif
