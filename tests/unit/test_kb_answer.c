/* Unit tests for kb/answer: answers over the shipped playbook quote the right
 * passage and end with a Sources line; composed points are only passage text;
 * scripts stay whole; an irrelevant or empty question gets an honest "not
 * found"; the answer is bounded. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "kb/answer.h"
#include "kb/kb.h"

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

static int setup_playbook(void **state)
{
    char *dir = source_path("data/kb");
    struct kb *kb = NULL;
    char err[256] = "";
    if (kb_open(":memory:", &kb, err, sizeof err) != 0 ||
        kb_import_dir(kb, dir, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        free(dir);
        kb_close(kb);
        return -1;
    }
    free(dir);
    *state = kb;
    return 0;
}

static int teardown_playbook(void **state)
{
    kb_close(*state);
    return 0;
}

static char *answer_ok(struct kb *kb, const char *question, bool *found)
{
    char *out = NULL;
    char err[256] = "";
    if (kb_answer(kb, question, &out, found, err, sizeof err) != 0)
        fail_msg("kb_answer(\"%s\") failed: %s", question, err);
    assert_non_null(out);
    return out;
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text);
}

/* ---- over the shipped playbook ----------------------------------------- */

static void answers_quote_the_right_passage(void **state)
{
    static const struct {
        const char *question;
        const char *quote;  /* text from the right passage */
        const char *source; /* the first source named */
    } cases[] = {
        {"what do I say when they want to think about it",
         "what part of it are you thinking about?",
         "Sources: objection-think-about-it.md › What to Say"},
        {"customer says price is too high", "Too high compared to what",
         "Sources: objection-price-too-high.md › "},
        {"how does financing work", "lending partner",
         "Sources: financing.md › How Financing Works"},
        {"insurance claim deductible", "insurance fraud",
         "Sources: storm-damage-insurance.md › The Deductible Rules"},
        {"what is the primer video for", "Introduce the rep.",
         "Sources: primer-video.md › What the Primer Video Is For"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool found = false;
        char *a = answer_ok(*state, cases[i].question, &found);
        assert_true(found);
        assert_contains(a, cases[i].quote);
        assert_contains(a, cases[i].source);
        assert_true(strncmp(a, "Here's", 6) == 0);
        /* the Sources line is the last line */
        const char *sources = strstr(a, "\nSources: ");
        assert_non_null(sources);
        assert_null(strchr(sources + 1, '\n'));
        assert_true(strlen(a) <= KB_ANSWER_MAX_BYTES + 1024);
        free(a);
    }
}

static void deductible_script_is_quoted_whole(void **state)
{
    bool found = false;
    char *a = answer_ok(*state, "can I cover the customer's insurance deductible", &found);
    assert_true(found);
    /* a quotation containing "?" is not cut into sentences */
    assert_contains(a, "\"Can you cover my deductible? The other guy said he would,\"");
    free(a);
}

static void irrelevant_questions_get_an_honest_answer(void **state)
{
    static const char *const questions[] = {
        "what's the weather in Tokyo", "pizza", "", "what is it?", "\"*:()", NULL,
    };
    for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++) {
        bool found = true;
        char *a = answer_ok(*state, questions[i], &found);
        assert_false(found);
        assert_contains(a, "rephras");
        assert_null(strstr(a, "Sources:"));
        free(a);
    }
}

/* ---- composing from given passages ------------------------------------- */

static struct kb_hit make_hit(const char *source, const char *heading, const char *text,
                              double score)
{
    struct kb_hit h = {score, (char *)source, (char *)heading, (char *)text, (char *)""};
    return h;
}

static void composed_points_are_passage_text(void **state)
{
    static const char first[] =
        "Gutter guards keep leaves out of the gutters. They are priced by the foot.\n"
        "\n"
        "- Measure every gutter run during the inspection.\n"
        "- Offer guards on every house with trees over the gutters.\n"
        "- Unrelated bullet about ladders and harnesses.\n"
        "\n"
        "Say it like this:\n"
        "\n"
        "> \"Guards save you from cleaning the gutters. Want them?\"\n";
    static const char second[] = "Clean gutters twice a year, e.g. in spring and fall.";
    struct kb_hit hits[] = {
        make_hit("gutters.md", "Gutters › Guards", first, 10.0),
        make_hit("care.md", "Care › Cleaning", second, 8.0),
        make_hit("far.md", "Far › Away", "Gutters rarely matter here.", 1.0),
    };
    struct kb_results r = {hits, 3};
    bool found = false;
    char *a = kb_answer_compose("what about gutter guards?", &r, &found);
    assert_true(found);
    assert_contains(a, "- Gutter guards keep leaves out of the gutters.\n");
    assert_contains(a, "- Measure every gutter run during the inspection.\n");
    assert_contains(a, "- Offer guards on every house with trees over the gutters.\n");
    /* the lead-in travels with its quote, which stays whole */
    assert_contains(a, "- Say it like this: \"Guards save you from cleaning the gutters. "
                       "Want them?\"\n");
    /* "e.g." does not end a sentence */
    assert_contains(a, "- Clean gutters twice a year, e.g. in spring and fall.\n");
    assert_null(strstr(a, "ladders")); /* off the question: the best four win */
    assert_null(strstr(a, "rarely"));  /* a passage far below the best */
    assert_contains(a, "\nSources: gutters.md › Guards; care.md › Cleaning");

    /* every point is text from one of the passages (here without markup) */
    char *copy = xstrdup(a);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "- ", 2) != 0)
            continue;
        const char *point = line + 2;
        if (strncmp(point, "Say it like this: ", 18) == 0)
            point += 18;
        if (strncmp(point, "\"Guards", 7) == 0)
            continue; /* the blockquote, checked above */
        if (!strstr(first, point) && !strstr(second, point))
            fail_msg("invented point: %s", point);
    }
    free(copy);
    free(a);
}

static void composition_strips_markup_and_is_bounded(void **state)
{
    /* a passage with Markdown emphasis, a table and a code fence */
    static const char text[] = "**Financing** is `simple`: two plans.\n"
                               "| plan | apr |\n| --- | --- |\n| long | 7.99% |\n"
                               "```\nfinancing code block\n```\n"
                               "Financing approval is up to the lender.\n";
    struct kb_hit hits[] = {make_hit("f.md", "Financing", text, 5.0)};
    struct kb_results r = {hits, 1};
    char *a = kb_answer_compose("financing", &r, NULL);
    assert_contains(a, "- Financing is simple: two plans.\n");
    assert_contains(a, "- Financing approval is up to the lender.\n");
    assert_null(strstr(a, "|"));
    assert_null(strstr(a, "code block"));
    assert_contains(a, "Sources: f.md › Financing");
    free(a);

    /* many long matching sentences: the answer stays within its bound */
    char *big = xmalloc(64 * 1024);
    big[0] = '\0';
    for (int i = 0; i < 300; i++)
        strcat(big, "Financing plans are explained to every homeowner at the kitchen table "
                    "with both monthly payments shown side by side for each option. ");
    hits[0] = make_hit("f.md", "Financing", big, 5.0);
    a = kb_answer_compose("financing plans", &r, NULL);
    assert_true(strlen(a) <= KB_ANSWER_MAX_BYTES + 512);
    free(a);

    /* one enormous bullet is cut at a word, marked with an ellipsis */
    strcpy(big, "- ");
    for (int i = 0; i < 100; i++)
        strcat(big, "financing plans explained slowly ");
    hits[0] = make_hit("f.md", "Financing", big, 5.0);
    a = kb_answer_compose("financing plans", &r, NULL);
    assert_contains(a, "- financing plans explained slowly financing");
    assert_contains(a, "slowly…\n");
    assert_true(strlen(a) < 1000);
    free(a);
    free(big);

    /* no results at all */
    bool found = true;
    a = kb_answer_compose("financing", NULL, &found);
    assert_false(found);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answers_quote_the_right_passage, setup_playbook,
                                        teardown_playbook),
        cmocka_unit_test_setup_teardown(deductible_script_is_quoted_whole, setup_playbook,
                                        teardown_playbook),
        cmocka_unit_test_setup_teardown(irrelevant_questions_get_an_honest_answer, setup_playbook,
                                        teardown_playbook),
        cmocka_unit_test(composed_points_are_passage_text),
        cmocka_unit_test(composition_strips_markup_and_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
