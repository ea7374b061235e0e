/* server — `harde serve`: the route table, authentication, the worker pools
 * and the life cycle of a web_server. See web.h.
 *
 * Threading design. Three kinds of threads, and what each may touch:
 *
 *  - HTTP threads (net/http_server's event loops, [web] http_threads) parse
 *    requests and run only what costs microseconds and touches no database:
 *    the embedded page, /healthz and /metrics. Every other route is
 *    deferred (http_req_defer: the connection waits, suspended, holding no
 *    thread) and queued to the API pool.
 *  - API workers ([web] api_workers, default 4, queue api_queue) authenticate
 *    and run the API handlers: login (Argon2, at most WEB_PASSWORD_SLOTS at
 *    once: each takes 64 MiB), sessions, users, quotes, CRM search, readyz,
 *    delivered files. Each has its own harde_app opened with its own store
 *    connection. A chat message is checked here (who may write the session,
 *    no other turn running on it), the session loaded, and the request handed
 *    to the turn pool.
 *  - Turn workers ([web] workers, default 32: that many turns run at once;
 *    queue [web] queue, full → 503 with Retry-After) run harde_turn_run and
 *    stream its events as SSE. Each has its own harde_app, opened with the
 *    price book only; the parts that are thread-safe or immutable are
 *    borrowed from the main app instead of opened again: the model backend
 *    (the OpenAI and local backends are thread-safe) and the intent
 *    classifier (read-only). app->crm is the CRM proxy (crm_pool.h) shared by
 *    every worker, which lends one of a few real CRM handles per call; the
 *    playbook index is one of WEB_KB_HANDLES serialized kb connections, also
 *    shared (worker i gets handle i mod n; a worker opens its own on first
 *    use only when the index could not be opened at start). A finished
 *    turn's session is saved through a connection borrowed from a small
 *    store pool. So a turn worker costs a thread and a few tens of KiB, and
 *    hundreds of turns can wait on their models at once.
 *
 * Worker threads get WEB_WORKER_STACK (512 KiB) of stack, not the 8 MiB
 * default: the deepest turn measured (bench_chat at 1,000 streams, agent and
 * fast flows: the largest resident part of any worker's stack) touches 36 KiB,
 * so the margin is more than tenfold. Only touched pages count towards RSS,
 * so this bounds address space (and huge-page risk), not the ~32 KiB a
 * running worker really uses.
 *
 * Every worker app is opened here, on the controlling thread, before the
 * server starts (opening an app may reopen the log file, which must not
 * happen while other threads log); threads start lazily as work arrives.
 * Worker apps are closed after the pools are joined, with the borrowed
 * fields set back to NULL first so that only the main app frees them.
 *
 * Cancellation: a deferred request and an SSE stream each have a cancel flag
 * that net/http_server sets when the client hangs up or the server stops; a
 * turn runs with that flag as its cancel flag, so a closed tab aborts the
 * model call. Stopping stops the HTTP server first (streams end, flags are
 * set), then the pools (queued work is answered 503, running work finishes). */
#define _POSIX_C_SOURCE 200809L
#include "web/web_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "harde/quote.h"
#include "kb/kb.h"
#include "services/delivery/delivery.h"
#include "web/assets.h"
#include "web/crm_pool.h"

struct web_binding {
    struct web_server *ws;
    const struct web_route *route;
};

/* Every API route: authenticated on an API worker unless WEB_PUBLIC. */
static const struct web_route API_ROUTES[] = {
    {"POST", "/v1/login", api_login, WEB_PUBLIC},
    {"POST", "/v1/logout", api_logout, 0},
    {"GET", "/v1/me", api_me, 0},
    {"GET", "/v1/sessions", api_sessions_list, 0},
    {"POST", "/v1/sessions", api_sessions_create, 0},
    {"GET", "/v1/sessions/{id}", api_session_get, 0},
    {"POST", "/v1/sessions/{id}/messages", api_session_message, 0},
    {"POST", "/v1/quote", api_quote, 0},
    {"GET", "/v1/crm/search", api_crm_search, 0},
    {"GET", "/v1/users", api_users_list, WEB_ADMIN},
    {"POST", "/v1/users", api_users_create, WEB_ADMIN},
    {"DELETE", "/v1/users/{name}", api_users_delete, WEB_ADMIN},
    /* primer-video workflow runs (issue 6): web/api_runs.c */
    {"GET", "/v1/runs", api_runs_list, 0},
    {"POST", "/v1/runs", api_runs_start, 0},
    {"GET", "/v1/runs/{id}", api_run_get, 0},
    {"POST", "/v1/runs/{id}/cancel", api_run_cancel, 0},
    {"POST", "/v1/runs/{id}/retry", api_run_retry, 0},
    {"POST", "/v1/webhooks/crm", api_webhook_crm, WEB_PUBLIC},
    {"GET", "/readyz", api_readyz, WEB_PUBLIC},
    {"GET", "/d/{token}/{name}", api_delivery, WEB_PUBLIC},
};
#define N_API_ROUTES (sizeof API_ROUTES / sizeof API_ROUTES[0])

/* ---- reply helpers ----------------------------------------------------------- */

void web_common_headers(struct http_req *req)
{
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "Referrer-Policy", "no-referrer");
}

char *web_json_text(const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | QUOTE_JSON_FLAGS);
    return text ? text : xstrdup("null");
}

int web_reply_json(struct http_req *req, int status, json_t *body)
{
    char *text = body ? web_json_text(body) : xstrdup("{}");
    json_decref(body);
    web_common_headers(req);
    int rc = http_reply_bytes(req, status, "application/json", text, strlen(text), "no-store");
    free(text);
    return rc;
}

int web_reply_error(struct http_req *req, int status, const char *code, json_t *details,
                    const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *err =
        json_pack("{s:s, s:s}", "code", code ? code : http_error_code(status), "message", message);
    if (!err) /* a message that is not UTF-8 */
        err = json_pack("{s:s, s:s}", "code", code ? code : http_error_code(status), "message",
                        "(unprintable message)");
    if (details)
        json_object_set_new(err, "details", details);
    return web_reply_json(req, status, json_pack("{s:o}", "error", err));
}

int web_reply_retry(struct http_req *req, int status, int seconds, const char *message)
{
    char value[16];
    snprintf(value, sizeof value, "%d", seconds);
    http_reply_header(req, "Retry-After", value);
    return web_reply_error(req, status, NULL, NULL, "%s", message);
}

int web_body_object(struct http_req *req, bool empty_ok, json_t **out)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    *out = NULL;
    if (len == 0 && empty_ok) {
        *out = json_object();
        return 0;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        web_reply_error(req, 400, "bad_request", NULL, "malformed JSON at line %d, column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return ERR_PARSE;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        web_reply_error(req, 400, "bad_request", NULL, "the body must be a JSON object");
        return ERR_PARSE;
    }
    *out = v;
    return 0;
}

const char *web_client_addr(const struct web_server *ws, struct http_req *req)
{
    const char *peer = http_req_client_addr(req);
    if (!ws->set.trust_proxy || !peer)
        return peer ? peer : "?";
    if (strcmp(peer, "127.0.0.1") != 0 && strcmp(peer, "::1") != 0)
        return peer;
    const char *real = http_req_header(req, "X-Real-IP");
    return real && *real && strlen(real) < 64 ? real : peer;
}

json_t *web_user_json(const char *name, enum store_role role, const char *team)
{
    return json_pack("{s:s, s:s, s:s}", "name", name, "role", store_role_name(role), "team",
                     team ? team : "");
}

bool web_busy_enter(struct web_server *ws, const char *id)
{
    bool created = false;
    pthread_mutex_lock(&ws->busy_lock);
    if (!web_table_get(ws->busy, id))
        web_table_put(ws->busy, id, &created);
    pthread_mutex_unlock(&ws->busy_lock);
    return created;
}

void web_busy_leave(struct web_server *ws, const char *id)
{
    pthread_mutex_lock(&ws->busy_lock);
    web_table_remove(ws->busy, id);
    pthread_mutex_unlock(&ws->busy_lock);
}

/* ---- authentication (on an API worker) ------------------------------------------ */

static int unauthorized(struct web_call *call, const char *message)
{
    http_reply_header(call->req, "WWW-Authenticate", "Bearer realm=\"harde\"");
    web_reply_error(call->req, 401, NULL, NULL, "%s", message);
    return ERR_AUTH;
}

/* Finds the user name behind a bearer token or the login cookie into who. */
static int identify(struct web_call *call)
{
    struct web_server *ws = call->ws;
    struct http_req *req = call->req;
    struct web_principal *who = &call->who;
    const char *authz = http_req_header(req, "Authorization");
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *token = authz + 7;
        while (*token == ' ')
            token++;
        char digest[WEB_DIGEST_HEX + 1];
        web_digest_hex(token, digest);
        struct store_token t;
        int rc = store_token_lookup(call->worker->app.store, digest, &t);
        if (rc == ERR_NOT_FOUND) {
            int wait = limiter_take(ws->login_addrs, web_client_addr(ws, req), clock_now_ns());
            if (wait) {
                web_reply_retry(req, 429, wait, "too many bad credentials from your address");
                return ERR_RATE_LIMIT;
            }
            return unauthorized(call, "unknown or revoked bearer token");
        }
        if (rc != 0) {
            web_reply_error(req, 500, NULL, NULL, "the store: %s",
                            store_error(call->worker->app.store));
            return rc;
        }
        snprintf(who->name, sizeof who->name, "%s", t.user);
        store_token_free(&t);
        return 0;
    }
    const char *cookie = http_req_cookie(req, WEB_COOKIE);
    if (cookie && *cookie) {
        struct login_info li;
        if (logins_lookup(ws->logins, cookie, clock_wall_ms(), &li) != 0)
            return unauthorized(call, "your sign-in has expired; please sign in again");
        snprintf(who->name, sizeof who->name, "%s", li.user);
        snprintf(who->csrf, sizeof who->csrf, "%s", li.csrf);
        snprintf(who->token, sizeof who->token, "%s", cookie);
        who->cookie = true;
        return 0;
    }
    return unauthorized(call,
                        "sign in first (POST /v1/login), or send Authorization: Bearer TOKEN");
}

static bool changes_state(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* Authenticates and authorises call for its route; answers and returns
 * non-zero when it may not go on. */
static int authorize(struct web_call *call)
{
    struct web_server *ws = call->ws;
    struct http_req *req = call->req;
    if (call->route->flags & WEB_PUBLIC)
        return 0;
    int rc = identify(call);
    if (rc != 0)
        return rc;
    struct store_user u;
    rc = store_user_get(call->worker->app.store, call->who.name, &u);
    if (rc == ERR_NOT_FOUND) {
        if (call->who.cookie)
            logins_delete(ws->logins, call->who.token);
        return unauthorized(call, "this account no longer exists");
    }
    if (rc != 0) {
        web_reply_error(req, 500, NULL, NULL, "the store: %s",
                        store_error(call->worker->app.store));
        return rc;
    }
    call->who.role = u.role;
    snprintf(call->who.team, sizeof call->who.team, "%s", u.team ? u.team : "");
    store_user_free(&u);
    if (call->who.cookie && changes_state(http_req_method(req))) {
        const char *sent = http_req_header(req, "X-CSRF-Token");
        if (!sent || !web_secret_equal(sent, call->who.csrf)) {
            web_reply_error(req, 403, "forbidden", NULL,
                            "missing or wrong X-CSRF-Token header (the token comes with "
                            "POST /v1/login and GET /v1/me)");
            return ERR_AUTH;
        }
    }
    int wait = limiter_take(ws->user_rate, call->who.name, clock_now_ns());
    if (wait) {
        char message[128];
        snprintf(message, sizeof message, "too many requests: at most %ld a minute per user",
                 ws->set.rate_per_minute);
        web_reply_retry(req, 429, wait, message);
        return ERR_RATE_LIMIT;
    }
    if ((call->route->flags & WEB_ADMIN) && call->who.role != STORE_ROLE_ADMIN) {
        web_reply_error(req, 403, "forbidden", NULL, "only an admin may do this");
        return ERR_AUTH;
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------- */

static void defer_call(void *job)
{
    struct web_call *call = job;
    http_req_defer(call->req, NULL, NULL);
}

/* HTTP thread: hands an API request to the API pool. */
static void on_api(struct http_req *req, void *user)
{
    struct web_binding *b = user;
    struct web_call *call = xcalloc(1, sizeof *call);
    call->ws = b->ws;
    call->req = req;
    call->route = b->route;
    int rc = web_pool_submit(b->ws->api, call, defer_call);
    if (rc != 0) {
        free(call);
        web_reply_retry(req, 503, WEB_RETRY_AFTER_S,
                        rc == ERR_CANCELED ? "the server is stopping"
                                           : "the server is busy; try again in a few seconds");
    }
}

static void api_run(void *ctx, void *job)
{
    struct web_call *call = job;
    call->worker = ctx;
    if (authorize(call) == 0)
        call->route->fn(call);
    free(call);
}

static void api_drop(void *job)
{
    struct web_call *call = job;
    web_reply_retry(call->req, 503, WEB_RETRY_AFTER_S, "the server is stopping");
    free(call);
}

/* ---- routes answered on the HTTP threads ----------------------------------------- */

#define PAGE_CSP                                                                                   \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "               \
    "frame-ancestors 'none'; form-action 'self'"

static bool etag_matches(const char *if_none_match, const char *etag)
{
    return if_none_match && (strstr(if_none_match, etag) || strcmp(if_none_match, "*") == 0);
}

static void on_asset(struct http_req *req, void *user)
{
    const struct web_asset *a = user;
    web_common_headers(req);
    http_reply_header(req, "Content-Security-Policy", PAGE_CSP);
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "ETag", a->etag);
    if (etag_matches(http_req_header(req, "If-None-Match"), a->etag)) {
        http_reply_header(req, "Cache-Control", "no-cache");
        http_reply_empty(req, 304);
        return;
    }
    /* no-cache: the browser keeps the file and revalidates it with the ETag,
     * so a new binary's page is seen at once and an unchanged one costs a 304. */
    http_reply_bytes(req, 200, a->content_type, a->data, a->len, "no-cache");
}

static void on_healthz(struct http_req *req, void *user)
{
    (void)user;
    web_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void pool_gauge(struct web_metrics_gauges *g, const char *name, struct web_pool *pool)
{
    struct web_pool_stats s;
    web_pool_get_stats(pool, &s);
    g->pools[g->n_pools].name = name;
    g->pools[g->n_pools].threads = (long)s.threads;
    g->pools[g->n_pools].busy = (long)s.busy;
    g->pools[g->n_pools].queued = (long)s.queued;
    g->n_pools++;
}

static void on_metrics(struct http_req *req, void *user)
{
    struct web_server *ws = user;
    struct web_metrics_gauges g = {.active_streams = http_server_active_streams(ws->http)};
    pool_gauge(&g, "api", ws->api);
    pool_gauge(&g, "turn", ws->turns);
    char *text = web_metrics_render(ws->metrics, &g);
    web_common_headers(req);
    http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text),
                     "no-store");
    free(text);
}

static void on_request_done(const struct http_request_metrics *m, void *user)
{
    web_metrics_request(user, m);
}

/* ---- opening ---------------------------------------------------------------------- */

struct long_key {
    const char *key;
    long def;
    size_t offset;
};

#define SETTING(field, def)                                                                        \
    {                                                                                              \
#field, def, offsetof(struct web_settings, field)                                          \
    }

static const struct long_key LONG_KEYS[] = {
    SETTING(port, WEB_DEFAULT_PORT),
    SETTING(http_threads, 2),
    SETTING(max_body, 1 << 20),
    SETTING(timeout_s, 60),
    SETTING(keepalive_ms, 15000),
    SETTING(workers, 32),
    SETTING(queue, 256),
    SETTING(api_workers, 4),
    SETTING(api_queue, 1024),
    SETTING(crm_connections, 4),
    SETTING(store_connections, 2),
    SETTING(rate_per_minute, 600),
    SETTING(rate_burst, 120),
    SETTING(login_failures, 5),
    SETTING(login_attempts, 30),
    SETTING(login_window_minutes, 15),
    SETTING(login_idle_minutes, 480),
    SETTING(login_max_hours, 168),
    SETTING(max_logins, 10000),
    SETTING(max_download_mb, 256),
};

static int read_settings(struct web_server *ws, const struct web_options *opts, char *err,
                         size_t errlen)
{
    const struct config *cfg = ws->main.config;
    struct web_settings *set = &ws->set;
    int rc;
    for (size_t i = 0; i < sizeof LONG_KEYS / sizeof LONG_KEYS[0]; i++) {
        long *slot = (long *)((char *)set + LONG_KEYS[i].offset);
        if ((rc = config_get_long(cfg, "web", LONG_KEYS[i].key, LONG_KEYS[i].def, slot, err,
                                  errlen)) != 0)
            return rc;
        if (*slot < 0 || (*slot == 0 && strcmp(LONG_KEYS[i].key, "port") != 0)) {
            snprintf(err, errlen, "web.%s: must be a positive number, got %ld", LONG_KEYS[i].key,
                     *slot);
            return ERR_CONFIG;
        }
    }
    if ((rc = config_get_bool(cfg, "web", "secure_cookies", false, &set->secure_cookies, err,
                              errlen)) != 0 ||
        (rc = config_get_bool(cfg, "web", "trust_proxy", false, &set->trust_proxy, err, errlen)) !=
            0)
        return rc;
    set->host =
        xstrdup(opts->host ? opts->host : config_get(cfg, "web", "host", HTTP_SERVER_DEFAULT_HOST));
    if (opts->port >= 0)
        set->port = opts->port;
    if (set->port > 65535) {
        snprintf(err, errlen, "web.port: %ld is not a TCP port", set->port);
        return ERR_CONFIG;
    }
    return 0;
}

/* Creates "admin" when the store has no user at all. */
static int bootstrap_admin(struct web_server *ws, struct web_open_info *info, char *err,
                           size_t errlen)
{
    struct store *st = ws->main.store;
    struct store_user_filter f = {.limit = 1};
    struct store_user_list list;
    if (store_user_list(st, &f, &list) != 0) {
        snprintf(err, errlen, "the store: %s", store_error(st));
        return ERR_IO;
    }
    size_t users = list.count;
    store_user_list_free(&list);
    if (users)
        return 0;
    const char *env = getenv("HARDE_ADMIN_PASSWORD");
    char password[80];
    if (env && *env) {
        if (web_password_policy(env, err, errlen) != 0) {
            char why[200];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "HARDE_ADMIN_PASSWORD: %s", why);
            return ERR_CONFIG;
        }
        snprintf(password, sizeof password, "%s", env);
        info->admin_password_from_env = true;
    } else {
        char token[WEB_TOKEN_MAX];
        web_token_new(NULL, token, sizeof token);
        snprintf(password, sizeof password, "%.20s", token);
        snprintf(info->admin_password, sizeof info->admin_password, "%s", password);
    }
    char hash[WEB_PASSWORD_HASH];
    if (web_password_hash(password, hash, sizeof hash) != 0) {
        snprintf(err, errlen, "cannot hash the admin password (out of memory?)");
        return ERR_LIMIT;
    }
    struct store_user_spec spec = {
        .name = "admin", .role = STORE_ROLE_ADMIN, .team = "", .password_hash = hash};
    int rc = store_user_create(st, &spec);
    if (rc == 0)
        info->admin_created = true;
    else if (rc != ERR_EXISTS) {
        snprintf(err, errlen, "creating the admin user: %s", store_error(st));
        return rc;
    }
    return 0;
}

static struct store *lend_store(void *ctx)
{
    return store_pool_take(ctx);
}

static void return_store(void *ctx, struct store *st)
{
    store_pool_give(ctx, st);
}

/* Opens one worker's app. Turn workers borrow the model and the classifier,
 * and store connections from the save pool for the moments a tool needs one
 * (starting or checking a primer run). */
static int open_worker(struct web_server *ws, struct web_worker *w, const char *config_path,
                       bool turn, char *err, size_t errlen)
{
    unsigned need = HARDE_NEED_BOOK | (turn ? 0 : HARDE_NEED_STORE);
    int rc = harde_app_open(&w->app, config_path, need, err, errlen);
    if (rc != 0)
        return rc;
    w->ws = ws;
    w->open = true;
    w->app.crm = ws->crm;
    if (turn) {
        w->app.kb = ws->n_kbs ? ws->kbs[(size_t)(w - ws->turn_workers) % ws->n_kbs] : NULL;
        w->app.model = ws->main.model;
        w->app.backend = ws->main.backend;
        w->app.intents = ws->main.intents;
        w->store_lender = (struct harde_store_lender){lend_store, return_store, ws->saves};
        w->app.store_lender = &w->store_lender;
    }
    return 0;
}

static void close_worker(struct web_worker *w)
{
    if (!w->open)
        return;
    w->app.crm = NULL; /* borrowed: the main app, the server and the proxy own these */
    for (size_t i = 0; i < w->ws->n_kbs; i++)
        if (w->app.kb == w->ws->kbs[i])
            w->app.kb = NULL;
    w->app.model = NULL;
    w->app.intents = NULL;
    harde_app_close(&w->app);
    w->open = false;
}

static int open_workers(struct web_server *ws, const char *config_path, char *err, size_t errlen)
{
    size_t na = (size_t)ws->set.api_workers, nt = (size_t)ws->set.workers;
    ws->api_workers = xcalloc(na, sizeof *ws->api_workers);
    ws->turn_workers = xcalloc(nt, sizeof *ws->turn_workers);
    ws->api_ctx = xcalloc(na, sizeof *ws->api_ctx);
    ws->turn_ctx = xcalloc(nt, sizeof *ws->turn_ctx);
    int rc = 0;
    for (size_t i = 0; i < na && rc == 0; i++) {
        rc = open_worker(ws, &ws->api_workers[i], config_path, false, err, errlen);
        ws->api_ctx[i] = &ws->api_workers[i];
    }
    for (size_t i = 0; i < nt && rc == 0; i++) {
        rc = open_worker(ws, &ws->turn_workers[i], config_path, true, err, errlen);
        ws->turn_ctx[i] = &ws->turn_workers[i];
    }
    if (rc != 0)
        return rc;
    struct web_pool_config api = {.name = "api",
                                  .threads = na,
                                  .queue = (size_t)ws->set.api_queue,
                                  .stack_bytes = WEB_WORKER_STACK,
                                  .contexts = ws->api_ctx,
                                  .run = api_run,
                                  .drop = api_drop};
    struct web_pool_config turns = {.name = "turn",
                                    .threads = nt,
                                    .queue = (size_t)ws->set.queue,
                                    .stack_bytes = WEB_WORKER_STACK,
                                    .contexts = ws->turn_ctx,
                                    .run = web_turn_run,
                                    .drop = web_turn_drop};
    ws->api = web_pool_new(&api);
    ws->turns = web_pool_new(&turns);
    return 0;
}

/* The playbook handles the turn workers share (kb connections are serialized,
 * so several threads may search one): the main app's, which has just checked
 * or built the index, and up to WEB_KB_HANDLES - 1 more so that searches on
 * different cores do not all wait on one connection's mutex. One connection
 * per worker cost each a page cache and a schema (about 0.3 MB) and an open
 * on its first turn; a handle that cannot be opened is simply not added. */
static void open_kbs(struct web_server *ws)
{
    size_t want =
        (size_t)ws->set.workers < WEB_KB_HANDLES ? (size_t)ws->set.workers : WEB_KB_HANDLES;
    ws->kbs[0] = ws->main.kb;
    ws->n_kbs = 1;
    while (ws->n_kbs < want) {
        char inner[512];
        if (kb_open(ws->main.kb_index, &ws->kbs[ws->n_kbs], inner, sizeof inner) != 0) {
            log_warn("web", "an extra playbook handle: %s", inner);
            break;
        }
        ws->n_kbs++;
    }
}

static int open_shared(struct web_server *ws, char *err, size_t errlen)
{
    struct harde_app *m = &ws->main;
    char inner[512];
    if (!harde_app_kb(m, inner, sizeof inner))
        log_warn("web", "the playbook index is not usable yet: %s", inner);
    else
        open_kbs(ws);
    ws->crm = crm_pool_open(m->config, m->data_dir, m->share_dir, (size_t)ws->set.crm_connections,
                            inner, sizeof inner);
    if (!ws->crm) {
        snprintf(err, errlen, "the CRM: %s", inner);
        return ERR_CONFIG;
    }
    char *location = harde_app_store_location(m);
    ws->saves = store_pool_open(location, (size_t)ws->set.store_connections, inner, sizeof inner);
    free(location);
    if (!ws->saves) {
        snprintf(err, errlen, "the store: %s", inner);
        return ERR_IO;
    }
    const struct web_settings *s = &ws->set;
    double window = (double)s->login_window_minutes;
    ws->logins = logins_new(s->login_idle_minutes * 60000, s->login_max_hours * 3600000,
                            (size_t)s->max_logins);
    ws->user_rate = limiter_new((double)s->rate_burst, (double)s->rate_per_minute, 4096);
    ws->login_names =
        limiter_new((double)s->login_failures, (double)s->login_failures / window, 4096);
    ws->login_addrs =
        limiter_new((double)s->login_attempts, (double)s->login_attempts / window, 4096);
    ws->metrics = web_metrics_new();
    sem_init(&ws->password_slots, 0, WEB_PASSWORD_SLOTS);
    pthread_mutex_init(&ws->busy_lock, NULL);
    ws->busy = web_table_new(1, (size_t)(s->workers + s->queue + s->api_workers + 1));
    ws->delivery_dir = delivery_local_dir(m->data_dir);
    return 0;
}

static int add_routes(struct web_server *ws, char *err, size_t errlen)
{
    int rc = 0;
    ws->bindings = xcalloc(N_API_ROUTES, sizeof *ws->bindings);
    for (size_t i = 0; i < N_API_ROUTES && rc == 0; i++) {
        ws->bindings[i] = (struct web_binding){ws, &API_ROUTES[i]};
        rc = http_server_route(ws->http, API_ROUTES[i].method, API_ROUTES[i].pattern, on_api,
                               &ws->bindings[i], err, errlen);
    }
    for (size_t i = 0; i < web_assets_count && rc == 0; i++) {
        const struct web_asset *a = &web_assets[i];
        rc = http_server_route(ws->http, "GET", a->path, on_asset, (void *)a, err, errlen);
        if (rc == 0 && strcmp(a->path, "/index.html") == 0)
            rc = http_server_route(ws->http, "GET", "/", on_asset, (void *)a, err, errlen);
    }
    if (rc == 0)
        rc = http_server_route(ws->http, "GET", "/healthz", on_healthz, ws, err, errlen);
    if (rc == 0)
        rc = http_server_route(ws->http, "GET", "/metrics", on_metrics, ws, err, errlen);
    return rc;
}

int web_server_open(const struct web_options *opts, struct web_server **out,
                    struct web_open_info *info, char *err, size_t errlen)
{
    struct web_options defaults = {.port = -1};
    struct web_open_info scratch;
    if (!opts)
        opts = &defaults;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    *out = NULL;
    if (web_auth_init() != 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return ERR_CONFIG;
    }
    struct web_server *ws = xcalloc(1, sizeof *ws);
    int rc = harde_app_open(&ws->main, opts->config_path, HARDE_NEED_BOOK | HARDE_NEED_MODEL, err,
                            errlen);
    if (rc != 0) {
        free(ws);
        return rc;
    }
    if ((rc = read_settings(ws, opts, err, errlen)) != 0 ||
        (rc = bootstrap_admin(ws, info, err, errlen)) != 0 ||
        (rc = open_shared(ws, err, errlen)) != 0 ||
        (rc = open_workers(ws, opts->config_path, err, errlen)) != 0)
        goto fail;
    struct http_server_config hc = {
        .host = ws->set.host,
        .port = (int)ws->set.port,
        .threads = (int)ws->set.http_threads,
        .max_body = (size_t)ws->set.max_body,
        .timeout_s = (unsigned)ws->set.timeout_s,
        .keepalive_ms = (int)ws->set.keepalive_ms,
        .on_request = on_request_done,
        .metrics_user = ws->metrics,
    };
    ws->http = http_server_new(&hc);
    if ((rc = add_routes(ws, err, errlen)) != 0)
        goto fail;
    *out = ws;
    return 0;
fail:
    web_server_free(ws);
    return rc;
}

int web_server_start(struct web_server *ws, char *err, size_t errlen)
{
    int rc = http_server_start(ws->http, err, errlen);
    if (rc == 0) {
        ws->started = true;
        log_info("web", "listening on %s:%d (%ld turn workers, %ld API workers, %s model)",
                 ws->set.host, http_server_port(ws->http), ws->set.workers, ws->set.api_workers,
                 ws->main.backend);
    }
    return rc;
}

int web_server_port(const struct web_server *ws)
{
    return http_server_port(ws->http);
}

const char *web_server_host(const struct web_server *ws)
{
    return ws->set.host;
}

void web_server_stop(struct web_server *ws)
{
    if (ws->http)
        http_server_stop(ws->http);
    if (ws->api)
        web_pool_stop(ws->api);
    if (ws->turns)
        web_pool_stop(ws->turns);
    ws->started = false;
}

void web_server_free(struct web_server *ws)
{
    if (!ws)
        return;
    web_server_stop(ws);
    web_pool_free(ws->api);
    web_pool_free(ws->turns);
    http_server_free(ws->http);
    for (long i = 0; ws->api_workers && i < ws->set.api_workers; i++)
        close_worker(&ws->api_workers[i]);
    for (long i = 0; ws->turn_workers && i < ws->set.workers; i++)
        close_worker(&ws->turn_workers[i]);
    free(ws->api_workers);
    free(ws->turn_workers);
    free(ws->api_ctx);
    free(ws->turn_ctx);
    free(ws->bindings);
    for (size_t i = 1; i < ws->n_kbs; i++) /* [0] is the main app's */
        kb_close(ws->kbs[i]);
    if (ws->crm)
        crm_close(ws->crm);
    store_pool_close(ws->saves);
    logins_free(ws->logins);
    limiter_free(ws->user_rate);
    limiter_free(ws->login_names);
    limiter_free(ws->login_addrs);
    web_metrics_free(ws->metrics);
    if (ws->busy) {
        web_table_free(ws->busy);
        pthread_mutex_destroy(&ws->busy_lock);
        sem_destroy(&ws->password_slots);
    }
    free(ws->delivery_dir);
    free(ws->set.host);
    harde_app_close(&ws->main);
    free(ws);
}
