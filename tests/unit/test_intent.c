/* Unit tests for llm/local/intent: training from a directory (and rejecting
 * bad data with the file and line named), normalisation, prediction shape,
 * clear examples of every shipped label, low confidence for gibberish and
 * off-topic text, the evaluation report, and held-out accuracy on the shipped
 * data (data/intents, read relative to the repo root where tests run). */
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
#include "llm/local/intent.h"

#define SHIPPED_DIR     "data/intents"
#define SHIPPED_HELDOUT "data/intents/heldout.tsv"

/* ---- a temporary data directory -------------------------------------- */

struct temp_dir {
    char path[256];
    char files[16][64];
    size_t n_files;
};

static void temp_dir_make(struct temp_dir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/test_intent.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->path));
    t->n_files = 0;
}

static void temp_dir_write(struct temp_dir *t, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", t->path, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    free(path);
    assert_true(t->n_files < 16);
    snprintf(t->files[t->n_files++], sizeof t->files[0], "%s", name);
}

static void temp_dir_remove(struct temp_dir *t)
{
    for (size_t i = 0; i < t->n_files; i++) {
        char *path = xasprintf("%s/%s", t->path, t->files[i]);
        unlink(path);
        free(path);
    }
    rmdir(t->path);
}

/* Three small labels about a bakery, unrelated to the shipped data. */
static const char *bread_txt = "# breads\n"
                               "a loaf of sourdough please\n"
                               "do you have rye bread\n"
                               "i want a baguette\n"
                               "\n"
                               "whole wheat loaf\n"
                               "sliced white bread\n"
                               "two baguettes and a loaf\n";
static const char *cake_txt = "chocolate cake for a birthday\n"
                              "a carrot cake slice\n"
                              "cheesecake with strawberries\r\n"
                              "wedding cake tasting\n"
                              "cupcakes for the party\n"
                              "a lemon cake\n";
static const char *hours_txt = "when do you open\n"
                               "what time do you close\n"
                               "are you open on sunday\n"
                               "opening hours please\n"
                               "closing time today\n"
                               "open on holidays?\n";

static struct intent_model *train_bakery(struct temp_dir *t, char *err, size_t errlen)
{
    temp_dir_make(t);
    temp_dir_write(t, "bread.txt", bread_txt);
    temp_dir_write(t, "cake.txt", cake_txt);
    temp_dir_write(t, "hours.txt", hours_txt);
    temp_dir_write(t, "notes.md", "not a label file\n");
    return intent_model_train_dir(t->path, err, errlen);
}

static struct intent_model *shipped_model(void)
{
    char err[512] = "";
    struct intent_model *m = intent_model_train_dir(SHIPPED_DIR, err, sizeof err);
    if (!m)
        fail_msg("training from %s failed: %s", SHIPPED_DIR, err);
    return m;
}

/* ---- training from a tiny directory ----------------------------------- */

static void tiny_dir_trains_and_predicts(void **state)
{
    struct temp_dir t;
    char err[512] = "";
    struct intent_model *m = train_bakery(&t, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(intent_model_label_count(m), 3);
    assert_string_equal(intent_model_label(m, 0), "bread");
    assert_string_equal(intent_model_label(m, 1), "cake");
    assert_string_equal(intent_model_label(m, 2), "hours");
    assert_null(intent_model_label(m, 3));
    assert_int_equal(intent_model_example_count(m), 18); /* comments and blanks skipped */

    struct intent_prediction p;
    assert_int_equal(intent_classify(m, "can i get a rye loaf", &p), 0);
    assert_string_equal(p.label, "bread");
    assert_int_equal(intent_classify(m, "a chocolate birthday cake", &p), 0);
    assert_string_equal(p.label, "cake");
    assert_int_equal(intent_classify(m, "what time do you open on sunday", &p), 0);
    assert_string_equal(p.label, "hours");
    assert_true(p.confident);

    /* The prediction's shape: top-3 sorted, consistent with label/margin,
     * probabilities of all three labels summing to one. */
    assert_int_equal(p.n_top, 3);
    assert_ptr_equal(p.top[0].label, p.label);
    assert_true(p.top[0].probability >= p.top[1].probability);
    assert_true(p.top[1].probability >= p.top[2].probability);
    assert_true(fabs(p.margin - (p.top[0].probability - p.top[1].probability)) < 1e-9);
    double sum = p.top[0].probability + p.top[1].probability + p.top[2].probability;
    assert_true(fabs(sum - 1.0) < 1e-6);
    intent_model_free(m);
    temp_dir_remove(&t);
}

static void background_file_is_not_a_label(void **state)
{
    struct temp_dir t;
    char err[512] = "";
    temp_dir_make(&t);
    temp_dir_write(&t, "bread.txt", bread_txt);
    temp_dir_write(&t, "cake.txt", cake_txt);
    temp_dir_write(&t, "other.ood", "who won the match\nhow do i fix my car\nwhats the news\n");
    struct intent_model *m = intent_model_train_dir(t.path, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(intent_model_label_count(m), 2);
    struct intent_prediction p;
    assert_int_equal(intent_classify(m, "a baguette and sourdough", &p), 0);
    assert_string_equal(p.label, "bread");
    assert_int_equal(p.n_top, 2);
    intent_model_free(m);
    temp_dir_remove(&t);
}

static void training_is_deterministic(void **state)
{
    struct temp_dir t1, t2;
    char err[512];
    struct intent_model *a = train_bakery(&t1, err, sizeof err);
    struct intent_model *b = train_bakery(&t2, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    struct intent_prediction pa, pb;
    intent_classify(a, "carrot cake or a loaf", &pa);
    intent_classify(b, "carrot cake or a loaf", &pb);
    assert_string_equal(pa.label, pb.label);
    assert_true(pa.probability == pb.probability);
    intent_model_free(a);
    intent_model_free(b);
    temp_dir_remove(&t1);
    temp_dir_remove(&t2);
}

/* ---- bad data is rejected with the file named ------------------------- */

static void expect_rejected(const char *name, const char *text, const char *want_in_error)
{
    struct temp_dir t;
    char err[512] = "";
    temp_dir_make(&t);
    temp_dir_write(&t, "bread.txt", bread_txt);
    temp_dir_write(&t, name, text);
    struct intent_model *m = intent_model_train_dir(t.path, err, sizeof err);
    if (m)
        fail_msg("%s was accepted", name);
    if (!strstr(err, want_in_error))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want_in_error);
    temp_dir_remove(&t);
}

static void bad_data_files_are_rejected(void **state)
{
    /* Too few examples: the file is named, with the count and the minimum. */
    expect_rejected("cake.txt", "cake\n# a comment\nmore cake\n\n", "cake.txt: only 2 examples");
    /* Invalid UTF-8 on line 3: file and line named. */
    expect_rejected("cake.txt", "cake one\ncake two\ncake \xff\xfe three\ncake four\nfive\nsix\n",
                    "cake.txt:3: not valid UTF-8");
    /* An overlong encoding of '/' is not valid UTF-8 either. */
    expect_rejected("cake.txt", "a\nb\nc\nd\ne \xc0\xaf\nf\n", "cake.txt:5: not valid UTF-8");
    /* A truncated multi-byte sequence at the end of a line. */
    expect_rejected("cake.txt", "a\nb \xe2\x82\nc\nd\ne\nf\n", "cake.txt:2: not valid UTF-8");
    /* A label name that is not [a-z0-9_-]. */
    expect_rejected("Big Cake.txt", cake_txt, "Big Cake.txt: a label name");

    /* A line longer than INTENT_LINE_MAX. */
    char *long_line = xmalloc(INTENT_LINE_MAX + 64);
    memset(long_line, 'a', INTENT_LINE_MAX + 10);
    strcpy(long_line + INTENT_LINE_MAX + 10, "\nb\nc\nd\ne\nf\n");
    char *text = xasprintf("first\n%s", long_line);
    expect_rejected("cake.txt", text, "cake.txt:2: line longer than");
    free(text);
    free(long_line);
}

static void unusable_directories_are_rejected(void **state)
{
    char err[512] = "";
    assert_null(intent_model_train_dir("/nonexistent/intents", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/intents"));

    struct temp_dir t;
    temp_dir_make(&t);
    temp_dir_write(&t, "bread.txt", bread_txt);
    assert_null(intent_model_train_dir(t.path, err, sizeof err));
    assert_non_null(strstr(err, "need at least 2"));
    temp_dir_remove(&t);
}

/* ---- the shipped model ------------------------------------------------ */

static void shipped_labels_are_the_agents(void **state)
{
    static const char *want[] = {"crm",          "greeting",    "help",   "pricing",
                                 "primer_video", "sales_coach", "script", "thanks"};
    struct intent_model *m = shipped_model();
    assert_int_equal(intent_model_label_count(m), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(intent_model_label(m, i), want[i]);
    assert_true(intent_model_example_count(m) >= 8 * 45);
    intent_model_free(m);
}

static void clear_examples_of_each_label(void **state)
{
    /* None of these lines is in the training or held-out files. */
    static const struct {
        const char *text, *label;
    } cases[] = {
        {"yo hard e good morning", "greeting"},
        {"thanks so much that helps", "thanks"},
        {"what kinds of things can you do for me", "help"},
        {"the homeowner says he wants to think about it, how should i respond", "sales_coach"},
        {"how do i explain our financing to a retired couple", "sales_coach"},
        {"how much for a 2600 sq ft gable roof 6/12 with architectural shingles", "pricing"},
        {"what's the monthly on 21,500 with the 10 year plan", "pricing"},
        {"add a note to job 2231 that the customer wants a call after 5", "crm"},
        {"new client dana white 972-555-0147 18 pecan st", "crm"},
        {"write a thank you video script for the hendersons", "script"},
        {"send the primer video for job 2231", "primer_video"},
    };
    struct intent_model *m = shipped_model();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct intent_prediction p;
        assert_int_equal(intent_classify(m, cases[i].text, &p), 0);
        if (strcmp(p.label, cases[i].label) != 0 || !p.confident)
            fail_msg("\"%s\": got %s (%.2f), want %s with confidence", cases[i].text, p.label,
                     p.probability, cases[i].label);
    }
    intent_model_free(m);
}

static void gibberish_and_off_topic_are_unconfident(void **state)
{
    static const char *texts[] = {
        "asdkjh qwe",
        "qwpoeiru zmxncb",
        "",
        "?!?! ...",
        "\xff\xfe\xfd garbage bytes \x80",
        "who won the game last night",
        "whats the capital of france",
    };
    struct intent_model *m = shipped_model();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct intent_prediction p;
        assert_int_equal(intent_classify(m, texts[i], &p), 0);
        assert_non_null(p.label);
        if (p.confident || p.probability >= INTENT_CONFIDENCE_THRESHOLD)
            fail_msg("\"%s\": %s with %.2f, want below %.2f", texts[i], p.label, p.probability,
                     INTENT_CONFIDENCE_THRESHOLD);
    }
    /* Keyboard mash is mostly unseen features: close to the uniform 1/8. */
    static const char *mash[] = {"asdkjh qwe", "qwpoeiru zmxncb", "hjkl"};
    for (size_t i = 0; i < sizeof mash / sizeof mash[0]; i++) {
        struct intent_prediction p;
        assert_int_equal(intent_classify(m, mash[i], &p), 0);
        if (p.probability >= 0.25 || p.coverage >= 0.3)
            fail_msg("\"%s\": %s with %.2f (coverage %.2f), want < 0.25 (< 0.3)", mash[i], p.label,
                     p.probability, p.coverage);
    }
    intent_model_free(m);
}

static void normalisation_of_case_numbers_and_shorthand(void **state)
{
    struct intent_model *m = shipped_model();
    struct intent_prediction a, b;
    /* Case and any number are the same to the model. */
    intent_classify(m, "price a 2400 sq ft hip roof 7/12 arch", &a);
    intent_classify(m, "PRICE A 3,150 SQ FT HIP ROOF 10/12 ARCH", &b);
    assert_string_equal(a.label, "pricing");
    assert_true(fabs(a.probability - b.probability) < 1e-9);
    /* Shorthand maps to the same words: "appt" = "appointment", "HO" = "homeowner",
     * "arch" = "architectural", curly and straight apostrophes are dropped. */
    intent_classify(m, "ho wants to move the appt", &a);
    intent_classify(m, "homeowner wants to move the appointment", &b);
    assert_true(fabs(a.probability - b.probability) < 1e-9);
    intent_classify(m, "what\xe2\x80\x99s the monthly on that", &a);
    intent_classify(m, "what's the monthly on that", &b);
    assert_true(fabs(a.probability - b.probability) < 1e-9);
    intent_model_free(m);
}

static void classify_rejects_null_and_handles_long_text(void **state)
{
    struct intent_model *m = shipped_model();
    struct intent_prediction p;
    assert_int_equal(intent_classify(NULL, "hi", &p), ERR_INVALID);
    assert_int_equal(intent_classify(m, NULL, &p), ERR_INVALID);
    assert_int_equal(intent_classify(m, "hi", NULL), ERR_INVALID);

    size_t n = 20000;
    char *big = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = "price a roof 30 squares "[i % 24];
    big[n] = '\0';
    assert_int_equal(intent_classify(m, big, &p), 0);
    assert_string_equal(p.label, "pricing");
    free(big);
    intent_model_free(m);
}

/* ---- evaluation -------------------------------------------------------- */

static char *read_stream(FILE *f)
{
    long len = ftell(f);
    rewind(f);
    char *text = xmalloc((size_t)len + 1);
    size_t got = fread(text, 1, (size_t)len, f);
    text[got] = '\0';
    return text;
}

static void heldout_accuracy_is_at_least_90_percent(void **state)
{
    struct intent_model *m = shipped_model();
    FILE *out = tmpfile();
    assert_non_null(out);
    double accuracy = -1;
    assert_int_equal(intent_eval_file(m, SHIPPED_HELDOUT, out, &accuracy), 0);
    char *report = read_stream(out);
    if (accuracy < 0.90)
        fail_msg("held-out accuracy %.4f < 0.90\n%s", accuracy, report);
    assert_non_null(strstr(report, "accuracy"));
    assert_non_null(strstr(report, "precision"));
    assert_non_null(strstr(report, "confusion"));
    assert_non_null(strstr(report, "primer_video"));
    free(report);
    fclose(out);
    intent_model_free(m);
}

static void eval_counts_and_reports_bad_files(void **state)
{
    struct temp_dir t;
    char err[512];
    struct intent_model *m = train_bakery(&t, err, sizeof err);
    assert_non_null(m);
    temp_dir_write(&t, "good.tsv",
                   "# comment\nbread\tsourdough loaf please\ncake\ta chocolate cake\n"
                   "hours\twhen do you close\nhours\tlemon cake slice\n");
    temp_dir_write(&t, "badlabel.tsv", "bread\ta loaf\npie\tapple pie\n");
    temp_dir_write(&t, "notab.tsv", "bread a loaf\n");
    temp_dir_write(&t, "empty.tsv", "# nothing here\n\n");

    char *path = xasprintf("%s/good.tsv", t.path);
    FILE *out = tmpfile();
    double accuracy = -1;
    assert_int_equal(intent_eval_file(m, path, out, &accuracy), 0);
    assert_true(fabs(accuracy - 0.75) < 1e-9); /* the last line is labelled wrongly on purpose */
    char *report = read_stream(out);
    assert_non_null(strstr(report, "miss  line 5"));
    assert_non_null(strstr(report, "correct 3"));
    free(report);
    fclose(out);
    free(path);

    static const struct {
        const char *file, *want;
        int rc;
    } bad[] = {
        {"badlabel.tsv", "badlabel.tsv:2: label \"pie\"", ERR_PARSE},
        {"notab.tsv", "notab.tsv:1: expected label<TAB>utterance", ERR_PARSE},
        {"empty.tsv", "empty.tsv:0: no examples", ERR_PARSE},
        {"missing.tsv", "missing.tsv: cannot open", ERR_IO},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = xasprintf("%s/%s", t.path, bad[i].file);
        out = tmpfile();
        assert_int_equal(intent_eval_file(m, path, out, &accuracy), bad[i].rc);
        report = read_stream(out);
        if (!strstr(report, "error: ") || !strstr(report, bad[i].want))
            fail_msg("%s: report \"%s\" lacks \"%s\"", bad[i].file, report, bad[i].want);
        free(report);
        fclose(out);
        free(path);
    }
    intent_model_free(m);
    temp_dir_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_dir_trains_and_predicts),
        cmocka_unit_test(background_file_is_not_a_label),
        cmocka_unit_test(training_is_deterministic),
        cmocka_unit_test(bad_data_files_are_rejected),
        cmocka_unit_test(unusable_directories_are_rejected),
        cmocka_unit_test(shipped_labels_are_the_agents),
        cmocka_unit_test(clear_examples_of_each_label),
        cmocka_unit_test(gibberish_and_off_topic_are_unconfident),
        cmocka_unit_test(normalisation_of_case_numbers_and_shorthand),
        cmocka_unit_test(classify_rejects_null_and_handles_long_text),
        cmocka_unit_test(heldout_accuracy_is_at_least_90_percent),
        cmocka_unit_test(eval_counts_and_reports_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
