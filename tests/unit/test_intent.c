/* Unit tests for llm/local/intent: training from a directory (and rejecting
 * bad data with the file and line named), normalisation, prediction shape,
 * clear examples of every shipped label, low confidence for gibberish and
 * off-topic text, the evaluation report, and held-out accuracy on the shipped
 * data (data/intents, read relative to the repo root where tests run); and
 * the model cache: a saved and loaded model classifies bit for bit like the
 * trained one, the data fingerprint follows contents (not times), stale,
 * missing, truncated, bit-flipped, foreign and other-version files are
 * rejected with the reason named, saving fails cleanly, and
 * intent_model_open_cached trains once, then loads, and retrains when the data
 * changes or the cache is corrupt. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
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

/* ---- the model cache --------------------------------------------------- */

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    unsigned char *data = xmalloc((size_t)size + 1);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return data;
}

static void write_bytes(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s: %s", path, strerror(errno));
    return st.st_ino;
}

/* The names in dir other than . and .., counted. */
static size_t entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Fails unless a and b classify text identically: the same labels and the
 * same probabilities, margin and coverage, bit for bit. */
static void assert_same_prediction(const struct intent_model *a, const struct intent_model *b,
                                   const char *text)
{
    struct intent_prediction pa, pb;
    assert_int_equal(intent_classify(a, text, &pa), 0);
    assert_int_equal(intent_classify(b, text, &pb), 0);
    bool same = strcmp(pa.label, pb.label) == 0 && pa.n_top == pb.n_top &&
                memcmp(&pa.probability, &pb.probability, sizeof(double)) == 0 &&
                memcmp(&pa.margin, &pb.margin, sizeof(double)) == 0 &&
                memcmp(&pa.coverage, &pb.coverage, sizeof(double)) == 0 &&
                pa.confident == pb.confident;
    for (size_t i = 0; same && i < pa.n_top; i++)
        same = strcmp(pa.top[i].label, pb.top[i].label) == 0 &&
               memcmp(&pa.top[i].probability, &pb.top[i].probability, sizeof(double)) == 0;
    if (!same)
        fail_msg("\"%s\": %s %a vs %s %a", text, pa.label, pa.probability, pb.label,
                 pb.probability);
}

/* A shipped model saved in a fresh temporary directory as intent.model. */
struct saved {
    struct temp_dir dir;
    char path[512];
    uint64_t fingerprint;
    struct intent_model *model;
    unsigned char *bytes; /* the file as saved */
    size_t len;
};

static void saved_make(struct saved *s)
{
    char err[512] = "";
    temp_dir_make(&s->dir);
    snprintf(s->path, sizeof s->path, "%s/intent.model", s->dir.path);
    snprintf(s->dir.files[s->dir.n_files++], sizeof s->dir.files[0], "intent.model");
    s->model = shipped_model();
    s->fingerprint = intent_dir_fingerprint(SHIPPED_DIR);
    assert_true(s->fingerprint != 0);
    if (intent_model_save(s->model, s->path, s->fingerprint, err, sizeof err) != 0)
        fail_msg("save: %s", err);
    s->bytes = read_bytes(s->path, &s->len);
}

static void saved_free(struct saved *s)
{
    intent_model_free(s->model);
    free(s->bytes);
    temp_dir_remove(&s->dir);
}

static void cache_round_trip_is_bit_identical(void **state)
{
    struct saved s;
    saved_make(&s);
    /* Compact (no 1 MiB table), and no temporary file is left behind. */
    assert_true(s.len < 600 * 1024);
    assert_int_equal(entries_in(s.dir.path), 1);

    char err[512] = "";
    struct intent_model *loaded = intent_model_load(s.path, s.fingerprint, err, sizeof err);
    if (!loaded)
        fail_msg("load: %s", err);
    assert_int_equal(intent_model_label_count(loaded), intent_model_label_count(s.model));
    for (size_t i = 0; i < intent_model_label_count(loaded); i++)
        assert_string_equal(intent_model_label(loaded, i), intent_model_label(s.model, i));
    assert_int_equal(intent_model_example_count(loaded), intent_model_example_count(s.model));

    size_t len, n = 0;
    char *text = (char *)read_bytes(SHIPPED_HELDOUT, &len);
    text[len] = '\0';
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        assert_same_prediction(s.model, loaded, tab + 1);
        n++;
    }
    free(text);
    assert_true(n >= 100);
    static const char *odd[] = {"", "asdkjh qwe", "\xff\xfe garbage", "thx!!", "7/12 30 sq"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        assert_same_prediction(s.model, loaded, odd[i]);

    /* Saving the loaded model gives the same bytes. */
    char *again = xasprintf("%s/again.model", s.dir.path);
    assert_int_equal(intent_model_save(loaded, again, s.fingerprint, err, sizeof err), 0);
    size_t again_len;
    unsigned char *again_bytes = read_bytes(again, &again_len);
    assert_int_equal(again_len, s.len);
    assert_memory_equal(again_bytes, s.bytes, s.len);
    unlink(again);
    free(again);
    free(again_bytes);
    intent_model_free(loaded);
    saved_free(&s);
}

static void fingerprint_follows_contents_not_times(void **state)
{
    struct temp_dir t;
    char err[512];
    struct intent_model *m = train_bakery(&t, err, sizeof err);
    assert_non_null(m);
    intent_model_free(m);
    uint64_t base = intent_dir_fingerprint(t.path);
    assert_true(base != 0);
    assert_true(intent_dir_fingerprint(t.path) == base);

    /* New times, the same bytes: the same fingerprint (a fresh clone). */
    char *cake = xasprintf("%s/cake.txt", t.path);
    struct timespec old_times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, cake, old_times, 0), 0);
    assert_true(intent_dir_fingerprint(t.path) == base);
    /* Files training does not read do not count. */
    temp_dir_write(&t, "heldout.tsv", "cake\ta cake\n");
    temp_dir_write(&t, "notes.md", "changed notes\n");
    assert_true(intent_dir_fingerprint(t.path) == base);

    /* One byte changed, the size kept: another fingerprint. */
    char *changed = xstrdup(cake_txt);
    changed[0] = 'C';
    temp_dir_write(&t, "cake.txt", changed);
    uint64_t other = intent_dir_fingerprint(t.path);
    assert_true(other != base && other != 0);
    temp_dir_write(&t, "cake.txt", cake_txt);
    assert_true(intent_dir_fingerprint(t.path) == base);
    /* A background file added, or a label file renamed: another fingerprint. */
    temp_dir_write(&t, "chat.ood", "who won the match\n");
    assert_true(intent_dir_fingerprint(t.path) != base);
    char *chat = xasprintf("%s/chat.ood", t.path);
    unlink(chat);
    assert_true(intent_dir_fingerprint(t.path) == base);
    char *pastry = xasprintf("%s/pastry.txt", t.path);
    assert_int_equal(rename(cake, pastry), 0);
    assert_true(intent_dir_fingerprint(t.path) != base);
    assert_int_equal(rename(pastry, cake), 0);
    /* An unreadable directory has no fingerprint. */
    assert_true(intent_dir_fingerprint("/nonexistent/intents") == 0);
    assert_true(intent_dir_fingerprint(NULL) == 0);
    free(cake);
    free(chat);
    free(pastry);
    free(changed);
    temp_dir_remove(&t);
}

/* Writes len bytes of data as the cache file and expects the load to fail
 * with a message naming the path and containing want. */
static void expect_load_fails(const struct saved *s, const unsigned char *data, size_t len,
                              const char *want, const char *what)
{
    char err[512] = "";
    write_bytes(s->path, data, len);
    struct intent_model *m = intent_model_load(s->path, s->fingerprint, err, sizeof err);
    if (m) {
        intent_model_free(m);
        fail_msg("%s: the damaged file was loaded", what);
    }
    if (!strstr(err, s->path) || (want && !strstr(err, want)))
        fail_msg("%s: error \"%s\" does not name the file and \"%s\"", what, err, want ? want : "");
}

static void stale_and_missing_caches_are_rejected(void **state)
{
    struct saved s;
    saved_make(&s);
    char err[512] = "";
    assert_null(intent_model_load(s.path, s.fingerprint ^ 1, err, sizeof err));
    assert_non_null(strstr(err, "stale: the training data changed"));
    assert_non_null(strstr(err, s.path));

    char *missing = xasprintf("%s/missing.model", s.dir.path);
    assert_null(intent_model_load(missing, s.fingerprint, err, sizeof err));
    assert_non_null(strstr(err, "missing.model: cannot open"));
    free(missing);
    assert_null(intent_model_load(NULL, s.fingerprint, err, sizeof err));
    saved_free(&s);
}

static void damaged_caches_are_rejected(void **state)
{
    struct saved s;
    saved_make(&s);
    unsigned char *copy = xmalloc(s.len + 1);

    /* Truncated anywhere: inside the magic, the header, the weights, the end. */
    const size_t cuts[] = {0, 5, 15, 40, 71, 72, 1000, s.len / 2, s.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "cut to %zu bytes", cuts[i]);
        expect_load_fails(&s, s.bytes, cuts[i], "truncated", what);
    }
    memcpy(copy, s.bytes, s.len);
    copy[s.len] = 0;
    expect_load_fails(&s, copy, s.len + 1, "trailing bytes", "one byte appended");

    /* A flipped byte in the body: the checksum catches it. */
    const size_t body[] = {72, 100, 300, 4096, s.len / 3, s.len / 2, s.len - 8, s.len - 1};
    for (size_t i = 0; i < sizeof body / sizeof body[0]; i++) {
        memcpy(copy, s.bytes, s.len);
        copy[body[i]] ^= 0x10;
        char what[64];
        snprintf(what, sizeof what, "byte %zu flipped", body[i]);
        expect_load_fails(&s, copy, s.len, "checksum mismatch", what);
    }
    /* Every header byte, and a spread of body bytes, flipped one bit at a
     * time: rejected, whatever the reason given. */
    for (size_t pos = 0; pos < s.len; pos += pos < 72 ? 1 : 16411)
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(copy, s.bytes, s.len);
            copy[pos] ^= (unsigned char)(1u << bit);
            char what[64];
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, pos);
            expect_load_fails(&s, copy, s.len, NULL, what);
        }

    /* Wrong magic, a foreign file, another version, another byte order. */
    memcpy(copy, s.bytes, s.len);
    memcpy(copy, "NOTMODEL", 8);
    expect_load_fails(&s, copy, s.len, "bad magic", "wrong magic");
    const char *foreign = "crm\tadd a note to job 1042\npricing\thow much for 30 squares\n";
    expect_load_fails(&s, (const unsigned char *)foreign, strlen(foreign), "bad magic",
                      "a text file");
    memcpy(copy, s.bytes, s.len);
    uint32_t version = INTENT_CACHE_VERSION + 1;
    memcpy(copy + 8, &version, sizeof version);
    expect_load_fails(&s, copy, s.len, "cache format version 2", "another version");
    memcpy(copy, s.bytes, s.len);
    uint32_t swapped = 0x04030201u;
    memcpy(copy + 12, &swapped, sizeof swapped);
    expect_load_fails(&s, copy, s.len, "another byte order", "another byte order");

    /* The untouched bytes still load. */
    write_bytes(s.path, s.bytes, s.len);
    char err[512] = "";
    struct intent_model *m = intent_model_load(s.path, s.fingerprint, err, sizeof err);
    if (!m)
        fail_msg("the intact file: %s", err);
    intent_model_free(m);
    free(copy);
    saved_free(&s);
}

static void save_failures_are_reported(void **state)
{
    struct temp_dir t;
    char err[512] = "";
    struct intent_model *m = train_bakery(&t, err, sizeof err);
    assert_non_null(m);
    /* A regular file where a directory should be. */
    char *path = xasprintf("%s/bread.txt/cache/intent.model", t.path);
    assert_int_equal(intent_model_save(m, path, 42, err, sizeof err), ERR_IO);
    assert_non_null(strstr(err, "bread.txt"));
    assert_int_equal(intent_model_save(NULL, path, 42, err, sizeof err), ERR_INVALID);
    assert_int_equal(intent_model_save(m, NULL, 42, err, sizeof err), ERR_INVALID);
    assert_int_equal(entries_in(t.path), 4); /* nothing left behind */
    free(path);
    intent_model_free(m);
    temp_dir_remove(&t);
}

static void open_cached_trains_once_then_loads(void **state)
{
    struct temp_dir t;
    char err[512] = "";
    temp_dir_make(&t);
    temp_dir_write(&t, "bread.txt", bread_txt);
    temp_dir_write(&t, "cake.txt", cake_txt);
    temp_dir_write(&t, "hours.txt", hours_txt);
    char *cache_dir = xasprintf("%s/cache", t.path);
    char *cache = xasprintf("%s/cache/intent.model", t.path);
    log_set_level(LOG_ERROR); /* the warnings below are expected */

    /* First run: trains, creates the directory and the cache. */
    struct intent_model *first = intent_model_open_cached(t.path, cache, err, sizeof err);
    if (!first)
        fail_msg("first: %s", err);
    ino_t ino = inode_of(cache);
    struct intent_model *direct =
        intent_model_load(cache, intent_dir_fingerprint(t.path), err, sizeof err);
    if (!direct)
        fail_msg("the cache open_cached saved does not load: %s", err);
    intent_model_free(direct);
    /* Second run: loads (a save would have renamed a new file into place). */
    struct intent_model *second = intent_model_open_cached(t.path, cache, err, sizeof err);
    assert_non_null(second);
    assert_true(inode_of(cache) == ino);
    assert_int_equal(entries_in(cache_dir), 1);
    assert_same_prediction(first, second, "a chocolate birthday cake");
    assert_same_prediction(first, second, "what time do you open on sunday");

    /* The data changes: trained again, and the new model knows the change. */
    char *more_hours = xasprintf("%sbrunch hours on weekends\n", hours_txt);
    temp_dir_write(&t, "hours.txt", more_hours);
    struct intent_model *third = intent_model_open_cached(t.path, cache, err, sizeof err);
    assert_non_null(third);
    assert_true(inode_of(cache) != ino);
    ino = inode_of(cache);
    struct intent_model *fourth = intent_model_open_cached(t.path, cache, err, sizeof err);
    assert_true(inode_of(cache) == ino);
    assert_same_prediction(third, fourth, "brunch on weekends");

    /* A corrupt cache: ignored, trained again, replaced. */
    size_t len;
    unsigned char *bytes = read_bytes(cache, &len);
    bytes[len / 2] ^= 0xff;
    write_bytes(cache, bytes, len);
    ino = inode_of(cache);
    struct intent_model *fifth = intent_model_open_cached(t.path, cache, err, sizeof err);
    assert_non_null(fifth);
    assert_true(inode_of(cache) != ino);
    assert_same_prediction(third, fifth, "brunch on weekends");

    /* A cache that cannot be written, or none: still a model. */
    char *unwritable = xasprintf("%s/bread.txt/intent.model", t.path);
    struct intent_model *sixth = intent_model_open_cached(t.path, unwritable, err, sizeof err);
    assert_non_null(sixth);
    struct intent_model *seventh = intent_model_open_cached(t.path, NULL, err, sizeof err);
    assert_non_null(seventh);
    /* Bad data is still an error, cache or not. */
    assert_null(intent_model_open_cached("/nonexistent/intents", cache, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/intents"));
    log_set_level(LOG_WARN);

    struct intent_model *all[] = {first, second, third, fourth, fifth, sixth, seventh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        intent_model_free(all[i]);
    unlink(cache);
    rmdir(cache_dir);
    free(bytes);
    free(unwritable);
    free(more_hours);
    free(cache);
    free(cache_dir);
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
        cmocka_unit_test(cache_round_trip_is_bit_identical),
        cmocka_unit_test(fingerprint_follows_contents_not_times),
        cmocka_unit_test(stale_and_missing_caches_are_rejected),
        cmocka_unit_test(damaged_caches_are_rejected),
        cmocka_unit_test(save_failures_are_reported),
        cmocka_unit_test(open_cached_trains_once_then_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
