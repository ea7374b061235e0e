/* mail_common — the parts of the IMAP and SMTP clients that are the same:
 * server URLs and the loopback rule, libcurl options, server replies and
 * transport errors. See mail_internal.h.
 *
 * Owns nothing long-lived. URLs are read with libcurl's own URL parser, so
 * what we check is what libcurl will connect to. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "net/http_client.h"
#include "net/mail_internal.h"

static bool host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0)
        return true;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    for (const char *p = host + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return false;
    return true;
}

int mail_endpoint_parse(const char *url, const char *plain, const char *tls, bool starttls,
                        const char *what, struct mail_endpoint *ep, char *err, size_t errlen)
{
    memset(ep, 0, sizeof *ep);
    if (!url || !url[0]) {
        snprintf(err, errlen, "no %s server URL is configured", what);
        return ERR_CONFIG;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL;
    char *path = NULL, *query = NULL, *fragment = NULL;
    int rc = ERR_CONFIG;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the %s server URL is not a valid URL (want %s://host[:port])", what,
                 tls);
        goto out;
    }
    if (strcasecmp(scheme, plain) != 0 && strcasecmp(scheme, tls) != 0) {
        snprintf(err, errlen, "the %s server URL has scheme \"%.20s\"; want %s:// or %s://", what,
                 scheme, tls, plain);
        goto out;
    }
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
    if (user || password) {
        snprintf(err, errlen,
                 "the %s server URL holds a user or password; configure them separately", what);
        goto out;
    }
    if ((path && strcmp(path, "/") != 0 && path[0]) || query || fragment) {
        snprintf(err, errlen, "the %s server URL must be just %s://host[:port]", what, tls);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    ep->implicit_tls = strcasecmp(scheme, tls) == 0;
    ep->loopback = host_is_loopback(host);
    if (strlen(host) >= MAIL_HOST_MAX) {
        snprintf(err, errlen, "the %s server host name is too long", what);
        goto out;
    }
    snprintf(ep->base, sizeof ep->base, "%s://%s:%s", ep->implicit_tls ? tls : plain, host,
             port ? port : "0");
    snprintf(ep->hostport, sizeof ep->hostport, "%s:%s", host, port ? port : "0");
    if (!ep->implicit_tls && !starttls && !ep->loopback) {
        snprintf(err, errlen,
                 "plain %s:// to %s would send the password unencrypted; it is allowed only to a "
                 "loopback host (127.0.0.1, ::1, localhost): use %s://%s or turn on STARTTLS",
                 plain, ep->hostport, tls, host);
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(password);
    curl_free(path);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return rc;
}

/* An IMAP tag as libcurl makes them: a letter, digits, a blank. */
static bool is_tagged(const char *line)
{
    if (!((line[0] >= 'A' && line[0] <= 'Z') || (line[0] >= 'a' && line[0] <= 'z')))
        return false;
    const char *p = line + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > line + 1 && *p == ' ';
}

size_t mail_reply_header_cb(char *data, size_t size, size_t n, void *user)
{
    struct mail_reply *r = user;
    size_t len = size * n, keep = len;
    while (keep && (data[keep - 1] == '\r' || data[keep - 1] == '\n'))
        keep--;
    if (keep >= sizeof r->last)
        keep = sizeof r->last - 1;
    memcpy(r->last, data, keep);
    r->last[keep] = '\0';
    if (is_tagged(r->last))
        snprintf(r->tagged, sizeof r->tagged, "%s", r->last);
    /* SMTP: "ddd-text" continues an answer, "ddd text" ends it. */
    const char *l = r->last;
    bool coded = keep >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
                 l[2] >= '0' && l[2] <= '9' && (l[3] == '-' || l[3] == ' ' || l[3] == '\0');
    if (!coded)
        return len;
    int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    if (code >= 400)
        snprintf(r->failed, sizeof r->failed, "%s", l);
    if (!r->in_ehlo && code == 250 && r->last_code == 220) {
        r->in_ehlo = true;
        r->ehlo_auth = false;
    }
    if (r->in_ehlo && l[3] &&
        (strncasecmp(l + 4, "AUTH ", 5) == 0 || strncasecmp(l + 4, "AUTH=", 5) == 0))
        r->ehlo_auth = true;
    if (l[3] != '-') {
        if (r->in_ehlo) {
            r->in_ehlo = false;
            r->ehlo_done = true;
            /* Before STARTTLS servers often hold AUTH back: judge the EHLO
             * answer that follows the upgrade. */
            bool before_tls = r->starttls_pending;
            r->starttls_pending = false;
            if (r->require_auth && !r->ehlo_auth && !before_tls) {
                r->auth_missing = true;
                return 0; /* aborts the transfer before MAIL FROM */
            }
        }
        r->last_code = code;
    }
    return len;
}

static int progress_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    volatile sig_atomic_t *cancel = user;
    return cancel && *cancel ? 1 : 0;
}

void mail_curl_common(CURL *easy, const char *url, const char *protocols, bool starttls,
                      const char *ca_file, const char *user, const char *password,
                      long connect_timeout_ms, long timeout_ms, char *errbuf,
                      struct mail_reply *reply, volatile sig_atomic_t *cancel)
{
    curl_easy_reset(easy);
    errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (user && user[0]) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, user);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, password ? password : "");
    }
    if (starttls)
        curl_easy_setopt(easy, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (ca_file)
        curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, mail_reply_header_cb);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, reply);
    if (cancel) {
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, (void *)cancel);
    }
}

int mail_transport_error(CURL *easy, CURLcode cc, const char *errbuf, const char *what,
                         const struct mail_endpoint *ep, char *err, size_t errlen)
{
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen, "%s server %s did not answer in time (%s)", what, ep->hostport,
                 detail);
        return ERR_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "the %s call to %s was canceled", what, ep->hostport);
        return ERR_CANCELED;
    case CURLE_COULDNT_CONNECT:
        snprintf(err, errlen, "cannot connect to %s server %s: %s", what, ep->hostport,
                 os_errno ? strerror((int)os_errno) : detail);
        return ERR_NETWORK;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "cannot resolve the %s server's host %s (%s)", what, ep->hostport,
                 detail);
        return ERR_NETWORK;
    case CURLE_USE_SSL_FAILED:
        snprintf(err, errlen, "%s server %s does not offer STARTTLS, which is required", what,
                 ep->hostport);
        return ERR_NETWORK;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        snprintf(err, errlen, "TLS with %s server %s failed: %s", what, ep->hostport, detail);
        return ERR_NETWORK;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, errlen, "this libcurl cannot speak to %s server %s: %s", what, ep->hostport,
                 detail);
        return ERR_CONFIG;
    default:
        snprintf(err, errlen, "talking to %s server %s failed: %s", what, ep->hostport, detail);
        return ERR_NETWORK;
    }
}
