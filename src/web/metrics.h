/* metrics — what `harde serve` counts, rendered as Prometheus text for /metrics.
 *
 *   harde_http_requests_total{route,method,status}   every finished request
 *   harde_http_request_duration_seconds{route}       histogram (SSE streams excluded)
 *   harde_http_streams_total                         SSE responses
 *   harde_http_active_streams                        gauge
 *   harde_turns_total{flow,outcome}                  outcome: ok, error, canceled, conflict
 *   harde_turn_duration_seconds                      histogram of whole turns
 *   harde_model_requests_total{model}                from the turns' usage
 *   harde_model_tokens_total{model,kind}             kind: prompt, completion
 *   harde_errors_total{kind}                         http_5xx, turn, save, internal
 *   harde_queue_depth{pool}, harde_workers{pool}     gauges from the worker pools
 *   harde_logins_total{outcome}                      ok, failed, limited
 *
 * Label values come from bounded sets (route patterns, configured model
 * names, fixed words); each table has a hard size and anything beyond it is
 * counted under "other", so no client can grow the metrics.
 *
 * Thread-safe (one mutex; updates are a few comparisons and additions). */
#ifndef HARDE_WEB_METRICS_H
#define HARDE_WEB_METRICS_H

#include <stdint.h>

#include "agent/agent.h"
#include "net/http_server.h"

struct web_metrics;

struct web_metrics_gauges {
    int active_streams;
    struct {
        const char *name;
        long threads, busy, queued;
    } pools[2];
    int n_pools;
};

struct web_metrics *web_metrics_new(void);
void web_metrics_free(struct web_metrics *m);

/* One finished HTTP request (the http_server metrics hook). */
void web_metrics_request(struct web_metrics *m, const struct http_request_metrics *r);
/* One finished turn: flow "fast"/"agent", outcome as above; result may be
 * NULL (its usage is added when given). */
void web_metrics_turn(struct web_metrics *m, const char *flow, const char *outcome,
                      int64_t duration_ns, const struct agent_result *result);
/* One error of kind ("turn", "save", "internal"). */
void web_metrics_error(struct web_metrics *m, const char *kind);
/* One login attempt: "ok", "failed" or "limited". */
void web_metrics_login(struct web_metrics *m, const char *outcome);
/* How many turns ended with outcome so far (for tests and logs). */
long web_metrics_turns(struct web_metrics *m, const char *outcome);
/* The exposition text (new string). */
char *web_metrics_render(struct web_metrics *m, const struct web_metrics_gauges *g);

#endif
