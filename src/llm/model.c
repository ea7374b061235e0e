/* model — the conversation type and the thin dispatch to model backends.
 * See model.h. Messages own every string they point to; the JSON form is the
 * Chat Completions message shape plus "agent", so a stored conversation can be
 * replayed to any backend. */
#include "llm/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"

static const char *const role_names[] = {"system", "user", "assistant", "tool"};

const char *llm_role_name(enum llm_role role)
{
    return (unsigned)role < 4 ? role_names[role] : "unknown";
}

const struct llm_message *llm_messages_open_question(const struct llm_message *msgs, size_t before)
{
    for (size_t i = before; i-- > 0;) {
        const struct llm_message *m = &msgs[i];
        if (m->role == LLM_ROLE_USER)
            return NULL;
        if (m->role != LLM_ROLE_ASSISTANT || !m->content || m->n_tool_calls)
            continue;
        size_t n = strlen(m->content);
        while (n && isspace((unsigned char)m->content[n - 1]))
            n--;
        bool yes_no = n >= 8 && strncmp(m->content + n - 8, "(yes/no)", 8) == 0;
        return n && (m->content[n - 1] == '?' || yes_no) ? m : NULL;
    }
    return NULL;
}

void llm_messages_init(struct llm_messages *m)
{
    m->items = NULL;
    m->len = m->cap = 0;
}

void llm_message_free(struct llm_message *msg)
{
    free(msg->content);
    for (size_t i = 0; i < msg->n_tool_calls; i++) {
        free(msg->tool_calls[i].id);
        free(msg->tool_calls[i].name);
        free(msg->tool_calls[i].arguments);
    }
    free(msg->tool_calls);
    free(msg->tool_call_id);
    free(msg->agent);
    memset(msg, 0, sizeof *msg);
}

void llm_messages_free(struct llm_messages *m)
{
    for (size_t i = 0; i < m->len; i++)
        llm_message_free(&m->items[i]);
    free(m->items);
    llm_messages_init(m);
}

struct llm_message *llm_messages_push(struct llm_messages *m, enum llm_role role)
{
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->items = xrealloc(m->items, m->cap * sizeof *m->items);
    }
    struct llm_message *msg = &m->items[m->len++];
    memset(msg, 0, sizeof *msg);
    msg->role = role;
    return msg;
}

void llm_messages_push_text(struct llm_messages *m, enum llm_role role, const char *content,
                            const char *agent)
{
    struct llm_message *msg = llm_messages_push(m, role);
    msg->content = xstrdup(content);
    msg->agent = xstrdup(agent);
}

void llm_messages_truncate(struct llm_messages *m, size_t len)
{
    while (m->len > len)
        llm_message_free(&m->items[--m->len]);
}

void llm_message_copy(struct llm_message *dst, const struct llm_message *src)
{
    dst->role = src->role;
    dst->content = xstrdup(src->content);
    dst->tool_call_id = xstrdup(src->tool_call_id);
    dst->agent = xstrdup(src->agent);
    dst->n_tool_calls = src->n_tool_calls;
    dst->tool_calls = NULL;
    if (src->n_tool_calls) {
        dst->tool_calls = xcalloc(src->n_tool_calls, sizeof *dst->tool_calls);
        for (size_t i = 0; i < src->n_tool_calls; i++) {
            dst->tool_calls[i].id = xstrdup(src->tool_calls[i].id);
            dst->tool_calls[i].name = xstrdup(src->tool_calls[i].name);
            dst->tool_calls[i].arguments = xstrdup(src->tool_calls[i].arguments);
        }
    }
}

static json_t *message_to_json(const struct llm_message *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "role", json_string(llm_role_name(msg->role)));
    json_object_set_new(o, "content", msg->content ? utf8_json_string(msg->content) : json_null());
    if (msg->n_tool_calls) {
        json_t *calls = json_array();
        for (size_t i = 0; i < msg->n_tool_calls; i++) {
            const struct llm_tool_call *c = &msg->tool_calls[i];
            json_array_append_new(calls, json_pack("{s:s?, s:s, s:{s:s?, s:s?}}", "id", c->id,
                                                   "type", "function", "function", "name", c->name,
                                                   "arguments", ""));
            json_object_set_new(json_object_get(json_array_get(calls, i), "function"), "arguments",
                                utf8_json_string(c->arguments));
        }
        json_object_set_new(o, "tool_calls", calls);
    }
    if (msg->tool_call_id)
        json_object_set_new(o, "tool_call_id", json_string(msg->tool_call_id));
    if (msg->agent)
        json_object_set_new(o, "agent", json_string(msg->agent));
    return o;
}

json_t *llm_messages_to_json(const struct llm_messages *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->len; i++)
        json_array_append_new(a, message_to_json(&m->items[i]));
    return a;
}

static int parse_role(const char *s, enum llm_role *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, role_names[i]) == 0) {
            *out = (enum llm_role)i;
            return 0;
        }
    }
    return ERR_PARSE;
}

static char *opt_string(const json_t *o, const char *key, int *bad)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return xstrdup(json_string_value(v));
}

static int tool_calls_from_json(struct llm_message *msg, const json_t *calls)
{
    if (!calls || json_is_null(calls))
        return 0;
    if (!json_is_array(calls))
        return ERR_PARSE;
    size_t n = json_array_size(calls);
    if (!n)
        return 0;
    msg->tool_calls = xcalloc(n, sizeof *msg->tool_calls);
    msg->n_tool_calls = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(calls, i);
        const json_t *fn = json_object_get(c, "function");
        int bad = 0;
        msg->tool_calls[i].id = opt_string(c, "id", &bad);
        msg->tool_calls[i].name = opt_string(fn, "name", &bad);
        msg->tool_calls[i].arguments = opt_string(fn, "arguments", &bad);
        if (bad || !json_is_object(fn) || !msg->tool_calls[i].name)
            return ERR_PARSE;
    }
    return 0;
}

int llm_messages_from_json(struct llm_messages *m, const json_t *array, char *err, size_t errlen)
{
    if (!json_is_array(array)) {
        snprintf(err, errlen, "messages: expected an array");
        return ERR_PARSE;
    }
    size_t start = m->len;
    for (size_t i = 0; i < json_array_size(array); i++) {
        const json_t *o = json_array_get(array, i);
        enum llm_role role;
        int bad = 0;
        if (!json_is_object(o) ||
            parse_role(json_string_value(json_object_get(o, "role")), &role) != 0) {
            snprintf(err, errlen, "messages[%zu]: expected an object with a valid role", i);
            goto fail;
        }
        struct llm_message *msg = llm_messages_push(m, role);
        msg->content = opt_string(o, "content", &bad);
        msg->tool_call_id = opt_string(o, "tool_call_id", &bad);
        msg->agent = opt_string(o, "agent", &bad);
        if (bad || tool_calls_from_json(msg, json_object_get(o, "tool_calls")) != 0) {
            snprintf(err, errlen, "messages[%zu]: malformed %s message", i, llm_role_name(role));
            goto fail;
        }
    }
    return 0;
fail:
    llm_messages_truncate(m, start);
    return ERR_PARSE;
}

void llm_response_free(struct llm_response *r)
{
    free(r->content);
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        free(r->tool_calls[i].id);
        free(r->tool_calls[i].name);
        free(r->tool_calls[i].arguments);
    }
    free(r->tool_calls);
    free(r->finish_reason);
    free(r->model);
    free(r->request_id);
    memset(r, 0, sizeof *r);
}

void llm_stream_words(const char *text, llm_text_cb *on_text, void *user)
{
    const char *p = text;
    while (*p) {
        const char *q = p;
        while (*q && !isspace((unsigned char)*q))
            q++;
        while (*q && isspace((unsigned char)*q))
            q++;
        on_text(p, (size_t)(q - p), user);
        p = q;
    }
}

int llm_complete(struct llm_model *model, const struct llm_request *req, llm_text_cb *on_text,
                 void *user, struct llm_response *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    int rc = model->ops->complete(model->impl, req, on_text, user, out, err, errlen);
    if (rc && errlen && !err[0])
        snprintf(err, errlen, "%s", err_message(rc));
    return rc;
}

void llm_model_free(struct llm_model *model)
{
    if (!model)
        return;
    if (model->ops->destroy)
        model->ops->destroy(model->impl);
    free(model);
}
