/* test_delivery_cloud — the Google Drive and S3 delivery clients against the
 * protocol fakes (tests/fakes/fake_gdrive.py, fake_s3.py), which verify the
 * JWT's RS256 signature and claims, the Drive request shapes, and the SigV4
 * signatures independently of this code.
 *
 * The fakes are started by tests/e2e/test_delivery.sh, which passes where
 * they are through the environment:
 *   FAKE_GDRIVE_URL, FAKE_GDRIVE_KEY, FAKE_GDRIVE_BAD_KEY, FAKE_GDRIVE_FOLDER,
 *   FAKE_GDRIVE_MY_DRIVE_FOLDER;
 *   FAKE_S3_URL, FAKE_S3_ACCESS, FAKE_S3_SECRET, FAKE_S3_BUCKET, FAKE_S3_REGION.
 * Without them (a plain `make test` run of the unit tests) every test is
 * skipped. Each test checks what the homeowner would see — the link serves
 * the exact bytes, the file is shared (or presigned) — and what the fake
 * holds afterwards (/__fake/state), plus a clear ERR_AUTH for bad keys. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/delivery/delivery.h"

static char tmp_dir[512];

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

#define NEED_ENV(name)                                                                             \
    do {                                                                                           \
        if (!env(name)) {                                                                          \
            print_message("%s is not set: start the fakes with tests/e2e/test_delivery.sh\n",      \
                          name);                                                                   \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A file of n pseudo-random bytes (seeded), with multipart-looking lines
 * inside; new path. */
static char *make_file(const char *name, size_t n, unsigned seed)
{
    char *path = xasprintf("%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        if (i % 4096 == 100 && i + 12 < n) {
            fputs("\r\n--harde-\r\n", f);
            i += 11;
            continue;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), f);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* The file's bytes (new), *len set. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = xmalloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* GET url; returns the status, the body in *body (new) when asked. */
static long http_get(const char *url, char **body, size_t *len)
{
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp);
    struct http_request req = HTTP_REQUEST_INIT;
    req.url = url;
    req.max_retries = 0;
    req.max_response = 16u << 20;
    char err[256];
    int rc = http_client_request(c, &req, &resp, err, sizeof err);
    if (rc && rc != ERR_HTTP)
        fail_msg("GET %s: %s", url, err);
    long status = resp.status;
    if (body) {
        *len = resp.body.len;
        *body = xmalloc(resp.body.len + 1);
        memcpy(*body, resp.body.data ? resp.body.data : "", resp.body.len);
    }
    http_response_free(&resp);
    http_client_free(c);
    return status;
}

/* POSTs JSON to base + path (a fake's control hook). */
static void http_post_json(const char *base, const char *path, const char *json)
{
    char *url = xasprintf("%s%s", base, path);
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp);
    struct http_request req = HTTP_REQUEST_INIT;
    const char *headers[] = {"Content-Type: application/json", NULL};
    req.url = url;
    req.headers = headers;
    req.body = json;
    req.body_len = strlen(json);
    char err[256];
    assert_int_equal(http_client_request(c, &req, &resp, err, sizeof err), 0);
    http_response_free(&resp);
    http_client_free(c);
    free(url);
}

/* The fake's /__fake/state (new reference). */
static json_t *fake_state(const char *base)
{
    char *url = xasprintf("%s/__fake/state", base);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(http_get(url, &body, &len), 200);
    json_t *j = json_loadb(body, len, 0, NULL);
    assert_non_null(j);
    free(body);
    free(url);
    return j;
}

static long state_number(const char *base, const char *key)
{
    json_t *j = fake_state(base);
    long n = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return n;
}

/* The link serves exactly the file's bytes. */
static void assert_link_serves(const char *url, const char *path)
{
    size_t want_len = 0, got_len = 0;
    char *want = slurp(path, &want_len);
    char *got = NULL;
    long status = http_get(url, &got, &got_len);
    if (status != 200)
        fail_msg("GET %s answered %ld: %.300s", url, status, got);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
    free(got);
}

/* ---- Google Drive ---------------------------------------------------------------- */

static struct delivery *open_gdrive(const char *key_env, const char *folder, long multipart_max,
                                    long chunk)
{
    struct delivery_options o = {
        .backend = "gdrive",
        .timeout_ms = 20000,
        .gdrive = {.key_file = env(key_env),
                   .folder_id = folder,
                   .api_base = env("FAKE_GDRIVE_URL"),
                   .multipart_max = multipart_max,
                   .chunk_bytes = chunk},
    };
    struct delivery *d = NULL;
    char err[512] = "";
    int rc = delivery_open(&o, &d, err, sizeof err);
    if (rc)
        fail_msg("delivery_open(gdrive): %s", err);
    return d;
}

/* The Drive file with id in the fake (new reference) or NULL. */
static json_t *gdrive_file(const char *id)
{
    json_t *state = fake_state(env("FAKE_GDRIVE_URL"));
    json_t *files = json_object_get(state, "files"), *v, *found = NULL;
    size_t i;
    json_array_foreach(files, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
            found = json_incref(v);
    }
    json_decref(state);
    return found;
}

static void gdrive_upload_share_remove(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_URL");
    struct delivery *d = open_gdrive("FAKE_GDRIVE_KEY", env("FAKE_GDRIVE_FOLDER"), 0, 0);
    char *path = make_file("small.mp4", 30000, 1);
    struct delivery_link link;
    char err[512] = "";
    int rc = delivery_upload(d, path, "primer-1042.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("upload: %s", err);
    char *prefix = xasprintf("%s/file/d/", env("FAKE_GDRIVE_URL"));
    assert_true(strncmp(link.url, prefix, strlen(prefix)) == 0);
    assert_true(strncmp(link.handle, "gdrive:", 7) == 0);
    assert_link_serves(link.url, path);

    json_t *file = gdrive_file(link.handle + 7);
    assert_non_null(file);
    assert_string_equal(json_string_value(json_object_get(file, "name")), "primer-1042.mp4");
    assert_string_equal(json_string_value(json_object_get(file, "mimeType")), "video/mp4");
    assert_string_equal(json_string_value(json_array_get(json_object_get(file, "parents"), 0)),
                        env("FAKE_GDRIVE_FOLDER"));
    json_t *perm = json_array_get(json_object_get(file, "permissions"), 0);
    assert_string_equal(json_string_value(json_object_get(perm, "type")), "anyone");
    assert_string_equal(json_string_value(json_object_get(perm, "role")), "reader");
    assert_int_equal(json_array_size(json_object_get(file, "permissions")), 1);
    json_decref(file);

    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    assert_null(gdrive_file(link.handle + 7));
    assert_int_equal(http_get(link.url, NULL, NULL), 404);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0); /* already gone */
    assert_int_equal(delivery_remove(d, "gdrive:../x", err, sizeof err), ERR_INVALID);

    delivery_link_free(&link);
    unlink(path);
    free(path);
    free(prefix);
    delivery_close(d);
}

static void gdrive_token_cached_reminted_renewed(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_URL");
    const char *base = env("FAKE_GDRIVE_URL");
    struct delivery *d = open_gdrive("FAKE_GDRIVE_KEY", env("FAKE_GDRIVE_FOLDER"), 0, 0);
    char *path = make_file("t.mp4", 1000, 2);
    struct delivery_link link;
    char err[512] = "";
    long before = state_number(base, "tokens_issued");

    /* One token for several uploads. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(delivery_upload(d, path, "t.mp4", "video/mp4", &link, err, sizeof err), 0);
        assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
        delivery_link_free(&link);
    }
    assert_int_equal(state_number(base, "tokens_issued"), before + 1);

    /* A token Drive no longer accepts: one 401, a new token, success. */
    long refused = state_number(base, "auth_failures");
    http_post_json(base, "/__fake/control", "{\"revoke_tokens\": true}");
    assert_int_equal(delivery_upload(d, path, "t.mp4", "video/mp4", &link, err, sizeof err), 0);
    assert_int_equal(state_number(base, "tokens_issued"), before + 2);
    assert_int_equal(state_number(base, "auth_failures"), refused + 1);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);

    /* A short-lived token is renewed before use once expired, with no 401. */
    http_post_json(base, "/__fake/control", "{\"revoke_tokens\": true, \"token_lifetime\": 1}");
    assert_int_equal(delivery_upload(d, path, "t.mp4", "video/mp4", &link, err, sizeof err), 0);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);
    refused = state_number(base, "auth_failures");
    long issued = state_number(base, "tokens_issued");
    clock_sleep_ms(1200, NULL);
    assert_int_equal(delivery_upload(d, path, "t.mp4", "video/mp4", &link, err, sizeof err), 0);
    assert_int_equal(state_number(base, "auth_failures"), refused);
    assert_true(state_number(base, "tokens_issued") > issued);
    http_post_json(base, "/__fake/control", "{\"token_lifetime\": 3600}");
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);

    unlink(path);
    free(path);
    delivery_close(d);
}

static void gdrive_resumable_upload_and_resume(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_URL");
    const long unit = 256L << 10;
    struct delivery *d = open_gdrive("FAKE_GDRIVE_KEY", env("FAKE_GDRIVE_FOLDER"), unit, unit);
    char *path = make_file("big.mp4", (size_t)(2 * unit + 12345), 3);
    struct delivery_link link;
    char err[512] = "";
    int rc = delivery_upload(d, path, "big.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("resumable upload: %s", err);
    assert_link_serves(link.url, path);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);

    /* The answer to a chunk is lost (the fake kept the bytes): the client
     * asks the session where it stands and goes on from there. */
    http_post_json(env("FAKE_GDRIVE_URL"), "/__fake/control", "{\"fail_chunks\": 1}");
    rc = delivery_upload(d, path, "big.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("resumed upload: %s", err);
    assert_link_serves(link.url, path);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);
    assert_int_equal(state_number(env("FAKE_GDRIVE_URL"), "open_sessions"), 0);

    /* An empty file goes through the multipart path. */
    char *empty = make_file("empty.mp4", 0, 4);
    assert_int_equal(delivery_upload(d, empty, "empty.mp4", "video/mp4", &link, err, sizeof err),
                     0);
    assert_link_serves(link.url, empty);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);

    unlink(path);
    unlink(empty);
    free(path);
    free(empty);
    delivery_close(d);
}

static void gdrive_backend_error_is_retried(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_URL");
    struct delivery *d = open_gdrive("FAKE_GDRIVE_KEY", env("FAKE_GDRIVE_FOLDER"), 0, 0);
    char *path = make_file("r.mp4", 5000, 5);
    http_post_json(env("FAKE_GDRIVE_URL"), "/__fake/control", "{\"fail_uploads\": 1}");
    struct delivery_link link;
    char err[512] = "";
    int rc = delivery_upload(d, path, "r.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("upload after a 503: %s", err);
    assert_link_serves(link.url, path);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);
    unlink(path);
    free(path);
    delivery_close(d);
}

static void gdrive_bad_key_is_err_auth(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_BAD_KEY");
    json_t *before = fake_state(env("FAKE_GDRIVE_URL"));
    size_t files = json_array_size(json_object_get(before, "files"));
    json_decref(before);
    struct delivery *d = open_gdrive("FAKE_GDRIVE_BAD_KEY", env("FAKE_GDRIVE_FOLDER"), 0, 0);
    char *path = make_file("b.mp4", 100, 6);
    struct delivery_link link;
    char err[512] = "";
    assert_int_equal(delivery_upload(d, path, "b.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_AUTH);
    print_message("bad key: %s\n", err);
    assert_non_null(strstr(err, "Google refused the service-account key"));
    assert_non_null(strstr(err, "invalid_grant"));
    assert_non_null(strstr(err, "Invalid JWT Signature"));
    assert_non_null(strstr(err, env("FAKE_GDRIVE_BAD_KEY")));
    assert_null(link.url);
    json_t *after = fake_state(env("FAKE_GDRIVE_URL"));
    assert_int_equal(json_array_size(json_object_get(after, "files")), files);
    json_decref(after);
    /* Cleanup with a bad key fails the same clear way. */
    assert_int_equal(delivery_remove(d, "gdrive:1abc", err, sizeof err), ERR_AUTH);
    unlink(path);
    free(path);
    delivery_close(d);
}

static void gdrive_folder_problems_are_err_config(void **state)
{
    (void)state;
    NEED_ENV("FAKE_GDRIVE_MY_DRIVE_FOLDER");
    char *path = make_file("f.mp4", 100, 7);
    struct delivery_link link;
    char err[512] = "";
    struct delivery *d = open_gdrive("FAKE_GDRIVE_KEY", "NoSuchFolder", 0, 0);
    assert_int_equal(delivery_upload(d, path, "f.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_CONFIG);
    print_message("unknown folder: %s\n", err);
    assert_non_null(strstr(err, "File not found: NoSuchFolder"));
    assert_non_null(strstr(err, "shared drive"));
    delivery_close(d);

    d = open_gdrive("FAKE_GDRIVE_KEY", env("FAKE_GDRIVE_MY_DRIVE_FOLDER"), 0, 0);
    assert_int_equal(delivery_upload(d, path, "f.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_CONFIG);
    print_message("My Drive folder: %s\n", err);
    assert_non_null(strstr(err, "storageQuotaExceeded"));
    assert_non_null(strstr(err, "shared drive"));
    delivery_close(d);
    unlink(path);
    free(path);
}

/* ---- S3 ------------------------------------------------------------------------------- */

static struct delivery *open_s3(const char *secret, const char *region, const char *bucket,
                                const char *public_base, const char *session_token)
{
    struct delivery_options o = {
        .backend = "s3",
        .timeout_ms = 20000,
        .s3 = {.bucket = bucket ? bucket : env("FAKE_S3_BUCKET"),
               .region = region ? region : env("FAKE_S3_REGION"),
               .access_key = env("FAKE_S3_ACCESS"),
               .secret_key = secret ? secret : env("FAKE_S3_SECRET"),
               .session_token = session_token,
               .endpoint = env("FAKE_S3_URL"),
               .key_prefix = "primers/",
               .public_base_url = public_base,
               .presign_seconds = 600},
    };
    struct delivery *d = NULL;
    char err[512] = "";
    int rc = delivery_open(&o, &d, err, sizeof err);
    if (rc)
        fail_msg("delivery_open(s3): %s", err);
    return d;
}

static size_t s3_objects(void)
{
    json_t *j = fake_state(env("FAKE_S3_URL"));
    size_t n = json_array_size(json_object_get(j, "objects"));
    json_decref(j);
    return n;
}

static void s3_upload_presigned_remove(void **state)
{
    (void)state;
    NEED_ENV("FAKE_S3_URL");
    struct delivery *d = open_s3(NULL, NULL, NULL, NULL, NULL);
    char *path = make_file("s3.mp4", (size_t)(2.5 * 1024 * 1024), 8); /* Expect: 100-continue */
    struct delivery_link link;
    char err[512] = "";
    int rc = delivery_upload(d, path, "primer-1042.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("s3 upload: %s", err);
    char *prefix = xasprintf("%s/%s/primers/", env("FAKE_S3_URL"), env("FAKE_S3_BUCKET"));
    assert_true(strncmp(link.url, prefix, strlen(prefix)) == 0);
    assert_non_null(strstr(link.url, "/primer-1042.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
    assert_non_null(strstr(link.url, "&X-Amz-Expires=600&"));
    assert_true(strncmp(link.handle, "s3:primers/", 11) == 0);
    assert_link_serves(link.url, path);

    json_t *st = fake_state(env("FAKE_S3_URL"));
    json_t *obj = json_array_get(json_object_get(st, "objects"), 0);
    assert_string_equal(json_string_value(json_object_get(obj, "key")), link.handle + 3);
    assert_string_equal(json_string_value(json_object_get(obj, "content_type")), "video/mp4");
    json_decref(st);

    /* The presigned link is really signed: one changed digit is refused. */
    char *tampered = xstrdup(link.url);
    char *sig = strstr(tampered, "X-Amz-Signature=") + strlen("X-Amz-Signature=");
    sig[0] = sig[0] == '0' ? '1' : '0';
    assert_int_equal(http_get(tampered, NULL, NULL), 403);

    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    assert_int_equal(s3_objects(), 0);
    assert_int_equal(http_get(link.url, NULL, NULL), 404);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);

    free(tampered);
    free(prefix);
    delivery_link_free(&link);
    unlink(path);
    free(path);
    delivery_close(d);
}

static void s3_public_base_url(void **state)
{
    (void)state;
    NEED_ENV("FAKE_S3_URL");
    struct delivery *d = open_s3(NULL, NULL, NULL, "https://cdn.example.com/media/", NULL);
    char *path = make_file("p.mp4", 777, 9);
    struct delivery_link link;
    char err[512] = "";
    assert_int_equal(delivery_upload(d, path, "p.mp4", "video/mp4", &link, err, sizeof err), 0);
    char *want = xasprintf("https://cdn.example.com/media/%s", link.handle + 3);
    assert_string_equal(link.url, want);
    assert_int_equal(s3_objects(), 1);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    assert_int_equal(s3_objects(), 0);
    free(want);
    delivery_link_free(&link);
    unlink(path);
    free(path);
    delivery_close(d);
}

static void s3_refusals_are_clear(void **state)
{
    (void)state;
    NEED_ENV("FAKE_S3_URL");
    char *path = make_file("x.mp4", 300, 10);
    struct delivery_link link;
    char err[512] = "";

    struct delivery *d = open_s3("not-the-secret", NULL, NULL, NULL, NULL);
    assert_int_equal(delivery_upload(d, path, "x.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_AUTH);
    print_message("bad secret: %s\n", err);
    assert_non_null(strstr(err, "SignatureDoesNotMatch"));
    assert_non_null(strstr(err, "secret access key"));
    delivery_close(d);

    d = open_s3(NULL, "eu-west-1", NULL, NULL, NULL);
    assert_int_equal(delivery_upload(d, path, "x.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_AUTH);
    assert_non_null(strstr(err, "AuthorizationHeaderMalformed"));
    delivery_close(d);

    d = open_s3(NULL, NULL, "no-such-bucket", NULL, NULL);
    assert_int_equal(delivery_upload(d, path, "x.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_CONFIG);
    assert_non_null(strstr(err, "NoSuchBucket"));
    delivery_close(d);

    struct delivery_options o = {.backend = "s3",
                                 .s3 = {.bucket = env("FAKE_S3_BUCKET"),
                                        .region = env("FAKE_S3_REGION"),
                                        .access_key = "AKIDUNKNOWN",
                                        .secret_key = env("FAKE_S3_SECRET"),
                                        .endpoint = env("FAKE_S3_URL")}};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), 0);
    assert_int_equal(delivery_upload(d, path, "x.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_AUTH);
    assert_non_null(strstr(err, "InvalidAccessKeyId"));
    delivery_close(d);

    assert_int_equal(s3_objects(), 0);
    unlink(path);
    free(path);
}

static void s3_slowdown_is_retried(void **state)
{
    (void)state;
    NEED_ENV("FAKE_S3_URL");
    struct delivery *d = open_s3(NULL, NULL, NULL, NULL, NULL);
    char *path = make_file("slow.mp4", 4000, 11);
    http_post_json(env("FAKE_S3_URL"), "/__fake/control", "{\"fail_puts\": 1}");
    struct delivery_link link;
    char err[512] = "";
    int rc = delivery_upload(d, path, "slow.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("upload after SlowDown: %s", err);
    assert_link_serves(link.url, path);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);
    unlink(path);
    free(path);
    delivery_close(d);
}

static void s3_session_token(void **state)
{
    (void)state;
    NEED_ENV("FAKE_S3_URL");
    const char *token = "FQoGZXIvYXdzEtoken/with+specials=";
    http_post_json(env("FAKE_S3_URL"), "/__fake/control",
                   "{\"session_token\": \"FQoGZXIvYXdzEtoken/with+specials=\"}");
    char *path = make_file("st.mp4", 2000, 12);
    struct delivery_link link;
    char err[512] = "";
    struct delivery *d = open_s3(NULL, NULL, NULL, NULL, token);
    int rc = delivery_upload(d, path, "st.mp4", "video/mp4", &link, err, sizeof err);
    if (rc)
        fail_msg("upload with a session token: %s", err);
    assert_non_null(strstr(link.url, "X-Amz-Security-Token="));
    assert_link_serves(link.url, path);
    assert_int_equal(delivery_remove(d, link.handle, err, sizeof err), 0);
    delivery_link_free(&link);
    delivery_close(d);

    d = open_s3(NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(delivery_upload(d, path, "st.mp4", "video/mp4", &link, err, sizeof err),
                     ERR_AUTH);
    assert_non_null(strstr(err, "InvalidToken"));
    delivery_close(d);
    http_post_json(env("FAKE_S3_URL"), "/__fake/control", "{\"session_token\": null}");
    unlink(path);
    free(path);
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/test_delivery_cloud.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

/* Removes the scratch directory, with whatever a failed test left in it. */
static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", tmp_dir, e->d_name);
        unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
    return rmdir(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gdrive_upload_share_remove),
        cmocka_unit_test(gdrive_token_cached_reminted_renewed),
        cmocka_unit_test(gdrive_resumable_upload_and_resume),
        cmocka_unit_test(gdrive_backend_error_is_retried),
        cmocka_unit_test(gdrive_bad_key_is_err_auth),
        cmocka_unit_test(gdrive_folder_problems_are_err_config),
        cmocka_unit_test(s3_upload_presigned_remove),
        cmocka_unit_test(s3_public_base_url),
        cmocka_unit_test(s3_refusals_are_clear),
        cmocka_unit_test(s3_slowdown_is_retried),
        cmocka_unit_test(s3_session_token),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
