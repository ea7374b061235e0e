/* http_server_internal — what the files of the HTTP server room share.
 *
 * The room: http_server.c (lifecycle and the libmicrohttpd callbacks),
 * http_server_route.c (patterns and matching), http_server_req.c (the
 * request object, its arena, lifetime and cancellation), http_server_reply.c
 * (answers and the error shape), http_server_stream.c (SSE) and
 * http_server_monitor.c (the thread that notices hang-ups and sends
 * keep-alives). Nothing here is part of the contract in http_server.h.
 *
 * Lifetime of a request: struct http_req is reference counted. The
 * connection holds one reference from the first call of the access handler
 * to the request-completed notification; the application holds one while a
 * request is deferred or a stream is open; a stream's libmicrohttpd response
 * holds one until libmicrohttpd frees it; the monitor and http_server_stop
 * take short-lived ones. req->lock guards every field that two threads can
 * touch (marked "locked"). Locks never nest: neither req->lock inside
 * server->lock nor the other way round. */
#ifndef HARDE_NET_HTTP_SERVER_INTERNAL_H
#define HARDE_NET_HTTP_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/http_server.h"

#define HTTP_ALLOW_MAX     96 /* bytes of an Allow header value */
#define HTTP_MAX_EXTRA     32 /* response headers added with http_reply_header */
#define HTTP_ETAG_MAX      24
#define HTTP_KEEPALIVE_TXT "keep-alive" /* the comment sent to idle streams */

/* ---- the per-request arena: strings freed together with the request -------- */

struct http_arena_block;
struct http_arena {
    struct http_arena_block *head;
};

void *http_arena_alloc(struct http_arena *arena, size_t size);
/* A NUL-terminated copy of the first len bytes of s, in the arena. */
char *http_arena_strndup(struct http_arena *arena, const char *s, size_t len);
void http_arena_free(struct http_arena *arena);

struct http_kv {
    const char *name;
    const char *value;
};

/* ---- routes (http_server_route.c) ------------------------------------------ */

struct http_route {
    char *method;
    char *pattern;
    char *segments[HTTP_SERVER_MAX_SEGMENTS]; /* literal text, or a param's name */
    uint32_t param_mask;                      /* bit i: segment i is a {param} */
    size_t nsegments;
    http_handler_fn *handler;
    void *user;
    const void *static_data; /* non-NULL for http_server_static routes (borrowed) */
    size_t static_len;
    char *content_type;
    char *cache_control;
    char etag[HTTP_ETAG_MAX];
};

struct http_route_match {
    const struct http_route *route; /* NULL: no route for this method */
    struct http_kv params[HTTP_SERVER_MAX_SEGMENTS];
    size_t nparams;
    bool path_known;            /* some route matches the path with another method */
    char allow[HTTP_ALLOW_MAX]; /* the methods of the path, for 405 and OPTIONS */
};

/* Parses pattern into r (strings new). 0 or ERR_INVALID / ERR_LIMIT with err. */
int http_route_compile(struct http_route *r, const char *method, const char *pattern, char *err,
                       size_t errlen);
void http_route_free(struct http_route *r);
/* True when a and b have the same method and pattern shape. */
bool http_route_same(const struct http_route *a, const struct http_route *b);
/* Finds the route for method and raw_path (percent-encoded, no query);
 * param values are decoded into arena. */
void http_route_find(const struct http_route *routes, size_t nroutes, const char *method,
                     const char *raw_path, struct http_arena *arena, struct http_route_match *m);
/* Decodes %XX escapes (and '+' when plus_is_space) in place; returns the new
 * length. Invalid escapes stay as they are. */
size_t http_percent_decode(char *s, bool plus_is_space);

/* ---- the server ------------------------------------------------------------- */

struct http_watch {
    struct http_req *req; /* NULL: a free slot */
    uint32_t gen;         /* bumped when the slot is freed */
};

struct http_server {
    struct http_server_config cfg; /* with defaults filled in; cfg.host points at host */
    char *host;
    struct http_route *routes;
    size_t nroutes;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int stopping; /* a graceful stop is under way: no new suspensions */
    atomic_int active_streams;

    pthread_mutex_t lock;       /* guards what follows */
    pthread_cond_t idle;        /* signalled when inflight drops */
    int inflight;               /* requests between first call and completion */
    struct http_watch *watches; /* deferred requests and streams, by slot */
    uint32_t nwatches, watch_cap;
    uint32_t *free_slots;
    uint32_t nfree;

    /* the monitor thread (http_server_monitor.c) */
    int epoll_fd;
    int wake_fd;
    pthread_t monitor;
    bool monitor_running;
    atomic_int monitor_quit;
    atomic_int min_keepalive_ms; /* shortest keep-alive among open streams; 0 none */
};

/* ---- the request (http_server_req.c) ---------------------------------------- */

struct http_stream {
    struct http_req *req;
    struct buf out; /* locked: formatted, unsent bytes from out_off on */
    size_t out_off; /* locked */
    size_t max_buffer;
    int keepalive_ms;      /* <= 0: none */
    int64_t last_write_ns; /* locked: last time bytes were queued */
};

struct http_req {
    struct http_server *server;
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t callback_done;
    int64_t start_ns;

    /* what was asked (written on the server thread before the handler runs) */
    const char *method;
    const char *path;
    size_t uri_len;
    struct http_route_match match;
    struct http_kv *query, *headers, *cookies;
    size_t nquery, nheaders, ncookies;
    char client_addr[INET6_ADDRSTRLEN];
    struct buf body;
    bool body_too_large;
    int refuse_status;          /* an error decided before the body, answered at dispatch */
    const char *refuse_message; /* in the arena */
    size_t body_seen;           /* bytes received, kept or not */
    struct http_arena arena;
    struct http_kv extra[HTTP_MAX_EXTRA]; /* headers for the answer */
    size_t nextra;

    /* the answer and the connection (locked) */
    struct MHD_Connection *conn;  /* NULL once the connection completed */
    bool answered;                /* an answer was given */
    bool queued;                  /* the answer went to libmicrohttpd */
    bool dispatched;              /* the handler ran */
    bool deferred;                /* the application holds a deferred answer */
    bool completed;               /* the request-completed notification came */
    bool suspended;               /* we suspended the connection */
    bool stream_counted;          /* counted in server->active_streams */
    bool app_holds;               /* the application holds a deferred request or stream */
    struct MHD_Response *pending; /* the answer waiting to be queued */
    int status;
    size_t bytes_out;
    struct http_stream *stream;

    /* cancellation (locked, except the flag itself) */
    volatile sig_atomic_t cancel;
    bool gone;
    bool ended; /* no more stream data will come: flush and finish */
    enum http_gone why;
    http_gone_fn *on_gone;
    void *gone_user;
    bool callback_running;
    pthread_t callback_thread;

    /* the monitor's slot (under server->lock) */
    int watch_fd;       /* the connection's socket, set once at creation */
    atomic_bool closed; /* the connection completed: never watch it again */
    bool watched;
    uint32_t slot;
    uint32_t slot_gen;
};

/* A new request with one reference (the connection's). */
struct http_req *http_req_new(struct http_server *server, struct MHD_Connection *conn,
                              const char *method, const char *raw_url, size_t uri_len);
void http_req_ref(struct http_req *req);
/* Drops a reference; the last one frees the request. */
void http_req_unref(struct http_req *req);
/* Copies the query, headers and cookies out of libmicrohttpd (server thread). */
void http_req_capture(struct http_req *req);
/* Marks the request gone for why (once), sets the cancel flag, resumes the
 * connection if suspended, and calls the application's on_gone (without
 * holding any lock). Safe from any thread. */
void http_req_set_gone(struct http_req *req, enum http_gone why);
/* Under req->lock: the connection to resume (and clears suspended), or NULL. */
struct MHD_Connection *http_req_take_wake_locked(struct http_req *req);
/* Called by the application when it stops holding req (answer or close):
 * waits for a running on_gone on another thread and forbids further calls.
 * Under req->lock. */
void http_req_release_app_locked(struct http_req *req);

/* ---- answers (http_server_reply.c) ------------------------------------------ */

/* Gives resp as the answer to req (the response reference is taken; it is
 * destroyed on failure) and wakes a deferred request; the application's
 * answer to a deferred request gives the request back. Returns 0,
 * ERR_INVALID (already answered) or ERR_CANCELED (a deferred request whose
 * client left or that the server answered itself while stopping). */
int http_req_answer(struct http_req *req, int status, struct MHD_Response *resp, size_t body_len);
/* Under req->lock: records resp as the answer (destroying it when the
 * connection is already gone); returns the connection to resume, or NULL. */
struct MHD_Connection *http_req_set_answer_locked(struct http_req *req, int status,
                                                  struct MHD_Response *resp, size_t body_len);
/* A new response in the one error shape. */
struct MHD_Response *http_error_response(int status, const char *code, const char *message,
                                         size_t *body_len);
/* Adds req's extra headers to resp. */
void http_reply_apply_headers(struct http_req *req, struct MHD_Response *resp);

/* ---- streams (http_server_stream.c) ------------------------------------------ */

/* Appends one formatted event to out (no limit check). ERR_INVALID when event
 * or id holds a line break. */
int http_sse_format(struct buf *out, const char *event, const char *id, const char *data,
                    size_t len);
/* Queues a keep-alive comment when the stream has been idle long enough;
 * returns the milliseconds until it is next due (INT32_MAX for none). */
int http_stream_keepalive(struct http_stream *stream, int64_t now_ns);
void http_stream_free(struct http_stream *stream);

/* ---- the monitor (http_server_monitor.c) ------------------------------------ */

int http_monitor_start(struct http_server *server, char *err, size_t errlen);
void http_monitor_stop(struct http_server *server);
/* Registers req (deferred or streaming; its fd set) for hang-up detection
 * and keep-alives. Server thread; idempotent. */
void http_monitor_watch(struct http_server *server, struct http_req *req);
/* Marks req closed and unregisters it; called before its socket is closed. */
void http_monitor_unwatch(struct http_server *server, struct http_req *req);
/* The watched requests, each with a new reference; *out is new (free it). */
size_t http_monitor_snapshot(struct http_server *server, struct http_req ***out);
/* Tells the monitor a stream with keep-alive interval ms exists. */
void http_monitor_keepalive_hint(struct http_server *server, int ms);

#endif
