/* Crash tests for workflow/ with real processes on one SQLite file.
 *
 * The workflow under test has five steps: prepare (makes a temporary file),
 * notify (an outside effect; its first attempt fails with a network error),
 * pause (a 15-minute durable timer), deliver (an outside effect and another
 * temporary file) and tidy (cleanup: removes the temporary files and tells
 * the outside service). The outside service is modelled as a file keyed by
 * idempotency key: effects.log gets one line per key, appended with a single
 * write() under flock, so an effect repeated with the same key is recognised
 * and not applied twice — as a real service does with an idempotency key.
 * calls.log records every call, repeats included.
 *
 *  - every_crash_point: a child runs the workflow and SIGKILLs itself at
 *    crash point N — every engine test point (claim, step start, after the
 *    function, after recording, end, timer, final status) and two points in
 *    the middle of every step (before and after its effect) — for every N a
 *    clean run passes; then a fresh process resumes the run to its end. Each
 *    time: the run succeeded, each effect (notify, deliver, tidy) appears
 *    exactly once in effects.log, the run finished once, no temporary file
 *    is left, and across all N some effect was really attempted twice (so
 *    the idempotency key is what kept it single).
 *  - repeated_random_crashes: one run survives a dozen processes in a row,
 *    each killed at a random point (fixed seed), with the same checks.
 *  - workers_in_processes_take_turns: three worker processes tick the same
 *    store full of runs; the steps of one run never overlap in time, every
 *    run succeeds and every step ran exactly once.
 *
 * Each process has its own clock, the wall clock plus an offset that grows
 * when the engine sleeps (so the 15-minute wait is instant) and by two hours
 * for each restart (so the killed process's lease and deadline have expired,
 * as they would have by the time a real worker restarts). Children report
 * through exit codes and files and are stopped by their own PID. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define HOUR_MS        INT64_C(3600000)
#define RESTART_MS     (2 * HOUR_MS)
#define RANDOM_ROUNDS  12
#define WORKER_PROCS   3
#define WORKER_RUNS    12
#define WORKER_LIMIT_S 60

struct fixture {
    char *dir;
};

/* ---- the child's world ----------------------------------------------------------- */

static const char *g_dir;       /* the test directory */
static int64_t g_offset_ms;     /* this process's clock offset */
static int g_points, g_kill_at; /* crash points passed; the one to die at (0: none) */

static int64_t child_now(void *ctx)
{
    return clock_wall_ms() + g_offset_ms;
}

static int child_sleep(void *arg, int64_t ms, volatile sig_atomic_t *cancel)
{
    g_offset_ms += ms;
    return 0;
}

static void crash_point(void *arg, const char *point)
{
    if (++g_points == g_kill_at)
        raise(SIGKILL);
}

static char *path_of(const char *name)
{
    return xasprintf("%s/%s", g_dir, name);
}

/* Appends line with one write() (O_APPEND): a kill leaves it whole or absent. */
static int append_line(const char *name, const char *line)
{
    char *p = path_of(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    free(p);
    if (fd < 0)
        return ERR_IO;
    ssize_t n = write(fd, line, strlen(line));
    close(fd);
    return n == (ssize_t)strlen(line) ? 0 : ERR_IO;
}

/* The outside service: applies what under key once, however often called. */
static int service_apply(const char *key, const char *what)
{
    char line[256];
    snprintf(line, sizeof line, "%s %s\n", key, what);
    if (append_line("calls.log", line))
        return ERR_IO;
    char *p = path_of("effects.log");
    int fd = open(p, O_RDWR | O_CREAT | O_APPEND, 0644);
    free(p);
    if (fd < 0 || flock(fd, LOCK_EX) != 0)
        return ERR_IO;
    char seen[8192];
    ssize_t n = pread(fd, seen, sizeof seen - 1, 0);
    seen[n > 0 ? n : 0] = '\0';
    char needle[200];
    snprintf(needle, sizeof needle, "%s ", key);
    bool done = false;
    for (char *s = seen; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
        if (strncmp(s, needle, strlen(needle)) == 0)
            done = true;
    int rc = 0;
    if (!done && write(fd, line, strlen(line)) != (ssize_t)strlen(line))
        rc = ERR_IO;
    close(fd); /* releases the lock */
    return rc;
}

/* A temporary file named after the run and step, so a repeat reuses it. */
static json_t *make_temp(struct workflow_ctx *ctx)
{
    char *p = xasprintf("%s/tmp/%s.%s", g_dir, workflow_ctx_run_id(ctx), workflow_ctx_step(ctx));
    FILE *fp = fopen(p, "w");
    if (fp) {
        fputs("scratch\n", fp);
        fclose(fp);
    }
    json_t *out = json_pack("{s:[s]}", "temps", p);
    free(p);
    return out;
}

static int prepare(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                   char *err, size_t errlen)
{
    crash_point(NULL, "prepare.mid1");
    *output = make_temp(ctx);
    crash_point(NULL, "prepare.mid2");
    return 0;
}

static int notify(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                  char *err, size_t errlen)
{
    crash_point(NULL, "notify.mid1");
    if (workflow_ctx_attempt(ctx) == 1) {
        snprintf(err, errlen, "connection reset");
        return ERR_NETWORK;
    }
    int rc = service_apply(workflow_ctx_idempotency_key(ctx), "notify");
    crash_point(NULL, "notify.mid2");
    *output = json_pack("{s:s}", "receipt", workflow_ctx_idempotency_key(ctx));
    return rc;
}

static int pause_step(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                      json_t **output, char *err, size_t errlen)
{
    crash_point(NULL, "pause.mid1");
    workflow_ctx_wait_for(ctx, 15 * 60000);
    crash_point(NULL, "pause.mid2");
    return 0;
}

static int deliver(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                   char *err, size_t errlen)
{
    crash_point(NULL, "deliver.mid1");
    int rc = service_apply(workflow_ctx_idempotency_key(ctx), "deliver");
    crash_point(NULL, "deliver.mid2");
    *output = make_temp(ctx);
    return rc;
}

static int tidy(struct workflow_ctx *ctx, const json_t *input, json_t *outputs, json_t **output,
                char *err, size_t errlen)
{
    crash_point(NULL, "tidy.mid1");
    const char *step;
    json_t *out;
    json_object_foreach(outputs, step, out)
    {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(out, "temps"), i, t)
        {
            if (unlink(json_string_value(t)) != 0 && errno != ENOENT) {
                snprintf(err, errlen, "cannot remove %s", json_string_value(t));
                return ERR_IO;
            }
        }
    }
    int rc = service_apply(workflow_ctx_idempotency_key(ctx), "tidy");
    crash_point(NULL, "tidy.mid2");
    return rc;
}

#define PATIENT                                                                                    \
    {                                                                                              \
        .max_attempts = 20, .base_backoff_ms = 1000, .max_backoff_ms = 4000                        \
    }

static const struct workflow_step crashy_steps[] = {
    {.name = "prepare", .fn = prepare, .retry = PATIENT},
    {.name = "notify", .fn = notify, .effects = true, .retry = PATIENT},
    {.name = "pause", .fn = pause_step, .kind = WORKFLOW_STEP_WAIT, .retry = PATIENT},
    {.name = "deliver", .fn = deliver, .effects = true, .retry = PATIENT},
    {.name = "tidy", .fn = tidy, .kind = WORKFLOW_STEP_CLEANUP, .effects = true, .retry = PATIENT},
};
static const struct workflow crashy = {"crashy", crashy_steps, 5};

static void log_event(void *arg, const struct workflow_event *ev)
{
    if (ev->kind != WORKFLOW_EVENT_RUN_FINISHED)
        return;
    char line[64];
    snprintf(line, sizeof line, "finished %s\n", store_run_status_name(ev->status));
    append_line("events.log", line);
}

static struct store *child_store(void)
{
    struct store_options so = {.now_ms = child_now};
    struct store *st = NULL;
    char err[256];
    char *p = path_of("harde.sqlite");
    int rc = store_open(p, &so, &st, err, sizeof err);
    free(p);
    if (rc) {
        fprintf(stderr, "child: store_open: %s\n", err);
        _exit(20);
    }
    return st;
}

/* Starts (or finds, by its dedupe key) the run and runs it to its end. Exit
 * 0 when it succeeded; when kill_at is 0, the number of crash points passed
 * is written to points.txt. */
static void crash_child(const char *dir, int restarts, int kill_at)
{
    g_dir = dir;
    g_offset_ms = restarts * RESTART_MS;
    g_kill_at = kill_at;
    struct store *st = child_store();
    struct workflow_options o = {
        .on_event = log_event, .sleep_ms = child_sleep, .test_point = crash_point};
    struct workflow_engine *e = workflow_engine_new(st, &o);
    char id[STORE_ID_MAX + 1], owner[32];
    snprintf(owner, sizeof owner, "worker-%ld", (long)getpid());
    enum store_run_status final = STORE_RUN_PENDING;
    int rc = workflow_register(e, &crashy, NULL);
    if (rc == 0)
        rc = workflow_start(e, "crashy", NULL, "crash-job", false, id, NULL);
    if (rc == 0)
        rc = workflow_run_to_end(e, owner, id, 0, NULL, NULL, NULL, &final);
    if (rc)
        fprintf(stderr, "child: %s\n", workflow_engine_error(e));
    if (kill_at == 0) {
        char line[32];
        snprintf(line, sizeof line, "%d\n", g_points);
        append_line("points.txt", line);
    }
    workflow_engine_free(e);
    store_close(st);
    _exit(rc == 0 && final == STORE_RUN_SUCCEEDED ? 0 : 3);
}

/* ---- the parent ------------------------------------------------------------------ */

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, ent->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            remove_tree(p);
            rmdir(p);
        } else {
            unlink(p);
        }
        free(p);
    }
    if (d)
        closedir(d);
}

static void fresh_dir(const char *dir)
{
    remove_tree(dir);
    char *tmp = xasprintf("%s/tmp", dir);
    assert_int_equal(mkdir(tmp, 0755), 0);
    free(tmp);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    f->dir = xasprintf("%s/harde-wfcrash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    remove_tree(f->dir);
    rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Runs crash_child in a child process; returns its wait status. */
static int run_child(const char *dir, int restarts, int kill_at)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_child(dir, restarts, kill_at);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static char *slurp(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(p, "r");
    free(p);
    char *text = xcalloc(1, 1 << 16);
    if (fp) {
        size_t n = fread(text, 1, (1 << 16) - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    return text;
}

static int count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *s = text; *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : s + strlen(s))
        if (strncmp(s, line, len) == 0 && (s[len] == '\n' || s[len] == '\0'))
            n++;
    return n;
}

static int count_all_lines(const char *text)
{
    int n = 0;
    for (const char *s = text; *s; s++)
        n += *s == '\n';
    return n;
}

/* The checks after the last process: true when some effect was attempted
 * more than once (a replay the idempotency key absorbed). */
static bool check_exactly_once(const char *dir, const char *label)
{
    char *p = xasprintf("%s/harde.sqlite", dir);
    struct store *st = NULL;
    char err[256];
    assert_int_equal(store_open(p, NULL, &st, err, sizeof err), 0);
    free(p);
    struct store_run run = {0};
    assert_int_equal(store_run_find(st, "crash-job", &run), 0);
    char id[STORE_ID_MAX + 1];
    memcpy(id, run.id, sizeof id);
    store_run_free(&run);
    assert_int_equal(store_run_get(st, id, true, &run), 0);
    if (run.status != STORE_RUN_SUCCEEDED)
        fail_msg("%s: run is %s (%s)", label, store_run_status_name(run.status),
                 run.last_error ? run.last_error : "");
    for (size_t i = 0; i < run.step_count; i++)
        assert_int_equal(run.steps[i].status, STORE_STEP_SUCCEEDED);
    store_run_free(&run);
    store_close(st);

    char *effects = slurp(dir, "effects.log");
    char *calls = slurp(dir, "calls.log");
    char *events = slurp(dir, "events.log");
    bool replayed = false;
    const char *what[] = {"notify", "deliver", "tidy"};
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s.%s %s", id, what[i], what[i]);
        if (count_lines(effects, line) != 1)
            fail_msg("%s: effect %s appears %d times:\n%s", label, what[i],
                     count_lines(effects, line), effects);
        replayed |= count_lines(calls, line) > 1;
    }
    if (count_all_lines(effects) != 3)
        fail_msg("%s: effects.log has extra lines:\n%s", label, effects);
    if (count_lines(events, "finished succeeded") != 1 || count_all_lines(events) != 1)
        fail_msg("%s: the run finished %d times:\n%s", label, count_all_lines(events), events);
    char *tmp = xasprintf("%s/tmp", dir);
    DIR *d = opendir(tmp);
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL)
        if (ent->d_name[0] != '.')
            fail_msg("%s: temporary file %s was left behind", label, ent->d_name);
    if (d)
        closedir(d);
    free(tmp);
    free(effects);
    free(calls);
    free(events);
    return replayed;
}

static int clean_run_points(const char *dir)
{
    fresh_dir(dir);
    int status = run_child(dir, 0, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_exactly_once(dir, "clean run");
    char *text = slurp(dir, "points.txt");
    int points = atoi(text);
    free(text);
    assert_true(points >= 30); /* 5 steps × 6 points, plus claims, timers, the end */
    return points;
}

static void every_crash_point(void **state)
{
    struct fixture *f = *state;
    int points = clean_run_points(f->dir);
    int replays = 0;
    for (int n = 1; n <= points; n++) {
        fresh_dir(f->dir);
        int status = run_child(f->dir, 0, n);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("crash point %d of %d: the child was not killed (status %d)", n, points,
                     status);
        status = run_child(f->dir, 1, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("crash point %d: the resumed run did not succeed (status %d)", n, status);
        char label[48];
        snprintf(label, sizeof label, "crash point %d", n);
        replays += check_exactly_once(f->dir, label);
    }
    /* Killed after an effect and before its record: the step ran again and
     * the service saw the same key. */
    print_message("# %d crash points, %d replays absorbed by idempotency keys\n", points, replays);
    assert_true(replays >= 3);
}

static void repeated_random_crashes(void **state)
{
    struct fixture *f = *state;
    int points = clean_run_points(f->dir);
    fresh_dir(f->dir);
    srand(20240611);
    int killed = 0;
    for (int round = 0; round < RANDOM_ROUNDS; round++) {
        /* Early kills, so that the run needs many processes to finish. */
        int status = run_child(f->dir, round, 1 + rand() % (points / 4 + 1));
        if (WIFSIGNALED(status)) {
            assert_int_equal(WTERMSIG(status), SIGKILL);
            killed++;
        } else {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0); /* it finished before its kill point */
        }
    }
    print_message("# %d of %d processes killed before the run finished\n", killed, RANDOM_ROUNDS);
    if (killed < RANDOM_ROUNDS / 2)
        fail_msg("only %d of %d processes were killed (%d points)", killed, RANDOM_ROUNDS, points);
    int status = run_child(f->dir, RANDOM_ROUNDS, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_exactly_once(f->dir, "random crashes");
}

/* ---- workers in processes -------------------------------------------------------- */

/* Each step writes "enter RUN" and "exit RUN" around a short sleep, under
 * flock, so the parent can check that no two steps of one run overlapped. */
static int turn_step(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                     json_t **output, char *err, size_t errlen)
{
    char line[160];
    snprintf(line, sizeof line, "enter %s %s %ld\n", workflow_ctx_run_id(ctx),
             workflow_ctx_step(ctx), (long)getpid());
    append_line("turns.log", line);
    struct timespec ts = {0, 3 * 1000 * 1000};
    nanosleep(&ts, NULL);
    snprintf(line, sizeof line, "exit %s %s %ld\n", workflow_ctx_run_id(ctx),
             workflow_ctx_step(ctx), (long)getpid());
    append_line("turns.log", line);
    return 0;
}

static const struct workflow_step turn_steps[] = {
    {.name = "one", .fn = turn_step, .timeout_ms = 10000},
    {.name = "two", .fn = turn_step, .timeout_ms = 10000},
    {.name = "three", .fn = turn_step, .kind = WORKFLOW_STEP_CLEANUP, .timeout_ms = 10000},
};
static const struct workflow turns = {"turns", turn_steps, 3};

static void worker_child(const char *dir, int index)
{
    g_dir = dir;
    struct store *st = child_store();
    struct workflow_options o = {.batch = 4, .steps_per_claim = 1};
    struct workflow_engine *e = workflow_engine_new(st, &o);
    if (workflow_register(e, &turns, NULL) != 0)
        _exit(21);
    char owner[32];
    snprintf(owner, sizeof owner, "worker-%d", index);
    int64_t give_up = clock_wall_ms() + WORKER_LIMIT_S * 1000;
    int rc = 0;
    while (clock_wall_ms() < give_up) {
        size_t advanced = 0;
        workflow_tick(e, owner, &advanced); /* a busy database is retried next time */
        struct store_run_filter live = {.status_mask = STORE_RUN_MASK(STORE_RUN_PENDING) |
                                                       STORE_RUN_MASK(STORE_RUN_RUNNING) |
                                                       STORE_RUN_MASK(STORE_RUN_WAITING)};
        struct store_run_list l = {0};
        if ((rc = store_run_list(st, &live, &l)) == 0 && l.count == 0) {
            store_run_list_free(&l);
            break;
        }
        store_run_list_free(&l);
        if (advanced == 0)
            clock_sleep_ms(2, NULL);
    }
    workflow_engine_free(e);
    store_close(st);
    _exit(clock_wall_ms() < give_up ? 0 : 4);
}

static void workers_in_processes_take_turns(void **state)
{
    struct fixture *f = *state;
    fresh_dir(f->dir);
    g_dir = f->dir;
    struct store *st = child_store();
    struct workflow_engine *e = workflow_engine_new(st, NULL);
    assert_int_equal(workflow_register(e, &turns, NULL), 0);
    char ids[WORKER_RUNS][STORE_ID_MAX + 1];
    for (int i = 0; i < WORKER_RUNS; i++)
        assert_int_equal(workflow_start(e, "turns", NULL, NULL, false, ids[i], NULL), 0);
    workflow_engine_free(e);
    store_close(st);

    pid_t pids[WORKER_PROCS];
    fflush(NULL);
    for (int i = 0; i < WORKER_PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            worker_child(f->dir, i);
    }
    for (int i = 0; i < WORKER_PROCS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    char *log = slurp(f->dir, "turns.log");
    st = child_store();
    int workers_seen = 0;
    for (int i = 0; i < WORKER_RUNS; i++) {
        struct store_run run = {0};
        assert_int_equal(store_run_get(st, ids[i], true, &run), 0);
        assert_int_equal(run.status, STORE_RUN_SUCCEEDED);
        store_run_free(&run);
        /* This run's lines alternate enter/exit, one step each: never two at once. */
        const char *expect_step[] = {"one", "two", "three"};
        int k = 0;
        char last_pid[32] = "";
        for (const char *s = log; *s; s = strchr(s, '\n') + 1) {
            char verb[8], id[STORE_ID_MAX + 1], step[16], pid[32];
            if (sscanf(s, "%7s %64s %15s %31s", verb, id, step, pid) != 4)
                fail_msg("bad line in turns.log");
            if (strcmp(id, ids[i]) != 0)
                continue;
            assert_string_equal(verb, k % 2 == 0 ? "enter" : "exit");
            assert_true(k / 2 < 3);
            assert_string_equal(step, expect_step[k / 2]);
            if (k % 2 == 1)
                assert_string_equal(pid, last_pid); /* the same worker left as entered */
            else if (last_pid[0] && strcmp(pid, last_pid) != 0)
                workers_seen++;
            snprintf(last_pid, sizeof last_pid, "%s", pid);
            k++;
        }
        assert_int_equal(k, 6); /* every step exactly once */
    }
    store_close(st);
    free(log);
    /* How often a run changed hands: informative only, it depends on timing. */
    print_message("# runs changed workers %d times\n", workers_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_crash_point, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_random_crashes, setup, teardown),
        cmocka_unit_test_setup_teardown(workers_in_processes_take_turns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
