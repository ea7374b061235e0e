/* cmd_kb — `harde kb import [DIR]`, `harde kb stats`, `harde kb search QUERY`
 * and `harde kb answer QUESTION`: manage and try the company playbook index
 * (DATA_DIR/kb.sqlite, built from data/kb/ on first use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kb/answer.h"
#include "kb/kb.h"

#define KB_CLI_HITS 5

static int kb_import(struct harde_app *app, const char *dir)
{
    char err[512];
    long passages = 0;
    if (kb_import_dir(app->kb, dir ? dir : app->kb_dir, &passages, err, sizeof err) != 0) {
        fprintf(stderr, "harde kb: %s\n", err);
        return 1;
    }
    printf("imported %ld passages from %s\n", passages, dir ? dir : app->kb_dir);
    return 0;
}

static int kb_print_stats(struct harde_app *app)
{
    struct kb_stats st;
    char err[512];
    if (kb_stats_get(app->kb, &st, err, sizeof err) != 0) {
        fprintf(stderr, "harde kb: %s\n", err);
        return 1;
    }
    printf("%ld passages from %ld files (%ld bytes), imported from %s\n", st.passages, st.files,
           st.bytes, st.source_dir);
    for (size_t i = 0; i < st.source_count; i++)
        printf("  %-40s %4ld passages\n", st.sources[i].source, st.sources[i].passages);
    kb_stats_free(&st);
    return 0;
}

static int kb_print_search(struct harde_app *app, const char *query)
{
    struct kb_results res;
    char err[512];
    if (kb_search(app->kb, query, KB_CLI_HITS, &res, err, sizeof err) != 0) {
        fprintf(stderr, "harde kb: %s\n", err);
        return 1;
    }
    if (res.count == 0)
        printf("no passage matches\n");
    for (size_t i = 0; i < res.count; i++)
        printf("%.2f  %s › %s\n      %s\n", res.hits[i].score, res.hits[i].source,
               res.hits[i].heading, res.hits[i].snippet);
    kb_results_free(&res);
    return 0;
}

static int kb_print_answer(struct harde_app *app, const char *question)
{
    char *answer = NULL;
    char err[512];
    if (kb_answer(app->kb, question, &answer, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "harde kb: %s\n", err);
        return 1;
    }
    printf("%s\n", answer);
    free(answer);
    return 0;
}

int cmd_kb(int argc, char **argv, const struct cli_globals *globals)
{
    if (argc < 2)
        return cli_usage_error(globals, "which kb command?");
    if (cli_wants_help(globals, argv[1]))
        return 0;
    const char *sub = argv[1], *arg = argc > 2 ? argv[2] : NULL;
    bool needs_arg = strcmp(sub, "search") == 0 || strcmp(sub, "answer") == 0;
    if (strcmp(sub, "import") != 0 && strcmp(sub, "stats") != 0 && !needs_arg)
        return cli_usage_error(globals, "unknown kb command");
    if ((needs_arg && !arg) || argc > 3)
        return cli_usage_error(globals, NULL);
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_KB) != 0)
        return 1;
    int rc;
    if (strcmp(sub, "import") == 0)
        rc = kb_import(&app, arg);
    else if (strcmp(sub, "stats") == 0)
        rc = kb_print_stats(&app);
    else if (strcmp(sub, "search") == 0)
        rc = kb_print_search(&app, arg);
    else
        rc = kb_print_answer(&app, arg);
    harde_app_close(&app);
    return rc;
}
