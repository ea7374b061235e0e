/* bench_intent — speed and accuracy of the local intent classifier.
 *
 * Usage: bench_intent DATA_DIR   (e.g. data/intents; DATA_DIR/heldout.tsv is
 * the held-out set). Trains the model from DATA_DIR several times and reports
 * the fastest training, then classifies every held-out utterance many times
 * and reports the mean time per message, and the held-out accuracy. Prints
 * one `name value` line per figure for bench/run.sh:
 *
 *   intent.train_ms 21.3
 *   intent.classify_us 6.2
 *   intent.heldout_accuracy 0.9700
 *
 * Exit status 1 when the model cannot be trained or the held-out file read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "llm/local/intent.h"

#define TRAIN_RUNS      5
#define CLASSIFY_ROUNDS 200
#define MAX_UTTERANCES  4096
#define LINE_MAX_BYTES  2048

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

int main(int argc, char **argv)
{
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
    for (int i = 0; i < n; i++)
        free(lines[i]);
    intent_model_free(model);
    return rc == 0 ? 0 : 1;
}
