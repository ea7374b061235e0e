/* http_client — outbound HTTP over libcurl with timeouts, bounds, streaming,
 * cancellation and retries. See http_client.h.
 *
 * Each attempt resets the easy handle, sets every option again and drives
 * the transfer through the client's multi handle in a loop of
 * curl_multi_perform + curl_multi_poll with a 50 ms wake-up, so a cancel flag
 * or an idle timeout is noticed promptly even while the server is silent
 * (the xferinfo callback checks the flag too). The multi handle owns the
 * connection cache, which is why one client is kept per thread: the next
 * request to the same host reuses the connection.
 *
 * Callbacks never fail silently: they record the ERR_* code in the transfer
 * and return a short count, which makes libcurl stop; the recorded code wins
 * over libcurl's generic one. The retry loop around the attempts asks
 * net/http_retry for every decision. */
#define _POSIX_C_SOURCE 200809L
#include "net/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_retry.h"

#define HTTP_POLL_MS    50
#define HTTP_TARGET_MAX 256 /* bytes of "host/path" shown in logs */
#define HTTP_HOST_MAX   256

struct http_client {
    CURL *easy;
    CURLM *multi;
    uint64_t rng; /* xorshift state for jitter */
};

/* One attempt in flight. */
struct transfer {
    const struct http_request *req;
    struct http_response *resp;
    size_t max_response;
    size_t received;    /* body bytes of this attempt */
    int rc;             /* an ERR_* recorded by a callback or the loop */
    bool idle_expired;  /* rc == ERR_TIMEOUT came from idle_timeout_ms */
    bool headers_full;  /* rc == ERR_LIMIT came from the header block */
    int64_t last_io_ns; /* when bytes last arrived */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("harde: libcurl initialisation failed\n", stderr);
        abort();
    }
}

void http_curl_init(void)
{
    pthread_once(&curl_once, curl_setup_once);
}

struct http_client *http_client_new(void)
{
    http_curl_init();
    struct http_client *c = xcalloc(1, sizeof *c);
    c->easy = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        fputs("harde: libcurl handle creation failed\n", stderr);
        abort();
    }
    c->rng = (uint64_t)clock_now_ns() ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9E3779B97F4A7C15u;
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi);
    curl_easy_cleanup(c->easy);
    free(c);
}

/* A number in [0, 1) for jitter (xorshift64*). */
static double http_client_random(struct http_client *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

void http_response_init(struct http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, HTTP_DEFAULT_MAX_RESPONSE);
    buf_init(&resp->headers, HTTP_MAX_RESPONSE_HEADERS);
}

void http_response_free(struct http_response *resp)
{
    buf_free(&resp->body);
    buf_free(&resp->headers);
    free(resp->content_type);
    free(resp->request_id);
    resp->content_type = resp->request_id = NULL;
}

static void http_response_reset(struct http_response *resp, size_t max_body)
{
    resp->status = 0;
    resp->streamed = false;
    buf_reset(&resp->body);
    resp->body.max = max_body;
    buf_reset(&resp->headers);
    free(resp->content_type);
    free(resp->request_id);
    resp->content_type = resp->request_id = NULL;
}

bool http_response_header(const struct http_response *resp, const char *name, char *out,
                          size_t outlen)
{
    size_t name_len = strlen(name);
    const char *p = buf_str(&resp->headers);
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        const char *end = eol ? eol : p + strlen(p);
        if ((size_t)(end - p) > name_len && strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':') {
            const char *v = p + name_len + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (out && outlen) {
                size_t n = (size_t)(ve - v) < outlen - 1 ? (size_t)(ve - v) : outlen - 1;
                memcpy(out, v, n);
                out[n] = '\0';
            }
            return true;
        }
        p = eol ? eol + 2 : end;
    }
    return false;
}

void http_url_host(const char *url, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!url)
        return;
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = NULL;
    size_t n = strcspn(p, "/?#");
    for (size_t i = 0; i < n; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) { /* never show user:password@ */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* "host/path" of url without credentials, query or fragment, for logs. */
static void http_log_target(const char *url, char *out, size_t outlen)
{
    http_url_host(url, out, outlen);
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?#");
    size_t used = strlen(out);
    size_t n = strcspn(p, "?#");
    if (n > outlen - 1 - used)
        n = outlen - 1 - used;
    memcpy(out + used, p, n);
    out[used + n] = '\0';
}

/* ---- libcurl callbacks ------------------------------------------------ */

static size_t on_header(char *data, size_t size, size_t nitems, void *user)
{
    struct transfer *t = user;
    size_t len = size * nitems;
    t->last_io_ns = clock_now_ns();
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a new response (after 1xx, say) */
        buf_reset(&t->resp->headers);
        const char *sp = memchr(data, ' ', len);
        long status = 0;
        for (const char *d = sp ? sp + 1 : data + len; d < data + len && *d >= '0' && *d <= '9';
             d++)
            status = status * 10 + (*d - '0');
        t->resp->status = status;
        return len;
    }
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
        return len;
    if (buf_append(&t->resp->headers, data, len)) {
        t->rc = ERR_LIMIT;
        t->headers_full = true;
        return 0;
    }
    return len;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct transfer *t = user;
    size_t len = size * nmemb;
    t->last_io_ns = clock_now_ns();
    if (t->req->cancel && *t->req->cancel) {
        t->rc = ERR_CANCELED;
        return 0;
    }
    if (len > t->max_response - t->received) {
        t->rc = ERR_LIMIT;
        return 0;
    }
    t->received += len;
    long status = t->resp->status;
    if (t->req->on_body && status >= 200 && status <= 299) {
        t->resp->streamed = true;
        int rc = t->req->on_body(data, len, t->req->body_user);
        if (rc) {
            t->rc = rc;
            return 0;
        }
        return len;
    }
    if (buf_append(&t->resp->body, data, len)) {
        t->rc = ERR_LIMIT;
        return 0;
    }
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct transfer *t = user;
    if (t->req->cancel && *t->req->cancel) {
        t->rc = ERR_CANCELED;
        return 1;
    }
    return 0;
}

/* ---- one attempt ------------------------------------------------------ */

static void http_set_method(CURL *easy, const struct http_request *req)
{
    const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
    const char *body = req->body ? req->body : "";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    if (req->body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
}

static void http_setup(struct http_client *c, const struct http_request *req,
                       struct curl_slist *headers, struct transfer *t, char *curl_err)
{
    CURL *easy = c->easy;
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "harde");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : (long)HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : (long)HTTP_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
    http_set_method(easy, req);
}

/* Drives the transfer until it ends, is canceled or goes idle too long. */
static CURLcode http_run(struct http_client *c, struct transfer *t)
{
    CURLcode result = CURLE_OK;
    bool done = false;
    curl_multi_add_handle(c->multi, c->easy);
    t->last_io_ns = clock_now_ns();
    while (!done) {
        int running = 0;
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            result = CURLE_OUT_OF_MEMORY; /* libcurl's multi state is broken */
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                done = true;
            }
        }
        if (done || !running)
            break;
        if (t->req->cancel && *t->req->cancel) {
            t->rc = ERR_CANCELED;
            break;
        }
        long idle = t->req->idle_timeout_ms;
        if (idle > 0 && clock_now_ns() - t->last_io_ns > (int64_t)idle * 1000000) {
            t->rc = ERR_TIMEOUT;
            t->idle_expired = true;
            break;
        }
        curl_multi_poll(c->multi, NULL, 0, HTTP_POLL_MS, NULL);
    }
    curl_multi_remove_handle(c->multi, c->easy);
    return result;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Maps a libcurl failure to ERR_* with a sentence; *retryable says whether
 * the policy's "transport error" rule applies. */
static int http_transport_error(struct http_client *c, CURLcode result,
                                const struct http_request *req, const char *host,
                                const char *curl_err, bool *retryable, char *err, size_t errlen)
{
    const char *detail = curl_err[0] ? curl_err : curl_easy_strerror(result);
    long os_errno = 0;
    *retryable = true;
    switch (result) {
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0) { /* an unreachable host is a network failure */
            set_err(err, errlen, "could not connect to %s within %g s", host,
                    (req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : HTTP_DEFAULT_CONNECT_TIMEOUT_MS) /
                        1000.0);
            return ERR_NETWORK;
        }
        set_err(err, errlen, "%s did not answer within %g s", host,
                (req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS) / 1000.0);
        return ERR_TIMEOUT;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        set_err(err, errlen, "could not find the host %s (name lookup failed)", host);
        return ERR_NETWORK;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
        char os_reason[128];
        set_err(err, errlen, "could not connect to %s: %s", host,
                os_errno && strerror_r((int)os_errno, os_reason, sizeof os_reason) == 0 ? os_reason
                                                                                        : detail);
        return ERR_NETWORK;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        set_err(err, errlen, "the connection to %s failed: %s", host, detail);
        return ERR_NETWORK;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        *retryable = false;
        set_err(err, errlen, "cannot request %s: %s", host[0] ? host : "an empty URL", detail);
        return ERR_INVALID;
    default:
        *retryable = false;
        set_err(err, errlen, "the request to %s failed: %s", host, detail);
        return ERR_NETWORK;
    }
}

/* One attempt: 0, ERR_HTTP (a non-2xx answer) or a failure with err set.
 * *retryable: a transport failure the policy may retry. */
static int http_attempt(struct http_client *c, const struct http_request *req,
                        struct curl_slist *headers, struct http_response *resp, const char *host,
                        bool *retryable, char *err, size_t errlen)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    struct transfer t = {
        .req = req,
        .resp = resp,
        .max_response = req->max_response ? req->max_response : HTTP_DEFAULT_MAX_RESPONSE,
    };
    http_response_reset(resp, t.max_response);
    *retryable = false;
    if (req->cancel && *req->cancel) {
        set_err(err, errlen, "the request to %s was canceled", host);
        return ERR_CANCELED;
    }
    http_setup(c, req, headers, &t, curl_err);
    CURLcode result = http_run(c, &t);
    switch (t.rc) {
    case 0:
        break;
    case ERR_CANCELED:
        set_err(err, errlen, "the request to %s was canceled", host);
        return ERR_CANCELED;
    case ERR_LIMIT:
        set_err(err, errlen, "the response from %s is larger than %zu bytes", host,
                t.headers_full ? (size_t)HTTP_MAX_RESPONSE_HEADERS : t.max_response);
        return ERR_LIMIT;
    case ERR_TIMEOUT:
        if (t.idle_expired) {
            *retryable = !resp->streamed;
            set_err(err, errlen, "%s went silent for more than %g s", host,
                    req->idle_timeout_ms / 1000.0);
            return ERR_TIMEOUT;
        }
        return t.rc;
    default:
        return t.rc; /* on_body's own code; it keeps its own message */
    }
    if (result == CURLE_ABORTED_BY_CALLBACK) {
        set_err(err, errlen, "the request to %s was canceled", host);
        return ERR_CANCELED;
    }
    if (result != CURLE_OK)
        return http_transport_error(c, result, req, host, curl_err, retryable, err, errlen);
    if (resp->status >= 200 && resp->status <= 299)
        return 0;
    set_err(err, errlen, "%s answered HTTP %ld", host, resp->status);
    return ERR_HTTP;
}

/* ---- the retry loop --------------------------------------------------- */

static struct curl_slist *http_headers(const struct http_request *req, int *rc)
{
    struct curl_slist *list = NULL;
    size_t n = 0;
    *rc = 0;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (++n > HTTP_MAX_REQUEST_HEADERS || strpbrk(*h, "\r\n")) {
            *rc = ERR_INVALID;
            break;
        }
        list = curl_slist_append(list, *h);
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    list = curl_slist_append(list, "Expect:");
    if (!list) {
        fputs("harde: out of memory\n", stderr);
        abort();
    }
    return list;
}

/* Whether a non-2xx response should be retried. */
static bool http_should_retry_response(const struct http_request *req,
                                       const struct http_response *resp)
{
    char should[16];
    bool have = http_response_header(resp, "x-should-retry", should, sizeof should);
    if (!http_retry_status(resp->status, have ? should : NULL))
        return false;
    return !req->retry_filter || req->retry_filter(resp, req->retry_user);
}

/* The wait before the next attempt in ms, or -1: do not retry. */
static int64_t http_next_delay(struct http_client *c, const struct http_request *req,
                               const struct http_response *resp, int retry, int rc)
{
    int64_t after = -1;
    if (rc == ERR_HTTP) {
        char ms[64], secs[64];
        bool have_ms = http_response_header(resp, "retry-after-ms", ms, sizeof ms);
        bool have_s = http_response_header(resp, "retry-after", secs, sizeof secs);
        after = http_retry_after_ms(have_ms ? ms : NULL, have_s ? secs : NULL, clock_wall_ms());
    }
    return http_retry_delay_ms(
        retry, req->retry_base_ms > 0 ? req->retry_base_ms : HTTP_RETRY_DEFAULT_BASE_MS,
        req->retry_cap_ms > 0 ? req->retry_cap_ms : HTTP_RETRY_DEFAULT_CAP_MS, after,
        http_client_random(c));
}

static void http_finish(struct http_response *resp)
{
    char value[512];
    if (http_response_header(resp, "content-type", value, sizeof value))
        resp->content_type = xstrdup(value);
    if (http_response_header(resp, "x-request-id", value, sizeof value))
        resp->request_id = xstrdup(value);
}

int http_client_request(struct http_client *client, const struct http_request *req,
                        struct http_response *resp, char *err, size_t errlen)
{
    char own_err[256];
    if (!err || !errlen) { /* the retry log lines quote the message */
        err = own_err;
        errlen = sizeof own_err;
    }
    err[0] = '\0';
    if (!req || !req->url || !req->url[0] || !resp) {
        set_err(err, errlen, "an HTTP request needs a URL");
        return ERR_INVALID;
    }
    char host[HTTP_HOST_MAX], target[HTTP_TARGET_MAX];
    http_url_host(req->url, host, sizeof host);
    http_log_target(req->url, target, sizeof target);
    const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
    int max_retries = req->max_retries < 0 ? HTTP_RETRY_DEFAULT_MAX : req->max_retries;
    if (max_retries > HTTP_RETRY_MAX_RETRIES)
        max_retries = HTTP_RETRY_MAX_RETRIES;
    http_response_reset(resp, resp->body.max);
    struct http_client *own = client ? NULL : http_client_new();
    struct http_client *c = client ? client : own;
    int rc;
    struct curl_slist *headers = http_headers(req, &rc);
    if (rc) {
        set_err(err, errlen, "a request to %s has a bad header or more than %d headers", host,
                HTTP_MAX_REQUEST_HEADERS);
        goto out;
    }
    int64_t start = clock_now_ns();
    for (int attempt = 0;; attempt++) {
        bool retryable = false;
        resp->attempts = attempt + 1;
        rc = http_attempt(c, req, headers, resp, host, &retryable, err, errlen);
        if (rc == ERR_HTTP && attempt < max_retries)
            retryable = http_should_retry_response(req, resp);
        if (rc == 0 || !retryable || resp->streamed || attempt >= max_retries)
            break;
        int64_t delay = http_next_delay(c, req, resp, attempt, rc);
        if (delay < 0) {
            log_warn("http", "%s %s: %s; the server asks to wait over %d s, not retrying", method,
                     target, err, HTTP_RETRY_AFTER_MAX_MS / 1000);
            break;
        }
        log_warn("http", "%s %s: %s; retrying in %.3g s (attempt %d of %d)", method, target, err,
                 delay / 1000.0, attempt + 2, max_retries + 1);
        if (clock_sleep_ms(delay, req->cancel) == ERR_CANCELED) {
            set_err(err, errlen, "the request to %s was canceled", host);
            rc = ERR_CANCELED;
            break;
        }
    }
    if (rc == ERR_HTTP && resp->attempts > 1) {
        size_t used = strlen(err);
        set_err(err + used, errlen - used, " (after %d attempts)", resp->attempts);
    }
    http_finish(resp);
    resp->elapsed_ms = (clock_now_ns() - start) / 1000000;
    log_debug("http", "%s %s -> %ld in %lld ms, %d attempt(s)%s%s", method, target, resp->status,
              (long long)resp->elapsed_ms, resp->attempts, resp->request_id ? ", request id " : "",
              resp->request_id ? resp->request_id : "");
out:
    curl_slist_free_all(headers);
    http_client_free(own);
    return rc;
}
