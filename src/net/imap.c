/* imap — an IMAP client for the inbox listener, on libcurl. See imap.h.
 *
 * Owns one libcurl easy handle per client; libcurl keeps the logged-in
 * connection in that handle between calls, so a poll costs a SELECT and a
 * search, not a login. Each call resets the handle, sets every option
 * again (mail_curl_common) and performs one command:
 *   SELECT    a custom "SELECT" on the server URL (no mailbox in the URL, so
 *             libcurl sends nothing else); the untagged answers come to the
 *             write callback and are read for UIDVALIDITY, UIDNEXT, EXISTS.
 *   search    a custom "UID SEARCH UID n:* …" on the folder URL (libcurl
 *             SELECTs the folder first when it has not); "* SEARCH" lines.
 *   fetch     the URL ".../FOLDER;UIDVALIDITY=v/;UID=n": libcurl checks
 *             UIDVALIDITY itself and delivers exactly the message literal.
 *   store     a custom "UID STORE n +FLAGS.SILENT (…)".
 * libcurl reports some failures with codes that mean something else here
 * (a failed SELECT is CURLE_LOGIN_DENIED with "Select failed"), which
 * imap_error sorts out. */
#define _POSIX_C_SOURCE 200809L
#include "net/imap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "net/mail_internal.h"

#define IMAP_COMMAND_MAX 512
#define IMAP_FOLDER_MAX  200
#define IMAP_URL_MAX     (MAIL_HOST_MAX + 3 * IMAP_FOLDER_MAX + 80)

struct imap_client {
    CURL *easy;
    struct mail_endpoint ep;
    char *user;
    char *password;
    char *folder;         /* as configured */
    char *folder_escaped; /* URL-encoded, for URLs */
    char *ca_file;
    bool starttls;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_message;
    volatile sig_atomic_t *cancel;
};

/* One command in flight. */
struct call {
    struct buf *body; /* receives what the write callback gets */
    bool limit_hit;
    struct mail_reply reply;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t write_cb(char *data, size_t size, size_t n, void *user)
{
    struct call *k = user;
    size_t len = size * n;
    if (buf_append(k->body, data, len) != 0) {
        k->limit_hit = true;
        return 0;
    }
    return len;
}

/* A folder name we can put in a quoted string and a URL. */
static bool folder_ok(const char *f)
{
    size_t n = strlen(f);
    if (n == 0 || n > IMAP_FOLDER_MAX)
        return false;
    for (const char *p = f; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E || *p == '"' || *p == '\\' ||
            *p == '*' || *p == '%')
            return false;
    return true;
}

int imap_client_new(const struct imap_config *cfg, struct imap_client **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->user || !cfg->user[0] || !cfg->password) {
        snprintf(err, errlen, "IMAP needs a user and a password");
        return ERR_CONFIG;
    }
    struct mail_endpoint ep;
    int rc =
        mail_endpoint_parse(cfg->url, "imap", "imaps", cfg->starttls, "IMAP", &ep, err, errlen);
    if (rc)
        return rc;
    const char *folder = cfg->folder ? cfg->folder : "INBOX";
    if (!folder_ok(folder)) {
        snprintf(err, errlen,
                 "IMAP folder name \"%.60s\" is not usable (printable ASCII without \" \\ * %%, "
                 "1-%d bytes)",
                 folder, IMAP_FOLDER_MAX);
        return ERR_CONFIG;
    }
    http_curl_init();
    struct imap_client *c = xcalloc(1, sizeof *c);
    c->easy = curl_easy_init();
    if (!c->easy) {
        fputs("harde: libcurl handle creation failed\n", stderr);
        abort();
    }
    c->ep = ep;
    c->user = xstrdup(cfg->user);
    c->password = xstrdup(cfg->password);
    c->folder = xstrdup(folder);
    char *esc = curl_easy_escape(c->easy, folder, 0);
    c->folder_escaped = xstrdup(esc ? esc : folder);
    curl_free(esc);
    c->ca_file = xstrdup(cfg->ca_file);
    c->starttls = cfg->starttls && !ep.implicit_tls;
    c->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : IMAP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : IMAP_DEFAULT_TIMEOUT_MS;
    c->max_message = cfg->max_message ? cfg->max_message : IMAP_DEFAULT_MAX_MESSAGE;
    c->cancel = cfg->cancel;
    log_add_secret(c->password);
    *out = c;
    return 0;
}

void imap_client_free(struct imap_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->easy);
    if (c->password)
        memset(c->password, 0, strlen(c->password));
    free(c->user);
    free(c->password);
    free(c->folder);
    free(c->folder_escaped);
    free(c->ca_file);
    free(c);
}

/* Sorts out a failed command. what names it in messages ("UID SEARCH"). */
static int imap_error(struct imap_client *c, struct call *k, CURLcode cc, const char *what,
                      uint32_t uid, char *err, size_t errlen)
{
    const char *server = k->reply.tagged[0] ? k->reply.tagged : k->errbuf;
    if (k->limit_hit) {
        snprintf(err, errlen, "the IMAP %s answer from %s is larger than %zu bytes", what,
                 c->ep.hostport, k->body->max);
        return ERR_LIMIT;
    }
    switch (cc) {
    case CURLE_LOGIN_DENIED:
        if (strncmp(k->errbuf, "Select failed", 13) == 0) {
            snprintf(err, errlen, "IMAP server %s cannot select folder \"%s\" (%s)", c->ep.hostport,
                     c->folder, server);
            return ERR_NOT_FOUND;
        }
        snprintf(err, errlen,
                 "IMAP login as \"%s\" to %s was refused (%s); check the user name and the app "
                 "password",
                 c->user, c->ep.hostport, server);
        return ERR_AUTH;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        if (strstr(k->errbuf, "UIDVALIDITY")) {
            snprintf(err, errlen, "the UIDVALIDITY of \"%s\" on %s has changed", c->folder,
                     c->ep.hostport);
            return ERR_CONFLICT;
        }
        snprintf(err, errlen, "no message with UID %u in \"%s\" on %s", uid, c->folder,
                 c->ep.hostport);
        return ERR_NOT_FOUND;
    case CURLE_QUOTE_ERROR:
        snprintf(err, errlen, "IMAP server %s refused %s on \"%s\": %s", c->ep.hostport, what,
                 c->folder, server);
        return ERR_HTTP;
    default:
        return mail_transport_error(c->easy, cc, k->errbuf, "IMAP", &c->ep, err, errlen);
    }
}

/* Performs one command: url, optional custom command, answer into body. */
static int perform(struct imap_client *c, const char *url, const char *custom, struct buf *body,
                   const char *what, uint32_t uid, char *err, size_t errlen)
{
    struct call k = {.body = body};
    mail_curl_common(c->easy, url, "imap,imaps", c->starttls, c->ca_file, c->user, c->password,
                     c->connect_timeout_ms, c->timeout_ms, k.errbuf, &k.reply, c->cancel);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &k);
    if (custom)
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, custom);
    CURLcode cc = curl_easy_perform(c->easy);
    if (cc == CURLE_OK)
        return 0;
    int rc = imap_error(c, &k, cc, what, uid, err, errlen);
    log_debug("imap", "%s on %s failed: %s", what, c->ep.hostport, err);
    return rc;
}

/* The unsigned number after key in text ("[UIDVALIDITY 123]"), or 0. */
static uint32_t number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ')
        p++;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    return end > p && v <= UINT32_MAX ? (uint32_t)v : 0;
}

int imap_select(struct imap_client *c, struct imap_folder_status *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    char url[IMAP_URL_MAX], command[IMAP_COMMAND_MAX];
    snprintf(url, sizeof url, "%s/", c->ep.base);
    snprintf(command, sizeof command, "SELECT \"%s\"", c->folder);
    struct buf body;
    buf_init(&body, IMAP_MAX_RESPONSE);
    int rc = perform(c, url, command, &body, "SELECT", 0, err, errlen);
    if (rc == ERR_HTTP) { /* NO to SELECT: the folder is missing */
        snprintf(err, errlen, "IMAP server %s has no folder \"%s\" that can be selected",
                 c->ep.hostport, c->folder);
        rc = ERR_NOT_FOUND;
    }
    if (rc)
        goto out;
    const char *text = buf_str(&body);
    st->uidvalidity = number_after(text, "[UIDVALIDITY");
    st->uidnext = number_after(text, "[UIDNEXT");
    for (const char *line = text; line && *line;) {
        unsigned long n;
        char word[8];
        if (sscanf(line, "* %lu %7s", &n, word) == 2 && strncasecmp(word, "EXISTS", 6) == 0)
            st->exists = n <= UINT32_MAX ? (uint32_t)n : 0;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!st->uidvalidity) {
        snprintf(err, errlen, "IMAP server %s sent no UIDVALIDITY for \"%s\"", c->ep.hostport,
                 c->folder);
        rc = ERR_PARSE;
    }
out:
    buf_free(&body);
    return rc;
}

static int compare_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads the UIDs of every "* SEARCH" line that are above after. */
static void parse_search(const char *text, uint32_t after, uint32_t **uids, size_t *count)
{
    size_t cap = 0;
    for (const char *line = text; line && *line;) {
        const char *next = strchr(line, '\n');
        if (strncasecmp(line, "* SEARCH", 8) == 0) {
            const char *p = line + 8;
            while (*p == ' ') {
                p++;
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p)
                    break;
                if (v > after && v <= UINT32_MAX) {
                    if (*count == cap) {
                        cap = cap ? cap * 2 : 16;
                        *uids = xrealloc(*uids, cap * sizeof **uids);
                    }
                    (*uids)[(*count)++] = (uint32_t)v;
                }
                p = end;
            }
        }
        line = next ? next + 1 : NULL;
    }
    if (*count > 1) {
        qsort(*uids, *count, sizeof **uids, compare_uid);
        size_t w = 1;
        for (size_t i = 1; i < *count; i++)
            if ((*uids)[i] != (*uids)[w - 1])
                (*uids)[w++] = (*uids)[i];
        *count = w;
    }
}

int imap_search(struct imap_client *c, uint32_t after_uid, const char *criteria, uint32_t **uids,
                size_t *count, char *err, size_t errlen)
{
    *uids = NULL;
    *count = 0;
    if (criteria && (strpbrk(criteria, "\r\n") || strlen(criteria) > IMAP_COMMAND_MAX - 64)) {
        snprintf(err, errlen, "IMAP search criteria must be one short line");
        return ERR_INVALID;
    }
    if (after_uid == UINT32_MAX)
        return 0;
    char url[IMAP_URL_MAX], command[IMAP_COMMAND_MAX];
    snprintf(url, sizeof url, "%s/%s", c->ep.base, c->folder_escaped);
    snprintf(command, sizeof command, "UID SEARCH UID %lu:*%s%s", (unsigned long)after_uid + 1,
             criteria ? " " : "", criteria ? criteria : "");
    struct buf body;
    buf_init(&body, IMAP_MAX_RESPONSE);
    int rc = perform(c, url, command, &body, "UID SEARCH", 0, err, errlen);
    if (!rc)
        parse_search(buf_str(&body), after_uid, uids, count);
    buf_free(&body);
    return rc;
}

int imap_fetch(struct imap_client *c, uint32_t uidvalidity, uint32_t uid, struct buf *out,
               char *err, size_t errlen)
{
    char url[IMAP_URL_MAX], validity[32] = "";
    if (uidvalidity)
        snprintf(validity, sizeof validity, ";UIDVALIDITY=%lu", (unsigned long)uidvalidity);
    snprintf(url, sizeof url, "%s/%s%s/;UID=%lu", c->ep.base, c->folder_escaped, validity,
             (unsigned long)uid);
    struct buf body;
    buf_init(&body, c->max_message);
    int rc = perform(c, url, NULL, &body, "UID FETCH", uid, err, errlen);
    if (!rc && body.len == 0) {
        snprintf(err, errlen, "no message with UID %lu in \"%s\" on %s", (unsigned long)uid,
                 c->folder, c->ep.hostport);
        rc = ERR_NOT_FOUND;
    }
    if (!rc && buf_append(out, buf_str(&body), body.len) != 0) {
        snprintf(err, errlen, "message UID %lu does not fit the caller's buffer",
                 (unsigned long)uid);
        rc = ERR_LIMIT;
    }
    buf_free(&body);
    return rc;
}

/* "\\Seen $Keyword …": system flags and atoms only. */
static bool flags_ok(const char *flags)
{
    if (!flags || !flags[0] || strlen(flags) > 200)
        return false;
    for (const char *p = flags; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\\' && (p == flags || p[-1] == ' '))
            continue;
        if (ch <= 0x20 ? ch != ' ' : ch >= 0x7F || strchr("(){%*\"\\]", ch))
            return false;
    }
    return true;
}

int imap_store_flags(struct imap_client *c, uint32_t uid, const char *flags, bool add, char *err,
                     size_t errlen)
{
    if (!flags_ok(flags)) {
        snprintf(err, errlen, "IMAP flags \"%.60s\" are not a list of flags and keywords",
                 flags ? flags : "");
        return ERR_INVALID;
    }
    char url[IMAP_URL_MAX], command[IMAP_COMMAND_MAX];
    snprintf(url, sizeof url, "%s/%s", c->ep.base, c->folder_escaped);
    snprintf(command, sizeof command, "UID STORE %lu %cFLAGS.SILENT (%s)", (unsigned long)uid,
             add ? '+' : '-', flags);
    struct buf body;
    buf_init(&body, IMAP_MAX_RESPONSE);
    int rc = perform(c, url, command, &body, "UID STORE", uid, err, errlen);
    buf_free(&body);
    return rc;
}

int imap_mark_handled(struct imap_client *c, uint32_t uid, char *err, size_t errlen)
{
    int rc = imap_store_flags(c, uid, "\\Seen " IMAP_HANDLED_KEYWORD, true, err, errlen);
    if (rc == ERR_HTTP) /* the server takes no keywords: \Seen must do */
        rc = imap_store_flags(c, uid, "\\Seen", true, err, errlen);
    return rc;
}

int imap_poll(struct imap_client *c, const struct imap_checkpoint *cp, struct imap_poll *res,
              char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    struct imap_folder_status st;
    int rc = imap_select(c, &st, err, errlen);
    if (rc)
        return rc;
    res->uidvalidity = st.uidvalidity;
    res->uidvalidity_changed = cp->uidvalidity != st.uidvalidity;
    uint32_t after = res->uidvalidity_changed ? 0 : cp->last_uid;
    if (!res->uidvalidity_changed && st.uidnext && st.uidnext <= after + 1ull)
        return 0; /* nothing can be above the checkpoint */
    return imap_search(c, after, "NOT KEYWORD " IMAP_HANDLED_KEYWORD, &res->uids, &res->count, err,
                       errlen);
}

void imap_poll_free(struct imap_poll *res)
{
    free(res->uids);
    memset(res, 0, sizeof *res);
}

void imap_checkpoint_advance(struct imap_checkpoint *cp, uint32_t uidvalidity, uint32_t uid)
{
    if (cp->uidvalidity != uidvalidity) {
        cp->uidvalidity = uidvalidity;
        cp->last_uid = 0;
    }
    if (uid > cp->last_uid)
        cp->last_uid = uid;
}
