/* openai — Chat Completions backend: HTTP, SSE and error wording. See openai.h.
 *
 * The wire format lives in openai_wire (request/response JSON, error
 * mapping) and openai_stream (chunk assembly); this file only moves bytes.
 * A streamed call feeds body bytes to an SSE parser whose events go to the
 * stream accumulator; if the server answers a streamed request with plain
 * JSON (some compatible servers ignore "stream"), the body is collected and
 * read as a non-streamed answer instead. After the HTTP layer has done its
 * retries, its result is turned into one of model.h's codes with a sentence
 * about "the model", not about sockets. A 429 that says the account is out
 * of credit is vetoed from retrying through the HTTP layer's retry filter. */
#define _POSIX_C_SOURCE 200809L
#include "llm/openai.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "llm/openai_stream.h"
#include "llm/openai_wire.h"
#include "net/http_client.h"
#include "net/sse.h"

#define OPENAI_POOL_MAX    8 /* idle HTTP clients kept for reuse */
#define OPENAI_MAX_HEADERS 8
#define OPENAI_ERR_MAX     512

struct openai {
    char *url;     /* {base_url}/chat/completions */
    char *auth;    /* "Authorization: Bearer …" or NULL */
    char *org;     /* "OpenAI-Organization: …" or NULL */
    char *project; /* "OpenAI-Project: …" or NULL */
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
    long retry_base_ms;
    size_t max_response;
    pthread_mutex_t lock; /* guards pool */
    struct http_client *pool[OPENAI_POOL_MAX];
    size_t n_pool;
};

enum openai_body_mode { BODY_UNKNOWN, BODY_SSE, BODY_JSON };

/* One streamed call in flight. */
struct openai_call {
    struct http_response *resp;
    struct sse_parser sse;
    struct openai_stream stream;
    enum openai_body_mode mode;
    struct buf json; /* BODY_JSON: the whole body */
    int failed;      /* the code a body callback stopped the transfer with */
    char err[OPENAI_ERR_MAX];
};

/* ---- pool of HTTP clients --------------------------------------------- */

static struct http_client *openai_client_take(struct openai *o)
{
    struct http_client *c = NULL;
    pthread_mutex_lock(&o->lock);
    if (o->n_pool)
        c = o->pool[--o->n_pool];
    pthread_mutex_unlock(&o->lock);
    return c ? c : http_client_new();
}

static void openai_client_give(struct openai *o, struct http_client *c)
{
    pthread_mutex_lock(&o->lock);
    if (o->n_pool < OPENAI_POOL_MAX) {
        o->pool[o->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&o->lock);
    http_client_free(c);
}

/* ---- streaming callbacks ---------------------------------------------- */

static int openai_on_event(const struct sse_event *ev, void *user)
{
    struct openai_call *call = user;
    return openai_stream_event(&call->stream, ev->event, ev->data, ev->data_len, call->err,
                               sizeof call->err);
}

static int openai_on_body(const char *data, size_t len, void *user)
{
    struct openai_call *call = user;
    if (call->mode == BODY_UNKNOWN) {
        char type[128] = "";
        http_response_header(call->resp, "content-type", type, sizeof type);
        call->mode = strncasecmp(type, "application/json", 16) == 0 ? BODY_JSON : BODY_SSE;
    }
    int rc;
    if (call->mode == BODY_JSON) {
        rc = buf_append(&call->json, data, len);
        if (rc)
            snprintf(call->err, sizeof call->err, "the model's answer is larger than %zu bytes",
                     call->json.max);
    } else {
        rc = sse_parser_feed(&call->sse, data, len, call->err, sizeof call->err);
    }
    call->failed = rc;
    return rc;
}

static bool openai_retry_filter(const struct http_response *resp, void *user)
{
    return !openai_wire_is_quota_error(resp->body.data, resp->body.len);
}

/* ---- the call ---------------------------------------------------------- */

/* The answer from a 2xx response. */
static int openai_answer(const struct llm_request *req, struct openai_call *call,
                         const struct http_response *resp, llm_text_cb *on_text, void *user,
                         struct llm_response *out, char *err, size_t errlen)
{
    if (!req->stream)
        return openai_wire_parse_response(resp->body.data, resp->body.len, req->model, out, err,
                                          errlen);
    if (call->mode == BODY_JSON) {
        int rc = openai_wire_parse_response(call->json.data, call->json.len, req->model, out, err,
                                            errlen);
        if (rc == 0 && on_text && out->content && out->content[0])
            on_text(out->content, strlen(out->content), user);
        return rc;
    }
    return openai_stream_finish(&call->stream, out, err, errlen);
}

/* Rewords an HTTP-layer failure (http_err) as a model failure. */
static int openai_failure(const struct openai *o, const struct llm_request *req, int rc,
                          const struct http_response *resp, const char *http_err, char *err,
                          size_t errlen)
{
    switch (rc) {
    case ERR_HTTP:
        rc = openai_wire_http_error(resp->status, resp->body.data, resp->body.len, req->model, err,
                                    errlen);
        if (resp->attempts > 1 && errlen) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (after %d attempts)", resp->attempts);
        }
        return rc;
    case ERR_TIMEOUT:
        snprintf(err, errlen, "the model did not %s within %g s",
                 resp->streamed ? "finish its answer" : "answer", o->timeout_ms / 1000.0);
        return ERR_TIMEOUT;
    case ERR_NETWORK:
        if (resp->streamed) {
            snprintf(err, errlen, "the model's answer was cut off (%s)", http_err);
            return ERR_MODEL;
        }
        snprintf(err, errlen, "could not reach the model server: %s", http_err);
        return ERR_NETWORK;
    case ERR_LIMIT:
        snprintf(err, errlen, "the model's answer is larger than %zu bytes",
                 req->stream ? (size_t)OPENAI_DEFAULT_MAX_STREAM : o->max_response);
        return ERR_LIMIT;
    case ERR_CANCELED:
        snprintf(err, errlen, "the model call was canceled");
        return ERR_CANCELED;
    default:
        snprintf(err, errlen, "cannot call the model server: %s", http_err);
        return rc;
    }
}

/* The HTTP request for one call; headers (OPENAI_MAX_HEADERS slots) and
 * body are borrowed and must outlive it. */
static struct http_request openai_http_request(const struct openai *o,
                                               const struct llm_request *req, const char **headers,
                                               const char *body, struct openai_call *call)
{
    size_t n = 0;
    headers[n++] = "Content-Type: application/json";
    headers[n++] = req->stream ? "Accept: text/event-stream" : "Accept: application/json";
    if (o->auth)
        headers[n++] = o->auth;
    if (o->org)
        headers[n++] = o->org;
    if (o->project)
        headers[n++] = o->project;
    headers[n] = NULL;
    struct http_request hr = HTTP_REQUEST_INIT;
    hr.method = "POST";
    hr.url = o->url;
    hr.headers = headers;
    hr.body = body;
    hr.body_len = strlen(body);
    hr.connect_timeout_ms = o->connect_timeout_ms;
    hr.timeout_ms = o->timeout_ms;
    hr.max_retries = o->max_retries;
    hr.retry_base_ms = o->retry_base_ms;
    hr.max_response = req->stream ? OPENAI_DEFAULT_MAX_STREAM : o->max_response;
    hr.retry_filter = openai_retry_filter;
    hr.cancel = req->cancel;
    if (req->stream) {
        hr.on_body = openai_on_body;
        hr.body_user = call;
    }
    return hr;
}

static int openai_complete(void *impl, const struct llm_request *req, llm_text_cb *on_text,
                           void *user, struct llm_response *out, char *err, size_t errlen)
{
    struct openai *o = impl;
    struct openai_call call = {0};
    struct http_response resp;
    char http_err[OPENAI_ERR_MAX] = "";
    const char *headers[OPENAI_MAX_HEADERS];
    char *body = NULL;
    int rc;
    http_response_init(&resp);
    call.resp = &resp;
    sse_parser_init(&call.sse, 0, 0, openai_on_event, &call);
    openai_stream_init(&call.stream, req->model, on_text, user);
    buf_init(&call.json, o->max_response);
    if (!req->model || !req->model[0]) {
        snprintf(err, errlen, "no model name was given for the OpenAI backend");
        rc = ERR_MODEL;
        goto out;
    }
    json_t *json = openai_wire_request(req);
    body = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    if (!body) {
        snprintf(err, errlen, "the request to the model could not be encoded as JSON");
        rc = ERR_INVALID;
        goto out;
    }
    struct http_request hr = openai_http_request(o, req, headers, body, &call);
    struct http_client *client = openai_client_take(o);
    rc = http_client_request(client, &hr, &resp, http_err, sizeof http_err);
    openai_client_give(o, client);
    /* A connection that breaks after "[DONE]" lost nothing. */
    if (rc == 0 || (rc == ERR_NETWORK && call.stream.done)) {
        rc = openai_answer(req, &call, &resp, on_text, user, out, err, errlen);
    } else if (call.failed && rc == call.failed) {
        snprintf(err, errlen, "%s", call.err);
    } else {
        rc = openai_failure(o, req, rc, &resp, http_err, err, errlen);
    }
out:
    if (rc == 0) {
        out->request_id = resp.request_id;
        resp.request_id = NULL;
        log_debug("openai", "%s answered (%s) with %ld+%ld tokens in %lld ms",
                  out->model ? out->model : req->model,
                  out->finish_reason ? out->finish_reason : "?", out->usage.prompt_tokens,
                  out->usage.completion_tokens, (long long)resp.elapsed_ms);
    } else {
        llm_response_free(out);
        log_warn("openai", "%s%s%s", errlen ? err : err_message(rc),
                 resp.request_id ? " — request id " : "", resp.request_id ? resp.request_id : "");
    }
    free(body);
    buf_free(&call.json);
    openai_stream_free(&call.stream);
    sse_parser_free(&call.sse);
    http_response_free(&resp);
    return rc;
}

static void openai_destroy(void *impl)
{
    struct openai *o = impl;
    if (!o)
        return;
    for (size_t i = 0; i < o->n_pool; i++)
        http_client_free(o->pool[i]);
    pthread_mutex_destroy(&o->lock);
    free(o->url);
    free(o->auth);
    free(o->org);
    free(o->project);
    free(o);
}

static const struct llm_model_ops openai_ops = {
    .name = "openai",
    .complete = openai_complete,
    .destroy = openai_destroy,
};

/* ---- construction ------------------------------------------------------ */

/* "Name: value" for a trimmed, single-line value; new, or NULL when value is
 * empty. *bad is set when it contains a line break. */
static char *openai_header(const char *name, const char *prefix, const char *value, bool *bad)
{
    if (!value)
        return NULL;
    while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
        value++;
    size_t len = strlen(value);
    while (len && strchr(" \t\r\n", value[len - 1]))
        len--;
    if (len == 0)
        return NULL;
    if (memchr(value, '\r', len) || memchr(value, '\n', len)) {
        *bad = true;
        return NULL;
    }
    return xasprintf("%s: %s%.*s", name, prefix, (int)len, value);
}

struct llm_model *openai_model_new(const struct openai_options *options, char *err, size_t errlen)
{
    struct openai_options opt = options ? *options : OPENAI_OPTIONS_INIT;
    const char *base = opt.base_url && opt.base_url[0] ? opt.base_url : OPENAI_DEFAULT_BASE_URL;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        snprintf(err, errlen,
                 "the OpenAI base URL \"%.200s\" is not an http:// or https:// address: check "
                 "OPENAI_BASE_URL",
                 base);
        return NULL;
    }
    bool bad = false;
    struct openai *o = xcalloc(1, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    o->url = xasprintf("%.*s/chat/completions", (int)base_len, base);
    o->auth = openai_header("Authorization", "Bearer ", opt.api_key, &bad);
    o->org = openai_header("OpenAI-Organization", "", opt.organization, &bad);
    o->project = openai_header("OpenAI-Project", "", opt.project, &bad);
    if (bad) {
        snprintf(err, errlen,
                 "the OpenAI API key, organization or project contains a line break: check "
                 "OPENAI_API_KEY");
        openai_destroy(o);
        return NULL;
    }
    if (o->auth)
        log_add_secret(o->auth + strlen("Authorization: Bearer "));
    o->connect_timeout_ms =
        opt.connect_timeout_ms > 0 ? opt.connect_timeout_ms : OPENAI_DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = opt.timeout_ms > 0 ? opt.timeout_ms : OPENAI_DEFAULT_TIMEOUT_MS;
    o->max_retries = opt.max_retries;
    o->retry_base_ms = opt.retry_base_ms;
    o->max_response = opt.max_response ? opt.max_response : OPENAI_DEFAULT_MAX_RESPONSE;
    struct llm_model *model = xmalloc(sizeof *model);
    model->ops = &openai_ops;
    model->impl = o;
    return model;
}
