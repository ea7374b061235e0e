/* delivery — the front of the delivery service: picks the backend, checks
 * every argument once for all backends, and reads harde.ini. See delivery.h.
 *
 * Owns nothing but the dispatch: each backend (delivery_local.c,
 * delivery_gdrive.c, delivery_s3.c) is a struct starting with struct
 * delivery, whose vtable does the work. Handles carry their backend's name
 * ("gdrive:<id>") so a handle recorded by a run is never handed to the wrong
 * service after a configuration change; the prefix is checked and stripped
 * here. */
#define _POSIX_C_SOURCE 200809L
#include "services/delivery/delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/delivery/delivery_internal.h"

void delivery_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int delivery_random_token(char *out, char *err, size_t errlen)
{
    unsigned char raw[DELIVERY_TOKEN_HEX / 2];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        delivery_set_err(err, errlen, "cannot open /dev/urandom: %s", strerror(errno));
        return ERR_IO;
    }
    while (got < sizeof raw) {
        ssize_t n = read(fd, raw + got, sizeof raw - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            delivery_set_err(err, errlen, "cannot read /dev/urandom");
            return ERR_IO;
        }
        got += (size_t)n;
    }
    close(fd);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[DELIVERY_TOKEN_HEX] = '\0';
    return 0;
}

static bool delivery_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool delivery_name_valid(const char *name)
{
    if (!name || !delivery_alnum(name[0]))
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (n >= DELIVERY_NAME_MAX || !(delivery_alnum(*p) || *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

bool delivery_id_valid(const char *s, size_t max)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (n >= max || !(delivery_alnum(*p) || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* type/subtype with optional parameters, printable ASCII, no quotes or
 * backslashes (it goes into headers and a multipart body verbatim). */
static bool delivery_content_type_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DELIVERY_CONTENT_TYPE_MAX || !strchr(s, '/'))
        return false;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return false;
    return true;
}

char *delivery_trim_url(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return xstrndup(url, n);
}

long delivery_timeout_ms(const struct delivery_options *opts)
{
    return opts->timeout_ms > 0 ? opts->timeout_ms : DELIVERY_DEFAULT_TIMEOUT_MS;
}

/* ---- the interface ---------------------------------------------------------- */

int delivery_open(const struct delivery_options *opts, struct delivery **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    const char *backend = opts->backend && *opts->backend ? opts->backend : "local";
    if (strcmp(backend, "local") == 0)
        return delivery_local_new(opts, out, err, errlen);
    if (strcmp(backend, "gdrive") == 0)
        return delivery_gdrive_new(opts, out, err, errlen);
    if (strcmp(backend, "s3") == 0)
        return delivery_s3_new(opts, out, err, errlen);
    delivery_set_err(err, errlen, "delivery: unknown backend \"%s\" (local, gdrive or s3)",
                     backend);
    return ERR_CONFIG;
}

void delivery_close(struct delivery *d)
{
    if (d)
        d->backend->close(d);
}

const char *delivery_backend_name(const struct delivery *d)
{
    return d->backend->name;
}

void delivery_link_free(struct delivery_link *link)
{
    if (!link)
        return;
    free(link->url);
    free(link->handle);
    link->url = link->handle = NULL;
}

/* Checks the file to upload: 0 with *size, or an error with err set. */
static int delivery_check_file(const char *path, int64_t *size, char *err, size_t errlen)
{
    struct stat st;
    if (!path || !*path) {
        delivery_set_err(err, errlen, "delivery: no file to upload");
        return ERR_INVALID;
    }
    if (stat(path, &st) != 0) {
        int e = errno;
        delivery_set_err(err, errlen, "delivery: cannot read %s: %s", path, strerror(e));
        return e == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        delivery_set_err(err, errlen, "delivery: %s is not a regular file", path);
        return ERR_INVALID;
    }
    if ((int64_t)st.st_size > DELIVERY_MAX_FILE_BYTES) {
        delivery_set_err(err, errlen, "delivery: %s is larger than %lld bytes", path,
                         (long long)DELIVERY_MAX_FILE_BYTES);
        return ERR_LIMIT;
    }
    *size = (int64_t)st.st_size;
    return 0;
}

int delivery_upload(struct delivery *d, const char *path, const char *name,
                    const char *content_type, struct delivery_link *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!content_type)
        content_type = "application/octet-stream";
    if (!delivery_name_valid(name)) {
        delivery_set_err(err, errlen,
                         "delivery: bad file name \"%.*s\" (1-%d characters of A-Z a-z 0-9 . _ -, "
                         "starting with a letter or digit)",
                         DELIVERY_NAME_MAX, name ? name : "", DELIVERY_NAME_MAX);
        return ERR_INVALID;
    }
    if (!delivery_content_type_valid(content_type)) {
        delivery_set_err(err, errlen, "delivery: bad content type \"%.*s\"",
                         DELIVERY_CONTENT_TYPE_MAX, content_type);
        return ERR_INVALID;
    }
    int64_t size = 0;
    int rc = delivery_check_file(path, &size, err, errlen);
    if (rc)
        return rc;
    rc = d->backend->upload(d, path, size, name, content_type, out, err, errlen);
    if (rc)
        delivery_link_free(out);
    return rc;
}

int delivery_remove(struct delivery *d, const char *handle, char *err, size_t errlen)
{
    size_t n = strlen(d->backend->name);
    if (!handle || strlen(handle) > DELIVERY_HANDLE_MAX ||
        strncmp(handle, d->backend->name, n) != 0 || handle[n] != ':' || !handle[n + 1]) {
        delivery_set_err(err, errlen, "delivery: \"%.64s\" is not a %s delivery handle",
                         handle ? handle : "", d->backend->name);
        return ERR_INVALID;
    }
    return d->backend->remove(d, handle + n + 1, err, errlen);
}

/* ---- harde.ini ---------------------------------------------------------------- */

static const char *delivery_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *delivery_conf(const struct config *cfg, const char *key)
{
    const char *v = config_get(cfg, "delivery", key, NULL);
    return v && *v ? v : NULL;
}

int delivery_open_configured(const struct config *cfg, const char *data_dir,
                             const char *public_base_url, struct delivery **out, char *err,
                             size_t errlen)
{
    *out = NULL;
    long timeout_ms = 0, presign = 0;
    int rc;
    if ((rc = config_get_long(cfg, "delivery", "timeout_ms", 0, &timeout_ms, err, errlen)) ||
        (rc = config_get_long(cfg, "delivery", "s3_presign_seconds", 0, &presign, err, errlen)))
        return rc;
    const char *key_file = delivery_conf(cfg, "gdrive_key_file");
    const char *bucket = delivery_conf(cfg, "s3_bucket");
    const char *def = key_file ? "gdrive" : bucket ? "s3" : "local";
    struct delivery_options o = {
        .backend = config_get(cfg, "delivery", "backend", def),
        .timeout_ms = timeout_ms,
        .local = {.data_dir = data_dir, .public_base_url = public_base_url},
        .gdrive = {.key_file = key_file,
                   .folder_id = delivery_conf(cfg, "gdrive_folder_id"),
                   .api_base = delivery_conf(cfg, "gdrive_api_base"),
                   .scope = delivery_conf(cfg, "gdrive_scope"),
                   .subject = delivery_conf(cfg, "gdrive_subject")},
        .s3 = {.bucket = bucket,
               .region = delivery_conf(cfg, "s3_region"),
               .access_key = delivery_env("AWS_ACCESS_KEY_ID"),
               .secret_key = delivery_env("AWS_SECRET_ACCESS_KEY"),
               .session_token = delivery_env("AWS_SESSION_TOKEN"),
               .endpoint = delivery_conf(cfg, "s3_endpoint"),
               .key_prefix = delivery_conf(cfg, "s3_prefix"),
               .public_base_url = delivery_conf(cfg, "s3_public_base_url"),
               .presign_seconds = presign},
    };
    if (strcmp(o.backend, "s3") == 0) {
        log_add_secret(o.s3.secret_key);
        log_add_secret(o.s3.session_token);
    }
    return delivery_open(&o, out, err, errlen);
}
