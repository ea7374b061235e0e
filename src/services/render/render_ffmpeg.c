/* render_ffmpeg — the local renderer: one ffmpeg run per video. See render.h.
 *
 * Inputs: the template looped forever (-stream_loop -1), the voice, and the
 * music looped forever; the output is cut at the voice's length (-t, from
 * ffprobe). Audio: the voice split in two — one copy is heard, the other
 * drives a sidechain compressor on the music, so the music ducks while the
 * voice speaks and swells back in the pauses; the music fades in over 1.5 s
 * and out over the last 2.5 s; voice and ducked music are summed without
 * amix's 1/n scaling and a limiter keeps peaks under -0.4 dBFS. AAC 48 kHz
 * stereo.
 *
 * Video: re-encoding a 90-second 720p clip with libx264 costs most of the
 * render, and the template is the same for every video. So when the
 * template is already H.264 yuv420p without B-frames in MP4 (as
 * render_make_defaults makes it), its packets are copied — looped and cut —
 * and the render is audio work plus muxing. Any other template is encoded
 * with libx264 (preset veryfast, CRF 23 by default, scaled down to at most
 * 1920 wide). Either way: -movflags +faststart, so the video starts playing
 * before it is fully downloaded. The MP4 is written under a temporary name
 * and renamed onto the output. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/render/render_internal.h"

#define RENDER_DEFAULT_PRESET    "veryfast"
#define RENDER_DEFAULT_CRF       23
#define RENDER_DEFAULT_MAX_WIDTH 1920
#define RENDER_DEFAULT_MUSIC     0.25
#define RENDER_DEFAULT_KBPS      160
#define RENDER_DEFAULT_TIMEOUT   (10L * 60 * 1000)
#define RENDER_FADE_IN_S         1.5
#define RENDER_FADE_OUT_S        2.5

struct render_ffmpeg {
    struct render base;
    struct render_ffmpeg_config cfg; /* strings point at the owned copies below */
    char *program;
    char *preset;
};

bool render_can_copy(const struct media_info *t)
{
    return t->has_video && strcmp(t->video_codec, "h264") == 0 &&
           strcmp(t->pix_fmt, "yuv420p") == 0 && t->has_b_frames == 0 &&
           (strstr(t->format_name, "mp4") || strstr(t->format_name, "mov"));
}

char *render_ffmpeg_graph(const struct render_ffmpeg_config *cfg, bool has_music, double voice_s,
                          bool encode, int scale_width)
{
    struct buf g;
    buf_init(&g, 0);
    if (encode) {
        buf_append_str(&g, "[0:v:0]");
        if (scale_width > 0)
            buf_printf(&g, "scale=%d:-2,", scale_width);
        buf_append_str(&g, "format=yuv420p[vout];");
    }
    const char *fmt = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=mono";
    const char *limiter = "alimiter=limit=0.95:level=false";
    if (!has_music) {
        buf_printf(&g, "[1:a]%s,%s[aout]", fmt, limiter);
        return buf_steal(&g);
    }
    double volume = cfg->music_volume > 0 ? cfg->music_volume : RENDER_DEFAULT_MUSIC;
    double fade_out = voice_s - RENDER_FADE_OUT_S > 0 ? voice_s - RENDER_FADE_OUT_S : 0;
    buf_printf(&g, "[2:a]%s,volume=%.3f,afade=t=in:st=0:d=%.1f,afade=t=out:st=%.3f:d=%.1f[bed];",
               fmt, volume, RENDER_FADE_IN_S, fade_out, RENDER_FADE_OUT_S);
    if (cfg->no_ducking) {
        buf_printf(&g, "[1:a]%s[voice];[voice][bed]", fmt);
    } else {
        buf_printf(&g,
                   "[1:a]%s,asplit=2[voice][key];"
                   "[bed][key]sidechaincompress=threshold=0.03:ratio=6:attack=20:release=400"
                   "[ducked];[voice][ducked]",
                   fmt);
    }
    buf_printf(&g, "amix=inputs=2:duration=first:dropout_transition=0:normalize=0,%s[aout]",
               limiter);
    return buf_steal(&g);
}

int render_ffmpeg_argv(const struct render_ffmpeg_config *cfg, const struct render_job *job,
                       const char *out_path, double voice_s, bool copy, int scale_width,
                       struct media_argv *argv, char *err, size_t errlen)
{
    media_argv_add(argv, cfg->program && *cfg->program ? cfg->program : "ffmpeg");
    const char *head[] = {"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        media_argv_add(argv, head[i]);
    media_argv_add(argv, "-stream_loop");
    media_argv_add(argv, "-1");
    media_argv_add(argv, "-i");
    media_argv_file(argv, job->template_video);
    media_argv_add(argv, "-i");
    media_argv_file(argv, job->voice);
    if (job->music) {
        media_argv_add(argv, "-stream_loop");
        media_argv_add(argv, "-1");
        media_argv_add(argv, "-i");
        media_argv_file(argv, job->music);
    }
    char *graph = render_ffmpeg_graph(cfg, job->music != NULL, voice_s, !copy, scale_width);
    media_argv_add(argv, "-filter_complex");
    media_argv_addf(argv, "%s", graph);
    free(graph);
    media_argv_add(argv, "-map");
    media_argv_add(argv, copy ? "0:v:0" : "[vout]");
    media_argv_add(argv, "-map");
    media_argv_add(argv, "[aout]");
    media_argv_add(argv, "-t");
    media_argv_addf(argv, "%.3f", voice_s);
    media_argv_add(argv, "-c:v");
    if (copy) {
        media_argv_add(argv, "copy");
    } else {
        media_argv_add(argv, "libx264");
        media_argv_add(argv, "-preset");
        media_argv_add(argv, cfg->preset && *cfg->preset ? cfg->preset : RENDER_DEFAULT_PRESET);
        media_argv_add(argv, "-crf");
        media_argv_addf(argv, "%d", cfg->crf > 0 ? cfg->crf : RENDER_DEFAULT_CRF);
    }
    const char *tail[] = {"-c:a", "aac", "-b:a"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        media_argv_add(argv, tail[i]);
    media_argv_addf(argv, "%dk", cfg->audio_kbps > 0 ? cfg->audio_kbps : RENDER_DEFAULT_KBPS);
    const char *end[] = {"-ar", "48000", "-ac", "2", "-movflags", "+faststart", "-f", "mp4"};
    for (size_t i = 0; i < sizeof end / sizeof end[0]; i++)
        media_argv_add(argv, end[i]);
    media_argv_file(argv, out_path);
    return media_argv_check(argv, err, errlen);
}

/* Probes the voice and the template and decides copy vs encode. */
static int ffmpeg_plan(const struct render_ffmpeg *f, const struct render_job *job, double *voice_s,
                       bool *copy, int *scale_width, char *err, size_t errlen)
{
    struct media_info voice, tmpl;
    int rc = media_probe(job->voice, &voice, err, errlen);
    if (!rc && (!voice.has_audio || voice.duration_s <= 0)) {
        snprintf(err, errlen, "the voice %s has no audio to render", job->voice);
        rc = ERR_INVALID;
    }
    if (!rc)
        rc = media_probe(job->template_video, &tmpl, err, errlen);
    if (!rc && !tmpl.has_video) {
        snprintf(err, errlen, "the template %s has no video stream", job->template_video);
        rc = ERR_INVALID;
    }
    if (rc)
        return rc;
    *voice_s = voice.duration_s;
    bool can_copy = render_can_copy(&tmpl);
    if (f->cfg.video_mode == RENDER_VIDEO_COPY && !can_copy &&
        strcmp(tmpl.video_codec, "h264") != 0) {
        snprintf(err, errlen, "the template %s is %s, not H.264: it cannot be copied",
                 job->template_video, tmpl.video_codec);
        return ERR_INVALID;
    }
    *copy = f->cfg.video_mode == RENDER_VIDEO_COPY ||
            (f->cfg.video_mode == RENDER_VIDEO_AUTO && can_copy);
    int max_width = f->cfg.max_width > 0 ? f->cfg.max_width : RENDER_DEFAULT_MAX_WIDTH;
    *scale_width = tmpl.width > max_width ? max_width : 0;
    return 0;
}

static int ffmpeg_run(struct render *r, const struct render_job *job, struct render_result *res,
                      char *err, size_t errlen)
{
    struct render_ffmpeg *f = (struct render_ffmpeg *)r;
    if (!job->template_video) {
        snprintf(err, errlen, "the ffmpeg renderer needs a template video");
        return ERR_INVALID;
    }
    double voice_s = 0;
    bool copy = false;
    int scale_width = 0;
    int rc = ffmpeg_plan(f, job, &voice_s, &copy, &scale_width, err, errlen);
    if (rc)
        return rc;
    char *tmp = media_temp_name(job->output, "mp4");
    struct media_argv argv;
    media_argv_init(&argv);
    rc = render_ffmpeg_argv(&f->cfg, job, tmp, voice_s, copy, scale_width, &argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.timeout_ms = f->cfg.timeout_ms, .cancel = f->cfg.cancel};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (!rc)
        rc = media_commit(tmp, job->output, err, errlen);
    unlink(tmp);
    if (!rc) {
        struct media_info out;
        char probe_err[256];
        res->voice_s = voice_s;
        res->duration_s = media_probe(job->output, &out, probe_err, sizeof probe_err) == 0
                              ? out.duration_s
                              : voice_s;
        log_info("render", "ffmpeg: %.1f s video (%s) written to %s", res->duration_s,
                 copy ? "template copied" : "encoded", job->output);
    }
    media_argv_free(&argv);
    free(tmp);
    return rc;
}

static void ffmpeg_free(struct render *r)
{
    struct render_ffmpeg *f = (struct render_ffmpeg *)r;
    free(f->program);
    free(f->preset);
    free(f);
}

static const struct render_ops ffmpeg_ops = {
    .name = "ffmpeg",
    .run = ffmpeg_run,
    .planned = NULL,
    .cleanup = NULL,
    .free = ffmpeg_free,
};

struct render *render_ffmpeg_new(const struct render_ffmpeg_config *cfg)
{
    struct render_ffmpeg_config none = {0};
    if (!cfg)
        cfg = &none;
    struct render_ffmpeg *f = xcalloc(1, sizeof *f);
    f->base.ops = &ffmpeg_ops;
    f->cfg = *cfg;
    f->program = xstrdup(cfg->program && *cfg->program ? cfg->program : "ffmpeg");
    f->preset = xstrdup(cfg->preset && *cfg->preset ? cfg->preset : RENDER_DEFAULT_PRESET);
    f->cfg.program = f->program;
    f->cfg.preset = f->preset;
    if (f->cfg.timeout_ms <= 0)
        f->cfg.timeout_ms = RENDER_DEFAULT_TIMEOUT;
    f->cfg.cancel = cfg->cancel;
    return &f->base;
}
