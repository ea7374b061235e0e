/* config — INI parsing, environment overrides, the data directory.
 * See config.h. Entries are kept in a small array: configs have tens of keys
 * and are read at start-up, so a linear scan is the simplest correct choice. */
#define _POSIX_C_SOURCE 200809L
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define CONFIG_MAX_FILE    (1024 * 1024)
#define CONFIG_MAX_ENTRIES 1024
#define CONFIG_MAX_NAME    64

struct config_entry {
    char *section;
    char *key;
    char *value;
};

struct config {
    struct config_entry *entries;
    size_t n;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > CONFIG_MAX_NAME)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static void config_set(struct config *cfg, const char *section, const char *key, const char *value)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].section, section) == 0 &&
            strcmp(cfg->entries[i].key, key) == 0) {
            free(cfg->entries[i].value);
            cfg->entries[i].value = xstrdup(value);
            return;
        }
    }
    cfg->entries = xrealloc(cfg->entries, (cfg->n + 1) * sizeof *cfg->entries);
    cfg->entries[cfg->n++] = (struct config_entry){xstrdup(section), xstrdup(key), xstrdup(value)};
}

/* Strips one pair of matching quotes around a value. */
static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static int parse_line(struct config *cfg, char *line, char *section, size_t section_len,
                      const char **problem)
{
    char *s = trim(line);
    if (!*s || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || *trim(close + 1)) {
            *problem = "section header must look like [name]";
            return ERR_PARSE;
        }
        *close = '\0';
        char *name = trim(s + 1);
        if (!valid_name(name)) {
            *problem = "section name must be letters, digits, '_', '-' or '.'";
            return ERR_PARSE;
        }
        snprintf(section, section_len, "%s", name);
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        *problem = "expected `key = value`";
        return ERR_PARSE;
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = unquote(trim(eq + 1));
    if (!valid_name(key)) {
        *problem = "key must be letters, digits, '_', '-' or '.'";
        return ERR_PARSE;
    }
    if (!*section) {
        *problem = "key outside any [section]";
        return ERR_PARSE;
    }
    if (cfg->n >= CONFIG_MAX_ENTRIES) {
        *problem = "too many keys";
        return ERR_LIMIT;
    }
    config_set(cfg, section, key, value);
    return 0;
}

struct config *config_parse(const char *text, const char *name, char *err, size_t errlen)
{
    struct config *cfg = xcalloc(1, sizeof *cfg);
    char section[CONFIG_MAX_NAME + 1] = "";
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        const char *problem = NULL;
        lineno++;
        if (memchr(p, '\0', len) == NULL &&
            parse_line(cfg, line, section, sizeof section, &problem) != 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, problem);
            free(line);
            config_free(cfg);
            return NULL;
        }
        free(line);
        p += len + (nl ? 1 : 0);
    }
    return cfg;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
    if (!path)
        return xcalloc(1, sizeof(struct config));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, CONFIG_MAX_FILE);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    fclose(f);
    if (rc) {
        snprintf(err, errlen, "%s: config file larger than %d bytes", path, CONFIG_MAX_FILE);
        buf_free(&b);
        return NULL;
    }
    if (strlen(buf_str(&b)) != b.len) {
        snprintf(err, errlen, "%s: config file contains a NUL byte", path);
        buf_free(&b);
        return NULL;
    }
    struct config *cfg = config_parse(buf_str(&b), path, err, errlen);
    buf_free(&b);
    return cfg;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg);
}

void config_env_name(const char *section, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "HARDE_%s_%s", section, key);
    for (char *p = out; *p; p++) {
        if (*p == '-' || *p == '.')
            *p = '_';
        else
            *p = (char)toupper((unsigned char)*p);
    }
}

const char *config_get(const struct config *cfg, const char *section, const char *key,
                       const char *def)
{
    char env[2 * CONFIG_MAX_NAME + 16];
    config_env_name(section, key, env, sizeof env);
    const char *v = getenv(env);
    if (v)
        return v;
    if (cfg) {
        for (size_t i = 0; i < cfg->n; i++)
            if (strcmp(cfg->entries[i].section, section) == 0 &&
                strcmp(cfg->entries[i].key, key) == 0)
                return cfg->entries[i].value;
    }
    return def;
}

int config_get_long(const struct config *cfg, const char *section, const char *key, long def,
                    long *out, char *err, size_t errlen)
{
    const char *v = config_get(cfg, section, key, NULL);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *trim(end)) {
        snprintf(err, errlen, "%s.%s: expected a whole number, got \"%s\"", section, key, v);
        return ERR_CONFIG;
    }
    *out = n;
    return 0;
}

int config_get_double(const struct config *cfg, const char *section, const char *key, double def,
                      double *out, char *err, size_t errlen)
{
    const char *v = config_get(cfg, section, key, NULL);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d)) {
        snprintf(err, errlen, "%s.%s: expected a number, got \"%s\"", section, key, v);
        return ERR_CONFIG;
    }
    *out = d;
    return 0;
}

int config_get_bool(const struct config *cfg, const char *section, const char *key, bool def,
                    bool *out, char *err, size_t errlen)
{
    const char *v = config_get(cfg, section, key, NULL);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(err, errlen, "%s.%s: expected true or false, got \"%s\"", section, key, v);
    return ERR_CONFIG;
}

int config_mkdirs(const char *path, unsigned mode)
{
    char *copy = xstrdup(path);
    int rc = 0;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST)
            rc = ERR_IO;
        *p = '/';
        if (rc)
            break;
    }
    if (!rc && mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST)
        rc = ERR_IO;
    free(copy);
    return rc;
}

char *config_data_dir(const struct config *cfg, char *err, size_t errlen)
{
    const char *dir = getenv("HARDE_DATA_DIR");
    char *path;
    if (dir && *dir) {
        path = xstrdup(dir);
    } else if ((dir = config_get(cfg, "harde", "data_dir", NULL)) != NULL && *dir) {
        path = xstrdup(dir);
    } else if ((dir = getenv("XDG_DATA_HOME")) != NULL && *dir) {
        path = xasprintf("%s/harde", dir);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            snprintf(err, errlen, "cannot find a data directory: set HARDE_DATA_DIR or HOME");
            return NULL;
        }
        path = xasprintf("%s/.local/share/harde", home);
    }
    if (config_mkdirs(path, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot create data directory: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}
