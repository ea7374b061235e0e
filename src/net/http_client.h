/* http_client — the one place Hard-E makes outbound HTTP requests.
 *
 * A struct http_client is a long-lived handle (libcurl easy + multi handles)
 * that keeps connections alive between requests; use one per thread. One
 * call, http_client_request, performs a request with everything an API
 * client needs: connect, total and idle timeouts; a bound on the response
 * body; optional streaming of a successful body to a callback (for SSE);
 * cancellation through a flag a signal handler may set, noticed within
 * about 50 ms; and the retry policy of net/http_retry.h (transport errors,
 * 408/409/429/5xx, Retry-After, backoff with jitter), never retrying once
 * streamed bytes reached the caller.
 *
 * Request header values are never logged (they carry keys); log lines name
 * only the method, host and path. */
#ifndef HARDE_NET_HTTP_CLIENT_H
#define HARDE_NET_HTTP_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_TIMEOUT_MS         60000
#define HTTP_DEFAULT_MAX_RESPONSE       (8u << 20) /* body bytes */
#define HTTP_MAX_RESPONSE_HEADERS       (64u << 10)
#define HTTP_MAX_REQUEST_HEADERS        64

struct http_client;
struct http_response;

/* Receives a piece of a successful (2xx) body when streaming. Returns 0 to go
 * on, or a negative ERR_* code that aborts the transfer; http_client_request
 * then returns that code (the callback keeps its own message). */
typedef int http_body_cb(const char *data, size_t len, void *user);

/* Asked before retrying a response the policy would retry (status, headers
 * and body are filled). Returns false to give up instead — e.g. a 429 that
 * says the account is out of credit. */
typedef bool http_retry_filter_cb(const struct http_response *resp, void *user);

struct http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE", …; NULL: POST with a body, else GET */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    long connect_timeout_ms; /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* whole attempt; 0: HTTP_DEFAULT_TIMEOUT_MS */
    long idle_timeout_ms;    /* longest time without receiving a byte; 0: none */
    size_t max_response;     /* body bytes kept or streamed; 0: HTTP_DEFAULT_MAX_RESPONSE */
    http_body_cb *on_body;   /* NULL: the body is collected into response->body */
    void *body_user;
    http_retry_filter_cb *retry_filter; /* may be NULL */
    void *retry_user;
    volatile sig_atomic_t *cancel; /* non-zero abandons the request; may be NULL */
    int max_retries;    /* < 0: HTTP_RETRY_DEFAULT_MAX; capped at HTTP_RETRY_MAX_RETRIES */
    long retry_base_ms; /* 0: HTTP_RETRY_DEFAULT_BASE_MS */
    long retry_cap_ms;  /* 0: HTTP_RETRY_DEFAULT_CAP_MS */
};

/* A request with every knob at its default (max_retries = -1). */
#define HTTP_REQUEST_INIT ((struct http_request){.max_retries = -1})

struct http_response {
    long status;        /* of the last attempt; 0 when no response arrived */
    struct buf body;    /* the body, unless it was streamed to on_body */
    struct buf headers; /* the last response's header lines, "\r\n"-separated */
    char *content_type; /* new, or NULL */
    char *request_id;   /* x-request-id, new, or NULL */
    int attempts;       /* attempts made (1 + retries) */
    bool streamed;      /* body bytes were delivered to on_body */
    int64_t elapsed_ms; /* wall time of the whole call, retries included */
};

/* A new client; never NULL (libcurl setup failures abort like OOM). */
struct http_client *http_client_new(void);
void http_client_free(struct http_client *client);

void http_response_init(struct http_response *resp);
void http_response_free(struct http_response *resp);

/* Performs req, retrying as the policy allows. client may be NULL for a
 * one-off request. resp must be initialised; it is reset first and describes
 * the last attempt. Returns:
 *   0              a 2xx response;
 *   ERR_HTTP       another status (resp->status and body hold the answer);
 *   ERR_TIMEOUT    no complete answer within timeout_ms or idle_timeout_ms;
 *   ERR_NETWORK    could not connect (refused, no such host, connect timeout)
 *                  or the connection failed;
 *   ERR_LIMIT      the body (or headers) exceeded its bound;
 *   ERR_CANCELED   *req->cancel became non-zero;
 *   ERR_INVALID    a bad request (no URL, too many headers, unsupported URL);
 *   or the code returned by on_body.
 * Every failure but on_body's writes a sentence naming the host into err. */
int http_client_request(struct http_client *client, const struct http_request *req,
                        struct http_response *resp, char *err, size_t errlen);

/* The value of header name (case-insensitive) in resp's last response,
 * copied into out (truncated to outlen - 1); true when present. */
bool http_response_header(const struct http_response *resp, const char *name, char *out,
                          size_t outlen);

/* Writes "host[:port]" of url into out; "" when url has none. */
void http_url_host(const char *url, char *out, size_t outlen);

/* Initialises libcurl once per process (thread-safe). Every libcurl user in
 * the program calls it before its first easy handle: this client, IMAP and
 * SMTP, and the S3 delivery. */
void http_curl_init(void);

#endif
