/* extract — fills a tool's arguments from the user's messages (see extract.h).
 *
 * Owns, for one call, an analysis of each message (its tokens, every entity
 * of entities.h, the mentions of every enum and cue word of the schema) and
 * the field table of extract_schema.c; it returns new JSON and frees the rest.
 *
 * The passes, in order:
 *   1. lists — arrays of {id, qty}: each mention of an id takes the quantity
 *      beside it ("160 ft of gutters", "skylights: 2"), a negated mention
 *      ("no gutters") removes the element; quantities used are taken;
 *   2. scalars — each property takes its best candidate from each message,
 *      oldest first, so later messages win (a weak guess, a bare "First Last"
 *      pair, never replaces a firm value);
 *   3. the answer — the last message is read as the answer to the question
 *      that asked for opt->expecting: bare numbers go to the numeric
 *      properties asked (in order, or by which range each fits), a yes/no to
 *      a boolean, the whole message to a free-text property;
 *   4. assembly — objects are built from their filled properties and the
 *      required properties of active objects still empty are reported.
 * An entity used by one property is marked taken so no other reuses it. */
#define _POSIX_C_SOURCE 200809L
#include "llm/local/extract.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "llm/local/entities_internal.h"
#include "llm/local/extract_internal.h"

/* The longest free-text value taken from a message. */
#define EXTRACT_TEXT_VALUE_MAX 500
/* The longest question extract_question writes. */
#define EXTRACT_QUESTION_MAX 2048

/* How sure a candidate is; CONF_WEAK and CONF_FIRM are the person
 * confidences of entities.h (a bare "First Last" pair, a cued name). */
enum { CONF_WEAK = 1, CONF_FIRM = 2, CONF_CUE = 3 };

struct text {
    const char *text;
    struct scan scan;
    struct entity_list ents;
    bool *taken;                  /* per ents item */
    bool *plain;                  /* per ents item: a NUMBER that is nothing more */
    struct entity_list *hits;     /* per field: enum mentions */
    struct entity_list *cue_hits; /* per field: the property named */
    struct entity_list *examples; /* per field: an example said */
};

struct extractor {
    struct field *fields;
    size_t n_fields;
    struct text *texts;
    size_t n_texts;
    const char *const *expecting;
    size_t n_expecting;
    struct tm now;
};

struct candidate {
    json_t *value; /* new */
    int confidence;
    long ent; /* entity to mark taken, or -1 */
};

/* ---- small helpers ---- */

static bool overlap(size_t a0, size_t a1, size_t b0, size_t b1)
{
    return a0 < b1 && b0 < a1;
}

static bool hard_kind(enum entity_kind k)
{
    return k == ENTITY_EMAIL || k == ENTITY_PHONE || k == ENTITY_ADDRESS || k == ENTITY_JOB_ID;
}

/* [a, b) lies on an email, phone, address or job id. */
static bool on_hard(const struct text *t, size_t a, size_t b)
{
    for (size_t k = 0; k < t->ents.len; k++)
        if (hard_kind(t->ents.items[k].kind) &&
            overlap(a, b, t->ents.items[k].start, t->ents.items[k].end))
            return true;
    return false;
}

/* [a, b) lies on a mention of any enum value of the schema. */
static bool on_choice(const struct extractor *x, const struct text *t, size_t a, size_t b)
{
    for (size_t f = 0; f < x->n_fields; f++)
        for (size_t k = 0; k < t->hits[f].len; k++)
            if (overlap(a, b, t->hits[f].items[k].start, t->hits[f].items[k].end))
                return true;
    return false;
}

static bool expecting_path(const struct extractor *x, const char *path)
{
    for (size_t k = 0; k < x->n_expecting; k++)
        if (x->expecting[k] && strcmp(x->expecting[k], path) == 0)
            return true;
    return false;
}

/* Some expected path lies under the object at prefix. */
static bool expecting_under(const struct extractor *x, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t k = 0; k < x->n_expecting; k++) {
        const char *e = x->expecting[k];
        if (e && strncmp(e, prefix, n) == 0 && (e[n] == '.' || e[n] == '['))
            return true;
    }
    return false;
}

/* The first token starting at or after byte (binary search). */
static size_t token_at(const struct scan *s, size_t byte)
{
    size_t lo = 0, hi = s->n_tok;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entity_scan_start(s, mid) < byte)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void set_value(struct field *f, json_t *value, int confidence, int from_text)
{
    json_decref(f->value);
    f->value = value;
    f->confidence = confidence;
    f->from_text = from_text;
}

/* ---- per-message analysis ---- */

/* Keeps only the mentions not lying on a hard entity. */
static void drop_hard(const struct text *t, struct entity_list *l)
{
    size_t kept = 0;
    for (size_t k = 0; k < l->len; k++)
        if (!on_hard(t, l->items[k].start, l->items[k].end))
            l->items[kept++] = l->items[k];
    l->len = kept;
}

static int find_mentions(const struct text *t, const struct field_choices *c,
                         struct entity_list *out)
{
    if (!c->n)
        return 0;
    int rc = entity_find_choices(t->text, c->items, c->n, out);
    if (rc < 0)
        return rc;
    drop_hard(t, out);
    return 0;
}

/* Marks the NUMBER entities that are nothing more specific: not part of a
 * phone, pitch, date, area, address or an enum value ("3" of "3-tab"). */
static void find_plain_numbers(const struct extractor *x, struct text *t)
{
    t->plain = xcalloc(t->ents.len + 1, sizeof *t->plain);
    for (size_t k = 0; k < t->ents.len; k++) {
        const struct entity *e = &t->ents.items[k];
        if (e->kind != ENTITY_NUMBER || on_choice(x, t, e->start, e->end))
            continue;
        bool plain = true;
        for (size_t j = 0; j < t->ents.len && plain; j++) {
            const struct entity *o = &t->ents.items[j];
            plain = o->kind == ENTITY_NUMBER || o->kind == ENTITY_COUNT ||
                    !overlap(e->start, e->end, o->start, o->end);
        }
        t->plain[k] = plain;
    }
}

static int analyse_text(struct extractor *x, struct text *t, const char *text)
{
    t->text = text;
    t->hits = xcalloc(x->n_fields, sizeof *t->hits);
    t->cue_hits = xcalloc(x->n_fields, sizeof *t->cue_hits);
    t->examples = xcalloc(x->n_fields, sizeof *t->examples);
    int rc = entity_scan_open(&t->scan, text);
    if (rc == 0)
        rc = entity_find_all(text, &x->now, &t->ents);
    if (rc < 0)
        return rc;
    t->taken = xcalloc(t->ents.len + 1, sizeof *t->taken);
    for (size_t f = 0; f < x->n_fields && rc >= 0; f++) {
        rc = find_mentions(t, &x->fields[f].choices, &t->hits[f]);
        if (rc == 0)
            rc = find_mentions(t, &x->fields[f].cues, &t->cue_hits[f]);
        if (rc == 0)
            rc = find_mentions(t, &x->fields[f].examples, &t->examples[f]);
    }
    if (rc < 0)
        return rc;
    find_plain_numbers(x, t);
    return 0;
}

static void free_text(struct extractor *x, struct text *t)
{
    entity_scan_close(&t->scan);
    entity_list_free(&t->ents);
    for (size_t f = 0; t->hits && f < x->n_fields; f++) {
        entity_list_free(&t->hits[f]);
        entity_list_free(&t->cue_hits[f]);
        entity_list_free(&t->examples[f]);
    }
    free(t->hits);
    free(t->cue_hits);
    free(t->examples);
    free(t->taken);
    free(t->plain);
}

/* ---- quantities for lists ---- */

/* A plain NUMBER entity (see find_plain_numbers) not used yet. */
static bool free_number(const struct text *t, size_t k)
{
    return t->plain[k] && !t->taken[k];
}

static bool quantity_entity(const struct extractor *x, const struct text *t, size_t k)
{
    const struct entity *e = &t->ents.items[k];
    if (t->taken[k])
        return false;
    if (e->kind == ENTITY_AREA || e->kind == ENTITY_LENGTH || e->kind == ENTITY_COUNT)
        return !on_hard(t, e->start, e->end);
    return free_number(t, k);
}

/* The words of a choice's value and aliases (so "2 double-hung windows"
 * reaches "window" across "double hung"). */
static bool choice_word(const struct entity_choice *c, const char *word)
{
    const char *names[64];
    size_t n = 0;
    names[n++] = c->value;
    for (size_t a = 0; a < c->n_aliases && n < 64; a++)
        names[n++] = c->aliases[a];
    for (size_t k = 0; k < n; k++) {
        char lower[128];
        size_t len = 0;
        for (const char *p = names[k]; p && *p && len + 1 < sizeof lower; p++)
            lower[len++] = (char)tolower((unsigned char)(isalnum((unsigned char)*p) ? *p : ' '));
        lower[len] = '\0';
        char *save = NULL;
        for (char *w = strtok_r(lower, " ", &save); w; w = strtok_r(NULL, " ", &save))
            if (strcmp(w, word) == 0)
                return true;
    }
    return false;
}

static bool gap_before_ok(const struct text *t, const struct entity_choice *c, size_t from,
                          size_t to)
{
    static const char *const fillers[] = {"of",       "new",           "more",     "additional",
                                          "extra",    "the",           "seamless", "replacement",
                                          "old",      "existing",      "large",    "small",
                                          "big",      "custom",        "standard", "those",
                                          "these",    "total",         "about",    "around",
                                          "roughly",  "approximately", "approx",   "worth",
                                          "aluminum", "vinyl",         "-",        NULL};
    if (to < from || to - from > 3)
        return false;
    for (size_t k = from; k < to; k++) {
        char w[ENTITY_WORD_MAX];
        entity_scan_copy(&t->scan, k, w, sizeof w);
        if (!entity_scan_in(&t->scan, k, fillers) && !choice_word(c, w))
            return false;
    }
    return true;
}

static bool gap_after_ok(const struct text *t, size_t from, size_t to)
{
    static const char *const glue[] = {":",
                                       "-",
                                       "(",
                                       "x",
                                       "=",
                                       "~",
                                       "of",
                                       "about",
                                       "around",
                                       "approx",
                                       "approximately",
                                       "roughly",
                                       "is",
                                       "are",
                                       "at",
                                       "qty",
                                       "quantity",
                                       NULL};
    if (to < from || to - from > 2)
        return false;
    for (size_t k = from; k < to; k++)
        if (!entity_scan_in(&t->scan, k, glue))
            return false;
    return true;
}

/* The quantity entity for a mention: before it ("160 ft of gutters", the
 * count "2 skylights" containing it), else right after ("gutters: 160 ft"). */
static long quantity_for(const struct extractor *x, const struct text *t, const struct field *f,
                         const struct entity *hit)
{
    const struct entity_choice *c = &f->choices.items[(size_t)hit->value];
    size_t hit_tok = token_at(&t->scan, hit->start), hit_end = token_at(&t->scan, hit->end);
    long before = -1, after = -1;
    for (size_t k = 0; k < t->ents.len; k++) {
        const struct entity *e = &t->ents.items[k];
        if (!quantity_entity(x, t, k))
            continue;
        if (e->kind == ENTITY_COUNT && e->start < hit->start && e->end >= hit->end) {
            before = (long)k;
        } else if (e->end <= hit->start &&
                   gap_before_ok(t, c, token_at(&t->scan, e->end), hit_tok)) {
            if (before < 0 || t->ents.items[before].end <= e->end)
                before = (long)k;
        } else if (e->start >= hit->end && after < 0 &&
                   gap_after_ok(t, hit_end, token_at(&t->scan, e->start))) {
            bool other = false; /* "gutters 2 skylights": the 2 is the skylights' */
            for (size_t j = 0; j < t->hits[f - x->fields].len; j++) {
                const struct entity *h = &t->hits[f - x->fields].items[j];
                other |= h != hit && overlap(e->start, e->end + 1, h->start, h->end);
            }
            if (!other)
                after = (long)k;
        }
    }
    return before >= 0 ? before : after;
}

/* The quantity in the key's unit (x-units), or false when the entity's
 * unit does not fit it. */
static bool convert_quantity(const struct field *f, const char *key, const struct entity *e,
                             double *qty)
{
    const char *unit = json_string_value(json_object_get(f->units, key));
    *qty = e->said;
    if (!unit || e->kind == ENTITY_NUMBER)
        return true;
    if (!strcmp(unit, "linear_ft") || !strcmp(unit, "lf") || !strcmp(unit, "feet") ||
        !strcmp(unit, "ft"))
        return e->kind != ENTITY_AREA;
    if (!strcmp(unit, "square") || !strcmp(unit, "squares")) {
        *qty = e->kind == ENTITY_AREA ? e->value / 100 : e->said;
        return e->kind == ENTITY_AREA;
    }
    if (!strcmp(unit, "sqft") || !strcmp(unit, "sq_ft") || !strcmp(unit, "square_feet")) {
        *qty = e->value;
        return e->kind == ENTITY_AREA;
    }
    if (!strcmp(unit, "each") || !strcmp(unit, "count") || !strcmp(unit, "ea"))
        return e->kind == ENTITY_COUNT;
    return true;
}

/* "a skylight", "another window": one, when the key is counted. */
static bool article_before(const struct text *t, const struct field *f, const char *key,
                           const struct entity *hit)
{
    static const char *const articles[] = {"a", "an", "another", "single", NULL};
    size_t i = token_at(&t->scan, hit->start);
    const char *unit = json_string_value(json_object_get(f->units, key));
    return i > 0 && entity_scan_in(&t->scan, i - 1, articles) &&
           (!unit || !strcmp(unit, "each") || !strcmp(unit, "count") || !strcmp(unit, "ea"));
}

static json_t *list_element(json_t *list, const char *key_name, const char *key, size_t *index)
{
    size_t k;
    json_t *el;
    json_array_foreach(list, k, el)
    {
        const char *v = json_string_value(json_object_get(el, key_name));
        if (v && strcmp(v, key) == 0) {
            *index = k;
            return el;
        }
    }
    return NULL;
}

static void list_mention(struct extractor *x, struct text *t, struct field *f,
                         const struct entity *hit, int text_index)
{
    const char *key = f->choices.items[(size_t)hit->value].value;
    size_t index;
    json_t *el = list_element(f->value, f->key_name, key, &index);
    if (hit->negated) {
        if (el)
            json_array_remove(f->value, index);
        return;
    }
    json_t *qty = NULL;
    long q = f->qty_name ? quantity_for(x, t, f, hit) : -1;
    double v;
    if (q >= 0 && convert_quantity(f, key, &t->ents.items[q], &v)) {
        struct field shape = {.integer = f->qty_integer};
        if ((qty = extract_field_number(&shape, v)) != NULL)
            t->taken[q] = true;
    } else if (f->qty_name && article_before(t, f, key, hit)) {
        qty = json_integer(1);
    }
    if (!el) {
        el = json_object();
        json_object_set_new(el, f->key_name, json_string(key));
        json_array_append_new(f->value, el);
    }
    if (qty)
        json_object_set_new(el, f->qty_name, qty);
    f->from_text = text_index;
}

/* An array of enum strings: a mention adds its value once, a negated one removes it. */
static void set_mention(struct field *f, const struct entity *hit, int text_index)
{
    const char *v = f->choices.items[(size_t)hit->value].value;
    long found = -1;
    size_t j;
    json_t *s;
    json_array_foreach(f->value, j, s)
    {
        if (found < 0 && strcmp(json_string_value(s), v) == 0)
            found = (long)j;
    }
    if (hit->negated && found >= 0)
        json_array_remove(f->value, (size_t)found);
    else if (!hit->negated && found < 0)
        json_array_append_new(f->value, json_string(v));
    f->from_text = text_index;
}

static void fill_list(struct extractor *x, struct field *f)
{
    f->value = json_array();
    for (size_t ti = 0; ti < x->n_texts; ti++) {
        struct text *t = &x->texts[ti];
        struct entity_list *hits = &t->hits[f - x->fields];
        for (size_t k = 0; k < hits->len; k++) {
            const struct entity *hit = &hits->items[k];
            if (f->kind == FIELD_LIST) {
                list_mention(x, t, f, hit, (int)ti);
                continue;
            }
            set_mention(f, hit, (int)ti);
        }
    }
}

/* ---- scalar candidates ---- */

/* noun is one of the words, singular, of text ("skylight_count", "Roof area"). */
static bool has_noun(const char *text, const char *noun)
{
    char human[512];
    extract_humanise(text, human, sizeof human);
    char *save = NULL;
    for (char *w = strtok_r(human, " ,.;:()", &save); w; w = strtok_r(NULL, " ,.;:()", &save)) {
        entity_singular(w);
        if (strcmp(w, noun) == 0)
            return true;
    }
    return false;
}

/* The thing a quantity is of ("skylights", "gutters") is named by the field,
 * its description or the object holding it ("roof" for roof.area_sqft). */
static bool field_word(const struct extractor *x, const struct field *f, const char *noun)
{
    const char *desc = json_string_value(json_object_get(f->schema, "description"));
    const struct field *parent = f->parent >= 0 ? &x->fields[f->parent] : NULL;
    return has_noun(f->name, noun) || (desc && has_noun(desc, noun)) ||
           (parent && parent->name && has_noun(parent->name, noun));
}

/* The last untaken entity of kind in t that suits the field, or -1. A count
 * must be of the field's thing; an area or length said to be of something
 * ("of gutters") only fills a field naming that thing. */
static long last_entity(const struct extractor *x, const struct text *t, const struct field *f,
                        enum entity_kind kind)
{
    for (size_t k = t->ents.len; k > 0; k--) {
        const struct entity *e = &t->ents.items[k - 1];
        if (e->kind != kind || t->taken[k - 1])
            continue;
        if (kind == ENTITY_COUNT && !field_word(x, f, e->noun))
            continue;
        if ((kind == ENTITY_LENGTH || kind == ENTITY_AREA) && e->noun[0] &&
            !field_word(x, f, e->noun))
            continue;
        if (kind == ENTITY_ADDRESS) {
            const struct entity_address *a = &e->address;
            if ((f->kind == FIELD_STREET || f->kind == FIELD_ADDRESS) && !a->street[0])
                continue;
            if ((f->kind == FIELD_CITY && !a->city[0]) ||
                (f->kind == FIELD_STATE && !a->state[0]) || (f->kind == FIELD_ZIP && !a->zip[0]))
                continue;
        }
        return (long)(k - 1);
    }
    return -1;
}

/* Byte offset after a cue and its separator ("notes: ", "area is ");
 * need_separator: the cue must be followed by ':', '=', '-' or is/was/are. */
static bool after_cue(const char *text, size_t end, bool need_separator, size_t *out)
{
    static const char *const verbs[] = {"is ",    "was ",    "are ",     "were ", "of ",
                                        "about ", "around ", "roughly ", NULL};
    size_t p = end;
    bool sep = false;
    while (text[p] == ' ' || text[p] == '\t')
        p++;
    if (text[p] == ':' || text[p] == '=' || text[p] == '-') {
        sep = true;
        p++;
    }
    while (text[p] == ' ' || text[p] == '\t')
        p++;
    for (const char *const *v = verbs; *v; v++)
        if (strncasecmp(text + p, *v, strlen(*v)) == 0) {
            sep = true;
            p += strlen(*v);
            break;
        }
    while (text[p] == ' ' || text[p] == '\t')
        p++;
    *out = p;
    return sep || !need_separator;
}

/* A free-text value from byte p to the end of its clause (before . ; ! ?
 * newline — and a comma unless commas are kept — or the next email, phone or
 * address). New reference or NULL. */
static json_t *clause_value(const struct text *t, size_t p, bool keep_commas)
{
    const char *stops = keep_commas ? ".;!?\n" : ",.;!?\n";
    size_t end = p;
    while (t->text[end] && !strchr(stops, t->text[end]) && end - p < EXTRACT_TEXT_VALUE_MAX)
        end++;
    for (size_t k = 0; k < t->ents.len; k++) {
        const struct entity *e = &t->ents.items[k];
        if (hard_kind(e->kind) && e->start > p && e->start < end)
            end = e->start;
    }
    while (end > p && isspace((unsigned char)t->text[end - 1]))
        end--;
    if (end == p)
        return NULL;
    char *v = xstrndup(t->text + p, end - p);
    json_t *j = json_string(v);
    free(v);
    return j;
}

static struct candidate cue_number(const struct extractor *x, const struct text *t,
                                   const struct field *f)
{
    struct candidate c = {NULL, 0, -1};
    const struct entity_list *cues = &t->cue_hits[f - x->fields];
    for (size_t h = cues->len; h > 0 && !c.value; h--) {
        size_t p;
        if (cues->items[h - 1].negated || !after_cue(t->text, cues->items[h - 1].end, false, &p))
            continue;
        for (size_t k = 0; k < t->ents.len; k++) {
            const struct entity *e = &t->ents.items[k];
            if (e->start == p && free_number(t, k) && extract_field_in_range(f, e->value)) {
                c.value = extract_field_number(f, e->value);
                c.confidence = CONF_FIRM;
                c.ent = (long)k;
                break;
            }
        }
    }
    return c;
}

static struct candidate cue_text(const struct extractor *x, const struct text *t,
                                 const struct field *f)
{
    struct candidate c = {NULL, 0, -1};
    const struct entity_list *cues = &t->cue_hits[f - x->fields];
    for (size_t h = cues->len; h > 0 && !c.value; h--) {
        size_t p;
        if (!cues->items[h - 1].negated && after_cue(t->text, cues->items[h - 1].end, true, &p))
            c.value = clause_value(t, p, true);
    }
    if (c.value) {
        c.confidence = CONF_CUE;
        return c;
    }
    const struct entity_list *ex = &t->examples[f - x->fields];
    if (ex->len && (c.value = clause_value(t, ex->items[ex->len - 1].start, false)) != NULL)
        c.confidence = CONF_FIRM;
    return c;
}

/* The person whose name fills a name field: firm ones first, the last of
 * them; not one lying on an enum value ("Standing Seam"). */
static struct candidate person_candidate(const struct extractor *x, const struct text *t,
                                         const struct field *f)
{
    struct candidate c = {NULL, 0, -1};
    for (size_t k = 0; k < t->ents.len; k++) {
        const struct entity *e = &t->ents.items[k];
        if (e->kind != ENTITY_PERSON || on_choice(x, t, e->start, e->end) ||
            on_hard(t, e->start, e->end) || e->confidence < c.confidence)
            continue;
        const char *v = f->kind == FIELD_FIRST_NAME  ? e->person.first
                        : f->kind == FIELD_LAST_NAME ? e->person.last
                                                     : e->norm;
        if (!v[0])
            continue;
        json_decref(c.value);
        c.value = json_string(v);
        c.confidence = e->confidence;
        c.ent = (long)k;
    }
    return c;
}

static json_t *address_value(const struct field *f, const struct entity *e)
{
    switch (f->kind) {
    case FIELD_STREET:
        return json_string(e->address.street);
    case FIELD_CITY:
        return json_string(e->address.city);
    case FIELD_STATE:
        return json_string(e->address.state);
    case FIELD_ZIP:
        if (json_is_string(json_object_get(f->schema, "type")) &&
            strcmp(json_string_value(json_object_get(f->schema, "type")), "string") != 0)
            return json_integer(atol(e->address.zip));
        return json_string(e->address.zip);
    default:
        return json_string(e->norm);
    }
}

/* The value an entity gives a field of its kind. New reference or NULL. */
static json_t *entity_value(const struct field *f, const struct entity *e)
{
    switch (e->kind) {
    case ENTITY_AREA:
        return extract_field_number(f, f->in_squares ? e->value / 100 : e->value);
    case ENTITY_LENGTH:
    case ENTITY_COUNT:
    case ENTITY_PITCH:
    case ENTITY_LAYERS:
    case ENTITY_MONEY:
        return extract_field_number(f, e->value);
    case ENTITY_JOB_ID:
        return f->integer || (json_string_value(json_object_get(f->schema, "type")) &&
                              strcmp(json_string_value(json_object_get(f->schema, "type")),
                                     "number") == 0)
                   ? extract_field_number(f, e->value)
                   : json_string(e->norm);
    case ENTITY_DATETIME:
        if (f->kind == FIELD_DATE)
            return json_stringn(e->norm, 10);
        return json_string(e->norm);
    case ENTITY_ADDRESS:
        return address_value(f, e);
    default:
        return json_string(e->norm);
    }
}

static enum entity_kind entity_for(enum field_kind kind)
{
    switch (kind) {
    case FIELD_AREA:
        return ENTITY_AREA;
    case FIELD_LENGTH:
        return ENTITY_LENGTH;
    case FIELD_COUNT:
        return ENTITY_COUNT;
    case FIELD_PITCH:
        return ENTITY_PITCH;
    case FIELD_LAYERS:
        return ENTITY_LAYERS;
    case FIELD_MONEY:
        return ENTITY_MONEY;
    case FIELD_PHONE:
        return ENTITY_PHONE;
    case FIELD_EMAIL:
        return ENTITY_EMAIL;
    case FIELD_JOB_ID:
        return ENTITY_JOB_ID;
    case FIELD_DATETIME:
    case FIELD_DATE:
        return ENTITY_DATETIME;
    default:
        return ENTITY_ADDRESS;
    }
}

static struct candidate candidate(const struct extractor *x, const struct text *t,
                                  const struct field *f)
{
    struct candidate c = {NULL, 0, -1};
    const struct entity_list *hits = &t->hits[f - x->fields];
    switch (f->kind) {
    case FIELD_ENUM:
        for (size_t k = hits->len; k > 0 && !c.value; k--)
            if (!hits->items[k - 1].negated)
                c.value = json_string(f->choices.items[(size_t)hits->items[k - 1].value].value);
        c.confidence = CONF_FIRM;
        return c;
    case FIELD_BOOL:
        if (t->cue_hits[f - x->fields].len) {
            const struct entity_list *cues = &t->cue_hits[f - x->fields];
            c.value = json_boolean(!cues->items[cues->len - 1].negated);
            c.confidence = CONF_FIRM;
        }
        return c;
    case FIELD_TEXT:
        return cue_text(x, t, f);
    case FIELD_NUMBER:
        return cue_number(x, t, f);
    case FIELD_FIRST_NAME:
    case FIELD_LAST_NAME:
    case FIELD_FULL_NAME:
        return person_candidate(x, t, f);
    default:
        break;
    }
    long k = last_entity(x, t, f, entity_for(f->kind));
    if (k >= 0 && (c.value = entity_value(f, &t->ents.items[k])) != NULL) {
        c.confidence = CONF_FIRM;
        /* an address is shared by its parts: street, city, state, ZIP */
        c.ent = t->ents.items[k].kind == ENTITY_ADDRESS ? -1 : k;
        return c;
    }
    if (f->kind == FIELD_AREA || f->kind == FIELD_LENGTH || f->kind == FIELD_COUNT ||
        f->kind == FIELD_LAYERS || f->kind == FIELD_PITCH || f->kind == FIELD_MONEY)
        return cue_number(x, t, f);
    return c;
}

static void fill_scalar(struct extractor *x, struct field *f)
{
    for (size_t ti = 0; ti < x->n_texts; ti++) {
        struct text *t = &x->texts[ti];
        struct candidate c = candidate(x, t, f);
        if (!c.value)
            continue;
        /* later messages win, except that a weak guess never replaces a firm value */
        if (c.confidence >= CONF_FIRM || c.confidence >= f->confidence) {
            set_value(f, c.value, c.confidence, (int)ti);
            if (c.ent >= 0)
                t->taken[c.ent] = true;
        } else {
            json_decref(c.value);
        }
    }
}

/* ---- the answer to the pending question ---- */

static bool numeric_kind(enum field_kind k)
{
    return k == FIELD_AREA || k == FIELD_LENGTH || k == FIELD_COUNT || k == FIELD_PITCH ||
           k == FIELD_LAYERS || k == FIELD_MONEY || k == FIELD_NUMBER || k == FIELD_JOB_ID;
}

/* A numeric slot the answer may fill: a field, or a list element's qty. */
struct slot {
    struct field *field; /* the field, or the list */
    json_t *element;     /* list element (borrowed) or NULL */
};

static bool slot_fits(const struct slot *s, double v)
{
    if (s->element)
        return v > 0 && (!s->field->qty_integer || fabs(v - round(v)) < 1e-9);
    return extract_field_in_range(s->field, v) && (!s->field->integer || fabs(v - round(v)) < 1e-9);
}

static void slot_fill(struct extractor *x, const struct slot *s, const struct entity *e)
{
    int last = (int)x->n_texts - 1;
    double v = e->value;
    if (s->element) {
        struct field shape = {.integer = s->field->qty_integer};
        json_object_set_new(s->element, s->field->qty_name, extract_field_number(&shape, v));
        return;
    }
    set_value(s->field, extract_field_number(s->field, v), CONF_FIRM, last);
}

/* "items[1].qty" names element 1 of the list field f. */
static json_t *expected_element(const struct extractor *x, const struct field *f)
{
    size_t n = strlen(f->path);
    for (size_t k = 0; k < x->n_expecting; k++) {
        const char *e = x->expecting[k];
        if (!e || strncmp(e, f->path, n) != 0 || e[n] != '[')
            continue;
        char *end;
        long i = strtol(e + n + 1, &end, 10);
        if (*end != ']' || end[1] != '.' || strcmp(end + 2, f->qty_name) != 0 || i < 0)
            continue;
        json_t *el = json_array_get(f->value, (size_t)i);
        if (el && !json_object_get(el, f->qty_name))
            return el;
    }
    return NULL;
}

static size_t collect_slots(struct extractor *x, struct slot *slots, size_t max)
{
    size_t n = 0;
    int last = (int)x->n_texts - 1;
    for (size_t k = 0; k < x->n_fields && n < max; k++) {
        struct field *f = &x->fields[k];
        if (f->kind == FIELD_LIST && f->qty_name) {
            json_t *el = expected_element(x, f);
            if (el)
                slots[n++] = (struct slot){f, el};
        } else if (numeric_kind(f->kind) && expecting_path(x, f->path) && f->from_text != last) {
            slots[n++] = (struct slot){f, NULL};
        }
    }
    return n;
}

/* The one free slot number v fits, -1 for none, -2 for several. */
static long only_fit(const struct slot *slots, size_t n_slots, const bool *used, double v)
{
    long target = -1;
    for (size_t s = 0; s < n_slots; s++)
        if (!used[s] && slot_fits(&slots[s], v))
            target = target < 0 ? (long)s : -2;
    return target;
}

/* Bare numbers in the last message go to the numeric slots asked for: in
 * order when the counts match and every number fits its slot, else, round
 * after round, each number to the one slot left whose range fits it
 * ("7 and 2400" for area and pitch: 2400 can only be the area, then 7 the
 * pitch). One slot and several numbers is a guess, so nothing is filled. */
static void answer_numbers(struct extractor *x)
{
    struct text *t = &x->texts[x->n_texts - 1];
    struct slot slots[16];
    size_t nums[16], n_slots = collect_slots(x, slots, 16), n_nums = 0;
    for (size_t k = 0; k < t->ents.len && n_nums < 16; k++)
        if (free_number(t, k))
            nums[n_nums++] = k;
    if (!n_slots || !n_nums || (n_slots == 1 && n_nums > 1))
        return;
    bool in_order = n_nums == n_slots, used[16] = {false}, done[16] = {false};
    for (size_t k = 0; in_order && k < n_nums; k++)
        in_order = slot_fits(&slots[k], t->ents.items[nums[k]].value);
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t k = 0; k < n_nums; k++) {
            const struct entity *e = &t->ents.items[nums[k]];
            long target = in_order ? (long)k : only_fit(slots, n_slots, used, e->value);
            if (done[k] || target < 0)
                continue;
            used[target] = done[k] = progress = true;
            slot_fill(x, &slots[target], e);
            t->taken[nums[k]] = true;
        }
    }
}

/* The last message without lead-ins ("it's", "that's") and end punctuation. */
static char *whole_answer(const char *text)
{
    static const char *const lead_ins[] = {"it's ",    "its ",     "it is ", "that's ", "thats ",
                                           "that is ", "they're ", "the ",   NULL};
    while (isspace((unsigned char)*text))
        text++;
    for (const char *const *l = lead_ins; *l; l++)
        if (strncasecmp(text, *l, strlen(*l)) == 0) {
            text += strlen(*l);
            break;
        }
    size_t n = strlen(text);
    while (n > 0 && (isspace((unsigned char)text[n - 1]) || strchr(".!?,", text[n - 1])))
        n--;
    if (n == 0 || n > EXTRACT_TEXT_VALUE_MAX)
        return NULL;
    return xstrndup(text, n);
}

static size_t word_count(const char *s)
{
    size_t n = 0;
    for (bool in = false; *s; s++) {
        bool sp = isspace((unsigned char)*s);
        n += !sp && !in;
        in = !sp;
    }
    return n;
}

/* The whole answer as a value for a free-text-like field, or NULL. */
static json_t *whole_value(const struct field *f, const char *answer)
{
    size_t words = word_count(answer);
    switch (f->kind) {
    case FIELD_TEXT:
        return json_string(answer);
    case FIELD_STATE: {
        const char *code = entity_us_state(answer);
        return code ? json_string(code) : NULL;
    }
    case FIELD_ZIP:
        if (strlen(answer) == 5 && strspn(answer, "0123456789") == 5)
            return json_string(answer);
        return NULL;
    case FIELD_CITY:
    case FIELD_FULL_NAME:
        return words >= 1 && words <= 4 ? json_string(answer) : NULL;
    case FIELD_FIRST_NAME:
    case FIELD_LAST_NAME:
        return words == 1 ? json_string(answer) : NULL;
    default:
        return NULL;
    }
}

static void answer_words(struct extractor *x)
{
    int last = (int)x->n_texts - 1;
    const char *text = x->texts[last].text;
    struct field *only = NULL;
    size_t n_text = 0;
    for (size_t k = 0; k < x->n_fields; k++) {
        struct field *f = &x->fields[k];
        if (!expecting_path(x, f->path) || f->from_text == last)
            continue;
        if (f->kind == FIELD_BOOL) {
            enum entity_answer a = entity_answer_of(text);
            if (a == ENTITY_ANSWER_YES || a == ENTITY_ANSWER_NO)
                set_value(f, json_boolean(a == ENTITY_ANSWER_YES), CONF_FIRM, last);
        } else if (f->kind == FIELD_TEXT || f->kind == FIELD_STATE || f->kind == FIELD_ZIP ||
                   f->kind == FIELD_CITY || f->kind == FIELD_FULL_NAME ||
                   f->kind == FIELD_FIRST_NAME || f->kind == FIELD_LAST_NAME) {
            only = f;
            n_text++;
        }
    }
    if (n_text != 1)
        return;
    char *answer = whole_answer(text);
    json_t *v = answer ? whole_value(only, answer) : NULL;
    if (v)
        set_value(only, v, CONF_FIRM, last);
    free(answer);
}

/* ---- assembly ---- */

static bool has_content(const struct field *f)
{
    if (f->kind == FIELD_LIST || f->kind == FIELD_SET)
        return json_array_size(f->value) > 0;
    return f->value != NULL;
}

/* active[i]: the object's required properties are asked for. */
static void find_active(const struct extractor *x, bool *active)
{
    bool *demand = xcalloc(x->n_fields, sizeof *demand);
    for (size_t k = x->n_fields; k-- > 0;) {
        const struct field *f = &x->fields[k];
        if (has_content(f) || (f->kind == FIELD_OBJECT && expecting_under(x, f->path)) ||
            expecting_path(x, f->path))
            demand[k] = true;
        for (size_t t = 0; f->kind == FIELD_OBJECT && t < x->n_texts; t++)
            for (size_t h = 0; h < x->texts[t].cue_hits[k].len; h++)
                demand[k] |= !x->texts[t].cue_hits[k].items[h].negated;
        if (demand[k] && f->parent >= 0)
            demand[f->parent] = true;
    }
    for (size_t k = 0; k < x->n_fields; k++) {
        const struct field *f = &x->fields[k];
        active[k] = f->parent < 0 || demand[k] || (f->required && active[f->parent]);
    }
    free(demand);
}

static json_t *build_object(const struct extractor *x, size_t index)
{
    json_t *obj = json_object();
    for (size_t k = index + 1; k < x->n_fields; k++) {
        const struct field *f = &x->fields[k];
        if (f->parent != (int)index)
            continue;
        if (f->kind == FIELD_OBJECT) {
            json_t *sub = build_object(x, k);
            if (json_object_size(sub))
                json_object_set_new(obj, f->name, sub);
            else
                json_decref(sub);
        } else if (has_content(f)) {
            json_object_set(obj, f->name, f->value);
        }
    }
    return obj;
}

static void add_missing(json_t *missing, const char *path, const char *label,
                        const struct field_choices *choices)
{
    json_t *m = json_pack("{s:s, s:s}", "path", path, "label", label);
    if (choices && choices->n) {
        json_t *list = json_array();
        for (size_t k = 0; k < choices->n; k++)
            json_array_append_new(list, json_string(choices->items[k].value));
        json_object_set_new(m, "choices", list);
    }
    json_array_append_new(missing, m);
}

/* List elements without their required quantity: "items[0].qty". */
static void missing_quantities(const struct field *f, json_t *missing)
{
    size_t k;
    json_t *el;
    char qty_label[200];
    extract_label(f->qty_schema, f->qty_name, qty_label, sizeof qty_label);
    json_array_foreach(f->value, k, el)
    {
        if (json_object_get(el, f->qty_name))
            continue;
        char path[EXTRACT_PATH_MAX + 32], label[300];
        snprintf(path, sizeof path, "%s[%zu].%s", f->path, k, f->qty_name);
        snprintf(label, sizeof label, "%s for %s", qty_label,
                 json_string_value(json_object_get(el, f->key_name)));
        add_missing(missing, path, label, NULL);
    }
}

static void find_missing(const struct extractor *x, const bool *active, json_t *missing)
{
    for (size_t k = 1; k < x->n_fields; k++) {
        const struct field *f = &x->fields[k];
        if (!active[f->parent])
            continue;
        if (f->kind == FIELD_LIST && f->qty_required)
            missing_quantities(f, missing);
        if (f->kind == FIELD_OBJECT || f->kind == FIELD_UNSUPPORTED || !f->required ||
            f->has_default || has_content(f))
            continue;
        char label[200];
        extract_label(f->schema, f->name, label, sizeof label);
        add_missing(missing, f->path, label,
                    f->kind == FIELD_ENUM || f->kind == FIELD_SET ? &f->choices : NULL);
    }
}

/* ---- entry points ---- */

static void extractor_free(struct extractor *x)
{
    for (size_t k = 0; x->texts && k < x->n_texts; k++)
        free_text(x, &x->texts[k]);
    free(x->texts);
    extract_fields_free(x->fields, x->n_fields);
}

static int analyse_texts(struct extractor *x, const char *const *user_texts, size_t n_texts,
                         char *err, size_t errlen)
{
    size_t first = n_texts > EXTRACT_MAX_TEXTS ? n_texts - EXTRACT_MAX_TEXTS : 0;
    x->texts = xcalloc(n_texts - first + 1, sizeof *x->texts);
    for (size_t k = first; k < n_texts; k++) {
        const char *text = user_texts[k] ? user_texts[k] : "";
        int rc = analyse_text(x, &x->texts[x->n_texts++], text);
        if (rc < 0 && strlen(text) > ENTITY_TEXT_LIMIT)
            snprintf(err, errlen, "message %zu is longer than %d bytes", k + 1, ENTITY_TEXT_LIMIT);
        else if (rc < 0)
            snprintf(err, errlen, "message %zu has more than %d values to read", k + 1,
                     ENTITY_LIST_LIMIT);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int extract_arguments(const json_t *schema, const char *const *user_texts, size_t n_texts,
                      const struct extract_options *opt, json_t **args_out, json_t **missing_out,
                      char *err, size_t errlen)
{
    struct extractor x;
    memset(&x, 0, sizeof x);
    bool *active = NULL;
    int rc;
    if (args_out)
        *args_out = NULL;
    if (missing_out)
        *missing_out = NULL;
    if (!args_out || !missing_out || (!user_texts && n_texts)) {
        snprintf(err, errlen, "extract_arguments needs outputs and texts");
        return ERR_INVALID;
    }
    if (opt && opt->now) {
        x.now = *opt->now;
    } else {
        time_t t = time(NULL);
        localtime_r(&t, &x.now);
    }
    if (opt) {
        x.expecting = opt->expecting;
        x.n_expecting = opt->expecting ? opt->n_expecting : 0;
    }
    if ((rc = extract_fields_build(schema, &x.fields, &x.n_fields, err, errlen)) < 0 ||
        (rc = analyse_texts(&x, user_texts, n_texts, err, errlen)) < 0)
        goto out;
    for (size_t k = 0; k < x.n_fields; k++)
        if (x.fields[k].kind == FIELD_LIST || x.fields[k].kind == FIELD_SET)
            fill_list(&x, &x.fields[k]);
    for (size_t k = 0; k < x.n_fields; k++)
        if (x.fields[k].kind >= FIELD_AREA)
            fill_scalar(&x, &x.fields[k]);
    if (x.n_texts > 0 && x.n_expecting > 0) {
        answer_numbers(&x);
        answer_words(&x);
    }
    active = xcalloc(x.n_fields, sizeof *active);
    find_active(&x, active);
    *args_out = build_object(&x, 0);
    *missing_out = json_array();
    find_missing(&x, active, *missing_out);
out:
    free(active);
    extractor_free(&x);
    return rc;
}

/* "a", "a and b", "a, b and c"; 0 or ERR_LIMIT. */
static int append_list(struct buf *b, const json_t *missing)
{
    size_t n = json_array_size(missing), k;
    const json_t *m;
    int rc = 0;
    json_array_foreach(missing, k, m)
    {
        if (k > 0)
            rc |= buf_append_str(b, k + 1 == n ? " and " : ", ");
        const char *label = json_string_value(json_object_get(m, "label"));
        const char *path = json_string_value(json_object_get(m, "path"));
        rc |= buf_append_str(b, label ? label : path ? path : "?");
        const json_t *choices = json_object_get(m, "choices");
        size_t nc = json_array_size(choices), c;
        const json_t *v;
        if (nc == 0 || nc > 8)
            continue;
        rc |= buf_append_str(b, " (");
        json_array_foreach(choices, c, v)
        {
            if (c > 0)
                rc |= buf_append_str(b, c + 1 == nc ? " or " : ", ");
            rc |= buf_append_str(b, json_string_value(v) ? json_string_value(v) : "?");
        }
        rc |= buf_append_str(b, ")");
    }
    return rc ? ERR_LIMIT : 0;
}

char *extract_question(const json_t *missing, const char *purpose)
{
    if (!json_is_array(missing) || json_array_size(missing) == 0)
        return NULL;
    struct buf b;
    buf_init(&b, EXTRACT_QUESTION_MAX);
    if (purpose && purpose[0]) {
        size_t n = strlen(purpose);
        buf_append_str(&b, purpose);
        buf_append_str(&b, purpose[n - 1] == ',' ? " I" : ", I");
    } else {
        buf_append_str(&b, "I");
    }
    int rc = buf_append_str(&b, " still need ");
    rc |= append_list(&b, missing);
    rc |= buf_append_str(&b, json_array_size(missing) == 1 ? ". What is it?" : ". What are they?");
    if (rc) {
        /* too long for one question: fall back to the count */
        buf_reset(&b);
        buf_printf(&b, "I still need %zu more details. What are they?", json_array_size(missing));
    }
    return buf_steal(&b);
}
