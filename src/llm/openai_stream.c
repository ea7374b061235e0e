/* openai_stream — streamed Chat Completions assembly. See openai_stream.h.
 *
 * Tool-call fragments are matched to accumulators by their `index` (a small
 * linear array; a turn has a handful of calls). A fragment without an index
 * — seen from some compatible servers — starts a new call when it carries an
 * id and otherwise continues the last one. Fields may be absent or null;
 * both mean "nothing in this chunk". Only choice 0 is read (we never ask for
 * n > 1). On finish the calls are ordered by index. */
#include "llm/openai_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "llm/openai_wire.h"

void openai_stream_init(struct openai_stream *s, const char *model, llm_text_cb *on_text,
                        void *user)
{
    memset(s, 0, sizeof *s);
    s->model_requested = model;
    s->on_text = on_text;
    s->user = user;
    buf_init(&s->text, OPENAI_STREAM_MAX_TEXT);
}

void openai_stream_free(struct openai_stream *s)
{
    buf_free(&s->text);
    for (size_t i = 0; i < s->n_calls; i++) {
        free(s->calls[i].id);
        free(s->calls[i].name);
        buf_free(&s->calls[i].arguments);
    }
    free(s->calls);
    free(s->finish_reason);
    free(s->model);
    s->calls = NULL;
    s->n_calls = 0;
    s->finish_reason = s->model = NULL;
}

static int stream_text(struct openai_stream *s, const char *text, char *err, size_t errlen)
{
    size_t len = strlen(text);
    s->have_text = true;
    if (buf_append(&s->text, text, len)) {
        snprintf(err, errlen, "the model's answer is longer than %u bytes", OPENAI_STREAM_MAX_TEXT);
        return ERR_LIMIT;
    }
    if (len && s->on_text)
        s->on_text(text, len, s->user);
    return 0;
}

/* The accumulator for a fragment, created when new; NULL when too many. */
static struct openai_stream_call *stream_call_for(struct openai_stream *s, const json_t *frag)
{
    const json_t *jindex = json_object_get(frag, "index");
    long index;
    if (json_is_integer(jindex))
        index = (long)json_integer_value(jindex);
    else if (s->n_calls == 0 || json_string_value(json_object_get(frag, "id")))
        index = s->n_calls ? s->calls[s->n_calls - 1].index + 1 : 0;
    else
        return &s->calls[s->n_calls - 1];
    for (size_t i = 0; i < s->n_calls; i++)
        if (s->calls[i].index == index)
            return &s->calls[i];
    if (s->n_calls == OPENAI_STREAM_MAX_TOOL_CALLS)
        return NULL;
    s->calls = xrealloc(s->calls, (s->n_calls + 1) * sizeof *s->calls);
    struct openai_stream_call *c = &s->calls[s->n_calls++];
    memset(c, 0, sizeof *c);
    c->index = index;
    buf_init(&c->arguments, OPENAI_STREAM_MAX_ARGUMENTS);
    return c;
}

static int stream_tool_fragment(struct openai_stream *s, const json_t *frag, char *err,
                                size_t errlen)
{
    struct openai_stream_call *c = stream_call_for(s, frag);
    if (!c) {
        snprintf(err, errlen, "the model asked for more than %d tool calls at once",
                 OPENAI_STREAM_MAX_TOOL_CALLS);
        return ERR_LIMIT;
    }
    const char *id = json_string_value(json_object_get(frag, "id"));
    if (id && id[0] && !c->id)
        c->id = xstrdup(id);
    const json_t *fn = json_object_get(frag, "function");
    const char *name = json_string_value(json_object_get(fn, "name"));
    if (name && name[0] && !c->name)
        c->name = xstrdup(name);
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    if (args && buf_append_str(&c->arguments, args)) {
        snprintf(err, errlen, "the model's arguments for a tool call are longer than %u bytes",
                 OPENAI_STREAM_MAX_ARGUMENTS);
        return ERR_LIMIT;
    }
    return 0;
}

static int stream_choice(struct openai_stream *s, const json_t *choice, char *err, size_t errlen)
{
    const json_t *delta = json_object_get(choice, "delta");
    const char *content = json_string_value(json_object_get(delta, "content"));
    int rc = 0;
    if (content)
        rc = stream_text(s, content, err, errlen);
    const char *refusal = json_string_value(json_object_get(delta, "refusal"));
    if (!rc && refusal)
        rc = stream_text(s, refusal, err, errlen);
    const json_t *calls = json_object_get(delta, "tool_calls");
    for (size_t i = 0; !rc && i < json_array_size(calls); i++)
        rc = stream_tool_fragment(s, json_array_get(calls, i), err, errlen);
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (!rc && finish) {
        free(s->finish_reason);
        s->finish_reason = xstrdup(finish);
    }
    return rc;
}

int openai_stream_chunk(struct openai_stream *s, const json_t *chunk, char *err, size_t errlen)
{
    if (s->done)
        return 0;
    if (!json_is_object(chunk)) {
        snprintf(err, errlen, "the model server sent a stream chunk that is not a JSON object");
        return ERR_MODEL;
    }
    const json_t *error = json_object_get(chunk, "error");
    if (error && !json_is_null(error) && !json_is_false(error))
        return openai_wire_error(error, 0, s->model_requested, err, errlen);
    const char *model = json_string_value(json_object_get(chunk, "model"));
    if (model && !s->model)
        s->model = xstrdup(model);
    const json_t *choices = json_object_get(chunk, "choices");
    for (size_t i = 0; i < json_array_size(choices); i++) {
        const json_t *choice = json_array_get(choices, i);
        const json_t *index = json_object_get(choice, "index");
        if (index && json_integer_value(index) != 0)
            continue;
        int rc = stream_choice(s, choice, err, errlen);
        if (rc)
            return rc;
    }
    const json_t *usage = json_object_get(chunk, "usage");
    if (json_is_object(usage)) {
        s->usage.prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
        s->usage.completion_tokens =
            (long)json_integer_value(json_object_get(usage, "completion_tokens"));
        s->usage.total_tokens = (long)json_integer_value(json_object_get(usage, "total_tokens"));
    }
    s->chunks++;
    return 0;
}

int openai_stream_event(struct openai_stream *s, const char *event, const char *data, size_t len,
                        char *err, size_t errlen)
{
    if (s->done)
        return 0;
    if (len >= 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return 0;
    }
    json_t *chunk = json_loadb(data, len, 0, NULL);
    int rc;
    if (event && strcmp(event, "error") == 0) {
        json_t *error = json_object_get(chunk, "error");
        json_t *fallback = NULL;
        if (!error || json_is_null(error))
            error = chunk && json_is_object(chunk) ? chunk : (fallback = json_stringn(data, len));
        rc = openai_wire_error(error, 0, s->model_requested, err, errlen);
        if (rc != ERR_AUTH && rc != ERR_RATE_LIMIT)
            rc = ERR_MODEL;
        json_decref(fallback);
    } else if (!chunk) {
        snprintf(err, errlen, "the model server sent a stream event that is not valid JSON");
        rc = ERR_MODEL;
    } else {
        rc = openai_stream_chunk(s, chunk, err, errlen);
    }
    json_decref(chunk);
    return rc;
}

static int call_by_index(const void *a, const void *b)
{
    long x = ((const struct openai_stream_call *)a)->index;
    long y = ((const struct openai_stream_call *)b)->index;
    return (x > y) - (x < y);
}

int openai_stream_finish(struct openai_stream *s, struct llm_response *out, char *err,
                         size_t errlen)
{
    if (!s->done && !s->finish_reason) {
        snprintf(err, errlen, "the model's answer was cut off (the stream ended early)");
        return ERR_MODEL;
    }
    if (s->n_calls > 1)
        qsort(s->calls, s->n_calls, sizeof *s->calls, call_by_index);
    for (size_t i = 0; i < s->n_calls; i++) {
        if (!s->calls[i].name) {
            snprintf(err, errlen, "the model sent a tool call without a name");
            return ERR_MODEL;
        }
    }
    if (s->n_calls)
        out->tool_calls = xcalloc(s->n_calls, sizeof *out->tool_calls);
    for (size_t i = 0; i < s->n_calls; i++) {
        struct openai_stream_call *c = &s->calls[i];
        struct llm_tool_call *tc = &out->tool_calls[i];
        tc->id = c->id ? c->id : openai_wire_call_id(i);
        tc->name = c->name;
        tc->arguments = buf_steal(&c->arguments);
        c->id = c->name = NULL;
    }
    out->n_tool_calls = s->n_calls;
    /* An empty text beside tool calls is no answer text (content null). */
    if (s->have_text && (s->text.len > 0 || s->n_calls == 0))
        out->content = buf_steal(&s->text);
    out->finish_reason = s->finish_reason;
    out->model = s->model;
    out->usage = s->usage;
    s->finish_reason = s->model = NULL;
    return 0;
}
