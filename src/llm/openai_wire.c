/* openai_wire — Chat Completions request/response JSON and error mapping.
 * See openai_wire.h.
 *
 * Requests are built with jansson from the borrowed llm_request; strings go
 * through openai_wire_string so invalid UTF-8 from a user's terminal becomes
 * U+FFFD rather than a silently missing field. Responses are read leniently
 * where servers differ harmlessly (null vs absent fields, arguments sent as
 * an object by some compatible servers, a missing tool-call id) and strictly
 * where the answer would be unusable (no choices, a tool call without a
 * name). Error mapping is one function so HTTP errors, errors inside a 200
 * and errors in the middle of a stream read the same to a rep. */
#include "llm/openai_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#define WIRE_SNIPPET_MAX 160 /* bytes of a server message quoted to the user */

/* ---- strings ----------------------------------------------------------- */

json_t *openai_wire_string(const char *s)
{
    return utf8_json_string(s);
}

/* ---- request ----------------------------------------------------------- */

static json_t *wire_tool_calls(const struct llm_message *msg)
{
    json_t *calls = json_array();
    for (size_t i = 0; i < msg->n_tool_calls; i++) {
        const struct llm_tool_call *c = &msg->tool_calls[i];
        json_t *fn = json_object();
        json_object_set_new(fn, "name", openai_wire_string(c->name));
        json_object_set_new(fn, "arguments", openai_wire_string(c->arguments));
        json_t *call = json_object();
        json_object_set_new(call, "id", openai_wire_string(c->id));
        json_object_set_new(call, "type", json_string("function"));
        json_object_set_new(call, "function", fn);
        json_array_append_new(calls, call);
    }
    return calls;
}

static json_t *wire_message(const struct llm_message *msg)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    json_t *o = json_object();
    json_object_set_new(o, "role", json_string(roles[msg->role]));
    if (msg->role == LLM_ROLE_ASSISTANT && msg->n_tool_calls > 0) {
        json_object_set_new(o, "content",
                            msg->content ? openai_wire_string(msg->content) : json_null());
        json_object_set_new(o, "tool_calls", wire_tool_calls(msg));
    } else {
        json_object_set_new(o, "content", openai_wire_string(msg->content));
    }
    if (msg->role == LLM_ROLE_TOOL)
        json_object_set_new(o, "tool_call_id", openai_wire_string(msg->tool_call_id));
    return o;
}

static json_t *wire_tools(const struct llm_request *req)
{
    json_t *tools = json_array();
    for (size_t i = 0; i < req->n_tools; i++) {
        const struct llm_tool_spec *t = &req->tools[i];
        json_t *fn = json_object();
        json_object_set_new(fn, "name", openai_wire_string(t->name));
        if (t->description)
            json_object_set_new(fn, "description", openai_wire_string(t->description));
        /* An explicit empty object schema: some compatible servers need one. */
        json_object_set_new(fn, "parameters",
                            t->parameters
                                ? json_deep_copy(t->parameters)
                                : json_pack("{s:s, s:{}}", "type", "object", "properties"));
        json_array_append_new(tools, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    return tools;
}

static json_t *wire_tool_choice(const char *choice)
{
    if (strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0 ||
        strcmp(choice, "required") == 0)
        return json_string(choice);
    return json_pack("{s:s, s:{s:o}}", "type", "function", "function", "name",
                     openai_wire_string(choice));
}

json_t *openai_wire_request(const struct llm_request *req)
{
    json_t *root = json_object();
    json_object_set_new(root, "model", openai_wire_string(req->model));
    json_t *messages = json_array();
    if (req->instructions)
        json_array_append_new(messages, json_pack("{s:s, s:o}", "role", "system", "content",
                                                  openai_wire_string(req->instructions)));
    for (size_t i = 0; i < req->n_messages; i++)
        json_array_append_new(messages, wire_message(&req->messages[i]));
    json_object_set_new(root, "messages", messages);
    if (req->n_tools > 0) {
        json_object_set_new(root, "tools", wire_tools(req));
        if (req->settings.tool_choice && req->settings.tool_choice[0])
            json_object_set_new(root, "tool_choice", wire_tool_choice(req->settings.tool_choice));
    }
    if (req->settings.temperature >= 0)
        json_object_set_new(root, "temperature", json_real(req->settings.temperature));
    if (req->settings.max_tokens > 0)
        json_object_set_new(root, "max_completion_tokens", json_integer(req->settings.max_tokens));
    if (req->stream) {
        json_object_set_new(root, "stream", json_true());
        json_object_set_new(root, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    return root;
}

/* ---- errors ------------------------------------------------------------ */

/* Copies up to WIRE_SNIPPET_MAX bytes of text into out with control bytes
 * and non-ASCII replaced, for quoting a server in a sentence. */
static void wire_snippet(const char *text, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < outlen && n < WIRE_SNIPPET_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        out[n++] = c >= 0x20 && c < 0x7F ? (char)c : (c == '\n' || c == '\t' ? ' ' : '?');
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    if (outlen)
        out[n] = '\0';
}

static const char *wire_member(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int openai_wire_error(const json_t *error, long status, const char *model, char *err, size_t errlen)
{
    const char *code = wire_member(error, "code");
    const char *type = wire_member(error, "type");
    const char *raw =
        json_is_string(error) ? json_string_value(error) : wire_member(error, "message");
    char message[WIRE_SNIPPET_MAX + 1];
    wire_snippet(raw, strlen(raw), message, sizeof message);
    if (!message[0])
        snprintf(message, sizeof message, "no details given");
    const char *m = model && model[0] ? model : "(none)";

    if (strcmp(code, "insufficient_quota") == 0 || strcmp(type, "insufficient_quota") == 0) {
        snprintf(err, errlen,
                 "the OpenAI account is out of credit (insufficient_quota): add credit to the "
                 "account or use another key");
        return ERR_RATE_LIMIT;
    }
    if (status == 401 || strcmp(code, "invalid_api_key") == 0) {
        snprintf(err, errlen,
                 "the OpenAI API key was rejected (401): set OPENAI_API_KEY to a valid key");
        return ERR_AUTH;
    }
    if (strcmp(code, "model_not_found") == 0 || (status == 404 && strstr(raw, "model") != NULL)) {
        snprintf(err, errlen,
                 "the model \"%s\" does not exist or this API key may not use it: choose "
                 "another model (server said: %s)",
                 m, message);
        return ERR_MODEL;
    }
    if (strcmp(code, "context_length_exceeded") == 0) {
        snprintf(err, errlen, "the conversation is too long for the model \"%s\" (server said: %s)",
                 m, message);
        return ERR_MODEL;
    }
    if (status == 403) {
        snprintf(err, errlen, "the OpenAI API refused this request (403): %s", message);
        return ERR_AUTH;
    }
    if (status == 429) {
        snprintf(err, errlen, "the OpenAI API is rate limiting this key (429): %s", message);
        return ERR_RATE_LIMIT;
    }
    if (status == 404) {
        snprintf(err, errlen,
                 "the model server has no chat completions endpoint at this address (404): "
                 "check OPENAI_BASE_URL");
        return ERR_HTTP;
    }
    if (status == 0) {
        snprintf(err, errlen, "the model server reported an error: %s", message);
        return ERR_MODEL;
    }
    if (status >= 500) {
        snprintf(err, errlen, "the model server failed (HTTP %ld): %s", status, message);
        return ERR_HTTP;
    }
    snprintf(err, errlen, "the model server rejected the request (HTTP %ld): %s", status, message);
    return ERR_HTTP;
}

int openai_wire_http_error(long status, const char *body, size_t len, const char *model, char *err,
                           size_t errlen)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    int rc;
    if (error && !json_is_null(error)) {
        rc = openai_wire_error(error, status, model, err, errlen);
    } else {
        char snippet[WIRE_SNIPPET_MAX + 1];
        wire_snippet(body ? body : "", len, snippet, sizeof snippet);
        json_t *fake = json_pack("{s:s}", "message", snippet);
        rc = openai_wire_error(fake, status, model, err, errlen);
        json_decref(fake);
    }
    json_decref(root);
    return rc;
}

bool openai_wire_is_quota_error(const char *body, size_t len)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    bool quota = strcmp(wire_member(error, "code"), "insufficient_quota") == 0 ||
                 strcmp(wire_member(error, "type"), "insufficient_quota") == 0;
    json_decref(root);
    return quota;
}

/* ---- response ---------------------------------------------------------- */

char *openai_wire_call_id(size_t index)
{
    return xasprintf("call_h%llx_%zu", (unsigned long long)clock_wall_ms(), index);
}

/* A tool call's arguments as text: a string as is, an object (some
 * compatible servers) re-encoded, anything else "". New. */
static char *wire_arguments(const json_t *args)
{
    if (json_is_string(args))
        return xstrdup(json_string_value(args));
    if (json_is_object(args)) {
        char *s = json_dumps(args, JSON_COMPACT);
        char *copy = xstrdup(s ? s : "{}");
        free(s);
        return copy;
    }
    return xstrdup("");
}

static int wire_tool_calls_in(const json_t *calls, struct llm_response *out, char *err,
                              size_t errlen)
{
    size_t n = json_array_size(calls);
    if (n == 0)
        return 0;
    out->tool_calls = xcalloc(n, sizeof *out->tool_calls);
    for (size_t i = 0; i < n; i++) {
        const json_t *call = json_array_get(calls, i);
        const json_t *fn = json_object_get(call, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || !name[0]) {
            snprintf(err, errlen, "the model sent a tool call without a name");
            return ERR_MODEL;
        }
        struct llm_tool_call *tc = &out->tool_calls[out->n_tool_calls++];
        const char *id = json_string_value(json_object_get(call, "id"));
        tc->id = id && id[0] ? xstrdup(id) : openai_wire_call_id(i);
        tc->name = xstrdup(name);
        tc->arguments = wire_arguments(json_object_get(fn, "arguments"));
    }
    return 0;
}

int openai_wire_response_from_json(const json_t *root, const char *model, struct llm_response *out,
                                   char *err, size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the model server sent a response that is not a JSON object");
        return ERR_MODEL;
    }
    const json_t *error = json_object_get(root, "error");
    if (error && !json_is_null(error) && !json_is_false(error))
        return openai_wire_error(error, 0, model, err, errlen);
    const json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    const json_t *message = json_object_get(choice, "message");
    if (!json_is_object(message)) {
        snprintf(err, errlen, "the model server sent an answer without any choices");
        return ERR_MODEL;
    }
    const char *content = json_string_value(json_object_get(message, "content"));
    if (!content) /* a refusal is the model's answer too */
        content = json_string_value(json_object_get(message, "refusal"));
    out->content = content ? xstrdup(content) : NULL;
    int rc = wire_tool_calls_in(json_object_get(message, "tool_calls"), out, err, errlen);
    if (rc)
        return rc;
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    out->finish_reason = finish ? xstrdup(finish) : NULL;
    const char *answered = json_string_value(json_object_get(root, "model"));
    out->model = answered ? xstrdup(answered) : NULL;
    const json_t *usage = json_object_get(root, "usage");
    out->usage.prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    out->usage.completion_tokens =
        (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    out->usage.total_tokens = (long)json_integer_value(json_object_get(usage, "total_tokens"));
    return 0;
}

int openai_wire_parse_response(const char *body, size_t len, const char *model,
                               struct llm_response *out, char *err, size_t errlen)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    if (!root) {
        snprintf(err, errlen, "the model server sent a response that is not valid JSON");
        return ERR_MODEL;
    }
    int rc = openai_wire_response_from_json(root, model, out, err, errlen);
    json_decref(root);
    return rc;
}
