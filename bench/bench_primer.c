/* bench_primer — the whole local primer workflow, step by step, for a
 * ~90-second video: wall time per step and as a ratio of the video's length.
 *
 * Where bench_media times the media pieces alone (espeak-ng, the ffmpeg
 * chain, the render), this runs the product: job 1042 of the sample CRM
 * through the nine durable steps of harde/primer.c under the workflow engine,
 * with the SQLite store and CRM, the delivery folder and the outbox, exactly
 * as `harde primer 1042 --wait` does (the wait step set to 0 s). Each step's
 * time is the engine's own measure (its step_succeeded events); what is left
 * of the wall time is the engine's bookkeeping (store transactions, leases,
 * planning), printed apart. The default template and music are made once per
 * data directory and cached, so they are reported apart from the per-video
 * cost. espeak-ng speaks at 130 words a minute here (BENCH_ESPEAK_WPM) so
 * that the primer script (written for 90 s at a speaking pace) lasts about
 * 90 s. The target from issue 6: the whole local pipeline under 0.3x real time
 * on 2 cores. Prints `name value` lines; everything happens in a temporary
 * data directory that is removed at the end.
 * Usage: bench_primer [REPO_ROOT] */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "harde/app.h"
#include "harde/primer.h"
#include "services/media/media.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define BENCH_TARGET_RATIO 0.3
#define BENCH_ESPEAK_WPM   "130"
#define BENCH_JOB          1042
#define BENCH_TIMEOUT_MS   (10 * 60 * 1000)
#define BENCH_STEPS_MAX    WORKFLOW_STEPS_MAX

struct step_time {
    char name[WORKFLOW_STEP_NAME_MAX + 8];
    int64_t ms;
};

struct bench {
    struct step_time steps[BENCH_STEPS_MAX];
    size_t count;
    bool failed;
};

static char bench_dir[512];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup_dir(void)
{
    if (bench_dir[0])
        nftw(bench_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_event(void *arg, const struct workflow_event *ev)
{
    struct bench *b = arg;
    if (ev->kind == WORKFLOW_EVENT_STEP_FAILED)
        fprintf(stderr, "bench_primer: step %s failed: %s\n", ev->step, ev->error);
    if (ev->kind == WORKFLOW_EVENT_RUN_FINISHED && ev->status != STORE_RUN_SUCCEEDED)
        b->failed = true;
    if (ev->kind != WORKFLOW_EVENT_STEP_SUCCEEDED || b->count == BENCH_STEPS_MAX)
        return;
    snprintf(b->steps[b->count].name, sizeof b->steps[b->count].name, "%s", ev->step);
    b->steps[b->count++].ms = ev->duration_ms;
}

static double seconds_since(int64_t t0)
{
    return (double)(clock_now_ns() - t0) / 1e9;
}

/* The rendered video's length as the run recorded it (its render step). */
static double run_video_seconds(struct store *st, const char *run_id)
{
    struct store_run run;
    if (store_run_get(st, run_id, true, &run) != 0)
        return 0;
    json_t *o = primer_run_json(&run);
    double s = json_number_value(json_object_get(o, "video_seconds"));
    json_decref(o);
    store_run_free(&run);
    return s;
}

static void print_figures(const struct bench *b, double video_s, double defaults_s, double total_s)
{
    double steps_s = 0;
    printf("primer.cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("primer.video_seconds %.2f\n", video_s);
    printf("primer.defaults_seconds %.3f\n", defaults_s);
    for (size_t i = 0; i < b->count; i++) {
        double s = (double)b->steps[i].ms / 1000;
        steps_s += s;
        printf("primer.step.%s_seconds %.3f\n", b->steps[i].name, s);
        printf("primer.step.%s_ratio %.4f\n", b->steps[i].name, s / video_s);
    }
    printf("primer.steps_seconds %.3f\n", steps_s);
    printf("primer.engine_overhead_ms %.1f\n", (total_s - steps_s) * 1000);
    printf("primer.total_seconds %.3f\n", total_s);
    printf("primer.total_ratio %.4f\n", total_s / video_s);
    printf("primer.target_ratio %.2f\n", BENCH_TARGET_RATIO);
    printf("primer.meets_target %d\n", total_s / video_s < BENCH_TARGET_RATIO);
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "bench_primer: %s: %s\n", what, err);
    cleanup_dir();
    return 1;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (!media_have_program("espeak-ng") || !media_have_program("ffmpeg") ||
        !media_have_program("ffprobe")) {
        printf("# bench_primer: skipped (espeak-ng, ffmpeg or ffprobe is not installed)\n");
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(bench_dir, sizeof bench_dir, "%s/harde-bench-primer.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(bench_dir)) {
        perror("bench_primer: mkdtemp");
        return 1;
    }
    /* Local backends only, whatever the caller's shell holds. */
    setenv("HARDE_DATA_DIR", bench_dir, 1);
    setenv("HARDE_PRIMER_WAIT_SECONDS", "0", 1);
    setenv("HARDE_SPEECH_ESPEAK_RATE", BENCH_ESPEAK_WPM, 1);
    setenv("HARDE_LOG_LEVEL", "warn", 1);
    unsetenv("HARDE_CONFIG");
    unsetenv("OPENAI_API_KEY");
    unsetenv("ELEVENLABS_API_KEY");
    unsetenv("CLOUDINARY_URL");

    char err[1024] = "";
    struct harde_app app;
    if (harde_app_open(&app, NULL, HARDE_NEED_STORE | HARDE_NEED_CRM, err, sizeof err) != 0)
        return fail("opening the app", err);
    int64_t t0 = clock_now_ns();
    struct primer *p = primer_open(&app, err, sizeof err);
    double defaults_s = seconds_since(t0);
    if (!p) {
        harde_app_close(&app);
        return fail("opening the primer services", err);
    }
    struct bench b = {.count = 0};
    struct workflow_options opts = {.on_event = on_event, .event_arg = &b};
    struct workflow_engine *engine = workflow_engine_new(app.store, &opts);
    char run_id[STORE_ID_MAX + 1];
    bool created = false;
    int rc = primer_register(p, engine);
    if (rc == 0)
        rc = primer_start(p, engine, BENCH_JOB, false, "bench", run_id, &created, err, sizeof err);
    enum store_run_status final = STORE_RUN_FAILED;
    t0 = clock_now_ns();
    if (rc == 0)
        rc = workflow_run_to_end(engine, "bench", run_id, BENCH_TIMEOUT_MS, NULL, NULL, NULL,
                                 &final);
    double total_s = seconds_since(t0);
    double video_s = rc == 0 ? run_video_seconds(app.store, run_id) : 0;
    if (rc == 0 && (final != STORE_RUN_SUCCEEDED || b.failed || video_s <= 0)) {
        snprintf(err, sizeof err, "the run ended %s", store_run_status_name(final));
        rc = ERR_IO;
    } else if (rc != 0 && !err[0]) {
        snprintf(err, sizeof err, "%s", workflow_engine_error(engine));
    }
    if (rc == 0)
        print_figures(&b, video_s, defaults_s, total_s);
    workflow_engine_free(engine);
    primer_close(p);
    harde_app_close(&app);
    if (rc != 0)
        return fail("the primer run", err);
    cleanup_dir();
    return 0;
}
