/* metrics — counters and histograms in fixed tables, Prometheus text out.
 * See metrics.h.
 *
 * A series is a family (one of the static names below) plus its rendered
 * label set ("route=\"/v1/me\",method=\"GET\""). Counters and histograms
 * are looked up by a linear scan: the tables hold a few hundred series at
 * most and a scan of them costs well under a microsecond. */
#define _POSIX_C_SOURCE 200809L
#include "web/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

#define MAX_COUNTERS       512
#define MAX_HISTS          64
#define RESERVED_FOR_OTHER 16
#define OTHER              "other=\"true\""
#define LABELS_MAX         256
#define RENDER_MAX         (1 << 20)

static const double BOUNDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
#define NBOUNDS (sizeof BOUNDS / sizeof BOUNDS[0])

static const char F_REQUESTS[] = "harde_http_requests_total";
static const char F_DURATION[] = "harde_http_request_duration_seconds";
static const char F_STREAMS[] = "harde_http_streams_total";
static const char F_TURNS[] = "harde_turns_total";
static const char F_TURN_SECONDS[] = "harde_turn_duration_seconds";
static const char F_MODEL_REQUESTS[] = "harde_model_requests_total";
static const char F_MODEL_TOKENS[] = "harde_model_tokens_total";
static const char F_ERRORS[] = "harde_errors_total";
static const char F_LOGINS[] = "harde_logins_total";

static const struct {
    const char *family;
    const char *type;
    const char *help;
} FAMILIES[] = {
    {F_REQUESTS, "counter", "HTTP requests finished, by route pattern, method and status."},
    {F_DURATION, "histogram", "Time from request line to last byte (SSE streams excluded)."},
    {F_STREAMS, "counter", "Server-Sent Events responses opened."},
    {F_TURNS, "counter", "Chat turns, by flow and outcome."},
    {F_TURN_SECONDS, "histogram", "Duration of whole chat turns."},
    {F_MODEL_REQUESTS, "counter", "Model calls made by turns, by model."},
    {F_MODEL_TOKENS, "counter", "Model tokens used by turns, by model and kind."},
    {F_ERRORS, "counter", "Errors, by kind."},
    {F_LOGINS, "counter", "Login attempts, by outcome."},
};

struct counter {
    const char *family;
    char labels[LABELS_MAX];
    double value;
};

struct hist {
    const char *family;
    char labels[LABELS_MAX];
    uint64_t buckets[NBOUNDS];
    uint64_t count;
    double sum;
};

struct web_metrics {
    pthread_mutex_t lock;
    struct counter counters[MAX_COUNTERS];
    size_t n_counters;
    struct hist hists[MAX_HISTS];
    size_t n_hists;
};

struct web_metrics *web_metrics_new(void)
{
    struct web_metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void web_metrics_free(struct web_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Appends `name="value"` (escaped as the exposition format wants). */
static void label(char *out, size_t outlen, const char *name, const char *value)
{
    size_t n = strlen(out);
    if (n + 4 + strlen(name) >= outlen)
        return;
    n += (size_t)snprintf(out + n, outlen - n, "%s%s=\"", n ? "," : "", name);
    for (const char *p = value ? value : ""; *p && n + 3 < outlen; p++) {
        if (*p == '\\' || *p == '"')
            out[n++] = '\\', out[n++] = *p;
        else if (*p == '\n')
            out[n++] = '\\', out[n++] = 'n';
        else
            out[n++] = *p;
    }
    out[n++] = '"';
    out[n] = '\0';
}

/* Adds delta to a counter (lock held); the series is created when new, or
 * counted under other="true" when the table is full (a few slots are kept
 * for the families' "other" series). */
static void add(struct web_metrics *m, const char *family, const char *labels, double delta)
{
    for (size_t i = 0; i < m->n_counters; i++) {
        struct counter *c = &m->counters[i];
        if (c->family == family && strcmp(c->labels, labels) == 0) {
            c->value += delta;
            return;
        }
    }
    bool other = strcmp(labels, OTHER) == 0;
    if (!other && m->n_counters >= MAX_COUNTERS - RESERVED_FOR_OTHER) {
        add(m, family, OTHER, delta);
        return;
    }
    if (m->n_counters == MAX_COUNTERS)
        return;
    struct counter *c = &m->counters[m->n_counters++];
    c->family = family;
    snprintf(c->labels, sizeof c->labels, "%s", labels);
    c->value = delta;
}

static void observe(struct web_metrics *m, const char *family, const char *labels, double value)
{
    struct hist *h = NULL;
    for (size_t i = 0; i < m->n_hists && !h; i++)
        if (m->hists[i].family == family && strcmp(m->hists[i].labels, labels) == 0)
            h = &m->hists[i];
    if (!h && m->n_hists == MAX_HISTS)
        return;
    if (!h) {
        h = &m->hists[m->n_hists++];
        h->family = family;
        snprintf(h->labels, sizeof h->labels, "%s", labels);
    }
    for (size_t i = 0; i < NBOUNDS; i++)
        if (value <= BOUNDS[i])
            h->buckets[i]++;
    h->count++;
    h->sum += value;
}

void web_metrics_request(struct web_metrics *m, const struct http_request_metrics *r)
{
    char labels[LABELS_MAX] = "", route[LABELS_MAX] = "", status[16];
    snprintf(status, sizeof status, "%d", r->status);
    label(labels, sizeof labels, "route", r->route ? r->route : "unmatched");
    label(labels, sizeof labels, "method", r->method);
    label(labels, sizeof labels, "status", status);
    label(route, sizeof route, "route", r->route ? r->route : "unmatched");
    pthread_mutex_lock(&m->lock);
    add(m, F_REQUESTS, labels, 1);
    if (r->stream)
        add(m, F_STREAMS, "", 1);
    else
        observe(m, F_DURATION, route, (double)r->duration_ns / 1e9);
    if (r->status >= 500)
        add(m, F_ERRORS, "kind=\"http_5xx\"", 1);
    pthread_mutex_unlock(&m->lock);
}

void web_metrics_turn(struct web_metrics *m, const char *flow, const char *outcome,
                      int64_t duration_ns, const struct agent_result *result)
{
    char labels[LABELS_MAX] = "";
    label(labels, sizeof labels, "flow", flow);
    label(labels, sizeof labels, "outcome", outcome);
    pthread_mutex_lock(&m->lock);
    add(m, F_TURNS, labels, 1);
    observe(m, F_TURN_SECONDS, "", (double)duration_ns / 1e9);
    for (size_t i = 0; result && i < result->n_usage; i++) {
        const struct agent_usage *u = &result->usage[i];
        char model[LABELS_MAX] = "", prompt[LABELS_MAX], completion[LABELS_MAX];
        label(model, sizeof model, "model", u->model ? u->model : "unknown");
        snprintf(prompt, sizeof prompt, "%s", model);
        snprintf(completion, sizeof completion, "%s", model);
        label(prompt, sizeof prompt, "kind", "prompt");
        label(completion, sizeof completion, "kind", "completion");
        add(m, F_MODEL_REQUESTS, model, (double)u->requests);
        add(m, F_MODEL_TOKENS, prompt, (double)u->prompt_tokens);
        add(m, F_MODEL_TOKENS, completion, (double)u->completion_tokens);
    }
    pthread_mutex_unlock(&m->lock);
}

void web_metrics_error(struct web_metrics *m, const char *kind)
{
    char labels[LABELS_MAX] = "";
    label(labels, sizeof labels, "kind", kind);
    pthread_mutex_lock(&m->lock);
    add(m, F_ERRORS, labels, 1);
    pthread_mutex_unlock(&m->lock);
}

void web_metrics_login(struct web_metrics *m, const char *outcome)
{
    char labels[LABELS_MAX] = "";
    label(labels, sizeof labels, "outcome", outcome);
    pthread_mutex_lock(&m->lock);
    add(m, F_LOGINS, labels, 1);
    pthread_mutex_unlock(&m->lock);
}

long web_metrics_turns(struct web_metrics *m, const char *outcome)
{
    char want[LABELS_MAX] = "";
    label(want, sizeof want, "outcome", outcome);
    double total = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_counters; i++)
        if (m->counters[i].family == F_TURNS && strstr(m->counters[i].labels, want))
            total += m->counters[i].value;
    pthread_mutex_unlock(&m->lock);
    return (long)total;
}

static void render_series(struct buf *b, const char *family, const char *suffix, const char *labels,
                          const char *extra, double value)
{
    bool any = labels[0] || (extra && extra[0]);
    buf_printf(b, "%s%s%s%s%s%s%s %.17g\n", family, suffix, any ? "{" : "", labels,
               labels[0] && extra && extra[0] ? "," : "", extra ? extra : "", any ? "}" : "",
               value);
}

static void render_hist(struct buf *b, const struct hist *h)
{
    char le[64];
    for (size_t i = 0; i < NBOUNDS; i++) {
        snprintf(le, sizeof le, "le=\"%g\"", BOUNDS[i]);
        render_series(b, h->family, "_bucket", h->labels, le, (double)h->buckets[i]);
    }
    render_series(b, h->family, "_bucket", h->labels, "le=\"+Inf\"", (double)h->count);
    render_series(b, h->family, "_sum", h->labels, NULL, h->sum);
    render_series(b, h->family, "_count", h->labels, NULL, (double)h->count);
}

static void render_gauges(struct buf *b, const struct web_metrics_gauges *g)
{
    buf_printf(b,
               "# HELP harde_http_active_streams Server-Sent Events streams open now.\n"
               "# TYPE harde_http_active_streams gauge\nharde_http_active_streams %d\n",
               g->active_streams);
    static const char *const names[] = {"harde_workers", "harde_workers_busy", "harde_queue_depth"};
    static const char *const helps[] = {"Worker threads started, by pool.",
                                        "Worker threads running a job, by pool.",
                                        "Jobs waiting for a worker, by pool."};
    for (int k = 0; k < 3; k++) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", names[k], helps[k], names[k]);
        for (int i = 0; i < g->n_pools; i++) {
            long v = k == 0 ? g->pools[i].threads : k == 1 ? g->pools[i].busy : g->pools[i].queued;
            buf_printf(b, "%s{pool=\"%s\"} %ld\n", names[k], g->pools[i].name, v);
        }
    }
}

char *web_metrics_render(struct web_metrics *m, const struct web_metrics_gauges *g)
{
    struct buf b;
    buf_init(&b, RENDER_MAX);
    pthread_mutex_lock(&m->lock);
    for (size_t f = 0; f < sizeof FAMILIES / sizeof FAMILIES[0]; f++) {
        const char *fam = FAMILIES[f].family;
        buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam, FAMILIES[f].help, fam,
                   FAMILIES[f].type);
        for (size_t i = 0; i < m->n_counters; i++)
            if (m->counters[i].family == fam)
                render_series(&b, fam, "", m->counters[i].labels, NULL, m->counters[i].value);
        for (size_t i = 0; i < m->n_hists; i++)
            if (m->hists[i].family == fam)
                render_hist(&b, &m->hists[i]);
    }
    pthread_mutex_unlock(&m->lock);
    if (g)
        render_gauges(&b, g);
    return buf_steal(&b);
}
