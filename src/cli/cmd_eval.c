/* cmd_eval — `harde eval routing FILE`: the local intent classifier's accuracy
 * and confusion table on a labelled file (label<TAB>utterance per line). The
 * project ships data/intents/heldout.tsv, which is never used for training;
 * `make test` fails when its accuracy drops below 90 %. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "llm/local/intent.h"

#define EVAL_DEFAULT_MIN 0.0

int cmd_eval(int argc, char **argv, const struct cli_globals *globals)
{
    const char *file = NULL;
    double min_accuracy = EVAL_DEFAULT_MIN;
    int i = 1;
    if (i < argc && cli_wants_help(globals, argv[i])) {
        printf("\nFILE has one `label<TAB>utterance` per line. --min A exits 1 when the accuracy\n"
               "is below A (0–1).\n");
        return 0;
    }
    if (i >= argc || strcmp(argv[i], "routing") != 0)
        return cli_usage_error(globals, "the only evaluation is `routing`");
    for (i++; i < argc; i++) {
        if (strcmp(argv[i], "--min") == 0 && i + 1 < argc)
            min_accuracy = atof(argv[++i]);
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error(globals, "unknown option");
        else if (!file)
            file = argv[i];
        else
            return cli_usage_error(globals, "give one file");
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_INTENTS) != 0)
        return 1;
    char *heldout = NULL;
    if (!file)
        file = heldout = cli_share_path(&app, "intents/heldout.tsv");
    double accuracy = 0;
    int rc = intent_eval_file(app.intents, file, stdout, &accuracy);
    if (rc != 0)
        fprintf(stderr, "harde eval: cannot evaluate %s\n", file);
    else if (accuracy < min_accuracy) {
        fprintf(stderr, "harde eval: accuracy %.1f%% is below the required %.1f%%\n",
                accuracy * 100, min_accuracy * 100);
        rc = 1;
    }
    free(heldout);
    harde_app_close(&app);
    return rc == 0 ? 0 : 1;
}
