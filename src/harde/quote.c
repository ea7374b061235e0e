/* quote — request validation, the quote arithmetic and the quote's JSON.
 * See quote.h for the contract and docs/PRICING.md for the rules.
 *
 * Three stages. parse_request() reads the request JSON into a struct
 * quote_request, resolving names against the book and collecting every
 * problem in a struct problems (missing fields gathered into one message);
 * pricing only starts when that list is empty. price() turns a request and a
 * material into lines of integer cents; it is run once for the request and
 * once per Good/Better/Best tier. Finally the priced lines become the quote
 * object. All money stays in int64 fixed point until the JSON is built:
 * muldiv_round() computes a*b/d rounded half away from zero without forming
 * the full product, and the bounds in price_book.h and quote.h keep every
 * intermediate far below INT64_MAX (bundles <= 6000, prices <= 1e10 units,
 * multipliers <= 1e5 units, quantities <= 1e9 units). The text table and the
 * CLI helper live in quote_text.c: they only read the quote JSON. */
#define _POSIX_C_SOURCE 200809L
#include "harde/quote.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define MESSAGE_MAX      8192 /* one problem message */
#define SNIPPET_MAX      80   /* bytes of a caller's string quoted back in a message */
#define BUNDLE_TOLERANCE 1e-9

/* ---- exact arithmetic ----------------------------------------------------------------- */

/* num / den rounded half away from zero; den > 0. */
static int64_t round_div(int64_t num, int64_t den)
{
    int64_t q = num / den, r = num % den; /* C truncates: r has the sign of num */
    if (r < 0)
        r = -r;
    if (r >= den - r)
        q += num < 0 ? -1 : 1;
    return q;
}

/* a * b / d rounded half away from zero, d > 0, without forming a * b:
 * a = q*d + r with |r| < d, so a*b/d = q*b + r*b/d and |r*b| < d*|b|. */
static int64_t muldiv_round(int64_t a, int64_t b, int64_t d)
{
    return (a / d) * b + round_div((a % d) * b, d);
}

static double cents_value(int64_t cents)
{
    return (double)cents / 100.0; /* correctly rounded: the double nearest cents/100 */
}

static double fixed_value(int64_t units, int64_t scale)
{
    return (double)units / (double)scale;
}

/* ---- problems ------------------------------------------------------------------------- */

struct problems {
    json_t *errors;     /* array of strings */
    struct buf missing; /* "roof.area_sqft, items[0].qty" */
};

static void problem(struct problems *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct problems *pr, const char *fmt, ...)
{
    struct buf msg;
    buf_init(&msg, MESSAGE_MAX);
    va_list ap;
    va_start(ap, fmt);
    /* Messages quote at most SNIPPET_MAX bytes of the caller's text and a
     * bounded list of choices, so they stay far below MESSAGE_MAX. */
    int rc = buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_t *s = rc == 0 ? json_string(buf_str(&msg)) : NULL;
    json_array_append_new(pr->errors, s ? s : json_string("invalid request"));
    buf_free(&msg);
}

static void missing(struct problems *pr, const char *field)
{
    if (pr->missing.len)
        buf_append_str(&pr->missing, ", ");
    buf_append_str(&pr->missing, field);
}

/* A caller's string made safe to quote in a message: at most SNIPPET_MAX bytes
 * cut on a UTF-8 boundary, control characters replaced. Writes into out. */
static const char *snippet(const char *s, char out[SNIPPET_MAX + 8])
{
    size_t n = strlen(s), cut = n > SNIPPET_MAX ? SNIPPET_MAX : n;
    while (cut > 0 && cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    for (size_t i = 0; i < cut; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    strcpy(out + cut, cut < n ? "..." : "");
    return out;
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

/* Appends name to a "a, b, c" list in b; a list past b's maximum is cut short. */
static void choices_add(struct buf *b, const char *name)
{
    if (b->len && buf_append_str(b, ", "))
        return;
    if (buf_append_str(b, name) && b->len + 5 < b->max)
        buf_append_str(b, "...");
}

static void unknown_fields(struct problems *pr, const json_t *obj, const char *path,
                           const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (known)
            continue;
        struct buf list;
        buf_init(&list, 512);
        for (size_t i = 0; allowed[i]; i++)
            choices_add(&list, allowed[i]);
        char s[SNIPPET_MAX + 8];
        problem(pr, "%s%s%s: unknown field (expected %s)", path, *path ? "." : "", snippet(key, s),
                buf_str(&list));
        buf_free(&list);
    }
}

/* The member key of obj, treating JSON null as absent (borrowed or NULL). */
static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* ---- the request ---------------------------------------------------------------------- */

struct request_item {
    const struct price_book_item *item;
    int64_t qty; /* 1/10000 of a unit */
    const json_t *qty_json;
};

struct quote_request {
    bool has_roof;
    double area;
    const json_t *area_json;
    const struct price_book_style *style;
    double pitch_rise;
    const json_t *pitch_json;
    const struct price_book_band *band;
    int layers;
    const struct price_book_material *material;
    struct request_item *items;
    size_t n_items;
    bool permit;
};

/* A required number at obj.key within [min, max] (min excluded when strict).
 * True with *out set, else false with a problem recorded (or the field
 * listed as missing). */
static bool read_number(struct problems *pr, const json_t *obj, const char *path, const char *key,
                        double min, bool strict, double max, const char *unit, double *out)
{
    const json_t *v = member(obj, key);
    char field[128];
    snprintf(field, sizeof field, "%s.%s", path, key);
    if (!v) {
        missing(pr, field);
        return false;
    }
    if (!json_is_number(v)) {
        problem(pr, "%s: expected a number, got %s", field, json_kind(v));
        return false;
    }
    double x = json_number_value(v);
    if (x < min || (strict && x == min) || x > max) {
        problem(pr, "%s: must be %s %g and at most %g%s (got %.10g)", field,
                strict ? "more than" : "at least", min, max, unit, x);
        return false;
    }
    *out = x;
    return true;
}

static void unknown_material(struct problems *pr, const struct price_book *book, const char *name)
{
    struct buf list;
    buf_init(&list, 2048);
    for (size_t i = 0; i < book->n_materials; i++)
        choices_add(&list, book->materials[i].key);
    char s[SNIPPET_MAX + 8];
    problem(pr, "roof.material: unknown material \"%s\"; choose one of %s", snippet(name, s),
            buf_str(&list));
    buf_free(&list);
}

static void parse_style(struct problems *pr, const struct price_book *book, const json_t *roof,
                        struct quote_request *rq)
{
    const json_t *v = member(roof, "style");
    if (!v) {
        rq->style = price_book_find_style(book, "gable");
        return;
    }
    if (json_is_string(v) && (rq->style = price_book_find_style(book, json_string_value(v))))
        return;
    struct buf list;
    buf_init(&list, 2048);
    for (size_t i = 0; i < book->n_styles; i++)
        choices_add(&list, book->styles[i].key);
    char s[SNIPPET_MAX + 8];
    if (json_is_string(v))
        problem(pr, "roof.style: unknown style \"%s\"; choose one of %s",
                snippet(json_string_value(v), s), buf_str(&list));
    else
        problem(pr, "roof.style: expected a string, one of %s", buf_str(&list));
    buf_free(&list);
}

static void parse_layers(struct problems *pr, const json_t *roof, struct quote_request *rq)
{
    const json_t *v = member(roof, "layers");
    rq->layers = 1;
    if (!v)
        return;
    double x = json_number_value(v);
    if (!json_is_number(v) || x != floor(x) || x < 0 || x > QUOTE_MAX_LAYERS) {
        char got[64];
        if (json_is_number(v))
            snprintf(got, sizeof got, "%.10g", x);
        else
            snprintf(got, sizeof got, "%s", json_kind(v));
        problem(pr, "roof.layers: must be a whole number from 0 to %d (got %s)", QUOTE_MAX_LAYERS,
                got);
        return;
    }
    rq->layers = (int)x;
}

static void parse_pitch(struct problems *pr, const struct price_book *book, const json_t *roof,
                        struct quote_request *rq)
{
    if (!read_number(pr, roof, "roof", "pitch_rise", 0, false, QUOTE_MAX_PITCH_RISE, "",
                     &rq->pitch_rise))
        return;
    rq->pitch_json = member(roof, "pitch_rise");
    rq->band = price_book_find_band(book, rq->pitch_rise);
    if (!rq->band)
        problem(pr, "roof.pitch_rise: must be at most %g for this price book (got %.10g)",
                book->bands[book->n_bands - 1].up_to_rise, rq->pitch_rise);
}

static void parse_roof(struct problems *pr, const struct price_book *book, const json_t *roof,
                       struct quote_request *rq)
{
    static const char *const fields[] = {"area_sqft", "style",    "pitch_rise",
                                         "layers",    "material", NULL};
    if (!json_is_object(roof)) {
        problem(pr, "roof: expected an object, got %s", json_kind(roof));
        return;
    }
    rq->has_roof = true;
    unknown_fields(pr, roof, "roof", fields);
    if (read_number(pr, roof, "roof", "area_sqft", 0, true, QUOTE_MAX_AREA, " sq ft", &rq->area))
        rq->area_json = member(roof, "area_sqft");
    parse_style(pr, book, roof, rq);
    parse_pitch(pr, book, roof, rq);
    parse_layers(pr, roof, rq);
    const json_t *v = member(roof, "material");
    if (!v)
        missing(pr, "roof.material");
    else if (!json_is_string(v))
        problem(pr, "roof.material: expected a string, got %s", json_kind(v));
    else if (!(rq->material = price_book_find_material(book, json_string_value(v))))
        unknown_material(pr, book, json_string_value(v));
}

static void parse_item_id(struct problems *pr, const struct price_book *book, const json_t *item,
                          const char *path, struct request_item *ri)
{
    const json_t *v = member(item, "id");
    char field[64];
    snprintf(field, sizeof field, "%s.id", path);
    if (!v) {
        missing(pr, field);
        return;
    }
    if (json_is_string(v) && (ri->item = price_book_find_item(book, json_string_value(v))))
        return;
    struct buf list;
    buf_init(&list, 2048);
    for (size_t i = 0; i < book->n_items; i++)
        choices_add(&list, book->items[i].key);
    char s[SNIPPET_MAX + 8];
    if (json_is_string(v))
        problem(pr, "%s: unknown item \"%s\"; choose one of %s", field,
                snippet(json_string_value(v), s), list.len ? buf_str(&list) : "(none)");
    else
        problem(pr, "%s: expected a string, got %s", field, json_kind(v));
    buf_free(&list);
}

static void parse_items(struct problems *pr, const struct price_book *book, const json_t *items,
                        struct quote_request *rq)
{
    static const char *const fields[] = {"id", "qty", NULL};
    if (!json_is_array(items)) {
        problem(pr, "items: expected an array of {\"id\", \"qty\"} objects, got %s",
                json_kind(items));
        return;
    }
    if (json_array_size(items) > QUOTE_MAX_ITEMS) {
        problem(pr, "items: more than %d items", QUOTE_MAX_ITEMS);
        return;
    }
    rq->items = xcalloc(json_array_size(items) + 1, sizeof *rq->items);
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *item = json_array_get(items, i);
        struct request_item *ri = &rq->items[rq->n_items++];
        char path[32];
        snprintf(path, sizeof path, "items[%zu]", i);
        if (!json_is_object(item)) {
            problem(pr, "%s: expected an object {\"id\", \"qty\"}, got %s", path, json_kind(item));
            continue;
        }
        unknown_fields(pr, item, path, fields);
        parse_item_id(pr, book, item, path, ri);
        double qty;
        if (!read_number(pr, item, path, "qty", 0, true, QUOTE_MAX_QTY, "", &qty))
            continue;
        ri->qty_json = member(item, "qty");
        if (!price_book_decimal(qty, 10000, &ri->qty) || ri->qty <= 0)
            problem(pr, "%s.qty: at most 4 decimal places (got %.10g)", path, qty);
    }
}

static void parse_request(struct problems *pr, const struct price_book *book, const json_t *request,
                          struct quote_request *rq)
{
    static const char *const fields[] = {"roof", "items", "permit", NULL};
    rq->permit = true;
    if (!json_is_object(request)) {
        problem(pr, "request: expected an object with \"roof\" and/or \"items\", got %s",
                json_kind(request));
        return;
    }
    unknown_fields(pr, request, "", fields);
    const json_t *roof = member(request, "roof"), *items = member(request, "items");
    const json_t *permit = member(request, "permit");
    if (roof)
        parse_roof(pr, book, roof, rq);
    if (items)
        parse_items(pr, book, items, rq);
    if (permit && !json_is_boolean(permit))
        problem(pr, "permit: expected true or false, got %s", json_kind(permit));
    else if (permit)
        rq->permit = json_is_true(permit);
    if (!roof && json_array_size(items) == 0 && (!items || json_is_array(items)))
        problem(pr, "request: needs a \"roof\" or at least one entry in \"items\"");
}

/* The request as the quote echoes it: defaults filled in, names as keys. New. */
static json_t *request_json(const struct quote_request *rq)
{
    json_t *out = json_object();
    if (rq->has_roof) {
        json_t *roof = json_object();
        json_object_set_new(roof, "area_sqft", json_deep_copy(rq->area_json));
        json_object_set_new(roof, "style", json_string(rq->style->key));
        json_object_set_new(roof, "pitch_rise", json_deep_copy(rq->pitch_json));
        json_object_set_new(roof, "layers", json_integer(rq->layers));
        json_object_set_new(roof, "material", json_string(rq->material->key));
        json_object_set_new(out, "roof", roof);
    }
    json_t *items = json_array();
    for (size_t i = 0; i < rq->n_items; i++) {
        json_t *item = json_object();
        json_object_set_new(item, "id", json_string(rq->items[i].item->key));
        json_object_set_new(item, "qty", json_deep_copy(rq->items[i].qty_json));
        json_array_append_new(items, item);
    }
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "permit", json_boolean(rq->permit));
    return out;
}

/* ---- pricing -------------------------------------------------------------------------- */

struct quote_line {
    const char *id;
    char *label; /* owned */
    double qty;
    const char *unit;
    int64_t unit_price; /* PRICE_BOOK_PRICE_SCALE */
    int64_t amount;     /* cents */
};

struct priced {
    struct quote_line *lines;
    size_t n_lines;
    int64_t bundles;
    int64_t subtotal, tax, total; /* cents */
};

/* bundles = ceil(area x (1 + waste) x 3 / 100) with the 1e-9 tolerance. The
 * waste is the exact fixed-point value, so whole areas give exact products. */
static int64_t roof_bundles(const struct quote_request *rq)
{
    double x = rq->area * (double)(PRICE_BOOK_RATIO_SCALE + rq->style->waste) * 3.0 /
               (100.0 * PRICE_BOOK_RATIO_SCALE);
    double b = ceil(x - BUNDLE_TOLERANCE);
    return b < 0 ? 0 : (int64_t)b;
}

static struct quote_line *add_line(struct priced *p, const char *id, char *label, const char *unit)
{
    struct quote_line *l = &p->lines[p->n_lines++];
    *l = (struct quote_line){.id = id, .label = label, .unit = unit};
    return l;
}

static void price_roof(const struct price_book *book, const struct quote_request *rq,
                       const struct price_book_material *material, struct priced *p)
{
    int64_t b = p->bundles = roof_bundles(rq);
    double squares = fixed_value(round_div(b * 10000, 3), 10000);
    int64_t mult = rq->band->multiplier;
    struct quote_line *l = add_line(p, "roof", xstrdup(material->label), "square");
    l->qty = squares;
    l->unit_price = muldiv_round(material->per_square, mult, PRICE_BOOK_RATIO_SCALE);
    /* squares x per_square x multiplier in cents = b x P x M / (3 x 10^4 x 10^4 / 100) */
    l->amount = muldiv_round(b * material->per_square, mult,
                             3LL * PRICE_BOOK_PRICE_SCALE * PRICE_BOOK_RATIO_SCALE / 100);
    if (rq->layers == 0)
        return;
    l = add_line(p, "tearoff",
                 xasprintf("Tear-off (%d layer%s)", rq->layers, rq->layers == 1 ? "" : "s"),
                 "square");
    l->qty = squares;
    l->unit_price = rq->layers * book->tearoff_per_square;
    l->amount =
        muldiv_round(b * rq->layers, book->tearoff_per_square, 3LL * PRICE_BOOK_PRICE_SCALE / 100);
}

/* Prices rq with material (for the roof). 0, or ERR_LIMIT when the total is
 * over QUOTE_MAX_TOTAL_CENTS. p is filled either way; free with priced_free. */
static int price(const struct price_book *book, const struct quote_request *rq,
                 const struct price_book_material *material, struct priced *p)
{
    *p = (struct priced){.lines = xcalloc(rq->n_items + 3, sizeof *p->lines)};
    if (rq->has_roof)
        price_roof(book, rq, material, p);
    for (size_t i = 0; i < rq->n_items; i++) {
        const struct price_book_item *it = rq->items[i].item;
        struct quote_line *l = add_line(p, it->key, xstrdup(it->label), it->unit);
        l->qty = fixed_value(rq->items[i].qty, 10000);
        l->unit_price = it->price;
        l->amount =
            muldiv_round(rq->items[i].qty, it->price, 10000LL * PRICE_BOOK_PRICE_SCALE / 100);
    }
    if (rq->permit) {
        struct quote_line *l = add_line(p, "permit", xstrdup("Permit"), "each");
        l->qty = 1;
        l->unit_price = book->permit_fee;
        l->amount = round_div(book->permit_fee, PRICE_BOOK_PRICE_SCALE / 100);
    }
    for (size_t i = 0; i < p->n_lines; i++)
        p->subtotal += p->lines[i].amount;
    p->tax = muldiv_round(p->subtotal, book->tax_rate, PRICE_BOOK_TAX_SCALE);
    p->total = p->subtotal + p->tax;
    return p->total > QUOTE_MAX_TOTAL_CENTS ? ERR_LIMIT : 0;
}

static void priced_free(struct priced *p)
{
    for (size_t i = 0; i < p->n_lines; i++)
        free(p->lines[i].label);
    free(p->lines);
    p->lines = NULL;
    p->n_lines = 0;
}

/* The monthly payment in cents: total / months at 0 %, else the annuity
 * payment total x r / (1 - (1 + r)^-months) with r = apr / 12. */
static int64_t monthly_cents(int64_t total, const struct price_book_plan *plan)
{
    if (plan->apr == 0)
        return round_div(total, plan->months);
    double r = plan->apr / 12.0;
    return llround((double)total * r / (1.0 - pow(1.0 + r, -(double)plan->months)));
}

/* ---- the quote's JSON ----------------------------------------------------------------- */

static json_t *financing_json(const struct price_book *book, int64_t total)
{
    json_t *plans = json_array();
    for (size_t i = 0; i < book->n_plans; i++) {
        const struct price_book_plan *plan = &book->plans[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(plan->name));
        json_object_set_new(o, "apr", json_real(plan->apr));
        json_object_set_new(o, "months", json_integer(plan->months));
        json_object_set_new(o, "monthly", json_real(cents_value(monthly_cents(total, plan))));
        json_array_append_new(plans, o);
    }
    return plans;
}

json_t *quote_financing(const struct price_book *book, double amount, char **error)
{
    if (!(amount > 0) || amount * 100.0 > (double)QUOTE_MAX_TOTAL_CENTS) {
        *error = xasprintf("amount: must be more than 0 and at most %.2f (got %g)",
                           (double)QUOTE_MAX_TOTAL_CENTS / 100.0, amount);
        return NULL;
    }
    int64_t cents = llround(amount * 100.0);
    json_t *o = json_object();
    json_object_set_new(o, "currency", json_string(book->currency));
    json_object_set_new(o, "amount", json_real(cents_value(cents)));
    json_object_set_new(o, "financing", financing_json(book, cents));
    return o;
}

static json_t *lines_json(const struct priced *p)
{
    json_t *lines = json_array();
    for (size_t i = 0; i < p->n_lines; i++) {
        const struct quote_line *l = &p->lines[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(l->id));
        json_object_set_new(o, "label", json_string(l->label));
        json_object_set_new(o, "qty", json_real(l->qty));
        json_object_set_new(o, "unit", json_string(l->unit));
        json_object_set_new(o, "unit_price",
                            json_real(fixed_value(l->unit_price, PRICE_BOOK_PRICE_SCALE)));
        json_object_set_new(o, "amount", json_real(cents_value(l->amount)));
        json_array_append_new(lines, o);
    }
    return lines;
}

static void totals_json(json_t *o, const struct price_book *book, const struct priced *p)
{
    json_object_set_new(o, "subtotal", json_real(cents_value(p->subtotal)));
    json_object_set_new(o, "tax", json_real(cents_value(p->tax)));
    json_object_set_new(o, "total", json_real(cents_value(p->total)));
    json_object_set_new(o, "financing", financing_json(book, p->total));
}

/* The Good/Better/Best options: 0, or ERR_LIMIT with a problem recorded. */
static int options_json(const struct price_book *book, const struct quote_request *rq,
                        json_t *options, struct problems *pr)
{
    for (int t = PRICE_BOOK_TIER_GOOD; rq->has_roof && t < PRICE_BOOK_N_TIERS; t++) {
        const struct price_book_material *m = price_book_tier_material(book, t);
        if (!m)
            continue;
        struct priced p;
        int rc = price(book, rq, m, &p);
        if (rc == 0) {
            json_t *o = json_object();
            json_object_set_new(o, "tier", json_string(price_book_tier_name(t)));
            json_object_set_new(o, "material", json_string(m->key));
            json_object_set_new(o, "label", json_string(m->label));
            json_object_set_new(o, "selected", json_boolean(m == rq->material));
            totals_json(o, book, &p);
            json_array_append_new(options, o);
        }
        priced_free(&p);
        if (rc) {
            problem(pr, "roof: the %s option (%s) is over the largest quote of %.2f",
                    price_book_tier_name(t), m->key, cents_value(QUOTE_MAX_TOTAL_CENTS));
            return rc;
        }
    }
    return 0;
}

static json_t *build_quote(const struct price_book *book, const struct quote_request *rq,
                           struct problems *pr)
{
    struct priced p;
    json_t *quote = NULL, *options = json_array();
    if (price(book, rq, rq->material, &p)) {
        problem(pr, "request: the total is over the largest quote of %.2f",
                cents_value(QUOTE_MAX_TOTAL_CENTS));
        goto out;
    }
    if (options_json(book, rq, options, pr))
        goto out;
    quote = json_object();
    json_object_set_new(quote, "currency", json_string(book->currency));
    json_object_set_new(quote, "request", request_json(rq));
    json_object_set_new(quote, "lines", lines_json(&p));
    if (rq->has_roof) {
        json_object_set_new(quote, "squares",
                            json_real(fixed_value(round_div(p.bundles * 10000, 3), 10000)));
        json_object_set_new(quote, "bundles", json_integer(p.bundles));
        json_object_set_new(quote, "pitch_multiplier",
                            json_real(fixed_value(rq->band->multiplier, PRICE_BOOK_RATIO_SCALE)));
    }
    json_object_set_new(quote, "tax_rate",
                        json_real(fixed_value(book->tax_rate, PRICE_BOOK_TAX_SCALE)));
    totals_json(quote, book, &p);
    json_object_set(quote, "options", options);
out:
    json_decref(options);
    priced_free(&p);
    return quote;
}

int quote_compute(const struct price_book *book, const json_t *request, json_t **quote_out,
                  json_t **errors_out)
{
    struct problems pr = {.errors = json_array()};
    struct quote_request rq = {0};
    json_t *quote = NULL;
    buf_init(&pr.missing, MESSAGE_MAX / 2);
    parse_request(&pr, book, request, &rq);
    if (pr.missing.len) /* one message listing every missing field, first */
        json_array_insert_new(pr.errors, 0,
                              json_sprintf("missing required fields: %s", buf_str(&pr.missing)));
    if (json_array_size(pr.errors) == 0)
        quote = build_quote(book, &rq, &pr);
    free(rq.items);
    buf_free(&pr.missing);
    int rc = quote ? 0 : ERR_INVALID;
    if (quote_out)
        *quote_out = quote;
    else
        json_decref(quote);
    if (errors_out)
        *errors_out = quote ? NULL : pr.errors;
    if (!errors_out || quote)
        json_decref(pr.errors);
    return rc;
}
