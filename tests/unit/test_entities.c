/* test_entities — the recognisers of src/llm/local/entities.h: each with the
 * many ways reps say a thing, and the near misses it must not take. Tables
 * of (text, expected) keep a new phrasing to one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "llm/local/entities.h"

typedef int find_fn(const char *text, struct entity_list *out);

/* Runs fn on text and returns the list (caller frees). */
static struct entity_list run(find_fn *fn, const char *text)
{
    struct entity_list l;
    entity_list_init(&l);
    int rc = fn(text, &l);
    if (rc < 0)
        fail_msg("recogniser failed on \"%s\": %d", text, rc);
    assert_int_equal((size_t)rc, l.len);
    return l;
}

/* The only entity of kind in the list (fails when none or several). */
static const struct entity *only(const struct entity_list *l, enum entity_kind kind,
                                 const char *text)
{
    const struct entity *found = NULL;
    size_t n = 0;
    for (size_t k = 0; k < l->len; k++)
        if (l->items[k].kind == kind) {
            found = &l->items[k];
            n++;
        }
    if (n != 1)
        fail_msg("\"%s\": %zu %s matches, want 1", text, n, entity_kind_name(kind));
    return found;
}

static size_t count_kind(const struct entity_list *l, enum entity_kind kind)
{
    size_t n = 0;
    for (size_t k = 0; k < l->len; k++)
        n += l->items[k].kind == kind;
    return n;
}

struct numeric_case {
    const char *text;
    double value;
    const char *norm; /* NULL: not checked */
};

static void check_numeric(find_fn *fn, enum entity_kind kind, const struct numeric_case *cases)
{
    for (const struct numeric_case *c = cases; c->text; c++) {
        struct entity_list l = run(fn, c->text);
        const struct entity *e = only(&l, kind, c->text);
        if (e->value < c->value - 1e-6 || e->value > c->value + 1e-6)
            fail_msg("\"%s\": %s %g, want %g", c->text, entity_kind_name(kind), e->value, c->value);
        if (c->norm && strcmp(e->norm, c->norm) != 0)
            fail_msg("\"%s\": norm \"%s\", want \"%s\"", c->text, e->norm, c->norm);
        entity_list_free(&l);
    }
}

static void check_none(find_fn *fn, enum entity_kind kind, const char *const *texts)
{
    for (; *texts; texts++) {
        struct entity_list l = run(fn, *texts);
        if (count_kind(&l, kind) != 0)
            fail_msg("\"%s\": unexpected %s \"%s\"", *texts, entity_kind_name(kind),
                     l.items[0].norm);
        entity_list_free(&l);
    }
}

/* The original text an entity spans. */
static void span_text(const char *text, const struct entity *e, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)(e->end - e->start), text + e->start);
}

/* ---- numbers and quantities ---- */

static void test_numbers(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"2,400", 2400, "2400"},
        {"about 2400.5 feet", 2400.5, "2400.5"},
        {"2.4k", 2400, "2400"},
        {"23k", 23000, "23000"},
        {"twenty", 20, "20"},
        {"one", 1, "1"},
        {"seventeen", 17, NULL},
        {"twenty-five", 25, "25"},
        {"two thousand four hundred", 2400, "2400"},
        {"twenty four hundred", 2400, "2400"},
        {"a couple", 2, "2"},
        {"a dozen", 12, "12"},
        {"a hundred", 100, "100"},
        {"3 thousand", 3000, "3000"},
        {NULL, 0, NULL},
    };
    check_numeric(entity_find_numbers, ENTITY_NUMBER, cases);
    static const char *const none[] = {"hello there", "J1042", "a roof", "", NULL};
    check_none(entity_find_numbers, ENTITY_NUMBER, none);

    /* "1,2" is two numbers, not one thousand-something */
    struct entity_list l = run(entity_find_numbers, "1,2 and 3");
    assert_int_equal(l.len, 3);
    entity_list_free(&l);
}

static void test_areas(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"2400 sq ft", 2400, "2400"},
        {"2,400 sqft", 2400, NULL},
        {"2400sqft roof", 2400, NULL},
        {"2400 square feet", 2400, NULL},
        {"2400 sq. ft.", 2400, NULL},
        {"2400 SF", 2400, NULL},
        {"2400 ft2", 2400, NULL},
        {"a 2400-square-foot house", 2400, NULL},
        {"2.4k sq ft", 2400, NULL},
        {"twenty four hundred square feet", 2400, NULL},
        {"24 squares", 2400, "2400"},
        {"it's 24 roofing squares", 2400, NULL},
        {"30 sq", 3000, NULL},
        {"2400 sq", 2400, NULL}, /* a lazy "sq ft", not 2400 squares */
        {NULL, 0, NULL},
    };
    check_numeric(entity_find_quantities, ENTITY_AREA, cases);
    static const char *const none[] = {"2400", "160 ft of gutters", "7/12", "$2400", NULL};
    check_none(entity_find_quantities, ENTITY_AREA, none);

    /* how it was said survives the conversion */
    struct entity_list l = run(entity_find_quantities, "roof is 24 squares");
    const struct entity *e = only(&l, ENTITY_AREA, "24 squares");
    assert_int_equal(e->unit, ENTITY_UNIT_SQUARES);
    assert_true(e->said == 24);
    char span[64];
    span_text("roof is 24 squares", e, span, sizeof span);
    assert_string_equal(span, "24 squares");
    entity_list_free(&l);
}

static void test_lengths(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"160 ft of gutters", 160, "160"},     {"160 lf", 160, NULL},
        {"160 linear feet", 160, NULL},        {"160 lin. ft.", 160, NULL},
        {"160' of gutter", 160, NULL},         {"160 feet", 160, NULL},
        {"one hundred sixty feet", 160, NULL}, {NULL, 0, NULL},
    };
    check_numeric(entity_find_quantities, ENTITY_LENGTH, cases);
    static const char *const none[] = {"2400 sq ft", "160", "2 skylights", "it's 160 ' x", NULL};
    check_none(entity_find_quantities, ENTITY_LENGTH, none);

    struct entity_list l = run(entity_find_quantities, "160 ft of seamless gutters");
    assert_string_equal(only(&l, ENTITY_LENGTH, "gutters")->noun, "gutter");
    entity_list_free(&l);
}

static void test_counts(void **state)
{
    (void)state;
    struct {
        const char *text;
        double value;
        const char *noun;
    } cases[] = {
        {"2 skylights", 2, "skylight"},   {"three windows", 3, "window"},
        {"a couple of vents", 2, "vent"}, {"2 new skylights", 2, "skylight"},
        {"replace 12 boxes", 12, "box"},  {"one chimney", 1, "chimney"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l = run(entity_find_quantities, cases[k].text);
        const struct entity *e = only(&l, ENTITY_COUNT, cases[k].text);
        assert_true(e->value == cases[k].value);
        assert_string_equal(e->noun, cases[k].noun);
        entity_list_free(&l);
    }
    static const char *const none[] = {"at 10am",    "7/12",    "2 of them",
                                       "2400 sq ft", "3 and 4", NULL};
    check_none(entity_find_quantities, ENTITY_COUNT, none);
}

static void test_pitches(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"7/12", 7, "7/12"},
        {"a 7/12 roof", 7, NULL},
        {"7 12", 7, NULL},
        {"7 on 12", 7, NULL},
        {"7 in 12", 7, NULL},
        {"7:12", 7, NULL},
        {"a 7-12 pitch", 7, NULL},
        {"a 7 pitch", 7, NULL},
        {"7-pitch", 7, NULL},
        {"pitch 7", 7, NULL},
        {"the pitch is a 9", 9, NULL},
        {"pitch: 6", 6, NULL},
        {"slope of 4.5", 4.5, "4.5/12"},
        {"12/12", 12, "12/12"},
        {"seven on twelve", 7, NULL},
        {"pitch 7/12", 7, NULL},
        {"7/12 pitch", 7, NULL},
        {"flat, 0/12", 0, "0/12"},
        {NULL, 0, NULL},
    };
    check_numeric(entity_find_pitches, ENTITY_PITCH, cases);
    static const char *const none[] = {"11/28", "7/12/2024", "pitch 30",    "2400 sq ft",
                                       "25/12", "7 12 ft",   "2 skylights", NULL};
    check_none(entity_find_pitches, ENTITY_PITCH, none);
}

static void test_layers(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"one layer", 1, "1"},
        {"2 layers", 2, "2"},
        {"two existing layers", 2, NULL},
        {"single layer", 1, NULL},
        {"no tear off", 0, "0"},
        {"no tear-off please", 0, NULL},
        {"without a tearoff", 0, NULL},
        {"it's an overlay", 0, NULL},
        {"lay over the old shingles", 0, NULL},
        {"tear off 2 layers", 2, NULL},
        {"tear off 3", 3, NULL},
        {"layers: 2", 2, NULL},
        {NULL, 0, NULL},
    };
    check_numeric(entity_find_layers, ENTITY_LAYERS, cases);
    static const char *const none[] = {"tear off", "2 skylights", "layered look", "15 layers",
                                       NULL};
    check_none(entity_find_layers, ENTITY_LAYERS, none);

    /* "tear off 2 layers" is one match, not two */
    struct entity_list l = run(entity_find_layers, "tear off 2 layers");
    assert_int_equal(l.len, 1);
    entity_list_free(&l);
}

static void test_money(void **state)
{
    (void)state;
    static const struct numeric_case cases[] = {
        {"$23,513.67", 23513.67, "23513.67"},
        {"total was 23.5k", 23500, "23500.00"},
        {"23k", 23000, NULL},
        {"$1.2m", 1200000, NULL},
        {"$500", 500, "500.00"},
        {"500 dollars", 500, NULL},
        {"about 800 bucks", 800, NULL},
        {NULL, 0, NULL},
    };
    check_numeric(entity_find_money, ENTITY_MONEY, cases);
    static const char *const none[] = {"2.4k sq ft", "2400", "2 skylights", "160 ft", NULL};
    check_none(entity_find_money, ENTITY_MONEY, none);
}

static void test_job_ids(void **state)
{
    (void)state;
    struct {
        const char *text, *norm;
        double value;
    } cases[] = {
        {"job 1042", "1042", 1042},
        {"draft a script for job #1042", "1042", 1042},
        {"#1042", "1042", 1042},
        {"job id J-1042", "J-1042", 1042},
        {"job number: 1042", "1042", 1042},
        {"Job j1042", "J1042", 1042},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l = run(entity_find_job_ids, cases[k].text);
        const struct entity *e = only(&l, ENTITY_JOB_ID, cases[k].text);
        assert_string_equal(e->norm, cases[k].norm);
        assert_true(e->value == cases[k].value);
        entity_list_free(&l);
    }
    static const char *const none[] = {"apt #4", "the job", "job 2400 sq ft", "1042", NULL};
    check_none(entity_find_job_ids, ENTITY_JOB_ID, none);
}

/* ---- contacts ---- */

static void test_phones(void **state)
{
    (void)state;
    static const char *const good[] = {
        "614-555-0123", "(614) 555-0123",     "614.555.0123",      "614 555 0123",
        "6145550123",   "+1 614 555 0123",    "1-614-555-0123",    "+1 (614) 555-0123",
        "+16145550123", "call 614-555-0123.", "cell:614-555-0123", "16145550123",
        NULL,
    };
    for (const char *const *t = good; *t; t++) {
        struct entity_list l = run(entity_find_phones, *t);
        const struct entity *e = only(&l, ENTITY_PHONE, *t);
        assert_string_equal(e->norm, "+16145550123");
        entity_list_free(&l);
    }
    static const char *const none[] = {
        "555-0123",   "614-555-012", "+44 20 7946 0958", "123-456-7890", "614-055-0123",  "2,400",
        "11/28/2024", "43215",       "614-555-01234",    "26145550123",  "$614-555-0123", NULL,
    };
    check_none(entity_find_phones, ENTITY_PHONE, none);

    /* beside a ZIP, the phone is still found whole */
    struct entity_list l = run(entity_find_phones, "OH 43215 614 555 0123");
    char span[32];
    span_text("OH 43215 614 555 0123", only(&l, ENTITY_PHONE, "zip+phone"), span, sizeof span);
    assert_string_equal(span, "614 555 0123");
    entity_list_free(&l);
}

static void test_emails(void **state)
{
    (void)state;
    struct {
        const char *text, *norm;
    } cases[] = {
        {"maria@example.com", "maria@example.com"},
        {"email Maria.Garcia+roof@Example.co.uk.", "maria.garcia+roof@example.co.uk"},
        {"(maria_g@mail-host.example.org)", "maria_g@mail-host.example.org"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l = run(entity_find_emails, cases[k].text);
        assert_string_equal(only(&l, ENTITY_EMAIL, cases[k].text)->norm, cases[k].norm);
        entity_list_free(&l);
    }
    static const char *const none[] = {"maria@", "@example.com",       "maria@example",
                                       "a@b.c",  "maria@@example.com", "me at example dot com",
                                       NULL};
    check_none(entity_find_emails, ENTITY_EMAIL, none);
}

static void test_addresses(void **state)
{
    (void)state;
    struct {
        const char *text, *street, *city, *state, *zip;
    } cases[] = {
        {"1234 Maple Ave", "1234 Maple Ave", "", "", ""},
        {"1234 Maple Ave Columbus OH 43215", "1234 Maple Ave", "Columbus", "OH", "43215"},
        {"at 1234 N. High St., Columbus, OH 43215-1234", "1234 N. High St", "Columbus", "OH",
         "43215-1234"},
        {"1234 maple avenue", "1234 Maple Avenue", "", "", ""},
        {"55 Oak St Apt 4, Grove City, Ohio", "55 Oak St Apt 4", "Grove City", "OH", ""},
        {"900 W 5th St Dublin OH", "900 W 5th St", "Dublin", "OH", ""},
        {"Columbus, OH 43215", "", "Columbus", "OH", "43215"},
        {"zip 43215", "", "", "", "43215"},
        {"OH 43215", "", "", "OH", "43215"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l = run(entity_find_addresses, cases[k].text);
        const struct entity *e = only(&l, ENTITY_ADDRESS, cases[k].text);
        assert_string_equal(e->address.street, cases[k].street);
        assert_string_equal(e->address.city, cases[k].city);
        assert_string_equal(e->address.state, cases[k].state);
        assert_string_equal(e->address.zip, cases[k].zip);
        entity_list_free(&l);
    }
    static const char *const none[] = {"2400 sq ft",
                                       "2 skylights and gutters",
                                       "I have 3 big dogs",
                                       "160 ft of gutters",
                                       "it's OK",
                                       "7/12 pitch",
                                       NULL};
    check_none(entity_find_addresses, ENTITY_ADDRESS, none);

    struct entity_list l = run(entity_find_addresses, "1234 Maple Ave Columbus OH 43215");
    assert_string_equal(l.items[0].norm, "1234 Maple Ave, Columbus, OH 43215");
    entity_list_free(&l);

    assert_string_equal(entity_us_state("ohio"), "OH");
    assert_string_equal(entity_us_state(" New York "), "NY");
    assert_string_equal(entity_us_state("tx"), "TX");
    assert_null(entity_us_state("Columbus"));
    assert_null(entity_us_state(NULL));
}

static void test_persons(void **state)
{
    (void)state;
    struct {
        const char *text, *first, *last;
        int confidence;
    } cases[] = {
        {"new client Maria Garcia", "Maria", "Garcia", 2},
        {"price a roof for John Smith", "John", "Smith", 2},
        {"customer: Ann O'Brien", "Ann", "O'Brien", 2},
        {"Mrs. Garcia wants a quote", "", "Garcia", 2},
        {"Mr. John Smith", "John", "Smith", 2},
        {"her name is maria garcia", "Maria", "Garcia", 2},
        {"last name is Garcia", "", "Garcia", 2},
        {"the Garcia job", "", "Garcia", 2},
        {"homeowner Lee Smith-Jones", "Lee", "Smith-Jones", 2},
        {"Maria Garcia called back", "Maria", "Garcia", 1},
        {"client MARIA GARCIA", "Maria", "Garcia", 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l = run(entity_find_persons, cases[k].text);
        const struct entity *e = only(&l, ENTITY_PERSON, cases[k].text);
        assert_string_equal(e->person.first, cases[k].first);
        assert_string_equal(e->person.last, cases[k].last);
        assert_int_equal(e->confidence, cases[k].confidence);
        entity_list_free(&l);
    }
    static const char *const none[] = {
        "price a roof for Tuesday", "Standing Seam Metal", "for the roof",   "Maple Ave",
        "How much for a roof?",     "New client",          "I need a quote", NULL};
    check_none(entity_find_persons, ENTITY_PERSON, none);
}

/* ---- dates and times ---- */

static void test_datetimes(void **state)
{
    (void)state;
    /* Monday 2024-11-25 10:00 */
    struct tm now = {.tm_year = 124, .tm_mon = 10, .tm_mday = 25, .tm_hour = 10};
    struct {
        const char *text, *norm;
    } cases[] = {
        {"tomorrow at 3", "2024-11-26T15:00:00"},
        {"Tuesday 10am", "2024-11-26T10:00:00"},
        {"11/28", "2024-11-28"},
        {"Nov 28 at 2pm", "2024-11-28T14:00:00"},
        {"November 28th at 2:30 p.m.", "2024-11-28T14:30:00"},
        {"on 28 Nov", "2024-11-28"},
        {"monday", "2024-12-02"},
        {"next Friday at 9", "2024-11-29T09:00:00"},
        {"11/20", "2025-11-20"},
        {"12/5/2025", "2025-12-05"},
        {"2024-12-05", "2024-12-05"},
        {"December 5th, 2025", "2025-12-05"},
        {"at 9", "2024-11-26T09:00:00"},
        {"at 3:30 pm", "2024-11-25T15:30:00"},
        {"noon tomorrow", "2024-11-26T12:00:00"},
        {"tomorrow morning", "2024-11-26T09:00:00"},
        {"Wednesday in the afternoon", "2024-11-27T14:00:00"},
        {"the 28th", "2024-11-28"},
        {"the 3rd", "2024-12-03"},
        {"day after tomorrow", "2024-11-27"},
        {"today at 4", "2024-11-25T16:00:00"},
        {"3 o'clock Thursday", "2024-11-28T15:00:00"},
        {"2/29/2028", "2028-02-29"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct entity_list l;
        entity_list_init(&l);
        assert_true(entity_find_datetimes(cases[k].text, &now, &l) >= 0);
        const struct entity *e = only(&l, ENTITY_DATETIME, cases[k].text);
        if (strcmp(e->norm, cases[k].norm) != 0)
            fail_msg("\"%s\": %s, want %s", cases[k].text, e->norm, cases[k].norm);
        entity_list_free(&l);
    }
    static const char *const none[] = {"2 skylights", "at 2400 sq ft", "13/45",   "at 25",
                                       "2/30/2025",   "may I ask",     "at last", NULL};
    for (const char *const *t = none; *t; t++) {
        struct entity_list l;
        entity_list_init(&l);
        assert_true(entity_find_datetimes(*t, &now, &l) >= 0);
        if (l.len)
            fail_msg("\"%s\": unexpected datetime %s", *t, l.items[0].norm);
        entity_list_free(&l);
    }

    /* a date alone says so */
    struct entity_list l;
    entity_list_init(&l);
    entity_find_datetimes("11/28", &now, &l);
    assert_true(l.items[0].has_date);
    assert_false(l.items[0].has_time);
    entity_list_free(&l);
    assert_int_equal(entity_find_datetimes("x", NULL, &l), ERR_INVALID);
}

/* ---- answers ---- */

static void test_answers(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "yes", "Yep", "yeah that's right", "correct",    "go ahead",   "Sure, do it",
        "ok",  "y",   "sounds good!",      "no problem", "absolutely", NULL};
    static const char *const no[] = {
        "no", "nope",  "hold on",     "wait", "not yet", "No.", "that's not correct",
        "n",  "don't", "cancel that", NULL};
    static const char *const unsure[] = {
        "maybe",          "I guess",  "hmm",    "hmmm",         "not sure",
        "yes... I guess", "probably", "yes no", "I don't know", NULL};
    static const char *const nothing[] = {"2400 sq ft", "what about gutters?", "", "k thanks",
                                          NULL};
    for (const char *const *t = yes; *t; t++)
        if (entity_answer_of(*t) != ENTITY_ANSWER_YES)
            fail_msg("\"%s\" should be yes", *t);
    for (const char *const *t = no; *t; t++)
        if (entity_answer_of(*t) != ENTITY_ANSWER_NO)
            fail_msg("\"%s\" should be no", *t);
    for (const char *const *t = unsure; *t; t++)
        if (entity_answer_of(*t) != ENTITY_ANSWER_AMBIGUOUS)
            fail_msg("\"%s\" should be ambiguous", *t);
    for (const char *const *t = nothing; *t; t++)
        if (entity_answer_of(*t) != ENTITY_ANSWER_NONE)
            fail_msg("\"%s\" should be no answer", *t);

    struct entity_list l = run(entity_find_answer, "well, go ahead");
    const struct entity *e = only(&l, ENTITY_ANSWER, "go ahead");
    assert_true(e->value == ENTITY_ANSWER_YES);
    char span[32];
    span_text("well, go ahead", e, span, sizeof span);
    assert_string_equal(span, "go ahead");
    entity_list_free(&l);
}

/* ---- enum choices ---- */

static const char *const arch_aliases[] = {"Architectural Shingles", "dimensional", "arch",
                                           "laminated"};
static const char *const tab_aliases[] = {"3-Tab Asphalt Shingles", "three tab", "3 tab",
                                          "builder grade"};
static const char *const metal_aliases[] = {"Standing Seam Metal", "standing seam", "metal roof"};
static const struct entity_choice materials[] = {
    {"3-tab", tab_aliases, 4},
    {"architectural", arch_aliases, 4},
    {"designer", NULL, 0},
    {"metal", metal_aliases, 3},
};
static const struct entity_choice items[] = {
    {"gutters", NULL, 0},
    {"skylight", NULL, 0},
    {"window", NULL, 0},
};
static const struct entity_choice styles[] = {{"gable", NULL, 0}, {"hip", NULL, 0}};

static const char *choice_of(const char *text, const struct entity_choice *c, size_t n,
                             bool *negated)
{
    static char value[ENTITY_NORM_MAX];
    struct entity_list l;
    entity_list_init(&l);
    int rc = entity_find_choices(text, c, n, &l);
    assert_int_equal((size_t)rc, l.len);
    if (l.len != 1) {
        entity_list_free(&l);
        return NULL;
    }
    snprintf(value, sizeof value, "%s", l.items[0].norm);
    if (negated)
        *negated = l.items[0].negated;
    entity_list_free(&l);
    return value;
}

static void test_choices(void **state)
{
    (void)state;
    struct {
        const char *text, *value;
    } cases[] = {
        {"arch shingles", "architectural"},
        {"go with dimensional", "architectural"},
        {"ARCHITECTURAL", "architectural"},
        {"Architectural Shingles", "architectural"},
        {"3-tab", "3-tab"},
        {"3 tab", "3-tab"},
        {"3tab", "3-tab"},
        {"three-tab", "3-tab"},
        {"builder-grade", "3-tab"},
        {"standing seam metal roof", "metal"},
        {"a metal roof", "metal"},
        {"Designer", "designer"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *v = choice_of(cases[k].text, materials, 4, NULL);
        if (!v || strcmp(v, cases[k].value) != 0)
            fail_msg("\"%s\": %s, want %s", cases[k].text, v ? v : "(none or several)",
                     cases[k].value);
    }
    assert_string_equal(choice_of("hip roof", styles, 2, NULL), "hip");
    assert_string_equal(choice_of("a hip-roof", styles, 2, NULL), "hip");
    assert_string_equal(choice_of("Gables", styles, 2, NULL), "gable");
    assert_string_equal(choice_of("2 skylights", items, 3, NULL), "skylight");
    assert_string_equal(choice_of("a gutter", items, 3, NULL), "gutters");
    assert_string_equal(choice_of("three windows", items, 3, NULL), "window");
    /* whole words only */
    static const char *const none[] = {"hipster", "tab", "architecturally", "3", "seam", NULL};
    for (const char *const *t = none; *t; t++)
        if (choice_of(*t, materials, 4, NULL) || choice_of(*t, styles, 2, NULL))
            fail_msg("\"%s\" should match no choice", *t);

    /* negation */
    static const char *const negated[] = {
        "no gutters",         "without gutters",        "skip the gutters", "we don't need gutters",
        "gutters not needed", "don’t want the gutters", "no new gutters",   NULL};
    for (const char *const *t = negated; *t; t++) {
        bool neg = false;
        assert_non_null(choice_of(*t, items, 3, &neg));
        if (!neg)
            fail_msg("\"%s\" should be negated", *t);
    }
    static const char *const positive[] = {"gutters", "no tear off and gutters",
                                           "no, gutters please", "gutters are needed", NULL};
    for (const char *const *t = positive; *t; t++) {
        bool neg = true;
        assert_non_null(choice_of(*t, items, 3, &neg));
        if (neg)
            fail_msg("\"%s\" should not be negated", *t);
    }

    /* "not gable, hip": two mentions, only the first negated */
    struct entity_list l;
    entity_list_init(&l);
    assert_int_equal(entity_find_choices("not gable, hip", styles, 2, &l), 2);
    assert_true(l.items[0].negated);
    assert_string_equal(l.items[1].norm, "hip");
    assert_false(l.items[1].negated);
    entity_list_free(&l);
    entity_list_init(&l);
    assert_int_equal(entity_find_choices("hip instead of gable", styles, 2, &l), 2);
    assert_false(l.items[0].negated);
    assert_true(l.items[1].negated);
    entity_list_free(&l);
}

/* ---- everything at once, limits ---- */

static void test_find_all(void **state)
{
    (void)state;
    const char *text = "new client Maria Garcia 614-555-0123 maria@example.com "
                       "1234 Maple Ave Columbus OH 43215, 2400 sq ft, 7/12, tomorrow at 3";
    struct tm now = {.tm_year = 124, .tm_mon = 10, .tm_mday = 25, .tm_hour = 10};
    struct entity_list l;
    entity_list_init(&l);
    assert_true(entity_find_all(text, &now, &l) > 0);
    assert_int_equal(count_kind(&l, ENTITY_PHONE), 1);
    assert_int_equal(count_kind(&l, ENTITY_EMAIL), 1);
    assert_int_equal(count_kind(&l, ENTITY_ADDRESS), 1);
    assert_int_equal(count_kind(&l, ENTITY_PERSON), 1);
    assert_int_equal(count_kind(&l, ENTITY_AREA), 1);
    assert_int_equal(count_kind(&l, ENTITY_PITCH), 1);
    /* "7/12" is also July 12: the recognisers do not decide for the caller */
    assert_int_equal(count_kind(&l, ENTITY_DATETIME), 2);
    entity_list_free(&l);
}

static void test_limits(void **state)
{
    (void)state;
    struct entity_list l;
    entity_list_init(&l);
    static char big[ENTITY_TEXT_LIMIT + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(entity_find_numbers(big, &l), ERR_LIMIT);
    assert_int_equal(entity_find_numbers(NULL, &l), ERR_INVALID);
    assert_int_equal(entity_find_numbers("1", NULL), ERR_INVALID);

    /* more matches than a list holds */
    static char many[ENTITY_TEXT_LIMIT];
    size_t n = 0;
    for (int k = 0; k < ENTITY_LIST_LIMIT + 10; k++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%d ", k % 10);
    assert_int_equal(entity_find_numbers(many, &l), ERR_LIMIT);
    assert_int_equal(l.len, ENTITY_LIST_LIMIT);
    entity_list_free(&l);

    /* bytes of every value do not crash any recogniser */
    char odd[256];
    for (int k = 0; k < 255; k++)
        odd[k] = (char)(k + 1);
    odd[255] = '\0';
    struct tm now = {.tm_year = 124, .tm_mon = 0, .tm_mday = 1};
    entity_list_init(&l);
    assert_true(entity_find_all(odd, &now, &l) >= 0);
    entity_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_areas),
        cmocka_unit_test(test_lengths),   cmocka_unit_test(test_counts),
        cmocka_unit_test(test_pitches),   cmocka_unit_test(test_layers),
        cmocka_unit_test(test_money),     cmocka_unit_test(test_job_ids),
        cmocka_unit_test(test_phones),    cmocka_unit_test(test_emails),
        cmocka_unit_test(test_addresses), cmocka_unit_test(test_persons),
        cmocka_unit_test(test_datetimes), cmocka_unit_test(test_answers),
        cmocka_unit_test(test_choices),   cmocka_unit_test(test_find_all),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
