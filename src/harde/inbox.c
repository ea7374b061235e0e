/* inbox — local Maildir folder or IMAP, and the trigger rule. See inbox.h.
 *
 * A trigger whose run cannot be started for a passing reason (the CRM or the
 * store does not answer) is not handled yet: the file stays in new/, the IMAP
 * message stays unmarked and the checkpoint stops before it, so the next poll
 * tries again. Only an unknown job is refused for good. */
#define _POSIX_C_SOURCE 200809L
#include "harde/inbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "llm/local/entities.h"
#include "net/imap.h"
#include "net/mime.h"
#include "store/store.h"

#define INBOX_MAX_MESSAGE (10u << 20)
#define INBOX_MAX_FILES   1000 /* messages handled per poll */

struct inbox {
    struct harde_app *app;
    char *dir; /* local Maildir; NULL with IMAP */
    char *imap_url;
    char *imap_user;
    char *imap_password;
    char *imap_folder;
    char *senders; /* comma-separated, lower case */
    char *trigger; /* the phrase, lower case */
    char *describe;
};

/* ---- the rule ---------------------------------------------------------------- */

static bool sender_allowed(const struct inbox *in, const char *addr)
{
    if (!addr)
        return false;
    char *list = xstrdup(in->senders);
    bool ok = false;
    for (char *save = NULL, *s = strtok_r(list, ", ", &save); s && !ok;
         s = strtok_r(NULL, ", ", &save))
        ok = strcasecmp(s, addr) == 0 || (s[0] == '@' && strlen(addr) > strlen(s) &&
                                          strcasecmp(addr + strlen(addr) - strlen(s), s) == 0);
    free(list);
    return ok;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

enum inbox_verdict inbox_judge(const struct inbox *in, const char *raw, size_t len, int64_t *job_id,
                               char *reason, size_t reasonlen)
{
    struct mime_message msg;
    char err[256];
    *job_id = 0;
    enum inbox_verdict v = INBOX_REJECTED;
    if (mime_parse(raw, len, INBOX_MAX_MESSAGE, &msg, err, sizeof err) != 0) {
        snprintf(reason, reasonlen, "malformed message: %s", err);
        mime_message_free(&msg);
        return v;
    }
    const char *from = msg.from.count ? msg.from.items[0].addr : NULL;
    if (!contains_ci(msg.subject, in->trigger) && !contains_ci(msg.text, in->trigger)) {
        snprintf(reason, reasonlen, "not a trigger (subject \"%.80s\")", msg.subject);
        v = INBOX_IGNORED;
    } else if (!sender_allowed(in, from)) {
        snprintf(reason, reasonlen, "trigger from a sender not allowed: %s",
                 from ? from : "(no From)");
        v = INBOX_IGNORED;
    } else {
        struct entity_list ids;
        entity_list_init(&ids);
        if ((entity_find_job_ids(msg.subject, &ids) < 0 || ids.len == 0) &&
            (entity_find_job_ids(msg.text, &ids) < 0 || ids.len == 0)) {
            snprintf(reason, reasonlen, "trigger without a job id (subject \"%.80s\")",
                     msg.subject);
        } else {
            *job_id = (int64_t)ids.items[0].value;
            snprintf(reason, reasonlen, "trigger for job %lld from %s", (long long)*job_id, from);
            v = INBOX_STARTED;
        }
        entity_list_free(&ids);
    }
    mime_message_free(&msg);
    return v;
}

/* Judges a message and starts its run; returns the verdict. *again is set
 * when the run could not be started for a passing reason (the CRM or the
 * store did not answer): the message must stay unhandled and be tried on a
 * later poll, or a trigger would be lost to a network blip. err then says
 * why. Only an unknown job (ERR_NOT_FOUND) is refused for good. */
static enum inbox_verdict handle(struct inbox *in, struct primer *p, struct workflow_engine *engine,
                                 const char *raw, size_t len, const char *where, bool *again,
                                 char *err, size_t errlen)
{
    int64_t job = 0;
    char reason[512];
    *again = false;
    enum inbox_verdict v = inbox_judge(in, raw, len, &job, reason, sizeof reason);
    if (v != INBOX_STARTED) {
        log_warn("inbox", "%s: ignored: %s", where, reason);
        return v;
    }
    char run_id[STORE_ID_MAX + 1];
    bool created = false;
    int rc = primer_start(p, engine, job, false, "inbox", run_id, &created, err, errlen);
    if (rc != 0 && rc != ERR_NOT_FOUND) {
        log_warn("inbox", "%s: %s: cannot start the run now (%s); will try again", where, reason,
                 err);
        *again = true;
        return INBOX_REJECTED;
    }
    if (rc != 0) {
        log_warn("inbox", "%s: %s: not started: %s", where, reason, err);
        return INBOX_REJECTED;
    }
    log_info("inbox", "%s: %s: run %s%s", where, reason, run_id,
             created ? " started" : " already exists");
    return created ? INBOX_STARTED : INBOX_DUPLICATE;
}

/* ---- the local folder ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int poll_folder(struct inbox *in, struct primer *p, struct workflow_engine *engine,
                       size_t *started, char *err, size_t errlen)
{
    char *newdir = xasprintf("%s/new", in->dir);
    DIR *d = opendir(newdir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", newdir, strerror(errno));
        free(newdir);
        return ERR_IO;
    }
    char *names[INBOX_MAX_FILES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < INBOX_MAX_FILES)
        if (e->d_name[0] != '.')
            names[n++] = xstrdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", newdir, names[i]);
        char *done = xasprintf("%s/cur/%s:2,S", in->dir, names[i]);
        FILE *f = fopen(path, "rb");
        struct buf raw;
        buf_init(&raw, INBOX_MAX_MESSAGE);
        char chunk[8192];
        size_t got;
        int rc = f ? 0 : ERR_IO;
        while (f && rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
            rc = buf_append(&raw, chunk, got);
        if (f)
            fclose(f);
        bool again = false;
        char why[512];
        if (rc == 0 && handle(in, p, engine, buf_str(&raw), raw.len, path, &again, why,
                              sizeof why) == INBOX_STARTED)
            (*started)++;
        else if (rc != 0)
            log_warn("inbox", "%s: ignored: %s", path,
                     rc == ERR_LIMIT ? "larger than 10 MB" : "unreadable");
        /* Handled (or refused for good): move it, so it is never handled again. A
         * crash before this rename handles it once more; the run's dedupe key
         * makes that harmless. One to try again stays in new/. */
        if (!again)
            rename(path, done);
        buf_free(&raw);
        free(path);
        free(done);
        free(names[i]);
    }
    free(newdir);
    return 0;
}

/* ---- IMAP ------------------------------------------------------------------------ */

static int poll_imap(struct inbox *in, struct primer *p, struct workflow_engine *engine,
                     size_t *started, char *err, size_t errlen)
{
    struct store *st = in->app->store;
    char *ck_key = xasprintf("inbox:imap:%s:%s:%s", in->imap_url, in->imap_user, in->imap_folder);
    struct imap_checkpoint ck = {0};
    char *saved = NULL;
    if (store_checkpoint_get(st, ck_key, &saved) == 0 && saved) {
        unsigned v = 0, u = 0;
        if (sscanf(saved, "%u:%u", &v, &u) == 2)
            ck = (struct imap_checkpoint){v, u};
        free(saved);
    }
    struct imap_config cfg = {.url = in->imap_url,
                              .user = in->imap_user,
                              .password = in->imap_password,
                              .folder = in->imap_folder};
    struct imap_client *c = NULL;
    struct imap_poll poll = {0};
    int rc = imap_client_new(&cfg, &c, err, errlen);
    if (rc == 0)
        rc = imap_poll(c, &ck, &poll, err, errlen);
    for (size_t i = 0; rc == 0 && i < poll.count; i++) {
        struct buf raw;
        buf_init(&raw, INBOX_MAX_MESSAGE);
        char where[96];
        snprintf(where, sizeof where, "imap uid %u", poll.uids[i]);
        rc = imap_fetch(c, poll.uidvalidity, poll.uids[i], &raw, err, errlen);
        bool again = false;
        if (rc == 0 && handle(in, p, engine, buf_str(&raw), raw.len, where, &again, err, errlen) ==
                           INBOX_STARTED)
            (*started)++;
        if (rc == 0 && again) {
            /* Neither marked nor passed by the checkpoint: the next poll
             * takes it (and those after it) again, in order. */
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "%s: not handled yet: %s", where, why);
            rc = ERR_NETWORK;
        }
        if (rc == 0) {
            imap_mark_handled(c, poll.uids[i], err, errlen);
            imap_checkpoint_advance(&ck, poll.uidvalidity, poll.uids[i]);
            char value[32];
            snprintf(value, sizeof value, "%u:%u", ck.uidvalidity, ck.last_uid);
            store_checkpoint_put(st, ck_key, value);
        }
        buf_free(&raw);
    }
    imap_poll_free(&poll);
    imap_client_free(c);
    free(ck_key);
    return rc;
}

/* ---- opening ------------------------------------------------------------------------ */

struct inbox *inbox_open(struct harde_app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->config;
    struct inbox *in = xcalloc(1, sizeof *in);
    in->app = app;
    in->senders = xstrdup(config_get(cfg, "inbox", "senders", "crm@summitridge.example"));
    for (char *s = in->senders; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    in->trigger = xstrdup(config_get(cfg, "inbox", "trigger", "Please produce Primer Video"));
    const char *url = config_get(cfg, "inbox", "imap_url", NULL);
    if (url && *url) {
        in->imap_url = xstrdup(url);
        in->imap_user = xstrdup(config_get(cfg, "inbox", "imap_user", ""));
        in->imap_folder = xstrdup(config_get(cfg, "inbox", "folder", "INBOX"));
        const char *pw = getenv("IMAP_PASSWORD");
        in->imap_password = xstrdup(pw ? pw : "");
        log_add_secret(in->imap_password);
        in->describe = xasprintf("imap %s (%s, folder %s)", url, in->imap_user, in->imap_folder);
        return in;
    }
    const char *dir = config_get(cfg, "inbox", "dir", NULL);
    in->dir = dir && *dir ? xstrdup(dir) : xasprintf("%s/inbox", app->data_dir);
    const char *subs[] = {"new", "cur", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        char *sub = xasprintf("%s/%s", in->dir, subs[i]);
        int rc = config_mkdirs(sub, 0700);
        free(sub);
        if (rc != 0) {
            snprintf(err, errlen, "%s: cannot create the inbox folder: %s", in->dir,
                     strerror(errno));
            inbox_close(in);
            return NULL;
        }
    }
    in->describe = xasprintf("folder %s/new", in->dir);
    return in;
}

void inbox_close(struct inbox *in)
{
    if (!in)
        return;
    free(in->dir);
    free(in->imap_url);
    free(in->imap_user);
    free(in->imap_password);
    free(in->imap_folder);
    free(in->senders);
    free(in->trigger);
    free(in->describe);
    free(in);
}

const char *inbox_describe(const struct inbox *in)
{
    return in->describe;
}

int inbox_poll(struct inbox *in, struct primer *p, struct workflow_engine *engine, size_t *started,
               char *err, size_t errlen)
{
    *started = 0;
    return in->dir ? poll_folder(in, p, engine, started, err, errlen)
                   : poll_imap(in, p, engine, started, err, errlen);
}
