/* inbox — the listener that turns "Please produce Primer Video" emails from
 * the CRM into primer runs.
 *
 * Two sources, one rule. With no IMAP server configured, a local folder in
 * Maildir style (DATA_DIR/inbox/new → cur) is watched, so the whole pipeline
 * runs offline: drop an .eml file into new/. With `[inbox] imap_url`, the
 * configured IMAP folder is polled; UIDVALIDITY and the last UID handled are
 * checkpointed in the store, so no mail is missed or handled twice across
 * restarts, and handled mail is flagged on the server.
 *
 * A message starts a run only when it is well-formed MIME, comes from one of
 * the configured senders, matches the trigger pattern in its subject or body,
 * names a job id, and the job exists in the CRM; anything else is logged and
 * ignored. The run's dedupe key ("primer:job:ID") makes one primer per job. */
#ifndef HARDE_HARDE_INBOX_H
#define HARDE_HARDE_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "harde/app.h"
#include "harde/primer.h"

struct inbox;

/* What became of one message. */
enum inbox_verdict {
    INBOX_STARTED,   /* a new run */
    INBOX_DUPLICATE, /* the job already has its primer run */
    INBOX_IGNORED,   /* not a trigger (other subject), or from an unknown sender */
    INBOX_REJECTED,  /* malformed, no job id, or an unknown job */
};

/* Opens the configured source ([inbox] dir or imap_url, imap_user, folder;
 * IMAP_PASSWORD from the environment; [inbox] senders, trigger). New, or NULL
 * with err set. */
struct inbox *inbox_open(struct harde_app *app, char *err, size_t errlen);
void inbox_close(struct inbox *in);
/* "folder DIR" or "imap URL" (borrowed). */
const char *inbox_describe(const struct inbox *in);
/* Handles every new message once. *started counts the new runs. 0, or ERR_*
 * with err set when the source could not be read (messages already handled
 * stay handled). */
int inbox_poll(struct inbox *in, struct primer *p, struct workflow_engine *engine, size_t *started,
               char *err, size_t errlen);
/* Decides one raw message (exposed for tests): the verdict, and the job id
 * and a reason in words. */
enum inbox_verdict inbox_judge(const struct inbox *in, const char *raw, size_t len, int64_t *job_id,
                               char *reason, size_t reasonlen);

#endif
