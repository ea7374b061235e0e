/* test_speech — the speech service: espeak-ng and ffmpeg argv and filter
 * chains, the OpenAI TTS and ElevenLabs speech-to-speech clients against a
 * scripted HTTP server on 127.0.0.1 (what they send: paths, auth headers,
 * JSON fields, multipart field names; what they do with answers: retries,
 * 401, JSON pages served as 200, raw PCM wrapped as WAV), backend choice
 * from configuration, and — when espeak-ng and ffmpeg are installed — real
 * synthesis and enhancement checked with ffprobe. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/speech/speech.h"
#include "services/speech/speech_internal.h"
#include "support/fake_http.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    log_set_level(LOG_OFF);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_speech.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    const char *argv[] = {"rm", "-rf", tmpdir, NULL};
    return media_run(argv, NULL, NULL, 0) == 0 ? 0 : -1;
}

/* A fresh empty work directory under tmpdir (new path). */
static char *workdir(const char *name)
{
    char *dir = media_path(tmpdir, name);
    assert_int_equal(config_mkdirs(dir, 0700), 0);
    return dir;
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    struct buf b;
    buf_init(&b, 0);
    char err[256];
    assert_int_equal(media_read_file(path, 0, &b, err, sizeof err), 0);
    return buf_steal(&b);
}

/* The body of a recorded request (new). */
static char *request_body(const char *raw)
{
    const char *p = strstr(raw, "\r\n\r\n");
    assert_non_null(p);
    return xstrdup(p + 4);
}

/* ---- argv and filter building ----------------------------------------------------- */

static void test_espeak_argv(void **state)
{
    (void)state;
    char err[256];
    struct speech_espeak_config cfg = {0};
    struct media_argv a;
    media_argv_init(&a);
    assert_int_equal(speech_espeak_argv(&cfg, NULL, "in.txt", "out.wav", &a, err, sizeof err), 0);
    const char *want[] = {"espeak-ng", "-v", "en-us",   "-s", "165",    "-b",
                          "1",         "-w", "out.wav", "-f", "in.txt", NULL};
    for (int i = 0; want[i]; i++)
        assert_string_equal(a.v[i], want[i]);
    assert_null(a.v[11]);
    media_argv_free(&a);

    cfg = (struct speech_espeak_config){
        .program = "/opt/espeak", .voice = "en-gb", .rate_wpm = 150, .pitch = 40};
    struct speech_voice v = {.voice = "en-us+f3", .speed = 1.2};
    media_argv_init(&a);
    assert_int_equal(speech_espeak_argv(&cfg, &v, "t", "o", &a, err, sizeof err), 0);
    assert_string_equal(a.v[0], "/opt/espeak");
    assert_string_equal(a.v[2], "en-us+f3");
    assert_string_equal(a.v[4], "180");
    assert_string_equal(a.v[5], "-p");
    assert_string_equal(a.v[6], "40");
    media_argv_free(&a);

    /* Speeds are clamped to what espeak-ng accepts. */
    v = (struct speech_voice){.speed = 10};
    media_argv_init(&a);
    assert_int_equal(speech_espeak_argv(&cfg, &v, "t", "o", &a, err, sizeof err), 0);
    assert_string_equal(a.v[2], "en-gb");
    assert_string_equal(a.v[4], "450");
    media_argv_free(&a);

    const char *bad[] = {"-x", "en us", "en;rm", "a\"b", ""};
    for (size_t i = 0; i < 4; i++) {
        v = (struct speech_voice){.voice = bad[i]};
        media_argv_init(&a);
        assert_int_equal(speech_espeak_argv(&cfg, &v, "t", "o", &a, err, sizeof err), ERR_INVALID);
        assert_non_null(strstr(err, "is not a voice name"));
        media_argv_free(&a);
    }
}

static void test_ffmpeg_filter_and_argv(void **state)
{
    (void)state;
    struct speech_ffmpeg_config cfg = {0};
    char *f = speech_ffmpeg_filter(&cfg);
    assert_string_equal(f, "highpass=f=80,lowpass=f=12000,"
                           "acompressor=threshold=0.1:ratio=3:attack=10:release=200:makeup=1,"
                           "loudnorm=I=-16.0:TP=-1.5:LRA=11,aresample=48000");
    free(f);
    cfg = (struct speech_ffmpeg_config){
        .target_lufs = -23, .highpass_hz = 100, .lowpass_hz = 9000, .sample_rate = 44100};
    f = speech_ffmpeg_filter(&cfg);
    assert_non_null(strstr(f, "highpass=f=100,lowpass=f=9000,"));
    assert_non_null(strstr(f, "loudnorm=I=-23.0:"));
    assert_non_null(strstr(f, "aresample=44100"));
    free(f);

    struct media_argv a;
    media_argv_init(&a);
    cfg = (struct speech_ffmpeg_config){0};
    speech_ffmpeg_argv(&cfg, "in put.wav", "out.tmp.wav", &a);
    assert_string_equal(a.v[0], "ffmpeg");
    int i_in = -1, i_af = -1, i_codec = -1;
    for (int i = 0; i < a.n; i++) {
        if (strcmp(a.v[i], "file:in put.wav") == 0)
            i_in = i;
        if (strcmp(a.v[i], "-af") == 0)
            i_af = i;
        if (strcmp(a.v[i], "pcm_s16le") == 0)
            i_codec = i;
    }
    assert_true(i_in > 0 && strcmp(a.v[i_in - 1], "-i") == 0);
    assert_true(i_af > i_in);
    assert_non_null(strstr(a.v[i_af + 1], "loudnorm=I=-16.0"));
    assert_true(i_codec > 0);
    assert_string_equal(a.v[a.n - 1], "file:out.tmp.wav");
    assert_string_equal(a.v[a.n - 2], "wav");
    media_argv_free(&a);

    cfg.format = "m4a";
    media_argv_init(&a);
    speech_ffmpeg_argv(&cfg, "in.wav", "out.m4a", &a);
    bool aac = false, faststart = false;
    for (int i = 0; i < a.n; i++) {
        aac = aac || strcmp(a.v[i], "aac") == 0;
        faststart = faststart || strcmp(a.v[i], "+faststart") == 0;
    }
    assert_true(aac && faststart);
    media_argv_free(&a);

    char err[256];
    struct speech_ffmpeg_config bad = {.format = "ogg"};
    assert_null(speech_ffmpeg_new(&bad, err, sizeof err));
    assert_string_equal(err, "enhanced audio format \"ogg\": expected wav or m4a");
}

/* ---- OpenAI TTS ------------------------------------------------------------------------- */

static void test_openai_body(void **state)
{
    (void)state;
    char err[256];
    json_t *b = speech_openai_body("gpt-4o-mini-tts", "alloy", "wav", "Hello \"Maria\"", NULL, err,
                                   sizeof err);
    assert_non_null(b);
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"input\":\"Hello \\\"Maria\\\"\",\"model\":\"gpt-4o-mini-tts\","
                           "\"response_format\":\"wav\",\"voice\":\"alloy\"}");
    free(s);
    json_decref(b);

    struct speech_voice v = {.voice = "voice_abc123", .speed = 9, .instructions = "Warm, calm."};
    b = speech_openai_body("m", "alloy", "mp3", "Hi", &v, err, sizeof err);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "voice"), "id")),
                        "voice_abc123");
    assert_true(json_real_value(json_object_get(b, "speed")) == 4.0);
    assert_string_equal(json_string_value(json_object_get(b, "instructions")), "Warm, calm.");
    json_decref(b);

    /* The limit counts characters, not bytes. */
    struct buf text;
    buf_init(&text, 0);
    for (int i = 0; i < SPEECH_OPENAI_MAX_INPUT; i++)
        buf_append_str(&text, "\xc3\xa9"); /* é */
    b = speech_openai_body("m", "alloy", "wav", buf_str(&text), NULL, err, sizeof err);
    assert_non_null(b);
    json_decref(b);
    buf_append_str(&text, "x");
    assert_null(speech_openai_body("m", "alloy", "wav", buf_str(&text), NULL, err, sizeof err));
    assert_string_equal(err, "the script is 4097 characters; OpenAI TTS takes at most 4096 per "
                             "request");
    buf_free(&text);
}

static const char WAV_BODY[] = "RIFF\x24\x01\x01\x01WAVEfmt \x10\x01\x01\x01some-pcm-bytes";

static struct speech_tts *openai_for(struct fake_http *server, const char *format)
{
    char *base = fake_http_url(server, "/v1/");
    char err[256];
    struct speech_openai_config cfg = {
        .base_url = base, .api_key = "sk-unit-test-key-123", .format = format, .retry_base_ms = 5};
    struct speech_tts *tts = speech_openai_new(&cfg, err, sizeof err);
    free(base);
    assert_non_null(tts);
    return tts;
}

static void test_openai_request_and_retry(void **state)
{
    (void)state;
    const struct fake_http_reply script[] = {
        {.status = 500, .body = "{\"error\":{\"message\":\"boom\"}}"},
        {.status = 200, .headers = "Content-Type: application/octet-stream\r\n", .body = WAV_BODY},
    };
    struct fake_http *server = fake_http_start(script, 2);
    struct speech_tts *tts = openai_for(server, NULL);
    char *dir = workdir("openai-ok"), *out = NULL, err[512] = "";
    struct speech_voice v = {.voice = "nova"};
    assert_int_equal(
        speech_synthesize(tts, "Hi Maria, see you at 10.", &v, dir, &out, err, sizeof err), 0);
    assert_string_equal(speech_tts_name(tts), "openai");
    assert_int_equal(fake_http_count(server), 2);
    char *want = media_path(dir, "tts.wav");
    assert_string_equal(out, want);
    char *data = slurp(out);
    assert_string_equal(data, WAV_BODY);
    assert_int_equal(count_files(dir), 1);

    char *raw = fake_http_request(server, 1);
    assert_non_null(strstr(raw, "POST /v1/audio/speech HTTP/1.1\r\n"));
    assert_non_null(strstr(raw, "Authorization: Bearer sk-unit-test-key-123\r\n"));
    assert_non_null(strstr(raw, "Content-Type: application/json\r\n"));
    char *body = request_body(raw);
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4o-mini-tts");
    assert_string_equal(json_string_value(json_object_get(j, "input")), "Hi Maria, see you at 10.");
    assert_string_equal(json_string_value(json_object_get(j, "voice")), "nova");
    assert_string_equal(json_string_value(json_object_get(j, "response_format")), "wav");
    assert_int_equal(json_object_size(j), 4);
    json_decref(j);
    free(body);
    free(raw);
    free(data);
    free(want);
    free(out);
    free(dir);
    speech_tts_free(tts);
    fake_http_stop(server);
}

static void test_openai_errors(void **state)
{
    (void)state;
    const struct fake_http_reply script[] = {
        {.status = 401,
         .headers = "Content-Type: application/json\r\n",
         .body = "{\"error\":{\"message\":\"Incorrect API key provided: sk-***123.\","
                 "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"},
        {.status = 200,
         .headers = "Content-Type: application/json\r\n",
         .body = "{\"error\":{\"message\":\"not audio\"}}"},
        {.status = 429,
         .headers = "Content-Type: application/json\r\n",
         .body = "{\"error\":{\"message\":\"You exceeded your current quota\","
                 "\"code\":\"insufficient_quota\"}}"},
    };
    struct fake_http *server = fake_http_start(script, 3);
    struct speech_tts *tts = openai_for(server, "wav");
    char *dir = workdir("openai-errors"), *out = NULL, err[512] = "";
    assert_int_equal(speech_synthesize(tts, "Hello", NULL, dir, &out, err, sizeof err), ERR_AUTH);
    assert_string_equal(err, "OpenAI TTS rejected the API key (HTTP 401): Incorrect API key "
                             "provided: sk-***123.");
    assert_null(out);
    assert_int_equal(speech_synthesize(tts, "Hello", NULL, dir, &out, err, sizeof err), ERR_PARSE);
    assert_non_null(strstr(err, "not wav audio"));
    assert_int_equal(speech_synthesize(tts, "Hello", NULL, dir, &out, err, sizeof err),
                     ERR_RATE_LIMIT);
    assert_non_null(strstr(err, "exceeded your current quota"));
    assert_int_equal(fake_http_count(server), 3); /* the quota 429 was not retried */
    assert_int_equal(count_files(dir), 0);
    free(dir);
    speech_tts_free(tts);
    fake_http_stop(server);
}

static void test_openai_pcm_is_wrapped(void **state)
{
    (void)state;
    const struct fake_http_reply script[] = {{.status = 200, .body = "\x01\x02\x03\x04\x05\x06"}};
    struct fake_http *server = fake_http_start(script, 1);
    struct speech_tts *tts = openai_for(server, "pcm");
    char *dir = workdir("openai-pcm"), *out = NULL, err[512] = "";
    assert_int_equal(speech_synthesize(tts, "Hello", NULL, dir, &out, err, sizeof err), 0);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(media_read_file(out, 0, &b, err, sizeof err), 0);
    assert_int_equal(b.len, 44 + 6);
    assert_true(media_looks_like("wav", b.data, b.len));
    const unsigned char *h = (const unsigned char *)b.data;
    assert_int_equal(h[24] | h[25] << 8 | h[26] << 16, 24000);
    assert_memory_equal(b.data + 44, "\x01\x02\x03\x04\x05\x06", 6);
    buf_free(&b);
    free(out);
    free(dir);
    speech_tts_free(tts);
    fake_http_stop(server);
}

static void test_openai_config_errors(void **state)
{
    (void)state;
    char err[256];
    struct speech_openai_config cfg = {0};
    assert_null(speech_openai_new(&cfg, err, sizeof err));
    assert_string_equal(err, "OpenAI TTS needs an API key (OPENAI_API_KEY)");
    cfg.api_key = "k-123456";
    cfg.format = "ogg";
    assert_null(speech_openai_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "\"ogg\""));
}

/* ---- ElevenLabs ------------------------------------------------------------------------- */

static struct speech_enhancer *elevenlabs_for(struct fake_http *server, const char *format)
{
    char *base = fake_http_url(server, "");
    char err[256];
    struct speech_elevenlabs_config cfg = {
        .base_url = base,
        .api_key = "xi-unit-key-456",
        .voice_id = "Voice_ABC-123",
        .output_format = format,
        .voice_settings = "{ \"stability\": 0.5, \"similarity_boost\": 0.8 }",
        .remove_background_noise = true,
        .retry_base_ms = 5,
    };
    struct speech_enhancer *e = speech_elevenlabs_new(&cfg, err, sizeof err);
    free(base);
    assert_non_null(e);
    return e;
}

static char *write_input(const char *dir)
{
    char *in = media_path(dir, "voice.wav");
    char err[256];
    const char data[] = "RIFF-fake-audio-without-nul-bytes";
    assert_int_equal(media_write_file(in, data, sizeof data - 1, err, sizeof err), 0);
    return in;
}

static void test_elevenlabs_url(void **state)
{
    (void)state;
    char *u = speech_elevenlabs_url("https://api.elevenlabs.io/", "abc", "mp3_44100_128");
    assert_string_equal(
        u, "https://api.elevenlabs.io/v1/speech-to-speech/abc?output_format=mp3_44100_128");
    free(u);
    u = speech_elevenlabs_url(NULL, "abc", "pcm_16000");
    assert_string_equal(
        u, "https://api.elevenlabs.io/v1/speech-to-speech/abc?output_format=pcm_16000");
    free(u);
    assert_null(speech_elevenlabs_url(NULL, "../admin", "mp3_44100_128"));
    assert_null(speech_elevenlabs_url(NULL, "abc", "mp3&x=1"));
    assert_null(speech_elevenlabs_url(NULL, "", "mp3_44100_128"));
}

static void test_elevenlabs_request(void **state)
{
    (void)state;
    const struct fake_http_reply script[] = {
        {.status = 503, .body = "busy"},
        {.status = 200, .headers = "Content-Type: audio/mpeg\r\n", .body = "ID3\x04-mp3-bytes"},
    };
    struct fake_http *server = fake_http_start(script, 2);
    struct speech_enhancer *e = elevenlabs_for(server, NULL);
    char *dir = workdir("el-ok"), *in = write_input(dir), *out = NULL, err[512] = "";
    assert_int_equal(speech_enhance(e, in, dir, &out, err, sizeof err), 0);
    assert_string_equal(speech_enhancer_name(e), "elevenlabs");
    char *want = media_path(dir, "enhanced.mp3");
    assert_string_equal(out, want);
    char *data = slurp(out);
    assert_string_equal(data, "ID3\x04-mp3-bytes");
    assert_int_equal(fake_http_count(server), 2);

    char *raw = fake_http_request(server, 1);
    assert_non_null(strstr(raw, "POST /v1/speech-to-speech/Voice_ABC-123?output_format="
                                "mp3_44100_128 HTTP/1.1\r\n"));
    assert_non_null(strstr(raw, "xi-api-key: xi-unit-key-456\r\n"));
    assert_non_null(strstr(raw, "Content-Type: multipart/form-data; boundary="));
    assert_null(strstr(raw, "Authorization:"));
    assert_non_null(strstr(raw, "Content-Disposition: form-data; name=\"audio\"; "
                                "filename=\"voice.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
                                "RIFF-fake-audio-without-nul-bytes\r\n"));
    assert_non_null(strstr(raw, "name=\"model_id\"\r\n\r\neleven_multilingual_sts_v2\r\n"));
    assert_non_null(strstr(raw, "name=\"voice_settings\"\r\n\r\n"
                                "{\"stability\":0.5,\"similarity_boost\":0.8}\r\n"));
    assert_non_null(strstr(raw, "name=\"remove_background_noise\"\r\n\r\ntrue\r\n"));
    free(raw);
    free(data);
    free(want);
    free(out);
    free(in);
    free(dir);
    speech_enhancer_free(e);
    fake_http_stop(server);
}

static void test_elevenlabs_pcm_and_errors(void **state)
{
    (void)state;
    const struct fake_http_reply script[] = {
        {.status = 200, .headers = "Content-Type: audio/pcm\r\n", .body = "\x10\x20\x30\x40"},
        {.status = 422,
         .headers = "Content-Type: application/json\r\n",
         .body = "{\"detail\":[{\"loc\":[\"body\",\"audio\"],\"msg\":\"field required\","
                 "\"type\":\"value_error.missing\"}]}"},
        {.status = 401,
         .headers = "Content-Type: application/json\r\n",
         .body = "{\"detail\":{\"status\":\"invalid_api_key\",\"message\":\"Invalid API key\"}}"},
    };
    struct fake_http *server = fake_http_start(script, 3);
    struct speech_enhancer *e = elevenlabs_for(server, "pcm_16000");
    char *dir = workdir("el-pcm"), *in = write_input(dir), *out = NULL, err[512] = "";
    assert_int_equal(speech_enhance(e, in, dir, &out, err, sizeof err), 0);
    char *want = media_path(dir, "enhanced.wav");
    assert_string_equal(out, want);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(media_read_file(out, 0, &b, err, sizeof err), 0);
    assert_int_equal(b.len, 48);
    const unsigned char *h = (const unsigned char *)b.data;
    assert_int_equal(h[24] | h[25] << 8 | h[26] << 16, 16000);
    buf_free(&b);
    free(out);
    out = NULL;
    char *raw = fake_http_request(server, 0);
    assert_non_null(strstr(raw, "?output_format=pcm_16000 HTTP/1.1"));
    free(raw);

    assert_int_equal(speech_enhance(e, in, dir, &out, err, sizeof err), ERR_HTTP);
    assert_string_equal(err, "ElevenLabs speech-to-speech failed (HTTP 422 after 1 attempt): "
                             "field required");
    assert_int_equal(speech_enhance(e, in, dir, &out, err, sizeof err), ERR_AUTH);
    assert_string_equal(err, "ElevenLabs speech-to-speech rejected the API key (HTTP 401): "
                             "Invalid API key");
    assert_null(out);

    /* The input must exist; the output must not overwrite it. */
    char *missing = media_path(dir, "nope.wav");
    assert_int_equal(speech_enhance(e, missing, dir, &out, err, sizeof err), ERR_NOT_FOUND);
    free(missing);
    free(want);
    free(in);
    free(dir);
    speech_enhancer_free(e);
    fake_http_stop(server);
}

static void test_elevenlabs_config_errors(void **state)
{
    (void)state;
    char err[256];
    struct speech_elevenlabs_config cfg = {.voice_id = "abc"};
    assert_null(speech_elevenlabs_new(&cfg, err, sizeof err));
    assert_string_equal(err, "ElevenLabs needs an API key (ELEVENLABS_API_KEY)");
    cfg.api_key = "k-123456";
    cfg.output_format = "ulaw_8000";
    assert_null(speech_elevenlabs_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "use an mp3_* or pcm_* format"));
    cfg.output_format = NULL;
    cfg.voice_settings = "[1,2]";
    assert_null(speech_elevenlabs_new(&cfg, err, sizeof err));
    assert_string_equal(err, "ElevenLabs voice_settings must be a JSON object");
    cfg.voice_settings = NULL;
    cfg.voice_id = "a/b";
    assert_null(speech_elevenlabs_new(&cfg, err, sizeof err));
}

/* ---- choosing backends ------------------------------------------------------------------ */

static void test_from_config(void **state)
{
    (void)state;
    char err[256];
    unsetenv("OPENAI_API_KEY");
    unsetenv("ELEVENLABS_API_KEY");
    struct speech_tts *tts = speech_tts_from_config(NULL, err, sizeof err);
    assert_string_equal(speech_tts_name(tts), "espeak");
    speech_tts_free(tts);
    setenv("OPENAI_API_KEY", "sk-from-env-123", 1);
    tts = speech_tts_from_config(NULL, err, sizeof err);
    assert_string_equal(speech_tts_name(tts), "openai");
    speech_tts_free(tts);

    struct config *cfg =
        config_parse("[speech]\ntts = espeak\nenhance = none\n", "t", err, sizeof err);
    tts = speech_tts_from_config(cfg, err, sizeof err);
    assert_string_equal(speech_tts_name(tts), "espeak");
    speech_tts_free(tts);
    bool none = false;
    assert_null(speech_enhancer_from_config(cfg, &none, err, sizeof err));
    assert_true(none);
    config_free(cfg);

    /* ElevenLabs needs both the key and a voice. */
    setenv("ELEVENLABS_API_KEY", "xi-from-env-123", 1);
    struct speech_enhancer *e = speech_enhancer_from_config(NULL, &none, err, sizeof err);
    assert_false(none);
    assert_string_equal(speech_enhancer_name(e), "ffmpeg");
    speech_enhancer_free(e);
    cfg = config_parse("[speech]\nelevenlabs_voice_id = v123\n", "t", err, sizeof err);
    e = speech_enhancer_from_config(cfg, &none, err, sizeof err);
    assert_string_equal(speech_enhancer_name(e), "elevenlabs");
    speech_enhancer_free(e);
    config_free(cfg);

    cfg = config_parse("[speech]\ntts = festival\nenhance = magic\n", "t", err, sizeof err);
    assert_null(speech_tts_from_config(cfg, err, sizeof err));
    assert_string_equal(err, "[speech] tts = festival: expected auto, espeak or openai");
    assert_null(speech_enhancer_from_config(cfg, &none, err, sizeof err));
    assert_false(none);
    config_free(cfg);
    unsetenv("OPENAI_API_KEY");
    unsetenv("ELEVENLABS_API_KEY");
}

/* ---- real programs ---------------------------------------------------------------------- */

static void test_synthesize_validation(void **state)
{
    (void)state;
    struct speech_tts *tts = speech_espeak_new(NULL);
    char *dir = workdir("validation"), *out = NULL, err[512];
    assert_int_equal(speech_synthesize(tts, " \n\t", NULL, dir, &out, err, sizeof err),
                     ERR_INVALID);
    assert_string_equal(err, "the text to speak is empty");
    char *nodir = media_path(tmpdir, "no-such-dir");
    assert_int_equal(speech_synthesize(tts, "Hi", NULL, nodir, &out, err, sizeof err), ERR_INVALID);
    char *big = xmalloc(SPEECH_MAX_TEXT + 2);
    memset(big, 'a', SPEECH_MAX_TEXT + 1);
    big[SPEECH_MAX_TEXT + 1] = '\0';
    assert_int_equal(speech_synthesize(tts, big, NULL, dir, &out, err, sizeof err), ERR_LIMIT);
    free(big);
    free(nodir);
    speech_tts_free(tts);

    struct speech_espeak_config cfg = {.program = "harde-no-such-espeak"};
    tts = speech_espeak_new(&cfg);
    assert_int_equal(speech_synthesize(tts, "Hi", NULL, dir, &out, err, sizeof err), ERR_NOT_FOUND);
    assert_string_equal(err, "harde-no-such-espeak is not installed (not found in PATH)");
    assert_int_equal(count_files(dir), 0); /* the text file was removed */
    speech_tts_free(tts);
    free(dir);
}

static void test_espeak_and_enhance_real(void **state)
{
    (void)state;
    if (!media_have_program("espeak-ng") || !media_have_program("ffmpeg") ||
        !media_have_program("ffprobe")) {
        skip();
        return;
    }
    struct speech_tts *tts = speech_espeak_new(NULL);
    char *dir = workdir("real"), *out = NULL, err[512] = "";
    const char *text = "-v Hello Maria! [[h@l'oU]] Your roof inspection is at 10 a.m.\x01 "
                       "We'll see you then.";
    assert_int_equal(speech_synthesize(tts, text, NULL, dir, &out, err, sizeof err), 0);
    struct media_info info;
    assert_int_equal(media_probe(out, &info, err, sizeof err), 0);
    assert_true(info.has_audio);
    assert_string_equal(info.audio_codec, "pcm_s16le");
    assert_true(info.duration_s > 2.0 && info.duration_s < 20.0);
    double voice_s = info.duration_s;
    assert_int_equal(count_files(dir), 1);

    struct speech_enhancer *enh = speech_ffmpeg_new(NULL, err, sizeof err);
    char *enhanced = NULL;
    assert_int_equal(speech_enhance(enh, out, dir, &enhanced, err, sizeof err), 0);
    assert_int_equal(media_probe(enhanced, &info, err, sizeof err), 0);
    assert_int_equal(info.sample_rate, 48000);
    assert_int_equal(info.channels, 1);
    assert_true(info.duration_s > voice_s - 0.1 && info.duration_s < voice_s + 0.1);
    assert_int_equal(count_files(dir), 2);
    /* Enhancing the enhanced file onto itself is refused. */
    char *again = NULL;
    assert_int_equal(speech_enhance(enh, enhanced, dir, &again, err, sizeof err), ERR_INVALID);

    /* An input ffmpeg cannot read gives ffmpeg's own reason. */
    char *junk = media_path(dir, "junk.wav");
    assert_int_equal(media_write_file(junk, "not audio", 9, err, sizeof err), 0);
    assert_int_equal(speech_enhance(enh, junk, dir, &again, err, sizeof err), ERR_IO);
    assert_non_null(strstr(err, "ffmpeg failed (exit "));
    assert_int_equal(count_files(dir), 3); /* no temporary file left */
    free(junk);
    speech_enhancer_free(enh);
    free(enhanced);
    free(out);
    free(dir);
    speech_tts_free(tts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_espeak_argv),
        cmocka_unit_test(test_ffmpeg_filter_and_argv),
        cmocka_unit_test(test_openai_body),
        cmocka_unit_test(test_openai_request_and_retry),
        cmocka_unit_test(test_openai_errors),
        cmocka_unit_test(test_openai_pcm_is_wrapped),
        cmocka_unit_test(test_openai_config_errors),
        cmocka_unit_test(test_elevenlabs_url),
        cmocka_unit_test(test_elevenlabs_request),
        cmocka_unit_test(test_elevenlabs_pcm_and_errors),
        cmocka_unit_test(test_elevenlabs_config_errors),
        cmocka_unit_test(test_from_config),
        cmocka_unit_test(test_synthesize_validation),
        cmocka_unit_test(test_espeak_and_enhance_real),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
