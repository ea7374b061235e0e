/* mail — sending email to homeowners: an outbox folder locally, SMTP in the cloud.
 *
 * With no SMTP server configured, a message is written as a standard .eml
 * file to an outbox folder (DATA_DIR/outbox), named after its idempotency
 * key, written to a temporary file and renamed, so sending the same message
 * twice leaves one file. With `[mail] smtp_url` (Gmail: smtps://smtp.gmail.com:465
 * with an app password in SMTP_PASSWORD), it goes over SMTP (net/smtp.h). */
#ifndef HARDE_SERVICES_MAIL_MAIL_H
#define HARDE_SERVICES_MAIL_MAIL_H

#include <stddef.h>

struct config;
struct mail_sender;

/* Opens the sender harde.ini describes: [mail] smtp_url, smtp_user,
 * starttls (true/false), from, from_name; SMTP_PASSWORD from the environment
 * only; [mail] outbox (default DATA_DIR/outbox). New, or NULL with err set. */
struct mail_sender *mail_sender_open(const struct config *cfg, const char *data_dir, char *err,
                                     size_t errlen);
void mail_sender_free(struct mail_sender *m);
/* "outbox" or "smtp" (static). */
const char *mail_sender_kind(const struct mail_sender *m);
/* The envelope and From address ([mail] from, default hard-e@localhost). */
const char *mail_sender_from(const struct mail_sender *m);
const char *mail_sender_from_name(const struct mail_sender *m);
/* Sends message (a complete RFC 5322 message) to rcpt. key ([A-Za-z0-9._-])
 * names the outbox file. *where (may be NULL) gets a new description of
 * where it went: the .eml path, or "smtp://host (to x@y)". 0 or ERR_* with err. */
int mail_send(struct mail_sender *m, const char *key, const char *rcpt, const char *message,
              size_t len, char **where, char *err, size_t errlen);

#endif
