/* job_lookup — which CRM job a tool call means. See job_lookup.h. */
#include "harde/job_lookup.h"

#include <stdio.h>

#include "base/error.h"

/* Finds the job: by id, else the newest job of the best-matching customer. */
int job_lookup(struct crm *crm, const json_t *args, struct crm_job *job, char *err, size_t errlen)
{
    int64_t id = json_integer_value(json_object_get(args, "job_id"));
    const char *name = json_string_value(json_object_get(args, "customer_name"));
    if (!id && name) {
        struct crm_hits hits;
        if (crm_search(crm, name, 1, &hits, err, errlen) != 0)
            return ERR_NOT_FOUND;
        if (hits.count) {
            struct crm_customer c;
            if (crm_customer_get(crm, hits.items[0].customer.id, &c, err, errlen) == 0) {
                if (c.job_count)
                    id = c.jobs[c.job_count - 1].id;
                crm_customer_free(&c);
            }
        }
        crm_hits_free(&hits);
        if (!id) {
            snprintf(err, errlen, "no job found for \"%s\": give the job id", name);
            return ERR_NOT_FOUND;
        }
    }
    if (!id) {
        snprintf(err, errlen, "which job? give the job id or the customer's name");
        return ERR_INVALID;
    }
    return crm_job_get(crm, id, job, err, errlen);
}
