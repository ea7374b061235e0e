/* job_lookup — which CRM job a tool call means: {"job_id": 1042} or
 * {"customer_name": "Garcia"} (then the customer's newest job). Shared by the
 * tools that act on a job (scripts, primer videos). */
#ifndef HARDE_HARDE_JOB_LOOKUP_H
#define HARDE_HARDE_JOB_LOOKUP_H

#include <jansson.h>

#include "services/crm/crm.h"

/* Fills *job (free with crm_job_free). 0; ERR_INVALID when args name no job;
 * ERR_NOT_FOUND (or the CRM's error) with err set. */
int job_lookup(struct crm *crm, const json_t *args, struct crm_job *job, char *err, size_t errlen);

#endif
