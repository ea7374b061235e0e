/* http_server — the server's lifecycle and its libmicrohttpd callbacks.
 *
 * Owns the daemon, the route table, the limits and the monitor thread (see
 * http_server_internal.h for the room). The access handler is called by
 * libmicrohttpd several times per request: first when the headers are in,
 * where the limits that need no body (URI, headers, Content-Length) and the
 * routing (404, 405, OPTIONS) are settled before a body byte is read; then
 * once per piece of body; then with no data, where the handler runs. A
 * handler's answer (or a deferred one, when the resumed connection comes
 * back) is queued by serve_answer, the one place that queues, suspends or
 * gives up on a connection.
 *
 * libmicrohttpd is told not to unescape the path (the route table decodes
 * each segment, so "%2F" stays inside a parameter) nor the query (decoded
 * when captured). The URI log callback only measures the request target:
 * it returns the length as a tagged integer (low bit set) in place of the
 * request pointer, because requests that never reach the access handler get
 * no completion notification, so nothing may be allocated there. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

#define POOL_MIN     (32u << 10) /* libmicrohttpd's per-connection memory */
#define BODY_DISCARD (4u << 20)  /* extra bytes of an oversized body read before hanging up */

/* ---- construction ------------------------------------------------------------ */

static void fill_defaults(struct http_server_config *c)
{
    if (!c->host)
        c->host = HTTP_SERVER_DEFAULT_HOST;
    if (c->threads <= 0)
        c->threads = HTTP_SERVER_DEFAULT_THREADS;
    if (!c->max_body)
        c->max_body = HTTP_SERVER_DEFAULT_MAX_BODY;
    if (!c->max_headers)
        c->max_headers = HTTP_SERVER_DEFAULT_MAX_HEADERS;
    if (!c->max_uri)
        c->max_uri = HTTP_SERVER_DEFAULT_MAX_URI;
    if (!c->timeout_s)
        c->timeout_s = HTTP_SERVER_DEFAULT_TIMEOUT_S;
    if (!c->max_connections)
        c->max_connections = HTTP_SERVER_DEFAULT_CONNECTIONS;
    if (!c->keepalive_ms)
        c->keepalive_ms = HTTP_SERVER_DEFAULT_KEEPALIVE_MS;
    if (!c->max_stream_buffer)
        c->max_stream_buffer = HTTP_SERVER_DEFAULT_STREAM_BUF;
    if (c->grace_ms <= 0)
        c->grace_ms = HTTP_SERVER_DEFAULT_GRACE_MS;
}

struct http_server *http_server_new(const struct http_server_config *config)
{
    struct http_server *s = xcalloc(1, sizeof *s);
    if (config)
        s->cfg = *config;
    fill_defaults(&s->cfg);
    s->host = xstrdup(s->cfg.host);
    s->cfg.host = s->host;
    s->epoll_fd = s->wake_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &attr);
    pthread_condattr_destroy(&attr);
    return s;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    http_server_stop(s);
    for (size_t i = 0; i < s->nroutes; i++)
        http_route_free(&s->routes[i]);
    free(s->routes);
    free(s->watches);
    free(s->free_slots);
    free(s->host);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Adds a compiled route; takes r's strings. */
static int add_route(struct http_server *s, struct http_route *r, char *err, size_t errlen)
{
    int rc = 0;
    if (s->daemon) {
        snprintf(err, errlen, "routes must be added before the server starts");
        rc = ERR_INVALID;
        goto out;
    }
    if (s->nroutes == HTTP_SERVER_MAX_ROUTES) {
        snprintf(err, errlen, "more than %d routes", HTTP_SERVER_MAX_ROUTES);
        rc = ERR_LIMIT;
        goto out;
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        if (http_route_same(&s->routes[i], r)) {
            snprintf(err, errlen, "%s %s duplicates %s", r->method, r->pattern,
                     s->routes[i].pattern);
            rc = ERR_INVALID;
            goto out;
        }
    }
    s->routes = xrealloc(s->routes, (s->nroutes + 1) * sizeof *s->routes);
    s->routes[s->nroutes++] = *r;
    return 0;
out:
    http_route_free(r);
    return rc;
}

int http_server_route(struct http_server *s, const char *method, const char *pattern,
                      http_handler_fn *handler, void *user, char *err, size_t errlen)
{
    struct http_route r;
    if (!handler) {
        snprintf(err, errlen, "a route needs a handler");
        return ERR_INVALID;
    }
    int rc = http_route_compile(&r, method, pattern, err, errlen);
    if (rc)
        return rc;
    r.handler = handler;
    r.user = user;
    return add_route(s, &r, err, errlen);
}

int http_server_static(struct http_server *s, const char *path, const char *content_type,
                       const void *data, size_t len, const char *cache_control, char *err,
                       size_t errlen)
{
    struct http_route r;
    if (!data && len) {
        snprintf(err, errlen, "static route %s has no data", path ? path : "(null)");
        return ERR_INVALID;
    }
    int rc = http_route_compile(&r, "GET", path, err, errlen);
    if (rc)
        return rc;
    if (r.param_mask) {
        snprintf(err, errlen, "static route %s cannot have parameters", path);
        http_route_free(&r);
        return ERR_INVALID;
    }
    r.static_data = data ? data : "";
    r.static_len = len;
    r.content_type = xstrdup(content_type ? content_type : "application/octet-stream");
    r.cache_control = xstrdup(cache_control ? cache_control : "no-cache");
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ ((const unsigned char *)data)[i]) * 1099511628211ull;
    snprintf(r.etag, sizeof r.etag, "\"%016llx\"", (unsigned long long)hash);
    return add_route(s, &r, err, errlen);
}

int http_server_port(const struct http_server *s)
{
    return s->daemon ? s->port : 0;
}

int http_server_active_streams(const struct http_server *s)
{
    return atomic_load(&s->active_streams);
}

/* ---- answering ---------------------------------------------------------------- */

static bool is_uri_tag(const void *p)
{
    return ((uintptr_t)p & 1u) != 0;
}

/* Hands resp to libmicrohttpd (server thread). */
static enum MHD_Result queue(struct http_server *s, struct http_req *req, struct MHD_Response *resp)
{
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    req->queued = true;
    if (r == MHD_YES && req->stream && !req->stream_counted) {
        req->stream_counted = true;
        atomic_fetch_add(&s->active_streams, 1);
    }
    return r;
}

/* Queues the answer if there is one; otherwise suspends a deferred request,
 * answers 503 for one caught by a stop, hangs up on one whose client left,
 * or answers 500 for a handler that gave no answer. */
static enum MHD_Result serve_answer(struct http_server *s, struct http_req *req)
{
    pthread_mutex_lock(&req->lock);
    struct MHD_Response *resp = req->pending;
    req->pending = NULL;
    if (!resp) {
        const char *why = NULL;
        int status = 0;
        if (!req->answered && !req->deferred) {
            status = 500, why = "the handler gave no answer";
            log_error("http", "%s %s: the handler gave no answer", req->method, req->path);
        } else if (req->gone && req->why != HTTP_GONE_STOPPING) {
            pthread_mutex_unlock(&req->lock);
            return MHD_NO; /* the client left: close the connection */
        } else if (req->gone || atomic_load(&s->stopping)) {
            status = 503, why = "the server is stopping";
        } else {
            req->suspended = true;
            MHD_suspend_connection(req->conn);
            pthread_mutex_unlock(&req->lock);
            return MHD_YES;
        }
        size_t len;
        resp = http_error_response(status, NULL, why, &len);
        req->answered = true;
        req->status = status;
        req->bytes_out = len;
    }
    pthread_mutex_unlock(&req->lock);
    return queue(s, req, resp);
}

/* Answers an error at once from the server thread (limits, routing). */
static enum MHD_Result answer_error(struct http_server *s, struct http_req *req, int status,
                                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result answer_error(struct http_server *s, struct http_req *req, int status,
                                    const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t len;
    struct MHD_Response *resp = http_error_response(status, NULL, message, &len);
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->match.allow);
    if (status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    http_req_answer(req, status, resp, len);
    return serve_answer(s, req);
}

static void serve_static(struct http_req *req, const struct http_route *r)
{
    const char *match = http_req_header(req, "If-None-Match");
    bool fresh = match && (strstr(match, r->etag) || !strcmp(match, "*"));
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(r->static_len, (void *)r->static_data,
                                                MHD_RESPMEM_PERSISTENT);
    if (!fresh)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    http_req_answer(req, fresh ? 304 : 200, resp, fresh ? 0 : r->static_len);
}

/* ---- the access handler ------------------------------------------------------- */

/* True when the request announces a body (Content-Length > 0 or chunked). */
static bool has_body(struct http_req *req, unsigned long long *length)
{
    *length = 0;
    const char *value =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (value) {
        char *end;
        errno = 0;
        *length = strtoull(value, &end, 10);
        if (errno || end == value)
            *length = ULLONG_MAX;
    }
    return *length > 0 || MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* Refuses the request with an error. A request with a body is answered at
 * once (its body is not worth reading; libmicrohttpd then closes the
 * connection); one without waits for the last call of the access handler,
 * so that the connection stays open for the next request. */
static enum MHD_Result refuse(struct http_server *s, struct http_req *req, bool body, int status,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result refuse(struct http_server *s, struct http_req *req, bool body, int status,
                              const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (body || status == 503)
        return answer_error(s, req, status, "%s", message);
    req->refuse_status = status;
    req->refuse_message = http_arena_strndup(&req->arena, message, strlen(message));
    return MHD_YES;
}

/* Headers are in: limits and routing, before any body byte is read. */
static enum MHD_Result first_call(struct http_server *s, struct http_req *req)
{
    const struct http_server_config *c = &s->cfg;
    unsigned long long length;
    bool body = has_body(req, &length);
    if (atomic_load(&s->stopping))
        return refuse(s, req, body, 503, "the server is stopping");
    if (req->uri_len > c->max_uri)
        return refuse(s, req, body, 414, "the request target is longer than %zu bytes", c->max_uri);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (info && info->header_size > c->max_headers)
        return refuse(s, req, body, 431, "the request headers are larger than %zu bytes",
                      c->max_headers);
    http_route_find(s->routes, s->nroutes, req->method, req->path, &req->arena, &req->match);
    if (!req->match.route) {
        if (req->match.path_known && !strcmp(req->method, "OPTIONS"))
            return MHD_YES; /* answered 204 by dispatch */
        if (req->match.path_known)
            return refuse(s, req, body, 405, "%s is not allowed here; allowed: %s", req->method,
                          req->match.allow);
        return refuse(s, req, body, 404, "no route for %s", req->path);
    }
    if (length > c->max_body)
        return refuse(s, req, true, 413, "the request body is larger than %zu bytes", c->max_body);
    return MHD_YES;
}

static enum MHD_Result receive_body(struct http_server *s, struct http_req *req, const char *data,
                                    size_t len)
{
    req->body_seen += len;
    if (!req->body_too_large && buf_append(&req->body, data, len) != 0) {
        req->body_too_large = true;
        buf_free(&req->body);
    }
    /* A chunked body without Content-Length: read on to answer 413, but not forever. */
    if (req->body_too_large && req->body_seen > s->cfg.max_body + BODY_DISCARD)
        return MHD_NO;
    return MHD_YES;
}

static enum MHD_Result dispatch(struct http_server *s, struct http_req *req)
{
    req->dispatched = true;
    if (req->refuse_status)
        return answer_error(s, req, req->refuse_status, "%s", req->refuse_message);
    if (req->body_too_large)
        return answer_error(s, req, 413, "the request body is larger than %zu bytes",
                            s->cfg.max_body);
    if (atomic_load(&s->stopping))
        return answer_error(s, req, 503, "the server is stopping");
    if (!req->match.route) { /* OPTIONS on a known path */
        http_reply_header(req, MHD_HTTP_HEADER_ALLOW, req->match.allow);
        http_reply_empty(req, 204);
        return serve_answer(s, req);
    }
    http_req_capture(req);
    const struct http_route *r = req->match.route;
    if (r->static_data)
        serve_static(req, r);
    else
        r->handler(req, r->user);
    return serve_answer(s, req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    if (!*con_cls || is_uri_tag(*con_cls)) {
        size_t uri_len = (size_t)((uintptr_t)*con_cls >> 1);
        struct http_req *req = http_req_new(s, conn, method, url, uri_len);
        *con_cls = req;
        pthread_mutex_lock(&s->lock);
        s->inflight++;
        pthread_mutex_unlock(&s->lock);
        return first_call(s, req);
    }
    struct http_req *req = *con_cls;
    if (req->queued) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        return receive_body(s, req, upload_data, len);
    }
    if (!req->dispatched)
        return dispatch(s, req);
    return serve_answer(s, req); /* a deferred request came back */
}

/* ---- the other libmicrohttpd callbacks ------------------------------------------- */

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    if (!req || is_uri_tag(req))
        return;
    *con_cls = NULL;
    http_monitor_unwatch(s, req);
    pthread_mutex_lock(&req->lock);
    req->conn = NULL;
    req->completed = true;
    req->suspended = false;
    struct MHD_Response *pending = req->pending;
    req->pending = NULL;
    pthread_mutex_unlock(&req->lock);
    if (pending)
        MHD_destroy_response(pending);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        http_req_set_gone(req, toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED   ? HTTP_GONE_TIMEOUT
                               : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? HTTP_GONE_STOPPING
                                                                               : HTTP_GONE_CLIENT);
    if (req->stream_counted)
        atomic_fetch_sub(&s->active_streams, 1);
    if (s->cfg.on_request) {
        pthread_mutex_lock(&req->lock);
        struct http_request_metrics m = {
            .method = req->method,
            .route = http_req_route(req),
            .status = req->queued ? req->status : 0,
            .duration_ns = clock_now_ns() - req->start_ns,
            .bytes_in = req->body_seen,
            .bytes_out = req->bytes_out,
            .stream = req->stream != NULL,
            .completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
        };
        pthread_mutex_unlock(&req->lock);
        s->cfg.on_request(&m, s->cfg.metrics_user);
    }
    pthread_mutex_lock(&s->lock);
    s->inflight--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    http_req_unref(req);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    return (void *)(((uintptr_t)strlen(uri) << 1) | 1u);
}

static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    return strlen(s);
}

/* libmicrohttpd's own messages. A stream whose client left ("application
 * error generating response") and a client's oversized or malformed request
 * ("Error processing request") are routine, so only for debugging. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    bool routine = strstr(line, "application error generating response") ||
                   strstr(line, "Error processing request");
    log_write(routine ? LOG_DEBUG : LOG_WARN, "http", "libmicrohttpd: %s", line);
}

/* ---- start and stop ------------------------------------------------------------- */

static int resolve(const char *host, int port, struct sockaddr_storage *out, bool *v6, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host \"%s\": %s", host, gai_strerror(rc));
        return ERR_INVALID;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int http_server_start(struct http_server *s, char *err, size_t errlen)
{
    const struct http_server_config *c = &s->cfg;
    if (s->daemon) {
        snprintf(err, errlen, "the server is already running");
        return ERR_INVALID;
    }
    if (c->port < 0 || c->port > 65535) {
        snprintf(err, errlen, "invalid port %d", c->port);
        return ERR_INVALID;
    }
    struct sockaddr_storage addr;
    bool v6;
    int rc = resolve(c->host, c->port, &addr, &v6, err, errlen);
    if (rc)
        return rc;
    rc = http_monitor_start(s, err, errlen);
    if (rc)
        return rc;
    atomic_store(&s->stopping, 0);
    atomic_store(&s->min_keepalive_ms, 0);
    size_t pool = 2 * (c->max_headers + c->max_uri);
    if (pool < POOL_MIN)
        pool = POOL_MIN;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    /* The logger comes first so that option errors reach it too. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        c->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, s, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, s, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)c->threads, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", c->host, c->port,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        http_monitor_stop(s);
        return ERR_NETWORK;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : c->port;
    log_info("http", "listening on %s:%d", c->host, s->port);
    return 0;
}

/* Waits until no request is in flight or the deadline passes. */
static void wait_idle(struct http_server *s, int64_t deadline_ns)
{
    pthread_mutex_lock(&s->lock);
    while (s->inflight > 0 && clock_now_ns() < deadline_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 10 * 1000000; /* re-check the deadline at least every 10 ms */
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->idle, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
}

void http_server_stop(struct http_server *s)
{
    if (!s->daemon)
        return;
    int64_t deadline = clock_now_ns() + (int64_t)s->cfg.grace_ms * 1000000;
    atomic_store(&s->stopping, 1);
    MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
    /* End every stream and deferred request: streams flush and finish,
     * deferred requests come back and get 503 (see serve_answer). */
    struct http_req **list;
    size_t n = http_monitor_snapshot(s, &list);
    for (size_t i = 0; i < n; i++) {
        http_req_set_gone(list[i], HTTP_GONE_STOPPING);
        http_req_unref(list[i]);
    }
    free(list);
    wait_idle(s, deadline);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    http_monitor_stop(s);
    s->port = 0;
    atomic_store(&s->stopping, 0);
    log_info("http", "stopped");
}
