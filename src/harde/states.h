/* states — Hard-E's two workflow states: NewClientState (the facts a rep
 * gives to create a client and a job in the CRM) and ScriptDraftState (a
 * personalised video script being drafted and revised for a CRM job).
 *
 * Each is a plain struct whose first member is a struct state_header, plus a
 * field table (new_client_desc, script_draft_desc) that state.h's generic
 * functions walk: pass &s->hdr to them. Members hold normalised values owned
 * by the state (NULL / unset when not given); read them directly, but write
 * them only through state.h (or the helpers below), which validate, stamp
 * the change and withdraw a stale confirmation. The confirmed and
 * pending_confirmation flags of the blueprint's states are s->hdr.confirmed
 * and s->hdr.pending_confirmation.
 *
 * states_find and states_from_json map a saved state's "kind" back to its
 * table, so a session can keep whichever state is active as JSON. */
#ifndef HARDE_HARDE_STATES_H
#define HARDE_HARDE_STATES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "harde/state.h"

/* ---- NewClientState ("new_client") ------------------------------------------- */

/* Required: first_name, last_name, phone, street, city, state, zip, trade. */
struct new_client_state {
    struct state_header hdr;
    char *first_name;  /* "Maria" (title-cased when typed in one case) */
    char *last_name;   /* "Garcia" */
    char *phone;       /* E.164: "+16145550123" */
    char *email;       /* lower case; optional */
    char *street;      /* "1234 Maple Ave" */
    char *city;        /* "Columbus" */
    char *state;       /* two letters: "OH" */
    char *zip;         /* "43215" or "43215-1234" */
    char *trade;       /* roofing, siding, gutters, windows or other */
    char *lead_source; /* free text: "referral", "door knock", "web"; optional */
    char *notes;       /* free text; optional */
};

extern const struct state_desc new_client_desc;

/* A new, empty new-client state; free with state_free(&s->hdr). */
struct new_client_state *new_client_new(void);
/* h as a new-client state (borrowed), or NULL when it is another kind. */
struct new_client_state *new_client_of(struct state_header *h);
/* Sets street, city, state and ZIP from one address as a rep says it
 * ("1234 Maple Ave, Columbus, OH 43215"); parts the text lacks are left as
 * they were. 0, or ERR_INVALID with err set (nothing changed). */
int new_client_set_address(struct new_client_state *s, const char *text, char *err, size_t errlen);

/* ---- ScriptDraftState ("script_draft") ------------------------------------- */

#define SCRIPT_REVISIONS_MAX 10   /* earlier drafts kept; older ones are dropped */
#define SCRIPT_DRAFT_MAX     8000 /* characters of a draft */

/* An earlier draft and what the next draft changed ("shorter; mentions the warranty"). */
struct script_revision {
    char *draft;
    char *note;    /* may be NULL */
    int64_t at_ms; /* when it was replaced */
};

struct script_revisions {
    struct script_revision items[SCRIPT_REVISIONS_MAX]; /* oldest first */
    size_t len;
};

/* Required to draft: job_id, kind. */
struct script_draft_state {
    struct state_header hdr;
    char *job_id;                      /* the CRM job: "1042" */
    char *customer_name;               /* from the CRM (internal) */
    char *address;                     /* from the CRM (internal) */
    char *kind;                        /* primer, follow_up, thank_you or review_request */
    char *tone;                        /* friendly (default), professional or energetic */
    struct state_int target_seconds;   /* 60–120, default 90 */
    struct state_list key_points;      /* at most 10 */
    char *draft;                       /* the current draft (internal) */
    struct script_revisions revisions; /* internal */
};

extern const struct state_desc script_draft_desc;

/* A new script-draft state with its defaults; free with state_free(&s->hdr). */
struct script_draft_state *script_draft_new(void);
/* h as a script-draft state (borrowed), or NULL when it is another kind. */
struct script_draft_state *script_draft_of(struct state_header *h);
/* Makes text the current draft. The draft it replaces (if any, and if
 * different) becomes the newest revision, with note saying what changed
 * (may be NULL); beyond SCRIPT_REVISIONS_MAX the oldest is dropped. 0, or
 * ERR_INVALID with err set ("draft: no value given"). */
int script_draft_set_draft(struct script_draft_state *s, const char *text, const char *note,
                           char *err, size_t errlen);

/* ---- any state ----------------------------------------------------------------- */

/* The descriptor of kind ("new_client", "script_draft"), or NULL (static). */
const struct state_desc *states_find(const char *kind);
/* A new state of the kind json names, filled from json (state_to_json's
 * shape); free with state_free. NULL with err set when json is not one. */
struct state_header *states_from_json(const json_t *json, char *err, size_t errlen);

#endif
