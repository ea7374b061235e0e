/* render_cloudinary — the cloud renderer: Cloudinary uploads, an overlay URL, a download.
 * See render.h.
 *
 * Wire facts (EXTERNAL_APIS.md §5): signed uploads are multipart POSTs to
 * {api_base}/v1_1/{cloud}/video/upload (audio is uploaded as "video") with
 * file, api_key, timestamp, signature and the options; the signature is the
 * hex SHA-1 (or SHA-256) of the sorted name=value pairs of every option but
 * file, cloud_name, resource_type and api_key, with the API secret appended
 * (§5.2); it is valid for an hour. Destroy is the same kind of signed POST
 * to .../destroy and answers {"result":"ok"} or {"result":"not found"}. A
 * delivery URL layers audio on a video: l_audio:<id, '/' as ':'> ... then
 * fl_layer_apply; e_volume:<percent change> sets a layer's level (§5.5).
 *
 * A render: upload the voice as {folder}/{key}-voice (overwrite, invalidate:
 * a re-run replaces it and purges cached derivations), then the template and
 * the music as {folder}/{key}-template / -music unless the configuration
 * names uploaded ones. Cloudinary does not loop a base video or an audio
 * layer, so a local template or music shorter than the voice is first
 * stretched by stream copy (ffmpeg -stream_loop) in the work directory. Then
 * GET the overlay URL, trimmed to the voice's length (du_), streaming the
 * MP4 into a temporary file; a 423 ("still processing") is waited out a
 * bounded number of times; an error's reason comes from the X-Cld-Error
 * header. HTTP retries (5xx, 429, transport) are net/http_client's. Every
 * asset uploaded is added to the result as soon as it exists, so cleanup
 * finds it even when a later stage fails. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/media/media.h"
#include "services/media/media_form.h"
#include "services/render/render_internal.h"

#define CLD_DEFAULT_API      "https://api.cloudinary.com"
#define CLD_DEFAULT_DELIVERY "https://res.cloudinary.com"
#define CLD_DEFAULT_FOLDER   "harde"
#define CLD_DEFAULT_MUSIC    (-70)
#define CLD_DEFAULT_TIMEOUT  300000L
#define CLD_DEFAULT_POLLS    30
#define CLD_DEFAULT_WAIT_MS  2000L
#define CLD_MAX_UPLOAD       (100u << 20) /* larger files need the chunked upload */
#define CLD_MAX_VIDEO        (1024u << 20)
#define CLD_MAX_JSON         (1u << 20)
#define CLD_MAX_PARAMS       8

struct render_cloudinary {
    struct render base;
    char *cloud, *api_key, *api_secret, *api_base, *delivery_base, *folder;
    char *template_id, *music_id, *ffmpeg;
    int music_volume;
    bool sha256;
    long timeout_ms;
    int max_retries;
    long retry_base_ms;
    int processing_polls;
    long processing_wait_ms;
    volatile sig_atomic_t *cancel;
};

/* ---- signatures (§5.2) ------------------------------------------------------- */

static bool cld_signed(const struct render_param *p)
{
    static const char *const unsigned_names[] = {"file",    "cloud_name", "resource_type",
                                                 "api_key", "signature",  NULL};
    if (!p->name || !p->value || !*p->value)
        return false;
    for (size_t i = 0; unsigned_names[i]; i++)
        if (strcmp(p->name, unsigned_names[i]) == 0)
            return false;
    return true;
}

char *render_cloudinary_string_to_sign(const struct render_param *params, size_t n)
{
    const struct render_param **sorted = xcalloc(n ? n : 1, sizeof *sorted);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cld_signed(&params[i]))
            continue;
        size_t j = m++;
        while (j > 0 && strcmp(sorted[j - 1]->name, params[i].name) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = &params[i];
    }
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < m; i++) {
        buf_printf(&b, "%s%s=", i ? "&" : "", sorted[i]->name);
        for (const char *v = sorted[i]->value; *v; v++) {
            if (*v == '&')
                buf_append_str(&b, "%26");
            else
                buf_append_char(&b, *v);
        }
    }
    free(sorted);
    return buf_steal(&b);
}

int render_cloudinary_sign(const struct render_param *params, size_t n, const char *api_secret,
                           bool sha256, char out[65])
{
    out[0] = '\0';
    if (!api_secret || !*api_secret)
        return ERR_INVALID;
    char *text = render_cloudinary_string_to_sign(params, n);
    char *full = xasprintf("%s%s", text, api_secret);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ok = EVP_Digest(full, strlen(full), md, &md_len, sha256 ? EVP_sha256() : EVP_sha1(), NULL);
    for (unsigned int i = 0; ok && i < md_len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    free(full);
    free(text);
    return ok ? 0 : ERR_INVALID;
}

/* ---- URLs ----------------------------------------------------------------------- */

char *render_cloudinary_layer_id(const char *public_id)
{
    char *id = xstrdup(public_id);
    for (char *p = id; *p; p++)
        if (*p == '/')
            *p = ':';
    return id;
}

static char *cld_trim_base(const char *base)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return xstrndup(base, n);
}

char *render_cloudinary_video_url(const char *delivery_base, const char *cloud,
                                  const char *template_id, const char *voice_id,
                                  const char *music_id, int music_volume, double duration_s)
{
    char *base =
        cld_trim_base(delivery_base && *delivery_base ? delivery_base : CLD_DEFAULT_DELIVERY);
    char *voice = render_cloudinary_layer_id(voice_id);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s/%s/video/upload/", base, cloud);
    if (duration_s > 0)
        buf_printf(&b, "du_%.2f/", duration_s);
    buf_printf(&b, "l_audio:%s/fl_layer_apply/", voice);
    if (music_id) {
        char *music = render_cloudinary_layer_id(music_id);
        buf_printf(&b, "l_audio:%s/e_volume:%d/fl_layer_apply/", music, music_volume);
        free(music);
    }
    buf_printf(&b, "%s.mp4", template_id);
    free(voice);
    free(base);
    return buf_steal(&b);
}

/* ---- HTTP helpers ------------------------------------------------------------------ */

static int cld_error(const char *what, int rc, const struct http_response *resp,
                     const char *transport, char *err, size_t errlen)
{
    if (rc != ERR_HTTP) {
        snprintf(err, errlen, "Cloudinary %s: %s", what, *transport ? transport : err_message(rc));
        return rc;
    }
    char reason[400] = "";
    if (!http_response_header(resp, "x-cld-error", reason, sizeof reason)) {
        json_error_t jerr;
        json_t *root = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, &jerr);
        const char *m =
            json_string_value(json_object_get(json_object_get(root, "error"), "message"));
        snprintf(reason, sizeof reason, "%s", m ? m : "");
        json_decref(root);
    }
    const char *sep = reason[0] ? ": " : "";
    if (resp->status == 401 || resp->status == 403) {
        snprintf(err, errlen, "Cloudinary rejected the credentials for %s (HTTP %ld)%s%s", what,
                 resp->status, sep, reason);
        return ERR_AUTH;
    }
    snprintf(err, errlen, "Cloudinary %s failed (HTTP %ld after %d attempt%s)%s%s", what,
             resp->status, resp->attempts, resp->attempts == 1 ? "" : "s", sep, reason);
    return resp->status == 420 || resp->status == 429 ? ERR_RATE_LIMIT : ERR_HTTP;
}

static void cld_request(const struct render_cloudinary *c, struct http_request *req,
                        const char *url, const char *const *headers, const struct media_form *f)
{
    *req = HTTP_REQUEST_INIT;
    req->method = f ? "POST" : "GET";
    req->url = url;
    req->headers = headers;
    if (f) {
        req->body = f->body.data;
        req->body_len = f->body.len;
    }
    req->timeout_ms = c->timeout_ms;
    req->max_retries = c->max_retries;
    req->retry_base_ms = c->retry_base_ms;
    req->cancel = c->cancel;
    req->max_response = CLD_MAX_JSON;
}

/* Adds params and their signature to form. */
static int cld_sign_form(const struct render_cloudinary *c, struct media_form *form,
                         const struct render_param *params, size_t n)
{
    char signature[65];
    int rc = render_cloudinary_sign(params, n, c->api_secret, c->sha256, signature);
    for (size_t i = 0; !rc && i < n; i++)
        if (params[i].value && *params[i].value)
            rc = media_form_field(form, params[i].name, params[i].value);
    if (!rc)
        rc = media_form_field(form, "api_key", c->api_key);
    if (!rc)
        rc = media_form_field(form, "signature", signature);
    if (!rc)
        rc = media_form_finish(form);
    return rc;
}

/* POSTs a finished form to {api_base}/v1_1/{cloud}/{rt}/{action}; the JSON answer is new. */
static int cld_post(const struct render_cloudinary *c, struct http_client *http, const char *rt,
                    const char *action, const struct media_form *form, json_t **answer,
                    const char *what, char *err, size_t errlen)
{
    char *url = xasprintf("%s/v1_1/%s/%s/%s", c->api_base, c->cloud, rt, action);
    const char *headers[] = {form->content_type, "Accept: application/json", NULL};
    struct http_request req;
    cld_request(c, &req, url, headers, form);
    struct http_response resp;
    http_response_init(&resp);
    char transport[512] = "";
    int rc = http_client_request(http, &req, &resp, transport, sizeof transport);
    if (rc) {
        rc = cld_error(what, rc, &resp, transport, err, errlen);
        goto out;
    }
    json_error_t jerr;
    *answer = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &jerr);
    if (!json_is_object(*answer)) {
        json_decref(*answer);
        *answer = NULL;
        snprintf(err, errlen, "Cloudinary %s answered something that is not a JSON object", what);
        rc = ERR_PARSE;
    }
out:
    http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- upload, stretch, destroy ---------------------------------------------------- */

static int cld_upload(const struct render_cloudinary *c, struct http_client *http, const char *path,
                      const char *public_id, double *duration, char *err, size_t errlen)
{
    struct buf file;
    buf_init(&file, 0);
    struct media_form form;
    media_form_init(&form, CLD_MAX_UPLOAD + (1u << 20));
    json_t *answer = NULL;
    int rc = media_read_file(path, CLD_MAX_UPLOAD, &file, err, errlen);
    if (rc)
        goto out;
    char timestamp[32];
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)time(NULL));
    const struct render_param params[] = {
        {"public_id", public_id},
        {"overwrite", "true"},
        {"invalidate", "true"},
        {"timestamp", timestamp},
    };
    const char *slash = strrchr(path, '/');
    rc = media_form_file(&form, "file", slash ? slash + 1 : path, media_mime_type(path), file.data,
                         file.len);
    if (!rc)
        rc = cld_sign_form(c, &form, params, sizeof params / sizeof params[0]);
    if (rc) {
        snprintf(err, errlen, "could not build the Cloudinary upload of %s (%s)", path,
                 err_message(rc));
        goto out;
    }
    char what[300];
    snprintf(what, sizeof what, "upload of %s", public_id);
    rc = cld_post(c, http, "video", "upload", &form, &answer, what, err, errlen);
    if (rc)
        goto out;
    const char *got = json_string_value(json_object_get(answer, "public_id"));
    if (!got || strcmp(got, public_id) != 0) {
        snprintf(err, errlen, "Cloudinary stored the upload as \"%.100s\", not %s",
                 got ? got : "(nothing)", public_id);
        rc = ERR_PARSE;
        goto out;
    }
    if (duration)
        *duration = json_number_value(json_object_get(answer, "duration"));
out:
    json_decref(answer);
    media_form_free(&form);
    buf_free(&file);
    return rc;
}

/* A copy of src looped to at least seconds in work_dir (stream copy), new
 * path in *out; *out stays NULL when src is long enough or cannot be
 * measured (then the original is uploaded as it is). */
static int cld_stretch(const struct render_cloudinary *c, const char *src, double seconds,
                       const char *work_dir, const char *name, bool video, char **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    struct media_info info;
    char probe_err[256];
    if (seconds <= 0 || media_probe(src, &info, probe_err, sizeof probe_err) != 0 ||
        info.duration_s <= 0 || info.duration_s >= seconds)
        return 0;
    char *path = media_path(work_dir, name);
    struct media_argv argv;
    media_argv_init(&argv);
    const char *head[] = {c->ffmpeg, "-hide_banner", "-nostdin",     "-nostats", "-loglevel",
                          "error",   "-y",           "-stream_loop", "-1",       "-i"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        media_argv_add(&argv, head[i]);
    media_argv_file(&argv, src);
    media_argv_add(&argv, "-t");
    media_argv_addf(&argv, "%.3f", seconds + 0.5);
    const char *video_tail[] = {"-map",       "0:v:0", "-c",  "copy", "-movflags",
                                "+faststart", "-f",    "mp4", NULL};
    const char *audio_tail[] = {"-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "wav", NULL};
    for (const char *const *t = video ? video_tail : audio_tail; *t; t++)
        media_argv_add(&argv, *t);
    media_argv_file(&argv, path);
    int rc = media_argv_check(&argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.cancel = c->cancel};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (rc) {
        unlink(path);
        free(path);
    } else {
        *out = path;
    }
    media_argv_free(&argv);
    return rc;
}

static int cld_destroy(const struct render_cloudinary *c, struct http_client *http, const char *rt,
                       const char *public_id, char *err, size_t errlen)
{
    char timestamp[32];
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)time(NULL));
    const struct render_param params[] = {
        {"public_id", public_id},
        {"invalidate", "true"},
        {"timestamp", timestamp},
    };
    struct media_form form;
    media_form_init(&form, CLD_MAX_JSON);
    json_t *answer = NULL;
    int rc = cld_sign_form(c, &form, params, sizeof params / sizeof params[0]);
    char what[300];
    snprintf(what, sizeof what, "destroy of %s", public_id);
    if (!rc)
        rc = cld_post(c, http, rt, "destroy", &form, &answer, what, err, errlen);
    if (!rc) {
        const char *result = json_string_value(json_object_get(answer, "result"));
        if (!result || (strcmp(result, "ok") != 0 && strcmp(result, "not found") != 0)) {
            snprintf(err, errlen, "Cloudinary destroy of %s answered \"%.100s\"", public_id,
                     result ? result : "(no result)");
            rc = ERR_HTTP;
        }
    }
    json_decref(answer);
    media_form_free(&form);
    return rc;
}

/* ---- download ----------------------------------------------------------------------- */

static int cld_sink(const char *data, size_t len, void *user)
{
    return fwrite(data, 1, len, (FILE *)user) == len ? 0 : ERR_IO;
}

static bool cld_is_mp4(const char *path)
{
    unsigned char head[12] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    return n == sizeof head && memcmp(head + 4, "ftyp", 4) == 0;
}

/* GETs url into path, waiting out 423 answers. */
static int cld_download(const struct render_cloudinary *c, struct http_client *http,
                        const char *url, const char *path, char *err, size_t errlen)
{
    int polls = 0, rc;
    for (;;) {
        FILE *f = fopen(path, "wb");
        if (!f) {
            snprintf(err, errlen, "could not create %s", path);
            return ERR_IO;
        }
        const char *headers[] = {"Accept: video/mp4,*/*", NULL};
        struct http_request req;
        cld_request(c, &req, url, headers, NULL);
        req.max_response = CLD_MAX_VIDEO;
        req.on_body = cld_sink;
        req.body_user = f;
        struct http_response resp;
        http_response_init(&resp);
        char transport[512] = "";
        rc = http_client_request(http, &req, &resp, transport, sizeof transport);
        bool closed_ok = fclose(f) == 0;
        if (!rc && !closed_ok) {
            snprintf(err, errlen, "could not write %s", path);
            rc = ERR_IO;
        } else if (rc == ERR_HTTP && resp.status == 423 && polls < c->processing_polls) {
            polls++;
            http_response_free(&resp);
            if (clock_sleep_ms(c->processing_wait_ms, c->cancel) != 0) {
                snprintf(err, errlen, "Cloudinary render canceled while it was processing");
                return ERR_CANCELED;
            }
            continue;
        } else if (rc) {
            rc = cld_error("video render", rc, &resp, transport, err, errlen);
        }
        http_response_free(&resp);
        break;
    }
    if (!rc && !cld_is_mp4(path)) {
        snprintf(err, errlen, "Cloudinary answered the video URL with something that is not MP4");
        rc = ERR_PARSE;
    }
    return rc;
}

/* ---- the backend ---------------------------------------------------------------------- */

static void cld_ids(const struct render_cloudinary *c, const struct render_job *job,
                    char voice[200], char tmpl[200], char music[200])
{
    const char *key = job->key && *job->key ? job->key : "harde";
    snprintf(voice, 200, "%s/%s-voice", c->folder, key);
    snprintf(tmpl, 200, "%s/%s-template", c->folder, key);
    snprintf(music, 200, "%s/%s-music", c->folder, key);
}

static void cld_planned(struct render *r, const struct render_job *job, struct render_result *res)
{
    struct render_cloudinary *c = (struct render_cloudinary *)r;
    char voice[200], tmpl[200], music[200], asset[RENDER_ASSET_MAX];
    cld_ids(c, job, voice, tmpl, music);
    if (render_asset_format(asset, sizeof asset, "video", voice))
        render_result_add(res, asset);
    if (!c->template_id && job->template_video &&
        render_asset_format(asset, sizeof asset, "video", tmpl))
        render_result_add(res, asset);
    if (job->music && !c->music_id && render_asset_format(asset, sizeof asset, "video", music))
        render_result_add(res, asset);
}

/* Stretches (if needed) and uploads one local input; records the asset. */
static int cld_put(const struct render_cloudinary *c, struct http_client *http,
                   const struct render_job *job, const char *src, const char *id, bool video,
                   double seconds, struct render_result *res, char *err, size_t errlen)
{
    char *stretched = NULL;
    int rc = cld_stretch(c, src, seconds, job->work_dir,
                         video ? "cloudinary-template.mp4" : "cloudinary-music.wav", video,
                         &stretched, err, errlen);
    if (!rc)
        rc = cld_upload(c, http, stretched ? stretched : src, id, NULL, err, errlen);
    char asset[RENDER_ASSET_MAX];
    if (!rc && render_asset_format(asset, sizeof asset, "video", id))
        render_result_add(res, asset);
    if (stretched)
        unlink(stretched);
    free(stretched);
    return rc;
}

static int cld_run(struct render *r, const struct render_job *job, struct render_result *res,
                   char *err, size_t errlen)
{
    struct render_cloudinary *c = (struct render_cloudinary *)r;
    if (!c->template_id && !job->template_video) {
        snprintf(err, errlen, "no template: configure [render] cloudinary_template or pass one");
        return ERR_INVALID;
    }
    char voice_id[200], tmpl_id[200], music_id[200], asset[RENDER_ASSET_MAX];
    cld_ids(c, job, voice_id, tmpl_id, music_id);
    struct http_client *http = http_client_new();
    char *url = NULL, *tmp = NULL;
    double voice_s = 0;
    int rc = cld_upload(c, http, job->voice, voice_id, &voice_s, err, errlen);
    if (rc)
        goto out;
    if (render_asset_format(asset, sizeof asset, "video", voice_id))
        render_result_add(res, asset);
    struct media_info info;
    char probe_err[256];
    if (voice_s <= 0 && media_probe(job->voice, &info, probe_err, sizeof probe_err) == 0)
        voice_s = info.duration_s;
    const char *tmpl = c->template_id ? c->template_id : tmpl_id;
    if (!c->template_id)
        rc = cld_put(c, http, job, job->template_video, tmpl_id, true, voice_s, res, err, errlen);
    const char *music = job->music ? (c->music_id ? c->music_id : music_id) : NULL;
    if (!rc && job->music && !c->music_id)
        rc = cld_put(c, http, job, job->music, music_id, false, voice_s, res, err, errlen);
    if (rc)
        goto out;
    url = render_cloudinary_video_url(c->delivery_base, c->cloud, tmpl, voice_id, music,
                                      c->music_volume, voice_s);
    tmp = media_temp_name(job->output, "mp4");
    rc = cld_download(c, http, url, tmp, err, errlen);
    if (!rc)
        rc = media_commit(tmp, job->output, err, errlen);
    if (!rc) {
        res->voice_s = voice_s;
        res->duration_s = media_probe(job->output, &info, probe_err, sizeof probe_err) == 0
                              ? info.duration_s
                              : voice_s;
        log_info("render", "Cloudinary: %.1f s video written to %s", res->duration_s, job->output);
    }
out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(url);
    http_client_free(http);
    return rc;
}

static int cld_cleanup(struct render *r, const char *asset, char *err, size_t errlen)
{
    struct render_cloudinary *c = (struct render_cloudinary *)r;
    char rt[16], public_id[RENDER_ASSET_MAX];
    if (!render_asset_parse(asset, "cloudinary", rt, sizeof rt, public_id, sizeof public_id)) {
        snprintf(err, errlen, "\"%.100s\" is not a Cloudinary asset", asset);
        return ERR_INVALID;
    }
    struct http_client *http = http_client_new();
    int rc = cld_destroy(c, http, rt, public_id, err, errlen);
    http_client_free(http);
    return rc;
}

static void cld_free(struct render *r)
{
    struct render_cloudinary *c = (struct render_cloudinary *)r;
    free(c->cloud);
    free(c->api_key);
    free(c->api_secret);
    free(c->api_base);
    free(c->delivery_base);
    free(c->folder);
    free(c->template_id);
    free(c->music_id);
    free(c->ffmpeg);
    free(c);
}

static const struct render_ops cloudinary_ops = {
    .name = "cloudinary",
    .run = cld_run,
    .planned = cld_planned,
    .cleanup = cld_cleanup,
    .free = cld_free,
};

/* Public ids and folders: letters, digits, '_', '-', '.', '/', no "..". */
static bool cld_id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 120 || strstr(id, "..") || id[0] == '/')
        return false;
    for (const char *p = id; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              strchr("_-./", *p)))
            return false;
    return true;
}

static bool cld_credential_ok(const char *s)
{
    return s && *s && !strpbrk(s, "\r\n");
}

struct render *render_cloudinary_new(const struct render_cloudinary_config *cfg, char *err,
                                     size_t errlen)
{
    if (!cfg || !cld_id_ok(cfg->cloud_name) || !cld_credential_ok(cfg->api_key) ||
        !cld_credential_ok(cfg->api_secret)) {
        snprintf(err, errlen,
                 "Cloudinary needs a cloud name, an API key and an API secret "
                 "(CLOUDINARY_URL=cloudinary://KEY:SECRET@CLOUD)");
        return NULL;
    }
    const char *folder = cfg->folder && *cfg->folder ? cfg->folder : CLD_DEFAULT_FOLDER;
    if (!cld_id_ok(folder) || (cfg->template_public_id && !cld_id_ok(cfg->template_public_id)) ||
        (cfg->music_public_id && !cld_id_ok(cfg->music_public_id))) {
        snprintf(err, errlen,
                 "Cloudinary folder and public ids may hold letters, digits, "
                 "'_', '-', '.' and '/'");
        return NULL;
    }
    struct render_cloudinary *c = xcalloc(1, sizeof *c);
    c->base.ops = &cloudinary_ops;
    c->cloud = xstrdup(cfg->cloud_name);
    c->api_key = xstrdup(cfg->api_key);
    c->api_secret = xstrdup(cfg->api_secret);
    c->api_base = cld_trim_base(cfg->api_base && *cfg->api_base ? cfg->api_base : CLD_DEFAULT_API);
    c->delivery_base = cld_trim_base(
        cfg->delivery_base && *cfg->delivery_base ? cfg->delivery_base : CLD_DEFAULT_DELIVERY);
    c->folder = xstrdup(folder);
    c->template_id = cfg->template_public_id && *cfg->template_public_id
                         ? xstrdup(cfg->template_public_id)
                         : NULL;
    c->music_id =
        cfg->music_public_id && *cfg->music_public_id ? xstrdup(cfg->music_public_id) : NULL;
    c->ffmpeg = xstrdup(cfg->ffmpeg && *cfg->ffmpeg ? cfg->ffmpeg : "ffmpeg");
    c->music_volume = cfg->music_volume ? cfg->music_volume : CLD_DEFAULT_MUSIC;
    if (c->music_volume < -100)
        c->music_volume = -100;
    if (c->music_volume > 400)
        c->music_volume = 400;
    c->sha256 = cfg->sha256;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CLD_DEFAULT_TIMEOUT;
    c->max_retries = cfg->max_retries == 0 ? -1 : cfg->max_retries < 0 ? 0 : cfg->max_retries;
    c->retry_base_ms = cfg->retry_base_ms;
    c->processing_polls = cfg->processing_polls > 0 ? cfg->processing_polls : CLD_DEFAULT_POLLS;
    c->processing_wait_ms =
        cfg->processing_wait_ms > 0 ? cfg->processing_wait_ms : CLD_DEFAULT_WAIT_MS;
    c->cancel = cfg->cancel;
    log_add_secret(cfg->api_secret);
    return &c->base;
}
