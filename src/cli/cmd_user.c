/* cmd_user — the accounts of the web app: `harde user add|list|delete|passwd`
 * and `harde token create|list` (bearer tokens for API clients).
 *
 * Passwords are asked for on the terminal without echo (twice), or read as
 * one line from stdin when stdin is not a terminal (for scripts:
 * `printf '%s\n' "$PW" | harde user add ana --role rep`). They are hashed
 * with Argon2id (web/auth.h) before they reach the store. A token is printed
 * once; only its SHA-256 is stored, so a lost token is revoked and replaced,
 * never recovered. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "store/store.h"
#include "web/auth.h"

/* Reads one line into out without its line end; 0, or -1 at EOF. */
static int read_line(FILE *in, char *out, size_t outlen)
{
    if (!fgets(out, (int)outlen, in))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Prompts on the terminal with echo off. */
static int prompt_hidden(const char *prompt, char *out, size_t outlen)
{
    struct termios old, quiet;
    fputs(prompt, stderr);
    fflush(stderr);
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int rc = read_line(stdin, out, outlen);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

/* Gets a new password for name (prompted twice on a TTY, else one stdin
 * line) and hashes it into hash. 0, or 1 with the reason printed. */
static int new_password_hash(const char *name, char *hash, size_t hashlen)
{
    char pw[WEB_PASSWORD_MAX + 2], again[WEB_PASSWORD_MAX + 2], err[200];
    int rc = 1;
    if (isatty(STDIN_FILENO)) {
        char prompt[128];
        snprintf(prompt, sizeof prompt, "New password for %s: ", name);
        if (prompt_hidden(prompt, pw, sizeof pw) != 0 ||
            prompt_hidden("Repeat it: ", again, sizeof again) != 0) {
            fprintf(stderr, "harde: no password given\n");
            goto out;
        }
        if (strcmp(pw, again) != 0) {
            fprintf(stderr, "harde: the two passwords differ\n");
            goto out;
        }
    } else if (read_line(stdin, pw, sizeof pw) != 0) {
        fprintf(stderr, "harde: give the password on stdin (one line)\n");
        goto out;
    }
    if (web_password_policy(pw, err, sizeof err) != 0) {
        fprintf(stderr, "harde: %s\n", err);
        goto out;
    }
    if (web_password_hash(pw, hash, hashlen) != 0) {
        fprintf(stderr, "harde: cannot hash the password (out of memory?)\n");
        goto out;
    }
    rc = 0;
out:
    memset(pw, 0, sizeof pw);
    memset(again, 0, sizeof again);
    return rc;
}

static void print_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char out[32];
    localtime_r(&t, &tm);
    strftime(out, sizeof out, "%Y-%m-%d %H:%M", &tm);
    fputs(out, stdout);
}

static int user_add(struct harde_app *app, const struct cli_globals *g, int argc, char **argv)
{
    const char *name = NULL, *role = NULL, *team = "";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (strcmp(argv[i], "--team") == 0 && i + 1 < argc)
            team = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return cli_usage_error(g, "unknown argument");
    }
    enum store_role r;
    if (!name || !store_user_name_valid(name))
        return cli_usage_error(g, "NAME: 1-64 of A-Z a-z 0-9 . _ @ -");
    if (!role || store_role_parse(role, &r) != 0)
        return cli_usage_error(g, "--role rep, manager or admin");
    char hash[WEB_PASSWORD_HASH];
    if (new_password_hash(name, hash, sizeof hash) != 0)
        return 1;
    struct store_user_spec spec = {.name = name, .role = r, .team = team, .password_hash = hash};
    int rc = store_user_create(app->store, &spec);
    if (rc != 0) {
        fprintf(stderr, "harde user add: %s\n", store_error(app->store));
        return 1;
    }
    printf("user %s added (%s%s%s)\n", name, store_role_name(r), *team ? ", team " : "", team);
    return 0;
}

static int user_passwd(struct harde_app *app, const struct cli_globals *g, int argc, char **argv)
{
    if (argc != 3)
        return cli_usage_error(g, "user passwd NAME");
    struct store_user u;
    if (store_user_get(app->store, argv[2], &u) != 0) {
        fprintf(stderr, "harde user passwd: no user %s\n", argv[2]);
        return 1;
    }
    char hash[WEB_PASSWORD_HASH];
    int rc = new_password_hash(u.name, hash, sizeof hash);
    if (rc == 0) {
        struct store_user_spec spec = {.name = u.name, .role = u.role, .password_hash = hash};
        rc = store_user_update(app->store, &spec) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "harde user passwd: %s\n", store_error(app->store));
        else
            printf("password of %s changed\n", u.name);
    }
    store_user_free(&u);
    return rc;
}

static int user_list(struct harde_app *app, bool json)
{
    struct store_user_filter f = {.limit = STORE_LIST_MAX};
    struct store_user_list list;
    if (store_user_list(app->store, &f, &list) != 0) {
        fprintf(stderr, "harde user list: %s\n", store_error(app->store));
        return 1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < list.count; i++) {
        const struct store_user *u = &list.items[i];
        if (json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I}", "name", u->name, "role",
                                                 store_role_name(u->role), "team", u->team,
                                                 "created_ms", (json_int_t)u->created_ms));
            continue;
        }
        printf("%-24s %-8s %-16s ", u->name, store_role_name(u->role), *u->team ? u->team : "-");
        print_time(u->created_ms);
        putchar('\n');
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (list.count == 0) {
        printf("no users yet — `harde serve` creates admin on its first start, or: "
               "harde user add NAME --role admin\n");
    }
    json_decref(arr);
    store_user_list_free(&list);
    return 0;
}

int cmd_user(int argc, char **argv, const struct cli_globals *globals)
{
    if (argc < 2)
        return cli_usage_error(globals, "add, list, delete or passwd?");
    if (cli_wants_help(globals, argv[1]))
        return 0;
    const char *sub = argv[1];
    bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
    if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "delete") && strcmp(sub, "passwd"))
        return cli_usage_error(globals, "add, list, delete or passwd?");
    if (strcmp(sub, "delete") == 0 && argc != 3)
        return cli_usage_error(globals, "user delete NAME");
    if (web_auth_init() != 0) {
        fprintf(stderr, "harde: libsodium cannot start\n");
        return 1;
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_STORE) != 0)
        return 1;
    int rc;
    if (strcmp(sub, "add") == 0) {
        rc = user_add(&app, globals, argc, argv);
    } else if (strcmp(sub, "passwd") == 0) {
        rc = user_passwd(&app, globals, argc, argv);
    } else if (strcmp(sub, "list") == 0) {
        rc = argc > 2 && !json ? cli_usage_error(globals, "user list [--json]")
                               : user_list(&app, json);
    } else {
        rc = store_user_delete(app.store, argv[2]);
        if (rc == 0)
            printf("user %s deleted (and their tokens)\n", argv[2]);
        else
            fprintf(stderr, "harde user delete: %s\n",
                    rc == ERR_NOT_FOUND ? "no such user" : store_error(app.store));
        rc = rc == 0 ? 0 : 1;
    }
    harde_app_close(&app);
    return rc;
}

/* ---- tokens ------------------------------------------------------------------------- */

static int token_create(struct harde_app *app, const struct cli_globals *g, int argc, char **argv)
{
    const char *name = NULL, *label = "";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return cli_usage_error(g, "unknown argument");
    }
    if (!name)
        return cli_usage_error(g, "whose token? give a user name");
    char token[WEB_TOKEN_MAX], digest[WEB_DIGEST_HEX + 1];
    web_token_new(WEB_BEARER_PREFIX, token, sizeof token);
    web_digest_hex(token, digest);
    int rc = store_token_create(app->store, digest, name, label);
    if (rc != 0) {
        fprintf(stderr, "harde token create: %s\n",
                rc == ERR_NOT_FOUND ? "no such user" : store_error(app->store));
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr,
            "harde: bearer token for %s created; it is shown once (only its SHA-256 is "
            "kept). Send it as: Authorization: Bearer TOKEN\n",
            name);
    return 0;
}

static int token_list(struct harde_app *app, const char *user)
{
    struct store_token_list list;
    if (store_token_list(app->store, user, &list) != 0) {
        fprintf(stderr, "harde token list: %s\n", store_error(app->store));
        return 1;
    }
    for (size_t i = 0; i < list.count; i++) {
        const struct store_token *t = &list.items[i];
        printf("%.12s…  %-24s %-20s created ", t->hash, t->user, *t->label ? t->label : "-");
        print_time(t->created_ms);
        fputs(t->last_used_ms ? ", last used " : ", never used", stdout);
        if (t->last_used_ms)
            print_time(t->last_used_ms);
        putchar('\n');
    }
    if (list.count == 0)
        printf("no tokens — create one with: harde token create NAME\n");
    store_token_list_free(&list);
    return 0;
}

int cmd_token(int argc, char **argv, const struct cli_globals *globals)
{
    if (argc < 2)
        return cli_usage_error(globals, "create or list?");
    if (cli_wants_help(globals, argv[1]))
        return 0;
    bool create = strcmp(argv[1], "create") == 0;
    if (!create && (strcmp(argv[1], "list") != 0 || argc > 3))
        return cli_usage_error(globals, "create NAME [--label L] or list [NAME]");
    if (web_auth_init() != 0) {
        fprintf(stderr, "harde: libsodium cannot start\n");
        return 1;
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_STORE) != 0)
        return 1;
    int rc = create ? token_create(&app, globals, argc, argv)
                    : token_list(&app, argc == 3 ? argv[2] : NULL);
    harde_app_close(&app);
    return rc;
}
