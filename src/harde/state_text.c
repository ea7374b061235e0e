/* state_text — what people and models read of a state: the one-line
 * summary, the confirmation summary, the confirmation handshake and the
 * JSON Schema of an update. See state.h for the contract.
 *
 * Owns nothing beyond a call. Everything here reads the state through the
 * public field functions of state.h (state_is_set, state_value_text,
 * state_missing) and the descriptor's table, so a new state type needs no
 * code here: its table's labels, separators and formats say how it reads. */
#include "harde/state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#define ONE_LINE_VALUE_MAX 60 /* bytes of one value in the one-line summary */
#define ELLIPSIS           "\xe2\x80\xa6"

/* ---- the one-line summary ----------------------------------------------------------- */

/* v on one line, cut at a character boundary with "…" when longer than max bytes. */
static void one_line(char *v, size_t max)
{
    for (char *p = v; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    size_t n = 0, len = strlen(v);
    if (len <= max)
        return;
    while (n < max) {
        size_t k = utf8_sequence((const unsigned char *)v + n);
        if (k == 0 || n + k > max)
            break;
        n += k;
    }
    while (n > 0 && v[n - 1] == ' ')
        n--;
    v[n] = '\0'; /* there is room: len > max >= n, and "…" is appended by the caller */
}

/* Appends format with "{}" replaced by value. */
static int append_formatted(struct buf *out, const char *format, const char *value)
{
    const char *hole = format ? strstr(format, "{}") : NULL;
    if (!hole)
        return buf_append_str(out, format ? format : value);
    int rc = buf_append(out, format, (size_t)(hole - format));
    rc = rc ? rc : buf_append_str(out, value);
    return rc ? rc : buf_append_str(out, hole + 2);
}

static int append_missing(const struct state_header *h, struct buf *out)
{
    const struct state_field *missing[STATE_FIELDS_MAX];
    size_t n = state_missing(h, missing, STATE_FIELDS_MAX);
    int rc = 0;
    if (n == 0)
        return buf_append_str(out, "none");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = buf_printf(out, "%s%s", i ? ", " : "", missing[i]->label);
    return rc;
}

int state_summary(const struct state_header *h, struct buf *out)
{
    struct buf value;
    size_t shown = 0;
    int rc = 0;
    buf_init(&value, STATE_SUMMARY_MAX);
    for (size_t i = 0; i < h->desc->n_fields && rc == 0; i++) {
        const struct state_field *f = &h->desc->fields[i];
        if (!state_is_set(h, f) || (f->summary_format && !*f->summary_format))
            continue;
        buf_reset(&value);
        state_value_text(h, f, &value);
        bool cut = value.len > ONE_LINE_VALUE_MAX;
        if (value.data) {
            one_line(value.data, ONE_LINE_VALUE_MAX);
            value.len = strlen(value.data);
        }
        if (cut)
            buf_append_str(&value, ELLIPSIS);
        if (shown++)
            rc = buf_append_str(out, f->summary_sep ? f->summary_sep : ", ");
        rc = rc ? rc : append_formatted(out, f->summary_format, buf_str(&value));
    }
    buf_free(&value);
    rc = rc ? rc : buf_append_str(out, shown ? "; missing: " : "nothing yet; missing: ");
    return rc ? rc : append_missing(h, out);
}

/* ---- the confirmation summary -------------------------------------------------------- */

/* Appends text with every line after the first indented by indent. */
static int append_indented(struct buf *out, const char *text, const char *indent)
{
    int rc = 0;
    for (const char *p = text; *p && rc == 0; p++) {
        rc = buf_append_char(out, *p);
        if (*p == '\n' && p[1] && rc == 0)
            rc = buf_append_str(out, indent);
    }
    return rc;
}

static int append_label(struct buf *out, const char *label)
{
    int rc = buf_append_char(out, (char)toupper((unsigned char)label[0]));
    return rc ? rc : buf_append_str(out, label + 1);
}

static int confirmation_line(const struct state_header *h, const struct state_field *f,
                             struct buf *out)
{
    int rc = buf_append_str(out, "  ");
    rc = rc ? rc : append_label(out, f->label);
    rc = rc ? rc : buf_append_str(out, ": ");
    if (rc)
        return rc;
    if (!state_is_set(h, f))
        return buf_append_str(out, (f->flags & STATE_REQUIRED) ? "(missing)\n" : "(none)\n");
    struct buf value;
    buf_init(&value, STATE_SUMMARY_MAX);
    if (f->type == STATE_CUSTOM)
        f->custom->describe((const char *)h + f->offset, true, &value);
    else
        state_value_text(h, f, &value);
    rc = append_indented(out, buf_str(&value), "    ");
    buf_free(&value);
    return rc ? rc : buf_append_char(out, '\n');
}

int state_confirmation(const struct state_header *h, struct buf *out)
{
    int rc = buf_printf(out, "%s \xe2\x80\x94 please confirm:\n", h->desc->title);
    for (size_t i = 0; i < h->desc->n_fields && rc == 0; i++)
        rc = confirmation_line(h, &h->desc->fields[i], out);
    rc = rc ? rc : buf_append_str(out, "Missing: ");
    return rc ? rc : append_missing(h, out);
}

int state_request_confirmation(struct state_header *h, struct buf *out, char *err, size_t errlen)
{
    if (state_next_missing(h)) {
        struct buf missing;
        buf_init(&missing, STATE_SUMMARY_MAX);
        append_missing(h, &missing);
        snprintf(err, errlen, "missing: %s", buf_str(&missing));
        buf_free(&missing);
        return ERR_INVALID;
    }
    int rc = state_confirmation(h, out);
    if (rc == 0) {
        h->confirmed = false;
        h->pending_confirmation = true;
    } else {
        snprintf(err, errlen, "the confirmation summary is too long");
    }
    return rc;
}

enum state_reply state_confirmation_reply(struct state_header *h, const char *reply)
{
    if (!h->pending_confirmation)
        return STATE_REPLY_NOT_PENDING;
    switch (entity_answer_of(reply ? reply : "")) {
    case ENTITY_ANSWER_YES:
        h->pending_confirmation = false;
        h->confirmed = state_next_missing(h) == NULL;
        return h->confirmed ? STATE_REPLY_CONFIRMED : STATE_REPLY_DECLINED;
    case ENTITY_ANSWER_NO:
        h->pending_confirmation = false;
        h->confirmed = false;
        return STATE_REPLY_DECLINED;
    default:
        return STATE_REPLY_UNCLEAR;
    }
}

/* ---- the JSON Schema of an update ------------------------------------------------------ */

static size_t max_len_of(const struct state_field *f)
{
    if (f->max_len)
        return f->max_len;
    return f->type == STATE_TEXT ? STATE_VALUE_MAX : STATE_STRING_MAX;
}

static json_t *description_of(const struct state_field *f)
{
    const char *more = f->hint ? f->hint : f->question;
    char *d = more ? xasprintf("%s: %s", f->label, more) : xstrdup(f->label);
    d[0] = (char)toupper((unsigned char)d[0]);
    json_t *j = json_string(d);
    free(d);
    return j;
}

static json_t *nullable(const char *type)
{
    return json_pack("[s, s]", type, "null");
}

static json_t *property_schema(const struct state_field *f)
{
    json_t *p = json_object();
    json_object_set_new(p, "description", description_of(f));
    if (f->type == STATE_INTEGER) {
        json_object_set_new(p, "type", nullable("integer"));
        if (f->min < f->max) {
            json_object_set_new(p, "minimum", json_integer(f->min));
            json_object_set_new(p, "maximum", json_integer(f->max));
        }
    } else if (f->type == STATE_TEXT_LIST) {
        json_object_set_new(p, "type", nullable("array"));
        json_object_set_new(
            p, "items",
            json_pack("{s:s, s:I}", "type", "string", "maxLength", (json_int_t)max_len_of(f)));
        size_t max = f->max_items && f->max_items < STATE_LIST_MAX ? f->max_items : STATE_LIST_MAX;
        json_object_set_new(p, "maxItems", json_integer((json_int_t)max));
    } else {
        json_object_set_new(p, "type", nullable("string"));
        if (f->type == STATE_STRING || f->type == STATE_TEXT || f->type == STATE_NAME)
            json_object_set_new(p, "maxLength", json_integer((json_int_t)max_len_of(f)));
    }
    if (f->type == STATE_ENUM) {
        json_t *values = json_array();
        for (size_t i = 0; i < f->n_choices; i++)
            json_array_append_new(values, json_string(f->choices[i].value));
        json_array_append_new(values, json_null());
        json_object_set_new(p, "enum", values);
    }
    return p;
}

json_t *state_json_schema(const struct state_desc *desc)
{
    json_t *props = json_object();
    for (size_t i = 0; i < desc->n_fields; i++) {
        const struct state_field *f = &desc->fields[i];
        if (!(f->flags & STATE_INTERNAL) && f->type != STATE_CUSTOM)
            json_object_set_new(props, f->name, property_schema(f));
    }
    char *about = xasprintf("Fields of the %s workflow to set. Give only what the rep said; a "
                            "field left out or null keeps its value; a new value replaces it.",
                            desc->kind);
    json_t *schema = json_pack("{s:s, s:s, s:o, s:b}", "type", "object", "description", about,
                               "properties", props, "additionalProperties", 0);
    free(about);
    return schema;
}

char *state_json_schema_text(const struct state_desc *desc)
{
    json_t *schema = state_json_schema(desc);
    char *text = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(schema);
    if (!text)
        abort(); /* jansson only fails here when out of memory */
    char *copy = xstrdup(text);
    free(text);
    return copy;
}
