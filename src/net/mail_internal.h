/* mail_internal — what net/imap.c and net/smtp.c share, not a contract.
 *
 * Both clients take a server URL, refuse plain text to anything but
 * loopback, drive one libcurl transfer per command, and turn libcurl's
 * transport failures into the same ERR_* codes and sentences. The server's
 * own reply lines reach libcurl's header callback; mail_reply keeps the
 * last one so error messages can quote the server's words. */
#ifndef HARDE_NET_MAIL_INTERNAL_H
#define HARDE_NET_MAIL_INTERNAL_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define MAIL_HOST_MAX  256
#define MAIL_REPLY_MAX 256

/* A parsed server URL. */
struct mail_endpoint {
    char base[MAIL_HOST_MAX + 32];     /* "imaps://host:993", no trailing slash */
    char hostport[MAIL_HOST_MAX + 16]; /* "host:993", for messages */
    bool implicit_tls;                 /* imaps:// or smtps:// */
    bool loopback;
};

/* Parses url ("plain://host[:port]" or "tls://host[:port]", no user,
 * password, path beyond "/", query or fragment). Plain text is refused
 * unless starttls is set or the host is loopback. what names the service
 * in errors ("IMAP"). Returns 0 or ERR_CONFIG with err filled. */
int mail_endpoint_parse(const char *url, const char *plain, const char *tls, bool starttls,
                        const char *what, struct mail_endpoint *ep, char *err, size_t errlen);

/* Collects server reply lines from libcurl's header callback. */
struct mail_reply {
    char last[MAIL_REPLY_MAX];   /* the last line, CRLF removed */
    char tagged[MAIL_REPLY_MAX]; /* IMAP: the last tagged line ("A003 NO …") */
    char failed[MAIL_REPLY_MAX]; /* SMTP: the last 4xx/5xx line ("550 …") */
    bool ehlo_auth;              /* SMTP: the last EHLO answer offered AUTH */
    bool ehlo_done;              /* SMTP: an EHLO answer has ended */
    bool in_ehlo;                /* SMTP: inside a 250 answer that followed a 220 */
    int last_code;               /* SMTP: the code of the last complete answer */
    bool require_auth;           /* SMTP: abort when EHLO offers no AUTH */
    bool starttls_pending;       /* SMTP: the next EHLO answer precedes STARTTLS */
    bool auth_missing;           /* SMTP: aborted for that reason */
};

size_t mail_reply_header_cb(char *data, size_t size, size_t n, void *user);

/* The libcurl failure cc as ERR_NETWORK / ERR_TIMEOUT / ERR_CANCELED with a
 * sentence naming the service and host:port (for the codes every command
 * shares; callers handle their protocol's own codes first). */
int mail_transport_error(CURL *easy, CURLcode cc, const char *errbuf, const char *what,
                         const struct mail_endpoint *ep, char *err, size_t errlen);

/* Sets the options every mail transfer shares: URL, credentials,
 * protocols, TLS, timeouts, error buffer, the reply collector, and the
 * cancel flag (through the progress callback). */
void mail_curl_common(CURL *easy, const char *url, const char *protocols, bool starttls,
                      const char *ca_file, const char *user, const char *password,
                      long connect_timeout_ms, long timeout_ms, char *errbuf,
                      struct mail_reply *reply, volatile sig_atomic_t *cancel);

#endif
