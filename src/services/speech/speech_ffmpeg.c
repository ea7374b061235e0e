/* speech_ffmpeg — local voice enhancement with one ffmpeg filter chain. See speech.h.
 *
 * The chain, in order: a high-pass (rumble, breath pops) and a low-pass
 * (hiss) filter as a simple EQ; a gentle compressor (3:1 above -20 dBFS) to
 * even out the level; EBU R128 loudness normalisation (loudnorm, single
 * pass) to about -16 LUFS integrated with a -1.5 dBTP ceiling, the usual
 * target for spoken web video; and a resample to 48 kHz mono, the rate the
 * video's AAC track uses. The result is "enhanced.wav" (16-bit PCM,
 * lossless for the render that follows) or "enhanced.m4a" (AAC). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/speech/speech_internal.h"

#define FFMPEG_DEFAULT_LUFS     (-16.0)
#define FFMPEG_DEFAULT_HIGHPASS 80
#define FFMPEG_DEFAULT_LOWPASS  12000
#define FFMPEG_DEFAULT_RATE     48000
#define FFMPEG_DEFAULT_TIMEOUT  300000L

struct speech_ffmpeg {
    struct speech_enhancer base;
    struct speech_ffmpeg_config cfg; /* strings below are owned copies */
    char *program;
    char *format;
};

char *speech_ffmpeg_filter(const struct speech_ffmpeg_config *cfg)
{
    double lufs = cfg->target_lufs < 0 ? cfg->target_lufs : FFMPEG_DEFAULT_LUFS;
    if (lufs < -70)
        lufs = -70;
    if (lufs > -5)
        lufs = -5;
    int hp = cfg->highpass_hz > 0 ? cfg->highpass_hz : FFMPEG_DEFAULT_HIGHPASS;
    int lp = cfg->lowpass_hz > 0 ? cfg->lowpass_hz : FFMPEG_DEFAULT_LOWPASS;
    int rate = cfg->sample_rate > 0 ? cfg->sample_rate : FFMPEG_DEFAULT_RATE;
    return xasprintf("highpass=f=%d,lowpass=f=%d,"
                     "acompressor=threshold=0.1:ratio=3:attack=10:release=200:makeup=1,"
                     "loudnorm=I=%.1f:TP=-1.5:LRA=11,aresample=%d",
                     hp, lp, lufs, rate);
}

void speech_ffmpeg_argv(const struct speech_ffmpeg_config *cfg, const char *in_path,
                        const char *out_path, struct media_argv *argv)
{
    bool m4a = cfg->format && strcmp(cfg->format, "m4a") == 0;
    media_argv_add(argv, cfg->program && *cfg->program ? cfg->program : "ffmpeg");
    const char *head[] = {"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y", "-i"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        media_argv_add(argv, head[i]);
    media_argv_file(argv, in_path);
    media_argv_add(argv, "-vn");
    media_argv_add(argv, "-af");
    char *filter = speech_ffmpeg_filter(cfg);
    media_argv_addf(argv, "%s", filter);
    free(filter);
    media_argv_add(argv, "-ac");
    media_argv_add(argv, "1");
    media_argv_add(argv, "-ar");
    media_argv_addf(argv, "%d", cfg->sample_rate > 0 ? cfg->sample_rate : FFMPEG_DEFAULT_RATE);
    media_argv_add(argv, "-c:a");
    if (m4a) {
        media_argv_add(argv, "aac");
        media_argv_add(argv, "-b:a");
        media_argv_add(argv, "160k");
        media_argv_add(argv, "-movflags");
        media_argv_add(argv, "+faststart");
        media_argv_add(argv, "-f");
        media_argv_add(argv, "mp4");
    } else {
        media_argv_add(argv, "pcm_s16le");
        media_argv_add(argv, "-f");
        media_argv_add(argv, "wav");
    }
    media_argv_file(argv, out_path);
}

static int ffmpeg_enhance(struct speech_enhancer *enh, const char *in_path, const char *work_dir,
                          char **out_path, char *err, size_t errlen)
{
    struct speech_ffmpeg *f = (struct speech_ffmpeg *)enh;
    const char *ext = strcmp(f->format, "m4a") == 0 ? "m4a" : "wav";
    char *name = xasprintf("enhanced.%s", ext);
    char *path = media_path(work_dir, name);
    char *tmp = media_temp_name(path, ext);
    struct media_argv argv;
    media_argv_init(&argv);
    int rc = 0;
    if (strcmp(in_path, path) == 0) {
        snprintf(err, errlen, "the audio to enhance is already named %s", name);
        rc = ERR_INVALID;
        goto out;
    }
    speech_ffmpeg_argv(&f->cfg, in_path, tmp, &argv);
    rc = media_argv_check(&argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.timeout_ms = f->cfg.timeout_ms, .cancel = f->cfg.cancel};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (!rc)
        rc = media_commit(tmp, path, err, errlen);
    if (!rc) {
        *out_path = path;
        path = NULL;
    }
out:
    unlink(tmp);
    media_argv_free(&argv);
    free(tmp);
    free(path);
    free(name);
    return rc;
}

static void ffmpeg_free(struct speech_enhancer *enh)
{
    struct speech_ffmpeg *f = (struct speech_ffmpeg *)enh;
    free(f->program);
    free(f->format);
    free(f);
}

static const struct speech_enhancer_ops ffmpeg_ops = {
    .name = "ffmpeg",
    .enhance = ffmpeg_enhance,
    .free = ffmpeg_free,
};

struct speech_enhancer *speech_ffmpeg_new(const struct speech_ffmpeg_config *cfg, char *err,
                                          size_t errlen)
{
    struct speech_ffmpeg_config none = {0};
    if (!cfg)
        cfg = &none;
    const char *format = cfg->format && *cfg->format ? cfg->format : "wav";
    if (strcmp(format, "wav") != 0 && strcmp(format, "m4a") != 0) {
        snprintf(err, errlen, "enhanced audio format \"%s\": expected wav or m4a", format);
        return NULL;
    }
    struct speech_ffmpeg *f = xcalloc(1, sizeof *f);
    f->base.ops = &ffmpeg_ops;
    f->cfg = *cfg;
    f->program = xstrdup(cfg->program && *cfg->program ? cfg->program : "ffmpeg");
    f->format = xstrdup(format);
    f->cfg.program = f->program;
    f->cfg.format = f->format;
    if (f->cfg.timeout_ms <= 0)
        f->cfg.timeout_ms = FFMPEG_DEFAULT_TIMEOUT;
    return &f->base;
}
