/* Unit tests for kb/kb: Markdown import into passages (headings, fences, empty
 * sections, long sections, limits, UTF-8), atomic re-import, bm25 ranking
 * (a heading match beats a body mention), hostile queries, stats, the index
 * on disk, and retrieval over the shipped playbook in data/kb. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "kb/kb.h"
#include "kb/kb_internal.h"

/* ---- helpers ------------------------------------------------------------ */

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

/* A new empty directory under $TMPDIR (else /tmp). New path. */
static char *make_temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = xasprintf("%s/harde-kb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(path);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static void remove_file(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    assert_int_equal(unlink(path), 0);
    free(path);
}

/* Removes the files this test created in dir (one level), then dir. */
static void remove_temp_dir(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static struct kb *open_memory(void)
{
    struct kb *kb = NULL;
    char err[256] = "";
    assert_int_equal(kb_open(":memory:", &kb, err, sizeof err), 0);
    assert_non_null(kb);
    return kb;
}

static long import_ok(struct kb *kb, const char *dir)
{
    char err[256] = "";
    long n = -1;
    int rc = kb_import_dir(kb, dir, &n, err, sizeof err);
    if (rc)
        fail_msg("import of %s failed: %s", dir, err);
    return n;
}

/* The hits for query (asserting the search itself succeeds). */
static struct kb_results search_ok(struct kb *kb, const char *query, size_t k)
{
    struct kb_results r;
    char err[256] = "";
    int rc = kb_search(kb, query, k, &r, err, sizeof err);
    if (rc)
        fail_msg("search for \"%.40s\" failed: %s", query, err);
    return r;
}

/* The heading of the first hit for query, or "" (new). */
static char *first_heading(struct kb *kb, const char *query)
{
    struct kb_results r = search_ok(kb, query, 5);
    char *heading = xstrdup(r.count ? r.hits[0].heading : "");
    kb_results_free(&r);
    return heading;
}

static const char guide_md[] = "# Alpha Guide\n"
                               "Intro about aardvarks.\n"
                               "\n"
                               "## First Section\n"
                               "Body about bobcats.\n"
                               "### Detail\n"
                               "Deeper note about capybaras.\n"
                               "## Empty Section\n"
                               "\n"
                               "## Code Sample\n"
                               "```\n"
                               "# dingo is not a heading inside a fence\n"
                               "```\n"
                               "## Closing ##\r\n"
                               "Windows line ending about emus.\r\n";

/* ---- import ------------------------------------------------------------- */

static void import_splits_at_headings(void **state)
{
    char *dir = make_temp_dir();
    write_text(dir, "guide.md", guide_md);
    write_text(dir, "notitle.md", "Preamble about foxes.\n## Only Section\nText about geckos.\n");
    write_text(dir, "ignored.txt", "# Not Markdown\nhyenas\n");
    write_text(dir, ".hidden.md", "# Hidden\nhyenas\n");
    struct kb *kb = open_memory();
    assert_int_equal(kb_passage_count(kb), 0);

    /* guide: intro, First Section, Detail, Code Sample, Closing; notitle: 2 */
    assert_int_equal(import_ok(kb, dir), 7);
    assert_int_equal(kb_passage_count(kb), 7);

    char *h = first_heading(kb, "aardvarks");
    assert_string_equal(h, "Alpha Guide");
    free(h);
    h = first_heading(kb, "bobcats");
    assert_string_equal(h, "Alpha Guide › First Section");
    free(h);
    h = first_heading(kb, "capybaras");
    assert_string_equal(h, "Alpha Guide › First Section › Detail");
    free(h);
    h = first_heading(kb, "dingo");
    assert_string_equal(h, "Alpha Guide › Code Sample");
    free(h);
    h = first_heading(kb, "emus");
    assert_string_equal(h, "Alpha Guide › Closing");
    free(h);
    h = first_heading(kb, "foxes");
    assert_string_equal(h, "notitle");
    free(h);
    h = first_heading(kb, "geckos");
    assert_string_equal(h, "notitle › Only Section");
    free(h);
    h = first_heading(kb, "hyenas"); /* .txt and hidden files are not imported */
    assert_string_equal(h, "");
    free(h);

    struct kb_results r = search_ok(kb, "capybaras", 5);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.hits[0].source, "guide.md");
    assert_string_equal(r.hits[0].text, "Deeper note about capybaras.");
    assert_non_null(strstr(r.hits[0].snippet, "capybaras"));
    assert_true(r.hits[0].score > 0);
    kb_results_free(&r);
    r = search_ok(kb, "emus", 5);
    assert_int_equal(r.count, 1);
    assert_null(strchr(r.hits[0].text, '\r'));
    kb_results_free(&r);

    kb_close(kb);
    remove_temp_dir(dir);
}

static void reimport_replaces_previous(void **state)
{
    char *dir = make_temp_dir();
    write_text(dir, "one.md", "# One\n## Zebra Facts\nZebras have stripes.\n");
    write_text(dir, "two.md", "# Two\n## More\nZebras again.\n");
    struct kb *kb = open_memory();
    assert_int_equal(import_ok(kb, dir), 2);
    struct kb_results r = search_ok(kb, "zebra", 10);
    assert_int_equal(r.count, 2);
    kb_results_free(&r);

    remove_file(dir, "two.md");
    write_text(dir, "one.md", "# One\n## Yak Facts\nYaks are shaggy.\n");
    assert_int_equal(import_ok(kb, dir), 1);
    assert_int_equal(kb_passage_count(kb), 1);
    r = search_ok(kb, "zebra", 10);
    assert_int_equal(r.count, 0);
    kb_results_free(&r);
    r = search_ok(kb, "yaks", 10);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.hits[0].heading, "One › Yak Facts");
    kb_results_free(&r);
    kb_close(kb);
    remove_temp_dir(dir);
}

static void non_utf8_rejected_and_previous_import_kept(void **state)
{
    char *dir = make_temp_dir();
    write_text(dir, "good.md", "# Good\n## Walrus\nWalruses are large.\n");
    struct kb *kb = open_memory();
    assert_int_equal(import_ok(kb, dir), 1);

    static const char *const bad[] = {
        "# Bad\n\xff\xfe latin-1 bytes\n",  /* invalid lead bytes */
        "# Bad\n\xc0\xaf overlong slash\n", /* overlong encoding */
        "# Bad\n\xed\xa0\x80 surrogate\n",  /* UTF-16 surrogate */
        "# Bad\ncut short \xe2\x80",        /* truncated sequence */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(dir, "zz-broken.md", bad[i]);
        char err[256] = "";
        long n = 42;
        assert_int_equal(kb_import_dir(kb, dir, &n, err, sizeof err), ERR_PARSE);
        assert_non_null(strstr(err, "zz-broken.md"));
        assert_non_null(strstr(err, "UTF-8"));
        assert_int_equal(n, 42); /* untouched on error */
        /* the failed import rolled back: the old playbook is still there */
        assert_int_equal(kb_passage_count(kb), 1);
        struct kb_results r = search_ok(kb, "walrus", 5);
        assert_int_equal(r.count, 1);
        kb_results_free(&r);
    }

    write_file(dir, "zz-broken.md", "# Nul\nbefore\0after\n", 20);
    char err[256] = "";
    assert_int_equal(kb_import_dir(kb, dir, NULL, err, sizeof err), ERR_PARSE);
    assert_non_null(strstr(err, "zz-broken.md"));

    /* valid multi-byte text and a byte order mark are fine */
    write_text(dir, "zz-broken.md", "\xef\xbb\xbf# Café ‘Menu’\n## Crème brûlée\nDélicieux.\n");
    assert_int_equal(import_ok(kb, dir), 2);
    char *h = first_heading(kb, "délicieux");
    assert_string_equal(h, "Café ‘Menu’ › Crème brûlée");
    free(h);
    kb_close(kb);
    remove_temp_dir(dir);
}

static void directory_errors(void **state)
{
    char *dir = make_temp_dir();
    struct kb *kb = open_memory();
    char err[256] = "";
    assert_int_equal(kb_import_dir(kb, dir, NULL, err, sizeof err), ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no .md files"));
    char *missing = xasprintf("%s/missing", dir);
    assert_int_equal(kb_import_dir(kb, missing, NULL, err, sizeof err), ERR_IO);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(kb_import_dir(kb, "", NULL, err, sizeof err), ERR_INVALID);
    free(missing);

    struct kb *bad = NULL;
    assert_int_equal(kb_open("/nonexistent-dir/x/kb.sqlite", &bad, err, sizeof err), ERR_IO);
    assert_null(bad);
    kb_close(kb);
    remove_temp_dir(dir);
}

static void size_limits(void **state)
{
    char *dir = make_temp_dir();
    struct kb *kb = open_memory();

    /* a long section is split into passages no longer than the limit, in order */
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "# Long\n## Big Section\n");
    for (int i = 0; i < 400; i++)
        buf_printf(&b, "Paragraph %d talks about quokkas at some length.\n\n", i);
    write_text(dir, "long.md", buf_str(&b));
    size_t body_len = b.len - strlen("# Long\n## Big Section\n");
    buf_free(&b);
    long n = import_ok(kb, dir);
    assert_true(n >= 4);
    struct kb_results r = search_ok(kb, "quokkas", KB_MAX_K);
    assert_int_equal(r.count, (size_t)n);
    size_t total = 0;
    for (size_t i = 0; i < r.count; i++) {
        assert_true(strlen(r.hits[i].text) <= KB_MAX_PASSAGE_BYTES);
        assert_string_equal(r.hits[i].heading, "Long › Big Section");
        total += strlen(r.hits[i].text);
    }
    assert_int_equal(total + 2 * (size_t)n, body_len); /* only the blank lines between parts go */
    kb_results_free(&r);

    /* a heading longer than the limit is cut, on a character boundary */
    buf_init(&b, 0);
    buf_append_str(&b, "# ");
    for (int i = 0; i < 300; i++)
        buf_append_str(&b, "é");
    buf_append_str(&b, "\nText about wombats.\n");
    write_text(dir, "long.md", buf_str(&b));
    buf_free(&b);
    assert_int_equal(import_ok(kb, dir), 1);
    char *h = first_heading(kb, "wombats");
    assert_int_equal(strlen(h), KB_MAX_HEADING_BYTES);
    free(h);

    /* a file over the limit is refused by name */
    char *big = xmalloc(KB_MAX_FILE_BYTES + 1);
    memset(big, 'a', KB_MAX_FILE_BYTES + 1);
    write_file(dir, "huge.md", big, KB_MAX_FILE_BYTES + 1);
    free(big);
    char err[256] = "";
    assert_int_equal(kb_import_dir(kb, dir, NULL, err, sizeof err), ERR_LIMIT);
    assert_non_null(strstr(err, "huge.md"));
    assert_int_equal(kb_passage_count(kb), 1);
    kb_close(kb);
    remove_temp_dir(dir);
}

/* ---- search ------------------------------------------------------------- */

static void heading_match_beats_body_mention(void **state)
{
    char *dir = make_temp_dir();
    write_text(dir, "a-cleaning.md",
               "# Seasonal Cleaning\n## Spring Checklist\n"
               "Clean the gutter guards in spring. Check the gutter guards for leaves, "
               "and replace bent gutter guards.\n");
    write_text(dir, "b-protection.md",
               "# Leaf Protection\n## Gutter Guards\nThey keep leaves and twigs out of the troughs "
               "so water flows to the downspouts.\n");
    /* unrelated documents, so that the words being ranked are not in every
     * document (bm25 gives a word found everywhere no weight at all) */
    static const char *const fillers[] = {"ants", "bees", "cats", "dogs", "eels", "frogs"};
    for (size_t i = 0; i < sizeof fillers / sizeof fillers[0]; i++) {
        char *name = xasprintf("filler-%s.md", fillers[i]);
        char *text = xasprintf("# About %s\n## Habits\nThe %s live in the garden.\n", fillers[i],
                               fillers[i]);
        write_text(dir, name, text);
        free(name);
        free(text);
    }
    struct kb *kb = open_memory();
    import_ok(kb, dir);
    struct kb_results r = search_ok(kb, "gutter guards", 5);
    assert_int_equal(r.count, 2);
    assert_string_equal(r.hits[0].source, "b-protection.md");
    assert_string_equal(r.hits[1].source, "a-cleaning.md");
    assert_true(r.hits[0].score > r.hits[1].score);
    kb_results_free(&r);

    r = search_ok(kb, "gutter guards", 1); /* k bounds the hits */
    assert_int_equal(r.count, 1);
    kb_results_free(&r);
    r = search_ok(kb, "gutter guards", 0);
    assert_int_equal(r.count, 0);
    kb_results_free(&r);

    /* the porter stemmer: "cleaning" finds "Clean", "protected" finds "Protection" */
    char *h = first_heading(kb, "protected");
    assert_string_equal(h, "Leaf Protection › Gutter Guards");
    free(h);
    kb_close(kb);
    remove_temp_dir(dir);
}

static void query_expression_is_plain_words(void **state)
{
    char *e = kb_query_expression("What do I say when the PRICE is \"too high\"?");
    assert_string_equal(e, "\"say\" OR \"price\" OR \"high\"");
    free(e);
    e = kb_query_expression("NEAR(price* AND -roof) OR title:gutters");
    assert_string_equal(e, "\"near\" OR \"price\" OR \"roof\" OR \"title\" OR \"gutters\"");
    free(e);
    e = kb_query_expression("price price Price");
    assert_string_equal(e, "\"price\"");
    free(e);
    assert_null(kb_query_expression(""));
    assert_null(kb_query_expression("what is it?"));
    assert_null(kb_query_expression("\"*:()-^"));
    assert_null(kb_query_expression(NULL));
}

static void hostile_queries_never_error(void **state)
{
    char *dir = make_temp_dir();
    write_text(dir, "p.md",
               "# Pricing\n## Price Too High\nShow the near options and the title "
               "and the AND OR NOT words.\n");
    struct kb *kb = open_memory();
    import_ok(kb, dir);

    static const char *const queries[] = {
        "\"",
        "\"\"\"",
        "NEAR(",
        "NEAR(price high, 2)",
        "*",
        "price*",
        "a:b",
        "title:price",
        "-x",
        "-price",
        "",
        "   \t\n",
        "AND",
        "OR OR",
        "NOT price",
        "(price",
        "price)",
        "^price",
        "'",
        "{title section}: x",
        "\xff\xfe",
        "\xe2\x80",
        "price\x01\x02",
        "café ‘quoted’ — dash …",
        "€ ≥ ™",
        "\"price\" NEAR/3 \"high\"",
        "price + high",
        "col:(a OR b)",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct kb_results r = search_ok(kb, queries[i], 5);
        assert_true(r.count <= 5);
        kb_results_free(&r);
    }
    struct kb_results r = search_ok(kb, "NEAR(", 5); /* words still match */
    assert_int_equal(r.count, 1);
    kb_results_free(&r);

    /* 10 KB queries: punctuation soup, one giant word, thousands of words */
    static const char *const fills[] = {"price \" ( * : - NEAR( ", "x", "word%d "};
    for (size_t f = 0; f < 3; f++) {
        struct buf q;
        buf_init(&q, 0);
        for (int i = 0; q.len < 10 * 1024; i++)
            buf_printf(&q, fills[f], i);
        r = search_ok(kb, buf_str(&q), 5);
        assert_true(r.count <= 1);
        kb_results_free(&r);
        char *e = kb_query_expression(buf_str(&q));
        size_t ors = 0;
        for (const char *p = e; p && (p = strstr(p, " OR ")) != NULL; p++)
            ors++;
        assert_true(ors < 32); /* at most KB_TERMS_MAX terms */
        free(e);
        buf_free(&q);
    }
    kb_close(kb);
    remove_temp_dir(dir);
}

/* ---- on disk, auto-import, stats --------------------------------------- */

static void index_persists_and_auto_imports(void **state)
{
    char *dir = make_temp_dir();
    char *docs = xasprintf("%s/docs", dir);
    assert_int_equal(mkdir(docs, 0700), 0);
    write_text(docs, "a.md", "# Alpha\n## Otters\nOtters hold hands.\n");
    write_text(docs, "b.md", "# Beta\n## Owls\nOwls turn their heads.\n## Empty\n");
    char *path = xasprintf("%s/kb.sqlite", dir);
    char err[256] = "";
    struct kb *kb = NULL;
    assert_int_equal(kb_open(path, &kb, err, sizeof err), 0);
    assert_int_equal(kb_passage_count(kb), 0);
    assert_int_equal(kb_ensure_imported(kb, docs, err, sizeof err), 0);
    assert_int_equal(kb_passage_count(kb), 2);
    /* already imported: the default directory is not read again */
    assert_int_equal(kb_ensure_imported(kb, "/nonexistent-playbook", err, sizeof err), 0);

    struct kb_stats st;
    assert_int_equal(kb_stats_get(kb, &st, err, sizeof err), 0);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.passages, 2);
    assert_int_equal(st.bytes,
                     (long)(strlen("Otters hold hands.") + strlen("Owls turn their heads.")));
    assert_true(st.imported_at_ms > 0);
    assert_string_equal(st.source_dir, docs);
    assert_int_equal(st.source_count, 2);
    assert_string_equal(st.sources[0].source, "a.md");
    assert_string_equal(st.sources[1].source, "b.md");
    assert_int_equal(st.sources[1].passages, 1);
    kb_stats_free(&st);
    kb_close(kb);

    /* a second handle on the same file sees the import */
    kb = NULL;
    assert_int_equal(kb_open(path, &kb, err, sizeof err), 0);
    assert_int_equal(kb_passage_count(kb), 2);
    struct kb_results r = search_ok(kb, "owls", 5);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.hits[0].source, "b.md");
    kb_results_free(&r);
    kb_close(kb);

    /* an index written by an older table layout is rebuilt, then re-imported */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE kb_meta SET value = '1' WHERE key = 'schema'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    kb = NULL;
    assert_int_equal(kb_open(path, &kb, err, sizeof err), 0);
    assert_int_equal(kb_passage_count(kb), 0);
    assert_int_equal(kb_ensure_imported(kb, docs, err, sizeof err), 0);
    assert_int_equal(kb_passage_count(kb), 2);
    kb_close(kb);

    /* an empty index reports no import */
    kb = open_memory();
    assert_int_equal(kb_stats_get(kb, &st, err, sizeof err), 0);
    assert_int_equal(st.passages, 0);
    assert_int_equal(st.imported_at_ms, 0);
    assert_string_equal(st.source_dir, "");
    kb_stats_free(&st);
    kb_close(kb);

    for (const char *suffix = ""; suffix;) {
        char *p = xasprintf("%s%s", path, suffix);
        unlink(p);
        free(p);
        suffix = *suffix == '\0' ? "-wal" : strcmp(suffix, "-wal") == 0 ? "-shm" : NULL;
    }
    remove_temp_dir(docs);
    free(path);
    remove_temp_dir(dir);
}

/* ---- the shipped playbook ---------------------------------------------- */

static int word_count(const char *text)
{
    int words = 0;
    bool in_word = false;
    for (const char *p = text; *p; p++) {
        bool space = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

static void shipped_playbook_is_well_formed(void **state)
{
    char *dir = source_path("data/kb");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int docs = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".md") != 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *text = xcalloc(1, 65536);
        size_t len = fread(text, 1, 65535, f);
        fclose(f);
        assert_true(len > 0);
        int words = word_count(text);
        if (words < 300 || words > 900)
            fail_msg("%s has %d words (want 300-900)", e->d_name, words);
        if (strncmp(text, "# ", 2) != 0)
            fail_msg("%s does not start with a # title", e->d_name);
        int sections = 0;
        for (const char *p = text; (p = strstr(p, "\n## ")) != NULL; p++)
            sections++;
        if (sections < 3)
            fail_msg("%s has %d ## sections (want 3 or more)", e->d_name, sections);
        free(text);
        free(path);
        docs++;
    }
    closedir(d);
    assert_true(docs >= 16);
    free(dir);
}

static void shipped_playbook_answers_the_right_document(void **state)
{
    static const struct {
        const char *query;
        const char *source;
    } cases[] = {
        {"what do I say when they want to think about it", "objection-think-about-it.md"},
        {"customer says price is too high", "objection-price-too-high.md"},
        {"how does financing work", "financing.md"},
        {"insurance claim deductible", "storm-damage-insurance.md"},
        {"what is the primer video for", "primer-video.md"},
        {"my spouse isn't here", "objection-spouse-not-here.md"},
        {"homeowner says I'll just repair it", "objection-just-repair.md"},
        {"we're not in a hurry", "objection-not-in-a-hurry.md"},
        {"I'm getting other quotes", "objection-other-quotes.md"},
        {"3-day right to cancel", "cancellations-and-rescission.md"},
        {"ladder safety", "safety-and-professionalism.md"},
        {"what does roof pitch mean", "roof-styles-and-pitch.md"},
        {"how do I ask for a review", "referrals-and-reviews.md"},
        {"workmanship warranty", "warranties.md"},
        {"what goes in CRM notes", "crm-hygiene.md"},
        {"good better best options", "pricing-guidance.md"},
        {"selling gutters and siding add-ons", "gutter-siding-add-ons.md"},
        {"when was the company founded", "company-story.md"},
    };
    char *dir = source_path("data/kb");
    struct kb *kb = open_memory();
    char err[256] = "";
    assert_int_equal(kb_ensure_imported(kb, dir, err, sizeof err), 0);
    assert_true(kb_passage_count(kb) > 100);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kb_results r = search_ok(kb, cases[i].query, 5);
        if (r.count == 0 || strcmp(r.hits[0].source, cases[i].source) != 0)
            fail_msg("\"%s\": first hit %s, want %s", cases[i].query,
                     r.count ? r.hits[0].source : "(none)", cases[i].source);
        kb_results_free(&r);
    }
    kb_close(kb);
    free(dir);
}

/* ---- text helpers (kb_internal.h) ------------------------------------- */

static void text_helpers(void **state)
{
    /* the stop list is binary-searched: words from its start, middle and end */
    static const char *const stops[] = {"a",         "about", "because", "hello",     "myself",
                                        "something", "the",   "what",    "yourselves"};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        assert_true(kb_text_is_stop_word(stops[i]));
    static const char *const words[] = {"aardvark", "price", "say", "ask", "before", "zebra", ""};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        assert_false(kb_text_is_stop_word(words[i]));

    /* the light stemmer maps forms of a word together */
    static const char *const pairs[][2] = {
        {"financing", "finance"}, {"quotes", "quote"},           {"policies", "policy"},
        {"thinking", "think"},    {"deductibles", "deductible"}, {"shopping", "shop"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        kb_term a, b;
        strcpy(a, pairs[i][0]);
        strcpy(b, pairs[i][1]);
        kb_text_stem(a);
        kb_text_stem(b);
        assert_string_equal(a, b);
    }

    /* words: ASCII lower-cased, curly quotes and dashes separate, bad bytes skipped */
    const char *text = "Don’t PANIC—it’s \xff fine 3-tab";
    size_t pos = 0, len = strlen(text);
    kb_term w;
    static const char *const expect[] = {"don", "t", "panic", "it", "s", "fine", "3", "tab"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_true(kb_text_next_word(text, len, &pos, w) > 0);
        assert_string_equal(w, expect[i]);
    }
    assert_int_equal(kb_text_next_word(text, len, &pos, w), 0);

    kb_term terms[KB_TERMS_MAX];
    assert_int_equal(kb_text_terms("Quotes, quote and QUOTES!", terms, KB_TERMS_MAX, true), 1);
    assert_string_equal(terms[0], "quot");

    /* UTF-8: floor never splits a character */
    const char *e = "aé"; /* 0x61 0xc3 0xa9 */
    assert_int_equal(kb_text_utf8_floor(e, 3, 2), 1);
    assert_int_equal(kb_text_utf8_floor(e, 3, 3), 3);
    assert_int_equal(kb_text_utf8_floor(e, 3, 9), 3);
    size_t bad = 0;
    assert_true(kb_text_utf8_valid("ok €", strlen("ok €"), &bad));
    assert_false(kb_text_utf8_valid("ok \xf5\x80\x80\x80", 7, &bad));
    assert_int_equal(bad, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(import_splits_at_headings),
        cmocka_unit_test(reimport_replaces_previous),
        cmocka_unit_test(non_utf8_rejected_and_previous_import_kept),
        cmocka_unit_test(directory_errors),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(heading_match_beats_body_mention),
        cmocka_unit_test(query_expression_is_plain_words),
        cmocka_unit_test(hostile_queries_never_error),
        cmocka_unit_test(index_persists_and_auto_imports),
        cmocka_unit_test(shipped_playbook_is_well_formed),
        cmocka_unit_test(shipped_playbook_answers_the_right_document),
        cmocka_unit_test(text_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
