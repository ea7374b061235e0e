/* cmd_sessions — `harde sessions` (the conversations kept) and `harde state S`
 * (the workflow state a session is in the middle of: what is filled, what is
 * still missing, what waits for the rep's yes). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "cli/cli.h"
#include "harde/session.h"
#include "harde/state.h"
#include "store/store.h"

static void print_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char out[32];
    localtime_r(&t, &tm);
    strftime(out, sizeof out, "%Y-%m-%d %H:%M", &tm);
    fputs(out, stdout);
}

int cmd_sessions(int argc, char **argv, const struct cli_globals *globals)
{
    bool json = false, all = false;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--all") == 0)
            all = true;
        else
            return cli_usage_error(globals, "unknown argument");
    }
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_STORE) != 0)
        return 1;
    struct store_session_filter f = {.owner = all ? NULL : app.user};
    struct store_session_list list;
    int rc = store_session_list(app.store, &f, &list);
    if (rc != 0) {
        fprintf(stderr, "harde sessions: %s\n", store_error(app.store));
        harde_app_close(&app);
        return 1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < list.count; i++) {
        const struct store_session *s = &list.items[i];
        if (json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", s->id, "owner",
                                                 s->owner, "title", s->title, "created_ms",
                                                 (json_int_t)s->created_ms, "updated_ms",
                                                 (json_int_t)s->updated_ms));
            continue;
        }
        printf("%-20s ", s->id);
        print_time(s->updated_ms);
        printf("  %-10s %s\n", s->owner, s->title);
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else if (list.count == 0) {
        printf("no sessions yet — start one with: harde ask --session NAME \"...\"\n");
    }
    json_decref(arr);
    store_session_list_free(&list);
    harde_app_close(&app);
    return 0;
}

/* The state as JSON for people and scripts: kind, fields with filled flags, missing. */
static json_t *state_view(const struct state_header *h)
{
    json_t *fields = json_array(), *missing = json_array();
    for (size_t i = 0; i < h->desc->n_fields; i++) {
        const struct state_field *f = &h->desc->fields[i];
        if (f->flags & STATE_INTERNAL)
            continue;
        struct buf value;
        buf_init(&value, 4096);
        bool set = state_is_set(h, f);
        if (set)
            state_value_text(h, f, &value);
        json_array_append_new(fields,
                              json_pack("{s:s, s:s, s:s?, s:b, s:b}", "name", f->name, "label",
                                        f->label, "value", set ? buf_str(&value) : NULL, "required",
                                        (f->flags & STATE_REQUIRED) != 0, "filled", set));
        buf_free(&value);
        if ((f->flags & STATE_REQUIRED) && !set)
            json_array_append_new(missing, json_string(f->label));
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "kind", h->desc->kind, "fields", fields, "missing",
                     missing, "awaiting_confirmation", h->pending_confirmation);
}

int cmd_state(int argc, char **argv, const struct cli_globals *globals)
{
    const char *id = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i]))
            return 0;
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (!id)
            id = argv[i];
        else
            return cli_usage_error(globals, "give one session id");
    }
    if (!id)
        return cli_usage_error(globals, "which session?");
    struct harde_app app;
    if (cli_open_app(&app, globals, HARDE_NEED_STORE) != 0)
        return 1;
    struct harde_session s;
    char err[512];
    int rc = session_load(app.store, id, app.state_idle_minutes * 60000, &s, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "harde state: %s\n", err);
        harde_app_close(&app);
        return 1;
    }
    json_t *view = s.state ? state_view(s.state) : json_null();
    if (s.pending)
        json_object_set(view, "pending", s.pending);
    if (json) {
        json_t *o =
            json_pack("{s:s, s:O, s:O?}", "session", s.id, "state", view, "pending", s.pending);
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
    } else if (!s.state && !s.pending) {
        printf("session %s has no workflow in progress\n", s.id);
    } else {
        if (s.state) {
            printf("%s (session %s)%s\n", s.state->desc->title, s.id,
                   s.state->pending_confirmation ? " — waiting for the rep's yes/no" : "");
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(view, "fields"), i, f)
            {
                const char *v = json_string_value(json_object_get(f, "value"));
                printf("  %s %-16s %s\n",
                       v ? "✓" : (json_is_true(json_object_get(f, "required")) ? "✗" : " "),
                       json_string_value(json_object_get(f, "label")), v ? v : "(missing)");
            }
        }
        if (s.pending)
            printf("pending: %s\n", json_string_value(json_object_get(s.pending, "summary")));
    }
    json_decref(view);
    session_free(&s);
    harde_app_close(&app);
    return 0;
}
