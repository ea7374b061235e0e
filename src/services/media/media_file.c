/* media_file — file, argv and format helpers of the media room. See media.h.
 *
 * Small pieces the speech and render services share: whole-file reads with a
 * bound, writes through a temporary name and rename, argv arrays that own
 * their formatted strings, ffmpeg filtergraph escaping, WAV headers, and a
 * sniff of what a downloaded body really is (a JSON error page served with
 * status 200 must not be saved as "audio"). */
#define _POSIX_C_SOURCE 200809L
#include "services/media/media.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

char *media_path(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

long long media_file_size(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (long long)st.st_size;
}

int media_read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
    buf_reset(out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "could not open %s: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    int rc = 0;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((max && out->len + n > max) || buf_append(out, chunk, n) != 0) {
            snprintf(err, errlen, "%s is larger than %zu bytes", path, max ? max : out->max);
            rc = ERR_LIMIT;
            break;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "could not read %s: %s", path, strerror(errno));
        rc = ERR_IO;
    }
    fclose(f);
    return rc;
}

char *media_temp_name(const char *path, const char *ext)
{
    if (ext && *ext)
        return xasprintf("%s.tmp.%ld.%s", path, (long)getpid(), ext);
    return xasprintf("%s.tmp.%ld", path, (long)getpid());
}

int media_commit(const char *tmp, const char *path, char *err, size_t errlen)
{
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "could not move %s into place: %s", path, strerror(errno));
        unlink(tmp);
        return ERR_IO;
    }
    return 0;
}

int media_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char *tmp = media_temp_name(path, NULL);
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "could not create %s: %s", tmp, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "could not write %s: %s", path, strerror(errno));
        unlink(tmp);
        rc = ERR_IO;
        goto out;
    }
    rc = media_commit(tmp, path, err, errlen);
out:
    free(tmp);
    return rc;
}

const char *media_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

const char *media_mime_type(const char *path)
{
    static const struct {
        const char *ext, *mime;
    } table[] = {
        {"wav", "audio/wav"},   {"mp3", "audio/mpeg"}, {"m4a", "audio/mp4"},
        {"aac", "audio/aac"},   {"ogg", "audio/ogg"},  {"opus", "audio/ogg"},
        {"flac", "audio/flac"}, {"mp4", "video/mp4"},  {"mov", "video/quicktime"},
        {"webm", "video/webm"},
    };
    const char *ext = media_extension(path);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(ext, table[i].ext) == 0)
            return table[i].mime;
    return "application/octet-stream";
}

/* ---- argv --------------------------------------------------------------- */

void media_argv_init(struct media_argv *a)
{
    memset(a, 0, sizeof *a);
}

void media_argv_add(struct media_argv *a, const char *s)
{
    if (a->n >= MEDIA_MAX_ARGS) {
        a->overflow = true;
        return;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void media_argv_take(struct media_argv *a, char *s)
{
    if (a->n >= MEDIA_MAX_ARGS || a->n_owned >= MEDIA_MAX_ARGS) {
        a->overflow = true;
        free(s);
        return;
    }
    a->owned[a->n_owned++] = s;
    media_argv_add(a, s);
}

void media_argv_addf(struct media_argv *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct buf b;
    buf_init(&b, 0);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    media_argv_take(a, buf_steal(&b));
}

void media_argv_file(struct media_argv *a, const char *path)
{
    media_argv_take(a, xasprintf("file:%s", path));
}

int media_argv_check(const struct media_argv *a, char *err, size_t errlen)
{
    if (!a->overflow)
        return 0;
    snprintf(err, errlen, "too many program arguments (more than %d)", MEDIA_MAX_ARGS);
    return ERR_LIMIT;
}

void media_argv_free(struct media_argv *a)
{
    for (int i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    memset(a, 0, sizeof *a);
}

/* ---- formats ------------------------------------------------------------ */

static void media_escape_into(struct buf *out, const char *s, const char *special)
{
    for (; *s; s++) {
        if (strchr(special, *s))
            buf_append_char(out, '\\');
        buf_append_char(out, *s);
    }
}

char *media_filter_escape(const char *value)
{
    struct buf level1, level2;
    buf_init(&level1, 0);
    buf_init(&level2, 0);
    media_escape_into(&level1, value ? value : "", "\\':");
    media_escape_into(&level2, buf_str(&level1), "\\'[],;");
    buf_free(&level1);
    return buf_steal(&level2);
}

static void media_put_le(unsigned char *p, unsigned long v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void media_wav_header(unsigned char h[44], int sample_rate, int channels, size_t data_bytes)
{
    unsigned long data = data_bytes > 0xFFFFFFD0ul ? 0xFFFFFFD0ul : (unsigned long)data_bytes;
    memcpy(h, "RIFF", 4);
    media_put_le(h + 4, 36 + data, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    media_put_le(h + 16, 16, 4);
    media_put_le(h + 20, 1, 2); /* PCM */
    media_put_le(h + 22, (unsigned long)channels, 2);
    media_put_le(h + 24, (unsigned long)sample_rate, 4);
    media_put_le(h + 28, (unsigned long)sample_rate * (unsigned long)channels * 2, 4);
    media_put_le(h + 32, (unsigned long)channels * 2, 2);
    media_put_le(h + 34, 16, 2);
    memcpy(h + 36, "data", 4);
    media_put_le(h + 40, data, 4);
}

bool media_looks_like(const char *kind, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!p || len == 0)
        return false;
    if (strcmp(kind, "wav") == 0)
        return len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0;
    if (strcmp(kind, "mp3") == 0)
        return (len >= 3 && memcmp(p, "ID3", 3) == 0) ||
               (len >= 2 && p[0] == 0xFF && (p[1] & 0xE0) == 0xE0);
    if (strcmp(kind, "pcm") == 0)
        return len % 2 == 0;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    return i < len && p[i] != '{' && p[i] != '<' && p[i] != '[';
}
