/* states — the field tables of NewClientState and ScriptDraftState, their
 * own normalisers (street, job id, length in seconds), the revision list of
 * a script draft, and the helpers that go beyond one field. See states.h.
 *
 * Owns the static tables. Everything a state does is driven by its table
 * (state.h walks it); the code here is only what a table cannot say: how a
 * street, a job id and "a minute and a half" read, how an earlier draft is
 * kept, and how one spoken address fills four fields at once. */
#define _POSIX_C_SOURCE 200809L
#include "harde/states.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SNIP_MAX     48
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- normalisers of these states ------------------------------------------------ */

/* A house number and a street: at least one digit and one letter. */
static char *normalize_street(const struct state_field *field, const char *text, char *err,
                              size_t errlen)
{
    char snip[SNIP_MAX];
    bool digit = false, letter = false;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        digit |= isdigit(*p) != 0;
        letter |= isalpha(*p) || *p >= 0x80;
    }
    if (!digit || !letter) {
        snprintf(err, errlen,
                 "%s is not a street address (a house number and a street, like "
                 "1234 Maple Ave)",
                 state_snippet(text, snip, sizeof snip));
        return NULL;
    }
    char *out = xstrdup(text);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ',')
        out[--n] = '\0';
    state_title_case(out);
    return out;
}

/* "1042", "#1042", "job 1042", "J-1042": 1–32 of [A-Za-z0-9_-] with a digit. */
static char *normalize_job_id(const struct state_field *field, const char *text, char *err,
                              size_t errlen)
{
    char snip[SNIP_MAX];
    const char *p = text;
    if (strncasecmp(p, "job", 3) == 0 && !isalnum((unsigned char)p[3]))
        p += 3;
    while (*p == ' ' || *p == '#' || *p == ':')
        p++;
    if (strncasecmp(p, "id", 2) == 0 && !isalnum((unsigned char)p[2]))
        p += 2;
    while (*p == ' ' || *p == '#' || *p == ':')
        p++;
    size_t n = strlen(p);
    bool digit = false, ok = n >= 1 && n <= 32;
    for (size_t i = 0; i < n && ok; i++) {
        digit |= isdigit((unsigned char)p[i]) != 0;
        ok = isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_';
    }
    if (!ok || !digit) {
        snprintf(err, errlen, "%s is not a job id (like 1042)",
                 state_snippet(text, snip, sizeof snip));
        return NULL;
    }
    return xstrdup(p);
}

/* The unit after a number: seconds per unit, or 0 when it is none. */
static double duration_unit(const char *u)
{
    static const char *const seconds[] = {"", "s", "sec", "secs", "second", "seconds"};
    static const char *const minutes[] = {"m", "min", "mins", "minute", "minutes"};
    while (*u == ' ')
        u++;
    for (size_t i = 0; i < ARRAY_LEN(seconds); i++)
        if (strcasecmp(u, seconds[i]) == 0)
            return 1;
    for (size_t i = 0; i < ARRAY_LEN(minutes); i++)
        if (strcasecmp(u, minutes[i]) == 0)
            return 60;
    return 0;
}

/* "90", "90 seconds", "1.5 minutes", "2 min", "1:30", "a minute and a half"
 * → whole seconds in decimal (the range is checked by the caller). */
static char *normalize_seconds(const struct state_field *field, const char *text, char *err,
                               size_t errlen)
{
    char snip[SNIP_MAX], *end;
    double v = -1;
    int min, sec, used = 0;
    if (strcasecmp(text, "a minute and a half") == 0 || strcasecmp(text, "minute and a half") == 0)
        v = 90;
    else if (strcasecmp(text, "a minute") == 0 || strcasecmp(text, "one minute") == 0)
        v = 60;
    else if (strcasecmp(text, "two minutes") == 0)
        v = 120;
    else if (sscanf(text, "%d:%2d%n", &min, &sec, &used) == 2 && !text[used] && min >= 0 &&
             sec >= 0 && sec < 60)
        v = min * 60.0 + sec;
    else if (isdigit((unsigned char)text[0]) || text[0] == '.') {
        double n = strtod(text, &end);
        double unit = duration_unit(end);
        if (unit > 0 && isfinite(n) && n < 1e6)
            v = n * unit;
    }
    if (v < 0) {
        snprintf(err, errlen, "%s is not a length in seconds (like 90, or 1.5 minutes)",
                 state_snippet(text, snip, sizeof snip));
        return NULL;
    }
    return xasprintf("%ld", lround(v));
}

/* ---- NewClientState ------------------------------------------------------------- */

static const char *const roofing_aliases[] = {"roof",     "reroof", "re-roof", "roof replacement",
                                              "shingles", "roofer"};
static const char *const siding_aliases[] = {"vinyl siding", "fiber cement", "hardie board"};
static const char *const gutters_aliases[] = {"gutter", "downspouts", "gutter guards",
                                              "eavestroughs"};
static const char *const windows_aliases[] = {"window", "replacement windows"};

static const struct entity_choice trades[] = {
    {"roofing", roofing_aliases, ARRAY_LEN(roofing_aliases)},
    {"siding", siding_aliases, ARRAY_LEN(siding_aliases)},
    {"gutters", gutters_aliases, ARRAY_LEN(gutters_aliases)},
    {"windows", windows_aliases, ARRAY_LEN(windows_aliases)},
    {"other", NULL, 0},
};

#define NC(member) offsetof(struct new_client_state, member)

static const struct state_field new_client_fields[] = {
    {.name = "first_name",
     .label = "first name",
     .type = STATE_NAME,
     .flags = STATE_REQUIRED,
     .offset = NC(first_name),
     .question = "What is the client's first name?",
     .max_len = 48},
    {.name = "last_name",
     .label = "last name",
     .type = STATE_NAME,
     .flags = STATE_REQUIRED,
     .offset = NC(last_name),
     .question = "What is the client's last name?",
     .max_len = 48,
     .summary_sep = " "},
    {.name = "phone",
     .label = "phone",
     .type = STATE_PHONE,
     .flags = STATE_REQUIRED,
     .offset = NC(phone),
     .question = "What is the best phone number for the client?",
     .hint = "a US phone number in any common format, e.g. 614-555-0123"},
    {.name = "email",
     .label = "email",
     .type = STATE_EMAIL,
     .offset = NC(email),
     .question = "What is the client's email address (if they gave one)?",
     .hint = "an email address",
     .max_len = 254},
    {.name = "street",
     .label = "street",
     .type = STATE_STRING,
     .flags = STATE_REQUIRED,
     .offset = NC(street),
     .question = "What is the street address of the job?",
     .hint = "house number and street, e.g. 1234 Maple Ave",
     .normalize = normalize_street,
     .max_len = 96},
    {.name = "city",
     .label = "city",
     .type = STATE_NAME,
     .flags = STATE_REQUIRED,
     .offset = NC(city),
     .question = "Which city is it in?",
     .max_len = 48},
    {.name = "state",
     .label = "state",
     .type = STATE_US_STATE,
     .flags = STATE_REQUIRED,
     .offset = NC(state),
     .question = "Which state is it in?",
     .hint = "a US state: its two-letter code or its name",
     .summary_sep = " "},
    {.name = "zip",
     .label = "ZIP code",
     .type = STATE_ZIP,
     .flags = STATE_REQUIRED,
     .offset = NC(zip),
     .question = "What is the ZIP code?",
     .hint = "5 digits, or 5+4 like 43215-1234",
     .summary_sep = " "},
    {.name = "trade",
     .label = "trade",
     .type = STATE_ENUM,
     .flags = STATE_REQUIRED,
     .offset = NC(trade),
     .question = "Which trade is the job for: roofing, siding, gutters, windows or other?",
     .choices = trades,
     .n_choices = ARRAY_LEN(trades),
     .summary_sep = " \xe2\x80\x94 "},
    {.name = "lead_source",
     .label = "lead source",
     .type = STATE_STRING,
     .offset = NC(lead_source),
     .question = "How did the lead come in (referral, door knock, web, …)?",
     .hint = "free text, e.g. referral, door knock, web",
     .max_len = 80},
    {.name = "notes",
     .label = "notes",
     .type = STATE_TEXT,
     .offset = NC(notes),
     .question = "Anything else to note on the job?",
     .hint = "free text",
     .max_len = 2000,
     .summary_sep = "; ",
     .summary_format = "notes: {}"},
};

const struct state_desc new_client_desc = {
    .kind = "new_client",
    .title = "New client",
    .size = sizeof(struct new_client_state),
    .fields = new_client_fields,
    .n_fields = ARRAY_LEN(new_client_fields),
};

struct new_client_state *new_client_new(void)
{
    return (struct new_client_state *)state_new(&new_client_desc);
}

struct new_client_state *new_client_of(struct state_header *h)
{
    return h && h->desc == &new_client_desc ? (struct new_client_state *)h : NULL;
}

int new_client_set_address(struct new_client_state *s, const char *text, char *err, size_t errlen)
{
    char snip[SNIP_MAX];
    struct entity_list l;
    entity_list_init(&l);
    int found = text ? entity_find_addresses(text, &l) : ERR_INVALID;
    if (found <= 0) {
        snprintf(err, errlen,
                 "address: %s is not an address (like 1234 Maple Ave, Columbus, OH "
                 "43215)",
                 text ? state_snippet(text, snip, sizeof snip) : "(nothing)");
        entity_list_free(&l);
        return ERR_INVALID;
    }
    const struct entity_address *a = &l.items[0].address;
    json_t *update = json_object();
    if (a->street[0])
        json_object_set_new(update, "street", json_string(a->street));
    if (a->city[0])
        json_object_set_new(update, "city", json_string(a->city));
    if (a->state[0])
        json_object_set_new(update, "state", json_string(a->state));
    if (a->zip[0])
        json_object_set_new(update, "zip", json_string(a->zip));
    entity_list_free(&l);
    int rc = state_update_json(&s->hdr, update, err, errlen);
    json_decref(update);
    return rc;
}

/* ---- ScriptDraftState: revisions --------------------------------------------------- */

static void revision_free(struct script_revision *r)
{
    free(r->draft);
    free(r->note);
    memset(r, 0, sizeof *r);
}

static bool revisions_is_set(const void *slot)
{
    return ((const struct script_revisions *)slot)->len > 0;
}

static void revisions_release(void *slot)
{
    struct script_revisions *rs = slot;
    for (size_t i = 0; i < rs->len; i++)
        revision_free(&rs->items[i]);
    rs->len = 0;
}

static json_t *revisions_to_json(const void *slot)
{
    const struct script_revisions *rs = slot;
    json_t *a = json_array();
    for (size_t i = 0; i < rs->len; i++) {
        const struct script_revision *r = &rs->items[i];
        json_t *o = json_pack("{s:s, s:I}", "draft", r->draft, "at_ms", (json_int_t)r->at_ms);
        if (r->note)
            json_object_set_new(o, "note", json_string(r->note));
        json_array_append_new(a, o);
    }
    return a;
}

/* One saved revision; 0 or ERR_INVALID with err set. */
static int revision_from_json(struct script_revision *r, const json_t *o, size_t n, char *err,
                              size_t errlen)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "item %zu must be an object", n);
        return ERR_INVALID;
    }
    json_object_foreach((json_t *)o, key, v)
    {
        bool ok = (strcmp(key, "draft") == 0 && json_is_string(v) && json_string_length(v)) ||
                  (strcmp(key, "note") == 0 && json_is_string(v)) ||
                  (strcmp(key, "at_ms") == 0 && json_is_integer(v));
        if (!ok) {
            snprintf(err, errlen, "item %zu: \"%s\" is unknown or not a %s", n, key,
                     strcmp(key, "at_ms") == 0 ? "number" : "string");
            return ERR_INVALID;
        }
    }
    if (!json_object_get(o, "draft")) {
        snprintf(err, errlen, "item %zu: no draft", n);
        return ERR_INVALID;
    }
    r->draft = xstrdup(json_string_value(json_object_get(o, "draft")));
    r->note = xstrdup(json_string_value(json_object_get(o, "note")));
    r->at_ms = json_integer_value(json_object_get(o, "at_ms"));
    return 0;
}

static int revisions_from_json(void *slot, const json_t *value, char *err, size_t errlen)
{
    struct script_revisions *rs = slot;
    size_t i;
    const json_t *o;
    if (!json_is_array(value) || json_array_size(value) > SCRIPT_REVISIONS_MAX) {
        snprintf(err, errlen, "must be a list of at most %d earlier drafts", SCRIPT_REVISIONS_MAX);
        return ERR_INVALID;
    }
    json_array_foreach(value, i, o)
    {
        if (revision_from_json(&rs->items[i], o, i + 1, err, errlen) != 0) {
            revision_free(&rs->items[i]);
            return ERR_INVALID;
        }
        rs->len++;
    }
    return 0;
}

static void revisions_describe(const void *slot, bool full, struct buf *out)
{
    const struct script_revisions *rs = slot;
    buf_printf(out, "%zu earlier draft%s", rs->len, rs->len == 1 ? "" : "s");
    if (!full)
        return;
    for (size_t i = 0; i < rs->len; i++)
        buf_printf(out, "%s%s",
                   i ? "; " : " (changes: ", rs->items[i].note ? rs->items[i].note : "not noted");
    if (rs->len)
        buf_append_char(out, ')');
}

static const struct state_custom revisions_type = {
    .size = sizeof(struct script_revisions),
    .is_set = revisions_is_set,
    .release = revisions_release,
    .to_json = revisions_to_json,
    .from_json = revisions_from_json,
    .describe = revisions_describe,
};

/* ---- ScriptDraftState: the table ---------------------------------------------------- */

static const char *const primer_aliases[] = {"primer video", "intro", "introduction", "intro video",
                                             "pre-appointment"};
static const char *const follow_up_aliases[] = {"follow-up video", "check in", "check-in"};
static const char *const thank_you_aliases[] = {"thanks", "thank-you video", "thank you note"};
static const char *const review_aliases[] = {"review", "reviews", "ask for a review", "review ask"};

static const struct entity_choice script_kinds[] = {
    {"primer", primer_aliases, ARRAY_LEN(primer_aliases)},
    {"follow_up", follow_up_aliases, ARRAY_LEN(follow_up_aliases)},
    {"thank_you", thank_you_aliases, ARRAY_LEN(thank_you_aliases)},
    {"review_request", review_aliases, ARRAY_LEN(review_aliases)},
};

/* The tones script.h's composer writes in. */
static const char *const friendly_aliases[] = {"warm",       "casual", "personal",
                                               "reassuring", "gentle", "relaxed"};
static const char *const professional_aliases[] = {"formal", "businesslike", "serious"};
static const char *const energetic_aliases[] = {"upbeat", "excited", "enthusiastic", "high energy"};

static const struct entity_choice tones[] = {
    {"friendly", friendly_aliases, ARRAY_LEN(friendly_aliases)},
    {"professional", professional_aliases, ARRAY_LEN(professional_aliases)},
    {"energetic", energetic_aliases, ARRAY_LEN(energetic_aliases)},
};

#define SD(member) offsetof(struct script_draft_state, member)

static const struct state_field script_draft_fields[] = {
    {.name = "job_id",
     .label = "job",
     .type = STATE_STRING,
     .flags = STATE_REQUIRED,
     .offset = SD(job_id),
     .question = "Which job is the video for (the CRM job number)?",
     .hint = "the CRM job id, e.g. 1042",
     .normalize = normalize_job_id,
     .max_len = 32,
     .summary_format = "job {}"},
    {.name = "customer_name",
     .label = "customer",
     .type = STATE_STRING,
     .flags = STATE_INTERNAL,
     .offset = SD(customer_name),
     .question = "Who is the customer?",
     .max_len = 120,
     .summary_sep = " for "},
    {.name = "address",
     .label = "address",
     .type = STATE_STRING,
     .flags = STATE_INTERNAL,
     .offset = SD(address),
     .question = "What is the job's address?"},
    {.name = "kind",
     .label = "kind of video",
     .type = STATE_ENUM,
     .flags = STATE_REQUIRED,
     .offset = SD(kind),
     .question = "Which kind of video: a primer, a follow-up, a thank-you or a review request?",
     .choices = script_kinds,
     .n_choices = ARRAY_LEN(script_kinds),
     .summary_sep = " \xe2\x80\x94 "},
    {.name = "tone",
     .label = "tone",
     .type = STATE_ENUM,
     .offset = SD(tone),
     .question = "Which tone: friendly, professional or energetic?",
     .choices = tones,
     .n_choices = ARRAY_LEN(tones),
     .def = "friendly",
     .summary_format = "{} tone"},
    {.name = "target_seconds",
     .label = "length in seconds",
     .type = STATE_INTEGER,
     .offset = SD(target_seconds),
     .question = "How long should the video be (60 to 120 seconds)?",
     .hint = "the spoken length, 60 to 120 seconds",
     .normalize = normalize_seconds,
     .min = 60,
     .max = 120,
     .def = "90",
     .summary_format = "{} s"},
    {.name = "key_points",
     .label = "key points",
     .type = STATE_TEXT_LIST,
     .offset = SD(key_points),
     .question = "What should the script mention?",
     .hint = "short points the script must mention, e.g. 50-year warranty",
     .max_items = 10,
     .max_len = 200,
     .summary_sep = "; ",
     .summary_format = "key points: {}"},
    {.name = "draft",
     .label = "draft",
     .type = STATE_TEXT,
     .flags = STATE_INTERNAL,
     .offset = SD(draft),
     .question = "What should the script say?",
     .max_len = SCRIPT_DRAFT_MAX,
     .summary_sep = "; ",
     .summary_format = "draft: {}"},
    {.name = "revisions",
     .label = "revisions",
     .type = STATE_CUSTOM,
     .flags = STATE_INTERNAL,
     .offset = SD(revisions),
     .question = "Which earlier drafts are there?",
     .custom = &revisions_type},
};

const struct state_desc script_draft_desc = {
    .kind = "script_draft",
    .title = "Script draft",
    .size = sizeof(struct script_draft_state),
    .fields = script_draft_fields,
    .n_fields = ARRAY_LEN(script_draft_fields),
};

struct script_draft_state *script_draft_new(void)
{
    return (struct script_draft_state *)state_new(&script_draft_desc);
}

struct script_draft_state *script_draft_of(struct state_header *h)
{
    return h && h->desc == &script_draft_desc ? (struct script_draft_state *)h : NULL;
}

/* Keeps old (taken) as the newest revision, dropping the oldest when full. */
static void revisions_push(struct script_revisions *rs, char *old, char *note)
{
    if (rs->len == SCRIPT_REVISIONS_MAX) {
        revision_free(&rs->items[0]);
        memmove(rs->items, rs->items + 1, (SCRIPT_REVISIONS_MAX - 1) * sizeof rs->items[0]);
        rs->len--;
    }
    rs->items[rs->len++] = (struct script_revision){old, note, clock_wall_ms()};
}

int script_draft_set_draft(struct script_draft_state *s, const char *text, const char *note,
                           char *err, size_t errlen)
{
    const struct state_field *df = state_field_find(&script_draft_desc, "draft");
    static const struct state_field note_field = {
        .name = "note", .label = "note", .type = STATE_STRING};
    char msg[256];
    char *draft = state_normalize(df, text, msg, sizeof msg), *clean_note = NULL;
    if (!draft) {
        snprintf(err, errlen, "draft: %s", msg);
        return ERR_INVALID;
    }
    if (note && strspn(note, " \t\r\n") < strlen(note) &&
        !(clean_note = state_normalize(&note_field, note, msg, sizeof msg))) {
        snprintf(err, errlen, "note: %s", msg);
        free(draft);
        return ERR_INVALID;
    }
    if (s->draft && strcmp(s->draft, draft) == 0) {
        free(draft);
        free(clean_note);
        return 0;
    }
    if (s->draft)
        revisions_push(&s->revisions, s->draft, clean_note);
    else
        free(clean_note);
    s->draft = draft;
    state_mark_changed(&s->hdr);
    return 0;
}

/* ---- any state ------------------------------------------------------------------------- */

static const struct state_desc *const all_states[] = {&new_client_desc, &script_draft_desc};

const struct state_desc *states_find(const char *kind)
{
    for (size_t i = 0; kind && i < ARRAY_LEN(all_states); i++)
        if (strcmp(all_states[i]->kind, kind) == 0)
            return all_states[i];
    return NULL;
}

struct state_header *states_from_json(const json_t *json, char *err, size_t errlen)
{
    const char *kind = json_string_value(json_object_get(json, "kind"));
    const struct state_desc *desc = states_find(kind);
    if (!desc) {
        snprintf(err, errlen, "kind: %s%s%s is not a workflow state (new_client, script_draft)",
                 kind ? "\"" : "", kind ? kind : "none", kind ? "\"" : "");
        return NULL;
    }
    struct state_header *h = state_new(desc);
    if (state_from_json(h, json, err, errlen) != 0) {
        state_free(h);
        return NULL;
    }
    return h;
}
