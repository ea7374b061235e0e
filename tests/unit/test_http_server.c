/* test_http_server — the HTTP server against libcurl on 127.0.0.1 (port 0):
 * routes and params, 404/405/OPTIONS, the error shape, body/URI/header
 * limits, the JSON helper, static and byte answers, deferred answers, SSE
 * streams (order, latency, multi-line data, keep-alives, client disconnects,
 * slow clients, 200 at once), metrics, and a graceful stop with open streams.
 *
 * Clients run in their own threads (curl easy) or one curl multi loop; SSE
 * bodies are parsed with net/sse.h, and every received event is stamped with
 * the monotonic clock so latencies can be checked. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "net/http_server.h"
#include "net/sse.h"

#define MS 1000000LL

/* ---- a plain client ----------------------------------------------------------- */

struct response {
    long status;
    struct buf body;
    struct buf headers;
    json_t *json; /* the body parsed, when it is JSON */
};

static size_t collect(char *data, size_t size, size_t n, void *user)
{
    buf_append(user, data, size * n);
    return size * n;
}

static void response_free(struct response *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Sends method url with body (NULL: none) and extra header lines. */
static CURLcode request(const char *method, const char *url, const char *body,
                        const char *const *headers, struct response *r)
{
    memset(r, 0, sizeof *r);
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(list);
    if (r->body.len)
        r->json = json_loadb(r->body.data, r->body.len, 0, NULL);
    return rc;
}

/* The value of a response header (case-insensitive name), copied into out. */
static const char *header_value(const struct response *r, const char *name, char *out,
                                size_t outlen)
{
    const char *p = buf_str(&r->headers);
    size_t nlen = strlen(name);
    while (*p) {
        if (!strncasecmp(p, name, nlen) && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)len, v);
            return out;
        }
        p += strcspn(p, "\n");
        if (*p)
            p++;
    }
    return NULL;
}

/* Checks the one error shape and returns the message (borrowed from r). */
static const char *assert_error(const struct response *r, long status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_non_null(r->json);
    json_t *err = json_object_get(r->json, "error");
    assert_true(json_is_object(err));
    assert_int_equal(json_object_size(err), 2);
    assert_string_equal(json_string_value(json_object_get(err, "code")), code);
    const char *message = json_string_value(json_object_get(err, "message"));
    assert_non_null(message);
    assert_int_equal(json_object_size(r->json), 1);
    return message;
}

/* ---- the server under test ------------------------------------------------------ */

struct fixture {
    struct http_server *server;
    char base[64];
};

static void fixture_start(struct fixture *f, struct http_server *server)
{
    char err[256] = "";
    f->server = server;
    int rc = http_server_start(server, err, sizeof err);
    if (rc)
        fail_msg("start: %s", err);
    assert_true(http_server_port(server) > 0);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", http_server_port(server));
}

static char *url_of(const struct fixture *f, const char *path)
{
    static _Thread_local char url[8192];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    return url;
}

static void add_route(struct http_server *s, const char *method, const char *pattern,
                      http_handler_fn *fn, void *user)
{
    char err[256] = "";
    int rc = http_server_route(s, method, pattern, fn, user, err, sizeof err);
    if (rc)
        fail_msg("route %s %s: %s", method, pattern, err);
}

/* Answers with everything the request carries, as JSON. */
static void echo_handler(struct http_req *req, void *user)
{
    const char *tag = user;
    size_t len;
    const char *body = http_req_body(req, &len);
    const char *q = http_req_query(req, "q");
    const char *flag = http_req_query(req, "flag");
    const char *id = http_req_param(req, "id");
    const char *x = http_req_header(req, "x-test");
    const char *sid = http_req_cookie(req, "sid");
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s*,s:s*,s:s*,s:s*,s:s*,s:s#,s:b}", "tag", tag, "method",
                  http_req_method(req), "path", http_req_path(req), "route", http_req_route(req),
                  "addr", http_req_client_addr(req), "id", id, "q", q, "flag", flag, "x", x, "sid",
                  sid, "body", body, (int)len, "sse", http_req_accepts(req, "text/event-stream"));
    http_reply_header(req, "X-Echo", "yes");
    http_reply_json(req, 200, out);
}

static void json_handler(struct http_req *req, void *user)
{
    (void)user;
    json_t *root;
    if (http_req_json(req, &root) != 0)
        return;
    http_reply_json(req, 201, root);
}

static void silent_handler(struct http_req *req, void *user)
{
    (void)req, (void)user;
}

static void twice_handler(struct http_req *req, void *user)
{
    (void)user;
    assert_int_equal(http_reply_text(req, 200, "first"), 0);
    assert_int_equal(http_reply_text(req, 500, "second"), ERR_INVALID);
    assert_int_equal(http_req_defer(req, NULL, NULL), ERR_INVALID);
    assert_null(http_stream_open(req, NULL));
}

static void bytes_handler(struct http_req *req, void *user)
{
    (void)user;
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0, 1, 2, 3};
    http_reply_bytes(req, 200, "image/png", png, sizeof png, "public, max-age=60");
}

static void text_handler(struct http_req *req, void *user)
{
    (void)user;
    http_reply_text(req, 200, "plain text");
}

static void teapot_handler(struct http_req *req, void *user)
{
    (void)user;
    http_reply_error(req, 418, "teapot", "I am a %s", "teapot");
}

static struct http_server *basic_server(const struct http_server_config *cfg)
{
    struct http_server *s = http_server_new(cfg);
    add_route(s, "GET", "/v1/sessions/{id}/messages", echo_handler, "get-messages");
    add_route(s, "POST", "/v1/sessions/{id}/messages", echo_handler, "post-messages");
    add_route(s, "GET", "/v1/sessions/{id}", echo_handler, "get-session");
    add_route(s, "GET", "/v1/sessions/new", echo_handler, "literal");
    add_route(s, "POST", "/v1/json", json_handler, NULL);
    add_route(s, "GET", "/silent", silent_handler, NULL);
    add_route(s, "GET", "/twice", twice_handler, NULL);
    add_route(s, "GET", "/bytes", bytes_handler, NULL);
    add_route(s, "GET", "/text", text_handler, NULL);
    add_route(s, "DELETE", "/teapot", teapot_handler, NULL);
    return s;
}

/* ---- routes, params, errors ------------------------------------------------------ */

static void test_routes_and_request_fields(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, basic_server(NULL));
    struct response r;
    const char *headers[] = {"X-Test: hello", "Cookie: sid=abc123; other=1",
                             "Accept: text/html, text/event-stream;q=0.9", NULL};
    assert_int_equal(request("GET", url_of(&f, "/v1/sessions/s%2F1%20x/messages?q=a+b%26c&flag"),
                             NULL, headers, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(json_string_value(json_object_get(r.json, "tag")), "get-messages");
    assert_string_equal(json_string_value(json_object_get(r.json, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(r.json, "route")),
                        "/v1/sessions/{id}/messages");
    assert_string_equal(json_string_value(json_object_get(r.json, "path")),
                        "/v1/sessions/s%2F1%20x/messages");
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "s/1 x");
    assert_string_equal(json_string_value(json_object_get(r.json, "q")), "a b&c");
    assert_string_equal(json_string_value(json_object_get(r.json, "flag")), "");
    assert_string_equal(json_string_value(json_object_get(r.json, "x")), "hello");
    assert_string_equal(json_string_value(json_object_get(r.json, "sid")), "abc123");
    assert_string_equal(json_string_value(json_object_get(r.json, "addr")), "127.0.0.1");
    assert_true(json_is_true(json_object_get(r.json, "sse")));
    char v[128];
    assert_non_null(header_value(&r, "X-Echo", v, sizeof v));
    assert_string_equal(v, "yes");
    assert_string_equal(header_value(&r, "Content-Type", v, sizeof v), "application/json");
    response_free(&r);

    /* Same path, other method; a body; the literal route wins over {id}. */
    assert_int_equal(
        request("POST", url_of(&f, "/v1/sessions/42/messages"), "{\"text\":\"hi\"}", NULL, &r),
        CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "tag")), "post-messages");
    assert_string_equal(json_string_value(json_object_get(r.json, "body")), "{\"text\":\"hi\"}");
    assert_null(json_object_get(r.json, "q"));
    response_free(&r);
    assert_int_equal(request("GET", url_of(&f, "/v1/sessions/new"), NULL, NULL, &r), CURLE_OK);
    assert_string_equal(json_string_value(json_object_get(r.json, "tag")), "literal");
    assert_null(json_object_get(r.json, "id"));
    response_free(&r);
    assert_int_equal(request("GET", url_of(&f, "/v1/sessions/old"), NULL, NULL, &r), CURLE_OK);
    assert_string_equal(json_string_value(json_object_get(r.json, "tag")), "get-session");
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "old");
    response_free(&r);
    http_server_free(f.server);
}

static void test_404_405_options_and_error_shape(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, basic_server(NULL));
    struct response r;
    char v[128];
    request("GET", url_of(&f, "/v1/nothing"), NULL, NULL, &r);
    assert_non_null(strstr(assert_error(&r, 404, "not_found"), "/v1/nothing"));
    response_free(&r);
    /* An empty {id} segment does not match. */
    request("GET", url_of(&f, "/v1/sessions//messages"), NULL, NULL, &r);
    assert_error(&r, 404, "not_found");
    response_free(&r);

    request("DELETE", url_of(&f, "/v1/sessions/7/messages"), NULL, NULL, &r);
    assert_error(&r, 405, "method_not_allowed");
    assert_non_null(header_value(&r, "Allow", v, sizeof v));
    assert_string_equal(v, "GET, HEAD, POST, OPTIONS");
    response_free(&r);

    request("OPTIONS", url_of(&f, "/v1/sessions/7/messages"), NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(header_value(&r, "Allow", v, sizeof v), "GET, HEAD, POST, OPTIONS");
    response_free(&r);

    request("DELETE", url_of(&f, "/teapot"), NULL, NULL, &r);
    assert_string_equal(assert_error(&r, 418, "teapot"), "I am a teapot");
    response_free(&r);

    /* A handler that forgets to answer gives 500; a second answer is refused. */
    request("GET", url_of(&f, "/silent"), NULL, NULL, &r);
    assert_error(&r, 500, "internal");
    response_free(&r);
    request("GET", url_of(&f, "/twice"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), "first");
    response_free(&r);
    assert_string_equal(http_error_code(404), "not_found");
    assert_string_equal(http_error_code(429), "rate_limited");
    assert_string_equal(http_error_code(599), "internal");
    http_server_free(f.server);
}

static void test_route_table_errors(void **state)
{
    (void)state;
    struct http_server *s = http_server_new(NULL);
    char err[256];
    assert_int_equal(http_server_route(s, "GET", "nope", echo_handler, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(http_server_route(s, "get", "/a", echo_handler, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(http_server_route(s, "GET", "/a/{}", echo_handler, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(http_server_route(s, "GET", "/a/x{y}", echo_handler, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(http_server_route(s, "GET", "/a", NULL, NULL, err, sizeof err), ERR_INVALID);
    assert_int_equal(http_server_route(s, "GET", "/a/{id}", echo_handler, NULL, err, sizeof err),
                     0);
    assert_int_equal(http_server_route(s, "GET", "/a/{name}", echo_handler, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "duplicates"));
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "/x");
    assert_int_equal(http_server_route(s, "GET", deep, echo_handler, NULL, err, sizeof err),
                     ERR_LIMIT);
    assert_int_equal(http_server_static(s, "/p/{id}", "text/plain", "x", 1, NULL, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(http_server_port(s), 0);
    http_server_free(s);
}

/* ---- limits and JSON --------------------------------------------------------------- */

struct upload {
    size_t left;
};

static size_t upload_read(char *dest, size_t size, size_t n, void *user)
{
    struct upload *u = user;
    size_t len = size * n < u->left ? size * n : u->left;
    memset(dest, 'x', len);
    u->left -= len;
    return len;
}

/* POSTs len bytes with chunked transfer encoding (no Content-Length). */
static long chunked_post(const char *url, size_t len, struct buf *body)
{
    CURL *curl = curl_easy_init();
    struct upload u = {len};
    struct curl_slist *list = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(list);
    return status;
}

static void test_body_uri_header_limits(void **state)
{
    (void)state;
    struct http_server_config cfg = {.max_body = 1024, .max_uri = 512, .max_headers = 2048};
    struct fixture f;
    fixture_start(&f, basic_server(&cfg));
    struct response r;

    char *big = malloc(2001);
    memset(big, 'a', 2000);
    big[2000] = '\0';
    request("POST", url_of(&f, "/v1/sessions/1/messages"), big, NULL, &r);
    assert_non_null(strstr(assert_error(&r, 413, "payload_too_large"), "1024"));
    response_free(&r);
    big[1024] = '\0'; /* exactly the limit is fine */
    request("POST", url_of(&f, "/v1/sessions/1/messages"), big, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(strlen(json_string_value(json_object_get(r.json, "body"))), 1024);
    response_free(&r);

    struct buf body;
    buf_init(&body, 0);
    assert_int_equal(chunked_post(url_of(&f, "/v1/sessions/1/messages"), 5000, &body), 413);
    assert_non_null(strstr(buf_str(&body), "payload_too_large"));
    buf_reset(&body);
    assert_int_equal(chunked_post(url_of(&f, "/v1/sessions/1/messages"), 1000, &body), 200);
    buf_free(&body);

    char path[700] = "/v1/sessions/";
    memset(path + strlen(path), 'p', 600);
    path[613] = '\0';
    request("GET", url_of(&f, path), NULL, NULL, &r);
    assert_error(&r, 414, "uri_too_long");
    response_free(&r);

    char header[3000] = "X-Big: ";
    memset(header + 7, 'h', 2500);
    header[2507] = '\0';
    const char *headers[] = {header, NULL};
    request("GET", url_of(&f, "/v1/sessions/1"), NULL, headers, &r);
    assert_error(&r, 431, "headers_too_large");
    response_free(&r);
    /* The connection limits did not break the server. */
    request("GET", url_of(&f, "/v1/sessions/1"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    free(big);
    http_server_free(f.server);
}

static void test_json_body_helper(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, basic_server(NULL));
    struct response r;
    request("POST", url_of(&f, "/v1/json"), "{\"text\": \"hi\",\n \"n\": }", NULL, &r);
    const char *message = assert_error(&r, 400, "invalid_json");
    assert_non_null(strstr(message, "line 2"));
    assert_non_null(strstr(message, "column"));
    assert_non_null(strstr(message, "byte"));
    assert_non_null(strstr(message, "unexpected token"));
    response_free(&r);
    request("POST", url_of(&f, "/v1/json"), "", NULL, &r);
    assert_error(&r, 400, "invalid_json");
    response_free(&r);
    request("POST", url_of(&f, "/v1/json"), "{\"text\":\"caf\xc3\xa9\"}", NULL, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "text")), "caf\xc3\xa9");
    response_free(&r);
    http_server_free(f.server);
}

/* ---- static, bytes, text ------------------------------------------------------------ */

static const char page[] = "<!doctype html><title>Hard-E</title><p>hello</p>";

static void test_static_bytes_text(void **state)
{
    (void)state;
    struct http_server *s = basic_server(NULL);
    char err[256];
    assert_int_equal(http_server_static(s, "/", "text/html; charset=utf-8", page, strlen(page),
                                        NULL, err, sizeof err),
                     0);
    assert_int_equal(http_server_static(s, "/app.js", "text/javascript", "let x=1;", 8,
                                        "public, max-age=3600", err, sizeof err),
                     0);
    struct fixture f;
    fixture_start(&f, s);
    struct response r;
    char v[128], etag[64];
    request("GET", url_of(&f, "/"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), page);
    assert_string_equal(header_value(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_string_equal(header_value(&r, "Cache-Control", v, sizeof v), "no-cache");
    assert_non_null(header_value(&r, "ETag", etag, sizeof etag));
    response_free(&r);

    char inm[96];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *h[] = {inm, NULL};
    request("GET", url_of(&f, "/"), NULL, h, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.len, 0);
    response_free(&r);

    request("HEAD", url_of(&f, "/app.js"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(header_value(&r, "Content-Length", v, sizeof v), "8");
    assert_string_equal(header_value(&r, "Cache-Control", v, sizeof v), "public, max-age=3600");
    response_free(&r);

    request("GET", url_of(&f, "/bytes"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 8);
    assert_memory_equal(r.body.data, "\x89PNG\0\1\2\3", 8);
    assert_string_equal(header_value(&r, "Content-Type", v, sizeof v), "image/png");
    assert_string_equal(header_value(&r, "Cache-Control", v, sizeof v), "public, max-age=60");
    response_free(&r);

    request("GET", url_of(&f, "/text"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), "plain text");
    assert_string_equal(header_value(&r, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
    response_free(&r);
    http_server_free(f.server);
}

/* ---- deferred answers ---------------------------------------------------------------- */

struct deferred_app {
    pthread_mutex_t lock;
    struct http_req *req;
    int gone;
    enum http_gone why;
    int64_t gone_ns;
};

static void deferred_gone(enum http_gone why, void *user)
{
    struct deferred_app *app = user;
    pthread_mutex_lock(&app->lock);
    app->gone++;
    app->why = why;
    app->gone_ns = clock_now_ns();
    pthread_mutex_unlock(&app->lock);
}

static void defer_handler(struct http_req *req, void *user)
{
    struct deferred_app *app = user;
    assert_int_equal(http_req_defer(req, deferred_gone, app), 0);
    assert_int_equal(http_req_defer(req, deferred_gone, app), ERR_INVALID);
    pthread_mutex_lock(&app->lock);
    app->req = req;
    pthread_mutex_unlock(&app->lock);
}

static struct http_req *wait_deferred(struct deferred_app *app, int timeout_ms)
{
    int64_t deadline = clock_now_ns() + timeout_ms * MS;
    for (;;) {
        pthread_mutex_lock(&app->lock);
        struct http_req *req = app->req;
        app->req = NULL;
        pthread_mutex_unlock(&app->lock);
        if (req || clock_now_ns() > deadline)
            return req;
        clock_sleep_ms(1, NULL);
    }
}

struct client_call {
    pthread_t thread;
    const char *url;
    long timeout_ms;
    struct response r;
    CURLcode rc;
};

static void *client_call_main(void *arg)
{
    struct client_call *c = arg;
    CURL *curl = curl_easy_init();
    memset(&c->r, 0, sizeof c->r);
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c->r.body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    c->rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->r.status);
    curl_easy_cleanup(curl);
    return NULL;
}

static void test_deferred_answer(void **state)
{
    (void)state;
    struct deferred_app app = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct http_server *s = http_server_new(NULL);
    add_route(s, "GET", "/slow/{n}", defer_handler, &app);
    add_route(s, "GET", "/text", text_handler, NULL);
    struct fixture f;
    fixture_start(&f, s);

    struct client_call c = {.url = url_of(&f, "/slow/7?x=1"), .timeout_ms = 10000};
    pthread_create(&c.thread, NULL, client_call_main, &c);
    struct http_req *req = wait_deferred(&app, 5000);
    assert_non_null(req);
    /* The handler's thread is free meanwhile: other requests are served. */
    struct response r;
    request("GET", url_of(&f, "/text"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    /* The request stays readable from this thread until answered. */
    assert_string_equal(http_req_param(req, "n"), "7");
    assert_string_equal(http_req_query(req, "x"), "1");
    assert_int_equal(*http_req_cancel_flag(req), 0);
    clock_sleep_ms(50, NULL);
    assert_int_equal(http_reply_json(req, 202, json_pack("{s:s}", "later", "yes")), 0);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.r.status, 202);
    assert_string_equal(buf_str(&c.r.body), "{\"later\":\"yes\"}");
    buf_free(&c.r.body);
    assert_int_equal(app.gone, 0);
    http_server_free(s);
}

static void test_deferred_client_gone(void **state)
{
    (void)state;
    struct deferred_app app = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct http_server *s = http_server_new(NULL);
    add_route(s, "GET", "/slow/{n}", defer_handler, &app);
    struct fixture f;
    fixture_start(&f, s);

    struct client_call c = {.url = url_of(&f, "/slow/1"), .timeout_ms = 200};
    pthread_create(&c.thread, NULL, client_call_main, &c);
    struct http_req *req = wait_deferred(&app, 5000);
    assert_non_null(req);
    volatile sig_atomic_t *cancel = http_req_cancel_flag(req);
    pthread_join(c.thread, NULL);
    int64_t left = clock_now_ns();
    assert_int_equal(c.rc, CURLE_OPERATION_TIMEDOUT);
    for (int gone = 0; !gone && clock_now_ns() - left < 2000 * MS;) {
        clock_sleep_ms(1, NULL);
        pthread_mutex_lock(&app.lock);
        gone = app.gone;
        pthread_mutex_unlock(&app.lock);
    }
    assert_int_equal(*cancel, 1);
    pthread_mutex_lock(&app.lock);
    assert_int_equal(app.gone, 1);
    assert_int_equal(app.why, HTTP_GONE_CLIENT);
    assert_true(app.gone_ns - left < 500 * MS);
    pthread_mutex_unlock(&app.lock);
    /* The late answer is dropped but gives the request back (ASan checks). */
    assert_int_equal(http_reply_text(req, 200, "too late"), ERR_CANCELED);
    buf_free(&c.r.body);
    http_server_free(s);
}

/* ---- SSE: the application side ---------------------------------------------------------- */

#define MAX_STREAMS 256

struct sse_app {
    pthread_mutex_t lock;
    struct http_stream *streams[MAX_STREAMS];
    int nstreams;
    int taken;
    int gone[3];
    int64_t gone_ns;
    int keepalive_ms;
    size_t max_buffer;
};

static void sse_gone(enum http_gone why, void *user)
{
    struct sse_app *app = user;
    pthread_mutex_lock(&app->lock);
    app->gone[why]++;
    app->gone_ns = clock_now_ns();
    pthread_mutex_unlock(&app->lock);
}

static void sse_handler(struct http_req *req, void *user)
{
    struct sse_app *app = user;
    http_reply_header(req, "X-Stream", "1");
    struct http_stream_options o = {.keepalive_ms = app->keepalive_ms,
                                    .max_buffer = app->max_buffer,
                                    .on_gone = sse_gone,
                                    .user = app};
    struct http_stream *st = http_stream_open(req, &o);
    assert_non_null(st);
    assert_null(http_stream_open(req, &o));
    assert_int_equal(http_reply_text(req, 200, "no"), ERR_INVALID);
    pthread_mutex_lock(&app->lock);
    assert_true(app->nstreams < MAX_STREAMS);
    app->streams[app->nstreams++] = st;
    pthread_mutex_unlock(&app->lock);
}

/* The next stream the handler opened, or NULL after timeout_ms. */
static struct http_stream *take_stream(struct sse_app *app, int timeout_ms)
{
    int64_t deadline = clock_now_ns() + timeout_ms * MS;
    for (;;) {
        struct http_stream *st = NULL;
        pthread_mutex_lock(&app->lock);
        if (app->taken < app->nstreams)
            st = app->streams[app->taken++];
        pthread_mutex_unlock(&app->lock);
        if (st || clock_now_ns() > deadline)
            return st;
        clock_sleep_ms(1, NULL);
    }
}

static struct http_server *sse_server(struct sse_app *app, const struct http_server_config *cfg)
{
    pthread_mutex_init(&app->lock, NULL);
    struct http_server *s = http_server_new(cfg);
    add_route(s, "GET", "/events", sse_handler, app);
    add_route(s, "GET", "/text", text_handler, NULL);
    return s;
}

/* ---- SSE: the client side -------------------------------------------------------------- */

#define MAX_EVENTS 512

struct got_event {
    char name[32];
    char id[32];
    char *data;
    int64_t ns;
};

struct sse_client {
    char *url;
    pthread_t thread;
    pthread_mutex_t lock;
    struct sse_parser parser;
    struct got_event events[MAX_EVENTS];
    int nevents;
    struct buf raw;
    int abort_after;    /* > 0: hang up once this many events arrived */
    int64_t headers_ns; /* when the response headers arrived */
    int64_t hangup_ns;  /* when abort_after made the client hang up */
    long status;
    bool done;
    CURLcode result;
    CURL *curl;
    struct curl_slist *list;
};

static int client_event(const struct sse_event *ev, void *user)
{
    struct sse_client *c = user;
    if (c->nevents == MAX_EVENTS)
        return ERR_LIMIT;
    struct got_event *g = &c->events[c->nevents++];
    snprintf(g->name, sizeof g->name, "%s", ev->event);
    snprintf(g->id, sizeof g->id, "%s", ev->id);
    g->data = strndup(ev->data, ev->data_len);
    g->ns = clock_now_ns();
    return 0;
}

static size_t client_write(char *data, size_t size, size_t n, void *user)
{
    struct sse_client *c = user;
    pthread_mutex_lock(&c->lock);
    buf_append(&c->raw, data, size * n);
    sse_parser_feed(&c->parser, data, size * n, NULL, 0);
    bool hang_up = c->abort_after && c->nevents >= c->abort_after;
    if (hang_up)
        c->hangup_ns = clock_now_ns();
    pthread_mutex_unlock(&c->lock);
    return hang_up ? 0 : size * n;
}

static size_t client_header(char *data, size_t size, size_t n, void *user)
{
    struct sse_client *c = user;
    if (size * n == 2 && data[0] == '\r') {
        pthread_mutex_lock(&c->lock);
        c->headers_ns = clock_now_ns();
        pthread_mutex_unlock(&c->lock);
    }
    return size * n;
}

static void client_init(struct sse_client *c, const char *url)
{
    memset(c, 0, sizeof *c);
    c->url = strdup(url);
    pthread_mutex_init(&c->lock, NULL);
    buf_init(&c->raw, 0);
    sse_parser_init(&c->parser, 0, 0, client_event, c);
    c->curl = curl_easy_init();
    c->list = curl_slist_append(NULL, "Accept: text/event-stream");
    curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->list);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, client_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
}

static void client_finish(struct sse_client *c, CURLcode rc)
{
    pthread_mutex_lock(&c->lock);
    c->result = rc;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    c->done = true;
    pthread_mutex_unlock(&c->lock);
}

static void *client_main(void *arg)
{
    struct sse_client *c = arg;
    client_finish(c, curl_easy_perform(c->curl));
    return NULL;
}

static void client_start(struct sse_client *c, const char *url)
{
    client_init(c, url);
    pthread_create(&c->thread, NULL, client_main, c);
}

static void client_free(struct sse_client *c)
{
    if (c->thread)
        pthread_join(c->thread, NULL);
    for (int i = 0; i < c->nevents; i++)
        free(c->events[i].data);
    sse_parser_free(&c->parser);
    buf_free(&c->raw);
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->list);
    free(c->url);
    pthread_mutex_destroy(&c->lock);
}

/* Waits until the client has n events (or is done); returns the count. */
static int client_wait(struct sse_client *c, int n, int timeout_ms)
{
    int64_t deadline = clock_now_ns() + timeout_ms * MS;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        int got = c->nevents;
        bool done = c->done;
        pthread_mutex_unlock(&c->lock);
        if (got >= n || done || clock_now_ns() > deadline)
            return got;
        clock_sleep_ms(1, NULL);
    }
}

static bool client_done(struct sse_client *c, int timeout_ms)
{
    int64_t deadline = clock_now_ns() + timeout_ms * MS;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool done = c->done;
        pthread_mutex_unlock(&c->lock);
        if (done || clock_now_ns() > deadline)
            return done;
        clock_sleep_ms(1, NULL);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- SSE tests ---------------------------------------------------------------------- */

static void test_sse_order_and_latency(void **state)
{
    (void)state;
    struct sse_app app = {0};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client c;
    client_start(&c, url_of(&f, "/events"));
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    /* The headers go out at once, before any event (EventSource's "open"). */
    int64_t t0 = clock_now_ns(), headers_ns = 0;
    while (!headers_ns && clock_now_ns() - t0 < 2000 * MS) {
        clock_sleep_ms(1, NULL);
        pthread_mutex_lock(&c.lock);
        headers_ns = c.headers_ns;
        pthread_mutex_unlock(&c.lock);
    }
    assert_true(headers_ns > 0);
    assert_int_equal(http_server_active_streams(f.server), 1);

    enum { N = 100 };
    int64_t sent[N];
    for (int i = 0; i < N; i++) {
        char data[32], id[16];
        snprintf(data, sizeof data, "token %d", i);
        snprintf(id, sizeof id, "%d", i);
        sent[i] = clock_now_ns();
        assert_int_equal(http_stream_send(st, "delta", id, data, strlen(data)), 0);
        /* Wait for each event so one delivery's latency is measured at a time. */
        assert_int_equal(client_wait(&c, i + 1, 2000), i + 1);
        if (i % 10 == 0)
            clock_sleep_ms(2, NULL); /* let the connection go idle (suspended) */
    }
    json_t *final = json_pack("{s:s}", "text", "done");
    assert_int_equal(http_stream_send_json(st, "final", final), 0);
    json_decref(final);
    http_stream_close(st);
    assert_true(client_done(&c, 5000));
    assert_int_equal(c.result, CURLE_OK); /* the chunked body ended cleanly */
    assert_int_equal(c.status, 200);
    assert_int_equal(c.nevents, N + 1);
    int64_t lat[N];
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "token %d", i);
        assert_string_equal(c.events[i].data, want);
        assert_string_equal(c.events[i].name, "delta");
        assert_int_equal(atoi(c.events[i].id), i);
        lat[i] = c.events[i].ns - sent[i];
    }
    assert_string_equal(c.events[N].name, "final");
    assert_string_equal(c.events[N].data, "{\"text\":\"done\"}");
    qsort(lat, N, sizeof lat[0], cmp_i64);
    /* Delivery is immediate: no Nagle (40 ms) or keep-alive-period waits.
     * Loose bounds, as the test machines are shared. */
    print_message("# sse delivery latency p50 %lld us, p90 %lld us\n", (long long)lat[N / 2] / 1000,
                  (long long)lat[N * 9 / 10] / 1000);
    assert_true(lat[N / 2] < 5 * MS);
    assert_true(lat[N * 9 / 10] < 30 * MS);
    assert_non_null(strstr(buf_str(&c.raw), "event: delta\nid: 0\ndata: token 0\n\n"));
    client_free(&c);
    clock_sleep_ms(20, NULL);
    assert_int_equal(http_server_active_streams(f.server), 0);
    assert_int_equal(app.gone[HTTP_GONE_CLIENT] + app.gone[HTTP_GONE_STOPPING], 0);
    http_server_free(f.server);
}

static void test_sse_multiline_data(void **state)
{
    (void)state;
    struct sse_app app = {0};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client c;
    client_start(&c, url_of(&f, "/events"));
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    const char text[] = "line1\nline2\r\nline3\rline4";
    assert_int_equal(http_stream_send(st, "msg", "7", text, strlen(text)), 0);
    assert_int_equal(http_stream_send(st, NULL, NULL, "", 0), 0);
    assert_int_equal(http_stream_send(st, NULL, NULL, "end\n", 4), 0);
    assert_int_equal(http_stream_send(st, "a\nb", NULL, "x", 1), ERR_INVALID);
    assert_int_equal(http_stream_send(st, "ok", "1\r", "x", 1), ERR_INVALID);
    assert_int_equal(http_stream_comment(st, "note"), 0);
    assert_int_equal(http_stream_comment(st, "bad\nnote"), ERR_INVALID);
    http_stream_close(st);
    assert_true(client_done(&c, 5000));
    assert_int_equal(c.result, CURLE_OK);
    assert_int_equal(c.nevents, 3);
    assert_string_equal(c.events[0].name, "msg");
    assert_string_equal(c.events[0].id, "7");
    assert_string_equal(c.events[0].data, "line1\nline2\nline3\nline4");
    assert_string_equal(c.events[1].name, "message");
    assert_string_equal(c.events[1].data, "");
    assert_string_equal(c.events[2].data, "end\n");
    assert_string_equal(buf_str(&c.raw), "event: msg\nid: 7\ndata: line1\ndata: line2\n"
                                         "data: line3\ndata: line4\n\n"
                                         "data: \n\n"
                                         "data: end\ndata: \n\n"
                                         ": note\n\n");
    client_free(&c);
    http_server_free(f.server);
}

static void test_sse_keepalive(void **state)
{
    (void)state;
    struct sse_app app = {.keepalive_ms = 60};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client c;
    client_start(&c, url_of(&f, "/events"));
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    int64_t t0 = clock_now_ns();
    int count = 0;
    while (clock_now_ns() - t0 < 2000 * MS) {
        pthread_mutex_lock(&c.lock);
        count = 0;
        for (const char *p = buf_str(&c.raw); (p = strstr(p, ": keep-alive\n\n")); p++)
            count++;
        pthread_mutex_unlock(&c.lock);
        if (count >= 3)
            break;
        clock_sleep_ms(5, NULL);
    }
    int64_t took = clock_now_ns() - t0;
    assert_true(count >= 3);
    /* Three comments about 60 ms apart, not one per monitor second. */
    assert_true(took < 1000 * MS);
    assert_true(took >= 150 * MS);
    /* Comments are not events: the client saw none yet. */
    assert_int_equal(client_wait(&c, 1, 0), 0);
    assert_int_equal(http_stream_send(st, NULL, NULL, "x", 1), 0);
    http_stream_close(st);
    assert_true(client_done(&c, 5000));
    assert_int_equal(c.nevents, 1);
    client_free(&c);
    http_server_free(f.server);
}

static void test_sse_client_disconnect(void **state)
{
    (void)state;
    struct sse_app app = {0};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client c;
    client_init(&c, url_of(&f, "/events"));
    c.abort_after = 1;
    pthread_create(&c.thread, NULL, client_main, &c);
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    volatile sig_atomic_t *cancel = http_stream_cancel_flag(st);
    assert_int_equal(http_stream_send(st, "delta", NULL, "one", 3), 0);
    /* The client hangs up after the first event; the stream is idle (its
     * connection suspended), so only the monitor can notice. */
    assert_true(client_done(&c, 5000));
    assert_int_equal(c.result, CURLE_WRITE_ERROR);
    for (int gone = 0; !gone && clock_now_ns() - c.hangup_ns < 2000 * MS;) {
        clock_sleep_ms(1, NULL);
        pthread_mutex_lock(&app.lock);
        gone = app.gone[HTTP_GONE_CLIENT];
        pthread_mutex_unlock(&app.lock);
    }
    assert_int_equal(*cancel, 1);
    assert_true(http_stream_gone(st));
    pthread_mutex_lock(&app.lock);
    assert_int_equal(app.gone[HTTP_GONE_CLIENT], 1);
    int64_t noticed = app.gone_ns - c.hangup_ns;
    pthread_mutex_unlock(&app.lock);
    print_message("# disconnect noticed after %lld us\n", (long long)noticed / 1000);
    assert_true(noticed < 500 * MS);
    assert_int_equal(http_stream_send(st, "delta", NULL, "two", 3), ERR_CANCELED);
    http_stream_close(st);
    int64_t t0 = clock_now_ns();
    while (http_server_active_streams(f.server) && clock_now_ns() - t0 < 2000 * MS)
        clock_sleep_ms(1, NULL);
    assert_int_equal(http_server_active_streams(f.server), 0);
    client_free(&c);
    http_server_free(f.server);
}

/* A client that sends a request and then never reads. */
static int raw_connect_send(int port, const char *request_text)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, request_text, strlen(request_text), 0),
                     (ssize_t)strlen(request_text));
    return fd;
}

/* A 404 for a path that is not UTF-8 keeps its code and message (the bytes
 * the message quotes become U+FFFD, not an "internal" error with no message). */
static void test_error_with_invalid_utf8_path(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, basic_server(NULL));
    int fd = raw_connect_send(http_server_port(f.server),
                              "GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char buf[4096];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    assert_non_null(strstr(buf, " 404 "));
    assert_non_null(strstr(buf, "\"code\":\"not_found\""));
    assert_non_null(strstr(buf, "no route for /v1/"));
    http_server_free(f.server);
}

static void test_sse_slow_client_never_blocks(void **state)
{
    (void)state;
    struct sse_app app = {.max_buffer = 64 << 10};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    int fd =
        raw_connect_send(http_server_port(f.server), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    char data[1024];
    memset(data, 'z', sizeof data);
    int rc = 0, sent = 0;
    int64_t t0 = clock_now_ns(), worst = 0;
    for (int i = 0; i < 20000 && rc == 0; i++) {
        int64_t t = clock_now_ns();
        rc = http_stream_send(st, NULL, NULL, data, sizeof data);
        if (clock_now_ns() - t > worst)
            worst = clock_now_ns() - t;
        if (rc == 0)
            sent++;
        else if (rc == ERR_LIMIT)
            break;
    }
    /* The socket buffers fill, then the stream buffer, then sends fail fast. */
    assert_int_equal(rc, ERR_LIMIT);
    assert_true(sent > 60);
    assert_true(clock_now_ns() - t0 < 5000 * MS);
    assert_true(worst < 50 * MS);
    /* The server still serves others meanwhile. */
    struct response r;
    request("GET", url_of(&f, "/text"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    close(fd);
    http_stream_close(st);
    http_server_free(f.server);
}

/* 200 streams at once through one curl multi handle. */
static void test_sse_200_concurrent(void **state)
{
    (void)state;
    enum { N = 200, EVENTS = 5 };
    struct sse_app app = {0};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client *clients = calloc(N, sizeof *clients);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)N);
    for (int i = 0; i < N; i++) {
        client_init(&clients[i], url_of(&f, "/events"));
        curl_easy_setopt(clients[i].curl, CURLOPT_PRIVATE, &clients[i]);
        curl_multi_add_handle(multi, clients[i].curl);
    }
    int running = 1, opened = 0, max_active = 0;
    struct http_stream *streams[N];
    int64_t t0 = clock_now_ns();
    int round = 0;
    while (running && clock_now_ns() - t0 < 30000 * MS) {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 10, NULL);
        struct http_stream *st;
        while (opened < N && (st = take_stream(&app, 0)))
            streams[opened++] = st;
        if (http_server_active_streams(f.server) > max_active)
            max_active = http_server_active_streams(f.server);
        /* Once all are open, one event per stream per loop, then close. */
        if (opened == N && round <= EVENTS) {
            for (int i = 0; i < N; i++) {
                char data[32];
                snprintf(data, sizeof data, "%d:%d", i, round);
                if (round < EVENTS)
                    assert_int_equal(http_stream_send(streams[i], NULL, NULL, data, strlen(data)),
                                     0);
                else
                    http_stream_close(streams[i]);
            }
            round++;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            client_finish((struct sse_client *)(void *)priv, msg->data.result);
        }
    }
    assert_int_equal(opened, N);
    assert_int_equal(max_active, N);
    for (int i = 0; i < N; i++) {
        struct sse_client *c = &clients[i];
        assert_true(c->done);
        assert_int_equal(c->result, CURLE_OK);
        assert_int_equal(c->nevents, EVENTS);
        int stream_index = atoi(c->events[0].data);
        for (int e = 0; e < EVENTS; e++) {
            char want[32];
            snprintf(want, sizeof want, "%d:%d", stream_index, e);
            assert_string_equal(c->events[e].data, want);
        }
        curl_multi_remove_handle(multi, c->curl);
        client_free(c);
    }
    curl_multi_cleanup(multi);
    free(clients);
    http_server_free(f.server);
}

static void test_graceful_stop_with_open_streams(void **state)
{
    (void)state;
    enum { N = 5 };
    struct sse_app app = {0};
    struct http_server_config cfg = {.grace_ms = 3000};
    struct fixture f;
    fixture_start(&f, sse_server(&app, &cfg));
    struct sse_client c[N];
    struct http_stream *st[N];
    for (int i = 0; i < N; i++) {
        client_start(&c[i], url_of(&f, "/events"));
        st[i] = take_stream(&app, 5000);
        assert_non_null(st[i]);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(http_stream_send(st[i], "last", NULL, "bye", 3), 0);
    int64_t t0 = clock_now_ns();
    http_server_stop(f.server);
    int64_t took = clock_now_ns() - t0;
    print_message("# stop with %d open streams took %lld us\n", N, (long long)took / 1000);
    assert_true(took < 2000 * MS);
    pthread_mutex_lock(&app.lock);
    assert_int_equal(app.gone[HTTP_GONE_STOPPING], N);
    pthread_mutex_unlock(&app.lock);
    for (int i = 0; i < N; i++) {
        /* Every client got the queued event and a clean end of stream. */
        assert_true(client_done(&c[i], 5000));
        assert_int_equal(c[i].result, CURLE_OK);
        assert_int_equal(c[i].nevents, 1);
        assert_string_equal(c[i].events[0].data, "bye");
        assert_true(http_stream_gone(st[i]));
        assert_int_equal(*http_stream_cancel_flag(st[i]), 1);
        assert_int_equal(http_stream_send(st[i], NULL, NULL, "x", 1), ERR_CANCELED);
        http_stream_close(st[i]);
        client_free(&c[i]);
    }
    assert_int_equal(http_server_port(f.server), 0);
    assert_int_equal(http_server_active_streams(f.server), 0);
    /* A stopped server can start again, on a new free port. */
    fixture_start(&f, f.server);
    struct response r;
    request("GET", url_of(&f, "/text"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    http_server_free(f.server);
}

static void test_stop_with_deferred_request(void **state)
{
    (void)state;
    struct deferred_app app = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct http_server *s = http_server_new(NULL);
    add_route(s, "GET", "/slow/{n}", defer_handler, &app);
    struct fixture f;
    fixture_start(&f, s);
    struct client_call c = {.url = url_of(&f, "/slow/1"), .timeout_ms = 10000};
    pthread_create(&c.thread, NULL, client_call_main, &c);
    struct http_req *req = wait_deferred(&app, 5000);
    assert_non_null(req);
    http_server_stop(s);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.r.status, 503);
    assert_non_null(strstr(buf_str(&c.r.body), "\"unavailable\""));
    assert_int_equal(app.gone, 1);
    assert_int_equal(app.why, HTTP_GONE_STOPPING);
    assert_int_equal(http_reply_text(req, 200, "late"), ERR_CANCELED);
    buf_free(&c.r.body);
    http_server_free(s);
}

/* A client that reads slowly gets every event, in order, while the producer
 * backs off on ERR_LIMIT (the stream buffer is compacted as it drains). */
static size_t slow_write(char *data, size_t size, size_t n, void *user)
{
    clock_sleep_ms(1, NULL);
    return client_write(data, size, n, user);
}

static void test_sse_slow_reader_gets_everything(void **state)
{
    (void)state;
    enum { N = 400 };
    struct sse_app app = {.max_buffer = 32 << 10};
    struct fixture f;
    fixture_start(&f, sse_server(&app, NULL));
    struct sse_client c;
    client_init(&c, url_of(&f, "/events"));
    curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, slow_write);
    curl_easy_setopt(c.curl, CURLOPT_BUFFERSIZE, 1024L);
    pthread_create(&c.thread, NULL, client_main, &c);
    struct http_stream *st = take_stream(&app, 5000);
    assert_non_null(st);
    char data[1024];
    int limited = 0;
    for (int i = 0; i < N; i++) {
        snprintf(data, sizeof data, "%04d:", i);
        memset(data + 5, 'a' + i % 26, sizeof data - 6);
        data[sizeof data - 1] = '\0';
        int rc;
        while ((rc = http_stream_send(st, NULL, NULL, data, strlen(data))) == ERR_LIMIT) {
            limited++;
            clock_sleep_ms(2, NULL);
        }
        assert_int_equal(rc, 0);
    }
    http_stream_close(st);
    assert_true(client_done(&c, 20000));
    assert_int_equal(c.result, CURLE_OK);
    assert_int_equal(c.nevents, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atoi(c.events[i].data), i);
        assert_int_equal(strlen(c.events[i].data), sizeof data - 1);
        assert_int_equal(c.events[i].data[500], 'a' + i % 26);
    }
    assert_true(limited > 0); /* the buffer really filled up */
    client_free(&c);
    http_server_free(f.server);
}

/* A deferred request may become a stream later, from another thread. */
struct late_stream {
    struct deferred_app *app;
    struct http_req *req;
};

static void *late_stream_main(void *arg)
{
    struct late_stream *ls = arg;
    clock_sleep_ms(20, NULL);
    http_reply_header(ls->req, "X-Late", "1");
    struct http_stream *st = http_stream_open(ls->req, NULL);
    assert_non_null(st);
    assert_int_equal(http_stream_send(st, "delta", NULL, "late 1", 6), 0);
    assert_int_equal(http_stream_send(st, "delta", NULL, "late 2", 6), 0);
    http_stream_close(st);
    return NULL;
}

static void test_deferred_then_stream(void **state)
{
    (void)state;
    struct deferred_app app = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct http_server *s = http_server_new(NULL);
    add_route(s, "GET", "/slow/{n}", defer_handler, &app);
    struct fixture f;
    fixture_start(&f, s);
    struct sse_client c;
    client_start(&c, url_of(&f, "/slow/3"));
    struct late_stream ls = {.app = &app, .req = wait_deferred(&app, 5000)};
    assert_non_null(ls.req);
    pthread_t thread;
    pthread_create(&thread, NULL, late_stream_main, &ls);
    pthread_join(thread, NULL);
    assert_true(client_done(&c, 5000));
    assert_int_equal(c.result, CURLE_OK);
    assert_int_equal(c.status, 200);
    assert_int_equal(c.nevents, 2);
    assert_string_equal(c.events[1].data, "late 2");
    client_free(&c);
    http_server_free(s);
}

/* Several requests on one kept-alive connection, errors included. */
static void test_keepalive_connection_reuse(void **state)
{
    (void)state;
    struct fixture f;
    fixture_start(&f, basic_server(NULL));
    CURL *curl = curl_easy_init();
    struct buf body;
    buf_init(&body, 0);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const char *paths[] = {"/text", "/missing", "/v1/sessions/1", "/text"};
    long codes[] = {200, 404, 200, 200};
    long connects = 0;
    for (size_t i = 0; i < 4; i++) {
        buf_reset(&body);
        curl_easy_setopt(curl, CURLOPT_URL, url_of(&f, paths[i]));
        assert_int_equal(curl_easy_perform(curl), CURLE_OK);
        long status, n;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &n);
        assert_int_equal(status, codes[i]);
        connects += n;
    }
    assert_int_equal(connects, 1);
    curl_easy_cleanup(curl);
    buf_free(&body);
    http_server_free(f.server);
}

/* Past max_connections, further connections wait (in the kernel's accept
 * queue) until one closes. */
static void test_max_connections(void **state)
{
    (void)state;
    struct sse_app app = {0};
    struct http_server_config cfg = {.threads = 1, .max_connections = 2};
    struct fixture f;
    fixture_start(&f, sse_server(&app, &cfg));
    struct sse_client c[2];
    struct http_stream *st[2];
    for (int i = 0; i < 2; i++) {
        client_start(&c[i], url_of(&f, "/events"));
        st[i] = take_stream(&app, 5000);
        assert_non_null(st[i]);
    }
    struct client_call third = {.url = url_of(&f, "/text"), .timeout_ms = 5000};
    int64_t t0 = clock_now_ns();
    pthread_create(&third.thread, NULL, client_call_main, &third);
    clock_sleep_ms(300, NULL);
    assert_int_equal(third.r.status, 0); /* still waiting */
    /* End one stream; its client closes the connection (curl would keep it). */
    http_stream_close(st[0]);
    assert_true(client_done(&c[0], 5000));
    client_free(&c[0]);
    pthread_join(third.thread, NULL);
    int64_t waited = clock_now_ns() - t0;
    assert_int_equal(third.rc, CURLE_OK);
    assert_int_equal(third.r.status, 200);
    assert_true(waited >= 300 * MS && waited < 3000 * MS);
    buf_free(&third.r.body);
    http_stream_close(st[1]);
    assert_true(client_done(&c[1], 5000));
    client_free(&c[1]);
    http_server_free(f.server);
}

/* ---- metrics, ports ------------------------------------------------------------------ */

struct metrics_log {
    pthread_mutex_t lock;
    char lines[32][160];
    int n;
};

static void record_metrics(const struct http_request_metrics *m, void *user)
{
    struct metrics_log *log = user;
    pthread_mutex_lock(&log->lock);
    if (log->n < 32)
        snprintf(log->lines[log->n++], sizeof log->lines[0], "%s %s %d in=%zu out=%zu%s%s",
                 m->method, m->route ? m->route : "-", m->status, m->bytes_in, m->bytes_out,
                 m->stream ? " stream" : "", m->completed ? " ok" : "");
    assert_true(m->duration_ns > 0);
    pthread_mutex_unlock(&log->lock);
}

static void test_metrics_hook(void **state)
{
    (void)state;
    struct metrics_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct sse_app app = {0};
    struct http_server_config cfg = {.on_request = record_metrics, .metrics_user = &log};
    struct http_server *s = sse_server(&app, &cfg);
    add_route(s, "POST", "/v1/sessions/{id}/messages", echo_handler, "m");
    struct fixture f;
    fixture_start(&f, s);
    struct response r;
    size_t sizes[3];
    request("GET", url_of(&f, "/text"), NULL, NULL, &r);
    sizes[0] = r.body.len;
    response_free(&r);
    request("GET", url_of(&f, "/missing"), NULL, NULL, &r);
    sizes[1] = r.body.len;
    response_free(&r);
    request("POST", url_of(&f, "/v1/sessions/9/messages"), "12345", NULL, &r);
    sizes[2] = r.body.len;
    response_free(&r);
    struct sse_client c;
    client_start(&c, url_of(&f, "/events"));
    struct http_stream *st = take_stream(&app, 5000);
    http_stream_send(st, NULL, NULL, "abc", 3); /* "data: abc\n\n" = 11 bytes */
    http_stream_close(st);
    assert_true(client_done(&c, 5000));
    client_free(&c);
    int64_t t0 = clock_now_ns();
    for (int n = 0; n < 4 && clock_now_ns() - t0 < 2000 * MS;) {
        clock_sleep_ms(1, NULL);
        pthread_mutex_lock(&log.lock);
        n = log.n;
        pthread_mutex_unlock(&log.lock);
    }
    pthread_mutex_lock(&log.lock);
    assert_int_equal(log.n, 4);
    char want[160];
    snprintf(want, sizeof want, "GET /text 200 in=0 out=%zu ok", sizes[0]);
    assert_string_equal(log.lines[0], want);
    assert_int_equal(sizes[0], 10);
    snprintf(want, sizeof want, "GET - 404 in=0 out=%zu ok", sizes[1]);
    assert_string_equal(log.lines[1], want);
    snprintf(want, sizeof want, "POST /v1/sessions/{id}/messages 200 in=5 out=%zu ok", sizes[2]);
    assert_string_equal(log.lines[2], want);
    assert_string_equal(log.lines[3], "GET /events 200 in=0 out=11 stream ok");
    pthread_mutex_unlock(&log.lock);
    http_server_free(s);
}

static void test_ports_and_bind_errors(void **state)
{
    (void)state;
    struct http_server *a = http_server_new(NULL);
    add_route(a, "GET", "/text", text_handler, NULL);
    char err[256] = "";
    assert_int_equal(http_server_start(a, err, sizeof err), 0);
    int port = http_server_port(a);
    assert_true(port > 0);
    assert_int_equal(http_server_start(a, err, sizeof err), ERR_INVALID);
    struct http_server_config cfg = {.port = port};
    struct http_server *b = http_server_new(&cfg);
    assert_int_equal(http_server_start(b, err, sizeof err), ERR_NETWORK);
    assert_non_null(strstr(err, "cannot listen"));
    http_server_free(b);
    struct http_server_config bad = {.host = "no-such-host.invalid"};
    b = http_server_new(&bad);
    assert_int_equal(http_server_start(b, err, sizeof err), ERR_INVALID);
    http_server_free(b);
    http_server_free(a);
}

static void test_connection_timeout(void **state)
{
    (void)state;
    struct http_server_config cfg = {.timeout_s = 1};
    struct fixture f;
    fixture_start(&f, basic_server(&cfg));
    /* Half a request, then silence: the server hangs up after the timeout. */
    int fd = raw_connect_send(http_server_port(f.server), "GET /text HTTP/1.1\r\nHo");
    int64_t t0 = clock_now_ns();
    char byte;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, &byte, 1, 0);
    int64_t took = clock_now_ns() - t0;
    assert_true(n <= 0);
    assert_true(took >= 500 * MS && took < 4000 * MS);
    close(fd);
    http_server_free(f.server);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_and_request_fields),
        cmocka_unit_test(test_404_405_options_and_error_shape),
        cmocka_unit_test(test_route_table_errors),
        cmocka_unit_test(test_body_uri_header_limits),
        cmocka_unit_test(test_json_body_helper),
        cmocka_unit_test(test_static_bytes_text),
        cmocka_unit_test(test_deferred_answer),
        cmocka_unit_test(test_deferred_client_gone),
        cmocka_unit_test(test_sse_order_and_latency),
        cmocka_unit_test(test_sse_multiline_data),
        cmocka_unit_test(test_sse_keepalive),
        cmocka_unit_test(test_sse_client_disconnect),
        cmocka_unit_test(test_error_with_invalid_utf8_path),
        cmocka_unit_test(test_sse_slow_client_never_blocks),
        cmocka_unit_test(test_sse_slow_reader_gets_everything),
        cmocka_unit_test(test_sse_200_concurrent),
        cmocka_unit_test(test_deferred_then_stream),
        cmocka_unit_test(test_keepalive_connection_reuse),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_graceful_stop_with_open_streams),
        cmocka_unit_test(test_stop_with_deferred_request),
        cmocka_unit_test(test_metrics_hook),
        cmocka_unit_test(test_ports_and_bind_errors),
        cmocka_unit_test(test_connection_timeout),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
