/* test_openai — the OpenAI backend end to end against a scripted server on
 * 127.0.0.1: what it sends, streamed and plain answers, and every failure in
 * the words a rep reads (401, unknown model, out of credit, rate limit then
 * success, timeout, refused connection, garbage, a cut-off stream, an error
 * mid-stream, cancellation, 5xx exhaustion, an over-large answer). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
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
#include "base/error.h"
#include "base/log.h"
#include "llm/model.h"
#include "llm/openai.h"
#include "support/fake_http.h"

#define KEY "sk-test-0123456789abcdef"

struct env {
    struct fake_http *server;
    struct llm_model *model;
    struct llm_message msg;
    struct llm_request req;
    struct llm_response out;
    struct buf text; /* streamed deltas */
    int deltas;
    char err[512];
};

static void on_text(const char *delta, size_t len, void *user)
{
    struct env *e = user;
    buf_append(&e->text, delta, len);
    e->deltas++;
}

static void env_start(struct env *e, const struct fake_http_reply *script, size_t n,
                      struct openai_options opt)
{
    memset(e, 0, sizeof *e);
    e->server = fake_http_start(script, n);
    assert_non_null(e->server);
    char *base = fake_http_url(e->server, "/v1/");
    opt.base_url = base;
    if (!opt.api_key)
        opt.api_key = KEY;
    if (!opt.retry_base_ms)
        opt.retry_base_ms = 5;
    char err[256];
    e->model = openai_model_new(&opt, err, sizeof err);
    free(base);
    assert_non_null(e->model);
    e->msg = (struct llm_message){.role = LLM_ROLE_USER, .content = "How do I close a deal?"};
    e->req = (struct llm_request){.model = "gpt-4.1",
                                  .instructions = "You are Hard-E.",
                                  .messages = &e->msg,
                                  .n_messages = 1,
                                  .settings = LLM_SETTINGS_DEFAULT};
    buf_init(&e->text, 0);
}

static int env_call(struct env *e)
{
    return llm_complete(e->model, &e->req, on_text, e, &e->out, e->err, sizeof e->err);
}

static void env_stop(struct env *e)
{
    llm_response_free(&e->out);
    llm_model_free(e->model);
    fake_http_stop(e->server);
    buf_free(&e->text);
}

#define REPLIES(...)                                                                               \
    (const struct fake_http_reply[])                                                               \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define N_REPLIES(...)                                                                             \
    (sizeof((const struct fake_http_reply[]){__VA_ARGS__}) / sizeof(struct fake_http_reply))
#define START(e, opt, ...) env_start(e, REPLIES(__VA_ARGS__), N_REPLIES(__VA_ARGS__), opt)

static const char answer_json[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4.1-2025-04-14\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Ask for the "
    "sale.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":20,"
    "\"completion_tokens\":5,\"total_tokens\":25}}";

/* ---- success ---------------------------------------------------------------- */

static void test_plain_answer_and_request(void **state)
{
    struct env e;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.organization = "org_123";
    opt.project = "proj_456";
    START(&e, opt,
          {.status = 200,
           .headers = "Content-Type: application/json\r\nx-request-id: req_abc\r\n",
           .body = answer_json});
    assert_int_equal(env_call(&e), 0);
    assert_string_equal(e.out.content, "Ask for the sale.");
    assert_string_equal(e.out.finish_reason, "stop");
    assert_string_equal(e.out.model, "gpt-4.1-2025-04-14");
    assert_string_equal(e.out.request_id, "req_abc");
    assert_int_equal(e.out.usage.total_tokens, 25);
    assert_int_equal(e.deltas, 0); /* not streamed */

    char *sent = fake_http_request(e.server, 0);
    assert_true(strncmp(sent, "POST /v1/chat/completions HTTP/1.1\r\n", 36) == 0);
    assert_non_null(strstr(sent, "\r\nAuthorization: Bearer " KEY "\r\n"));
    assert_non_null(strstr(sent, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(sent, "\r\nOpenAI-Organization: org_123\r\n"));
    assert_non_null(strstr(sent, "\r\nOpenAI-Project: proj_456\r\n"));
    json_t *body = json_loads(strstr(sent, "\r\n\r\n") + 4, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "gpt-4.1");
    json_t *first = json_array_get(json_object_get(body, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "role")), "system");
    assert_null(json_object_get(body, "stream"));
    json_decref(body);
    free(sent);
    env_stop(&e);
}

static const char *const stream_pieces[] = {
    "data: {\"id\":\"c\",\"model\":\"gpt-4.1-x\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Ask \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"for the\"}}]}\n",
    "\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" sale.\"}}]}\r\n\r\n",
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":5,"
    "\"total_tokens\":25}}\n\ndata: [DONE]\n\n",
    NULL,
};

static void test_streamed_answer(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 200,
           .headers = "Content-Type: text/event-stream\r\nx-request-id: req_s\r\n",
           .chunks = stream_pieces,
           .chunk_delay_ms = 20});
    e.req.stream = true;
    assert_int_equal(env_call(&e), 0);
    assert_string_equal(e.out.content, "Ask for the sale.");
    assert_string_equal(buf_str(&e.text), "Ask for the sale.");
    assert_int_equal(e.deltas, 3);
    assert_string_equal(e.out.finish_reason, "stop");
    assert_string_equal(e.out.model, "gpt-4.1-x");
    assert_string_equal(e.out.request_id, "req_s");
    assert_int_equal(e.out.usage.completion_tokens, 5);
    char *sent = fake_http_request(e.server, 0);
    assert_non_null(strstr(sent, "\r\nAccept: text/event-stream\r\n"));
    assert_non_null(strstr(sent, "\"stream\":true"));
    assert_non_null(strstr(sent, "\"include_usage\":true"));
    free(sent);
    env_stop(&e);
}

static void test_streamed_tool_calls(void **state)
{
    static const char *const pieces[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"price_roof\",\"arguments\":\"\"}},{\"index\":1,\"id\":\"call_2\","
        "\"type\":\"function\",\"function\":{\"name\":\"find_job\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{\\\"squares\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":"
        "{\"arguments\":\"{\\\"id\\\":1042}\"}},{\"index\":0,\"function\":{\"arguments\":"
        "\"30}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n",
        NULL,
    };
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 200,
           .headers = "Content-Type: text/event-stream\r\n",
           .chunks = pieces,
           .chunk_delay_ms = 10});
    e.req.stream = true;
    assert_int_equal(env_call(&e), 0);
    assert_null(e.out.content);
    assert_int_equal(e.out.n_tool_calls, 2);
    assert_string_equal(e.out.tool_calls[0].name, "price_roof");
    assert_string_equal(e.out.tool_calls[0].arguments, "{\"squares\":30}");
    assert_string_equal(e.out.tool_calls[1].id, "call_2");
    assert_string_equal(e.out.tool_calls[1].arguments, "{\"id\":1042}");
    assert_string_equal(e.out.finish_reason, "tool_calls");
    env_stop(&e);
}

static void test_stream_request_answered_with_json(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 200, .headers = "Content-Type: application/json\r\n", .body = answer_json});
    e.req.stream = true;
    assert_int_equal(env_call(&e), 0);
    assert_string_equal(e.out.content, "Ask for the sale.");
    assert_string_equal(buf_str(&e.text), "Ask for the sale.");
    assert_int_equal(e.deltas, 1);
    env_stop(&e);
}

static void test_rate_limit_then_success(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 429,
           .headers = "Retry-After: 0.05\r\n",
           .body = "{\"error\":{\"message\":\"Rate limit reached for requests\","
                   "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}"},
          {.status = 200, .body = answer_json});
    assert_int_equal(env_call(&e), 0);
    assert_string_equal(e.out.content, "Ask for the sale.");
    assert_int_equal(fake_http_count(e.server), 2);
    env_stop(&e);
}

/* ---- failures ------------------------------------------------------------------ */

static void test_401(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 401,
           .body = "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                   "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"});
    assert_int_equal(env_call(&e), ERR_AUTH);
    assert_string_equal(e.err,
                        "the OpenAI API key was rejected (401): set OPENAI_API_KEY to a valid key");
    assert_int_equal(fake_http_count(e.server), 1);
    assert_null(e.out.content);
    env_stop(&e);
}

static void test_unknown_model(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 404,
           .body = "{\"error\":{\"message\":\"The model `gpt-7` does not exist or you do not "
                   "have access to it.\",\"type\":\"invalid_request_error\",\"param\":null,"
                   "\"code\":\"model_not_found\"}}"});
    e.req.model = "gpt-7";
    assert_int_equal(env_call(&e), ERR_MODEL);
    assert_non_null(strstr(e.err, "\"gpt-7\""));
    env_stop(&e);
}

static void test_out_of_credit_not_retried(void **state)
{
    struct env e;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.max_retries = 3;
    START(&e, opt,
          {.status = 429,
           .body = "{\"error\":{\"message\":\"You exceeded your current quota, please check your "
                   "plan and billing details.\",\"type\":\"insufficient_quota\",\"param\":null,"
                   "\"code\":\"insufficient_quota\"}}"},
          {.status = 200, .body = answer_json});
    assert_int_equal(env_call(&e), ERR_RATE_LIMIT);
    assert_non_null(strstr(e.err, "out of credit"));
    assert_int_equal(fake_http_count(e.server), 1);
    env_stop(&e);
}

static void test_server_errors_exhaust_retries(void **state)
{
    struct env e;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.max_retries = 2;
    START(&e, opt,
          {.status = 500,
           .body = "{\"error\":{\"message\":\"The server had an error while processing your "
                   "request.\",\"type\":\"server_error\"}}"});
    assert_int_equal(env_call(&e), ERR_HTTP);
    assert_non_null(strstr(e.err, "HTTP 500"));
    assert_non_null(strstr(e.err, "The server had an error"));
    assert_non_null(strstr(e.err, "after 3 attempts"));
    assert_int_equal(fake_http_count(e.server), 3);
    env_stop(&e);
}

static void test_timeout(void **state)
{
    struct env e;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.timeout_ms = 300;
    opt.max_retries = 0;
    START(&e, opt, {.status = 0});
    assert_int_equal(env_call(&e), ERR_TIMEOUT);
    assert_string_equal(e.err, "the model did not answer within 0.3 s");
    env_stop(&e);
}

static void test_connection_refused(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    char base[64], host[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    snprintf(host, sizeof host, "127.0.0.1:%d", ntohs(a.sin_port));
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.base_url = base;
    opt.max_retries = 0;
    char err[512];
    struct llm_model *m = openai_model_new(&opt, err, sizeof err);
    assert_non_null(m);
    struct llm_message msg = {.role = LLM_ROLE_USER, .content = "hi"};
    struct llm_request req = {
        .model = "gpt-4.1", .messages = &msg, .n_messages = 1, .settings = LLM_SETTINGS_DEFAULT};
    struct llm_response out;
    assert_int_equal(llm_complete(m, &req, NULL, NULL, &out, err, sizeof err), ERR_NETWORK);
    assert_non_null(strstr(err, "could not reach the model server"));
    assert_non_null(strstr(err, host));
    llm_model_free(m);
}

static void test_garbage_body(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT, {.status = 200, .body = "<html>hello</html>"});
    assert_int_equal(env_call(&e), ERR_MODEL);
    assert_string_equal(e.err, "the model server sent a response that is not valid JSON");
    env_stop(&e);
}

static void test_cut_off_stream(void **state)
{
    static const char *const pieces[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The price is \"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"$9\"",
        NULL,
    };
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 200, .headers = "Content-Type: text/event-stream\r\n", .chunks = pieces});
    e.req.stream = true;
    assert_int_equal(env_call(&e), ERR_MODEL);
    assert_non_null(strstr(e.err, "the model's answer was cut off"));
    assert_string_equal(buf_str(&e.text), "The price is ");
    assert_int_equal(fake_http_count(e.server), 1);
    env_stop(&e);
}

static void test_error_mid_stream(void **state)
{
    static const char *const pieces[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Sure\"}}]}\n\n",
        "event: error\ndata: {\"error\":{\"message\":\"The model is overloaded\","
        "\"type\":\"server_error\"}}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"never seen\"}}]}\n\n",
        NULL,
    };
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT,
          {.status = 200,
           .headers = "Content-Type: text/event-stream\r\n",
           .chunks = pieces,
           .chunk_delay_ms = 10});
    e.req.stream = true;
    assert_int_equal(env_call(&e), ERR_MODEL);
    assert_non_null(strstr(e.err, "The model is overloaded"));
    assert_string_equal(buf_str(&e.text), "Sure");
    env_stop(&e);
}

static void *cancel_later(void *arg)
{
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    *(volatile sig_atomic_t *)arg = 1;
    return NULL;
}

static void test_cancel(void **state)
{
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT, {.status = 0});
    volatile sig_atomic_t cancel = 0;
    e.req.cancel = &cancel;
    e.req.stream = true;
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, (void *)&cancel);
    assert_int_equal(env_call(&e), ERR_CANCELED);
    pthread_join(t, NULL);
    assert_string_equal(e.err, "the model call was canceled");
    env_stop(&e);
}

static void test_answer_too_large(void **state)
{
    static char big[20000];
    int n = snprintf(big, sizeof big, "{\"choices\":[{\"message\":{\"content\":\"");
    memset(big + n, 'x', 15000);
    strcpy(big + n + 15000, "\"}}]}");
    struct env e;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.max_response = 10000;
    START(&e, opt, {.status = 200, .body = big});
    assert_int_equal(env_call(&e), ERR_LIMIT);
    assert_non_null(strstr(e.err, "larger than 10000 bytes"));
    env_stop(&e);
}

static void test_options(void **state)
{
    char err[256];
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.base_url = "api.openai.com/v1";
    assert_null(openai_model_new(&opt, err, sizeof err));
    assert_non_null(strstr(err, "OPENAI_BASE_URL"));
    opt.base_url = NULL;
    opt.api_key = "sk-abc\r\nX-Injected: 1";
    assert_null(openai_model_new(&opt, err, sizeof err));
    opt.api_key = "  sk-trimmed-key-1234\n";
    struct llm_model *m = openai_model_new(&opt, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(m->ops->name, "openai");
    llm_model_free(m);
    /* the key is registered for redaction */
    char *safe = log_redact("key sk-trimmed-key-1234 here");
    assert_string_equal(safe, "key [REDACTED] here");
    free(safe);

    /* no model name: refused before any request */
    struct env e;
    START(&e, OPENAI_OPTIONS_INIT, {.status = 200, .body = answer_json});
    e.req.model = "";
    assert_int_equal(env_call(&e), ERR_MODEL);
    assert_int_equal(fake_http_count(e.server), 0);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_answer_and_request),
        cmocka_unit_test(test_streamed_answer),
        cmocka_unit_test(test_streamed_tool_calls),
        cmocka_unit_test(test_stream_request_answered_with_json),
        cmocka_unit_test(test_rate_limit_then_success),
        cmocka_unit_test(test_401),
        cmocka_unit_test(test_unknown_model),
        cmocka_unit_test(test_out_of_credit_not_retried),
        cmocka_unit_test(test_server_errors_exhaust_retries),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_garbage_body),
        cmocka_unit_test(test_cut_off_stream),
        cmocka_unit_test(test_error_mid_stream),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_answer_too_large),
        cmocka_unit_test(test_options),
    };
    log_set_level(LOG_OFF); /* failures are logged as warnings; the asserts check them */
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    log_reset();
    return rc;
}
