/* logins — login sessions in a bounded table keyed by the cookie's SHA-256.
 * See logins.h. */
#define _POSIX_C_SOURCE 200809L
#include "web/logins.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "web/table.h"

struct login {
    struct login_info info;
    int64_t last_ms;
};

struct logins {
    pthread_mutex_t lock;
    int64_t idle_ms;
    int64_t max_ms;
    struct web_table *table;
};

struct logins *logins_new(int64_t idle_ms, int64_t max_ms, size_t max_entries)
{
    struct logins *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->idle_ms = idle_ms;
    l->max_ms = max_ms;
    l->table = web_table_new(sizeof(struct login), max_entries);
    return l;
}

void logins_free(struct logins *l)
{
    if (!l)
        return;
    web_table_free(l->table);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static bool expired(const struct logins *l, const struct login *e, int64_t now_ms)
{
    return now_ms - e->last_ms > l->idle_ms || now_ms - e->info.created_ms > l->max_ms;
}

void logins_create(struct logins *l, const char *user, int64_t now_ms, char *token, char *csrf)
{
    char key[WEB_DIGEST_HEX + 1];
    web_token_new(NULL, token, WEB_TOKEN_MAX);
    web_token_new(NULL, csrf, WEB_TOKEN_MAX);
    web_digest_hex(token, key);
    pthread_mutex_lock(&l->lock);
    struct login *e = web_table_put(l->table, key, NULL);
    snprintf(e->info.user, sizeof e->info.user, "%s", user);
    snprintf(e->info.csrf, sizeof e->info.csrf, "%s", csrf);
    e->info.created_ms = e->last_ms = now_ms;
    pthread_mutex_unlock(&l->lock);
}

int logins_lookup(struct logins *l, const char *token, int64_t now_ms, struct login_info *out)
{
    char key[WEB_DIGEST_HEX + 1];
    if (!token || strlen(token) >= WEB_TOKEN_MAX)
        return ERR_NOT_FOUND;
    web_digest_hex(token, key);
    int rc = ERR_NOT_FOUND;
    pthread_mutex_lock(&l->lock);
    struct login *e = web_table_get(l->table, key);
    if (e && expired(l, e, now_ms)) {
        web_table_remove(l->table, key);
    } else if (e) {
        e->last_ms = now_ms;
        *out = e->info;
        rc = 0;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int logins_delete(struct logins *l, const char *token)
{
    char key[WEB_DIGEST_HEX + 1];
    if (!token || strlen(token) >= WEB_TOKEN_MAX)
        return ERR_NOT_FOUND;
    web_digest_hex(token, key);
    pthread_mutex_lock(&l->lock);
    bool found = web_table_remove(l->table, key);
    pthread_mutex_unlock(&l->lock);
    return found ? 0 : ERR_NOT_FOUND;
}

static bool drop_user(const char *key, void *value, void *user)
{
    (void)key;
    return strcmp(((struct login *)value)->info.user, user) == 0;
}

void logins_delete_user(struct logins *l, const char *user)
{
    pthread_mutex_lock(&l->lock);
    web_table_sweep(l->table, drop_user, (void *)user);
    pthread_mutex_unlock(&l->lock);
}

struct sweep_ctx {
    const struct logins *l;
    int64_t now_ms;
};

static bool drop_expired(const char *key, void *value, void *user)
{
    (void)key;
    const struct sweep_ctx *c = user;
    return expired(c->l, value, c->now_ms);
}

size_t logins_sweep(struct logins *l, int64_t now_ms)
{
    pthread_mutex_lock(&l->lock);
    struct sweep_ctx c = {l, now_ms};
    web_table_sweep(l->table, drop_expired, &c);
    size_t left = web_table_count(l->table);
    pthread_mutex_unlock(&l->lock);
    return left;
}
