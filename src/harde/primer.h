/* primer — the autonomous primer video: nine durable steps from a CRM job to
 * an email in the homeowner's inbox.
 *
 *   1 context  customer and job from the CRM
 *   2 script   a personalised 60–120 s script (script.c offline, the model in the cloud)
 *   3 audio    text to speech, then voice enhancement
 *   4 render   voice + music over the company's video template → MP4
 *   5 upload   the MP4 to the delivery service → a link
 *   6 note     the link as a note on the CRM job
 *   7 wait     a durable timer (15 minutes by default)
 *   8 deliver  a personalised HTML + text email to the homeowner
 *   9 cleanup  temporary files and cloud assets, whatever happened (and a
 *              CRM note when the run failed)
 *
 * The workflow engine (workflow/) records each step's output before the next
 * starts. Steps with outside effects (upload, note, deliver) are idempotent
 * on their own as well: each first looks for the mark its earlier attempt
 * left (a checkpoint in the store, a reference in the CRM note), so a worker
 * killed between doing the thing and recording it does not do it twice. */
#ifndef HARDE_HARDE_PRIMER_H
#define HARDE_HARDE_PRIMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "harde/app.h"
#include "services/crm/crm.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define PRIMER_WORKFLOW "primer_video"
/* The run's dedupe key for a job: one primer per job unless forced. */
#define PRIMER_DEDUPE_FMT "primer:job:%lld"

struct primer;

/* The primer services for app (borrowed; it must outlive them): speech,
 * render, delivery and mail from app's configuration ([primer] wait_minutes
 * or wait_seconds, public_url, template, music; see README). New, or NULL
 * with err set. */
struct primer *primer_open(struct harde_app *app, char *err, size_t errlen);
void primer_close(struct primer *p);
/* Registers the workflow with engine. */
int primer_register(struct primer *p, struct workflow_engine *engine);
/* Records (or finds) the primer run for job_id in st — one per job unless
 * force — after checking the job exists in crm. Needs no media services: the
 * chat tool and the HTTP API call it, and a worker produces the video.
 * *run (new; store_run_free) and *created as store_run_create sets them. 0,
 * ERR_NOT_FOUND for an unknown job, or ERR_* with err set. */
int primer_request(struct store *st, struct crm *crm, int64_t job_id, bool force,
                   const char *requested_by, struct store_run *run, bool *created, char *err,
                   size_t errlen);
/* Starts (or finds) the primer run for job_id: one per job unless force.
 * run_id gets the run's id, *created whether it is new. 0, ERR_NOT_FOUND for
 * an unknown job, or ERR_* with err set. */
int primer_start(struct primer *p, struct workflow_engine *engine, int64_t job_id, bool force,
                 const char *requested_by, char run_id[STORE_ID_MAX + 1], bool *created, char *err,
                 size_t errlen);
/* A run as JSON for people and pages: id, status, job, steps with status,
 * durations and errors, the video link, where the email went. New. */
json_t *primer_run_json(const struct store_run *run);

#endif
