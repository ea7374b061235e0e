/* api_turn — one chat turn on a turn worker: POST /v1/sessions/{id}/messages
 * after api_sessions.c has checked it.
 *
 * The request arrives deferred, with its session already loaded and marked
 * busy (one turn at a time per session). A client that asked for
 * text/event-stream gets an SSE stream at once; harde_turn_run then runs on
 * this worker's app with an event callback that turns the runtime's events
 * into the events of docs/API.md (agent, delta, tool_started,
 * tool_finished, handoff), written to the stream without ever blocking on
 * the network. When the turn is done the session is saved (through a store
 * connection borrowed for the moment); only then is `final` sent — with the
 * quote the turn produced (the last `quote` tool result in result.items) and
 * the session's workflow state — or `error` when the turn or the save failed
 * (a concurrent save is ERR_CONFLICT: nothing is lost, the rep sends again).
 * Without text/event-stream the same turn answers one JSON object.
 *
 * The turn's cancel flag is the stream's (or the deferred request's): when
 * the client hangs up, net/http_server sets it and the model call stops. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "harde/turn.h"
#include "web/web_internal.h"

struct turn_job {
    struct web_server *ws;
    struct http_req *req;
    struct harde_session session; /* owned */
    char user[STORE_USER_MAX + 1];
    char *text;
    bool stream;
    bool left; /* the session's busy mark is already gone */
};

/* What the event callback needs while a streamed turn runs. */
struct turn_run {
    struct http_stream *stream;
    bool overflow; /* the client stopped reading: events are being dropped */
};

/* Lifts the session's busy mark (once). Done as soon as the turn is saved,
 * before the answer goes out, so a client that sends its next message the
 * moment it sees the answer is not told a turn is still running. */
static void job_leave(struct turn_job *job)
{
    if (!job->left)
        web_busy_leave(job->ws, job->session.id);
    job->left = true;
}

static void job_free(struct turn_job *job)
{
    job_leave(job);
    session_free(&job->session);
    free(job->text);
    free(job);
}

void web_turn_submit(struct web_call *call, struct harde_session *s, const char *text, bool stream)
{
    struct turn_job *job = xcalloc(1, sizeof *job);
    job->ws = call->ws;
    job->req = call->req;
    job->session = *s;
    memset(s, 0, sizeof *s);
    snprintf(job->user, sizeof job->user, "%s", call->who.name);
    job->text = xstrdup(text);
    job->stream = stream;
    int rc = web_pool_submit(call->ws->turns, job, NULL);
    if (rc != 0) {
        web_reply_retry(call->req, 503, WEB_RETRY_AFTER_S,
                        rc == ERR_CANCELED ? "the server is stopping"
                                           : "too many answers in progress; try again in a few "
                                             "seconds");
        job_free(job);
    }
}

void web_turn_drop(void *vjob)
{
    struct turn_job *job = vjob;
    web_reply_retry(job->req, 503, WEB_RETRY_AFTER_S, "the server is stopping");
    job_free(job);
}

/* ---- events ------------------------------------------------------------------------ */

/* JSON text from the runtime as a value: parsed when it is JSON, else the
 * string itself (new). */
static json_t *json_or_string(const char *text)
{
    if (!text)
        return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(text);
    return v ? v : json_null();
}

static void send_event(struct turn_run *run, const char *event, json_t *data)
{
    if (!data)
        return;
    char *text = web_json_text(data);
    json_decref(data);
    int rc = http_stream_send(run->stream, event, NULL, text, strlen(text));
    if (rc == ERR_LIMIT && !run->overflow) {
        run->overflow = true;
        log_warn("web", "a client is not reading its answer; events are dropped");
    }
    free(text);
}

static void forward_event(const struct agent_event *ev, void *user)
{
    struct turn_run *run = user;
    switch (ev->type) {
    case AGENT_EVENT_AGENT_CHANGED:
        send_event(run, "agent", json_pack("{s:s?}", "agent", ev->agent));
        break;
    case AGENT_EVENT_TEXT_DELTA: {
        json_t *text = json_stringn(ev->text ? ev->text : "", ev->len);
        if (text)
            send_event(run, "delta", json_pack("{s:o}", "text", text));
        break;
    }
    case AGENT_EVENT_TOOL_STARTED:
        send_event(run, "tool_started",
                   json_pack("{s:s?, s:s?, s:o}", "tool", ev->tool, "activity", ev->activity,
                             "arguments", json_or_string(ev->arguments)));
        break;
    case AGENT_EVENT_TOOL_FINISHED:
        send_event(run, "tool_finished",
                   json_pack("{s:s?, s:b, s:o}", "tool", ev->tool, "is_error", ev->is_error,
                             "result", json_or_string(ev->result)));
        break;
    case AGENT_EVENT_HANDOFF:
        send_event(run, "handoff", json_pack("{s:s?, s:s?}", "from", ev->agent, "to", ev->target));
        break;
    case AGENT_EVENT_FINAL: /* sent once the session is saved */
    case AGENT_EVENT_ERROR: /* sent once, with the turn's own message */
        break;
    }
}

/* ---- the answer -------------------------------------------------------------------- */

/* The last successful quote tool result of the turn (new), or NULL. */
static json_t *last_quote(const json_t *items)
{
    const json_t *found = NULL;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *name = json_string_value(json_object_get(item, "name"));
        const json_t *result = json_object_get(item, "result");
        if (type && name && strcmp(type, "tool_result") == 0 && strcmp(name, "quote") == 0 &&
            json_is_object(result))
            found = result;
    }
    return found ? json_deep_copy(found) : NULL;
}

/* The final answer: {text|final, agent, path, flow, quote?, state} plus, for
 * a JSON answer (full), items, usage and session. New. */
static json_t *final_json(const struct turn_job *job, const struct agent_result *r,
                          const char *flow, bool full)
{
    json_t *all = agent_result_to_json(r);
    json_t *o = json_object();
    const char *agent = r->last_agent ? r->last_agent->name : job->session.active_agent;
    json_object_set(o, full ? "final" : "text", json_object_get(all, "final"));
    json_object_set_new(o, "agent", agent ? json_string(agent) : json_null());
    json_object_set(o, "path", json_object_get(all, "path"));
    json_object_set_new(o, "flow", json_string(flow));
    json_t *quote = last_quote(r->items);
    if (quote)
        json_object_set_new(o, "quote", quote);
    json_object_set_new(o, "state", web_state_json(job->session.state));
    if (full) {
        json_object_set(o, "items", json_object_get(all, "items"));
        json_object_set(o, "usage", json_object_get(all, "usage"));
        json_object_set_new(o, "session", json_string(job->session.id));
    }
    json_decref(all);
    return o;
}

/* The HTTP status of a failed turn for a JSON answer. */
static int failure_status(int rc)
{
    switch (rc) {
    case ERR_CONFLICT:
        return 409;
    case ERR_GUARDRAIL:
        return 400;
    case ERR_RATE_LIMIT:
    case ERR_TIMEOUT:
    case ERR_NETWORK:
    case ERR_HTTP:
    case ERR_MODEL:
    case ERR_AUTH:
        return 503;
    default:
        return 500;
    }
}

static void answer_json(struct turn_job *job, const struct agent_result *r, const char *flow,
                        int rc, const char *err)
{
    if (rc == 0)
        web_reply_json(job->req, 200, final_json(job, r, flow, true));
    else if (rc == ERR_RATE_LIMIT)
        web_reply_retry(job->req, 503, WEB_RETRY_AFTER_S, err);
    else
        web_reply_error(job->req, failure_status(rc), NULL, NULL, "%s", err);
}

/* ---- the turn ------------------------------------------------------------------------ */

/* Saves the session after a good turn; 0 or ERR_* with err set. */
static int save(struct web_server *ws, struct turn_job *job, char *err, size_t errlen)
{
    struct store *st = store_pool_take(ws->saves);
    int rc = session_save(st, &job->session, err, errlen);
    store_pool_give(ws->saves, st);
    if (rc != 0) {
        web_metrics_error(ws->metrics, "save");
        log_warn("web", "%s", err);
    }
    return rc;
}

void web_turn_run(void *ctx, void *vjob)
{
    struct web_worker *w = ctx;
    struct turn_job *job = vjob;
    struct web_server *ws = job->ws;
    struct turn_run run = {0};
    volatile sig_atomic_t *cancel = http_req_cancel_flag(job->req);
    if (*cancel) { /* the client left while the turn waited */
        web_metrics_turn(ws->metrics, "none", "canceled", 0, NULL);
        http_reply_error(job->req, 503, NULL, "the client left");
        job_free(job);
        return;
    }
    if (job->stream) {
        run.stream = http_stream_open(job->req, NULL);
        if (!run.stream) {
            job_free(job);
            return;
        }
        cancel = http_stream_cancel_flag(run.stream);
    }
    free(w->app.user);
    w->app.user = xstrdup(job->user);
    struct harde_turn_options opt = {.stream = job->stream,
                                     .on_event = job->stream ? forward_event : NULL,
                                     .event_user = &run,
                                     .cancel = cancel};
    struct agent_result result;
    const char *flow = "agent", *outcome = "ok";
    char err[1024] = "";
    int64_t t0 = clock_now_ns();
    int rc = harde_turn_run(&w->app, &job->session, job->text, &opt, &result, &flow);
    bool canceled = rc == ERR_CANCELED || *cancel;
    if (rc == 0) {
        rc = save(ws, job, err, sizeof err);
        outcome = rc == 0 ? "ok" : rc == ERR_CONFLICT ? "conflict" : "error";
    } else if (canceled) {
        outcome = "canceled";
        log_info("web", "session %s: the client left; turn canceled (and its model call)",
                 job->session.id);
    } else {
        outcome = "error";
        snprintf(err, sizeof err, "%s", result.error ? result.error : err_message(rc));
        web_metrics_error(ws->metrics, "turn");
    }
    web_metrics_turn(ws->metrics, flow, outcome, clock_now_ns() - t0, &result);
    job_leave(job);
    if (!run.stream)
        answer_json(job, &result, flow, rc, err);
    else if (rc == 0)
        send_event(&run, "final", final_json(job, &result, flow, false));
    else if (!canceled)
        send_event(&run, "error", json_pack("{s:s}", "message", err));
    http_stream_close(run.stream);
    agent_result_free(&result);
    job_free(job);
}
