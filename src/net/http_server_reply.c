/* http_server_reply — answers to a request: JSON, text, bytes, empty, and
 * the one error shape {"error":{"code":…,"message":…}}.
 *
 * Every answer becomes a libmicrohttpd response stored in req->pending by
 * http_req_answer; the access handler queues it when the handler returns, or,
 * for a deferred request answered from another thread, when the resumed
 * connection is served again. So answers never touch the connection from a
 * foreign thread, and a second answer is refused in one place. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

static const struct {
    int status;
    const char *code;
} error_codes[] = {
    {400, "bad_request"},        {401, "unauthorized"},
    {403, "forbidden"},          {404, "not_found"},
    {405, "method_not_allowed"}, {408, "request_timeout"},
    {409, "conflict"},           {410, "gone"},
    {411, "length_required"},    {413, "payload_too_large"},
    {414, "uri_too_long"},       {415, "unsupported_media_type"},
    {422, "unprocessable"},      {429, "rate_limited"},
    {431, "headers_too_large"},  {500, "internal"},
    {501, "not_implemented"},    {502, "bad_gateway"},
    {503, "unavailable"},        {504, "gateway_timeout"},
};

const char *http_error_code(int status)
{
    for (size_t i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++)
        if (error_codes[i].status == status)
            return error_codes[i].code;
    return status >= 500 ? "internal" : status >= 400 ? "bad_request" : "error";
}

void http_reply_apply_headers(struct http_req *req, struct MHD_Response *resp)
{
    for (size_t i = 0; i < req->nextra; i++)
        MHD_add_response_header(resp, req->extra[i].name, req->extra[i].value);
}

struct MHD_Connection *http_req_set_answer_locked(struct http_req *req, int status,
                                                  struct MHD_Response *resp, size_t body_len)
{
    req->answered = true;
    req->status = status;
    req->bytes_out = body_len;
    if (req->completed) {
        MHD_destroy_response(resp); /* nobody to send it to */
        return NULL;
    }
    req->pending = resp;
    return http_req_take_wake_locked(req);
}

int http_req_answer(struct http_req *req, int status, struct MHD_Response *resp, size_t body_len)
{
    http_reply_apply_headers(req, resp);
    int rc = 0;
    bool release = false;
    struct MHD_Connection *wake = NULL;
    pthread_mutex_lock(&req->lock);
    if (req->deferred) {
        /* The application's one answer to its deferred request: it always
         * gives the request back, even when the answer has nowhere to go. */
        req->deferred = false;
        release = true;
        http_req_release_app_locked(req);
        bool client_left = req->gone && req->why != HTTP_GONE_STOPPING;
        if (req->answered || req->completed || client_left) {
            rc = ERR_CANCELED;
            goto drop;
        }
    } else if (req->answered) {
        rc = ERR_INVALID;
        goto drop;
    }
    wake = http_req_set_answer_locked(req, status, resp, body_len);
    resp = NULL;
drop:
    pthread_mutex_unlock(&req->lock);
    if (resp)
        MHD_destroy_response(resp);
    if (wake)
        MHD_resume_connection(wake);
    if (release)
        http_req_unref(req);
    return rc;
}

struct MHD_Response *http_error_response(int status, const char *code, const char *message,
                                         size_t *body_len)
{
    /* The message may quote client bytes (a path): invalid UTF-8 becomes U+FFFD
     * instead of making jansson refuse the whole body. */
    json_t *body =
        json_pack("{s:{s:s,s:o}}", "error", "code", code ? code : http_error_code(status),
                  "message", utf8_json_string(message));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        text = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"\"}}");
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (body_len)
        *body_len = len;
    return resp;
}

int http_reply_header(struct http_req *req, const char *name, const char *value)
{
    if (!name || !value || req->answered || req->nextra == HTTP_MAX_EXTRA ||
        strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return ERR_INVALID;
    req->extra[req->nextra].name = http_arena_strndup(&req->arena, name, strlen(name));
    req->extra[req->nextra].value = http_arena_strndup(&req->arena, value, strlen(value));
    req->nextra++;
    return 0;
}

/* Answers with len bytes of data, which the response takes (malloc'd). */
static int answer_owned(struct http_req *req, int status, const char *content_type, char *data,
                        size_t len, const char *cache_control)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    return http_req_answer(req, status, resp, len);
}

int http_reply_json(struct http_req *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text)
        text = xstrdup("{}");
    return answer_owned(req, status, "application/json", text, strlen(text), NULL);
}

int http_reply_text(struct http_req *req, int status, const char *text)
{
    char *copy = xstrdup(text ? text : "");
    return answer_owned(req, status, "text/plain; charset=utf-8", copy, strlen(copy), NULL);
}

int http_reply_bytes(struct http_req *req, int status, const char *content_type, const void *data,
                     size_t len, const char *cache_control)
{
    char *copy = xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    return answer_owned(req, status, content_type ? content_type : "application/octet-stream", copy,
                        len, cache_control);
}

int http_reply_empty(struct http_req *req, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return http_req_answer(req, status, resp, 0);
}

int http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t len;
    struct MHD_Response *resp = http_error_response(status, code, message, &len);
    return http_req_answer(req, status, resp, len);
}
