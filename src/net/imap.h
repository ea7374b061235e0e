/* imap — reading a mail folder over IMAP (libcurl), for the inbox listener.
 *
 * A struct imap_client is a long-lived handle on one account and folder; it
 * keeps its connection between calls (one client per thread). The listener
 * polls: imap_poll SELECTs the folder, compares its UIDVALIDITY with the
 * caller's checkpoint and runs UID SEARCH for UIDs above the checkpoint
 * (filtering the answer, since "UID n:*" always matches the newest message
 * even when its UID is below n). The caller fetches each UID
 * (imap_fetch), handles it, marks it (imap_mark), and advances and stores
 * its checkpoint, so no UID is handled twice across polls or restarts.
 *
 * Transport: imaps:// (implicit TLS, the default for Gmail on 993), or
 * imap:// upgraded with STARTTLS when starttls is set. Plain imap:// sends
 * the password in the clear and is allowed only to a loopback host (tests).
 * Authentication: user + password (an app password for Gmail). Every call
 * has a connect timeout and a total timeout.
 *
 * On libcurl 7.88 a fetch uses the URL form ";UID=n", which sends
 * "UID FETCH n BODY[]" and therefore sets \Seen (a custom BODY.PEEK[] fetch
 * returns only the first line before curl 8.17).
 *
 * Errors: ERR_AUTH (login refused; names the user), ERR_NETWORK (cannot
 * connect or the connection failed; names host:port), ERR_TIMEOUT,
 * ERR_NOT_FOUND (no such folder or UID), ERR_CONFLICT (UIDVALIDITY changed
 * under a fetch), ERR_HTTP (the server answered NO/BAD to a command; the
 * table's "the server returned an error"), ERR_LIMIT, ERR_CANCELED,
 * ERR_CONFIG (a bad URL, plain IMAP to a remote host, a bad folder name),
 * ERR_PARSE (an answer that cannot be read). Each fills a sentence in err;
 * the password never appears in it or in logs. */
#ifndef HARDE_NET_IMAP_H
#define HARDE_NET_IMAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define IMAP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define IMAP_DEFAULT_TIMEOUT_MS         60000
#define IMAP_DEFAULT_MAX_MESSAGE        (32u << 20) /* bytes of one fetched message */
#define IMAP_MAX_RESPONSE               (4u << 20)  /* bytes of a SELECT/SEARCH answer */
#define IMAP_HANDLED_KEYWORD            "$HardeHandled"

struct imap_config {
    const char *url;         /* "imaps://imap.gmail.com" or "imap://127.0.0.1:1143"; no path */
    const char *user;        /* login, e.g. "bot@example.com" */
    const char *password;    /* e.g. a Gmail app password */
    const char *folder;      /* printable ASCII; NULL: "INBOX" */
    bool starttls;           /* imap://: require STARTTLS */
    const char *ca_file;     /* PEM CA bundle for TLS; NULL: the system's */
    long connect_timeout_ms; /* 0: IMAP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* each call; 0: IMAP_DEFAULT_TIMEOUT_MS */
    size_t max_message;      /* 0: IMAP_DEFAULT_MAX_MESSAGE */
    volatile sig_atomic_t *cancel; /* non-zero abandons the call; may be NULL */
};

struct imap_client;

struct imap_folder_status {
    uint32_t uidvalidity;
    uint32_t uidnext; /* 0 when the server did not say */
    uint32_t exists;  /* messages in the folder */
};

/* Where the listener stands in a folder; store it after each message. */
struct imap_checkpoint {
    uint32_t uidvalidity; /* 0: never polled */
    uint32_t last_uid;    /* highest UID handled */
};

struct imap_poll {
    uint32_t uidvalidity;
    bool uidvalidity_changed; /* the checkpoint was for another UIDVALIDITY (or new) */
    uint32_t *uids;           /* ascending, all above the checkpoint; new */
    size_t count;
};

/* Checks cfg and copies it into a new client in *out (no network yet).
 * Returns 0, or ERR_CONFIG / ERR_INVALID with err filled. */
int imap_client_new(const struct imap_config *cfg, struct imap_client **out, char *err,
                    size_t errlen);
void imap_client_free(struct imap_client *client);

/* SELECTs the folder (read-write) and reports its status. */
int imap_select(struct imap_client *client, struct imap_folder_status *status, char *err,
                size_t errlen);

/* UIDs greater than after_uid in the folder, ascending, as a new array in
 * *uids (NULL when none). criteria, when not NULL, is appended to the
 * search (e.g. "UNSEEN", "NOT KEYWORD $HardeHandled"); no line breaks.
 * The server answers from its view of the selected folder, which may lag
 * new mail by seconds (Dovecot: ~5 s); imap_select first (as imap_poll
 * does) to see mail that has just arrived. */
int imap_search(struct imap_client *client, uint32_t after_uid, const char *criteria,
                uint32_t **uids, size_t *count, char *err, size_t errlen);

/* Fetches the whole raw message with this UID into out (appended). When
 * uidvalidity is not 0 the fetch fails with ERR_CONFLICT if the folder's
 * differs. Sets \Seen (see above). */
int imap_fetch(struct imap_client *client, uint32_t uidvalidity, uint32_t uid, struct buf *out,
               char *err, size_t errlen);

/* Adds (add = true) or removes flags on a message: flags is a space-separated
 * list of system flags ("\\Seen") and keywords ("$HardeHandled"). */
int imap_store_flags(struct imap_client *client, uint32_t uid, const char *flags, bool add,
                     char *err, size_t errlen);

/* Marks a message handled: \Seen plus IMAP_HANDLED_KEYWORD (when the
 * server does not allow keywords, \Seen alone). */
int imap_mark_handled(struct imap_client *client, uint32_t uid, char *err, size_t errlen);

/* One poll: SELECT, then the UIDs above the checkpoint that are not marked
 * handled. When the folder's UIDVALIDITY is not the checkpoint's, every
 * unhandled message counts as new (uidvalidity_changed is set). result is
 * overwritten; free it with imap_poll_free. */
int imap_poll(struct imap_client *client, const struct imap_checkpoint *checkpoint,
              struct imap_poll *result, char *err, size_t errlen);
void imap_poll_free(struct imap_poll *result);

/* Moves the checkpoint past uid of the folder with uidvalidity (a new
 * UIDVALIDITY restarts it). */
void imap_checkpoint_advance(struct imap_checkpoint *checkpoint, uint32_t uidvalidity,
                             uint32_t uid);

#endif
