/* session — a rep's conversation with Hard-E, kept between turns.
 *
 * A session is an id, the conversation (llm_messages), the agent that spoke
 * last (the next turn continues with it) and timestamps. This first backend
 * keeps each session as one JSON file in DATA_DIR/sessions/, written to a
 * temporary file and renamed into place, so a killed process leaves either
 * the old or the new session, never half of one. The store/ floor replaces
 * it when sessions must be shared between machines. */
#ifndef HARDE_HARDE_SESSION_H
#define HARDE_HARDE_SESSION_H

#include <stdint.h>

#include "llm/model.h"

#define SESSION_ID_MAX 64

struct harde_session {
    char id[SESSION_ID_MAX + 1];
    struct llm_messages messages;
    char *active_agent; /* name of the agent that spoke last, or NULL */
    int64_t created_ms;
    int64_t updated_ms;
};

/* True when id is 1–64 characters of [A-Za-z0-9_-]. */
int session_id_valid(const char *id);
/* Fills s as a new, empty session with a fresh random id. */
void session_init_new(struct harde_session *s);
/* Loads session id from data_dir. 0; ERR_NOT_FOUND when there is none;
 * ERR_INVALID for a bad id; ERR_PARSE/ERR_IO with err set. */
int session_load(const char *data_dir, const char *id, struct harde_session *s, char *err,
                 size_t errlen);
/* Saves atomically; 0 or ERR_IO with err set. */
int session_save(const char *data_dir, struct harde_session *s, char *err, size_t errlen);
void session_free(struct harde_session *s);

#endif
