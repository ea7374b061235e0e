/* tools_crm — CRM look-ups, notes, stage moves, new clients. See tools_crm.h. */
#define _POSIX_C_SOURCE 200809L
#include "harde/tools_crm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "harde/app.h"
#include "harde/session.h"
#include "harde/states.h"
#include "harde/turn.h"
#include "llm/local/entities.h"
#include "services/crm/crm.h"

#define LOOKUP_HITS 5

static struct harde_turn_context *turn_of(struct agent_context *ctx)
{
    return ctx->user;
}

static json_t *with_summary(json_t *result, char *summary)
{
    json_object_set_new(result, "summary", json_string(summary));
    free(summary);
    return result;
}

static void describe_job(struct buf *b, const struct crm_job *j)
{
    buf_printf(b, "job %lld (%s%s%s, %s) is in **%s**", (long long)j->id,
               j->customer_name ? j->customer_name : "", j->street ? ", " : "",
               j->street ? j->street : "", crm_trade_label(j->trade),
               j->stage == CRM_STAGE_UNKNOWN ? (j->stage_name ? j->stage_name : "an unknown stage")
                                             : crm_stage_label(j->stage));
    if (j->appointment)
        buf_printf(b, ", appointment %s", j->appointment);
    if (j->rep)
        buf_printf(b, ", rep %s", j->rep);
}

/* ---- crm_lookup --------------------------------------------------------- */

static json_t *lookup_job(struct crm *crm, int64_t id, char **error)
{
    struct crm_job job;
    char err[512];
    if (crm_job_get(crm, id, &job, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "The ");
    describe_job(&b, &job);
    buf_append_str(&b, ".");
    if (job.note_count)
        buf_printf(&b, " Last note: \"%s\"", job.notes[job.note_count - 1].text);
    json_t *result = json_pack("{s:o}", "job", crm_job_to_json(&job));
    crm_job_free(&job);
    return with_summary(result, buf_steal(&b));
}

/* What to search for: a phone, an email, a person's name, else the query. */
static char *search_terms(const char *query)
{
    struct entity_list found;
    entity_list_init(&found);
    char *terms = NULL;
    if (entity_find_phones(query, &found) >= 0 && found.len)
        terms = xstrdup(found.items[0].norm);
    else if (entity_find_emails(query, &found) >= 0 && found.len)
        terms = xstrdup(found.items[0].norm);
    else if (entity_find_persons(query, &found) >= 0 && found.len) {
        const struct entity_person *p = &found.items[0].person;
        terms = xasprintf("%s%s%s", p->first, *p->first && *p->last ? " " : "", p->last);
    }
    entity_list_free(&found);
    return terms ? terms : xstrdup(query);
}

static json_t *crm_lookup_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct crm *crm = turn_of(ctx)->app->crm;
    const char *query = json_string_value(json_object_get(args, "query"));
    struct entity_list ids;
    entity_list_init(&ids);
    if (entity_find_job_ids(query, &ids) >= 0 && ids.len) {
        int64_t id = (int64_t)ids.items[0].value;
        entity_list_free(&ids);
        return lookup_job(crm, id, error);
    }
    entity_list_free(&ids);
    char *terms = search_terms(query);
    struct crm_hits hits;
    char err[512];
    int rc = crm_search(crm, terms, LOOKUP_HITS, &hits, err, sizeof err);
    if (rc != 0) {
        free(terms);
        *error = xstrdup(err);
        return NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    json_t *customers = json_array();
    if (hits.count == 0)
        buf_printf(&b, "I found nobody in the CRM matching \"%s\".", terms);
    for (size_t i = 0; i < hits.count && i < 3; i++) {
        struct crm_customer c;
        if (crm_customer_get(crm, hits.items[i].customer.id, &c, err, sizeof err) != 0)
            continue;
        json_array_append_new(customers, crm_customer_to_json(&c));
        buf_printf(&b, "%s%s %s (%s)", i ? "\n\n" : "", c.first_name, c.last_name,
                   c.phone ? c.phone : "no phone");
        for (size_t j = 0; j < c.job_count; j++) {
            buf_append_str(&b, j ? "; " : ": ");
            describe_job(&b, &c.jobs[j]);
        }
        if (!c.job_count)
            buf_append_str(&b, ": no jobs yet");
        buf_append_char(&b, '.');
        crm_customer_free(&c);
    }
    crm_hits_free(&hits);
    free(terms);
    return with_summary(json_pack("{s:o}", "customers", customers), buf_steal(&b));
}

/* ---- notes ----------------------------------------------------------------- */

static json_t *crm_add_note_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = turn_of(ctx);
    int64_t job = json_integer_value(json_object_get(args, "job_id"));
    const char *text = json_string_value(json_object_get(args, "text"));
    int64_t note_id = 0;
    char err[512];
    if (crm_note_add(turn->app->crm, job, turn->app->user, text, &note_id, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    return with_summary(
        json_pack("{s:I, s:I}", "job_id", (json_int_t)job, "note_id", (json_int_t)note_id),
        xasprintf("Added the note to job %lld.", (long long)job));
}

/* ---- stage moves (confirmed) ------------------------------------------------ */

static json_t *crm_move_stage_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = turn_of(ctx);
    int64_t id = json_integer_value(json_object_get(args, "job_id"));
    const char *stage_text = json_string_value(json_object_get(args, "stage"));
    enum crm_stage stage;
    char err[512];
    if (crm_stage_parse(stage_text, &stage) != 0) {
        *error = xasprintf("stage: \"%s\" is not a pipeline stage", stage_text);
        return NULL;
    }
    struct crm_job job;
    if (crm_job_get(turn->app->crm, id, &job, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    char *summary =
        xasprintf("Move job %lld (%s, %s) from %s to **%s**? (yes/no)", (long long)id,
                  job.customer_name ? job.customer_name : "", crm_trade_label(job.trade),
                  crm_stage_label(job.stage), crm_stage_label(stage));
    session_set_pending(turn->session, json_pack("{s:s, s:I, s:s, s:s}", "action", "stage_move",
                                                 "job_id", (json_int_t)id, "stage",
                                                 crm_stage_key(stage), "summary", summary));
    crm_job_free(&job);
    return with_summary(json_pack("{s:b}", "awaiting_confirmation", 1), summary);
}

/* ---- the new-client workflow ------------------------------------------------ */

static struct new_client_state *new_client_state(struct harde_session *s)
{
    struct new_client_state *nc = s->state ? new_client_of(s->state) : NULL;
    if (!nc) {
        nc = new_client_new();
        session_set_state(s, &nc->hdr);
    }
    return nc;
}

static json_t *new_client_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = turn_of(ctx);
    struct new_client_state *nc = new_client_state(turn->session);
    char err[1024];
    if (state_update_json(&nc->hdr, args, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    const struct state_field *next = state_next_missing(&nc->hdr);
    if (next) {
        buf_append_str(&b, "Got it. So far: ");
        state_summary(&nc->hdr, &b);
        buf_printf(&b, "\n\n%s", next->question);
    } else if (state_request_confirmation(&nc->hdr, &b, err, sizeof err) != 0) {
        buf_free(&b);
        *error = xstrdup(err);
        return NULL;
    } else {
        buf_append_str(&b, "\n\nShall I create this client in the CRM? (yes/no)");
    }
    json_t *result = json_pack("{s:o, s:b}", "state", state_to_json(&nc->hdr),
                               "awaiting_confirmation", nc->hdr.pending_confirmation);
    return with_summary(result, buf_steal(&b));
}

/* An idempotency key for creating this state's client: the session and the
 * moment the state was started, so a retried or repeated confirm creates once. */
static char *create_key(const struct harde_session *s, const struct state_header *h)
{
    return xasprintf("harde:%s:new_client:%lld", s->id, (long long)h->created_ms);
}

static json_t *create_client(struct harde_turn_context *turn, struct new_client_state *nc,
                             char **error)
{
    enum crm_trade trade = CRM_TRADE_OTHER;
    crm_trade_parse(nc->trade, &trade);
    char *key = create_key(turn->session, &nc->hdr);
    struct crm_new_client in = {
        .first_name = nc->first_name,
        .last_name = nc->last_name,
        .phone = nc->phone,
        .email = nc->email,
        .street = nc->street,
        .city = nc->city,
        .state = nc->state,
        .zip = nc->zip,
        .lead_source = nc->lead_source,
        .trade = trade,
        .notes = nc->notes,
        .author = turn->app->user,
        .idempotency_key = key,
    };
    struct crm_created out;
    char err[512];
    int rc = crm_client_create(turn->app->crm, &in, &out, err, sizeof err);
    free(key);
    if (rc != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    log_info("crm", "created customer %lld with job %lld%s", (long long)out.customer_id,
             (long long)out.job_id, out.replayed ? " (replayed)" : "");
    char *summary =
        xasprintf("Done: %s %s is in the CRM as customer %lld with %s job %lld.", nc->first_name,
                  nc->last_name, (long long)out.customer_id, nc->trade, (long long)out.job_id);
    session_set_state(turn->session, NULL); /* finishing the workflow clears it */
    return with_summary(json_pack("{s:I, s:I}", "customer_id", (json_int_t)out.customer_id,
                                  "job_id", (json_int_t)out.job_id),
                        summary);
}

static json_t *move_stage(struct harde_turn_context *turn, char **error)
{
    const json_t *p = turn->session->pending;
    int64_t id = json_integer_value(json_object_get(p, "job_id"));
    enum crm_stage stage = CRM_STAGE_UNKNOWN;
    char err[512];
    crm_stage_parse(json_string_value(json_object_get(p, "stage")), &stage);
    if (crm_stage_move(turn->app->crm, id, stage, turn->app->user, "moved by Hard-E", err,
                       sizeof err) != 0) {
        session_set_pending(turn->session, NULL);
        *error = xstrdup(err);
        return NULL;
    }
    session_set_pending(turn->session, NULL);
    return with_summary(
        json_pack("{s:I, s:s}", "job_id", (json_int_t)id, "stage", crm_stage_key(stage)),
        xasprintf("Done: job %lld is now in %s.", (long long)id, crm_stage_label(stage)));
}

static json_t *confirm_tool(struct agent_context *ctx, json_t *args, char **error)
{
    struct harde_turn_context *turn = turn_of(ctx);
    struct harde_session *s = turn->session;
    struct new_client_state *nc = s->state ? new_client_of(s->state) : NULL;
    const char *reply = ctx->input ? ctx->input : "";
    if (s->pending) {
        enum entity_answer a = entity_answer_of(reply);
        if (a == ENTITY_ANSWER_YES)
            return move_stage(turn, error);
        if (a == ENTITY_ANSWER_NO) {
            session_set_pending(s, NULL);
            return with_summary(json_pack("{s:b}", "written", 0),
                                xstrdup("OK, I left the job where it is."));
        }
        return with_summary(json_pack("{s:b}", "written", 0),
                            xstrdup("I need a clear yes or no before I change the CRM. Should I "
                                    "make that move? (yes/no)"));
    }
    if (nc && nc->hdr.pending_confirmation) {
        switch (state_confirmation_reply(&nc->hdr, reply)) {
        case STATE_REPLY_CONFIRMED:
            return create_client(turn, nc, error);
        case STATE_REPLY_DECLINED:
            return with_summary(json_pack("{s:b}", "written", 0),
                                xstrdup("OK, nothing is written. What should I change?"));
        default:
            return with_summary(json_pack("{s:b}", "written", 0),
                                xstrdup("I need a clear yes or no before I create the client. "
                                        "Shall I create them? (yes/no)"));
        }
    }
    *error = xstrdup("there is nothing waiting for confirmation");
    return NULL;
}

char *crm_tools_pending_text(const struct harde_session *s)
{
    if (s->pending)
        return xasprintf("Waiting for the rep's yes/no: %s",
                         json_string_value(json_object_get(s->pending, "summary")));
    struct new_client_state *nc = s->state ? new_client_of(s->state) : NULL;
    if (!nc)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "New client so far: ");
    state_summary(&nc->hdr, &b);
    if (nc->hdr.pending_confirmation)
        buf_append_str(&b, " — the summary was shown; waiting for the rep's yes/no.");
    return buf_steal(&b);
}

/* ---- the table ------------------------------------------------------------- */

static const char LOOKUP_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,"
    "\"description\":\"A customer's name, phone, email or address, or a job id\"}},"
    "\"required\":[\"query\"],\"additionalProperties\":false}";
static const char NOTE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"job_id\":{\"type\":\"integer\",\"minimum\":1,"
    "\"description\":\"The CRM job id\"},\"text\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":8000,\"description\":\"The note\"}},\"required\":[\"job_id\",\"text\"],"
    "\"additionalProperties\":false}";
static const char MOVE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"job_id\":{\"type\":\"integer\",\"minimum\":1,"
    "\"description\":\"The CRM job id\"},\"stage\":{\"type\":\"string\",\"enum\":[\"lead\","
    "\"appointment_set\",\"primer_video_sent\",\"inspection\",\"presentation\",\"signed\","
    "\"production\",\"complete\",\"review_request\"],\"description\":\"The pipeline stage\"}},"
    "\"required\":[\"job_id\",\"stage\"],\"additionalProperties\":false}";

void crm_tools_init(struct agent_tool tools[CRM_TOOL_COUNT], char **schema_out)
{
    *schema_out = state_json_schema_text(&new_client_desc);
    tools[0] = (struct agent_tool){
        .name = "crm_lookup",
        .description = "Look up customers and jobs in the CRM by name, phone, email, address or "
                       "job id: stage, appointment, rep, notes. Use it for 'what stage is the "
                       "Garcia job in', 'find customer Smith'.",
        .parameters = LOOKUP_SCHEMA,
        .fn = crm_lookup_tool,
        .activity = "checking the CRM"};
    tools[1] = (struct agent_tool){.name = "crm_add_note",
                                   .description = "Add a note to a job in the CRM.",
                                   .parameters = NOTE_SCHEMA,
                                   .fn = crm_add_note_tool,
                                   .activity = "adding the note"};
    tools[2] = (struct agent_tool){
        .name = "crm_move_stage",
        .description = "Move a job to another pipeline stage. Nothing is written until the rep "
                       "confirms with yes (then call confirm).",
        .parameters = MOVE_SCHEMA,
        .fn = crm_move_stage_tool,
        .activity = "preparing the move"};
    tools[3] = (struct agent_tool){
        .name = "new_client",
        .description = "Create a new client (customer and job): record every detail the rep "
                       "gives (new client, new lead, add customer); call again with corrections. "
                       "Returns what is still missing, then a summary to confirm.",
        .parameters = *schema_out,
        .fn = new_client_tool,
        .activity = "updating the new client"};
    tools[4] = (struct agent_tool){
        .name = "confirm",
        .description = "After the rep answers a yes/no confirmation question: carries out the "
                       "pending CRM write if the rep said yes (the rep's own words decide).",
        .parameters = NULL,
        .fn = confirm_tool,
        .activity = "confirming"};
}
