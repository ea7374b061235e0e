/* smtp — sending mail over SMTP with libcurl. See smtp.h.
 *
 * Owns nothing between calls: each send makes its own libcurl handle
 * (mail is sent rarely, and a fresh connection keeps no state to go stale).
 * The message is copied once with CRLF line ends and uploaded from memory.
 * libcurl passes every server reply line to the header callback
 * (mail_reply), which lets us quote the server in errors and see whether
 * the last EHLO answer offered AUTH: when a user is configured and it did
 * not, the callback stops the transfer before MAIL FROM, because libcurl
 * would silently carry on without logging in. */
#define _POSIX_C_SOURCE 200809L
#include "net/smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "net/http_client.h"
#include "net/mail_internal.h"

#define SMTP_ADDR_MAX 254
#define SMTP_URL_MAX  (MAIL_HOST_MAX + SMTP_ADDR_MAX + 40)

struct upload {
    const char *data;
    size_t len;
    size_t pos;
};

static size_t read_cb(char *out, size_t size, size_t n, void *user)
{
    struct upload *u = user;
    size_t room = size * n, left = u->len - u->pos;
    size_t take = left < room ? left : room;
    memcpy(out, u->data + u->pos, take);
    u->pos += take;
    return take;
}

/* A plain envelope address: printable ASCII, one '@' inside, no brackets. */
static bool envelope_addr_ok(const char *a)
{
    if (!a || !a[0] || strlen(a) > SMTP_ADDR_MAX)
        return false;
    const char *at = strrchr(a, '@');
    if (!at || at == a || !at[1])
        return false;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F || strchr("<>()[],;:\"\\", *p))
            return false;
    return true;
}

static int check_envelope(const char *from, const char *const *rcpts, size_t n, char *err,
                          size_t errlen)
{
    if (!envelope_addr_ok(from)) {
        snprintf(err, errlen, "SMTP sender \"%.60s\" is not a plain user@host address",
                 from ? from : "");
        return ERR_INVALID;
    }
    if (n == 0 || n > SMTP_MAX_RECIPIENTS || !rcpts) {
        snprintf(err, errlen, "SMTP needs 1 to %d recipients (got %zu)", SMTP_MAX_RECIPIENTS, n);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!envelope_addr_ok(rcpts[i])) {
            snprintf(err, errlen, "SMTP recipient \"%.60s\" is not a plain user@host address",
                     rcpts[i] ? rcpts[i] : "");
            return ERR_INVALID;
        }
    }
    return 0;
}

/* Copies the message with every line ending as CRLF, ending with one. */
static void to_crlf(const char *m, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\n' || m[i] == '\r') {
            buf_append(out, "\r\n", 2);
            if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')
                i++;
        } else {
            buf_append_char(out, m[i]);
        }
    }
    if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
        buf_append(out, "\r\n", 2);
}

/* Sorts out a failed send. */
static int smtp_error(CURL *easy, CURLcode cc, const struct mail_reply *reply, const char *errbuf,
                      const struct smtp_config *cfg, const struct mail_endpoint *ep, char *err,
                      size_t errlen)
{
    const char *server = reply->failed[0] ? reply->failed : reply->last[0] ? reply->last : errbuf;
    if (reply->auth_missing) {
        snprintf(err, errlen,
                 "SMTP server %s offers no AUTH, so \"%s\" cannot log in; not sending "
                 "unauthenticated%s",
                 ep->hostport, cfg->user,
                 ep->implicit_tls || cfg->starttls
                     ? ""
                     : " (many servers offer AUTH only after STARTTLS)");
        return ERR_AUTH;
    }
    if (cc == CURLE_LOGIN_DENIED) {
        snprintf(err, errlen, "SMTP login as \"%s\" to %s was refused (%s)", cfg->user,
                 ep->hostport, server);
        return ERR_AUTH;
    }
    if (reply->failed[0] && (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
                             cc == CURLE_WEIRD_SERVER_REPLY || cc == CURLE_QUOTE_ERROR)) {
        const char *what = strncmp(errbuf, "RCPT", 4) == 0   ? "a recipient"
                           : strncmp(errbuf, "MAIL", 4) == 0 ? "the sender"
                                                             : "the message";
        snprintf(err, errlen, "SMTP server %s refused %s: %s", ep->hostport, what, server);
        return ERR_HTTP;
    }
    return mail_transport_error(easy, cc, errbuf, "SMTP", ep, err, errlen);
}

/* The EHLO name: the sender's domain when it is a plain host name. */
static const char *ehlo_name(const char *from)
{
    const char *domain = strrchr(from, '@') + 1;
    size_t plain =
        strspn(domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
    return domain[plain] == '\0' ? domain : "localhost";
}

/* One SMTP transaction of data (CRLF text) on a fresh libcurl handle. */
static int transfer(const struct smtp_config *cfg, const struct mail_endpoint *ep, const char *from,
                    const char *const *rcpts, size_t rcpt_count, const struct buf *data, char *err,
                    size_t errlen)
{
    http_curl_init();
    CURL *easy = curl_easy_init();
    if (!easy) {
        fputs("harde: libcurl handle creation failed\n", stderr);
        abort();
    }
    struct upload up = {.data = data->data, .len = data->len};
    struct curl_slist *rcpt_list = NULL;
    char sender[SMTP_ADDR_MAX + 3], url[SMTP_URL_MAX], errbuf[CURL_ERROR_SIZE];
    for (size_t i = 0; i < rcpt_count; i++) {
        char one[SMTP_ADDR_MAX + 3];
        snprintf(one, sizeof one, "<%s>", rcpts[i]);
        rcpt_list = curl_slist_append(rcpt_list, one);
    }
    snprintf(sender, sizeof sender, "<%s>", from);
    snprintf(url, sizeof url, "%s/%s", ep->base, ehlo_name(from)); /* the path is the EHLO name */
    bool auth = cfg->user && cfg->user[0];
    struct mail_reply reply = {.require_auth = auth,
                               .starttls_pending = cfg->starttls && !ep->implicit_tls};
    mail_curl_common(easy, url, "smtp,smtps", cfg->starttls && !ep->implicit_tls, cfg->ca_file,
                     cfg->user, cfg->password,
                     cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                                 : SMTP_DEFAULT_CONNECT_TIMEOUT_MS,
                     cfg->timeout_ms > 0 ? cfg->timeout_ms : SMTP_DEFAULT_TIMEOUT_MS, errbuf,
                     &reply, cfg->cancel);
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, sender);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpt_list);
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(easy, CURLOPT_READDATA, &up);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)data->len);
    CURLcode cc = curl_easy_perform(easy);
    int rc = 0;
    if (cc != CURLE_OK) {
        rc = smtp_error(easy, cc, &reply, errbuf, cfg, ep, err, errlen);
        log_debug("smtp", "send to %s failed: %s", ep->hostport, err);
    }
    curl_slist_free_all(rcpt_list);
    curl_easy_cleanup(easy);
    return rc;
}

int smtp_send(const struct smtp_config *cfg, const char *from, const char *const *rcpts,
              size_t rcpt_count, const char *message, size_t len, char *err, size_t errlen)
{
    bool auth = cfg && cfg->user && cfg->user[0];
    if (!cfg || (auth && !cfg->password)) {
        snprintf(err, errlen, "SMTP user is configured without a password");
        return ERR_CONFIG;
    }
    struct mail_endpoint ep;
    int rc =
        mail_endpoint_parse(cfg->url, "smtp", "smtps", cfg->starttls, "SMTP", &ep, err, errlen);
    if (!rc)
        rc = check_envelope(from, rcpts, rcpt_count, err, errlen);
    if (rc)
        return rc;
    if (!message || len == 0) {
        snprintf(err, errlen, "the SMTP message is empty");
        return ERR_INVALID;
    }
    if (len > SMTP_MAX_MESSAGE) {
        snprintf(err, errlen, "the message has %zu bytes, more than the %u-byte limit", len,
                 SMTP_MAX_MESSAGE);
        return ERR_LIMIT;
    }
    if (auth)
        log_add_secret(cfg->password);
    struct buf data;
    buf_init(&data, 0);
    to_crlf(message, len, &data);
    rc = transfer(cfg, &ep, from, rcpts, rcpt_count, &data, err, errlen);
    buf_free(&data);
    return rc;
}
