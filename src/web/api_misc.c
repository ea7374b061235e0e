/* api_misc — the API routes that are one call into a lower floor:
 * POST /v1/quote (the price book), GET /v1/crm/search (the CRM),
 * GET /readyz (store and model), GET /d/{token}/{name} (delivered files).
 *
 * Delivered files: the link is a capability (128 random bits in the token),
 * so the route is public; delivery_local_open maps the path to a regular
 * file inside the delivery folder and refuses anything else (traversal,
 * symbolic links, bad names), which is answered 404 like an unknown file so
 * the answer tells nothing about the folder. The file is sent whole (no
 * Range), at most [web] max_download_mb, with its upload's content type and
 * a sandboxing CSP, so even an HTML file cannot run script on this origin. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "harde/quote.h"
#include "services/crm/crm.h"
#include "services/delivery/delivery.h"
#include "web/web_internal.h"

void api_quote(struct web_call *call)
{
    json_t *body, *quote = NULL, *errors = NULL;
    if (web_body_object(call->req, false, &body) != 0)
        return;
    if (quote_compute(call->worker->app.book, body, &quote, &errors) == 0) {
        web_reply_json(call->req, 200, quote);
    } else {
        size_t n = json_array_size(errors);
        web_reply_error(call->req, 400, "bad_request", errors,
                        "the request cannot be priced: %zu problem%s", n, n == 1 ? "" : "s");
    }
    json_decref(body);
}

static json_t *str_json(const char *s)
{
    return s ? utf8_json_string(s) : json_null();
}

/* One customer of a search, with the jobs crm_customer_get knows (new). */
static json_t *customer_json(const struct crm_customer *c)
{
    char *name =
        xasprintf("%s%s%s", c->first_name ? c->first_name : "",
                  c->first_name && c->last_name ? " " : "", c->last_name ? c->last_name : "");
    struct buf addr;
    buf_init(&addr, 1024);
    const char *parts[] = {c->street, c->city, c->state, c->zip};
    for (size_t i = 0; i < 4; i++)
        if (parts[i] && *parts[i])
            buf_printf(&addr, "%s%s", addr.len ? (i == 3 ? " " : ", ") : "", parts[i]);
    json_t *jobs = json_array();
    for (size_t i = 0; i < c->job_count; i++) {
        const struct crm_job *j = &c->jobs[i];
        json_array_append_new(jobs,
                              json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)j->id, "trade",
                                        crm_trade_key(j->trade), "stage", crm_stage_key(j->stage),
                                        "stage_label", crm_stage_label(j->stage)));
    }
    json_t *o =
        json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)c->id, "name",
                  utf8_json_string(name), "phone", str_json(c->phone), "email", str_json(c->email),
                  "address", utf8_json_string(buf_str(&addr)), "jobs", jobs);
    buf_free(&addr);
    free(name);
    return o;
}

void api_crm_search(struct web_call *call)
{
    struct crm *crm = call->worker->app.crm;
    const char *q = http_req_query(call->req, "q");
    if (!q || !*q || strlen(q) > CRM_QUERY_MAX) {
        web_reply_error(call->req, 400, "bad_request",
                        json_pack("[s]", "q: required, 1-200 bytes of text"),
                        "what should I search for? add ?q=TEXT");
        return;
    }
    char err[512];
    struct crm_hits hits;
    if (crm_search(crm, q, WEB_CRM_HITS, &hits, err, sizeof err) != 0) {
        web_reply_error(call->req, 503, NULL, NULL, "%s", err);
        return;
    }
    json_t *customers = json_array();
    for (size_t i = 0; i < hits.count; i++) {
        struct crm_customer full;
        const struct crm_customer *c = &hits.items[i].customer;
        bool got = crm_customer_get(crm, c->id, &full, err, sizeof err) == 0;
        json_array_append_new(customers, customer_json(got ? &full : c));
        if (got)
            crm_customer_free(&full);
    }
    crm_hits_free(&hits);
    web_reply_json(call->req, 200, json_pack("{s:o}", "customers", customers));
}

void api_readyz(struct web_call *call)
{
    struct web_server *ws = call->ws;
    struct store *st = call->worker->app.store;
    char *value = NULL;
    int rc = store_checkpoint_get(st, "web.readyz", &value);
    free(value);
    if (rc != 0 && rc != ERR_NOT_FOUND) {
        web_reply_error(call->req, 503, NULL, NULL, "the store is not usable: %s", store_error(st));
        return;
    }
    if (!ws->main.model) {
        web_reply_error(call->req, 503, NULL, NULL, "no model backend");
        return;
    }
    web_reply_json(call->req, 200,
                   json_pack("{s:b, s:s, s:s}", "ok", 1, "store", store_backend(st), "model",
                             ws->main.backend));
}

/* Reads the whole file into a new buffer; 0 or ERR_IO. */
static int read_all(int fd, int64_t size, char **out)
{
    char *data = xmalloc(size > 0 ? (size_t)size : 1);
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(fd, data + got, (size_t)size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(data);
            return ERR_IO;
        }
        got += (size_t)n;
    }
    *out = data;
    return 0;
}

void api_delivery(struct web_call *call)
{
    struct web_server *ws = call->ws;
    struct http_req *req = call->req;
    struct delivery_file file;
    int rc = delivery_local_open(ws->delivery_dir, http_req_path(req), &file);
    if (rc != 0) {
        web_reply_error(req, 404, NULL, NULL, "no such file");
        return;
    }
    char *data = NULL;
    if (file.size > (int64_t)ws->set.max_download_mb << 20)
        web_reply_error(req, 413, NULL, NULL, "the file is larger than this server sends");
    else if (read_all(file.fd, file.size, &data) != 0)
        web_reply_error(req, 500, NULL, NULL, "cannot read the file");
    else {
        web_common_headers(req);
        http_reply_header(req, "Content-Security-Policy", "default-src 'none'; sandbox");
        http_reply_bytes(req, 200, file.content_type[0] ? file.content_type : NULL, data,
                         (size_t)file.size, "private, max-age=300");
    }
    free(data);
    close(file.fd);
}
