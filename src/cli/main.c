/* main — the `harde` command: global options, then one subcommand from a table.
 *
 * Each subcommand lives in its own cli/cmd_*.c with a `cmd_<name>(argc, argv,
 * globals)` entry; this file only parses the global options (--config, --help,
 * --version), finds the command and reports usage errors. Exit codes: 0 ok,
 * 1 failure, 2 usage or bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command commands[] = {
    {"ask", cmd_ask, "ask [--session ID] [--json] [--no-stream] \"message\"",
     "one turn: ask Hard-E something and print the answer"},
    {"chat", cmd_chat, "chat [--session ID]", "a conversation in the terminal"},
    {"quote", cmd_quote, "quote [--book FILE] [REQUEST.json | -]",
     "price a job from the price book; prints the quote as JSON"},
    {"crm", cmd_crm,
     "crm search TEXT | customer ID | job ID | jobs [--stage S] [--limit N] | stages [--json]",
     "what the CRM holds: customers, jobs, stages, notes"},
    {"sessions", cmd_sessions, "sessions [--all] [--json]", "the conversations kept, newest first"},
    {"state", cmd_state, "state SESSION [--json]",
     "the active workflow state of a session: filled and missing fields"},
    {"primer", cmd_primer, "primer JOB [--wait SECONDS] [--force] [--json]",
     "produce and send the primer video for a job (--wait: in the foreground)"},
    {"runs", cmd_runs, "runs [--json]", "primer video runs, newest first"},
    {"run", cmd_run, "run show|cancel|retry ID [--json]", "one run: its steps, cancel or retry it"},
    {"worker", cmd_worker, "worker [--once] [--poll-ms N]",
     "watch the inbox and move every primer run forward"},
    {"serve", cmd_serve, "serve [--host H] [--port P] [--port-file F]",
     "the web app and HTTP API (docs/API.md); prints the address to open"},
    {"user", cmd_user,
     "user add NAME --role rep|manager|admin [--team T] | list [--json] | delete NAME | passwd "
     "NAME",
     "the accounts of the web app (passwords: prompted, or one line on stdin)"},
    {"token", cmd_token, "token create NAME [--label L] | list [NAME]",
     "bearer tokens for API clients (printed once; only a hash is kept)"},
    {"kb", cmd_kb, "kb import [DIR] | stats | search QUERY | answer QUESTION",
     "the company playbook: re-import, statistics, search, offline answers"},
    {"eval", cmd_eval, "eval routing [FILE] [--min ACCURACY]",
     "accuracy and confusion table of the intent router on a labelled file"},
    {"version", cmd_version, "version", "print the version"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "Hard-E — the Sales Director clone for residential contractors.\n\n"
                 "usage: harde [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strlen(commands[i].usage) > 40)
            fprintf(out, "  %s\n  %-40s %s\n", commands[i].usage, "", commands[i].summary);
        else
            fprintf(out, "  %-40s %s\n", commands[i].usage, commands[i].summary);
    fprintf(out,
            "\noptions:\n"
            "  --config FILE   configuration file (default: $HARDE_CONFIG, else ./harde.ini)\n"
            "  -h, --help      this help; `harde COMMAND --help` for one command\n"
            "  --version       print the version\n\n"
            "environment: OPENAI_API_KEY selects the OpenAI model (OPENAI_BASE_URL for any\n"
            "compatible server); HARDE_DATA_DIR, HARDE_<SECTION>_<KEY> override the config.\n");
}

const struct cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    struct cli_globals globals = {.config_path = NULL};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            return cmd_version(0, NULL, &globals);
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            globals.config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            globals.config_path = argv[i] + 9;
        } else {
            fprintf(stderr, "harde: unknown option %s\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    const struct cli_command *cmd = cli_find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "harde: unknown command \"%s\" (see harde --help)\n", argv[i]);
        return 2;
    }
    globals.command = cmd;
    return cmd->run(argc - i, argv + i, &globals);
}
