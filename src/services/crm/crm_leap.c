/* crm_leap — the Leap CRM (JobProgress) backend: the public API v3 over HTTP.
 *
 * Owns one http_client (keep-alive, timeouts, retries of reads), the Bearer
 * token (as a ready header line; never logged), a token bucket that keeps the
 * handle under Leap's budget of 60 requests a minute, the workflow stages and
 * trades fetched once, and the idempotency keys of the creates it made.
 *
 * Wire facts (EXTERNAL_APIS.md §4): base https://api.jobprogress.com/api/v3;
 * `Authorization: Bearer`, `Accept: application/json`, and no Content-Type on
 * GETs; the {"data","meta","status"} envelope; `limit` (max 100) / `page`
 * paging with meta.pagination.total_pages; `includes[]` for relations. Reads
 * map onto the crm interface as:
 *   search        GET /customers?query=  (Leap matches name and email only;
 *                 a phone/ZIP query fails with CRM_ERR_UNSUPPORTED), then
 *                 re-ranked with crm_match;
 *   customer      GET /customers/{id}?includes[]=jobs (relation name assumed);
 *   job           GET /jobs/{id}?includes[]=customer,address,reps,trades +
 *                 GET /jobs/{id}/notes + GET /appointments?job_ids[]= (the
 *                 latest start_date_time is the appointment);
 *   jobs by stage GET /workflow/stages (once) to find the stage's code by its
 *                 name, then GET /jobs?stages[]=code, page by page.
 * Writes are form-encoded, never retried blindly (a lost answer must not
 * create twice), and done only when the caller asks:
 *   create        POST /prospects: customer + job in one call (bracketed
 *                 fields, phone as 10 digits, trade id from /company/trades);
 *                 the prospect endpoint has no field for the rep, the
 *                 appointment, the lead source or notes, so those are written
 *                 into the job description rather than dropped;
 *   note          POST /jobs/{id}/notes, multipart/form-data, field `note`;
 *   stage move    none: Leap's public API documents no way to change a job's
 *                 stage, so this fails with CRM_ERR_UNSUPPORTED and says so.
 * Leap has no idempotency keys: the handle remembers the keys it used, and a
 * create with a key first looks for a customer with the same name and phone
 * (also after a create whose answer was lost), so a retry finds the first
 * create instead of making a second customer.
 *
 * The budget: a bucket of `burst` requests refilled at (per_minute - burst)
 * a minute, so no 60-second window sees more than per_minute requests. A call
 * that finds the bucket empty waits (sleeping, cancellable) up to max_wait_ms
 * in total, then fails with ERR_RATE_LIMIT rather than wait without bound.
 * A 429 that still happens (other clients share the account) is retried by
 * http_client for reads; a write answered 429 was not done and is retried
 * here, within the same wait bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/crm/crm_internal.h"

#define LEAP_DEFAULT_PER_MINUTE 60.0
#define LEAP_DEFAULT_BURST      10
#define LEAP_DEFAULT_MAX_WAIT   30000 /* ms */
#define LEAP_DEFAULT_TIMEOUT    20000 /* ms */
#define LEAP_MAX_PAGE           100   /* Leap's documented maximum `limit` */
#define LEAP_MAX_PAGES          50    /* pages one list call may read */
#define LEAP_MAX_RESPONSE       (4u << 20)
#define LEAP_MAX_BODY           (256u << 10) /* bytes of a write body we send */
#define LEAP_MAX_KEYS           256          /* idempotency keys remembered */
#define LEAP_WRITE_429_TRIES    3

struct leap_key {
    char *key;
    struct crm_created ids;
};

struct crm_leap {
    struct crm base;
    struct http_client *http;
    char *base_url;    /* without a trailing '/' */
    char *auth_header; /* "Authorization: Bearer …" */
    struct crm_bucket bucket;
    double per_minute;
    long max_wait_ms;
    long timeout_ms;
    int page_size;
    int retries;
    long retry_base_ms;
    volatile sig_atomic_t *cancel;
    json_t *stages; /* GET /workflow/stages data, fetched once */
    json_t *trades; /* GET /company/trades data, fetched once */
    struct leap_key keys[LEAP_MAX_KEYS];
    size_t n_keys;
};

/* ---- requests ------------------------------------------------------------------- */

/* Waits for a token of the budget; 0, ERR_RATE_LIMIT or ERR_CANCELED. */
static int leap_budget(struct crm_leap *C, char *err, size_t errlen)
{
    int64_t waited_ms = 0;
    for (;;) {
        int64_t wait_ns = crm_bucket_take(&C->bucket, clock_now_ns());
        if (wait_ns == 0)
            return 0;
        int64_t wait_ms = (wait_ns + 999999) / 1000000;
        if (waited_ms + wait_ms > C->max_wait_ms) {
            crm_set_err(err, errlen,
                        "crm (leap): Leap allows %.0f requests a minute and this process has "
                        "used them; the next one would wait %.1f s more, over the %.1f s "
                        "allowed — try again shortly",
                        C->per_minute, wait_ms / 1000.0, C->max_wait_ms / 1000.0);
            return ERR_RATE_LIMIT;
        }
        if (clock_sleep_ms(wait_ms, C->cancel) != 0) {
            crm_set_err(err, errlen, "crm (leap): canceled while waiting for the rate limit");
            return ERR_CANCELED;
        }
        waited_ms += wait_ms;
    }
}

/* An HTTP failure status as ERR_* with a sentence naming what Leap said. */
static int leap_status_error(long status, const char *body, const char *what, char *err,
                             size_t errlen)
{
    char said[256];
    crm_leap_error_text(body, said, sizeof said);
    const char *sep = said[0] ? ": " : "";
    if (status == 401 || status == 403) {
        crm_set_err(err, errlen,
                    "crm (leap): Leap refused the API token (HTTP %ld%s%s); check "
                    "LEAP_API_TOKEN (Settings > Developers in Leap, admin users only)",
                    status, sep, said);
        return ERR_AUTH;
    }
    if (status == 404) {
        crm_set_err(err, errlen, "crm (leap): Leap has no %s (HTTP 404%s%s)", what, sep, said);
        return ERR_NOT_FOUND;
    }
    if (status == 412 || status == 422 || status == 400 || status == 415) {
        crm_set_err(err, errlen, "crm (leap): Leap refused %s (HTTP %ld%s%s)", what, status, sep,
                    said);
        return ERR_INVALID;
    }
    if (status == 429) {
        crm_set_err(err, errlen,
                    "crm (leap): Leap's rate limit (60 requests a minute) was hit "
                    "and retries did not get through; try again in a minute");
        return ERR_RATE_LIMIT;
    }
    crm_set_err(err, errlen, "crm (leap): Leap failed on %s (HTTP %ld%s%s)", what, status, sep,
                said);
    return ERR_HTTP;
}

struct leap_call {
    const char *method;       /* "GET", "POST" */
    const char *path;         /* with its query string */
    const char *content_type; /* writes */
    const struct buf *body;   /* writes */
    const char *what;         /* "job 1042", for messages */
    json_t *root;             /* out: the parsed answer (new) */
    long status;              /* out */
};

/* One request through the budget. Reads are retried by http_client; writes
 * only after a 429 (Leap did nothing), within the wait bound. */
static int leap_request(struct crm_leap *C, struct leap_call *call, char *err, size_t errlen)
{
    bool is_write = strcmp(call->method, "GET") != 0;
    char *url = xasprintf("%s%s", C->base_url, call->path);
    char *ctype = call->content_type ? xasprintf("Content-Type: %s", call->content_type) : NULL;
    const char *headers[] = {C->auth_header, "Accept: application/json", ctype, NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.method = call->method;
    req.url = url;
    req.headers = headers;
    req.body = call->body ? call->body->data : NULL;
    req.body_len = call->body ? call->body->len : 0;
    req.timeout_ms = C->timeout_ms;
    req.max_response = LEAP_MAX_RESPONSE;
    req.cancel = C->cancel;
    req.max_retries = is_write ? 0 : C->retries;
    req.retry_base_ms = C->retry_base_ms;
    struct http_response resp;
    http_response_init(&resp);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        rc = leap_budget(C, err, errlen);
        /* A write goes over a fresh connection: on a reused one, libcurl silently
         * resends a request whose connection died before any answer, and a
         * create that Leap did but never answered would be made twice. */
        if (rc == 0)
            rc = http_client_request(is_write ? NULL : C->http, &req, &resp, err, errlen);
        if (!(is_write && rc == ERR_HTTP && resp.status == 429 &&
              attempt + 1 < LEAP_WRITE_429_TRIES))
            break;
        /* Leap did not do it; wait for a fresh token (the bucket was wrong about the budget). */
        C->bucket.tokens = 0;
        log_warn("crm", "leap: %s %s answered 429; waiting for the budget", call->method,
                 call->what);
    }
    call->status = resp.status;
    if (rc == ERR_HTTP) {
        rc = leap_status_error(resp.status, buf_str(&resp.body), call->what, err, errlen);
    } else if (rc == 0) {
        json_error_t jerr;
        call->root = json_loads(buf_str(&resp.body), 0, &jerr);
        if (!json_is_object(call->root)) {
            json_decref(call->root);
            call->root = NULL;
            crm_set_err(err, errlen, "crm (leap): Leap's answer for %s is not a JSON object",
                        call->what);
            rc = ERR_PARSE;
        }
    } else if (err && errlen && strncmp(err, "crm", 3) != 0) {
        char inner[512];
        snprintf(inner, sizeof inner, "%s", err);
        crm_set_err(err, errlen, "crm (leap): %s: %s", call->what, inner);
    }
    http_response_free(&resp);
    free(ctype);
    free(url);
    return rc;
}

static int leap_get(struct crm_leap *C, const char *path, const char *what, json_t **root,
                    char *err, size_t errlen)
{
    struct leap_call call = {.method = "GET", .path = path, .what = what};
    int rc = leap_request(C, &call, err, errlen);
    *root = call.root;
    return rc;
}

/* "path?query" as a new string from a query buffer (may be empty). */
static char *with_query(const char *path, const struct buf *query)
{
    return query->len ? xasprintf("%s?%s", path, buf_str(query)) : xstrdup(path);
}

/* ---- reference data: stages and trades --------------------------------------------- */

static int leap_reference(struct crm_leap *C, json_t **cache, const char *path, const char *what,
                          char *err, size_t errlen)
{
    if (*cache)
        return 0;
    json_t *root = NULL;
    int rc = leap_get(C, path, what, &root, err, errlen);
    json_t *data = rc == 0 ? json_object_get(root, "data") : NULL;
    if (rc == 0 && !json_is_array(data)) {
        crm_set_err(err, errlen, "crm (leap): %s came back without a data list", what);
        rc = ERR_PARSE;
    }
    if (rc == 0)
        *cache = json_incref(data);
    json_decref(root);
    return rc;
}

/* Names of a reference list joined by ", " into out. */
static void names_of(json_t *list, char *out, size_t outlen)
{
    size_t n = 0, i;
    json_t *item;
    out[0] = '\0';
    json_array_foreach(list, i, item)
    {
        const char *name = crm_leap_str(item, "name");
        if (name && n + strlen(name) + 3 < outlen)
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", name);
    }
}

/* The code of Leap's workflow stage whose name is our stage (borrowed). */
static int leap_stage_code(struct crm_leap *C, enum crm_stage stage, const char **code, char *err,
                           size_t errlen)
{
    int rc = leap_reference(C, &C->stages, "/workflow/stages", "the workflow stages", err, errlen);
    if (rc)
        return rc;
    size_t i;
    json_t *item;
    json_array_foreach(C->stages, i, item)
    {
        enum crm_stage s;
        const char *name = crm_leap_str(item, "name");
        if (name && crm_stage_parse(name, &s) == 0 && s == stage) {
            json_t *c = json_object_get(item, "code");
            *code = json_string_value(c);
            if (*code)
                return 0;
        }
    }
    char names[512];
    names_of(C->stages, names, sizeof names);
    crm_set_err(err, errlen,
                "crm (leap): Leap's workflow has no stage named \"%s\" (its stages: "
                "%s)",
                crm_stage_label(stage), names);
    return ERR_NOT_FOUND;
}

static int leap_trade_id(struct crm_leap *C, enum crm_trade trade, int64_t *id, char *err,
                         size_t errlen)
{
    int rc = leap_reference(C, &C->trades, "/company/trades", "the company's trades", err, errlen);
    if (rc)
        return rc;
    size_t i;
    json_t *item;
    json_array_foreach(C->trades, i, item)
    {
        enum crm_trade t;
        const char *name = crm_leap_str(item, "name");
        if (name && crm_trade_parse(name, &t) == 0 && t == trade &&
            (*id = crm_leap_int(item, "id")) > 0)
            return 0;
    }
    char names[512];
    names_of(C->trades, names, sizeof names);
    crm_set_err(err, errlen,
                "crm (leap): the company's trades in Leap have none named \"%s\" "
                "(they are: %s)",
                crm_trade_label(trade), names);
    return ERR_CONFIG;
}

/* ---- reads ------------------------------------------------------------------------- */

static bool number_query(const char *q)
{
    int digits = 0;
    for (; *q; q++) {
        if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
            return false;
        digits += *q >= '0' && *q <= '9';
    }
    return digits >= 4;
}

static int leap_search(struct crm *crm, const char *query, size_t limit, struct crm_hits *out,
                       char *err, size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    if (number_query(query)) {
        crm_set_err(err, errlen,
                    "crm (leap): Leap's customer search matches names and email addresses only, "
                    "so \"%s\" (a phone number, ZIP or house number) cannot be searched there; "
                    "search by name or email",
                    query);
        return CRM_ERR_UNSUPPORTED;
    }
    struct buf q;
    buf_init(&q, LEAP_MAX_BODY);
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", C->page_size);
    crm_form_add(&q, "query", query);
    crm_form_add(&q, "limit", limit_text);
    crm_form_add(&q, "page", "1");
    char *path = with_query("/customers", &q);
    json_t *root = NULL;
    int rc = leap_get(C, path, "the customer search", &root, err, errlen);
    json_t *data = json_object_get(root, "data"), *item;
    size_t i;
    if (rc == 0 && json_array_size(data))
        out->items = xcalloc(json_array_size(data), sizeof out->items[0]);
    json_array_foreach(data, i, item)
    {
        struct crm_hit *h = &out->items[out->count++];
        crm_leap_customer(item, &h->customer);
        h->score = crm_match(&h->customer, query, &h->matched);
        if (h->score == 0) { /* Leap matched it by something we do not score */
            h->score = 1;
            h->matched = "leap";
        }
    }
    crm_hits_rank(out, limit);
    json_decref(root);
    free(path);
    buf_free(&q);
    return rc;
}

/* Jobs of a list (borrowed JSON array) appended to a new array. */
static void jobs_from(json_t *list, struct crm_job **items, size_t *count)
{
    size_t i;
    json_t *item;
    size_t n = json_array_size(list);
    *items = xcalloc(n ? n : 1, sizeof **items);
    json_array_foreach(list, i, item)
    {
        crm_leap_job(item, &(*items)[(*count)++]);
    }
}

static int leap_customer_get(struct crm *crm, int64_t id, struct crm_customer *out, char *err,
                             size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    char path[96], what[64];
    snprintf(path, sizeof path, "/customers/%lld?includes%%5B%%5D=jobs", (long long)id);
    snprintf(what, sizeof what, "customer %lld", (long long)id);
    json_t *root = NULL;
    int rc = leap_get(C, path, what, &root, err, errlen);
    json_t *data = rc == 0 ? crm_leap_unwrap(json_object_get(root, "data")) : NULL;
    if (rc == 0 && !json_is_object(data)) {
        crm_set_err(err, errlen, "crm (leap): the answer for %s holds no customer", what);
        rc = ERR_PARSE;
    }
    if (rc == 0) {
        crm_leap_customer(data, out);
        jobs_from(crm_leap_unwrap(json_object_get(data, "jobs")), &out->jobs, &out->job_count);
        for (size_t i = 0; i < out->job_count; i++) {
            struct crm_job *j = &out->jobs[i];
            if (!j->customer_name)
                j->customer_name = crm_full_name(out->first_name, out->last_name);
            if (!j->street && !j->city) {
                free(j->state);
                free(j->zip);
                j->street = xstrdup(out->street);
                j->city = xstrdup(out->city);
                j->state = xstrdup(out->state);
                j->zip = xstrdup(out->zip);
            }
            if (!j->customer_id)
                j->customer_id = out->id;
        }
    }
    json_decref(root);
    return rc;
}

static int leap_job_notes(struct crm_leap *C, struct crm_job *job, char *err, size_t errlen)
{
    char path[96], what[64];
    snprintf(path, sizeof path, "/jobs/%lld/notes?limit=%d", (long long)job->id, LEAP_MAX_PAGE);
    snprintf(what, sizeof what, "the notes of job %lld", (long long)job->id);
    json_t *root = NULL;
    int rc = leap_get(C, path, what, &root, err, errlen);
    json_t *data = crm_leap_unwrap(json_object_get(root, "data")), *item;
    size_t i;
    if (rc == 0 && json_array_size(data))
        job->notes = xcalloc(json_array_size(data), sizeof job->notes[0]);
    json_array_foreach(data, i, item)
    {
        struct crm_note *n = &job->notes[job->note_count++];
        n->id = crm_leap_int(item, "id");
        n->text = xstrdup(crm_leap_str(item, "note"));
        json_t *by = crm_leap_unwrap(json_object_get(item, "created_by"));
        const char *full = json_is_object(by) ? crm_leap_str(by, "full_name") : NULL;
        n->author = xstrdup(full);
        const char *at = crm_leap_str(item, "created_at");
        n->created_at = at && strlen(at) == 19 && at[10] == ' '
                            ? xasprintf("%.10sT%.8sZ", at, at + 11)
                            : xstrdup(at);
    }
    json_decref(root);
    return rc;
}

/* The job's appointment: the latest start among its appointments. */
static int leap_job_appointment(struct crm_leap *C, struct crm_job *job, char *err, size_t errlen)
{
    char path[128], what[64];
    snprintf(path, sizeof path, "/appointments?job_ids%%5B%%5D=%lld&limit=%d", (long long)job->id,
             LEAP_MAX_PAGE);
    snprintf(what, sizeof what, "the appointments of job %lld", (long long)job->id);
    json_t *root = NULL;
    int rc = leap_get(C, path, what, &root, err, errlen);
    const char *latest = NULL;
    json_t *item;
    size_t i;
    json_array_foreach(json_object_get(root, "data"), i, item)
    {
        const char *start = crm_leap_str(item, "start_date_time");
        if (start && (!latest || strcmp(start, latest) > 0))
            latest = start;
    }
    job->appointment = crm_leap_time(latest);
    json_decref(root);
    return rc;
}

#define JOB_INCLUDES                                                                               \
    "includes%5B%5D=customer&includes%5B%5D=address&includes%5B%5D=reps&includes%5B%5D=trades"

static int leap_job_get(struct crm *crm, int64_t id, struct crm_job *out, char *err, size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    char path[192], what[64];
    snprintf(path, sizeof path, "/jobs/%lld?%s", (long long)id, JOB_INCLUDES);
    snprintf(what, sizeof what, "job %lld", (long long)id);
    json_t *root = NULL;
    int rc = leap_get(C, path, what, &root, err, errlen);
    json_t *data = rc == 0 ? crm_leap_unwrap(json_object_get(root, "data")) : NULL;
    if (rc == 0 && !json_is_object(data)) {
        crm_set_err(err, errlen, "crm (leap): the answer for %s holds no job", what);
        rc = ERR_PARSE;
    }
    if (rc == 0)
        crm_leap_job(data, out);
    json_decref(root);
    if (rc == 0)
        rc = leap_job_notes(C, out, err, errlen);
    if (rc == 0)
        rc = leap_job_appointment(C, out, err, errlen);
    return rc;
}

static int cmp_pipeline(const void *pa, const void *pb)
{
    const struct crm_job *a = pa, *b = pb;
    int sa = a->stage < 0 ? CRM_STAGE_COUNT : a->stage,
        sb = b->stage < 0 ? CRM_STAGE_COUNT : b->stage;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* One page of GET /jobs appended to out; *pages gets total_pages. */
static int leap_jobs_page(struct crm_leap *C, const char *code, int page, size_t limit,
                          struct crm_jobs *out, int *pages, char *err, size_t errlen)
{
    struct buf q;
    buf_init(&q, LEAP_MAX_BODY);
    char num[24];
    snprintf(num, sizeof num, "%d", C->page_size);
    crm_form_add(&q, "limit", num);
    snprintf(num, sizeof num, "%d", page);
    crm_form_add(&q, "page", num);
    crm_form_add(&q, "sort_by", "id");
    crm_form_add(&q, "sort_order", "asc");
    if (code)
        crm_form_add(&q, "stages[]", code);
    buf_printf(&q, "&%s", JOB_INCLUDES);
    char *path = with_query("/jobs", &q);
    json_t *root = NULL;
    int rc = leap_get(C, path, "the job list", &root, err, errlen);
    json_t *list = json_object_get(root, "data"), *item;
    json_t *pagination = json_object_get(json_object_get(root, "meta"), "pagination");
    *pages = (int)crm_leap_int(pagination, "total_pages");
    out->total = (size_t)crm_leap_int(pagination, "total");
    size_t i;
    json_array_foreach(list, i, item)
    {
        if (out->count == limit)
            break;
        out->items = xrealloc(out->items, (out->count + 1) * sizeof out->items[0]);
        memset(&out->items[out->count], 0, sizeof out->items[0]);
        crm_leap_job(item, &out->items[out->count++]);
    }
    if (rc == 0 && !json_is_array(list)) {
        crm_set_err(err, errlen, "crm (leap): the job list came back without a data list");
        rc = ERR_PARSE;
    }
    json_decref(root);
    free(path);
    buf_free(&q);
    return rc;
}

static int leap_jobs_list(struct crm *crm, enum crm_stage stage, size_t limit, struct crm_jobs *out,
                          char *err, size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    const char *code = NULL;
    int rc = stage == CRM_STAGE_ANY ? 0 : leap_stage_code(C, stage, &code, err, errlen);
    int pages = 1;
    for (int page = 1; rc == 0 && page <= pages && out->count < limit; page++) {
        if (page > LEAP_MAX_PAGES) {
            log_warn("crm", "leap: job list cut at %d pages", LEAP_MAX_PAGES);
            break;
        }
        rc = leap_jobs_page(C, code, page, limit, out, &pages, err, errlen);
    }
    if (out->total < out->count)
        out->total = out->count;
    if (rc == 0 && out->count > 1)
        qsort(out->items, out->count, sizeof out->items[0], cmp_pipeline);
    return rc;
}

/* ---- writes ------------------------------------------------------------------------ */

static const struct leap_key *key_find(const struct crm_leap *C, const char *key)
{
    for (size_t i = 0; key && i < C->n_keys; i++)
        if (strcmp(C->keys[i].key, key) == 0)
            return &C->keys[i];
    return NULL;
}

static void key_remember(struct crm_leap *C, const char *key, const struct crm_created *ids)
{
    if (!key)
        return;
    if (C->n_keys == LEAP_MAX_KEYS) { /* forget the oldest */
        free(C->keys[0].key);
        memmove(&C->keys[0], &C->keys[1], (LEAP_MAX_KEYS - 1) * sizeof C->keys[0]);
        C->n_keys--;
    }
    C->keys[C->n_keys].key = xstrdup(key);
    C->keys[C->n_keys].ids = *ids;
    C->n_keys++;
}

/* The newest job id of customer id (0 when it has none). */
static int leap_newest_job(struct crm_leap *C, int64_t id, int64_t *job_id, char *err,
                           size_t errlen)
{
    struct crm_customer c;
    memset(&c, 0, sizeof c);
    int rc = leap_customer_get(&C->base, id, &c, err, errlen);
    *job_id = 0;
    for (size_t i = 0; rc == 0 && i < c.job_count; i++)
        if (c.jobs[i].id > *job_id)
            *job_id = c.jobs[i].id;
    crm_customer_free(&c);
    return rc;
}

/* Looks for a customer with the client's name and phone: the trace of an
 * earlier create. 0 with out->customer_id set when found (0 when not). */
static int leap_find_existing(struct crm_leap *C, const struct crm_new_client *in,
                              struct crm_created *out, char *err, size_t errlen)
{
    char *name = crm_full_name(in->first_name, in->last_name);
    struct crm_hits hits;
    memset(&hits, 0, sizeof hits);
    int rc = leap_search(&C->base, name, CRM_SEARCH_MAX_LIMIT, &hits, err, errlen);
    out->customer_id = 0;
    for (size_t i = 0; rc == 0 && i < hits.count; i++) {
        const struct crm_customer *c = &hits.items[i].customer;
        if (c->first_name && c->last_name && c->phone &&
            strcasecmp(c->first_name, in->first_name) == 0 &&
            strcasecmp(c->last_name, in->last_name) == 0 && strcmp(c->phone, in->phone) == 0) {
            out->customer_id = c->id;
            break;
        }
    }
    crm_hits_free(&hits);
    free(name);
    if (rc == 0 && out->customer_id)
        rc = leap_newest_job(C, out->customer_id, &out->job_id, err, errlen);
    return rc;
}

/* The job description: the client's, plus what the prospect endpoint has no field for. */
static char *prospect_description(const struct crm_new_client *in)
{
    struct buf b;
    buf_init(&b, 0);
    if (in->description)
        buf_append_str(&b, in->description);
    else
        buf_printf(&b, "%s estimate", crm_trade_label(in->trade));
    if (in->lead_source)
        buf_printf(&b, "\nLead source: %s", in->lead_source);
    if (in->appointment)
        buf_printf(&b, "\nAppointment requested: %s", in->appointment);
    if (in->rep)
        buf_printf(&b, "\nAssigned rep: %s", in->rep);
    if (in->notes)
        buf_printf(&b, "\nNotes: %s", in->notes);
    if (in->author)
        buf_printf(&b, "\n(entered by %s via Hard-E)", in->author);
    return buf_steal(&b);
}

static int prospect_form(struct crm_leap *C, const struct crm_new_client *in, struct buf *form,
                         char *err, size_t errlen)
{
    int64_t trade_id = 0;
    int rc = leap_trade_id(C, in->trade, &trade_id, err, errlen);
    if (rc)
        return rc;
    char trade_text[24];
    snprintf(trade_text, sizeof trade_text, "%lld", (long long)trade_id);
    char *description = prospect_description(in);
    const struct {
        const char *key, *value;
    } fields[] = {
        {"first_name", in->first_name},
        {"last_name", in->last_name},
        {"email", in->email},
        {"phones[0][number]", in->phone + 2}, /* 10 digits: Leap takes 8-12, no '+' */
        {"phones[0][label]", "cell"},
        {"address[address]", in->street},
        {"address[city]", in->city},
        {"address[state]", in->state},
        {"address[zip]", in->zip},
        {"job[description]", description},
        {"job[trades][]", trade_text},
        {"job[same_as_customer_address]", "1"},
    };
    for (size_t i = 0; rc == 0 && i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value)
            rc = crm_form_add(form, fields[i].key, fields[i].value);
    free(description);
    if (rc)
        crm_set_err(err, errlen, "crm (leap): the new client is over %u bytes", LEAP_MAX_BODY);
    return rc;
}

/* The ids in POST /prospects's answer: the customer, and its job when the
 * answer carries one (else looked up). */
static int prospect_ids(struct crm_leap *C, json_t *root, struct crm_created *out, char *err,
                        size_t errlen)
{
    json_t *data = crm_leap_unwrap(json_object_get(root, "data"));
    out->customer_id = crm_leap_int(data, "id");
    if (!out->customer_id)
        out->customer_id = crm_leap_int(root, "id");
    if (!out->customer_id) {
        crm_set_err(err, errlen,
                    "crm (leap): Leap created the client but its answer holds no "
                    "customer id; search for the client before trying again");
        return ERR_PARSE;
    }
    json_t *jobs = crm_leap_unwrap(json_object_get(data, "jobs"));
    json_t *job = crm_leap_unwrap(json_object_get(data, "job"));
    out->job_id = crm_leap_int(json_array_get(jobs, 0), "id");
    if (!out->job_id && json_is_object(job))
        out->job_id = crm_leap_int(job, "id");
    if (!out->job_id)
        return leap_newest_job(C, out->customer_id, &out->job_id, err, errlen);
    return 0;
}

/* After a create whose answer was lost: did it happen? */
static int leap_settle_lost(struct crm_leap *C, const struct crm_new_client *in,
                            struct crm_created *out, int rc, char *err, size_t errlen)
{
    char first[512];
    snprintf(first, sizeof first, "%s", err ? err : "");
    char check_err[256];
    if (leap_find_existing(C, in, out, check_err, sizeof check_err) == 0 && out->customer_id) {
        log_warn("crm", "leap: the create's answer was lost but the customer exists (%lld)",
                 (long long)out->customer_id);
        if (err && errlen)
            err[0] = '\0';
        return 0;
    }
    crm_set_err(err, errlen,
                "%s; no customer %s %s with that phone exists in Leap now, so "
                "nothing was created and it is safe to try again",
                first, in->first_name, in->last_name);
    return rc;
}

static int leap_client_create(struct crm *crm, const struct crm_new_client *in,
                              struct crm_created *out, char *err, size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    const struct leap_key *known = key_find(C, in->idempotency_key);
    if (known) {
        *out = known->ids;
        out->replayed = true;
        return 0;
    }
    int rc = 0;
    if (in->idempotency_key) { /* a retry after a crash: find the first create */
        rc = leap_find_existing(C, in, out, err, errlen);
        if (rc == 0 && out->customer_id) {
            out->replayed = true;
            key_remember(C, in->idempotency_key, out);
            return 0;
        }
    }
    struct buf form;
    buf_init(&form, LEAP_MAX_BODY);
    if (rc == 0)
        rc = prospect_form(C, in, &form, err, errlen);
    struct leap_call call = {.method = "POST",
                             .path = "/prospects",
                             .content_type = "application/x-www-form-urlencoded",
                             .body = &form,
                             .what = "the new client"};
    if (rc == 0) {
        rc = leap_request(C, &call, err, errlen);
        bool lost = rc == ERR_NETWORK || rc == ERR_TIMEOUT || (rc && call.status >= 500);
        if (rc == 0)
            rc = prospect_ids(C, call.root, out, err, errlen);
        else if (lost && in->idempotency_key)
            rc = leap_settle_lost(C, in, out, rc, err, errlen);
    }
    if (rc == 0) {
        key_remember(C, in->idempotency_key, out);
        log_info("crm", "leap: created customer %lld, job %lld", (long long)out->customer_id,
                 (long long)out->job_id);
    }
    json_decref(call.root);
    buf_free(&form);
    return rc;
}

static int leap_note_add(struct crm *crm, int64_t job_id, const char *author, const char *text,
                         int64_t *note_id, char *err, size_t errlen)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    char path[64], what[64];
    snprintf(path, sizeof path, "/jobs/%lld/notes", (long long)job_id);
    snprintf(what, sizeof what, "job %lld", (long long)job_id);
    /* Leap attributes a note to the token's user; the author rides in the text. */
    char *note = author ? xasprintf("%s\n— %s (via Hard-E)", text, author) : xstrdup(text);
    struct buf body;
    buf_init(&body, LEAP_MAX_BODY);
    char *ctype = NULL;
    int rc = crm_multipart_one(&body, "note", note, &ctype);
    if (rc)
        crm_set_err(err, errlen, "crm (leap): the note is over %u bytes", LEAP_MAX_BODY);
    struct leap_call call = {
        .method = "POST", .path = path, .content_type = ctype, .body = &body, .what = what};
    if (rc == 0)
        rc = leap_request(C, &call, err, errlen);
    if (rc == 0)
        *note_id = crm_leap_int(crm_leap_unwrap(json_object_get(call.root, "data")), "id");
    json_decref(call.root);
    free(ctype);
    buf_free(&body);
    free(note);
    return rc;
}

static int leap_stage_move(struct crm *crm, int64_t job_id, enum crm_stage to, const char *by,
                           const char *reason, char *err, size_t errlen)
{
    crm_set_err(err, errlen,
                "crm (leap): Leap's public API has no documented way to move a job to another "
                "stage, so Hard-E cannot move job %lld to %s; move it in the Leap web app "
                "(nothing was changed)",
                (long long)job_id, crm_stage_label(to));
    return CRM_ERR_UNSUPPORTED;
}

/* ---- the handle ------------------------------------------------------------------- */

static void leap_close(struct crm *crm)
{
    struct crm_leap *C = (struct crm_leap *)crm;
    http_client_free(C->http);
    free(C->base_url);
    free(C->auth_header);
    json_decref(C->stages);
    json_decref(C->trades);
    for (size_t i = 0; i < C->n_keys; i++)
        free(C->keys[i].key);
    free(C);
}

static const struct crm_backend leap_backend = {
    .name = "leap",
    .search = leap_search,
    .customer_get = leap_customer_get,
    .job_get = leap_job_get,
    .client_create = leap_client_create,
    .note_add = leap_note_add,
    .jobs_list = leap_jobs_list,
    .stage_move = leap_stage_move,
    .close = leap_close,
};

static int leap_check_options(const struct crm_options *o, char *err, size_t errlen)
{
    const char *url = o->leap_base_url ? o->leap_base_url : CRM_LEAP_DEFAULT_BASE_URL;
    if (crm_blank(o->leap_token) || strpbrk(o->leap_token, "\r\n")) {
        crm_set_err(err, errlen, "crm: the Leap CRM needs an API token (LEAP_API_TOKEN)");
        return ERR_CONFIG;
    }
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        crm_set_err(err, errlen, "crm: the Leap base URL must start with https:// (got \"%s\")",
                    url);
        return ERR_CONFIG;
    }
    double per_minute = o->leap_per_minute > 0 ? o->leap_per_minute : LEAP_DEFAULT_PER_MINUTE;
    int burst = o->leap_burst > 0 ? o->leap_burst : LEAP_DEFAULT_BURST;
    if (burst >= per_minute) {
        crm_set_err(err, errlen,
                    "crm: the Leap burst (%d) must be below the per-minute budget "
                    "(%.0f)",
                    burst, per_minute);
        return ERR_CONFIG;
    }
    if (o->leap_page_size < 0 || o->leap_page_size > LEAP_MAX_PAGE) {
        crm_set_err(err, errlen, "crm: the Leap page size must be 1..%d", LEAP_MAX_PAGE);
        return ERR_CONFIG;
    }
    return 0;
}

struct crm *crm_leap_open(const struct crm_options *o, char *err, size_t errlen)
{
    if (leap_check_options(o, err, errlen) != 0)
        return NULL;
    struct crm_leap *C = xcalloc(1, sizeof *C);
    C->base.backend = &leap_backend;
    const char *url = o->leap_base_url ? o->leap_base_url : CRM_LEAP_DEFAULT_BASE_URL;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    C->base_url = xstrndup(url, n);
    log_add_secret(o->leap_token);
    C->auth_header = xasprintf("Authorization: Bearer %s", o->leap_token);
    C->per_minute = o->leap_per_minute > 0 ? o->leap_per_minute : LEAP_DEFAULT_PER_MINUTE;
    int burst = o->leap_burst > 0 ? o->leap_burst : LEAP_DEFAULT_BURST;
    crm_bucket_init(&C->bucket, burst, C->per_minute - burst, clock_now_ns());
    C->max_wait_ms = o->leap_max_wait_ms > 0 ? o->leap_max_wait_ms : LEAP_DEFAULT_MAX_WAIT;
    C->timeout_ms = o->leap_timeout_ms > 0 ? o->leap_timeout_ms : LEAP_DEFAULT_TIMEOUT;
    C->page_size = o->leap_page_size > 0 ? o->leap_page_size : LEAP_MAX_PAGE;
    C->retries = o->leap_retries == 0 ? -1 : o->leap_retries < 0 ? 0 : o->leap_retries;
    C->retry_base_ms = o->leap_retry_base_ms;
    C->cancel = o->cancel;
    C->http = http_client_new();
    return &C->base;
}
