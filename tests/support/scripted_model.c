/* scripted_model — canned-response model backend and event recorder for
 * agent tests. See scripted_model.h.
 *
 * Owns: the recorded requests (deep copies, freed with the model) and the
 * event log buffers. The script itself is the test's static data.
 *
 * Design: complete() copies what it was asked into a growing array first,
 * then answers with the next scripted response — so a test can inspect even
 * the request that failed. Responses are built the way a real backend builds
 * them: new strings in *out, text delivered through on_text in small pieces
 * before the call returns. */
#include "scripted_model.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

struct scripted {
    const struct scripted_response *script;
    size_t n_script;
    struct scripted_request *requests;
    size_t n_requests, cap_requests;
};

static void record(struct scripted *s, const struct llm_request *req)
{
    struct scripted_request *r;
    if (s->n_requests == s->cap_requests) {
        s->cap_requests = s->cap_requests ? s->cap_requests * 2 : 4;
        s->requests = xrealloc(s->requests, s->cap_requests * sizeof *s->requests);
    }
    r = &s->requests[s->n_requests++];
    memset(r, 0, sizeof *r);
    r->agent = xstrdup(req->agent);
    r->model = xstrdup(req->model);
    r->instructions = xstrdup(req->instructions);
    r->tool_choice = xstrdup(req->settings.tool_choice);
    r->stream = req->stream;
    r->n_tools = req->n_tools;
    r->tools = xcalloc(req->n_tools + 1, sizeof *r->tools);
    r->tool_descriptions = xcalloc(req->n_tools + 1, sizeof *r->tool_descriptions);
    for (size_t i = 0; i < req->n_tools; i++) {
        r->tools[i] = xstrdup(req->tools[i].name);
        r->tool_descriptions[i] = xstrdup(req->tools[i].description);
    }
    llm_messages_init(&r->messages);
    for (size_t i = 0; i < req->n_messages; i++) {
        struct llm_message *m = llm_messages_push(&r->messages, req->messages[i].role);
        llm_message_copy(m, &req->messages[i]);
    }
    r->n_messages = req->n_messages;
}

static void stream_text(const char *text, llm_text_cb *on_text, void *user)
{
    size_t len = strlen(text);
    for (size_t off = 0; off < len; off += SCRIPTED_DELTA_BYTES) {
        size_t n = len - off < SCRIPTED_DELTA_BYTES ? len - off : SCRIPTED_DELTA_BYTES;
        on_text(text + off, n, user);
    }
}

static int scripted_complete(void *impl, const struct llm_request *req, llm_text_cb *on_text,
                             void *user, struct llm_response *out, char *err, size_t errlen)
{
    struct scripted *s = impl;
    size_t index = s->n_requests;
    const struct scripted_response *resp;
    record(s, req);
    if (req->cancel && *req->cancel) {
        snprintf(err, errlen, "the model call was canceled");
        return ERR_CANCELED;
    }
    if (index >= s->n_script) {
        snprintf(err, errlen, "the scripted model has no response left for request %zu", index + 1);
        return ERR_MODEL;
    }
    resp = &s->script[index];
    if (resp->error) {
        snprintf(err, errlen, "%s", resp->error_message ? resp->error_message : "");
        return resp->error;
    }
    if (resp->content && req->stream && on_text)
        stream_text(resp->content, on_text, user);
    out->content = xstrdup(resp->content);
    out->n_tool_calls = resp->n_tool_calls;
    out->tool_calls =
        resp->n_tool_calls ? xcalloc(resp->n_tool_calls, sizeof *out->tool_calls) : NULL;
    for (size_t i = 0; i < resp->n_tool_calls; i++) {
        const struct scripted_tool_call *c = &resp->tool_calls[i];
        out->tool_calls[i].id = c->id ? xstrdup(c->id) : xasprintf("call_%zu_%zu", index, i);
        out->tool_calls[i].name = xstrdup(c->name);
        out->tool_calls[i].arguments = xstrdup(c->arguments);
    }
    out->finish_reason = xstrdup(resp->n_tool_calls ? "tool_calls" : "stop");
    out->model = xstrdup(resp->model ? resp->model : req->model);
    out->usage = resp->usage;
    return 0;
}

static void request_free(struct scripted_request *r)
{
    free(r->agent);
    free(r->model);
    free(r->instructions);
    free(r->tool_choice);
    for (size_t i = 0; i < r->n_tools; i++) {
        free(r->tools[i]);
        free(r->tool_descriptions[i]);
    }
    free(r->tools);
    free(r->tool_descriptions);
    llm_messages_free(&r->messages);
}

static void scripted_destroy(void *impl)
{
    struct scripted *s = impl;
    for (size_t i = 0; i < s->n_requests; i++)
        request_free(&s->requests[i]);
    free(s->requests);
    free(s);
}

static const struct llm_model_ops scripted_ops = {
    .name = "scripted",
    .complete = scripted_complete,
    .destroy = scripted_destroy,
};

struct llm_model *scripted_model_new(const struct scripted_response *script, size_t n)
{
    struct llm_model *model = xcalloc(1, sizeof *model);
    struct scripted *s = xcalloc(1, sizeof *s);
    s->script = script;
    s->n_script = n;
    model->ops = &scripted_ops;
    model->impl = s;
    return model;
}

size_t scripted_model_n_requests(const struct llm_model *model)
{
    const struct scripted *s = model->impl;
    return s->n_requests;
}

const struct scripted_request *scripted_model_request(const struct llm_model *model, size_t i)
{
    struct scripted *s = model->impl;
    struct scripted_request *r;
    if (i >= s->n_requests)
        return NULL;
    r = &s->requests[i];
    r->last = r->messages.len ? &r->messages.items[r->messages.len - 1] : NULL;
    return r;
}

bool scripted_request_offers(const struct scripted_request *request, const char *name)
{
    for (size_t i = 0; i < request->n_tools; i++)
        if (strcmp(request->tools[i], name) == 0)
            return true;
    return false;
}

/* ---- events ------------------------------------------------------------- */

void scripted_events_init(struct scripted_events *events)
{
    memset(events, 0, sizeof *events);
    buf_init(&events->log, 0);
    buf_init(&events->text, 0);
    buf_init(&events->last_result, 0);
}

void scripted_events_free(struct scripted_events *events)
{
    buf_free(&events->log);
    buf_free(&events->text);
    buf_free(&events->last_result);
    free(events->final);
    free(events->error);
    memset(events, 0, sizeof *events);
}

static bool log_ends_with(const struct buf *b, const char *word)
{
    size_t n = strlen(word);
    return b->len >= n && memcmp(b->data + b->len - n, word, n) == 0;
}

void scripted_events_cb(const struct agent_event *e, void *user)
{
    struct scripted_events *ev = user;
    struct buf *log = &ev->log;
    const char *name = agent_event_type_name(e->type);
    if (e->type == AGENT_EVENT_TEXT_DELTA) {
        buf_append(&ev->text, e->text, e->len);
        ev->n_deltas++;
        if (log_ends_with(log, "text"))
            return;
    }
    if (log->len)
        buf_append_char(log, ' ');
    switch (e->type) {
    case AGENT_EVENT_AGENT_CHANGED:
        buf_printf(log, "%s(%s)", name, e->agent);
        break;
    case AGENT_EVENT_TEXT_DELTA:
        buf_append_str(log, "text");
        break;
    case AGENT_EVENT_TOOL_STARTED:
        buf_printf(log, "%s(%s)", name, e->tool);
        break;
    case AGENT_EVENT_TOOL_FINISHED:
        buf_printf(log, "%s(%s%s)", name, e->tool, e->is_error ? "!" : "");
        buf_reset(&ev->last_result);
        buf_append_str(&ev->last_result, e->result ? e->result : "");
        break;
    case AGENT_EVENT_HANDOFF:
        buf_printf(log, "%s(%s>%s)", name, e->agent, e->target);
        break;
    case AGENT_EVENT_FINAL:
        buf_append_str(log, name);
        free(ev->final);
        ev->final = xstrndup(e->text, e->len);
        break;
    case AGENT_EVENT_ERROR:
        buf_printf(log, "%s(%s)", name, err_name(e->status));
        free(ev->error);
        ev->error = xstrndup(e->text, e->len);
        ev->error_status = e->status;
        break;
    }
}
