/* Unit tests for harde/script: composing personalised video scripts offline,
 * steering their length, and revisions in plain words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "harde/script.h"

static const struct script_facts facts = {
    .customer_first = "Maria",
    .customer_last = "Garcia",
    .street = "1234 Maple Ave",
    .city = "Clintonville",
    .trade = "roofing",
    .appointment = "Tuesday, December 1 at 3:00 PM",
    .rep_name = "Jake Miller",
    .company = "Summit Ridge Roofing & Exteriors",
};

static void primer_is_personal_and_fits_the_target(void **state)
{
    struct script_request r = {.kind = SCRIPT_PRIMER};
    char *text = script_compose(&facts, &r);
    assert_non_null(strstr(text, "Maria"));
    assert_non_null(strstr(text, "Jake Miller"));
    assert_non_null(strstr(text, "Summit Ridge"));
    assert_non_null(strstr(text, "roofing appointment"));
    assert_non_null(strstr(text, "Tuesday, December 1 at 3:00 PM"));
    assert_non_null(strstr(text, "1234 Maple Ave"));
    double s = script_seconds(text);
    assert_true(s >= 80 && s <= 100);
    assert_null(strstr(text, "{"));
    free(text);
}

static void every_kind_and_target_stays_in_range(void **state)
{
    for (int kind = SCRIPT_PRIMER; kind <= SCRIPT_REVIEW_REQUEST; kind++) {
        for (int target = 60; target <= 120; target += 30) {
            struct script_request r = {.kind = (enum script_kind)kind, .target_seconds = target};
            char *text = script_compose(&facts, &r);
            double s = script_seconds(text);
            assert_true(s <= target + 10);
            assert_true(s >= 30); /* review requests are short by nature */
            free(text);
        }
    }
}

static void revisions_change_the_script(void **state)
{
    struct script_request r = {.kind = SCRIPT_PRIMER};
    char *before = script_compose(&facts, &r);
    char *change = NULL;
    assert_int_equal(script_revise_request(&r, "make it shorter", &change), 0);
    assert_string_equal(change, "made it shorter (about 70 s)");
    free(change);
    char *shorter = script_compose(&facts, &r);
    assert_true(script_seconds(shorter) < script_seconds(before));
    assert_true(script_seconds(shorter) <= 80);

    assert_int_equal(script_revise_request(&r, "mention the insurance and the cleanup", &change),
                     0);
    assert_string_equal(change, "added insurance and cleanup");
    free(change);
    char *with = script_compose(&facts, &r);
    assert_non_null(strstr(with, "adjuster"));
    assert_non_null(strstr(with, "magnets"));

    assert_int_equal(script_revise_request(&r, "don't mention insurance", &change), 0);
    free(change);
    char *without = script_compose(&facts, &r);
    assert_null(strstr(without, "adjuster"));

    assert_int_equal(script_revise_request(&r, "more energetic please", &change), 0);
    free(change);
    char *energetic = script_compose(&facts, &r);
    assert_non_null(strstr(energetic, "Hey Maria!"));

    assert_int_equal(script_revise_request(&r, "purple monkey", &change), ERR_INVALID);
    assert_non_null(strstr(change, "shorter"));
    free(change);
    free(before);
    free(shorter);
    free(with);
    free(without);
    free(energetic);
}

static void own_key_points_are_kept(void **state)
{
    struct script_request r = {.kind = SCRIPT_FOLLOW_UP, .n_points = 1};
    r.points[0] = "we can start the week of the 14th";
    char *text = script_compose(&facts, &r);
    assert_non_null(strstr(text, "We can start the week of the 14th."));
    free(text);
}

static void appointments_read_naturally(void **state)
{
    char out[96];
    script_appointment_text("2026-12-01T18:00", out, sizeof out);
    assert_string_equal(out, "Tuesday, December 1 at 6:00 PM");
    script_appointment_text("2026-12-15T09:30", out, sizeof out);
    assert_string_equal(out, "Tuesday, December 15 at 9:30 AM");
    script_appointment_text("next week", out, sizeof out);
    assert_string_equal(out, "");
    script_appointment_text(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

static void kinds_parse(void **state)
{
    assert_int_equal(script_kind_parse("Primer"), SCRIPT_PRIMER);
    assert_int_equal(script_kind_parse("follow-up"), SCRIPT_FOLLOW_UP);
    assert_int_equal(script_kind_parse("thank you"), SCRIPT_THANK_YOU);
    assert_int_equal(script_kind_parse("review request"), SCRIPT_REVIEW_REQUEST);
    assert_int_equal(script_kind_parse("karaoke"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(primer_is_personal_and_fits_the_target),
        cmocka_unit_test(every_kind_and_target_stays_in_range),
        cmocka_unit_test(revisions_change_the_script),
        cmocka_unit_test(own_key_points_are_kept),
        cmocka_unit_test(appointments_read_naturally),
        cmocka_unit_test(kinds_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
