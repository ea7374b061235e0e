/* test_openai_stream — Chat Completions without a server: the streamed-chunk
 * accumulator (text, parallel tool calls split across chunks, usage, errors,
 * truncation, null vs absent), the SSE → accumulator path at every split
 * point, request JSON shapes, non-streamed parsing and error wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "llm/model.h"
#include "llm/openai_stream.h"
#include "llm/openai_wire.h"
#include "net/sse.h"

/* ---- helpers ------------------------------------------------------------ */

struct text_sink {
    struct buf text;
    int calls;
};

static void sink_text(const char *delta, size_t len, void *user)
{
    struct text_sink *s = user;
    assert_true(len > 0);
    buf_append(&s->text, delta, len);
    s->calls++;
}

/* Feeds data-only events (each a JSON text or "[DONE]"); returns the first
 * error code. */
static int feed(struct openai_stream *s, const char *const *events, char *err, size_t errlen)
{
    for (const char *const *e = events; *e; e++) {
        int rc = openai_stream_event(s, "message", *e, strlen(*e), err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- accumulator ---------------------------------------------------------- */

static void test_text_and_usage(void **state)
{
    const char *const events[] = {
        "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"xyz\"}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],"
        "\"usage\":null}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
        "\"total_tokens\":15}}",
        "[DONE]",
        NULL,
    };
    struct text_sink sink = {0};
    buf_init(&sink.text, 0);
    struct openai_stream s;
    openai_stream_init(&s, "gpt-4.1", sink_text, &sink);
    char err[256] = "";
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_string_equal(r.content, "Hello \xC3\xA9");
    assert_string_equal(buf_str(&sink.text), "Hello \xC3\xA9");
    assert_int_equal(sink.calls, 2); /* empty and null deltas are not passed on */
    assert_string_equal(r.finish_reason, "stop");
    assert_string_equal(r.model, "gpt-4.1-2025");
    assert_int_equal(r.usage.prompt_tokens, 12);
    assert_int_equal(r.usage.completion_tokens, 3);
    assert_int_equal(r.usage.total_tokens, 15);
    assert_int_equal(r.n_tool_calls, 0);
    llm_response_free(&r);
    openai_stream_free(&s);
    buf_free(&sink.text);
}

static void test_parallel_tool_calls(void **state)
{
    const char *const events[] = {
        "{\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{\\\"lo\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\","
        "\"type\":\"function\",\"function\":{\"name\":\"price_roof\",\"arguments\":\"{\\\"sq\"}}"
        "]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":null,"
        "\"function\":{\"name\":null,\"arguments\":\"cation\\\": \\\"T\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":"
        "{\"arguments\":\"uares\\\": 30}\"}},{\"index\":0,\"function\":{\"arguments\":"
        "\"okyo\\\"}\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
        "\"total_tokens\":12}}",
        "[DONE]",
        NULL,
    };
    struct openai_stream s;
    openai_stream_init(&s, "m", NULL, NULL);
    char err[256] = "";
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_null(r.content);
    assert_string_equal(r.finish_reason, "tool_calls");
    assert_int_equal(r.n_tool_calls, 2);
    assert_string_equal(r.tool_calls[0].id, "call_A");
    assert_string_equal(r.tool_calls[0].name, "get_weather");
    assert_string_equal(r.tool_calls[0].arguments, "{\"location\": \"Tokyo\"}");
    assert_string_equal(r.tool_calls[1].id, "call_B");
    assert_string_equal(r.tool_calls[1].name, "price_roof");
    assert_string_equal(r.tool_calls[1].arguments, "{\"squares\": 30}");
    assert_int_equal(r.usage.total_tokens, 12);
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_tool_calls_ordered_by_index(void **state)
{
    const char *const events[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"id\":\"c3\",\"function\":"
        "{\"name\":\"b\",\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c1\",\"function\":"
        "{\"name\":\"a\",\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"tool_calls\"}]}",
        NULL, /* no [DONE]: a finish_reason is enough */
    };
    struct openai_stream s;
    openai_stream_init(&s, "m", NULL, NULL);
    char err[256] = "";
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tool_calls, 2);
    assert_string_equal(r.tool_calls[0].id, "c1");
    assert_string_equal(r.tool_calls[1].id, "c3");
    assert_null(r.content); /* "" beside tool calls is no text */
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_tool_calls_without_index(void **state)
{
    /* some compatible servers omit index: an id starts a new call */
    const char *const events[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x1\",\"function\":"
        "{\"name\":\"a\",\"arguments\":\"{\\\"n\\\":\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"1}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x2\",\"function\":"
        "{\"name\":\"b\"}}]}}]}",
        "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
        "[DONE]",
        NULL,
    };
    struct openai_stream s;
    openai_stream_init(&s, "m", NULL, NULL);
    char err[256] = "";
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tool_calls, 2);
    assert_string_equal(r.tool_calls[0].arguments, "{\"n\":1}");
    assert_string_equal(r.tool_calls[1].name, "b");
    assert_string_equal(r.tool_calls[1].arguments, "");
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_tool_call_without_name_or_id(void **state)
{
    const char *const events[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"name\":\"a\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}",
        "[DONE]",
        NULL,
    };
    struct openai_stream s;
    openai_stream_init(&s, "m", NULL, NULL);
    char err[256] = "";
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_non_null(r.tool_calls[0].id); /* made up, never NULL */
    assert_true(strncmp(r.tool_calls[0].id, "call_", 5) == 0);
    llm_response_free(&r);
    openai_stream_free(&s);

    const char *const nameless[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":"
        "{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}",
        "[DONE]",
        NULL,
    };
    openai_stream_init(&s, "m", NULL, NULL);
    assert_int_equal(feed(&s, nameless, err, sizeof err), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), ERR_MODEL);
    assert_non_null(strstr(err, "without a name"));
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_error_chunks(void **state)
{
    struct openai_stream s;
    char err[256] = "";
    /* a data chunk carrying an error object */
    openai_stream_init(&s, "m", NULL, NULL);
    const char *const first[] = {
        "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
        "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}",
        NULL,
    };
    assert_int_equal(feed(&s, first, err, sizeof err), ERR_MODEL);
    assert_non_null(strstr(err, "The server had an error"));
    openai_stream_free(&s);

    /* an SSE event named "error" */
    openai_stream_init(&s, "m", NULL, NULL);
    const char data[] = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
    assert_int_equal(openai_stream_event(&s, "error", data, strlen(data), err, sizeof err),
                     ERR_MODEL);
    assert_non_null(strstr(err, "overloaded"));
    openai_stream_free(&s);

    /* an error event whose data is not JSON still reports its text */
    openai_stream_init(&s, "m", NULL, NULL);
    assert_int_equal(openai_stream_event(&s, "error", "upstream died", 13, err, sizeof err),
                     ERR_MODEL);
    assert_non_null(strstr(err, "upstream died"));
    openai_stream_free(&s);

    /* an out-of-credit error keeps its meaning mid-stream */
    openai_stream_init(&s, "m", NULL, NULL);
    const char quota[] = "{\"error\":{\"message\":\"You exceeded your current quota\","
                         "\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}";
    assert_int_equal(openai_stream_event(&s, "message", quota, strlen(quota), err, sizeof err),
                     ERR_RATE_LIMIT);
    assert_non_null(strstr(err, "out of credit"));
    openai_stream_free(&s);

    /* "error": null is no error */
    openai_stream_init(&s, "m", NULL, NULL);
    const char *const fine[] = {
        "{\"error\":null,\"choices\":[{\"delta\":{\"content\":\"ok\"},"
        "\"finish_reason\":\"stop\"}]}",
        "[DONE]",
        NULL,
    };
    assert_int_equal(feed(&s, fine, err, sizeof err), 0);
    openai_stream_free(&s);
}

static void test_not_json(void **state)
{
    struct openai_stream s;
    char err[256] = "";
    openai_stream_init(&s, "m", NULL, NULL);
    assert_int_equal(openai_stream_event(&s, "message", "{\"choices\":[", 12, err, sizeof err),
                     ERR_MODEL);
    assert_non_null(strstr(err, "not valid JSON"));
    openai_stream_free(&s);
    openai_stream_init(&s, "m", NULL, NULL);
    assert_int_equal(openai_stream_event(&s, "message", "[1,2]", 5, err, sizeof err), ERR_MODEL);
    openai_stream_free(&s);
}

static void test_truncated_stream(void **state)
{
    struct openai_stream s;
    char err[256] = "";
    struct llm_response r = {0};
    /* text but neither finish_reason nor [DONE] */
    openai_stream_init(&s, "m", NULL, NULL);
    const char *const cut[] = {
        "{\"choices\":[{\"delta\":{\"content\":\"The price is\"},\"finish_reason\":null}]}",
        NULL,
    };
    assert_int_equal(feed(&s, cut, err, sizeof err), 0);
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), ERR_MODEL);
    assert_non_null(strstr(err, "the model's answer was cut off"));
    openai_stream_free(&s);
    /* nothing at all */
    openai_stream_init(&s, "m", NULL, NULL);
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), ERR_MODEL);
    openai_stream_free(&s);
    /* [DONE] without finish_reason is complete */
    openai_stream_init(&s, "m", NULL, NULL);
    const char *const done[] = {"{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", "[DONE]", NULL};
    assert_int_equal(feed(&s, done, err, sizeof err), 0);
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_string_equal(r.content, "x");
    assert_null(r.finish_reason);
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_after_done_is_ignored(void **state)
{
    struct openai_stream s;
    char err[256] = "";
    openai_stream_init(&s, "m", NULL, NULL);
    const char *const events[] = {
        "{\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}",
        "[DONE]",
        "{\"choices\":[{\"delta\":{\"content\":\"b\"}}]}",
        "not json at all",
        NULL,
    };
    assert_int_equal(feed(&s, events, err, sizeof err), 0);
    struct llm_response r = {0};
    assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
    assert_string_equal(r.content, "a");
    llm_response_free(&r);
    openai_stream_free(&s);
}

static void test_stream_limits(void **state)
{
    struct openai_stream s;
    char err[256] = "";
    openai_stream_init(&s, "m", NULL, NULL);
    size_t piece = 1u << 20;
    char *big = malloc(piece + 64);
    int n = snprintf(big, 64, "{\"choices\":[{\"delta\":{\"content\":\"");
    memset(big + n, 'x', piece);
    strcpy(big + n + piece, "\"}}]}");
    int rc = 0;
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = openai_stream_event(&s, "message", big, strlen(big), err, sizeof err);
    assert_int_equal(rc, ERR_LIMIT);
    assert_non_null(strstr(err, "longer than"));
    free(big);
    openai_stream_free(&s);

    openai_stream_init(&s, "m", NULL, NULL);
    rc = 0;
    for (int i = 0; i <= OPENAI_STREAM_MAX_TOOL_CALLS && rc == 0; i++) {
        char chunk[256];
        snprintf(chunk, sizeof chunk,
                 "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"c%d\","
                 "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}",
                 i, i);
        rc = openai_stream_event(&s, "message", chunk, strlen(chunk), err, sizeof err);
    }
    assert_int_equal(rc, ERR_LIMIT);
    assert_non_null(strstr(err, "tool calls"));
    openai_stream_free(&s);
}

/* ---- SSE bytes → accumulator, at every split point ------------------------ */

static const char sse_stream[] =
    ": OPENROUTER PROCESSING\r\n\r\n"
    "data: {\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"Caf\xC3\xA9 \"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xE2\x82\xAC"
    "5\",\"tool_calls\":"
    "[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"quote\",\"arguments\":\"{\\\"a\"}}]}}"
    "]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\r\r"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,"
    "\"total_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

static int sse_to_stream(const struct sse_event *ev, void *user)
{
    static char err[256];
    return openai_stream_event(user, ev->event, ev->data, ev->data_len, err, sizeof err);
}

static void test_sse_bytes_at_every_split(void **state)
{
    size_t len = sizeof sse_stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct text_sink sink = {0};
        buf_init(&sink.text, 0);
        struct openai_stream s;
        openai_stream_init(&s, "gpt", sink_text, &sink);
        struct sse_parser p;
        sse_parser_init(&p, 0, 0, sse_to_stream, &s);
        char err[256] = "";
        assert_int_equal(sse_parser_feed(&p, sse_stream, cut, err, sizeof err), 0);
        assert_int_equal(sse_parser_feed(&p, sse_stream + cut, len - cut, err, sizeof err), 0);
        struct llm_response r = {0};
        assert_int_equal(openai_stream_finish(&s, &r, err, sizeof err), 0);
        assert_string_equal(r.content, "Caf\xC3\xA9 \xE2\x82\xAC"
                                       "5");
        assert_string_equal(buf_str(&sink.text), r.content);
        assert_int_equal(r.n_tool_calls, 1);
        assert_string_equal(r.tool_calls[0].arguments, "{\"a\":1}");
        assert_int_equal(r.usage.total_tokens, 3);
        llm_response_free(&r);
        sse_parser_free(&p);
        openai_stream_free(&s);
        buf_free(&sink.text);
    }
}

/* ---- request JSON ----------------------------------------------------------- */

static json_t *build(const struct llm_request *req)
{
    json_t *j = openai_wire_request(req);
    assert_non_null(j);
    return j;
}

static void test_request_messages(void **state)
{
    struct llm_tool_call calls[2] = {
        {.id = "call_1", .name = "price_roof", .arguments = "{\"squares\":30}"},
        {.id = "call_2", .name = "lookup", .arguments = "{}"},
    };
    struct llm_message msgs[] = {
        {.role = LLM_ROLE_USER, .content = "price a roof"},
        {.role = LLM_ROLE_ASSISTANT, .tool_calls = calls, .n_tool_calls = 2, .agent = "Pricing"},
        {.role = LLM_ROLE_TOOL,
         .tool_call_id = "call_1",
         .content = "{\"total\":9000}",
         .agent = "Pricing"},
        {.role = LLM_ROLE_TOOL, .tool_call_id = "call_2", .content = NULL},
        {.role = LLM_ROLE_ASSISTANT,
         .content = "Let me check.",
         .tool_calls = calls,
         .n_tool_calls = 1},
        {.role = LLM_ROLE_ASSISTANT, .content = "It is $9,000."},
        {.role = LLM_ROLE_ASSISTANT, .content = NULL},
    };
    struct llm_request req = {
        .model = "gpt-4.1",
        .instructions = "You are Hard-E.",
        .messages = msgs,
        .n_messages = sizeof msgs / sizeof msgs[0],
        .settings = LLM_SETTINGS_DEFAULT,
    };
    json_t *j = build(&req);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    const char *expect =
        "{\"messages\":["
        "{\"content\":\"You are Hard-E.\",\"role\":\"system\"},"
        "{\"content\":\"price a roof\",\"role\":\"user\"},"
        "{\"content\":null,\"role\":\"assistant\",\"tool_calls\":["
        "{\"function\":{\"arguments\":\"{\\\"squares\\\":30}\",\"name\":\"price_roof\"},"
        "\"id\":\"call_1\",\"type\":\"function\"},"
        "{\"function\":{\"arguments\":\"{}\",\"name\":\"lookup\"},\"id\":\"call_2\","
        "\"type\":\"function\"}]},"
        "{\"content\":\"{\\\"total\\\":9000}\",\"role\":\"tool\",\"tool_call_id\":\"call_1\"},"
        "{\"content\":\"\",\"role\":\"tool\",\"tool_call_id\":\"call_2\"},"
        "{\"content\":\"Let me check.\",\"role\":\"assistant\",\"tool_calls\":["
        "{\"function\":{\"arguments\":\"{\\\"squares\\\":30}\",\"name\":\"price_roof\"},"
        "\"id\":\"call_1\",\"type\":\"function\"}]},"
        "{\"content\":\"It is $9,000.\",\"role\":\"assistant\"},"
        "{\"content\":\"\",\"role\":\"assistant\"}"
        "],\"model\":\"gpt-4.1\"}";
    assert_string_equal(text, expect);
    free(text);
    json_decref(j);

    /* no instructions: no system message */
    req.instructions = NULL;
    j = build(&req);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "messages"), 0), "role")),
                        "user");
    json_decref(j);
}

static void test_request_tools_and_choice(void **state)
{
    json_t *params = json_loads("{\"type\":\"object\",\"properties\":{\"squares\":"
                                "{\"type\":\"number\"}},\"required\":[\"squares\"]}",
                                0, NULL);
    struct llm_tool_spec tools[] = {
        {.name = "price_roof", .description = "Prices a roof.", .parameters = params},
        {.name = "now", .description = NULL, .parameters = NULL},
    };
    struct llm_message msg = {.role = LLM_ROLE_USER, .content = "hi"};
    struct llm_request req = {.model = "m",
                              .messages = &msg,
                              .n_messages = 1,
                              .tools = tools,
                              .n_tools = 2,
                              .settings = LLM_SETTINGS_DEFAULT};
    json_t *j = build(&req);
    char *text = json_dumps(json_object_get(j, "tools"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text, "[{\"function\":{\"description\":\"Prices a roof.\",\"name\":\"price_roof\","
              "\"parameters\":{\"properties\":{\"squares\":{\"type\":\"number\"}},"
              "\"required\":[\"squares\"],\"type\":\"object\"}},\"type\":\"function\"},"
              "{\"function\":{\"name\":\"now\",\"parameters\":{\"properties\":{},"
              "\"type\":\"object\"}},\"type\":\"function\"}]");
    free(text);
    assert_null(json_object_get(j, "tool_choice"));
    assert_null(json_object_get(j, "temperature"));
    assert_null(json_object_get(j, "max_completion_tokens"));
    assert_null(json_object_get(j, "max_tokens"));
    assert_null(json_object_get(j, "stream"));
    assert_null(json_object_get(j, "stream_options"));
    json_decref(j);

    const char *words[] = {"auto", "none", "required"};
    for (size_t i = 0; i < 3; i++) {
        req.settings.tool_choice = words[i];
        j = build(&req);
        assert_string_equal(json_string_value(json_object_get(j, "tool_choice")), words[i]);
        json_decref(j);
    }
    req.settings.tool_choice = "price_roof";
    j = build(&req);
    text = json_dumps(json_object_get(j, "tool_choice"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"function\":{\"name\":\"price_roof\"},\"type\":\"function\"}");
    free(text);
    json_decref(j);

    /* no tools: neither tools nor tool_choice */
    req.n_tools = 0;
    j = build(&req);
    assert_null(json_object_get(j, "tools"));
    assert_null(json_object_get(j, "tool_choice"));
    json_decref(j);
    json_decref(params);
}

static void test_request_settings_and_stream(void **state)
{
    struct llm_message msg = {.role = LLM_ROLE_USER, .content = "hi"};
    struct llm_request req = {.model = "m",
                              .messages = &msg,
                              .n_messages = 1,
                              .settings = LLM_SETTINGS_DEFAULT,
                              .stream = true};
    req.settings.temperature = 0;
    req.settings.max_tokens = 300;
    json_t *j = build(&req);
    assert_true(json_is_real(json_object_get(j, "temperature")));
    assert_true(json_real_value(json_object_get(j, "temperature")) == 0.0);
    assert_int_equal(json_integer_value(json_object_get(j, "max_completion_tokens")), 300);
    assert_null(json_object_get(j, "max_tokens"));
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
    json_decref(j);
}

static void test_request_keeps_invalid_utf8(void **state)
{
    struct llm_message msg = {.role = LLM_ROLE_USER, .content = "caf\xE9 \xC3\xA9"};
    struct llm_request req = {
        .model = "m", .messages = &msg, .n_messages = 1, .settings = LLM_SETTINGS_DEFAULT};
    json_t *j = build(&req);
    const char *content = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content"));
    assert_non_null(content);
    assert_string_equal(content, "caf\xEF\xBF\xBD \xC3\xA9");
    json_decref(j);
}

/* ---- non-streamed responses --------------------------------------------------- */

static void test_parse_response(void **state)
{
    const char body[] =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4.1-2025\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi!\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}";
    struct llm_response r = {0};
    char err[256] = "";
    assert_int_equal(openai_wire_parse_response(body, strlen(body), "gpt-4.1", &r, err, sizeof err),
                     0);
    assert_string_equal(r.content, "Hi!");
    assert_string_equal(r.finish_reason, "stop");
    assert_string_equal(r.model, "gpt-4.1-2025");
    assert_int_equal(r.usage.prompt_tokens, 9);
    assert_int_equal(r.usage.total_tokens, 11);
    llm_response_free(&r);

    const char tools[] =
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{\\\"x\\\":1}\"}},"
        "{\"id\":\"call_10\",\"type\":\"function\",\"function\":{\"name\":\"g\","
        "\"arguments\":{\"y\":2}}}]},\"finish_reason\":\"tool_calls\"}]}";
    assert_int_equal(openai_wire_parse_response(tools, strlen(tools), "m", &r, err, sizeof err), 0);
    assert_null(r.content);
    assert_int_equal(r.n_tool_calls, 2);
    assert_string_equal(r.tool_calls[0].id, "call_9");
    assert_string_equal(r.tool_calls[0].arguments, "{\"x\":1}");
    assert_string_equal(r.tool_calls[1].arguments, "{\"y\":2}");
    llm_response_free(&r);

    const char refusal[] = "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":"
                           "\"I can't help with that.\"},\"finish_reason\":\"stop\"}]}";
    assert_int_equal(openai_wire_parse_response(refusal, strlen(refusal), "m", &r, err, sizeof err),
                     0);
    assert_string_equal(r.content, "I can't help with that.");
    llm_response_free(&r);
}

static void test_parse_bad_responses(void **state)
{
    struct llm_response r = {0};
    char err[256] = "";
    assert_int_equal(openai_wire_parse_response("<html>502</html>", 16, "m", &r, err, sizeof err),
                     ERR_MODEL);
    assert_string_equal(err, "the model server sent a response that is not valid JSON");
    llm_response_free(&r);
    assert_int_equal(openai_wire_parse_response("{\"choices\":[]}", 14, "m", &r, err, sizeof err),
                     ERR_MODEL);
    assert_non_null(strstr(err, "without any choices"));
    llm_response_free(&r);
    const char nameless[] = "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\","
                            "\"function\":{\"arguments\":\"{}\"}}]}}]}";
    assert_int_equal(
        openai_wire_parse_response(nameless, strlen(nameless), "m", &r, err, sizeof err),
        ERR_MODEL);
    llm_response_free(&r);
    const char inband[] = "{\"error\":{\"message\":\"bad things\",\"type\":\"server_error\"}}";
    assert_int_equal(openai_wire_parse_response(inband, strlen(inband), "m", &r, err, sizeof err),
                     ERR_MODEL);
    assert_non_null(strstr(err, "bad things"));
    llm_response_free(&r);
}

/* ---- error wording ------------------------------------------------------------ */

static void test_http_errors(void **state)
{
    char err[512];
    const char unauthorized[] = "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc.\","
                                "\"type\":\"invalid_request_error\",\"param\":null,"
                                "\"code\":\"invalid_api_key\"}}";
    assert_int_equal(
        openai_wire_http_error(401, unauthorized, strlen(unauthorized), "gpt-4.1", err, sizeof err),
        ERR_AUTH);
    assert_string_equal(err,
                        "the OpenAI API key was rejected (401): set OPENAI_API_KEY to a valid key");

    const char missing[] = "{\"error\":{\"message\":\"The model `gpt-9` does not exist or you "
                           "do not have access to it.\",\"type\":\"invalid_request_error\","
                           "\"param\":null,\"code\":\"model_not_found\"}}";
    assert_int_equal(
        openai_wire_http_error(404, missing, strlen(missing), "gpt-9", err, sizeof err), ERR_MODEL);
    assert_non_null(strstr(err, "\"gpt-9\""));
    /* no code, but the message is about the model */
    const char missing2[] = "{\"error\":{\"message\":\"model 'llama9' not found\"}}";
    assert_int_equal(
        openai_wire_http_error(404, missing2, strlen(missing2), "llama9", err, sizeof err),
        ERR_MODEL);
    assert_non_null(strstr(err, "llama9"));
    /* a 404 that is not about a model: wrong base URL */
    assert_int_equal(openai_wire_http_error(404, "Not Found", 9, "m", err, sizeof err), ERR_HTTP);
    assert_non_null(strstr(err, "OPENAI_BASE_URL"));

    const char quota[] = "{\"error\":{\"message\":\"You exceeded your current quota, please "
                         "check your plan and billing details.\",\"type\":\"insufficient_quota\","
                         "\"param\":null,\"code\":\"insufficient_quota\"}}";
    assert_true(openai_wire_is_quota_error(quota, strlen(quota)));
    assert_int_equal(openai_wire_http_error(429, quota, strlen(quota), "m", err, sizeof err),
                     ERR_RATE_LIMIT);
    assert_non_null(strstr(err, "out of credit"));

    const char rate[] = "{\"error\":{\"message\":\"Rate limit reached for requests\","
                        "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}";
    assert_false(openai_wire_is_quota_error(rate, strlen(rate)));
    assert_false(openai_wire_is_quota_error("garbage", 7));
    assert_int_equal(openai_wire_http_error(429, rate, strlen(rate), "m", err, sizeof err),
                     ERR_RATE_LIMIT);
    assert_non_null(strstr(err, "Rate limit reached"));

    const char html[] = "<html>\n<body>502 Bad Gateway</body>\x01</html>";
    assert_int_equal(openai_wire_http_error(502, html, strlen(html), "m", err, sizeof err),
                     ERR_HTTP);
    assert_non_null(strstr(err, "HTTP 502"));
    assert_non_null(strstr(err, "502 Bad Gateway"));
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\x01'));

    const char context[] = "{\"error\":{\"message\":\"This model's maximum context length is "
                           "128000 tokens.\",\"code\":\"context_length_exceeded\"}}";
    assert_int_equal(
        openai_wire_http_error(400, context, strlen(context), "gpt-4.1", err, sizeof err),
        ERR_MODEL);
    assert_non_null(strstr(err, "too long"));

    assert_int_equal(openai_wire_http_error(400, "", 0, "m", err, sizeof err), ERR_HTTP);
    assert_non_null(strstr(err, "HTTP 400"));
    assert_int_equal(openai_wire_http_error(403, "{}", 2, "m", err, sizeof err), ERR_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_usage),
        cmocka_unit_test(test_parallel_tool_calls),
        cmocka_unit_test(test_tool_calls_ordered_by_index),
        cmocka_unit_test(test_tool_calls_without_index),
        cmocka_unit_test(test_tool_call_without_name_or_id),
        cmocka_unit_test(test_error_chunks),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_truncated_stream),
        cmocka_unit_test(test_after_done_is_ignored),
        cmocka_unit_test(test_stream_limits),
        cmocka_unit_test(test_sse_bytes_at_every_split),
        cmocka_unit_test(test_request_messages),
        cmocka_unit_test(test_request_tools_and_choice),
        cmocka_unit_test(test_request_settings_and_stream),
        cmocka_unit_test(test_request_keeps_invalid_utf8),
        cmocka_unit_test(test_parse_response),
        cmocka_unit_test(test_parse_bad_responses),
        cmocka_unit_test(test_http_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
