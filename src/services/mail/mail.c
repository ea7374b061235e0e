/* mail — outbox folder or SMTP. See mail.h. */
#define _POSIX_C_SOURCE 200809L
#include "services/mail/mail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/smtp.h"

struct mail_sender {
    char *outbox; /* NULL when SMTP */
    char *smtp_url;
    char *smtp_user;
    char *smtp_password;
    bool starttls;
    char *from;
    char *from_name;
};

struct mail_sender *mail_sender_open(const struct config *cfg, const char *data_dir, char *err,
                                     size_t errlen)
{
    struct mail_sender *m = xcalloc(1, sizeof *m);
    const char *url = config_get(cfg, "mail", "smtp_url", NULL);
    m->from = xstrdup(config_get(cfg, "mail", "from", "hard-e@localhost"));
    m->from_name = xstrdup(config_get(cfg, "mail", "from_name", "Hard-E"));
    if (url && *url) {
        bool starttls = false;
        if (config_get_bool(cfg, "mail", "starttls", false, &starttls, err, errlen) != 0) {
            mail_sender_free(m);
            return NULL;
        }
        m->smtp_url = xstrdup(url);
        m->smtp_user = xstrdup(config_get(cfg, "mail", "smtp_user", NULL));
        const char *pw = getenv("SMTP_PASSWORD");
        m->smtp_password = xstrdup(pw && *pw ? pw : NULL);
        if (m->smtp_password)
            log_add_secret(m->smtp_password);
        m->starttls = starttls;
        return m;
    }
    const char *dir = config_get(cfg, "mail", "outbox", NULL);
    m->outbox = dir && *dir ? xstrdup(dir) : xasprintf("%s/outbox", data_dir);
    if (config_mkdirs(m->outbox, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot create the outbox: %s", m->outbox, strerror(errno));
        mail_sender_free(m);
        return NULL;
    }
    return m;
}

void mail_sender_free(struct mail_sender *m)
{
    if (!m)
        return;
    free(m->outbox);
    free(m->smtp_url);
    free(m->smtp_user);
    free(m->smtp_password);
    free(m->from);
    free(m->from_name);
    free(m);
}

const char *mail_sender_kind(const struct mail_sender *m)
{
    return m->outbox ? "outbox" : "smtp";
}

const char *mail_sender_from(const struct mail_sender *m)
{
    return m->from;
}

const char *mail_sender_from_name(const struct mail_sender *m)
{
    return m->from_name;
}

static bool key_valid(const char *key)
{
    if (!*key || strlen(key) > 200)
        return false;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return key[0] != '.';
}

static int write_outbox(struct mail_sender *m, const char *key, const char *message, size_t len,
                        char **where, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s.eml", m->outbox, key);
    char *tmp = xasprintf("%s/.%s.tmp", m->outbox, key);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, message, len) != (ssize_t)len || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: cannot write the message: %s", tmp, strerror(errno));
        rc = ERR_IO;
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot save the message: %s", path, strerror(errno));
        rc = ERR_IO;
    }
    if (rc != 0)
        unlink(tmp);
    else if (where)
        *where = xstrdup(path);
    free(path);
    free(tmp);
    return rc;
}

int mail_send(struct mail_sender *m, const char *key, const char *rcpt, const char *message,
              size_t len, char **where, char *err, size_t errlen)
{
    if (!key_valid(key)) {
        snprintf(err, errlen, "mail: invalid message key \"%s\"", key);
        return ERR_INVALID;
    }
    if (m->outbox)
        return write_outbox(m, key, message, len, where, err, errlen);
    struct smtp_config sc = {.url = m->smtp_url,
                             .user = m->smtp_user,
                             .password = m->smtp_password,
                             .starttls = m->starttls};
    const char *rcpts[] = {rcpt};
    int rc = smtp_send(&sc, m->from, rcpts, 1, message, len, err, errlen);
    if (rc == 0 && where)
        *where = xasprintf("%s (to %s)", m->smtp_url, rcpt);
    return rc;
}
