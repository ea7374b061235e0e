/* test_render — the render service: Cloudinary signatures against the
 * documented example (and the same string under SHA-256), the signing
 * rules, overlay URLs, asset strings, ffmpeg filtergraphs and argv, the
 * Cloudinary client against a scripted HTTP server (signed upload fields,
 * 423 waits, X-Cld-Error, partial failures listing their assets, destroy,
 * CLOUDINARY_URL), and — when ffmpeg is installed — the real default
 * template and music and real renders (looped and trimmed templates, copy
 * and encode modes) checked with ffprobe. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/render/render.h"
#include "services/render/render_internal.h"
#include "support/fake_http.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    log_set_level(LOG_OFF);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_render.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    const char *argv[] = {"rm", "-rf", tmpdir, NULL};
    return media_run(argv, NULL, NULL, 0) == 0 ? 0 : -1;
}

static char *workdir(const char *name)
{
    char *dir = media_path(tmpdir, name);
    assert_int_equal(config_mkdirs(dir, 0700), 0);
    return dir;
}

/* The names in dir, sorted, each followed by a space (new). */
static char *listing(const char *dir)
{
    const char *argv[] = {"sh", "-c", "ls -A \"$0\" | LC_ALL=C sort | tr '\\n' ' '", dir, NULL};
    struct buf out;
    buf_init(&out, 4096);
    struct media_run_opts opts = {.out = &out};
    char err[256];
    assert_int_equal(media_run(argv, &opts, err, sizeof err), 0);
    return buf_steal(&out);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = media_path(dir, name);
    char err[256];
    assert_int_equal(media_write_file(path, text, strlen(text), err, sizeof err), 0);
    return path;
}

/* ---- signatures (EXTERNAL_APIS.md §5.2) ----------------------------------------------- */

static void test_signature_documented_example(void **state)
{
    (void)state;
    /* Cloudinary's "Generating authentication signatures" example: these
     * parameters and the secret "abcd" sign to bfd09f95...; the SHA-256
     * value is the same string hashed with sha256sum. */
    const struct render_param params[] = {
        {"timestamp", "1315060510"},
        {"public_id", "sample_image"},
        {"eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"},
        {"api_key", "1234"},
        {"file", "https://www.example.com/sample.jpg"},
    };
    char *text = render_cloudinary_string_to_sign(params, 5);
    assert_string_equal(text, "eager=w_400,h_300,c_pad|w_260,h_200,c_crop&public_id=sample_image"
                              "&timestamp=1315060510");
    free(text);
    char sig[65];
    assert_int_equal(render_cloudinary_sign(params, 5, "abcd", false, sig), 0);
    assert_string_equal(sig, "bfd09f95f331f558cbd1320e67aa8d488770583e");
    assert_int_equal(render_cloudinary_sign(params, 5, "abcd", true, sig), 0);
    assert_string_equal(sig, "cc927e1290f9e3ae4c1a741eda21a4630b4ce80f9ce0bc0296337d25cf40f91e");
    assert_int_equal(render_cloudinary_sign(params, 5, "", false, sig), ERR_INVALID);
}

static void test_signature_rules(void **state)
{
    (void)state;
    const struct render_param a[] = {
        {"timestamp", "100"},   {"public_id", "x/y"},     {"overwrite", "true"},
        {"cloud_name", "demo"}, {"resource_type", "raw"}, {"signature", "abc"},
        {"folder", ""},         {"tags", NULL},           {"context", "a=1&b=2"},
    };
    char *text = render_cloudinary_string_to_sign(a, sizeof a / sizeof a[0]);
    assert_string_equal(text, "context=a=1%26b=2&overwrite=true&public_id=x/y&timestamp=100");
    free(text);
    /* Order of the input does not matter. */
    const struct render_param b[] = {{"public_id", "x"}, {"timestamp", "1"}};
    const struct render_param c[] = {{"timestamp", "1"}, {"public_id", "x"}};
    char s1[65], s2[65];
    assert_int_equal(render_cloudinary_sign(b, 2, "secret", false, s1), 0);
    assert_int_equal(render_cloudinary_sign(c, 2, "secret", false, s2), 0);
    assert_string_equal(s1, s2);
    assert_int_equal(strlen(s1), 40);
    text = render_cloudinary_string_to_sign(NULL, 0);
    assert_string_equal(text, "");
    free(text);
}

/* ---- URLs and assets --------------------------------------------------------------------- */

static void test_overlay_url(void **state)
{
    (void)state;
    char *id = render_cloudinary_layer_id("harde/job-1-voice");
    assert_string_equal(id, "harde:job-1-voice");
    free(id);
    char *url = render_cloudinary_video_url(NULL, "demo", "harde/k-template", "harde/k-voice",
                                            "harde/k-music", -70, 92.476);
    assert_string_equal(url, "https://res.cloudinary.com/demo/video/upload/du_92.48/"
                             "l_audio:harde:k-voice/fl_layer_apply/"
                             "l_audio:harde:k-music/e_volume:-70/fl_layer_apply/"
                             "harde/k-template.mp4");
    free(url);
    url = render_cloudinary_video_url("http://127.0.0.1:9/", "c", "base", "vo", NULL, -70, 0);
    assert_string_equal(url,
                        "http://127.0.0.1:9/c/video/upload/l_audio:vo/fl_layer_apply/base.mp4");
    free(url);
}

static void test_assets(void **state)
{
    (void)state;
    char asset[RENDER_ASSET_MAX], rt[16], id[RENDER_ASSET_MAX];
    assert_true(render_asset_format(asset, sizeof asset, "video", "harde/k-voice"));
    assert_string_equal(asset, "cloudinary:video:harde/k-voice");
    assert_true(render_asset_parse(asset, "cloudinary", rt, sizeof rt, id, sizeof id));
    assert_string_equal(rt, "video");
    assert_string_equal(id, "harde/k-voice");
    assert_false(render_asset_parse("s3:video:x", "cloudinary", rt, sizeof rt, id, sizeof id));
    assert_false(
        render_asset_parse("cloudinary:video:", "cloudinary", rt, sizeof rt, id, sizeof id));
    assert_false(
        render_asset_parse("cloudinary:audio:x", "cloudinary", rt, sizeof rt, id, sizeof id));
    assert_false(
        render_asset_parse("cloudinaryX:video:x", "cloudinary", rt, sizeof rt, id, sizeof id));
    char small[8];
    assert_false(render_asset_format(small, sizeof small, "video", "long-id"));
    struct render_result res = {0};
    render_result_add(&res, "a");
    render_result_add(&res, "b");
    render_result_add(&res, "a");
    assert_int_equal(res.n_assets, 2);
    assert_true(render_key_ok("run-42_b"));
    assert_false(render_key_ok("run/42"));
    assert_false(render_key_ok(""));
    assert_false(render_key_ok("a b"));
}

/* ---- ffmpeg graph and argv --------------------------------------------------------------- */

static void test_ffmpeg_graph(void **state)
{
    (void)state;
    struct render_ffmpeg_config cfg = {0};
    char *g = render_ffmpeg_graph(&cfg, true, 12.5, false, 0);
    const char *fmt = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=mono";
    char want[2048];
    snprintf(want, sizeof want,
             "[2:a]%s,volume=0.250,afade=t=in:st=0:d=1.5,afade=t=out:st=10.000:d=2.5[bed];"
             "[1:a]%s,asplit=2[voice][key];"
             "[bed][key]sidechaincompress=threshold=0.03:ratio=6:attack=20:release=400[ducked];"
             "[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
             "alimiter=limit=0.95:level=false[aout]",
             fmt, fmt);
    assert_string_equal(g, want);
    free(g);

    g = render_ffmpeg_graph(&cfg, false, 12.5, true, 1920);
    snprintf(want, sizeof want,
             "[0:v:0]scale=1920:-2,format=yuv420p[vout];[1:a]%s,alimiter=limit=0.95:level=false"
             "[aout]",
             fmt);
    assert_string_equal(g, want);
    free(g);

    cfg.no_ducking = true;
    cfg.music_volume = 0.5;
    g = render_ffmpeg_graph(&cfg, true, 1.0, true, 0);
    assert_non_null(strstr(g, "[0:v:0]format=yuv420p[vout];"));
    assert_non_null(strstr(g, "volume=0.500,"));
    assert_non_null(strstr(g, "afade=t=out:st=0.000:"));
    assert_null(strstr(g, "sidechaincompress"));
    assert_non_null(strstr(g, "[voice][bed]amix=inputs=2"));
    free(g);
}

static int index_of(const struct media_argv *a, const char *s, int from)
{
    for (int i = from; i < a->n; i++)
        if (strcmp(a->v[i], s) == 0)
            return i;
    return -1;
}

static void test_ffmpeg_argv(void **state)
{
    (void)state;
    struct render_ffmpeg_config cfg = {0};
    struct render_job job = {.voice = "voice.wav",
                             .template_video = "tmpl.mp4",
                             .music = "music.wav",
                             .output = "out.mp4",
                             .work_dir = "."};
    struct media_argv a;
    char err[256];
    media_argv_init(&a);
    assert_int_equal(
        render_ffmpeg_argv(&cfg, &job, "out.tmp.mp4", 12.3456, true, 0, &a, err, sizeof err), 0);
    assert_string_equal(a.v[0], "ffmpeg");
    int t = index_of(&a, "file:tmpl.mp4", 0);
    assert_true(t >= 3);
    assert_string_equal(a.v[t - 1], "-i");
    assert_string_equal(a.v[t - 2], "-1");
    assert_string_equal(a.v[t - 3], "-stream_loop");
    int v = index_of(&a, "file:voice.wav", 0);
    assert_true(v == t + 2 && strcmp(a.v[v - 2], "-stream_loop") != 0);
    int m = index_of(&a, "file:music.wav", 0);
    assert_true(m > v && strcmp(a.v[m - 3], "-stream_loop") == 0);
    int map = index_of(&a, "-map", 0);
    assert_string_equal(a.v[map + 1], "0:v:0");
    assert_string_equal(a.v[map + 3], "[aout]");
    assert_string_equal(a.v[index_of(&a, "-t", 0) + 1], "12.346");
    assert_string_equal(a.v[index_of(&a, "-c:v", 0) + 1], "copy");
    assert_int_equal(index_of(&a, "libx264", 0), -1);
    assert_string_equal(a.v[index_of(&a, "-movflags", 0) + 1], "+faststart");
    assert_string_equal(a.v[index_of(&a, "-c:a", 0) + 1], "aac");
    assert_string_equal(a.v[a.n - 1], "file:out.tmp.mp4");
    media_argv_free(&a);

    job.music = NULL;
    cfg.preset = "ultrafast";
    cfg.crf = 28;
    media_argv_init(&a);
    assert_int_equal(render_ffmpeg_argv(&cfg, &job, "o.mp4", 5, false, 1280, &a, err, sizeof err),
                     0);
    assert_string_equal(a.v[index_of(&a, "-map", 0) + 1], "[vout]");
    assert_string_equal(a.v[index_of(&a, "-c:v", 0) + 1], "libx264");
    assert_string_equal(a.v[index_of(&a, "-preset", 0) + 1], "ultrafast");
    assert_string_equal(a.v[index_of(&a, "-crf", 0) + 1], "28");
    assert_non_null(strstr(a.v[index_of(&a, "-filter_complex", 0) + 1], "scale=1280:-2"));
    assert_int_equal(index_of(&a, "file:music.wav", 0), -1);
    media_argv_free(&a);
}

static void test_can_copy(void **state)
{
    (void)state;
    struct media_info t = {.has_video = true, .has_b_frames = 0};
    snprintf(t.video_codec, sizeof t.video_codec, "h264");
    snprintf(t.pix_fmt, sizeof t.pix_fmt, "yuv420p");
    snprintf(t.format_name, sizeof t.format_name, "mov,mp4,m4a,3gp,3g2,mj2");
    assert_true(render_can_copy(&t));
    t.has_b_frames = 2;
    assert_false(render_can_copy(&t));
    t.has_b_frames = 0;
    snprintf(t.pix_fmt, sizeof t.pix_fmt, "yuv444p");
    assert_false(render_can_copy(&t));
    snprintf(t.pix_fmt, sizeof t.pix_fmt, "yuv420p");
    snprintf(t.video_codec, sizeof t.video_codec, "vp9");
    assert_false(render_can_copy(&t));
    snprintf(t.video_codec, sizeof t.video_codec, "h264");
    snprintf(t.format_name, sizeof t.format_name, "matroska,webm");
    assert_false(render_can_copy(&t));
}

static void test_template_graph(void **state)
{
    (void)state;
    char *g = render_template_graph("/fonts/My Font's:Bold.ttf", "/data/.title.1.txt", 20, 0);
    assert_non_null(strstr(g, "format=gbrp,geq=r=clip(12+8*Y/H+10*sin(2*PI*((X+Y)/W-T/10))\\,0\\,"
                              "255):g="));
    assert_non_null(strstr(g, "drawtext=fontfile=/fonts/My Font\\\\\\'s\\\\:Bold.ttf:"
                              "textfile=/data/.title.1.txt:expansion=none:"));
    assert_non_null(strstr(g, "fontsize=88:"));
    assert_non_null(strstr(g, "text=Your project\\, explained:"));
    assert_non_null(strstr(g, "color=0xF4A259:t=fill"));
    assert_true(strlen(g) > 20 && strcmp(g + strlen(g) - 15, ",format=yuv420p") == 0);
    free(g);
    g = render_template_graph(NULL, "/x", 5, 5);
    assert_null(strstr(g, "drawtext"));
    assert_non_null(strstr(g, "color=0xE9C46A")); /* palette 5 % 4 = 1 */
    free(g);
    g = render_template_graph("/f.ttf", NULL, 0, 2);
    assert_null(strstr(g, "textfile="));
    assert_non_null(strstr(g, "Your project"));
    free(g);
}

/* ---- Cloudinary against a scripted server ------------------------------------------------- */

/* The value of multipart field name in a recorded request (new), or NULL. */
static char *form_value(const char *raw, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "name=\"%s\"\r\n\r\n", name);
    const char *p = strstr(raw, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    const char *end = strstr(p, "\r\n--");
    return end ? xstrndup(p, (size_t)(end - p)) : NULL;
}

/* Checks a recorded upload/destroy: api_key, fresh timestamp, signature of
 * the named params with secret. */
static void check_signed(const char *raw, const char *const *names, const char *secret)
{
    struct render_param params[8];
    char *values[8] = {0};
    size_t n = 0;
    for (; names[n]; n++) {
        values[n] = form_value(raw, names[n]);
        assert_non_null(values[n]);
        params[n] = (struct render_param){names[n], values[n]};
    }
    char want[65];
    assert_int_equal(render_cloudinary_sign(params, n, secret, false, want), 0);
    char *sig = form_value(raw, "signature");
    char *key = form_value(raw, "api_key");
    char *ts = form_value(raw, "timestamp");
    assert_non_null(sig);
    assert_string_equal(sig, want);
    assert_string_equal(key, "111222333");
    long long stamp = atoll(ts);
    assert_true(llabs(stamp - (long long)time(NULL)) < 60);
    free(sig);
    free(key);
    free(ts);
    for (size_t i = 0; i < n; i++)
        free(values[i]);
}

static struct render *cloudinary_for(struct fake_http *server, const char *template_id)
{
    char *base = fake_http_url(server, "");
    char err[256];
    struct render_cloudinary_config cfg = {
        .cloud_name = "demo",
        .api_key = "111222333",
        .api_secret = "unit-secret",
        .api_base = base,
        .delivery_base = base,
        .template_public_id = template_id,
        .retry_base_ms = 5,
        .processing_wait_ms = 10,
    };
    struct render *r = render_cloudinary_new(&cfg, err, sizeof err);
    free(base);
    assert_non_null(r);
    return r;
}

#define UPLOADED(id, extra)                                                                        \
    "{\"public_id\":\"" id "\",\"version\":1700000000,\"resource_type\":\"video\","                \
    "\"format\":\"wav\",\"secure_url\":\"https://res.cloudinary.com/demo/video/upload/v1/" id      \
    ".wav\"" extra "}"

static const char MP4_BODY[] = "AAAAftypisom-not-really-a-movie";

static void test_cloudinary_render(void **state)
{
    (void)state;
    const char *json = "Content-Type: application/json\r\n";
    const struct fake_http_reply script[] = {
        {.status = 200,
         .headers = json,
         .body = UPLOADED("harde/job-7-voice", ",\"duration\":3.5")},
        {.status = 500, .headers = json, .body = "{\"error\":{\"message\":\"try again\"}}"},
        {.status = 200, .headers = json, .body = UPLOADED("harde/job-7-template", "")},
        {.status = 200, .headers = json, .body = UPLOADED("harde/job-7-music", "")},
        {.status = 423, .headers = "X-Cld-Error: still processing\r\n", .body = ""},
        {.status = 200, .headers = "Content-Type: video/mp4\r\n", .body = MP4_BODY},
    };
    struct fake_http *server = fake_http_start(script, 6);
    struct render *r = cloudinary_for(server, NULL);
    char *dir = workdir("cld"), err[512] = "";
    char *voice = write_file(dir, "enhanced.wav", "RIFF-voice");
    char *tmpl = write_file(dir, "template.mp4", "not-a-real-template");
    char *music = write_file(dir, "music.wav", "RIFF-music");
    char *out = media_path(dir, "video.mp4");
    struct render_job job = {.voice = voice,
                             .template_video = tmpl,
                             .music = music,
                             .output = out,
                             .work_dir = dir,
                             .key = "job-7"};
    struct render_result res;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), 0);
    assert_string_equal(render_name(r), "cloudinary");
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(media_read_file(out, 0, &b, err, sizeof err), 0);
    assert_string_equal(buf_str(&b), MP4_BODY);
    buf_free(&b);
    assert_true(res.voice_s == 3.5);
    assert_int_equal(res.n_assets, 3);
    assert_string_equal(res.assets[0], "cloudinary:video:harde/job-7-voice");
    assert_string_equal(res.assets[1], "cloudinary:video:harde/job-7-template");
    assert_string_equal(res.assets[2], "cloudinary:video:harde/job-7-music");
    assert_int_equal(fake_http_count(server), 6);

    const char *names[] = {"public_id", "overwrite", "invalidate", "timestamp", NULL};
    char *raw = fake_http_request(server, 0);
    assert_non_null(strstr(raw, "POST /v1_1/demo/video/upload HTTP/1.1\r\n"));
    assert_non_null(strstr(raw, "Content-Type: multipart/form-data; boundary="));
    assert_non_null(strstr(raw, "name=\"file\"; filename=\"enhanced.wav\"\r\n"
                                "Content-Type: audio/wav\r\n\r\nRIFF-voice\r\n"));
    char *pid = form_value(raw, "public_id");
    assert_string_equal(pid, "harde/job-7-voice");
    free(pid);
    check_signed(raw, names, "unit-secret");
    free(raw);
    raw = fake_http_request(server, 2); /* the template, after one 500 */
    assert_non_null(strstr(raw, "filename=\"template.mp4\"\r\nContent-Type: video/mp4\r\n"));
    check_signed(raw, names, "unit-secret");
    free(raw);
    raw = fake_http_request(server, 5);
    assert_non_null(strstr(raw, "GET /demo/video/upload/du_3.50/l_audio:harde:job-7-voice/"
                                "fl_layer_apply/l_audio:harde:job-7-music/e_volume:-70/"
                                "fl_layer_apply/harde/job-7-template.mp4 HTTP/1.1\r\n"));
    free(raw);

    /* What cleanup would need before anything ran. */
    render_planned_assets(r, &job, &res);
    assert_int_equal(res.n_assets, 3);
    assert_string_equal(res.assets[2], "cloudinary:video:harde/job-7-music");
    free(out);
    free(music);
    free(tmpl);
    free(voice);
    free(dir);
    render_free(r);
    fake_http_stop(server);
}

static void test_cloudinary_failures(void **state)
{
    (void)state;
    const char *json = "Content-Type: application/json\r\n";
    const struct fake_http_reply script[] = {
        /* run 1: the signature is refused */
        {.status = 401,
         .headers = json,
         .body = "{\"error\":{\"message\":\"Invalid Signature 12ab. String to sign - "
                 "'overwrite=true&public_id=harde/k-voice&timestamp=1'.\"}}"},
        /* run 2: voice ok, then the video URL fails with X-Cld-Error */
        {.status = 200, .headers = json, .body = UPLOADED("harde/k-voice", ",\"duration\":2")},
        {.status = 400,
         .headers = "X-Cld-Error: Invalid transformation component - e_volume\r\n",
         .body = ""},
        /* run 3: the answer is not an MP4 */
        {.status = 200, .headers = json, .body = UPLOADED("harde/k-voice", ",\"duration\":2")},
        {.status = 200, .headers = "Content-Type: text/html\r\n", .body = "<html>oops</html>"},
        /* run 4: the upload lands under another id */
        {.status = 200, .headers = json, .body = UPLOADED("other/id", "")},
    };
    struct fake_http *server = fake_http_start(script, 6);
    struct render *r = cloudinary_for(server, "brand/template");
    char *dir = workdir("cld-fail"), err[512] = "";
    char *voice = write_file(dir, "voice.wav", "RIFF-voice");
    char *out = media_path(dir, "video.mp4");
    struct render_job job = {.voice = voice, .output = out, .work_dir = dir, .key = "k"};
    struct render_result res;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_AUTH);
    assert_non_null(strstr(err, "Cloudinary rejected the credentials for upload of harde/k-voice "
                                "(HTTP 401): Invalid Signature 12ab."));
    assert_int_equal(res.n_assets, 0);

    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_HTTP);
    assert_string_equal(err, "Cloudinary video render failed (HTTP 400 after 1 attempt): "
                             "Invalid transformation component - e_volume");
    assert_int_equal(res.n_assets, 1); /* the voice is listed for cleanup */
    assert_string_equal(res.assets[0], "cloudinary:video:harde/k-voice");
    char *raw = fake_http_request(server, 2);
    assert_non_null(strstr(raw, "GET /demo/video/upload/du_2.00/l_audio:harde:k-voice/"
                                "fl_layer_apply/brand/template.mp4 HTTP/1.1"));
    free(raw);

    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_PARSE);
    assert_non_null(strstr(err, "not MP4"));
    assert_int_equal(media_file_size(out), -1);

    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_PARSE);
    assert_non_null(strstr(err, "\"other/id\""));
    /* No temporary file is left behind. */
    char *files = listing(dir);
    assert_string_equal(files, "voice.wav ");
    free(files);
    free(out);
    free(voice);
    free(dir);
    render_free(r);
    fake_http_stop(server);
}

static void test_cloudinary_destroy(void **state)
{
    (void)state;
    const char *json = "Content-Type: application/json\r\n";
    const struct fake_http_reply script[] = {
        {.status = 200, .headers = json, .body = "{\"result\":\"ok\"}"},
        {.status = 200, .headers = json, .body = "{\"result\":\"not found\"}"},
        {.status = 200, .headers = json, .body = "{\"result\":\"error\"}"},
    };
    struct fake_http *server = fake_http_start(script, 3);
    struct render *r = cloudinary_for(server, NULL);
    char err[512] = "";
    assert_int_equal(render_cleanup(r, "cloudinary:video:harde/k-voice", err, sizeof err), 0);
    assert_int_equal(render_cleanup(r, "cloudinary:video:harde/k-voice", err, sizeof err), 0);
    assert_int_equal(render_cleanup(r, "cloudinary:raw:x", err, sizeof err), ERR_HTTP);
    assert_string_equal(err, "Cloudinary destroy of x answered \"error\"");
    assert_int_equal(render_cleanup(r, "s3:video:x", err, sizeof err), ERR_INVALID);
    assert_int_equal(fake_http_count(server), 3);
    char *raw = fake_http_request(server, 0);
    assert_non_null(strstr(raw, "POST /v1_1/demo/video/destroy HTTP/1.1\r\n"));
    const char *names[] = {"public_id", "invalidate", "timestamp", NULL};
    check_signed(raw, names, "unit-secret");
    free(raw);
    raw = fake_http_request(server, 2);
    assert_non_null(strstr(raw, "POST /v1_1/demo/raw/destroy HTTP/1.1\r\n"));
    free(raw);
    render_free(r);
    fake_http_stop(server);
}

static void test_from_config(void **state)
{
    (void)state;
    char err[512] = "";
    unsetenv("CLOUDINARY_URL");
    struct render *r = render_from_config(NULL, err, sizeof err);
    assert_string_equal(render_name(r), "ffmpeg");
    assert_int_equal(render_cleanup(r, "cloudinary:video:x", err, sizeof err), ERR_INVALID);
    struct render_result res;
    struct render_job job = {.key = "k"};
    render_planned_assets(r, &job, &res);
    assert_int_equal(res.n_assets, 0);
    render_free(r);

    struct config *cfg = config_parse("[render]\nbackend = cloudinary\n", "t", err, sizeof err);
    assert_null(render_from_config(cfg, err, sizeof err));
    assert_string_equal(err, "[render] backend = cloudinary needs CLOUDINARY_URL");
    config_free(cfg);

    const struct fake_http_reply script[] = {{.status = 200,
                                              .headers = "Content-Type: application/json\r\n",
                                              .body = "{\"result\":\"ok\"}"}};
    struct fake_http *server = fake_http_start(script, 1);
    char *prefix = fake_http_url(server, "");
    char url[512];
    snprintf(url, sizeof url, "cloudinary://111222333:unit%%2Dsecret@mycloud?upload_prefix=%s",
             prefix);
    setenv("CLOUDINARY_URL", url, 1);
    cfg = config_parse("[render]\ncloudinary_folder = acme/videos\n", "t", err, sizeof err);
    r = render_from_config(cfg, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(render_name(r), "cloudinary");
    render_planned_assets(r, &job, &res);
    assert_int_equal(res.n_assets, 1); /* no template or music given */
    assert_string_equal(res.assets[0], "cloudinary:video:acme/videos/k-voice");
    assert_int_equal(render_cleanup(r, "cloudinary:video:acme/videos/k-voice", err, sizeof err), 0);
    char *raw = fake_http_request(server, 0);
    assert_non_null(strstr(raw, "POST /v1_1/mycloud/video/destroy HTTP/1.1"));
    const char *names[] = {"public_id", "invalidate", "timestamp", NULL};
    check_signed(raw, names, "unit-secret"); /* %2D decoded to '-' */
    free(raw);
    render_free(r);
    config_free(cfg);

    setenv("CLOUDINARY_URL", "https://not-cloudinary", 1);
    assert_null(render_from_config(NULL, err, sizeof err));
    assert_non_null(strstr(err, "cloudinary://KEY:SECRET@CLOUD"));
    unsetenv("CLOUDINARY_URL");
    free(prefix);
    fake_http_stop(server);
}

/* ---- real renders ------------------------------------------------------------------------ */

static bool have_ffmpeg(void)
{
    return media_have_program("ffmpeg") && media_have_program("ffprobe");
}

/* A tone of the given length as a WAV (new path). */
static char *make_tone(const char *dir, const char *name, double seconds)
{
    char *path = media_path(dir, name);
    char src[64], err[512];
    snprintf(src, sizeof src, "sine=f=220:d=%.3f:r=22050", seconds);
    const char *argv[] = {"ffmpeg", "-loglevel", "error", "-y", "-f",
                          "lavfi",  "-i",        src,     path, NULL};
    assert_int_equal(media_run(argv, NULL, err, sizeof err), 0);
    return path;
}

static void check_video(const char *path, double want_s)
{
    struct media_info info;
    char err[512];
    assert_int_equal(media_probe(path, &info, err, sizeof err), 0);
    assert_true(info.has_video);
    assert_true(info.has_audio);
    assert_string_equal(info.video_codec, "h264");
    assert_string_equal(info.audio_codec, "aac");
    assert_int_equal(info.sample_rate, 48000);
    if (!(info.duration_s > want_s - 0.5 && info.duration_s < want_s + 0.5))
        fail_msg("video lasts %.3f s, the voice %.3f s", info.duration_s, want_s);
}

static void test_defaults_real(void **state)
{
    (void)state;
    if (!have_ffmpeg()) {
        skip();
        return;
    }
    char *dir = media_path(tmpdir, "defaults/cache");
    char err[512] = "";
    struct render_defaults d;
    const char *name = "Garcia & Sons: \"Best\" Roofing's 100% {x}\n[y]; z";
    assert_int_equal(render_make_defaults(dir, name, &d, err, sizeof err), 0);
    struct media_info info;
    assert_int_equal(media_probe(d.template_video, &info, err, sizeof err), 0);
    assert_true(info.has_video);
    assert_false(info.has_audio);
    assert_int_equal(info.width, 1280);
    assert_int_equal(info.height, 720);
    assert_true(render_can_copy(&info));
    assert_true(info.duration_s > 9.9 && info.duration_s < 10.1);
    assert_int_equal(media_probe(d.music, &info, err, sizeof err), 0);
    assert_true(info.has_audio && !info.has_video);
    assert_int_equal(info.sample_rate, 48000);
    assert_true(info.duration_s > 15.9 && info.duration_s < 16.1);

    /* Cached: the same files, not made again. */
    struct stat before, after;
    assert_int_equal(stat(d.template_video, &before), 0);
    struct render_defaults again;
    assert_int_equal(render_make_defaults(dir, name, &again, err, sizeof err), 0);
    assert_string_equal(again.template_video, d.template_video);
    assert_int_equal(stat(again.template_video, &after), 0);
    assert_true(before.st_mtime == after.st_mtime && before.st_ino == after.st_ino);
    render_defaults_free(&again);
    /* Another company gets another template, the same music. */
    assert_int_equal(render_make_defaults(dir, "", &again, err, sizeof err), 0);
    assert_string_not_equal(again.template_video, d.template_video);
    assert_string_equal(again.music, d.music);
    render_defaults_free(&again);
    render_defaults_free(&d);
    free(dir);
}

static void test_render_real(void **state)
{
    (void)state;
    if (!have_ffmpeg()) {
        skip();
        return;
    }
    char *cache = media_path(tmpdir, "defaults/cache");
    char *dir = workdir("render-real"), err[512] = "";
    struct render_defaults d;
    assert_int_equal(render_make_defaults(cache, "Acme Gutters", &d, err, sizeof err), 0);
    char *voice = make_tone(dir, "voice.wav", 23.4); /* longer than the 10 s template */
    char *out = media_path(dir, "primer.mp4");
    struct render *r = render_ffmpeg_new(NULL);
    struct render_job job = {.voice = voice,
                             .template_video = d.template_video,
                             .music = d.music,
                             .output = out,
                             .work_dir = dir,
                             .key = "x"};
    struct render_result res;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), 0);
    check_video(out, 23.4);
    assert_true(res.voice_s > 23.3 && res.voice_s < 23.5);
    assert_int_equal(res.n_assets, 0);
    render_free(r);

    /* Encoding instead of copying; a short voice trims the template; no music. */
    struct render_ffmpeg_config cfg = {.video_mode = RENDER_VIDEO_ENCODE, .preset = "ultrafast"};
    r = render_ffmpeg_new(&cfg);
    char *short_voice = make_tone(dir, "short.wav", 4.2);
    job.voice = short_voice;
    job.music = NULL;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), 0);
    check_video(out, 4.2);
    render_free(r);

    /* Failures: a missing voice, a bad key, a missing program, a template that is audio. */
    r = render_ffmpeg_new(NULL);
    char *missing = media_path(dir, "nope.wav");
    job.voice = missing;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_NOT_FOUND);
    job.voice = short_voice;
    job.key = "bad key";
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_INVALID);
    job.key = NULL;
    job.template_video = d.music;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "has no video stream"));
    render_free(r);
    struct render_ffmpeg_config nope = {.program = "harde-no-such-ffmpeg"};
    r = render_ffmpeg_new(&nope);
    job.template_video = d.template_video;
    assert_int_equal(render_run(r, &job, &res, err, sizeof err), ERR_NOT_FOUND);
    render_free(r);

    /* Only the output and the inputs remain in the work directory. */
    char *files = listing(dir);
    assert_string_equal(files, "primer.mp4 short.wav voice.wav ");
    free(files);
    free(missing);
    free(short_voice);
    free(out);
    free(voice);
    render_defaults_free(&d);
    free(dir);
    free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_documented_example),
        cmocka_unit_test(test_signature_rules),
        cmocka_unit_test(test_overlay_url),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_ffmpeg_graph),
        cmocka_unit_test(test_ffmpeg_argv),
        cmocka_unit_test(test_can_copy),
        cmocka_unit_test(test_template_graph),
        cmocka_unit_test(test_cloudinary_render),
        cmocka_unit_test(test_cloudinary_failures),
        cmocka_unit_test(test_cloudinary_destroy),
        cmocka_unit_test(test_from_config),
        cmocka_unit_test(test_defaults_real),
        cmocka_unit_test(test_render_real),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
