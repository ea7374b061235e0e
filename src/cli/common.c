/* common — helpers every subcommand uses: usage errors, --help, opening the
 * app with a readable error, and `harde version`. */
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "cli/cli.h"

int cli_usage_error(const struct cli_globals *globals, const char *problem)
{
    if (problem)
        fprintf(stderr, "harde %s: %s\n", globals->command->name, problem);
    fprintf(stderr, "usage: harde %s\n", globals->command->usage);
    return 2;
}

bool cli_wants_help(const struct cli_globals *globals, const char *arg)
{
    if (strcmp(arg, "-h") != 0 && strcmp(arg, "--help") != 0)
        return false;
    printf("usage: harde %s\n\n%s\n", globals->command->usage, globals->command->summary);
    return true;
}

int cli_open_app(struct harde_app *app, const struct cli_globals *globals, unsigned need)
{
    char err[1024];
    int rc = harde_app_open(app, globals->config_path, need, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "harde: %s\n", err);
        return 1;
    }
    return 0;
}

char *cli_share_path(const struct harde_app *app, const char *relative)
{
    return xasprintf("%s/%s", app->share_dir, relative);
}

int cmd_version(int argc, char **argv, const struct cli_globals *globals)
{
    printf("harde %s\n", HARDE_VERSION);
    return 0;
}
