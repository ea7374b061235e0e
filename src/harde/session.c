/* session — sessions as JSON files, written atomically. See session.h. */
#define _POSIX_C_SOURCE 200809L
#include "harde/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SESSION_MAX_FILE (16 * 1024 * 1024)

int session_id_valid(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return n > 0 && n <= SESSION_ID_MAX;
}

void session_init_new(struct harde_session *s)
{
    memset(s, 0, sizeof *s);
    unsigned char raw[8];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof raw) {
        int64_t t = clock_now_ns() ^ (int64_t)getpid() << 32;
        memcpy(raw, &t, sizeof raw);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    llm_messages_init(&s->messages);
    s->created_ms = s->updated_ms = clock_wall_ms();
}

static char *session_path(const char *data_dir, const char *id, const char *suffix)
{
    return xasprintf("%s/sessions/%s.json%s", data_dir, id, suffix);
}

int session_load(const char *data_dir, const char *id, struct harde_session *s, char *err,
                 size_t errlen)
{
    memset(s, 0, sizeof *s);
    llm_messages_init(&s->messages);
    if (!session_id_valid(id)) {
        snprintf(err, errlen, "invalid session id \"%s\" (use letters, digits, '-' and '_')", id);
        return ERR_INVALID;
    }
    char *path = session_path(data_dir, id, "");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    int rc = 0;
    if (!root) {
        if (access(path, F_OK) != 0) {
            snprintf(err, errlen, "no session \"%s\"", id);
            rc = ERR_NOT_FOUND;
        } else {
            snprintf(err, errlen, "%s: line %d: %s", path, jerr.line, jerr.text);
            rc = ERR_PARSE;
        }
        goto out;
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    const char *agent = json_string_value(json_object_get(root, "active_agent"));
    s->active_agent = xstrdup(agent);
    s->created_ms = json_integer_value(json_object_get(root, "created_ms"));
    s->updated_ms = json_integer_value(json_object_get(root, "updated_ms"));
    char inner[200];
    if (llm_messages_from_json(&s->messages, json_object_get(root, "messages"), inner,
                               sizeof inner) != 0) {
        snprintf(err, errlen, "%s: %s", path, inner);
        rc = ERR_PARSE;
    }
out:
    json_decref(root);
    free(path);
    return rc;
}

int session_save(const char *data_dir, struct harde_session *s, char *err, size_t errlen)
{
    char *dir = xasprintf("%s/sessions", data_dir);
    char *path = session_path(data_dir, s->id, "");
    char *tmp = session_path(data_dir, s->id, ".tmp");
    int rc = 0;
    json_t *root = NULL;
    if (config_mkdirs(dir, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    s->updated_ms = clock_wall_ms();
    root = json_pack("{s:s, s:s?, s:I, s:I, s:o}", "id", s->id, "active_agent", s->active_agent,
                     "created_ms", (json_int_t)s->created_ms, "updated_ms",
                     (json_int_t)s->updated_ms, "messages", llm_messages_to_json(&s->messages));
    FILE *f = fopen(tmp, "w");
    if (!f || json_dumpf(root, f, JSON_COMPACT) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errlen, "%s: cannot write session: %s", tmp, strerror(errno));
        if (f)
            fclose(f);
        unlink(tmp);
        rc = ERR_IO;
        goto out;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot save session: %s", path, strerror(errno));
        unlink(tmp);
        rc = ERR_IO;
    }
out:
    json_decref(root);
    free(dir);
    free(path);
    free(tmp);
    return rc;
}

void session_free(struct harde_session *s)
{
    llm_messages_free(&s->messages);
    free(s->active_agent);
    s->active_agent = NULL;
}
