/* render_defaults — the project's own template video and background music. See render.h.
 *
 * Nothing is downloaded: both come from ffmpeg's generators.
 *
 * Template: a 10-second 1280x720 25 fps loop. A vertical gradient in one of
 * a few brand palettes (picked by a hash of the company name) with a soft
 * diagonal sheen that moves with period 10 s, so the loop has no seam; it
 * is computed by geq at 160x90 and scaled up (a smooth gradient loses
 * nothing, and geq per pixel at full size would take minutes). An accent bar
 * runs along the bottom; the company name is drawn in the middle with a
 * DejaVu (or Liberation) font, read from a file (textfile=, expansion=none)
 * so no character of the name is ever parsed by ffmpeg; with no font
 * installed the template has no text. Encoded once with libx264 CRF 20,
 * no B-frames, a keyframe each 2 s, yuv420p, faststart — the shape
 * render_ffmpeg can stream-copy.
 *
 * Music: a 16-second loop of four chords (C, Am, F, G; 4 s each) of sine
 * partials under a sin² swell that is silent at every chord change, so
 * neither the changes nor the loop point click; low-passed, 48 kHz mono WAV.
 *
 * Cache: dir/template-v1-<hash of the name>.mp4 and dir/music-v1.wav; a
 * file that exists is reused. Generation writes a temporary file and renames
 * it, so concurrent callers at worst both generate. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/render/render_internal.h"

#define DEFAULTS_VERSION       "v1"
#define DEFAULTS_TIMEOUT_MS    (5L * 60 * 1000)
#define DEFAULTS_TITLE_MAX     60 /* characters of the company name drawn */
#define DEFAULTS_LOOP_SECONDS  10
#define DEFAULTS_MUSIC_SECONDS 16

static const char *const font_candidates[] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    NULL,
};

/* Top colour, bottom colour, accent (RGB). */
static const struct {
    int top[3], bottom[3];
    const char *accent;
} palettes[] = {
    {{12, 37, 69}, {20, 110, 140}, "0xF4A259"}, /* navy to teal, amber bar */
    {{16, 48, 38}, {34, 120, 90}, "0xE9C46A"},  /* forest to emerald, gold bar */
    {{58, 18, 28}, {140, 45, 60}, "0xF1FAEE"},  /* maroon to brick, ivory bar */
    {{28, 30, 40}, {70, 90, 130}, "0xE76F51"},  /* charcoal to slate blue, coral bar */
};

const char *render_find_font(void)
{
    const char *env = getenv("HARDE_FONT");
    if (env && *env)
        return media_file_size(env) > 0 ? env : NULL;
    for (size_t i = 0; font_candidates[i]; i++)
        if (media_file_size(font_candidates[i]) > 0)
            return font_candidates[i];
    return NULL;
}

static uint64_t defaults_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* One colour channel's geq expression: gradient plus the moving sheen. */
static void defaults_channel(struct buf *g, char name, int top, int bottom, int sheen)
{
    char expr[200];
    snprintf(expr, sizeof expr, "clip(%d+%d*Y/H+%d*sin(2*PI*((X+Y)/W-T/%d)),0,255)", top,
             bottom - top, sheen, DEFAULTS_LOOP_SECONDS);
    char *esc = media_filter_escape(expr);
    buf_printf(g, "%s%c=%s", name == 'r' ? "" : ":", name, esc);
    free(esc);
}

char *render_template_graph(const char *font, const char *title_path, size_t title_chars,
                            unsigned palette)
{
    palette %= sizeof palettes / sizeof palettes[0];
    struct buf g;
    buf_init(&g, 0);
    buf_append_str(&g, "format=gbrp,geq=");
    static const int sheen[3] = {10, 14, 18};
    for (int c = 0; c < 3; c++)
        defaults_channel(&g, "rgb"[c], palettes[palette].top[c], palettes[palette].bottom[c],
                         sheen[c]);
    buf_printf(&g, ",scale=1280:720:flags=bicubic,drawbox=x=0:y=ih-14:w=iw:h=14:color=%s:t=fill",
               palettes[palette].accent);
    if (font) {
        char *font_esc = media_filter_escape(font);
        if (title_path && title_chars > 0) {
            int size = (int)(1100.0 / (0.62 * (double)title_chars));
            size = size < 28 ? 28 : size > 88 ? 88 : size;
            char *title_esc = media_filter_escape(title_path);
            buf_printf(&g,
                       ",drawtext=fontfile=%s:textfile=%s:expansion=none:fontcolor=white:"
                       "fontsize=%d:x=(w-text_w)/2:y=(h-text_h)/2-30:shadowcolor=black@0.45:"
                       "shadowx=3:shadowy=3",
                       font_esc, title_esc, size);
            free(title_esc);
        }
        char *subtitle = media_filter_escape("Your project, explained");
        buf_printf(&g,
                   ",drawtext=fontfile=%s:text=%s:expansion=none:fontcolor=white@0.85:"
                   "fontsize=30:x=(w-text_w)/2:y=h/2+40",
                   font_esc, subtitle);
        free(subtitle);
        free(font_esc);
    }
    buf_append_str(&g, ",format=yuv420p");
    return buf_steal(&g);
}

const char *render_music_expression(void)
{
    /* ld(0): chord 0-3; ld(1..3): its triad; ld(4): bass an octave below
     * the root; ld(5): the swell, 0 at every chord boundary. */
    return "st(0,mod(floor(t/4),4));"
           "st(1,if(eq(ld(0),0),261.63,if(eq(ld(0),1),220.00,if(eq(ld(0),2),174.61,196.00))));"
           "st(2,if(eq(ld(0),0),329.63,if(eq(ld(0),1),261.63,if(eq(ld(0),2),220.00,246.94))));"
           "st(3,if(eq(ld(0),0),392.00,if(eq(ld(0),1),329.63,if(eq(ld(0),2),261.63,293.66))));"
           "st(4,ld(1)/2);st(5,pow(sin(PI*mod(t,4)/4),2));"
           "ld(5)*(0.10*sin(2*PI*ld(1)*t)+0.08*sin(2*PI*ld(2)*t)+0.08*sin(2*PI*ld(3)*t)"
           "+0.12*sin(2*PI*ld(4)*t)+0.03*sin(2*PI*ld(1)*1.003*t))";
}

/* The company name as drawn: control characters dropped, at most
 * DEFAULTS_TITLE_MAX characters (whole UTF-8 sequences). New; *chars set. */
static char *defaults_title(const char *name, size_t *chars)
{
    struct buf b;
    buf_init(&b, 0);
    *chars = 0;
    const unsigned char *p = (const unsigned char *)(name ? name : "");
    while (*p && *chars < DEFAULTS_TITLE_MAX) {
        size_t n = utf8_sequence(p);
        if (n == 0) {
            p++;
            continue;
        }
        if (!(n == 1 && (*p < 0x20 || *p == 0x7f))) {
            buf_append(&b, p, n);
            (*chars)++;
        }
        p += n;
    }
    return buf_steal(&b);
}

static const char *defaults_ffmpeg(void)
{
    const char *env = getenv("HARDE_FFMPEG");
    return env && *env ? env : "ffmpeg";
}

static int defaults_make_template(const char *path, const char *dir, const char *company, char *err,
                                  size_t errlen)
{
    size_t chars = 0;
    char *title = defaults_title(company, &chars);
    char *title_path = xasprintf("%s/.title.%ld.txt", dir, (long)getpid());
    char *tmp = media_temp_name(path, "mp4");
    const char *font = render_find_font();
    struct media_argv argv;
    media_argv_init(&argv);
    int rc = 0;
    if (font && chars > 0)
        rc = media_write_file(title_path, title, strlen(title), err, errlen);
    if (rc)
        goto out;
    char *graph = render_template_graph(font, chars > 0 ? title_path : NULL, chars,
                                        (unsigned)(defaults_hash(company) % 4));
    const char *head[] = {defaults_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-loglevel",
                          "error",           "-y",           "-f",       "lavfi",    "-i"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        media_argv_add(&argv, head[i]);
    media_argv_addf(&argv, "nullsrc=s=160x90:r=25:d=%d", DEFAULTS_LOOP_SECONDS);
    media_argv_add(&argv, "-vf");
    media_argv_addf(&argv, "%s", graph);
    free(graph);
    const char *tail[] = {
        "-c:v",          "libx264", "-preset",  "medium",  "-crf",        "20",
        "-bf",           "0",       "-g",       "50",      "-keyint_min", "50",
        "-sc_threshold", "0",       "-pix_fmt", "yuv420p", "-movflags",   "+faststart",
        "-an",           "-f",      "mp4"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        media_argv_add(&argv, tail[i]);
    media_argv_file(&argv, tmp);
    rc = media_argv_check(&argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.timeout_ms = DEFAULTS_TIMEOUT_MS};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (!rc)
        rc = media_commit(tmp, path, err, errlen);
out:
    unlink(tmp);
    unlink(title_path);
    media_argv_free(&argv);
    free(tmp);
    free(title_path);
    free(title);
    return rc;
}

static int defaults_make_music(const char *path, char *err, size_t errlen)
{
    char *tmp = media_temp_name(path, "wav");
    char *expr = media_filter_escape(render_music_expression());
    struct media_argv argv;
    media_argv_init(&argv);
    const char *head[] = {defaults_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-loglevel",
                          "error",           "-y",           "-f",       "lavfi",    "-i"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        media_argv_add(&argv, head[i]);
    media_argv_addf(&argv, "aevalsrc=exprs=%s:s=48000:d=%d:c=mono", expr, DEFAULTS_MUSIC_SECONDS);
    const char *tail[] = {
        "-af", "lowpass=f=3000", "-c:a", "pcm_s16le", "-ar", "48000", "-ac", "1", "-f", "wav"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        media_argv_add(&argv, tail[i]);
    media_argv_file(&argv, tmp);
    int rc = media_argv_check(&argv, err, errlen);
    if (!rc) {
        struct media_run_opts opts = {.timeout_ms = DEFAULTS_TIMEOUT_MS};
        rc = media_run(argv.v, &opts, err, errlen);
    }
    if (!rc)
        rc = media_commit(tmp, path, err, errlen);
    unlink(tmp);
    media_argv_free(&argv);
    free(expr);
    free(tmp);
    return rc;
}

int render_make_defaults(const char *dir, const char *company_name, struct render_defaults *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) {
        snprintf(err, errlen, "no directory for the default template and music");
        return ERR_INVALID;
    }
    if (config_mkdirs(dir, 0700) != 0) {
        snprintf(err, errlen, "could not create %s", dir);
        return ERR_IO;
    }
    char name[64];
    snprintf(name, sizeof name, "template-%s-%016llx.mp4", DEFAULTS_VERSION,
             (unsigned long long)defaults_hash(company_name ? company_name : ""));
    char *template_path = media_path(dir, name);
    char *music_path = media_path(dir, "music-" DEFAULTS_VERSION ".wav");
    int rc = 0;
    if (media_file_size(template_path) <= 0)
        rc = defaults_make_template(template_path, dir, company_name, err, errlen);
    if (!rc && media_file_size(music_path) <= 0)
        rc = defaults_make_music(music_path, err, errlen);
    if (rc) {
        free(template_path);
        free(music_path);
        return rc;
    }
    out->template_video = template_path;
    out->music = music_path;
    return 0;
}

void render_defaults_free(struct render_defaults *d)
{
    if (!d)
        return;
    free(d->template_video);
    free(d->music);
    d->template_video = d->music = NULL;
}
