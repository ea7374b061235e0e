/* test_schema — JSON Schema validation of tool arguments (agent/schema.h):
 * each keyword, the wording and paths of the messages a model reads, the
 * sanity check of schemas themselves, and the parse-once cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/schema.h"
#include "base/error.h"
#include "base/xalloc.h"

/* Validates instance text against schema text; returns the messages (new,
 * "" when valid) and checks that the status agrees with them. */
static char *validate(const char *schema_text, const char *instance_text)
{
    json_error_t jerr;
    json_t *schema = json_loads(schema_text, 0, &jerr);
    json_t *instance = json_loads(instance_text, JSON_DECODE_ANY, &jerr);
    char err[512];
    struct buf out;
    int rc;
    assert_non_null(schema);
    assert_non_null(instance);
    if (schema_check(schema, err, sizeof err) != 0)
        fail_msg("schema rejected: %s", err);
    buf_init(&out, 0);
    rc = schema_validate(schema, instance, &out);
    assert_int_equal(rc, out.len ? ERR_INVALID : 0);
    json_decref(schema);
    json_decref(instance);
    return buf_steal(&out);
}

static void expect(const char *schema, const char *instance, const char *want)
{
    char *got = validate(schema, instance);
    if (strcmp(got, want) != 0)
        fail_msg("instance %s\n  want: %s\n  got:  %s", instance, want, got);
    free(got);
}

#define OBJ(props) "{\"type\":\"object\",\"properties\":{" props "}}"

static void test_types(void **state)
{
    (void)state;
    expect(OBJ("\"s\":{\"type\":\"string\"}"), "{\"s\":\"x\"}", "");
    expect(OBJ("\"s\":{\"type\":\"string\"}"), "{\"s\":5}", "s: must be a string (got 5)");
    expect(OBJ("\"n\":{\"type\":\"number\"}"), "{\"n\":2.5}", "");
    expect(OBJ("\"n\":{\"type\":\"number\"}"), "{\"n\":\"30\"}",
           "n: must be a number (got \"30\")");
    expect(OBJ("\"i\":{\"type\":\"integer\"}"), "{\"i\":3}", "");
    expect(OBJ("\"i\":{\"type\":\"integer\"}"), "{\"i\":3.0}", "");
    expect(OBJ("\"i\":{\"type\":\"integer\"}"), "{\"i\":3.5}", "i: must be an integer (got 3.5)");
    expect(OBJ("\"b\":{\"type\":\"boolean\"}"), "{\"b\":false}", "");
    expect(OBJ("\"b\":{\"type\":\"boolean\"}"), "{\"b\":\"yes\"}",
           "b: must be a boolean (got \"yes\")");
    expect(OBJ("\"z\":{\"type\":\"null\"}"), "{\"z\":null}", "");
    expect(OBJ("\"z\":{\"type\":\"null\"}"), "{\"z\":{}}", "z: must be null (got an object)");
    expect(OBJ("\"a\":{\"type\":\"array\"}"), "{\"a\":{}}", "a: must be an array (got an object)");
    expect(OBJ("\"o\":{\"type\":\"object\"}"), "{\"o\":[]}", "o: must be an object (got an array)");
    /* The root. */
    expect(OBJ(""), "[1]", "arguments: must be an object (got an array)");
}

static void test_type_arrays(void **state)
{
    (void)state;
    const char *schema = OBJ("\"v\":{\"type\":[\"string\",\"null\"]}");
    expect(schema, "{\"v\":null}", "");
    expect(schema, "{\"v\":\"a\"}", "");
    expect(schema, "{\"v\":true}", "v: must be a string or null (got true)");
    expect(OBJ("\"v\":{\"type\":[\"integer\",\"string\",\"null\"]}"), "{\"v\":[]}",
           "v: must be an integer, a string or null (got an array)");
}

static void test_required_and_unknown(void **state)
{
    (void)state;
    const char *schema = "{\"type\":\"object\",\"properties\":{\"area_sqft\":{\"type\":"
                         "\"number\"},\"color\":{\"type\":\"string\"}},\"required\":["
                         "\"area_sqft\"],\"additionalProperties\":false}";
    expect(schema, "{\"area_sqft\":10}", "");
    expect(schema, "{}", "missing required property \"area_sqft\"");
    expect(schema, "{\"area_sqft\":1,\"colour\":\"red\"}",
           "unknown property \"colour\" (allowed: \"area_sqft\", \"color\")");
    /* additionalProperties absent or true: extra members are fine. */
    expect(OBJ("\"a\":{}"), "{\"zzz\":1}", "");
    expect("{\"type\":\"object\",\"additionalProperties\":false}", "{\"x\":1}",
           "unknown property \"x\" (no properties are allowed)");
    /* additionalProperties as a schema. */
    expect("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
           "{\"a\":1,\"b\":\"two\"}", "b: must be an integer (got \"two\")");
}

static void test_all_errors_at_once(void **state)
{
    (void)state;
    const char *schema =
        "{\"type\":\"object\",\"required\":[\"area_sqft\",\"roof\"],\"additionalProperties\":false,"
        "\"properties\":{\"area_sqft\":{\"type\":\"number\",\"minimum\":1},"
        "\"roof\":{\"type\":\"object\",\"required\":[\"material\"],\"properties\":{"
        "\"pitch_rise\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":24},"
        "\"material\":{\"type\":\"string\"}}}}}";
    expect(schema, "{\"roof\":{\"pitch_rise\":30},\"colour\":\"red\"}",
           "missing required property \"area_sqft\"; "
           "roof: missing required property \"material\"; "
           "roof.pitch_rise: must be at most 24 (got 30); "
           "unknown property \"colour\" (allowed: \"area_sqft\", \"roof\")");
}

static void test_enum_and_const(void **state)
{
    (void)state;
    const char *schema = OBJ("\"m\":{\"type\":\"string\",\"enum\":[\"asphalt\",\"metal\"]}");
    expect(schema, "{\"m\":\"metal\"}", "");
    expect(schema, "{\"m\":\"slate\"}", "m: must be one of \"asphalt\", \"metal\" (got \"slate\")");
    /* Numbers compare by value: 2 equals 2.0. */
    expect(OBJ("\"n\":{\"enum\":[1,2,null]}"), "{\"n\":2.0}", "");
    expect(OBJ("\"n\":{\"enum\":[1,2,null]}"), "{\"n\":3}", "n: must be one of 1, 2, null (got 3)");
    expect(OBJ("\"c\":{\"const\":\"yes\"}"), "{\"c\":\"no\"}", "c: must be \"yes\" (got \"no\")");
}

static void test_numeric_bounds(void **state)
{
    (void)state;
    const char *schema = OBJ("\"p\":{\"type\":\"number\",\"minimum\":1,\"maximum\":24}");
    expect(schema, "{\"p\":1}", "");
    expect(schema, "{\"p\":24}", "");
    expect(schema, "{\"p\":0.5}", "p: must be at least 1 (got 0.5)");
    expect(schema, "{\"p\":30}", "p: must be at most 24 (got 30)");
    const char *exclusive =
        OBJ("\"p\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":100}");
    expect(exclusive, "{\"p\":0.001}", "");
    expect(exclusive, "{\"p\":0}", "p: must be greater than 0 (got 0)");
    expect(exclusive, "{\"p\":100}", "p: must be less than 100 (got 100)");
    /* Draft 4 booleans modify minimum/maximum. */
    const char *draft4 = OBJ("\"p\":{\"minimum\":5,\"exclusiveMinimum\":true}");
    expect(draft4, "{\"p\":5}", "p: must be greater than 5 (got 5)");
    expect(draft4, "{\"p\":6}", "");
    /* Large integers are compared exactly. */
    expect(OBJ("\"big\":{\"type\":\"integer\",\"maximum\":9007199254740993}"),
           "{\"big\":9007199254740994}",
           "big: must be at most 9007199254740993 (got 9007199254740994)");
}

static void test_string_lengths(void **state)
{
    (void)state;
    const char *schema = OBJ("\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4}");
    expect(schema, "{\"s\":\"ab\"}", "");
    expect(schema, "{\"s\":\"a\"}", "s: must be at least 2 characters long (got 1)");
    expect(schema, "{\"s\":\"abcde\"}", "s: must be at most 4 characters long (got 5)");
    /* Characters, not bytes: four accented letters are four characters. */
    expect(schema, "{\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", "");
}

static void test_patterns(void **state)
{
    (void)state;
    const char *zip = OBJ("\"zip\":{\"type\":\"string\",\"pattern\":\"^\\\\d{5}(-\\\\d{4})?$\"}");
    expect(zip, "{\"zip\":\"12345\"}", "");
    expect(zip, "{\"zip\":\"12345-6789\"}", "");
    expect(zip, "{\"zip\":\"1234a\"}",
           "zip: must match the pattern ^\\d{5}(-\\d{4})?$ (got \"1234a\")");
    const char *cls = OBJ("\"c\":{\"pattern\":\"^[\\\\w.\\\\-]+@[a-z]+\\\\.com$\"}");
    expect(cls, "{\"c\":\"jo.e-x@mail.com\"}", "");
    expect(cls, "{\"c\":\"jo e@mail.com\"}",
           "c: must match the pattern ^[\\w.\\-]+@[a-z]+\\.com$ (got \"jo e@mail.com\")");
    /* Non-capturing groups and lazy quantifiers are translated. */
    const char *group = OBJ("\"g\":{\"pattern\":\"^(?:ab)+?c$\"}");
    expect(group, "{\"g\":\"ababc\"}", "");
    expect(group, "{\"g\":\"abc!\"}", "g: must match the pattern ^(?:ab)+?c$ (got \"abc!\")");
    /* Unanchored patterns search. */
    expect(OBJ("\"s\":{\"pattern\":\"oo\"}"), "{\"s\":\"roof\"}", "");
    /* Lookahead cannot be said in POSIX: not enforced rather than enforced wrongly. */
    expect(OBJ("\"s\":{\"pattern\":\"^(?=x)\"}"), "{\"s\":\"abc\"}", "");
}

static void test_arrays(void **state)
{
    (void)state;
    const char *schema = OBJ("\"layers\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":3,"
                             "\"items\":{\"type\":\"object\",\"required\":[\"kind\"],"
                             "\"properties\":{\"kind\":{\"enum\":[\"felt\",\"ice\"]}}}}");
    expect(schema, "{\"layers\":[{\"kind\":\"felt\"}]}", "");
    expect(schema, "{\"layers\":[]}", "layers: must have at least 1 item (got 0)");
    expect(schema, "{\"layers\":[{\"kind\":\"felt\"},{},{},{}]}",
           "layers: must have at most 3 items (got 4); "
           "layers[1]: missing required property \"kind\"; "
           "layers[2]: missing required property \"kind\"; "
           "layers[3]: missing required property \"kind\"");
    expect(schema, "{\"layers\":[{\"kind\":\"felt\"},{\"kind\":\"tar\"}]}",
           "layers[1].kind: must be one of \"felt\", \"ice\" (got \"tar\")");
    /* Nested arrays. */
    expect(OBJ("\"grid\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":"
               "{\"type\":\"integer\"}}}"),
           "{\"grid\":[[1,2],[3,\"x\"]]}", "grid[1][1]: must be an integer (got \"x\")");
    expect(OBJ("\"u\":{\"type\":\"array\",\"uniqueItems\":true}"), "{\"u\":[1,2,1]}",
           "u: must not repeat items (item 2 repeats item 0)");
}

static void test_error_cap(void **state)
{
    (void)state;
    const char *schema = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}";
    char instance[1024] = "{";
    for (int i = 0; i < SCHEMA_MAX_ERRORS + 4; i++)
        snprintf(instance + strlen(instance), sizeof instance - strlen(instance), "%s\"k%d\":%d",
                 i ? "," : "", i, i);
    strcat(instance, "}");
    char *got = validate(schema, instance);
    assert_non_null(strstr(got, "k0: must be a string (got 0)"));
    assert_non_null(strstr(got, "; and 4 more"));
    assert_null(strstr(got, "k19:"));
    free(got);
}

static void test_long_values_are_cut(void **state)
{
    (void)state;
    char instance[512];
    char long_text[301];
    memset(long_text, 'x', 300);
    long_text[300] = '\0';
    snprintf(instance, sizeof instance, "{\"s\":\"%s\"}", long_text);
    char *got = validate(OBJ("\"s\":{\"enum\":[\"a\"]}"), instance);
    assert_true(strlen(got) < 120);
    assert_non_null(strstr(got, "\xe2\x80\xa6\")"));
    free(got);
}

/* A schema that fails schema_check, with the expected message. */
static void expect_bad_schema(const char *text, const char *want)
{
    json_error_t jerr;
    json_t *schema = json_loads(text, 0, &jerr);
    char err[256] = "";
    assert_non_null(schema);
    assert_int_equal(schema_check(schema, err, sizeof err), ERR_INVALID);
    if (strcmp(err, want) != 0)
        fail_msg("schema %s\n  want: %s\n  got:  %s", text, want, err);
    json_decref(schema);
}

static void test_schema_check(void **state)
{
    (void)state;
    char err[256];
    json_t *good = json_loads(
        "{\"type\":\"object\",\"description\":\"x\",\"properties\":{\"a\":{\"type\":\"array\","
        "\"items\":{\"type\":\"string\",\"minLength\":1}},\"b\":{\"type\":[\"number\",\"null\"],"
        "\"minimum\":0}},\"required\":[\"a\"],\"additionalProperties\":false}",
        0, NULL);
    assert_int_equal(schema_check(good, err, sizeof err), 0);
    json_decref(good);
    expect_bad_schema("[]", "the parameters schema must be a JSON object");
    expect_bad_schema("{\"type\":\"string\"}",
                      "the parameters schema must have \"type\": \"object\"");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"float\"}}}",
                      "properties.a: unknown type \"float\"");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\","
                      "\"properties\":{\"b\":{\"minimum\":\"1\"}}}}}",
                      "properties.a.properties.b: \"minimum\" must be a number");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[]}}}",
                      "properties.a: \"anyOf\" is not supported by the tool argument validator");
    expect_bad_schema("{\"type\":\"object\",\"required\":[\"x\"],\"additionalProperties\":false,"
                      "\"properties\":{}}",
                      "required property \"x\" is not among the properties");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[]}}}",
                      "properties.a: \"enum\" must be a non-empty array");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"minLength\":-1}}}",
                      "properties.a: \"minLength\" must be a non-negative integer");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"minItems\":3,"
                      "\"maxItems\":2}}}",
                      "properties.a: \"minItems\" is greater than \"maxItems\"");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"items\":[{}]}}}",
                      "properties.a: \"items\" must be one schema (tuples are not supported)");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"items\":{\"type\":1}}}}",
                      "properties.a.items: \"type\" must be a type name or a non-empty array "
                      "of them");
    expect_bad_schema("{\"type\":\"object\",\"properties\":{\"a\":3}}",
                      "properties.a: a schema must be a JSON object");
}

static void test_cache(void **state)
{
    (void)state;
    char err[256];
    static const char text[] = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}";
    json_t *first = schema_cache_get(text, err, sizeof err);
    json_t *second = schema_cache_get(text, err, sizeof err);
    assert_non_null(first);
    assert_ptr_equal(first, second); /* parsed once */
    json_decref(first);
    json_decref(second);

    /* The same pointer with different text is parsed again. */
    char *buffer = xstrdup("{\"type\":\"object\",\"properties\":{\"x\":{}}}");
    json_t *a = schema_cache_get(buffer, err, sizeof err);
    assert_non_null(json_object_get(json_object_get(a, "properties"), "x"));
    memcpy(buffer + strlen(buffer) - 8, "\"y\":{}}}", 8);
    json_t *b = schema_cache_get(buffer, err, sizeof err);
    assert_non_null(b);
    assert_non_null(json_object_get(json_object_get(b, "properties"), "y"));
    json_decref(a); /* a stays valid while held, though replaced in the cache */
    json_decref(b);
    free(buffer);

    assert_null(schema_cache_get("{\"type\":\"object\",", err, sizeof err));
    assert_non_null(strstr(err, "not valid JSON"));
    assert_null(schema_cache_get("{\"type\":\"string\"}", err, sizeof err));
    assert_non_null(strstr(err, "\"type\": \"object\""));
    schema_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_type_arrays),
        cmocka_unit_test(test_required_and_unknown),
        cmocka_unit_test(test_all_errors_at_once),
        cmocka_unit_test(test_enum_and_const),
        cmocka_unit_test(test_numeric_bounds),
        cmocka_unit_test(test_string_lengths),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_schema_check),
        cmocka_unit_test(test_cache),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    schema_cache_clear();
    return failed;
}
