/* render — dispatch, asset strings and backend choice. See render.h.
 *
 * The public calls validate a job once (files exist, the key is safe to
 * put in a public id, the work directory exists) and hand over to the
 * backend's ops table. Asset strings are "<backend>:<resource_type>:<id>",
 * plain text so the workflow can store them as step output. The Cloudinary
 * credentials come from CLOUDINARY_URL (the SDKs' format,
 * cloudinary://KEY:SECRET@CLOUD with an optional ?upload_prefix=URL), never
 * from the configuration file. */
#define _POSIX_C_SOURCE 200809L
#include "services/render/render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/render/render_internal.h"

bool render_key_ok(const char *key)
{
    if (!key || !*key || strlen(key) > RENDER_KEY_MAX)
        return false;
    for (; *key; key++)
        if (!(('a' <= *key && *key <= 'z') || ('A' <= *key && *key <= 'Z') ||
              ('0' <= *key && *key <= '9') || *key == '_' || *key == '-'))
            return false;
    return true;
}

static int render_check_job(const struct render_job *job, char *err, size_t errlen)
{
    struct stat st;
    if (!job || !job->voice || !job->output || !job->work_dir) {
        snprintf(err, errlen, "a render needs a voice, an output path and a work directory");
        return ERR_INVALID;
    }
    if (media_file_size(job->voice) <= 0) {
        snprintf(err, errlen, "the voice %s is missing or empty", job->voice);
        return ERR_NOT_FOUND;
    }
    if (job->template_video && media_file_size(job->template_video) <= 0) {
        snprintf(err, errlen, "the template video %s is missing or empty", job->template_video);
        return ERR_NOT_FOUND;
    }
    if (job->music && media_file_size(job->music) <= 0) {
        snprintf(err, errlen, "the music %s is missing or empty", job->music);
        return ERR_NOT_FOUND;
    }
    if (stat(job->work_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "the work directory %s does not exist", job->work_dir);
        return ERR_INVALID;
    }
    if (job->key && !render_key_ok(job->key)) {
        snprintf(err, errlen, "render key \"%.64s\" must be 1-%d letters, digits, '_' or '-'",
                 job->key, RENDER_KEY_MAX);
        return ERR_INVALID;
    }
    return 0;
}

int render_run(struct render *r, const struct render_job *job, struct render_result *res, char *err,
               size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (err && errlen)
        err[0] = '\0';
    if (!r) {
        snprintf(err, errlen, "no render backend");
        return ERR_INVALID;
    }
    int rc = render_check_job(job, err, errlen);
    if (rc)
        return rc;
    return r->ops->run(r, job, res, err, errlen);
}

void render_planned_assets(struct render *r, const struct render_job *job,
                           struct render_result *res)
{
    memset(res, 0, sizeof *res);
    if (r && job && (!job->key || render_key_ok(job->key)) && r->ops->planned)
        r->ops->planned(r, job, res);
}

int render_cleanup(struct render *r, const char *asset, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!r || !asset) {
        snprintf(err, errlen, "nothing to clean up");
        return ERR_INVALID;
    }
    if (!r->ops->cleanup) {
        snprintf(err, errlen, "the %s renderer has no assets to clean up (%.80s)", r->ops->name,
                 asset);
        return ERR_INVALID;
    }
    return r->ops->cleanup(r, asset, err, errlen);
}

const char *render_name(const struct render *r)
{
    return r ? r->ops->name : "none";
}

void render_free(struct render *r)
{
    if (r)
        r->ops->free(r);
}

/* ---- assets ----------------------------------------------------------------- */

bool render_asset_format(char *out, size_t outlen, const char *resource_type, const char *public_id)
{
    int n = snprintf(out, outlen, "cloudinary:%s:%s", resource_type, public_id);
    return n > 0 && (size_t)n < outlen;
}

bool render_asset_parse(const char *asset, const char *backend, char *resource_type, size_t rtlen,
                        char *public_id, size_t idlen)
{
    size_t blen = strlen(backend);
    if (strncmp(asset, backend, blen) != 0 || asset[blen] != ':')
        return false;
    const char *rt = asset + blen + 1;
    const char *colon = strchr(rt, ':');
    if (!colon || colon == rt || (size_t)(colon - rt) >= rtlen || !colon[1] ||
        strlen(colon + 1) >= idlen)
        return false;
    snprintf(resource_type, rtlen, "%.*s", (int)(colon - rt), rt);
    snprintf(public_id, idlen, "%s", colon + 1);
    return strcmp(resource_type, "video") == 0 || strcmp(resource_type, "image") == 0 ||
           strcmp(resource_type, "raw") == 0;
}

void render_result_add(struct render_result *res, const char *asset)
{
    for (int i = 0; i < res->n_assets; i++)
        if (strcmp(res->assets[i], asset) == 0)
            return;
    if (res->n_assets < RENDER_MAX_ASSETS)
        snprintf(res->assets[res->n_assets++], RENDER_ASSET_MAX, "%s", asset);
}

/* ---- choosing from configuration ------------------------------------------------ */

/* Decodes %XX escapes of s[0..n) into a new string. */
static char *render_unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            out[w++] = (char)strtol(hex, NULL, 16);
            i += 2;
            continue;
        }
        out[w++] = s[i];
    }
    out[w] = '\0';
    return out;
}

struct render_cloudinary_url {
    char *key, *secret, *cloud, *upload_prefix;
};

static void render_cloudinary_url_free(struct render_cloudinary_url *u)
{
    free(u->key);
    free(u->secret);
    free(u->cloud);
    free(u->upload_prefix);
}

/* Parses cloudinary://KEY:SECRET@CLOUD[?upload_prefix=URL]. */
static bool render_parse_cloudinary_url(const char *url, struct render_cloudinary_url *u)
{
    memset(u, 0, sizeof *u);
    const char *scheme = "cloudinary://";
    if (strncmp(url, scheme, strlen(scheme)) != 0)
        return false;
    const char *p = url + strlen(scheme);
    const char *colon = strchr(p, ':'), *at = strrchr(p, '@');
    if (!colon || !at || colon > at || colon == p || at == colon + 1)
        return false;
    const char *q = strchr(at, '?');
    size_t cloud_len = q ? (size_t)(q - at - 1) : strlen(at + 1);
    if (cloud_len == 0)
        return false;
    u->key = render_unescape(p, (size_t)(colon - p));
    u->secret = render_unescape(colon + 1, (size_t)(at - colon - 1));
    u->cloud = render_unescape(at + 1, cloud_len);
    for (const char *param = q ? q + 1 : NULL; param && *param;) {
        const char *amp = strchr(param, '&');
        size_t len = amp ? (size_t)(amp - param) : strlen(param);
        const char *name = "upload_prefix=";
        if (len > strlen(name) && strncmp(param, name, strlen(name)) == 0) {
            free(u->upload_prefix);
            u->upload_prefix = render_unescape(param + strlen(name), len - strlen(name));
        }
        param = amp ? amp + 1 : NULL;
    }
    return true;
}

static struct render *render_cloudinary_from(const struct config *cfg, const char *url,
                                             long timeout_ms, char *err, size_t errlen)
{
    struct render_cloudinary_url u;
    if (!render_parse_cloudinary_url(url, &u)) {
        snprintf(err, errlen, "CLOUDINARY_URL must look like cloudinary://KEY:SECRET@CLOUD");
        return NULL;
    }
    long music_volume = 0, retries = -1, retry_base = 0, wait_ms = 0;
    const char *sig = config_get(cfg, "render", "cloudinary_signature", "sha1");
    struct render *r = NULL;
    if (config_get_long(cfg, "render", "cloudinary_music_volume", 0, &music_volume, err, errlen) ||
        config_get_long(cfg, "render", "max_retries", -1, &retries, err, errlen) ||
        config_get_long(cfg, "render", "retry_base_ms", 0, &retry_base, err, errlen) ||
        config_get_long(cfg, "render", "cloudinary_processing_wait_ms", 0, &wait_ms, err, errlen))
        goto out;
    if (strcmp(sig, "sha1") != 0 && strcmp(sig, "sha256") != 0) {
        snprintf(err, errlen, "[render] cloudinary_signature = %s: expected sha1 or sha256", sig);
        goto out;
    }
    struct render_cloudinary_config cc = {
        .cloud_name = u.cloud,
        .api_key = u.key,
        .api_secret = u.secret,
        .api_base = u.upload_prefix,
        .delivery_base = config_get(cfg, "render", "cloudinary_delivery_base", NULL),
        .folder = config_get(cfg, "render", "cloudinary_folder", NULL),
        .template_public_id = config_get(cfg, "render", "cloudinary_template", NULL),
        .music_public_id = config_get(cfg, "render", "cloudinary_music", NULL),
        .music_volume = (int)music_volume,
        .sha256 = strcmp(sig, "sha256") == 0,
        .timeout_ms = timeout_ms,
        .max_retries = retries < 0    ? 0
                       : retries == 0 ? -1
                                      : (int)retries,
        .retry_base_ms = retry_base,
        .processing_wait_ms = wait_ms,
        .ffmpeg = getenv("HARDE_FFMPEG"),
    };
    r = render_cloudinary_new(&cc, err, errlen);
out:
    render_cloudinary_url_free(&u);
    return r;
}

struct render *render_from_config(const struct config *cfg, char *err, size_t errlen)
{
    const char *which = config_get(cfg, "render", "backend", "auto");
    const char *url = getenv("CLOUDINARY_URL");
    long timeout_ms = 0, crf = 0;
    double music_volume = 0;
    if (config_get_long(cfg, "render", "timeout_ms", 0, &timeout_ms, err, errlen) ||
        config_get_long(cfg, "render", "crf", 0, &crf, err, errlen) ||
        config_get_double(cfg, "render", "music_volume", 0, &music_volume, err, errlen))
        return NULL;
    if (strcmp(which, "cloudinary") == 0 || (strcmp(which, "auto") == 0 && url && *url)) {
        if (!url || !*url) {
            snprintf(err, errlen, "[render] backend = cloudinary needs CLOUDINARY_URL");
            return NULL;
        }
        return render_cloudinary_from(cfg, url, timeout_ms, err, errlen);
    }
    if (strcmp(which, "ffmpeg") != 0 && strcmp(which, "auto") != 0) {
        snprintf(err, errlen, "[render] backend = %s: expected auto, ffmpeg or cloudinary", which);
        return NULL;
    }
    const char *mode = config_get(cfg, "render", "video_mode", "auto");
    struct render_ffmpeg_config fc = {
        .program = getenv("HARDE_FFMPEG"),
        .preset = config_get(cfg, "render", "preset", NULL),
        .crf = (int)crf,
        .music_volume = music_volume,
        .timeout_ms = timeout_ms,
    };
    if (strcmp(mode, "copy") == 0)
        fc.video_mode = RENDER_VIDEO_COPY;
    else if (strcmp(mode, "encode") == 0)
        fc.video_mode = RENDER_VIDEO_ENCODE;
    else if (strcmp(mode, "auto") != 0) {
        snprintf(err, errlen, "[render] video_mode = %s: expected auto, copy or encode", mode);
        return NULL;
    }
    return render_ffmpeg_new(&fc);
}
