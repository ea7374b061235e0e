/* speech_espeak — local text-to-speech with espeak-ng. See speech.h.
 *
 * Owns nothing between calls but its settings. A call writes the text to a
 * temporary file in the work directory (so no text is ever an argument a
 * program could read as an option, and its length is not limited by the
 * command line), runs `espeak-ng -v VOICE -s WPM -b 1 -w OUT -f TEXTFILE`
 * through media_run, then renames the WAV (22.05 kHz mono) to "tts.wav".
 * Control characters become spaces, and "[[" (espeak-ng's inline phoneme
 * syntax) is defused, so a script cannot steer the synthesiser. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/speech/speech_internal.h"

#define ESPEAK_DEFAULT_VOICE   "en-us"
#define ESPEAK_DEFAULT_RATE    165
#define ESPEAK_MIN_RATE        80
#define ESPEAK_MAX_RATE        450
#define ESPEAK_DEFAULT_TIMEOUT 120000L
#define ESPEAK_OUTPUT          "tts.wav"

struct speech_espeak {
    struct speech_tts base;
    char *program;
    char *voice;
    int rate_wpm;
    int pitch;
    long timeout_ms;
    volatile sig_atomic_t *cancel;
};

static bool espeak_voice_ok(const char *v)
{
    if (!v || !*v || strlen(v) > 64 || v[0] == '-')
        return false;
    for (; *v; v++)
        if (!(('a' <= *v && *v <= 'z') || ('A' <= *v && *v <= 'Z') || ('0' <= *v && *v <= '9') ||
              strchr("-_+/", *v)))
            return false;
    return true;
}

int speech_espeak_argv(const struct speech_espeak_config *cfg, const struct speech_voice *voice,
                       const char *text_path, const char *out_path, struct media_argv *argv,
                       char *err, size_t errlen)
{
    const char *name = voice && voice->voice && *voice->voice ? voice->voice : cfg->voice;
    if (!name || !*name)
        name = ESPEAK_DEFAULT_VOICE;
    if (!espeak_voice_ok(name)) {
        snprintf(err, errlen, "espeak-ng voice \"%.64s\" is not a voice name", name);
        return ERR_INVALID;
    }
    double speed = voice && voice->speed > 0 ? voice->speed : 1.0;
    int rate = (int)((cfg->rate_wpm > 0 ? cfg->rate_wpm : ESPEAK_DEFAULT_RATE) * speed + 0.5);
    rate = rate < ESPEAK_MIN_RATE   ? ESPEAK_MIN_RATE
           : rate > ESPEAK_MAX_RATE ? ESPEAK_MAX_RATE
                                    : rate;
    media_argv_add(argv, cfg->program && *cfg->program ? cfg->program : "espeak-ng");
    media_argv_add(argv, "-v");
    media_argv_add(argv, name);
    media_argv_add(argv, "-s");
    media_argv_addf(argv, "%d", rate);
    if (cfg->pitch > 0) {
        media_argv_add(argv, "-p");
        media_argv_addf(argv, "%d", cfg->pitch > 99 ? 99 : cfg->pitch);
    }
    media_argv_add(argv, "-b");
    media_argv_add(argv, "1"); /* the text file is UTF-8 */
    media_argv_add(argv, "-w");
    media_argv_add(argv, out_path);
    media_argv_add(argv, "-f");
    media_argv_add(argv, text_path);
    return media_argv_check(argv, err, errlen);
}

/* The text as espeak-ng should read it (new). */
static char *espeak_clean_text(const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '[' && p[1] == '[') {
            buf_append_str(&b, "( ");
            p++;
        } else if ((c < 0x20 && c != '\n') || c == 0x7f) {
            buf_append_char(&b, ' ');
        } else {
            buf_append_char(&b, (char)c);
        }
    }
    buf_append_char(&b, '\n');
    return buf_steal(&b);
}

static int espeak_synthesize(struct speech_tts *tts, const char *text,
                             const struct speech_voice *voice, const char *work_dir,
                             char **out_path, char *err, size_t errlen)
{
    struct speech_espeak *e = (struct speech_espeak *)tts;
    struct speech_espeak_config cfg = {
        .program = e->program, .voice = e->voice, .rate_wpm = e->rate_wpm, .pitch = e->pitch};
    char *path = media_path(work_dir, ESPEAK_OUTPUT);
    char *tmp = media_temp_name(path, "wav");
    char *text_path = media_temp_name(path, "txt");
    char *clean = espeak_clean_text(text);
    struct media_argv argv;
    media_argv_init(&argv);
    int rc = media_write_file(text_path, clean, strlen(clean), err, errlen);
    if (!rc)
        rc = speech_espeak_argv(&cfg, voice, text_path, tmp, &argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.timeout_ms = e->timeout_ms, .cancel = e->cancel};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (!rc && media_file_size(tmp) <= 44) {
        snprintf(err, errlen, "espeak-ng wrote no audio for the text");
        rc = ERR_IO;
    }
    if (!rc)
        rc = media_commit(tmp, path, err, errlen);
    if (!rc) {
        *out_path = path;
        path = NULL;
    }
    unlink(text_path);
    unlink(tmp);
    media_argv_free(&argv);
    free(clean);
    free(text_path);
    free(tmp);
    free(path);
    return rc;
}

static void espeak_free(struct speech_tts *tts)
{
    struct speech_espeak *e = (struct speech_espeak *)tts;
    free(e->program);
    free(e->voice);
    free(e);
}

static const struct speech_tts_ops espeak_ops = {
    .name = "espeak",
    .synthesize = espeak_synthesize,
    .free = espeak_free,
};

struct speech_tts *speech_espeak_new(const struct speech_espeak_config *cfg)
{
    struct speech_espeak_config none = {0};
    if (!cfg)
        cfg = &none;
    struct speech_espeak *e = xcalloc(1, sizeof *e);
    e->base.ops = &espeak_ops;
    e->program = xstrdup(cfg->program && *cfg->program ? cfg->program : "espeak-ng");
    e->voice = xstrdup(cfg->voice && *cfg->voice ? cfg->voice : ESPEAK_DEFAULT_VOICE);
    e->rate_wpm = cfg->rate_wpm > 0 ? cfg->rate_wpm : ESPEAK_DEFAULT_RATE;
    e->pitch = cfg->pitch;
    e->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : ESPEAK_DEFAULT_TIMEOUT;
    e->cancel = cfg->cancel;
    return &e->base;
}
