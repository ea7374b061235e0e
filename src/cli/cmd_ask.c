/* cmd_ask — `harde ask` (one turn) and `harde chat` (a terminal conversation).
 *
 * Both run turns through harde_turn_run and print the runtime's events as
 * they come: answer text on stdout as it streams, the speaking agent and tool
 * activity on stderr (so `harde ask ... > answer.txt` captures only the
 * answer). Ctrl-C cancels the turn in progress; in chat, Ctrl-C at the prompt
 * or Ctrl-D ends the conversation. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "harde/session.h"
#include "harde/turn.h"

#define CHAT_MAX_LINE 8192

static volatile sig_atomic_t cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

static void install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

struct printer {
    bool quiet;     /* --json: print nothing while running */
    bool text_open; /* an answer is being streamed on stdout */
    bool streamed;  /* some text arrived as deltas */
    const char *agent;
};

static void print_event(const struct agent_event *ev, void *user)
{
    struct printer *p = user;
    if (p->quiet)
        return;
    switch (ev->type) {
    case AGENT_EVENT_AGENT_CHANGED:
        p->agent = ev->agent;
        break;
    case AGENT_EVENT_TEXT_DELTA:
        if (!p->text_open && isatty(STDERR_FILENO))
            fprintf(stderr, "%s: ", ev->agent);
        fflush(stderr);
        fwrite(ev->text, 1, ev->len, stdout);
        fflush(stdout);
        p->text_open = p->streamed = true;
        break;
    case AGENT_EVENT_TOOL_STARTED:
        fprintf(stderr, "[%s] %s…\n", ev->agent, ev->activity ? ev->activity : ev->tool);
        break;
    case AGENT_EVENT_TOOL_FINISHED:
        if (ev->is_error)
            fprintf(stderr, "[%s] %s failed: %s\n", ev->agent, ev->tool, ev->result);
        break;
    case AGENT_EVENT_HANDOFF:
        fprintf(stderr, "[%s → %s]\n", ev->agent, ev->target);
        break;
    case AGENT_EVENT_FINAL:
        if (!p->streamed) {
            if (isatty(STDERR_FILENO))
                fprintf(stderr, "%s: ", ev->agent);
            fflush(stderr);
            fwrite(ev->text, 1, ev->len, stdout);
        }
        fputc('\n', stdout);
        fflush(stdout);
        p->text_open = p->streamed = false;
        break;
    case AGENT_EVENT_ERROR:
        if (p->text_open)
            fputc('\n', stdout);
        p->text_open = p->streamed = false;
        break;
    }
}

/* Loads the session named by id, or starts a new one. */
static int open_session(struct harde_app *app, const char *id, struct harde_session *s)
{
    if (!id) {
        session_init_new(s);
        s->owner = xstrdup(app->user);
        return 0;
    }
    char err[512];
    int rc = session_load(app->store, id, app->state_idle_minutes * 60000, s, err, sizeof err);
    if (rc == ERR_NOT_FOUND) {
        session_init_new(s);
        snprintf(s->id, sizeof s->id, "%s", id); /* a named new session */
        s->owner = xstrdup(app->user);
        return 0;
    }
    if (rc)
        fprintf(stderr, "harde: %s\n", err);
    return rc;
}

static int run_one_turn(struct harde_app *app, struct harde_session *s, const char *text, bool json,
                        bool stream)
{
    struct printer p = {.quiet = json};
    struct harde_turn_options opt = {
        .stream = stream, .on_event = print_event, .event_user = &p, .cancel = &cancel_flag};
    struct agent_result result;
    const char *flow = "agent";
    cancel_flag = 0;
    int rc = harde_turn_run(app, s, text, &opt, &result, &flow);
    if (json) {
        json_t *o = agent_result_to_json(&result);
        json_object_set_new(o, "flow", json_string(flow));
        json_object_set_new(o, "session", json_string(s->id));
        json_object_set_new(o, "backend", json_string(app->backend));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
        json_decref(o);
    }
    if (rc == ERR_CANCELED) {
        fprintf(stderr, "harde: turn cancelled\n");
    } else if (rc) {
        fprintf(stderr, "harde: %s\n", result.error ? result.error : err_message(rc));
    } else {
        char err[512];
        if (session_save(app->store, s, err, sizeof err) != 0) {
            fprintf(stderr, "harde: %s\n", err);
            rc = ERR_IO;
        }
    }
    agent_result_free(&result);
    return rc;
}

int cmd_ask(int argc, char **argv, const struct cli_globals *globals)
{
    const char *session_id = NULL, *message = NULL;
    bool json = false, stream = true;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--session") == 0 && i + 1 < argc)
            session_id = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--no-stream") == 0)
            stream = false;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error(globals, "unknown option");
        else if (!message)
            message = argv[i];
        else
            return cli_usage_error(globals, "put the message in one quoted argument");
    }
    if (!message || !*message)
        return cli_usage_error(globals, "what should I ask? give a message");
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_BOOK | HARDE_NEED_MODEL) != 0)
        return 1;
    install_sigint();
    struct harde_session s;
    int rc = open_session(&app, session_id, &s);
    if (rc == 0) {
        rc = run_one_turn(&app, &s, message, json, stream);
        if (rc == 0 && !json && !session_id && isatty(STDERR_FILENO))
            fprintf(stderr, "(session %s — continue with --session %s)\n", s.id, s.id);
        session_free(&s);
    }
    harde_app_close(&app);
    return rc == 0 ? 0 : 1;
}

int cmd_chat(int argc, char **argv, const struct cli_globals *globals)
{
    const char *session_id = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--session") == 0 && i + 1 < argc)
            session_id = argv[++i];
        else
            return cli_usage_error(globals, "unknown argument");
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_BOOK | HARDE_NEED_MODEL) != 0)
        return 1;
    install_sigint();
    struct harde_session s;
    if (open_session(&app, session_id, &s) != 0) {
        harde_app_close(&app);
        return 1;
    }
    bool tty = isatty(STDIN_FILENO);
    fprintf(stderr,
            "Hard-E (%s model) — session %s. Ask about sales, prices, jobs. Ctrl-C cancels "
            "an answer; Ctrl-D or /quit leaves.\n",
            app.backend, s.id);
    static char line[CHAT_MAX_LINE];
    for (;;) {
        if (tty)
            fputs("you> ", stderr);
        cancel_flag = 0;
        if (!fgets(line, sizeof line, stdin))
            break;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0)
            break;
        run_one_turn(&app, &s, line, false, true);
    }
    fprintf(stderr, "\nbye — continue later with: harde chat --session %s\n", s.id);
    session_free(&s);
    harde_app_close(&app);
    return 0;
}
