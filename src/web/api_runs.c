/* api_runs — the primer video runs over HTTP, and the CRM webhook.
 *
 *   GET  /v1/runs               runs, newest first (every signed-in user: runs are per job)
 *   GET  /v1/runs/{id}          one run with its steps, durations, errors, video, email
 *   POST /v1/runs               {"job_id", "force"?}: start the primer video of a job
 *   POST /v1/runs/{id}/cancel   cleanup runs, then CANCELLED
 *   POST /v1/runs/{id}/retry    a failed run resumes from the failed step
 *   POST /v1/webhooks/crm       Leap-style notifications: a job moved to the trigger
 *                               stage starts its primer. Authenticated by the shared
 *                               secret in HARDE_WEBHOOK_SECRET, sent as the header
 *                               X-Harde-Webhook-Secret (Leap documents no signature).
 * Starting only records the run (one per job by its dedupe key); `harde
 * worker` produces and sends it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "harde/primer.h"
#include "services/crm/crm.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/web_internal.h"
#include "workflow/workflow.h"

#define RUNS_LIST_LIMIT 100

void api_runs_list(struct web_call *call)
{
    struct store *st = call->worker->app.store;
    struct store_run_filter f = {.workflow = PRIMER_WORKFLOW, .limit = RUNS_LIST_LIMIT};
    struct store_run_list list;
    if (store_run_list(st, &f, &list) != 0) {
        web_reply_error(call->req, 503, NULL, NULL, "cannot read the runs: %s", store_error(st));
        return;
    }
    json_t *runs = json_array();
    for (size_t i = 0; i < list.count; i++) {
        struct store_run full;
        if (store_run_get(st, list.items[i].id, true, &full) == 0) {
            json_array_append_new(runs, primer_run_json(&full));
            store_run_free(&full);
        }
    }
    store_run_list_free(&list);
    web_reply_json(call->req, 200, json_pack("{s:o}", "runs", runs));
}

static void reply_run(struct web_call *call, const char *id, int status)
{
    struct store *st = call->worker->app.store;
    struct store_run run;
    int rc = store_run_get(st, id, true, &run);
    if (rc == ERR_NOT_FOUND) {
        web_reply_error(call->req, 404, NULL, NULL, "no run \"%s\"", id);
        return;
    }
    if (rc != 0) {
        web_reply_error(call->req, 503, NULL, NULL, "cannot read the run: %s", store_error(st));
        return;
    }
    web_reply_json(call->req, status, primer_run_json(&run));
    store_run_free(&run);
}

void api_run_get(struct web_call *call)
{
    reply_run(call, http_req_param(call->req, "id"), 200);
}

/* Records the primer run of job (unless it has one). */
static int start_run(struct web_call *call, int64_t job, bool force, char run_id[STORE_ID_MAX + 1],
                     bool *created, char *err, size_t errlen)
{
    struct store_run run = {0};
    int rc = primer_request(call->worker->app.store, call->worker->app.crm, job, force,
                            call->who.name, &run, created, err, errlen);
    if (rc == 0)
        memcpy(run_id, run.id, sizeof run.id);
    store_run_free(&run);
    return rc;
}

void api_runs_start(struct web_call *call)
{
    json_t *body = NULL;
    if (web_body_object(call->req, false, &body) != 0)
        return;
    json_t *job = json_object_get(body, "job_id");
    if (!json_is_integer(job) || json_integer_value(job) <= 0) {
        json_decref(body);
        web_reply_error(call->req, 400, "bad_request",
                        json_pack("[s]", "job_id: required, a positive whole number"),
                        "which job? send {\"job_id\": 1042}");
        return;
    }
    char run_id[STORE_ID_MAX + 1], err[512];
    bool created = false;
    int rc = start_run(call, json_integer_value(job), json_is_true(json_object_get(body, "force")),
                       run_id, &created, err, sizeof err);
    json_decref(body);
    if (rc == ERR_NOT_FOUND)
        web_reply_error(call->req, 404, NULL, NULL, "%s", err);
    else if (rc != 0)
        web_reply_error(call->req, 503, NULL, NULL, "%s", err);
    else
        reply_run(call, run_id, created ? 201 : 200);
}

/* cancel and retry go through the engine, which knows what each means. */
static void steer(struct web_call *call, bool cancel)
{
    const char *id = http_req_param(call->req, "id");
    struct workflow_engine *e = workflow_engine_new(call->worker->app.store, NULL);
    int rc = primer_register(NULL, e);
    if (rc == 0)
        rc = cancel ? workflow_cancel(e, id, "cancelled from the web page") : workflow_retry(e, id);
    if (rc == ERR_NOT_FOUND)
        web_reply_error(call->req, 404, NULL, NULL, "no run \"%s\"", id);
    else if (rc == ERR_CONFLICT || rc == ERR_INVALID)
        web_reply_error(call->req, 409, NULL, NULL, "%s", workflow_engine_error(e));
    else if (rc != 0)
        web_reply_error(call->req, 503, NULL, NULL, "%s", workflow_engine_error(e));
    else
        reply_run(call, id, 200);
    workflow_engine_free(e);
}

void api_run_cancel(struct web_call *call)
{
    steer(call, true);
}

void api_run_retry(struct web_call *call)
{
    steer(call, false);
}

/* ---- the CRM webhook ---------------------------------------------------------- */

void api_webhook_crm(struct web_call *call)
{
    const char *secret = getenv("HARDE_WEBHOOK_SECRET");
    const char *given = http_req_header(call->req, "X-Harde-Webhook-Secret");
    if (!secret || !*secret) {
        web_reply_error(call->req, 404, NULL, NULL,
                        "the CRM webhook is not enabled (set "
                        "HARDE_WEBHOOK_SECRET)");
        return;
    }
    if (!given || !web_secret_equal(given, secret)) {
        web_reply_error(call->req, 401, NULL, NULL, "wrong or missing X-Harde-Webhook-Secret");
        return;
    }
    json_t *body = NULL;
    if (http_req_json(call->req, &body) != 0)
        return; /* answered 400 with the parse error */
    json_t *list = json_is_array(body) ? json_incref(body) : json_pack("[O]", body);
    const char *trigger = getenv("HARDE_WEBHOOK_STAGE");
    enum crm_stage want = CRM_STAGE_APPOINTMENT_SET, moved;
    if (trigger && *trigger)
        crm_stage_parse(trigger, &want);
    json_t *started = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n)
    {
        const char *code =
            json_string_value(json_object_get(json_object_get(n, "stage_moved_to"), "code"));
        json_int_t job = json_integer_value(json_object_get(n, "id"));
        if (!code || job <= 0 || crm_stage_parse(code, &moved) != 0 || moved != want)
            continue;
        char run_id[STORE_ID_MAX + 1], err[512];
        bool created = false;
        if (start_run(call, job, false, run_id, &created, err, sizeof err) == 0)
            json_array_append_new(started, json_pack("{s:I, s:s, s:b}", "job_id", job, "run_id",
                                                     run_id, "created", created));
    }
    json_decref(list);
    json_decref(body);
    web_reply_json(call->req, 200, json_pack("{s:o}", "started", started));
}
