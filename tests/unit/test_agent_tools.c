/* test_agent_tools — how the runner answers tool calls: several calls in one
 * response run in order, bad JSON and schema violations go back to the model
 * (which then corrects itself), unknown tools, failing tools, results of any
 * JSON type, several handoffs in one response, the run context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "support/scripted_model.h"

/* ---- tools that write down what they were asked ------------------------- */

struct calls {
    char log[512];
    const struct agent *agents[16];
    size_t n;
};

static void note(struct agent_context *ctx, const char *what)
{
    struct calls *calls = ctx->user;
    size_t len = strlen(calls->log);
    snprintf(calls->log + len, sizeof calls->log - len, "%s%s", len ? " " : "", what);
    if (calls->n < 16)
        calls->agents[calls->n++] = ctx->agent;
}

static json_t *add(struct agent_context *ctx, json_t *args, char **error)
{
    (void)error;
    json_int_t a = json_integer_value(json_object_get(args, "a"));
    json_int_t b = json_integer_value(json_object_get(args, "b"));
    char what[64];
    snprintf(what, sizeof what, "add(%lld,%lld)", (long long)a, (long long)b);
    note(ctx, what);
    return json_pack("{s:I}", "sum", a + b);
}

static json_t *mul(struct agent_context *ctx, json_t *args, char **error)
{
    (void)error;
    json_int_t a = json_integer_value(json_object_get(args, "a"));
    json_int_t b = json_integer_value(json_object_get(args, "b"));
    note(ctx, "mul");
    return json_pack("{s:I}", "product", a * b);
}

static json_t *echo(struct agent_context *ctx, json_t *args, char **error)
{
    (void)error;
    note(ctx, "echo");
    return json_incref(json_object_get(args, "text"));
}

static json_t *crm_down(struct agent_context *ctx, json_t *args, char **error)
{
    (void)args;
    note(ctx, "crm");
    *error = xstrdup("the CRM is not answering");
    return NULL;
}

static json_t *silent_failure(struct agent_context *ctx, json_t *args, char **error)
{
    (void)args;
    (void)error;
    note(ctx, "silent");
    return NULL;
}

static json_t *ping(struct agent_context *ctx, json_t *args, char **error)
{
    (void)args;
    (void)error;
    note(ctx, "ping");
    return json_true();
}

#define AB_SCHEMA                                                                                  \
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":"           \
    "\"integer\",\"maximum\":100}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}"

static const struct agent_tool math_tools[] = {
    {.name = "add",
     .description = "Adds.",
     .parameters = AB_SCHEMA,
     .fn = add,
     .activity = "adding"},
    {.name = "mul", .description = "Multiplies.", .parameters = AB_SCHEMA, .fn = mul},
    {.name = "echo",
     .parameters = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}",
     .fn = echo},
    {.name = "crm_note", .fn = crm_down},
    {.name = "silent", .fn = silent_failure},
    {.name = "ping", .fn = ping}, /* no parameters */
};

static const struct agent helper = {.name = "Helper",
                                    .handoff_description = "Helps.",
                                    .tools = math_tools,
                                    .n_tools = 2,
                                    .settings = LLM_SETTINGS_DEFAULT};
static const struct agent other = {.name = "Other", .settings = LLM_SETTINGS_DEFAULT};
static const struct agent *const calc_handoffs[] = {&helper, &other};
static const struct agent calc = {.name = "Calc",
                                  .tools = math_tools,
                                  .n_tools = 6,
                                  .handoffs = calc_handoffs,
                                  .n_handoffs = 2,
                                  .settings = LLM_SETTINGS_DEFAULT};

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
    struct llm_model *model;
    struct llm_messages conversation;
    struct agent_run_options options;
    struct agent_result result;
    struct scripted_events events;
    struct calls calls;
};

static int run(struct fixture *f, const struct scripted_response *script, size_t n)
{
    memset(f, 0, sizeof *f);
    f->model = scripted_model_new(script, n);
    llm_messages_init(&f->conversation);
    scripted_events_init(&f->events);
    f->options = (struct agent_run_options){.model = f->model,
                                            .default_model = "m",
                                            .on_event = scripted_events_cb,
                                            .event_user = &f->events,
                                            .context = &f->calls};
    return agent_run(&calc, &f->conversation, "compute", &f->options, &f->result);
}

static void fixture_free(struct fixture *f)
{
    agent_result_free(&f->result);
    llm_messages_free(&f->conversation);
    llm_model_free(f->model);
    scripted_events_free(&f->events);
}

/* The content of the tool message answering call id. */
static const char *answer(const struct fixture *f, const char *id)
{
    const char *found = NULL;
    for (size_t i = 0; i < f->conversation.len; i++) {
        const struct llm_message *m = &f->conversation.items[i];
        if (m->role == LLM_ROLE_TOOL && strcmp(m->tool_call_id, id) == 0) {
            assert_null(found); /* exactly one answer */
            found = m->content;
        }
    }
    assert_non_null(found);
    return found;
}

/* The "error" member of a tool message content (borrowed from a static copy). */
static const char *error_of(const char *content)
{
    static char text[1024];
    json_t *obj = json_loads(content, 0, NULL);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 1);
    snprintf(text, sizeof text, "%s", json_string_value(json_object_get(obj, "error")));
    json_decref(obj);
    return text;
}

/* ---- tests -------------------------------------------------------------- */

static void test_calls_run_in_order(void **state)
{
    (void)state;
    static const struct scripted_tool_call calls[] = {
        {"c1", "add", "{\"a\":1,\"b\":2}"},
        {"c2", "mul", "{\"a\":3, \"b\":4}"},
        {"c3", "echo", "{\"text\":\"hi \\\"there\\\"\"}"},
        {"c4", "add", "{\"b\":10,\"a\":5}"},
    };
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 4},
        {.content = "3, 12, hi, 15"},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 2), 0);
    assert_string_equal(f.calls.log, "add(1,2) mul echo add(5,10)");
    assert_int_equal(f.conversation.len, 7);
    assert_string_equal(f.conversation.items[2].tool_call_id, "c1");
    assert_string_equal(f.conversation.items[2].content, "{\"sum\":3}");
    assert_string_equal(f.conversation.items[3].tool_call_id, "c2");
    assert_string_equal(f.conversation.items[3].content, "{\"product\":12}");
    assert_string_equal(f.conversation.items[4].tool_call_id, "c3");
    assert_string_equal(f.conversation.items[4].content, "\"hi \\\"there\\\"\"");
    assert_string_equal(f.conversation.items[5].tool_call_id, "c4");
    assert_string_equal(f.conversation.items[5].content, "{\"sum\":15}");
    assert_string_equal(buf_str(&f.events.log),
                        "agent_changed(Calc) tool_started(add) tool_finished(add) "
                        "tool_started(mul) tool_finished(mul) tool_started(echo) "
                        "tool_finished(echo) tool_started(add) tool_finished(add) final");
    /* The model's second request saw all four results, in order. */
    const struct scripted_request *r = scripted_model_request(f.model, 1);
    assert_int_equal(r->n_messages, 6);
    assert_string_equal(r->last->tool_call_id, "c4");
    fixture_free(&f);
}

static void test_invalid_json_corrected(void **state)
{
    (void)state;
    static const struct scripted_tool_call bad[] = {{"c1", "add", "{\"a\":1,\"b\":"}};
    static const struct scripted_tool_call good[] = {{"c2", "add", "{\"a\":1,\"b\":2}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = bad, .n_tool_calls = 1},
        {.tool_calls = good, .n_tool_calls = 1},
        {.content = "3"},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 3), 0);
    assert_string_equal(f.calls.log, "add(1,2)"); /* the bad call never reached the tool */
    const char *err = error_of(answer(&f, "c1"));
    assert_true(strncmp(err, "arguments are not valid JSON: ", 30) == 0);
    /* The model saw the error before it corrected itself. */
    const struct scripted_request *r = scripted_model_request(f.model, 1);
    assert_string_equal(r->last->content, answer(&f, "c1"));
    assert_string_equal(answer(&f, "c2"), "{\"sum\":3}");
    assert_non_null(strstr(buf_str(&f.events.log), "tool_finished(add!) tool_started(add) "
                                                   "tool_finished(add) final"));
    fixture_free(&f);
}

static void test_schema_violation_corrected(void **state)
{
    (void)state;
    static const struct scripted_tool_call bad[] = {
        {"c1", "add", "{\"a\":\"one\",\"b\":300,\"c\":1}"}};
    static const struct scripted_tool_call missing[] = {{"c2", "mul", "{\"a\":2}"}};
    static const struct scripted_tool_call good[] = {{"c3", "add", "{\"a\":1,\"b\":99}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = bad, .n_tool_calls = 1},
        {.tool_calls = missing, .n_tool_calls = 1},
        {.tool_calls = good, .n_tool_calls = 1},
        {.content = "100"},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 4), 0);
    assert_string_equal(f.calls.log, "add(1,99)");
    assert_string_equal(error_of(answer(&f, "c1")),
                        "arguments do not match the tool's schema: "
                        "a: must be an integer (got \"one\"); "
                        "b: must be at most 100 (got 300); "
                        "unknown property \"c\" (allowed: \"a\", \"b\")");
    assert_string_equal(error_of(answer(&f, "c2")), "arguments do not match the tool's schema: "
                                                    "missing required property \"b\"");
    assert_string_equal(f.events.final, "100");
    fixture_free(&f);
}

static void test_unknown_tool(void **state)
{
    (void)state;
    static const struct scripted_tool_call calls[] = {{"c1", "fly_drone", "{}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 1},
        {.content = "I cannot fly drones."},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 2), 0);
    const char *err = error_of(answer(&f, "c1"));
    assert_non_null(strstr(err, "unknown tool \"fly_drone\""));
    assert_non_null(strstr(err, "add, mul, echo, crm_note, silent, ping, transfer_to_helper, "
                                "transfer_to_other"));
    assert_string_equal(f.calls.log, "");
    fixture_free(&f);
}

static void test_failing_tools(void **state)
{
    (void)state;
    static const struct scripted_tool_call calls[] = {{"c1", "crm_note", "{}"},
                                                      {"c2", "silent", ""},
                                                      {"c3", "ping", "  "},
                                                      {"c4", "ping", "{\"loud\":true}"},
                                                      {"c5", "ping", "[1]"}};
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 5},
        {.content = "The CRM is down."},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 2), 0);
    assert_string_equal(answer(&f, "c1"), "{\"error\":\"the CRM is not answering\"}");
    assert_non_null(strstr(error_of(answer(&f, "c2")), "failed without saying why"));
    assert_string_equal(answer(&f, "c3"), "true"); /* blank arguments mean {} */
    assert_non_null(strstr(error_of(answer(&f, "c4")), "unknown property \"loud\""));
    assert_non_null(strstr(error_of(answer(&f, "c5")), "arguments: must be an object"));
    assert_string_equal(f.calls.log, "crm silent ping");
    assert_string_equal(buf_str(&f.events.log),
                        "agent_changed(Calc) tool_started(crm_note) tool_finished(crm_note!) "
                        "tool_started(silent) tool_finished(silent!) tool_started(ping) "
                        "tool_finished(ping) tool_started(ping) tool_finished(ping!) "
                        "tool_started(ping) tool_finished(ping!) final");
    assert_string_equal(f.result.final_text, "The CRM is down.");
    /* Tool spans carry the failure. */
    int failed = 0;
    for (size_t i = 0; i < f.result.n_spans; i++)
        failed += f.result.spans[i].kind == AGENT_SPAN_TOOL && f.result.spans[i].status == ERR_TOOL;
    assert_int_equal(failed, 4);
    fixture_free(&f);
}

static void test_several_handoffs(void **state)
{
    (void)state;
    static const struct scripted_tool_call calls[] = {
        {"c1", "add", "{\"a\":1,\"b\":1}"},
        {"c2", "transfer_to_helper", "{}"},
        {"c3", "transfer_to_other", "{}"},
        {"c4", "add", "{\"a\":2,\"b\":2}"},
    };
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 4},
        {.content = "Helper here."},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 2), 0);
    /* Calls before the handoff run; the first handoff wins; the rest are
     * answered without running. */
    assert_string_equal(f.calls.log, "add(1,1)");
    assert_ptr_equal(f.calls.agents[0], &calc);
    assert_string_equal(answer(&f, "c2"), "{\"assistant\":\"Helper\"}");
    assert_non_null(strstr(error_of(answer(&f, "c3")), "only one handoff"));
    assert_non_null(strstr(error_of(answer(&f, "c3")), "Helper"));
    assert_non_null(strstr(error_of(answer(&f, "c4")), "not run"));
    assert_int_equal(f.conversation.len, 7);
    for (size_t i = 2; i < 6; i++)
        assert_string_equal(f.conversation.items[i].agent, "Calc");
    assert_string_equal(scripted_model_request(f.model, 1)->agent, "Helper");
    assert_ptr_equal(f.result.last_agent, &helper);
    assert_string_equal(buf_str(&f.events.log),
                        "agent_changed(Calc) tool_started(add) tool_finished(add) "
                        "handoff(Calc>Helper) agent_changed(Helper) final");
    assert_int_equal(f.result.n_path, 2);
    fixture_free(&f);
}

static void test_context_agent_is_caller(void **state)
{
    (void)state;
    static const struct scripted_tool_call first[] = {{"c1", "transfer_to_helper", ""}};
    static const struct scripted_tool_call second[] = {{"c2", "mul", "{\"a\":6,\"b\":7}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = first, .n_tool_calls = 1},
        {.tool_calls = second, .n_tool_calls = 1},
        {.content = "42"},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 3), 0);
    assert_string_equal(f.calls.log, "mul");
    assert_ptr_equal(f.calls.agents[0], &helper);
    /* Helper was not offered Calc's other tools. */
    const struct scripted_request *r = scripted_model_request(f.model, 1);
    assert_int_equal(r->n_tools, 2);
    assert_false(scripted_request_offers(r, "echo"));
    fixture_free(&f);
}

static const char *last_activity;
static void activity_cb(const struct agent_event *e, void *user)
{
    (void)user;
    if (e->type == AGENT_EVENT_TOOL_STARTED)
        last_activity = e->activity;
}

static void test_tool_event_fields(void **state)
{
    (void)state;
    static const struct scripted_tool_call calls[] = {{"c1", "add", "{\"a\":1,\"b\":2}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 1},
        {.content = "3"},
    };
    struct fixture f;
    assert_int_equal(run(&f, script, 2), 0);
    assert_string_equal(buf_str(&f.events.last_result), "{\"sum\":3}");
    fixture_free(&f);

    struct llm_model *model = scripted_model_new(script, 2);
    struct llm_messages conversation;
    struct agent_result result;
    struct calls calls_seen = {0};
    struct agent_run_options options = {
        .model = model, .on_event = activity_cb, .context = &calls_seen};
    llm_messages_init(&conversation);
    last_activity = NULL;
    assert_int_equal(agent_run(&calc, &conversation, "x", &options, &result), 0);
    assert_string_equal(last_activity, "adding");
    agent_result_free(&result);
    llm_messages_free(&conversation);
    llm_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_run_in_order),
        cmocka_unit_test(test_invalid_json_corrected),
        cmocka_unit_test(test_schema_violation_corrected),
        cmocka_unit_test(test_unknown_tool),
        cmocka_unit_test(test_failing_tools),
        cmocka_unit_test(test_several_handoffs),
        cmocka_unit_test(test_context_agent_is_caller),
        cmocka_unit_test(test_tool_event_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
