/* Unit tests for store/ with several processes on one SQLite file:
 *  - a child recording many steps is killed with SIGKILL at a random instant,
 *    again and again; after each kill the file is intact and every run is
 *    consistent (no step output without the run's current step reflecting
 *    it, or the other way round);
 *  - two processes contend for one lease; the critical section it guards
 *    never has two holders and no update inside it is lost;
 *  - a lease held by a process that died is free once it expires;
 *  - three workers claim the same due runs by compare-and-set; each run is
 *    claimed and its step run exactly once;
 *  - four processes open a new file at the same instant; the schema is made
 *    once.
 * Children use the real clock, report through exit codes and the store, and
 * are stopped by their own PID. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "store/store.h"

#define CRASH_ROUNDS  40
#define CRASH_STEPS   12 /* steps per run in the crash test */
#define CONTEND_MS    1500
#define CLAIM_RUNS    60
#define CLAIM_WORKERS 3
#define OPENERS       4

struct fixture {
    char *dir;
    char *path;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    f->dir = xasprintf("%s/harde-procs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->path = xasprintf("%s/harde.sqlite", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char *p = xasprintf("%s/%s", f->dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Opens the store in a child; exits 90 when it cannot. */
static struct store *child_open(const char *path)
{
    struct store *st = NULL;
    char err[256];
    if (store_open(path, NULL, &st, err, sizeof err) != 0) {
        fprintf(stderr, "child %d: %s\n", (int)getpid(), err);
        _exit(90);
    }
    return st;
}

static void child_fail(struct store *st, const char *what)
{
    fprintf(stderr, "child %d: %s: %s\n", (int)getpid(), what, store_error(st));
    _exit(91);
}

static struct store *parent_open(const char *path)
{
    struct store *st = NULL;
    char err[256] = "";
    int rc = store_open(path, NULL, &st, err, sizeof err);
    if (rc)
        print_error("store_open: %s\n", err);
    assert_int_equal(rc, 0);
    return st;
}

/* Waits for pid; returns its exit status, or 128 + signal. */
static int wait_child(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void step_name(char *dst, size_t cap, int i)
{
    snprintf(dst, cap, "s%d", i);
}

/* ---- SIGKILL in the middle of step recording ----------------------------------- */

/* The child: runs after runs of CRASH_STEPS steps, forever. Writes one byte
 * to ready once it has recorded its first step. */
static void crash_child(const char *path, int ready)
{
    struct store *st = child_open(path);
    json_t *input = json_pack("{s:s}", "pad", "a little input to write each time");
    bool told = false;
    for (;;) {
        struct store_run_new in = {.workflow = "crash", .input = input};
        struct store_run run;
        if (store_run_create(st, &in, &run, NULL))
            child_fail(st, "create");
        for (int i = 0; i < CRASH_STEPS; i++) {
            char name[16], next[16] = "";
            step_name(name, sizeof name, i);
            if (i + 1 < CRASH_STEPS)
                step_name(next, sizeof next, i + 1);
            if (store_step_start(st, run.id, name, NULL))
                child_fail(st, "start");
            json_t *out = json_pack("{s:i,s:s}", "i", i, "text", "recorded output");
            int rc = store_step_succeed(st, run.id, name, out, next);
            json_decref(out);
            if (rc)
                child_fail(st, "succeed");
            if (!told) {
                told = write(ready, "x", 1) == 1;
            }
        }
        struct store_run_transition done = {.to = STORE_RUN_SUCCEEDED};
        if (store_run_transition(st, run.id, &done, NULL))
            child_fail(st, "finish");
        store_run_free(&run);
    }
}

/* Checks one run's steps against its current step; returns the number of
 * succeeded steps. */
static int check_run(const struct store_run *r)
{
    int k = 0;
    char name[16];
    while ((size_t)k < r->step_count && r->steps[k].status == STORE_STEP_SUCCEEDED) {
        step_name(name, sizeof name, k);
        assert_string_equal(r->steps[k].name, name);
        assert_int_equal(json_integer_value(json_object_get(r->steps[k].output, "i")), k);
        assert_int_equal(r->steps[k].attempts, 1);
        k++;
    }
    bool running = false;
    if ((size_t)k < r->step_count) {
        /* At most one more step, the next one, started but not recorded. */
        assert_int_equal(r->step_count, (size_t)k + 1);
        step_name(name, sizeof name, k);
        assert_string_equal(r->steps[k].name, name);
        assert_int_equal(r->steps[k].status, STORE_STEP_RUNNING);
        assert_null(r->steps[k].output);
        running = true;
    }
    if (k == CRASH_STEPS || (k == 0 && !running)) {
        assert_string_equal(r->current_step, "");
    } else {
        step_name(name, sizeof name, k);
        if (strcmp(r->current_step, name) != 0)
            print_error("run %s: %d steps recorded but current step is \"%s\"\n", r->id, k,
                        r->current_step);
        assert_string_equal(r->current_step, name);
    }
    if (r->status == STORE_RUN_SUCCEEDED)
        assert_int_equal(k, CRASH_STEPS);
    else
        assert_int_equal(r->status, STORE_RUN_PENDING);
    return k;
}

/* Checks every run in the file; returns how many steps are recorded. */
static long check_all_runs(struct store *st, size_t *runs)
{
    long steps = 0;
    *runs = 0;
    for (size_t offset = 0;; offset += STORE_LIST_MAX) {
        struct store_run_filter filter = {.limit = STORE_LIST_MAX, .offset = offset};
        struct store_run_list l;
        assert_int_equal(store_run_list(st, &filter, &l), 0);
        for (size_t i = 0; i < l.count; i++) {
            struct store_run r;
            assert_int_equal(store_run_get(st, l.items[i].id, true, &r), 0);
            steps += check_run(&r);
            store_run_free(&r);
        }
        *runs += l.count;
        size_t n = l.count;
        store_run_list_free(&l);
        if (n < STORE_LIST_MAX)
            break;
    }
    return steps;
}

static void integrity_ok(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void sigkill_during_step_recording(void **state)
{
    struct fixture *f = *state;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    long last_steps = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(f->path, fds[1]);
        }
        close(fds[1]);
        char byte;
        assert_int_equal(read(fds[0], &byte, 1), 1); /* it is recording now */
        close(fds[0]);
        clock_sleep_ms(1 + rand() % 15, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(wait_child(pid), 128 + SIGKILL);

        integrity_ok(f->path);
        struct store *st = parent_open(f->path);
        size_t runs = 0;
        long steps = check_all_runs(st, &runs);
        store_close(st);
        assert_true(runs >= (size_t)round + 1);
        assert_true(steps > last_steps); /* every child got work done */
        last_steps = steps;
    }
}

/* ---- two processes, one lease --------------------------------------------------- */

static int get_int(struct store *st, const char *key, int *out)
{
    char *v = NULL;
    int rc = store_checkpoint_get(st, key, &v);
    *out = rc == 0 ? atoi(v) : 0;
    free(v);
    return rc;
}

static void contend_child(const char *path, const char *me)
{
    struct store *st = child_open(path);
    int grants = 0, conflicts = 0, violations = 0;
    int64_t end = clock_now_ns() + (int64_t)CONTEND_MS * 1000000;
    while (clock_now_ns() < end) {
        int rc = store_lease_acquire(st, "critical", me, 5000, NULL);
        if (rc == ERR_CONFLICT) {
            conflicts++;
            clock_sleep_ms(1, NULL);
            continue;
        }
        if (rc)
            child_fail(st, "acquire");
        /* Inside: nobody else may be here; the counter's read-modify-write
         * loses updates if anyone else is. */
        char *holder = NULL;
        if (store_checkpoint_get(st, "holder", &holder) != ERR_NOT_FOUND)
            violations++;
        free(holder);
        if (store_checkpoint_put(st, "holder", me))
            child_fail(st, "put holder");
        int count = 0;
        rc = get_int(st, "count", &count);
        if (rc && rc != ERR_NOT_FOUND)
            child_fail(st, "get count");
        clock_sleep_ms(1, NULL);
        char text[32];
        snprintf(text, sizeof text, "%d", count + 1);
        if (store_checkpoint_put(st, "count", text))
            child_fail(st, "put count");
        if (store_checkpoint_get(st, "holder", &holder) || strcmp(holder, me) != 0)
            violations++;
        free(holder);
        if (store_checkpoint_delete(st, "holder"))
            child_fail(st, "delete holder");
        if (store_lease_release(st, "critical", me))
            child_fail(st, "release");
        grants++;
        clock_sleep_ms(1, NULL); /* give the other a turn */
    }
    char key[64], text[32];
    snprintf(key, sizeof key, "grants:%s", me);
    snprintf(text, sizeof text, "%d", grants);
    if (store_checkpoint_put(st, key, text))
        child_fail(st, "put grants");
    fprintf(stderr, "%s: %d grants, %d conflicts, %d violations\n", me, grants, conflicts,
            violations);
    store_close(st);
    _exit(violations ? 1 : 0);
}

static void two_processes_contend_for_a_lease(void **state)
{
    struct fixture *f = *state;
    store_close(parent_open(f->path)); /* the schema exists before they race */
    const char *names[2] = {"worker-a", "worker-b"};
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            contend_child(f->path, names[i]);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(wait_child(pids[i]), 0);

    struct store *st = parent_open(f->path);
    int a = 0, b = 0, count = 0;
    assert_int_equal(get_int(st, "grants:worker-a", &a), 0);
    assert_int_equal(get_int(st, "grants:worker-b", &b), 0);
    assert_int_equal(get_int(st, "count", &count), 0);
    assert_true(a > 0);
    assert_true(b > 0);
    assert_int_equal(count, a + b); /* no update inside the lease was lost */
    struct store_lease h;
    assert_int_equal(store_lease_get(st, "critical", &h), ERR_NOT_FOUND);
    store_close(st);
}

/* ---- a dead holder's lease expires ----------------------------------------------- */

static void dead_holders_lease_expires(void **state)
{
    struct fixture *f = *state;
    store_close(parent_open(f->path));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct store *st = child_open(f->path);
        if (store_lease_acquire(st, "inbox", "listener-1", 400, NULL))
            child_fail(st, "acquire");
        if (write(fds[1], "x", 1) != 1)
            _exit(92);
        /* Parked until killed; gone by itself should the parent fail first. */
        clock_sleep_ms(10000, NULL);
        _exit(0);
    }
    close(fds[1]);
    char byte;
    assert_int_equal(read(fds[0], &byte, 1), 1);
    close(fds[0]);

    struct store *st = parent_open(f->path);
    struct store_lease h;
    assert_int_equal(store_lease_acquire(st, "inbox", "listener-2", 1000, &h), ERR_CONFLICT);
    assert_string_equal(h.owner, "listener-1");
    int64_t expires = h.expires_ms;
    kill(pid, SIGKILL);
    assert_int_equal(wait_child(pid), 128 + SIGKILL);
    /* Death alone frees nothing; expiry does. */
    int rc;
    int64_t deadline = clock_now_ns() + 3000 * INT64_C(1000000);
    while ((rc = store_lease_acquire(st, "inbox", "listener-2", 1000, &h)) == ERR_CONFLICT &&
           clock_now_ns() < deadline)
        clock_sleep_ms(20, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(h.owner, "listener-2");
    assert_true(h.acquired_ms >= expires);
    store_close(st);
}

/* ---- workers claim due runs by compare-and-set ----------------------------------- */

static void claim_child(const char *path, const char *me)
{
    struct store *st = child_open(path);
    const struct store_run_transition claim = {.from = STORE_RUN_MASK(STORE_RUN_PENDING),
                                               .to = STORE_RUN_RUNNING};
    for (;;) {
        struct store_run_list due;
        if (store_run_due(st, 10, &due))
            child_fail(st, "due");
        size_t n = due.count;
        for (size_t i = 0; i < due.count; i++) {
            const char *id = due.items[i].id;
            int rc = store_run_transition(st, id, &claim, NULL);
            if (rc == ERR_CONFLICT)
                continue; /* another worker won it */
            if (rc)
                child_fail(st, "claim");
            if (store_step_start(st, id, "work", NULL))
                child_fail(st, "start");
            json_t *out = json_pack("{s:s}", "by", me);
            rc = store_step_succeed(st, id, "work", out, NULL);
            json_decref(out);
            struct store_run_transition done = {.to = STORE_RUN_SUCCEEDED};
            if (rc || store_run_transition(st, id, &done, NULL))
                child_fail(st, "finish");
        }
        store_run_list_free(&due);
        if (n == 0)
            break;
    }
    store_close(st);
    _exit(0);
}

static void workers_claim_each_run_once(void **state)
{
    struct fixture *f = *state;
    struct store *st = parent_open(f->path);
    for (int i = 0; i < CLAIM_RUNS; i++) {
        struct store_run_new in = {.workflow = "claim"};
        struct store_run r;
        assert_int_equal(store_run_create(st, &in, &r, NULL), 0);
        store_run_free(&r);
    }
    store_close(st);

    const char *names[CLAIM_WORKERS] = {"w1", "w2", "w3"};
    pid_t pids[CLAIM_WORKERS];
    for (int i = 0; i < CLAIM_WORKERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            claim_child(f->path, names[i]);
    }
    for (int i = 0; i < CLAIM_WORKERS; i++)
        assert_int_equal(wait_child(pids[i]), 0);

    st = parent_open(f->path);
    struct store_run_list l;
    assert_int_equal(store_run_list(st, NULL, &l), 0);
    assert_int_equal(l.count, CLAIM_RUNS);
    for (size_t i = 0; i < l.count; i++) {
        struct store_run r;
        assert_int_equal(store_run_get(st, l.items[i].id, true, &r), 0);
        assert_int_equal(r.status, STORE_RUN_SUCCEEDED);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(r.step_count, 1);
        assert_int_equal(r.steps[0].attempts, 1);
        store_run_free(&r);
    }
    store_run_list_free(&l);
    store_close(st);
}

/* ---- a new file opened by several processes at once ------------------------------- */

static void concurrent_first_open(void **state)
{
    struct fixture *f = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[OPENERS];
    for (int i = 0; i < OPENERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            char byte;
            if (read(go[0], &byte, 1) != 0) /* EOF: everyone starts together */
                _exit(93);
            struct store *st = child_open(f->path);
            char id[16];
            snprintf(id, sizeof id, "c%d", i);
            struct store_session_put in = {.id = id};
            if (store_session_put(st, &in, NULL))
                child_fail(st, "put");
            store_close(st);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < OPENERS; i++)
        assert_int_equal(wait_child(pids[i]), 0);

    struct store *st = parent_open(f->path);
    struct store_session_list l;
    assert_int_equal(store_session_list(st, NULL, &l), 0);
    assert_int_equal(l.count, OPENERS);
    store_session_list_free(&l);
    store_close(st);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sigkill_during_step_recording, setup, teardown),
        cmocka_unit_test_setup_teardown(two_processes_contend_for_a_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_holders_lease_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(workers_claim_each_run_once, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_first_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
