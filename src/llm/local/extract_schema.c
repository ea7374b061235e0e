/* extract_schema — reads a tool's JSON Schema into the flat field table the
 * extractor fills, and writes plain-words labels for properties.
 *
 * Owns the field table it returns (freed by extract_fields_free): paths,
 * choice arrays and humanised cue words; schema strings are borrowed. What
 * fills a property is decided by a table of hints matched as whole words in
 * its humanised name first and then its description ("=" marks words too
 * generic to trust in a description: "job", "name", "state", "area" …), so
 * the schema's own words, not tool names, steer extraction. */
#include "llm/local/extract_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

/* ---- words ---- */

void extract_humanise(const char *name, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; name && name[i] && n + 2 < outlen; i++) {
        char c = name[i];
        if (c == '_' || c == '-' || c == '.') {
            c = ' ';
        } else if (isupper((unsigned char)c) && i > 0 && islower((unsigned char)name[i - 1])) {
            out[n++] = ' ';
        }
        if (c == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        out[n++] = (char)tolower((unsigned char)c);
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* phrase occurs in text (both lower case) as whole words */
static bool has_words(const char *text, const char *phrase)
{
    size_t n = strlen(phrase);
    for (const char *p = strstr(text, phrase); p; p = strstr(p + 1, phrase)) {
        bool before = p == text || !isalnum((unsigned char)p[-1]);
        bool after = !isalnum((unsigned char)p[n]);
        if (before && after)
            return true;
    }
    return false;
}

/* ---- what fills a property ---- */

enum { T_NUM = 1, T_STR = 2 };

struct kind_hint {
    const char *words[9]; /* "=word": matched in the name only */
    enum field_kind kind;
    unsigned types;
};

static const struct kind_hint kind_hints[] = {
    {{"square feet", "square foot", "sq ft", "sqft", "=area", "squares", NULL}, FIELD_AREA, T_NUM},
    {{"linear feet", "linear foot", "lineal", "linear ft", "=length", NULL}, FIELD_LENGTH, T_NUM},
    {{"pitch", "=rise", "=slope", NULL}, FIELD_PITCH, T_NUM},
    {{"layer", "layers", NULL}, FIELD_LAYERS, T_NUM},
    {{"=price", "=cost", "=amount", "=budget", "dollars", "usd", "=total", NULL},
     FIELD_MONEY,
     T_NUM},
    {{"job id", "job number", "=job", NULL}, FIELD_JOB_ID, T_NUM | T_STR},
    {{"=quantity", "=qty", "=count", "how many", "=number of", NULL}, FIELD_COUNT, T_NUM},
    {{"phone", "=mobile", "=cell", "telephone", NULL}, FIELD_PHONE, T_STR},
    {{"email", "e mail", NULL}, FIELD_EMAIL, T_STR},
    {{"first name", "given name", "=firstname", NULL}, FIELD_FIRST_NAME, T_STR},
    {{"last name", "surname", "family name", "=lastname", NULL}, FIELD_LAST_NAME, T_STR},
    {{"zip", "postal code", "zipcode", NULL}, FIELD_ZIP, T_STR | T_NUM},
    {{"=state", NULL}, FIELD_STATE, T_STR},
    {{"=city", "=town", NULL}, FIELD_CITY, T_STR},
    {{"=street", "street address", "address line", NULL}, FIELD_STREET, T_STR},
    {{"=address", NULL}, FIELD_ADDRESS, T_STR},
    {{"full name", "customer name", "client name", "=name", NULL}, FIELD_FULL_NAME, T_STR},
    {{"=date time", "=datetime", "=when", "=appointment", "=start time", "=time", NULL},
     FIELD_DATETIME,
     T_STR},
    {{"=date", "=day", NULL}, FIELD_DATE, T_STR},
};

static enum field_kind kind_from_words(const char *text, bool is_name, unsigned type)
{
    for (size_t h = 0; h < sizeof kind_hints / sizeof kind_hints[0]; h++) {
        if (!(kind_hints[h].types & type))
            continue;
        for (const char *const *w = kind_hints[h].words; *w; w++) {
            const char *word = *w;
            if (word[0] == '=') {
                if (!is_name)
                    continue;
                word++;
            }
            if (has_words(text, word))
                return kind_hints[h].kind;
        }
    }
    return FIELD_UNSUPPORTED;
}

static unsigned schema_type(const json_t *schema, bool *integer)
{
    const json_t *type = json_object_get(schema, "type");
    const char *t = json_string_value(type);
    if (json_is_array(type) && json_array_size(type) > 0)
        t = json_string_value(json_array_get(type, 0));
    *integer = t && strcmp(t, "integer") == 0;
    if (t && (strcmp(t, "number") == 0 || strcmp(t, "integer") == 0))
        return T_NUM;
    if (t && strcmp(t, "boolean") == 0)
        return 0;
    return T_STR;
}

static bool has_string_enum(const json_t *schema)
{
    const json_t *e = json_object_get(schema, "enum");
    return json_is_array(e) && json_array_size(e) > 0 && json_is_string(json_array_get(e, 0));
}

static enum field_kind leaf_kind(const char *name, const json_t *schema, bool *integer)
{
    unsigned type = schema_type(schema, integer);
    const char *fmt = json_string_value(json_object_get(schema, "format"));
    const char *t = json_string_value(json_object_get(schema, "type"));
    if (has_string_enum(schema))
        return FIELD_ENUM;
    if (t && strcmp(t, "boolean") == 0)
        return FIELD_BOOL;
    if (fmt && type == T_STR) {
        if (strcmp(fmt, "email") == 0)
            return FIELD_EMAIL;
        if (strcmp(fmt, "date-time") == 0)
            return FIELD_DATETIME;
        if (strcmp(fmt, "date") == 0)
            return FIELD_DATE;
    }
    char human[EXTRACT_PATH_MAX], desc[512];
    extract_humanise(name, human, sizeof human);
    enum field_kind kind = kind_from_words(human, true, type);
    if (kind == FIELD_UNSUPPORTED) {
        const char *d = json_string_value(json_object_get(schema, "description"));
        size_t n = 0;
        for (; d && d[n] && n + 1 < sizeof desc; n++)
            desc[n] = (char)tolower((unsigned char)(d[n] == '-' || d[n] == '_' ? ' ' : d[n]));
        desc[n] = '\0';
        kind = kind_from_words(desc, false, type);
    }
    if (kind == FIELD_UNSUPPORTED)
        kind = type == T_NUM ? FIELD_NUMBER : FIELD_TEXT;
    return kind;
}

/* ---- choice sets ---- */

static const char *choices_own(struct field_choices *c, const char *s)
{
    c->owned = xrealloc(c->owned, (c->n_owned + 1) * sizeof *c->owned);
    c->owned[c->n_owned] = xstrdup(s);
    return c->owned[c->n_owned++];
}

static void choices_free(struct field_choices *c)
{
    free(c->items);
    free(c->aliases);
    for (size_t k = 0; k < c->n_owned; k++)
        free(c->owned[k]);
    free(c->owned);
    memset(c, 0, sizeof *c);
}

/* Strings of a JSON array (or a single string) as borrowed pointers appended to list. */
static size_t collect_strings(const json_t *v, const char **list, size_t n, size_t max)
{
    if (json_is_string(v) && n < max)
        list[n++] = json_string_value(v);
    size_t k;
    const json_t *item;
    if (!json_is_array(v))
        return n;
    json_array_foreach(v, k, item)
    {
        if (json_is_string(item) && n < max)
            list[n++] = json_string_value(item);
    }
    return n;
}

/* enum values, each with its x-aliases */
static void build_enum_choices(struct field_choices *c, const json_t *schema)
{
    const json_t *values = json_object_get(schema, "enum");
    const json_t *aliases = json_object_get(schema, "x-aliases");
    size_t n_values = json_array_size(values), total = 0, k;
    const json_t *v;
    json_array_foreach(values, k, v)
    {
        total += json_array_size(json_object_get(aliases, json_string_value(v))) + 1;
    }
    c->items = xcalloc(n_values, sizeof *c->items);
    c->aliases = xcalloc(total + 1, sizeof *c->aliases);
    size_t used = 0;
    json_array_foreach(values, k, v)
    {
        if (!json_is_string(v))
            continue;
        struct entity_choice *ch = &c->items[c->n++];
        ch->value = json_string_value(v);
        ch->aliases = c->aliases + used;
        size_t before = used;
        used = collect_strings(json_object_get(aliases, ch->value), c->aliases, used, total);
        ch->n_aliases = used - before;
    }
}

static bool unit_word(const char *w)
{
    static const char *const units[] = {"sqft", "ft",  "feet", "id", "qty", "num", "count", "sq",
                                        "lf",   "usd", "in",   "at", "on",  "is",  NULL};
    for (const char *const *u = units; *u; u++)
        if (strcmp(w, *u) == 0)
            return true;
    return false;
}

/* The words naming the property: "lead source", its last word "source"
 * (for kinds read after a cue), its title, its x-aliases when an array. */
static void build_cues(struct field *f)
{
    struct field_choices *c = &f->cues;
    char human[EXTRACT_PATH_MAX];
    extract_humanise(f->name, human, sizeof human);
    if (!human[0])
        return;
    const json_t *extra = json_object_get(f->schema, "x-aliases");
    size_t max = 3 + (json_is_array(extra) ? json_array_size(extra) : 0);
    c->items = xcalloc(1, sizeof *c->items);
    c->aliases = xcalloc(max, sizeof *c->aliases);
    c->n = 1;
    c->items[0].value = choices_own(c, human);
    size_t n = 0;
    const char *last = strrchr(human, ' ');
    bool by_cue = f->kind == FIELD_TEXT || f->kind == FIELD_NUMBER || f->kind == FIELD_BOOL ||
                  f->kind == FIELD_OBJECT || f->kind == FIELD_AREA || f->kind == FIELD_COUNT ||
                  f->kind == FIELD_LENGTH;
    if (last && by_cue && !unit_word(last + 1) && strlen(last + 1) >= 3)
        c->aliases[n++] = choices_own(c, last + 1);
    else if (last && by_cue && unit_word(last + 1)) {
        /* "area sqft" → "area" */
        char first[EXTRACT_PATH_MAX];
        snprintf(first, sizeof first, "%.*s", (int)(last - human), human);
        if (!strchr(first, ' ') && strlen(first) >= 3)
            c->aliases[n++] = choices_own(c, first);
    }
    n = collect_strings(json_object_get(f->schema, "title"), c->aliases, n, max);
    if (json_is_array(extra))
        n = collect_strings(extra, c->aliases, n, max);
    c->items[0].aliases = c->aliases;
    c->items[0].n_aliases = n;
}

static void build_examples(struct field *f)
{
    const json_t *ex = json_object_get(f->schema, "examples");
    if (!json_is_array(ex) || json_array_size(ex) == 0)
        return;
    struct field_choices *c = &f->examples;
    c->aliases = xcalloc(json_array_size(ex), sizeof *c->aliases);
    c->items = xcalloc(1, sizeof *c->items);
    c->n = 1;
    c->items[0].aliases = c->aliases;
    c->items[0].n_aliases = collect_strings(ex, c->aliases, 0, json_array_size(ex));
}

/* ---- numbers ---- */

json_t *extract_field_number(const struct field *f, double v)
{
    bool whole = fabs(v - round(v)) < 1e-9;
    if (f->integer && !whole)
        return NULL;
    if (whole && fabs(v) < 9e15)
        return json_integer((json_int_t)llround(v));
    return json_real(v);
}

bool extract_field_in_range(const struct field *f, double v)
{
    return (!f->has_min || v >= f->min) && (!f->has_max || v <= f->max);
}

static void read_range(struct field *f)
{
    const json_t *min = json_object_get(f->schema, "minimum");
    const json_t *max = json_object_get(f->schema, "maximum");
    const json_t *xmin = json_object_get(f->schema, "exclusiveMinimum");
    if (json_is_number(min)) {
        f->has_min = true;
        f->min = json_number_value(min);
    } else if (json_is_number(xmin)) {
        f->has_min = true;
        f->min = json_number_value(xmin) + 1e-9;
    }
    if (json_is_number(max)) {
        f->has_max = true;
        f->max = json_number_value(max);
    }
}

/* ---- the table ---- */

struct builder {
    struct field *fields;
    size_t n;
    char *err;
    size_t errlen;
};

static int add_field(struct builder *b, const char *name, const json_t *schema, int parent,
                     bool required, int *index)
{
    if (b->n >= EXTRACT_MAX_FIELDS) {
        snprintf(b->err, b->errlen, "the schema has more than %d properties", EXTRACT_MAX_FIELDS);
        return ERR_LIMIT;
    }
    struct field *f = &b->fields[b->n];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->schema = schema;
    f->parent = parent;
    f->required = required;
    f->from_text = -1;
    f->has_default = json_object_get(schema, "default") != NULL;
    if (parent >= 0) {
        const struct field *p = &b->fields[parent];
        size_t plen = strlen(p->path), nlen = strlen(name);
        if (plen + 1 + nlen >= sizeof f->path) {
            snprintf(b->err, b->errlen, "the schema has a property path longer than %d bytes",
                     EXTRACT_PATH_MAX - 1);
            return ERR_LIMIT;
        }
        f->depth = p->depth + 1;
        memcpy(f->path, p->path, plen);
        if (plen)
            f->path[plen++] = '.';
        memcpy(f->path + plen, name, nlen + 1);
    }
    read_range(f);
    *index = (int)b->n++;
    return 0;
}

/* An array of {key enum, qty number} objects, or of enum strings. */
static void classify_array(struct field *f)
{
    const json_t *items = json_object_get(f->schema, "items");
    f->kind = FIELD_UNSUPPORTED;
    if (has_string_enum(items)) {
        f->kind = FIELD_SET;
        build_enum_choices(&f->choices, items);
        return;
    }
    const json_t *props = json_object_get(items, "properties");
    const char *key;
    const json_t *p;
    json_object_foreach((json_t *)props, key, p)
    {
        bool integer;
        if (!f->key_name && has_string_enum(p)) {
            f->key_name = key;
            build_enum_choices(&f->choices, p);
            f->units = json_object_get(p, "x-units");
        } else if (!f->qty_name && schema_type(p, &integer) == T_NUM) {
            f->qty_name = key;
            f->qty_schema = p;
            f->qty_integer = integer;
        }
    }
    if (!f->key_name)
        return;
    f->kind = FIELD_LIST;
    const json_t *req = json_object_get(items, "required");
    size_t k;
    const json_t *r;
    json_array_foreach(req, k, r)
    {
        if (f->qty_name && json_is_string(r) && strcmp(json_string_value(r), f->qty_name) == 0)
            f->qty_required = true;
    }
}

static bool listed(const json_t *required, const char *name)
{
    size_t k;
    const json_t *r;
    json_array_foreach(required, k, r)
    {
        if (json_is_string(r) && strcmp(json_string_value(r), name) == 0)
            return true;
    }
    return false;
}

static int walk_object(struct builder *b, int index)
{
    const json_t *schema = b->fields[index].schema;
    const json_t *props = json_object_get(schema, "properties");
    const json_t *required = json_object_get(schema, "required");
    const char *key;
    const json_t *p;
    json_object_foreach((json_t *)props, key, p)
    {
        if (!json_is_object(p))
            continue;
        int child;
        int rc = add_field(b, key, p, index, listed(required, key), &child);
        if (rc < 0)
            return rc;
        struct field *f = &b->fields[child];
        const char *type = json_string_value(json_object_get(p, "type"));
        if (json_object_get(p, "properties") || (type && strcmp(type, "object") == 0)) {
            f->kind = FIELD_OBJECT;
            build_cues(f);
            if (f->depth < EXTRACT_MAX_DEPTH && (rc = walk_object(b, child)) < 0)
                return rc;
            continue;
        }
        if (type && strcmp(type, "array") == 0) {
            classify_array(f);
            continue;
        }
        f->kind = leaf_kind(key, p, &f->integer);
        if (f->kind == FIELD_AREA) {
            const char *d = json_string_value(json_object_get(p, "description"));
            f->in_squares = d && strstr(d, "squares") && !strstr(d, "square feet");
        }
        if (f->kind == FIELD_ENUM)
            build_enum_choices(&f->choices, p);
        if (f->kind == FIELD_TEXT)
            build_examples(f);
        build_cues(f);
    }
    return 0;
}

int extract_fields_build(const json_t *schema, struct field **fields, size_t *n_fields, char *err,
                         size_t errlen)
{
    *fields = NULL;
    *n_fields = 0;
    if (!json_is_object(schema) || !json_is_object(json_object_get(schema, "properties"))) {
        snprintf(err, errlen, "the tool's parameters are not an object schema with properties");
        return ERR_INVALID;
    }
    struct builder b = {
        .fields = xcalloc(EXTRACT_MAX_FIELDS, sizeof *b.fields), .err = err, .errlen = errlen};
    int root;
    int rc = add_field(&b, "", schema, -1, true, &root);
    b.fields[root].kind = FIELD_OBJECT;
    if (rc == 0)
        rc = walk_object(&b, root);
    if (rc < 0) {
        extract_fields_free(b.fields, b.n);
        return rc;
    }
    *fields = b.fields;
    *n_fields = b.n;
    return 0;
}

void extract_fields_free(struct field *fields, size_t n_fields)
{
    for (size_t k = 0; fields && k < n_fields; k++) {
        choices_free(&fields[k].choices);
        choices_free(&fields[k].cues);
        choices_free(&fields[k].examples);
        json_decref(fields[k].value);
    }
    free(fields);
}

/* ---- labels ---- */

static size_t count_words(const char *s)
{
    size_t n = 0;
    bool in = false;
    for (; *s; s++) {
        if (isspace((unsigned char)*s))
            in = false;
        else if (!in) {
            in = true;
            n++;
        }
    }
    return n;
}

/* The description up to its first stop: ". ", "(", ";", ":", " e.g", " - ". */
static void description_head(const char *d, char *out, size_t outlen)
{
    static const char *const stops[] = {". ", "(", ";", ":", " e.g", ", e.g", " - ", " — ", NULL};
    size_t n = strlen(d);
    for (const char *const *s = stops; *s; s++) {
        const char *p = strstr(d, *s);
        if (p && (size_t)(p - d) < n)
            n = (size_t)(p - d);
    }
    while (n > 0 && (isspace((unsigned char)d[n - 1]) || d[n - 1] == '.' || d[n - 1] == ','))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, d);
}

/* "Roof area in square feet" → "roof area (square feet)"; a long "X in Y" → "X". */
static void label_from_description(const char *d, char *out, size_t outlen)
{
    char head[256];
    description_head(d, head, sizeof head);
    if (strncmp(head, "The ", 4) == 0 || strncmp(head, "the ", 4) == 0)
        memmove(head, head + 4, strlen(head + 4) + 1);
    if (head[0] && !isupper((unsigned char)head[1]))
        head[0] = (char)tolower((unsigned char)head[0]);
    char *in = strstr(head, " in ");
    if (in && in != head) {
        *in = '\0';
        const char *unit = in + 4;
        bool article = strncmp(unit, "the ", 4) == 0 || strncmp(unit, "a ", 2) == 0 ||
                       strncmp(unit, "an ", 3) == 0 || strncmp(unit, "its ", 4) == 0;
        if (count_words(unit) <= 3 && !article)
            snprintf(out, outlen, "%.120s (%.120s)", head, in + 4);
        else
            snprintf(out, outlen, "%s", head);
        return;
    }
    snprintf(out, outlen, "%s", head);
}

void extract_label(const json_t *property, const char *name, char *out, size_t outlen)
{
    char text[256] = "";
    const char *title = json_string_value(json_object_get(property, "title"));
    const char *desc = json_string_value(json_object_get(property, "description"));
    if (title && title[0]) {
        snprintf(text, sizeof text, "%s", title);
        if (text[0] && !isupper((unsigned char)text[1]))
            text[0] = (char)tolower((unsigned char)text[0]);
    } else if (desc && desc[0]) {
        label_from_description(desc, text, sizeof text);
    }
    if (!text[0] || count_words(text) > 9)
        extract_humanise(name, text, sizeof text);
    bool article = strncmp(text, "the ", 4) == 0 || strncmp(text, "a ", 2) == 0 ||
                   strncmp(text, "an ", 3) == 0 || strncmp(text, "your ", 5) == 0;
    snprintf(out, outlen, "%s%s", article ? "" : "the ", text);
}
