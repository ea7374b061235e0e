/* speech_openai — cloud text-to-speech with OpenAI's POST /audio/speech. See speech.h.
 *
 * Wire facts (EXTERNAL_APIS.md §1.8): a JSON body {model, input, voice,
 * response_format, speed?, instructions?} with `Authorization: Bearer KEY`;
 * the answer is the audio bytes (chunked). `input` holds at most 4096
 * characters; a custom voice is {"id": "voice_..."}. Retries (transport
 * errors, 408/409/429/5xx, Retry-After) are net/http_client's; a 429 that
 * says the account is out of credit is not retried. The body is collected
 * in memory (bounded by SPEECH_MAX_AUDIO) so a broken transfer can be
 * retried whole, checked to really be audio of the asked format (a JSON
 * page with status 200 is an error, not a WAV), then written to
 * "tts.<format>". The pcm format (raw 16-bit mono; 24 kHz — the spec does
 * not say, 24 kHz is what the service is known to send) is saved as WAV. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/speech/speech_internal.h"

#define OPENAI_DEFAULT_BASE    "https://api.openai.com/v1"
#define OPENAI_DEFAULT_MODEL   "gpt-4o-mini-tts"
#define OPENAI_DEFAULT_VOICE   "alloy"
#define OPENAI_DEFAULT_FORMAT  "wav"
#define OPENAI_DEFAULT_TIMEOUT 120000L
#define OPENAI_PCM_RATE        24000

struct speech_openai {
    struct speech_tts base;
    char *url;  /* {base}/audio/speech */
    char *auth; /* "Authorization: Bearer ..." */
    char *model;
    char *voice;
    char *format;
    long timeout_ms;
    int max_retries;
    long retry_base_ms;
    volatile sig_atomic_t *cancel;
};

static const char *const openai_formats[] = {"wav", "mp3", "flac", "aac", "opus", "pcm", NULL};

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

json_t *speech_openai_body(const char *model, const char *default_voice, const char *format,
                           const char *text, const struct speech_voice *voice, char *err,
                           size_t errlen)
{
    size_t chars = utf8_chars(text);
    if (chars > SPEECH_OPENAI_MAX_INPUT) {
        snprintf(err, errlen,
                 "the script is %zu characters; OpenAI TTS takes at most %d per request", chars,
                 SPEECH_OPENAI_MAX_INPUT);
        return NULL;
    }
    const char *name = voice && voice->voice && *voice->voice ? voice->voice : default_voice;
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(model));
    json_object_set_new(body, "input", utf8_json_string(text));
    if (strncmp(name, "voice_", 6) == 0)
        json_object_set_new(body, "voice", json_pack("{s:s}", "id", name));
    else
        json_object_set_new(body, "voice", utf8_json_string(name));
    json_object_set_new(body, "response_format", json_string(format));
    if (voice && voice->speed > 0 && voice->speed != 1.0) {
        double speed = voice->speed < 0.25 ? 0.25 : voice->speed > 4.0 ? 4.0 : voice->speed;
        json_object_set_new(body, "speed", json_real(speed));
    }
    if (voice && voice->instructions && *voice->instructions)
        json_object_set_new(body, "instructions", utf8_json_string(voice->instructions));
    return body;
}

static bool openai_retry_filter(const struct http_response *resp, void *user)
{
    (void)user;
    /* "You exceeded your current quota": waiting will not help. */
    return !(resp->status == 429 && resp->body.data &&
             strstr(resp->body.data, "insufficient_quota") != NULL);
}

static int openai_synthesize(struct speech_tts *tts, const char *text,
                             const struct speech_voice *voice, const char *work_dir,
                             char **out_path, char *err, size_t errlen)
{
    struct speech_openai *o = (struct speech_openai *)tts;
    json_t *body = speech_openai_body(o->model, o->voice, o->format, text, voice, err, errlen);
    if (!body)
        return ERR_LIMIT;
    char *json = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *headers[] = {o->auth, "Content-Type: application/json", "Accept: */*", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.method = "POST";
    req.url = o->url;
    req.headers = headers;
    req.body = json;
    req.body_len = strlen(json);
    req.timeout_ms = o->timeout_ms;
    req.max_response = SPEECH_MAX_AUDIO;
    req.max_retries = o->max_retries;
    req.retry_base_ms = o->retry_base_ms;
    req.retry_filter = openai_retry_filter;
    req.cancel = o->cancel;
    struct http_response resp;
    http_response_init(&resp);
    char http_err[512] = "";
    int rc = http_client_request(NULL, &req, &resp, http_err, sizeof http_err);
    if (rc) {
        rc = speech_http_error("OpenAI TTS", rc, &resp, http_err, err, errlen);
        goto out;
    }
    rc = speech_check_audio("OpenAI TTS", &resp, o->format, err, errlen);
    if (rc)
        goto out;
    bool pcm = strcmp(o->format, "pcm") == 0;
    char name[32];
    snprintf(name, sizeof name, "tts.%s", pcm ? "wav" : o->format);
    rc = speech_save_audio(work_dir, name, resp.body.data, resp.body.len, pcm ? OPENAI_PCM_RATE : 0,
                           out_path, err, errlen);
    if (!rc)
        log_info("speech", "OpenAI TTS: %zu bytes of %s in %d attempt(s), %lld ms", resp.body.len,
                 o->format, resp.attempts, (long long)resp.elapsed_ms);
out:
    http_response_free(&resp);
    free(json);
    return rc;
}

static void openai_free(struct speech_tts *tts)
{
    struct speech_openai *o = (struct speech_openai *)tts;
    free(o->url);
    free(o->auth);
    free(o->model);
    free(o->voice);
    free(o->format);
    free(o);
}

static const struct speech_tts_ops openai_ops = {
    .name = "openai",
    .synthesize = openai_synthesize,
    .free = openai_free,
};

struct speech_tts *speech_openai_new(const struct speech_openai_config *cfg, char *err,
                                     size_t errlen)
{
    if (!cfg || !cfg->api_key || !*cfg->api_key || strpbrk(cfg->api_key, "\r\n")) {
        snprintf(err, errlen, "OpenAI TTS needs an API key (OPENAI_API_KEY)");
        return NULL;
    }
    const char *format = cfg->format && *cfg->format ? cfg->format : OPENAI_DEFAULT_FORMAT;
    bool known = false;
    for (size_t i = 0; openai_formats[i]; i++)
        known = known || strcmp(format, openai_formats[i]) == 0;
    if (!known) {
        snprintf(err, errlen, "OpenAI TTS format \"%s\": expected wav, mp3, flac, aac, opus or pcm",
                 format);
        return NULL;
    }
    const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url : OPENAI_DEFAULT_BASE;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    struct speech_openai *o = xcalloc(1, sizeof *o);
    o->base.ops = &openai_ops;
    o->url = xasprintf("%.*s/audio/speech", (int)n, base);
    o->auth = xasprintf("Authorization: Bearer %s", cfg->api_key);
    o->model = xstrdup(cfg->model && *cfg->model ? cfg->model : OPENAI_DEFAULT_MODEL);
    o->voice = xstrdup(cfg->voice && *cfg->voice ? cfg->voice : OPENAI_DEFAULT_VOICE);
    o->format = xstrdup(format);
    o->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : OPENAI_DEFAULT_TIMEOUT;
    o->max_retries = cfg->max_retries == 0 ? -1 : cfg->max_retries < 0 ? 0 : cfg->max_retries;
    o->retry_base_ms = cfg->retry_base_ms;
    o->cancel = cfg->cancel;
    log_add_secret(cfg->api_key);
    return &o->base;
}
