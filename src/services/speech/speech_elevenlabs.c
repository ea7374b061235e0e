/* speech_elevenlabs — cloud voice enhancement with ElevenLabs Speech-to-Speech. See speech.h.
 *
 * Wire facts (EXTERNAL_APIS.md §2): POST {base}/v1/speech-to-speech/{voice_id}
 * ?output_format=F with header `xi-api-key: KEY` and a multipart/form-data
 * body: `audio` (the file, with a filename and type), `model_id`, and
 * optionally `voice_settings` (a JSON object sent as a string) and
 * `remove_background_noise`. The answer is the converted audio. mp3_*
 * formats are saved as "enhanced.mp3"; pcm_<rate> (raw 16-bit mono) is
 * wrapped in a WAV header as "enhanced.wav"; the others (ulaw, alaw, opus)
 * are refused at creation, since the render needs a file ffmpeg can read by
 * its name. Retries are the HTTP layer's (429 "system_busy" and 5xx). Input
 * over five minutes should be split (the service's advice); a primer
 * script is one to two minutes. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/media/media_form.h"
#include "services/speech/speech_internal.h"

#define ELEVENLABS_DEFAULT_BASE    "https://api.elevenlabs.io"
#define ELEVENLABS_DEFAULT_MODEL   "eleven_multilingual_sts_v2"
#define ELEVENLABS_DEFAULT_FORMAT  "mp3_44100_128"
#define ELEVENLABS_DEFAULT_TIMEOUT 300000L

struct speech_elevenlabs {
    struct speech_enhancer base;
    char *base_url;
    char *key_header; /* "xi-api-key: ..." */
    char *voice_id;
    char *model_id;
    char *output_format;
    char *voice_settings; /* compact JSON, or NULL */
    bool remove_background_noise;
    int pcm_rate; /* > 0 for pcm_* formats */
    long timeout_ms;
    int max_retries;
    long retry_base_ms;
    volatile sig_atomic_t *cancel;
};

static bool elevenlabs_token_ok(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

char *speech_elevenlabs_url(const char *base_url, const char *voice_id, const char *output_format)
{
    if (!elevenlabs_token_ok(voice_id, 64) || !elevenlabs_token_ok(output_format, 32))
        return NULL;
    const char *base = base_url && *base_url ? base_url : ELEVENLABS_DEFAULT_BASE;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return xasprintf("%.*s/v1/speech-to-speech/%s?output_format=%s", (int)n, base, voice_id,
                     output_format);
}

static int elevenlabs_form(const struct speech_elevenlabs *el, const char *in_path,
                           struct media_form *form, char *err, size_t errlen)
{
    struct buf audio;
    buf_init(&audio, 0);
    int rc = media_read_file(in_path, SPEECH_MAX_AUDIO, &audio, err, errlen);
    if (rc)
        goto out;
    const char *slash = strrchr(in_path, '/');
    const char *filename = slash ? slash + 1 : in_path;
    rc = media_form_file(form, "audio", filename, media_mime_type(in_path), audio.data, audio.len);
    if (!rc)
        rc = media_form_field(form, "model_id", el->model_id);
    if (!rc && el->voice_settings)
        rc = media_form_field(form, "voice_settings", el->voice_settings);
    if (!rc && el->remove_background_noise)
        rc = media_form_field(form, "remove_background_noise", "true");
    if (!rc)
        rc = media_form_finish(form);
    if (rc)
        snprintf(err, errlen, "could not build the ElevenLabs upload of %s (%s)", in_path,
                 err_message(rc));
out:
    buf_free(&audio);
    return rc;
}

static int elevenlabs_enhance(struct speech_enhancer *enh, const char *in_path,
                              const char *work_dir, char **out_path, char *err, size_t errlen)
{
    struct speech_elevenlabs *el = (struct speech_elevenlabs *)enh;
    const char *name = el->pcm_rate ? "enhanced.wav" : "enhanced.mp3";
    char *url = speech_elevenlabs_url(el->base_url, el->voice_id, el->output_format);
    struct media_form form;
    media_form_init(&form, 0);
    struct http_response resp;
    http_response_init(&resp);
    int rc = elevenlabs_form(el, in_path, &form, err, errlen);
    if (rc)
        goto out;
    const char *headers[] = {el->key_header, form.content_type,
                             el->pcm_rate ? "Accept: audio/pcm" : "Accept: audio/mpeg", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = form.body.data;
    req.body_len = form.body.len;
    req.timeout_ms = el->timeout_ms;
    req.max_response = SPEECH_MAX_AUDIO;
    req.max_retries = el->max_retries;
    req.retry_base_ms = el->retry_base_ms;
    req.cancel = el->cancel;
    char http_err[512] = "";
    rc = http_client_request(NULL, &req, &resp, http_err, sizeof http_err);
    if (rc) {
        rc = speech_http_error("ElevenLabs speech-to-speech", rc, &resp, http_err, err, errlen);
        goto out;
    }
    rc = speech_check_audio("ElevenLabs", &resp, el->pcm_rate ? "pcm" : "mp3", err, errlen);
    if (rc)
        goto out;
    rc = speech_save_audio(work_dir, name, resp.body.data, resp.body.len, el->pcm_rate, out_path,
                           err, errlen);
    if (!rc)
        log_info("speech", "ElevenLabs speech-to-speech: %zu bytes in %d attempt(s), %lld ms",
                 resp.body.len, resp.attempts, (long long)resp.elapsed_ms);
out:
    http_response_free(&resp);
    media_form_free(&form);
    free(url);
    return rc;
}

static void elevenlabs_free(struct speech_enhancer *enh)
{
    struct speech_elevenlabs *el = (struct speech_elevenlabs *)enh;
    free(el->base_url);
    free(el->key_header);
    free(el->voice_id);
    free(el->model_id);
    free(el->output_format);
    free(el->voice_settings);
    free(el);
}

static const struct speech_enhancer_ops elevenlabs_ops = {
    .name = "elevenlabs",
    .enhance = elevenlabs_enhance,
    .free = elevenlabs_free,
};

/* The sample rate of a pcm_<rate> format, 0 for mp3_*, -1 for the rest. */
static int elevenlabs_pcm_rate(const char *format)
{
    if (strncmp(format, "mp3_", 4) == 0)
        return 0;
    if (strncmp(format, "pcm_", 4) == 0) {
        int rate = atoi(format + 4);
        return rate >= 8000 && rate <= 48000 ? rate : -1;
    }
    return -1;
}

/* voice_settings as compact JSON (new), or NULL when it is not a JSON object. */
static char *elevenlabs_settings(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    char *out = json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(v);
    return out;
}

struct speech_enhancer *speech_elevenlabs_new(const struct speech_elevenlabs_config *cfg, char *err,
                                              size_t errlen)
{
    if (!cfg || !cfg->api_key || !*cfg->api_key || strpbrk(cfg->api_key, "\r\n")) {
        snprintf(err, errlen, "ElevenLabs needs an API key (ELEVENLABS_API_KEY)");
        return NULL;
    }
    const char *format =
        cfg->output_format && *cfg->output_format ? cfg->output_format : ELEVENLABS_DEFAULT_FORMAT;
    char *probe_url = speech_elevenlabs_url(cfg->base_url, cfg->voice_id, format);
    if (!probe_url) {
        snprintf(err, errlen,
                 "ElevenLabs needs a voice id and an output format of letters, digits, '_' "
                 "and '-' (voice \"%.64s\", format \"%.32s\")",
                 cfg->voice_id ? cfg->voice_id : "", format);
        return NULL;
    }
    free(probe_url);
    int rate = elevenlabs_pcm_rate(format);
    if (rate < 0) {
        snprintf(err, errlen, "ElevenLabs output format \"%s\": use an mp3_* or pcm_* format",
                 format);
        return NULL;
    }
    char *settings = NULL;
    if (cfg->voice_settings && *cfg->voice_settings &&
        !(settings = elevenlabs_settings(cfg->voice_settings))) {
        snprintf(err, errlen, "ElevenLabs voice_settings must be a JSON object");
        return NULL;
    }
    const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url : ELEVENLABS_DEFAULT_BASE;
    struct speech_elevenlabs *el = xcalloc(1, sizeof *el);
    el->base.ops = &elevenlabs_ops;
    el->base_url = xstrdup(base);
    el->key_header = xasprintf("xi-api-key: %s", cfg->api_key);
    el->voice_id = xstrdup(cfg->voice_id);
    el->model_id =
        xstrdup(cfg->model_id && *cfg->model_id ? cfg->model_id : ELEVENLABS_DEFAULT_MODEL);
    el->output_format = xstrdup(format);
    el->voice_settings = settings;
    el->remove_background_noise = cfg->remove_background_noise;
    el->pcm_rate = rate;
    el->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : ELEVENLABS_DEFAULT_TIMEOUT;
    el->max_retries = cfg->max_retries == 0 ? -1 : cfg->max_retries < 0 ? 0 : cfg->max_retries;
    el->retry_base_ms = cfg->retry_base_ms;
    el->cancel = cfg->cancel;
    log_add_secret(cfg->api_key);
    return &el->base;
}
