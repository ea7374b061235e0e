/* cli — what the subcommands of `harde` share: the command table entry, the
 * global options, and small helpers for usage errors and opening the app. */
#ifndef HARDE_CLI_CLI_H
#define HARDE_CLI_CLI_H

#include <stdbool.h>

#include "harde/app.h"

struct cli_globals;

typedef int cli_command_fn(int argc, char **argv, const struct cli_globals *globals);

struct cli_command {
    const char *name;
    cli_command_fn *run;
    const char *usage;
    const char *summary;
};

struct cli_globals {
    const char *config_path;
    const struct cli_command *command;
};

int cmd_ask(int argc, char **argv, const struct cli_globals *globals);
int cmd_chat(int argc, char **argv, const struct cli_globals *globals);
int cmd_quote(int argc, char **argv, const struct cli_globals *globals);
int cmd_crm(int argc, char **argv, const struct cli_globals *globals);
int cmd_sessions(int argc, char **argv, const struct cli_globals *globals);
int cmd_state(int argc, char **argv, const struct cli_globals *globals);
int cmd_primer(int argc, char **argv, const struct cli_globals *globals);
int cmd_runs(int argc, char **argv, const struct cli_globals *globals);
int cmd_run(int argc, char **argv, const struct cli_globals *globals);
int cmd_worker(int argc, char **argv, const struct cli_globals *globals);
int cmd_eval(int argc, char **argv, const struct cli_globals *globals);
int cmd_serve(int argc, char **argv, const struct cli_globals *globals);
int cmd_user(int argc, char **argv, const struct cli_globals *globals);
int cmd_token(int argc, char **argv, const struct cli_globals *globals);
int cmd_kb(int argc, char **argv, const struct cli_globals *globals);
int cmd_version(int argc, char **argv, const struct cli_globals *globals);

const struct cli_command *cli_find_command(const char *name);
/* share_dir + "/" + relative, as a new string. */
char *cli_share_path(const struct harde_app *app, const char *relative);
/* Prints "usage: harde USAGE" for the current command to stderr; returns 2. */
int cli_usage_error(const struct cli_globals *globals, const char *problem);
/* True when arg is -h or --help (and prints the command's usage to stdout). */
bool cli_wants_help(const struct cli_globals *globals, const char *arg);
/* Opens the app or prints "harde: <reason>" and returns non-zero. */
int cli_open_app(struct harde_app *app, const struct cli_globals *globals, unsigned need);

#define HARDE_VERSION "0.1.0"

#endif
