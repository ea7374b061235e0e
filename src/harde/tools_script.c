/* tools_script — drafting, revising and saving video scripts. See tools_script.h. */
#define _XOPEN_SOURCE 700
#include "harde/tools_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "harde/app.h"
#include "harde/job_lookup.h"
#include "harde/script.h"
#include "harde/session.h"
#include "harde/states.h"
#include "harde/turn.h"
#include "services/crm/crm.h"

/* The script request a state describes. Point strings are borrowed from it. */
static void request_of(const struct script_draft_state *s, struct script_request *r)
{
    memset(r, 0, sizeof *r);
    int kind = script_kind_parse(s->kind ? s->kind : "primer");
    r->kind = kind < 0 ? SCRIPT_PRIMER : (enum script_kind)kind;
    r->tone = s->tone;
    r->target_seconds = s->target_seconds.set ? (int)s->target_seconds.value : 90;
    for (size_t i = 0; i < s->key_points.len && i < SCRIPT_MAX_POINTS; i++)
        r->points[r->n_points++] = s->key_points.items[i];
}

/* Writes the request's tone/length/points back into the state. */
static int store_request(struct script_draft_state *s, const struct script_request *r, char *err,
                         size_t errlen)
{
    json_t *points = json_array();
    for (size_t i = 0; i < r->n_points; i++)
        json_array_append_new(points, json_string(r->points[i]));
    json_t *update = json_pack("{s:s, s:i, s:o}", "tone", r->tone ? r->tone : "friendly",
                               "target_seconds", r->target_seconds, "key_points", points);
    int rc = state_update_json(&s->hdr, update, err, errlen);
    json_decref(update);
    return rc;
}

static char *compose(struct harde_turn_context *turn, const struct script_draft_state *s,
                     const struct crm_job *job)
{
    char first[64] = "", when[96];
    snprintf(first, sizeof first, "%s", job->customer_name ? job->customer_name : "");
    char *space = strchr(first, ' ');
    if (space)
        *space = '\0';
    script_appointment_text(job->appointment, when, sizeof when);
    char trade[32];
    snprintf(trade, sizeof trade, "%s", crm_trade_key(job->trade));
    struct script_facts facts = {
        .customer_first = first[0] ? first : NULL,
        .street = job->street,
        .city = job->city,
        .trade = trade,
        .appointment = when[0] ? when : NULL,
        .rep_name = job->rep ? job->rep : turn->app->director_name,
        .company = turn->app->company_name,
    };
    struct script_request r;
    request_of(s, &r);
    return script_compose(&facts, &r);
}

static json_t *draft_result(const struct script_draft_state *s, const char *opening)
{
    char *summary = xasprintf("%s\n\n%s\n\n(about %.0f seconds) Want it shorter or longer, a "
                              "different tone, something mentioned, or shall I save it on job "
                              "%s?",
                              opening, s->draft, script_seconds(s->draft), s->job_id);
    json_t *r = json_pack("{s:s, s:f, s:s, s:s}", "draft", s->draft, "seconds",
                          script_seconds(s->draft), "job_id", s->job_id, "summary", summary);
    free(summary);
    return r;
}

static json_t *script_start_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = ctx->user;
    struct crm_job job;
    char err[512];
    if (job_lookup(turn->app->crm, args, &job, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    struct script_draft_state *s = script_draft_new();
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)job.id);
    json_t *update = json_deep_copy(args);
    json_object_del(update, "job_id");
    json_object_del(update, "customer_name");
    json_object_set_new(update, "job_id", json_string(id));
    if (!json_object_get(update, "kind"))
        json_object_set_new(update, "kind", json_string("primer"));
    int rc = state_update_json(&s->hdr, update, err, sizeof err);
    json_decref(update);
    if (rc == 0) {
        s->customer_name = xstrdup(job.customer_name);
        s->address = xasprintf("%s, %s", job.street ? job.street : "", job.city ? job.city : "");
        char *text = compose(turn, s, &job);
        rc = script_draft_set_draft(s, text, "first draft", err, sizeof err);
        free(text);
    }
    crm_job_free(&job);
    if (rc != 0) {
        state_free(&s->hdr);
        *error = xstrdup(err);
        return NULL;
    }
    session_set_state(turn->session, &s->hdr);
    char *opening =
        xasprintf("Here's a %s script for %s (job %s):", s->kind, s->customer_name, s->job_id);
    json_t *r = draft_result(s, opening);
    free(opening);
    return r;
}

static struct script_draft_state *active_script(struct harde_turn_context *turn, char **error)
{
    struct script_draft_state *s =
        turn->session->state ? script_draft_of(turn->session->state) : NULL;
    if (!s || !s->draft)
        *error = xstrdup("there is no script draft in this conversation yet: start one with "
                         "script_start");
    return s && s->draft ? s : NULL;
}

static json_t *script_revise_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = ctx->user;
    struct script_draft_state *s = active_script(turn, error);
    if (!s)
        return NULL;
    const char *instruction = json_string_value(json_object_get(args, "instruction"));
    const char *own_text = json_string_value(json_object_get(args, "text"));
    char err[512];
    char *change = NULL;
    if (own_text) { /* a cloud model rewrote it */
        change = xstrdup(instruction);
        if (script_draft_set_draft(s, own_text, change, err, sizeof err) != 0) {
            free(change);
            *error = xstrdup(err);
            return NULL;
        }
    } else {
        struct script_request r;
        request_of(s, &r);
        if (script_revise_request(&r, instruction, &change) != 0) {
            *error = change;
            return NULL;
        }
        struct crm_job job;
        int64_t id = strtoll(s->job_id, NULL, 10);
        if (store_request(s, &r, err, sizeof err) != 0 ||
            crm_job_get(turn->app->crm, id, &job, err, sizeof err) != 0) {
            free(change);
            *error = xstrdup(err);
            return NULL;
        }
        char *text = compose(turn, s, &job);
        crm_job_free(&job);
        int rc = script_draft_set_draft(s, text, change, err, sizeof err);
        free(text);
        if (rc != 0) {
            free(change);
            *error = xstrdup(err);
            return NULL;
        }
    }
    char *opening = xasprintf("Done, I %s:", change);
    free(change);
    json_t *r = draft_result(s, opening);
    free(opening);
    return r;
}

static json_t *script_save_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = ctx->user;
    struct script_draft_state *s = active_script(turn, error);
    if (!s)
        return NULL;
    char err[512];
    char *note = xasprintf("Video script (%s, about %.0f s):\n\n%s", s->kind,
                           script_seconds(s->draft), s->draft);
    int64_t id = strtoll(s->job_id, NULL, 10), note_id = 0;
    int rc = crm_note_add(turn->app->crm, id, turn->app->user, note, &note_id, err, sizeof err);
    free(note);
    if (rc != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    char *summary = xasprintf("Saved the script on job %lld as a note.", (long long)id);
    json_t *r = json_pack("{s:I, s:I, s:s}", "job_id", (json_int_t)id, "note_id",
                          (json_int_t)note_id, "summary", summary);
    free(summary);
    session_set_state(turn->session, NULL); /* finishing the workflow clears it */
    return r;
}

static const char REVISE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"instruction\":{\"type\":\"string\",\"minLength\":1,"
    "\"description\":\"What to change, in the rep's words: shorter, longer, more energetic, "
    "mention the warranty, drop financing\"},\"text\":{\"type\":\"string\",\"minLength\":1,"
    "\"description\":\"Optional: your own rewritten script\"}},\"required\":[\"instruction\"],"
    "\"additionalProperties\":false}";

void script_tools_init(struct agent_tool tools[SCRIPT_TOOL_COUNT], char **schema_out)
{
    json_t *schema = json_pack(
        "{s:s, s:{s:{s:s, s:i, s:s}, s:{s:s, s:s}, s:{s:s, s:[ssss], s:s, s:{s:[ss], s:[s], "
        "s:[ss], s:[s]}}, s:{s:s, s:[sss], s:s}, s:{s:s, s:i, s:i, s:s}, s:{s:s, s:{s:s}, s:i, "
        "s:s}}, s:b}",
        "type", "object", "properties", "job_id", "type", "integer", "minimum", 1, "description",
        "The CRM job id", "customer_name", "type", "string", "description",
        "The customer's name, when the job id is not known", "kind", "type", "string", "enum",
        "primer", "follow_up", "thank_you", "review_request", "description",
        "The kind of video (default primer)", "x-aliases", "follow_up", "follow up", "follow-up",
        "thank_you", "thank you", "review_request", "review", "reviews", "primer", "intro", "tone",
        "type", "string", "enum", "friendly", "professional", "energetic", "description",
        "The tone (default friendly)", "target_seconds", "type", "integer", "minimum",
        SCRIPT_MIN_SECONDS, "maximum", SCRIPT_MAX_SECONDS, "description",
        "Target length in seconds (default 90)", "key_points", "type", "array", "items", "type",
        "string", "maxItems", 10, "description", "Points to mention (warranty, financing, …)",
        "additionalProperties", 0);
    *schema_out = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    tools[0] = (struct agent_tool){
        .name = "script_start",
        .description = "Write a new personalised video script (primer, follow-up, thank-you, "
                       "review request) for a CRM job, from the job's facts.",
        .parameters = *schema_out,
        .fn = script_start_tool,
        .activity = "drafting the script"};
    tools[1] = (struct agent_tool){
        .name = "script_revise",
        .description = "Revise the current script draft: shorter, longer, tone, mention or drop "
                       "something.",
        .parameters = REVISE_SCHEMA,
        .fn = script_revise_tool,
        .activity = "revising the script"};
    tools[2] = (struct agent_tool){
        .name = "script_save",
        .description = "Save the final script draft on the CRM job as a note (save it, done, "
                       "looks good).",
        .parameters = NULL,
        .fn = script_save_tool,
        .activity = "saving the script"};
}
