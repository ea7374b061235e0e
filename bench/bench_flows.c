/* bench_flows — time to first token of the fast and the agent flow, and the
 * router's cost per message.
 *
 * The same sales question ("what do I say when they want to think about
 * it?") is answered by each flow, N times, against the backend the
 * environment selects: the fake OpenAI server of bench/run.sh (every reply
 * delayed 20 ms, like a fast model) or, with BENCH_LOCAL=1, the embedded local
 * model. Time to first token is measured from the start of the turn to the
 * first text delta. The fast flow makes one model call; the agent flow makes
 * three (Triage → Sales Coach → search_playbook → answer).
 * Usage: bench_flows N flow   (flow: fast | agent | router) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "base/clock.h"
#include "harde/agents.h"
#include "harde/app.h"
#include "harde/fast_flow.h"
#include "harde/router.h"
#include "harde/session.h"
#include "harde/turn.h"

static const char QUESTION[] = "what do I say when they want to think about it?";

struct ttft {
    int64_t start;
    int64_t first;
};

static void on_event(const struct agent_event *ev, void *user)
{
    struct ttft *t = user;
    if (ev->type == AGENT_EVENT_TEXT_DELTA && !t->first)
        t->first = clock_now_ns() - t->start;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int one(struct harde_app *app, bool fast, int64_t *ttft_ns)
{
    struct harde_session s;
    session_init_new(&s);
    struct ttft t = {.start = clock_now_ns()};
    struct harde_turn_options opt = {.stream = true, .on_event = on_event, .event_user = &t};
    struct agent_result r;
    int rc;
    if (fast) {
        rc = harde_fast_flow_run(app, &s, QUESTION, &opt, &r);
    } else {
        struct harde_turn_context ctx = {.app = app, .session = &s};
        struct agent_run_options run = {.model = app->model,
                                        .default_model = app->specialist_model,
                                        .stream = true,
                                        .on_event = on_event,
                                        .event_user = &t,
                                        .context = &ctx};
        rc = agent_run(harde_agents_triage(app->agents), &s.messages, QUESTION, &run, &r);
    }
    if (rc != 0 || !t.first)
        fprintf(stderr, "bench_flows: turn failed: %s\n", r.error ? r.error : "no text");
    *ttft_ns = t.first;
    agent_result_free(&r);
    session_free(&s);
    return rc != 0 || !t.first;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_flows N fast|agent|router\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *flow = argv[2];
    struct harde_app app;
    char err[512];
    if (n <= 0 ||
        harde_app_open(&app, NULL, HARDE_NEED_BOOK | HARDE_NEED_MODEL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_flows: %s\n", n <= 0 ? "N must be positive" : err);
        return 1;
    }
    int rc = 0;
    if (strcmp(flow, "router") == 0) {
        struct harde_session s;
        session_init_new(&s);
        struct harde_route route;
        int64_t t0 = clock_now_ns();
        for (int i = 0; i < n; i++)
            harde_route_message(&app, &s, i % 2 ? QUESTION : "price a 2400 sq ft hip roof", &route);
        printf("router.us_per_message %.2f\n", (double)(clock_now_ns() - t0) / n / 1e3);
        session_free(&s);
    } else {
        int64_t *t = calloc((size_t)n, sizeof *t);
        for (int i = 0; i < n && !rc; i++)
            rc = one(&app, strcmp(flow, "fast") == 0, &t[i]);
        if (!rc) {
            qsort(t, (size_t)n, sizeof *t, cmp_i64);
            printf("flow.%s.%s.ttft_ms.p50 %.2f\n", flow, app.backend, (double)t[n / 2] / 1e6);
            printf("flow.%s.%s.ttft_ms.p99 %.2f\n", flow, app.backend,
                   (double)t[(size_t)(n * 0.99)] / 1e6);
        }
        free(t);
    }
    harde_app_close(&app);
    return rc;
}
