/* session — a rep's conversation with Hard-E, kept between turns.
 *
 * A session is an id, an owner, the conversation (llm_messages), the agent
 * that spoke last, the active workflow state (NewClientState or
 * ScriptDraftState, see states.h) and a CRM write waiting for the rep's "yes".
 * It lives in the store (store.h) as one JSON document, written with
 * optimistic concurrency: two processes continuing the same session cannot
 * silently overwrite each other, and a process killed mid-turn leaves the
 * session as it was after the previous turn. */
#ifndef HARDE_HARDE_SESSION_H
#define HARDE_HARDE_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "harde/state.h"
#include "llm/model.h"
#include "store/store.h"

#define SESSION_ID_MAX 64

struct harde_session {
    char id[SESSION_ID_MAX + 1];
    char *owner;
    char *title;
    struct llm_messages messages;
    char *active_agent;         /* name of the agent that spoke last, or NULL */
    struct state_header *state; /* the active workflow state, or NULL (owned) */
    json_t *pending;            /* a CRM write awaiting confirmation, or NULL (owned) */
    int64_t version;            /* the store's version; 0 = not stored yet */
    int64_t created_ms;
    int64_t updated_ms;
};

/* True when id is 1–64 characters of [A-Za-z0-9_-]. */
int session_id_valid(const char *id);
/* Fills s as a new, empty session with a fresh random id. */
void session_init_new(struct harde_session *s);
/* Loads session id. 0; ERR_NOT_FOUND when there is none; ERR_INVALID for a
 * bad id; ERR_PARSE with err set when the stored document is damaged. A
 * workflow state idle for longer than state_idle_ms (0 = never) is dropped. */
int session_load(struct store *st, const char *id, int64_t state_idle_ms, struct harde_session *s,
                 char *err, size_t errlen);
/* Saves s; 0, or ERR_CONFLICT when another process saved the session since
 * it was loaded, or ERR_IO, with err set. */
int session_save(struct store *st, struct harde_session *s, char *err, size_t errlen);
/* Replaces the active workflow state (takes ownership of state; NULL clears). */
void session_set_state(struct harde_session *s, struct state_header *state);
/* Replaces the pending CRM write (takes ownership; NULL clears). */
void session_set_pending(struct harde_session *s, json_t *pending);
void session_free(struct harde_session *s);

#endif
