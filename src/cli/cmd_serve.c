/* cmd_serve — `harde serve [--host H] [--port P] [--port-file F]`: the web
 * app and HTTP API (src/web/) until Ctrl-C or SIGTERM.
 *
 * Prints the address to open on stdout (and, on the very first start, the
 * one-time password of the admin user it created). --port 0 picks a free
 * port; --port-file writes the port chosen (atomically, for scripts and
 * tests that wait for it). SIGINT and SIGTERM are blocked in every thread
 * and taken here with sigwait, so a stop is an orderly one: open streams end,
 * running turns are cancelled, the process exits 0. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "web/web.h"

static int parse_port(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* Writes the port to path through a temporary file and a rename. */
static int write_port_file(const char *path, int port)
{
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    if (!tmp)
        return -1;
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = f ? 0 : -1;
    if (f) {
        if (fprintf(f, "%d\n", port) < 0)
            rc = -1;
        if (fclose(f) != 0)
            rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        remove(tmp);
    free(tmp);
    return rc;
}

static void print_address(const char *host, int port)
{
    bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    bool v6 = strchr(host, ':') != NULL;
    const char *shown = any ? "127.0.0.1" : host;
    printf("harde: serving Hard-E at http://%s%s%s:%d/ — open it in a browser (Ctrl-C stops)\n",
           v6 && !any ? "[" : "", shown, v6 && !any ? "]" : "", port);
    if (any)
        printf("harde: listening on every address (%s) port %d\n", host, port);
    fflush(stdout);
}

static void print_admin(const struct web_open_info *info)
{
    if (!info->admin_created)
        return;
    if (info->admin_password_from_env)
        printf("harde: created the first user, admin, with the password in "
               "HARDE_ADMIN_PASSWORD\n");
    else
        printf("harde: created the first user: admin, password %s\n"
               "harde: this password is shown once; change it with `harde user passwd admin`\n",
               info->admin_password);
    fflush(stdout);
}

int cmd_serve(int argc, char **argv, const struct cli_globals *globals)
{
    struct web_options opts = {.config_path = globals->config_path, .port = -1};
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i])) {
            printf("\nDefaults from harde.ini: [web] host (127.0.0.1), [web] port (8080).\n"
                   "--port 0 picks a free port; --port-file writes the port chosen.\n"
                   "The first start with no users creates `admin` (password from\n"
                   "HARDE_ADMIN_PASSWORD, else printed once).\n");
            return 0;
        }
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            opts.host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (parse_port(argv[++i], &opts.port) != 0)
                return cli_usage_error(globals, "--port: a number from 0 to 65535");
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else
            return cli_usage_error(globals, "unknown argument");
    }
    /* Every thread started from here on inherits the blocked signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[1024];
    struct web_server *ws;
    struct web_open_info info;
    if (web_server_open(&opts, &ws, &info, err, sizeof err) != 0) {
        fprintf(stderr, "harde serve: %s\n", err);
        return 1;
    }
    print_admin(&info);
    if (web_server_start(ws, err, sizeof err) != 0) {
        fprintf(stderr, "harde serve: %s\n", err);
        web_server_free(ws);
        return 1;
    }
    int port = web_server_port(ws);
    if (port_file && write_port_file(port_file, port) != 0) {
        fprintf(stderr, "harde serve: cannot write %s: %s\n", port_file, strerror(errno));
        web_server_free(ws);
        return 1;
    }
    print_address(web_server_host(ws), port);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "harde serve: %s: stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    web_server_free(ws);
    return 0;
}
