/* log — leveled logging with secret redaction. See log.h.
 *
 * Secrets are few (a handful of keys), so redaction is a plain scan per
 * secret; records are formatted into a bounded buffer first, redacted, then
 * written with one fputs so lines from threads do not interleave. */
#define _POSIX_C_SOURCE 200809L
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define LOG_MAX_SECRETS 32
#define LOG_MAX_RECORD  16384

static enum log_level current_level = LOG_WARN;
static FILE *log_file;
static char *secrets[LOG_MAX_SECRETS];
static size_t n_secrets;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

int log_set_level_name(const char *name)
{
    for (int i = LOG_DEBUG; i <= LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            current_level = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

int log_open(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return ERR_IO;
    log_close();
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
    return 0;
}

void log_close(void)
{
    if (log_file)
        fclose(log_file);
    log_file = NULL;
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4 || n_secrets == LOG_MAX_SECRETS)
        return;
    for (size_t i = 0; i < n_secrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return;
    secrets[n_secrets++] = xstrdup(secret);
}

char *log_redact(const char *text)
{
    char *out = xstrdup(text);
    for (size_t i = 0; i < n_secrets; i++) {
        const char *hit = strstr(out, secrets[i]);
        if (!hit)
            continue;
        struct buf b;
        buf_init(&b, 0);
        const char *p = out;
        size_t slen = strlen(secrets[i]);
        while ((hit = strstr(p, secrets[i])) != NULL) {
            buf_append(&b, p, (size_t)(hit - p));
            buf_append_str(&b, "[REDACTED]");
            p = hit + slen;
        }
        buf_append_str(&b, p);
        free(out);
        out = buf_steal(&b);
    }
    return out;
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    if (level < current_level || level >= LOG_OFF)
        return;
    struct buf line;
    buf_init(&line, LOG_MAX_RECORD);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&line, "%s %s %s: ", stamp, level_names[level], component);
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(&line, fmt, ap) == ERR_LIMIT)
        buf_append_str(&line, "…(truncated)");
    va_end(ap);
    char *safe = log_redact(buf_str(&line));
    buf_free(&line);
    FILE *f = log_file ? log_file : stderr;
    fprintf(f, "%s\n", safe);
    free(safe);
}

void log_reset(void)
{
    for (size_t i = 0; i < n_secrets; i++)
        free(secrets[i]);
    n_secrets = 0;
    log_close();
}
