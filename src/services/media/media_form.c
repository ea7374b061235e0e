/* media_form — multipart/form-data bodies. See media_form.h.
 *
 * Layout per part: "--B\r\nContent-Disposition: form-data; name=\"N\""
 * [+ "; filename=\"F\"\r\nContent-Type: T"] "\r\n\r\n" DATA "\r\n"; the
 * body ends with "--B--\r\n". The boundary is 32 hex digits of
 * /dev/urandom (falling back to time and address bits) behind a fixed
 * prefix. */
#define _POSIX_C_SOURCE 200809L
#include "services/media/media_form.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/error.h"

static void media_form_random(char *hex, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, nbytes, f) : 0;
    if (f)
        fclose(f);
    uint64_t x = (uint64_t)clock_now_ns() ^ ((uint64_t)(uintptr_t)hex << 16) ^ (uint64_t)time(0);
    for (size_t i = got; i < nbytes; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        raw[i] = (unsigned char)x;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

void media_form_init_boundary(struct media_form *f, size_t max, const char *boundary)
{
    memset(f, 0, sizeof *f);
    buf_init(&f->body, max ? max : MEDIA_FORM_DEFAULT_MAX);
    snprintf(f->boundary, sizeof f->boundary, "%s", boundary);
    snprintf(f->content_type, sizeof f->content_type,
             "Content-Type: multipart/form-data; boundary=%s", f->boundary);
}

void media_form_init(struct media_form *f, size_t max)
{
    char hex[33];
    media_form_random(hex, 16);
    char boundary[64];
    snprintf(boundary, sizeof boundary, "----harde-form-%s", hex);
    media_form_init_boundary(f, max, boundary);
}

static bool media_form_token_ok(const char *s)
{
    return s && *s && !strpbrk(s, "\"\r\n");
}

static int media_form_head(struct media_form *f, const char *name, const char *filename,
                           const char *content_type)
{
    if (f->finished || !media_form_token_ok(name) || (filename && !media_form_token_ok(filename)) ||
        (content_type && !media_form_token_ok(content_type)))
        return ERR_INVALID;
    int rc = buf_printf(&f->body, "--%s\r\nContent-Disposition: form-data; name=\"%s\"",
                        f->boundary, name);
    if (!rc && filename)
        rc = buf_printf(&f->body, "; filename=\"%s\"\r\nContent-Type: %s", filename,
                        content_type ? content_type : "application/octet-stream");
    if (!rc)
        rc = buf_append_str(&f->body, "\r\n\r\n");
    return rc;
}

static bool media_form_contains(const void *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    const char *p = data;
    for (size_t i = 0; n && i + n <= len; i++)
        if (p[i] == needle[0] && memcmp(p + i, needle, n) == 0)
            return true;
    return false;
}

static int media_form_part(struct media_form *f, const char *name, const char *filename,
                           const char *content_type, const void *data, size_t len)
{
    if (len && !data)
        return ERR_INVALID;
    if (media_form_contains(data, len, f->boundary))
        return ERR_INVALID;
    size_t mark = f->body.len;
    int rc = media_form_head(f, name, filename, content_type);
    if (!rc && len)
        rc = buf_append(&f->body, data, len);
    if (!rc)
        rc = buf_append_str(&f->body, "\r\n");
    if (rc && f->body.len > mark) {
        f->body.len = mark; /* drop the half-written part */
        f->body.data[mark] = '\0';
    }
    return rc;
}

int media_form_field(struct media_form *f, const char *name, const char *value)
{
    return media_form_part(f, name, NULL, NULL, value, value ? strlen(value) : 0);
}

int media_form_file(struct media_form *f, const char *name, const char *filename,
                    const char *content_type, const void *data, size_t len)
{
    if (!filename)
        return ERR_INVALID;
    return media_form_part(f, name, filename, content_type, data, len);
}

int media_form_finish(struct media_form *f)
{
    if (f->finished)
        return 0;
    int rc = buf_printf(&f->body, "--%s--\r\n", f->boundary);
    if (!rc)
        f->finished = true;
    return rc;
}

void media_form_free(struct media_form *f)
{
    buf_free(&f->body);
    memset(f, 0, sizeof *f);
}
