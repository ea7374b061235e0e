/* bench_agent — the agent runtime's own cost per conversation.
 *
 * One conversation is the pricing scenario of issue 2: Triage hands off to
 * Pricing, Pricing calls the quote tool (the PRICING.md worked example), and
 * answers — three model calls. The bench runs N conversations in this process
 * and prints, per mode:
 *   - cpu_us_per_conversation against the fake OpenAI server (everything this
 *     process spends: request building, libcurl, SSE parsing, the runner, the
 *     quote) — the figure issue 2 targets (< 100 µs);
 *   - the same with an in-process canned model (the runtime alone, no HTTP);
 *   - peak RSS of the process.
 * The fake server runs in another process, so its CPU is not counted.
 * Usage: bench_agent N   (OPENAI_BASE_URL and OPENAI_API_KEY point at the fake) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/agent.h"
#include "base/xalloc.h"
#include "harde/app.h"
#include "harde/session.h"
#include "harde/turn.h"

static const char *const QUOTE_ARGS =
    "{\"roof\":{\"area_sqft\":2400,\"style\":\"hip\",\"pitch_rise\":7,\"layers\":1,"
    "\"material\":\"architectural\"},\"items\":[{\"id\":\"gutters\",\"qty\":160}]}";

/* ---- an in-process model that plays the scenario ----------------------- */

static int canned_complete(void *impl, const struct llm_request *req, llm_text_cb *on_text,
                           void *user, struct llm_response *out, char *err, size_t errlen)
{
    const struct llm_message *last = &req->messages[req->n_messages - 1];
    out->usage = (struct llm_usage){100, 20, 120};
    if (last->role == LLM_ROLE_USER ||
        (last->role == LLM_ROLE_TOOL && last->agent && strcmp(req->agent, "Pricing") == 0 &&
         strstr(last->content, "assistant"))) {
        out->n_tool_calls = 1;
        out->tool_calls = xcalloc(1, sizeof *out->tool_calls);
        bool triage = strcmp(req->agent, "Triage") == 0;
        out->tool_calls[0].id = xstrdup(triage ? "call_t" : "call_q");
        out->tool_calls[0].name = xstrdup(triage ? "transfer_to_pricing" : "quote");
        out->tool_calls[0].arguments = xstrdup(triage ? "{}" : QUOTE_ARGS);
        out->finish_reason = xstrdup("tool_calls");
        return 0;
    }
    const char *text = "The total is $23,513.67 with architectural shingles.";
    if (req->stream && on_text)
        for (const char *p = text; *p; p += strlen(p) < 4 ? strlen(p) : 4)
            on_text(p, strlen(p) < 4 ? strlen(p) : 4, user);
    out->content = xstrdup(text);
    out->finish_reason = xstrdup("stop");
    return 0;
}

static const struct llm_model_ops canned_ops = {.name = "canned", .complete = canned_complete};

/* ---- measuring --------------------------------------------------------- */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void ignore_event(const struct agent_event *ev, void *user)
{
    (void)ev;
    (void)user;
}

static int run_conversations(struct harde_app *app, int n, bool stream)
{
    struct harde_turn_options opt = {.stream = stream, .on_event = ignore_event};
    for (int i = 0; i < n; i++) {
        struct harde_session s;
        session_init_new(&s);
        struct agent_result r;
        const char *flow;
        int rc = harde_turn_run(app, &s,
                                "price a 2400 sq ft hip roof, 7/12, architectural, "
                                "one layer, with 160 ft of gutters",
                                &opt, &r, &flow);
        if (rc != 0 || !r.final_text || !strstr(r.final_text, "23,513.67")) {
            fprintf(stderr, "bench_agent: conversation failed: %s\n",
                    r.error ? r.error : "the answer lacks the total");
            agent_result_free(&r);
            session_free(&s);
            return -1;
        }
        agent_result_free(&r);
        session_free(&s);
    }
    return 0;
}

static int measure(struct harde_app *app, const char *label, int n, bool stream)
{
    if (run_conversations(app, n / 10 + 1, stream) != 0) /* warm up */
        return -1;
    double t0 = cpu_seconds();
    if (run_conversations(app, n, stream) != 0)
        return -1;
    double per = (cpu_seconds() - t0) / n * 1e6;
    printf("agent.%s.%s.cpu_us_per_conversation %.1f\n", label, stream ? "streamed" : "plain", per);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_agent N\n");
        return 2;
    }
    struct harde_app app;
    char err[512];
    if (harde_app_open(&app, NULL, HARDE_NEED_BOOK | HARDE_NEED_MODEL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_agent: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (measure(&app, "fake_server", n, false) || measure(&app, "fake_server", n, true))
        rc = 1;
    struct llm_model *http_model = app.model;
    struct llm_model canned = {.ops = &canned_ops};
    app.model = &canned;
    if (!rc && (measure(&app, "runtime_only", n * 10, false) ||
                measure(&app, "runtime_only", n * 10, true)))
        rc = 1;
    app.model = http_model;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("agent.peak_rss_kb %ld\n", ru.ru_maxrss);
    harde_app_close(&app);
    return rc;
}
