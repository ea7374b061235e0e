/* test_extract — schema-driven argument extraction (src/llm/local/extract.h)
 * against a realistic copy of the Pricing agent's `quote` schema (with the
 * price book's labels and aliases from docs/PRICING.md as x-aliases) and a
 * CRM new-client schema: whole requests, gaps and the question asking for
 * them, answers to that question, corrections, item lists, and the things
 * it must not invent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "llm/local/entities.h"
#include "llm/local/extract.h"

static const char QUOTE_SCHEMA[] =
    "{\"type\":\"object\",\"description\":\"A quote request\",\"properties\":{"
    " \"roof\":{\"type\":\"object\",\"description\":\"The roof to replace\",\"properties\":{"
    "  \"area_sqft\":{\"type\":\"number\",\"description\":\"Roof area in square feet\","
    "   \"minimum\":1,\"maximum\":100000},"
    "  \"style\":{\"type\":\"string\",\"enum\":[\"gable\",\"hip\",\"complex\"],"
    "   \"default\":\"gable\",\"description\":\"Roof style\"},"
    "  \"pitch_rise\":{\"type\":\"number\",\"minimum\":0,\"maximum\":24,\"description\":"
    "   \"Pitch rise in inches per 12 inches of run (7 for a 7/12 roof)\"},"
    "  \"layers\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":3,\"default\":1,"
    "   \"description\":\"Existing layers of shingles to tear off\"},"
    "  \"material\":{\"type\":\"string\",\"description\":\"Shingle or roofing material\","
    "   \"enum\":[\"3-tab\",\"architectural\",\"designer\",\"metal\"],\"x-aliases\":{"
    "    \"3-tab\":[\"3-Tab Asphalt Shingles\",\"three tab\",\"3 tab\",\"builder grade\"],"
    "    \"architectural\":[\"Architectural Shingles\",\"dimensional\",\"arch\",\"laminated\"],"
    "    \"designer\":[\"Designer Shingles\",\"luxury\",\"premium shingles\"],"
    "    \"metal\":[\"Standing Seam Metal\",\"standing seam\",\"metal roof\"]}}},"
    "  \"required\":[\"area_sqft\",\"pitch_rise\",\"material\"]},"
    " \"items\":{\"type\":\"array\",\"description\":\"Add-on items\",\"items\":{"
    "  \"type\":\"object\",\"properties\":{"
    "   \"id\":{\"type\":\"string\",\"enum\":[\"gutters\",\"skylight\",\"siding\",\"window\"],"
    "    \"x-aliases\":{\"gutters\":[\"Seamless Aluminum Gutters\"],"
    "     \"skylight\":[\"Skylight Replacement\"],\"siding\":[\"Vinyl Siding\"],"
    "     \"window\":[\"Double-Hung Vinyl Window\"]}%s},"
    "   \"qty\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
    "    \"description\":\"Quantity in the item's unit\"}},"
    "  \"required\":[\"id\",\"qty\"]}},"
    " \"permit\":{\"type\":\"boolean\",\"default\":true,"
    "  \"description\":\"Include the building permit\"}}}";

static const char UNITS[] = ",\"x-units\":{\"gutters\":\"linear_ft\",\"skylight\":\"each\","
                            "\"siding\":\"square\",\"window\":\"each\"}";

static const char CLIENT_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    " \"first_name\":{\"type\":\"string\"},"
    " \"last_name\":{\"type\":\"string\"},"
    " \"phone\":{\"type\":\"string\",\"description\":\"Mobile phone number\"},"
    " \"email\":{\"type\":\"string\",\"format\":\"email\"},"
    " \"street\":{\"type\":\"string\",\"description\":\"Street address\"},"
    " \"city\":{\"type\":\"string\"},"
    " \"state\":{\"type\":\"string\",\"description\":\"Two-letter state\"},"
    " \"zip\":{\"type\":\"string\",\"description\":\"ZIP code\"},"
    " \"trade\":{\"type\":\"string\",\"enum\":[\"roofing\",\"siding\",\"gutters\",\"windows\","
    "  \"other\"],\"x-aliases\":{\"roofing\":[\"roof\",\"reroof\"],\"windows\":[\"window\"]}},"
    " \"lead_source\":{\"type\":\"string\",\"description\":\"How the lead reached us\","
    "  \"examples\":[\"referral\",\"door knocking\",\"website\",\"yard sign\",\"home show\"]},"
    " \"notes\":{\"type\":\"string\",\"description\":\"Anything else worth knowing\"}},"
    " \"required\":[\"first_name\",\"last_name\",\"phone\",\"street\",\"city\",\"state\","
    "  \"zip\",\"trade\"]}";

/* Monday 2024-11-25 10:00 */
static struct tm test_now = {.tm_year = 124, .tm_mon = 10, .tm_mday = 25, .tm_hour = 10};

struct result {
    json_t *args, *missing;
};

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad JSON in test: %s: %s", e.text, text);
    return j;
}

static json_t *quote_schema(bool with_units)
{
    char text[sizeof QUOTE_SCHEMA + sizeof UNITS];
    snprintf(text, sizeof text, QUOTE_SCHEMA, with_units ? UNITS : "");
    return load(text);
}

/* Extracts from the NULL-terminated texts, the last answering `expecting`
 * (a comma-separated list of paths, or NULL). */
static struct result extract_with(const json_t *schema, const char *expecting,
                                  const char *const *texts)
{
    size_t n = 0;
    while (texts[n])
        n++;
    const char *paths[8];
    char buf[256];
    size_t n_paths = 0;
    if (expecting) {
        snprintf(buf, sizeof buf, "%s", expecting);
        for (char *p = strtok(buf, ","); p && n_paths < 8; p = strtok(NULL, ","))
            paths[n_paths++] = p;
    }
    struct extract_options opt = {.now = &test_now, .expecting = paths, .n_expecting = n_paths};
    struct result r;
    char err[256] = "";
    int rc = extract_arguments(schema, texts, n, &opt, &r.args, &r.missing, err, sizeof err);
    if (rc != 0)
        fail_msg("extract_arguments: %d %s", rc, err);
    return r;
}

static void result_free(struct result *r)
{
    json_decref(r->args);
    json_decref(r->missing);
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = load(want_text);
    if (!json_equal((json_t *)got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got  %s\nwant %s", g, want_text);
    }
    json_decref(want);
}

/* The missing paths joined with spaces ("roof.area_sqft roof.material"). */
static void assert_missing(const json_t *missing, const char *want)
{
    char got[512] = "";
    size_t k;
    const json_t *m;
    json_array_foreach(missing, k, m)
    {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s", n ? " " : "",
                 json_string_value(json_object_get(m, "path")));
    }
    if (strcmp(got, want) != 0)
        fail_msg("missing \"%s\", want \"%s\"", got, want);
}

#define TEXTS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- the quote tool ---- */

static void test_full_roof(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    struct result r = extract_with(
        schema, NULL, TEXTS("price a 2400 sq ft hip roof, 7/12, architectural, one layer"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"style\":\"hip\",\"pitch_rise\":7,"
                        "\"layers\":1,\"material\":\"architectural\"}}");
    assert_missing(r.missing, "");
    result_free(&r);

    /* other ways of saying the same roof */
    r = extract_with(schema, NULL,
                     TEXTS("Quote 24 squares, hip, a 7 pitch, arch shingles, 1 layer to tear off"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"style\":\"hip\",\"pitch_rise\":7,"
                        "\"layers\":1,\"material\":\"architectural\"}}");
    result_free(&r);

    r = extract_with(schema, NULL,
                     TEXTS("standing seam on a 3,100 square foot complex roof, pitch 9, "
                           "no tear off, no permit"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":3100,\"style\":\"complex\",\"pitch_rise\":9,"
                        "\"layers\":0,\"material\":\"metal\"},\"permit\":false}");
    result_free(&r);
    json_decref(schema);
}

static void test_roof_missing_and_question(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    struct result r = extract_with(schema, NULL, TEXTS("how much for a roof"));
    assert_json(r.args, "{}");
    assert_missing(r.missing, "roof.area_sqft roof.pitch_rise roof.material");
    assert_json(json_array_get(r.missing, 0),
                "{\"path\":\"roof.area_sqft\",\"label\":\"the roof area (square feet)\"}");
    assert_json(json_array_get(r.missing, 2),
                "{\"path\":\"roof.material\",\"label\":\"the shingle or roofing material\","
                "\"choices\":[\"3-tab\",\"architectural\",\"designer\",\"metal\"]}");
    char *q = extract_question(r.missing, "To price it");
    assert_string_equal(q, "To price it, I still need the roof area (square feet), the pitch "
                           "rise and the shingle or roofing material (3-tab, architectural, "
                           "designer or metal). What are they?");
    free(q);
    result_free(&r);

    /* style and layers have defaults: never asked for */
    r = extract_with(schema, NULL, TEXTS("roof is 2000 sq ft, 6/12, 3-tab"));
    assert_missing(r.missing, "");
    assert_null(json_object_get(json_object_get(r.args, "roof"), "style"));
    result_free(&r);

    /* nothing about a roof: nothing asked */
    r = extract_with(schema, NULL, TEXTS("what does a quote include?"));
    assert_json(r.args, "{}");
    assert_missing(r.missing, "");
    result_free(&r);
    json_decref(schema);
}

static void test_answer_to_question(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    /* a bare "2400" answers the question that asked for the area */
    struct result r = extract_with(schema, "roof.area_sqft", TEXTS("how much for a roof", "2400"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400}}");
    assert_missing(r.missing, "roof.pitch_rise roof.material");
    result_free(&r);

    /* …but not when nothing asked for it */
    r = extract_with(schema, NULL, TEXTS("how much for a roof", "2400"));
    assert_json(r.args, "{}");
    result_free(&r);

    /* several answers at once */
    r = extract_with(schema, "roof.area_sqft,roof.pitch_rise,roof.material",
                     TEXTS("how much for a roof", "2400, 7/12, arch shingles"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"pitch_rise\":7,"
                        "\"material\":\"architectural\"}}");
    result_free(&r);

    /* bare numbers in the order asked… */
    r = extract_with(schema, "roof.area_sqft,roof.pitch_rise",
                     TEXTS("price an architectural roof", "2400 and 7"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"pitch_rise\":7,"
                        "\"material\":\"architectural\"}}");
    result_free(&r);
    /* …or by which range each fits */
    r = extract_with(schema, "roof.area_sqft,roof.pitch_rise",
                     TEXTS("price an architectural roof", "7 and 2400"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"pitch_rise\":7,"
                        "\"material\":\"architectural\"}}");
    result_free(&r);

    /* two numbers for one question is a guess: nothing is filled */
    r = extract_with(schema, "roof.area_sqft", TEXTS("price a roof", "about 2400, maybe 2500"));
    assert_missing(r.missing, "roof.area_sqft roof.pitch_rise roof.material");
    result_free(&r);

    /* a phone number is not an area */
    r = extract_with(schema, "roof.area_sqft", TEXTS("price a roof", "call me at 614-555-0123"));
    assert_missing(r.missing, "roof.area_sqft roof.pitch_rise roof.material");
    result_free(&r);

    /* a yes/no answers a boolean */
    r = extract_with(schema, "permit", TEXTS("160 ft of gutters", "yep"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\",\"qty\":160}],\"permit\":true}");
    result_free(&r);
    r = extract_with(schema, "permit", TEXTS("160 ft of gutters", "hmm, maybe"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\",\"qty\":160}]}");
    result_free(&r);
    json_decref(schema);
}

static void test_corrections(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    struct result r = extract_with(schema, NULL,
                                   TEXTS("price a 2400 sq ft gable roof, 6/12, 3-tab",
                                         "actually it's a hip roof, and make it 2600 sq ft"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2600,\"style\":\"hip\",\"pitch_rise\":6,"
                        "\"material\":\"3-tab\"}}");
    result_free(&r);

    /* within one message the last word stands, a negated one never does */
    r = extract_with(schema, NULL, TEXTS("gable, no wait, hip roof"));
    assert_json(r.args, "{\"roof\":{\"style\":\"hip\"}}");
    result_free(&r);
    r = extract_with(schema, NULL, TEXTS("a hip roof, not gable"));
    assert_json(r.args, "{\"roof\":{\"style\":\"hip\"}}");
    result_free(&r);
    r = extract_with(schema, NULL, TEXTS("designer shingles", "go with dimensional instead"));
    assert_json(r.args, "{\"roof\":{\"material\":\"architectural\"}}");
    result_free(&r);

    /* permit said, then taken back */
    r = extract_with(schema, NULL, TEXTS("160 ft of gutters with a permit", "skip the permit"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\",\"qty\":160}],\"permit\":false}");
    result_free(&r);
    json_decref(schema);
}

static void test_items(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    struct result r = extract_with(schema, NULL, TEXTS("160 ft of gutters and 2 skylights"));
    assert_json(r.args,
                "{\"items\":[{\"id\":\"gutters\",\"qty\":160},{\"id\":\"skylight\",\"qty\":2}]}");
    assert_missing(r.missing, "");
    result_free(&r);

    /* quantities after the item, words for numbers, labels as names */
    r = extract_with(schema, NULL,
                     TEXTS("gutters: 160 lf, skylights x2 and three double-hung vinyl windows"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\",\"qty\":160},{\"id\":\"skylight\","
                        "\"qty\":2},{\"id\":\"window\",\"qty\":3}]}");
    result_free(&r);

    /* "no gutters" later removes them; a new quantity replaces the old */
    r = extract_with(
        schema, NULL,
        TEXTS("160 ft of gutters and 2 skylights", "no gutters", "make it 3 skylights"));
    assert_json(r.args, "{\"items\":[{\"id\":\"skylight\",\"qty\":3}]}");
    result_free(&r);

    /* an item without a quantity is asked for by its own path */
    r = extract_with(schema, NULL, TEXTS("add gutters and a skylight"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\"},{\"id\":\"skylight\",\"qty\":1}]}");
    assert_json(r.missing, "[{\"path\":\"items[0].qty\","
                           "\"label\":\"the quantity for gutters\"}]");
    result_free(&r);
    r = extract_with(schema, "items[0].qty", TEXTS("add gutters and a skylight", "180"));
    assert_json(r.args,
                "{\"items\":[{\"id\":\"gutters\",\"qty\":180},{\"id\":\"skylight\",\"qty\":1}]}");
    assert_missing(r.missing, "");
    result_free(&r);

    /* a roof and items together: each number goes to its own thing */
    r = extract_with(schema, NULL,
                     TEXTS("2400 sq ft hip roof, 7/12, metal roof, 160 ft of gutters"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400,\"style\":\"hip\",\"pitch_rise\":7,"
                        "\"material\":\"metal\"},\"items\":[{\"id\":\"gutters\",\"qty\":160}]}");
    result_free(&r);
    json_decref(schema);
}

static void test_item_units(void **state)
{
    (void)state;
    json_t *schema = quote_schema(true);
    struct result r = extract_with(schema, NULL, TEXTS("20 squares of siding"));
    assert_json(r.args, "{\"items\":[{\"id\":\"siding\",\"qty\":20}]}");
    result_free(&r);
    r = extract_with(schema, NULL, TEXTS("1,200 sq ft of vinyl siding"));
    assert_json(r.args, "{\"items\":[{\"id\":\"siding\",\"qty\":12}]}");
    result_free(&r);
    /* an area is not a gutter length, nor the roof's: the gutters are asked for */
    r = extract_with(schema, NULL, TEXTS("2400 sq ft of gutters"));
    assert_json(r.args, "{\"items\":[{\"id\":\"gutters\"}]}");
    assert_missing(r.missing, "items[0].qty");
    result_free(&r);
    json_decref(schema);
}

static void test_no_invention(void **state)
{
    (void)state;
    json_t *schema = quote_schema(false);
    /* a street named Hip is not a hip roof; a house number is not an area */
    struct result r = extract_with(schema, NULL, TEXTS("roof at 1234 Hip St, architectural"));
    assert_json(r.args, "{\"roof\":{\"material\":\"architectural\"}}");
    assert_missing(r.missing, "roof.area_sqft roof.pitch_rise");
    result_free(&r);
    /* a bare number is not an area, its own name is a cue */
    r = extract_with(schema, NULL, TEXTS("the roof is 2400"));
    assert_missing(r.missing, "roof.area_sqft roof.pitch_rise roof.material");
    result_free(&r);
    r = extract_with(schema, NULL, TEXTS("roof area is 2400"));
    assert_json(r.args, "{\"roof\":{\"area_sqft\":2400}}");
    result_free(&r);
    /* "7/12" is a pitch here, and a date is no area */
    r = extract_with(schema, NULL, TEXTS("roof on 11/28, 7/12"));
    assert_json(r.args, "{\"roof\":{\"pitch_rise\":7}}");
    result_free(&r);
    json_decref(schema);
}

/* ---- the new-client tool ---- */

static void test_new_client(void **state)
{
    (void)state;
    json_t *schema = load(CLIENT_SCHEMA);
    struct result r = extract_with(
        schema, NULL,
        TEXTS("new client Maria Garcia 614-555-0123 maria@example.com 1234 Maple Ave Columbus "
              "OH 43215 roofing, referral from neighbor"));
    assert_json(r.args, "{\"first_name\":\"Maria\",\"last_name\":\"Garcia\","
                        "\"phone\":\"+16145550123\",\"email\":\"maria@example.com\","
                        "\"street\":\"1234 Maple Ave\",\"city\":\"Columbus\",\"state\":\"OH\","
                        "\"zip\":\"43215\",\"trade\":\"roofing\","
                        "\"lead_source\":\"referral from neighbor\"}");
    assert_missing(r.missing, "");
    result_free(&r);

    /* over several turns, each answering the question before it */
    r = extract_with(schema, NULL, TEXTS("new client Maria Garcia, (614) 555-0123, needs a roof"));
    assert_missing(r.missing, "street city state zip");
    char *q = extract_question(r.missing, NULL);
    assert_string_equal(q, "I still need the street address, the city, the two-letter state and "
                           "the ZIP code. What are they?");
    free(q);
    result_free(&r);
    r = extract_with(schema, "city",
                     TEXTS("new client Maria Garcia, (614) 555-0123, needs a roof",
                           "1234 Maple Ave, 43215", "Grove City"));
    assert_json(r.args, "{\"first_name\":\"Maria\",\"last_name\":\"Garcia\","
                        "\"phone\":\"+16145550123\",\"street\":\"1234 Maple Ave\","
                        "\"zip\":\"43215\",\"trade\":\"roofing\",\"city\":\"Grove City\"}");
    assert_missing(r.missing, "state");
    result_free(&r);
    r = extract_with(schema, "state", TEXTS("client Maria Garcia", "Ohio."));
    assert_json(json_object_get(r.args, "state"), "\"OH\"");
    result_free(&r);

    /* cues: "notes:" keeps its commas; a later firm name replaces, a bare pair does not */
    r = extract_with(schema, NULL,
                     TEXTS("client John Smith, notes: dog in the yard, gate code 1234",
                           "Standing Seam Metal is what he wants", "last name is Smyth"));
    assert_json(json_object_get(r.args, "notes"), "\"dog in the yard, gate code 1234\"");
    assert_json(json_object_get(r.args, "first_name"), "\"John\"");
    assert_json(json_object_get(r.args, "last_name"), "\"Smyth\"");
    result_free(&r);
    json_decref(schema);
}

static void test_other_shapes(void **state)
{
    (void)state;
    /* dates, job ids, sets of enum strings, integer ZIPs */
    json_t *schema = load("{\"type\":\"object\",\"properties\":{"
                          " \"job_id\":{\"type\":\"integer\",\"description\":\"CRM job number\"},"
                          " \"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
                          " \"trades\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
                          "  \"enum\":[\"roofing\",\"siding\",\"gutters\"]}},"
                          " \"budget\":{\"type\":\"number\",\"description\":\"Budget in dollars\"},"
                          " \"email\":{\"type\":\"string\",\"description\":\"Email address\"}},"
                          " \"required\":[\"job_id\",\"when\"]}");
    struct result r = extract_with(
        schema, NULL,
        TEXTS("schedule job #1042 for tomorrow at 3, roofing and gutters, budget $23.5k",
              "no gutters after all, add siding; email JOE@Example.com"));
    assert_json(r.args, "{\"job_id\":1042,\"when\":\"2024-11-26T15:00:00\","
                        "\"trades\":[\"roofing\",\"siding\"],"
                        "\"budget\":23500,\"email\":\"joe@example.com\"}");
    assert_missing(r.missing, "");
    result_free(&r);

    r = extract_with(schema, NULL, TEXTS("schedule something"));
    assert_missing(r.missing, "job_id when");
    result_free(&r);
    json_decref(schema);

    /* a date field takes the date of a date and time; an answer fills a plain number */
    schema = load("{\"type\":\"object\",\"properties\":{"
                  "\"day\":{\"type\":\"string\",\"description\":\"Appointment date\"},"
                  "\"zip\":{\"type\":\"integer\",\"description\":\"ZIP\"},"
                  "\"discount_pct\":{\"type\":\"number\",\"maximum\":20}}}");
    r = extract_with(schema, "discount_pct", TEXTS("Nov 28 at 2pm, zip 43215", "5"));
    assert_json(r.args, "{\"day\":\"2024-11-28\",\"zip\":43215,\"discount_pct\":5}");
    result_free(&r);
    r = extract_with(schema, "discount_pct", TEXTS("Nov 28", "25"));
    assert_json(r.args, "{\"day\":\"2024-11-28\"}");
    result_free(&r);
    json_decref(schema);
}

/* ---- questions, labels, errors ---- */

static void test_question_and_labels(void **state)
{
    (void)state;
    json_t *one = load("[{\"path\":\"zip\",\"label\":\"the ZIP code\"}]");
    char *q = extract_question(one, "To add the client,");
    assert_string_equal(q, "To add the client, I still need the ZIP code. What is it?");
    free(q);
    json_decref(one);
    json_t *empty = json_array();
    assert_null(extract_question(empty, "x"));
    assert_null(extract_question(NULL, NULL));
    json_decref(empty);

    struct {
        const char *schema, *name, *label;
    } cases[] = {
        {"{\"description\":\"Roof area in square feet\"}", "area_sqft",
         "the roof area (square feet)"},
        {"{\"description\":\"Existing layers of shingles to tear off (default 1)\"}", "layers",
         "the existing layers of shingles to tear off"},
        {"{\"description\":\"ZIP code. Five digits.\"}", "zip", "the ZIP code"},
        {"{\"title\":\"Customer phone\",\"description\":\"ignored\"}", "phone",
         "the customer phone"},
        {"{}", "first_name", "the first name"},
        {"{}", "leadSource", "the lead source"},
        {"{\"description\":\"The street address, e.g. 1234 Maple Ave\"}", "street",
         "the street address"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *p = load(cases[k].schema);
        char label[200];
        extract_label(p, cases[k].name, label, sizeof label);
        assert_string_equal(label, cases[k].label);
        json_decref(p);
    }
}

static void test_errors(void **state)
{
    (void)state;
    /* outputs are reset to NULL on error */
    json_t *sentinel = json_object(), *args = sentinel, *missing = sentinel;
    char err[200] = "";
    json_t *bad = load("{\"type\":\"string\"}");
    const char *texts[] = {"hello"};
    assert_int_equal(extract_arguments(bad, texts, 1, NULL, &args, &missing, err, sizeof err),
                     ERR_INVALID);
    assert_null(args);
    assert_null(missing);
    assert_true(strlen(err) > 0);
    json_decref(bad);

    json_t *schema = quote_schema(false);
    assert_int_equal(extract_arguments(schema, texts, 1, NULL, NULL, &missing, err, sizeof err),
                     ERR_INVALID);
    static char big[ENTITY_TEXT_LIMIT + 10];
    memset(big, 'x', sizeof big - 1);
    const char *long_texts[] = {"price a roof", big};
    assert_int_equal(
        extract_arguments(schema, long_texts, 2, NULL, &args, &missing, err, sizeof err),
        ERR_LIMIT);
    assert_null(args);
    assert_non_null(strstr(err, "message 2 is longer"));

    /* short but with more values than a message may hold */
    static char dense[ENTITY_TEXT_LIMIT];
    size_t n = 0;
    for (int k = 0; k < ENTITY_LIST_LIMIT + 10; k++)
        n += (size_t)snprintf(dense + n, sizeof dense - n, "%d ", k % 10);
    const char *dense_texts[] = {dense};
    assert_int_equal(
        extract_arguments(schema, dense_texts, 1, NULL, &args, &missing, err, sizeof err),
        ERR_LIMIT);
    assert_non_null(strstr(err, "message 1 has more than"));

    /* no texts at all: nothing found, the root's required listed */
    assert_int_equal(extract_arguments(schema, NULL, 0, NULL, &args, &missing, err, sizeof err), 0);
    assert_json(args, "{}");
    assert_json(missing, "[]");
    json_decref(args);
    json_decref(missing);
    json_decref(schema);
    json_decref(sentinel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_roof),
        cmocka_unit_test(test_roof_missing_and_question),
        cmocka_unit_test(test_answer_to_question),
        cmocka_unit_test(test_corrections),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_item_units),
        cmocka_unit_test(test_no_invention),
        cmocka_unit_test(test_new_client),
        cmocka_unit_test(test_other_shapes),
        cmocka_unit_test(test_question_and_labels),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
