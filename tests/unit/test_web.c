/* test_web — the pieces of src/web/ that need no HTTP: the bounded LRU
 * table, token-bucket limits on a fake clock, login sessions and their
 * expiry, Argon2id hashes and tokens, the metrics text, the worker pool
 * (lazy workers, a full queue refused, queued jobs dropped at stop), the
 * store pool and the CRM proxy used from many threads at once.
 * (The HTTP behaviour is tested end to end by tests/e2e/test_serve.sh.) */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/crm/crm.h"
#include "web/auth.h"
#include "web/crm_pool.h"
#include "web/limiter.h"
#include "web/logins.h"
#include "web/metrics.h"
#include "web/pool.h"
#include "web/store_pool.h"
#include "web/table.h"

#define SEC 1000000000LL

/* ---- table ------------------------------------------------------------------------ */

static void table_put_get_remove(void **state)
{
    struct web_table *t = web_table_new(sizeof(int), 4);
    bool created;
    int *v = web_table_put(t, "a", &created);
    assert_true(created);
    *v = 1;
    *(int *)web_table_put(t, "b", NULL) = 2;
    v = web_table_put(t, "a", &created);
    assert_false(created);
    assert_int_equal(*v, 1);
    assert_int_equal(*(int *)web_table_get(t, "b"), 2);
    assert_null(web_table_get(t, "c"));
    assert_true(web_table_remove(t, "a"));
    assert_false(web_table_remove(t, "a"));
    assert_null(web_table_get(t, "a"));
    assert_int_equal(web_table_count(t), 1);
    char long_key[WEB_TABLE_KEY_MAX + 1];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_null(web_table_put(t, long_key, NULL));
    web_table_free(t);
}

static void table_evicts_least_recently_used(void **state)
{
    struct web_table *t = web_table_new(sizeof(int), 3);
    *(int *)web_table_put(t, "a", NULL) = 1;
    *(int *)web_table_put(t, "b", NULL) = 2;
    *(int *)web_table_put(t, "c", NULL) = 3;
    assert_non_null(web_table_get(t, "a")); /* a is now the most recent */
    bool created;
    int *d = web_table_put(t, "d", &created);
    assert_true(created);
    assert_int_equal(*d, 0); /* a new slot is zeroed */
    assert_null(web_table_get(t, "b"));
    assert_non_null(web_table_get(t, "a"));
    assert_non_null(web_table_get(t, "c"));
    assert_int_equal(web_table_count(t), 3);
    /* Many keys through a small table: it never grows, lookups stay right. */
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        *(int *)web_table_put(t, key, NULL) = i;
    }
    assert_int_equal(web_table_count(t), 3);
    assert_int_equal(*(int *)web_table_get(t, "k999"), 999);
    assert_int_equal(*(int *)web_table_get(t, "k997"), 997);
    assert_null(web_table_get(t, "k996"));
    web_table_free(t);
}

static bool drop_odd(const char *key, void *value, void *user)
{
    (void)key;
    (void)user;
    return *(int *)value % 2 == 1;
}

static void table_sweep(void **state)
{
    struct web_table *t = web_table_new(sizeof(int), 10);
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "%d", i);
        *(int *)web_table_put(t, key, NULL) = i;
    }
    web_table_sweep(t, drop_odd, NULL);
    assert_int_equal(web_table_count(t), 5);
    assert_null(web_table_get(t, "3"));
    assert_non_null(web_table_get(t, "4"));
    *(int *)web_table_put(t, "x", NULL) = 42; /* freed slots are reused */
    assert_int_equal(*(int *)web_table_get(t, "x"), 42);
    web_table_free(t);
}

/* ---- limiter ------------------------------------------------------------------------ */

static void limiter_bucket_and_refill(void **state)
{
    struct limiter *l = limiter_new(3, 6, 16); /* 3 at once, one more every 10 s */
    int64_t t = 1000 * SEC;
    assert_int_equal(limiter_take(l, "ana", t), 0);
    assert_int_equal(limiter_take(l, "ana", t), 0);
    assert_int_equal(limiter_check(l, "ana", t), 0);
    assert_int_equal(limiter_take(l, "ana", t), 0);
    int wait = limiter_take(l, "ana", t);
    assert_int_equal(wait, 10);
    assert_int_equal(limiter_check(l, "ana", t + 4 * SEC), 6);
    assert_int_equal(limiter_take(l, "bob", t), 0); /* per key */
    assert_int_equal(limiter_take(l, "ana", t + 10 * SEC), 0);
    assert_true(limiter_take(l, "ana", t + 10 * SEC) > 0);
    limiter_reset(l, "ana");
    assert_int_equal(limiter_take(l, "ana", t + 10 * SEC), 0);
    /* Refill never exceeds the capacity. */
    assert_int_equal(limiter_take(l, "cy", t), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(limiter_take(l, "cy", t + 3600 * SEC), 0);
    assert_true(limiter_take(l, "cy", t + 3600 * SEC) > 0);
    limiter_free(l);
}

/* ---- logins ------------------------------------------------------------------------- */

static void logins_lifecycle(void **state)
{
    struct logins *l = logins_new(1000, 5000, 8);
    char token[WEB_TOKEN_MAX], csrf[WEB_TOKEN_MAX], token2[WEB_TOKEN_MAX], csrf2[WEB_TOKEN_MAX];
    logins_create(l, "ana", 100, token, csrf);
    logins_create(l, "ana", 100, token2, csrf2);
    assert_int_equal(strlen(token), WEB_TOKEN_HEX);
    assert_string_not_equal(token, csrf);
    assert_string_not_equal(token, token2);
    struct login_info li;
    assert_int_equal(logins_lookup(l, token, 900, &li), 0);
    assert_string_equal(li.user, "ana");
    assert_string_equal(li.csrf, csrf);
    /* Each use restarts the idle time (1000): alive at 1800 and 2700, gone
     * at 3701, and gone for good after that. */
    assert_int_equal(logins_lookup(l, token, 1800, &li), 0);
    assert_int_equal(logins_lookup(l, token, 2700, &li), 0);
    assert_int_equal(logins_lookup(l, token, 3701, &li), ERR_NOT_FOUND);
    assert_int_equal(logins_lookup(l, token, 3702, &li), ERR_NOT_FOUND);
    assert_int_equal(logins_lookup(l, token2, 1101, &li), ERR_NOT_FOUND); /* idle since 100 */
    /* The absolute limit: kept busy, it still ends after max_ms. */
    char t3[WEB_TOKEN_MAX], c3[WEB_TOKEN_MAX];
    logins_create(l, "bo", 0, t3, c3);
    for (int64_t now = 500; now < 5000; now += 500)
        assert_int_equal(logins_lookup(l, t3, now, &li), 0);
    assert_int_equal(logins_lookup(l, t3, 5001, &li), ERR_NOT_FOUND);
    assert_int_equal(logins_lookup(l, "nonsense", 100, &li), ERR_NOT_FOUND);
    /* Delete one, then every login of a user. */
    char t4[WEB_TOKEN_MAX], c4[WEB_TOKEN_MAX];
    logins_create(l, "cy", 6000, t4, c4);
    logins_create(l, "cy", 6000, token, csrf);
    assert_int_equal(logins_delete(l, t4), 0);
    assert_int_equal(logins_delete(l, t4), ERR_NOT_FOUND);
    assert_int_equal(logins_lookup(l, token, 6001, &li), 0);
    logins_delete_user(l, "cy");
    assert_int_equal(logins_lookup(l, token, 6002, &li), ERR_NOT_FOUND);
    assert_int_equal(logins_sweep(l, 100000), 0);
    logins_free(l);
}

/* ---- auth --------------------------------------------------------------------------- */

static void auth_passwords(void **state)
{
    assert_int_equal(web_auth_init(), 0);
    char err[200], hash[WEB_PASSWORD_HASH], hash2[WEB_PASSWORD_HASH];
    assert_int_equal(web_password_policy("short", err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "at least 8"));
    assert_int_equal(web_password_policy("tab\there-long", err, sizeof err), ERR_INVALID);
    assert_int_equal(web_password_policy("correct horse", err, sizeof err), 0);
    assert_int_equal(web_password_hash("correct horse", hash, sizeof hash), 0);
    assert_int_equal(web_password_hash("correct horse", hash2, sizeof hash2), 0);
    assert_memory_equal(hash, "$argon2id$", 10);
    assert_string_not_equal(hash, hash2); /* salted */
    assert_true(web_password_verify(hash, "correct horse"));
    assert_true(web_password_verify(hash2, "correct horse"));
    assert_false(web_password_verify(hash, "correct horsf"));
    assert_false(web_password_verify(hash, ""));
    assert_false(web_password_verify("", "correct horse"));
    assert_false(web_password_verify(NULL, "correct horse"));
    assert_false(web_password_verify("plain text", "plain text"));
}

static void auth_tokens_and_digests(void **state)
{
    assert_int_equal(web_auth_init(), 0);
    char a[WEB_TOKEN_MAX], b[WEB_TOKEN_MAX], d[WEB_DIGEST_HEX + 1];
    web_token_new(WEB_BEARER_PREFIX, a, sizeof a);
    web_token_new(WEB_BEARER_PREFIX, b, sizeof b);
    assert_int_equal(strlen(a), strlen(WEB_BEARER_PREFIX) + WEB_TOKEN_HEX);
    assert_memory_equal(a, "hde_", 4);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a + 4, "0123456789abcdef"), WEB_TOKEN_HEX);
    web_digest_hex("abc", d); /* FIPS 180-2 test vector */
    assert_string_equal(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(web_secret_equal("same", "same"));
    assert_false(web_secret_equal("same", "sane"));
    assert_false(web_secret_equal("same", "same+"));
    assert_true(web_secret_equal("", ""));
}

/* ---- metrics ------------------------------------------------------------------------- */

static void metrics_render(void **state)
{
    struct web_metrics *m = web_metrics_new();
    struct http_request_metrics r = {
        .method = "GET", .route = "/v1/me", .status = 200, .duration_ns = 2000000};
    web_metrics_request(m, &r);
    web_metrics_request(m, &r);
    r.status = 503;
    web_metrics_request(m, &r);
    r.route = NULL;
    r.status = 404;
    web_metrics_request(m, &r);
    struct http_request_metrics s = {
        .method = "POST", .route = "/v1/x", .status = 200, .duration_ns = 5 * SEC, .stream = true};
    web_metrics_request(m, &s);
    struct agent_usage usage[] = {
        {.model = "gpt-4.1\"x", .requests = 2, .prompt_tokens = 30, .completion_tokens = 7}};
    struct agent_result res = {.usage = usage, .n_usage = 1};
    web_metrics_turn(m, "agent", "ok", SEC / 2, &res);
    web_metrics_turn(m, "fast", "canceled", SEC / 10, NULL);
    web_metrics_login(m, "failed");
    assert_int_equal(web_metrics_turns(m, "canceled"), 1);
    assert_int_equal(web_metrics_turns(m, "ok"), 1);
    struct web_metrics_gauges g = {.active_streams = 7, .n_pools = 1};
    g.pools[0].name = "turn";
    g.pools[0].threads = 3;
    g.pools[0].queued = 2;
    char *text = web_metrics_render(m, &g);
    assert_non_null(strstr(text, "harde_http_requests_total{route=\"/v1/me\",method=\"GET\","
                                 "status=\"200\"} 2\n"));
    assert_non_null(strstr(text, "route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
    assert_non_null(strstr(text, "harde_errors_total{kind=\"http_5xx\"} 1"));
    assert_non_null(strstr(text, "harde_http_streams_total 1"));
    assert_non_null(strstr(
        text, "harde_http_request_duration_seconds_bucket{route=\"/v1/me\",le=\"0.0025\"} 3"));
    assert_non_null(strstr(
        text, "harde_http_request_duration_seconds_bucket{route=\"/v1/me\",le=\"0.001\"} 0"));
    assert_null(strstr(text, "duration_seconds_bucket{route=\"/v1/x\""));
    assert_non_null(strstr(text, "harde_model_requests_total{model=\"gpt-4.1\\\"x\"} 2"));
    assert_non_null(
        strstr(text, "harde_model_tokens_total{model=\"gpt-4.1\\\"x\",kind=\"prompt\"} 30"));
    assert_non_null(strstr(text, "harde_turns_total{flow=\"fast\",outcome=\"canceled\"} 1"));
    assert_non_null(strstr(text, "harde_http_active_streams 7"));
    assert_non_null(strstr(text, "harde_queue_depth{pool=\"turn\"} 2"));
    assert_non_null(strstr(text, "# TYPE harde_turn_duration_seconds histogram"));
    free(text);
    /* A flood of label values ends up under other="true", bounded. */
    char route[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(route, sizeof route, "/r%d", i);
        r.route = route;
        web_metrics_request(m, &r);
    }
    text = web_metrics_render(m, NULL);
    assert_non_null(strstr(text, "harde_http_requests_total{other=\"true\"}"));
    assert_true(strlen(text) < (1 << 20));
    free(text);
    web_metrics_free(m);
}

/* ---- pool --------------------------------------------------------------------------- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int ran, dropped, accepted;
    int ctx_seen[4];
};

static struct gate gate = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void gated_run(void *ctx, void *job)
{
    pthread_mutex_lock(&gate.lock);
    while (!gate.open)
        pthread_cond_wait(&gate.cond, &gate.lock);
    gate.ran++;
    gate.ctx_seen[*(int *)ctx]++;
    pthread_mutex_unlock(&gate.lock);
    free(job);
}

static void count_drop(void *job)
{
    gate.dropped++;
    free(job);
}

static void count_accept(void *job)
{
    (void)job;
    gate.accepted++;
}

static void pool_queue_and_stop(void **state)
{
    int ids[2] = {0, 1};
    void *ctx[2] = {&ids[0], &ids[1]};
    struct web_pool_config cfg = {.name = "t",
                                  .threads = 2,
                                  .queue = 3,
                                  .contexts = ctx,
                                  .run = gated_run,
                                  .drop = count_drop};
    struct web_pool *p = web_pool_new(&cfg);
    struct web_pool_stats st;
    web_pool_get_stats(p, &st);
    assert_int_equal(st.threads, 0); /* lazy */
    /* Two workers take two jobs and wait at the gate; three more fill the queue. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(web_pool_submit(p, xmalloc(1), count_accept), 0);
        if (i < 2) {
            for (int k = 0; k < 200; k++) { /* let a worker take it */
                web_pool_get_stats(p, &st);
                if (st.busy == (size_t)i + 1)
                    break;
                nanosleep(&(struct timespec){0, 5000000}, NULL);
            }
        }
    }
    web_pool_get_stats(p, &st);
    assert_int_equal(st.threads, 2);
    assert_int_equal(st.busy, 2);
    assert_int_equal(st.queued, 3);
    void *extra = xmalloc(1);
    assert_int_equal(web_pool_submit(p, extra, count_accept), ERR_LIMIT);
    free(extra);
    assert_int_equal(gate.accepted, 5);
    /* Stopping drops the three queued jobs, lets the two running finish. */
    pthread_mutex_lock(&gate.lock);
    gate.open = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
    web_pool_stop(p);
    assert_int_equal(gate.ran + gate.dropped, 5);
    assert_true(gate.ran >= 2);
    assert_int_equal(gate.ctx_seen[0] + gate.ctx_seen[1], gate.ran);
    void *late = xmalloc(1);
    assert_int_equal(web_pool_submit(p, late, NULL), ERR_CANCELED);
    free(late);
    web_pool_free(p);
}

/* ---- store pool and CRM proxy from many threads -------------------------------------- */

struct shared {
    struct store_pool *stores;
    struct crm *crm;
    int failures;
    pthread_mutex_t lock;
};

static void *hammer(void *arg)
{
    struct shared *sh = arg;
    for (int i = 0; i < 50; i++) {
        struct store *st = store_pool_take(sh->stores);
        char key[64], *value = NULL;
        snprintf(key, sizeof key, "k%lu-%d", (unsigned long)pthread_self() % 100000, i);
        int rc = store_checkpoint_put(st, key, "v");
        if (rc == 0)
            rc = store_checkpoint_get(st, key, &value);
        free(value);
        store_pool_give(sh->stores, st);
        char err[256];
        struct crm_hits hits;
        if (rc == 0)
            rc = crm_search(sh->crm, "garcia", 5, &hits, err, sizeof err);
        if (rc == 0) {
            if (hits.count == 0)
                rc = -1;
            crm_hits_free(&hits);
        }
        if (rc != 0) {
            pthread_mutex_lock(&sh->lock);
            sh->failures++;
            pthread_mutex_unlock(&sh->lock);
        }
    }
    return NULL;
}

static void shared_pools_under_threads(void **state)
{
    char dir[] = "/tmp/harde-test-web-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *db = xasprintf("%s/harde.sqlite", dir);
    char err[512];
    struct shared sh = {.lock = PTHREAD_MUTEX_INITIALIZER};
    sh.stores = store_pool_open(db, 2, err, sizeof err);
    assert_non_null(sh.stores);
    struct config *cfg = config_parse("", "test", err, sizeof err);
    sh.crm = crm_pool_open(cfg, dir, HARDE_SHARE_DIR, 2, err, sizeof err);
    assert_non_null(sh.crm);
    assert_string_equal(crm_backend_name(sh.crm), "local");
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, &sh);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sh.failures, 0);
    crm_close(sh.crm);
    store_pool_close(sh.stores);
    config_free(cfg);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_put_get_remove),
        cmocka_unit_test(table_evicts_least_recently_used),
        cmocka_unit_test(table_sweep),
        cmocka_unit_test(limiter_bucket_and_refill),
        cmocka_unit_test(logins_lifecycle),
        cmocka_unit_test(auth_passwords),
        cmocka_unit_test(auth_tokens_and_digests),
        cmocka_unit_test(metrics_render),
        cmocka_unit_test(pool_queue_and_stop),
        cmocka_unit_test(shared_pools_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
