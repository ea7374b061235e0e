/* runner — agent_run: the loop that drives agents, tools and handoffs.
 *
 * Owns: one struct run per call of agent_run (on the caller's stack) holding
 * the acting agent, the per-agent tool lists prepared for this run, and the
 * result being filled; nothing outlives the call except the result and what
 * was appended to the caller's conversation.
 *
 * Design: the loop in agent.h, written out. Before an agent's first model call
 * in a run its tools and handoffs become one llm_tool_spec array (schemas come
 * from the process-wide schema cache, so they are parsed once per process);
 * later calls reuse it. Each response is appended to the conversation by
 * moving its strings, not copying them. Tool calls are answered strictly in
 * order and every call gets exactly one tool message, whatever happens — a
 * bad argument, an unknown tool, a second handoff, a cancel — because the
 * Chat Completions API rejects a conversation with an unanswered call. A tool
 * error is data for the model ({"error":"…"}), never the end of the run; the
 * run ends only on a final answer, max_turns, a guardrail, a model error or a
 * cancel. Events are emitted as things happen; items, usage and spans are
 * collected for the result (result.c turns them into JSON). */
#include "agent/agent.h"

#include <ctype.h>
#include <string.h>

#include "agent/schema.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"

#define AGENT_TOOL_NAME_MAX 64
#define RUN_ERROR_MAX       1024
#define HANDOFF_PREFIX      "transfer_to_"

/* The arguments schema of every handoff tool (and of tools without one). */
static const char NO_ARGUMENTS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}";

/* An agent's tool list as offered to the model in this run. */
struct prepared_agent {
    const struct agent *agent;
    struct llm_tool_spec *specs; /* agent->tools, then one per handoff */
    size_t n_specs;
    json_t **schemas; /* per spec, new references */
    char (*handoff_names)[AGENT_TOOL_NAME_MAX + 1];
    char **handoff_descriptions; /* new */
    bool used_tools;             /* a forced tool_choice applies only until then */
};

struct run {
    const struct agent_run_options *options;
    struct agent_result *result;
    struct llm_messages *conversation;
    struct agent_context ctx;
    const struct agent *agent; /* acting now */
    struct prepared_agent *prepared;
    size_t n_prepared, cap_prepared;
    size_t cap_spans, cap_usage, cap_path;
    int64_t t0;
    int turns, max_turns;
    char err[RUN_ERROR_MAX];
};

/* ---- names -------------------------------------------------------------- */

void agent_handoff_tool_name(const struct agent *target, char *out, size_t outlen)
{
    size_t max = outlen - 1 < AGENT_TOOL_NAME_MAX ? outlen - 1 : AGENT_TOOL_NAME_MAX;
    size_t n = 0, start;
    const char *name = target && target->name ? target->name : "";
    if (outlen == 0)
        return;
    for (const char *p = HANDOFF_PREFIX; *p && n < max; p++)
        out[n++] = *p;
    start = n;
    for (const char *p = name; *p && n < max; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c))
            out[n++] = (char)tolower(c);
        else if (n > start && out[n - 1] != '_')
            out[n++] = '_';
    }
    while (n > start && out[n - 1] == '_')
        n--;
    if (n == start)
        for (const char *p = "agent"; *p && n < max; p++)
            out[n++] = *p;
    out[n] = '\0';
}

static bool tool_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > AGENT_TOOL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return false;
    return true;
}

/* ---- recording: events, spans, usage, path, items ------------------------ */

static void emit(struct run *r, struct agent_event *e)
{
    if (!r->options->on_event)
        return;
    if (!e->agent)
        e->agent = r->agent ? r->agent->name : NULL;
    r->options->on_event(e, r->options->event_user);
}

static int64_t run_clock(const struct run *r)
{
    return clock_now_ns() - r->t0;
}

static void add_span(struct run *r, enum agent_span_kind kind, const char *name, const char *agent,
                     int64_t start, int status)
{
    struct agent_result *res = r->result;
    if (res->n_spans == r->cap_spans) {
        r->cap_spans = r->cap_spans ? r->cap_spans * 2 : 8;
        res->spans = xrealloc(res->spans, r->cap_spans * sizeof *res->spans);
    }
    res->spans[res->n_spans++] = (struct agent_span){
        .kind = kind,
        .name = xstrdup(name ? name : ""),
        .agent = xstrdup(agent ? agent : ""),
        .start_ns = start,
        .duration_ns = run_clock(r) - start,
        .status = status,
    };
}

static void add_usage(struct run *r, const char *model, const struct llm_usage *u)
{
    struct agent_result *res = r->result;
    struct agent_usage *entry = NULL;
    for (size_t i = 0; i < res->n_usage && !entry; i++)
        if (strcmp(res->usage[i].model, model) == 0)
            entry = &res->usage[i];
    if (!entry) {
        if (res->n_usage == r->cap_usage) {
            r->cap_usage = r->cap_usage ? r->cap_usage * 2 : 2;
            res->usage = xrealloc(res->usage, r->cap_usage * sizeof *res->usage);
        }
        entry = &res->usage[res->n_usage++];
        *entry = (struct agent_usage){.model = xstrdup(model)};
    }
    entry->requests++;
    entry->prompt_tokens += u->prompt_tokens;
    entry->completion_tokens += u->completion_tokens;
    entry->total_tokens += u->total_tokens;
}

static void add_path(struct run *r, const char *name)
{
    struct agent_result *res = r->result;
    if (res->n_path && strcmp(res->path[res->n_path - 1], name) == 0)
        return;
    if (res->n_path == r->cap_path) {
        r->cap_path = r->cap_path ? r->cap_path * 2 : 4;
        res->path = xrealloc(res->path, r->cap_path * sizeof *res->path);
    }
    res->path[res->n_path++] = name;
}

static json_t *json_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Appends {"type": type, "agent": agent} and returns it (borrowed). */
static json_t *add_item(struct run *r, const char *type, const char *agent)
{
    json_t *item = json_object();
    json_object_set_new(item, "type", json_string(type));
    if (agent)
        json_object_set_new(item, "agent", json_string(agent));
    json_array_append_new(r->result->items, item);
    return item;
}

static void add_message_item(struct run *r, const char *role, const char *agent,
                             const char *content)
{
    json_t *item = add_item(r, "message", NULL);
    json_object_set_new(item, "role", json_string(role));
    if (agent)
        json_object_set_new(item, "agent", json_string(agent));
    json_object_set_new(item, "content", json_string_or_null(content));
}

static void add_handoff_item(struct run *r, const char *from, const char *to)
{
    json_t *item = add_item(r, "handoff", NULL);
    json_object_set_new(item, "from", json_string(from));
    json_object_set_new(item, "to", json_string(to));
}

/* ---- preparing an agent's tools ----------------------------------------- */

static void prepared_free(struct prepared_agent *p)
{
    for (size_t i = 0; i < p->n_specs; i++)
        json_decref(p->schemas[i]);
    for (size_t i = 0; p->agent && i < p->agent->n_handoffs; i++)
        free(p->handoff_descriptions[i]);
    free(p->specs);
    free(p->schemas);
    free(p->handoff_names);
    free(p->handoff_descriptions);
}

/* Fills specs[i] for tool i of the agent; 0 or ERR_INVALID with r->err. */
static int prepare_tool(struct run *r, struct prepared_agent *p, size_t i)
{
    const struct agent_tool *tool = &p->agent->tools[i];
    char why[RUN_ERROR_MAX / 2];
    if (!tool_name_valid(tool->name)) {
        snprintf(r->err, sizeof r->err,
                 "agent \"%s\": tool name \"%s\" must be 1-%d letters, digits, '_' or '-'",
                 p->agent->name, tool->name ? tool->name : "", AGENT_TOOL_NAME_MAX);
        return ERR_INVALID;
    }
    for (size_t k = 0; k < i; k++)
        if (strcmp(p->specs[k].name, tool->name) == 0) {
            snprintf(r->err, sizeof r->err, "agent \"%s\" has two tools named \"%s\"",
                     p->agent->name, tool->name);
            return ERR_INVALID;
        }
    p->schemas[i] = schema_cache_get(tool->parameters ? tool->parameters : NO_ARGUMENTS_SCHEMA, why,
                                     sizeof why);
    if (!p->schemas[i]) {
        snprintf(r->err, sizeof r->err, "agent \"%s\": tool \"%s\": %s", p->agent->name, tool->name,
                 why);
        return ERR_INVALID;
    }
    p->specs[i] = (struct llm_tool_spec){tool->name, tool->description, p->schemas[i]};
    return 0;
}

static int prepare_handoff(struct run *r, struct prepared_agent *p, size_t h)
{
    const struct agent *target = p->agent->handoffs[h];
    size_t i = p->agent->n_tools + h;
    char why[RUN_ERROR_MAX / 2];
    agent_handoff_tool_name(target, p->handoff_names[h], sizeof p->handoff_names[h]);
    p->handoff_descriptions[h] =
        xasprintf("Transfer the conversation to the %s agent.%s%s", target->name,
                  target->handoff_description ? " " : "",
                  target->handoff_description ? target->handoff_description : "");
    p->schemas[i] = schema_cache_get(NO_ARGUMENTS_SCHEMA, why, sizeof why);
    p->specs[i] =
        (struct llm_tool_spec){p->handoff_names[h], p->handoff_descriptions[h], p->schemas[i]};
    for (size_t k = 0; k < i; k++)
        if (strcmp(p->specs[k].name, p->specs[i].name) == 0) {
            snprintf(r->err, sizeof r->err, "agent \"%s\" offers two tools named \"%s\"",
                     p->agent->name, p->specs[i].name);
            return ERR_INVALID;
        }
    return 0;
}

/* The prepared tool list of the acting agent (borrowed; built on first use in
 * this run), or NULL with r->err when a tool is malformed. */
static struct prepared_agent *prepare(struct run *r)
{
    const struct agent *a = r->agent;
    struct prepared_agent *p;
    size_t n = a->n_tools + a->n_handoffs;
    for (size_t i = 0; i < r->n_prepared; i++)
        if (r->prepared[i].agent == a)
            return &r->prepared[i];
    if (r->n_prepared == r->cap_prepared) {
        r->cap_prepared = r->cap_prepared ? r->cap_prepared * 2 : 4;
        r->prepared = xrealloc(r->prepared, r->cap_prepared * sizeof *r->prepared);
    }
    p = &r->prepared[r->n_prepared++];
    *p = (struct prepared_agent){.agent = a, .n_specs = n};
    p->specs = xcalloc(n ? n : 1, sizeof *p->specs);
    p->schemas = xcalloc(n ? n : 1, sizeof *p->schemas);
    p->handoff_names = xcalloc(a->n_handoffs ? a->n_handoffs : 1, sizeof *p->handoff_names);
    p->handoff_descriptions =
        xcalloc(a->n_handoffs ? a->n_handoffs : 1, sizeof *p->handoff_descriptions);
    for (size_t i = 0; i < a->n_tools; i++)
        if (prepare_tool(r, p, i) != 0)
            return NULL;
    for (size_t h = 0; h < a->n_handoffs; h++)
        if (prepare_handoff(r, p, h) != 0)
            return NULL;
    return p;
}

/* ---- tools -------------------------------------------------------------- */

/* Appends the tool message answering call (content is taken over) and its
 * item; result is borrowed and may be NULL when error is set. */
static void answer_call(struct run *r, const struct agent *caller, const struct llm_tool_call *call,
                        char *content, json_t *result, const char *error)
{
    struct llm_message *msg = llm_messages_push(r->conversation, LLM_ROLE_TOOL);
    json_t *item = add_item(r, "tool_result", caller->name);
    msg->content = content;
    msg->tool_call_id = xstrdup(call->id);
    msg->agent = xstrdup(caller->name);
    json_object_set_new(item, "call_id", json_string(call->id));
    json_object_set_new(item, "name", json_string(call->name));
    if (error)
        json_object_set_new(item, "error", json_string(error));
    else
        json_object_set(item, "result", result);
}

/* The tool message content {"error": message} (new). */
static char *error_content(const char *message)
{
    json_t *obj = json_object();
    char *text;
    json_object_set_new(obj, "error", json_string(message));
    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

static void answer_error(struct run *r, const struct agent *caller,
                         const struct llm_tool_call *call, const char *message)
{
    answer_call(r, caller, call, error_content(message), NULL, message);
}

/* Parses and validates a call's arguments: a new object, or NULL with *error
 * set to a new message for the model. */
static json_t *tool_arguments(const struct llm_tool_call *call, const json_t *schema, char **error)
{
    json_error_t jerr;
    json_t *args;
    const char *text = call->arguments ? call->arguments : "";
    struct buf problems;
    text += strspn(text, " \t\r\n");
    if (*text == '\0')
        return json_object(); /* models send "" for a call without arguments */
    args = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!args) {
        *error = xasprintf("arguments are not valid JSON: %s (line %d, column %d)", jerr.text,
                           jerr.line, jerr.column);
        return NULL;
    }
    buf_init(&problems, 0);
    if (schema_validate(schema, args, &problems) != 0) {
        *error = xasprintf("arguments do not match the tool's schema: %s", buf_str(&problems));
        json_decref(args);
        args = NULL;
    }
    buf_free(&problems);
    return args;
}

/* Runs one function tool call and answers it. */
static void run_tool(struct run *r, const struct agent *caller, const struct prepared_agent *p,
                     size_t index, const struct llm_tool_call *call)
{
    const struct agent_tool *tool = &caller->tools[index];
    int64_t start = run_clock(r);
    char *error = NULL, *content = NULL;
    json_t *result = NULL;
    json_t *args = tool_arguments(call, p->schemas[index], &error);
    struct agent_event e = {.type = AGENT_EVENT_TOOL_STARTED,
                            .agent = caller->name,
                            .tool = call->name,
                            .call_id = call->id,
                            .arguments = call->arguments,
                            .activity = tool->activity};
    emit(r, &e);
    if (args && !tool->fn) {
        error = xasprintf("the tool \"%s\" has no implementation", tool->name);
    } else if (args) {
        r->ctx.agent = caller;
        result = tool->fn(&r->ctx, args, &error);
        if (result) {
            free(error);
            error = NULL;
        } else if (!error) {
            error = xasprintf("the tool \"%s\" failed without saying why", tool->name);
        }
    }
    if (result &&
        !(content = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)))) {
        json_decref(result);
        result = NULL;
        error = xasprintf("the tool \"%s\" returned a value that is not JSON", tool->name);
    }
    if (error)
        content = error_content(error);
    e = (struct agent_event){.type = AGENT_EVENT_TOOL_FINISHED,
                             .agent = caller->name,
                             .tool = call->name,
                             .call_id = call->id,
                             .arguments = call->arguments,
                             .result = content,
                             .activity = tool->activity,
                             .is_error = error != NULL};
    answer_call(r, caller, call, content, result, error);
    add_span(r, AGENT_SPAN_TOOL, call->name, caller->name, start, error ? ERR_TOOL : 0);
    emit(r, &e);
    json_decref(args);
    json_decref(result);
    free(error);
}

/* Answers a transfer_to_ call and makes target the acting agent. */
static void run_handoff(struct run *r, const struct agent *caller, const struct llm_tool_call *call,
                        const struct agent *target)
{
    int64_t start = run_clock(r);
    json_t *result = json_object();
    struct agent_event e = {
        .type = AGENT_EVENT_HANDOFF, .agent = caller->name, .target = target->name};
    json_object_set_new(result, "assistant", json_string(target->name));
    answer_call(r, caller, call, json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(15)), result,
                NULL);
    json_decref(result);
    add_handoff_item(r, caller->name, target->name);
    r->agent = target;
    r->ctx.agent = target;
    add_path(r, target->name);
    add_span(r, AGENT_SPAN_HANDOFF, target->name, caller->name, start, 0);
    emit(r, &e);
    e = (struct agent_event){.type = AGENT_EVENT_AGENT_CHANGED, .agent = target->name};
    emit(r, &e);
}

static const struct agent *find_handoff(const struct prepared_agent *p, const char *name)
{
    for (size_t h = 0; h < p->agent->n_handoffs; h++)
        if (strcmp(p->handoff_names[h], name) == 0)
            return p->agent->handoffs[h];
    return NULL;
}

static long find_tool(const struct agent *a, const char *name)
{
    for (size_t i = 0; i < a->n_tools; i++)
        if (strcmp(a->tools[i].name, name) == 0)
            return (long)i;
    return -1;
}

static void answer_unknown(struct run *r, const struct agent *caller,
                           const struct prepared_agent *p, const struct llm_tool_call *call)
{
    struct buf msg;
    buf_init(&msg, 0);
    buf_printf(&msg, "unknown tool \"%s\"; the tools available are: ", call->name);
    for (size_t i = 0; i < p->n_specs; i++)
        buf_printf(&msg, "%s%s", i ? ", " : "", p->specs[i].name);
    if (p->n_specs == 0)
        buf_append_str(&msg, "none");
    answer_error(r, caller, call, buf_str(&msg));
    buf_free(&msg);
}

/* Answers every tool call of the assistant message at index, in order. */
static void run_tool_calls(struct run *r, size_t index, struct prepared_agent *p)
{
    const struct agent *caller = r->agent, *handed_to = NULL;
    struct llm_tool_call *calls = r->conversation->items[index].tool_calls;
    size_t n = r->conversation->items[index].n_tool_calls;
    char why[RUN_ERROR_MAX];
    p->used_tools = true;
    for (size_t i = 0; i < n; i++) {
        const struct llm_tool_call *call = &calls[i];
        const struct agent *target = find_handoff(p, call->name);
        long tool = target ? -1 : find_tool(caller, call->name);
        if (handed_to) {
            snprintf(why, sizeof why,
                     target ? "only one handoff can happen at a time: the conversation was "
                              "already transferred to %s"
                            : "not run: the conversation was transferred to %s, who continues",
                     handed_to->name);
            answer_error(r, caller, call, why);
        } else if (r->options->cancel && *r->options->cancel) {
            answer_error(r, caller, call, "not run: the run was canceled");
        } else if (target) {
            run_handoff(r, caller, call, target);
            handed_to = target;
        } else if (tool >= 0) {
            run_tool(r, caller, p, (size_t)tool, call);
        } else {
            answer_unknown(r, caller, p, call);
        }
    }
}

/* ---- the model ---------------------------------------------------------- */

static void on_text(const char *delta, size_t len, void *user)
{
    struct run *r = user;
    struct agent_event e = {.type = AGENT_EVENT_TEXT_DELTA, .text = delta, .len = len};
    emit(r, &e);
}

/* Moves the response into a new assistant message and records its items;
 * returns the message's index. */
static size_t append_response(struct run *r, struct llm_response *resp)
{
    struct llm_message *msg = llm_messages_push(r->conversation, LLM_ROLE_ASSISTANT);
    size_t index = r->conversation->len - 1;
    msg->content = resp->content;
    msg->tool_calls = resp->tool_calls;
    msg->n_tool_calls = resp->n_tool_calls;
    msg->agent = xstrdup(r->agent->name);
    resp->content = NULL;
    resp->tool_calls = NULL;
    resp->n_tool_calls = 0;
    if (msg->content)
        add_message_item(r, "assistant", r->agent->name, msg->content);
    for (size_t i = 0; i < msg->n_tool_calls; i++) {
        struct llm_tool_call *call = &msg->tool_calls[i];
        json_t *item = add_item(r, "tool_call", r->agent->name);
        if (!call->id)
            call->id = xasprintf("call_%d_%zu", r->turns, i);
        if (!call->name)
            call->name = xstrdup("");
        json_object_set_new(item, "call_id", json_string(call->id));
        json_object_set_new(item, "name", json_string(call->name));
        json_object_set_new(item, "arguments", json_string(call->arguments ? call->arguments : ""));
    }
    return index;
}

static long message_tokens(const struct llm_message *m)
{
    size_t bytes = 16 + (m->content ? strlen(m->content) : 0);
    for (size_t i = 0; i < m->n_tool_calls; i++)
        bytes += 32 + (m->tool_calls[i].arguments ? strlen(m->tool_calls[i].arguments) : 0);
    return (long)(bytes / 4);
}

size_t agent_history_start(const struct llm_messages *m, long max_tokens)
{
    if (max_tokens <= 0 || m->len == 0)
        return 0;
    size_t current = m->len; /* the current turn starts at the last user message */
    while (current > 0 && m->items[current - 1].role != LLM_ROLE_USER)
        current--;
    current = current ? current - 1 : 0;
    long total = 0;
    for (size_t i = current; i < m->len; i++)
        total += message_tokens(&m->items[i]);
    size_t start = current;
    /* Walk back whole turns (a user message and everything after it), so a
     * tool call is never separated from its result. */
    for (size_t i = current; i-- > 0;) {
        total += message_tokens(&m->items[i]);
        if (total > max_tokens)
            break;
        if (m->items[i].role == LLM_ROLE_USER)
            start = i;
    }
    return start;
}

/* One model call for the acting agent: 0 with *resp filled, or ERR_* with
 * r->err. */
static int call_model(struct run *r, struct prepared_agent *p, struct llm_response *resp)
{
    const struct agent *a = r->agent;
    char *dynamic = a->dynamic_instructions ? a->dynamic_instructions(&r->ctx) : NULL;
    size_t history = agent_history_start(r->conversation, r->options->max_history_tokens);
    struct llm_request req = {
        .model = a->model ? a->model : r->options->default_model,
        .agent = a->name,
        .instructions = a->dynamic_instructions ? dynamic : a->instructions,
        .messages = r->conversation->items + history,
        .n_messages = r->conversation->len - history,
        .tools = p->specs,
        .n_tools = p->n_specs,
        .settings = a->settings,
        .stream = r->options->stream,
        .cancel = r->options->cancel,
    };
    const char *tc = req.settings.tool_choice;
    int64_t start = run_clock(r);
    int rc;
    if (p->used_tools && tc && strcmp(tc, "auto") != 0 && strcmp(tc, "none") != 0)
        req.settings.tool_choice = NULL; /* a forced tool was used: do not loop on it */
    r->err[0] = '\0';
    rc = llm_complete(r->options->model, &req, r->options->stream ? on_text : NULL, r, resp, r->err,
                      sizeof r->err);
    const char *model = req.model ? req.model : resp->model ? resp->model : "default";
    add_span(r, AGENT_SPAN_MODEL, model, a->name, start, rc);
    free(dynamic);
    if (rc != 0) {
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "the model call failed: %s", err_message(rc));
        return rc;
    }
    add_usage(r, model, &resp->usage);
    if (!resp->content && resp->n_tool_calls == 0) {
        snprintf(r->err, sizeof r->err, "the model %s answered %s with neither text nor tool calls",
                 model, a->name);
        return ERR_MODEL;
    }
    return 0;
}

/* ---- guardrails --------------------------------------------------------- */

static int run_guardrails(struct run *r, const struct agent_guardrail *g, size_t n,
                          const char *text, const char *which)
{
    for (size_t i = 0; i < n; i++) {
        int64_t start = run_clock(r);
        char *reason = NULL;
        bool tripped = g[i].fn && g[i].fn(&r->ctx, text ? text : "", &reason);
        add_span(r, AGENT_SPAN_GUARDRAIL, g[i].name, r->agent->name, start,
                 tripped ? ERR_GUARDRAIL : 0);
        if (tripped) {
            r->result->guardrail = xstrdup(g[i].name ? g[i].name : "");
            snprintf(r->err, sizeof r->err, "the %s guardrail \"%s\" stopped the run: %s", which,
                     g[i].name ? g[i].name : "", reason ? reason : "no reason given");
        }
        free(reason);
        if (tripped)
            return ERR_GUARDRAIL;
    }
    return 0;
}

/* The text input guardrails look at: the input, else the latest user message. */
static const char *guarded_input(const struct run *r)
{
    if (r->ctx.input)
        return r->ctx.input;
    for (size_t i = r->conversation->len; i > 0; i--)
        if (r->conversation->items[i - 1].role == LLM_ROLE_USER)
            return r->conversation->items[i - 1].content;
    return NULL;
}

/* ---- the loop ----------------------------------------------------------- */

/* Output guardrails on the final answer; a blocked answer is taken back out
 * of the conversation and the items so it is never shown or replayed. */
static int finish_answer(struct run *r, size_t index)
{
    const struct agent *a = r->agent;
    const char *text = r->conversation->items[index].content;
    int rc = run_guardrails(r, a->output_guardrails, a->n_output_guardrails, text, "output");
    if (rc != 0) {
        llm_messages_truncate(r->conversation, index);
        json_array_remove(r->result->items, json_array_size(r->result->items) - 1);
        return rc;
    }
    r->result->final_text = xstrdup(text);
    return 0;
}

/* Model calls and tool calls until a final answer; 0 or ERR_* with r->err. */
static int run_loop(struct run *r)
{
    for (;;) {
        struct llm_response resp = {0};
        struct prepared_agent *p;
        size_t index;
        int rc;
        if (r->options->cancel && *r->options->cancel) {
            snprintf(r->err, sizeof r->err, "the run was canceled");
            return ERR_CANCELED;
        }
        if (r->turns == r->max_turns) {
            snprintf(r->err, sizeof r->err,
                     "the run reached its limit of %d model calls (max_turns) without a final "
                     "answer; the last agent was %s",
                     r->max_turns, r->agent->name);
            return ERR_MAX_TURNS;
        }
        if (!(p = prepare(r)))
            return ERR_INVALID;
        r->turns++;
        rc = call_model(r, p, &resp);
        if (rc == 0) {
            index = append_response(r, &resp);
            if (r->conversation->items[index].n_tool_calls == 0)
                rc = finish_answer(r, index);
            else
                run_tool_calls(r, index, p);
        }
        llm_response_free(&resp);
        if (rc != 0 || r->result->final_text)
            return rc;
    }
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->n_prepared; i++)
        prepared_free(&r->prepared[i]);
    free(r->prepared);
}

int agent_run(const struct agent *start, struct llm_messages *conversation, const char *input,
              const struct agent_run_options *options, struct agent_result *result)
{
    struct run r = {.options = options,
                    .result = result,
                    .conversation = conversation,
                    .agent = start,
                    .t0 = clock_now_ns()};
    struct agent_event e = {.type = AGENT_EVENT_AGENT_CHANGED};
    int rc;
    memset(result, 0, sizeof *result);
    result->items = json_array();
    if (!start || !start->name || !conversation || !options || !options->model) {
        result->status = ERR_INVALID;
        result->error = xstrdup("agent_run needs an agent with a name, a conversation, "
                                "options and a model");
        return result->status;
    }
    r.max_turns = options->max_turns > 0 ? options->max_turns : AGENT_DEFAULT_MAX_TURNS;
    r.ctx = (struct agent_context){.user = options->context, .agent = start, .input = input};
    add_span(&r, AGENT_SPAN_RUN, start->name, start->name, 0, 0);
    if (input) {
        llm_messages_push_text(conversation, LLM_ROLE_USER, input, NULL);
        add_message_item(&r, "user", NULL, input);
    }
    add_path(&r, start->name);
    emit(&r, &e);
    rc = run_guardrails(&r, start->input_guardrails, start->n_input_guardrails, guarded_input(&r),
                        "input");
    if (rc == 0)
        rc = run_loop(&r);
    result->status = rc;
    result->last_agent = r.agent;
    result->spans[0].duration_ns = run_clock(&r);
    result->spans[0].status = rc;
    if (rc != 0) {
        result->error = xstrdup(r.err);
        e = (struct agent_event){.type = AGENT_EVENT_ERROR,
                                 .text = result->error,
                                 .len = strlen(result->error),
                                 .status = rc};
    } else {
        e = (struct agent_event){.type = AGENT_EVENT_FINAL,
                                 .text = result->final_text,
                                 .len = strlen(result->final_text)};
    }
    emit(&r, &e);
    run_free(&r);
    return rc;
}
