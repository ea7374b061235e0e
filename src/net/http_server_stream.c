/* http_server_stream — Server-Sent Events responses of the HTTP server.
 *
 * A stream is a libmicrohttpd response of unknown length (sent chunked)
 * whose content reader drains a bounded per-stream buffer. Producers, on any
 * thread, format events into the buffer under the request's lock and resume
 * the connection if the reader had suspended it; the reader copies what is
 * there, or suspends the connection when there is nothing (so an idle stream
 * costs no CPU), or ends the response once the stream is closed and drained.
 * A producer never waits for the network: a client that stops reading fills
 * the buffer and further sends fail with ERR_LIMIT.
 *
 * Owns the stream's buffer; the stream itself is freed with its request. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

#define STREAM_KEEP_CAP 4096 /* a drained buffer larger than this is released */

int http_sse_format(struct buf *out, const char *event, const char *id, const char *data,
                    size_t len)
{
    if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")))
        return ERR_INVALID;
    if (event && *event) {
        buf_append_str(out, "event: ");
        buf_append_str(out, event);
        buf_append_char(out, '\n');
    }
    if (id) {
        buf_append_str(out, "id: ");
        buf_append_str(out, id);
        buf_append_char(out, '\n');
    }
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n' && data[i] != '\r')
            continue;
        buf_append(out, "data: ", 6);
        buf_append(out, data + start, i - start);
        buf_append_char(out, '\n');
        if (i < len && data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    buf_append_char(out, '\n');
    return 0;
}

/* ---- the reader (server thread) ---------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *dest, size_t max)
{
    (void)pos;
    struct http_stream *st = cls;
    struct http_req *req = st->req;
    ssize_t result;
    pthread_mutex_lock(&req->lock);
    size_t avail = st->out.len - st->out_off;
    if (req->gone && req->why != HTTP_GONE_STOPPING) {
        result = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(dest, st->out.data + st->out_off, n);
        st->out_off += n;
        if (st->out_off == st->out.len) {
            st->out_off = 0;
            if (st->out.cap > STREAM_KEEP_CAP)
                buf_free(&st->out);
            else
                buf_reset(&st->out);
        } else if (st->out_off >= STREAM_KEEP_CAP && st->out_off * 2 >= st->out.len) {
            /* A reader that never catches up must not let sent bytes pile up. */
            buf_consume(&st->out, st->out_off);
            st->out_off = 0;
        }
        req->bytes_out += n;
        result = (ssize_t)n;
    } else if (req->ended || atomic_load(&req->server->stopping)) {
        result = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        req->suspended = true;
        MHD_suspend_connection(req->conn);
        result = 0;
    }
    pthread_mutex_unlock(&req->lock);
    return result;
}

static void stream_response_free(void *cls)
{
    struct http_stream *st = cls;
    if (st->req)
        http_req_unref(st->req);
}

/* ---- the application's side ------------------------------------------------- */

struct http_stream *http_stream_open(struct http_req *req, const struct http_stream_options *opts)
{
    struct http_server *s = req->server;
    struct http_stream_options o = opts ? *opts : (struct http_stream_options){0};
    struct http_stream *st = xcalloc(1, sizeof *st);
    st->req = req;
    buf_init(&st->out, 0);
    st->max_buffer = o.max_buffer ? o.max_buffer : s->cfg.max_stream_buffer;
    st->keepalive_ms = o.keepalive_ms ? o.keepalive_ms : s->cfg.keepalive_ms;
    st->last_write_ns = clock_now_ns();
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 1024, stream_read, st, stream_response_free);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    http_reply_apply_headers(req, resp);

    pthread_mutex_lock(&req->lock);
    if (req->stream || (!req->deferred && req->answered)) {
        pthread_mutex_unlock(&req->lock);
        st->req = NULL;
        MHD_destroy_response(resp); /* stream_response_free sees no request */
        http_stream_free(st);
        return NULL;
    }
    http_req_ref(req); /* the response's, dropped by stream_response_free */
    if (req->deferred)
        req->deferred = false; /* the deferred request's reference now backs the stream */
    else
        http_req_ref(req); /* the application's, dropped by http_stream_close */
    req->stream = st;
    req->app_holds = true;
    req->on_gone = o.on_gone;
    req->gone_user = o.user;
    struct MHD_Connection *wake = NULL;
    if (req->answered) /* the server answered 503 while stopping */
        MHD_destroy_response(resp);
    else
        wake = http_req_set_answer_locked(req, 200, resp, 0);
    pthread_mutex_unlock(&req->lock);
    if (wake)
        MHD_resume_connection(wake);

    if (st->keepalive_ms > 0)
        http_monitor_keepalive_hint(s, st->keepalive_ms);
    http_monitor_watch(s, req);
    if (atomic_load(&s->stopping))
        http_req_set_gone(req, HTTP_GONE_STOPPING);
    return st;
}

/* Appends with the lock held; wakes the reader. */
static int stream_queue(struct http_stream *st, const char *event, const char *id, const char *data,
                        size_t len, bool comment)
{
    struct http_req *req = st->req;
    pthread_mutex_lock(&req->lock);
    int rc = 0;
    struct MHD_Connection *wake = NULL;
    if (req->gone || req->ended || req->completed) {
        rc = ERR_CANCELED;
        goto out;
    }
    size_t before = st->out.len;
    if (st->max_buffer && before - st->out_off + len > st->max_buffer) {
        rc = ERR_LIMIT; /* checked before copying, so one huge event costs nothing */
        goto out;
    }
    if (comment) {
        buf_append_str(&st->out, ": ");
        buf_append(&st->out, data, len);
        buf_append_str(&st->out, "\n\n");
    } else {
        rc = http_sse_format(&st->out, event, id, data, len);
    }
    if (rc == 0 && st->max_buffer && st->out.len - st->out_off > st->max_buffer)
        rc = ERR_LIMIT;
    if (rc) {
        st->out.len = before;
        if (st->out.data)
            st->out.data[before] = '\0';
        goto out;
    }
    st->last_write_ns = clock_now_ns();
    wake = http_req_take_wake_locked(req);
out:
    pthread_mutex_unlock(&req->lock);
    if (wake)
        MHD_resume_connection(wake);
    return rc;
}

int http_stream_send(struct http_stream *stream, const char *event, const char *id,
                     const char *data, size_t len)
{
    if (!stream || (!data && len))
        return ERR_INVALID;
    return stream_queue(stream, event, id, data ? data : "", len, false);
}

int http_stream_send_json(struct http_stream *stream, const char *event, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!text)
        return ERR_INVALID;
    int rc = http_stream_send(stream, event, NULL, text, strlen(text));
    free(text);
    return rc;
}

int http_stream_comment(struct http_stream *stream, const char *text)
{
    if (!stream || !text || strpbrk(text, "\r\n"))
        return ERR_INVALID;
    return stream_queue(stream, NULL, NULL, text, strlen(text), true);
}

bool http_stream_gone(const struct http_stream *stream)
{
    return stream->req->cancel != 0;
}

volatile sig_atomic_t *http_stream_cancel_flag(struct http_stream *stream)
{
    return &stream->req->cancel;
}

void http_stream_close(struct http_stream *stream)
{
    if (!stream)
        return;
    struct http_req *req = stream->req;
    pthread_mutex_lock(&req->lock);
    req->ended = true;
    http_req_release_app_locked(req);
    struct MHD_Connection *wake = http_req_take_wake_locked(req);
    pthread_mutex_unlock(&req->lock);
    if (wake)
        MHD_resume_connection(wake);
    http_req_unref(req);
}

/* ---- keep-alives (monitor thread) and cleanup --------------------------------- */

int http_stream_keepalive(struct http_stream *st, int64_t now_ns)
{
    if (st->keepalive_ms <= 0)
        return INT32_MAX;
    struct http_req *req = st->req;
    pthread_mutex_lock(&req->lock);
    int64_t due = st->last_write_ns + (int64_t)st->keepalive_ms * 1000000;
    bool over = req->ended || req->gone || req->completed;
    pthread_mutex_unlock(&req->lock);
    if (over)
        return INT32_MAX;
    if (now_ns < due)
        return (int)((due - now_ns) / 1000000) + 1;
    stream_queue(st, NULL, NULL, HTTP_KEEPALIVE_TXT, strlen(HTTP_KEEPALIVE_TXT), true);
    return st->keepalive_ms;
}

void http_stream_free(struct http_stream *stream)
{
    if (!stream)
        return;
    buf_free(&stream->out);
    free(stream);
}
