/* speech — dispatch, shared error wording and backend choice. See speech.h.
 *
 * The public calls check their arguments once and hand over to the
 * backend's ops table. The two helpers every cloud backend needs live here:
 * turning a failed HTTP answer into an ERR_* code plus a sentence quoting
 * the service's own message, and saving downloaded audio through a
 * temporary name (wrapping raw PCM in a WAV header). The *_from_config
 * functions read [speech] settings and the environment's keys and pick the
 * local or the cloud implementation. */
#define _POSIX_C_SOURCE 200809L
#include "services/speech/speech.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/config.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/speech/speech_internal.h"

static int speech_check_dir(const char *work_dir, char *err, size_t errlen)
{
    struct stat st;
    if (!work_dir || !*work_dir || stat(work_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "the work directory %s does not exist",
                 work_dir && *work_dir ? work_dir : "(none)");
        return ERR_INVALID;
    }
    return 0;
}

int speech_synthesize(struct speech_tts *tts, const char *text, const struct speech_voice *voice,
                      const char *work_dir, char **out_path, char *err, size_t errlen)
{
    *out_path = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!tts || !text) {
        snprintf(err, errlen, "nothing to speak");
        return ERR_INVALID;
    }
    size_t len = strlen(text);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
        i++;
    if (i == len) {
        snprintf(err, errlen, "the text to speak is empty");
        return ERR_INVALID;
    }
    if (len > SPEECH_MAX_TEXT) {
        snprintf(err, errlen, "the text to speak is %zu bytes, more than the %d allowed", len,
                 SPEECH_MAX_TEXT);
        return ERR_LIMIT;
    }
    int rc = speech_check_dir(work_dir, err, errlen);
    if (rc)
        return rc;
    return tts->ops->synthesize(tts, text, voice, work_dir, out_path, err, errlen);
}

const char *speech_tts_name(const struct speech_tts *tts)
{
    return tts ? tts->ops->name : "none";
}

void speech_tts_free(struct speech_tts *tts)
{
    if (tts)
        tts->ops->free(tts);
}

int speech_enhance(struct speech_enhancer *enh, const char *in_path, const char *work_dir,
                   char **out_path, char *err, size_t errlen)
{
    *out_path = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!enh || !in_path) {
        snprintf(err, errlen, "no audio to enhance");
        return ERR_INVALID;
    }
    if (media_file_size(in_path) <= 0) {
        snprintf(err, errlen, "the audio to enhance (%s) is missing or empty", in_path);
        return ERR_NOT_FOUND;
    }
    int rc = speech_check_dir(work_dir, err, errlen);
    if (rc)
        return rc;
    return enh->ops->enhance(enh, in_path, work_dir, out_path, err, errlen);
}

const char *speech_enhancer_name(const struct speech_enhancer *enh)
{
    return enh ? enh->ops->name : "none";
}

void speech_enhancer_free(struct speech_enhancer *enh)
{
    if (enh)
        enh->ops->free(enh);
}

/* ---- shared by the cloud backends -------------------------------------- */

/* The service's own error message from a JSON body, copied into out. */
static void speech_service_message(const struct http_response *resp, char *out, size_t outlen)
{
    out[0] = '\0';
    json_error_t jerr;
    json_t *root = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, &jerr);
    const char *msg = NULL;
    json_t *detail = json_object_get(root, "detail");
    if (json_is_string(json_object_get(json_object_get(root, "error"), "message")))
        msg = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
    else if (json_is_object(detail))
        msg = json_string_value(json_object_get(detail, "message"));
    else if (json_is_array(detail))
        msg = json_string_value(json_object_get(json_array_get(detail, 0), "msg"));
    else if (json_is_string(detail))
        msg = json_string_value(detail);
    if (msg) {
        snprintf(out, outlen, "%s", msg);
    } else if (!root && resp->body.len) {
        /* Not JSON: quote the start of the body on one line. */
        size_t n = resp->body.len < outlen - 1 ? resp->body.len : outlen - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)resp->body.data[i];
            out[i] = c < 0x20 ? ' ' : (char)c;
        }
        out[n] = '\0';
    }
    json_decref(root);
}

int speech_http_error(const char *who, int rc, const struct http_response *resp,
                      const char *transport_err, char *err, size_t errlen)
{
    if (rc != ERR_HTTP) {
        snprintf(err, errlen, "%s: %s", who,
                 transport_err && *transport_err ? transport_err : err_message(rc));
        return rc;
    }
    char msg[400];
    speech_service_message(resp, msg, sizeof msg);
    const char *sep = msg[0] ? ": " : "";
    long status = resp->status;
    if (status == 401 || status == 403) {
        snprintf(err, errlen, "%s rejected the API key (HTTP %ld)%s%s", who, status, sep, msg);
        return ERR_AUTH;
    }
    if (status == 429) {
        snprintf(err, errlen, "%s is rate limiting us (HTTP 429, %d attempts)%s%s", who,
                 resp->attempts, sep, msg);
        return ERR_RATE_LIMIT;
    }
    snprintf(err, errlen, "%s failed (HTTP %ld after %d attempt%s)%s%s", who, status,
             resp->attempts, resp->attempts == 1 ? "" : "s", sep, msg);
    return ERR_HTTP;
}

int speech_check_audio(const char *who, const struct http_response *resp, const char *kind,
                       char *err, size_t errlen)
{
    const char *type = resp->content_type ? resp->content_type : "";
    bool page = strncasecmp(type, "application/json", 16) == 0 ||
                strncasecmp(type, "text/html", 9) == 0 || strncasecmp(type, "text/plain", 10) == 0;
    if (page || !media_looks_like(kind, resp->body.data, resp->body.len)) {
        snprintf(err, errlen, "%s answered %zu bytes of %s that are not %s audio", who,
                 resp->body.len, *type ? type : "untyped data", kind);
        return ERR_PARSE;
    }
    return 0;
}

int speech_save_audio(const char *work_dir, const char *name, const void *data, size_t len,
                      int pcm_rate, char **out_path, char *err, size_t errlen)
{
    char *path = media_path(work_dir, name);
    int rc;
    if (pcm_rate > 0) {
        unsigned char *wav = xmalloc(len + 44);
        media_wav_header(wav, pcm_rate, 1, len);
        memcpy(wav + 44, data, len);
        rc = media_write_file(path, wav, len + 44, err, errlen);
        free(wav);
    } else {
        rc = media_write_file(path, data, len, err, errlen);
    }
    if (rc) {
        free(path);
        return rc;
    }
    *out_path = path;
    return 0;
}

/* ---- choosing from configuration ---------------------------------------- */

struct speech_common {
    long timeout_ms;
    long max_retries;
    long retry_base_ms;
};

static int speech_common(const struct config *cfg, struct speech_common *c, char *err,
                         size_t errlen)
{
    int rc = config_get_long(cfg, "speech", "timeout_ms", 0, &c->timeout_ms, err, errlen);
    if (!rc)
        rc = config_get_long(cfg, "speech", "max_retries", -1, &c->max_retries, err, errlen);
    /* The backends read 0 as "the default" and < 0 as "none". */
    if (!rc)
        c->max_retries = c->max_retries < 0 ? 0 : c->max_retries == 0 ? -1 : c->max_retries;
    if (!rc)
        rc = config_get_long(cfg, "speech", "retry_base_ms", 0, &c->retry_base_ms, err, errlen);
    return rc;
}

static const char *speech_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

struct speech_tts *speech_tts_from_config(const struct config *cfg, char *err, size_t errlen)
{
    const char *which = config_get(cfg, "speech", "tts", "auto");
    const char *key = speech_env("OPENAI_API_KEY");
    struct speech_common c;
    if (speech_common(cfg, &c, err, errlen))
        return NULL;
    if (strcmp(which, "openai") == 0 || (strcmp(which, "auto") == 0 && key)) {
        struct speech_openai_config oc = {
            .base_url = speech_env("OPENAI_BASE_URL"),
            .api_key = key,
            .model = config_get(cfg, "speech", "openai_model", NULL),
            .voice = config_get(cfg, "speech", "openai_voice", NULL),
            .format = config_get(cfg, "speech", "openai_format", NULL),
            .timeout_ms = c.timeout_ms,
            .max_retries = (int)c.max_retries,
            .retry_base_ms = c.retry_base_ms,
        };
        return speech_openai_new(&oc, err, errlen);
    }
    if (strcmp(which, "espeak") != 0 && strcmp(which, "auto") != 0) {
        snprintf(err, errlen, "[speech] tts = %s: expected auto, espeak or openai", which);
        return NULL;
    }
    long rate = 0;
    if (config_get_long(cfg, "speech", "espeak_rate", 0, &rate, err, errlen))
        return NULL;
    struct speech_espeak_config ec = {
        .voice = config_get(cfg, "speech", "espeak_voice", NULL),
        .rate_wpm = (int)rate,
        .timeout_ms = c.timeout_ms,
    };
    return speech_espeak_new(&ec);
}

struct speech_enhancer *speech_enhancer_from_config(const struct config *cfg, bool *none, char *err,
                                                    size_t errlen)
{
    *none = false;
    err[0] = '\0';
    const char *which = config_get(cfg, "speech", "enhance", "auto");
    const char *key = speech_env("ELEVENLABS_API_KEY");
    const char *voice_id = config_get(cfg, "speech", "elevenlabs_voice_id", NULL);
    struct speech_common c;
    if (speech_common(cfg, &c, err, errlen))
        return NULL;
    if (strcmp(which, "none") == 0) {
        *none = true;
        return NULL;
    }
    if (strcmp(which, "elevenlabs") == 0 || (strcmp(which, "auto") == 0 && key && voice_id)) {
        bool denoise = false;
        if (config_get_bool(cfg, "speech", "elevenlabs_remove_background_noise", false, &denoise,
                            err, errlen))
            return NULL;
        struct speech_elevenlabs_config ec = {
            .base_url = speech_env("ELEVENLABS_BASE_URL"),
            .api_key = key,
            .voice_id = voice_id,
            .model_id = config_get(cfg, "speech", "elevenlabs_model", NULL),
            .output_format = config_get(cfg, "speech", "elevenlabs_output_format", NULL),
            .voice_settings = config_get(cfg, "speech", "elevenlabs_voice_settings", NULL),
            .remove_background_noise = denoise,
            .timeout_ms = c.timeout_ms,
            .max_retries = (int)c.max_retries,
            .retry_base_ms = c.retry_base_ms,
        };
        return speech_elevenlabs_new(&ec, err, errlen);
    }
    if (strcmp(which, "ffmpeg") != 0 && strcmp(which, "auto") != 0) {
        snprintf(err, errlen, "[speech] enhance = %s: expected auto, ffmpeg, elevenlabs or none",
                 which);
        return NULL;
    }
    double lufs = 0;
    if (config_get_double(cfg, "speech", "loudness_lufs", 0, &lufs, err, errlen))
        return NULL;
    struct speech_ffmpeg_config fc = {
        .target_lufs = lufs,
        .format = config_get(cfg, "speech", "enhance_format", NULL),
        .timeout_ms = c.timeout_ms,
    };
    return speech_ffmpeg_new(&fc, err, errlen);
}
