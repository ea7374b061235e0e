/* Unit tests for store/ (SQLite backend): opening and migrations (new file,
 * empty file, re-open, a newer schema refused, someone else's database and
 * garbage refused), sessions with optimistic concurrency, listing and idle
 * expiry, corrupt stored JSON reported, checkpoints, leases with expiry on an
 * injected clock, users and tokens, and argument checks. Runs and steps are in
 * test_store_runs.c; several processes at once in test_store_procs.c. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "store/store.h"

/* ---- fixture: a temporary directory, a store on a fake clock ----------------- */

struct fixture {
    char *dir;
    char *path;
    int64_t now; /* the fake clock */
    struct store *st;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fixture *)ctx)->now;
}

static char *make_temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = xasprintf("%s/harde-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static int open_fixture(struct fixture *f)
{
    struct store_options opts = {.now_ms = fake_now, .clock_ctx = f};
    char err[256] = "";
    int rc = store_open(f->path, &opts, &f->st, err, sizeof err);
    if (rc)
        print_error("store_open: %s\n", err);
    return rc;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    f->dir = make_temp_dir();
    f->path = xasprintf("%s/harde.sqlite", f->dir);
    f->now = 1700000000000;
    *state = f;
    return open_fixture(f);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    remove_dir(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Runs SQL on the file behind the store's back (to corrupt or inspect it). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("raw_exec %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void put_session(struct store *st, const char *id, const char *owner, const char *doc_text,
                        int64_t version, int expect)
{
    json_t *doc = doc_text ? json_loads(doc_text, JSON_DECODE_ANY, NULL) : NULL;
    struct store_session_put in = {.id = id, .owner = owner, .doc = doc, .version = version};
    int rc = store_session_put(st, &in, NULL);
    if (rc != expect)
        print_error("put %s: %s\n", id, store_error(st));
    assert_int_equal(rc, expect);
    json_decref(doc);
}

/* ---- opening and migrations ------------------------------------------------------ */

static void open_creates_schema_and_reopens(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(store_backend(f->st), "sqlite");
    assert_int_equal(store_now_ms(f->st), f->now);
    assert_int_equal(raw_int(f->path, "SELECT max(version) FROM schema_version"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_version"), 1);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);

    put_session(f->st, "keep", "", "{\"x\":1}", 0, 0);
    store_close(f->st);
    f->st = NULL;
    /* Re-open: nothing applied twice, data kept; the sqlite: prefix works too. */
    char *loc = xasprintf("sqlite:%s", f->path);
    char err[256];
    assert_int_equal(store_open(loc, NULL, &f->st, err, sizeof err), 0);
    free(loc);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_version"), 1);
    struct store_session s;
    assert_int_equal(store_session_get(f->st, "keep", &s), 0);
    assert_int_equal(json_integer_value(json_object_get(s.doc, "x")), 1);
    store_session_free(&s);
}

static void open_empty_file(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/empty.sqlite", f->dir);
    write_file(path, "", 0);
    struct store *st = NULL;
    char err[256] = "";
    assert_int_equal(store_open(path, NULL, &st, err, sizeof err), 0);
    assert_int_equal(store_checkpoint_put(st, "k", "v"), 0);
    store_close(st);
    assert_int_equal(raw_int(path, "SELECT max(version) FROM schema_version"), 1);
    free(path);
}

static void open_refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    raw_exec(f->path, "INSERT INTO schema_version VALUES (99, 'from the future', 0)");
    char err[256] = "";
    struct store *st = (struct store *)1;
    assert_int_equal(store_open(f->path, NULL, &st, err, sizeof err), ERR_CONFIG);
    assert_null(st);
    assert_non_null(strstr(err, "schema version 99"));
    assert_non_null(strstr(err, "newer"));
    /* Refusing changed nothing. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_version"), 2);
}

static void open_refuses_foreign_and_garbage(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct store *st = NULL;

    char *foreign = xasprintf("%s/crm.sqlite", f->dir);
    raw_exec(foreign, "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT)");
    assert_int_equal(store_open(foreign, NULL, &st, err, sizeof err), ERR_CONFIG);
    assert_null(st);
    assert_non_null(strstr(err, "not a Hard-E store"));
    assert_int_equal(raw_int(foreign, "SELECT count(*) FROM sqlite_schema"), 1);
    free(foreign);

    char *garbage = xasprintf("%s/garbage.sqlite", f->dir);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(garbage, junk, sizeof junk);
    assert_int_equal(store_open(garbage, NULL, &st, err, sizeof err), ERR_IO);
    assert_null(st);
    assert_non_null(strstr(err, "not a"));
    free(garbage);

    char *nodir = xasprintf("%s/no/such/dir/harde.sqlite", f->dir);
    assert_int_equal(store_open(nodir, NULL, &st, err, sizeof err), ERR_IO);
    assert_non_null(strstr(err, "no/such/dir"));
    free(nodir);

    assert_int_equal(store_open("", NULL, &st, err, sizeof err), ERR_CONFIG);
    assert_int_equal(store_open("sqlite:", NULL, &st, err, sizeof err), ERR_CONFIG);
    assert_int_equal(store_open("redis://127.0.0.1:6379", NULL, &st, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "Redis"));
}

/* ---- sessions ---------------------------------------------------------------------- */

static void session_round_trip(void **state)
{
    struct fixture *f = *state;
    json_t *doc = json_pack("{s:[{s:s,s:s}],s:s,s:{s:s}}", "messages", "role", "user", "content",
                            "price a roof", "agent", "Pricing", "states", "new_client", "phone");
    struct store_session_put in = {
        .id = "abc-123_X", .owner = "maria", .title = "Garcia roof", .doc = doc};
    int64_t version = -1;
    assert_int_equal(store_session_put(f->st, &in, &version), 0);
    assert_int_equal(version, 1);

    struct store_session s;
    assert_int_equal(store_session_get(f->st, "abc-123_X", &s), 0);
    assert_string_equal(s.id, "abc-123_X");
    assert_string_equal(s.owner, "maria");
    assert_string_equal(s.title, "Garcia roof");
    assert_int_equal(s.version, 1);
    assert_int_equal(s.created_ms, f->now);
    assert_int_equal(s.updated_ms, f->now);
    assert_true(json_equal(s.doc, doc));
    store_session_free(&s);
    json_decref(doc);

    /* NULL doc is {}; non-object JSON round-trips; NULL owner and title are "". */
    put_session(f->st, "bare", NULL, NULL, 0, 0);
    assert_int_equal(store_session_get(f->st, "bare", &s), 0);
    assert_true(json_is_object(s.doc) && json_object_size(s.doc) == 0);
    assert_string_equal(s.owner, "");
    assert_string_equal(s.title, "");
    store_session_free(&s);
    put_session(f->st, "array", NULL, "[1,\"two\",null]", 0, 0);
    assert_int_equal(store_session_get(f->st, "array", &s), 0);
    assert_true(json_is_array(s.doc) && json_array_size(s.doc) == 3);
    store_session_free(&s);

    assert_int_equal(store_session_get(f->st, "missing", &s), ERR_NOT_FOUND);
    assert_non_null(strstr(store_error(f->st), "missing"));
    assert_null(s.doc);
}

static void session_optimistic_concurrency(void **state)
{
    struct fixture *f = *state;
    put_session(f->st, "s1", "maria", "{\"turn\":0}", 0, 0);
    /* Creating again: the id is taken. */
    put_session(f->st, "s1", "maria", "{}", 0, ERR_EXISTS);

    /* Two writers both read version 1; the first wins, the second conflicts. */
    f->now += 1000;
    put_session(f->st, "s1", NULL, "{\"turn\":\"A\"}", 1, 0);
    put_session(f->st, "s1", NULL, "{\"turn\":\"B\"}", 1, ERR_CONFLICT);
    assert_non_null(strstr(store_error(f->st), "version 2"));

    struct store_session s;
    assert_int_equal(store_session_get(f->st, "s1", &s), 0);
    assert_int_equal(s.version, 2);
    assert_string_equal(json_string_value(json_object_get(s.doc, "turn")), "A");
    assert_string_equal(s.owner, "maria"); /* NULL owner kept it */
    assert_int_equal(s.updated_ms, f->now);
    assert_int_equal(s.created_ms, f->now - 1000);
    store_session_free(&s);

    /* The loser reads again and writes over the new version. */
    struct store_session_put in = {.id = "s1", .title = "retitled", .version = 2};
    int64_t v = 0;
    assert_int_equal(store_session_put(f->st, &in, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(store_session_get(f->st, "s1", &s), 0);
    assert_string_equal(s.title, "retitled");
    assert_string_equal(s.owner, "maria");
    assert_true(json_is_object(s.doc) && json_object_size(s.doc) == 0);
    store_session_free(&s);

    /* A version from the future conflicts; a deleted session is not found. */
    put_session(f->st, "s1", NULL, "{}", 9, ERR_CONFLICT);
    put_session(f->st, "gone", NULL, "{}", 1, ERR_NOT_FOUND);
}

static void session_list_and_delete(void **state)
{
    struct fixture *f = *state;
    const char *ids[] = {"a", "b", "c", "d", "e"};
    const char *owners[] = {"maria", "joe", "maria", "", "maria"};
    for (int i = 0; i < 5; i++) {
        f->now += 10;
        put_session(f->st, ids[i], owners[i], "{\"big\":\"not listed\"}", 0, 0);
    }
    /* Touch "a": it becomes the newest. */
    f->now += 10;
    put_session(f->st, "a", NULL, "{}", 1, 0);

    struct store_session_list l;
    assert_int_equal(store_session_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 5);
    const char *order[] = {"a", "e", "d", "c", "b"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(l.items[i].id, order[i]);
        assert_null(l.items[i].doc);
    }
    assert_int_equal(l.items[0].version, 2);
    store_session_list_free(&l);

    struct store_session_filter filter = {.owner = "maria", .limit = 2};
    assert_int_equal(store_session_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].id, "a");
    assert_string_equal(l.items[1].id, "e");
    store_session_list_free(&l);
    filter.offset = 2;
    assert_int_equal(store_session_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].id, "c");
    store_session_list_free(&l);
    filter = (struct store_session_filter){.owner = ""};
    assert_int_equal(store_session_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].id, "d");
    store_session_list_free(&l);

    assert_int_equal(store_session_delete(f->st, "d"), 0);
    assert_int_equal(store_session_delete(f->st, "d"), ERR_NOT_FOUND);

    /* Idle expiry at t+60 with 25 ms: b (t+20) and c (t+30) go; e (t+50) and
     * a (touched at t+60) stay. */
    size_t deleted = 99;
    assert_int_equal(store_session_delete_idle(f->st, 25, &deleted), 0);
    assert_int_equal(deleted, 2); /* b and c */
    assert_int_equal(store_session_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].id, "a");
    assert_string_equal(l.items[1].id, "e");
    store_session_list_free(&l);
    f->now += 1000;
    assert_int_equal(store_session_delete_idle(f->st, 0, &deleted), 0);
    assert_int_equal(deleted, 2);
}

static void session_corrupt_document_reported(void **state)
{
    struct fixture *f = *state;
    put_session(f->st, "hurt", "joe", "{\"ok\":true}", 0, 0);
    raw_exec(f->path, "UPDATE session SET doc = '{\"messages\": [' WHERE id = 'hurt'");
    struct store_session s;
    assert_int_equal(store_session_get(f->st, "hurt", &s), ERR_PARSE);
    assert_non_null(strstr(store_error(f->st), "session hurt"));
    assert_non_null(strstr(store_error(f->st), "corrupt"));
    assert_null(s.doc);
    assert_null(s.owner);
    raw_exec(f->path, "UPDATE session SET doc = X'7b2278223a22ff227d' WHERE id = 'hurt'");
    assert_int_equal(store_session_get(f->st, "hurt", &s), ERR_PARSE); /* not UTF-8 */
    raw_exec(f->path, "UPDATE session SET doc = '' WHERE id = 'hurt'");
    assert_int_equal(store_session_get(f->st, "hurt", &s), ERR_PARSE);
    raw_exec(f->path, "UPDATE session SET doc = '{} trailing' WHERE id = 'hurt'");
    assert_int_equal(store_session_get(f->st, "hurt", &s), ERR_PARSE);

    /* Lists still work; a fresh put over the known version repairs it. */
    struct store_session_list l;
    assert_int_equal(store_session_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 1);
    store_session_list_free(&l);
    put_session(f->st, "hurt", NULL, "{\"repaired\":1}", 1, 0);
    assert_int_equal(store_session_get(f->st, "hurt", &s), 0);
    store_session_free(&s);
}

static void session_limits_and_bad_arguments(void **state)
{
    struct fixture *f = *state;
    char long_id[STORE_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    put_session(f->st, long_id, NULL, "{}", 0, ERR_INVALID);
    long_id[STORE_ID_MAX] = '\0';
    put_session(f->st, long_id, NULL, "{}", 0, 0);
    put_session(f->st, "", NULL, "{}", 0, ERR_INVALID);
    put_session(f->st, "has space", NULL, "{}", 0, ERR_INVALID);
    put_session(f->st, "../etc", NULL, "{}", 0, ERR_INVALID);
    put_session(f->st, "ok", "bad owner!", "{}", 0, ERR_INVALID);
    put_session(f->st, "ok", NULL, "{}", -1, ERR_INVALID);
    assert_non_null(strstr(store_error(f->st), "negative"));

    char *title = xmalloc(STORE_TEXT_MAX + 2);
    memset(title, 't', STORE_TEXT_MAX + 1);
    title[STORE_TEXT_MAX + 1] = '\0';
    struct store_session_put in = {.id = "ok", .title = title};
    assert_int_equal(store_session_put(f->st, &in, NULL), ERR_INVALID);
    free(title);

    /* A document past STORE_DOC_MAX is refused with ERR_LIMIT. */
    char *big = xmalloc(STORE_DOC_MAX + 1);
    memset(big, 'x', STORE_DOC_MAX);
    big[STORE_DOC_MAX] = '\0';
    json_t *doc = json_string(big);
    free(big);
    in = (struct store_session_put){.id = "big", .doc = doc};
    assert_int_equal(store_session_put(f->st, &in, NULL), ERR_LIMIT);
    json_decref(doc);

    struct store_session s;
    assert_int_equal(store_session_get(f->st, NULL, &s), ERR_INVALID);
    assert_int_equal(store_session_delete(f->st, "a b"), ERR_INVALID);
    assert_int_equal(store_session_delete_idle(f->st, -1, NULL), ERR_INVALID);
    struct store_session_filter filter = {.owner = "no spaces please"};
    struct store_session_list l;
    assert_int_equal(store_session_list(f->st, &filter, &l), ERR_INVALID);
    assert_int_equal(l.count, 0);
    /* A successful call clears the previous message. */
    assert_int_equal(store_session_get(f->st, long_id, &s), 0);
    assert_string_equal(store_error(f->st), "");
    store_session_free(&s);
    assert_true(store_id_valid("Az09_-"));
    assert_false(store_id_valid("é"));
    assert_true(store_user_name_valid("maria.g@acme"));
    assert_false(store_user_name_valid("maria g"));
}

/* ---- checkpoints ---------------------------------------------------------------- */

static void checkpoints(void **state)
{
    struct fixture *f = *state;
    char *value = (char *)"unchanged";
    assert_int_equal(store_checkpoint_get(f->st, "imap:INBOX:uidvalidity", &value), ERR_NOT_FOUND);
    assert_null(value);
    assert_int_equal(store_checkpoint_put(f->st, "imap:INBOX:uidvalidity", "1700000001"), 0);
    assert_int_equal(store_checkpoint_put(f->st, "imap:INBOX:last_uid", "41"), 0);
    assert_int_equal(store_checkpoint_put(f->st, "imap:INBOX:last_uid", "42"), 0);
    assert_int_equal(store_checkpoint_get(f->st, "imap:INBOX:last_uid", &value), 0);
    assert_string_equal(value, "42");
    free(value);
    assert_int_equal(store_checkpoint_put(f->st, "empty", ""), 0);
    assert_int_equal(store_checkpoint_get(f->st, "empty", &value), 0);
    assert_string_equal(value, "");
    free(value);
    assert_int_equal(store_checkpoint_delete(f->st, "empty"), 0);
    assert_int_equal(store_checkpoint_delete(f->st, "empty"), ERR_NOT_FOUND);
    assert_int_equal(store_checkpoint_put(f->st, "bad key", "v"), ERR_INVALID);
    assert_int_equal(store_checkpoint_put(f->st, "k", NULL), ERR_INVALID);
}

/* ---- leases ---------------------------------------------------------------------- */

static void leases_with_expiry(void **state)
{
    struct fixture *f = *state;
    struct store_lease h;
    int64_t t0 = f->now;
    assert_int_equal(store_lease_get(f->st, "inbox", &h), ERR_NOT_FOUND);

    assert_int_equal(store_lease_acquire(f->st, "inbox", "worker-a", 1000, &h), 0);
    assert_string_equal(h.name, "inbox");
    assert_string_equal(h.owner, "worker-a");
    assert_int_equal(h.acquired_ms, t0);
    assert_int_equal(h.expires_ms, t0 + 1000);

    /* Someone else is refused and told who holds it. */
    f->now += 500;
    assert_int_equal(store_lease_acquire(f->st, "inbox", "worker-b", 1000, &h), ERR_CONFLICT);
    assert_string_equal(h.owner, "worker-a");
    assert_non_null(strstr(store_error(f->st), "worker-a"));

    /* The holder renews: expiry moves, acquired_ms stays. */
    assert_int_equal(store_lease_acquire(f->st, "inbox", "worker-a", 1000, &h), 0);
    assert_int_equal(h.acquired_ms, t0);
    assert_int_equal(h.expires_ms, t0 + 1500);
    assert_int_equal(store_lease_get(f->st, "inbox", &h), 0);
    assert_string_equal(h.owner, "worker-a");

    /* At the expiry instant the lease is free and another owner takes it. */
    f->now = t0 + 1500;
    assert_int_equal(store_lease_get(f->st, "inbox", &h), ERR_NOT_FOUND);
    assert_int_equal(store_lease_acquire(f->st, "inbox", "worker-b", 200, &h), 0);
    assert_string_equal(h.owner, "worker-b");
    assert_int_equal(h.acquired_ms, f->now);

    /* Releasing: not yours → conflict; yours → free; nobody's → not found. */
    assert_int_equal(store_lease_release(f->st, "inbox", "worker-a"), ERR_CONFLICT);
    assert_int_equal(store_lease_release(f->st, "inbox", "worker-b"), 0);
    assert_int_equal(store_lease_release(f->st, "inbox", "worker-b"), ERR_NOT_FOUND);
    assert_int_equal(store_lease_get(f->st, "inbox", &h), ERR_NOT_FOUND);

    /* An expired lease still comes back to its owner, who may also release it;
     * someone else's expired lease is "not held". */
    assert_int_equal(store_lease_acquire(f->st, "step", "worker-a", 10, NULL), 0);
    f->now += 50;
    assert_int_equal(store_lease_release(f->st, "step", "worker-b"), ERR_NOT_FOUND);
    assert_int_equal(store_lease_acquire(f->st, "step", "worker-a", 10, &h), 0);
    assert_int_equal(h.acquired_ms, f->now); /* a new tenure, not a renewal */
    f->now += 50;
    assert_int_equal(store_lease_release(f->st, "step", "worker-a"), 0);

    /* Independent names do not interfere. */
    assert_int_equal(store_lease_acquire(f->st, "run:1", "a", 100, NULL), 0);
    assert_int_equal(store_lease_acquire(f->st, "run:2", "b", 100, NULL), 0);

    assert_int_equal(store_lease_acquire(f->st, "x", "a", 0, NULL), ERR_INVALID);
    assert_int_equal(store_lease_acquire(f->st, "x", "a", -5, NULL), ERR_INVALID);
    assert_int_equal(store_lease_acquire(f->st, "", "a", 5, NULL), ERR_INVALID);
    assert_int_equal(store_lease_acquire(f->st, "x", "has space", 5, NULL), ERR_INVALID);
}

/* ---- users and tokens ----------------------------------------------------------- */

static const char hash_a[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char hash_b[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

static void users(void **state)
{
    struct fixture *f = *state;
    struct store_user_spec admin = {.name = "admin",
                                    .role = STORE_ROLE_ADMIN,
                                    .password_hash = "$argon2id$v=19$m=65536,t=2,p=1$abc$def"};
    assert_int_equal(store_user_create(f->st, &admin), 0);
    assert_int_equal(store_user_create(f->st, &admin), ERR_EXISTS);
    struct store_user_spec maria = {.name = "maria", .role = STORE_ROLE_REP, .team = "north"};
    struct store_user_spec joe = {.name = "joe", .role = STORE_ROLE_MANAGER, .team = "north"};
    struct store_user_spec zed = {.name = "zed", .role = STORE_ROLE_REP, .team = "south"};
    assert_int_equal(store_user_create(f->st, &maria), 0);
    assert_int_equal(store_user_create(f->st, &joe), 0);
    assert_int_equal(store_user_create(f->st, &zed), 0);

    struct store_user u;
    assert_int_equal(store_user_get(f->st, "admin", &u), 0);
    assert_int_equal(u.role, STORE_ROLE_ADMIN);
    assert_string_equal(u.team, "");
    assert_string_equal(u.password_hash, admin.password_hash);
    assert_int_equal(u.created_ms, f->now);
    store_user_free(&u);

    /* Update: the role always, team and hash only when given. */
    struct store_user_spec promote = {.name = "maria", .role = STORE_ROLE_MANAGER};
    assert_int_equal(store_user_update(f->st, &promote), 0);
    assert_int_equal(store_user_get(f->st, "maria", &u), 0);
    assert_int_equal(u.role, STORE_ROLE_MANAGER);
    assert_string_equal(u.team, "north");
    assert_string_equal(u.password_hash, "");
    store_user_free(&u);
    promote.password_hash = "new-hash";
    promote.team = "";
    assert_int_equal(store_user_update(f->st, &promote), 0);
    assert_int_equal(store_user_get(f->st, "maria", &u), 0);
    assert_string_equal(u.password_hash, "new-hash");
    assert_string_equal(u.team, "");
    store_user_free(&u);
    struct store_user_spec ghost = {.name = "ghost", .role = STORE_ROLE_REP};
    assert_int_equal(store_user_update(f->st, &ghost), ERR_NOT_FOUND);
    assert_int_equal(store_user_get(f->st, "ghost", &u), ERR_NOT_FOUND);

    struct store_user_list l;
    assert_int_equal(store_user_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.items[0].name, "admin");
    assert_string_equal(l.items[1].name, "joe");
    assert_string_equal(l.items[3].name, "zed");
    store_user_list_free(&l);
    struct store_user_filter filter = {.team = "north"};
    assert_int_equal(store_user_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].name, "joe");
    store_user_list_free(&l);
    filter = (struct store_user_filter){.limit = 2, .offset = 1};
    assert_int_equal(store_user_list(f->st, &filter, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].name, "joe");
    store_user_list_free(&l);

    /* A corrupt role is reported. */
    raw_exec(f->path, "PRAGMA ignore_check_constraints=ON; "
                      "UPDATE app_user SET role = 'king' WHERE name = 'zed'");
    assert_int_equal(store_user_get(f->st, "zed", &u), ERR_PARSE);
    assert_non_null(strstr(store_error(f->st), "king"));

    assert_int_equal(store_user_delete(f->st, "zed"), 0);
    assert_int_equal(store_user_delete(f->st, "zed"), ERR_NOT_FOUND);

    struct store_user_spec bad = {.name = "bad name", .role = STORE_ROLE_REP};
    assert_int_equal(store_user_create(f->st, &bad), ERR_INVALID);
    bad = (struct store_user_spec){.name = "x", .role = (enum store_role)7};
    assert_int_equal(store_user_create(f->st, &bad), ERR_INVALID);

    enum store_role role;
    assert_int_equal(store_role_parse("manager", &role), 0);
    assert_int_equal(role, STORE_ROLE_MANAGER);
    assert_int_equal(store_role_parse("Manager", &role), ERR_INVALID);
    assert_string_equal(store_role_name(STORE_ROLE_ADMIN), "admin");
    assert_string_equal(store_role_name((enum store_role)9), "unknown");
}

static void tokens(void **state)
{
    struct fixture *f = *state;
    struct store_user_spec maria = {.name = "maria", .role = STORE_ROLE_REP};
    assert_int_equal(store_user_create(f->st, &maria), 0);

    assert_int_equal(store_token_create(f->st, hash_a, "nobody", "cli"), ERR_NOT_FOUND);
    assert_int_equal(store_token_create(f->st, hash_a, "maria", "laptop"), 0);
    assert_int_equal(store_token_create(f->st, hash_a, "maria", "again"), ERR_EXISTS);
    assert_int_equal(store_token_create(f->st, "ABCDEF", "maria", NULL), ERR_INVALID);
    char upper[STORE_TOKEN_HASH_LEN + 1];
    memcpy(upper, hash_a, sizeof upper);
    upper[0] = 'A';
    assert_int_equal(store_token_create(f->st, upper, "maria", NULL), ERR_INVALID);
    f->now += 10;
    assert_int_equal(store_token_create(f->st, hash_b, "maria", NULL), 0);

    struct store_token t;
    f->now += 100000;
    int64_t first_use = f->now;
    assert_int_equal(store_token_lookup(f->st, hash_a, &t), 0);
    assert_string_equal(t.user, "maria");
    assert_string_equal(t.label, "laptop");
    assert_int_equal(t.last_used_ms, first_use);
    store_token_free(&t);
    /* Used again within a minute: not written again. */
    f->now += 30000;
    assert_int_equal(store_token_lookup(f->st, hash_a, &t), 0);
    assert_int_equal(t.last_used_ms, first_use);
    store_token_free(&t);
    f->now += 30000;
    assert_int_equal(store_token_lookup(f->st, hash_a, &t), 0);
    assert_int_equal(t.last_used_ms, f->now);
    store_token_free(&t);

    struct store_token_list l;
    assert_int_equal(store_token_list(f->st, "maria", &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].hash, hash_b); /* newest first */
    assert_string_equal(l.items[0].label, "");
    store_token_list_free(&l);
    assert_int_equal(store_token_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 2);
    store_token_list_free(&l);

    assert_int_equal(store_token_delete(f->st, hash_b), 0);
    assert_int_equal(store_token_delete(f->st, hash_b), ERR_NOT_FOUND);
    assert_int_equal(store_token_lookup(f->st, hash_b, &t), ERR_NOT_FOUND);

    /* Deleting the user deletes their tokens. */
    assert_int_equal(store_user_delete(f->st, "maria"), 0);
    assert_int_equal(store_token_lookup(f->st, hash_a, &t), ERR_NOT_FOUND);
    assert_int_equal(store_token_list(f->st, NULL, &l), 0);
    assert_int_equal(l.count, 0);
    store_token_list_free(&l);
}

static void error_codes(void **state)
{
    (void)state;
    assert_string_equal(err_name(ERR_CONFLICT), "CONFLICT");
    assert_string_equal(err_name(ERR_EXISTS), "EXISTS");
    assert_string_equal(err_message(ERR_EXISTS), "already exists");
    assert_true(ERR_CONFLICT != ERR_EXISTS && ERR_CONFLICT < ERR_TOOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(open_creates_schema_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(open_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses_foreign_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(session_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(session_optimistic_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(session_list_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(session_corrupt_document_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(session_limits_and_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(leases_with_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(users, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens, setup, teardown),
        cmocka_unit_test(error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
