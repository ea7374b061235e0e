/* result — what a run leaves behind: freeing it, its JSON form, its trace.
 *
 * Owns nothing beyond the functions' own temporaries: struct agent_result is
 * filled by the runner (runner.c) and freed here.
 *
 * Design: the result keeps times in nanoseconds since the run started; the
 * JSON forms (agent_result_to_json for --json output and the web, one JSON
 * line per span for trace files) show milliseconds as fractional numbers so
 * a 40 µs tool call does not round to zero. */
#include "agent/agent.h"

#include <string.h>

#include "base/error.h"

static const char *const EVENT_NAMES[] = {
    [AGENT_EVENT_AGENT_CHANGED] = "agent_changed",
    [AGENT_EVENT_TEXT_DELTA] = "text_delta",
    [AGENT_EVENT_TOOL_STARTED] = "tool_started",
    [AGENT_EVENT_TOOL_FINISHED] = "tool_finished",
    [AGENT_EVENT_HANDOFF] = "handoff",
    [AGENT_EVENT_FINAL] = "final",
    [AGENT_EVENT_ERROR] = "error",
};

static const char *const SPAN_KINDS[] = {
    [AGENT_SPAN_RUN] = "run",
    [AGENT_SPAN_MODEL] = "model",
    [AGENT_SPAN_TOOL] = "tool",
    [AGENT_SPAN_HANDOFF] = "handoff",
    [AGENT_SPAN_GUARDRAIL] = "guardrail",
};

const char *agent_event_type_name(enum agent_event_type type)
{
    if ((unsigned)type < sizeof EVENT_NAMES / sizeof EVENT_NAMES[0])
        return EVENT_NAMES[type];
    return "unknown";
}

static const char *span_kind_name(enum agent_span_kind kind)
{
    if ((unsigned)kind < sizeof SPAN_KINDS / sizeof SPAN_KINDS[0])
        return SPAN_KINDS[kind];
    return "unknown";
}

void agent_result_free(struct agent_result *result)
{
    if (!result)
        return;
    free(result->error);
    free(result->final_text);
    free(result->path);
    json_decref(result->items);
    for (size_t i = 0; i < result->n_usage; i++)
        free(result->usage[i].model);
    free(result->usage);
    for (size_t i = 0; i < result->n_spans; i++) {
        free(result->spans[i].name);
        free(result->spans[i].agent);
    }
    free(result->spans);
    free(result->guardrail);
    memset(result, 0, sizeof *result);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* One span as a new JSON object (without the run id). */
static json_t *span_to_json(const struct agent_span *s)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "kind", json_string(span_kind_name(s->kind)));
    json_object_set_new(obj, "name", string_or_null(s->name));
    json_object_set_new(obj, "agent", string_or_null(s->agent));
    json_object_set_new(obj, "start_ms", json_real((double)s->start_ns / 1e6));
    json_object_set_new(obj, "duration_ms", json_real((double)s->duration_ns / 1e6));
    json_object_set_new(obj, "status", json_integer(s->status));
    if (s->status != 0)
        json_object_set_new(obj, "error", json_string(err_name(s->status)));
    return obj;
}

static json_t *usage_to_json(const struct agent_usage *u)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "model", string_or_null(u->model));
    json_object_set_new(obj, "requests", json_integer(u->requests));
    json_object_set_new(obj, "prompt_tokens", json_integer(u->prompt_tokens));
    json_object_set_new(obj, "completion_tokens", json_integer(u->completion_tokens));
    json_object_set_new(obj, "total_tokens", json_integer(u->total_tokens));
    return obj;
}

json_t *agent_result_to_json(const struct agent_result *result)
{
    json_t *obj = json_object(), *path = json_array(), *usage = json_array();
    json_t *spans = json_array();
    json_object_set_new(obj, "status", json_integer(result->status));
    json_object_set_new(obj, "error", string_or_null(result->error));
    json_object_set_new(obj, "final", string_or_null(result->final_text));
    json_object_set_new(obj, "last_agent",
                        string_or_null(result->last_agent ? result->last_agent->name : NULL));
    json_object_set_new(obj, "guardrail", string_or_null(result->guardrail));
    for (size_t i = 0; i < result->n_path; i++)
        json_array_append_new(path, json_string(result->path[i]));
    json_object_set_new(obj, "path", path);
    json_object_set_new(obj, "items", result->items ? json_deep_copy(result->items) : json_array());
    for (size_t i = 0; i < result->n_usage; i++)
        json_array_append_new(usage, usage_to_json(&result->usage[i]));
    json_object_set_new(obj, "usage", usage);
    for (size_t i = 0; i < result->n_spans; i++)
        json_array_append_new(spans, span_to_json(&result->spans[i]));
    json_object_set_new(obj, "spans", spans);
    return obj;
}

int agent_trace_write_jsonl(const struct agent_result *result, const char *run_id, FILE *out)
{
    int rc = 0;
    for (size_t i = 0; i < result->n_spans && rc == 0; i++) {
        json_t *line = span_to_json(&result->spans[i]);
        json_object_set_new(line, "run_id", string_or_null(run_id));
        json_object_set_new(line, "seq", json_integer((json_int_t)i));
        if (json_dumpf(line, out, JSON_COMPACT | JSON_SORT_KEYS) != 0 || fputc('\n', out) == EOF)
            rc = ERR_IO;
        json_decref(line);
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = ERR_IO;
    return rc;
}
