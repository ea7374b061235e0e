/* session — sessions as JSON documents in the store. See session.h.
 *
 * The document: {"messages": [...], "active_agent": "...", "state": {...} or
 * null, "pending": {...} or null}. Messages use llm_messages_to_json, the
 * state state_to_json, so every part round-trips through its own module. */
#define _POSIX_C_SOURCE 200809L
#include "harde/session.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "harde/states.h"

int session_id_valid(const char *id)
{
    return store_id_valid(id);
}

void session_init_new(struct harde_session *s)
{
    memset(s, 0, sizeof *s);
    unsigned char raw[8];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof raw) {
        int64_t t = clock_now_ns() ^ ((int64_t)getpid() << 32);
        memcpy(raw, &t, sizeof raw);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    llm_messages_init(&s->messages);
    s->created_ms = s->updated_ms = clock_wall_ms();
}

static int load_document(struct harde_session *s, const json_t *doc, int64_t state_idle_ms,
                         char *err, size_t errlen)
{
    char inner[300];
    if (llm_messages_from_json(&s->messages, json_object_get(doc, "messages"), inner,
                               sizeof inner) != 0) {
        snprintf(err, errlen, "session %s: %s", s->id, inner);
        return ERR_PARSE;
    }
    s->active_agent = xstrdup(json_string_value(json_object_get(doc, "active_agent")));
    const json_t *state = json_object_get(doc, "state");
    if (state && !json_is_null(state)) {
        s->state = states_from_json(state, inner, sizeof inner);
        if (!s->state) {
            snprintf(err, errlen, "session %s: workflow state: %s", s->id, inner);
            return ERR_PARSE;
        }
        if (state_idle_ms > 0 && state_expired(s->state, clock_wall_ms(), state_idle_ms)) {
            log_info("session", "session %s: %s state expired after %lld ms idle", s->id,
                     s->state->desc->kind, (long long)state_idle_ms);
            session_set_state(s, NULL);
        }
    }
    const json_t *pending = json_object_get(doc, "pending");
    if (json_is_object(pending))
        s->pending = json_deep_copy(pending);
    return 0;
}

int session_load(struct store *st, const char *id, int64_t state_idle_ms, struct harde_session *s,
                 char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    llm_messages_init(&s->messages);
    if (!session_id_valid(id)) {
        snprintf(err, errlen, "invalid session id \"%s\" (use 1-64 letters, digits, '-', '_')", id);
        return ERR_INVALID;
    }
    struct store_session row;
    int rc = store_session_get(st, id, &row);
    if (rc == ERR_NOT_FOUND) {
        snprintf(err, errlen, "no session \"%s\"", id);
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "session %s: %s", id, store_error(st));
        return rc;
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    s->owner = xstrdup(row.owner);
    s->title = xstrdup(row.title);
    s->version = row.version;
    s->created_ms = row.created_ms;
    s->updated_ms = row.updated_ms;
    rc = load_document(s, row.doc, state_idle_ms, err, errlen);
    store_session_free(&row);
    if (rc != 0)
        session_free(s);
    return rc;
}

static json_t *session_document(const struct harde_session *s)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "messages", llm_messages_to_json(&s->messages));
    json_object_set_new(doc, "active_agent",
                        s->active_agent ? json_string(s->active_agent) : json_null());
    json_object_set_new(doc, "state", s->state ? state_to_json(s->state) : json_null());
    json_object_set(doc, "pending", s->pending ? s->pending : json_null());
    return doc;
}

/* A title for the session list: the first words of the first user message. */
static char *default_title(const struct harde_session *s)
{
    for (size_t i = 0; i < s->messages.len; i++) {
        const struct llm_message *m = &s->messages.items[i];
        if (m->role == LLM_ROLE_USER && m->content) {
            char out[64];
            return xstrdup(state_snippet(m->content, out, sizeof out));
        }
    }
    return xstrdup("");
}

int session_save(struct store *st, struct harde_session *s, char *err, size_t errlen)
{
    json_t *doc = session_document(s);
    if (!s->title || !*s->title) {
        free(s->title);
        s->title = default_title(s);
    }
    struct store_session_put put = {
        .id = s->id, .owner = s->owner, .title = s->title, .doc = doc, .version = s->version};
    int64_t version = 0;
    int rc = store_session_put(st, &put, &version);
    json_decref(doc);
    if (rc == ERR_CONFLICT)
        snprintf(err, errlen,
                 "session %s was changed by another turn at the same time; nothing was lost, "
                 "but this answer was not saved: send the message again",
                 s->id);
    else if (rc != 0)
        snprintf(err, errlen, "cannot save session %s: %s", s->id, store_error(st));
    else {
        s->version = version;
        s->updated_ms = clock_wall_ms();
    }
    return rc;
}

void session_set_state(struct harde_session *s, struct state_header *state)
{
    if (s->state && s->state != state)
        state_free(s->state);
    s->state = state;
}

void session_set_pending(struct harde_session *s, json_t *pending)
{
    json_decref(s->pending);
    s->pending = pending;
}

void session_free(struct harde_session *s)
{
    llm_messages_free(&s->messages);
    free(s->active_agent);
    free(s->owner);
    free(s->title);
    session_set_state(s, NULL);
    session_set_pending(s, NULL);
    memset(s, 0, sizeof *s);
}
