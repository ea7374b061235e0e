/* primer — the nine steps of the primer video workflow. See primer.h.
 *
 * Every step reads what it needs from the run's input ({"job_id", "force",
 * "requested_by"}) and the outputs recorded so far, and returns its own
 * output as JSON. Files live in a per-run work directory
 * (DATA_DIR/work/<run id>) listed in the outputs, which cleanup removes.
 * A failing step tells the engine what kind of failure it was
 * (classify_failure: an HTTP status, a temporary SMTP refusal), so a 503
 * from a cloud service is retried and a 400 or a refused key is not. */
#define _XOPEN_SOURCE 700
#include "harde/primer.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "harde/script.h"
#include "net/mime.h"
#include "services/crm/crm.h"
#include "services/delivery/delivery.h"
#include "services/mail/mail.h"
#include "services/media/media.h"
#include "services/render/render.h"
#include "services/speech/speech.h"


struct primer {
    struct harde_app *app;
    struct speech_tts *tts;
    struct speech_enhancer *enhancer; /* NULL: no enhancement configured */
    struct render *render;
    struct delivery *delivery;
    struct mail_sender *mail;
    char *work_root;
    char *template_video;
    char *music;
    char *public_url;
    int64_t wait_ms;
};

/* ---- small helpers ------------------------------------------------------- */

static const char *out_str(const json_t *outputs, const char *step, const char *key)
{
    return json_string_value(json_object_get(json_object_get(outputs, step), key));
}

static int64_t input_job(const json_t *input)
{
    return json_integer_value(json_object_get(input, "job_id"));
}

static char *work_dir(const struct primer *p, struct workflow_ctx *ctx, char *err, size_t errlen)
{
    char *dir = xasprintf("%s/%s", p->work_root, workflow_ctx_run_id(ctx));
    if (config_mkdirs(dir, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot create the work directory: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

/* Tells the engine's retry policy what kind of failure rc is. The services
 * name an HTTP failure's status in their message ("... (HTTP 503 after 1
 * attempt)", "... : HTTP 403 ..."), and net/smtp quotes an SMTP refusal's
 * reply ("SMTP server h:p refused the message: 451 4.3.0 ..."): a 4xx SMTP
 * reply is temporary, a 5xx one is not. Returns rc. */
static int classify_failure(struct workflow_ctx *ctx, int rc, const char *err)
{
    if (rc != ERR_HTTP)
        return rc;
    const char *h = strstr(err, "HTTP ");
    if (h && isdigit((unsigned char)h[5]) && isdigit((unsigned char)h[6]) &&
        isdigit((unsigned char)h[7]) && !isdigit((unsigned char)h[8])) {
        workflow_ctx_set_http_status(ctx, atoi(h + 5));
        return rc;
    }
    const char *smtp = strstr(err, "SMTP server ");
    const char *reply = smtp ? strstr(smtp, ": ") : NULL;
    if (reply && (reply[2] == '4' || reply[2] == '5') && isdigit((unsigned char)reply[3]) &&
        isdigit((unsigned char)reply[4]))
        workflow_ctx_set_retryable(ctx, reply[2] == '4');
    return rc;
}

/* A checkpoint marking an outside effect as done: "primer:<idempotency key>". */
static char *mark_key(struct workflow_ctx *ctx)
{
    return xasprintf("primer:%s", workflow_ctx_idempotency_key(ctx));
}

/* ---- 1 context ------------------------------------------------------------ */

static int step_context(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                        json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    struct crm_job job;
    int rc = crm_job_get(p->app->crm, input_job(input), &job, err, errlen);
    if (rc != 0) {
        if (rc == ERR_NOT_FOUND)
            workflow_ctx_set_retryable(ctx, false);
        return classify_failure(ctx, rc, err);
    }
    struct crm_customer c;
    rc = crm_customer_get(p->app->crm, job.customer_id, &c, err, errlen);
    if (rc == 0 && (!c.email || !*c.email)) {
        snprintf(err, errlen, "customer %lld (%s %s) has no email address in the CRM",
                 (long long)c.id, c.first_name, c.last_name);
        workflow_ctx_set_retryable(ctx, false);
        rc = ERR_INVALID;
    }
    if (rc == 0) {
        *output = json_pack("{s:o, s:o}", "job", crm_job_to_json(&job), "customer",
                            crm_customer_to_json(&c));
        crm_customer_free(&c);
    }
    crm_job_free(&job);
    return classify_failure(ctx, rc, err);
}

/* ---- 2 script ------------------------------------------------------------- */

static int step_script(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                       json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    const json_t *job = json_object_get(json_object_get(outputs, "context"), "job");
    const json_t *cust = json_object_get(json_object_get(outputs, "context"), "customer");
    char when[96];
    script_appointment_text(json_string_value(json_object_get(job, "appointment")), when,
                            sizeof when);
    const json_t *addr = json_object_get(job, "address");
    struct script_facts facts = {
        .customer_first = json_string_value(json_object_get(cust, "first_name")),
        .customer_last = json_string_value(json_object_get(cust, "last_name")),
        .street = json_string_value(json_object_get(addr, "street")),
        .city = json_string_value(json_object_get(addr, "city")),
        .trade = json_string_value(json_object_get(job, "trade")),
        .appointment = when[0] ? when : NULL,
        .rep_name = json_string_value(json_object_get(job, "rep")),
        .company = p->app->company_name,
    };
    if (!facts.rep_name)
        facts.rep_name = p->app->director_name;
    struct script_request r = {.kind = SCRIPT_PRIMER, .target_seconds = 90};
    char *text = script_compose(&facts, &r);
    *output = json_pack("{s:s, s:f}", "text", text, "seconds", script_seconds(text));
    free(text);
    return 0;
}

/* ---- 3 audio -------------------------------------------------------------- */

/* Speaks the recorded script into the run's work directory: *voice (new)
 * is the enhanced recording, *raw (new) the plain one. */
static int make_voice(struct primer *p, struct workflow_ctx *ctx, const json_t *outputs, char **raw,
                      char **voice, double *seconds, char *err, size_t errlen)
{
    *raw = *voice = NULL;
    char *dir = work_dir(p, ctx, err, errlen);
    if (!dir)
        return ERR_IO;
    struct speech_voice v = {.speed = 1.0};
    int rc =
        speech_synthesize(p->tts, out_str(outputs, "script", "text"), &v, dir, raw, err, errlen);
    if (rc == 0 && p->enhancer)
        rc = speech_enhance(p->enhancer, *raw, dir, voice, err, errlen);
    else if (rc == 0)
        *voice = xstrdup(*raw);
    struct media_info info = {0};
    if (rc == 0)
        rc = media_probe(*voice, &info, err, errlen);
    *seconds = info.duration_s;
    free(dir);
    return rc;
}

static int step_audio(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                      json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    char *raw = NULL, *voice = NULL;
    double seconds = 0;
    int rc = make_voice(p, ctx, outputs, &raw, &voice, &seconds, err, errlen);
    if (rc == 0) {
        char *dir = xasprintf("%s/%s", p->work_root, workflow_ctx_run_id(ctx));
        *output = json_pack("{s:s, s:s, s:s, s:f}", "work_dir", dir, "raw", raw, "voice", voice,
                            "seconds", seconds);
        free(dir);
    }
    free(raw);
    free(voice);
    return classify_failure(ctx, rc, err);
}

/* ---- 4 render ------------------------------------------------------------- */

/* Renders the MP4 into the work directory. The voice recording is the audio
 * step's; when it is gone (a run failed, its cleanup removed the work files,
 * and `harde run retry` resumed it here), it is spoken again from the
 * recorded script, so a retry never trips over a missing file. */
static int make_video(struct primer *p, struct workflow_ctx *ctx, const json_t *input,
                      const json_t *outputs, char **mp4, struct render_result *res, char *err,
                      size_t errlen)
{
    char *voice = xstrdup(out_str(outputs, "audio", "voice"));
    int rc = 0;
    if (!voice || access(voice, R_OK) != 0) {
        char *raw = NULL;
        double seconds = 0;
        free(voice);
        log_info("primer", "run %s: the voice recording is gone; speaking it again",
                 workflow_ctx_run_id(ctx));
        rc = make_voice(p, ctx, outputs, &raw, &voice, &seconds, err, errlen);
        free(raw);
    }
    char *dir = rc == 0 ? work_dir(p, ctx, err, errlen) : NULL;
    if (rc == 0 && !dir)
        rc = ERR_IO;
    *mp4 = NULL;
    if (rc == 0) {
        *mp4 = xasprintf("%s/primer-%lld.mp4", dir, (long long)input_job(input));
        struct render_job job = {.voice = voice,
                                 .template_video = p->template_video,
                                 .music = p->music,
                                 .output = *mp4,
                                 .work_dir = dir,
                                 .key = workflow_ctx_run_id(ctx)};
        memset(res, 0, sizeof *res);
        rc = render_run(p->render, &job, res, err, errlen);
    }
    free(voice);
    free(dir);
    return rc;
}

static int step_render(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                       json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    char *mp4 = NULL;
    struct render_result res;
    int rc = make_video(p, ctx, input, outputs, &mp4, &res, err, errlen);
    if (rc == 0) {
        json_t *assets = json_array();
        for (int i = 0; i < res.n_assets; i++)
            json_array_append_new(assets, json_string(res.assets[i]));
        *output = json_pack("{s:s, s:f, s:f, s:o}", "video", mp4, "seconds", res.duration_s,
                            "voice_seconds", res.voice_s, "assets", assets);
    }
    free(mp4);
    return classify_failure(ctx, rc, err);
}

/* ---- 5 upload ------------------------------------------------------------- */

static int step_upload(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                       json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    struct store *st = p->app->store;
    char *mark = mark_key(ctx);
    char *done = NULL;
    if (store_checkpoint_get(st, mark, &done) == 0 && done) {
        *output = json_loads(done, 0, NULL); /* uploaded before the last crash */
        free(done);
        free(mark);
        return *output ? 0 : ERR_PARSE;
    }
    char *video = xstrdup(out_str(outputs, "render", "video"));
    int rc = 0;
    if (!video || access(video, R_OK) != 0) {
        /* Gone after a failed run's cleanup: render again (see make_video). */
        struct render_result res;
        free(video);
        rc = make_video(p, ctx, input, outputs, &video, &res, err, errlen);
        if (rc != 0) {
            free(video);
            free(mark);
            return classify_failure(ctx, rc, err);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "primer-%lld.mp4", (long long)input_job(input));
    struct delivery_link link = {0};
    rc = delivery_upload(p->delivery, video, name, "video/mp4", &link, err, errlen);
    if (rc == 0) {
        *output = json_pack("{s:s, s:s}", "url", link.url, "handle", link.handle);
        char *text = json_dumps(*output, JSON_COMPACT);
        store_checkpoint_put(st, mark, text);
        free(text);
    }
    delivery_link_free(&link);
    free(video);
    free(mark);
    return classify_failure(ctx, rc, err);
}

/* ---- 6 note --------------------------------------------------------------- */

/* *found: whether the job already has a note carrying ref (an earlier
 * attempt's). An error when the CRM cannot say: guessing "no" could write
 * the note twice. */
static int job_has_note(struct crm *crm, int64_t job_id, const char *ref, bool *found, char *err,
                        size_t errlen)
{
    struct crm_job job;
    *found = false;
    int rc = crm_job_get(crm, job_id, &job, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < job.note_count && !*found; i++)
        *found = job.notes[i].text && strstr(job.notes[i].text, ref);
    crm_job_free(&job);
    return 0;
}

static int step_note(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                     json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    int64_t job = input_job(input);
    char *ref = xasprintf("[ref %s]", workflow_ctx_idempotency_key(ctx));
    bool found = false;
    int rc = job_has_note(p->app->crm, job, ref, &found, err, errlen);
    if (rc == 0 && !found) {
        char *text = xasprintf("Primer video ready: %s — it will be emailed to the homeowner "
                               "automatically. %s",
                               out_str(outputs, "upload", "url"), ref);
        rc = crm_note_add(p->app->crm, job, "Hard-E", text, NULL, err, errlen);
        free(text);
    }
    if (rc == 0)
        *output = json_pack("{s:I, s:s}", "job_id", (json_int_t)job, "ref", ref);
    free(ref);
    return classify_failure(ctx, rc, err);
}

/* ---- 7 wait --------------------------------------------------------------- */

static int step_wait(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                     json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    workflow_ctx_wait_for(ctx, p->wait_ms);
    *output = json_pack("{s:I}", "waited_ms", (json_int_t)p->wait_ms);
    return 0;
}

/* ---- 8 deliver ------------------------------------------------------------ */

static char *html_escape(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            buf_append_str(&b, "&lt;");
            break;
        case '>':
            buf_append_str(&b, "&gt;");
            break;
        case '&':
            buf_append_str(&b, "&amp;");
            break;
        case '"':
            buf_append_str(&b, "&quot;");
            break;
        default:
            buf_append_char(&b, *s);
        }
    }
    return buf_steal(&b);
}

static int build_email(struct primer *p, struct workflow_ctx *ctx, const json_t *outputs,
                       struct buf *out, const char **rcpt, char *err, size_t errlen)
{
    const json_t *cust = json_object_get(json_object_get(outputs, "context"), "customer");
    const json_t *job = json_object_get(json_object_get(outputs, "context"), "job");
    const char *first = json_string_value(json_object_get(cust, "first_name"));
    const char *rep = json_string_value(json_object_get(job, "rep"));
    const char *url = out_str(outputs, "upload", "url");
    *rcpt = json_string_value(json_object_get(cust, "email"));
    if (!rep)
        rep = p->app->director_name;
    char *text = xasprintf("Hi %s,\n\n%s here from %s. Before we meet, I made you a short video "
                           "so you know who's coming and what to expect:\n\n%s\n\nSee you soon,"
                           "\n%s\n%s\n",
                           first, rep, p->app->company_name, url, rep, p->app->company_name);
    char *e_first = html_escape(first), *e_rep = html_escape(rep);
    char *e_company = html_escape(p->app->company_name), *e_url = html_escape(url);
    char *html = xasprintf(
        "<!DOCTYPE html><html><body style=\"font-family:Arial,sans-serif;color:#1f2933\">"
        "<p>Hi %s,</p><p>%s here from %s. Before we meet, I made you a short video so you know "
        "who's coming and what to expect.</p><p><a href=\"%s\" style=\"display:inline-block;"
        "padding:12px 20px;background:#b4532a;color:#fff;text-decoration:none;border-radius:6px\">"
        "Watch your video</a></p><p>See you soon,<br>%s<br>%s</p></body></html>",
        e_first, e_rep, e_company, e_url, e_rep, e_company);
    char *subject = xasprintf("%s, a quick video before your appointment", first);
    char message_id[160];
    snprintf(message_id, sizeof message_id, "%s@hard-e.local", workflow_ctx_idempotency_key(ctx));
    struct mime_mailbox to = {.name = NULL, .addr = *rcpt};
    struct mime_draft d = {
        .from = {.name = mail_sender_from_name(p->mail), .addr = mail_sender_from(p->mail)},
        .to = &to,
        .to_count = 1,
        .subject = subject,
        .text = text,
        .html = html,
        .message_id = message_id};
    int rc = mime_build(&d, out, err, errlen);
    free(text);
    free(html);
    free(subject);
    free(e_first);
    free(e_rep);
    free(e_company);
    free(e_url);
    return rc;
}

static int step_deliver(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                        json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    struct store *st = p->app->store;
    char *mark = mark_key(ctx);
    char *done = NULL;
    if (store_checkpoint_get(st, mark, &done) == 0 && done) {
        *output = json_pack("{s:s, s:b}", "sent_to", done, "replayed", 1); /* sent before */
        free(done);
        free(mark);
        return 0;
    }
    struct buf msg;
    buf_init(&msg, 1 << 20);
    const char *rcpt = NULL;
    char *where = NULL;
    int rc = build_email(p, ctx, outputs, &msg, &rcpt, err, errlen);
    if (rc == 0)
        rc = mail_send(p->mail, workflow_ctx_idempotency_key(ctx), rcpt, buf_str(&msg), msg.len,
                       &where, err, errlen);
    if (rc == 0) {
        /* Marked at once: a crash after this line does not send again. */
        store_checkpoint_put(st, mark, where);
        *output = json_pack("{s:s, s:s, s:s}", "sent_to", where, "email", rcpt, "via",
                            mail_sender_kind(p->mail));
    }
    free(where);
    buf_free(&msg);
    free(mark);
    return classify_failure(ctx, rc, err);
}

/* ---- 9 cleanup ------------------------------------------------------------ */

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(path);
        else
            unlink(path);
        free(path);
    }
    closedir(d);
    rmdir(dir);
}

static int step_cleanup(struct workflow_ctx *ctx, const json_t *input, json_t *outputs,
                        json_t **output, char *err, size_t errlen)
{
    struct primer *p = workflow_ctx_arg(ctx);
    char *dir = xasprintf("%s/%s", p->work_root, workflow_ctx_run_id(ctx));
    remove_tree(dir);
    json_t *removed = json_array();
    json_array_append_new(removed, json_string(dir));
    free(dir);
    size_t i;
    json_t *asset;
    json_array_foreach(json_object_get(json_object_get(outputs, "render"), "assets"), i, asset)
    {
        if (render_cleanup(p->render, json_string_value(asset), err, errlen) != 0) {
            json_decref(removed);
            return ERR_NETWORK; /* retried: a cloud asset must not be left behind */
        }
        json_array_append(removed, asset);
    }
    enum workflow_outcome outcome = workflow_ctx_outcome(ctx);
    if (outcome == WORKFLOW_OUTCOME_FAILED && p->app->crm) {
        /* Retried like the rest of the cleanup: the rep must hear of it. One
         * note per cleanup: a run retried that fails again says so again. */
        char *ref = xasprintf("[ref %s.%s]", workflow_ctx_run_id(ctx), workflow_ctx_step(ctx));
        bool found = false;
        int rc = job_has_note(p->app->crm, input_job(input), ref, &found, err, errlen);
        if (rc == 0 && !found) {
            char *text = xasprintf("The primer video could not be produced: %s. %s",
                                   workflow_ctx_reason(ctx), ref);
            rc = crm_note_add(p->app->crm, input_job(input), "Hard-E", text, NULL, err, errlen);
            free(text);
        }
        free(ref);
        if (rc != 0) {
            json_decref(removed);
            return classify_failure(ctx, rc, err);
        }
    }
    *output =
        json_pack("{s:o, s:s}", "removed", removed, "outcome", workflow_outcome_name(outcome));
    return 0;
}

/* ---- the table ------------------------------------------------------------ */

#define RETRY_NET                                                                                  \
    {                                                                                              \
        .max_attempts = 4, .base_backoff_ms = 2000, .jitter = 0.2                                  \
    }
#define RETRY_LOCAL                                                                                \
    {                                                                                              \
        .max_attempts = 3, .base_backoff_ms = 1000, .jitter = 0.2,                                 \
        .retry_on = WORKFLOW_RETRY_DEFAULT | WORKFLOW_RETRY_IO                                     \
    }

static const struct workflow_step primer_steps[] = {
    {"context", step_context, WORKFLOW_STEP_NORMAL, false, RETRY_NET, 60000},
    {"script", step_script, WORKFLOW_STEP_NORMAL, false, RETRY_NET, 300000},
    {"audio", step_audio, WORKFLOW_STEP_NORMAL, false, RETRY_LOCAL, 600000},
    {"render", step_render, WORKFLOW_STEP_NORMAL, false, RETRY_LOCAL, 1200000},
    {"upload", step_upload, WORKFLOW_STEP_NORMAL, true, RETRY_LOCAL, 1200000},
    {"note", step_note, WORKFLOW_STEP_NORMAL, true, RETRY_NET, 60000},
    {"wait", step_wait, WORKFLOW_STEP_WAIT, false, RETRY_NET, 60000},
    {"deliver", step_deliver, WORKFLOW_STEP_NORMAL, true, RETRY_NET, 120000},
    {"cleanup", step_cleanup, WORKFLOW_STEP_CLEANUP, false, RETRY_LOCAL, 600000},
};

static const struct workflow primer_workflow = {
    .name = PRIMER_WORKFLOW,
    .steps = primer_steps,
    .step_count = sizeof primer_steps / sizeof primer_steps[0],
};

int primer_register(struct primer *p, struct workflow_engine *engine)
{
    return workflow_register(engine, &primer_workflow, p);
}

/* ---- opening ---------------------------------------------------------------- */

static int open_media(struct primer *p, char *err, size_t errlen)
{
    const struct config *cfg = p->app->config;
    p->tts = speech_tts_from_config(cfg, err, errlen);
    if (!p->tts)
        return ERR_CONFIG;
    bool none = false;
    p->enhancer = speech_enhancer_from_config(cfg, &none, err, errlen);
    if (!p->enhancer && !none)
        return ERR_CONFIG;
    p->render = render_from_config(cfg, err, errlen);
    if (!p->render)
        return ERR_CONFIG;
    const char *tmpl = config_get(cfg, "primer", "template", NULL);
    const char *music = config_get(cfg, "primer", "music", NULL);
    if (tmpl && *tmpl && music && *music) {
        p->template_video = xstrdup(tmpl);
        p->music = xstrdup(music);
        return 0;
    }
    /* The project's own template and music, made once per data directory. */
    char *dir = xasprintf("%s/media", p->app->data_dir);
    struct render_defaults d = {0};
    int rc = render_make_defaults(dir, p->app->company_name, &d, err, errlen);
    free(dir);
    if (rc == 0) {
        p->template_video = xstrdup(tmpl && *tmpl ? tmpl : d.template_video);
        p->music = xstrdup(music && *music ? music : d.music);
    }
    render_defaults_free(&d);
    return rc;
}

struct primer *primer_open(struct harde_app *app, char *err, size_t errlen)
{
    struct primer *p = xcalloc(1, sizeof *p);
    p->app = app;
    const struct config *cfg = app->config;
    long wait_minutes = 15, wait_seconds = -1;
    int rc = 0;
    if ((rc = config_get_long(cfg, "primer", "wait_minutes", 15, &wait_minutes, err, errlen)) !=
            0 ||
        (rc = config_get_long(cfg, "primer", "wait_seconds", -1, &wait_seconds, err, errlen)) != 0)
        goto fail;
    p->wait_ms = wait_seconds >= 0 ? wait_seconds * 1000 : wait_minutes * 60000;
    p->work_root = xasprintf("%s/work", app->data_dir);
    const char *url = config_get(cfg, "primer", "public_url", NULL);
    if (!url || !*url)
        url = config_get(cfg, "web", "public_url", "http://127.0.0.1:8080");
    p->public_url = xstrdup(url);
    if ((rc = open_media(p, err, errlen)) != 0)
        goto fail;
    if ((rc = delivery_open_configured(cfg, app->data_dir, p->public_url, &p->delivery, err,
                                       errlen)) != 0)
        goto fail;
    if (!(p->mail = mail_sender_open(cfg, app->data_dir, err, errlen))) {
        rc = ERR_CONFIG;
        goto fail;
    }
    return p;
fail:
    primer_close(p);
    return NULL;
}

void primer_close(struct primer *p)
{
    if (!p)
        return;
    if (p->tts)
        speech_tts_free(p->tts);
    if (p->enhancer)
        speech_enhancer_free(p->enhancer);
    if (p->render)
        render_free(p->render);
    if (p->delivery)
        delivery_close(p->delivery);
    mail_sender_free(p->mail);
    free(p->work_root);
    free(p->template_video);
    free(p->music);
    free(p->public_url);
    free(p);
}

int primer_request(struct store *st, struct crm *crm, int64_t job_id, bool force,
                   const char *requested_by, struct store_run *run, bool *created, char *err,
                   size_t errlen)
{
    struct crm_job job;
    int rc = crm_job_get(crm, job_id, &job, err, errlen);
    if (rc != 0)
        return rc;
    crm_job_free(&job);
    json_t *input = json_pack("{s:I, s:b, s:s}", "job_id", (json_int_t)job_id, "force", force,
                              "requested_by", requested_by ? requested_by : "");
    char key[64];
    snprintf(key, sizeof key, PRIMER_DEDUPE_FMT, (long long)job_id);
    struct store_run_new in = {
        .workflow = PRIMER_WORKFLOW, .input = input, .dedupe_key = key, .force = force};
    rc = store_run_create(st, &in, run, created);
    if (rc != 0)
        snprintf(err, errlen, "cannot start the primer run: %s", store_error(st));
    json_decref(input);
    return rc;
}

int primer_start(struct primer *p, struct workflow_engine *engine, int64_t job_id, bool force,
                 const char *requested_by, char run_id[STORE_ID_MAX + 1], bool *created, char *err,
                 size_t errlen)
{
    (void)engine; /* the run is recorded in the engine's store; any worker moves it */
    struct store_run run = {0};
    int rc = primer_request(p->app->store, p->app->crm, job_id, force, requested_by, &run, created,
                            err, errlen);
    if (rc == 0)
        memcpy(run_id, run.id, sizeof run.id);
    store_run_free(&run);
    return rc;
}

json_t *primer_run_json(const struct store_run *run)
{
    json_t *steps = json_array(), *outputs = json_object();
    for (size_t i = 0; i < run->step_count; i++) {
        const struct store_step *s = &run->steps[i];
        if (workflow_step_is_marker(s->name))
            continue;
        json_array_append_new(
            steps, json_pack("{s:s, s:s, s:i, s:s?, s:I, s:I}", "name", s->name, "status",
                             store_step_status_name(s->status), "attempts", s->attempts, "error",
                             s->error, "started_ms", (json_int_t)s->started_ms, "duration_ms",
                             (json_int_t)(s->finished_ms ? s->finished_ms - s->started_ms : 0)));
        if (s->output)
            json_object_set(outputs, s->name, s->output);
    }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:i, s:I, s:I, s:I, s:I, s:o}", "id", run->id, "workflow",
        run->workflow, "status", store_run_status_name(run->status), "current_step",
        run->current_step, "error", run->last_error, "attempts", run->attempts, "created_ms",
        (json_int_t)run->created_ms, "updated_ms", (json_int_t)run->updated_ms, "finished_ms",
        (json_int_t)run->finished_ms, "wake_at_ms", (json_int_t)run->wake_at_ms, "steps", steps);
    long long job = 0;
    if (run->input)
        json_object_set(o, "job_id", json_object_get(run->input, "job_id"));
    else if (run->dedupe_key && sscanf(run->dedupe_key, PRIMER_DEDUPE_FMT, &job) == 1)
        json_object_set_new(o, "job_id", json_integer(job)); /* a list: no input */
    const char *url = out_str(outputs, "upload", "url");
    const char *sent = out_str(outputs, "deliver", "sent_to");
    json_object_set_new(o, "video_url", url ? json_string(url) : json_null());
    json_object_set_new(o, "email", sent ? json_string(sent) : json_null());
    /* The lengths measured when they were made: the voice (ffprobe after
     * the audio step) and the rendered video. */
    json_t *voice_s = json_object_get(json_object_get(outputs, "audio"), "seconds");
    json_t *video_s = json_object_get(json_object_get(outputs, "render"), "seconds");
    json_object_set_new(o, "voice_seconds", voice_s ? json_copy(voice_s) : json_null());
    json_object_set_new(o, "video_seconds", video_s ? json_copy(video_s) : json_null());
    json_decref(outputs);
    return o;
}
