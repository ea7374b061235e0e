/* http_server_req — the request object of the HTTP server: its arena, its
 * lifetime, what the handler can read, deferral and cancellation.
 *
 * Everything a handler reads is copied out of libmicrohttpd into the
 * request's arena before the handler runs (h2o's per-request pool: one free
 * at the end), so a deferred request can be read from any thread for as long
 * as the application holds it, even after libmicrohttpd dropped the
 * connection. The arena is a list of blocks; strings never move.
 *
 * Cancellation: http_req_set_gone is the one place a deferred request or a
 * stream learns that it is over (client gone, timeout, server stopping),
 * whichever thread noticed. It sets the cancel flag, wakes the connection so
 * libmicrohttpd can finish it, and calls the application's on_gone outside
 * every lock; the application's release (answer or close) waits for a
 * running callback so that on_gone never runs after it returned. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

/* ---- arena ------------------------------------------------------------------ */

#define ARENA_BLOCK 2048

struct http_arena_block {
    struct http_arena_block *next;
    size_t used, cap;
    _Alignas(max_align_t) char data[];
};

void *http_arena_alloc(struct http_arena *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct http_arena_block *b = arena->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = arena->head;
        arena->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

char *http_arena_strndup(struct http_arena *arena, const char *s, size_t len)
{
    char *copy = http_arena_alloc(arena, len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void http_arena_free(struct http_arena *arena)
{
    while (arena->head) {
        struct http_arena_block *next = arena->head->next;
        free(arena->head);
        arena->head = next;
    }
}

/* ---- lifetime --------------------------------------------------------------- */

static void client_address(struct http_req *req, struct MHD_Connection *conn)
{
    snprintf(req->client_addr, sizeof req->client_addr, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  req->client_addr, sizeof req->client_addr);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  req->client_addr, sizeof req->client_addr);
}

struct http_req *http_req_new(struct http_server *server, struct MHD_Connection *conn,
                              const char *method, const char *raw_url, size_t uri_len)
{
    struct http_req *req = xcalloc(1, sizeof *req);
    req->server = server;
    atomic_init(&req->refs, 1);
    atomic_init(&req->closed, false);
    pthread_mutex_init(&req->lock, NULL);
    pthread_cond_init(&req->callback_done, NULL);
    req->start_ns = clock_now_ns();
    req->conn = conn;
    req->watch_fd = -1;
    req->method = http_arena_strndup(&req->arena, method, strlen(method));
    req->path = http_arena_strndup(&req->arena, raw_url, strlen(raw_url));
    req->uri_len = uri_len ? uri_len : strlen(raw_url);
    buf_init(&req->body, server->cfg.max_body);
    client_address(req, conn);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        req->watch_fd = info->connect_fd;
    return req;
}

void http_req_ref(struct http_req *req)
{
    atomic_fetch_add(&req->refs, 1);
}

void http_req_unref(struct http_req *req)
{
    if (!req || atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    if (req->pending)
        MHD_destroy_response(req->pending);
    http_stream_free(req->stream);
    buf_free(&req->body);
    http_arena_free(&req->arena);
    pthread_cond_destroy(&req->callback_done);
    pthread_mutex_destroy(&req->lock);
    free(req);
}

/* ---- capture ---------------------------------------------------------------- */

struct capture {
    struct http_req *req;
    struct http_kv *items;
    size_t n;
    bool decode; /* query arguments arrive raw (see the unescape callback) */
};

static enum MHD_Result count_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind, (void)key, (void)value;
    (*(size_t *)cls)++;
    return MHD_YES;
}

static enum MHD_Result copy_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct capture *c = cls;
    struct http_arena *a = &c->req->arena;
    char *name = http_arena_strndup(a, key ? key : "", key ? strlen(key) : 0);
    char *val = http_arena_strndup(a, value ? value : "", value ? strlen(value) : 0);
    if (c->decode) {
        http_percent_decode(name, true);
        http_percent_decode(val, true);
    }
    c->items[c->n].name = name;
    c->items[c->n].value = val;
    c->n++;
    return MHD_YES;
}

static struct http_kv *capture_kind(struct http_req *req, enum MHD_ValueKind kind, bool decode,
                                    size_t *n)
{
    size_t count = 0;
    MHD_get_connection_values(req->conn, kind, count_value, &count);
    struct capture c = {.req = req, .decode = decode};
    c.items = http_arena_alloc(&req->arena, (count ? count : 1) * sizeof *c.items);
    if (count)
        MHD_get_connection_values(req->conn, kind, copy_value, &c);
    *n = c.n;
    return c.items;
}

void http_req_capture(struct http_req *req)
{
    req->query = capture_kind(req, MHD_GET_ARGUMENT_KIND, true, &req->nquery);
    req->headers = capture_kind(req, MHD_HEADER_KIND, false, &req->nheaders);
    req->cookies = capture_kind(req, MHD_COOKIE_KIND, false, &req->ncookies);
}

/* ---- accessors -------------------------------------------------------------- */

static const char *kv_find(const struct http_kv *items, size_t n, const char *name, bool nocase)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (nocase ? !strcasecmp(items[i].name, name) : !strcmp(items[i].name, name))
            return items[i].value;
    return NULL;
}

const char *http_req_method(const struct http_req *req)
{
    return req->method;
}

const char *http_req_path(const struct http_req *req)
{
    return req->path;
}

const char *http_req_route(const struct http_req *req)
{
    return req->match.route ? req->match.route->pattern : NULL;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
    return kv_find(req->match.params, req->match.nparams, name, false);
}

const char *http_req_query(const struct http_req *req, const char *name)
{
    return kv_find(req->query, req->nquery, name, false);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    return kv_find(req->headers, req->nheaders, name, true);
}

const char *http_req_cookie(const struct http_req *req, const char *name)
{
    return kv_find(req->cookies, req->ncookies, name, false);
}

const char *http_req_client_addr(const struct http_req *req)
{
    return req->client_addr;
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return buf_str(&req->body);
}

bool http_req_accepts(const struct http_req *req, const char *mime_type)
{
    const char *accept = http_req_header(req, "Accept");
    size_t mlen = mime_type ? strlen(mime_type) : 0;
    if (!accept || !mlen)
        return false;
    for (const char *p = accept; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",;");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == mlen && !strncasecmp(p, mime_type, mlen))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

int http_req_json(struct http_req *req, json_t **out)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    if (!root) {
        http_reply_error(req, 400, "invalid_json",
                         "invalid JSON body at line %d, column %d (byte %d): %s", jerr.line,
                         jerr.column, jerr.position, jerr.text);
        return ERR_PARSE;
    }
    *out = root;
    return 0;
}

/* ---- deferral and cancellation ---------------------------------------------- */

int http_req_defer(struct http_req *req, http_gone_fn *on_gone, void *user)
{
    pthread_mutex_lock(&req->lock);
    bool ok = !req->answered && !req->deferred && !req->stream;
    if (ok) {
        req->deferred = true;
        req->app_holds = true;
        req->on_gone = on_gone;
        req->gone_user = user;
        http_req_ref(req); /* the application's */
    }
    pthread_mutex_unlock(&req->lock);
    if (!ok)
        return ERR_INVALID;
    http_monitor_watch(req->server, req);
    return 0;
}

volatile sig_atomic_t *http_req_cancel_flag(struct http_req *req)
{
    return &req->cancel;
}

struct MHD_Connection *http_req_take_wake_locked(struct http_req *req)
{
    if (!req->suspended || !req->conn)
        return NULL;
    req->suspended = false;
    return req->conn;
}

void http_req_release_app_locked(struct http_req *req)
{
    req->app_holds = false;
    pthread_t self = pthread_self();
    while (req->callback_running && !pthread_equal(req->callback_thread, self))
        pthread_cond_wait(&req->callback_done, &req->lock);
}

void http_req_set_gone(struct http_req *req, enum http_gone why)
{
    pthread_mutex_lock(&req->lock);
    if (req->gone) {
        pthread_mutex_unlock(&req->lock);
        return;
    }
    req->gone = true;
    req->ended = true;
    req->why = why;
    req->cancel = 1;
    http_gone_fn *fn = req->app_holds ? req->on_gone : NULL;
    void *user = req->gone_user;
    if (fn) {
        req->callback_running = true;
        req->callback_thread = pthread_self();
    }
    struct MHD_Connection *wake = http_req_take_wake_locked(req);
    pthread_mutex_unlock(&req->lock);
    if (wake)
        MHD_resume_connection(wake);
    if (!fn)
        return;
    fn(why, user);
    pthread_mutex_lock(&req->lock);
    req->callback_running = false;
    pthread_cond_broadcast(&req->callback_done);
    pthread_mutex_unlock(&req->lock);
}
