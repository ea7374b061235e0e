/* smtp — sending one message over SMTP (libcurl), e.g. the homeowner's
 * email at the end of the primer workflow.
 *
 * smtp_send hands a complete RFC 5322 message (net/mime.h's mime_build
 * writes one) to a server for the given envelope: MAIL FROM, one RCPT TO
 * per recipient (the envelope, not the To/Cc headers, decides who gets it,
 * so Bcc is just an extra recipient), DATA. Bare LF line ends are turned
 * into CRLF; libcurl does the dot-stuffing.
 *
 * Transport: smtps:// (implicit TLS, Gmail's port 465), or smtp:// with
 * STARTTLS required when starttls is set (Gmail's 587). Plain smtp:// is
 * allowed only to a loopback host (tests, a local relay). When a user is
 * configured the server must offer AUTH: libcurl would otherwise send
 * without logging in, so smtp_send stops after EHLO with ERR_AUTH instead.
 *
 * Errors: ERR_AUTH (login refused, or no AUTH offered; names the user),
 * ERR_NETWORK (cannot connect, TLS, connection lost; names host:port),
 * ERR_TIMEOUT, ERR_HTTP (the server refused the sender, a recipient or the
 * message; quotes its reply, the table's "the server returned an error"),
 * ERR_CONFIG (bad URL, plain SMTP to a remote host), ERR_INVALID (a bad
 * address or an empty message), ERR_LIMIT (over SMTP_MAX_MESSAGE),
 * ERR_CANCELED. Each fills a sentence in err; never the password. */
#ifndef HARDE_NET_SMTP_H
#define HARDE_NET_SMTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define SMTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define SMTP_DEFAULT_TIMEOUT_MS         120000
#define SMTP_MAX_MESSAGE                (32u << 20)
#define SMTP_MAX_RECIPIENTS             100

struct smtp_config {
    const char *url;      /* "smtps://smtp.gmail.com:465", "smtp://smtp.gmail.com:587" + starttls */
    const char *user;     /* NULL or "": no AUTH */
    const char *password; /* e.g. a Gmail app password */
    bool starttls;        /* smtp://: require STARTTLS */
    const char *ca_file;  /* PEM CA bundle; NULL: the system's */
    long connect_timeout_ms;       /* 0: SMTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;               /* the whole send; 0: SMTP_DEFAULT_TIMEOUT_MS */
    volatile sig_atomic_t *cancel; /* non-zero abandons the send; may be NULL */
};

/* Sends message (len bytes) from the envelope sender to each of rcpt_count
 * recipients (plain addresses, "user@host"). Returns 0 once the server
 * accepted the message (delivery may still be under way), or an error as
 * above. */
int smtp_send(const struct smtp_config *cfg, const char *from, const char *const *rcpts,
              size_t rcpt_count, const char *message, size_t len, char *err, size_t errlen);

#endif
