/* scripted_model — an llm_model backend for tests that replays canned
 * responses, plus a recorder of agent run events.
 *
 * A test writes the conversation the model "would" have as a table of
 * responses (text and/or tool calls with exact argument text, usage, or an
 * error), runs the real agent runner against it, and then asserts on what
 * the runner sent: each request is recorded (acting agent, model name,
 * instructions, tools offered, a copy of the messages). Text is streamed in
 * SCRIPTED_DELTA_BYTES pieces when the request asks for streaming. */
#ifndef HARDE_TESTS_SCRIPTED_MODEL_H
#define HARDE_TESTS_SCRIPTED_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"
#include "base/buf.h"
#include "llm/model.h"

#define SCRIPTED_DELTA_BYTES 3

struct scripted_tool_call {
    const char *id; /* NULL: "call_<request>_<index>" */
    const char *name;
    const char *arguments; /* sent exactly as written (may be invalid JSON) */
};

struct scripted_response {
    const char *content; /* NULL: no text */
    const struct scripted_tool_call *tool_calls;
    size_t n_tool_calls;
    struct llm_usage usage;
    const char *model;         /* the answering model's name; NULL: the request's */
    int error;                 /* non-zero: the call fails with this ERR_* … */
    const char *error_message; /* … and this message */
};

/* What the runner sent in one request (all strings new, owned by the model). */
struct scripted_request {
    char *agent;
    char *model;
    char *instructions;
    char **tools; /* names of the tools offered */
    char **tool_descriptions;
    size_t n_tools;
    char *tool_choice;
    bool stream;
    struct llm_messages messages; /* a copy of the conversation sent */
    size_t n_messages;
    const struct llm_message *last; /* messages' last element, or NULL */
};

/* A new backend replaying script (borrowed: it must outlive the model). When
 * the script runs out, calls fail with ERR_MODEL. Free with llm_model_free. */
struct llm_model *scripted_model_new(const struct scripted_response *script, size_t n);
/* Requests received so far. */
size_t scripted_model_n_requests(const struct llm_model *model);
/* Request i (borrowed), or NULL. */
const struct scripted_request *scripted_model_request(const struct llm_model *model, size_t i);
/* Whether request offered a tool named name. */
bool scripted_request_offers(const struct scripted_request *request, const char *name);

/* ---- recording events --------------------------------------------------- */

/* Events of a run as one readable line, e.g.
 *   "agent_changed(Triage) handoff(Triage>Pricing) agent_changed(Pricing)
 *    tool_started(price_roof) tool_finished(price_roof) text final"
 * (consecutive text deltas show as one "text"; a failed tool as
 * "tool_finished(name!)"; an error as "error(MAX_TURNS)"). */
struct scripted_events {
    struct buf log;
    struct buf text; /* all text deltas joined */
    size_t n_deltas;
    struct buf last_result; /* the result text of the last tool_finished */
    char *final;            /* text of the final event (new) */
    char *error;            /* text of the error event (new) */
    int error_status;
};

void scripted_events_init(struct scripted_events *events);
void scripted_events_free(struct scripted_events *events);
/* An agent_event_cb; user is a struct scripted_events. */
void scripted_events_cb(const struct agent_event *event, void *user);

#endif
