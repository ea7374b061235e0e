/* Unit tests for services/crm with the local SQLite backend: the stage,
 * trade and phone tables; the sample book (every stage and trade, the Garcia
 * job); search ranking; customers, jobs, notes and stage moves with their
 * history; idempotent creates (in one handle and across reopenings);
 * validation that leaves the book untouched; migrations, WAL and the seed's
 * failure modes; JSON shapes; and opening from options and harde.ini. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/crm/crm.h"
#include "services/crm/crm_internal.h"

/* ---- helpers ------------------------------------------------------------------- */

/* The shipped sample book: $HARDE_SOURCE_DIR/data, else the data directory
 * the build was configured with (an absolute path). New. */
static char *seed_path(void)
{
    const char *root = getenv("HARDE_SOURCE_DIR");
    if (root)
        return xasprintf("%s/data/crm_seed.json", root);
    return xstrdup(HARDE_SHARE_DIR "/crm_seed.json");
}

struct fixture {
    char *dir;
    char *db;
    char *seed;
    struct crm *crm;
};

static char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = xasprintf("%s/crm-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static void remove_db(const char *db)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char *p = xasprintf("%s%s", db, suffix[i]);
        unlink(p);
        free(p);
    }
}

static struct crm *open_local(const char *db, const char *seed)
{
    char err[512];
    struct crm_options o = {.backend = "local", .db_path = db, .seed_path = seed};
    struct crm *crm = crm_open(&o, err, sizeof err);
    if (!crm)
        fail_msg("crm_open: %s", err);
    return crm;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = temp_dir();
    f->db = xasprintf("%s/crm.sqlite", f->dir);
    f->seed = seed_path();
    f->crm = open_local(f->db, f->seed);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crm_close(f->crm);
    remove_db(f->db);
    char *extra = xasprintf("%s/seed.json", f->dir);
    unlink(extra);
    free(extra);
    rmdir(f->dir);
    free(f->dir);
    free(f->db);
    free(f->seed);
    free(f);
    return 0;
}

static size_t count_jobs(struct crm *crm, enum crm_stage stage)
{
    struct crm_jobs jobs;
    char err[256];
    assert_int_equal(crm_jobs_list(crm, stage, CRM_LIST_MAX_LIMIT, &jobs, err, sizeof err), 0);
    size_t n = jobs.total;
    crm_jobs_free(&jobs);
    return n;
}

/* Number of customers whose full name is first + last. */
static size_t count_named(struct crm *crm, const char *first, const char *last)
{
    struct crm_hits hits;
    char err[256], *q = xasprintf("%s %s", first, last);
    assert_int_equal(crm_search(crm, q, CRM_SEARCH_MAX_LIMIT, &hits, err, sizeof err), 0);
    size_t n = 0;
    for (size_t i = 0; i < hits.count; i++)
        n += strcmp(hits.items[i].customer.first_name, first) == 0 &&
             strcmp(hits.items[i].customer.last_name, last) == 0;
    crm_hits_free(&hits);
    free(q);
    return n;
}

static struct crm_new_client sample_client(void)
{
    return (struct crm_new_client){
        .first_name = "Tom",
        .last_name = "Baker",
        .phone = "(614) 555-0199",
        .email = "tom.baker@example.com",
        .street = "88 Birch Ln",
        .city = "Dublin",
        .state = "oh",
        .zip = "43017",
        .lead_source = "Website form",
        .trade = CRM_TRADE_GUTTERS,
        .notes = "Gutters overflow at the front porch.",
        .author = "Jenna Brooks",
    };
}

/* ---- tables ---------------------------------------------------------------------- */

static void test_stage_names(void **state)
{
    enum crm_stage s;
    const char *keys[] = {"lead",       "appointment_set", "primer_video_sent",
                          "inspection", "presentation",    "signed",
                          "production", "complete",        "review_request"};
    assert_int_equal(CRM_STAGE_COUNT, 9);
    for (int i = 0; i < CRM_STAGE_COUNT; i++) {
        assert_string_equal(crm_stage_key(i), keys[i]);
        assert_int_equal(crm_stage_parse(keys[i], &s), 0);
        assert_int_equal(s, i);
        assert_int_equal(crm_stage_parse(crm_stage_label(i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(crm_stage_label(CRM_STAGE_PRIMER_VIDEO_SENT), "Primer Video Sent");
    assert_string_equal(crm_stage_label(CRM_STAGE_REVIEW_REQUEST), "Review Request");
    const struct {
        const char *text;
        enum crm_stage want;
    } ok[] = {
        {"Appointment set", CRM_STAGE_APPOINTMENT_SET},
        {"  appointment-set ", CRM_STAGE_APPOINTMENT_SET},
        {"APPT SET", CRM_STAGE_APPOINTMENT_SET},
        {"review requested", CRM_STAGE_REVIEW_REQUEST},
        {"sold", CRM_STAGE_SIGNED},
        {"1", CRM_STAGE_LEAD},
        {"9", CRM_STAGE_REVIEW_REQUEST},
        {"primer video", CRM_STAGE_PRIMER_VIDEO_SENT},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(crm_stage_parse(ok[i].text, &s), 0);
        assert_int_equal(s, ok[i].want);
    }
    const char *bad[] = {"", "  ", "0", "10", "pending", "lost", "signed!", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(crm_stage_parse(bad[i], &s), ERR_INVALID);
    assert_int_equal(crm_stage_parse(NULL, &s), ERR_INVALID);
    assert_string_equal(crm_stage_key(CRM_STAGE_UNKNOWN), "unknown");
}

static void test_trades_and_phones(void **state)
{
    enum crm_trade t;
    assert_int_equal(crm_trade_parse("Roofing", &t), 0);
    assert_int_equal(t, CRM_TRADE_ROOFING);
    assert_int_equal(crm_trade_parse("gutter", &t), 0);
    assert_int_equal(t, CRM_TRADE_GUTTERS);
    assert_int_equal(crm_trade_parse("WINDOWS", &t), 0);
    assert_int_equal(t, CRM_TRADE_WINDOWS);
    assert_int_equal(crm_trade_parse("plumbing", &t), ERR_INVALID);

    char out[20];
    const char *good[] = {"(614) 555-0142", "614.555.0142", "+1 614 555 0142",
                          "16145550142",    "6145550142",   NULL};
    for (int i = 0; good[i]; i++) {
        assert_int_equal(crm_phone_e164(good[i], out, sizeof out), 0);
        assert_string_equal(out, "+16145550142");
    }
    const char *bad[] = {
        "555-0142", "614-555-014", "614 555 0142 ext 3", "+44 20 7946 0958", "(014) 555-0142",
        "",         NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(crm_phone_e164(bad[i], out, sizeof out), ERR_INVALID);
}

/* ---- the sample book -------------------------------------------------------------- */

static void test_seed_book(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(crm_backend_name(f->crm), "local");
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 31);
    for (int s = 0; s < CRM_STAGE_COUNT; s++)
        if (count_jobs(f->crm, s) == 0)
            fail_msg("no seeded job in stage %s", crm_stage_key(s));

    struct crm_jobs all;
    char err[256];
    assert_int_equal(crm_jobs_list(f->crm, CRM_STAGE_ANY, 0, &all, err, sizeof err), 0);
    int per_trade[CRM_TRADE_COUNT] = {0};
    for (size_t i = 0; i < all.count; i++) {
        per_trade[all.items[i].trade]++;
        if (i > 0) /* pipeline order, then id */
            assert_true(all.items[i - 1].stage < all.items[i].stage ||
                        (all.items[i - 1].stage == all.items[i].stage &&
                         all.items[i - 1].id < all.items[i].id));
    }
    for (int t = 0; t < CRM_TRADE_COUNT; t++)
        assert_true(per_trade[t] > 0);
    crm_jobs_free(&all);

    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    assert_string_equal(j.customer_name, "Rosa Garcia");
    assert_int_equal(j.trade, CRM_TRADE_ROOFING);
    assert_int_equal(j.stage, CRM_STAGE_APPOINTMENT_SET);
    assert_string_equal(j.appointment, "2026-12-01T18:00");
    assert_string_equal(j.rep, "Dave Kowalski");
    assert_string_equal(j.street, "2217 Elmwood Ave");
    assert_string_equal(j.zip, "43212");
    assert_int_equal(j.note_count, 2);
    assert_string_equal(j.notes[0].author, "Office (Karen)");
    assert_non_null(strstr(j.notes[1].text, "Miguel"));
    assert_int_equal(j.history_count, 1);
    assert_int_equal(j.history[0].from, CRM_STAGE_UNKNOWN);
    assert_int_equal(j.history[0].to, CRM_STAGE_APPOINTMENT_SET);
    crm_job_free(&j);

    /* Reopening does not seed again. */
    crm_close(f->crm);
    f->crm = open_local(f->db, f->seed);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 31);
}

static void test_schema_and_wal(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode;", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version;", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    /* The CHECK constraint holds the stage names. */
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE jobs SET stage = 'pending' WHERE id = 1042;", NULL, NULL, NULL),
        SQLITE_OK);
    /* A database from a newer Hard-E is refused, not damaged. */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO schema_version(version, applied_at)"
                                  " VALUES (99, 'later');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    crm_close(f->crm);
    f->crm = NULL;
    char err[512];
    struct crm_options o = {.db_path = f->db, .seed_path = f->seed};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
}

/* ---- search --------------------------------------------------------------------- */

static void expect_first(struct crm *crm, const char *query, const char *last, const char *field)
{
    struct crm_hits hits;
    char err[256];
    assert_int_equal(crm_search(crm, query, 0, &hits, err, sizeof err), 0);
    if (hits.count == 0)
        fail_msg("\"%s\" found nothing", query);
    if (strcmp(hits.items[0].customer.last_name, last) != 0)
        fail_msg("\"%s\": first is %s, wanted %s", query, hits.items[0].customer.last_name, last);
    assert_string_equal(hits.items[0].matched, field);
    crm_hits_free(&hits);
}

static void test_search_ranking(void **state)
{
    struct fixture *f = *state;
    expect_first(f->crm, "garcia", "Garcia", "name");
    expect_first(f->crm, "Rosa Garcia", "Garcia", "name");
    expect_first(f->crm, "614-555-0142", "Garcia", "phone");
    expect_first(f->crm, "(614) 555 0142", "Garcia", "phone");
    expect_first(f->crm, "0142", "Garcia", "phone");
    expect_first(f->crm, "rosa.garcia@example.com", "Garcia", "email");
    expect_first(f->crm, "elmwood", "Garcia", "address");
    expect_first(f->crm, "2217 elmwood", "Garcia", "address");
    expect_first(f->crm, "43212", "Garcia", "zip");

    /* Exact last name beats a prefix: Smith before Smithers. */
    struct crm_hits hits;
    char err[256];
    assert_int_equal(crm_search(f->crm, "smith", 0, &hits, err, sizeof err), 0);
    assert_true(hits.count >= 2);
    assert_string_equal(hits.items[0].customer.last_name, "Smith");
    assert_string_equal(hits.items[1].customer.last_name, "Smithers");
    assert_true(hits.items[0].score > hits.items[1].score);
    crm_hits_free(&hits);

    /* Every word must match; the limit holds; nothing is not an error. */
    assert_int_equal(crm_search(f->crm, "rosa smith", 0, &hits, err, sizeof err), 0);
    assert_int_equal(hits.count, 0);
    crm_hits_free(&hits);
    assert_int_equal(crm_search(f->crm, "hilliard", 2, &hits, err, sizeof err), 0);
    assert_int_equal(hits.count, 2);
    crm_hits_free(&hits);
    assert_int_equal(crm_search(f->crm, "zzqx", 0, &hits, err, sizeof err), 0);
    assert_int_equal(hits.count, 0);
    crm_hits_free(&hits);
    assert_int_equal(crm_search(f->crm, "   ", 0, &hits, err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "search text"));
    char big[CRM_QUERY_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(crm_search(f->crm, big, 0, &hits, err, sizeof err), ERR_LIMIT);
    assert_int_equal(crm_search(f->crm, "caf\xc3", 0, &hits, err, sizeof err), ERR_INVALID);
}

static void test_match_scores(void **state)
{
    struct crm_customer c = {.first_name = "Rosa",
                             .last_name = "Garcia",
                             .phone = "+16145550142",
                             .email = "rosa.garcia@example.com",
                             .street = "2217 Elmwood Ave",
                             .city = "Columbus",
                             .state = "OH",
                             .zip = "43212"};
    const char *m = NULL;
    assert_int_equal(crm_match(&c, "6145550142", &m), 100);
    assert_int_equal(crm_match(&c, "+1 614 555 0142", &m), 100);
    assert_int_equal(crm_match(&c, "5550142", &m), 80);
    assert_int_equal(crm_match(&c, "4555", &m), 60);
    assert_int_equal(crm_match(&c, "2217", &m), 50);
    assert_string_equal(m, "address");
    assert_int_equal(crm_match(&c, "garcia", &m), 40);
    assert_int_equal(crm_match(&c, "garc", &m), 25);
    assert_int_equal(crm_match(&c, "rosa garcia", &m), 30 + 40 + 30);
    assert_int_equal(crm_match(&c, "garcia columbus", &m), 50);
    assert_int_equal(crm_match(&c, "garcia dayton", &m), 0);
    assert_null(m);
    assert_int_equal(crm_match(&c, "9999", &m), 0);
}

/* ---- customers, jobs, notes, stages ------------------------------------------------------ */

static void test_customer_and_job(void **state)
{
    struct fixture *f = *state;
    struct crm_customer c;
    char err[256];
    assert_int_equal(crm_customer_get(f->crm, 502, &c, err, sizeof err), 0);
    assert_string_equal(c.last_name, "Smith");
    assert_string_equal(c.phone, "+16145550118");
    assert_int_equal(c.job_count, 2);
    assert_int_equal(c.jobs[0].id, 1017);
    assert_int_equal(c.jobs[1].id, 1077);
    assert_int_equal(c.jobs[1].stage, CRM_STAGE_LEAD);
    assert_int_equal(c.jobs[1].trade, CRM_TRADE_GUTTERS);
    assert_string_equal(c.jobs[1].customer_name, "James Smith");
    crm_customer_free(&c);

    assert_int_equal(crm_customer_get(f->crm, 9999, &c, err, sizeof err), ERR_NOT_FOUND);
    assert_non_null(strstr(err, "9999"));
    assert_null(c.first_name);
    assert_int_equal(crm_customer_get(f->crm, 0, &c, err, sizeof err), ERR_INVALID);
    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, 4242, &j, err, sizeof err), ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no job 4242"));
    assert_int_equal(crm_job_get(f->crm, -3, &j, err, sizeof err), ERR_INVALID);
}

static void test_notes(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t id = 0;
    assert_int_equal(crm_note_add(f->crm, 1042, "Dave Kowalski",
                                  "  Called Rosa: confirmed Tuesday 6 pm.  ", &id, err, sizeof err),
                     0);
    assert_true(id > 0);
    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.note_count, 3);
    assert_int_equal(j.notes[2].id, id);
    assert_string_equal(j.notes[2].text, "Called Rosa: confirmed Tuesday 6 pm.");
    assert_string_equal(j.notes[2].author, "Dave Kowalski");
    assert_non_null(j.notes[2].created_at);
    crm_job_free(&j);

    assert_int_equal(crm_note_add(f->crm, 9999, NULL, "x", &id, err, sizeof err), ERR_NOT_FOUND);
    assert_int_equal(id, 0);
    assert_int_equal(crm_note_add(f->crm, 1042, NULL, " \n", NULL, err, sizeof err), ERR_INVALID);
    char *huge = xcalloc(1, CRM_TEXT_MAX + 2);
    memset(huge, 'n', CRM_TEXT_MAX + 1);
    assert_int_equal(crm_note_add(f->crm, 1042, NULL, huge, NULL, err, sizeof err), ERR_LIMIT);
    free(huge);
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.note_count, 3);
    crm_job_free(&j);
}

static void test_stage_moves(void **state)
{
    struct fixture *f = *state;
    char err[256];
    size_t signed_before = count_jobs(f->crm, CRM_STAGE_SIGNED);
    assert_int_equal(crm_stage_move(f->crm, 1042, CRM_STAGE_SIGNED, "Dave Kowalski",
                                    "Signed Better option", err, sizeof err),
                     0);
    /* Moving to the stage it is in changes nothing. */
    assert_int_equal(crm_stage_move(f->crm, 1042, CRM_STAGE_SIGNED, "Dave", NULL, err, sizeof err),
                     0);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_SIGNED), signed_before + 1);
    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.stage, CRM_STAGE_SIGNED);
    assert_int_equal(j.history_count, 2);
    assert_int_equal(j.history[1].from, CRM_STAGE_APPOINTMENT_SET);
    assert_int_equal(j.history[1].to, CRM_STAGE_SIGNED);
    assert_string_equal(j.history[1].changed_by, "Dave Kowalski");
    assert_string_equal(j.history[1].reason, "Signed Better option");
    assert_string_equal(j.stage_changed_at, j.history[1].changed_at);
    crm_job_free(&j);

    assert_int_equal(crm_stage_move(f->crm, 1042, CRM_STAGE_COUNT, NULL, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "review_request"));
    assert_int_equal(crm_stage_move(f->crm, 1042, CRM_STAGE_UNKNOWN, NULL, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(crm_stage_move(f->crm, 1042, CRM_STAGE_ANY, NULL, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(crm_stage_move(f->crm, 777, CRM_STAGE_LEAD, NULL, NULL, err, sizeof err),
                     ERR_NOT_FOUND);
    struct crm_jobs jobs;
    assert_int_equal(crm_jobs_list(f->crm, (enum crm_stage)42, 0, &jobs, err, sizeof err),
                     ERR_INVALID);

    /* It all survives a reopen. */
    crm_close(f->crm);
    f->crm = open_local(f->db, f->seed);
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.stage, CRM_STAGE_SIGNED);
    assert_int_equal(j.history_count, 2);
    crm_job_free(&j);
}

static void test_jobs_limit(void **state)
{
    struct fixture *f = *state;
    struct crm_jobs jobs;
    char err[256];
    assert_int_equal(crm_jobs_list(f->crm, CRM_STAGE_ANY, 5, &jobs, err, sizeof err), 0);
    assert_int_equal(jobs.count, 5);
    assert_int_equal(jobs.total, 31);
    assert_int_equal(jobs.items[0].stage, CRM_STAGE_LEAD);
    crm_jobs_free(&jobs);
    assert_int_equal(crm_jobs_list(f->crm, CRM_STAGE_APPOINTMENT_SET, 0, &jobs, err, sizeof err),
                     0);
    assert_int_equal(jobs.count, 4);
    for (size_t i = 0; i < jobs.count; i++) {
        assert_int_equal(jobs.items[i].stage, CRM_STAGE_APPOINTMENT_SET);
        assert_non_null(jobs.items[i].appointment);
        assert_int_equal(jobs.items[i].note_count, 0); /* lists carry no notes */
    }
    crm_jobs_free(&jobs);
}

/* ---- creating clients ---------------------------------------------------------------- */

static void test_create(void **state)
{
    struct fixture *f = *state;
    struct crm_new_client in = sample_client();
    struct crm_created ids;
    char err[256];
    assert_int_equal(crm_client_create(f->crm, &in, &ids, err, sizeof err), 0);
    assert_false(ids.replayed);
    assert_true(ids.customer_id > 528);
    assert_true(ids.job_id > 1083);

    struct crm_customer c;
    assert_int_equal(crm_customer_get(f->crm, ids.customer_id, &c, err, sizeof err), 0);
    assert_string_equal(c.phone, "+16145550199");
    assert_string_equal(c.state, "OH");
    assert_string_equal(c.lead_source, "Website form");
    assert_int_equal(c.job_count, 1);
    assert_int_equal(c.jobs[0].id, ids.job_id);
    crm_customer_free(&c);

    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, ids.job_id, &j, err, sizeof err), 0);
    assert_int_equal(j.stage, CRM_STAGE_LEAD);
    assert_int_equal(j.trade, CRM_TRADE_GUTTERS);
    assert_string_equal(j.description, "Gutters estimate");
    assert_int_equal(j.note_count, 1);
    assert_string_equal(j.notes[0].text, "Gutters overflow at the front porch.");
    assert_string_equal(j.notes[0].author, "Jenna Brooks");
    assert_int_equal(j.history_count, 1);
    assert_null(j.appointment);
    crm_job_free(&j);

    /* With an appointment the job starts in Appointment Set. */
    in.first_name = "Ana";
    in.phone = "614-555-0198";
    in.appointment = "2026-12-08T17:30";
    in.rep = "Priya Shah";
    in.notes = NULL;
    assert_int_equal(crm_client_create(f->crm, &in, &ids, err, sizeof err), 0);
    assert_int_equal(crm_job_get(f->crm, ids.job_id, &j, err, sizeof err), 0);
    assert_int_equal(j.stage, CRM_STAGE_APPOINTMENT_SET);
    assert_string_equal(j.rep, "Priya Shah");
    assert_int_equal(j.note_count, 0);
    crm_job_free(&j);
}

static void test_create_idempotent(void **state)
{
    struct fixture *f = *state;
    struct crm_new_client in = sample_client();
    in.idempotency_key = "session-7f3a:new-client:1";
    struct crm_created first, again;
    char err[256];
    assert_int_equal(crm_client_create(f->crm, &in, &first, err, sizeof err), 0);
    assert_false(first.replayed);
    assert_int_equal(crm_client_create(f->crm, &in, &again, err, sizeof err), 0);
    assert_true(again.replayed);
    assert_int_equal(again.customer_id, first.customer_id);
    assert_int_equal(again.job_id, first.job_id);
    assert_int_equal(count_named(f->crm, "Tom", "Baker"), 1);

    /* The key is durable: a retry after a restart finds the first create. */
    crm_close(f->crm);
    f->crm = open_local(f->db, f->seed);
    in.phone = "+1 614 555 0199"; /* the same number, written differently */
    assert_int_equal(crm_client_create(f->crm, &in, &again, err, sizeof err), 0);
    assert_true(again.replayed);
    assert_int_equal(again.customer_id, first.customer_id);
    assert_int_equal(count_named(f->crm, "Tom", "Baker"), 1);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 32);

    /* The same key for somebody else is refused. */
    in.first_name = "Tina";
    assert_int_equal(crm_client_create(f->crm, &in, &again, err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "already used"));
    assert_int_equal(again.customer_id, 0);
    assert_int_equal(count_named(f->crm, "Tina", "Baker"), 0);

    /* Without a key, two creates are two customers (the caller searches first). */
    in.first_name = "Tom";
    in.idempotency_key = NULL;
    assert_int_equal(crm_client_create(f->crm, &in, &again, err, sizeof err), 0);
    assert_int_equal(count_named(f->crm, "Tom", "Baker"), 2);
}

static void test_create_validation(void **state)
{
    struct fixture *f = *state;
    struct crm_created ids;
    char err[256];
    const struct {
        const char *field;
        const char *value;
        int rc;
        const char *says;
    } cases[] = {
        {"phone", NULL, ERR_INVALID, "phone is required"},
        {"phone", "555-0199", ERR_INVALID, "not a US phone"},
        {"first_name", "  ", ERR_INVALID, "first name is required"},
        {"last_name", NULL, ERR_INVALID, "last name is required"},
        {"state", "Ohio", ERR_INVALID, "two letters"},
        {"zip", "4301", ERR_INVALID, "ZIP"},
        {"email", "tom at example.com", ERR_INVALID, "not an email"},
        {"appointment", "Tuesday 6pm", ERR_INVALID, "YYYY-MM-DDTHH:MM"},
        {"appointment", "2026-13-01T10:00", ERR_INVALID, "YYYY-MM-DDTHH:MM"},
        {"first_name", "Jos\xe9", ERR_INVALID, "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct crm_new_client in = sample_client();
        in.idempotency_key = "validation-key";
        if (strcmp(cases[i].field, "phone") == 0)
            in.phone = cases[i].value;
        else if (strcmp(cases[i].field, "first_name") == 0)
            in.first_name = cases[i].value;
        else if (strcmp(cases[i].field, "last_name") == 0)
            in.last_name = cases[i].value;
        else if (strcmp(cases[i].field, "state") == 0)
            in.state = cases[i].value;
        else if (strcmp(cases[i].field, "zip") == 0)
            in.zip = cases[i].value;
        else if (strcmp(cases[i].field, "email") == 0)
            in.email = cases[i].value;
        else
            in.appointment = cases[i].value;
        int rc = crm_client_create(f->crm, &in, &ids, err, sizeof err);
        if (rc != cases[i].rc || !strstr(err, cases[i].says))
            fail_msg("case %zu (%s): rc %d, err \"%s\"", i, cases[i].field, rc, err);
    }
    struct crm_new_client in = sample_client();
    in.trade = CRM_TRADE_COUNT;
    assert_int_equal(crm_client_create(f->crm, &in, &ids, err, sizeof err), ERR_INVALID);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 31); /* nothing was written */
    /* ZIP+4 is fine. */
    in = sample_client();
    in.zip = "43017-1234";
    assert_int_equal(crm_client_create(f->crm, &in, &ids, err, sizeof err), 0);
}

/* ---- the seed, JSON, opening ---------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_bad_seed(void **state)
{
    struct fixture *f = *state;
    crm_close(f->crm);
    f->crm = NULL;
    remove_db(f->db);
    char *seed = xasprintf("%s/seed.json", f->dir), err[512];
    write_file(seed, "{\"customers\": [{\"id\": 7, \"first_name\": \"A\", \"last_name\": \"B\","
                     " \"phone\": \"+16145550100\", \"jobs\": [{\"id\": 70, \"trade\": \"roofing\","
                     " \"stage\": \"lead\", \"description\": \"d\"}]},"
                     " {\"id\": 8, \"first_name\": \"C\", \"last_name\": \"D\","
                     " \"phone\": \"12\"}]}");
    struct crm_options o = {.db_path = f->db, .seed_path = seed};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "customer 2"));
    /* The failed seed left the book empty, so a good seed is still loaded later. */
    write_file(seed, "{\"customers\": [{\"id\": 7, \"first_name\": \"A\", \"last_name\": \"B\","
                     " \"phone\": \"+16145550100\", \"jobs\": [{\"id\": 70, \"trade\": \"roofing\","
                     " \"stage\": \"not-a-stage\", \"description\": \"d\"}]}]}");
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "job 70"));
    write_file(seed, "{\"customers\": [{\"id\": 7, \"first_name\": \"A\", \"last_name\": \"B\","
                     " \"phone\": \"+16145550100\", \"jobs\": [{\"id\": 70, \"trade\": \"roofing\","
                     " \"stage\": \"lead\", \"description\": \"d\"}]}]}");
    f->crm = crm_open(&o, err, sizeof err);
    assert_non_null(f->crm);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 1);
    crm_close(f->crm);
    /* Broken JSON and a missing file say so. */
    remove_db(f->db);
    write_file(seed, "{\"customers\": [");
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "seed"));
    o.seed_path = "/nonexistent/crm_seed.json";
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/crm_seed.json"));
    /* No seed at all: an empty book, ids start after 500 / 1000. */
    o.seed_path = NULL;
    f->crm = crm_open(&o, err, sizeof err);
    assert_non_null(f->crm);
    assert_int_equal(count_jobs(f->crm, CRM_STAGE_ANY), 0);
    struct crm_new_client in = sample_client();
    struct crm_created ids;
    assert_int_equal(crm_client_create(f->crm, &in, &ids, err, sizeof err), 0);
    assert_int_equal(ids.customer_id, 501);
    assert_int_equal(ids.job_id, 1001);
    free(seed);
}

static void test_json(void **state)
{
    struct fixture *f = *state;
    struct crm_job j;
    char err[256];
    assert_int_equal(crm_job_get(f->crm, 1042, &j, err, sizeof err), 0);
    json_t *o = crm_job_to_json(&j);
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 1042);
    assert_string_equal(json_string_value(json_object_get(o, "stage")), "appointment_set");
    assert_string_equal(json_string_value(json_object_get(o, "stage_label")), "Appointment Set");
    assert_string_equal(json_string_value(json_object_get(o, "trade")), "roofing");
    assert_string_equal(json_string_value(json_object_get(o, "customer_name")), "Rosa Garcia");
    assert_string_equal(json_string_value(json_object_get(o, "address_line")),
                        "2217 Elmwood Ave, Columbus, OH 43212");
    assert_true(json_is_null(json_object_get(o, "number")));
    assert_int_equal(json_array_size(json_object_get(o, "notes")), 2);
    json_t *h = json_array_get(json_object_get(o, "stage_history"), 0);
    assert_true(json_is_null(json_object_get(h, "from")));
    assert_string_equal(json_string_value(json_object_get(h, "to")), "appointment_set");
    json_decref(o);
    crm_job_free(&j);

    struct crm_customer c;
    assert_int_equal(crm_customer_get(f->crm, 501, &c, err, sizeof err), 0);
    o = crm_customer_to_json(&c);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "Rosa Garcia");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "address"), "zip")),
                        "43212");
    assert_int_equal(json_array_size(json_object_get(o, "jobs")), 1);
    json_decref(o);
    crm_customer_free(&c);

    o = crm_stages_to_json();
    assert_int_equal(json_array_size(o), 9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(o, 2), "label")),
                        "Primer Video Sent");
    json_decref(o);
}

static void test_open_options(void **state)
{
    struct fixture *f = *state;
    char err[512];
    struct crm_options o = {.backend = "salesforce", .db_path = f->db};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "salesforce"));
    o = (struct crm_options){.backend = "local"};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "database path"));
    assert_null(crm_open(NULL, err, sizeof err));
    o = (struct crm_options){.backend = "leap"};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "token"));
    assert_int_equal(crm_search(NULL, "x", 0, &(struct crm_hits){0}, err, sizeof err), ERR_INVALID);
}

static void test_open_configured(void **state)
{
    struct fixture *f = *state;
    char err[512];
    unsetenv("LEAP_API_TOKEN");
    unsetenv("HARDE_CRM_BACKEND");
    struct config *cfg =
        config_parse("[crm]\ndb = other.sqlite\nseed = none\n", "t.ini", err, sizeof err);
    assert_non_null(cfg);
    char *share = xasprintf("%s/..", f->dir); /* any directory: no seed is read */
    struct crm *crm = crm_open_configured(cfg, f->dir, share, err, sizeof err);
    assert_non_null(crm);
    assert_string_equal(crm_backend_name(crm), "local");
    assert_int_equal(count_jobs(crm, CRM_STAGE_ANY), 0); /* seed = none */
    crm_close(crm);
    char *other = xasprintf("%s/other.sqlite", f->dir);
    assert_int_equal(access(other, F_OK), 0);
    remove_db(other);
    free(other);
    config_free(cfg);

    /* Leap needs the token from the environment. */
    cfg = config_parse("[crm]\nbackend = leap\n[leap]\nbase_url = http://127.0.0.1:9/api/v3\n",
                       "t.ini", err, sizeof err);
    assert_null(crm_open_configured(cfg, f->dir, share, err, sizeof err));
    assert_non_null(strstr(err, "LEAP_API_TOKEN"));
    setenv("LEAP_API_TOKEN", "leap-test-token-1234", 1);
    crm = crm_open_configured(cfg, f->dir, share, err, sizeof err);
    assert_non_null(crm);
    assert_string_equal(crm_backend_name(crm), "leap");
    crm_close(crm);
    config_free(cfg);

    /* With the token set and no backend named, Leap is the default … */
    cfg = config_parse("", "t.ini", err, sizeof err);
    crm = crm_open_configured(cfg, f->dir, share, err, sizeof err);
    assert_non_null(crm);
    assert_string_equal(crm_backend_name(crm), "leap");
    crm_close(crm);
    /* … and an explicit local wins. */
    setenv("HARDE_CRM_BACKEND", "local", 1);
    crm = crm_open_configured(cfg, f->dir, share, err, sizeof err);
    assert_non_null(crm);
    assert_string_equal(crm_backend_name(crm), "local");
    crm_close(crm);
    unsetenv("HARDE_CRM_BACKEND");
    unsetenv("LEAP_API_TOKEN");
    config_free(cfg);
    free(share);
}

static void test_two_handles(void **state)
{
    struct fixture *f = *state;
    struct crm *other = open_local(f->db, f->seed);
    char err[256];
    int64_t id;
    assert_int_equal(
        crm_note_add(other, 1061, "Priya Shah", "Confirmed by text.", &id, err, sizeof err), 0);
    struct crm_job j;
    assert_int_equal(crm_job_get(f->crm, 1061, &j, err, sizeof err), 0);
    assert_int_equal(j.notes[j.note_count - 1].id, id);
    crm_job_free(&j);
    crm_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_names),
        cmocka_unit_test(test_trades_and_phones),
        cmocka_unit_test(test_match_scores),
        cmocka_unit_test_setup_teardown(test_seed_book, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_ranking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customer_and_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_seed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
    };
    return cmocka_run_group_tests_name("crm_local", tests, NULL, NULL);
}
