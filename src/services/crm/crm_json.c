/* crm_json — CRM records as JSON for `harde crm --json`, the agents' tools
 * and the web API. One function per record; the shapes are listed in crm.h.
 * Unknown values are JSON null rather than missing keys, so a script can rely
 * on every key being present. Strings go through utf8_json_string, so a
 * record holding bad bytes from a remote CRM still prints. */
#include <stdlib.h>

#include "base/utf8.h"
#include "services/crm/crm_internal.h"

static json_t *str_or_null(const char *s)
{
    return s ? utf8_json_string(s) : json_null();
}

static json_t *address_json(const char *street, const char *city, const char *state,
                            const char *zip)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "street", str_or_null(street), "city",
                     str_or_null(city), "state", str_or_null(state), "zip", str_or_null(zip));
}

static json_t *address_line_json(const char *street, const char *city, const char *state,
                                 const char *zip)
{
    char *line = crm_address_line(street, city, state, zip);
    json_t *j = *line ? utf8_json_string(line) : json_null();
    free(line);
    return j;
}

static json_t *notes_json(const struct crm_job *job)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < job->note_count; i++) {
        const struct crm_note *n = &job->notes[i];
        json_array_append_new(arr,
                              json_pack("{s:I, s:o, s:o, s:o}", "id", (json_int_t)n->id, "author",
                                        str_or_null(n->author), "text", str_or_null(n->text),
                                        "created_at", str_or_null(n->created_at)));
    }
    return arr;
}

static json_t *history_json(const struct crm_job *job)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < job->history_count; i++) {
        const struct crm_stage_change *h = &job->history[i];
        json_t *from =
            h->from == CRM_STAGE_UNKNOWN ? json_null() : json_string(crm_stage_key(h->from));
        json_array_append_new(
            arr, json_pack("{s:o, s:s, s:o, s:o, s:o}", "from", from, "to", crm_stage_key(h->to),
                           "changed_at", str_or_null(h->changed_at), "changed_by",
                           str_or_null(h->changed_by), "reason", str_or_null(h->reason)));
    }
    return arr;
}

json_t *crm_job_to_json(const struct crm_job *job)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(job->id));
    json_object_set_new(j, "number", str_or_null(job->number));
    json_object_set_new(j, "customer_id", json_integer(job->customer_id));
    json_object_set_new(j, "customer_name", str_or_null(job->customer_name));
    json_object_set_new(j, "address", address_json(job->street, job->city, job->state, job->zip));
    json_object_set_new(j, "address_line",
                        address_line_json(job->street, job->city, job->state, job->zip));
    json_object_set_new(j, "trade", json_string(crm_trade_key(job->trade)));
    json_object_set_new(j, "trade_label", json_string(crm_trade_label(job->trade)));
    json_object_set_new(j, "stage", json_string(crm_stage_key(job->stage)));
    json_object_set_new(j, "stage_label",
                        job->stage == CRM_STAGE_UNKNOWN && job->stage_name
                            ? utf8_json_string(job->stage_name)
                            : json_string(crm_stage_label(job->stage)));
    json_object_set_new(j, "appointment", str_or_null(job->appointment));
    json_object_set_new(j, "rep", str_or_null(job->rep));
    json_object_set_new(j, "description", str_or_null(job->description));
    json_object_set_new(j, "created_at", str_or_null(job->created_at));
    json_object_set_new(j, "stage_changed_at", str_or_null(job->stage_changed_at));
    json_object_set_new(j, "notes", notes_json(job));
    json_object_set_new(j, "stage_history", history_json(job));
    return j;
}

json_t *crm_customer_to_json(const struct crm_customer *c)
{
    json_t *j = json_object();
    char *name = crm_full_name(c->first_name, c->last_name);
    json_object_set_new(j, "id", json_integer(c->id));
    json_object_set_new(j, "first_name", str_or_null(c->first_name));
    json_object_set_new(j, "last_name", str_or_null(c->last_name));
    json_object_set_new(j, "name", utf8_json_string(name));
    json_object_set_new(j, "phone", str_or_null(c->phone));
    json_object_set_new(j, "email", str_or_null(c->email));
    json_object_set_new(j, "address", address_json(c->street, c->city, c->state, c->zip));
    json_object_set_new(j, "address_line", address_line_json(c->street, c->city, c->state, c->zip));
    json_object_set_new(j, "lead_source", str_or_null(c->lead_source));
    json_object_set_new(j, "created_at", str_or_null(c->created_at));
    if (c->jobs) {
        json_t *jobs = json_array();
        for (size_t i = 0; i < c->job_count; i++)
            json_array_append_new(jobs, crm_job_to_json(&c->jobs[i]));
        json_object_set_new(j, "jobs", jobs);
    }
    free(name);
    return j;
}

json_t *crm_hits_to_json(const struct crm_hits *hits)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < hits->count; i++) {
        json_t *c = crm_customer_to_json(&hits->items[i].customer);
        json_object_set_new(c, "score", json_integer(hits->items[i].score));
        json_object_set_new(c, "matched", str_or_null(hits->items[i].matched));
        json_array_append_new(arr, c);
    }
    return arr;
}

json_t *crm_jobs_to_json(const struct crm_jobs *jobs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < jobs->count; i++)
        json_array_append_new(arr, crm_job_to_json(&jobs->items[i]));
    return json_pack("{s:I, s:I, s:o}", "count", (json_int_t)jobs->count, "total",
                     (json_int_t)jobs->total, "jobs", arr);
}

json_t *crm_stages_to_json(void)
{
    json_t *arr = json_array();
    for (int i = 0; i < CRM_STAGE_COUNT; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "key", crm_stage_key(i), "label",
                                             crm_stage_label(i), "position", i + 1));
    return arr;
}
