/* test_agent_result — what a run leaves behind: the items list, the result as
 * JSON, the trace as JSON lines; plus handoff tool names and event names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "base/error.h"
#include "support/scripted_model.h"

static json_t *lookup(struct agent_context *ctx, json_t *args, char **error)
{
    (void)ctx;
    (void)error;
    return json_pack("{s:O,s:s}", "id", json_object_get(args, "id"), "name", "Ada Lovelace");
}

static const struct agent_tool crm_tools[] = {{
    .name = "find_client",
    .description = "Finds a client.",
    .parameters = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
                  "\"required\":[\"id\"]}",
    .fn = lookup,
}};

static const struct agent crm = {.name = "CRM",
                                 .handoff_description = "Clients and jobs.",
                                 .tools = crm_tools,
                                 .n_tools = 1,
                                 .model = "small",
                                 .settings = LLM_SETTINGS_DEFAULT};
static const struct agent *const triage_handoffs[] = {&crm};
static const struct agent triage = {.name = "Triage",
                                    .handoffs = triage_handoffs,
                                    .n_handoffs = 1,
                                    .settings = LLM_SETTINGS_DEFAULT};

static const struct scripted_tool_call to_crm[] = {{"h1", "transfer_to_crm", "{}"}};
static const struct scripted_tool_call find[] = {{"t1", "find_client", "{\"id\":7}"},
                                                 {"t2", "find_client", "{\"id\":\"x\"}"}};
static const struct scripted_response script[] = {
    {.content = "Let me get the CRM agent.",
     .tool_calls = to_crm,
     .n_tool_calls = 1,
     .usage = {10, 2, 12}},
    {.tool_calls = find, .n_tool_calls = 2, .usage = {20, 3, 23}},
    {.content = "Client 7 is Ada Lovelace.", .usage = {30, 4, 34}},
};

struct fixture {
    struct llm_model *model;
    struct llm_messages conversation;
    struct agent_result result;
};

static void run(struct fixture *f)
{
    struct agent_run_options options = {0};
    memset(f, 0, sizeof *f);
    f->model = scripted_model_new(script, 3);
    llm_messages_init(&f->conversation);
    options.model = f->model;
    options.default_model = "big";
    assert_int_equal(agent_run(&triage, &f->conversation, "who is client 7?", &options, &f->result),
                     0);
}

static void fixture_free(struct fixture *f)
{
    agent_result_free(&f->result);
    llm_messages_free(&f->conversation);
    llm_model_free(f->model);
}

static const char *str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

static void test_items(void **state)
{
    (void)state;
    struct fixture f;
    run(&f);
    json_t *items = f.result.items;
    static const char *const types[] = {"message",     "message",   "tool_call", "tool_result",
                                        "handoff",     "tool_call", "tool_call", "tool_result",
                                        "tool_result", "message"};
    assert_int_equal(json_array_size(items), 10);
    for (size_t i = 0; i < 10; i++)
        assert_string_equal(str(json_array_get(items, i), "type"), types[i]);

    json_t *user = json_array_get(items, 0);
    assert_string_equal(str(user, "role"), "user");
    assert_string_equal(str(user, "content"), "who is client 7?");
    assert_null(json_object_get(user, "agent"));

    json_t *said = json_array_get(items, 1);
    assert_string_equal(str(said, "role"), "assistant");
    assert_string_equal(str(said, "agent"), "Triage");
    assert_string_equal(str(said, "content"), "Let me get the CRM agent.");

    json_t *call = json_array_get(items, 2);
    assert_string_equal(str(call, "agent"), "Triage");
    assert_string_equal(str(call, "call_id"), "h1");
    assert_string_equal(str(call, "name"), "transfer_to_crm");
    assert_string_equal(str(call, "arguments"), "{}");

    json_t *handoff = json_array_get(items, 4);
    assert_string_equal(str(handoff, "from"), "Triage");
    assert_string_equal(str(handoff, "to"), "CRM");

    json_t *ok = json_array_get(items, 7);
    assert_string_equal(str(ok, "agent"), "CRM");
    assert_string_equal(str(ok, "call_id"), "t1");
    assert_string_equal(str(ok, "name"), "find_client");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ok, "result"), "id")), 7);
    assert_null(json_object_get(ok, "error"));

    json_t *bad = json_array_get(items, 8);
    assert_string_equal(str(bad, "call_id"), "t2");
    assert_non_null(strstr(str(bad, "error"), "id: must be an integer (got \"x\")"));
    assert_null(json_object_get(bad, "result"));

    assert_string_equal(str(json_array_get(items, 9), "agent"), "CRM");
    fixture_free(&f);
}

static void test_result_json(void **state)
{
    (void)state;
    struct fixture f;
    run(&f);
    json_t *j = agent_result_to_json(&f.result);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 0);
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_true(json_is_null(json_object_get(j, "guardrail")));
    assert_string_equal(str(j, "final"), "Client 7 is Ada Lovelace.");
    assert_string_equal(str(j, "last_agent"), "CRM");
    json_t *path = json_object_get(j, "path");
    assert_int_equal(json_array_size(path), 2);
    assert_string_equal(json_string_value(json_array_get(path, 1)), "CRM");
    assert_true(json_equal(json_object_get(j, "items"), f.result.items));
    assert_ptr_not_equal(json_object_get(j, "items"), f.result.items); /* a copy */

    json_t *usage = json_object_get(j, "usage");
    assert_int_equal(json_array_size(usage), 2);
    json_t *small = json_array_get(usage, 1);
    assert_string_equal(str(small, "model"), "small");
    assert_int_equal(json_integer_value(json_object_get(small, "requests")), 2);
    assert_int_equal(json_integer_value(json_object_get(small, "prompt_tokens")), 50);
    assert_int_equal(json_integer_value(json_object_get(small, "completion_tokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(small, "total_tokens")), 57);

    json_t *spans = json_object_get(j, "spans");
    static const char *const kinds[] = {"run",  "model", "handoff", "model",
                                        "tool", "tool",  "model"};
    assert_int_equal(json_array_size(spans), 7);
    double run_ms = json_real_value(json_object_get(json_array_get(spans, 0), "duration_ms"));
    for (size_t i = 0; i < 7; i++) {
        json_t *s = json_array_get(spans, i);
        assert_string_equal(str(s, "kind"), kinds[i]);
        double start = json_real_value(json_object_get(s, "start_ms"));
        double dur = json_real_value(json_object_get(s, "duration_ms"));
        assert_true(json_is_real(json_object_get(s, "start_ms")));
        assert_true(start >= 0 && dur >= 0 && start + dur <= run_ms + 1e-9);
    }
    assert_string_equal(str(json_array_get(spans, 1), "name"), "big");
    assert_string_equal(str(json_array_get(spans, 1), "agent"), "Triage");
    assert_string_equal(str(json_array_get(spans, 2), "name"), "CRM");
    assert_string_equal(str(json_array_get(spans, 3), "name"), "small");
    assert_string_equal(str(json_array_get(spans, 5), "name"), "find_client");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(spans, 5), "status")),
                     ERR_TOOL);
    assert_string_equal(str(json_array_get(spans, 5), "error"), "TOOL");
    json_decref(j);
    fixture_free(&f);
}

static void test_result_json_on_error(void **state)
{
    (void)state;
    static const struct scripted_response failing[] = {
        {.error = ERR_AUTH, .error_message = "the OpenAI key was rejected"}};
    struct llm_model *model = scripted_model_new(failing, 1);
    struct llm_messages conversation;
    struct agent_result result;
    struct agent_run_options options = {.model = model};
    llm_messages_init(&conversation);
    assert_int_equal(agent_run(&triage, &conversation, "hi", &options, &result), ERR_AUTH);
    json_t *j = agent_result_to_json(&result);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), ERR_AUTH);
    assert_string_equal(str(j, "error"), "the OpenAI key was rejected");
    assert_true(json_is_null(json_object_get(j, "final")));
    json_decref(j);
    agent_result_free(&result);
    agent_result_free(&result); /* freeing twice is harmless */
    llm_messages_free(&conversation);
    llm_model_free(model);
}

static void test_trace_jsonl(void **state)
{
    (void)state;
    struct fixture f;
    char line[1024];
    size_t n = 0;
    run(&f);
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(agent_trace_write_jsonl(&f.result, "run-42", out), 0);
    rewind(out);
    while (fgets(line, sizeof line, out)) {
        json_error_t jerr;
        json_t *span = json_loads(line, 0, &jerr);
        if (!span)
            fail_msg("line %zu is not JSON: %s", n, jerr.text);
        assert_string_equal(str(span, "run_id"), "run-42");
        assert_int_equal(json_integer_value(json_object_get(span, "seq")), n);
        assert_string_equal(str(span, "kind"), n == 0 ? "run" : str(span, "kind"));
        assert_non_null(json_object_get(span, "name"));
        assert_non_null(json_object_get(span, "agent"));
        assert_true(json_is_number(json_object_get(span, "start_ms")));
        assert_true(json_is_number(json_object_get(span, "duration_ms")));
        assert_true(json_is_integer(json_object_get(span, "status")));
        assert_int_equal(line[strlen(line) - 1], '\n');
        json_decref(span);
        n++;
    }
    assert_int_equal(n, f.result.n_spans);
    fclose(out);

    FILE *readonly = fopen("/dev/null", "r");
    assert_non_null(readonly);
    assert_int_equal(agent_trace_write_jsonl(&f.result, "run-42", readonly), ERR_IO);
    fclose(readonly);
    fixture_free(&f);
}

static void test_handoff_tool_names(void **state)
{
    (void)state;
    char name[128];
    struct agent a = {.name = "Sales Coach"};
    agent_handoff_tool_name(&a, name, sizeof name);
    assert_string_equal(name, "transfer_to_sales_coach");
    a.name = "CRM";
    agent_handoff_tool_name(&a, name, sizeof name);
    assert_string_equal(name, "transfer_to_crm");
    a.name = "  Script--Writer 2.0! ";
    agent_handoff_tool_name(&a, name, sizeof name);
    assert_string_equal(name, "transfer_to_script_writer_2_0");
    a.name = "!!!";
    agent_handoff_tool_name(&a, name, sizeof name);
    assert_string_equal(name, "transfer_to_agent");
    a.name = "An Agent With A Very Long Name That Goes On And On Beyond Limits";
    agent_handoff_tool_name(&a, name, sizeof name);
    assert_int_equal(strlen(name), 64); /* the API's limit on tool names */
    char tiny[16];
    agent_handoff_tool_name(&a, tiny, sizeof tiny);
    assert_string_equal(tiny, "transfer_to_an"); /* no dangling "_" */
}

static void test_event_names(void **state)
{
    (void)state;
    assert_string_equal(agent_event_type_name(AGENT_EVENT_AGENT_CHANGED), "agent_changed");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_TEXT_DELTA), "text_delta");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_TOOL_STARTED), "tool_started");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_TOOL_FINISHED), "tool_finished");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_HANDOFF), "handoff");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_FINAL), "final");
    assert_string_equal(agent_event_type_name(AGENT_EVENT_ERROR), "error");
    assert_string_equal(agent_event_type_name((enum agent_event_type)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_result_json_on_error),
        cmocka_unit_test(test_trace_jsonl),
        cmocka_unit_test(test_handoff_tool_names),
        cmocka_unit_test(test_event_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
