/* price_book — loading, validating and searching the company's price book.
 * See price_book.h for the format and the fixed-point representation.
 *
 * The loader walks the JSON document once, section by section, with the
 * dotted path of the value being read ("roofing.materials.metal.per_square")
 * so that the first problem found is reported with its exact location. Every
 * object is checked for unknown fields too (keys starting with "_" are allowed
 * as comments): a misspelt optional field would otherwise be silently ignored.
 * After the sections are read, names are folded (lower case, separators
 * dropped), sorted and compared so that no two materials, items or styles can
 * answer to the same name. Memory: the book owns every string and array; one
 * price_book_free releases it all. */
#include "harde/price_book.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define PATH_MAX_LEN 320

struct loader {
    char *err;
    size_t errlen;
};

/* ---- names ---------------------------------------------------------------------------- */

static bool is_name_separator(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' || c == '_';
}

bool price_book_names_match(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    for (;;) {
        while (is_name_separator((unsigned char)*a))
            a++;
        while (is_name_separator((unsigned char)*b))
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
}

/* The lookup form of a name: lower case, separators dropped. New. */
static char *fold_name(const char *s)
{
    char *out = xmalloc(strlen(s) + 1);
    size_t n = 0;
    for (; *s; s++)
        if (!is_name_separator((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
    return out;
}

static bool names_any_match(const char *query, const char *key, const char *label,
                            char *const *aliases, size_t n_aliases)
{
    if (price_book_names_match(query, key) || price_book_names_match(query, label))
        return true;
    for (size_t i = 0; i < n_aliases; i++)
        if (price_book_names_match(query, aliases[i]))
            return true;
    return false;
}

/* ---- numbers -------------------------------------------------------------------------- */

bool price_book_decimal(double v, int64_t scale, int64_t *out)
{
    double x = v * (double)scale;
    if (!isfinite(x) || fabs(x) >= 4503599627370496.0) /* 2^52 */
        return false;
    double r = round(x);
    /* v * scale carries at most a couple of ulps of binary error; anything
     * further from an integer is a genuine extra decimal. */
    if (fabs(x - r) > 1e-6 + fabs(x) * 4e-16)
        return false;
    *out = (int64_t)r;
    return true;
}

/* ---- errors and paths ----------------------------------------------------------------- */

static int fail(struct loader *ld, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, const char *path, const char *fmt, ...)
{
    if (ld->err && ld->errlen) {
        int n = 0;
        if (path && *path)
            n = snprintf(ld->err, ld->errlen, "%s: ", path);
        if (n < 0 || (size_t)n >= ld->errlen)
            n = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return ERR_INVALID;
}

/* Paths longer than PATH_MAX_LEN (absurdly long keys) are cut short with "...". */
static void path_mark_cut(char *out, int n)
{
    if (n < 0 || n >= PATH_MAX_LEN)
        memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

static void path_key(char *out, const char *parent, const char *key)
{
    bool nested = parent && *parent;
    path_mark_cut(
        out, snprintf(out, PATH_MAX_LEN, "%s%s%s", nested ? parent : "", nested ? "." : "", key));
}

static void path_index(char *out, const char *parent, size_t i)
{
    path_mark_cut(out, snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i));
}

static const char *json_kind(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- field readers: each returns 0 or ERR_INVALID with the path in the message ---------- */

/* Checks that obj is an object whose keys are all in allowed (NULL-terminated)
 * and that the required ones (the first n_required of allowed) are present. */
static int check_object(struct loader *ld, const json_t *obj, const char *path,
                        const char *const *allowed, size_t n_required)
{
    if (!json_is_object(obj))
        return fail(ld, path, "expected an object, got %s", json_kind(obj));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (key[0] == '_')
            continue;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char list[256] = "";
            for (size_t i = 0; allowed[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         allowed[i]);
            return fail(ld, path, "unknown field \"%s\" (expected %s)", key, list);
        }
    }
    for (size_t i = 0; i < n_required; i++)
        if (!json_object_get(obj, allowed[i]))
            return fail(ld, path, "missing field \"%s\"", allowed[i]);
    return 0;
}

static int read_name(struct loader *ld, const json_t *v, const char *path, char **out)
{
    if (!json_is_string(v))
        return fail(ld, path, "expected a non-empty string, got %s", json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > PRICE_BOOK_MAX_NAME)
        return fail(ld, path, "longer than %d bytes", PRICE_BOOK_MAX_NAME);
    if (strlen(s) != len)
        return fail(ld, path, "contains a NUL character");
    bool visible = false;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return fail(ld, path, "contains a control character");
        if (!is_name_separator((unsigned char)*p))
            visible = true;
    }
    if (!visible)
        return fail(ld, path, "expected a non-empty string");
    *out = xstrdup(s);
    return 0;
}

/* A number in [min, max] with at most the decimals scale holds, as a count of
 * 1/scale units. min_exclusive makes the lower bound strict. */
static int read_fixed(struct loader *ld, const json_t *v, const char *path, int64_t scale,
                      double min, bool min_exclusive, double max, int64_t *out)
{
    if (!json_is_number(v))
        return fail(ld, path, "expected a number, got %s", json_kind(v));
    double d = json_number_value(v);
    if (d < min || (min_exclusive && d == min) || d > max)
        return fail(ld, path, "%g is out of range (expected %s%g to %g)", d,
                    min_exclusive ? "more than " : "", min, max);
    if (!price_book_decimal(d, scale, out)) {
        int places = 0;
        for (int64_t s = scale; s > 1; s /= 10)
            places++;
        return fail(ld, path, "%.10g has more than %d decimal places", d, places);
    }
    if (min_exclusive && *out <= 0)
        return fail(ld, path, "%.10g is out of range (expected more than %g)", d, min);
    return 0;
}

static int read_price(struct loader *ld, const json_t *v, const char *path, int64_t *out)
{
    return read_fixed(ld, v, path, PRICE_BOOK_PRICE_SCALE, 0, false, PRICE_BOOK_MAX_PRICE, out);
}

static int read_double(struct loader *ld, const json_t *v, const char *path, double min, double max,
                       double *out)
{
    if (!json_is_number(v))
        return fail(ld, path, "expected a number, got %s", json_kind(v));
    double d = json_number_value(v);
    if (!(d >= min && d <= max))
        return fail(ld, path, "%g is out of range (expected %g to %g)", d, min, max);
    *out = d;
    return 0;
}

/* Checks the number of entries of a map or list: at least min (0 or 1), at most
 * PRICE_BOOK_MAX_ENTRIES. what is one entry's name for the message. */
static int read_count(struct loader *ld, const json_t *v, const char *path, size_t min,
                      const char *what)
{
    size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    if (n < min)
        return fail(ld, path, "needs at least one %s", what);
    if (n > PRICE_BOOK_MAX_ENTRIES)
        return fail(ld, path, "more than %d entries", PRICE_BOOK_MAX_ENTRIES);
    return 0;
}

static int read_aliases(struct loader *ld, const json_t *v, const char *path, char ***out,
                        size_t *n_out)
{
    if (!v)
        return 0;
    if (!json_is_array(v))
        return fail(ld, path, "expected an array of strings, got %s", json_kind(v));
    if (json_array_size(v) > PRICE_BOOK_MAX_ALIASES)
        return fail(ld, path, "more than %d aliases", PRICE_BOOK_MAX_ALIASES);
    *out = xcalloc(json_array_size(v) + 1, sizeof **out);
    for (size_t i = 0; i < json_array_size(v); i++) {
        char p[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc = read_name(ld, json_array_get(v, i), p, &(*out)[i]);
        if (rc)
            return rc;
        (*n_out)++;
    }
    return 0;
}

/* ---- sections ------------------------------------------------------------------------- */

static int read_currency(struct loader *ld, struct price_book *book, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 3 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
        !isupper((unsigned char)s[2]))
        return fail(ld, "currency", "expected a three-letter ISO 4217 code such as \"USD\"");
    memcpy(book->currency, s, 4);
    return 0;
}

static enum price_book_tier parse_tier(const char *s)
{
    for (int t = PRICE_BOOK_TIER_GOOD; t < PRICE_BOOK_N_TIERS; t++)
        if (strcmp(s, price_book_tier_name((enum price_book_tier)t)) == 0)
            return (enum price_book_tier)t;
    return PRICE_BOOK_TIER_NONE;
}

static int read_material(struct loader *ld, struct price_book *book, const char *key,
                         const json_t *v, const char *path)
{
    static const char *const fields[] = {"label", "per_square", "tier", "aliases", NULL};
    struct price_book_material *m = &book->materials[book->n_materials++];
    m->key = xstrdup(key);
    char p[PATH_MAX_LEN];
    int rc = check_object(ld, v, path, fields, 2);
    if (rc)
        return rc;
    path_key(p, path, "label");
    if ((rc = read_name(ld, json_object_get(v, "label"), p, &m->label)))
        return rc;
    path_key(p, path, "per_square");
    if ((rc = read_price(ld, json_object_get(v, "per_square"), p, &m->per_square)))
        return rc;
    const json_t *tier = json_object_get(v, "tier");
    if (tier) {
        path_key(p, path, "tier");
        if (!json_is_string(tier) ||
            (m->tier = parse_tier(json_string_value(tier))) == PRICE_BOOK_TIER_NONE)
            return fail(ld, p, "expected one of good, better, best");
        for (size_t i = 0; i + 1 < book->n_materials; i++)
            if (book->materials[i].tier == m->tier)
                return fail(ld, p, "tier \"%s\" is already taken by material \"%s\"",
                            price_book_tier_name(m->tier), book->materials[i].key);
    }
    path_key(p, path, "aliases");
    return read_aliases(ld, json_object_get(v, "aliases"), p, &m->aliases, &m->n_aliases);
}

static int check_key(struct loader *ld, const char *key, const char *path)
{
    json_t *k = json_string(key);
    char *copy = NULL;
    int rc = read_name(ld, k, path, &copy);
    free(copy);
    json_decref(k);
    return rc;
}

static int read_materials(struct loader *ld, struct price_book *book, const json_t *v)
{
    const char *path = "roofing.materials";
    if (!json_is_object(v))
        return fail(ld, path, "expected an object, got %s", json_kind(v));
    int rc = read_count(ld, v, path, 1, "material");
    if (rc)
        return rc;
    book->materials = xcalloc(json_object_size(v), sizeof *book->materials);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        char p[PATH_MAX_LEN];
        path_key(p, path, key);
        if ((rc = check_key(ld, key, p)) || (rc = read_material(ld, book, key, value, p)))
            return rc;
    }
    return 0;
}

static int read_waste(struct loader *ld, struct price_book *book, const json_t *v)
{
    const char *path = "roofing.waste";
    if (!json_is_object(v))
        return fail(ld, path, "expected an object, got %s", json_kind(v));
    int rc = read_count(ld, v, path, 1, "style");
    if (rc)
        return rc;
    book->styles = xcalloc(json_object_size(v), sizeof *book->styles);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        char p[PATH_MAX_LEN];
        path_key(p, path, key);
        if ((rc = check_key(ld, key, p)))
            return rc;
        struct price_book_style *s = &book->styles[book->n_styles++];
        s->key = xstrdup(key);
        rc = read_fixed(ld, value, p, PRICE_BOOK_RATIO_SCALE, 0, false, PRICE_BOOK_MAX_WASTE,
                        &s->waste);
        if (rc)
            return rc;
    }
    if (!price_book_find_style(book, "gable"))
        return fail(ld, path, "missing style \"gable\" (the default when a request names none)");
    return 0;
}

static int read_bands(struct loader *ld, struct price_book *book, const json_t *v)
{
    static const char *const fields[] = {"up_to_rise", "multiplier", NULL};
    const char *path = "roofing.pitch";
    if (!json_is_array(v))
        return fail(ld, path, "expected an array of bands, got %s", json_kind(v));
    int rc = read_count(ld, v, path, 1, "pitch band");
    if (rc)
        return rc;
    book->bands = xcalloc(json_array_size(v), sizeof *book->bands);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *band = json_array_get(v, i);
        char p[PATH_MAX_LEN], f[PATH_MAX_LEN];
        path_index(p, path, i);
        struct price_book_band *b = &book->bands[book->n_bands++];
        if ((rc = check_object(ld, band, p, fields, 2)))
            return rc;
        path_key(f, p, "up_to_rise");
        rc = read_double(ld, json_object_get(band, "up_to_rise"), f, 0, PRICE_BOOK_MAX_RISE,
                         &b->up_to_rise);
        if (rc)
            return rc;
        path_key(f, p, "multiplier");
        rc = read_fixed(ld, json_object_get(band, "multiplier"), f, PRICE_BOOK_RATIO_SCALE, 0, true,
                        PRICE_BOOK_MAX_MULTIPLIER, &b->multiplier);
        if (rc)
            return rc;
        if (i > 0 && b->up_to_rise <= b[-1].up_to_rise)
            return fail(ld, path, "bands must be in increasing up_to_rise order (%g after %g)",
                        b->up_to_rise, b[-1].up_to_rise);
    }
    return 0;
}

static int read_roofing(struct loader *ld, struct price_book *book, const json_t *v)
{
    static const char *const fields[] = {"waste", "pitch", "tearoff_per_square", "materials", NULL};
    int rc = check_object(ld, v, "roofing", fields, 4);
    if (rc)
        return rc;
    if ((rc = read_waste(ld, book, json_object_get(v, "waste"))) ||
        (rc = read_bands(ld, book, json_object_get(v, "pitch"))))
        return rc;
    rc = read_price(ld, json_object_get(v, "tearoff_per_square"), "roofing.tearoff_per_square",
                    &book->tearoff_per_square);
    if (rc)
        return rc;
    return read_materials(ld, book, json_object_get(v, "materials"));
}

static int read_item(struct loader *ld, struct price_book *book, const char *key, const json_t *v,
                     const char *path)
{
    static const char *const fields[] = {"label", "unit", "price", "aliases", NULL};
    static const char *const reserved[] = {"roof", "tearoff", "permit"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (price_book_names_match(key, reserved[i]))
            return fail(ld, path, "the key \"%s\" is reserved for the %s line", key, reserved[i]);
    int rc = check_object(ld, v, path, fields, 3);
    if (rc)
        return rc;
    struct price_book_item *it = &book->items[book->n_items++];
    it->key = xstrdup(key);
    char p[PATH_MAX_LEN];
    path_key(p, path, "label");
    if ((rc = read_name(ld, json_object_get(v, "label"), p, &it->label)))
        return rc;
    path_key(p, path, "unit");
    const json_t *unit = json_object_get(v, "unit");
    if (!json_is_string(unit) || read_name(ld, unit, p, &it->unit))
        return fail(ld, p, "expected a non-empty string such as linear_ft, each or square");
    path_key(p, path, "price");
    if ((rc = read_price(ld, json_object_get(v, "price"), p, &it->price)))
        return rc;
    path_key(p, path, "aliases");
    return read_aliases(ld, json_object_get(v, "aliases"), p, &it->aliases, &it->n_aliases);
}

static int read_items(struct loader *ld, struct price_book *book, const json_t *v)
{
    if (!json_is_object(v))
        return fail(ld, "items", "expected an object, got %s", json_kind(v));
    int rc = read_count(ld, v, "items", 0, "item");
    if (rc)
        return rc;
    book->items = xcalloc(json_object_size(v) + 1, sizeof *book->items);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        char p[PATH_MAX_LEN];
        path_key(p, "items", key);
        if ((rc = check_key(ld, key, p)) || (rc = read_item(ld, book, key, value, p)))
            return rc;
    }
    return 0;
}

static int read_plans(struct loader *ld, struct price_book *book, const json_t *v)
{
    static const char *const fields[] = {"name", "apr", "months", NULL};
    if (!json_is_array(v))
        return fail(ld, "financing", "expected an array of plans, got %s", json_kind(v));
    int rc = read_count(ld, v, "financing", 0, "plan");
    if (rc)
        return rc;
    book->plans = xcalloc(json_array_size(v) + 1, sizeof *book->plans);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *plan = json_array_get(v, i);
        char p[PATH_MAX_LEN], f[PATH_MAX_LEN];
        path_index(p, "financing", i);
        if ((rc = check_object(ld, plan, p, fields, 3)))
            return rc;
        struct price_book_plan *pl = &book->plans[book->n_plans++];
        path_key(f, p, "name");
        if ((rc = read_name(ld, json_object_get(plan, "name"), f, &pl->name)))
            return rc;
        path_key(f, p, "apr");
        rc = read_double(ld, json_object_get(plan, "apr"), f, 0, PRICE_BOOK_MAX_APR, &pl->apr);
        if (rc)
            return rc;
        path_key(f, p, "months");
        const json_t *months = json_object_get(plan, "months");
        double m = json_number_value(months);
        if (!json_is_number(months) || m != floor(m) || m < 1 || m > PRICE_BOOK_MAX_MONTHS)
            return fail(ld, f, "expected a whole number of months from 1 to %d",
                        PRICE_BOOK_MAX_MONTHS);
        pl->months = (int)m;
    }
    return 0;
}

/* ---- ambiguity: no two entries may answer to one name ---------------------------------- */

struct folded {
    char *name;        /* folded form, owned */
    const char *given; /* as written in the book */
    const char *owner; /* key of the entry it names */
    size_t seq;        /* order in the book, so messages name the earlier one first */
};

static int compare_folded(const void *a, const void *b)
{
    const struct folded *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void add_folded(struct folded *list, size_t *n, const char *name, const char *owner)
{
    list[*n] = (struct folded){fold_name(name), name, owner, *n};
    (*n)++;
}

/* Fails when two different entries share a folded name; frees the list. */
static int check_unique(struct loader *ld, struct folded *list, size_t n, const char *path,
                        const char *what)
{
    int rc = 0;
    qsort(list, n, sizeof *list, compare_folded);
    for (size_t i = 0; i + 1 < n && !rc; i++) {
        const struct folded *a = &list[i], *b = &list[i + 1];
        if (strcmp(a->name, b->name) || a->owner == b->owner)
            continue;
        rc = fail(ld, path, "\"%s\" (%s \"%s\") and \"%s\" (%s \"%s\") are the same name", a->given,
                  what, a->owner, b->given, what, b->owner);
    }
    for (size_t i = 0; i < n; i++)
        free(list[i].name);
    free(list);
    return rc;
}

static int check_material_names(struct loader *ld, const struct price_book *book)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < book->n_materials; i++)
        cap += 2 + book->materials[i].n_aliases;
    struct folded *list = xcalloc(cap + 1, sizeof *list);
    for (size_t i = 0; i < book->n_materials; i++) {
        const struct price_book_material *m = &book->materials[i];
        add_folded(list, &n, m->key, m->key);
        add_folded(list, &n, m->label, m->key);
        for (size_t a = 0; a < m->n_aliases; a++)
            add_folded(list, &n, m->aliases[a], m->key);
    }
    return check_unique(ld, list, n, "roofing.materials", "material");
}

static int check_item_names(struct loader *ld, const struct price_book *book)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < book->n_items; i++)
        cap += 2 + book->items[i].n_aliases;
    struct folded *list = xcalloc(cap + 1, sizeof *list);
    for (size_t i = 0; i < book->n_items; i++) {
        const struct price_book_item *it = &book->items[i];
        add_folded(list, &n, it->key, it->key);
        add_folded(list, &n, it->label, it->key);
        for (size_t a = 0; a < it->n_aliases; a++)
            add_folded(list, &n, it->aliases[a], it->key);
    }
    return check_unique(ld, list, n, "items", "item");
}

static int check_style_names(struct loader *ld, const struct price_book *book)
{
    struct folded *list = xcalloc(book->n_styles + 1, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < book->n_styles; i++)
        add_folded(list, &n, book->styles[i].key, book->styles[i].key);
    return check_unique(ld, list, n, "roofing.waste", "style");
}

/* ---- loading -------------------------------------------------------------------------- */

static int read_book(struct loader *ld, struct price_book *book, const json_t *root)
{
    static const char *const fields[] = {"currency", "tax_rate",  "permit_fee", "roofing",
                                         "items",    "financing", NULL};
    int rc = check_object(ld, root, "", fields, 6);
    if (rc)
        return rc;
    if ((rc = read_currency(ld, book, json_object_get(root, "currency"))))
        return rc;
    rc = read_fixed(ld, json_object_get(root, "tax_rate"), "tax_rate", PRICE_BOOK_TAX_SCALE, 0,
                    false, 1, &book->tax_rate);
    if (rc)
        return rc;
    if ((rc = read_price(ld, json_object_get(root, "permit_fee"), "permit_fee",
                         &book->permit_fee)) ||
        (rc = read_roofing(ld, book, json_object_get(root, "roofing"))) ||
        (rc = read_items(ld, book, json_object_get(root, "items"))) ||
        (rc = read_plans(ld, book, json_object_get(root, "financing"))))
        return rc;
    if ((rc = check_style_names(ld, book)) || (rc = check_material_names(ld, book)) ||
        (rc = check_item_names(ld, book)))
        return rc;
    return 0;
}

struct price_book *price_book_from_json(const json_t *root, char *err, size_t errlen)
{
    struct loader ld = {err, errlen};
    struct price_book *book = xcalloc(1, sizeof *book);
    if (read_book(&ld, book, root)) {
        price_book_free(book);
        return NULL;
    }
    return book;
}

static struct price_book *parse_named(const char *text, size_t len, const char *name, char *err,
                                      size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s%sline %d, column %d: %s", name ? name : "", name ? ": " : "",
                 jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    char inner[512] = "";
    struct price_book *book = price_book_from_json(root, inner, sizeof inner);
    json_decref(root);
    if (!book)
        snprintf(err, errlen, "%s%s%s", name ? name : "", name ? ": " : "", inner);
    return book;
}

struct price_book *price_book_parse(const char *text, char *err, size_t errlen)
{
    if (!text) {
        snprintf(err, errlen, "no price book text");
        return NULL;
    }
    size_t len = strlen(text);
    if (len > PRICE_BOOK_MAX_FILE) {
        snprintf(err, errlen, "the price book is larger than %d bytes", PRICE_BOOK_MAX_FILE);
        return NULL;
    }
    return parse_named(text, len, NULL, err, errlen);
}

struct price_book *price_book_load_file(const char *path, char *err, size_t errlen)
{
    struct price_book *book = NULL;
    struct buf text;
    buf_init(&text, PRICE_BOOK_MAX_FILE);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(&text, chunk, n)) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, PRICE_BOOK_MAX_FILE);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    book = parse_named(buf_str(&text), text.len, path, err, errlen);
out:
    if (f)
        fclose(f);
    buf_free(&text);
    return book;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void price_book_free(struct price_book *book)
{
    if (!book)
        return;
    for (size_t i = 0; i < book->n_styles; i++)
        free(book->styles[i].key);
    for (size_t i = 0; i < book->n_materials; i++) {
        struct price_book_material *m = &book->materials[i];
        free(m->key);
        free(m->label);
        free_names(m->aliases, m->n_aliases);
    }
    for (size_t i = 0; i < book->n_items; i++) {
        struct price_book_item *it = &book->items[i];
        free(it->key);
        free(it->label);
        free(it->unit);
        free_names(it->aliases, it->n_aliases);
    }
    for (size_t i = 0; i < book->n_plans; i++)
        free(book->plans[i].name);
    free(book->styles);
    free(book->bands);
    free(book->materials);
    free(book->items);
    free(book->plans);
    free(book);
}

/* ---- lookups -------------------------------------------------------------------------- */

const struct price_book_material *price_book_find_material(const struct price_book *book,
                                                           const char *name)
{
    for (size_t i = 0; name && i < book->n_materials; i++) {
        const struct price_book_material *m = &book->materials[i];
        if (names_any_match(name, m->key, m->label, m->aliases, m->n_aliases))
            return m;
    }
    return NULL;
}

const struct price_book_item *price_book_find_item(const struct price_book *book, const char *name)
{
    for (size_t i = 0; name && i < book->n_items; i++) {
        const struct price_book_item *it = &book->items[i];
        if (names_any_match(name, it->key, it->label, it->aliases, it->n_aliases))
            return it;
    }
    return NULL;
}

const struct price_book_style *price_book_find_style(const struct price_book *book,
                                                     const char *name)
{
    for (size_t i = 0; name && i < book->n_styles; i++)
        if (price_book_names_match(name, book->styles[i].key))
            return &book->styles[i];
    return NULL;
}

const struct price_book_band *price_book_find_band(const struct price_book *book, double pitch_rise)
{
    for (size_t i = 0; i < book->n_bands; i++)
        if (book->bands[i].up_to_rise >= pitch_rise)
            return &book->bands[i];
    return NULL;
}

const struct price_book_material *price_book_tier_material(const struct price_book *book,
                                                           enum price_book_tier tier)
{
    for (size_t i = 0; tier != PRICE_BOOK_TIER_NONE && i < book->n_materials; i++)
        if (book->materials[i].tier == tier)
            return &book->materials[i];
    return NULL;
}

const char *price_book_tier_name(enum price_book_tier tier)
{
    switch (tier) {
    case PRICE_BOOK_TIER_GOOD:
        return "good";
    case PRICE_BOOK_TIER_BETTER:
        return "better";
    case PRICE_BOOK_TIER_BEST:
        return "best";
    default:
        return "";
    }
}

/* ---- the sample book ------------------------------------------------------------------ */

static const char default_book[] =
    "{\n"
    "  \"currency\": \"USD\",\n"
    "  \"tax_rate\": 0.0725,\n"
    "  \"permit_fee\": 350.00,\n"
    "  \"roofing\": {\n"
    "    \"waste\": { \"gable\": 0.10, \"hip\": 0.15, \"complex\": 0.20 },\n"
    "    \"pitch\": [ { \"up_to_rise\": 6,  \"multiplier\": 1.00 },\n"
    "               { \"up_to_rise\": 9,  \"multiplier\": 1.15 },\n"
    "               { \"up_to_rise\": 24, \"multiplier\": 1.30 } ],\n"
    "    \"tearoff_per_square\": 75.00,\n"
    "    \"materials\": {\n"
    "      \"3-tab\":         { \"label\": \"3-Tab Asphalt Shingles\", \"per_square\": 450.00, "
    "\"tier\": \"good\",\n"
    "                         \"aliases\": [\"three tab\", \"3 tab\", \"builder grade\"] },\n"
    "      \"architectural\": { \"label\": \"Architectural Shingles\", \"per_square\": 550.00, "
    "\"tier\": \"better\",\n"
    "                         \"aliases\": [\"dimensional\", \"arch\", \"laminated\"] },\n"
    "      \"designer\":      { \"label\": \"Designer Shingles\", \"per_square\": 750.00, "
    "\"tier\": \"best\",\n"
    "                         \"aliases\": [\"luxury\", \"premium shingles\"] },\n"
    "      \"metal\":         { \"label\": \"Standing Seam Metal\", \"per_square\": 1100.00,\n"
    "                         \"aliases\": [\"standing seam\", \"metal roof\"] }\n"
    "    }\n"
    "  },\n"
    "  \"items\": {\n"
    "    \"gutters\":  { \"label\": \"Seamless Aluminum Gutters\", \"unit\": \"linear_ft\", "
    "\"price\": 12.50 },\n"
    "    \"skylight\": { \"label\": \"Skylight Replacement\", \"unit\": \"each\", \"price\": "
    "1200.00 },\n"
    "    \"siding\":   { \"label\": \"Vinyl Siding\", \"unit\": \"square\", \"price\": 650.00 },\n"
    "    \"window\":   { \"label\": \"Double-Hung Vinyl Window\", \"unit\": \"each\", "
    "\"price\": 850.00 }\n"
    "  },\n"
    "  \"financing\": [\n"
    "    { \"name\": \"12 months same as cash\", \"apr\": 0.0,    \"months\": 12 },\n"
    "    { \"name\": \"10-year low payment\",    \"apr\": 0.0799, \"months\": 120 }\n"
    "  ]\n"
    "}\n";

const char *price_book_default_json(void)
{
    return default_book;
}

struct price_book *price_book_load_default(void)
{
    char err[256];
    struct price_book *book = price_book_parse(default_book, err, sizeof err);
    if (!book) { /* the embedded text is covered by the unit tests */
        fprintf(stderr, "price_book: the built-in book is invalid: %s\n", err);
        abort();
    }
    return book;
}
