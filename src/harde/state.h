/* state — typed workflow states described by field tables.
 *
 * A workflow that collects facts over many turns (a new client, a video
 * script) keeps them in a plain C struct whose first member is a struct
 * state_header. A struct state_desc describes the struct once, as data: one
 * struct state_field per member with its JSON name, words for people, type,
 * whether it is required, the question that asks for it, an optional
 * normaliser and its offsetof(). Generic code walks that table to list what
 * is still missing, set a field from text or JSON with a validation error a
 * person can act on, round-trip the whole state through JSON, write the
 * one-line and confirmation summaries, and emit the JSON Schema of an update
 * so an agent tool can accept field updates from a model. The concrete states
 * are in states.h.
 *
 * Storage by type (the member at field->offset):
 *   STATE_STRING … STATE_ZIP  char *             (NULL: not set; new, owned by the state)
 *   STATE_INTEGER             struct state_int
 *   STATE_TEXT_LIST           struct state_list  (each item owned by the state)
 *   STATE_CUSTOM              field->custom->size bytes, handled by field->custom
 *
 * Every value is normalised before it is stored ("(614) 555-0123" becomes
 * "+16145550123", "Ohio" becomes "OH"), and normalisers are idempotent, so a
 * stored value always passes its own validation again (the JSON round trip
 * relies on it). Setting a field that already has a value overwrites it: a
 * correction is just another set. Any change stamps updated_ms and withdraws
 * a confirmation (confirmed and pending_confirmation become false), so what a
 * rep confirmed is exactly what is written.
 *
 * Errors name the field and the rule, in words a rep or a model can act on:
 *   phone: 614-555-012 is not a US phone number (10 digits)
 *   target_seconds: 150 is not between 60 and 120
 * Functions that write the state are all-or-nothing: on error it is unchanged.
 * A state is not thread-safe; the descriptor tables are immutable. */
#ifndef HARDE_HARDE_STATE_H
#define HARDE_HARDE_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "llm/local/entities.h"

#define STATE_VALUE_MAX   8192  /* bytes of any one value given as text */
#define STATE_STRING_MAX  200   /* default max_len of a one-line value */
#define STATE_LIST_MAX    32    /* hard maximum of items in a list */
#define STATE_FIELDS_MAX  32    /* fields in one descriptor */
#define STATE_SUMMARY_MAX 65536 /* bytes of a summary or schema text */

enum state_type {
    STATE_STRING,    /* one line: whitespace runs become one space */
    STATE_TEXT,      /* free text: lines kept, CRLF becomes LF */
    STATE_NAME,      /* a person's or a place's name: letters, spaces, - ' . ;
                        written in one case, it is title-cased ("maria" → "Maria") */
    STATE_ENUM,      /* one of field->choices; aliases and mentions accepted */
    STATE_PHONE,     /* a US phone number in any common format → E.164 "+16145550123" */
    STATE_EMAIL,     /* an email address, lower-cased */
    STATE_US_STATE,  /* the 50 states and DC, by code or name → "OH" */
    STATE_ZIP,       /* "43215" or "43215-1234" */
    STATE_INTEGER,   /* a whole number within [min, max] */
    STATE_TEXT_LIST, /* one-line items, at most max_items */
    STATE_CUSTOM,    /* field->custom says how */
};

/* Field flags. */
#define STATE_REQUIRED 1u /* the workflow cannot finish without it */
#define STATE_INTERNAL 2u /* set by code (from the CRM, by a draft), never by a model's update */

struct state_int {
    bool set;
    long value;
};

struct state_list {
    char **items;
    size_t len;
};

struct state_field;

/* A normaliser: the normalised value of text (already trimmed, valid UTF-8,
 * not empty) as a new string, or NULL with an error sentence in err that does
 * not repeat the field's name ("4321 is not a ZIP code (5 digits, …)"). For
 * STATE_INTEGER fields the result is the number in decimal; the range is
 * checked by the caller. */
typedef char *state_normalize_fn(const struct state_field *field, const char *text, char *err,
                                 size_t errlen);

/* How a STATE_CUSTOM member is kept. slot points at the member (size bytes). */
struct state_custom {
    size_t size;
    bool (*is_set)(const void *slot);
    void (*release)(void *slot);          /* frees what the slot owns and zeroes it */
    json_t *(*to_json)(const void *slot); /* new reference */
    /* Fills a zeroed slot from value; 0, or ERR_INVALID with err set (the
     * slot is then released by the caller). */
    int (*from_json)(void *slot, const json_t *value, char *err, size_t errlen);
    /* Appends the value for people: one short line, or in full. */
    void (*describe)(const void *slot, bool full, struct buf *out);
};

struct state_field {
    const char *name;  /* JSON name, also the name in errors: "first_name" */
    const char *label; /* for people: "first name" */
    enum state_type type;
    unsigned flags;       /* STATE_REQUIRED, STATE_INTERNAL */
    size_t offset;        /* offsetof(struct …, member) */
    const char *question; /* asks for it in plain words: "What is the client's phone number?" */
    const char *hint;     /* what a good value looks like, for the schema ("any US format") */
    state_normalize_fn *normalize;       /* NULL: the type's own normaliser */
    const struct entity_choice *choices; /* STATE_ENUM */
    size_t n_choices;
    long min, max;                     /* STATE_INTEGER range (min >= max: any) */
    size_t max_len;                    /* characters of a normalised value or item; 0: type
                                          default (STATE_STRING_MAX, or STATE_VALUE_MAX for
                                          STATE_TEXT) */
    size_t max_items;                  /* STATE_TEXT_LIST; 0: STATE_LIST_MAX */
    const char *def;                   /* default as text, applied by init and clear; NULL: none */
    const char *summary_sep;           /* one-line summary: put before the value when something
                                          precedes it; NULL: ", " */
    const char *summary_format;        /* one-line summary: "{}" stands for the value; NULL: "{}";
                                          "" leaves the field out of the one-line summary */
    const struct state_custom *custom; /* STATE_CUSTOM */
};

struct state_desc {
    const char *kind;  /* "new_client": the JSON "kind" */
    const char *title; /* "New client": heads the confirmation summary */
    size_t size;       /* sizeof the whole struct, header included */
    const struct state_field *fields;
    size_t n_fields;
};

/* The first member of every state struct. */
struct state_header {
    const struct state_desc *desc;
    int64_t created_ms;        /* wall clock, ms since the epoch */
    int64_t updated_ms;        /* the last change (created_ms until then) */
    bool confirmed;            /* the rep confirmed the summary of the current values */
    bool pending_confirmation; /* the summary was shown; the next answer decides */
};

/* ---- life cycle ------------------------------------------------------------ */

/* Zeroes desc->size bytes at h (the start of a state struct described by
 * desc), stamps created/updated with the wall clock and applies defaults. */
void state_init(struct state_header *h, const struct state_desc *desc);
/* Frees every value; the struct must be initialised again before reuse. */
void state_release(struct state_header *h);
/* A new, initialised state of desc (free with state_free). */
struct state_header *state_new(const struct state_desc *desc);
/* Releases and frees h (NULL is fine). */
void state_free(struct state_header *h);
/* Empties every field, applies defaults, withdraws any confirmation and
 * restamps created/updated: the workflow starts over (or has finished). */
void state_clear(struct state_header *h);
/* A change happened (code that writes members directly calls this): stamps
 * updated_ms and withdraws the confirmation. */
void state_mark_changed(struct state_header *h);
/* True when the state has been idle for idle_ms or more at now_ms
 * (idle_ms <= 0: never expires). */
bool state_expired(const struct state_header *h, int64_t now_ms, int64_t idle_ms);

/* ---- fields ----------------------------------------------------------------- */

/* The field called name (its JSON name) in desc, or NULL (borrowed). */
const struct state_field *state_field_find(const struct state_desc *desc, const char *name);
bool state_is_set(const struct state_header *h, const struct state_field *field);
/* The required fields without a value, in table order: fills out[0..max) with
 * borrowed pointers (each has its question) and returns how many are missing
 * (which may be more than max). */
size_t state_missing(const struct state_header *h, const struct state_field **out, size_t max);
/* The first missing required field, or NULL when nothing is missing. */
const struct state_field *state_next_missing(const struct state_header *h);
/* Appends the value of field as text (nothing when unset): lists as
 * "a; b", integers in decimal, custom values as their short description. */
int state_value_text(const struct state_header *h, const struct state_field *field,
                     struct buf *out);

/* The normalised value of text for field, a new string, or NULL with err
 * set (without the field's name). Checks UTF-8, length and emptiness, then
 * runs the field's normaliser (for a list, the one for one item). */
char *state_normalize(const struct state_field *field, const char *text, char *err, size_t errlen);

/* Sets field name from text, overwriting any value (internal fields too:
 * this is the code's path, not a model's). A list is replaced by the items
 * of text separated by newlines or ';'. Returns 0; ERR_NOT_FOUND
 * for an unknown field; ERR_INVALID for a bad value (err: "phone: …"). */
int state_set_text(struct state_header *h, const char *name, const char *text, char *err,
                   size_t errlen);
/* Sets field name from a JSON value (borrowed): a string for the text types,
 * an integer for STATE_INTEGER, an array of strings for a list, what the
 * custom type reads for STATE_CUSTOM; null unsets the field. Errors as
 * state_set_text, plus ill-typed values ("target_seconds: must be a whole
 * number (got \"90\")"). */
int state_set_json(struct state_header *h, const char *name, const json_t *value, char *err,
                   size_t errlen);
/* Removes the value of field name (a default is not restored). */
int state_unset(struct state_header *h, const char *name, char *err, size_t errlen);

/* Appends one item to list field name (an item already there, compared
 * without case, is not added twice). ERR_LIMIT when the list is full. */
int state_list_add(struct state_header *h, const char *name, const char *item, char *err,
                   size_t errlen);
/* Removes the item of list field name that equals text (without case), else
 * the item whose 1-based number text is, else the one item containing text.
 * ERR_NOT_FOUND when none matches; ERR_INVALID when several contain it. */
int state_list_remove(struct state_header *h, const char *name, const char *text, char *err,
                      size_t errlen);

/* Applies an update from a model: fields is a JSON object of field values
 * in the shape state_json_schema describes. Absent and null members leave
 * their field unchanged; lists are replaced whole. Unknown members, internal
 * fields, ill-typed and invalid values are all reported at once (separated
 * by "; ") and nothing is applied. 0 or ERR_INVALID. */
int state_update_json(struct state_header *h, const json_t *fields, char *err, size_t errlen);

/* ---- JSON ------------------------------------------------------------------- */

/* The whole state as a new JSON object:
 *   {"kind": "new_client", "created_ms": …, "updated_ms": …, "confirmed": false,
 *    "pending_confirmation": false, "fields": {"first_name": "Maria", …}}
 * Unset fields are left out. */
json_t *state_to_json(const struct state_header *h);
/* Replaces the contents of h (initialised with its descriptor) with json,
 * the shape state_to_json writes. The kind must match; unknown members,
 * ill-typed and invalid values are refused with every problem in err.
 * 0 or ERR_INVALID (h unchanged). */
int state_from_json(struct state_header *h, const json_t *json, char *err, size_t errlen);

/* A JSON Schema (an object schema, every property optional, no others
 * allowed) for state_update_json: types, enums, ranges and descriptions
 * from the table; internal fields are left out. New reference / new text. */
json_t *state_json_schema(const struct state_desc *desc);
char *state_json_schema_text(const struct state_desc *desc);

/* ---- summaries and confirmation --------------------------------------------- */

/* Appends one line: the values with the table's separators and formats,
 * then "; missing: " and the labels of missing fields, or "none":
 *   Maria Garcia, +16145550123, maria@example.com, 1234 Maple Ave, Columbus OH 43215
 *   — roofing, referral; missing: none
 * Returns 0 or ERR_LIMIT. */
int state_summary(const struct state_header *h, struct buf *out);
/* Appends the confirmation summary: the title, then every field on its own
 * line ("  Phone: +16145550123", "(missing)" or "(none)" when unset), then
 * "Missing: …". Returns 0 or ERR_LIMIT. */
int state_confirmation(const struct state_header *h, struct buf *out);

/* Asks the rep to confirm: when nothing is missing, appends the confirmation
 * summary to out and sets pending_confirmation. ERR_INVALID with err
 * ("missing: street, ZIP code") when something is. */
int state_request_confirmation(struct state_header *h, struct buf *out, char *err, size_t errlen);

enum state_reply {
    STATE_REPLY_NOT_PENDING, /* no summary was waiting for an answer */
    STATE_REPLY_CONFIRMED,   /* yes: confirmed is now true */
    STATE_REPLY_DECLINED,    /* no: the confirmation is withdrawn */
    STATE_REPLY_UNCLEAR,     /* neither, or both: still pending, ask again */
};

/* Decides a pending confirmation from the rep's reply ("yes", "looks good",
 * "no", "hmm"). Apply any correction the reply carries first: a change
 * withdraws the pending confirmation, so the summary is shown again. */
enum state_reply state_confirmation_reply(struct state_header *h, const char *reply);

/* ---- normalisers, for other fields and modules -------------------------------- */

/* Each is a state_normalize_fn; field may be NULL where it is not needed
 * (phone, email, US state, ZIP, name). text must be trimmed and non-empty. */
char *state_normalize_phone(const struct state_field *field, const char *text, char *err,
                            size_t errlen);
char *state_normalize_email(const struct state_field *field, const char *text, char *err,
                            size_t errlen);
char *state_normalize_us_state(const struct state_field *field, const char *text, char *err,
                               size_t errlen);
char *state_normalize_zip(const struct state_field *field, const char *text, char *err,
                          size_t errlen);
char *state_normalize_name(const struct state_field *field, const char *text, char *err,
                           size_t errlen);
char *state_normalize_enum(const struct state_field *field, const char *text, char *err,
                           size_t errlen);

/* The start of text (at most 40 bytes, cut at a character boundary, "…"
 * added when cut) written to out, for quoting a value back in a message.
 * Returns out. */
const char *state_snippet(const char *text, char *out, size_t outlen);

/* Title-cases s in place when it is written in one case ("o'brien" →
 * "O'Brien", "ST. LOUIS" → "St. Louis"); mixed case is left alone. */
void state_title_case(char *s);

#endif
