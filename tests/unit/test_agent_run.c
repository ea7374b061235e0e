/* test_agent_run — the runner's loop against the scripted model: handoffs,
 * max_turns, guardrails, dynamic instructions, usage per model, streaming,
 * model errors, cancellation and tool_choice. Tool-call handling in detail is
 * in test_agent_tools.c; the result's JSON forms in test_agent_result.c. */
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

/* ---- the agents --------------------------------------------------------- */

static int price_calls;

static json_t *price_roof(struct agent_context *ctx, json_t *args, char **error)
{
    (void)ctx;
    (void)error;
    price_calls++;
    double area = json_number_value(json_object_get(args, "area_sqft"));
    json_int_t pitch = json_integer_value(json_object_get(args, "pitch_rise"));
    return json_pack("{s:I}", "price", (json_int_t)area * (5 + pitch));
}

static const struct agent_tool pricing_tools[] = {{
    .name = "price_roof",
    .description = "Prices a roof from the price book.",
    .parameters = "{\"type\":\"object\",\"properties\":{\"area_sqft\":{\"type\":\"number\","
                  "\"minimum\":1},\"pitch_rise\":{\"type\":\"integer\",\"minimum\":0,"
                  "\"maximum\":24}},\"required\":[\"area_sqft\"],\"additionalProperties\":false}",
    .fn = price_roof,
    .activity = "pricing the roof",
}};

static bool block_dollars(struct agent_context *ctx, const char *text, char **reason)
{
    (void)ctx;
    if (!strstr(text, "$13"))
        return false;
    *reason = xstrdup("prices above $13k need a manager");
    return true;
}

static bool block_everything(struct agent_context *ctx, const char *text, char **reason)
{
    (void)ctx;
    (void)text;
    *reason = xstrdup("should never run");
    return true;
}

static const struct agent_guardrail pricing_output[] = {{"price_cap", block_dollars}};
static const struct agent_guardrail triage_output[] = {{"never", block_everything}};

static const struct agent pricing = {
    .name = "Pricing",
    .handoff_description = "Prices roofing, siding and gutter jobs.",
    .instructions = "You price jobs.",
    .tools = pricing_tools,
    .n_tools = 1,
    .settings = LLM_SETTINGS_DEFAULT,
    .output_guardrails = pricing_output,
    .n_output_guardrails = 1,
};

static const struct agent coach = {
    .name = "Sales Coach",
    .handoff_description = "Answers objections.",
    .instructions = "You coach reps.",
    .model = "gpt-4.1-mini",
    .settings = LLM_SETTINGS_DEFAULT,
};

static const struct agent *const triage_handoffs[] = {&pricing, &coach};

static bool block_passwords(struct agent_context *ctx, const char *text, char **reason)
{
    (void)ctx;
    if (!strstr(text, "password"))
        return false;
    *reason = xstrdup("the message asks for a password");
    return true;
}

static int allow_calls;
static bool allow_all(struct agent_context *ctx, const char *text, char **reason)
{
    (void)ctx;
    (void)text;
    (void)reason;
    allow_calls++;
    return false;
}

static const struct agent_guardrail triage_input[] = {{"allow", allow_all},
                                                      {"no_passwords", block_passwords}};

static const struct agent triage = {
    .name = "Triage",
    .instructions = "You route requests.",
    .handoffs = triage_handoffs,
    .n_handoffs = 2,
    .settings = LLM_SETTINGS_DEFAULT,
    .input_guardrails = triage_input,
    .n_input_guardrails = 2,
    .output_guardrails = triage_output,
    .n_output_guardrails = 1,
};

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
    struct llm_model *model;
    struct llm_messages conversation;
    struct agent_run_options options;
    struct agent_result result;
    struct scripted_events events;
};

static void fixture_init(struct fixture *f, const struct scripted_response *script, size_t n)
{
    memset(f, 0, sizeof *f);
    f->model = scripted_model_new(script, n);
    llm_messages_init(&f->conversation);
    scripted_events_init(&f->events);
    f->options = (struct agent_run_options){.model = f->model,
                                            .default_model = "gpt-4.1",
                                            .on_event = scripted_events_cb,
                                            .event_user = &f->events};
    price_calls = 0;
    allow_calls = 0;
}

static int fixture_run(struct fixture *f, const struct agent *start, const char *input)
{
    return agent_run(start, &f->conversation, input, &f->options, &f->result);
}

static void fixture_free(struct fixture *f)
{
    agent_result_free(&f->result);
    llm_messages_free(&f->conversation);
    llm_model_free(f->model);
    scripted_events_free(&f->events);
}

static void assert_message(const struct llm_message *m, enum llm_role role, const char *agent)
{
    assert_int_equal(m->role, role);
    if (agent)
        assert_string_equal(m->agent, agent);
    else
        assert_null(m->agent);
}

/* Every tool call in the conversation is answered exactly once, right after. */
static void assert_well_formed(const struct llm_messages *c)
{
    for (size_t i = 0; i < c->len; i++) {
        const struct llm_message *m = &c->items[i];
        for (size_t k = 0; k < m->n_tool_calls; k++) {
            assert_true(i + 1 + k < c->len);
            assert_int_equal(c->items[i + 1 + k].role, LLM_ROLE_TOOL);
            assert_string_equal(c->items[i + 1 + k].tool_call_id, m->tool_calls[k].id);
        }
    }
}

static size_t count_spans(const struct agent_result *r, enum agent_span_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_spans; i++)
        n += r->spans[i].kind == kind;
    return n;
}

/* ---- tests -------------------------------------------------------------- */

static const struct scripted_tool_call to_pricing[] = {{"call_h", "transfer_to_pricing", "{}"}};
static const struct scripted_tool_call price_call[] = {
    {"call_p", "price_roof", "{\"area_sqft\":2000,\"pitch_rise\":6}"}};

static void test_handoff(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = to_pricing, .n_tool_calls = 1},
        {.tool_calls = price_call, .n_tool_calls = 1},
        {.content = "That roof is about $22,000."},
    };
    struct fixture f;
    fixture_init(&f, script, 3);
    assert_int_equal(fixture_run(&f, &triage, "price 2000 sqft at 6/12"), 0);
    assert_string_equal(f.result.final_text, "That roof is about $22,000.");
    assert_ptr_equal(f.result.last_agent, &pricing);
    assert_int_equal(f.result.n_path, 2);
    assert_string_equal(f.result.path[0], "Triage");
    assert_string_equal(f.result.path[1], "Pricing");
    assert_int_equal(price_calls, 1);
    assert_int_equal(allow_calls, 1);
    assert_string_equal(buf_str(&f.events.log),
                        "agent_changed(Triage) handoff(Triage>Pricing) agent_changed(Pricing) "
                        "tool_started(price_roof) tool_finished(price_roof) final");
    assert_string_equal(f.events.final, "That roof is about $22,000.");

    /* Triage was offered the handoffs, with descriptions from the targets. */
    assert_int_equal(scripted_model_n_requests(f.model), 3);
    const struct scripted_request *r0 = scripted_model_request(f.model, 0);
    assert_string_equal(r0->agent, "Triage");
    assert_string_equal(r0->instructions, "You route requests.");
    assert_int_equal(r0->n_tools, 2);
    assert_string_equal(r0->tools[0], "transfer_to_pricing");
    assert_string_equal(r0->tools[1], "transfer_to_sales_coach");
    assert_non_null(strstr(r0->tool_descriptions[0], "Prices roofing, siding and gutter jobs."));
    assert_int_equal(r0->n_messages, 1);

    /* Pricing sees the whole conversation, including the handoff. */
    const struct scripted_request *r1 = scripted_model_request(f.model, 1);
    assert_string_equal(r1->agent, "Pricing");
    assert_string_equal(r1->model, "gpt-4.1");
    assert_string_equal(r1->instructions, "You price jobs.");
    assert_true(scripted_request_offers(r1, "price_roof"));
    assert_false(scripted_request_offers(r1, "transfer_to_pricing"));
    assert_int_equal(r1->n_messages, 3);
    assert_string_equal(r1->messages.items[0].content, "price 2000 sqft at 6/12");
    assert_string_equal(r1->last->content, "{\"assistant\":\"Pricing\"}");
    assert_string_equal(r1->last->tool_call_id, "call_h");

    /* The caller's conversation holds everything, each turn signed. */
    const struct llm_messages *c = &f.conversation;
    assert_int_equal(c->len, 6);
    assert_message(&c->items[0], LLM_ROLE_USER, NULL);
    assert_message(&c->items[1], LLM_ROLE_ASSISTANT, "Triage");
    assert_message(&c->items[2], LLM_ROLE_TOOL, "Triage");
    assert_message(&c->items[3], LLM_ROLE_ASSISTANT, "Pricing");
    assert_message(&c->items[4], LLM_ROLE_TOOL, "Pricing");
    assert_string_equal(c->items[4].content, "{\"price\":22000}");
    assert_message(&c->items[5], LLM_ROLE_ASSISTANT, "Pricing");
    assert_well_formed(c);

    assert_int_equal(count_spans(&f.result, AGENT_SPAN_HANDOFF), 1);
    assert_int_equal(count_spans(&f.result, AGENT_SPAN_MODEL), 3);
    assert_int_equal(count_spans(&f.result, AGENT_SPAN_TOOL), 1);
    assert_int_equal(count_spans(&f.result, AGENT_SPAN_GUARDRAIL), 3); /* 2 in, 1 out */
    fixture_free(&f);
}

static void test_continue_with_last_agent(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = to_pricing, .n_tool_calls = 1},
        {.content = "Send me the measurements."},
        {.content = "Got it."},
    };
    struct fixture f;
    fixture_init(&f, script, 3);
    assert_int_equal(fixture_run(&f, &triage, "price a roof"), 0);
    const struct agent *next = f.result.last_agent;
    agent_result_free(&f.result);
    /* The next turn starts with the agent that acted last, same conversation. */
    assert_int_equal(fixture_run(&f, next, "2000 sqft"), 0);
    const struct scripted_request *r = scripted_model_request(f.model, 2);
    assert_string_equal(r->agent, "Pricing");
    assert_int_equal(r->n_messages, 5);
    assert_int_equal(f.result.n_path, 1);
    fixture_free(&f);
}

static const struct scripted_tool_call loop_call[] = {{NULL, "price_roof", "{\"area_sqft\":10}"}};

static void test_max_turns(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = loop_call, .n_tool_calls = 1},
        {.tool_calls = loop_call, .n_tool_calls = 1},
        {.tool_calls = loop_call, .n_tool_calls = 1},
    };
    struct fixture f;
    fixture_init(&f, script, 3);
    f.options.max_turns = 2;
    assert_int_equal(fixture_run(&f, &pricing, "price it"), ERR_MAX_TURNS);
    assert_int_equal(f.result.status, ERR_MAX_TURNS);
    assert_int_equal(scripted_model_n_requests(f.model), 2);
    assert_int_equal(price_calls, 2);
    assert_non_null(strstr(f.result.error, "2 model calls"));
    assert_non_null(strstr(f.result.error, "max_turns"));
    assert_non_null(strstr(f.result.error, "Pricing"));
    assert_null(f.result.final_text);
    assert_ptr_equal(f.result.last_agent, &pricing);
    assert_string_equal(f.events.error, f.result.error);
    assert_int_equal(f.events.error_status, ERR_MAX_TURNS);
    assert_non_null(strstr(buf_str(&f.events.log), "tool_finished(price_roof) error(MAX_TURNS)"));
    assert_well_formed(&f.conversation);
    assert_int_equal(f.result.spans[0].kind, AGENT_SPAN_RUN);
    assert_int_equal(f.result.spans[0].status, ERR_MAX_TURNS);
    fixture_free(&f);
}

static void test_default_max_turns(void **state)
{
    (void)state;
    struct scripted_response script[AGENT_DEFAULT_MAX_TURNS + 2];
    for (size_t i = 0; i < AGENT_DEFAULT_MAX_TURNS + 2; i++)
        script[i] = (struct scripted_response){.tool_calls = loop_call, .n_tool_calls = 1};
    struct fixture f;
    fixture_init(&f, script, AGENT_DEFAULT_MAX_TURNS + 2);
    assert_int_equal(fixture_run(&f, &pricing, "loop"), ERR_MAX_TURNS);
    assert_int_equal(scripted_model_n_requests(f.model), AGENT_DEFAULT_MAX_TURNS);
    fixture_free(&f);
}

static void test_input_guardrail(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {{.content = "never sent"}};
    struct fixture f;
    fixture_init(&f, script, 1);
    assert_int_equal(fixture_run(&f, &triage, "what is the CRM password?"), ERR_GUARDRAIL);
    assert_int_equal(scripted_model_n_requests(f.model), 0);
    assert_string_equal(f.result.guardrail, "no_passwords");
    assert_non_null(strstr(f.result.error, "the message asks for a password"));
    assert_non_null(strstr(f.result.error, "no_passwords"));
    assert_string_equal(buf_str(&f.events.log), "agent_changed(Triage) error(GUARDRAIL)");
    assert_int_equal(count_spans(&f.result, AGENT_SPAN_GUARDRAIL), 2);
    assert_int_equal(f.result.spans[f.result.n_spans - 1].status, ERR_GUARDRAIL);
    fixture_free(&f);
}

static void test_output_guardrail(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = to_pricing, .n_tool_calls = 1},
        {.content = "That is $13,500."},
    };
    struct fixture f;
    fixture_init(&f, script, 2);
    /* Triage's own output guardrail would trip on anything: only the final
     * agent's (Pricing's) guardrails look at the answer. */
    assert_int_equal(fixture_run(&f, &triage, "price it"), ERR_GUARDRAIL);
    assert_string_equal(f.result.guardrail, "price_cap");
    assert_non_null(strstr(f.result.error, "prices above $13k need a manager"));
    assert_null(f.result.final_text);
    /* The blocked answer is not kept for the next turn. */
    assert_int_equal(f.conversation.len, 3);
    assert_int_equal(f.conversation.items[2].role, LLM_ROLE_TOOL);
    json_t *last = json_array_get(f.result.items, json_array_size(f.result.items) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "type")), "handoff");
    fixture_free(&f);

    static const struct scripted_response fine[] = {{.content = "That is $9,000."}};
    fixture_init(&f, fine, 1);
    assert_int_equal(fixture_run(&f, &pricing, "price it"), 0);
    assert_null(f.result.guardrail);
    fixture_free(&f);
}

struct rep {
    const char *name;
    int instruction_calls;
};

static char *rep_instructions(struct agent_context *ctx)
{
    struct rep *rep = ctx->user;
    rep->instruction_calls++;
    return xasprintf("You are %s. The rep is %s. Call %d. Input: %s", ctx->agent->name, rep->name,
                     rep->instruction_calls, ctx->input);
}

static void test_dynamic_instructions(void **state)
{
    (void)state;
    static const struct agent dynamic = {
        .name = "Coach",
        .instructions = "static text that loses",
        .dynamic_instructions = rep_instructions,
        .tools = pricing_tools,
        .n_tools = 1,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    static const struct scripted_response script[] = {
        {.tool_calls = loop_call, .n_tool_calls = 1},
        {.content = "Done."},
    };
    struct rep rep = {.name = "Dana"};
    struct fixture f;
    fixture_init(&f, script, 2);
    f.options.context = &rep;
    assert_int_equal(fixture_run(&f, &dynamic, "help"), 0);
    assert_int_equal(rep.instruction_calls, 2);
    assert_string_equal(scripted_model_request(f.model, 0)->instructions,
                        "You are Coach. The rep is Dana. Call 1. Input: help");
    assert_string_equal(scripted_model_request(f.model, 1)->instructions,
                        "You are Coach. The rep is Dana. Call 2. Input: help");
    fixture_free(&f);
}

static const struct scripted_tool_call to_coach[] = {{"call_c", "transfer_to_sales_coach", ""}};

static void test_usage_per_model(void **state)
{
    (void)state;
    static const struct agent mini_triage = {
        .name = "Triage",
        .model = "gpt-4.1-mini",
        .handoffs = triage_handoffs,
        .n_handoffs = 2,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    static const struct scripted_response script[] = {
        {.tool_calls = to_pricing, .n_tool_calls = 1, .usage = {100, 10, 110}},
        {.tool_calls = price_call,
         .n_tool_calls = 1,
         .usage = {200, 20, 220},
         .model = "gpt-4.1-2025-04-14"},
        {.content = "$22,000.", .usage = {300, 30, 330}},
    };
    struct fixture f;
    fixture_init(&f, script, 3);
    assert_int_equal(fixture_run(&f, &mini_triage, "price"), 0);
    assert_int_equal(f.result.n_usage, 2);
    assert_string_equal(f.result.usage[0].model, "gpt-4.1-mini");
    assert_int_equal(f.result.usage[0].requests, 1);
    assert_int_equal(f.result.usage[0].prompt_tokens, 100);
    assert_int_equal(f.result.usage[0].completion_tokens, 10);
    assert_int_equal(f.result.usage[0].total_tokens, 110);
    /* Summed under the requested name, whatever the server calls it. */
    assert_string_equal(f.result.usage[1].model, "gpt-4.1");
    assert_int_equal(f.result.usage[1].requests, 2);
    assert_int_equal(f.result.usage[1].prompt_tokens, 500);
    assert_int_equal(f.result.usage[1].completion_tokens, 50);
    assert_int_equal(f.result.usage[1].total_tokens, 550);
    size_t models = 0;
    for (size_t i = 0; i < f.result.n_spans; i++)
        if (f.result.spans[i].kind == AGENT_SPAN_MODEL)
            assert_string_equal(f.result.spans[i].name, models++ ? "gpt-4.1" : "gpt-4.1-mini");
    assert_int_equal(models, 3);
    fixture_free(&f);
}

static void test_streaming(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = to_coach, .n_tool_calls = 1},
        {.content = "Acknowledge the concern, then ask what they need to think about."},
    };
    const char *answer = script[1].content;
    struct fixture f;
    fixture_init(&f, script, 2);
    f.options.stream = true;
    assert_int_equal(fixture_run(&f, &triage, "they said they need to think about it"), 0);
    assert_true(scripted_model_request(f.model, 1)->stream);
    assert_string_equal(scripted_model_request(f.model, 1)->model, "gpt-4.1-mini");
    assert_string_equal(buf_str(&f.events.text), answer);
    assert_int_equal(f.events.n_deltas,
                     (strlen(answer) + SCRIPTED_DELTA_BYTES - 1) / SCRIPTED_DELTA_BYTES);
    assert_string_equal(buf_str(&f.events.log), "agent_changed(Triage) handoff(Triage>Sales Coach) "
                                                "agent_changed(Sales Coach) text final");
    fixture_free(&f);

    /* Without streaming: no deltas, the same answer. */
    fixture_init(&f, script, 2);
    assert_int_equal(fixture_run(&f, &triage, "they said they need to think about it"), 0);
    assert_false(scripted_model_request(f.model, 1)->stream);
    assert_int_equal(f.events.n_deltas, 0);
    assert_string_equal(f.result.final_text, answer);
    fixture_free(&f);
}

static void test_model_error(void **state)
{
    (void)state;
    static const struct scripted_response script[] = {
        {.tool_calls = to_pricing, .n_tool_calls = 1},
        {.error = ERR_RATE_LIMIT, .error_message = "OpenAI is rate limiting us; retry in 20s"},
    };
    struct fixture f;
    fixture_init(&f, script, 2);
    assert_int_equal(fixture_run(&f, &triage, "price"), ERR_RATE_LIMIT);
    assert_string_equal(f.result.error, "OpenAI is rate limiting us; retry in 20s");
    assert_ptr_equal(f.result.last_agent, &pricing);
    assert_string_equal(buf_str(&f.events.log),
                        "agent_changed(Triage) handoff(Triage>Pricing) agent_changed(Pricing) "
                        "error(RATE_LIMIT)");
    assert_int_equal(f.result.spans[f.result.n_spans - 1].kind, AGENT_SPAN_MODEL);
    assert_int_equal(f.result.spans[f.result.n_spans - 1].status, ERR_RATE_LIMIT);
    assert_int_equal(f.result.n_usage, 1); /* the failed call used nothing */
    assert_well_formed(&f.conversation);
    fixture_free(&f);

    /* An empty response is a model error too. */
    static const struct scripted_response empty[] = {{.content = NULL}};
    fixture_init(&f, empty, 1);
    assert_int_equal(fixture_run(&f, &pricing, "price"), ERR_MODEL);
    assert_non_null(strstr(f.result.error, "neither text nor tool calls"));
    fixture_free(&f);
}

static volatile sig_atomic_t cancel_flag;

static json_t *cancel_tool(struct agent_context *ctx, json_t *args, char **error)
{
    (void)ctx;
    (void)args;
    (void)error;
    price_calls++;
    cancel_flag = 1;
    return json_string("stopping");
}

static void test_cancel(void **state)
{
    (void)state;
    static const struct agent_tool tools[] = {{.name = "stop", .fn = cancel_tool}};
    static const struct agent canceller = {
        .name = "Worker", .tools = tools, .n_tools = 1, .settings = LLM_SETTINGS_DEFAULT};
    static const struct scripted_tool_call calls[] = {{"c1", "stop", "{}"}, {"c2", "stop", "{}"}};
    static const struct scripted_response script[] = {
        {.tool_calls = calls, .n_tool_calls = 2},
        {.content = "never reached"},
    };
    struct fixture f;
    fixture_init(&f, script, 2);
    cancel_flag = 0;
    f.options.cancel = &cancel_flag;
    assert_int_equal(fixture_run(&f, &canceller, "go"), ERR_CANCELED);
    assert_int_equal(price_calls, 1);        /* the second call was not run … */
    assert_int_equal(f.conversation.len, 4); /* … but answered */
    assert_string_equal(f.conversation.items[2].content, "\"stopping\"");
    assert_non_null(strstr(f.conversation.items[3].content, "canceled"));
    assert_well_formed(&f.conversation);
    assert_int_equal(scripted_model_n_requests(f.model), 1);
    assert_non_null(strstr(buf_str(&f.events.log), "error(CANCELED)"));
    fixture_free(&f);

    /* Canceled before the run starts: no model call at all. */
    fixture_init(&f, script, 2);
    cancel_flag = 1;
    f.options.cancel = &cancel_flag;
    assert_int_equal(fixture_run(&f, &canceller, "go"), ERR_CANCELED);
    assert_int_equal(scripted_model_n_requests(f.model), 0);
    fixture_free(&f);
}

static void test_forced_tool_choice_resets(void **state)
{
    (void)state;
    static const struct agent forced = {
        .name = "Pricing",
        .tools = pricing_tools,
        .n_tools = 1,
        .settings = {.temperature = -1, .tool_choice = "required"},
    };
    static const struct scripted_response script[] = {
        {.tool_calls = loop_call, .n_tool_calls = 1},
        {.content = "$50."},
    };
    struct fixture f;
    fixture_init(&f, script, 2);
    assert_int_equal(fixture_run(&f, &forced, "price"), 0);
    assert_string_equal(scripted_model_request(f.model, 0)->tool_choice, "required");
    assert_null(scripted_model_request(f.model, 1)->tool_choice);
    fixture_free(&f);
}

static void test_bad_setup(void **state)
{
    (void)state;
    static const struct agent_tool bad_tools[] = {{.name = "broken",
                                                   .parameters =
                                                       "{\"type\":\"object\",\"properties\":{\"a\":"
                                                       "{\"type\":\"float\"}}}",
                                                   .fn = price_roof}};
    static const struct agent bad = {
        .name = "Bad", .tools = bad_tools, .n_tools = 1, .settings = LLM_SETTINGS_DEFAULT};
    static const struct agent_tool bad_names[] = {{.name = "has space", .fn = price_roof}};
    static const struct agent bad_name = {
        .name = "Bad", .tools = bad_names, .n_tools = 1, .settings = LLM_SETTINGS_DEFAULT};
    static const struct scripted_response script[] = {{.content = "hi"}};
    struct fixture f;
    fixture_init(&f, script, 1);
    assert_int_equal(fixture_run(&f, &bad, "hi"), ERR_INVALID);
    assert_non_null(strstr(f.result.error, "tool \"broken\""));
    assert_non_null(strstr(f.result.error, "unknown type \"float\""));
    assert_int_equal(scripted_model_n_requests(f.model), 0);
    agent_result_free(&f.result);
    assert_int_equal(fixture_run(&f, &bad_name, "hi"), ERR_INVALID);
    assert_non_null(strstr(f.result.error, "\"has space\""));
    agent_result_free(&f.result);
    f.options.model = NULL;
    assert_int_equal(fixture_run(&f, &pricing, "hi"), ERR_INVALID);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handoff),
        cmocka_unit_test(test_continue_with_last_agent),
        cmocka_unit_test(test_max_turns),
        cmocka_unit_test(test_default_max_turns),
        cmocka_unit_test(test_input_guardrail),
        cmocka_unit_test(test_output_guardrail),
        cmocka_unit_test(test_dynamic_instructions),
        cmocka_unit_test(test_usage_per_model),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_model_error),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_forced_tool_choice_resets),
        cmocka_unit_test(test_bad_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
