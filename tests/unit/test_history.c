/* Unit tests for agent_history_start: trimming the conversation sent to a
 * model to a token budget, oldest whole turns first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "base/xalloc.h"

/* A turn: user text, an assistant tool call, its result, an answer. */
static void add_turn(struct llm_messages *m, size_t bytes)
{
    char *text = xmalloc(bytes + 1);
    memset(text, 'x', bytes);
    text[bytes] = '\0';
    llm_messages_push_text(m, LLM_ROLE_USER, text, NULL);
    struct llm_message *call = llm_messages_push(m, LLM_ROLE_ASSISTANT);
    call->n_tool_calls = 1;
    call->tool_calls = xcalloc(1, sizeof *call->tool_calls);
    call->tool_calls[0].id = xstrdup("call_1");
    call->tool_calls[0].name = xstrdup("quote");
    call->tool_calls[0].arguments = xstrdup("{}");
    struct llm_message *result = llm_messages_push(m, LLM_ROLE_TOOL);
    result->tool_call_id = xstrdup("call_1");
    result->content = xstrdup(text);
    llm_messages_push_text(m, LLM_ROLE_ASSISTANT, text, "Pricing");
    free(text);
}

static void no_budget_sends_everything(void **state)
{
    struct llm_messages m;
    llm_messages_init(&m);
    add_turn(&m, 400);
    add_turn(&m, 400);
    assert_int_equal(agent_history_start(&m, 0), 0);
    llm_messages_free(&m);
}

static void oldest_turns_go_first_and_never_split(void **state)
{
    struct llm_messages m;
    llm_messages_init(&m);
    for (int i = 0; i < 5; i++)
        add_turn(&m, 400); /* ~100 tokens per text message, ~330 per turn */
    llm_messages_push_text(&m, LLM_ROLE_USER, "and now?", NULL);
    size_t start = agent_history_start(&m, 700);
    assert_true(start > 0);
    assert_int_equal(m.items[start].role, LLM_ROLE_USER);
    assert_int_equal(start % 4, 0); /* a turn boundary */
    assert_true(start >= 12);       /* at most two earlier turns fit in 700 */
    /* A budget smaller than the current turn still sends the current turn. */
    assert_int_equal(agent_history_start(&m, 1), m.len - 1);
    /* A huge budget sends everything. */
    assert_int_equal(agent_history_start(&m, 1000000), 0);
    llm_messages_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_budget_sends_everything),
        cmocka_unit_test(oldest_turns_go_first_and_never_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
