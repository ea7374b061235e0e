/* api_sessions — conversations over HTTP: GET|POST /v1/sessions,
 * GET /v1/sessions/{id}, POST /v1/sessions/{id}/messages (checked here, run
 * by api_turn.c).
 *
 * Who sees what: a session belongs to the user who created it. Its owner
 * reads and writes it; a manager also reads the sessions of users in their
 * team; an admin reads every session. Nobody writes another's session. A
 * session one may not read answers 404, as if it did not exist (so ids cannot
 * be probed); one that may be read but not written answers 403 to a message.
 *
 * GET /v1/sessions lists the caller's own sessions; ?owner=NAME lists NAME's
 * (when the caller may read them, else 403) and ?owner=* everything the
 * caller may read. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "harde/state.h"
#include "web/web_internal.h"

enum access { ACCESS_NONE, ACCESS_READ, ACCESS_WRITE };

/* What the caller may do with the sessions of owner. */
static enum access access_to(struct web_call *call, const char *owner)
{
    const struct web_principal *who = &call->who;
    if (strcmp(owner, who->name) == 0)
        return ACCESS_WRITE;
    if (who->role == STORE_ROLE_ADMIN)
        return ACCESS_READ;
    if (who->role != STORE_ROLE_MANAGER || !who->team[0] || !store_user_name_valid(owner))
        return ACCESS_NONE;
    struct store_user u;
    if (store_user_get(call->worker->app.store, owner, &u) != 0)
        return ACCESS_NONE;
    bool same = u.team && strcmp(u.team, who->team) == 0;
    store_user_free(&u);
    return same ? ACCESS_READ : ACCESS_NONE;
}

static json_t *summary_json(const char *id, const char *owner, const char *title,
                            int64_t created_ms, int64_t updated_ms)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", id, "title", title ? title : "", "owner",
                     owner ? owner : "", "created_ms", (json_int_t)created_ms, "updated_ms",
                     (json_int_t)updated_ms);
}

/* ---- the list ------------------------------------------------------------------------ */

/* Appends the sessions of owner (NULL: everyone's) to arr; 0 or ERR_*. */
static int append_sessions(struct store *st, const char *owner, json_t *arr)
{
    struct store_session_filter f = {.owner = owner, .limit = WEB_SESSION_LIST};
    struct store_session_list list;
    int rc = store_session_list(st, &f, &list);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < list.count; i++) {
        const struct store_session *s = &list.items[i];
        json_array_append_new(
            arr, summary_json(s->id, s->owner, s->title, s->created_ms, s->updated_ms));
    }
    store_session_list_free(&list);
    return 0;
}

static int newest_first(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "updated_ms"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "updated_ms"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The sessions of every member of team (the manager's view of ?owner=*). */
static int append_team(struct store *st, const char *team, json_t *arr)
{
    struct store_user_filter f = {.team = team, .limit = STORE_LIST_MAX};
    struct store_user_list users;
    int rc = store_user_list(st, &f, &users);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < users.count; i++)
        rc = append_sessions(st, users.items[i].name, arr);
    store_user_list_free(&users);
    if (rc != 0)
        return rc;
    /* Newest first over all members, then at most one page. */
    size_t n = json_array_size(arr);
    json_t **items = xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof *items, newest_first);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) {
        if (i < WEB_SESSION_LIST)
            json_array_append(arr, items[i]);
        json_decref(items[i]);
    }
    free(items);
    return 0;
}

void api_sessions_list(struct web_call *call)
{
    struct store *st = call->worker->app.store;
    const struct web_principal *who = &call->who;
    const char *owner = http_req_query(call->req, "owner");
    json_t *arr = json_array();
    int rc;
    if (!owner || !*owner) {
        rc = append_sessions(st, who->name, arr);
    } else if (strcmp(owner, "*") == 0) {
        if (who->role == STORE_ROLE_ADMIN)
            rc = append_sessions(st, NULL, arr);
        else if (who->role == STORE_ROLE_MANAGER && who->team[0])
            rc = append_team(st, who->team, arr);
        else
            rc = append_sessions(st, who->name, arr);
    } else if (access_to(call, owner) == ACCESS_NONE) {
        json_decref(arr);
        web_reply_error(call->req, 403, "forbidden", NULL, "you may not read the sessions of %.64s",
                        owner);
        return;
    } else {
        rc = append_sessions(st, owner, arr);
    }
    if (rc != 0) {
        json_decref(arr);
        web_reply_error(call->req, 500, NULL, NULL, "the store: %s", store_error(st));
        return;
    }
    web_reply_json(call->req, 200, json_pack("{s:o}", "sessions", arr));
}

/* ---- one session ------------------------------------------------------------------------ */

void api_sessions_create(struct web_call *call)
{
    struct http_req *req = call->req;
    struct store *st = call->worker->app.store;
    json_t *body;
    if (web_body_object(req, true, &body) != 0)
        return;
    const json_t *title = json_object_get(body, "title");
    if (title && !json_is_null(title) &&
        (!json_is_string(title) || json_string_length(title) > WEB_TITLE_MAX)) {
        web_reply_error(req, 400, "bad_request",
                        json_pack("[s]", "title: a string of at most 200 bytes"),
                        "the session cannot be created");
        json_decref(body);
        return;
    }
    struct harde_session s;
    session_init_new(&s);
    s.owner = xstrdup(call->who.name);
    s.title = xstrdup(json_is_string(title) ? json_string_value(title) : "");
    char err[512];
    if (session_save(st, &s, err, sizeof err) != 0)
        web_reply_error(req, 500, NULL, NULL, "%s", err);
    else
        web_reply_json(req, 201, summary_json(s.id, s.owner, s.title, s.created_ms, s.updated_ms));
    session_free(&s);
    json_decref(body);
}

json_t *web_state_json(const struct state_header *h)
{
    if (!h)
        return json_null();
    json_t *fields = json_array(), *missing = json_array();
    struct buf value;
    buf_init(&value, STATE_SUMMARY_MAX);
    for (size_t i = 0; i < h->desc->n_fields; i++) {
        const struct state_field *f = &h->desc->fields[i];
        if (f->flags & STATE_INTERNAL)
            continue;
        bool set = state_is_set(h, f);
        bool required = (f->flags & STATE_REQUIRED) != 0;
        buf_reset(&value);
        if (set)
            state_value_text(h, f, &value);
        json_t *field = json_pack("{s:s, s:s, s:b, s:b}", "name", f->name, "label", f->label,
                                  "required", required, "filled", set);
        if (set)
            json_object_set_new(field, "value", json_string(buf_str(&value)));
        json_array_append_new(fields, field);
        if (required && !set)
            json_array_append_new(missing, json_string(f->label));
    }
    buf_free(&value);
    return json_pack("{s:s, s:s, s:o, s:o, s:b}", "kind", h->desc->kind, "title", h->desc->title,
                     "fields", fields, "missing", missing, "awaiting_confirmation",
                     h->pending_confirmation);
}

/* The conversation for people: user and assistant text, tool traffic left out. */
static json_t *messages_json(const struct llm_messages *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < m->len; i++) {
        const struct llm_message *msg = &m->items[i];
        if (!msg->content || !*msg->content)
            continue;
        if (msg->role == LLM_ROLE_USER)
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s}", "role", "user", "content", msg->content));
        else if (msg->role == LLM_ROLE_ASSISTANT)
            json_array_append_new(arr, json_pack("{s:s, s:s?, s:s}", "role", "assistant", "agent",
                                                 msg->agent, "content", msg->content));
    }
    return arr;
}

/* Loads session id for the caller: 0, or answers (404, 500) and returns ERR_*. */
static int load_for(struct web_call *call, const char *id, struct harde_session *s,
                    enum access *access)
{
    struct harde_app *app = &call->worker->app;
    char err[512];
    int rc = session_load(app->store, id, app->state_idle_minutes * 60000, s, err, sizeof err);
    if (rc == ERR_NOT_FOUND || rc == ERR_INVALID) {
        web_reply_error(call->req, 404, NULL, NULL, "no session \"%.64s\"", id);
        return rc;
    }
    if (rc != 0) {
        web_reply_error(call->req, 500, NULL, NULL, "%s", err);
        return rc;
    }
    *access = access_to(call, s->owner ? s->owner : "");
    if (*access == ACCESS_NONE) {
        session_free(s);
        web_reply_error(call->req, 404, NULL, NULL, "no session \"%.64s\"", id);
        return ERR_NOT_FOUND;
    }
    return 0;
}

void api_session_get(struct web_call *call)
{
    struct harde_session s;
    enum access access;
    if (load_for(call, http_req_param(call->req, "id"), &s, &access) != 0)
        return;
    json_t *view = summary_json(s.id, s.owner, s.title, s.created_ms, s.updated_ms);
    json_object_set_new(view, "messages", messages_json(&s.messages));
    json_object_set_new(view, "state", web_state_json(s.state));
    session_free(&s);
    web_reply_json(call->req, 200, view);
}

void api_session_message(struct web_call *call)
{
    struct http_req *req = call->req;
    json_t *body;
    if (web_body_object(req, false, &body) != 0)
        return;
    const json_t *text = json_object_get(body, "text");
    size_t len = json_string_length(text);
    if (!json_is_string(text) || len == 0 || len > WEB_TEXT_MAX) {
        web_reply_error(req, 400, "bad_request",
                        json_pack("[s]", "text: required, a non-empty string of at most 16000 "
                                         "bytes"),
                        "the message cannot be sent");
        json_decref(body);
        return;
    }
    struct harde_session s;
    enum access access;
    if (load_for(call, http_req_param(req, "id"), &s, &access) != 0) {
        json_decref(body);
        return;
    }
    if (access != ACCESS_WRITE) {
        web_reply_error(req, 403, "forbidden", NULL,
                        "you may read this session but only its owner (%s) may write to it",
                        s.owner);
    } else if (!web_busy_enter(call->ws, s.id)) {
        web_reply_error(req, 409, "conflict", NULL,
                        "a turn is already running in this session; wait for its answer");
    } else {
        web_turn_submit(call, &s, json_string_value(text),
                        http_req_accepts(req, "text/event-stream"));
        json_decref(body);
        return; /* the turn owns s now */
    }
    session_free(&s);
    json_decref(body);
}
