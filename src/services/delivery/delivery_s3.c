/* delivery_s3 — delivery through Amazon S3 (or any S3-compatible store).
 * See delivery.h and EXTERNAL_APIS.md §8.
 *
 * Owns one libcurl easy handle and the credentials. Objects are written with
 * a PUT whose SigV4 Authorization header libcurl computes itself
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3", key and secret as user name and
 * password). This talks to libcurl directly rather than through
 * net/http_client, which has no way to ask for SigV4 or to stream a request
 * body from a file; the timeouts, the bounded error body and the retry
 * decisions (net/http_retry) are the same. The installed libcurl (7.88)
 * signs an empty payload unless told otherwise, so every request carries
 * x-amz-content-sha256: the file's real SHA-256 for a PUT (computed first,
 * so the store can verify the bytes), the empty-body hash for a DELETE.
 *
 * Keys are [prefix]<128-bit random token>/<name>, so even a public bucket
 * URL is unguessable. The link is a presigned GET (SigV4 query signing done
 * here in delivery_sign.c, valid presign_seconds) or, when a public base URL
 * is configured, that base plus the key. With an endpoint the store is
 * addressed path-style (ENDPOINT/BUCKET/KEY), as S3-compatible servers and
 * the test fake expect; without one, virtual-hosted AWS style. */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "net/http_retry.h"
#include "services/delivery/delivery_internal.h"
#include "services/delivery/delivery_sign.h"

#define S3_ERROR_BODY_MAX (64u << 10)
#define S3_HEADERS_MAX    (16u << 10)
#define S3_MAX_RETRIES    3
#define S3_RETRY_BASE_MS  300
#define S3_RETRY_CAP_MS   5000
#define S3_CONNECT_MS     10000L
#define S3_PREFIX_MAX     200 /* "s3:" + prefix + token + "/" + name fits a handle */
#define S3_EMPTY_SHA256   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct delivery_s3 {
    struct delivery base;
    CURL *easy;
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token; /* may be NULL */
    char *host;          /* the Host header, for presigning */
    char *object_base;   /* URL before "/KEY": https://B.s3.R.amazonaws.com or ENDPOINT/B */
    char *path_base;     /* path before "/KEY": "" or "/B" */
    char *prefix;        /* "" or e.g. "primers/" */
    char *public_base;   /* may be NULL */
    char sigv4[96];      /* "aws:amz:REGION:s3" */
    long presign_s;
    long timeout_ms;
};

/* One request's inputs and what came back. */
struct s3_exchange {
    const char *method; /* "PUT" or "DELETE" */
    const char *url;
    const char *path;         /* file to upload (PUT) */
    int64_t size;             /* its size */
    const char *content_type; /* PUT */
    const char *payload_hash;
    FILE *in;
    long status;
    struct buf body;    /* the answer's body (bounded) */
    struct buf headers; /* the answer's header lines */
};

static void s3_wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* ---- libcurl callbacks ---------------------------------------------------------------- */

static size_t s3_on_read(char *out, size_t size, size_t nitems, void *user)
{
    struct s3_exchange *x = user;
    size_t n = fread(out, 1, size * nitems, x->in);
    if (n == 0 && ferror(x->in))
        return CURL_READFUNC_ABORT;
    return n;
}

static size_t s3_on_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct s3_exchange *x = user;
    size_t len = size * nmemb;
    if (x->body.len < S3_ERROR_BODY_MAX)
        buf_append(&x->body, data,
                   len < S3_ERROR_BODY_MAX - x->body.len ? len : S3_ERROR_BODY_MAX - x->body.len);
    return len; /* the rest of an oversized body is dropped, not an error */
}

static size_t s3_on_header(char *data, size_t size, size_t nitems, void *user)
{
    struct s3_exchange *x = user;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        buf_reset(&x->headers);
    buf_append(&x->headers, data, len); /* bounded: a full buffer just stops growing */
    return len;
}

/* ---- one request with retries -------------------------------------------------------- */

static struct curl_slist *s3_headers(struct delivery_s3 *s, const struct s3_exchange *x)
{
    struct curl_slist *list = NULL;
    char line[256];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", x->payload_hash);
    list = curl_slist_append(list, line);
    if (x->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", x->content_type);
        list = curl_slist_append(list, line);
    }
    if (s->session_token) {
        char *token = xasprintf("x-amz-security-token: %s", s->session_token);
        list = curl_slist_append(list, token);
        s3_wipe_free(token);
    }
    if (!list) {
        fputs("harde: out of memory\n", stderr);
        abort();
    }
    return list;
}

static CURLcode s3_perform_once(struct delivery_s3 *s, struct s3_exchange *x,
                                struct curl_slist *headers, char *curl_err)
{
    CURL *e = s->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "harde");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, S3_CONNECT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L); /* idle for 60 s: give up */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(e, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s3_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, s3_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err);
    if (x->in) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, s3_on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, x);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->size);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    }
    buf_reset(&x->body);
    buf_reset(&x->headers);
    x->status = 0;
    curl_err[0] = '\0';
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
    return rc;
}

/* The value of header name in x's answer, into out; true when present. */
static bool s3_header(const struct s3_exchange *x, const char *name, char *out, size_t outlen)
{
    struct http_response fake = {.headers = x->headers};
    return http_response_header(&fake, name, out, outlen);
}

/* Runs x, retrying transport failures and retryable statuses. Returns 0
 * with x->status set (any HTTP answer), or ERR_NETWORK / ERR_TIMEOUT / ERR_IO
 * with err set when no answer came. */
static int s3_perform(struct delivery_s3 *s, struct s3_exchange *x, char *err, size_t errlen)
{
    char curl_err[CURL_ERROR_SIZE], host[256];
    http_url_host(x->url, host, sizeof host);
    struct curl_slist *headers = s3_headers(s, x);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        if (x->in && fseek(x->in, 0, SEEK_SET) != 0) {
            delivery_set_err(err, errlen, "delivery: cannot rewind %s", x->path);
            rc = ERR_IO;
            break;
        }
        CURLcode cc = s3_perform_once(s, x, headers, curl_err);
        bool retry;
        if (cc == CURLE_OK) {
            rc = 0;
            retry = http_retry_status(x->status, NULL);
        } else if (cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_READ_ERROR) {
            delivery_set_err(err, errlen, "delivery: cannot read %s during the upload", x->path);
            rc = ERR_IO;
            break;
        } else {
            rc = cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_NETWORK;
            delivery_set_err(err, errlen, "delivery: %s %s failed: %s", x->method, host,
                             curl_err[0] ? curl_err : curl_easy_strerror(cc));
            retry = cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL;
        }
        if (!retry || attempt >= S3_MAX_RETRIES)
            break;
        char after[64];
        int64_t wait = http_retry_after_ms(
            NULL, s3_header(x, "retry-after", after, sizeof after) ? after : NULL, clock_wall_ms());
        int64_t delay = http_retry_delay_ms(attempt, S3_RETRY_BASE_MS, S3_RETRY_CAP_MS, wait,
                                            (double)(clock_now_ns() % 1000) / 1000.0);
        if (delay < 0)
            break;
        log_warn("delivery", "s3: %s %s answered %ld; retrying in %lld ms", x->method, host,
                 x->status, (long long)delay);
        clock_sleep_ms(delay, NULL);
    }
    curl_slist_free_all(headers);
    return rc;
}

/* The text between <tag> and </tag> in xml, into out ("" when absent). */
static void s3_xml_field(const char *xml, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    out[0] = '\0';
    const char *a = strstr(xml, open);
    const char *b = a ? strstr(a, close) : NULL;
    if (!a || !b)
        return;
    a += strlen(open);
    size_t n = (size_t)(b - a) < outlen - 1 ? (size_t)(b - a) : outlen - 1;
    memcpy(out, a, n);
    out[n] = '\0';
}

/* An S3 error answer as an ERR_* code and a sentence. */
static int s3_error(struct delivery_s3 *s, const struct s3_exchange *x, const char *doing,
                    char *err, size_t errlen)
{
    char code[64], message[320];
    s3_xml_field(buf_str(&x->body), "Code", code, sizeof code);
    s3_xml_field(buf_str(&x->body), "Message", message, sizeof message);
    int rc = ERR_HTTP;
    const char *hint = "";
    if (x->status == 403 || strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "InvalidAccessKeyId") == 0) {
        rc = ERR_AUTH;
        hint = strcmp(code, "SignatureDoesNotMatch") == 0  ? " (check the secret access key)"
               : strcmp(code, "InvalidAccessKeyId") == 0   ? " (check the access key id)"
               : strcmp(code, "RequestTimeTooSkewed") == 0 ? " (check this machine's clock)"
                                                           : "";
    } else if (strcmp(code, "NoSuchBucket") == 0) {
        rc = ERR_CONFIG;
    } else if (x->status == 429 || x->status == 503 || strcmp(code, "SlowDown") == 0) {
        rc = ERR_RATE_LIMIT;
    }
    delivery_set_err(err, errlen, "S3 refused %s (region %s): HTTP %ld %s: %s%s", doing, s->region,
                     x->status, code[0] ? code : "(no code)", message[0] ? message : "(no message)",
                     hint);
    return rc;
}

/* ---- the backend ---------------------------------------------------------------------------- */

static char *s3_link(struct delivery_s3 *s, const char *key)
{
    if (s->public_base)
        return xasprintf("%s/%s", s->public_base, key);
    char *path = xasprintf("%s/%s", s->path_base, key);
    struct delivery_presign p = {
        .method = "GET",
        .host = s->host,
        .path = path,
        .region = s->region,
        .access_key = s->access_key,
        .secret_key = s->secret_key,
        .session_token = s->session_token,
        .now = clock_wall_ms() / 1000,
        .expires_s = s->presign_s,
    };
    char *query = delivery_s3_presign_query(&p);
    char *encoded = delivery_s3_uri_encode(key);
    char *url = xasprintf("%s/%s?%s", s->object_base, encoded, query);
    free(encoded);
    free(query);
    free(path);
    return url;
}

static int s3_upload(struct delivery *d, const char *path, int64_t size, const char *name,
                     const char *content_type, struct delivery_link *out, char *err, size_t errlen)
{
    struct delivery_s3 *s = (struct delivery_s3 *)d;
    char token[DELIVERY_TOKEN_HEX + 1], hash[DELIVERY_SHA256_HEX];
    int64_t hashed = 0;
    char *key = NULL, *url = NULL;
    struct s3_exchange x = {
        .method = "PUT", .path = path, .content_type = content_type, .payload_hash = hash};
    buf_init(&x.body, 0);
    buf_init(&x.headers, S3_HEADERS_MAX);
    int rc = delivery_random_token(token, err, errlen);
    if (rc || (rc = delivery_sha256_file(path, hash, &hashed, err, errlen)))
        goto out;
    key = xasprintf("%s%s/%s", s->prefix, token, name);
    url = xasprintf("%s/%s", s->object_base, key);
    if (!(x.in = fopen(path, "rb"))) {
        delivery_set_err(err, errlen, "delivery: cannot open %s: %s", path, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    x.url = url;
    x.size = hashed;
    if ((rc = s3_perform(s, &x, err, errlen)))
        goto out;
    if (x.status < 200 || x.status > 299) {
        rc = s3_error(s, &x, "the upload", err, errlen);
        goto out;
    }
    out->url = s3_link(s, key);
    out->handle = xasprintf("s3:%s", key);
    log_info("delivery", "s3: uploaded %s (%lld bytes)", key, (long long)hashed);
out:
    if (x.in)
        fclose(x.in);
    buf_free(&x.body);
    buf_free(&x.headers);
    free(key);
    free(url);
    return rc;
}

/* Keys this backend makes: prefix + 32 hex + "/" + a valid name. */
static bool s3_key_valid(struct delivery_s3 *s, const char *key)
{
    size_t plen = strlen(s->prefix);
    if (strncmp(key, s->prefix, plen) != 0)
        return false;
    const char *t = key + plen;
    for (int i = 0; i < DELIVERY_TOKEN_HEX; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return t[DELIVERY_TOKEN_HEX] == '/' && delivery_name_valid(t + DELIVERY_TOKEN_HEX + 1);
}

static int s3_remove(struct delivery *d, const char *key, char *err, size_t errlen)
{
    struct delivery_s3 *s = (struct delivery_s3 *)d;
    if (!s3_key_valid(s, key)) {
        delivery_set_err(err, errlen,
                         "delivery: \"s3:%.64s\" is not an S3 delivery handle of "
                         "this bucket and prefix",
                         key);
        return ERR_INVALID;
    }
    char *url = xasprintf("%s/%s", s->object_base, key);
    struct s3_exchange x = {.method = "DELETE", .url = url, .payload_hash = S3_EMPTY_SHA256};
    buf_init(&x.body, 0);
    buf_init(&x.headers, S3_HEADERS_MAX);
    int rc = s3_perform(s, &x, err, errlen);
    if (rc == 0 && x.status != 404 && (x.status < 200 || x.status > 299))
        rc = s3_error(s, &x, "deleting the object", err, errlen);
    buf_free(&x.body);
    buf_free(&x.headers);
    free(url);
    return rc;
}

static void s3_close(struct delivery *d)
{
    struct delivery_s3 *s = (struct delivery_s3 *)d;
    if (s->easy)
        curl_easy_cleanup(s->easy);
    free(s->region);
    free(s->access_key);
    s3_wipe_free(s->secret_key);
    s3_wipe_free(s->session_token);
    free(s->host);
    free(s->object_base);
    free(s->path_base);
    free(s->prefix);
    free(s->public_base);
    free(s);
}

static const struct delivery_backend s3_backend = {
    .name = "s3",
    .upload = s3_upload,
    .remove = s3_remove,
    .close = s3_close,
};

static bool s3_text_ok(const char *s, const char *extra, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p)))
            return false;
    return true;
}

/* Whether a key prefix has a "." or ".." segment, which URL normalisation
 * would fold away (reaching another key, breaking the signature). */
static bool s3_dot_segment(const char *prefix)
{
    for (const char *seg = prefix; *seg;) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return true;
        seg += n;
        if (*seg == '/')
            seg++;
    }
    return false;
}

/* "host[:port]" as the Host header carries it: the default port dropped. */
static char *s3_endpoint_host(const char *endpoint)
{
    char host[256];
    http_url_host(endpoint, host, sizeof host);
    size_t n = strlen(host);
    bool https = strncmp(endpoint, "https://", 8) == 0;
    const char *dflt = https ? ":443" : ":80";
    if (n > strlen(dflt) && strcmp(host + n - strlen(dflt), dflt) == 0)
        host[n - strlen(dflt)] = '\0';
    return xstrdup(host);
}

/* Checks the options; NULL or the sentence's subject of what is wrong. */
static const char *s3_check_options(const struct delivery_options *o)
{
    if (!s3_text_ok(o->s3.bucket, ".-", 63))
        return "s3 bucket (a bucket name)";
    if (!s3_text_ok(o->s3.region, "-", 32))
        return "s3 region (e.g. us-east-1)";
    if (!o->s3.access_key || !*o->s3.access_key || !o->s3.secret_key || !*o->s3.secret_key)
        return "S3 credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";
    if (strpbrk(o->s3.access_key, ":\r\n") ||
        (o->s3.session_token && strpbrk(o->s3.session_token, "\r\n")))
        return "S3 credentials without ':' or line breaks";
    const char *e = o->s3.endpoint;
    if (e && ((strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0) ||
              strchr(strstr(e, "://") + 3, '/') != NULL || strchr(e, '?')))
        return "s3 endpoint as http(s)://HOST[:PORT] with no path";
    const char *p = o->s3.key_prefix;
    if (p && *p &&
        (!s3_text_ok(p, "._/-", S3_PREFIX_MAX) || p[0] == '/' || strstr(p, "//") ||
         s3_dot_segment(p)))
        return "s3 key prefix of A-Z a-z 0-9 . _ / - (no leading or double '/', no . or .. "
               "segment)";
    const char *pub = o->s3.public_base_url;
    if (pub && strncmp(pub, "http://", 7) != 0 && strncmp(pub, "https://", 8) != 0)
        return "s3 public base URL as http(s)://...";
    if (o->s3.presign_seconds < 0 || o->s3.presign_seconds > DELIVERY_S3_PRESIGN_MAX_S)
        return "s3 presign seconds between 1 and 604800";
    return NULL;
}

_Static_assert(3 + S3_PREFIX_MAX + DELIVERY_TOKEN_HEX + 1 + DELIVERY_NAME_MAX <=
                   DELIVERY_HANDLE_MAX,
               "an S3 handle must fit DELIVERY_HANDLE_MAX");

int delivery_s3_new(const struct delivery_options *opts, struct delivery **out, char *err,
                    size_t errlen)
{
    const char *bad = s3_check_options(opts);
    if (bad) {
        delivery_set_err(err, errlen, "delivery: the s3 backend needs a valid %s", bad);
        return ERR_CONFIG;
    }
    http_curl_init();
    struct delivery_s3 *s = xcalloc(1, sizeof *s);
    s->base.backend = &s3_backend;
    s->easy = curl_easy_init();
    if (!s->easy) {
        fputs("harde: libcurl handle creation failed\n", stderr);
        abort();
    }
    const char *bucket = opts->s3.bucket;
    s->region = xstrdup(opts->s3.region);
    s->access_key = xstrdup(opts->s3.access_key);
    s->secret_key = xstrdup(opts->s3.secret_key);
    s->session_token =
        opts->s3.session_token && *opts->s3.session_token ? xstrdup(opts->s3.session_token) : NULL;
    if (opts->s3.endpoint) {
        char *endpoint = delivery_trim_url(opts->s3.endpoint);
        s->host = s3_endpoint_host(endpoint);
        s->object_base = xasprintf("%s/%s", endpoint, bucket);
        s->path_base = xasprintf("/%s", bucket);
        free(endpoint);
    } else {
        s->host = xasprintf("%s.s3.%s.amazonaws.com", bucket, opts->s3.region);
        s->object_base = xasprintf("https://%s", s->host);
        s->path_base = xstrdup("");
    }
    s->prefix = xstrdup(opts->s3.key_prefix ? opts->s3.key_prefix : "");
    s->public_base = opts->s3.public_base_url ? delivery_trim_url(opts->s3.public_base_url) : NULL;
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", opts->s3.region);
    s->presign_s =
        opts->s3.presign_seconds > 0 ? opts->s3.presign_seconds : DELIVERY_S3_PRESIGN_DEFAULT_S;
    s->timeout_ms = delivery_timeout_ms(opts);
    *out = &s->base;
    return 0;
}
