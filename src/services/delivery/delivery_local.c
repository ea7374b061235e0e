/* delivery_local — the delivery folder: DATA_DIR/delivery/<token>/<name>,
 * linked as {public_base_url}/d/<token>/<name>. See delivery.h.
 *
 * Owns the folder. A token directory appears whole or not at all: the file
 * is copied (with a `.type` file holding its content type) into
 * `.tmp-<token>`, both are fsync'd, and the directory is renamed to <token>,
 * so `harde serve` never sees half a video. Removal renames <token> to
 * `.rm-<token>` first, then deletes it, so a link stops working at once even
 * if the deletion is interrupted. Entries starting with '.' are never served
 * (names must start with a letter or digit); stale `.tmp-` (older than an
 * hour) and `.rm-` leftovers of a crashed process are swept when a delivery
 * is opened.
 *
 * Serving maps a URL path to an open descriptor with openat(O_NOFOLLOW) on
 * each component below the folder, so neither "..", nor an encoded escape,
 * nor a symlink planted in the folder can lead outside it. */
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, fdopendir */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/delivery/delivery_internal.h"

#define LOCAL_TYPE_FILE  ".type"
#define LOCAL_TMP_PREFIX ".tmp-"
#define LOCAL_RM_PREFIX  ".rm-"
#define LOCAL_STALE_S    3600
#define LOCAL_COPY_CHUNK (256u << 10)

struct delivery_local {
    struct delivery base;
    char *dir;      /* DATA_DIR/delivery */
    char *base_url; /* without trailing '/' */
};

char *delivery_local_dir(const char *data_dir)
{
    return xasprintf("%s/delivery", data_dir);
}

/* ---- small file helpers ---------------------------------------------------- */

static int local_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void local_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Deletes dir/name, a directory holding only files. 0 or -1 (errno set). */
static int local_remove_tree(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rc = 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOTDIR || errno == ELOOP ? unlink(path) : -1;
        goto out;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        rc = -1;
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = -1;
out:
    free(path);
    return rc;
}

/* Removes `.rm-*` leftovers and `.tmp-*` ones older than LOCAL_STALE_S. */
static void local_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool rm = strncmp(e->d_name, LOCAL_RM_PREFIX, strlen(LOCAL_RM_PREFIX)) == 0;
        bool tmp = strncmp(e->d_name, LOCAL_TMP_PREFIX, strlen(LOCAL_TMP_PREFIX)) == 0;
        struct stat st;
        if (!rm && !tmp)
            continue;
        if (tmp && (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    now - st.st_mtime < LOCAL_STALE_S))
            continue;
        local_remove_tree(dir, e->d_name);
    }
    closedir(d);
}

/* Copies src into a new file dst (O_EXCL) and fsyncs it. */
static int local_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    int rc = 0;
    char *chunk = NULL;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = -1;
    if (in < 0) {
        int e = errno;
        delivery_set_err(err, errlen, "delivery: cannot open %s: %s", src, strerror(e));
        return e == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        delivery_set_err(err, errlen, "delivery: cannot create %s: %s", dst, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    chunk = xmalloc(LOCAL_COPY_CHUNK);
    for (;;) {
        ssize_t n = read(in, chunk, LOCAL_COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            delivery_set_err(err, errlen, "delivery: cannot read %s: %s", src, strerror(errno));
            rc = ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        if (local_write_all(out, chunk, (size_t)n) != 0) {
            delivery_set_err(err, errlen, "delivery: cannot write %s: %s", dst, strerror(errno));
            rc = ERR_IO;
            goto out;
        }
    }
    if (fsync(out) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot sync %s: %s", dst, strerror(errno));
        rc = ERR_IO;
    }
out:
    free(chunk);
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

static int local_write_text(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || local_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ERR_IO;
    }
    close(fd);
    return 0;
}

/* ---- the backend ------------------------------------------------------------- */

static int local_upload(struct delivery *d, const char *path, int64_t size, const char *name,
                        const char *content_type, struct delivery_link *out, char *err,
                        size_t errlen)
{
    struct delivery_local *l = (struct delivery_local *)d;
    char token[DELIVERY_TOKEN_HEX + 1];
    int rc = delivery_random_token(token, err, errlen);
    if (rc)
        return rc;
    char *tmp = xasprintf("%s/" LOCAL_TMP_PREFIX "%s", l->dir, token);
    char *final = xasprintf("%s/%s", l->dir, token);
    char *file = xasprintf("%s/%s", tmp, name);
    char *type = xasprintf("%s/" LOCAL_TYPE_FILE, tmp);
    if (mkdir(tmp, 0755) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot create %s: %s", tmp, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if ((rc = local_copy(path, file, err, errlen)) ||
        (rc = local_write_text(type, content_type, err, errlen)))
        goto fail;
    local_fsync_dir(tmp);
    if (rename(tmp, final) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot publish %s: %s", final, strerror(errno));
        rc = ERR_IO;
        goto fail;
    }
    local_fsync_dir(l->dir);
    out->url = xasprintf("%s" DELIVERY_LOCAL_PREFIX "%s/%s", l->base_url, token, name);
    out->handle = xasprintf("local:%s", token);
    goto out;
fail:
    local_remove_tree(l->dir, tmp + strlen(l->dir) + 1);
out:
    free(tmp);
    free(final);
    free(file);
    free(type);
    return rc;
}

static bool local_token_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == DELIVERY_TOKEN_HEX;
}

static int local_remove(struct delivery *d, const char *id, char *err, size_t errlen)
{
    struct delivery_local *l = (struct delivery_local *)d;
    if (!local_token_valid(id)) {
        delivery_set_err(err, errlen, "delivery: \"local:%.64s\" is not a local delivery handle",
                         id);
        return ERR_INVALID;
    }
    char *from = xasprintf("%s/%s", l->dir, id);
    char *to = xasprintf("%s/" LOCAL_RM_PREFIX "%s", l->dir, id);
    int rc = 0;
    if (rename(from, to) != 0) {
        if (errno != ENOENT) {
            delivery_set_err(err, errlen, "delivery: cannot remove %s: %s", from, strerror(errno));
            rc = ERR_IO;
            goto out;
        }
        /* Gone already, or a removal was interrupted after the rename. */
        struct stat st;
        if (lstat(to, &st) != 0)
            goto out;
    }
    if (local_remove_tree(l->dir, to + strlen(l->dir) + 1) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot delete %s: %s", to, strerror(errno));
        rc = ERR_IO;
    }
out:
    free(from);
    free(to);
    return rc;
}

static void local_close(struct delivery *d)
{
    struct delivery_local *l = (struct delivery_local *)d;
    free(l->dir);
    free(l->base_url);
    free(l);
}

static const struct delivery_backend local_backend = {
    .name = "local",
    .upload = local_upload,
    .remove = local_remove,
    .close = local_close,
};

int delivery_local_new(const struct delivery_options *opts, struct delivery **out, char *err,
                       size_t errlen)
{
    if (!opts->local.data_dir || !*opts->local.data_dir) {
        delivery_set_err(err, errlen, "delivery: the local backend needs a data directory");
        return ERR_CONFIG;
    }
    const char *base = opts->local.public_base_url;
    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)) {
        delivery_set_err(err, errlen,
                         "delivery: the local backend needs the public base URL of `harde "
                         "serve` (http://HOST:PORT), got \"%s\"",
                         base ? base : "");
        return ERR_CONFIG;
    }
    char *dir = delivery_local_dir(opts->local.data_dir);
    if (config_mkdirs(dir, 0755) != 0) {
        delivery_set_err(err, errlen, "delivery: cannot create %s: %s", dir, strerror(errno));
        free(dir);
        return ERR_IO;
    }
    local_sweep(dir);
    struct delivery_local *l = xcalloc(1, sizeof *l);
    l->base.backend = &local_backend;
    l->dir = dir;
    l->base_url = delivery_trim_url(base);
    *out = &l->base;
    return 0;
}

/* ---- serving ------------------------------------------------------------------- */

/* Splits "/d/<token>/<name>" into its parts (copied into token and name);
 * 0 or ERR_INVALID. */
static int local_parse_path(const char *url_path, char *token, char *name)
{
    size_t plen = strlen(DELIVERY_LOCAL_PREFIX);
    if (!url_path || strncmp(url_path, DELIVERY_LOCAL_PREFIX, plen) != 0)
        return ERR_INVALID;
    const char *t = url_path + plen;
    const char *slash = strchr(t, '/');
    if (!slash || (size_t)(slash - t) != DELIVERY_TOKEN_HEX)
        return ERR_INVALID;
    memcpy(token, t, DELIVERY_TOKEN_HEX);
    token[DELIVERY_TOKEN_HEX] = '\0';
    if (!local_token_valid(token))
        return ERR_INVALID;
    const char *n = slash + 1;
    if (strlen(n) > DELIVERY_NAME_MAX || !delivery_name_valid(n))
        return ERR_INVALID; /* also rejects '/', '%', '?', '\\' and a leading '.' */
    strcpy(name, n);
    return 0;
}

/* Opens dir/token/name without following symlinks below dir; 0 with *fd or
 * an ERR_* code. */
static int local_open_parts(const char *dir, const char *token, const char *name, int *fd,
                            int *token_fd)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ERR_NOT_FOUND;
    int tfd = openat(dfd, token, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (tfd < 0)
        return ERR_NOT_FOUND; /* missing, a symlink (ELOOP) or not a directory */
    int f = openat(tfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0)
            close(f);
        close(tfd);
        return ERR_NOT_FOUND;
    }
    /* Back to blocking reads for the caller. */
    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
    *fd = f;
    *token_fd = tfd;
    return 0;
}

/* The content type stored beside the file, or the default. */
static void local_read_type(int token_fd, char *out, size_t outlen)
{
    snprintf(out, outlen, "application/octet-stream");
    int fd = openat(token_fd, LOCAL_TYPE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    char text[DELIVERY_CONTENT_TYPE_MAX + 1];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return;
    text[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            return;
    snprintf(out, outlen, "%s", text);
}

int delivery_local_open(const char *dir, const char *url_path, struct delivery_file *out)
{
    char token[DELIVERY_TOKEN_HEX + 1], name[DELIVERY_NAME_MAX + 1];
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int rc = local_parse_path(url_path, token, name);
    if (rc)
        return rc;
    int fd, token_fd;
    if ((rc = local_open_parts(dir, token, name, &fd, &token_fd)))
        return rc;
    struct stat st;
    fstat(fd, &st);
    out->fd = fd;
    out->size = (int64_t)st.st_size;
    local_read_type(token_fd, out->content_type, sizeof out->content_type);
    close(token_fd);
    return 0;
}

int delivery_local_resolve(const char *dir, const char *url_path, char *out, size_t outlen)
{
    char token[DELIVERY_TOKEN_HEX + 1], name[DELIVERY_NAME_MAX + 1];
    int rc = local_parse_path(url_path, token, name);
    if (rc)
        return rc;
    int fd, token_fd;
    if ((rc = local_open_parts(dir, token, name, &fd, &token_fd)))
        return rc;
    close(fd);
    close(token_fd);
    int n = snprintf(out, outlen, "%s/%s/%s", dir, token, name);
    return n < 0 || (size_t)n >= outlen ? ERR_LIMIT : 0;
}
