/* test_state — typed workflow states (harde/state.h, harde/states.h): every
 * validator with good and bad values, missing fields in table order,
 * corrections, lists, the JSON round trip and refusals of bad JSON, the
 * summaries, the confirmation handshake, idle expiry, draft revisions, and
 * the generated JSON Schema checked and used with agent/schema.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/schema.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "harde/state.h"
#include "harde/states.h"

#define ERR_LEN 1024

/* Sets name from text on a fresh state of desc; returns the stored value as
 * text (new) or "ERR: <message>" (new). */
static char *try_set(const struct state_desc *desc, const char *name, const char *text)
{
    struct state_header *h = state_new(desc);
    char err[ERR_LEN] = "";
    struct buf out;
    buf_init(&out, 0);
    if (state_set_text(h, name, text, err, sizeof err) == 0)
        state_value_text(h, state_field_find(desc, name), &out);
    else
        buf_printf(&out, "ERR: %s", err);
    state_free(h);
    return buf_steal(&out);
}

static void expect_set(const struct state_desc *desc, const char *name, const char *text,
                       const char *want)
{
    char *got = try_set(desc, name, text);
    if (strcmp(got, want) != 0)
        fail_msg("%s = \"%s\"\n  want: %s\n  got:  %s", name, text, want, got);
    free(got);
}

#define NC(name, text, want) expect_set(&new_client_desc, name, text, want)
#define SD(name, text, want) expect_set(&script_draft_desc, name, text, want)

/* Fills every new-client field with Maria Garcia's details. */
static struct new_client_state *maria(void)
{
    static const char *const values[][2] = {
        {"first_name", "Maria"},
        {"last_name", "Garcia"},
        {"phone", "(614) 555-0123"},
        {"email", "maria@example.com"},
        {"street", "1234 Maple Ave"},
        {"city", "Columbus"},
        {"state", "Ohio"},
        {"zip", "43215"},
        {"trade", "roofing"},
        {"lead_source", "referral"},
    };
    struct new_client_state *s = new_client_new();
    char err[ERR_LEN];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (state_set_text(&s->hdr, values[i][0], values[i][1], err, sizeof err) != 0)
            fail_msg("%s", err);
    return s;
}

static char *summary_of(const struct state_header *h)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(state_summary(h, &b), 0);
    return buf_steal(&b);
}

static void expect_str(char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("\n  want: %s\n  got:  %s", want, got);
    free(got);
}

/* ---- validators ------------------------------------------------------------------ */

static void test_phone(void **unused)
{
    (void)unused;
    const char *good[] = {"(614) 555-0123",  "614-555-0123",   "614.555.0123", "6145550123",
                          "+1 614 555 0123", "1-614-555-0123", "+16145550123", "  614 555 0123  "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        NC("phone", good[i], "+16145550123");
    NC("phone", "614-555-012", "ERR: phone: 614-555-012 is not a US phone number (10 digits)");
    NC("phone", "+44 20 7946 0958",
       "ERR: phone: +44 20 7946 0958 is not a US phone number (10 digits)");
    NC("phone", "call me at 614-555-0123",
       "ERR: phone: call me at 614-555-0123 is not a US phone number (10 digits)");
    NC("phone", "614-555-0123 or 614-555-0199",
       "ERR: phone: 614-555-0123 or 614-555-0199 is not a US phone number (10 digits)");
    NC("phone", "123-555-0123", "ERR: phone: 123-555-0123 is not a US phone number (10 digits)");
    NC("phone", "   ", "ERR: phone: no value given");
}

static void test_email(void **unused)
{
    (void)unused;
    NC("email", "Maria@Example.COM", "maria@example.com");
    NC("email", "maria.garcia+roof@mail.example.co", "maria.garcia+roof@mail.example.co");
    const char *bad[] = {
        "maria@",          "maria.example.com", "a..b@example.com",  "maria@example",
        "a@b.com c@d.com", "@example.com",      "maria@exa mple.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "ERR: email: %s is not an email address (like name@example.com)", bad[i]);
        NC("email", bad[i], want);
    }
}

static void test_us_state_and_zip(void **unused)
{
    (void)unused;
    NC("state", "OH", "OH");
    NC("state", "oh", "OH");
    NC("state", "Ohio", "OH");
    NC("state", "new york", "NY");
    NC("state", "District of Columbia", "DC");
    NC("state", "Ohioo", "ERR: state: Ohioo is not a US state (two letters like OH, or the name)");
    NC("state", "XX", "ERR: state: XX is not a US state (two letters like OH, or the name)");
    NC("zip", "43215", "43215");
    NC("zip", "43215-1234", "43215-1234");
    NC("zip", "43215 1234", "43215-1234");
    NC("zip", "432151234", "43215-1234");
    const char *bad[] = {"4321", "432156", "4321a", "43215-123", "4321-51234", "43215--1234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "ERR: zip: %s is not a ZIP code (5 digits, or 5+4 like 43215-1234)", bad[i]);
        NC("zip", bad[i], want);
    }
}

static void test_names_street_city(void **unused)
{
    (void)unused;
    NC("first_name", "maria", "Maria");
    NC("first_name", "MARIA", "Maria");
    NC("last_name", "o'brien", "O'Brien");
    NC("last_name", "McDonald", "McDonald");
    NC("last_name", "garcia-lopez", "Garcia-Lopez");
    NC("first_name", "Jos\xc3\xa9", "Jos\xc3\xa9");
    NC("first_name", "R2D2",
       "ERR: first_name: R2D2 is not a name (letters, spaces, hyphens and apostrophes)");
    NC("first_name", "!!!",
       "ERR: first_name: !!! is not a name (letters, spaces, hyphens and apostrophes)");
    NC("first_name", "Abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
       "ERR: first_name: is too long (at most 48 characters)");
    NC("city", "columbus", "Columbus");
    NC("city", "ST. LOUIS", "St. Louis");
    NC("street", "1234 maple   ave,", "1234 Maple Ave");
    NC("street", "1234 N High St", "1234 N High St");
    NC("street", "Maple Ave",
       "ERR: street: Maple Ave is not a street address (a house number and a street, like "
       "1234 Maple Ave)");
    NC("lead_source", "door   knock", "door knock");
    NC("notes", "  gate code 1234\r\ndog in yard  ", "gate code 1234\ndog in yard");
}

static void test_generic_refusals(void **unused)
{
    (void)unused;
    NC("first_name", "Mar\xffia", "ERR: first_name: is not valid UTF-8 text");
    NC("first_name", "Ma\x01ria", "ERR: first_name: contains control characters");
    NC("nickname", "Mo", "ERR: nickname: no such field in a new_client state");
    char *long_text = xmalloc(STATE_VALUE_MAX + 2);
    memset(long_text, 'a', STATE_VALUE_MAX + 1);
    long_text[STATE_VALUE_MAX + 1] = '\0';
    NC("notes", long_text, "ERR: notes: is too long (at most 8192 bytes)");
    free(long_text);
    struct state_header *h = state_new(&new_client_desc);
    char err[ERR_LEN];
    assert_int_equal(state_set_text(h, "nickname", "Mo", err, sizeof err), ERR_NOT_FOUND);
    assert_int_equal(state_set_text(h, "phone", NULL, err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "phone: no value given");
    state_free(h);
}

static void test_enums(void **unused)
{
    (void)unused;
    NC("trade", "roofing", "roofing");
    NC("trade", "Roof", "roofing");
    NC("trade", "gutter", "gutters");
    NC("trade", "GUTTERS", "gutters");
    NC("trade", "window", "windows");
    NC("trade", "it's a roof job", "roofing");
    NC("trade", "plumbing",
       "ERR: trade: plumbing is not one of roofing, siding, gutters, windows, other");
    NC("trade", "roof and gutters",
       "ERR: trade: roof and gutters is not one of roofing, siding, gutters, windows, other");
    SD("kind", "primer", "primer");
    SD("kind", "Follow-up", "follow_up");
    SD("kind", "follow up", "follow_up");
    SD("kind", "thank you", "thank_you");
    SD("kind", "thanks", "thank_you");
    SD("kind", "review", "review_request");
    SD("kind", "movie",
       "ERR: kind: movie is not one of primer, follow_up, thank_you, review_request");
    SD("tone", "upbeat", "energetic");
    SD("tone", "Professional", "professional");
    SD("tone", "angry", "ERR: tone: angry is not one of friendly, professional, energetic");
    SD("tone", "relaxed", "friendly");
}

static void test_script_fields(void **unused)
{
    (void)unused;
    SD("job_id", "1042", "1042");
    SD("job_id", "#1042", "1042");
    SD("job_id", "job 1042", "1042");
    SD("job_id", "Job #J-1042", "J-1042");
    SD("job_id", "abc", "ERR: job_id: abc is not a job id (like 1042)");
    SD("job_id", "10 42", "ERR: job_id: 10 42 is not a job id (like 1042)");
    SD("target_seconds", "90", "90");
    SD("target_seconds", "75 seconds", "75");
    SD("target_seconds", "1.5 minutes", "90");
    SD("target_seconds", "2 min", "120");
    SD("target_seconds", "1:30", "90");
    SD("target_seconds", "a minute and a half", "90");
    SD("target_seconds", "150", "ERR: target_seconds: 150 is not between 60 and 120");
    SD("target_seconds", "30s", "ERR: target_seconds: 30 is not between 60 and 120");
    SD("target_seconds", "fast",
       "ERR: target_seconds: fast is not a length in seconds (like 90, or 1.5 minutes)");
    SD("key_points", "50-year warranty; free inspection\nlocal crew",
       "50-year warranty; free inspection; local crew");
    SD("key_points", " ; ", "ERR: key_points: no value given");
    SD("revisions", "x", "ERR: revisions: cannot be set from text");

    /* defaults */
    struct script_draft_state *s = script_draft_new();
    assert_string_equal(s->tone, "friendly");
    assert_true(s->target_seconds.set);
    assert_int_equal(s->target_seconds.value, 90);
    state_free(&s->hdr);
}

/* ---- missing fields, corrections, lists ------------------------------------------ */

static void test_missing_order(void **unused)
{
    (void)unused;
    static const char *const order[] = {"first_name", "last_name", "phone", "street",
                                        "city",       "state",     "zip",   "trade"};
    struct new_client_state *s = new_client_new();
    const struct state_field *missing[16];
    char err[ERR_LEN];
    size_t n = state_missing(&s->hdr, missing, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(missing[i]->name, order[i]);
    assert_string_equal(missing[2]->question, "What is the best phone number for the client?");
    assert_int_equal(state_missing(&s->hdr, missing, 2), 8); /* counts beyond max */

    assert_int_equal(state_set_text(&s->hdr, "phone", "614-555-0123", err, sizeof err), 0);
    assert_int_equal(state_set_text(&s->hdr, "first_name", "Maria", err, sizeof err), 0);
    assert_int_equal(state_set_text(&s->hdr, "email", "m@example.com", err, sizeof err), 0);
    n = state_missing(&s->hdr, missing, 16);
    assert_int_equal(n, 6);
    assert_string_equal(missing[0]->name, "last_name");
    assert_string_equal(missing[5]->name, "trade");
    assert_string_equal(state_next_missing(&s->hdr)->question, "What is the client's last name?");
    state_free(&s->hdr);

    s = maria();
    assert_null(state_next_missing(&s->hdr));
    assert_int_equal(state_missing(&s->hdr, missing, 16), 0);
    state_free(&s->hdr);

    struct script_draft_state *d = script_draft_new();
    n = state_missing(&d->hdr, missing, 16);
    assert_int_equal(n, 2);
    assert_string_equal(missing[0]->name, "job_id");
    assert_string_equal(missing[1]->name, "kind");
    state_free(&d->hdr);
}

static void test_corrections(void **unused)
{
    (void)unused;
    struct new_client_state *s = maria();
    char err[ERR_LEN];
    s->hdr.updated_ms = 5;
    s->hdr.confirmed = true;
    /* the same value again is no change: the confirmation stands */
    assert_int_equal(state_set_text(&s->hdr, "phone", "614.555.0123", err, sizeof err), 0);
    assert_true(s->hdr.confirmed);
    assert_int_equal(s->hdr.updated_ms, 5);
    /* "no, the phone is …" overwrites and withdraws the confirmation */
    assert_int_equal(state_set_text(&s->hdr, "phone", "614-555-0199", err, sizeof err), 0);
    assert_string_equal(s->phone, "+16145550199");
    assert_false(s->hdr.confirmed);
    assert_true(s->hdr.updated_ms > 5);
    /* a bad correction leaves the old value */
    assert_int_equal(state_set_text(&s->hdr, "phone", "555-0199", err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "phone: 555-0199 is not a US phone number (10 digits)");
    assert_string_equal(s->phone, "+16145550199");
    /* from JSON, and null unsets */
    json_t *v = json_string("Marie");
    assert_int_equal(state_set_json(&s->hdr, "first_name", v, err, sizeof err), 0);
    json_decref(v);
    assert_string_equal(s->first_name, "Marie");
    v = json_integer(5);
    assert_int_equal(state_set_json(&s->hdr, "zip", v, err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "zip: must be a string (got 5)");
    json_decref(v);
    assert_int_equal(state_set_json(&s->hdr, "email", json_null(), err, sizeof err), 0);
    assert_null(s->email);
    assert_int_equal(state_unset(&s->hdr, "trade", err, sizeof err), 0);
    assert_null(s->trade);
    assert_string_equal(state_next_missing(&s->hdr)->name, "trade");
    state_free(&s->hdr);

    struct script_draft_state *d = script_draft_new();
    v = json_real(75.0);
    assert_int_equal(state_set_json(&d->hdr, "target_seconds", v, err, sizeof err), 0);
    json_decref(v);
    assert_int_equal(d->target_seconds.value, 75);
    v = json_string("90");
    assert_int_equal(state_set_json(&d->hdr, "target_seconds", v, err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "target_seconds: must be a whole number (got \"90\")");
    json_decref(v);
    v = json_real(80.5);
    assert_int_equal(state_set_json(&d->hdr, "target_seconds", v, err, sizeof err), ERR_INVALID);
    json_decref(v);
    assert_int_equal(d->target_seconds.value, 75);
    state_free(&d->hdr);
}

static void test_lists(void **unused)
{
    (void)unused;
    struct script_draft_state *d = script_draft_new();
    struct state_header *h = &d->hdr;
    char err[ERR_LEN];
    assert_int_equal(state_list_add(h, "key_points", "50-year warranty", err, sizeof err), 0);
    assert_int_equal(state_list_add(h, "key_points", "free  inspection", err, sizeof err), 0);
    assert_int_equal(state_list_add(h, "key_points", "50-Year Warranty", err, sizeof err), 0);
    assert_int_equal(d->key_points.len, 2);
    assert_string_equal(d->key_points.items[1], "free inspection");
    assert_int_equal(state_list_add(h, "key_points", "  ", err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "key_points: no value given");
    assert_int_equal(state_list_add(h, "kind", "x", err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "kind: is not a list");

    assert_int_equal(state_list_remove(h, "key_points", "warranty", err, sizeof err), 0);
    assert_int_equal(d->key_points.len, 1);
    assert_string_equal(d->key_points.items[0], "free inspection");
    assert_int_equal(state_list_remove(h, "key_points", "gutters", err, sizeof err), ERR_NOT_FOUND);
    assert_string_equal(err, "key_points: no item matches \"gutters\"");
    assert_int_equal(state_list_add(h, "key_points", "free gutter check", err, sizeof err), 0);
    assert_int_equal(state_list_remove(h, "key_points", "free", err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "key_points: \"free\" matches 2 items; say which one");
    assert_int_equal(state_list_remove(h, "key_points", "2", err, sizeof err), 0);
    assert_int_equal(state_list_remove(h, "key_points", "FREE INSPECTION", err, sizeof err), 0);
    assert_int_equal(d->key_points.len, 0);
    assert_null(d->key_points.items);

    for (int i = 0; i < 10; i++) {
        char item[32];
        snprintf(item, sizeof item, "point %d", i + 1);
        assert_int_equal(state_list_add(h, "key_points", item, err, sizeof err), 0);
    }
    assert_int_equal(state_list_add(h, "key_points", "one more", err, sizeof err), ERR_LIMIT);
    assert_string_equal(err, "key_points: already has 10 items (at most 10); remove one first");
    /* setting from text replaces the list */
    assert_int_equal(state_set_text(h, "key_points", "a; b", err, sizeof err), 0);
    assert_int_equal(d->key_points.len, 2);
    state_free(h);
}

/* ---- updates from a model and the schema ------------------------------------------ */

static void test_update_json(void **unused)
{
    (void)unused;
    struct new_client_state *s = new_client_new();
    char err[ERR_LEN];
    json_error_t jerr;
    json_t *u = json_loads("{\"first_name\":\"maria\",\"last_name\":\"Garcia\",\"phone\":"
                           "\"614 555 0123\",\"email\":null,\"trade\":\"roof\"}",
                           0, &jerr);
    assert_int_equal(state_update_json(&s->hdr, u, err, sizeof err), 0);
    json_decref(u);
    assert_string_equal(s->first_name, "Maria");
    assert_string_equal(s->phone, "+16145550123");
    assert_string_equal(s->trade, "roofing");
    assert_null(s->email);

    /* every problem reported, nothing applied */
    u = json_loads("{\"first_name\":\"Ana\",\"phone\":\"555\",\"zip\":43215,\"colour\":\"red\"}", 0,
                   &jerr);
    assert_int_equal(state_update_json(&s->hdr, u, err, sizeof err), ERR_INVALID);
    json_decref(u);
    assert_string_equal(s->first_name, "Maria");
    assert_non_null(strstr(err, "phone: 555 is not a US phone number (10 digits)"));
    assert_non_null(strstr(err, "zip: must be a string (got 43215)"));
    assert_non_null(strstr(err, "unknown field \"colour\" (allowed: first_name, last_name, "
                                "phone, email, street, city, state, zip, trade, lead_source, "
                                "notes)"));
    assert_int_equal(state_update_json(&s->hdr, json_null(), err, sizeof err), ERR_INVALID);
    state_free(&s->hdr);

    struct script_draft_state *d = script_draft_new();
    u = json_loads("{\"job_id\":\"1042\",\"draft\":\"Hi\",\"revisions\":[]}", 0, &jerr);
    assert_int_equal(state_update_json(&d->hdr, u, err, sizeof err), ERR_INVALID);
    json_decref(u);
    assert_null(d->job_id);
    assert_non_null(strstr(err, "draft: is filled in by Hard-E, not by an update"));
    assert_non_null(strstr(err, "revisions: is filled in by Hard-E, not by an update"));
    state_free(&d->hdr);
}

static void check_schema(const struct state_desc *desc, const char *good, const char *bad,
                         const char *bad_message)
{
    char *text = state_json_schema_text(desc);
    char err[ERR_LEN];
    json_error_t jerr;
    json_t *schema = json_loads(text, 0, &jerr);
    assert_non_null(schema);
    if (schema_check(schema, err, sizeof err) != 0)
        fail_msg("schema rejected: %s\n%s", err, text);
    json_t *cached = schema_cache_get(text, err, sizeof err);
    assert_non_null(cached);
    json_decref(cached);

    struct buf errors;
    buf_init(&errors, 0);
    json_t *instance = json_loads(good, 0, &jerr);
    if (schema_validate(schema, instance, &errors) != 0)
        fail_msg("good update refused: %s", buf_str(&errors));
    struct state_header *h = state_new(desc);
    if (state_update_json(h, instance, err, sizeof err) != 0)
        fail_msg("update refused: %s", err);
    state_free(h);
    json_decref(instance);

    instance = json_loads(bad, 0, &jerr);
    assert_int_equal(schema_validate(schema, instance, &errors), ERR_INVALID);
    if (!strstr(buf_str(&errors), bad_message))
        fail_msg("want %s in: %s", bad_message, buf_str(&errors));
    json_decref(instance);
    buf_free(&errors);
    json_decref(schema);
    free(text);
}

static void test_schema(void **unused)
{
    (void)unused;
    check_schema(&new_client_desc,
                 "{\"first_name\":\"Maria\",\"phone\":\"(614) 555-0123\",\"state\":\"Ohio\","
                 "\"trade\":\"roofing\",\"email\":null,\"notes\":\"dog\"}",
                 "{\"trade\":\"plumbing\",\"colour\":1}", "unknown property \"colour\"");
    check_schema(&script_draft_desc,
                 "{\"job_id\":\"1042\",\"kind\":\"primer\",\"target_seconds\":75,"
                 "\"key_points\":[\"warranty\"],\"tone\":null}",
                 "{\"target_seconds\":150,\"draft\":\"x\"}", "target_seconds: must be at most 120");

    json_t *schema = state_json_schema(&new_client_desc);
    json_t *trade = json_object_get(json_object_get(schema, "properties"), "trade");
    assert_int_equal(json_array_size(json_object_get(trade, "enum")), 6);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(schema, "properties"), "phone"), "description")),
        "Phone: a US phone number in any common format, e.g. 614-555-0123");
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    assert_null(json_object_get(schema, "required"));
    json_decref(schema);
    schema = state_json_schema(&script_draft_desc);
    json_t *props = json_object_get(schema, "properties");
    assert_null(json_object_get(props, "draft"));
    assert_null(json_object_get(props, "revisions"));
    assert_null(json_object_get(props, "customer_name"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(props, "target_seconds"), "minimum")),
        60);
    json_decref(schema);
}

/* ---- the JSON round trip ------------------------------------------------------------ */

static void test_round_trip(void **unused)
{
    (void)unused;
    struct new_client_state *s = maria();
    char err[ERR_LEN];
    assert_int_equal(state_set_text(&s->hdr, "notes", "gate code 1234\ndog", err, sizeof err), 0);
    s->hdr.created_ms = 1000;
    s->hdr.updated_ms = 2000;
    s->hdr.pending_confirmation = true;
    json_t *j = state_to_json(&s->hdr);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"kind\":\"new_client\",\"created_ms\":1000,\"updated_ms\":2000,"
                              "\"confirmed\":false,\"pending_confirmation\":true,\"fields\":{"
                              "\"first_name\":\"Maria\",\"last_name\":\"Garcia\",\"phone\":"
                              "\"+16145550123\",\"email\":\"maria@example.com\",\"street\":"
                              "\"1234 Maple Ave\",\"city\":\"Columbus\",\"state\":\"OH\",\"zip\":"
                              "\"43215\",\"trade\":\"roofing\",\"lead_source\":\"referral\","
                              "\"notes\":\"gate code 1234\\ndog\"}}");
    free(text);
    struct state_header *back = states_from_json(j, err, sizeof err);
    if (!back)
        fail_msg("%s", err);
    struct new_client_state *b = new_client_of(back);
    assert_non_null(b);
    assert_null(script_draft_of(back));
    assert_string_equal(b->phone, "+16145550123");
    assert_int_equal(b->hdr.created_ms, 1000);
    assert_true(b->hdr.pending_confirmation);
    json_t *again = state_to_json(back);
    assert_true(json_equal(j, again));
    json_decref(again);
    json_decref(j);
    state_free(back);
    state_free(&s->hdr);

    struct script_draft_state *d = script_draft_new();
    assert_int_equal(state_set_text(&d->hdr, "job_id", "1042", err, sizeof err), 0);
    assert_int_equal(state_set_text(&d->hdr, "kind", "primer", err, sizeof err), 0);
    assert_int_equal(state_set_text(&d->hdr, "key_points", "warranty; crew", err, sizeof err), 0);
    assert_int_equal(script_draft_set_draft(d, "First draft.", NULL, err, sizeof err), 0);
    assert_int_equal(script_draft_set_draft(d, "Second draft.", "shorter", err, sizeof err), 0);
    j = state_to_json(&d->hdr);
    back = states_from_json(j, err, sizeof err);
    if (!back)
        fail_msg("%s", err);
    struct script_draft_state *db = script_draft_of(back);
    assert_string_equal(db->draft, "Second draft.");
    assert_int_equal(db->revisions.len, 1);
    assert_string_equal(db->revisions.items[0].draft, "First draft.");
    assert_string_equal(db->revisions.items[0].note, "shorter");
    assert_int_equal(db->key_points.len, 2);
    assert_int_equal(db->target_seconds.value, 90);
    again = state_to_json(back);
    assert_true(json_equal(j, again));
    json_decref(again);
    json_decref(j);
    state_free(back);
    state_free(&d->hdr);
}

/* Restoring text into Maria's state fails with a message containing want,
 * and leaves the state as it was. */
static void expect_restore_fails(const char *text, const char *want)
{
    struct new_client_state *s = maria();
    json_t *before = state_to_json(&s->hdr);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    char err[ERR_LEN] = "";
    if (!j)
        fail_msg("test JSON does not parse: %s", jerr.text);
    assert_int_equal(state_from_json(&s->hdr, j, err, sizeof err), ERR_INVALID);
    if (!strstr(err, want))
        fail_msg("want \"%s\" in \"%s\"", want, err);
    json_t *after = state_to_json(&s->hdr);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    json_decref(j);
    state_free(&s->hdr);
}

static void test_bad_json(void **unused)
{
    (void)unused;
    expect_restore_fails("{\"kind\":\"script_draft\",\"fields\":{}}",
                         "kind: must be \"new_client\" (got \"script_draft\")");
    expect_restore_fails("{\"fields\":{}}", "kind: must be \"new_client\" (got none)");
    expect_restore_fails("{\"kind\":\"new_client\",\"colour\":1}", "unknown member \"colour\"");
    expect_restore_fails("{\"kind\":\"new_client\",\"fields\":{\"colour\":\"red\"}}",
                         "unknown field \"colour\"");
    expect_restore_fails("{\"kind\":\"new_client\",\"fields\":{\"phone\":6145550123}}",
                         "phone: must be a string (got 6145550123)");
    expect_restore_fails("{\"kind\":\"new_client\",\"fields\":{\"zip\":\"123\"}}",
                         "zip: 123 is not a ZIP code");
    expect_restore_fails("{\"kind\":\"new_client\",\"created_ms\":\"now\",\"fields\":{}}",
                         "created_ms: must be milliseconds since 1970 (got \"now\")");
    expect_restore_fails("{\"kind\":\"new_client\",\"confirmed\":1,\"fields\":{}}",
                         "confirmed: must be true or false (got 1)");
    expect_restore_fails("{\"kind\":\"new_client\",\"fields\":[]}", "fields: must be an object");
    /* two problems are both reported */
    expect_restore_fails("{\"kind\":\"new_client\",\"fields\":{\"zip\":\"1\",\"state\":\"ZZ\"}}",
                         "; ");

    char err[ERR_LEN];
    json_error_t jerr;
    assert_null(states_from_json(NULL, err, sizeof err));
    assert_string_equal(err, "kind: none is not a workflow state (new_client, script_draft)");
    json_t *j = json_loads("{\"kind\":\"lead\"}", 0, &jerr);
    assert_null(states_from_json(j, err, sizeof err));
    assert_string_equal(err, "kind: \"lead\" is not a workflow state (new_client, script_draft)");
    json_decref(j);
    assert_null(json_loads("{\"kind\":\"new_client\",", 0, &jerr)); /* malformed text */
    j = json_loads("{\"kind\":\"script_draft\",\"fields\":{\"target_seconds\":\"90\","
                   "\"key_points\":\"warranty\",\"revisions\":[{\"draft\":\"x\",\"by\":1}]}}",
                   0, &jerr);
    assert_null(states_from_json(j, err, sizeof err));
    assert_non_null(strstr(err, "target_seconds: must be a whole number (got \"90\")"));
    assert_non_null(strstr(err, "key_points: must be a list of strings (got \"warranty\")"));
    assert_non_null(strstr(err, "revisions: item 1: \"by\" is unknown"));
    json_decref(j);
    j = json_loads("{\"kind\":\"script_draft\",\"fields\":{\"key_points\":[\"a\",2]}}", 0, &jerr);
    assert_null(states_from_json(j, err, sizeof err));
    assert_string_equal(err, "key_points: item 2 must be a string (got 2)");
    json_decref(j);
}

/* ---- summaries, confirmation, expiry, clear ------------------------------------------ */

static void test_summary(void **unused)
{
    (void)unused;
    struct new_client_state *s = maria();
    char err[ERR_LEN];
    expect_str(summary_of(&s->hdr),
               "Maria Garcia, +16145550123, maria@example.com, 1234 Maple Ave, Columbus OH 43215 "
               "\xe2\x80\x94 roofing, referral; missing: none");
    state_unset(&s->hdr, "street", err, sizeof err);
    state_unset(&s->hdr, "zip", err, sizeof err);
    state_set_text(&s->hdr, "notes", "gate code 1234", err, sizeof err);
    expect_str(summary_of(&s->hdr),
               "Maria Garcia, +16145550123, maria@example.com, Columbus OH \xe2\x80\x94 roofing, "
               "referral; notes: gate code 1234; missing: street, ZIP code");
    state_free(&s->hdr);

    s = new_client_new();
    expect_str(summary_of(&s->hdr), "nothing yet; missing: first name, last name, phone, street, "
                                    "city, state, ZIP code, trade");
    state_free(&s->hdr);

    struct script_draft_state *d = script_draft_new();
    state_set_text(&d->hdr, "job_id", "1042", err, sizeof err);
    state_set_text(&d->hdr, "customer_name", "Maria Garcia", err, sizeof err);
    state_set_text(&d->hdr, "address", "1234 Maple Ave, Columbus, OH 43215", err, sizeof err);
    state_set_text(&d->hdr, "kind", "primer", err, sizeof err);
    state_set_text(&d->hdr, "key_points", "50-year warranty; free inspection", err, sizeof err);
    script_draft_set_draft(d,
                           "Hi Maria, this is Tom from Buckeye Roofing. Tomorrow we will look "
                           "at your roof together.",
                           NULL, err, sizeof err);
    script_draft_set_draft(d, "Hi Maria, this is Tom from Buckeye Roofing.", "shorter", err,
                           sizeof err);
    expect_str(summary_of(&d->hdr),
               "job 1042 for Maria Garcia, 1234 Maple Ave, Columbus, OH 43215 \xe2\x80\x94 "
               "primer, friendly tone, 90 s; key points: 50-year warranty; free inspection; "
               "draft: Hi Maria, this is Tom from Buckeye Roofing., 1 earlier draft; missing: "
               "none");
    script_draft_set_draft(d,
                           "Hi Maria, this is Tom from Buckeye Roofing, and I wanted to say "
                           "hello before we meet.",
                           NULL, err, sizeof err);
    char *sum = summary_of(&d->hdr);
    assert_non_null(strstr(sum, "draft: Hi Maria, this is Tom from Buckeye Roofing, and I wanted "
                                "to\xe2\x80\xa6, 2 earlier drafts;"));
    free(sum);
    state_free(&d->hdr);
}

static void test_confirmation(void **unused)
{
    (void)unused;
    struct new_client_state *s = maria();
    struct buf out;
    char err[ERR_LEN];
    buf_init(&out, 0);
    assert_int_equal(state_confirmation(&s->hdr, &out), 0);
    assert_string_equal(buf_str(&out), "New client \xe2\x80\x94 please confirm:\n"
                                       "  First name: Maria\n"
                                       "  Last name: Garcia\n"
                                       "  Phone: +16145550123\n"
                                       "  Email: maria@example.com\n"
                                       "  Street: 1234 Maple Ave\n"
                                       "  City: Columbus\n"
                                       "  State: OH\n"
                                       "  ZIP code: 43215\n"
                                       "  Trade: roofing\n"
                                       "  Lead source: referral\n"
                                       "  Notes: (none)\n"
                                       "Missing: none");
    buf_reset(&out);

    /* the handshake: nothing pending → ask → unclear → yes */
    assert_int_equal(state_confirmation_reply(&s->hdr, "yes"), STATE_REPLY_NOT_PENDING);
    assert_false(s->hdr.confirmed);
    assert_int_equal(state_request_confirmation(&s->hdr, &out, err, sizeof err), 0);
    assert_true(s->hdr.pending_confirmation);
    assert_non_null(strstr(buf_str(&out), "please confirm"));
    assert_int_equal(state_confirmation_reply(&s->hdr, "hmm, maybe"), STATE_REPLY_UNCLEAR);
    assert_true(s->hdr.pending_confirmation);
    assert_false(s->hdr.confirmed);
    assert_int_equal(state_confirmation_reply(&s->hdr, "yes, that's right"), STATE_REPLY_CONFIRMED);
    assert_true(s->hdr.confirmed);
    assert_false(s->hdr.pending_confirmation);
    /* a correction withdraws it */
    assert_int_equal(state_set_text(&s->hdr, "zip", "43216", err, sizeof err), 0);
    assert_false(s->hdr.confirmed);
    assert_int_equal(state_request_confirmation(&s->hdr, &out, err, sizeof err), 0);
    assert_int_equal(state_confirmation_reply(&s->hdr, "no"), STATE_REPLY_DECLINED);
    assert_false(s->hdr.pending_confirmation);
    assert_false(s->hdr.confirmed);

    /* nothing to confirm while fields are missing */
    state_unset(&s->hdr, "phone", err, sizeof err);
    state_unset(&s->hdr, "zip", err, sizeof err);
    buf_reset(&out);
    assert_int_equal(state_request_confirmation(&s->hdr, &out, err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "missing: phone, ZIP code");
    assert_false(s->hdr.pending_confirmation);
    assert_int_equal(state_confirmation(&s->hdr, &out), 0);
    assert_non_null(strstr(buf_str(&out), "  Phone: (missing)\n"));
    assert_non_null(strstr(buf_str(&out), "\nMissing: phone, ZIP code"));
    buf_free(&out);
    state_free(&s->hdr);

    /* a multi-line draft is indented in the confirmation */
    struct script_draft_state *d = script_draft_new();
    script_draft_set_draft(d, "Line one.\nLine two.", NULL, err, sizeof err);
    script_draft_set_draft(d, "Line one.\nLine 2.", "fixed a word", err, sizeof err);
    buf_init(&out, 0);
    assert_int_equal(state_confirmation(&d->hdr, &out), 0);
    assert_non_null(strstr(buf_str(&out), "  Draft: Line one.\n    Line 2.\n"));
    assert_non_null(strstr(buf_str(&out), "  Revisions: 1 earlier draft (changes: fixed a word)"));
    assert_non_null(strstr(buf_str(&out), "  Job: (missing)\n"));
    buf_free(&out);
    state_free(&d->hdr);
}

static void test_expiry_and_clear(void **unused)
{
    (void)unused;
    struct script_draft_state *d = script_draft_new();
    char err[ERR_LEN];
    assert_true(d->hdr.created_ms > 0);
    d->hdr.updated_ms = 1000;
    assert_false(state_expired(&d->hdr, 1000 + 59999, 60000));
    assert_true(state_expired(&d->hdr, 1000 + 60000, 60000));
    assert_false(state_expired(&d->hdr, 1000 + 1000000, 0)); /* 0: never */
    assert_int_equal(state_set_text(&d->hdr, "tone", "upbeat", err, sizeof err), 0);
    assert_false(state_expired(&d->hdr, 1000 + 60000, 60000)); /* a change restarts the clock */

    assert_int_equal(state_set_text(&d->hdr, "job_id", "1042", err, sizeof err), 0);
    assert_int_equal(script_draft_set_draft(d, "One.", NULL, err, sizeof err), 0);
    assert_int_equal(script_draft_set_draft(d, "Two.", NULL, err, sizeof err), 0);
    d->hdr.confirmed = true;
    state_clear(&d->hdr);
    assert_null(d->job_id);
    assert_null(d->draft);
    assert_int_equal(d->revisions.len, 0);
    assert_false(d->hdr.confirmed);
    assert_string_equal(d->tone, "friendly"); /* defaults come back */
    assert_int_equal(d->target_seconds.value, 90);
    assert_true(d->hdr.desc == &script_draft_desc);
    state_free(&d->hdr);
    state_free(NULL);
}

static void test_revisions(void **unused)
{
    (void)unused;
    struct script_draft_state *d = script_draft_new();
    char err[ERR_LEN], text[64], note[64];
    for (int i = 1; i <= 13; i++) {
        snprintf(text, sizeof text, "Draft %d.", i);
        snprintf(note, sizeof note, "change %d", i);
        assert_int_equal(script_draft_set_draft(d, text, note, err, sizeof err), 0);
    }
    assert_string_equal(d->draft, "Draft 13.");
    assert_int_equal(d->revisions.len, SCRIPT_REVISIONS_MAX);
    assert_string_equal(d->revisions.items[0].draft, "Draft 3."); /* 1 and 2 dropped */
    assert_string_equal(d->revisions.items[0].note, "change 4");
    assert_string_equal(d->revisions.items[9].draft, "Draft 12.");
    /* the same text again is no revision */
    assert_int_equal(script_draft_set_draft(d, "Draft 13.", "nothing", err, sizeof err), 0);
    assert_string_equal(d->revisions.items[9].draft, "Draft 12.");
    assert_int_equal(script_draft_set_draft(d, "  ", NULL, err, sizeof err), ERR_INVALID);
    assert_string_equal(err, "draft: no value given");
    assert_string_equal(d->draft, "Draft 13.");
    state_free(&d->hdr);
}

static void test_address(void **unused)
{
    (void)unused;
    struct new_client_state *s = new_client_new();
    char err[ERR_LEN];
    assert_int_equal(
        new_client_set_address(s, "1234 maple ave, Columbus, OH 43215", err, sizeof err), 0);
    assert_string_equal(s->street, "1234 Maple Ave");
    assert_string_equal(s->city, "Columbus");
    assert_string_equal(s->state, "OH");
    assert_string_equal(s->zip, "43215");
    assert_int_equal(new_client_set_address(s, "somewhere nice", err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "address: somewhere nice is not an address"));
    assert_string_equal(s->street, "1234 Maple Ave");
    state_free(&s->hdr);
    assert_ptr_equal(states_find("new_client"), &new_client_desc);
    assert_ptr_equal(states_find("script_draft"), &script_draft_desc);
    assert_null(states_find("lead"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_us_state_and_zip),
        cmocka_unit_test(test_names_street_city),
        cmocka_unit_test(test_generic_refusals),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_script_fields),
        cmocka_unit_test(test_missing_order),
        cmocka_unit_test(test_corrections),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_update_json),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_confirmation),
        cmocka_unit_test(test_expiry_and_clear),
        cmocka_unit_test(test_revisions),
        cmocka_unit_test(test_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
