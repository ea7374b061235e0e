/* api_auth — who is calling: POST /v1/login, POST /v1/logout, GET /v1/me,
 * and the admin's user management (GET|POST /v1/users, DELETE /v1/users/{name}).
 *
 * Login checks, in order: the per-name limit of failed attempts (a name
 * that failed login_failures times in login_window_minutes gets 429 even
 * with the right password, so guessing one account is slow), the per-address
 * limit of attempts, then the Argon2id hash (at most WEB_PASSWORD_SLOTS at
 * once: each check takes 64 MiB). An unknown name costs the same hash
 * computation as a wrong password. Success clears the name's failures and
 * makes a login (logins.h): the cookie is HttpOnly, SameSite=Strict, Path=/
 * (and Secure with [web] secure_cookies), and the answer carries the CSRF
 * token the page echoes in X-CSRF-Token. The credentials must come as
 * application/json, which a cross-site form cannot send. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "web/web_internal.h"

static bool check_password(struct web_server *ws, const char *hash, const char *password)
{
    while (sem_wait(&ws->password_slots) != 0 && errno == EINTR)
        ;
    bool ok = web_password_verify(hash, password);
    sem_post(&ws->password_slots);
    return ok;
}

static void add_detail(json_t **details, const char *text)
{
    if (!*details)
        *details = json_array();
    json_array_append_new(*details, json_string(text));
}

/* Answers 429 for a limited login. */
static void login_limited(struct web_call *call, int wait, const char *why)
{
    web_metrics_login(call->ws->metrics, "limited");
    char message[200];
    snprintf(message, sizeof message, "%s; try again in %d s", why, wait);
    web_reply_retry(call->req, 429, wait, message);
}

/* Sets the login cookie to token, or clears it when token is NULL. */
static void set_login_cookie(struct web_call *call, const char *token)
{
    char cookie[WEB_TOKEN_MAX + 96];
    snprintf(cookie, sizeof cookie, WEB_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/%s%s",
             token ? token : "", token ? "" : "; Max-Age=0",
             call->ws->set.secure_cookies ? "; Secure" : "");
    http_reply_header(call->req, "Set-Cookie", cookie);
}

void api_login(struct web_call *call)
{
    struct web_server *ws = call->ws;
    struct http_req *req = call->req;
    json_t *body, *details = NULL;
    /* A form on another site can post text/plain or a form encoding without
     * a CORS preflight, never application/json: refusing the rest keeps a
     * page elsewhere from signing a browser in to an account of its choice. */
    const char *type = http_req_header(req, "Content-Type");
    if (!type || strncasecmp(type, "application/json", 16) != 0) {
        web_reply_error(req, 400, "bad_request", NULL,
                        "send the credentials as Content-Type: application/json");
        return;
    }
    if (web_body_object(req, false, &body) != 0)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *password = json_string_value(json_object_get(body, "password"));
    if (!name || !*name)
        add_detail(&details, "name: required, a string");
    if (!password || !*password)
        add_detail(&details, "password: required, a string");
    if (details) {
        web_reply_error(req, 400, "bad_request", details, "name and password are required");
        goto out;
    }
    int64_t now = clock_now_ns();
    int wait = limiter_check(ws->login_names, name, now);
    if (wait) {
        login_limited(call, wait, "too many failed sign-ins for this name");
        goto out;
    }
    wait = limiter_take(ws->login_addrs, web_client_addr(ws, req), now);
    if (wait) {
        login_limited(call, wait, "too many sign-in attempts from your address");
        goto out;
    }
    struct store_user u = {0};
    bool known =
        store_user_name_valid(name) && store_user_get(call->worker->app.store, name, &u) == 0;
    bool ok = check_password(ws, known ? u.password_hash : NULL, password);
    if (!ok) {
        limiter_take(ws->login_names, name, clock_now_ns());
        web_metrics_login(ws->metrics, "failed");
        log_info("web", "failed sign-in for \"%.64s\" from %s", name, web_client_addr(ws, req));
        web_reply_error(req, 401, "unauthorized", NULL, "wrong name or password");
    } else {
        limiter_reset(ws->login_names, name);
        char token[WEB_TOKEN_MAX], csrf[WEB_TOKEN_MAX];
        /* Sign-ins are rare next to requests: a good moment to drop expired logins. */
        logins_sweep(ws->logins, clock_wall_ms());
        logins_create(ws->logins, u.name, clock_wall_ms(), token, csrf);
        web_metrics_login(ws->metrics, "ok");
        set_login_cookie(call, token);
        web_reply_json(req, 200,
                       json_pack("{s:o, s:s}", "user", web_user_json(u.name, u.role, u.team),
                                 "csrf_token", csrf));
    }
    if (known)
        store_user_free(&u);
out:
    json_decref(body);
}

void api_logout(struct web_call *call)
{
    if (call->who.cookie) {
        logins_delete(call->ws->logins, call->who.token);
        set_login_cookie(call, NULL);
    }
    web_reply_json(call->req, 200, json_pack("{s:b}", "ok", 1));
}

void api_me(struct web_call *call)
{
    json_t *me = web_user_json(call->who.name, call->who.role, call->who.team);
    if (call->who.cookie)
        json_object_set_new(me, "csrf_token", json_string(call->who.csrf));
    web_reply_json(call->req, 200, me);
}

/* ---- users (admin) ---------------------------------------------------------------- */

static json_t *user_json(const struct store_user *u)
{
    json_t *o = web_user_json(u->name, u->role, u->team);
    json_object_set_new(o, "created_ms", json_integer((json_int_t)u->created_ms));
    return o;
}

void api_users_list(struct web_call *call)
{
    struct store *st = call->worker->app.store;
    struct store_user_filter f = {.limit = STORE_LIST_MAX};
    struct store_user_list list;
    if (store_user_list(st, &f, &list) != 0) {
        web_reply_error(call->req, 500, NULL, NULL, "the store: %s", store_error(st));
        return;
    }
    json_t *users = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(users, user_json(&list.items[i]));
    store_user_list_free(&list);
    web_reply_json(call->req, 200, json_pack("{s:o}", "users", users));
}

/* Checks a new user's fields; returns the problems (new array) or NULL. */
static json_t *user_problems(const char *name, const char *role, const json_t *team,
                             const char *password, enum store_role *parsed)
{
    json_t *details = NULL;
    char why[200];
    if (!name || !store_user_name_valid(name))
        add_detail(&details, "name: required, 1-64 of A-Z a-z 0-9 . _ @ -");
    if (!role || store_role_parse(role, parsed) != 0)
        add_detail(&details, "role: required, one of rep, manager, admin");
    if (team && (!json_is_string(team) || json_string_length(team) >= WEB_TEAM_MAX))
        add_detail(&details, "team: a string of at most 127 bytes");
    if (web_password_policy(password, why, sizeof why) != 0)
        add_detail(&details, why);
    return details;
}

void api_users_create(struct web_call *call)
{
    struct http_req *req = call->req;
    struct store *st = call->worker->app.store;
    json_t *body;
    if (web_body_object(req, false, &body) != 0)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *role = json_string_value(json_object_get(body, "role"));
    const char *password = json_string_value(json_object_get(body, "password"));
    const json_t *team = json_object_get(body, "team");
    enum store_role parsed = STORE_ROLE_REP;
    json_t *details = user_problems(name, role, team, password, &parsed);
    char hash[WEB_PASSWORD_HASH];
    if (details) {
        web_reply_error(req, 400, "bad_request", details, "the user cannot be created");
    } else if (web_password_hash(password, hash, sizeof hash) != 0) {
        web_reply_error(req, 500, NULL, NULL, "cannot hash the password");
    } else {
        struct store_user_spec spec = {.name = name,
                                       .role = parsed,
                                       .team = team ? json_string_value(team) : "",
                                       .password_hash = hash};
        int rc = store_user_create(st, &spec);
        if (rc == ERR_EXISTS)
            web_reply_error(req, 409, "conflict", NULL, "user %s already exists", name);
        else if (rc != 0)
            web_reply_error(req, 500, NULL, NULL, "the store: %s", store_error(st));
        else
            web_reply_json(req, 201, web_user_json(name, parsed, spec.team));
    }
    json_decref(body);
}

void api_users_delete(struct web_call *call)
{
    struct store *st = call->worker->app.store;
    const char *name = http_req_param(call->req, "name");
    if (strcmp(name, call->who.name) == 0) {
        web_reply_error(call->req, 409, "conflict", NULL, "you cannot delete your own account");
        return;
    }
    int rc = store_user_name_valid(name) ? store_user_delete(st, name) : ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND) {
        web_reply_error(call->req, 404, NULL, NULL, "no user \"%.64s\"", name);
        return;
    }
    if (rc != 0) {
        web_reply_error(call->req, 500, NULL, NULL, "the store: %s", store_error(st));
        return;
    }
    logins_delete_user(call->ws->logins, name);
    log_info("web", "user %s deleted by %s", name, call->who.name);
    web_reply_json(call->req, 200, json_pack("{s:b}", "ok", 1));
}
