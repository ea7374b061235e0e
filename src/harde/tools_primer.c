/* tools_primer — primer_start and primer_status. See tools_primer.h. */
#include "harde/tools_primer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "harde/app.h"
#include "harde/job_lookup.h"
#include "harde/primer.h"
#include "harde/turn.h"
#include "store/store.h"

static json_t *run_summary(const struct store_run *run, const struct crm_job *job, bool created)
{
    struct buf b;
    buf_init(&b, 0);
    if (created)
        buf_printf(&b,
                   "Started the primer video for %s (job %lld): run %s. A worker writes the "
                   "script, records and renders it, posts the link on the job, and emails the "
                   "homeowner once it is ready.",
                   job->customer_name ? job->customer_name : "the customer", (long long)job->id,
                   run->id);
    else
        buf_printf(&b, "The primer video for job %lld (%s) is run %s: %s%s%s.", (long long)job->id,
                   job->customer_name ? job->customer_name : "", run->id,
                   store_run_status_name(run->status),
                   run->current_step && *run->current_step ? ", at step " : "",
                   run->current_step ? run->current_step : "");
    if (run->last_error)
        buf_printf(&b, " Last error: %s.", run->last_error);
    char *text = buf_steal(&b);
    json_t *r = json_pack("{s:s, s:s, s:I, s:b, s:s}", "run_id", run->id, "status",
                          store_run_status_name(run->status), "job_id", (json_int_t)job->id,
                          "created", created, "summary", text);
    free(text);
    return r;
}

static json_t *primer_start_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = ctx->user;
    struct crm_job job;
    char err[512];
    if (job_lookup(turn->app->crm, args, &job, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    struct store_run run = {0};
    bool created = false;
    json_t *result = NULL;
    struct store *st = harde_app_store_take(turn->app);
    if (!st)
        *error = xstrdup("the run store is not available here");
    else if (primer_request(st, turn->app->crm, job.id, false, turn->app->user, &run, &created, err,
                            sizeof err) != 0)
        *error = xstrdup(err);
    else
        result = run_summary(&run, &job, created);
    harde_app_store_give(turn->app, st);
    store_run_free(&run);
    crm_job_free(&job);
    return result;
}

static json_t *primer_status_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = ctx->user;
    struct crm_job job;
    char err[512];
    if (job_lookup(turn->app->crm, args, &job, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    char key[64];
    snprintf(key, sizeof key, PRIMER_DEDUPE_FMT, (long long)job.id);
    struct store_run run = {0};
    json_t *result = NULL;
    struct store *st = harde_app_store_take(turn->app);
    int rc = st ? store_run_find(st, key, &run) : ERR_CONFIG;
    if (rc == ERR_NOT_FOUND) {
        char *text = xasprintf("No primer video has been started for job %lld (%s) yet.",
                               (long long)job.id, job.customer_name ? job.customer_name : "");
        result = json_pack("{s:I, s:s, s:s}", "job_id", (json_int_t)job.id, "status", "none",
                           "summary", text);
        free(text);
    } else if (rc != 0) {
        *error = xasprintf("cannot read the primer runs: %s",
                           st ? store_error(st) : "the run store is not available here");
    } else {
        result = run_summary(&run, &job, false);
    }
    harde_app_store_give(turn->app, st);
    store_run_free(&run);
    crm_job_free(&job);
    return result;
}

static const char JOB_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"job_id\":{\"type\":\"integer\",\"minimum\":1,"
    "\"description\":\"The CRM job id\"},\"customer_name\":{\"type\":\"string\","
    "\"description\":\"The customer's name, when the job id is not known\"}},"
    "\"additionalProperties\":false}";

void primer_tools_init(struct agent_tool tools[PRIMER_TOOL_COUNT])
{
    tools[0] = (struct agent_tool){
        .name = "primer_start",
        .description = "Make (produce and send) the personalised primer video for a job: "
                       "script, voice, video, link on the job, email to the homeowner.",
        .parameters = JOB_SCHEMA,
        .fn = primer_start_tool,
        .activity = "starting the primer video"};
    tools[1] = (struct agent_tool){
        .name = "primer_status",
        .description = "Where the primer video of a job stands: did it go out yet, was it "
                       "sent, its status and steps.",
        .parameters = JOB_SCHEMA,
        .fn = primer_status_tool,
        .activity = "checking the primer video"};
}
