/* test_http_client — the HTTP client against a scripted server on 127.0.0.1:
 * real retries (429 + Retry-After, 5xx, x-should-retry, no retry on 4xx),
 * timeouts, idle timeouts, cancellation, body limits, streaming, connection
 * reuse, and that header values never reach the log. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "net/http_client.h"
#include "support/fake_http.h"

/* One request against a fresh server running script; returns the code. */
struct run {
    struct fake_http *server;
    char *url;
    struct http_client *client;
    struct http_response resp;
    char err[512];
    int64_t ms; /* wall time of the request */
};

static void run_start(struct run *r, const struct fake_http_reply *script, size_t n)
{
    memset(r, 0, sizeof *r);
    r->server = fake_http_start(script, n);
    assert_non_null(r->server);
    r->url = fake_http_url(r->server, "/v1/thing?key=secret");
    r->client = http_client_new();
    http_response_init(&r->resp);
}

static int run_request(struct run *r, struct http_request *req)
{
    req->url = r->url;
    if (!req->retry_base_ms)
        req->retry_base_ms = 5;
    int64_t t0 = clock_now_ns();
    int rc = http_client_request(r->client, req, &r->resp, r->err, sizeof r->err);
    r->ms = (clock_now_ns() - t0) / 1000000;
    return rc;
}

static void run_stop(struct run *r)
{
    http_response_free(&r->resp);
    http_client_free(r->client);
    fake_http_stop(r->server);
    free(r->url);
}

#define REPLIES(...)                                                                               \
    (const struct fake_http_reply[])                                                               \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define N_REPLIES(...)                                                                             \
    (sizeof((const struct fake_http_reply[]){__VA_ARGS__}) / sizeof(struct fake_http_reply))
#define START(r, ...) run_start(r, REPLIES(__VA_ARGS__), N_REPLIES(__VA_ARGS__))

/* ---- plain requests ------------------------------------------------------- */

static void test_get_and_headers(void **state)
{
    struct run r;
    START(&r, {.status = 200,
               .headers = "Content-Type: application/json\r\nX-Request-Id: req_123\r\n"
                          "X-Custom:  padded value  \r\n",
               .body = "{\"ok\":true}"});
    const char *headers[] = {"X-Test: one", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.headers = headers;
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(r.resp.status, 200);
    assert_string_equal(buf_str(&r.resp.body), "{\"ok\":true}");
    assert_string_equal(r.resp.content_type, "application/json");
    assert_string_equal(r.resp.request_id, "req_123");
    assert_int_equal(r.resp.attempts, 1);
    assert_false(r.resp.streamed);
    char value[64];
    assert_true(http_response_header(&r.resp, "x-custom", value, sizeof value));
    assert_string_equal(value, "padded value");
    assert_false(http_response_header(&r.resp, "x-missing", value, sizeof value));
    char *sent = fake_http_request(r.server, 0);
    assert_non_null(sent);
    assert_true(strncmp(sent, "GET /v1/thing?key=secret HTTP/1.1\r\n", 35) == 0);
    assert_non_null(strstr(sent, "\r\nX-Test: one\r\n"));
    free(sent);
    run_stop(&r);
}

static void test_post_body_and_keepalive(void **state)
{
    struct run r;
    START(&r, {.status = 201, .body = "made"});
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.headers = headers;
    req.body = "{\"a\":1}";
    req.body_len = 7;
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(r.resp.status, 201);
    assert_int_equal(run_request(&r, &req), 0); /* same client: same connection */
    req.method = "PUT";
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(fake_http_count(r.server), 3);
    assert_int_equal(fake_http_connections(r.server), 1);
    char *sent = fake_http_request(r.server, 0);
    assert_true(strncmp(sent, "POST ", 5) == 0);
    assert_non_null(strstr(sent, "\r\n\r\n{\"a\":1}"));
    assert_null(strstr(sent, "Expect:"));
    free(sent);
    sent = fake_http_request(r.server, 2);
    assert_true(strncmp(sent, "PUT ", 4) == 0);
    assert_non_null(strstr(sent, "\r\n\r\n{\"a\":1}"));
    free(sent);
    run_stop(&r);
}

/* ---- retries ---------------------------------------------------------------- */

static void test_429_retry_after_then_200(void **state)
{
    struct run r;
    START(&r, {.status = 429, .headers = "Retry-After: 0.2\r\n", .body = "slow down"},
          {.status = 200, .body = "fine"});
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(r.resp.attempts, 2);
    assert_int_equal(fake_http_count(r.server), 2);
    assert_string_equal(buf_str(&r.resp.body), "fine");
    assert_true(r.ms >= 190); /* waited as told, not the 5 ms backoff */
    run_stop(&r);

    START(&r, {.status = 503, .headers = "retry-after-ms: 150\r\nRetry-After: 9\r\n"},
          {.status = 200, .body = "ok"});
    assert_int_equal(run_request(&r, &req), 0);
    assert_true(r.ms >= 140 && r.ms < 5000);
    run_stop(&r);
}

static void test_5xx_gives_up(void **state)
{
    struct run r;
    START(&r, {.status = 500, .body = "{\"error\":\"boom\"}"});
    struct http_request req = HTTP_REQUEST_INIT;
    req.max_retries = 2;
    assert_int_equal(run_request(&r, &req), ERR_HTTP);
    assert_int_equal(r.resp.status, 500);
    assert_int_equal(r.resp.attempts, 3);
    assert_int_equal(fake_http_count(r.server), 3);
    assert_string_equal(buf_str(&r.resp.body), "{\"error\":\"boom\"}");
    assert_non_null(strstr(r.err, "HTTP 500"));
    assert_non_null(strstr(r.err, "after 3 attempts"));
    assert_non_null(strstr(r.err, "127.0.0.1:"));
    run_stop(&r);
}

static void test_4xx_not_retried(void **state)
{
    static const int codes[] = {400, 401, 403, 404, 422};
    for (size_t i = 0; i < 5; i++) {
        struct run r;
        START(&r, {.status = codes[i], .body = "no"}, {.status = 200});
        struct http_request req = HTTP_REQUEST_INIT;
        assert_int_equal(run_request(&r, &req), ERR_HTTP);
        assert_int_equal(r.resp.status, codes[i]);
        assert_int_equal(fake_http_count(r.server), 1);
        assert_string_equal(buf_str(&r.resp.body), "no");
        run_stop(&r);
    }
}

static void test_408_409_retried(void **state)
{
    struct run r;
    START(&r, {.status = 408}, {.status = 409}, {.status = 200});
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(fake_http_count(r.server), 3);
    run_stop(&r);
}

static void test_x_should_retry(void **state)
{
    struct run r;
    START(&r, {.status = 503, .headers = "x-should-retry: false\r\n"}, {.status = 200});
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(run_request(&r, &req), ERR_HTTP);
    assert_int_equal(fake_http_count(r.server), 1);
    run_stop(&r);

    START(&r, {.status = 400, .headers = "x-should-retry: true\r\n"}, {.status = 200});
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(fake_http_count(r.server), 2);
    run_stop(&r);
}

static void test_long_retry_after_not_waited(void **state)
{
    struct run r;
    START(&r, {.status = 429, .headers = "Retry-After: 600\r\n"}, {.status = 200});
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(run_request(&r, &req), ERR_HTTP);
    assert_int_equal(r.resp.status, 429);
    assert_int_equal(fake_http_count(r.server), 1);
    assert_true(r.ms < 2000);
    run_stop(&r);
}

static bool veto_all(const struct http_response *resp, void *user)
{
    int *asked = user;
    (*asked)++;
    assert_int_equal(resp->status, 429);
    assert_string_equal(buf_str(&resp->body), "quota");
    return false;
}

static void test_retry_filter_vetoes(void **state)
{
    struct run r;
    START(&r, {.status = 429, .body = "quota"}, {.status = 200});
    int asked = 0;
    struct http_request req = HTTP_REQUEST_INIT;
    req.retry_filter = veto_all;
    req.retry_user = &asked;
    assert_int_equal(run_request(&r, &req), ERR_HTTP);
    assert_int_equal(asked, 1);
    assert_int_equal(fake_http_count(r.server), 1);
    run_stop(&r);
}

static void test_transport_errors_retried(void **state)
{
    /* a dropped connection is a transport error: retried */
    struct run r;
    START(&r, {.drop = true}, {.status = 200, .body = "second time"});
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(run_request(&r, &req), 0);
    assert_string_equal(buf_str(&r.resp.body), "second time");
    assert_int_equal(r.resp.attempts, 2);
    run_stop(&r);
}

/* A port with nothing listening: bind, read the port, close. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connection_refused(void **state)
{
    char url[64], host[32];
    int port = dead_port();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    struct http_response resp;
    http_response_init(&resp);
    struct http_request req = HTTP_REQUEST_INIT;
    req.url = url;
    req.max_retries = 1;
    req.retry_base_ms = 5;
    char err[256];
    assert_int_equal(http_client_request(NULL, &req, &resp, err, sizeof err), ERR_NETWORK);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(err, host));
    assert_non_null(strstr(err, "refused"));
    http_response_free(&resp);
}

/* ---- timeouts, limits, cancellation -------------------------------------------- */

static void test_silent_server_times_out(void **state)
{
    struct run r;
    START(&r, {.status = 0});
    struct http_request req = HTTP_REQUEST_INIT;
    req.timeout_ms = 300;
    req.max_retries = 1;
    assert_int_equal(run_request(&r, &req), ERR_TIMEOUT);
    assert_int_equal(r.resp.attempts, 2);
    assert_true(r.ms >= 600 && r.ms < 3000);
    assert_non_null(strstr(r.err, "did not answer within 0.3 s"));
    run_stop(&r);
}

static void test_idle_timeout(void **state)
{
    static const char *const slow[] = {"first", "second", NULL};
    struct run r;
    START(&r, {.status = 200, .chunks = slow, .chunk_delay_ms = 1500});
    struct http_request req = HTTP_REQUEST_INIT;
    req.idle_timeout_ms = 200;
    req.max_retries = 0;
    assert_int_equal(run_request(&r, &req), ERR_TIMEOUT);
    assert_non_null(strstr(r.err, "went silent"));
    assert_true(r.ms < 1200);
    run_stop(&r);
}

static void test_body_limit(void **state)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct run r;
    START(&r, {.status = 200, .body = big});
    struct http_request req = HTTP_REQUEST_INIT;
    req.max_response = 4096;
    assert_int_equal(run_request(&r, &req), ERR_LIMIT);
    assert_int_equal(fake_http_count(r.server), 1); /* not retried */
    assert_non_null(strstr(r.err, "larger than 4096 bytes"));
    req.max_response = 4999;
    assert_int_equal(run_request(&r, &req), 0);
    assert_int_equal(r.resp.body.len, 4999);
    run_stop(&r);
}

struct canceller {
    volatile sig_atomic_t *flag;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = {c->after_ms / 1000, (c->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *c->flag = 1;
    return NULL;
}

static void test_cancel_while_waiting(void **state)
{
    struct run r;
    START(&r, {.status = 0});
    volatile sig_atomic_t cancel = 0;
    struct canceller c = {&cancel, 150};
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, &c);
    struct http_request req = HTTP_REQUEST_INIT;
    req.cancel = &cancel;
    req.timeout_ms = 10000;
    assert_int_equal(run_request(&r, &req), ERR_CANCELED);
    pthread_join(t, NULL);
    assert_true(r.ms >= 140 && r.ms < 700);
    assert_non_null(strstr(r.err, "canceled"));
    run_stop(&r);
}

static void test_cancel_during_retry_wait(void **state)
{
    struct run r;
    START(&r, {.status = 503, .headers = "Retry-After: 30\r\n"}, {.status = 200});
    volatile sig_atomic_t cancel = 0;
    struct canceller c = {&cancel, 150};
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, &c);
    struct http_request req = HTTP_REQUEST_INIT;
    req.cancel = &cancel;
    assert_int_equal(run_request(&r, &req), ERR_CANCELED);
    pthread_join(t, NULL);
    assert_true(r.ms < 1000);
    assert_int_equal(fake_http_count(r.server), 1);
    run_stop(&r);

    /* already canceled: nothing is sent */
    START(&r, {.status = 200});
    cancel = 1;
    assert_int_equal(run_request(&r, &req), ERR_CANCELED);
    assert_int_equal(fake_http_count(r.server), 0);
    run_stop(&r);
}

/* ---- streaming -------------------------------------------------------------------- */

struct collected {
    struct buf bytes;
    int calls;
    int fail_with; /* returned on the first call when non-zero */
};

static int collect(const char *data, size_t len, void *user)
{
    struct collected *c = user;
    c->calls++;
    if (c->fail_with)
        return c->fail_with;
    buf_append(&c->bytes, data, len);
    return 0;
}

static void test_streaming(void **state)
{
    static const char *const pieces[] = {"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n", NULL};
    struct run r;
    START(&r, {.status = 500, .body = "not streamed"},
          {.status = 200,
           .headers = "Content-Type: text/event-stream\r\n",
           .chunks = pieces,
           .chunk_delay_ms = 30});
    struct collected c = {0};
    buf_init(&c.bytes, 0);
    struct http_request req = HTTP_REQUEST_INIT;
    req.on_body = collect;
    req.body_user = &c;
    assert_int_equal(run_request(&r, &req), 0);
    assert_string_equal(buf_str(&c.bytes), "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n");
    assert_true(c.calls >= 2); /* arrived in pieces */
    assert_true(r.resp.streamed);
    assert_int_equal(r.resp.body.len, 0);
    assert_string_equal(r.resp.content_type, "text/event-stream");
    assert_int_equal(r.resp.attempts, 2); /* the 500 went to resp->body, then a retry */
    buf_free(&c.bytes);
    run_stop(&r);
}

static void test_stream_cut_is_not_retried(void **state)
{
    /* Content-Length promises more than arrives: a transport error after
     * bytes reached the caller must not be retried. */
    static const char *const pieces[] = {"data: partial", NULL};
    struct run r;
    START(&r, {.status = 200, .headers = "Content-Length: 1000\r\n", .chunks = pieces},
          {.status = 200, .body = "should not be asked for"});
    struct collected c = {0};
    buf_init(&c.bytes, 0);
    struct http_request req = HTTP_REQUEST_INIT;
    req.on_body = collect;
    req.body_user = &c;
    req.max_retries = 3;
    assert_int_equal(run_request(&r, &req), ERR_NETWORK);
    assert_true(r.resp.streamed);
    assert_int_equal(fake_http_count(r.server), 1);
    assert_string_equal(buf_str(&c.bytes), "data: partial");
    buf_free(&c.bytes);
    run_stop(&r);
}

static void test_stream_callback_aborts(void **state)
{
    static const char *const pieces[] = {"aaaa", "bbbb", NULL};
    struct run r;
    START(&r, {.status = 200, .chunks = pieces, .chunk_delay_ms = 20});
    struct collected c = {.fail_with = ERR_PARSE};
    buf_init(&c.bytes, 0);
    struct http_request req = HTTP_REQUEST_INIT;
    req.on_body = collect;
    req.body_user = &c;
    assert_int_equal(run_request(&r, &req), ERR_PARSE);
    assert_int_equal(c.calls, 1);
    assert_int_equal(fake_http_count(r.server), 1);
    buf_free(&c.bytes);
    run_stop(&r);
}

/* ---- hygiene ------------------------------------------------------------------------ */

static void test_secrets_not_logged(void **state)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/harde-http-log-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_open(path), 0);
    log_set_level(LOG_DEBUG);
    struct run r;
    START(&r, {.status = 500}, {.status = 200});
    const char *headers[] = {"Authorization: Bearer sk-live-TOPSECRET", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.headers = headers;
    assert_int_equal(run_request(&r, &req), 0);
    run_stop(&r);
    log_close();
    log_set_level(LOG_ERROR);
    FILE *f = fopen(path, "r");
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(text, "retrying")); /* something was logged */
    assert_null(strstr(text, "TOPSECRET"));
    assert_null(strstr(text, "key=secret")); /* no query strings either */
}

static void test_bad_requests(void **state)
{
    struct http_response resp;
    http_response_init(&resp);
    char err[256];
    struct http_request req = HTTP_REQUEST_INIT;
    assert_int_equal(http_client_request(NULL, &req, &resp, err, sizeof err), ERR_INVALID);
    const char *headers[] = {"X-Evil: a\r\nInjected: b", NULL};
    req.url = "http://127.0.0.1:1/";
    req.headers = headers;
    assert_int_equal(http_client_request(NULL, &req, &resp, err, sizeof err), ERR_INVALID);
    req.headers = NULL;
    req.url = "ftp://127.0.0.1/file";
    assert_int_equal(http_client_request(NULL, &req, &resp, err, sizeof err), ERR_INVALID);
    http_response_free(&resp);

    char host[64];
    http_url_host("https://user:pw@api.example.com:8443/v1?x=1", host, sizeof host);
    assert_string_equal(host, "api.example.com:8443");
    http_url_host("http://h", host, sizeof host);
    assert_string_equal(host, "h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_headers),
        cmocka_unit_test(test_post_body_and_keepalive),
        cmocka_unit_test(test_429_retry_after_then_200),
        cmocka_unit_test(test_5xx_gives_up),
        cmocka_unit_test(test_4xx_not_retried),
        cmocka_unit_test(test_408_409_retried),
        cmocka_unit_test(test_x_should_retry),
        cmocka_unit_test(test_long_retry_after_not_waited),
        cmocka_unit_test(test_retry_filter_vetoes),
        cmocka_unit_test(test_transport_errors_retried),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_cancel_while_waiting),
        cmocka_unit_test(test_cancel_during_retry_wait),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_stream_cut_is_not_retried),
        cmocka_unit_test(test_stream_callback_aborts),
        cmocka_unit_test(test_secrets_not_logged),
        cmocka_unit_test(test_bad_requests),
    };
    log_set_level(LOG_ERROR); /* retries log warnings; keep the output readable */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
