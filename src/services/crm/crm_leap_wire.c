/* crm_leap_wire — the Leap client's pure parts: the token bucket that keeps
 * it under Leap's 60 requests a minute, form and multipart encoding, and the
 * mapping of Leap's JSON (EXTERNAL_APIS.md §4) onto crm_customer / crm_job.
 *
 * Design: nothing here does I/O or reads a clock, so every rule is unit
 * tested directly. The JSON mapping is deliberately forgiving in the places
 * the public facts are thin: an included relation may or may not be wrapped
 * in {"data": …} (crm_leap_unwrap sees through both), ids may arrive as
 * numbers or strings, a state as "OH" or {"code": "OH"}, and a stage or
 * trade name that is not one of ours maps to UNKNOWN / Other instead of
 * failing the whole record. */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "services/crm/crm_internal.h"

/* ---- the token bucket ------------------------------------------------------------ */

void crm_bucket_init(struct crm_bucket *b, double capacity, double refill_per_minute,
                     int64_t now_ns)
{
    b->capacity = capacity < 1 ? 1 : capacity;
    b->tokens = b->capacity;
    b->per_ns = (refill_per_minute > 0 ? refill_per_minute : 1) / 60e9;
    b->last_ns = now_ns;
}

int64_t crm_bucket_take(struct crm_bucket *b, int64_t now_ns)
{
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * b->per_ns;
        if (b->tokens > b->capacity)
            b->tokens = b->capacity;
        b->last_ns = now_ns;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    int64_t wait = (int64_t)((1.0 - b->tokens) / b->per_ns) + 1;
    return wait > 0 ? wait : 1;
}

/* ---- encoding --------------------------------------------------------------------- */

static int percent_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            rc = buf_append_char(b, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_append(b, esc, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int crm_form_add(struct buf *b, const char *key, const char *value)
{
    int rc = b->len ? buf_append_char(b, '&') : 0;
    if (rc == 0)
        rc = percent_encode(b, key);
    if (rc == 0)
        rc = buf_append_char(b, '=');
    if (rc == 0)
        rc = percent_encode(b, value ? value : "");
    return rc;
}

int crm_multipart_one(struct buf *b, const char *name, const char *value, char **content_type)
{
    char boundary[48];
    *content_type = NULL;
    /* A boundary that does not occur in the value (tried until one does not). */
    for (unsigned i = 0;; i++) {
        snprintf(boundary, sizeof boundary, "----harde-%08lx%04x", (unsigned long)time(NULL),
                 (unsigned)(rand() ^ (int)i) & 0xffffu);
        if (!strstr(value, boundary))
            break;
    }
    int rc = buf_printf(b,
                        "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n"
                        "Content-Type: text/plain; charset=UTF-8\r\n\r\n",
                        boundary, name);
    if (rc == 0)
        rc = buf_append_str(b, value);
    if (rc == 0)
        rc = buf_printf(b, "\r\n--%s--\r\n", boundary);
    if (rc == 0)
        *content_type = xasprintf("multipart/form-data; boundary=%s", boundary);
    return rc;
}

/* ---- JSON helpers ----------------------------------------------------------------- */

json_t *crm_leap_unwrap(json_t *value)
{
    json_t *inner = json_is_object(value) ? json_object_get(value, "data") : NULL;
    if (inner && json_object_size(value) <= 2 && (json_is_object(inner) || json_is_array(inner)))
        return inner;
    return value;
}

const char *crm_leap_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

int64_t crm_leap_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s || !*s)
        return 0;
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    return end && *end == '\0' ? (int64_t)n : 0;
}

char *crm_leap_time(const char *text)
{
    if (!text)
        return NULL;
    /* "2026-12-01 18:00:00" → "2026-12-01T18:00" */
    if (strlen(text) >= 16 && (text[10] == ' ' || text[10] == 'T')) {
        char out[17];
        memcpy(out, text, 16);
        out[10] = 'T';
        out[16] = '\0';
        if (crm_appointment_valid(out))
            return xstrdup(out);
    }
    return xstrdup(text);
}

/* Leap's "2026-11-09 15:20:00" (UTC, assumed) as "2026-11-09T15:20:00Z" (new). */
static char *stamp(const char *text)
{
    if (!text)
        return NULL;
    if (strlen(text) == 19 && text[10] == ' ')
        return xasprintf("%.10sT%.8sZ", text, text + 11);
    return xstrdup(text);
}

/* "First Last" of a person object (full_name preferred), new or NULL. */
static char *person_name(json_t *p)
{
    if (!json_is_object(p))
        return NULL;
    const char *full = crm_leap_str(p, "full_name");
    if (full)
        return xstrdup(full);
    const char *first = crm_leap_str(p, "first_name"), *last = crm_leap_str(p, "last_name");
    return first || last ? crm_full_name(first, last) : NULL;
}

struct address {
    char *street, *city, *state, *zip;
};

static void address_of(json_t *a, struct address *out)
{
    a = crm_leap_unwrap(a);
    memset(out, 0, sizeof *out);
    if (!json_is_object(a))
        return;
    out->street = xstrdup(crm_leap_str(a, "address"));
    out->city = xstrdup(crm_leap_str(a, "city"));
    json_t *state = json_object_get(a, "state");
    if (json_is_object(state))
        out->state = xstrdup(crm_leap_str(state, "code"));
    else
        out->state = xstrdup(json_string_value(state));
    out->zip = xstrdup(crm_leap_str(a, "zip"));
}

/* The customer's phone: the first "cell", else the first number; E.164 when it is a US one. */
static char *phone_of(json_t *phones)
{
    phones = crm_leap_unwrap(phones);
    json_t *pick = NULL, *p;
    size_t i;
    json_array_foreach(phones, i, p)
    {
        const char *label = crm_leap_str(p, "label");
        if (label && strcmp(label, "cell") == 0) {
            pick = p;
            break;
        }
        if (!pick)
            pick = p;
    }
    json_t *number = pick ? json_object_get(pick, "number") : NULL;
    char digits[32], e164[20];
    if (json_is_integer(number))
        snprintf(digits, sizeof digits, "%lld", (long long)json_integer_value(number));
    else if (json_string_value(number))
        snprintf(digits, sizeof digits, "%s", json_string_value(number));
    else
        return NULL;
    return xstrdup(crm_phone_e164(digits, e164, sizeof e164) == 0 ? e164 : digits);
}

void crm_leap_customer(json_t *obj, struct crm_customer *out)
{
    struct address a;
    out->id = crm_leap_int(obj, "id");
    out->first_name = xstrdup(crm_leap_str(obj, "first_name"));
    out->last_name = xstrdup(crm_leap_str(obj, "last_name"));
    out->phone = phone_of(json_object_get(obj, "phones"));
    out->email = xstrdup(crm_leap_str(obj, "email"));
    address_of(json_object_get(obj, "address"), &a);
    out->street = a.street;
    out->city = a.city;
    out->state = a.state;
    out->zip = a.zip;
    const char *source = crm_leap_str(obj, "referred_by_note");
    out->lead_source = xstrdup(source ? source : crm_leap_str(obj, "referred_by_type"));
    out->created_at = stamp(crm_leap_str(obj, "created_at"));
}

static void job_stage_of(json_t *obj, struct crm_job *out)
{
    json_t *stage = crm_leap_unwrap(json_object_get(obj, "current_stage"));
    const char *name = json_is_object(stage) ? crm_leap_str(stage, "name") : NULL;
    enum crm_stage s = CRM_STAGE_UNKNOWN;
    if (!name || crm_stage_parse(name, &s) != 0)
        s = CRM_STAGE_UNKNOWN;
    out->stage = s;
    out->stage_name = xstrdup(name ? name : crm_stage_label(s));
}

void crm_leap_job(json_t *obj, struct crm_job *out)
{
    out->id = crm_leap_int(obj, "id");
    out->customer_id = crm_leap_int(obj, "customer_id");
    out->number = xstrdup(crm_leap_str(obj, "number"));
    const char *description = crm_leap_str(obj, "description");
    out->description = xstrdup(description ? description : crm_leap_str(obj, "name"));
    job_stage_of(obj, out);
    out->stage_changed_at = stamp(crm_leap_str(obj, "stage_last_modified"));
    out->created_at = stamp(crm_leap_str(obj, "created_at"));

    enum crm_trade trade = CRM_TRADE_OTHER;
    json_t *trades = crm_leap_unwrap(json_object_get(obj, "trades"));
    const char *tname = crm_leap_str(json_array_get(trades, 0), "name");
    if (!tname || crm_trade_parse(tname, &trade) != 0)
        trade = CRM_TRADE_OTHER;
    out->trade = trade;
    out->rep = person_name(json_array_get(crm_leap_unwrap(json_object_get(obj, "reps")), 0));

    json_t *customer = crm_leap_unwrap(json_object_get(obj, "customer"));
    out->customer_name = person_name(customer);
    if (!out->customer_id && json_is_object(customer))
        out->customer_id = crm_leap_int(customer, "id");
    struct address a;
    address_of(json_object_get(obj, "address"), &a);
    if (!a.street && !a.city && json_is_object(customer)) {
        free(a.state);
        free(a.zip);
        address_of(json_object_get(customer, "address"), &a);
    }
    out->street = a.street;
    out->city = a.city;
    out->state = a.state;
    out->zip = a.zip;
}

/* Appends text with tags removed and white space collapsed. */
static void html_text(const char *body, char *out, size_t outlen)
{
    size_t n = 0;
    bool in_tag = false, space = false;
    for (const char *p = body; *p && n + 1 < outlen; p++) {
        if (*p == '<') {
            in_tag = true;
        } else if (*p == '>') {
            in_tag = false;
            space = n > 0;
        } else if (!in_tag) {
            if (isspace((unsigned char)*p)) {
                space = n > 0;
            } else {
                if (space && n + 2 < outlen)
                    out[n++] = ' ';
                space = false;
                out[n++] = *p;
            }
        }
    }
    out[n] = '\0';
}

void crm_leap_error_text(const char *body, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!body || !*body)
        return;
    json_t *root = json_loads(body, 0, NULL);
    const char *msg = NULL;
    if (root) {
        json_t *e = json_object_get(root, "error");
        msg = json_is_object(e) ? crm_leap_str(e, "message") : json_string_value(e);
        if (!msg)
            msg = crm_leap_str(root, "message");
    }
    if (msg)
        snprintf(out, outlen, "%s", msg);
    else
        html_text(body, out, outlen < 200 ? outlen : 200);
    json_decref(root);
}
