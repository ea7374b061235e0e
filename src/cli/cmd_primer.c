/* cmd_primer — the primer video from the terminal, and the worker:
 *   harde primer JOB [--wait SECONDS] [--force] [--json]
 *   harde runs [--json]
 *   harde run show|cancel|retry ID [--json]
 *   harde worker [--once] [--poll-ms N]
 * `primer --wait` runs the workflow to its end in the foreground and prints
 * where the video and the email went; without --wait it only starts the run
 * for a worker. The worker watches the inbox (once cluster-wide, under a
 * store lease) and moves every due run forward until SIGTERM or Ctrl-C.
 *
 * Workers are named "worker-HOST-PID" (and `primer --wait` "cli-HOST-PID"),
 * so a run left RUNNING by a process of this host that no longer exists (a
 * crash, a SIGKILL, a reboot) is recognised: before each pass the worker
 * (and `primer --wait`) frees its lease and makes it due again at once,
 * instead of letting it sit until its step's timeout runs out (up to 20
 * minutes for a render). A holder on another host, or a PID that still
 * exists, is left to its lease's expiry.
 *
 * Test hook (for tests/e2e/test_primer.sh; does nothing unless set):
 * HARDE_TEST_CRASH_AT="POINT[:STEP][,POINT[:STEP]...]" makes the process
 * SIGKILL itself when the workflow engine reaches POINT (a
 * workflow_options.test_point name such as "step.recorded"; "*" is any) while
 * at STEP (any step when omitted). For step.started, step.returned,
 * step.recorded and step.failed the step is the one that just ran; for the
 * others (claimed, step.starting, run.waiting, end.recorded, run.finishing,
 * run.finished) it is the run's current step in the store, the step about to
 * run ("" once every step is done; before the first step, the first step's
 * name). With HARDE_TEST_CRASH_ONCE_DIR=DIR each POINT:STEP kills only once:
 * a file of that name is made in DIR first, so a test can crash a run at
 * every point in turn by restarting the same command. The process says
 * where it dies on stderr ("test hook: SIGKILL at POINT:STEP"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "harde/inbox.h"
#include "harde/primer.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define WORKER_POLL_MS    2000
#define INBOX_LEASE_MS    30000
#define INBOX_LEASE_NAME  "inbox-listener"
#define RUN_LEASE_PREFIX  "run:" /* the engine's lease on a run (workflow.h) */
#define ORPHAN_SCAN_MAX   100    /* unfinished runs looked at per pass */
#define HOST_MAX          64
#define CRASH_SPEC_MAX    1024
#define PRIMER_FIRST_STEP "context" /* primer.c's first step, for the test hook */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The test hook's state (see the file header); spec is "" when it is off. */
struct crash_hook {
    char spec[CRASH_SPEC_MAX];
    const char *once_dir; /* borrowed from the environment; NULL: every time */
    char last_step[STORE_NAME_MAX + 1];
};

struct primer_env {
    struct harde_app app;
    struct primer *primer;
    struct workflow_engine *engine;
    char owner[96];
    bool quiet;
    struct crash_hook crash;
};

static void log_event(const struct workflow_event *ev)
{
    switch (ev->kind) {
    case WORKFLOW_EVENT_STEP_STARTED:
        fprintf(stderr, "[%s] %zu/%zu %s…\n", ev->run_id, ev->step_index + 1, ev->step_count,
                ev->step);
        break;
    case WORKFLOW_EVENT_STEP_SUCCEEDED:
        fprintf(stderr, "[%s] %s done (%.1f s)\n", ev->run_id, ev->step,
                (double)ev->duration_ms / 1000);
        break;
    case WORKFLOW_EVENT_STEP_FAILED:
        fprintf(stderr, "[%s] %s failed (attempt %d/%d): %s\n", ev->run_id, ev->step, ev->attempt,
                ev->max_attempts, ev->error ? ev->error : "");
        break;
    case WORKFLOW_EVENT_RETRY_SCHEDULED:
        fprintf(stderr, "[%s] %s will be retried in %.1f s\n", ev->run_id, ev->step,
                (double)(ev->wake_at_ms - clock_wall_ms()) / 1000);
        break;
    case WORKFLOW_EVENT_WAITING:
        fprintf(stderr, "[%s] waiting until %.0f s from now\n", ev->run_id,
                (double)(ev->wake_at_ms - clock_wall_ms()) / 1000);
        break;
    case WORKFLOW_EVENT_RUN_FINISHED:
        fprintf(stderr, "[%s] finished: %s%s%s\n", ev->run_id, store_run_status_name(ev->status),
                ev->error ? ": " : "", ev->error ? ev->error : "");
        break;
    }
}

static void on_event(void *arg, const struct workflow_event *ev)
{
    struct primer_env *env = arg;
    if (ev->step &&
        (ev->kind == WORKFLOW_EVENT_STEP_STARTED || ev->kind == WORKFLOW_EVENT_STEP_SUCCEEDED ||
         ev->kind == WORKFLOW_EVENT_STEP_FAILED))
        snprintf(env->crash.last_step, sizeof env->crash.last_step, "%s", ev->step);
    if (!env->quiet)
        log_event(ev);
}

/* ---- the crash test hook ------------------------------------------------------ */

static void crash_hook_init(struct crash_hook *h)
{
    const char *spec = getenv("HARDE_TEST_CRASH_AT");
    const char *once = getenv("HARDE_TEST_CRASH_ONCE_DIR");
    snprintf(h->spec, sizeof h->spec, "%s", spec ? spec : "");
    h->once_dir = once && *once ? once : NULL;
}

/* The step the engine is at when it reaches point (see the file header). */
static void crash_step(struct primer_env *env, const char *point, char *step, size_t len)
{
    snprintf(step, len, "%s", "");
    if (strncmp(point, "step.", 5) == 0 && strcmp(point, "step.starting") != 0) {
        snprintf(step, len, "%s", env->crash.last_step);
        return;
    }
    /* The run the engine touched last: the one it is moving. */
    struct store_run_list list = {0};
    struct store_run_filter f = {.limit = ORPHAN_SCAN_MAX};
    if (store_run_list(env->app.store, &f, &list) != 0)
        return;
    const struct store_run *last = NULL;
    for (size_t i = 0; i < list.count; i++)
        if (!last || list.items[i].updated_ms > last->updated_ms)
            last = &list.items[i];
    if (last && last->current_step && *last->current_step) {
        snprintf(step, len, "%s", last->current_step);
    } else if (last) {
        struct store_run run;
        if (store_run_get(env->app.store, last->id, true, &run) == 0) {
            if (run.step_count == 0)
                snprintf(step, len, "%s", PRIMER_FIRST_STEP);
            store_run_free(&run);
        }
    }
    store_run_list_free(&list);
}

static bool crash_matches(const char *spec, const char *point, const char *step)
{
    char copy[CRASH_SPEC_MAX];
    snprintf(copy, sizeof copy, "%s", spec);
    bool hit = false;
    for (char *save = NULL, *item = strtok_r(copy, ", ", &save); item && !hit;
         item = strtok_r(NULL, ", ", &save)) {
        char *want_step = strchr(item, ':');
        if (want_step)
            *want_step++ = '\0';
        hit = (strcmp(item, "*") == 0 || strcmp(item, point) == 0) &&
              (!want_step || strcmp(want_step, step) == 0);
    }
    return hit;
}

static void crash_point(void *arg, const char *point)
{
    struct primer_env *env = arg;
    if (!env->crash.spec[0])
        return;
    char step[STORE_NAME_MAX + 1];
    crash_step(env, point, step, sizeof step);
    if (!crash_matches(env->crash.spec, point, step))
        return;
    if (env->crash.once_dir) {
        char *mark = xasprintf("%s/%s:%s", env->crash.once_dir, point, step);
        int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL, 0600);
        free(mark);
        if (fd < 0)
            return; /* crashed here before (or the folder is missing: no crash) */
        close(fd);
    }
    fprintf(stderr, "test hook: SIGKILL at %s:%s\n", point, step);
    raise(SIGKILL);
}

/* ---- runs whose worker died on this host ------------------------------------------ */

/* The PID of owner when it names a process of this host ("worker-HOST-PID",
 * "cli-HOST-PID"), else 0. */
static long local_owner_pid(const char *owner)
{
    char host[HOST_MAX + 1] = "";
    gethostname(host, HOST_MAX);
    const char *rest = strncmp(owner, "worker-", 7) == 0 ? owner + 7
                       : strncmp(owner, "cli-", 4) == 0  ? owner + 4
                                                         : NULL;
    size_t n = strlen(host);
    if (!rest || !n || strncmp(rest, host, n) != 0 || rest[n] != '-')
        return 0;
    char *end = NULL;
    long pid = strtol(rest + n + 1, &end, 10);
    return end && !*end && pid > 0 ? pid : 0;
}

static bool owner_is_gone(const char *owner)
{
    long pid = local_owner_pid(owner);
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Frees the inbox listener's lease when its holder is a dead process of
 * this host, and the runs whose lease holder is one: its
 * lease is released and, for a RUNNING run, the deadline is brought to now
 * (a RUNNING → RUNNING change, as the engine itself makes when it leaves a
 * run to the next worker), so the run is due at once. A WAITING or PENDING
 * run (its holder died after parking it, or before claiming it) only needs
 * the lease: its timer says when it is due. The holder's last step runs
 * again, which the steps are written for (workflow.h). */
static void recover_orphans(struct primer_env *env)
{
    struct store *st = env->app.store;
    struct store_run_list list = {0};
    struct store_run_filter f = {.status_mask = STORE_RUN_MASK(STORE_RUN_RUNNING) |
                                                STORE_RUN_MASK(STORE_RUN_WAITING) |
                                                STORE_RUN_MASK(STORE_RUN_PENDING),
                                 .limit = ORPHAN_SCAN_MAX};
    struct store_lease inbox;
    if (store_lease_get(st, INBOX_LEASE_NAME, &inbox) == 0 && owner_is_gone(inbox.owner))
        store_lease_release(st, INBOX_LEASE_NAME, inbox.owner);
    if (store_run_list(st, &f, &list) != 0)
        return;
    for (size_t i = 0; i < list.count; i++) {
        const struct store_run *r = &list.items[i];
        char lease[STORE_NAME_MAX + 1];
        snprintf(lease, sizeof lease, RUN_LEASE_PREFIX "%s", r->id);
        struct store_lease holder;
        if (store_lease_get(st, lease, &holder) != 0 || !owner_is_gone(holder.owner))
            continue;
        if (r->status == STORE_RUN_RUNNING) {
            struct store_run_transition t = {.from = STORE_RUN_MASK(STORE_RUN_RUNNING),
                                             .to = STORE_RUN_RUNNING,
                                             .wake_at_ms = store_now_ms(st)};
            if (store_run_transition(st, r->id, &t, NULL) != 0)
                continue;
        }
        store_lease_release(st, lease, holder.owner);
        log_warn("worker", "run %s: its worker %s is gone; resuming it now (%s, step %s)", r->id,
                 holder.owner, store_run_status_name(r->status),
                 r->current_step && *r->current_step ? r->current_step : "-");
    }
    store_run_list_free(&list);
}

/* ---- the environment ---------------------------------------------------------------- */

static void owner_name(char *out, size_t len, const char *kind)
{
    char host[HOST_MAX + 1] = "host";
    gethostname(host, HOST_MAX);
    host[HOST_MAX] = '\0';
    snprintf(out, len, "%s-%s-%ld", kind, host, (long)getpid());
}

static int open_env(struct primer_env *env, const struct cli_globals *globals, bool media,
                    bool quiet)
{
    memset(env, 0, sizeof *env);
    env->quiet = quiet;
    crash_hook_init(&env->crash);
    if (cli_open_app(&env->app, globals, HARDE_NEED_STORE | HARDE_NEED_CRM) != 0)
        return 1;
    char err[1024];
    owner_name(env->owner, sizeof env->owner, "cli");
    if (media && !(env->primer = primer_open(&env->app, err, sizeof err))) {
        fprintf(stderr, "harde: %s\n", err);
        harde_app_close(&env->app);
        return 1;
    }
    struct workflow_options opts = {.on_event = on_event,
                                    .event_arg = env,
                                    .stop = &stop_flag,
                                    .test_point = env->crash.spec[0] ? crash_point : NULL,
                                    .test_arg = env};
    env->engine = workflow_engine_new(env->app.store, &opts);
    if (env->primer && primer_register(env->primer, env->engine) != 0) {
        fprintf(stderr, "harde: %s\n", workflow_engine_error(env->engine));
        workflow_engine_free(env->engine);
        primer_close(env->primer);
        harde_app_close(&env->app);
        return 1;
    }
    return 0;
}

static void close_env(struct primer_env *env)
{
    workflow_engine_free(env->engine);
    primer_close(env->primer);
    harde_app_close(&env->app);
}

static int print_run(struct store *st, const char *id, bool json)
{
    struct store_run run;
    if (store_run_get(st, id, true, &run) != 0) {
        fprintf(stderr, "harde: no run \"%s\"\n", id);
        return 1;
    }
    json_t *o = primer_run_json(&run);
    if (json) {
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        printf("run %s (%s) for job %lld: %s\n", run.id, run.workflow,
               (long long)json_integer_value(json_object_get(o, "job_id")),
               store_run_status_name(run.status));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(o, "steps"), i, s)
        {
            const char *error = json_string_value(json_object_get(s, "error"));
            printf("  %-10s %-10s %6.1f s%s%s\n", json_string_value(json_object_get(s, "name")),
                   json_string_value(json_object_get(s, "status")),
                   (double)json_integer_value(json_object_get(s, "duration_ms")) / 1000,
                   error ? "  " : "", error ? error : "");
        }
        const char *url = json_string_value(json_object_get(o, "video_url"));
        const char *email = json_string_value(json_object_get(o, "email"));
        if (url)
            printf("video: %s\n", url);
        if (email)
            printf("email: %s\n", email);
        if (run.last_error)
            printf("error: %s\n", run.last_error);
    }
    json_decref(o);
    int rc = run.status == STORE_RUN_FAILED || run.status == STORE_RUN_CANCELLED ? 1 : 0;
    store_run_free(&run);
    return rc;
}

int cmd_primer(int argc, char **argv, const struct cli_globals *globals)
{
    long long job = 0;
    long wait_s = -1;
    bool json = false, force = false;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
            wait_s = atol(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (!job && atoll(argv[i]) > 0)
            job = atoll(argv[i]);
        else
            return cli_usage_error(globals, "give a job id (a number)");
    }
    if (!job)
        return cli_usage_error(globals, "which job?");
    bool quiet = json;
    struct primer_env env;
    if (open_env(&env, globals, true, quiet) != 0)
        return 1;
    install_signals();
    char run_id[STORE_ID_MAX + 1], err[1024];
    bool created = false;
    int rc = primer_start(env.primer, env.engine, job, force, env.app.user, run_id, &created, err,
                          sizeof err);
    if (rc != 0) {
        fprintf(stderr, "harde primer: %s\n", err);
        close_env(&env);
        return rc == ERR_NOT_FOUND ? 2 : 1;
    }
    if (!quiet)
        fprintf(stderr, "%s run %s for job %lld\n", created ? "started" : "existing", run_id, job);
    if (wait_s >= 0) {
        enum store_run_status final;
        recover_orphans(&env);
        /* Progress is printed by the engine's own event callback (open_env). */
        rc = workflow_run_to_end(env.engine, env.owner, run_id, wait_s * 1000, &stop_flag, NULL,
                                 NULL, &final);
        if (rc == ERR_TIMEOUT)
            fprintf(stderr,
                    "harde primer: not finished after %ld s; a worker will go on "
                    "(harde run show %s)\n",
                    wait_s, run_id);
    } else if (!quiet) {
        fprintf(stderr, "a worker (harde worker) will produce it; follow with: harde run show %s\n",
                run_id);
    }
    int shown = print_run(env.app.store, run_id, json);
    close_env(&env);
    return rc == 0 ? shown : 1;
}

int cmd_runs(int argc, char **argv, const struct cli_globals *globals)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return cli_usage_error(globals, "unknown argument");
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_STORE) != 0)
        return 1;
    struct store_run_list list;
    struct store_run_filter f = {.limit = 100};
    if (store_run_list(app.store, &f, &list) != 0) {
        fprintf(stderr, "harde runs: %s\n", store_error(app.store));
        harde_app_close(&app);
        return 1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < list.count; i++) {
        const struct store_run *r = &list.items[i];
        struct store_run full;
        /* A list has neither inputs nor steps: --json shows each run whole. */
        if (json && store_run_get(app.store, r->id, true, &full) == 0) {
            json_array_append_new(arr, primer_run_json(&full));
            store_run_free(&full);
        } else if (json)
            json_array_append_new(arr, primer_run_json(r));
        else
            printf("%-14s %-14s %-10s %-10s %s\n", r->id, r->workflow,
                   store_run_status_name(r->status), r->current_step,
                   r->dedupe_key ? r->dedupe_key : "");
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else if (!list.count) {
        printf("no runs yet — start one with: harde primer JOB\n");
    }
    json_decref(arr);
    store_run_list_free(&list);
    harde_app_close(&app);
    return 0;
}

int cmd_run(int argc, char **argv, const struct cli_globals *globals)
{
    if (argc >= 2 && cli_wants_help(globals, argv[1]))
        return 0;
    if (argc < 3 ||
        (strcmp(argv[1], "show") && strcmp(argv[1], "cancel") && strcmp(argv[1], "retry")))
        return cli_usage_error(globals, NULL);
    bool json = argc > 3 && strcmp(argv[3], "--json") == 0;
    /* cancel and retry need the workflow registered (the engine checks the
     * run's workflow), so they open the primer's services; show does not. */
    bool steer = strcmp(argv[1], "show") != 0;
    struct primer_env env;
    if (open_env(&env, globals, steer, true) != 0)
        return 1;
    int rc = 0;
    if (strcmp(argv[1], "cancel") == 0)
        rc = workflow_cancel(env.engine, argv[2], "cancelled by the rep");
    else if (strcmp(argv[1], "retry") == 0)
        rc = workflow_retry(env.engine, argv[2]);
    if (rc != 0)
        fprintf(stderr, "harde run %s: %s\n", argv[1], workflow_engine_error(env.engine));
    else if (strcmp(argv[1], "show") != 0)
        fprintf(stderr, "%s: a worker will carry it on\n",
                strcmp(argv[1], "cancel") == 0 ? "cancel requested" : "retry scheduled");
    int shown = print_run(env.app.store, argv[2], json);
    close_env(&env);
    return rc != 0 ? 1 : (strcmp(argv[1], "show") == 0 ? shown : 0);
}

int cmd_worker(int argc, char **argv, const struct cli_globals *globals)
{
    bool once = false;
    long poll_ms = WORKER_POLL_MS;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--once") == 0)
            once = true;
        else if (strcmp(argv[i], "--poll-ms") == 0 && i + 1 < argc)
            poll_ms = atol(argv[++i]);
        else
            return cli_usage_error(globals, "unknown argument");
    }
    if (poll_ms <= 0)
        return cli_usage_error(globals, "--poll-ms takes a positive number of milliseconds");
    struct primer_env env;
    if (open_env(&env, globals, true, false) != 0)
        return 1;
    owner_name(env.owner, sizeof env.owner, "worker");
    char err[1024];
    struct inbox *in = inbox_open(&env.app, err, sizeof err);
    if (!in) {
        fprintf(stderr, "harde worker: %s\n", err);
        close_env(&env);
        return 1;
    }
    install_signals();
    fprintf(stderr, "harde worker %s: watching %s\n", env.owner, inbox_describe(in));
    while (!stop_flag) {
        recover_orphans(&env);
        struct store_lease holder;
        if (store_lease_acquire(env.app.store, INBOX_LEASE_NAME, env.owner, INBOX_LEASE_MS,
                                &holder) == 0) {
            size_t started = 0;
            if (inbox_poll(in, env.primer, env.engine, &started, err, sizeof err) != 0)
                log_warn("worker", "inbox: %s", err);
            else if (started)
                fprintf(stderr, "inbox: %zu new primer run(s)\n", started);
        }
        size_t advanced = 0;
        if (workflow_tick(env.engine, env.owner, &advanced) != 0)
            log_warn("worker", "%s", workflow_engine_error(env.engine));
        if (once)
            break;
        if (!advanced)
            clock_sleep_ms(poll_ms, &stop_flag);
    }
    store_lease_release(env.app.store, INBOX_LEASE_NAME, env.owner);
    fprintf(stderr, "harde worker %s: stopped\n", env.owner);
    inbox_close(in);
    close_env(&env);
    return 0;
}
