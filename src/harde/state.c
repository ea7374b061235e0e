/* state — the generic machinery of typed workflow states: life cycle,
 * setting fields from text and JSON, lists, updates and the JSON round trip.
 * See state.h for the contract; summaries and the schema are in
 * state_text.c, the normalisers in state_normalize.c.
 *
 * Design: every write goes in two steps. First each new value is parsed and
 * normalised into a struct value (owning its memory) — nothing in the state
 * is touched, so any error leaves it as it was; then the values are moved
 * into their slots. The slot of a field is the byte at h + field->offset,
 * read through the type's storage (state.h). Updates with many members and
 * the whole-state restore are the same two steps over many values. */
#define _POSIX_C_SOURCE 200809L
#include "harde/state.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#define MESSAGE_MAX 512 /* one problem */
#define GOT_MAX     40  /* bytes of a bad JSON value shown back */

/* A parsed, normalised value on its way into a slot. */
struct value {
    bool given; /* parsed (for updates: the member was present and not null) */
    bool unset; /* the value is "no value" */
    char *text;
    struct state_int number;
    struct state_list list;
    void *custom; /* field->custom->size bytes */
};

/* ---- slots ------------------------------------------------------------------- */

static void *slot_of(const struct state_header *h, const struct state_field *f)
{
    return (char *)h + f->offset;
}

static bool is_text_type(enum state_type t)
{
    return t != STATE_INTEGER && t != STATE_TEXT_LIST && t != STATE_CUSTOM;
}

static void list_release(struct state_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static void list_push(struct state_list *l, char *item)
{
    l->items = xrealloc(l->items, (l->len + 1) * sizeof *l->items);
    l->items[l->len++] = item;
}

static void slot_release(struct state_header *h, const struct state_field *f)
{
    void *slot = slot_of(h, f);
    if (is_text_type(f->type)) {
        free(*(char **)slot);
        *(char **)slot = NULL;
    } else if (f->type == STATE_INTEGER) {
        memset(slot, 0, sizeof(struct state_int));
    } else if (f->type == STATE_TEXT_LIST) {
        list_release(slot);
    } else {
        f->custom->release(slot);
    }
}

bool state_is_set(const struct state_header *h, const struct state_field *f)
{
    const void *slot = slot_of(h, f);
    switch (f->type) {
    case STATE_INTEGER:
        return ((const struct state_int *)slot)->set;
    case STATE_TEXT_LIST:
        return ((const struct state_list *)slot)->len > 0;
    case STATE_CUSTOM:
        return f->custom->is_set(slot);
    default:
        return *(char *const *)slot != NULL;
    }
}

static void value_release(const struct state_field *f, struct value *v)
{
    free(v->text);
    list_release(&v->list);
    if (v->custom) {
        f->custom->release(v->custom);
        free(v->custom);
    }
    memset(v, 0, sizeof *v);
}

static bool lists_equal(const struct state_list *a, const struct state_list *b)
{
    if (a->len != b->len)
        return false;
    for (size_t i = 0; i < a->len; i++)
        if (strcmp(a->items[i], b->items[i]) != 0)
            return false;
    return true;
}

/* True when v holds what the slot already holds (custom values never do). */
static bool value_same(const struct state_header *h, const struct state_field *f,
                       const struct value *v)
{
    const void *slot = slot_of(h, f);
    if (v->unset)
        return !state_is_set(h, f);
    if (is_text_type(f->type)) {
        const char *old = *(char *const *)slot;
        return old && strcmp(old, v->text) == 0;
    }
    if (f->type == STATE_INTEGER) {
        const struct state_int *old = slot;
        return old->set && old->value == v->number.value;
    }
    if (f->type == STATE_TEXT_LIST)
        return lists_equal(slot, &v->list);
    return false;
}

/* Moves v into the slot (v is left empty). Returns true when the state changed. */
static bool value_apply(struct state_header *h, const struct state_field *f, struct value *v)
{
    bool changed = !value_same(h, f, v);
    void *slot = slot_of(h, f);
    slot_release(h, f);
    if (!v->unset) {
        if (is_text_type(f->type)) {
            *(char **)slot = v->text;
            v->text = NULL;
        } else if (f->type == STATE_INTEGER) {
            *(struct state_int *)slot = v->number;
        } else if (f->type == STATE_TEXT_LIST) {
            *(struct state_list *)slot = v->list;
            memset(&v->list, 0, sizeof v->list);
        } else {
            memcpy(slot, v->custom, f->custom->size);
            free(v->custom);
            v->custom = NULL;
        }
    }
    value_release(f, v);
    return changed;
}

/* ---- parsing values ------------------------------------------------------------ */

static size_t list_max(const struct state_field *f)
{
    return f->max_items && f->max_items < STATE_LIST_MAX ? f->max_items : STATE_LIST_MAX;
}

/* "name: " + the formatted message into err. */
static void field_error(char *err, size_t errlen, const struct state_field *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void field_error(char *err, size_t errlen, const struct state_field *f, const char *fmt, ...)
{
    char msg[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", f->name, msg);
}

/* The JSON value as a short text for messages. */
static void describe_json(const json_t *v, char *out, size_t outlen)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(out, outlen, "?");
        return;
    }
    size_t n = strlen(s);
    snprintf(out, outlen, "%.*s%s", GOT_MAX, s, n > GOT_MAX ? "\xe2\x80\xa6" : "");
    free(s);
}

static int parse_integer_text(const struct state_field *f, const char *text, struct value *v,
                              char *err, size_t errlen)
{
    char msg[MESSAGE_MAX];
    char *norm = state_normalize(f, text, msg, sizeof msg);
    if (!norm) {
        field_error(err, errlen, f, "%s", msg);
        return ERR_INVALID;
    }
    long n = strtol(norm, NULL, 10);
    free(norm);
    if (f->min < f->max && (n < f->min || n > f->max)) {
        field_error(err, errlen, f, "%ld is not between %ld and %ld", n, f->min, f->max);
        return ERR_INVALID;
    }
    v->number.set = true;
    v->number.value = n;
    return 0;
}

/* Adds one item to v->list, normalised; duplicates (without case) are dropped. */
static int parse_item(const struct state_field *f, const char *text, size_t index, struct value *v,
                      char *err, size_t errlen)
{
    char msg[MESSAGE_MAX];
    char *item = state_normalize(f, text, msg, sizeof msg);
    if (!item) {
        field_error(err, errlen, f, "item %zu: %s", index, msg);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < v->list.len; i++) {
        if (strcasecmp(v->list.items[i], item) == 0) {
            free(item);
            return 0;
        }
    }
    if (v->list.len == list_max(f)) {
        free(item);
        field_error(err, errlen, f, "has more than %zu items", list_max(f));
        return ERR_LIMIT;
    }
    list_push(&v->list, item);
    return 0;
}

/* Items separated by newlines or ';'. */
static int parse_list_text(const struct state_field *f, const char *text, struct value *v,
                           char *err, size_t errlen)
{
    char *copy = xstrdup(text), *save = NULL;
    int rc = 0;
    size_t index = 0;
    for (char *tok = strtok_r(copy, ";\n", &save); tok && rc == 0;
         tok = strtok_r(NULL, ";\n", &save)) {
        index++;
        if (strspn(tok, " \t\r") == strlen(tok))
            continue;
        rc = parse_item(f, tok, index, v, err, errlen);
    }
    free(copy);
    if (rc == 0 && v->list.len == 0) {
        field_error(err, errlen, f, "no value given");
        rc = ERR_INVALID;
    }
    return rc == ERR_LIMIT ? ERR_INVALID : rc;
}

static int parse_text(const struct state_field *f, const char *text, struct value *v, char *err,
                      size_t errlen)
{
    char msg[MESSAGE_MAX];
    memset(v, 0, sizeof *v);
    v->given = true;
    if (f->type == STATE_INTEGER)
        return parse_integer_text(f, text, v, err, errlen);
    if (f->type == STATE_TEXT_LIST)
        return parse_list_text(f, text ? text : "", v, err, errlen);
    if (f->type == STATE_CUSTOM) {
        field_error(err, errlen, f, "cannot be set from text");
        return ERR_INVALID;
    }
    v->text = state_normalize(f, text, msg, sizeof msg);
    if (!v->text) {
        field_error(err, errlen, f, "%s", msg);
        return ERR_INVALID;
    }
    return 0;
}

static int parse_json_integer(const struct state_field *f, const json_t *j, struct value *v,
                              char *err, size_t errlen)
{
    char got[GOT_MAX + 8], text[32];
    double d = json_is_real(j) ? json_real_value(j) : 0;
    if (json_is_integer(j)) {
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(j));
    } else if (json_is_real(j) && d == floor(d) && fabs(d) < 1e15) {
        snprintf(text, sizeof text, "%.0f", d);
    } else {
        describe_json(j, got, sizeof got);
        field_error(err, errlen, f, "must be a whole number (got %s)", got);
        return ERR_INVALID;
    }
    return parse_integer_text(f, text, v, err, errlen);
}

static int parse_json_list(const struct state_field *f, const json_t *j, struct value *v, char *err,
                           size_t errlen)
{
    char got[GOT_MAX + 8];
    size_t i;
    const json_t *item;
    if (!json_is_array(j)) {
        describe_json(j, got, sizeof got);
        field_error(err, errlen, f, "must be a list of strings (got %s)", got);
        return ERR_INVALID;
    }
    if (json_array_size(j) > list_max(f)) {
        field_error(err, errlen, f, "has %zu items (at most %zu)", json_array_size(j), list_max(f));
        return ERR_INVALID;
    }
    json_array_foreach(j, i, item)
    {
        if (!json_is_string(item)) {
            describe_json(item, got, sizeof got);
            field_error(err, errlen, f, "item %zu must be a string (got %s)", i + 1, got);
            return ERR_INVALID;
        }
        int rc = parse_item(f, json_string_value(item), i + 1, v, err, errlen);
        if (rc)
            return ERR_INVALID;
    }
    return 0;
}

static int parse_json_custom(const struct state_field *f, const json_t *j, struct value *v,
                             char *err, size_t errlen)
{
    char msg[MESSAGE_MAX];
    v->custom = xcalloc(1, f->custom->size);
    if (f->custom->from_json(v->custom, j, msg, sizeof msg) != 0) {
        field_error(err, errlen, f, "%s", msg);
        return ERR_INVALID;
    }
    return 0;
}

/* Parses a JSON value (null: v->unset). On error v may hold partial memory:
 * the caller releases it with value_release either way. */
static int parse_json(const struct state_field *f, const json_t *j, struct value *v, char *err,
                      size_t errlen)
{
    char got[GOT_MAX + 8];
    memset(v, 0, sizeof *v);
    v->given = true;
    if (json_is_null(j)) {
        v->unset = true;
        return 0;
    }
    if (f->type == STATE_INTEGER)
        return parse_json_integer(f, j, v, err, errlen);
    if (f->type == STATE_TEXT_LIST)
        return parse_json_list(f, j, v, err, errlen);
    if (f->type == STATE_CUSTOM)
        return parse_json_custom(f, j, v, err, errlen);
    if (!json_is_string(j)) {
        describe_json(j, got, sizeof got);
        field_error(err, errlen, f, "must be a string (got %s)", got);
        return ERR_INVALID;
    }
    return parse_text(f, json_string_value(j), v, err, errlen);
}

/* ---- life cycle -------------------------------------------------------------------- */

static void apply_defaults(struct state_header *h)
{
    const struct state_desc *d = h->desc;
    char err[MESSAGE_MAX];
    for (size_t i = 0; i < d->n_fields; i++) {
        const struct state_field *f = &d->fields[i];
        struct value v;
        if (!f->def)
            continue;
        if (parse_text(f, f->def, &v, err, sizeof err) != 0) {
            fprintf(stderr, "state %s: bad default: %s\n", d->kind, err);
            abort(); /* a table bug, caught by the first test that makes the state */
        }
        value_apply(h, f, &v);
    }
}

void state_init(struct state_header *h, const struct state_desc *desc)
{
    if (desc->n_fields > STATE_FIELDS_MAX || desc->size < sizeof *h) {
        fprintf(stderr, "state %s: bad descriptor\n", desc->kind);
        abort();
    }
    memset(h, 0, desc->size);
    h->desc = desc;
    h->created_ms = h->updated_ms = clock_wall_ms();
    apply_defaults(h);
}

void state_release(struct state_header *h)
{
    if (!h || !h->desc)
        return;
    for (size_t i = 0; i < h->desc->n_fields; i++)
        slot_release(h, &h->desc->fields[i]);
}

struct state_header *state_new(const struct state_desc *desc)
{
    struct state_header *h = xmalloc(desc->size);
    state_init(h, desc);
    return h;
}

void state_free(struct state_header *h)
{
    state_release(h);
    free(h);
}

void state_clear(struct state_header *h)
{
    const struct state_desc *desc = h->desc;
    state_release(h);
    state_init(h, desc);
}

void state_mark_changed(struct state_header *h)
{
    int64_t now = clock_wall_ms();
    h->updated_ms = now > h->updated_ms ? now : h->updated_ms;
    h->confirmed = false;
    h->pending_confirmation = false;
}

bool state_expired(const struct state_header *h, int64_t now_ms, int64_t idle_ms)
{
    return idle_ms > 0 && now_ms - h->updated_ms >= idle_ms;
}

/* ---- fields ---------------------------------------------------------------------------- */

const struct state_field *state_field_find(const struct state_desc *desc, const char *name)
{
    for (size_t i = 0; name && i < desc->n_fields; i++)
        if (strcmp(desc->fields[i].name, name) == 0)
            return &desc->fields[i];
    return NULL;
}

size_t state_missing(const struct state_header *h, const struct state_field **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->desc->n_fields; i++) {
        const struct state_field *f = &h->desc->fields[i];
        if (!(f->flags & STATE_REQUIRED) || state_is_set(h, f))
            continue;
        if (n < max)
            out[n] = f;
        n++;
    }
    return n;
}

const struct state_field *state_next_missing(const struct state_header *h)
{
    const struct state_field *f = NULL;
    return state_missing(h, &f, 1) ? f : NULL;
}

int state_value_text(const struct state_header *h, const struct state_field *f, struct buf *out)
{
    const void *slot = slot_of(h, f);
    int rc = 0;
    if (!state_is_set(h, f))
        return 0;
    if (is_text_type(f->type))
        return buf_append_str(out, *(char *const *)slot);
    if (f->type == STATE_INTEGER)
        return buf_printf(out, "%ld", ((const struct state_int *)slot)->value);
    if (f->type == STATE_CUSTOM) {
        f->custom->describe(slot, false, out);
        return 0;
    }
    const struct state_list *l = slot;
    for (size_t i = 0; i < l->len && rc == 0; i++)
        rc = buf_printf(out, "%s%s", i ? "; " : "", l->items[i]);
    return rc;
}

static const struct state_field *find_or_fail(const struct state_header *h, const char *name,
                                              char *err, size_t errlen)
{
    const struct state_field *f = state_field_find(h->desc, name);
    if (!f)
        snprintf(err, errlen, "%s: no such field in a %s state", name ? name : "(null)",
                 h->desc->kind);
    return f;
}

/* Applies a parsed value (or releases it on error) and marks the change. */
static int finish_set(struct state_header *h, const struct state_field *f, struct value *v, int rc)
{
    if (rc == 0 && value_apply(h, f, v))
        state_mark_changed(h);
    value_release(f, v);
    return rc ? ERR_INVALID : 0;
}

int state_set_text(struct state_header *h, const char *name, const char *text, char *err,
                   size_t errlen)
{
    const struct state_field *f = find_or_fail(h, name, err, errlen);
    struct value v;
    if (!f)
        return ERR_NOT_FOUND;
    return finish_set(h, f, &v, parse_text(f, text, &v, err, errlen));
}

int state_set_json(struct state_header *h, const char *name, const json_t *value, char *err,
                   size_t errlen)
{
    const struct state_field *f = find_or_fail(h, name, err, errlen);
    struct value v;
    if (!f)
        return ERR_NOT_FOUND;
    if (!value) {
        snprintf(err, errlen, "%s: no value given", f->name);
        return ERR_INVALID;
    }
    return finish_set(h, f, &v, parse_json(f, value, &v, err, errlen));
}

int state_unset(struct state_header *h, const char *name, char *err, size_t errlen)
{
    const struct state_field *f = find_or_fail(h, name, err, errlen);
    struct value v = {.given = true, .unset = true};
    if (!f)
        return ERR_NOT_FOUND;
    return finish_set(h, f, &v, 0);
}

/* ---- lists ------------------------------------------------------------------------------- */

static const struct state_field *find_list(const struct state_header *h, const char *name,
                                           char *err, size_t errlen, int *rc)
{
    const struct state_field *f = find_or_fail(h, name, err, errlen);
    *rc = f ? 0 : ERR_NOT_FOUND;
    if (f && f->type != STATE_TEXT_LIST) {
        snprintf(err, errlen, "%s: is not a list", f->name);
        *rc = ERR_INVALID;
    }
    return *rc ? NULL : f;
}

int state_list_add(struct state_header *h, const char *name, const char *item, char *err,
                   size_t errlen)
{
    int rc;
    const struct state_field *f = find_list(h, name, err, errlen, &rc);
    if (!f)
        return rc;
    struct state_list *l = slot_of(h, f);
    char msg[MESSAGE_MAX];
    char *norm = state_normalize(f, item, msg, sizeof msg);
    if (!norm) {
        field_error(err, errlen, f, "%s", msg);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < l->len; i++) {
        if (strcasecmp(l->items[i], norm) == 0) {
            free(norm);
            return 0;
        }
    }
    if (l->len >= list_max(f)) {
        free(norm);
        field_error(err, errlen, f, "already has %zu items (at most %zu); remove one first", l->len,
                    list_max(f));
        return ERR_LIMIT;
    }
    list_push(l, norm);
    state_mark_changed(h);
    return 0;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* The index of the item text names (see state_list_remove), or a negative code. */
static long list_match(const struct state_list *l, const char *text, size_t *matches)
{
    char *end;
    long number = strtol(text, &end, 10);
    long found = -1;
    *matches = 0;
    for (size_t i = 0; i < l->len; i++)
        if (strcasecmp(l->items[i], text) == 0)
            return (long)i;
    if (*text && !*end && number >= 1 && (size_t)number <= l->len)
        return number - 1;
    for (size_t i = 0; i < l->len; i++) {
        if (contains_nocase(l->items[i], text)) {
            found = (long)i;
            (*matches)++;
        }
    }
    return *matches == 1 ? found : -1;
}

int state_list_remove(struct state_header *h, const char *name, const char *text, char *err,
                      size_t errlen)
{
    int rc;
    const struct state_field *f = find_list(h, name, err, errlen, &rc);
    if (!f)
        return rc;
    struct state_list *l = slot_of(h, f);
    char msg[MESSAGE_MAX];
    char *want = state_normalize(f, text, msg, sizeof msg);
    if (!want) {
        field_error(err, errlen, f, "%s", msg);
        return ERR_INVALID;
    }
    size_t matches;
    long at = list_match(l, want, &matches);
    if (at < 0) {
        if (matches)
            field_error(err, errlen, f, "\"%s\" matches %zu items; say which one", want, matches);
        else
            field_error(err, errlen, f, "no item matches \"%s\"", want);
        free(want);
        return matches ? ERR_INVALID : ERR_NOT_FOUND;
    }
    free(want);
    free(l->items[at]);
    memmove(l->items + at, l->items + at + 1, (l->len - (size_t)at - 1) * sizeof *l->items);
    if (--l->len == 0) {
        free(l->items);
        l->items = NULL;
    }
    state_mark_changed(h);
    return 0;
}

/* ---- many values at once: updates and restores ---------------------------------------------- */

/* Problems collected across members, joined by "; ". */
struct problems {
    struct buf text;
    size_t count;
};

static void problem(struct problems *p, const char *msg)
{
    buf_printf(&p->text, "%s%s", p->count++ ? "; " : "", msg);
}

static void finish_problems(struct problems *p, char *err, size_t errlen)
{
    if (p->count)
        snprintf(err, errlen, "%s", buf_str(&p->text));
    buf_free(&p->text);
}

/* The names of the fields an update may set. */
static void allowed_fields(const struct state_desc *d, struct buf *out)
{
    for (size_t i = 0, n = 0; i < d->n_fields; i++)
        if (!(d->fields[i].flags & STATE_INTERNAL) && d->fields[i].type != STATE_CUSTOM)
            buf_printf(out, "%s%s", n++ ? ", " : "", d->fields[i].name);
}

/* Parses every member of fields into values[] (indexed like the table).
 * internal_ok: internal fields may be given (restores). */
static void parse_members(const struct state_desc *d, const json_t *fields, bool internal_ok,
                          bool null_unsets, struct value *values, struct problems *p)
{
    const char *key;
    const json_t *member;
    char msg[MESSAGE_MAX];
    json_object_foreach((json_t *)fields, key, member)
    {
        const struct state_field *f = state_field_find(d, key);
        if (!f) {
            struct buf allowed;
            buf_init(&allowed, STATE_SUMMARY_MAX);
            allowed_fields(d, &allowed);
            snprintf(msg, sizeof msg, "unknown field \"%s\" (allowed: %s)", key, buf_str(&allowed));
            buf_free(&allowed);
            problem(p, msg);
            continue;
        }
        if (!internal_ok && ((f->flags & STATE_INTERNAL) || f->type == STATE_CUSTOM)) {
            snprintf(msg, sizeof msg, "%s: is filled in by Hard-E, not by an update", f->name);
            problem(p, msg);
            continue;
        }
        if (json_is_null(member) && !null_unsets)
            continue;
        struct value *v = &values[f - d->fields];
        if (parse_json(f, member, v, msg, sizeof msg) != 0)
            problem(p, msg);
    }
}

static void release_values(const struct state_desc *d, struct value *values)
{
    for (size_t i = 0; i < d->n_fields; i++)
        value_release(&d->fields[i], &values[i]);
}

int state_update_json(struct state_header *h, const json_t *fields, char *err, size_t errlen)
{
    const struct state_desc *d = h->desc;
    struct value values[STATE_FIELDS_MAX];
    struct problems p = {.count = 0};
    bool changed = false;
    if (!json_is_object(fields)) {
        snprintf(err, errlen, "the update must be a JSON object of fields");
        return ERR_INVALID;
    }
    memset(values, 0, sizeof values);
    buf_init(&p.text, STATE_SUMMARY_MAX);
    parse_members(d, fields, false, false, values, &p);
    if (p.count == 0) {
        for (size_t i = 0; i < d->n_fields; i++)
            if (values[i].given)
                changed |= value_apply(h, &d->fields[i], &values[i]);
        if (changed)
            state_mark_changed(h);
    }
    release_values(d, values);
    int rc = p.count ? ERR_INVALID : 0;
    finish_problems(&p, err, errlen);
    return rc;
}

/* ---- the JSON round trip --------------------------------------------------------------------- */

static json_t *field_json(const struct state_header *h, const struct state_field *f)
{
    const void *slot = slot_of(h, f);
    if (is_text_type(f->type))
        return utf8_json_string(*(char *const *)slot);
    if (f->type == STATE_INTEGER)
        return json_integer(((const struct state_int *)slot)->value);
    if (f->type == STATE_CUSTOM)
        return f->custom->to_json(slot);
    const struct state_list *l = slot;
    json_t *a = json_array();
    for (size_t i = 0; i < l->len; i++)
        json_array_append_new(a, utf8_json_string(l->items[i]));
    return a;
}

json_t *state_to_json(const struct state_header *h)
{
    json_t *fields = json_object();
    for (size_t i = 0; i < h->desc->n_fields; i++) {
        const struct state_field *f = &h->desc->fields[i];
        if (state_is_set(h, f))
            json_object_set_new(fields, f->name, field_json(h, f));
    }
    return json_pack("{s:s, s:I, s:I, s:b, s:b, s:o}", "kind", h->desc->kind, "created_ms",
                     (json_int_t)h->created_ms, "updated_ms", (json_int_t)h->updated_ms,
                     "confirmed", h->confirmed, "pending_confirmation", h->pending_confirmation,
                     "fields", fields);
}

/* The header members of a saved state. */
struct saved_header {
    int64_t created_ms, updated_ms;
    bool confirmed, pending;
    const json_t *fields;
};

static void read_time(const json_t *j, const char *name, int64_t *out, struct problems *p)
{
    const json_t *v = json_object_get(j, name);
    char msg[MESSAGE_MAX], got[GOT_MAX + 8];
    if (!v)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        describe_json(v, got, sizeof got);
        snprintf(msg, sizeof msg, "%s: must be milliseconds since 1970 (got %s)", name, got);
        problem(p, msg);
        return;
    }
    *out = json_integer_value(v);
}

static void read_flag(const json_t *j, const char *name, bool *out, struct problems *p)
{
    const json_t *v = json_object_get(j, name);
    char msg[MESSAGE_MAX], got[GOT_MAX + 8];
    if (!v)
        return;
    if (!json_is_boolean(v)) {
        describe_json(v, got, sizeof got);
        snprintf(msg, sizeof msg, "%s: must be true or false (got %s)", name, got);
        problem(p, msg);
        return;
    }
    *out = json_is_true(v);
}

static void read_header(const struct state_desc *d, const json_t *j, struct saved_header *s,
                        struct problems *p)
{
    static const char *const members[] = {"kind",      "created_ms",           "updated_ms",
                                          "confirmed", "pending_confirmation", "fields"};
    char msg[MESSAGE_MAX];
    const char *key, *kind = json_string_value(json_object_get(j, "kind"));
    const json_t *member;
    json_object_foreach((json_t *)j, key, member)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
            known |= strcmp(key, members[i]) == 0;
        if (!known) {
            snprintf(msg, sizeof msg,
                     "unknown member \"%s\" (allowed: kind, created_ms, updated_ms, confirmed, "
                     "pending_confirmation, fields)",
                     key);
            problem(p, msg);
        }
    }
    if (!kind || strcmp(kind, d->kind) != 0) {
        snprintf(msg, sizeof msg, "kind: must be \"%s\" (got %s%s%s)", d->kind, kind ? "\"" : "",
                 kind ? kind : "none", kind ? "\"" : "");
        problem(p, msg);
    }
    s->created_ms = s->updated_ms = clock_wall_ms();
    read_time(j, "created_ms", &s->created_ms, p);
    read_time(j, "updated_ms", &s->updated_ms, p);
    read_flag(j, "confirmed", &s->confirmed, p);
    read_flag(j, "pending_confirmation", &s->pending, p);
    s->fields = json_object_get(j, "fields");
    if (s->fields && !json_is_object(s->fields)) {
        problem(p, "fields: must be an object");
        s->fields = NULL;
    }
}

int state_from_json(struct state_header *h, const json_t *json, char *err, size_t errlen)
{
    const struct state_desc *d = h->desc;
    struct value values[STATE_FIELDS_MAX];
    struct problems p = {.count = 0};
    struct saved_header s = {.fields = NULL};
    if (!json_is_object(json)) {
        snprintf(err, errlen, "a saved %s state must be a JSON object", d->kind);
        return ERR_INVALID;
    }
    memset(values, 0, sizeof values);
    buf_init(&p.text, STATE_SUMMARY_MAX);
    read_header(d, json, &s, &p);
    if (s.fields)
        parse_members(d, s.fields, true, true, values, &p);
    if (p.count == 0) {
        for (size_t i = 0; i < d->n_fields; i++) {
            values[i].unset |= !values[i].given;
            value_apply(h, &d->fields[i], &values[i]);
        }
        h->created_ms = s.created_ms;
        h->updated_ms = s.updated_ms;
        h->confirmed = s.confirmed;
        h->pending_confirmation = s.pending;
    }
    release_values(d, values);
    int rc = p.count ? ERR_INVALID : 0;
    finish_problems(&p, err, errlen);
    return rc;
}
