/* test_delivery — the delivery service without a network: the local folder
 * (upload, link, atomic publish, the URL-path mapping `harde serve` uses and
 * everything it must refuse — traversal, unknown tokens, symlinks — removal
 * and the sweep of crash leftovers), argument checks shared by every
 * backend, configuration, and the signing building blocks held to published
 * vectors: base64url (RFC 4648 §10), SHA-256 (FIPS 180-2 "abc"), an RS256 JWT
 * checked with OpenSSL's verifier, and AWS's documented SigV4 presigned-URL
 * example. The cloud clients against their fakes are in
 * test_delivery_cloud.c (run by tests/e2e/test_delivery.sh). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/delivery/delivery.h"
#include "services/delivery/delivery_sign.h"

#define BASE_URL "http://127.0.0.1:8080"

/* ---- helpers ------------------------------------------------------------------ */

struct fixture {
    char root[512];     /* a fresh temporary directory */
    char data_dir[600]; /* root/data */
    char *dir;          /* data_dir/delivery */
    struct delivery *d;
};

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The whole file as a new string (*len set). */
static char *read_fd(int fd, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    char chunk[4096];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0) {
        out = xrealloc(out, n + (size_t)got + 1);
        memcpy(out + n, chunk, (size_t)got);
        n += (size_t)got;
    }
    out = xrealloc(out, n + 1);
    out[n] = '\0';
    *len = n;
    return out;
}

static void remove_all(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *child = xasprintf("%s/%s", path, e->d_name);
            remove_all(child);
            free(child);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries of dir (not . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/test_delivery.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->data_dir, sizeof f->data_dir, "%s/data", f->root);
    struct delivery_options o = {
        .local = {.data_dir = f->data_dir, .public_base_url = BASE_URL "/"}};
    char err[256] = "";
    assert_int_equal(delivery_open(&o, &f->d, err, sizeof err), 0);
    f->dir = delivery_local_dir(f->data_dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    delivery_close(f->d);
    remove_all(f->root);
    free(f->dir);
    free(f);
    return 0;
}

/* Uploads text as name; returns the link (caller frees). */
static struct delivery_link upload_text(struct fixture *f, const char *name, const char *text,
                                        const char *ctype)
{
    char *src = xasprintf("%s/source.bin", f->root);
    write_file(src, text, strlen(text));
    struct delivery_link link;
    char err[256] = "";
    int rc = delivery_upload(f->d, src, name, ctype, &link, err, sizeof err);
    if (rc)
        print_error("upload failed: %s\n", err);
    assert_int_equal(rc, 0);
    free(src);
    return link;
}

/* The URL path of a local link ("/d/<token>/<name>"), borrowed from link. */
static const char *url_path(const struct delivery_link *link)
{
    assert_true(strncmp(link->url, BASE_URL, strlen(BASE_URL)) == 0);
    return link->url + strlen(BASE_URL);
}

/* ---- local delivery --------------------------------------------------------------- */

static void local_upload_link_and_serve(void **state)
{
    struct fixture *f = *state;
    struct delivery_link link = upload_text(f, "primer-1042.mp4", "fake mp4 bytes", "video/mp4");
    assert_string_equal(delivery_backend_name(f->d), "local");

    /* http://127.0.0.1:8080/d/<32 hex>/primer-1042.mp4, handle local:<same token> */
    const char *path = url_path(&link);
    assert_true(strncmp(path, "/d/", 3) == 0);
    const char *token = path + 3;
    assert_int_equal(strspn(token, "0123456789abcdef"), DELIVERY_TOKEN_HEX);
    assert_string_equal(token + DELIVERY_TOKEN_HEX, "/primer-1042.mp4");
    assert_true(strncmp(link.handle, "local:", 6) == 0);
    assert_memory_equal(link.handle + 6, token, DELIVERY_TOKEN_HEX);
    assert_int_equal(strlen(link.handle), 6 + DELIVERY_TOKEN_HEX);

    struct delivery_file file;
    assert_int_equal(delivery_local_open(f->dir, path, &file), 0);
    size_t len = 0;
    char *body = read_fd(file.fd, &len);
    close(file.fd);
    assert_string_equal(body, "fake mp4 bytes");
    assert_int_equal(file.size, (int64_t)strlen("fake mp4 bytes"));
    assert_string_equal(file.content_type, "video/mp4");
    free(body);

    char resolved[1024];
    assert_int_equal(delivery_local_resolve(f->dir, path, resolved, sizeof resolved), 0);
    char *want = xasprintf("%s/%.*s/primer-1042.mp4", f->dir, DELIVERY_TOKEN_HEX, token);
    assert_string_equal(resolved, want);
    free(want);
    assert_int_equal(delivery_local_resolve(f->dir, path, resolved, 10), ERR_LIMIT);

    /* Published whole: only the token directory, no temporary left. */
    assert_int_equal(count_entries(f->dir), 1);
    delivery_link_free(&link);
    assert_null(link.url);
    delivery_link_free(NULL);
}

static void local_tokens_are_unique_and_default_type(void **state)
{
    struct fixture *f = *state;
    struct delivery_link a = upload_text(f, "a.txt", "one", NULL);
    struct delivery_link b = upload_text(f, "a.txt", "two", NULL);
    assert_string_not_equal(a.url, b.url);
    assert_string_not_equal(a.handle, b.handle);
    struct delivery_file file;
    assert_int_equal(delivery_local_open(f->dir, url_path(&b), &file), 0);
    size_t len;
    char *body = read_fd(file.fd, &len);
    close(file.fd);
    assert_string_equal(body, "two");
    assert_string_equal(file.content_type, "application/octet-stream");
    free(body);
    delivery_link_free(&a);
    delivery_link_free(&b);
}

static void upload_rejects_bad_arguments(void **state)
{
    struct fixture *f = *state;
    char *src = xasprintf("%s/src.bin", f->root);
    write_file(src, "x", 1);
    struct delivery_link link;
    char err[256];
    char long_name[DELIVERY_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad_names[] = {"",      "../x.mp4", ".hidden", "a/b.mp4", "a b.mp4", "-dash",
                               "a%2fb", "ü.mp4",    "a\\b",    long_name, NULL};
    for (int i = 0; bad_names[i]; i++) {
        err[0] = '\0';
        assert_int_equal(
            delivery_upload(f->d, src, bad_names[i], "video/mp4", &link, err, sizeof err),
            ERR_INVALID);
        assert_non_null(strstr(err, "bad file name"));
        assert_null(link.url);
    }
    assert_int_equal(delivery_upload(f->d, src, NULL, NULL, &link, err, sizeof err), ERR_INVALID);
    long_name[DELIVERY_NAME_MAX] = '\0'; /* exactly the maximum is fine */
    assert_true(delivery_name_valid(long_name));
    assert_true(delivery_name_valid("Primer_1042-v2.final.mp4"));

    assert_int_equal(
        delivery_upload(f->d, src, "a.mp4", "video/mp4\r\nX-Evil: 1", &link, err, sizeof err),
        ERR_INVALID);
    assert_int_equal(delivery_upload(f->d, src, "a.mp4", "nonsense", &link, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(delivery_upload(f->d, src, "a.mp4", "a/\"b\"", &link, err, sizeof err),
                     ERR_INVALID);

    char *missing = xasprintf("%s/nope.mp4", f->root);
    assert_int_equal(delivery_upload(f->d, missing, "a.mp4", NULL, &link, err, sizeof err),
                     ERR_NOT_FOUND);
    assert_non_null(strstr(err, "nope.mp4"));
    assert_int_equal(delivery_upload(f->d, f->root, "a.mp4", NULL, &link, err, sizeof err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(count_entries(f->dir), 0); /* nothing half-made */
    free(missing);
    free(src);
}

static void local_upload_of_empty_file(void **state)
{
    struct fixture *f = *state;
    struct delivery_link link = upload_text(f, "empty.txt", "", "text/plain");
    struct delivery_file file;
    assert_int_equal(delivery_local_open(f->dir, url_path(&link), &file), 0);
    assert_int_equal(file.size, 0);
    close(file.fd);
    delivery_link_free(&link);
}

static void path_mapping_rejects_traversal_and_strangers(void **state)
{
    struct fixture *f = *state;
    struct delivery_link link = upload_text(f, "video.mp4", "secret-free bytes", "video/mp4");
    const char *good = url_path(&link);
    char token[DELIVERY_TOKEN_HEX + 1];
    memcpy(token, good + 3, DELIVERY_TOKEN_HEX);
    token[DELIVERY_TOKEN_HEX] = '\0';

    /* A file outside the folder that traversal would reach. */
    char *outside = xasprintf("%s/outside.txt", f->root);
    write_file(outside, "private", 7);

    char *p[16];
    int n = 0;
    p[n++] = xasprintf("/d/../outside.txt");
    p[n++] = xasprintf("/d/%s/../../outside.txt", token);
    p[n++] = xasprintf("/d/%s/..", token);
    p[n++] = xasprintf("/d/%s/%%2e%%2e%%2foutside.txt", token);
    p[n++] = xasprintf("/d/%s/video.mp4/extra", token);
    p[n++] = xasprintf("/d/%s/", token);
    p[n++] = xasprintf("/d/%s", token);
    p[n++] = xasprintf("/d/%s/.type", token);
    p[n++] = xasprintf("/d/%s/video.mp4?x=1", token);
    p[n++] = xasprintf("/x/%s/video.mp4", token);
    p[n++] = xasprintf("d/%s/video.mp4", token);
    p[n++] = xasprintf("/d/%.31s/video.mp4", token);
    p[n++] = xasprintf("/d/%.31sG/video.mp4", token);
    p[n++] = xasprintf("/d//%s/video.mp4", token);
    p[n++] = xasprintf("/d/.tmp-%s/video.mp4", token);
    char resolved[1024];
    struct delivery_file file;
    for (int i = 0; i < n; i++) {
        if (delivery_local_open(f->dir, p[i], &file) != ERR_INVALID)
            fail_msg("accepted %s", p[i]);
        assert_int_equal(file.fd, -1);
        assert_int_equal(delivery_local_resolve(f->dir, p[i], resolved, sizeof resolved),
                         ERR_INVALID);
        free(p[i]);
    }
    assert_int_equal(delivery_local_open(f->dir, NULL, &file), ERR_INVALID);

    /* Well-formed but unknown: a token never issued, a name not in the token. */
    assert_int_equal(
        delivery_local_open(f->dir, "/d/0123456789abcdef0123456789abcdef/video.mp4", &file),
        ERR_NOT_FOUND);
    char *other = xasprintf("/d/%s/other.mp4", token);
    assert_int_equal(delivery_local_open(f->dir, other, &file), ERR_NOT_FOUND);
    free(other);

    assert_int_equal(delivery_local_open(f->dir, good, &file), 0);
    close(file.fd);
    free(outside);
    delivery_link_free(&link);
}

static void path_mapping_refuses_symlinks_out_of_the_folder(void **state)
{
    struct fixture *f = *state;
    struct delivery_link link = upload_text(f, "video.mp4", "bytes", "video/mp4");
    char token[DELIVERY_TOKEN_HEX + 1];
    memcpy(token, url_path(&link) + 3, DELIVERY_TOKEN_HEX);
    token[DELIVERY_TOKEN_HEX] = '\0';

    /* A planted token directory that is a symlink to a directory outside. */
    char *outdir = xasprintf("%s/elsewhere", f->root);
    assert_int_equal(mkdir(outdir, 0755), 0);
    char *outfile = xasprintf("%s/elsewhere/video.mp4", f->root);
    write_file(outfile, "private", 7);
    const char *fake_token = "fedcba9876543210fedcba9876543210";
    char *link_dir = xasprintf("%s/%s", f->dir, fake_token);
    assert_int_equal(symlink(outdir, link_dir), 0);
    char *via_dir = xasprintf("/d/%s/video.mp4", fake_token);
    struct delivery_file file;
    char resolved[1024];
    assert_int_equal(delivery_local_open(f->dir, via_dir, &file), ERR_NOT_FOUND);
    assert_int_equal(delivery_local_resolve(f->dir, via_dir, resolved, sizeof resolved),
                     ERR_NOT_FOUND);

    /* A planted file symlink inside a real token directory. */
    char *link_file = xasprintf("%s/%s/leak.mp4", f->dir, token);
    assert_int_equal(symlink(outfile, link_file), 0);
    char *via_file = xasprintf("/d/%s/leak.mp4", token);
    assert_int_equal(delivery_local_open(f->dir, via_file, &file), ERR_NOT_FOUND);

    /* Not a regular file: a directory with a valid name. */
    char *subdir = xasprintf("%s/%s/sub.mp4", f->dir, token);
    assert_int_equal(mkdir(subdir, 0755), 0);
    char *via_subdir = xasprintf("/d/%s/sub.mp4", token);
    assert_int_equal(delivery_local_open(f->dir, via_subdir, &file), ERR_NOT_FOUND);

    free(outdir);
    free(outfile);
    free(link_dir);
    free(via_dir);
    free(link_file);
    free(via_file);
    free(subdir);
    free(via_subdir);
    delivery_link_free(&link);
}

static void local_remove_is_final_and_idempotent(void **state)
{
    struct fixture *f = *state;
    struct delivery_link keep = upload_text(f, "keep.mp4", "keep", NULL);
    struct delivery_link link = upload_text(f, "gone.mp4", "gone", NULL);
    char err[256] = "";
    assert_int_equal(delivery_remove(f->d, link.handle, err, sizeof err), 0);
    struct delivery_file file;
    assert_int_equal(delivery_local_open(f->dir, url_path(&link), &file), ERR_NOT_FOUND);
    assert_int_equal(count_entries(f->dir), 1); /* only "keep" is left; no .rm- leftover */
    assert_int_equal(delivery_remove(f->d, link.handle, err, sizeof err), 0);
    assert_int_equal(delivery_local_open(f->dir, url_path(&keep), &file), 0);
    close(file.fd);

    const char *bad[] = {"local:",
                         "local:xyz",
                         "local:../../etc",
                         "gdrive:1abc",
                         "s3:key",
                         "local0123456789abcdef0123456789abcdef",
                         "",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(delivery_remove(f->d, bad[i], err, sizeof err), ERR_INVALID);
    assert_int_equal(delivery_remove(f->d, NULL, err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "not a local delivery handle"));
    assert_int_equal(
        delivery_remove(f->d, "local:0123456789ABCDEF0123456789ABCDEF", err, sizeof err),
        ERR_INVALID);

    /* An interrupted removal (renamed, not deleted) finishes on the next call. */
    char token[DELIVERY_TOKEN_HEX + 1];
    memcpy(token, keep.handle + 6, DELIVERY_TOKEN_HEX + 1);
    char *from = xasprintf("%s/%s", f->dir, token);
    char *to = xasprintf("%s/.rm-%s", f->dir, token);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(delivery_remove(f->d, keep.handle, err, sizeof err), 0);
    assert_int_equal(count_entries(f->dir), 0);
    free(from);
    free(to);
    delivery_link_free(&keep);
    delivery_link_free(&link);
}

static void open_sweeps_crash_leftovers(void **state)
{
    struct fixture *f = *state;
    char *stale = xasprintf("%s/.tmp-00000000000000000000000000000001", f->dir);
    char *fresh = xasprintf("%s/.tmp-00000000000000000000000000000002", f->dir);
    char *removing = xasprintf("%s/.rm-00000000000000000000000000000003", f->dir);
    assert_int_equal(mkdir(stale, 0755), 0);
    assert_int_equal(mkdir(fresh, 0755), 0);
    assert_int_equal(mkdir(removing, 0755), 0);
    char *inside = xasprintf("%s/half.mp4", stale);
    write_file(inside, "half", 4);
    struct timeval old[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
    assert_int_equal(utimes(stale, old), 0);

    struct delivery_options o = {.local = {.data_dir = f->data_dir, .public_base_url = BASE_URL}};
    struct delivery *d2 = NULL;
    char err[256];
    assert_int_equal(delivery_open(&o, &d2, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(lstat(stale, &st), -1);
    assert_int_equal(lstat(removing, &st), -1);
    assert_int_equal(lstat(fresh, &st), 0); /* maybe another process is publishing it */
    delivery_close(d2);
    free(stale);
    free(fresh);
    free(removing);
    free(inside);
}

static void open_checks_options(void **state)
{
    struct fixture *f = *state;
    struct delivery *d = NULL;
    char err[256];
    struct delivery_options o = {.local = {.data_dir = f->data_dir}};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "public base URL"));
    assert_null(d);
    o.local.public_base_url = "ftp://x";
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    o = (struct delivery_options){.local = {.public_base_url = BASE_URL}};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    o = (struct delivery_options){.backend = "ftp"};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "unknown backend"));

    o = (struct delivery_options){.backend = "gdrive", .gdrive = {.folder_id = "F1"}};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "key_file"));
    o.gdrive.key_file = "/nonexistent/key.json";
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "/nonexistent/key.json"));
    o.gdrive.folder_id = "bad/folder";
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "folder_id"));

    o = (struct delivery_options){.backend = "s3", .s3 = {.bucket = "b", .region = "us-east-1"}};
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    o.s3.access_key = "AK";
    o.s3.secret_key = "SK";
    o.s3.endpoint = "http://127.0.0.1:9/path";
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "endpoint"));
    o.s3.endpoint = NULL;
    o.s3.key_prefix = "../up";
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    o.s3.key_prefix = "primers/";
    o.s3.presign_seconds = 604801;
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    o.s3.presign_seconds = 0;
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), 0);
    assert_string_equal(delivery_backend_name(d), "s3");
    assert_int_equal(delivery_remove(d, "s3:other/key", err, sizeof err), ERR_INVALID);
    assert_int_equal(delivery_remove(d, "local:0123", err, sizeof err), ERR_INVALID);
    delivery_close(d);
}

static void gdrive_key_file_checks(void **state)
{
    struct fixture *f = *state;
    struct delivery *d = NULL;
    char err[512];
    char *key = xasprintf("%s/key.json", f->root);
    struct delivery_options o = {.backend = "gdrive",
                                 .gdrive = {.key_file = key, .folder_id = "F1"}};
    write_file(key, "{\"type\": \"authorized_user\"}", 27);
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "not a Google service-account key file"));
    write_file(key, "not json", 8);
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_CONFIG);

    const char *garbage = "{\"type\":\"service_account\",\"client_email\":\"sa@p.iam."
                          "gserviceaccount.com\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n"
                          "bm90IGEga2V5\\n-----END PRIVATE KEY-----\\n\"}";
    write_file(key, garbage, strlen(garbage));
    assert_int_equal(delivery_open(&o, &d, err, sizeof err), ERR_AUTH);
    assert_non_null(strstr(err, "sa@p.iam.gserviceaccount.com"));
    assert_non_null(strstr(err, "unusable"));
    assert_null(d);
    free(key);
}

static void configured_delivery(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct delivery *d = NULL;
    struct config *cfg = config_parse("", "test.ini", err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(delivery_open_configured(cfg, f->data_dir, BASE_URL, &d, err, sizeof err), 0);
    assert_string_equal(delivery_backend_name(d), "local");
    delivery_close(d);
    config_free(cfg);

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    cfg = config_parse("[delivery]\ns3_bucket = primers\ns3_region = us-east-1\n", "test.ini", err,
                       sizeof err);
    assert_non_null(cfg);
    assert_int_equal(delivery_open_configured(cfg, f->data_dir, BASE_URL, &d, err, sizeof err),
                     ERR_CONFIG);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-test-key", 1);
    assert_int_equal(delivery_open_configured(cfg, f->data_dir, BASE_URL, &d, err, sizeof err), 0);
    assert_string_equal(delivery_backend_name(d), "s3");
    delivery_close(d);
    setenv("HARDE_DELIVERY_BACKEND", "local", 1);
    assert_int_equal(delivery_open_configured(cfg, f->data_dir, BASE_URL, &d, err, sizeof err), 0);
    assert_string_equal(delivery_backend_name(d), "local");
    delivery_close(d);
    unsetenv("HARDE_DELIVERY_BACKEND");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    config_free(cfg);
}

/* ---- signing building blocks ------------------------------------------------------ */

static void base64url_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10, without padding, in the URL-safe alphabet (§5). */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *got = delivery_base64url(in[i], strlen(in[i]));
        assert_string_equal(got, out[i]);
        free(got);
    }
    const unsigned char high[] = {0xfb, 0xff, 0xbf};
    char *got = delivery_base64url(high, 3);
    assert_string_equal(got, "-_-_"); /* "+/+/" in standard base64 */
    free(got);
    got = delivery_base64url(high, 2);
    assert_string_equal(got, "-_8");
    free(got);
}

static void sha256_vectors(void **state)
{
    struct fixture *f = *state;
    char hex[DELIVERY_SHA256_HEX];
    delivery_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *path = xasprintf("%s/abc.txt", f->root);
    write_file(path, "abc", 3);
    int64_t size = -1;
    char err[256];
    assert_int_equal(delivery_sha256_file(path, hex, &size, err, sizeof err), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(size, 3);
    write_file(path, "", 0);
    assert_int_equal(delivery_sha256_file(path, hex, &size, err, sizeof err), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(size, 0);
    free(path);
    path = xasprintf("%s/missing", f->root);
    assert_int_equal(delivery_sha256_file(path, hex, &size, err, sizeof err), ERR_NOT_FOUND);
    free(path);
}

/* A throw-away RSA key as PEM (new), and its public half (new reference). */
static char *make_rsa_pem(EVP_PKEY **public_out)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = xstrndup(data, (size_t)n);
    BIO_free(bio);
    *public_out = key;
    return pem;
}

/* Decodes base64url (test-side, written independently of the code). */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
    char *std = xmalloc(len + 4);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        std[n++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (n % 4)
        std[n++] = '=';
    unsigned char *out = xmalloc(n);
    int got = EVP_DecodeBlock(out, (unsigned char *)std, (int)n);
    assert_true(got >= 0);
    size_t pad = (len % 4 == 2) ? 2 : (len % 4 == 3) ? 1 : 0;
    *out_len = (size_t)got - pad;
    free(std);
    return out;
}

static void jwt_rs256_is_verifiable(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    char *pem = make_rsa_pem(&key);
    char *claims = delivery_jwt_claims(
        "sa@proj.iam.gserviceaccount.com", "https://www.googleapis.com/auth/drive",
        "https://oauth2.googleapis.com/token", NULL, 1700000000, 3600);
    assert_string_equal(claims, "{\"iss\":\"sa@proj.iam.gserviceaccount.com\",\"scope\":"
                                "\"https://www.googleapis.com/auth/drive\",\"aud\":"
                                "\"https://oauth2.googleapis.com/token\",\"iat\":1700000000,"
                                "\"exp\":1700003600}");
    char *jwt = NULL, err[256];
    assert_int_equal(delivery_jwt_rs256(pem, claims, &jwt, err, sizeof err), 0);

    const char *dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strpbrk(jwt, "=+/"));
    size_t n;
    unsigned char *header = b64url_decode(jwt, (size_t)(dot1 - jwt), &n);
    assert_int_equal(n, strlen("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"));
    assert_memory_equal(header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", n);
    unsigned char *body = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &n);
    assert_int_equal(n, strlen(claims));
    assert_memory_equal(body, claims, n);
    size_t siglen;
    unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    assert_int_equal(siglen, 256);

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
    /* One flipped bit in the signed text no longer verifies. */
    char *tampered = xstrdup(jwt);
    tampered[(dot1 - jwt) + 2] ^= 1;
    EVP_MD_CTX_reset(ctx);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)tampered, (size_t)(dot2 - jwt)),
        1);
    /* PKCS#1 v1.5 is deterministic: the same claims give the same token. */
    char *again = NULL;
    assert_int_equal(delivery_jwt_rs256(pem, claims, &again, err, sizeof err), 0);
    assert_string_equal(again, jwt);

    char *with_sub = delivery_jwt_claims("a", "s", "u", "boss@example.com", 10, 60);
    assert_string_equal(with_sub, "{\"iss\":\"a\",\"scope\":\"s\",\"aud\":\"u\",\"iat\":10,"
                                  "\"exp\":70,\"sub\":\"boss@example.com\"}");
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    free(with_sub);
    free(again);
    free(tampered);
    free(sig);
    free(body);
    free(header);
    free(jwt);
    free(claims);
    free(pem);
}

static void jwt_refuses_unusable_keys(void **state)
{
    (void)state;
    char *jwt = (char *)1, err[256];
    assert_int_equal(delivery_jwt_rs256("not a key", "{}", &jwt, err, sizeof err), ERR_AUTH);
    assert_null(jwt);
    assert_non_null(strstr(err, "PEM private key"));
    assert_int_equal(delivery_jwt_rs256("", "{}", &jwt, err, sizeof err), ERR_AUTH);
    assert_int_equal(delivery_rsa_key_check(NULL, err, sizeof err), ERR_AUTH);

    /* An EC key is a key, but not for RS256. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = xstrndup(data, (size_t)n);
    assert_int_equal(delivery_jwt_rs256(pem, "{}", &jwt, err, sizeof err), ERR_AUTH);
    assert_non_null(strstr(err, "not an RSA key"));
    BIO_free(bio);
    EVP_PKEY_free(ec);
    free(pem);
}

static void sigv4_presign_matches_aws_example(void **state)
{
    (void)state;
    /* "Authenticating Requests: Using Query Parameters (AWS Signature Version
     * 4)", the example GET of examplebucket/test.txt. */
    struct delivery_presign p = {
        .method = "GET",
        .host = "examplebucket.s3.amazonaws.com",
        .path = "/test.txt",
        .region = "us-east-1",
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        .now = 1369353600, /* 2013-05-24T00:00:00Z */
        .expires_s = 86400,
    };
    char *q = delivery_s3_presign_query(&p);
    assert_string_equal(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
                           "aws4_request"
                           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                           "&X-Amz-SignedHeaders=host"
                           "&X-Amz-Signature="
                           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(q);

    /* A session token is carried (encoded) and signed: the signature changes. */
    p.session_token = "FQoG/token+with=specials";
    q = delivery_s3_presign_query(&p);
    assert_non_null(strstr(q, "&X-Amz-Security-Token=FQoG%2Ftoken%2Bwith%3Dspecials"
                              "&X-Amz-SignedHeaders=host&"));
    assert_null(strstr(q, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
    free(q);

    char *enc = delivery_s3_uri_encode("/bucket/a b/\xc3\xbc~x-y_z.mp4");
    assert_string_equal(enc, "/bucket/a%20b/%C3%BC~x-y_z.mp4");
    free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(local_upload_link_and_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(local_tokens_are_unique_and_default_type, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(local_upload_of_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(path_mapping_rejects_traversal_and_strangers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(path_mapping_refuses_symlinks_out_of_the_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(local_remove_is_final_and_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(open_sweeps_crash_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(open_checks_options, setup, teardown),
        cmocka_unit_test_setup_teardown(gdrive_key_file_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(configured_delivery, setup, teardown),
        cmocka_unit_test(base64url_vectors),
        cmocka_unit_test_setup_teardown(sha256_vectors, setup, teardown),
        cmocka_unit_test(jwt_rs256_is_verifiable),
        cmocka_unit_test(jwt_refuses_unusable_keys),
        cmocka_unit_test(sigv4_presign_matches_aws_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
