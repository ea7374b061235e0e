/* bench_media — the local primer-video pipeline's wall time for a ~90-second
 * script, per step and as a ratio of the video's length.
 *
 * Steps, each timed with the monotonic clock: the default template and music
 * (made once per company and cached, so reported apart from the per-video
 * cost), espeak-ng, the ffmpeg enhancement chain, and the render — in its
 * default mode (the generated template's H.264 packets are copied, so the
 * render is audio work and muxing) and, for comparison, re-encoding the
 * video with libx264 preset veryfast (what any other template costs). The
 * target from issue 6: the whole local pipeline under 0.3x real time on
 * 2 cores. Prints `name value` lines; everything happens in a temporary
 * directory that is removed at the end.
 * Usage: bench_media REPO_ROOT */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "services/media/media.h"
#include "services/render/render.h"
#include "services/speech/speech.h"

#define BENCH_TARGET_RATIO 0.3

/* About 280 words: 90 seconds of espeak-ng at its default 165 words per minute. */
static const char *const paragraphs[] = {
    "Hi Maria, this is Dan from Summit Roofing and Siding. Thank you for inviting us to look "
    "at your home on Maple Street. I wanted to send you a short video before our appointment "
    "tomorrow at ten in the morning, so you know exactly what to expect.",
    "When I arrive, I will start with a walk around the outside of the house. I will look at "
    "the shingles, the flashing around the chimney and the skylights, the gutters, and the "
    "vents. If it is safe, I will also get up on the roof and take photos of anything that "
    "needs attention, so you can see it for yourself.",
    "After that, we will sit down together at the kitchen table. I will show you the photos, "
    "explain what is worn and what is still in good shape, and walk you through three options: "
    "a repair, a partial replacement, and a full replacement with a lifetime warranty. Each one "
    "comes with a clear written price, with no surprises later.",
    "The whole visit usually takes about an hour. You are welcome to join me outside, or to "
    "stay comfortable inside while I work; either way, I will explain everything I find in "
    "plain words before we talk about any numbers.",
    "There is nothing you need to prepare. If your insurance company is involved, have the "
    "claim number handy and I will help you with the paperwork. Financing is available if you "
    "would like to spread the cost over time.",
    "If anything changes before tomorrow, just reply to this email or give our office a call. "
    "Thank you again for choosing Summit Roofing and Siding. I am looking forward to meeting "
    "you and your family, and to helping you protect your home for many years to come.",
};

static char bench_dir[512];

static double seconds_since(int64_t t0)
{
    return (double)(clock_now_ns() - t0) / 1e9;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup_dir(void)
{
    if (bench_dir[0])
        nftw(bench_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int fail(const char *step, int rc, const char *err)
{
    fprintf(stderr, "bench_media: %s failed (%s): %s\n", step, err_name(rc), err);
    cleanup_dir();
    return 1;
}

static double video_seconds(const char *path)
{
    struct media_info info;
    char err[512];
    return media_probe(path, &info, err, sizeof err) == 0 ? info.duration_s : 0;
}

/* Renders with the given mode; returns the wall seconds or -1. */
static double time_render(enum render_video_mode mode, const struct render_job *job, char *err,
                          size_t errlen)
{
    struct render_ffmpeg_config cfg = {.video_mode = mode};
    struct render *r = render_ffmpeg_new(&cfg);
    struct render_result res;
    int64_t t0 = clock_now_ns();
    int rc = render_run(r, job, &res, err, errlen);
    double s = seconds_since(t0);
    render_free(r);
    return rc ? -1 : s;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_WARN);
    if (!media_have_program("espeak-ng") || !media_have_program("ffmpeg") ||
        !media_have_program("ffprobe")) {
        printf("# bench_media: skipped (espeak-ng, ffmpeg or ffprobe is not installed)\n");
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(bench_dir, sizeof bench_dir, "%s/harde-bench-media.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(bench_dir)) {
        perror("bench_media: mkdtemp");
        return 1;
    }
    char err[1024] = "", data_dir[600], out[600], out2[600];
    snprintf(data_dir, sizeof data_dir, "%s/data", bench_dir);
    snprintf(out, sizeof out, "%s/primer.mp4", bench_dir);
    snprintf(out2, sizeof out2, "%s/primer-encoded.mp4", bench_dir);
    struct buf text;
    buf_init(&text, 0);
    for (size_t i = 0; i < sizeof paragraphs / sizeof paragraphs[0]; i++)
        buf_printf(&text, "%s%s", i ? "\n\n" : "", paragraphs[i]);

    int64_t t0 = clock_now_ns();
    struct render_defaults d;
    int rc = render_make_defaults(data_dir, "Summit Roofing & Siding", &d, err, sizeof err);
    if (rc)
        return fail("defaults", rc, err);
    double defaults_s = seconds_since(t0);

    struct speech_tts *tts = speech_espeak_new(NULL);
    char *raw = NULL, *voice = NULL;
    t0 = clock_now_ns();
    rc = speech_synthesize(tts, buf_str(&text), NULL, bench_dir, &raw, err, sizeof err);
    double tts_s = seconds_since(t0);
    speech_tts_free(tts);
    buf_free(&text);
    if (rc)
        return fail("espeak-ng", rc, err);

    struct speech_enhancer *enh = speech_ffmpeg_new(NULL, err, sizeof err);
    t0 = clock_now_ns();
    rc = speech_enhance(enh, raw, bench_dir, &voice, err, sizeof err);
    double enhance_s = seconds_since(t0);
    speech_enhancer_free(enh);
    if (rc)
        return fail("enhance", rc, err);

    struct render_job job = {.voice = voice,
                             .template_video = d.template_video,
                             .music = d.music,
                             .output = out,
                             .work_dir = bench_dir};
    double render_s = time_render(RENDER_VIDEO_AUTO, &job, err, sizeof err);
    if (render_s < 0)
        return fail("render", ERR_IO, err);
    job.output = out2;
    double encode_s = time_render(RENDER_VIDEO_ENCODE, &job, err, sizeof err);
    if (encode_s < 0)
        return fail("render (encode)", ERR_IO, err);

    double video_s = video_seconds(out);
    if (video_s <= 0)
        return fail("probe", ERR_IO, "the rendered video has no duration");
    double pipeline_s = tts_s + enhance_s + render_s;
    double pipeline_encode_s = tts_s + enhance_s + encode_s;
    printf("media.cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("media.video_seconds %.2f\n", video_s);
    printf("media.defaults_seconds %.3f\n", defaults_s);
    printf("media.tts_seconds %.3f\n", tts_s);
    printf("media.tts_ratio %.4f\n", tts_s / video_s);
    printf("media.enhance_seconds %.3f\n", enhance_s);
    printf("media.enhance_ratio %.4f\n", enhance_s / video_s);
    printf("media.render_seconds %.3f\n", render_s);
    printf("media.render_ratio %.4f\n", render_s / video_s);
    printf("media.pipeline_seconds %.3f\n", pipeline_s);
    printf("media.pipeline_ratio %.4f\n", pipeline_s / video_s);
    printf("media.render_encode_seconds %.3f\n", encode_s);
    printf("media.render_encode_ratio %.4f\n", encode_s / video_s);
    printf("media.pipeline_encode_ratio %.4f\n", pipeline_encode_s / video_s);
    printf("media.target_ratio %.2f\n", BENCH_TARGET_RATIO);
    printf("media.meets_target %d\n", pipeline_s / video_s < BENCH_TARGET_RATIO &&
                                          pipeline_encode_s / video_s < BENCH_TARGET_RATIO);
    free(raw);
    free(voice);
    render_defaults_free(&d);
    cleanup_dir();
    return 0;
}
