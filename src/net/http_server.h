/* http_server — Hard-E's generic HTTP server: routes, JSON bodies, SSE streams, limits.
 *
 * The server knows nothing about Hard-E. It listens on host:port (port 0 picks
 * a free one), walks a route table of method + path patterns with {params}
 * (`/v1/sessions/{id}/messages`), and calls a handler with a request object.
 * The handler answers with JSON, text or bytes, with the one error shape
 * `{"error":{"code":"not_found","message":"…"}}`, by opening a Server-Sent
 * Events stream, or by deferring the answer to another thread. Unknown paths
 * get 404, known paths with the wrong method 405 with an Allow header, bodies
 * over the limit 413, and so on, always in the same JSON shape.
 *
 * Design: libmicrohttpd with internal epoll threads (a small pool, 2 by
 * default). Handlers run on those threads, so they must be quick: anything
 * slow (a model call) goes to another thread with http_req_defer or
 * http_stream_open. A waiting request or an idle stream is a *suspended*
 * connection that costs no thread and no CPU; a producer's write appends to
 * the stream's bounded buffer and resumes the connection, so events reach the
 * socket within microseconds and the producer never waits for the network. A
 * monitor thread watches the sockets of suspended connections for hang-ups
 * (client disconnects are noticed at once, not at the next write) and sends
 * the SSE keep-alive comments.
 *
 * Threads: http_server_* functions are called from one controlling thread.
 * Handlers, the metrics hook and http_req_* in a handler run on server
 * threads. Deferred replies and every http_stream_* function may be called
 * from any thread. */
#ifndef HARDE_NET_HTTP_SERVER_H
#define HARDE_NET_HTTP_SERVER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_SERVER_DEFAULT_HOST         "127.0.0.1"
#define HTTP_SERVER_DEFAULT_THREADS      2
#define HTTP_SERVER_DEFAULT_MAX_BODY     (1u << 20) /* request body bytes */
#define HTTP_SERVER_DEFAULT_MAX_HEADERS  (8u << 10) /* request header bytes */
#define HTTP_SERVER_DEFAULT_MAX_URI      (4u << 10) /* request target bytes */
#define HTTP_SERVER_DEFAULT_TIMEOUT_S    60         /* idle seconds per connection */
#define HTTP_SERVER_DEFAULT_CONNECTIONS  4096       /* open connections */
#define HTTP_SERVER_DEFAULT_KEEPALIVE_MS 15000
#define HTTP_SERVER_DEFAULT_STREAM_BUF   (1u << 20) /* bytes queued per stream */
#define HTTP_SERVER_DEFAULT_GRACE_MS     5000
#define HTTP_SERVER_MAX_ROUTES           256
#define HTTP_SERVER_MAX_SEGMENTS         32 /* path segments in a pattern */

struct http_server;
struct http_req;    /* one request, handed to a handler (borrowed) */
struct http_stream; /* one SSE response, owned by the application until closed */

/* Why a deferred request or an open stream ended without the application
 * closing it. */
enum http_gone {
    HTTP_GONE_CLIENT,   /* the client disconnected (or the socket failed) */
    HTTP_GONE_TIMEOUT,  /* the client stopped reading for the connection timeout */
    HTTP_GONE_STOPPING, /* the server is stopping */
};

/* Handles one request on a server thread. It must answer with exactly one
 * http_reply_* call, http_stream_open, or http_req_defer; returning without
 * doing so answers 500. req is borrowed and valid until the answer is given. */
typedef void http_handler_fn(struct http_req *req, void *user);

/* Told, at most once and on whichever thread noticed it, that the client of
 * a deferred request or open stream is gone, so the application can cancel
 * its work. Keep it short and non-blocking; it may call http_stream_close. */
typedef void http_gone_fn(enum http_gone why, void *user);

/* One finished request, for metrics (all pointers borrowed for the call). */
struct http_request_metrics {
    const char *method;
    const char *route;   /* the matched pattern; NULL when no route matched */
    int status;          /* status sent; 0 when the connection closed first */
    int64_t duration_ns; /* from the request line to the last byte (whole stream) */
    size_t bytes_in;     /* request body bytes */
    size_t bytes_out;    /* response body bytes (stream bytes for SSE) */
    bool stream;         /* an SSE response */
    bool completed;      /* the response was sent in full */
};

/* Called on a server thread after every request (for a stream: when it
 * ended); must be quick and thread-safe. */
typedef void http_metrics_fn(const struct http_request_metrics *m, void *user);

/* Every field may be left zero for its default. */
struct http_server_config {
    const char *host;            /* numeric address or name; NULL: HTTP_SERVER_DEFAULT_HOST */
    int port;                    /* 0: a free port, see http_server_port */
    int threads;                 /* event-loop threads; 0: HTTP_SERVER_DEFAULT_THREADS */
    size_t max_body;             /* request body bytes (413); 0: default */
    size_t max_headers;          /* request header bytes (431); 0: default */
    size_t max_uri;              /* request target bytes (414); 0: default. A request
                                    beyond twice both (libmicrohttpd's per-connection
                                    memory) gets libmicrohttpd's own non-JSON 414/431 */
    unsigned timeout_s;          /* idle seconds before a connection is closed; 0: default */
    unsigned max_connections;    /* open connections, split evenly between the threads;
                                    more wait in the kernel's accept queue; 0: default */
    int keepalive_ms;            /* SSE comment after this long idle; 0: default; < 0: none */
    size_t max_stream_buffer;    /* unsent bytes per stream before writes fail; 0: default */
    int grace_ms;                /* http_server_stop waits this long for requests; 0: default */
    http_metrics_fn *on_request; /* may be NULL */
    void *metrics_user;
};

/* ---- the server ------------------------------------------------------------ */

/* A new, stopped server with a copy of config (NULL: all defaults). */
struct http_server *http_server_new(const struct http_server_config *config);
/* Stops the server if it runs and frees it. NULL is allowed. */
void http_server_free(struct http_server *server);

/* Adds a route before http_server_start. method is "GET", "POST", …; a GET
 * route also answers HEAD. pattern starts with '/' and its segments are
 * literals or "{name}" (one whole segment, matched percent-decoded). Where
 * two patterns match, the one with a literal at the first differing segment
 * wins. Returns 0, or ERR_INVALID (bad pattern, duplicate, server running)
 * or ERR_LIMIT (too many routes or segments) with a message in err. */
int http_server_route(struct http_server *server, const char *method, const char *pattern,
                      http_handler_fn *handler, void *user, char *err, size_t errlen);
/* Adds a GET route that answers with bytes from memory (borrowed: they must
 * outlive the server), with content_type, an ETag (If-None-Match gives 304)
 * and cache_control (NULL: "no-cache"). Returns like http_server_route. */
int http_server_static(struct http_server *server, const char *path, const char *content_type,
                       const void *data, size_t len, const char *cache_control, char *err,
                       size_t errlen);

/* Binds and starts serving. Returns 0, ERR_INVALID (already started, bad
 * host) or ERR_NETWORK (cannot bind, e.g. the port is taken) with a message. */
int http_server_start(struct http_server *server, char *err, size_t errlen);
/* The bound port once started (useful with port 0), else 0. */
int http_server_port(const struct http_server *server);
/* Graceful stop: stops accepting connections, answers new requests on open
 * connections with 503, ends every open stream (queued events are still
 * sent, then the stream closes cleanly) and every deferred request (503),
 * telling the application through its http_gone_fn (HTTP_GONE_STOPPING),
 * waits up to grace_ms for requests in flight, then closes every connection.
 * The server can be started again. No-op when not running. */
void http_server_stop(struct http_server *server);
/* SSE streams currently open. */
int http_server_active_streams(const struct http_server *server);

/* ---- the request (borrowed strings, valid until the answer is given) -------- */

const char *http_req_method(const struct http_req *req);
/* The path as received, without the query string. */
const char *http_req_path(const struct http_req *req);
/* The matched pattern, e.g. "/v1/sessions/{id}". */
const char *http_req_route(const struct http_req *req);
/* A {param} of the pattern, percent-decoded; NULL when the route has none. */
const char *http_req_param(const struct http_req *req, const char *name);
/* A query argument, decoded ('+' is a space); "" for "?flag"; NULL when absent. */
const char *http_req_query(const struct http_req *req, const char *name);
/* A request header, name matched without case; NULL when absent. */
const char *http_req_header(const struct http_req *req, const char *name);
/* A cookie's value as sent; NULL when absent. */
const char *http_req_cookie(const struct http_req *req, const char *name);
/* The client's numeric address, e.g. "127.0.0.1" or "::1". */
const char *http_req_client_addr(const struct http_req *req);
/* The body (NUL-terminated, may hold NULs); *len gets its size (len may be NULL). */
const char *http_req_body(const struct http_req *req, size_t *len);
/* True when the Accept header names mime_type (e.g. "text/event-stream"). */
bool http_req_accepts(const struct http_req *req, const char *mime_type);
/* Parses the body as a JSON object or array into *out (a new reference).
 * On failure answers 400 {"error":{"code":"invalid_json","message":…}} naming
 * the line, column, byte position and jansson's reason, and returns
 * ERR_PARSE: the handler then just returns. */
int http_req_json(struct http_req *req, json_t **out);

/* Takes the answer to another thread: the handler returns, the connection
 * waits (suspended, no thread held) and any thread later calls one http_reply_*
 * on req, or http_stream_open. The application must answer exactly once even
 * after on_gone was called (the answer is then dropped); req and its strings
 * stay valid until then. on_gone (may be NULL) learns of a client that hangs
 * up meanwhile. Only in a handler; returns 0 or ERR_INVALID. */
int http_req_defer(struct http_req *req, http_gone_fn *on_gone, void *user);
/* A flag that becomes non-zero when the client of a deferred request or
 * stream is gone (for http_client's and clock_sleep_ms's cancel argument).
 * Borrowed: valid until the request is answered or the stream closed. */
volatile sig_atomic_t *http_req_cancel_flag(struct http_req *req);

/* ---- answers ----------------------------------------------------------------
 * Each returns 0; ERR_INVALID when req was already answered; or, for a
 * deferred request, ERR_CANCELED when its client left or the server answered
 * 503 while stopping (the answer is dropped, the request is released all the
 * same). */

/* Adds a response header (copied) to the coming answer, e.g. Set-Cookie. */
int http_reply_header(struct http_req *req, const char *name, const char *value);
/* Answers with body as JSON (steals the reference; NULL sends "{}"). */
int http_reply_json(struct http_req *req, int status, json_t *body);
/* Answers text/plain; charset=utf-8 (copied). */
int http_reply_text(struct http_req *req, int status, const char *text);
/* Answers with len bytes of data (copied), content_type, and cache_control as
 * the Cache-Control header (NULL: none). */
int http_reply_bytes(struct http_req *req, int status, const char *content_type, const void *data,
                     size_t len, const char *cache_control);
/* Answers with no body (204, 304, …). */
int http_reply_empty(struct http_req *req, int status);
/* Answers with the one error shape {"error":{"code":code,"message":…}};
 * code NULL picks the usual one for status ("not_found", "bad_request", …). */
int http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The usual error code for an HTTP status, e.g. 404 → "not_found" (static). */
const char *http_error_code(int status);

/* ---- Server-Sent Events ---------------------------------------------------- */

struct http_stream_options {
    int keepalive_ms;      /* 0: the server's keepalive_ms; < 0: none */
    size_t max_buffer;     /* 0: the server's max_stream_buffer */
    http_gone_fn *on_gone; /* may be NULL */
    void *user;
};

/* Answers req with 200 text/event-stream (plus headers from
 * http_reply_header) and returns a new stream handle that any thread may
 * write to; the caller owns it and must release it with http_stream_close,
 * also after on_gone (the handle outlives the connection, and even the
 * server: sends then fail with ERR_CANCELED). Called in a handler, or from
 * any thread on a deferred request (it is that request's answer). opts may
 * be NULL. NULL when req was already answered. */
struct http_stream *http_stream_open(struct http_req *req, const struct http_stream_options *opts);
/* Queues one event: "event: NAME" (NULL/"" for none), "id: ID" (NULL for
 * none), and data split on "\n", "\r\n" and "\r" into one "data:" line each.
 * Never blocks on the network. Returns 0; ERR_CANCELED when the client is
 * gone, the server is stopping or the stream was closed; ERR_LIMIT when the
 * event would take the unsent bytes past max_buffer (a client that stopped
 * reading; nothing is queued, the stream stays open);
 * ERR_INVALID when event or id holds a line break. */
int http_stream_send(struct http_stream *stream, const char *event, const char *id,
                     const char *data, size_t len);
/* http_stream_send with data = the compact JSON text of value (borrowed). */
int http_stream_send_json(struct http_stream *stream, const char *event, const json_t *value);
/* Queues a ": text" comment line (clients ignore it). Returns like send. */
int http_stream_comment(struct http_stream *stream, const char *text);
/* True once the client is gone or the server is stopping. */
bool http_stream_gone(const struct http_stream *stream);
/* The stream's cancel flag (see http_req_cancel_flag); borrowed until close. */
volatile sig_atomic_t *http_stream_cancel_flag(struct http_stream *stream);
/* Ends the stream: queued events are still sent, then the response ends
 * cleanly. Releases the handle; after it returns on_gone will not be called.
 * NULL is allowed. */
void http_stream_close(struct http_stream *stream);

#endif
