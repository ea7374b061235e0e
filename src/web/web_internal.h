/* web_internal — what the files of src/web share: the server struct, the
 * per-worker state, the call an API handler receives, the route table's
 * entry type, and the reply helpers every handler uses.
 *
 * An API handler (web_api_fn) runs on an API worker thread with the call
 * already authenticated as its route asks (the principal in call->who), the
 * worker's own harde_app (its store connection, the shared CRM proxy, the
 * price book) and the request. It must answer exactly once with a web_reply_*
 * or http_reply_* call — or hand the request to a turn worker, which then
 * answers. Not for use outside src/web. */
#ifndef HARDE_WEB_WEB_INTERNAL_H
#define HARDE_WEB_WEB_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "harde/app.h"
#include "harde/session.h"
#include "net/http_server.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/limiter.h"
#include "web/logins.h"
#include "web/metrics.h"
#include "web/pool.h"
#include "web/store_pool.h"
#include "web/table.h"
#include "web/web.h"

#define WEB_COOKIE         "harde_session"
#define WEB_TEAM_MAX       128          /* bytes of a team name */
#define WEB_TEXT_MAX       16000        /* bytes of a chat message */
#define WEB_TITLE_MAX      200          /* bytes of a session title */
#define WEB_WORKER_STACK   (512u << 10) /* stack of a worker thread (see server.c) */
#define WEB_KB_HANDLES     4            /* playbook connections the turn workers share */
#define WEB_RETRY_AFTER_S  5            /* Retry-After of a 503 when a queue is full */
#define WEB_PASSWORD_SLOTS 2            /* Argon2 checks at once (64 MiB each) */
#define WEB_SESSION_LIST   100          /* sessions one list returns */
#define WEB_CRM_HITS       10           /* customers one CRM search returns */

struct web_settings {
    char *host;
    long port;
    long http_threads;
    long max_body;
    long timeout_s;
    long keepalive_ms;
    long workers, queue;
    long api_workers, api_queue;
    long crm_connections, store_connections;
    bool secure_cookies;
    bool trust_proxy;
    long rate_per_minute, rate_burst;
    long login_failures, login_attempts, login_window_minutes;
    long login_idle_minutes, login_max_hours, max_logins;
    long max_download_mb;
};

/* One worker thread's own state (API or turn pool). */
struct web_worker {
    struct web_server *ws;
    struct harde_app app; /* this thread's alone; see server.c for what is shared */
    struct harde_store_lender store_lender; /* turn workers: the save pool */
    bool open;
};

struct web_server {
    struct web_settings set;
    struct harde_app main; /* owns the shared model, intents, price book, config */
    struct http_server *http;
    struct crm *crm;                /* the proxy every worker app uses (crm_pool.h) */
    struct store_pool *saves;       /* connections the turn workers borrow to save */
    struct kb *kbs[WEB_KB_HANDLES]; /* playbook handles lent to turn workers; [0] is main's */
    size_t n_kbs;
    struct web_worker *api_workers, *turn_workers;
    void **api_ctx, **turn_ctx;
    struct web_pool *api, *turns;
    struct logins *logins;
    struct limiter *user_rate;   /* requests per user */
    struct limiter *login_names; /* failed logins per name */
    struct limiter *login_addrs; /* login attempts (and bad tokens) per address */
    struct web_metrics *metrics;
    sem_t password_slots;
    pthread_mutex_t busy_lock;
    struct web_table *busy; /* session ids with a turn queued or running */
    char *delivery_dir;
    struct web_binding *bindings;
    bool started;
};

/* Who is calling (filled by authentication). */
struct web_principal {
    char name[STORE_USER_MAX + 1];
    enum store_role role;
    char team[WEB_TEAM_MAX];
    bool cookie;               /* authenticated by the login cookie (CSRF applies) */
    char csrf[WEB_TOKEN_MAX];  /* the login's CSRF token, for /v1/me */
    char token[WEB_TOKEN_MAX]; /* the login cookie, for /v1/logout */
};

struct web_call {
    struct web_server *ws;
    struct web_worker *worker;
    struct http_req *req;
    const struct web_route *route;
    struct web_principal who;
};

typedef void web_api_fn(struct web_call *call);

/* Route flags. */
#define WEB_PUBLIC 1u /* no authentication */
#define WEB_ADMIN  2u /* admins only */

struct web_route {
    const char *method;
    const char *pattern;
    web_api_fn *fn;
    unsigned flags;
};

/* ---- handlers (api_*.c) ---------------------------------------------------- */

web_api_fn api_login, api_logout, api_me;
web_api_fn api_sessions_list, api_sessions_create, api_session_get, api_session_message;
web_api_fn api_quote, api_crm_search, api_readyz, api_delivery;
web_api_fn api_users_list, api_users_create, api_users_delete;
web_api_fn api_runs_list, api_run_get, api_runs_start, api_run_cancel, api_run_retry;
web_api_fn api_webhook_crm;

/* The turn pool's job runner and drop (api_turn.c). */
void web_turn_run(void *worker, void *job);
void web_turn_drop(void *job);
/* Queues a turn for an authorised, loaded session (takes ownership of s and
 * of the request's answer). */
void web_turn_submit(struct web_call *call, struct harde_session *s, const char *text, bool stream);

/* ---- helpers (server.c) ------------------------------------------------------ */

/* Adds the headers every answer of ours carries (nosniff, no-referrer). */
void web_common_headers(struct http_req *req);
/* Answers JSON (steals body) with Cache-Control: no-store, money printed to the cent. */
int web_reply_json(struct http_req *req, int status, json_t *body);
/* Answers the error shape; details (stolen, may be NULL) is a JSON array of strings. */
int web_reply_error(struct http_req *req, int status, const char *code, json_t *details,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answers 429 or 503 with Retry-After: seconds. */
int web_reply_retry(struct http_req *req, int status, int seconds, const char *message);
/* The request body as a JSON object into *out (new). An empty body is {}
 * when empty_ok. On failure answers 400 (with the reason) and returns ERR_PARSE. */
int web_body_object(struct http_req *req, bool empty_ok, json_t **out);
/* The client's address (X-Real-IP from a trusted proxy, else the peer). Borrowed. */
const char *web_client_addr(const struct web_server *ws, struct http_req *req);
/* The JSON text of value with money to the cent (new string). */
char *web_json_text(const json_t *value);
/* {"name","role","team"} of a principal (new). */
json_t *web_user_json(const char *name, enum store_role role, const char *team);

/* The workflow state for people: {"kind", "title", "fields": [{"name", "label",
 * "value"?, "required", "filled"}], "missing": [label…], "awaiting_confirmation"}
 * (new), or JSON null when h is NULL. */
json_t *web_state_json(const struct state_header *h);

/* Marks session id busy (a turn queued or running); false when it already was. */
bool web_busy_enter(struct web_server *ws, const char *id);
void web_busy_leave(struct web_server *ws, const char *id);

#endif
