/* Unit tests for harde/quote: the arithmetic of docs/PRICING.md to the cent
 * (the worked example, options, financing, pitch bands, layers, the bundle
 * ceiling's tolerance, half-away-from-zero rounding), every bad-request rule,
 * names by alias and label, a company book with additions, the fixtures under
 * tests/data/quotes, the text table and the CLI helper.
 *
 * Amounts are compared as whole cents: cents() turns a JSON amount back into
 * an integer and fails if it is not a whole number of cents, so no assertion
 * depends on floating-point equality. The expected figures were computed
 * independently with decimal arithmetic. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "harde/price_book.h"
#include "harde/quote.h"

#define WORKED_EXAMPLE                                                                             \
    "{\"roof\": {\"area_sqft\": 2400, \"style\": \"hip\", \"pitch_rise\": 7, \"layers\": 1, "      \
    "\"material\": \"architectural\"}, \"items\": [{\"id\": \"gutters\", \"qty\": 160}], "         \
    "\"permit\": true}"

/* ---- helpers -------------------------------------------------------------------------- */

static char *source_path(const char *rel)
{
    const char *root = getenv("HARDE_SOURCE_DIR");
    if (root)
        return xasprintf("%s/%s", root, rel);
    const char *cut = strstr(__FILE__, "tests/unit/");
    return xasprintf("%.*s%s", cut ? (int)(cut - __FILE__) : 0, __FILE__, rel);
}

/* A mkstemp template in $TMPDIR (else /tmp). New. */
static char *temp_template(void)
{
    const char *dir = getenv("TMPDIR");
    return xasprintf("%s/harde-test-XXXXXX", dir && *dir ? dir : "/tmp");
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("bad JSON in the test: %s: %s", jerr.text, text);
    return v;
}

/* The quote of request_text; fails the test on errors. New. */
static json_t *quote_ok(const struct price_book *book, const char *request_text)
{
    json_t *request = parse(request_text), *quote = NULL, *errors = NULL;
    int rc = quote_compute(book, request, &quote, &errors);
    if (rc != 0) {
        char *e = json_dumps(errors, 0);
        fail_msg("quote failed: %s\n  request %s", e, request_text);
    }
    assert_null(errors);
    json_decref(request);
    return quote;
}

/* The errors of request_text as one "; "-joined string; fails the test when it
 * prices. New. */
static char *quote_errors(const struct price_book *book, const char *request_text)
{
    json_t *request = parse(request_text), *quote = NULL, *errors = NULL;
    int rc = quote_compute(book, request, &quote, &errors);
    if (rc == 0)
        fail_msg("request was priced: %s", request_text);
    assert_int_equal(rc, ERR_INVALID);
    assert_null(quote);
    assert_true(json_array_size(errors) > 0);
    char *joined = xstrdup("");
    for (size_t i = 0; i < json_array_size(errors); i++) {
        char *next = xasprintf("%s%s%s", joined, i ? "; " : "",
                               json_string_value(json_array_get(errors, i)));
        free(joined);
        joined = next;
    }
    json_decref(errors);
    json_decref(request);
    return joined;
}

/* A JSON amount as whole cents; fails unless it is a number of whole cents. */
static int64_t cents(const json_t *v)
{
    assert_true(json_is_number(v));
    double x = json_number_value(v) * 100.0;
    int64_t c = llround(x);
    assert_true(fabs(x - (double)c) < 1e-6);
    return c;
}

static int64_t cents_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        fail_msg("no \"%s\"", key);
    return cents(v);
}

/* The line with that id, or NULL. Borrowed. */
static const json_t *line_of(const json_t *quote, const char *id)
{
    size_t i;
    const json_t *line;
    json_array_foreach(json_object_get(quote, "lines"), i, line)
    {
        if (strcmp(json_string_value(json_object_get(line, "id")), id) == 0)
            return line;
    }
    return NULL;
}

static int64_t line_cents(const json_t *quote, const char *id)
{
    const json_t *line = line_of(quote, id);
    if (!line)
        fail_msg("no line \"%s\"", id);
    return cents_at(line, "amount");
}

static int64_t monthly_cents(const json_t *owner, size_t plan)
{
    return cents_at(json_array_get(json_object_get(owner, "financing"), plan), "monthly");
}

/* The sample book with some top-level values replaced (JSON texts; NULL keeps
 * the sample's). New. */
static struct price_book *book_with(const char *items, const char *tax_rate, const char *financing)
{
    json_t *root = parse(price_book_default_json());
    if (items)
        json_object_set_new(root, "items", parse(items));
    if (tax_rate)
        json_object_set_new(root, "tax_rate", parse(tax_rate));
    if (financing)
        json_object_set_new(root, "financing", parse(financing));
    char err[256];
    struct price_book *book = price_book_from_json(root, err, sizeof err);
    if (!book)
        fail_msg("test book rejected: %s", err);
    json_decref(root);
    return book;
}

static int setup_book(void **state)
{
    *state = price_book_load_default();
    return 0;
}

static int teardown_book(void **state)
{
    price_book_free(*state);
    return 0;
}

/* ---- the worked example --------------------------------------------------------------- */

static void worked_example_to_the_cent(void **state)
{
    json_t *q = quote_ok(*state, WORKED_EXAMPLE);
    assert_string_equal(json_string_value(json_object_get(q, "currency")), "USD");
    assert_int_equal(json_integer_value(json_object_get(q, "bundles")), 83);
    assert_true(json_real_value(json_object_get(q, "squares")) == 27.6667);
    assert_int_equal(json_array_size(json_object_get(q, "lines")), 4);
    assert_int_equal(line_cents(q, "roof"), 1749917);
    assert_int_equal(line_cents(q, "tearoff"), 207500);
    assert_int_equal(line_cents(q, "gutters"), 200000);
    assert_int_equal(line_cents(q, "permit"), 35000);
    assert_int_equal(cents_at(q, "subtotal"), 2192417);
    assert_int_equal(cents_at(q, "tax"), 158950);
    assert_int_equal(cents_at(q, "total"), 2351367);

    const json_t *roof = line_of(q, "roof");
    assert_string_equal(json_string_value(json_object_get(roof, "label")),
                        "Architectural Shingles");
    assert_string_equal(json_string_value(json_object_get(roof, "unit")), "square");
    assert_true(json_real_value(json_object_get(roof, "qty")) == 27.6667);
    assert_int_equal(cents_at(roof, "unit_price"), 63250); /* 550 x 1.15 */
    const json_t *gutters = line_of(q, "gutters");
    assert_string_equal(json_string_value(json_object_get(gutters, "unit")), "linear_ft");
    assert_int_equal(cents_at(gutters, "unit_price"), 1250);
    assert_true(json_real_value(json_object_get(q, "pitch_multiplier")) == 1.15);

    /* The lines are in order and add up to the subtotal. */
    static const char *const ids[] = {"roof", "tearoff", "gutters", "permit"};
    int64_t sum = 0;
    for (size_t i = 0; i < 4; i++) {
        const json_t *line = json_array_get(json_object_get(q, "lines"), i);
        assert_string_equal(json_string_value(json_object_get(line, "id")), ids[i]);
        sum += cents_at(line, "amount");
    }
    assert_int_equal(sum, cents_at(q, "subtotal"));

    /* Dumped with the house flags, money prints with its cents and no noise. */
    char *text = json_dumps(q, QUOTE_JSON_FLAGS);
    assert_non_null(strstr(text, "\"subtotal\": 21924.17"));
    assert_non_null(strstr(text, "\"total\": 23513.67"));
    assert_non_null(strstr(text, "\"squares\": 27.6667"));
    free(text);
    json_decref(q);
}

static void request_is_echoed_normalised(void **state)
{
    json_t *q = quote_ok(*state, "{\"roof\": {\"area_sqft\": 1500.5, \"pitch_rise\": 4, "
                                 "\"material\": \"Three Tab\", \"style\": null}, "
                                 "\"items\": [{\"id\": \"Seamless Aluminum Gutters\", "
                                 "\"qty\": 80}]}");
    json_t *expected = parse("{\"roof\": {\"area_sqft\": 1500.5, \"style\": \"gable\", "
                             "\"pitch_rise\": 4, \"layers\": 1, \"material\": \"3-tab\"}, "
                             "\"items\": [{\"id\": \"gutters\", \"qty\": 80}], \"permit\": true}");
    assert_true(json_equal(json_object_get(q, "request"), expected));
    json_decref(expected);
    json_decref(q);
}

/* ---- options and financing ------------------------------------------------------------ */

static void options_price_each_tier(void **state)
{
    json_t *q = quote_ok(*state, WORKED_EXAMPLE);
    const json_t *options = json_object_get(q, "options");
    assert_int_equal(json_array_size(options), 3);
    static const struct {
        const char *tier, *material, *label;
        bool selected;
        int64_t subtotal, tax, total, monthly0, monthly1;
    } want[] = {
        {"good", "3-tab", "3-Tab Asphalt Shingles", false, 1874250, 135883, 2010133, 167511, 24378},
        {"better", "architectural", "Architectural Shingles", true, 2192417, 158950, 2351367,
         195947, 28516},
        {"best", "designer", "Designer Shingles", false, 2828750, 205084, 3033834, 252820, 36793},
    };
    for (size_t i = 0; i < 3; i++) {
        const json_t *o = json_array_get(options, i);
        assert_string_equal(json_string_value(json_object_get(o, "tier")), want[i].tier);
        assert_string_equal(json_string_value(json_object_get(o, "material")), want[i].material);
        assert_string_equal(json_string_value(json_object_get(o, "label")), want[i].label);
        assert_int_equal(json_is_true(json_object_get(o, "selected")), want[i].selected);
        assert_int_equal(cents_at(o, "subtotal"), want[i].subtotal);
        assert_int_equal(cents_at(o, "tax"), want[i].tax);
        assert_int_equal(cents_at(o, "total"), want[i].total);
        assert_int_equal(monthly_cents(o, 0), want[i].monthly0);
        assert_int_equal(monthly_cents(o, 1), want[i].monthly1);
    }
    json_decref(q);
}

static void options_only_for_tiers_the_book_defines(void **state)
{
    json_t *root = parse(price_book_default_json());
    json_t *materials = json_object_get(json_object_get(root, "roofing"), "materials");
    json_object_del(json_object_get(materials, "designer"), "tier");
    char err[256];
    struct price_book *book = price_book_from_json(root, err, sizeof err);
    assert_non_null(book);
    json_t *q = quote_ok(book, WORKED_EXAMPLE);
    const json_t *options = json_object_get(q, "options");
    assert_int_equal(json_array_size(options), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(options, 1), "tier")),
                        "better");
    json_decref(q);
    /* No roof: no options at all, no squares. */
    q = quote_ok(book, "{\"items\": [{\"id\": \"window\", \"qty\": 2}]}");
    assert_int_equal(json_array_size(json_object_get(q, "options")), 0);
    assert_null(json_object_get(q, "squares"));
    assert_null(json_object_get(q, "bundles"));
    json_decref(q);
    price_book_free(book);
    json_decref(root);
}

static void financing_to_the_cent(void **state)
{
    json_t *q = quote_ok(*state, WORKED_EXAMPLE);
    const json_t *plans = json_object_get(q, "financing");
    assert_int_equal(json_array_size(plans), 2);
    const json_t *p0 = json_array_get(plans, 0), *p1 = json_array_get(plans, 1);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "12 months same as cash");
    assert_int_equal(json_integer_value(json_object_get(p0, "months")), 12);
    assert_true(json_real_value(json_object_get(p1, "apr")) == 0.0799);
    assert_int_equal(json_integer_value(json_object_get(p1, "months")), 120);
    assert_int_equal(monthly_cents(q, 0), 195947); /* 23,513.67 / 12 = 1,959.4725 */
    assert_int_equal(monthly_cents(q, 1), 28516);  /* the annuity formula at 7.99 %/12 */
    json_decref(q);

    /* 0 %: 1.50 / 12 = 0.125 rounds away from zero; one month is the total; a
     * 5.99 % plan over 60 months on 1.50 is 0.02899... -> 0.03. */
    struct price_book *book =
        book_with("{\"pin\": {\"label\": \"Pin\", \"unit\": \"each\", \"price\": 1.50}}", "0",
                  "[{\"name\": \"a\", \"apr\": 0, \"months\": 12},"
                  " {\"name\": \"b\", \"apr\": 0, \"months\": 1},"
                  " {\"name\": \"c\", \"apr\": 0.0599, \"months\": 60}]");
    q = quote_ok(book, "{\"items\": [{\"id\": \"pin\", \"qty\": 1}], \"permit\": false}");
    assert_int_equal(cents_at(q, "total"), 150);
    assert_int_equal(monthly_cents(q, 0), 13);
    assert_int_equal(monthly_cents(q, 1), 150);
    assert_int_equal(monthly_cents(q, 2), 3);
    json_decref(q);
    q = quote_ok(book, "{\"items\": [{\"id\": \"pin\", \"qty\": 15677.12}], \"permit\": false}");
    assert_int_equal(cents_at(q, "total"), 2351568); /* 23,515.68 */
    assert_int_equal(monthly_cents(q, 2), 45451);    /* 454.5146... at 5.99 % over 60 months */
    json_decref(q);
    price_book_free(book);
}

/* ---- bad requests --------------------------------------------------------------------- */

static void every_bad_request_rule(void **state)
{
    static const struct {
        const char *request, *errors;
    } cases[] = {
        {"[]", "request: expected an object with \"roof\" and/or \"items\", got an array"},
        {"{}", "request: needs a \"roof\" or at least one entry in \"items\""},
        {"{\"roof\": null, \"items\": null}",
         "request: needs a \"roof\" or at least one entry in \"items\""},
        {"{\"items\": [], \"permit\": true}",
         "request: needs a \"roof\" or at least one entry in \"items\""},
        {"{\"roof\": {}}", "missing required fields: roof.area_sqft, roof.pitch_rise, "
                           "roof.material"},
        {"{\"roof\": {\"area_sqft\": null, \"pitch_rise\": 4, \"material\": \"arch\"}, "
         "\"items\": [{\"id\": \"gutters\"}, {\"qty\": 1}]}",
         "missing required fields: roof.area_sqft, items[0].qty, items[1].id"},
        {"{\"roof\": {\"area_sqft\": 0, \"pitch_rise\": 4, \"material\": \"arch\"}}",
         "roof.area_sqft: must be more than 0 and at most 100000 sq ft (got 0)"},
        {"{\"roof\": {\"area_sqft\": -1, \"pitch_rise\": 4, \"material\": \"arch\"}}",
         "roof.area_sqft: must be more than 0 and at most 100000 sq ft (got -1)"},
        {"{\"roof\": {\"area_sqft\": 100000.5, \"pitch_rise\": 4, \"material\": \"arch\"}}",
         "roof.area_sqft: must be more than 0 and at most 100000 sq ft (got 100000.5)"},
        {"{\"roof\": {\"area_sqft\": \"2400\", \"pitch_rise\": 4, \"material\": \"arch\"}}",
         "roof.area_sqft: expected a number, got a string"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": -0.5, \"material\": \"arch\"}}",
         "roof.pitch_rise: must be at least 0 and at most 24 (got -0.5)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 24.01, \"material\": \"arch\"}}",
         "roof.pitch_rise: must be at least 0 and at most 24 (got 24.01)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"layers\": 4, "
         "\"material\": \"arch\"}}",
         "roof.layers: must be a whole number from 0 to 3 (got 4)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"layers\": -1, "
         "\"material\": \"arch\"}}",
         "roof.layers: must be a whole number from 0 to 3 (got -1)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"layers\": 1.5, "
         "\"material\": \"arch\"}}",
         "roof.layers: must be a whole number from 0 to 3 (got 1.5)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"layers\": \"1\", "
         "\"material\": \"arch\"}}",
         "roof.layers: must be a whole number from 0 to 3 (got a string)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"material\": \"slate\"}}",
         "roof.material: unknown material \"slate\"; choose one of 3-tab, architectural, "
         "designer, metal"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"material\": 7}}",
         "roof.material: expected a string, got a number"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"style\": \"flat\", "
         "\"material\": \"arch\"}}",
         "roof.style: unknown style \"flat\"; choose one of gable, hip, complex"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"style\": 1, "
         "\"material\": \"arch\"}}",
         "roof.style: expected a string, one of gable, hip, complex"},
        {"{\"items\": [{\"id\": \"deck\", \"qty\": 1}]}",
         "items[0].id: unknown item \"deck\"; choose one of gutters, skylight, siding, window"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 0}]}",
         "items[0].qty: must be more than 0 and at most 100000 (got 0)"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": -3}]}",
         "items[0].qty: must be more than 0 and at most 100000 (got -3)"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 100001}]}",
         "items[0].qty: must be more than 0 and at most 100000 (got 100001)"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 1.23456}]}",
         "items[0].qty: at most 4 decimal places (got 1.23456)"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 1, \"price\": 0}]}",
         "items[0].price: unknown field (expected id, qty)"},
        {"{\"items\": [\"gutters\"]}",
         "items[0]: expected an object {\"id\", \"qty\"}, got a string"},
        {"{\"items\": {\"id\": \"gutters\"}}",
         "items: expected an array of {\"id\", \"qty\"} objects, got an object"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 1}], \"permit\": \"yes\"}",
         "permit: expected true or false, got a string"},
        {"{\"items\": [{\"id\": \"gutters\", \"qty\": 1}], \"discount\": 10}",
         "discount: unknown field (expected roof, items, permit)"},
        {"{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"material\": \"arch\", "
         "\"colour\": \"red\"}}",
         "roof.colour: unknown field (expected area_sqft, style, pitch_rise, layers, material)"},
        {"{\"roof\": \"big\"}", "roof: expected an object, got a string"},
        /* Several problems at once, missing fields first. */
        {"{\"roof\": {\"area_sqft\": 0, \"style\": \"flat\"}, \"items\": [{\"id\": \"deck\"}]}",
         "missing required fields: roof.pitch_rise, roof.material, items[0].qty; "
         "roof.area_sqft: must be more than 0 and at most 100000 sq ft (got 0); "
         "roof.style: unknown style \"flat\"; choose one of gable, hip, complex; "
         "items[0].id: unknown item \"deck\"; choose one of gutters, skylight, siding, window"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = quote_errors(*state, cases[i].request);
        if (strcmp(got, cases[i].errors) != 0)
            fail_msg("case %zu: %s\n  got      %s\n  expected %s", i, cases[i].request, got,
                     cases[i].errors);
        free(got);
    }
}

static void caller_strings_are_quoted_safely(void **state)
{
    /* A long name is cut on a character boundary; control characters are replaced. */
    char request[400], name[200] = "";
    for (int i = 0; i < 45; i++)
        strcat(name, "\xc3\xa9"); /* é: 90 bytes */
    snprintf(request, sizeof request,
             "{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 4, \"material\": \"%s\\n\"}}", name);
    char *got = quote_errors(*state, request);
    char *expected = xasprintf("roof.material: unknown material \"%.80s...\"; choose one of "
                               "3-tab, architectural, designer, metal",
                               name);
    assert_string_equal(got, expected);
    free(got);
    free(expected);
    got = quote_errors(*state, "{\"items\": [{\"id\": \"a\\tb\", \"qty\": 1}]}");
    assert_non_null(strstr(got, "unknown item \"a?b\""));
    free(got);
}

/* A request of n items of 100,000 windows. New. */
static char *many_windows(int n)
{
    char *request = xstrdup("{\"items\": [");
    for (int i = 0; i < n; i++) {
        char *next = xasprintf("%s%s{\"id\": \"window\", \"qty\": 100000}", request, i ? "," : "");
        free(request);
        request = next;
    }
    char *full = xasprintf("%s]}", request);
    free(request);
    return full;
}

static void limits_and_no_partial_quote(void **state)
{
    char *request = many_windows(QUOTE_MAX_ITEMS + 1);
    char *got = quote_errors(*state, request);
    assert_string_equal(got, "items: more than 100 items");
    free(got);
    free(request);
    /* 100 items of 100,000 windows: over the largest quote, and no quote at all. */
    request = many_windows(QUOTE_MAX_ITEMS);
    got = quote_errors(*state, request);
    assert_string_equal(got, "request: the total is over the largest quote of 1000000000.00");
    free(got);
    free(request);

    /* Either out pointer may be NULL. */
    json_t *req = parse("{}"), *quote = (json_t *)1, *errors = (json_t *)1;
    assert_int_equal(quote_compute(*state, req, NULL, NULL), ERR_INVALID);
    assert_int_equal(quote_compute(*state, req, &quote, NULL), ERR_INVALID);
    assert_null(quote);
    json_decref(req);
    req = parse(WORKED_EXAMPLE);
    assert_int_equal(quote_compute(*state, req, NULL, &errors), 0);
    assert_null(errors);
    json_decref(req);
}

/* ---- names, pitch, layers, ceiling, rounding ------------------------------------------ */

static void materials_by_alias_and_label(void **state)
{
    static const char *const names[] = {
        "3-tab", "3 tab",     "3-TAB",         "Three Tab",
        "3tab",  "three-tab", "Builder Grade", "3-Tab Asphalt Shingles"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *request = xasprintf("{\"roof\": {\"area_sqft\": 2400, \"style\": \"HIP\", "
                                  "\"pitch_rise\": 7, \"material\": \"%s\"}, \"permit\": false}",
                                  names[i]);
        json_t *q = quote_ok(*state, request);
        assert_string_equal(
            json_string_value(json_object_get(
                json_object_get(json_object_get(q, "request"), "roof"), "material")),
            "3-tab");
        assert_int_equal(line_cents(q, "roof"), 1431750); /* 83 x 450 x 1.15 / 3 */
        json_decref(q);
        free(request);
    }
}

static void pitch_band_boundaries(void **state)
{
    /* 2400 sq ft gable = 80 bundles (79.2 rounded up); architectural 550. */
    static const struct {
        const char *pitch;
        double multiplier;
        int64_t roof;
    } cases[] = {
        {"0", 1.00, 1466667}, {"6", 1.00, 1466667},   {"6.5", 1.15, 1686667},
        {"9", 1.15, 1686667}, {"9.5", 1.30, 1906667}, {"24", 1.30, 1906667},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *request = xasprintf("{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": %s, "
                                  "\"material\": \"architectural\"}}",
                                  cases[i].pitch);
        json_t *q = quote_ok(*state, request);
        assert_int_equal(json_integer_value(json_object_get(q, "bundles")), 80);
        assert_true(json_real_value(json_object_get(q, "pitch_multiplier")) == cases[i].multiplier);
        assert_int_equal(line_cents(q, "roof"), cases[i].roof);
        json_decref(q);
        free(request);
    }
}

static void pitch_steeper_than_the_book(void **state)
{
    /* A company that prices pitches up to 12 only refuses steeper roofs by name. */
    json_t *root = parse(price_book_default_json());
    json_object_set_new(json_object_get(root, "roofing"), "pitch",
                        parse("[{\"up_to_rise\": 12, \"multiplier\": 1.1}]"));
    char err[256];
    struct price_book *book = price_book_from_json(root, err, sizeof err);
    assert_non_null(book);
    json_t *q = quote_ok(book, "{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 12, "
                               "\"material\": \"arch\"}}");
    assert_true(json_real_value(json_object_get(q, "pitch_multiplier")) == 1.1);
    json_decref(q);
    char *got = quote_errors(book, "{\"roof\": {\"area_sqft\": 2400, \"pitch_rise\": 14, "
                                   "\"material\": \"arch\"}}");
    assert_string_equal(got, "roof.pitch_rise: must be at most 12 for this price book (got 14)");
    free(got);
    price_book_free(book);
    json_decref(root);
}

static void tear_off_layers(void **state)
{
    /* 83 bundles: tear-off is 83 x layers x 75 / 3. */
    static const int64_t want[] = {0, 207500, 415000, 622500};
    for (int layers = 0; layers <= 3; layers++) {
        char *request = xasprintf("{\"roof\": {\"area_sqft\": 2400, \"style\": \"hip\", "
                                  "\"pitch_rise\": 7, \"layers\": %d, \"material\": \"arch\"}}",
                                  layers);
        json_t *q = quote_ok(*state, request);
        const json_t *line = line_of(q, "tearoff");
        if (layers == 0) {
            assert_null(line);
            assert_int_equal(json_array_size(json_object_get(q, "lines")), 2); /* roof, permit */
            assert_int_equal(cents_at(q, "subtotal"), 1749917 + 35000);
        } else {
            assert_non_null(line);
            assert_int_equal(cents_at(line, "amount"), want[layers]);
            assert_int_equal(cents_at(line, "unit_price"), 7500 * layers);
        }
        json_decref(q);
        free(request);
    }
    /* Layers default to 1 and the permit line to present. */
    json_t *q = quote_ok(*state, "{\"roof\": {\"area_sqft\": 2400, \"style\": \"hip\", "
                                 "\"pitch_rise\": 7, \"material\": \"arch\"}}");
    assert_int_equal(line_cents(q, "tearoff"), 207500);
    assert_int_equal(line_cents(q, "permit"), 35000);
    json_decref(q);
}

static void bundle_ceiling_tolerance(void **state)
{
    /* area x 1.1 x 3 / 100 is a whole number here, but naive doubles land just
     * above it (3000 -> 99.00000000000001) and would add a bundle. */
    static const struct {
        const char *area, *style;
        int64_t bundles;
    } cases[] = {
        {"1000", "gable", 33},
        {"3000", "gable", 99},
        {"7000", "gable", 231},
        {"100000", "gable", 3300},
        {"2000", "hip", 69},
        {"3000", "hip", 104},
        {"250", "complex", 9},
        {"1000.01", "gable", 34},
        {"2400", "hip", 83},
        {"0.5", "gable", 1},
        /* The 1e-9 tolerance itself: 33.00000000099 is 33, 33.0000000033 is 34. */
        {"1000.00000003", "gable", 33},
        {"1000.0000001", "gable", 34},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *request = xasprintf("{\"roof\": {\"area_sqft\": %s, \"style\": \"%s\", "
                                  "\"pitch_rise\": 4, \"material\": \"arch\"}}",
                                  cases[i].area, cases[i].style);
        json_t *q = quote_ok(*state, request);
        if (json_integer_value(json_object_get(q, "bundles")) != cases[i].bundles)
            fail_msg("area %s %s: %lld bundles, expected %lld", cases[i].area, cases[i].style,
                     (long long)json_integer_value(json_object_get(q, "bundles")),
                     (long long)cases[i].bundles);
        json_decref(q);
        free(request);
    }
    json_t *q = quote_ok(*state, "{\"roof\": {\"area_sqft\": 3000, \"pitch_rise\": 4, "
                                 "\"material\": \"arch\", \"layers\": 0}, \"permit\": false}");
    assert_true(json_real_value(json_object_get(q, "squares")) == 33.0);
    assert_int_equal(line_cents(q, "roof"), 1815000); /* 33 squares x 550 */
    json_decref(q);
}

static void rounding_half_away_from_zero(void **state)
{
    /* Tax: 58.00 x 0.0725 = 4.205 exactly in decimal (4.20499... in binary). */
    struct price_book *book =
        book_with("{\"thing\": {\"label\": \"Thing\", \"unit\": \"each\", \"price\": 58},"
                  " \"clip\": {\"label\": \"Clip\", \"unit\": \"each\", \"price\": 0.125},"
                  " \"gutters\": {\"label\": \"Gutters\", \"unit\": \"linear_ft\","
                  " \"price\": 12.50}}",
                  NULL, NULL);
    json_t *q = quote_ok(book, "{\"items\": [{\"id\": \"thing\", \"qty\": 1}], \"permit\": false}");
    assert_int_equal(cents_at(q, "tax"), 421);
    assert_int_equal(cents_at(q, "total"), 6221);
    json_decref(q);
    /* Lines: 0.125 -> 0.13, 3 x 0.125 = 0.375 -> 0.38, 120.25 x 12.50 = 1503.125 -> 1503.13;
     * tax on 1503.64 is 109.0139 -> 109.01 (rounded once, on the subtotal). */
    q = quote_ok(book, "{\"items\": [{\"id\": \"clip\", \"qty\": 1}, {\"id\": \"clip\", "
                       "\"qty\": 3}, {\"id\": \"gutters\", \"qty\": 120.25}], \"permit\": false}");
    const json_t *lines = json_object_get(q, "lines");
    assert_int_equal(cents_at(json_array_get(lines, 0), "amount"), 13);
    assert_int_equal(cents_at(json_array_get(lines, 1), "amount"), 38);
    assert_int_equal(cents_at(json_array_get(lines, 2), "amount"), 150313);
    assert_int_equal(cents_at(q, "subtotal"), 150364);
    assert_int_equal(cents_at(q, "tax"), 10901);
    json_decref(q);
    price_book_free(book);
}

static void company_book_with_additions(void **state)
{
    char *path = source_path("tests/data/quotes/company_additions.book.json");
    char err[256];
    struct price_book *book = price_book_load_file(path, err, sizeof err);
    if (!book)
        fail_msg("%s", err);
    json_t *q = quote_ok(book, "{\"roof\": {\"area_sqft\": 1850.5, \"style\": \"mansard\", "
                               "\"pitch_rise\": 10.5, \"layers\": 2, \"material\": \"cedar\"}, "
                               "\"items\": [{\"id\": \"ice_shield\", \"qty\": 3}], "
                               "\"permit\": false}");
    assert_int_equal(json_integer_value(json_object_get(q, "bundles")), 70);
    assert_true(json_real_value(json_object_get(q, "pitch_multiplier")) == 1.2225);
    assert_int_equal(line_cents(q, "roof"), 2640131); /* 70 x 925.55 x 1.2225 / 3 */
    assert_int_equal(line_cents(q, "tearoff"), 350000);
    assert_int_equal(line_cents(q, "ice_shield"), 26999); /* 269.985 */
    assert_int_equal(json_array_size(json_object_get(q, "financing")), 3);
    assert_int_equal(json_array_size(json_object_get(q, "options")), 3);
    json_decref(q);
    price_book_free(book);
    free(path);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static void fixtures_match(void **state)
{
    static const char *const cases[] = {
        "worked_example", "company_additions", "steep_metal_no_tearoff", "items_only",
        "tax_half_cent",  "bad_request",       "missing_fields"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *base = source_path("tests/data/quotes/");
        char *req_path = xasprintf("%s%s.request.json", base, cases[i]);
        char *book_path = xasprintf("%s%s.book.json", base, cases[i]);
        char *quote_path = xasprintf("%s%s.expected.json", base, cases[i]);
        char *errors_path = xasprintf("%s%s.errors.json", base, cases[i]);
        char err[256];
        struct price_book *book = access(book_path, R_OK) == 0
                                      ? price_book_load_file(book_path, err, sizeof err)
                                      : price_book_load_default();
        assert_non_null(book);
        json_t *request = json_load_file(req_path, 0, NULL);
        if (!request)
            fail_msg("cannot read %s", req_path);
        json_t *quote = NULL, *errors = NULL;
        int rc = quote_compute(book, request, &quote, &errors);
        bool want_quote = access(quote_path, R_OK) == 0;
        json_t *expected = json_load_file(want_quote ? quote_path : errors_path, 0, NULL);
        assert_non_null(expected);
        json_t *got = want_quote ? quote : errors;
        if (!got || !json_equal(got, expected)) {
            char *text = got ? json_dumps(got, JSON_INDENT(2) | QUOTE_JSON_FLAGS) : NULL;
            fail_msg("fixture %s (rc %d) differs; got:\n%s", cases[i], rc, text ? text : "none");
        }
        assert_int_equal(rc, want_quote ? 0 : ERR_INVALID);
        json_decref(expected);
        json_decref(quote);
        json_decref(errors);
        json_decref(request);
        price_book_free(book);
        free(base);
        free(req_path);
        free(book_path);
        free(quote_path);
        free(errors_path);
    }
}

/* ---- text and CLI --------------------------------------------------------------------- */

static void text_table(void **state)
{
    json_t *q = quote_ok(*state, WORKED_EXAMPLE);
    char *text = quote_format_text(q);
    static const char *const wanted[] = {
        "Quote (USD)\n",
        "  Architectural Shingles             27.6667  square           632.50      17,499.17\n",
        "  Tear-off (1 layer)                 27.6667  square            75.00       2,075.00\n",
        "  Seamless Aluminum Gutters              160  linear_ft         12.50       2,000.00\n",
        "Subtotal      21,924.17\n",
        "Tax (7.25%)       1,589.50\n",
        "Total      23,513.67\n",
        "83 bundles = 27.6667 squares, pitch multiplier 1.15\n",
        "  12 months same as cash          1,959.47/mo x 12 (0% APR)\n",
        "  10-year low payment             285.16/mo x 120 (7.99% APR)\n",
        "  Good     3-Tab Asphalt Shingles              20,101.33   1,675.11/mo x 12, "
        "243.78/mo x 120\n",
        "  Better * Architectural Shingles              23,513.67",
        "  Best     Designer Shingles                   30,338.34   2,528.20/mo x 12, "
        "367.93/mo x 120\n",
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (!strstr(text, wanted[i]))
            fail_msg("missing %s in:\n%s", wanted[i], text);
    free(text);
    json_decref(q);
    /* Anything at all renders without crashing. */
    json_t *empty = json_object();
    text = quote_format_text(empty);
    assert_non_null(strstr(text, "Total"));
    free(text);
    json_decref(empty);
}

/* Writes text to a new temporary file opened for reading (rewound). */
static FILE *file_with(const char *text)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs(text, f);
    rewind(f);
    return f;
}

/* The whole content of f (rewound first). New. */
static char *contents(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = xcalloc((size_t)n + 1, 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void cli_exit_codes_and_output(void **state)
{
    char *book = source_path("data/price_book.json");
    FILE *in = file_with(WORKED_EXAMPLE), *out = tmpfile(), *err = tmpfile();
    assert_int_equal(quote_cli_run(book, "-", 0, in, out, err), 0);
    char *o = contents(out), *e = contents(err);
    assert_string_equal(e, "");
    assert_non_null(strstr(o, "\n  \"currency\": \"USD\",\n"));
    assert_non_null(strstr(o, "\n  \"total\": 23513.67,\n"));
    json_t *parsed = parse(o);
    json_t *direct = quote_ok(*state, WORKED_EXAMPLE);
    assert_true(json_equal(parsed, direct));
    json_decref(parsed);
    json_decref(direct);
    free(o);
    free(e);
    fclose(in);
    fclose(out);
    fclose(err);

    /* Text, from a file, with the built-in book. */
    char *path = temp_template();
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, WORKED_EXAMPLE, strlen(WORKED_EXAMPLE)),
                     (ssize_t)strlen(WORKED_EXAMPLE));
    close(fd);
    out = tmpfile();
    err = tmpfile();
    assert_int_equal(quote_cli_run(NULL, path, QUOTE_CLI_TEXT, stdin, out, err), 0);
    o = contents(out);
    assert_non_null(strstr(o, "Total      23,513.67\n"));
    free(o);
    fclose(out);
    fclose(err);
    unlink(path);
    free(path);

    /* A bad request: exit 2, one problem a line. */
    in = file_with("{\"roof\": {\"area_sqft\": 0, \"pitch_rise\": 4, \"material\": \"slate\"}}");
    out = tmpfile();
    err = tmpfile();
    assert_int_equal(quote_cli_run(book, NULL, 0, in, out, err), 2);
    o = contents(out);
    e = contents(err);
    assert_string_equal(o, "");
    assert_string_equal(e, "harde quote: roof.area_sqft: must be more than 0 and at most 100000 "
                           "sq ft (got 0)\n"
                           "harde quote: roof.material: unknown material \"slate\"; choose one "
                           "of 3-tab, architectural, designer, metal\n");
    free(o);
    free(e);
    fclose(in);
    fclose(out);
    fclose(err);
    free(book);
}

static void cli_bad_inputs(void **state)
{
    char *book = source_path("data/price_book.json");
    struct {
        const char *book_path, *request_path, *input;
        int code;
        const char *err;
    } cases[] = {
        {"/nonexistent/book.json", "-", WORKED_EXAMPLE, 1,
         "harde quote: /nonexistent/book.json: No such file or directory\n"},
        {book, "/nonexistent/request.json", "", 2,
         "harde quote: /nonexistent/request.json: No such file or directory\n"},
        {book, "-", "{\"roof\": ", 2, "harde quote: standard input: line 1, column 9: "},
        {book, "-", "", 2, "harde quote: standard input: line 1, column 0: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *in = file_with(cases[i].input), *out = tmpfile(), *err = tmpfile();
        int code = quote_cli_run(cases[i].book_path, cases[i].request_path, 0, in, out, err);
        char *e = contents(err);
        if (code != cases[i].code || strncmp(e, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu: exit %d, stderr %s", i, code, e);
        free(e);
        fclose(in);
        fclose(out);
        fclose(err);
    }

    /* An invalid book: exit 1 with the book's error. */
    char *path = temp_template();
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    json_t *bad = parse(price_book_default_json());
    json_object_set_new(bad, "tax_rate", json_integer(2));
    assert_int_equal(json_dump_file(bad, path, 0), 0);
    json_decref(bad);
    FILE *in = file_with(WORKED_EXAMPLE), *out = tmpfile(), *err = tmpfile();
    assert_int_equal(quote_cli_run(path, "-", 0, in, out, err), 1);
    char *e = contents(err), *want = xasprintf("harde quote: %s: tax_rate: 2 is out of range "
                                               "(expected 0 to 1)\n",
                                               path);
    assert_string_equal(e, want);
    free(e);
    free(want);
    fclose(in);
    fclose(out);
    fclose(err);
    unlink(path);
    free(path);

    /* A request over QUOTE_MAX_REQUEST bytes is refused, not read forever. */
    in = tmpfile();
    fputs("{\"items\": [{\"id\": \"gutters\", \"qty\": 1}]}", in);
    for (int i = 0; i < QUOTE_MAX_REQUEST; i++)
        fputc(' ', in);
    rewind(in);
    out = tmpfile();
    err = tmpfile();
    assert_int_equal(quote_cli_run(book, "-", 0, in, out, err), 2);
    e = contents(err);
    assert_string_equal(e, "harde quote: standard input: the request is larger than 1048576 "
                           "bytes\n");
    free(e);
    fclose(in);
    fclose(out);
    fclose(err);
    free(book);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worked_example_to_the_cent),
        cmocka_unit_test(request_is_echoed_normalised),
        cmocka_unit_test(options_price_each_tier),
        cmocka_unit_test(options_only_for_tiers_the_book_defines),
        cmocka_unit_test(financing_to_the_cent),
        cmocka_unit_test(every_bad_request_rule),
        cmocka_unit_test(caller_strings_are_quoted_safely),
        cmocka_unit_test(limits_and_no_partial_quote),
        cmocka_unit_test(materials_by_alias_and_label),
        cmocka_unit_test(pitch_band_boundaries),
        cmocka_unit_test(pitch_steeper_than_the_book),
        cmocka_unit_test(tear_off_layers),
        cmocka_unit_test(bundle_ceiling_tolerance),
        cmocka_unit_test(rounding_half_away_from_zero),
        cmocka_unit_test(company_book_with_additions),
        cmocka_unit_test(fixtures_match),
        cmocka_unit_test(text_table),
        cmocka_unit_test(cli_exit_codes_and_output),
        cmocka_unit_test(cli_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup_book, teardown_book);
}
