/* web — `harde serve`: Hard-E's HTTP API (docs/API.md), its page and its
 * operational endpoints, on net/http_server.
 *
 * What a web_server owns: the main harde_app (configuration, the price book,
 * the model backend and the intent classifier, shared read-only by every
 * worker), the HTTP server, two worker pools (API requests; chat turns) with
 * one harde_app per worker, a small pool of store connections for saving
 * sessions, the CRM proxy every worker's app uses, the in-memory login
 * sessions, the rate limiters and the metrics. The design of each is in the
 * file that implements it; the threading design is in web/server.c.
 *
 * Configuration ([web] in harde.ini, each overridable by HARDE_WEB_<KEY>):
 *   host (127.0.0.1), port (8080; 0 = a free port), workers (32: chat turns at
 *   once), queue (256: turns waiting), api_workers (4), api_queue (1024),
 *   http_threads (2), max_body (1048576 bytes), timeout_s (60), keepalive_ms
 *   (15000), secure_cookies (false), trust_proxy (false: X-Real-IP from a
 *   loopback peer is the client's address when true), rate_per_minute (600)
 *   and rate_burst (120) per user, login_failures (5) per name and
 *   login_attempts (30) per address, each per login_window_minutes (15),
 *   login_idle_minutes (480), login_max_hours (168), max_logins (10000),
 *   crm_connections (4), store_connections (2), max_download_mb (256).
 *
 * Use from one controlling thread: open, start, (serve), stop, free. */
#ifndef HARDE_WEB_WEB_H
#define HARDE_WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>

#define WEB_DEFAULT_PORT 8080

struct web_server;

struct web_options {
    const char *config_path; /* NULL: as harde_app_open finds it */
    const char *host;        /* NULL: [web] host */
    int port;                /* < 0: [web] port; 0: a free port */
};

/* What opening did that a person should be told once. */
struct web_open_info {
    bool admin_created;           /* the store had no users: "admin" was created */
    bool admin_password_from_env; /* ... with HARDE_ADMIN_PASSWORD */
    char admin_password[80];      /* ... else with this one-time password */
};

/* Opens everything a server needs (not listening yet). When the store has no
 * user, creates "admin" with HARDE_ADMIN_PASSWORD or a random password
 * (info says which). 0 with *out (new), or ERR_* with err set. info may be NULL. */
int web_server_open(const struct web_options *opts, struct web_server **out,
                    struct web_open_info *info, char *err, size_t errlen);
/* Binds and serves. 0, or ERR_NETWORK / ERR_INVALID with err set. */
int web_server_start(struct web_server *ws, char *err, size_t errlen);
/* The bound port once started. */
int web_server_port(const struct web_server *ws);
/* The host it listens on (borrowed). */
const char *web_server_host(const struct web_server *ws);
/* Graceful stop: open streams end (their turns are cancelled), queued work
 * is answered 503, running work finishes. */
void web_server_stop(struct web_server *ws);
/* Stops if needed and frees everything. NULL is fine. */
void web_server_free(struct web_server *ws);

#endif
