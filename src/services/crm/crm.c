/* crm — the front of the CRM service: the pipeline and trade tables, input
 * validation shared by every backend, the crm_* calls that dispatch to a
 * backend's vtable, opening a backend from options or from harde.ini, and
 * freeing records.
 *
 * Design: the crm_* wrappers are the only door to a backend. Each one checks
 * and normalises its arguments (ids positive, text bounded and valid UTF-8,
 * phone to E.164, state upper-case, stage inside the pipeline), zeroes the
 * output, calls the backend, and on failure makes sure the caller gets a
 * sentence even when the backend wrote none and that a half-filled output is
 * freed. So backends hold no validation of their own and callers never see
 * partial records. See crm.h. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r, strcasecmp */

#include "services/crm/crm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "services/crm/crm_internal.h"

/* ---- tables ------------------------------------------------------------------ */

static const struct {
    const char *key;
    const char *label;
} stages[CRM_STAGE_COUNT] = {
    {"lead", "Lead"},
    {"appointment_set", "Appointment Set"},
    {"primer_video_sent", "Primer Video Sent"},
    {"inspection", "Inspection"},
    {"presentation", "Presentation"},
    {"signed", "Signed"},
    {"production", "Production"},
    {"complete", "Complete"},
    {"review_request", "Review Request"},
};

/* Other ways people write a stage (already normalised: lower case, '_'). */
static const struct {
    const char *alias;
    enum crm_stage stage;
} stage_aliases[] = {
    {"new_lead", CRM_STAGE_LEAD},
    {"new", CRM_STAGE_LEAD},
    {"appointment", CRM_STAGE_APPOINTMENT_SET},
    {"appt_set", CRM_STAGE_APPOINTMENT_SET},
    {"appointment_scheduled", CRM_STAGE_APPOINTMENT_SET},
    {"appt", CRM_STAGE_APPOINTMENT_SET},
    {"primer_video", CRM_STAGE_PRIMER_VIDEO_SENT},
    {"primer_sent", CRM_STAGE_PRIMER_VIDEO_SENT},
    {"video_sent", CRM_STAGE_PRIMER_VIDEO_SENT},
    {"primer", CRM_STAGE_PRIMER_VIDEO_SENT},
    {"inspected", CRM_STAGE_INSPECTION},
    {"presented", CRM_STAGE_PRESENTATION},
    {"sold", CRM_STAGE_SIGNED},
    {"contract_signed", CRM_STAGE_SIGNED},
    {"in_production", CRM_STAGE_PRODUCTION},
    {"completed", CRM_STAGE_COMPLETE},
    {"done", CRM_STAGE_COMPLETE},
    {"review_requested", CRM_STAGE_REVIEW_REQUEST},
    {"review", CRM_STAGE_REVIEW_REQUEST},
    {"review_request_sent", CRM_STAGE_REVIEW_REQUEST},
};

static const struct {
    const char *key;
    const char *label;
} trades[CRM_TRADE_COUNT] = {
    {"roofing", "Roofing"}, {"siding", "Siding"}, {"gutters", "Gutters"},
    {"windows", "Windows"}, {"other", "Other"},
};

static const struct {
    const char *alias;
    enum crm_trade trade;
} trade_aliases[] = {
    {"roof", CRM_TRADE_ROOFING},   {"roofs", CRM_TRADE_ROOFING}, {"gutter", CRM_TRADE_GUTTERS},
    {"window", CRM_TRADE_WINDOWS}, {"siding", CRM_TRADE_SIDING},
};

const char *crm_err_name(int code)
{
    return code == CRM_ERR_UNSUPPORTED ? "UNSUPPORTED" : err_name(code);
}

const char *crm_err_message(int code)
{
    return code == CRM_ERR_UNSUPPORTED ? "not supported by this CRM" : err_message(code);
}

const char *crm_stage_key(enum crm_stage stage)
{
    if (stage == CRM_STAGE_ANY)
        return "any";
    return stage >= 0 && stage < CRM_STAGE_COUNT ? stages[stage].key : "unknown";
}

const char *crm_stage_label(enum crm_stage stage)
{
    if (stage == CRM_STAGE_ANY)
        return "Any";
    return stage >= 0 && stage < CRM_STAGE_COUNT ? stages[stage].label : "Unknown";
}

/* text lower-cased with runs of ' ', '-', '_' as one '_', trimmed; false
 * when it does not fit. */
static bool normalise_word(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    bool sep = false;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == '_' || *p == '\t') {
            sep = n > 0;
            continue;
        }
        if (n + 2 >= outlen)
            return false;
        if (sep)
            out[n++] = '_';
        sep = false;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n > 0;
}

int crm_stage_parse(const char *text, enum crm_stage *out)
{
    char word[64];
    if (!text || !normalise_word(text, word, sizeof word))
        return ERR_INVALID;
    for (int i = 0; i < CRM_STAGE_COUNT; i++) {
        char label[64];
        normalise_word(stages[i].label, label, sizeof label);
        if (strcmp(word, stages[i].key) == 0 || strcmp(word, label) == 0) {
            *out = (enum crm_stage)i;
            return 0;
        }
    }
    if (word[0] >= '1' && word[0] <= '9' && word[1] == '\0') {
        *out = (enum crm_stage)(word[0] - '1');
        return 0;
    }
    for (size_t i = 0; i < sizeof stage_aliases / sizeof stage_aliases[0]; i++)
        if (strcmp(word, stage_aliases[i].alias) == 0) {
            *out = stage_aliases[i].stage;
            return 0;
        }
    return ERR_INVALID;
}

const char *crm_trade_key(enum crm_trade trade)
{
    return trade >= 0 && trade < CRM_TRADE_COUNT ? trades[trade].key : "other";
}

const char *crm_trade_label(enum crm_trade trade)
{
    return trade >= 0 && trade < CRM_TRADE_COUNT ? trades[trade].label : "Other";
}

int crm_trade_parse(const char *text, enum crm_trade *out)
{
    char word[64];
    if (!text || !normalise_word(text, word, sizeof word))
        return ERR_INVALID;
    for (int i = 0; i < CRM_TRADE_COUNT; i++)
        if (strcmp(word, trades[i].key) == 0) {
            *out = (enum crm_trade)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof trade_aliases / sizeof trade_aliases[0]; i++)
        if (strcmp(word, trade_aliases[i].alias) == 0) {
            *out = trade_aliases[i].trade;
            return 0;
        }
    return ERR_INVALID;
}

int crm_phone_e164(const char *text, char *out, size_t outlen)
{
    char digits[16];
    size_t n = 0;
    if (!text || outlen < 13)
        return ERR_INVALID;
    for (const char *p = text; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (n + 1 >= sizeof digits)
                return ERR_INVALID;
            digits[n++] = *p;
        } else if (*p == '+' && n == 0) {
            continue;
        } else if (!strchr(" ()-./\t", *p)) {
            return ERR_INVALID;
        }
    }
    digits[n] = '\0';
    const char *national = digits;
    if (n == 11 && digits[0] == '1')
        national++;
    else if (n != 10)
        return ERR_INVALID;
    if (national[0] < '2') /* a NANP area code starts with 2-9 */
        return ERR_INVALID;
    snprintf(out, outlen, "+1%s", national);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

void crm_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool crm_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

char *crm_dup_trimmed(const char *s)
{
    if (crm_blank(s))
        return NULL;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

void crm_now_iso(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool digits_in_range(const char *s, int n, int low, int high)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= low && v <= high;
}

bool crm_appointment_valid(const char *s)
{
    return s && strlen(s) == 16 && digits_in_range(s, 4, 2000, 2100) && s[4] == '-' &&
           digits_in_range(s + 5, 2, 1, 12) && s[7] == '-' && digits_in_range(s + 8, 2, 1, 31) &&
           s[10] == 'T' && digits_in_range(s + 11, 2, 0, 23) && s[13] == ':' &&
           digits_in_range(s + 14, 2, 0, 59);
}

char *crm_full_name(const char *first, const char *last)
{
    if (first && *first && last && *last)
        return xasprintf("%s %s", first, last);
    return xstrdup(first && *first ? first : last ? last : "");
}

char *crm_address_line(const char *street, const char *city, const char *state, const char *zip)
{
    struct buf b;
    buf_init(&b, 0);
    if (street && *street)
        buf_append_str(&b, street);
    if (city && *city)
        buf_printf(&b, "%s%s", b.len ? ", " : "", city);
    if (state && *state)
        buf_printf(&b, "%s%s", b.len ? ", " : "", state);
    if (zip && *zip)
        buf_printf(&b, "%s%s", b.len ? " " : "", zip);
    return buf_steal(&b);
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_sequence(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

/* A text argument: NULL allowed unless required; bounded; valid UTF-8. */
static int check_text(const char *what, const char *s, size_t max, bool required, char *err,
                      size_t errlen)
{
    if (crm_blank(s)) {
        if (!required)
            return 0;
        crm_set_err(err, errlen, "crm: %s is required", what);
        return ERR_INVALID;
    }
    if (strlen(s) > max) {
        crm_set_err(err, errlen, "crm: %s is longer than %zu bytes", what, max);
        return ERR_LIMIT;
    }
    if (!utf8_valid(s)) {
        crm_set_err(err, errlen, "crm: %s is not valid UTF-8", what);
        return ERR_INVALID;
    }
    return 0;
}

/* ---- records ------------------------------------------------------------------- */

static void note_free(struct crm_note *n)
{
    free(n->author);
    free(n->text);
    free(n->created_at);
}

void crm_job_free(struct crm_job *job)
{
    if (!job)
        return;
    free(job->number);
    free(job->customer_name);
    free(job->street);
    free(job->city);
    free(job->state);
    free(job->zip);
    free(job->stage_name);
    free(job->appointment);
    free(job->rep);
    free(job->description);
    free(job->created_at);
    free(job->stage_changed_at);
    for (size_t i = 0; i < job->note_count; i++)
        note_free(&job->notes[i]);
    free(job->notes);
    for (size_t i = 0; i < job->history_count; i++) {
        free(job->history[i].changed_at);
        free(job->history[i].changed_by);
        free(job->history[i].reason);
    }
    free(job->history);
    memset(job, 0, sizeof *job);
}

void crm_customer_free(struct crm_customer *c)
{
    if (!c)
        return;
    free(c->first_name);
    free(c->last_name);
    free(c->phone);
    free(c->email);
    free(c->street);
    free(c->city);
    free(c->state);
    free(c->zip);
    free(c->lead_source);
    free(c->created_at);
    for (size_t i = 0; i < c->job_count; i++)
        crm_job_free(&c->jobs[i]);
    free(c->jobs);
    memset(c, 0, sizeof *c);
}

void crm_hits_free(struct crm_hits *hits)
{
    if (!hits)
        return;
    for (size_t i = 0; i < hits->count; i++)
        crm_customer_free(&hits->items[i].customer);
    free(hits->items);
    memset(hits, 0, sizeof *hits);
}

void crm_jobs_free(struct crm_jobs *jobs)
{
    if (!jobs)
        return;
    for (size_t i = 0; i < jobs->count; i++)
        crm_job_free(&jobs->items[i]);
    free(jobs->items);
    memset(jobs, 0, sizeof *jobs);
}

/* ---- the operations ---------------------------------------------------------------- */

/* After a backend call: a failure always carries a sentence. */
static int finish(const struct crm *crm, int rc, char *err, size_t errlen)
{
    if (rc && err && errlen && !err[0])
        crm_set_err(err, errlen, "crm (%s): %s", crm->backend->name, crm_err_message(rc));
    return rc;
}

static int check_handle(const struct crm *crm, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!crm) {
        crm_set_err(err, errlen, "crm: no CRM is open");
        return ERR_INVALID;
    }
    return 0;
}

static int check_id(const char *what, int64_t id, char *err, size_t errlen)
{
    if (id > 0)
        return 0;
    crm_set_err(err, errlen, "crm: %s id must be a positive number", what);
    return ERR_INVALID;
}

int crm_search(struct crm *crm, const char *text, size_t limit, struct crm_hits *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_handle(crm, err, errlen);
    if (rc == 0)
        rc = check_text("the search text", text, CRM_QUERY_MAX, true, err, errlen);
    if (rc)
        return rc;
    if (limit == 0)
        limit = CRM_SEARCH_DEFAULT_LIMIT;
    if (limit > CRM_SEARCH_MAX_LIMIT)
        limit = CRM_SEARCH_MAX_LIMIT;
    rc = crm->backend->search(crm, text, limit, out, err, errlen);
    if (rc)
        crm_hits_free(out);
    return finish(crm, rc, err, errlen);
}

int crm_customer_get(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_handle(crm, err, errlen);
    if (rc == 0)
        rc = check_id("a customer", id, err, errlen);
    if (rc)
        return rc;
    rc = crm->backend->customer_get(crm, id, out, err, errlen);
    if (rc)
        crm_customer_free(out);
    return finish(crm, rc, err, errlen);
}

int crm_job_get(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_handle(crm, err, errlen);
    if (rc == 0)
        rc = check_id("a job", id, err, errlen);
    if (rc)
        return rc;
    rc = crm->backend->job_get(crm, id, out, err, errlen);
    if (rc)
        crm_job_free(out);
    return finish(crm, rc, err, errlen);
}

/* A validated, normalised copy of a new client; the strings are owned here. */
struct client_copy {
    struct crm_new_client c;
    char phone[20];
    char state[3];
    char *owned[16];
    size_t n_owned;
};

static const char *keep(struct client_copy *cc, const char *s)
{
    char *t = crm_dup_trimmed(s);
    if (t)
        cc->owned[cc->n_owned++] = t;
    return t;
}

static void client_copy_free(struct client_copy *cc)
{
    for (size_t i = 0; i < cc->n_owned; i++)
        free(cc->owned[i]);
}

static bool zip_valid(const char *zip)
{
    size_t n = strlen(zip);
    for (size_t i = 0; i < n; i++)
        if (!(isdigit((unsigned char)zip[i]) || (i == 5 && zip[i] == '-')))
            return false;
    return n == 5 || (n == 10 && zip[5] == '-');
}

static int check_client_fields(const struct crm_new_client *in, char *err, size_t errlen)
{
    const struct {
        const char *what;
        const char *value;
        size_t max;
        bool required;
    } fields[] = {
        {"the first name", in->first_name, CRM_FIELD_MAX, true},
        {"the last name", in->last_name, CRM_FIELD_MAX, true},
        {"the phone", in->phone, CRM_FIELD_MAX, true},
        {"the email", in->email, CRM_FIELD_MAX, false},
        {"the street", in->street, CRM_FIELD_MAX, false},
        {"the city", in->city, CRM_FIELD_MAX, false},
        {"the state", in->state, CRM_FIELD_MAX, false},
        {"the ZIP", in->zip, CRM_FIELD_MAX, false},
        {"the lead source", in->lead_source, CRM_FIELD_MAX, false},
        {"the job description", in->description, CRM_TEXT_MAX, false},
        {"the notes", in->notes, CRM_TEXT_MAX, false},
        {"the rep", in->rep, CRM_FIELD_MAX, false},
        {"the appointment", in->appointment, CRM_FIELD_MAX, false},
        {"the author", in->author, CRM_FIELD_MAX, false},
        {"the idempotency key", in->idempotency_key, CRM_KEY_MAX, false},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int rc = check_text(fields[i].what, fields[i].value, fields[i].max, fields[i].required, err,
                            errlen);
        if (rc)
            return rc;
    }
    if (in->trade < 0 || in->trade >= CRM_TRADE_COUNT) {
        crm_set_err(err, errlen,
                    "crm: the trade must be roofing, siding, gutters, windows or "
                    "other");
        return ERR_INVALID;
    }
    return 0;
}

static int normalise_client(const struct crm_new_client *in, struct client_copy *cc, char *err,
                            size_t errlen)
{
    memset(cc, 0, sizeof *cc);
    int rc = check_client_fields(in, err, errlen);
    if (rc)
        return rc;
    struct crm_new_client *c = &cc->c;
    *c = *in;
    c->first_name = keep(cc, in->first_name);
    c->last_name = keep(cc, in->last_name);
    c->email = keep(cc, in->email);
    c->street = keep(cc, in->street);
    c->city = keep(cc, in->city);
    c->zip = keep(cc, in->zip);
    c->lead_source = keep(cc, in->lead_source);
    c->description = keep(cc, in->description);
    c->notes = keep(cc, in->notes);
    c->rep = keep(cc, in->rep);
    c->appointment = keep(cc, in->appointment);
    c->author = keep(cc, in->author);
    c->idempotency_key = keep(cc, in->idempotency_key);
    if (crm_phone_e164(in->phone, cc->phone, sizeof cc->phone) != 0) {
        crm_set_err(err, errlen, "crm: \"%s\" is not a US phone number (10 digits)", in->phone);
        return ERR_INVALID;
    }
    c->phone = cc->phone;
    const char *state = keep(cc, in->state);
    c->state = NULL;
    if (state) {
        if (strlen(state) != 2 || !isalpha((unsigned char)state[0]) ||
            !isalpha((unsigned char)state[1])) {
            crm_set_err(err, errlen, "crm: the state must be two letters, like OH");
            return ERR_INVALID;
        }
        cc->state[0] = (char)toupper((unsigned char)state[0]);
        cc->state[1] = (char)toupper((unsigned char)state[1]);
        c->state = cc->state;
    }
    if (c->zip && !zip_valid(c->zip)) {
        crm_set_err(err, errlen, "crm: the ZIP must be 5 digits (or ZIP+4), not \"%s\"", c->zip);
        return ERR_INVALID;
    }
    if (c->email && (!strchr(c->email, '@') || strchr(c->email, ' '))) {
        crm_set_err(err, errlen, "crm: \"%s\" is not an email address", c->email);
        return ERR_INVALID;
    }
    if (c->appointment && !crm_appointment_valid(c->appointment)) {
        crm_set_err(err, errlen,
                    "crm: the appointment must be local time YYYY-MM-DDTHH:MM, not "
                    "\"%s\"",
                    c->appointment);
        return ERR_INVALID;
    }
    return 0;
}

int crm_client_create(struct crm *crm, const struct crm_new_client *in, struct crm_created *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct client_copy cc;
    memset(&cc, 0, sizeof cc);
    int rc = check_handle(crm, err, errlen);
    if (rc == 0 && !in) {
        crm_set_err(err, errlen, "crm: no client given");
        rc = ERR_INVALID;
    }
    if (rc == 0)
        rc = normalise_client(in, &cc, err, errlen);
    if (rc == 0)
        rc = finish(crm, crm->backend->client_create(crm, &cc.c, out, err, errlen), err, errlen);
    if (rc)
        memset(out, 0, sizeof *out);
    client_copy_free(&cc);
    return rc;
}

int crm_note_add(struct crm *crm, int64_t job_id, const char *author, const char *text,
                 int64_t *note_id, char *err, size_t errlen)
{
    if (note_id)
        *note_id = 0;
    int rc = check_handle(crm, err, errlen);
    if (rc == 0)
        rc = check_id("a job", job_id, err, errlen);
    if (rc == 0)
        rc = check_text("the note", text, CRM_TEXT_MAX, true, err, errlen);
    if (rc == 0)
        rc = check_text("the author", author, CRM_FIELD_MAX, false, err, errlen);
    if (rc)
        return rc;
    char *trimmed = crm_dup_trimmed(text);
    char *who = crm_dup_trimmed(author);
    int64_t id = 0;
    rc = crm->backend->note_add(crm, job_id, who, trimmed, &id, err, errlen);
    free(trimmed);
    free(who);
    if (rc == 0 && note_id)
        *note_id = id;
    return finish(crm, rc, err, errlen);
}

int crm_jobs_list(struct crm *crm, enum crm_stage stage, size_t limit, struct crm_jobs *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_handle(crm, err, errlen);
    if (rc)
        return rc;
    if (stage != CRM_STAGE_ANY && (stage < 0 || stage >= CRM_STAGE_COUNT)) {
        crm_set_err(err, errlen, "crm: not a pipeline stage");
        return ERR_INVALID;
    }
    if (limit == 0)
        limit = CRM_LIST_DEFAULT_LIMIT;
    if (limit > CRM_LIST_MAX_LIMIT)
        limit = CRM_LIST_MAX_LIMIT;
    rc = crm->backend->jobs_list(crm, stage, limit, out, err, errlen);
    if (rc)
        crm_jobs_free(out);
    return finish(crm, rc, err, errlen);
}

int crm_stage_move(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                   const char *reason, char *err, size_t errlen)
{
    int rc = check_handle(crm, err, errlen);
    if (rc == 0)
        rc = check_id("a job", job_id, err, errlen);
    if (rc == 0 && (to < 0 || to >= CRM_STAGE_COUNT)) {
        crm_set_err(err, errlen,
                    "crm: not a pipeline stage (the stages are lead, "
                    "appointment_set, primer_video_sent, inspection, presentation, "
                    "signed, production, complete, review_request)");
        rc = ERR_INVALID;
    }
    if (rc == 0)
        rc = check_text("who moved it", by, CRM_FIELD_MAX, false, err, errlen);
    if (rc == 0)
        rc = check_text("the reason", reason, CRM_TEXT_MAX, false, err, errlen);
    if (rc)
        return rc;
    char *who = crm_dup_trimmed(by);
    char *why = crm_dup_trimmed(reason);
    rc = crm->backend->stage_move(crm, job_id, to, who, why, err, errlen);
    free(who);
    free(why);
    return finish(crm, rc, err, errlen);
}

/* ---- opening ------------------------------------------------------------------------ */

struct crm *crm_open(const struct crm_options *opts, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!opts) {
        crm_set_err(err, errlen, "crm: no options given");
        return NULL;
    }
    const char *backend = opts->backend && *opts->backend ? opts->backend : "local";
    if (strcmp(backend, "local") == 0) {
        if (crm_blank(opts->db_path)) {
            crm_set_err(err, errlen, "crm: the local CRM needs a database path");
            return NULL;
        }
        return crm_local_open(opts->db_path, opts->seed_path, err, errlen);
    }
    if (strcmp(backend, "leap") == 0)
        return crm_leap_open(opts, err, errlen);
    crm_set_err(err, errlen, "crm: unknown CRM backend \"%s\" (local or leap)", backend);
    return NULL;
}

/* dir/path for a relative path, path itself when absolute (new). */
static char *resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir)
        return xstrdup(path);
    return xasprintf("%s/%s", dir, path);
}

static int configured_number(const struct config *cfg, const char *key, long *out, char *err,
                             size_t errlen)
{
    return config_get_long(cfg, "leap", key, 0, out, err, errlen);
}

struct crm *crm_open_configured(const struct config *cfg, const char *data_dir,
                                const char *share_dir, char *err, size_t errlen)
{
    const char *token = getenv("LEAP_API_TOKEN");
    if (token && !*token)
        token = NULL;
    if (token)
        log_add_secret(token);
    const char *backend = config_get(cfg, "crm", "backend", token ? "leap" : "local");
    struct crm_options opts = {.backend = backend};
    char *db = NULL, *seed = NULL;
    struct crm *crm = NULL;
    long per_minute = 0, timeout_ms = 0;
    if (configured_number(cfg, "per_minute", &per_minute, err, errlen) != 0 ||
        configured_number(cfg, "timeout_ms", &timeout_ms, err, errlen) != 0)
        return NULL;
    if (strcmp(backend, "leap") == 0) {
        if (!token) {
            crm_set_err(err, errlen,
                        "crm: [crm] backend = leap needs the Leap API token in the "
                        "environment variable LEAP_API_TOKEN");
            return NULL;
        }
        opts.leap_token = token;
        opts.leap_base_url = config_get(cfg, "leap", "base_url", CRM_LEAP_DEFAULT_BASE_URL);
        opts.leap_per_minute = (double)per_minute;
        opts.leap_timeout_ms = timeout_ms;
    } else {
        const char *db_conf = config_get(cfg, "crm", "db", NULL);
        const char *seed_conf = config_get(cfg, "crm", "seed", NULL);
        db = db_conf && *db_conf ? resolve(data_dir, db_conf)
                                 : xasprintf("%s/crm.sqlite", data_dir ? data_dir : ".");
        if (!seed_conf || !*seed_conf)
            seed = share_dir ? xasprintf("%s/crm_seed.json", share_dir) : NULL;
        else if (strcmp(seed_conf, "none") != 0)
            seed = resolve(share_dir, seed_conf);
        opts.db_path = db;
        opts.seed_path = seed;
    }
    crm = crm_open(&opts, err, errlen);
    free(db);
    free(seed);
    return crm;
}

void crm_close(struct crm *crm)
{
    if (crm)
        crm->backend->close(crm);
}

const char *crm_backend_name(const struct crm *crm)
{
    return crm ? crm->backend->name : "none";
}
