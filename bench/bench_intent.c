/* bench_intent — speed and accuracy of the local intent classifier.
 *
 * Usage: bench_intent DATA_DIR   (e.g. data/intents; DATA_DIR/heldout.tsv is
 * the held-out set). Trains the model from DATA_DIR several times and reports
 * the fastest training, then classifies every held-out utterance many times
 * and reports the mean time per message, and the held-out accuracy. Then the
 * cache: saves the model to a temporary file and reports its size, the
 * fastest fingerprint of DATA_DIR, the fastest load, and the fastest
 * intent_model_open_cached on a valid cache (fingerprint + load: what a
 * start-up pays), each also in a fresh process (this program run again with
 * `--load PATH FINGERPRINT` or `--open DIR PATH`), which pays for its first
 * page faults as `harde` does; it checks that the loaded model gives the very
 * same probabilities as the trained one on every held-out message. Prints
 * one `name value` line per figure for bench/run.sh:
 *
 *   intent.train_ms 19.5
 *   intent.classify_us 5.03
 *   intent.heldout_accuracy 0.9700
 *   intent.cache_bytes 450984
 *   intent.fingerprint_ms 0.044
 *   intent.cache_load_ms 0.061
 *   intent.cache_load_fresh_process_ms 0.261
 *   intent.open_cached_ms 0.105
 *   intent.open_cached_fresh_process_ms 0.350
 *
 * Exit status 1 when the model cannot be trained, the held-out file read, or
 * the cache saved, loaded or found to differ from the trained model. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "llm/local/intent.h"

#define TRAIN_RUNS      5
#define CLASSIFY_ROUNDS 200
#define MAX_UTTERANCES  4096
#define LINE_MAX_BYTES  2048
#define CACHE_RUNS      200
#define FRESH_RUNS      20

/* Reads the utterances (the text after the tab) of a label<TAB>utterance
 * file into lines; returns how many, or -1 when the file cannot be opened. */
static int read_utterances(const char *path, char **lines, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[LINE_MAX_BYTES];
    int n = 0;
    while (n < max && fgets(buf, sizeof buf, f)) {
        char *tab = strchr(buf, '\t');
        if (buf[0] == '#' || !tab)
            continue;
        tab[strcspn(tab, "\r\n")] = '\0';
        lines[n] = malloc(strlen(tab + 1) + 1);
        if (!lines[n])
            break;
        strcpy(lines[n++], tab + 1);
    }
    fclose(f);
    return n;
}

static double ms_since(int64_t t0)
{
    return (double)(clock_now_ns() - t0) / 1e6;
}

/* 0 when b classifies every line exactly as a does (same labels, the same
 * probabilities bit for bit), else 1 with the first difference printed. */
static int same_predictions(const struct intent_model *a, const struct intent_model *b,
                            char **lines, int n)
{
    for (int i = 0; i < n; i++) {
        struct intent_prediction pa, pb;
        intent_classify(a, lines[i], &pa);
        intent_classify(b, lines[i], &pb);
        if (strcmp(pa.label, pb.label) != 0 ||
            memcmp(&pa.probability, &pb.probability, sizeof pa.probability) != 0) {
            fprintf(stderr, "bench_intent: the cached model differs on \"%s\"\n", lines[i]);
            return 1;
        }
    }
    return 0;
}

/* The child of fresh_ms, in a process of its own: `--load PATH FP` loads the
 * cache once, `--open DIR PATH` runs intent_model_open_cached once; prints
 * the milliseconds it took. */
static int run_once(const char *mode, const char *a, const char *b)
{
    char err[512];
    int64_t t0 = clock_now_ns();
    struct intent_model *m = strcmp(mode, "--load") == 0
                                 ? intent_model_load(a, strtoull(b, NULL, 16), err, sizeof err)
                                 : intent_model_open_cached(a, b, err, sizeof err);
    double ms = ms_since(t0);
    if (!m) {
        fprintf(stderr, "bench_intent: %s\n", err);
        return 1;
    }
    intent_model_free(m);
    printf("%.3f\n", ms);
    return 0;
}

/* The time of one run_once in a fresh process (its first allocations and
 * page faults included, as at start-up): runs `self mode a b` and reads its
 * answer. Fastest of runs; -1 when the child fails. */
static double fresh_ms(const char *self, const char *mode, const char *a, const char *b, int runs)
{
    double best = -1;
    for (int run = 0; run < runs; run++) {
        int fds[2];
        if (pipe(fds) != 0)
            return -1;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
            execl(self, self, mode, a, b, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        char answer[64] = "";
        ssize_t got = pid > 0 ? read(fds[0], answer, sizeof answer - 1) : -1;
        close(fds[0]);
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0 || got <= 0)
            return -1;
        double ms = strtod(answer, NULL);
        best = best < 0 || ms < best ? ms : best;
    }
    return best;
}

/* Saves model to a temporary file and measures the cache; prints its lines.
 * 0, or 1 with a message on stderr. */
static int bench_cache(const char *self, const char *dir, const struct intent_model *model,
                       char **lines, int n)
{
    char err[512], path[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bench_intent.%ld.model", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    double fingerprint_ms = 1e18, load_ms = 1e18, open_ms = 1e18;
    uint64_t fp = 0;
    for (int run = 0; run < CACHE_RUNS; run++) {
        int64_t t0 = clock_now_ns();
        fp = intent_dir_fingerprint(dir);
        double ms = ms_since(t0);
        fingerprint_ms = ms < fingerprint_ms ? ms : fingerprint_ms;
    }
    int rc = 1;
    if (fp == 0 || intent_model_save(model, path, fp, err, sizeof err) != 0) {
        fprintf(stderr, "bench_intent: cannot save the cache: %s\n", fp ? err : dir);
        goto out;
    }
    for (int run = 0; run < CACHE_RUNS; run++) {
        int64_t t0 = clock_now_ns();
        struct intent_model *loaded = intent_model_load(path, fp, err, sizeof err);
        double ms = ms_since(t0);
        if (!loaded) {
            fprintf(stderr, "bench_intent: cannot load the cache: %s\n", err);
            goto out;
        }
        if (run == 0 && same_predictions(model, loaded, lines, n) != 0) {
            intent_model_free(loaded);
            goto out;
        }
        intent_model_free(loaded);
        load_ms = ms < load_ms ? ms : load_ms;
    }
    for (int run = 0; run < CACHE_RUNS; run++) {
        int64_t t0 = clock_now_ns();
        struct intent_model *opened = intent_model_open_cached(dir, path, err, sizeof err);
        double ms = ms_since(t0);
        intent_model_free(opened);
        open_ms = ms < open_ms ? ms : open_ms;
    }
    FILE *f = fopen(path, "rb");
    long bytes = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (f)
        fclose(f);
    printf("intent.cache_bytes %ld\n", bytes);
    printf("intent.fingerprint_ms %.3f\n", fingerprint_ms);
    printf("intent.cache_load_ms %.3f\n", load_ms);
    char fp_hex[17];
    snprintf(fp_hex, sizeof fp_hex, "%016llx", (unsigned long long)fp);
    printf("intent.cache_load_fresh_process_ms %.3f\n",
           fresh_ms(self, "--load", path, fp_hex, FRESH_RUNS));
    printf("intent.open_cached_ms %.3f\n", open_ms);
    printf("intent.open_cached_fresh_process_ms %.3f\n",
           fresh_ms(self, "--open", dir, path, FRESH_RUNS));
    rc = 0;
out:
    unlink(path);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && (strcmp(argv[1], "--load") == 0 || strcmp(argv[1], "--open") == 0))
        return run_once(argv[1], argv[2], argv[3]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    char err[512], path[4096];
    struct intent_model *model = NULL;
    double best_train_ms = 1e18;
    for (int run = 0; run < TRAIN_RUNS; run++) {
        intent_model_free(model);
        int64_t t0 = clock_now_ns();
        model = intent_model_train_dir(argv[1], err, sizeof err);
        double ms = (double)(clock_now_ns() - t0) / 1e6;
        if (!model) {
            fprintf(stderr, "bench_intent: %s\n", err);
            return 1;
        }
        if (ms < best_train_ms)
            best_train_ms = ms;
    }

    snprintf(path, sizeof path, "%s/heldout.tsv", argv[1]);
    static char *lines[MAX_UTTERANCES];
    int n = read_utterances(path, lines, MAX_UTTERANCES);
    if (n <= 0) {
        fprintf(stderr, "bench_intent: %s: no utterances\n", path);
        intent_model_free(model);
        return 1;
    }
    struct intent_prediction pred;
    double checksum = 0;
    int64_t t0 = clock_now_ns();
    for (int round = 0; round < CLASSIFY_ROUNDS; round++)
        for (int i = 0; i < n; i++) {
            intent_classify(model, lines[i], &pred);
            checksum += pred.probability;
        }
    double us = (double)(clock_now_ns() - t0) / 1e3 / ((double)CLASSIFY_ROUNDS * n);

    double accuracy = 0;
    FILE *sink = fopen("/dev/null", "w");
    int rc = intent_eval_file(model, path, sink ? sink : stderr, &accuracy);
    if (sink)
        fclose(sink);

    printf("intent.labels %zu\n", intent_model_label_count(model));
    printf("intent.train_examples %zu\n", intent_model_example_count(model));
    printf("intent.train_ms %.1f\n", best_train_ms);
    printf("intent.classify_us %.2f\n", us);
    printf("intent.heldout_messages %d\n", n);
    printf("intent.heldout_accuracy %.4f\n", rc == 0 ? accuracy : 0.0);
    if (checksum < 0) /* keeps the classify loop from being optimised away */
        puts("?");
    if (rc == 0)
        rc = bench_cache(argv[0], argv[1], model, lines, n) == 0 ? 0 : -1;
    for (int i = 0; i < n; i++)
        free(lines[i]);
    intent_model_free(model);
    return rc == 0 ? 0 : 1;
}
