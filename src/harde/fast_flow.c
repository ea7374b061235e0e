/* fast_flow — retrieval + one answer. See fast_flow.h. */
#include "harde/fast_flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "harde/agents.h"
#include "kb/answer.h"
#include "kb/kb.h"

#define FAST_PASSAGES        4
#define FAST_HISTORY         12 /* earlier text messages sent to a cloud model */
#define FAST_MAX_INSTRUCTION 24000

struct fast_run {
    const struct harde_turn_options *opt;
    const char *agent;
    struct buf text;
};

static void emit(const struct fast_run *r, enum agent_event_type type, const char *text, size_t len,
                 int status)
{
    if (!r->opt->on_event)
        return;
    struct agent_event ev = {
        .type = type, .agent = r->agent, .text = text, .len = len, .status = status};
    r->opt->on_event(&ev, r->opt->event_user);
}

static void on_delta(const char *delta, size_t len, void *user)
{
    struct fast_run *r = user;
    buf_append(&r->text, delta, len);
    emit(r, AGENT_EVENT_TEXT_DELTA, delta, len, 0);
}

static char *passages_block(const struct kb_results *hits)
{
    struct buf b;
    buf_init(&b, FAST_MAX_INSTRUCTION);
    buf_append_str(&b, "\n\nAnswer from these passages of the company playbook. Cite the ones "
                       "you use at the end as \"Sources: file.md › Section\". If they do not "
                       "cover the question, say so.\n");
    for (size_t i = 0; i < hits->count; i++)
        if (buf_printf(&b, "\n[%zu] %s › %s\n%s\n", i + 1, hits->hits[i].source,
                       hits->hits[i].heading, hits->hits[i].text) != 0)
            break;
    return buf_steal(&b);
}

/* The text messages of the conversation a cloud model may see (no tool turns). */
static void recent_text_messages(const struct harde_session *s, struct llm_messages *out)
{
    size_t kept = 0, start = s->messages.len;
    while (start > 0 && kept < FAST_HISTORY) {
        const struct llm_message *m = &s->messages.items[--start];
        if ((m->role == LLM_ROLE_USER || m->role == LLM_ROLE_ASSISTANT) && m->content &&
            !m->n_tool_calls)
            kept++;
    }
    for (size_t i = start; i < s->messages.len; i++) {
        const struct llm_message *m = &s->messages.items[i];
        if ((m->role == LLM_ROLE_USER || m->role == LLM_ROLE_ASSISTANT) && m->content &&
            !m->n_tool_calls)
            llm_messages_push_text(out, m->role, m->content, m->agent);
    }
}

static int ask_model(struct harde_app *app, const struct agent *coach,
                     const struct harde_session *s, const char *text, const struct kb_results *hits,
                     struct fast_run *r, struct agent_result *res, char *err, size_t errlen)
{
    struct llm_messages msgs;
    llm_messages_init(&msgs);
    recent_text_messages(s, &msgs);
    llm_messages_push_text(&msgs, LLM_ROLE_USER, text, NULL);
    char *block = passages_block(hits);
    char *instructions = xasprintf("%s%s", coach->instructions, block);
    free(block);
    struct llm_request req = {
        .model = coach->model ? coach->model : app->specialist_model,
        .agent = coach->name,
        .instructions = instructions,
        .messages = msgs.items,
        .n_messages = msgs.len,
        .settings = coach->settings,
        .stream = r->opt->stream,
        .cancel = r->opt->cancel,
    };
    struct llm_response resp;
    int64_t t0 = clock_now_ns();
    int rc = llm_complete(app->model, &req, on_delta, r, &resp, err, errlen);
    res->spans[1] = (struct agent_span){
        AGENT_SPAN_MODEL, xstrdup(req.model), xstrdup(coach->name), t0, clock_now_ns() - t0, rc};
    if (rc == 0) {
        if (r->text.len == 0 && resp.content)
            buf_append_str(&r->text, resp.content);
        res->usage = xcalloc(1, sizeof *res->usage);
        res->n_usage = 1;
        res->usage[0] = (struct agent_usage){xstrdup(req.model), 1, resp.usage.prompt_tokens,
                                             resp.usage.completion_tokens, resp.usage.total_tokens};
    }
    llm_response_free(&resp);
    llm_messages_free(&msgs);
    free(instructions);
    return rc;
}

static json_t *message_item(const char *role, const char *agent, const char *content)
{
    json_t *o = json_pack("{s:s, s:s}", "type", "message", "role", role);
    if (agent)
        json_object_set_new(o, "agent", json_string(agent));
    json_object_set_new(o, "content", utf8_json_string(content));
    return o;
}

static json_t *retrieval_item(const struct kb_results *hits)
{
    json_t *sources = json_array();
    for (size_t i = 0; i < hits->count; i++)
        json_array_append_new(sources, json_pack("{s:s, s:s, s:f}", "source", hits->hits[i].source,
                                                 "heading", hits->hits[i].heading, "score",
                                                 hits->hits[i].score));
    return json_pack("{s:s, s:o}", "type", "retrieval", "passages", sources);
}

int harde_fast_flow_run(struct harde_app *app, struct harde_session *s, const char *text,
                        const struct harde_turn_options *opt, struct agent_result *res)
{
    memset(res, 0, sizeof *res);
    const struct agent *coach = harde_agents_find(app->agents, "Sales Coach");
    struct fast_run r = {.opt = opt, .agent = coach->name};
    buf_init(&r.text, 0);
    char err[1024] = "";
    int64_t t0 = clock_now_ns();
    res->spans = xcalloc(3, sizeof *res->spans);
    res->n_spans = 2;
    emit(&r, AGENT_EVENT_AGENT_CHANGED, NULL, 0, 0);

    struct kb_results hits = {0};
    struct kb *kb = harde_app_kb(app, err, sizeof err);
    int rc = kb ? kb_search(kb, text, FAST_PASSAGES, &hits, err, sizeof err) : ERR_CONFIG;
    res->spans[0] = (struct agent_span){
        AGENT_SPAN_TOOL, xstrdup("kb_search"), xstrdup(coach->name), 0, clock_now_ns() - t0, rc};
    if (rc == 0) {
        if (strcmp(app->backend, "local") == 0) {
            int64_t t1 = clock_now_ns();
            char *answer = kb_answer_compose(text, &hits, NULL);
            llm_stream_words(answer, on_delta, &r);
            free(answer);
            res->spans[1] =
                (struct agent_span){AGENT_SPAN_MODEL, xstrdup("local"),    xstrdup(coach->name),
                                    t1 - t0,          clock_now_ns() - t1, 0};
        } else {
            rc = ask_model(app, coach, s, text, &hits, &r, res, err, sizeof err);
            res->spans[1].start_ns -= t0;
        }
    } else {
        res->n_spans = 1;
    }
    res->spans[res->n_spans++] = (struct agent_span){
        AGENT_SPAN_RUN, xstrdup("fast"), xstrdup(coach->name), 0, clock_now_ns() - t0, rc};
    res->items = json_array();
    json_array_append_new(res->items, message_item("user", NULL, text));
    json_array_append_new(res->items, retrieval_item(&hits));
    kb_results_free(&hits);
    res->status = rc;
    if (rc != 0) {
        res->error = xstrdup(err[0] ? err : err_message(rc));
        emit(&r, AGENT_EVENT_ERROR, res->error, strlen(res->error), rc);
        buf_free(&r.text);
        return rc;
    }
    res->final_text = buf_steal(&r.text);
    res->last_agent = coach;
    res->path = xcalloc(1, sizeof *res->path);
    res->path[0] = coach->name;
    res->n_path = 1;
    json_array_append_new(res->items, message_item("assistant", coach->name, res->final_text));
    llm_messages_push_text(&s->messages, LLM_ROLE_USER, text, NULL);
    llm_messages_push_text(&s->messages, LLM_ROLE_ASSISTANT, res->final_text, coach->name);
    emit(&r, AGENT_EVENT_FINAL, res->final_text, strlen(res->final_text), 0);
    return 0;
}
