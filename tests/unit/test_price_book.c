/* Unit tests for harde/price_book: the sample book (built in and shipped as
 * data/price_book.json), fixed-point conversion, name lookup by key, label and
 * alias, pitch band boundaries, and one test per validation error: each bad
 * book is the sample with one value changed, and the message must name the
 * path and the problem. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "harde/price_book.h"

/* A path under the source tree: $HARDE_SOURCE_DIR, else where this file was
 * compiled from (the build runs from the repository root). New. */
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

static void default_book_matches_data_file(void **state)
{
    char *path = source_path("data/price_book.json");
    json_error_t jerr;
    json_t *shipped = json_load_file(path, 0, &jerr);
    assert_non_null(shipped);
    json_t *builtin = json_loads(price_book_default_json(), 0, &jerr);
    assert_non_null(builtin);
    assert_true(json_equal(shipped, builtin));
    char err[256] = "";
    struct price_book *book = price_book_load_file(path, err, sizeof err);
    assert_non_null(book);
    assert_string_equal(err, "");
    price_book_free(book);
    json_decref(shipped);
    json_decref(builtin);
    free(path);
}

static void default_book_values_are_exact(void **state)
{
    struct price_book *book = price_book_load_default();
    assert_string_equal(book->currency, "USD");
    assert_int_equal(book->tax_rate, 72500);
    assert_int_equal(book->permit_fee, 3500000);
    assert_int_equal(book->tearoff_per_square, 750000);
    assert_int_equal(book->n_styles, 3);
    assert_string_equal(book->styles[1].key, "hip");
    assert_int_equal(book->styles[1].waste, 1500);
    assert_int_equal(book->n_bands, 3);
    assert_int_equal(book->bands[1].multiplier, 11500);
    assert_int_equal(book->n_materials, 4);
    assert_string_equal(book->materials[0].key, "3-tab");
    assert_int_equal(book->materials[0].per_square, 4500000);
    assert_int_equal(book->materials[0].tier, PRICE_BOOK_TIER_GOOD);
    assert_int_equal(book->materials[3].tier, PRICE_BOOK_TIER_NONE);
    assert_int_equal(book->materials[0].n_aliases, 3);
    assert_int_equal(book->n_items, 4);
    assert_string_equal(book->items[0].unit, "linear_ft");
    assert_int_equal(book->items[0].price, 125000);
    assert_int_equal(book->n_plans, 2);
    assert_int_equal(book->plans[1].months, 120);
    assert_true(book->plans[1].apr == 0.0799);
    assert_string_equal(price_book_tier_material(book, PRICE_BOOK_TIER_BEST)->key, "designer");
    assert_string_equal(price_book_tier_name(PRICE_BOOK_TIER_BETTER), "better");
    price_book_free(book);
}

static void decimal_conversion(void **state)
{
    int64_t v = 0;
    assert_true(price_book_decimal(0.0725, 1000000, &v));
    assert_int_equal(v, 72500);
    assert_true(price_book_decimal(1.15, 10000, &v));
    assert_int_equal(v, 11500);
    assert_true(price_book_decimal(999999.9999, 10000, &v));
    assert_int_equal(v, 9999999999LL);
    assert_true(price_book_decimal(0.1 + 0.2, 10000, &v)); /* binary noise is not a decimal */
    assert_int_equal(v, 3000);
    assert_false(price_book_decimal(0.07255, 10000, &v));
    assert_false(price_book_decimal(12.50001, 10000, &v));
    assert_false(price_book_decimal(1e300, 10000, &v));
}

static void names_fold_case_spaces_and_hyphens(void **state)
{
    assert_true(price_book_names_match("3 tab", "3-tab"));
    assert_true(price_book_names_match("  3 -  TAB ", "3-tab"));
    assert_true(price_book_names_match("3tab", "3_tab"));
    assert_true(price_book_names_match("Three Tab", "three tab"));
    assert_false(price_book_names_match("three tab", "3-tab"));
    assert_false(price_book_names_match("3 tabs", "3-tab"));
    assert_false(price_book_names_match("", "3-tab"));
    assert_false(price_book_names_match(NULL, "3-tab"));
}

static void find_material_by_key_label_alias(void **state)
{
    struct price_book *book = price_book_load_default();
    static const struct {
        const char *name, *key;
    } cases[] = {
        {"3-tab", "3-tab"},
        {"3 tab", "3-tab"},
        {"3-TAB", "3-tab"},
        {"Three Tab", "3-tab"},
        {"three-tab", "3-tab"},
        {"builder grade", "3-tab"},
        {"3-Tab Asphalt Shingles", "3-tab"},
        {"architectural", "architectural"},
        {"ARCH", "architectural"},
        {"Dimensional", "architectural"},
        {"architectural shingles", "architectural"},
        {"Premium Shingles", "designer"},
        {"luxury", "designer"},
        {"standing-seam", "metal"},
        {"Standing Seam Metal", "metal"},
        {"metal roof", "metal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct price_book_material *m = price_book_find_material(book, cases[i].name);
        if (!m)
            fail_msg("no material for \"%s\"", cases[i].name);
        assert_string_equal(m->key, cases[i].key);
    }
    assert_null(price_book_find_material(book, "slate"));
    assert_null(price_book_find_material(book, ""));
    assert_null(price_book_find_material(book, " - "));
    assert_null(price_book_find_material(book, NULL));
    assert_string_equal(price_book_find_item(book, "Gutters")->key, "gutters");
    assert_string_equal(price_book_find_item(book, "double hung vinyl window")->key, "window");
    assert_null(price_book_find_item(book, "deck"));
    assert_string_equal(price_book_find_style(book, "HIP")->key, "hip");
    assert_null(price_book_find_style(book, "mansard"));
    price_book_free(book);
}

static void pitch_band_boundaries(void **state)
{
    struct price_book *book = price_book_load_default();
    static const struct {
        double rise;
        int64_t multiplier;
    } cases[] = {{0, 10000}, {3, 10000},    {6, 10000},  {6.0001, 11500}, {6.5, 11500},
                 {9, 11500}, {9.01, 13000}, {12, 13000}, {24, 13000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct price_book_band *b = price_book_find_band(book, cases[i].rise);
        assert_non_null(b);
        assert_int_equal(b->multiplier, cases[i].multiplier);
    }
    assert_null(price_book_find_band(book, 24.5));
    price_book_free(book);
}

/* ---- malformed books ------------------------------------------------------------------ */

/* Follows a path like "roofing.pitch[1].up_to_rise" in root and replaces the
 * value there with value (stolen), or deletes it when value is NULL. */
static void mutate(json_t *root, const char *path, json_t *value)
{
    char *copy = xstrdup(path);
    json_t *parent = root;
    char *seg = copy;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        char *bracket = strchr(seg, '[');
        long index = -1;
        if (bracket) {
            index = strtol(bracket + 1, NULL, 10);
            *bracket = '\0';
        }
        bool last = !dot;
        if (index >= 0) {
            json_t *array = *seg ? json_object_get(parent, seg) : parent;
            assert_non_null(array);
            if (last) {
                if (value)
                    json_array_set_new(array, (size_t)index, value);
                else
                    json_array_remove(array, (size_t)index);
                break;
            }
            parent = json_array_get(array, (size_t)index);
        } else if (last) {
            if (value)
                json_object_set_new(parent, seg, value);
            else
                json_object_del(parent, seg);
            break;
        } else {
            parent = json_object_get(parent, seg);
        }
        assert_non_null(parent);
        seg = dot + 1;
    }
    free(copy);
}

/* The sample book with value set at path; returns the load error (static). */
static const char *load_error(const char *path, json_t *value)
{
    static char err[512];
    json_t *root = json_loads(price_book_default_json(), 0, NULL);
    assert_non_null(root);
    mutate(root, path, value);
    err[0] = '\0';
    struct price_book *book = price_book_from_json(root, err, sizeof err);
    json_decref(root);
    if (book) {
        price_book_free(book);
        return NULL;
    }
    return err;
}

static void each_validation_error_names_path_and_problem(void **state)
{
    static const struct {
        const char *path;
        const char *json; /* NULL: delete */
        const char *error;
    } cases[] = {
        {"currency", "\"usd\"", "currency: expected a three-letter ISO 4217 code such as \"USD\""},
        {"currency", "7", "currency: expected a three-letter ISO 4217 code such as \"USD\""},
        {"tax_rate", "1.5", "tax_rate: 1.5 is out of range (expected 0 to 1)"},
        {"tax_rate", "-0.01", "tax_rate: -0.01 is out of range (expected 0 to 1)"},
        {"tax_rate", "\"7.25%\"", "tax_rate: expected a number, got a string"},
        {"tax_rate", "0.0725001", "tax_rate: 0.0725001 has more than 6 decimal places"},
        {"permit_fee", "-1", "permit_fee: -1 is out of range (expected 0 to 1e+06)"},
        {"permit_fee", "2000000", "permit_fee: 2e+06 is out of range (expected 0 to 1e+06)"},
        {"permit_fee", NULL, "missing field \"permit_fee\""},
        {"financing", NULL, "missing field \"financing\""},
        {"extra", "1",
         "unknown field \"extra\" (expected currency, tax_rate, permit_fee, roofing, items, "
         "financing)"},
        {"roofing", "[]", "roofing: expected an object, got an array"},
        {"roofing.materials", NULL, "roofing: missing field \"materials\""},
        {"roofing.pitch", "[]", "roofing.pitch: needs at least one pitch band"},
        {"roofing.pitch", "{}", "roofing.pitch: expected an array of bands, got an object"},
        {"roofing.pitch[1].up_to_rise", "5",
         "roofing.pitch: bands must be in increasing up_to_rise order (5 after 6)"},
        {"roofing.pitch[2].up_to_rise", "9",
         "roofing.pitch: bands must be in increasing up_to_rise order (9 after 9)"},
        {"roofing.pitch[0].up_to_rise", "-1",
         "roofing.pitch[0].up_to_rise: -1 is out of range (expected 0 to 1000)"},
        {"roofing.pitch[0].multiplier", "0",
         "roofing.pitch[0].multiplier: 0 is out of range (expected more than 0 to 10)"},
        {"roofing.pitch[0].multiplier", "1.00001",
         "roofing.pitch[0].multiplier: 1.00001 has more than 4 decimal places"},
        {"roofing.pitch[0]", "{\"up_to_rise\": 6}",
         "roofing.pitch[0]: missing field \"multiplier\""},
        {"roofing.pitch[0].rise", "6",
         "roofing.pitch[0]: unknown field \"rise\" (expected up_to_rise, multiplier)"},
        {"roofing.waste.gable", "-0.1",
         "roofing.waste.gable: -0.1 is out of range (expected 0 to 1)"},
        {"roofing.waste.gable", NULL,
         "roofing.waste: missing style \"gable\" (the default when a request names none)"},
        {"roofing.waste", "{}", "roofing.waste: needs at least one style"},
        {"roofing.waste.Hip", "0.1",
         "roofing.waste: \"hip\" (style \"hip\") and \"Hip\" (style \"Hip\") are the same name"},
        {"roofing.tearoff_per_square", "\"75\"",
         "roofing.tearoff_per_square: expected a number, got a string"},
        {"roofing.materials", "{}", "roofing.materials: needs at least one material"},
        {"roofing.materials.metal.per_square", "-5",
         "roofing.materials.metal.per_square: -5 is out of range (expected 0 to 1e+06)"},
        {"roofing.materials.metal.per_square", "450.12345",
         "roofing.materials.metal.per_square: 450.12345 has more than 4 decimal places"},
        {"roofing.materials.metal.per_square", "null",
         "roofing.materials.metal.per_square: expected a number, got null"},
        {"roofing.materials.metal.tier", "\"premium\"",
         "roofing.materials.metal.tier: expected one of good, better, best"},
        {"roofing.materials.metal.tier", "\"good\"",
         "roofing.materials.metal.tier: tier \"good\" is already taken by material \"3-tab\""},
        {"roofing.materials.metal.aliases", "\"metal\"",
         "roofing.materials.metal.aliases: expected an array of strings, got a string"},
        {"roofing.materials.metal.aliases[0]", "\" - \"",
         "roofing.materials.metal.aliases[0]: expected a non-empty string"},
        {"roofing.materials.metal.aliases[1]", "\"Arch\"",
         "roofing.materials: \"arch\" (material \"architectural\") and \"Arch\" (material "
         "\"metal\") are the same name"},
        {"roofing.materials.metal.label", "\"\"",
         "roofing.materials.metal.label: expected a non-empty string"},
        {"roofing.materials.metal.label", NULL, "roofing.materials.metal: missing field \"label\""},
        {"roofing.materials.metal.colour", "\"grey\"",
         "roofing.materials.metal: unknown field \"colour\" (expected label, per_square, tier, "
         "aliases)"},
        {"roofing.materials.metal", "1100",
         "roofing.materials.metal: expected an object, got a number"},
        {"roofing.materials. ", "{\"label\": \"x\", \"per_square\": 1}",
         "roofing.materials. : expected a non-empty string"},
        {"items", "[]", "items: expected an object, got an array"},
        {"items.gutters.unit", "\"\"",
         "items.gutters.unit: expected a non-empty string such as linear_ft, each or square"},
        {"items.gutters.unit", "5",
         "items.gutters.unit: expected a non-empty string such as linear_ft, each or square"},
        {"items.gutters.price", "-1",
         "items.gutters.price: -1 is out of range (expected 0 to 1e+06)"},
        {"items.gutters.price", NULL, "items.gutters: missing field \"price\""},
        {"items.permit", "{\"label\": \"Permit\", \"unit\": \"each\", \"price\": 1}",
         "items.permit: the key \"permit\" is reserved for the permit line"},
        {"items.window.aliases", "[\"gutters\"]",
         "items: \"gutters\" (item \"gutters\") and \"gutters\" (item \"window\") are the same "
         "name"},
        {"financing", "{}", "financing: expected an array of plans, got an object"},
        {"financing[1].months", "0",
         "financing[1].months: expected a whole number of months from 1 to 600"},
        {"financing[1].months", "12.5",
         "financing[1].months: expected a whole number of months from 1 to 600"},
        {"financing[1].months", "\"12\"",
         "financing[1].months: expected a whole number of months from 1 to 600"},
        {"financing[1].apr", "-0.01", "financing[1].apr: -0.01 is out of range (expected 0 to 1)"},
        {"financing[0].name", "\"\"", "financing[0].name: expected a non-empty string"},
        {"financing[0]", "[]", "financing[0]: expected an object, got an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *value = NULL;
        if (cases[i].json) {
            value = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
            assert_non_null(value);
        }
        const char *err = load_error(cases[i].path, value);
        if (!err)
            fail_msg("case %zu (%s): the book was accepted", i, cases[i].path);
        if (strcmp(err, cases[i].error) != 0)
            fail_msg("case %zu (%s):\n  got      %s\n  expected %s", i, cases[i].path, err,
                     cases[i].error);
    }
}

static void accepted_variations(void **state)
{
    /* Comments, an empty items map, no financing plans, optional fields left out. */
    assert_null(load_error("_comment", json_string("prices from 2025-01")));
    assert_null(load_error("items", json_object()));
    assert_null(load_error("financing", json_array()));
    assert_null(load_error("roofing.materials.3-tab.aliases", NULL));
    assert_null(load_error("roofing.materials.3-tab.tier", NULL));
    assert_null(load_error("tax_rate", json_real(0.08875)));
    assert_null(load_error("tax_rate", json_integer(0)));
    assert_null(load_error("items.gutters.unit", json_string("ft")));
    assert_null(load_error("items.gutters.price", json_real(0.125)));
}

static void parse_and_file_errors(void **state)
{
    char err[512];
    assert_null(price_book_parse("[]", err, sizeof err));
    assert_string_equal(err, "expected an object, got an array");
    assert_null(price_book_parse("{\"currency\": ", err, sizeof err));
    assert_non_null(strstr(err, "line 1"));
    assert_null(
        price_book_parse("{\"currency\": \"USD\", \"currency\": \"EUR\"}", err, sizeof err));
    assert_non_null(strstr(err, "duplicate object key"));
    assert_null(price_book_load_file("/nonexistent/book.json", err, sizeof err));
    assert_string_equal(err, "/nonexistent/book.json: No such file or directory");

    char *path = temp_template();
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"currency\": \"USD\"}", f);
    fclose(f);
    assert_null(price_book_load_file(path, err, sizeof err));
    char *expected = xasprintf("%s: missing field \"tax_rate\"", path);
    assert_string_equal(err, expected);
    free(expected);

    f = fopen(path, "w"); /* one byte over the limit */
    for (int i = 0; i <= PRICE_BOOK_MAX_FILE; i++)
        fputc(' ', f);
    fclose(f);
    assert_null(price_book_load_file(path, err, sizeof err));
    expected = xasprintf("%s: larger than %d bytes", path, PRICE_BOOK_MAX_FILE);
    assert_string_equal(err, expected);
    free(expected);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_book_matches_data_file),
        cmocka_unit_test(default_book_values_are_exact),
        cmocka_unit_test(decimal_conversion),
        cmocka_unit_test(names_fold_case_spaces_and_hyphens),
        cmocka_unit_test(find_material_by_key_label_alias),
        cmocka_unit_test(pitch_band_boundaries),
        cmocka_unit_test(each_validation_error_names_path_and_problem),
        cmocka_unit_test(accepted_variations),
        cmocka_unit_test(parse_and_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
