/* test_media — the media room (services/media): running programs safely
 * (exit codes, stderr tails, timeouts that kill the whole process group,
 * cancellation, bounded stdout, missing programs), ffprobe, filtergraph
 * escaping, multipart bodies, WAV headers and file helpers.
 *
 * Second role: with "--drive CMD ..." this binary is the small driver that
 * tests/e2e/test_media.sh uses to call the speech and render services the
 * way the workflow will (backends chosen from the environment through
 * speech_*_from_config and render_from_config). The Makefile builds every
 * tests/unit/test_*.c and nothing else under tests/, so the driver lives
 * here rather than in a program of its own. Without arguments it is an
 * ordinary cmocka test. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "services/media/media.h"
#include "services/media/media_form.h"
#include "services/render/render.h"
#include "services/speech/speech.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_media.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char *argv[] = {"rm", "-rf", tmpdir, NULL};
    return media_run((const char *const *)argv, NULL, NULL, 0) == 0 ? 0 : -1;
}

static int run(const char *const *argv, const struct media_run_opts *opts, char *err, size_t errlen)
{
    return media_run(argv, opts, err, errlen);
}

/* ---- media_run --------------------------------------------------------------- */

static void test_run_ok_and_exit_code(void **state)
{
    (void)state;
    char err[512] = "";
    const char *ok[] = {"true", NULL};
    assert_int_equal(run(ok, NULL, err, sizeof err), 0);
    const char *fail[] = {"sh", "-c", "echo first line >&2; echo; echo 'second: why' >&2; exit 3",
                          NULL};
    assert_int_equal(run(fail, NULL, err, sizeof err), ERR_IO);
    assert_string_equal(err, "sh failed (exit 3): first line | second: why");
}

static void test_run_stderr_tail_is_bounded(void **state)
{
    (void)state;
    char err[512] = "";
    /* 200 000 bytes of noise, then the real reason on the last line. */
    const char *argv[] = {"sh", "-c",
                          "head -c 200000 /dev/zero | tr '\\0' x >&2; echo >&2; "
                          "echo 'Error opening output file' >&2; exit 1",
                          NULL};
    assert_int_equal(run(argv, NULL, err, sizeof err), ERR_IO);
    assert_non_null(strstr(err, "sh failed (exit 1): "));
    assert_non_null(strstr(err, " | Error opening output file"));
    assert_true(strlen(err) < sizeof err);
}

static void test_run_signal(void **state)
{
    (void)state;
    char err[512] = "";
    const char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    assert_int_equal(run(argv, NULL, err, sizeof err), ERR_IO);
    assert_string_equal(err, "sh was killed by signal 15");
}

static void test_run_missing_program(void **state)
{
    (void)state;
    char err[512] = "";
    const char *argv[] = {"harde-no-such-program-xyz", "-v", NULL};
    assert_int_equal(run(argv, NULL, err, sizeof err), ERR_NOT_FOUND);
    assert_string_equal(err, "harde-no-such-program-xyz is not installed (not found in PATH)");
    assert_false(media_have_program("harde-no-such-program-xyz"));
    assert_true(media_have_program("sh"));
    assert_true(media_have_program("/bin/sh"));
}

/* Alive and not a zombie (an orphan may wait a while for init to reap it). */
static bool pid_alive(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool zombie = fgets(line, sizeof line, f) && strstr(line, ") Z ");
    fclose(f);
    return !zombie;
}

static void test_run_timeout_kills_the_group(void **state)
{
    (void)state;
    char err[512] = "", pidfile[300];
    snprintf(pidfile, sizeof pidfile, "%s/grandchild.pid", tmpdir);
    /* The shell starts a grandchild and waits: both must die at the deadline. */
    char script[600];
    snprintf(script, sizeof script, "sleep 30 & echo $! > '%s'; echo started >&2; wait", pidfile);
    const char *argv[] = {"sh", "-c", script, NULL};
    struct media_run_opts opts = {.timeout_ms = 300};
    int64_t t0 = clock_now_ns();
    assert_int_equal(run(argv, &opts, err, sizeof err), ERR_TIMEOUT);
    int64_t ms = (clock_now_ns() - t0) / 1000000;
    assert_true(ms >= 250 && ms < 3000);
    assert_string_equal(err, "sh timed out after 0.3 s and was stopped: started");
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    /* The orphaned sleep is reaped by init; give it a moment. */
    for (int i = 0; i < 100 && pid_alive((pid_t)pid); i++)
        clock_sleep_ms(10, NULL);
    assert_false(pid_alive((pid_t)pid));
}

static void test_run_cancel(void **state)
{
    (void)state;
    char err[512] = "";
    volatile sig_atomic_t cancel = 1;
    const char *argv[] = {"sleep", "20", NULL};
    struct media_run_opts opts = {.cancel = &cancel};
    int64_t t0 = clock_now_ns();
    assert_int_equal(run(argv, &opts, err, sizeof err), ERR_CANCELED);
    assert_true((clock_now_ns() - t0) / 1000000 < 2000);
    assert_string_equal(err, "sleep was canceled");
}

static void test_run_stdout(void **state)
{
    (void)state;
    char err[512] = "";
    struct buf out;
    buf_init(&out, 1000);
    const char *argv[] = {"sh", "-c", "printf 'hello\\nworld'; echo noise >&2", NULL};
    struct media_run_opts opts = {.out = &out};
    assert_int_equal(run(argv, &opts, err, sizeof err), 0);
    assert_string_equal(buf_str(&out), "hello\nworld");
    const char *big[] = {"head", "-c", "100000", "/dev/zero", NULL};
    assert_int_equal(run(big, &opts, err, sizeof err), ERR_LIMIT);
    assert_string_equal(err, "head wrote more than 1000 bytes of output and was stopped");
    buf_free(&out);
}

static void test_run_argv_is_not_a_shell(void **state)
{
    (void)state;
    char err[512] = "";
    struct buf out;
    buf_init(&out, 1000);
    /* Shell syntax in an argument is just text. */
    const char *argv[] = {"printf", "%s", "$(echo pwned); rm -rf / `id`", NULL};
    struct media_run_opts opts = {.out = &out};
    assert_int_equal(run(argv, &opts, err, sizeof err), 0);
    assert_string_equal(buf_str(&out), "$(echo pwned); rm -rf / `id`");
    buf_free(&out);
}

/* ---- probe --------------------------------------------------------------------- */

static void write_silence_wav(const char *path, int rate, double seconds)
{
    size_t bytes = (size_t)(rate * seconds) * 2;
    unsigned char *data = xcalloc(1, bytes + 44);
    media_wav_header(data, rate, 1, bytes);
    char err[256];
    assert_int_equal(media_write_file(path, data, bytes + 44, err, sizeof err), 0);
    free(data);
}

static void test_probe(void **state)
{
    (void)state;
    if (!media_have_program("ffprobe")) {
        skip();
        return;
    }
    char err[512] = "";
    char *wav = media_path(tmpdir, "one second.wav");
    write_silence_wav(wav, 8000, 1.0);
    struct media_info info;
    assert_int_equal(media_probe(wav, &info, err, sizeof err), 0);
    assert_true(info.has_audio);
    assert_false(info.has_video);
    assert_int_equal(info.sample_rate, 8000);
    assert_int_equal(info.channels, 1);
    assert_string_equal(info.audio_codec, "pcm_s16le");
    assert_true(info.duration_s > 0.99 && info.duration_s < 1.01);

    char *text = media_path(tmpdir, "notes.txt");
    assert_int_equal(media_write_file(text, "not media at all\n", 17, err, sizeof err), 0);
    int rc = media_probe(text, &info, err, sizeof err);
    assert_true(rc == ERR_IO || rc == ERR_PARSE);
    assert_true(strlen(err) > 0);

    char *missing = media_path(tmpdir, "missing.wav");
    assert_int_equal(media_probe(missing, &info, err, sizeof err), ERR_NOT_FOUND);
    free(missing);
    free(text);
    free(wav);
}

static void test_probe_odd_names(void **state)
{
    (void)state;
    if (!media_have_program("ffprobe")) {
        skip();
        return;
    }
    /* A name that looks like an option, and one that looks like a URL. */
    char err[512] = "";
    const char *names[] = {"-i.wav", "http:x.wav", "a'b;c.wav"};
    for (size_t i = 0; i < 3; i++) {
        char *path = media_path(tmpdir, names[i]);
        write_silence_wav(path, 8000, 0.5);
        struct media_info info;
        assert_int_equal(media_probe(path, &info, err, sizeof err), 0);
        assert_true(info.duration_s > 0.45 && info.duration_s < 0.55);
        free(path);
    }
}

/* ---- formats and files ------------------------------------------------------------- */

static void test_filter_escape(void **state)
{
    (void)state;
    char *e = media_filter_escape("this is a 'string': may contain one, or more, special");
    /* The example of ffmpeg-filters "Notes on filtergraph escaping". */
    assert_string_equal(
        e, "this is a \\\\\\'string\\\\\\'\\\\: may contain one\\, or more\\, special");
    free(e);
    e = media_filter_escape("[in];x\\y");
    assert_string_equal(e, "\\[in\\]\\;x\\\\\\\\y");
    free(e);
    e = media_filter_escape(NULL);
    assert_string_equal(e, "");
    free(e);
}

static void test_form(void **state)
{
    (void)state;
    struct media_form f;
    media_form_init_boundary(&f, 0, "BOUNDARY");
    assert_int_equal(media_form_field(&f, "model_id", "eleven_multilingual_sts_v2"), 0);
    assert_int_equal(media_form_file(&f, "audio", "voice.wav", "audio/wav", "RIFF\0x", 6), 0);
    assert_int_equal(media_form_finish(&f), 0);
    const char want[] = "--BOUNDARY\r\n"
                        "Content-Disposition: form-data; name=\"model_id\"\r\n\r\n"
                        "eleven_multilingual_sts_v2\r\n"
                        "--BOUNDARY\r\n"
                        "Content-Disposition: form-data; name=\"audio\"; filename=\"voice.wav\"\r\n"
                        "Content-Type: audio/wav\r\n\r\n"
                        "RIFF\0x\r\n"
                        "--BOUNDARY--\r\n";
    assert_int_equal(f.body.len, sizeof want - 1);
    assert_memory_equal(f.body.data, want, sizeof want - 1);
    assert_string_equal(f.content_type, "Content-Type: multipart/form-data; boundary=BOUNDARY");
    /* Nothing can be added after finishing. */
    assert_int_equal(media_form_field(&f, "late", "x"), ERR_INVALID);
    media_form_free(&f);

    media_form_init_boundary(&f, 0, "BOUNDARY");
    assert_int_equal(media_form_field(&f, "x", "has --BOUNDARY inside"), ERR_INVALID);
    assert_int_equal(media_form_field(&f, "bad\"name", "v"), ERR_INVALID);
    assert_int_equal(media_form_file(&f, "f", "evil\r\nname.wav", "audio/wav", "a", 1),
                     ERR_INVALID);
    assert_int_equal(f.body.len, 0);
    media_form_free(&f);

    /* Bounded: a part that does not fit leaves the body as it was. */
    media_form_init_boundary(&f, 100, "B");
    assert_int_equal(media_form_field(&f, "a", "1"), 0);
    size_t len = f.body.len;
    char big[200];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(media_form_field(&f, "b", big), ERR_LIMIT);
    assert_int_equal(f.body.len, len);
    media_form_free(&f);

    /* Random boundaries differ. */
    struct media_form a, b;
    media_form_init(&a, 0);
    media_form_init(&b, 0);
    assert_string_not_equal(a.boundary, b.boundary);
    assert_true(strlen(a.boundary) > 30);
    media_form_free(&a);
    media_form_free(&b);
}

static void test_wav_header_and_sniff(void **state)
{
    (void)state;
    unsigned char h[44];
    media_wav_header(h, 24000, 1, 48000);
    assert_memory_equal(h, "RIFF", 4);
    assert_int_equal(h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24, 36 + 48000);
    assert_memory_equal(h + 8, "WAVEfmt ", 8);
    assert_int_equal(h[22], 1);                                /* channels */
    assert_int_equal(h[24] | h[25] << 8 | h[26] << 16, 24000); /* rate */
    assert_int_equal(h[28] | h[29] << 8 | h[30] << 16, 48000); /* bytes/s */
    assert_int_equal(h[34], 16);                               /* bits */
    assert_int_equal(h[40] | h[41] << 8 | h[42] << 16, 48000); /* data bytes */
    assert_true(media_looks_like("wav", h, sizeof h));
    assert_false(media_looks_like("wav", "{\"error\":1}", 11));
    assert_true(media_looks_like("mp3", "ID3\x04", 4));
    assert_true(media_looks_like("mp3", "\xff\xfb\x90", 3));
    assert_false(media_looks_like("mp3", "<html>", 6));
    assert_true(media_looks_like("pcm", "\x01\x02", 2));
    assert_false(media_looks_like("pcm", "\x01", 1));
    assert_true(media_looks_like("flac", "fLaC", 4));
    assert_false(media_looks_like("flac", "  {\"x\":1}", 9));
    assert_false(media_looks_like("wav", NULL, 0));
}

static void test_files(void **state)
{
    (void)state;
    char err[512] = "";
    char *p = media_path(tmpdir, "a.bin");
    char *p2 = media_path("dir/", "x");
    assert_string_equal(p2, "dir/x");
    free(p2);
    assert_int_equal(media_write_file(p, "abc", 3, err, sizeof err), 0);
    assert_int_equal(media_file_size(p), 3);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(media_read_file(p, 0, &b, err, sizeof err), 0);
    assert_string_equal(buf_str(&b), "abc");
    assert_int_equal(media_read_file(p, 2, &b, err, sizeof err), ERR_LIMIT);
    char *missing = media_path(tmpdir, "none");
    assert_int_equal(media_read_file(missing, 0, &b, err, sizeof err), ERR_NOT_FOUND);
    assert_int_equal(media_file_size(missing), -1);
    assert_int_equal(media_file_size(tmpdir), -1); /* a directory is not a file */
    buf_free(&b);
    char *tmp = media_temp_name(p, "wav");
    assert_string_equal(media_extension(tmp), "wav");
    assert_int_equal(media_write_file(tmp, "zz", 2, err, sizeof err), 0);
    assert_int_equal(media_commit(tmp, p, err, sizeof err), 0);
    assert_int_equal(media_file_size(p), 2);
    assert_int_equal(media_file_size(tmp), -1);
    assert_string_equal(media_extension("/a.b/c"), "");
    assert_string_equal(media_extension("x/.hidden"), "");
    assert_string_equal(media_mime_type("voice.WAV"), "audio/wav");
    assert_string_equal(media_mime_type("v.mp4"), "video/mp4");
    assert_string_equal(media_mime_type("v"), "application/octet-stream");
    free(tmp);
    free(missing);
    free(p);
}

static void test_argv(void **state)
{
    (void)state;
    struct media_argv a;
    media_argv_init(&a);
    media_argv_add(&a, "ffmpeg");
    media_argv_addf(&a, "%d", 42);
    media_argv_file(&a, "-weird name.wav");
    assert_int_equal(a.n, 3);
    assert_string_equal(a.v[1], "42");
    assert_string_equal(a.v[2], "file:-weird name.wav");
    assert_null(a.v[3]);
    char err[128];
    assert_int_equal(media_argv_check(&a, err, sizeof err), 0);
    for (int i = 0; i < MEDIA_MAX_ARGS; i++)
        media_argv_addf(&a, "x%d", i);
    assert_int_equal(media_argv_check(&a, err, sizeof err), ERR_LIMIT);
    assert_int_equal(a.n, MEDIA_MAX_ARGS);
    assert_null(a.v[MEDIA_MAX_ARGS]);
    media_argv_free(&a);
}

/* ---- the e2e driver -------------------------------------------------------------------- */

static int drive_fail(const char *what, int rc, const char *err)
{
    fprintf(stderr, "error: %s: %s: %s\n", what, err_name(rc), err);
    return 1;
}

static int drive_synth(char **argv)
{
    char err[1024] = "";
    struct buf text;
    buf_init(&text, 0);
    int rc = media_read_file(argv[0], 0, &text, err, sizeof err);
    if (rc)
        return drive_fail("read", rc, err);
    struct speech_tts *tts = speech_tts_from_config(NULL, err, sizeof err);
    if (!tts) {
        buf_free(&text);
        return drive_fail("tts", ERR_CONFIG, err);
    }
    char *out = NULL;
    rc = speech_synthesize(tts, buf_str(&text), NULL, argv[1], &out, err, sizeof err);
    if (!rc)
        printf("%s %s\n", speech_tts_name(tts), out);
    free(out);
    speech_tts_free(tts);
    buf_free(&text);
    return rc ? drive_fail("synthesize", rc, err) : 0;
}

static int drive_enhance(char **argv)
{
    char err[1024] = "";
    bool none = false;
    struct speech_enhancer *enh = speech_enhancer_from_config(NULL, &none, err, sizeof err);
    if (!enh)
        return none ? (printf("none %s\n", argv[0]), 0) : drive_fail("enhancer", ERR_CONFIG, err);
    char *out = NULL;
    int rc = speech_enhance(enh, argv[0], argv[1], &out, err, sizeof err);
    if (!rc)
        printf("%s %s\n", speech_enhancer_name(enh), out);
    free(out);
    speech_enhancer_free(enh);
    return rc ? drive_fail("enhance", rc, err) : 0;
}

static int drive_defaults(char **argv)
{
    char err[1024] = "";
    struct render_defaults d;
    int rc = render_make_defaults(argv[0], argv[1], &d, err, sizeof err);
    if (rc)
        return drive_fail("defaults", rc, err);
    printf("%s\n%s\n", d.template_video, d.music);
    render_defaults_free(&d);
    return 0;
}

/* render VOICE TEMPLATE MUSIC|- OUT WORKDIR KEY */
static int drive_render(char **argv)
{
    char err[1024] = "";
    struct render *r = render_from_config(NULL, err, sizeof err);
    if (!r)
        return drive_fail("render backend", ERR_CONFIG, err);
    struct render_job job = {
        .voice = argv[0],
        .template_video = strcmp(argv[1], "-") ? argv[1] : NULL,
        .music = strcmp(argv[2], "-") ? argv[2] : NULL,
        .output = argv[3],
        .work_dir = argv[4],
        .key = argv[5],
    };
    struct render_result res;
    int rc = render_run(r, &job, &res, err, sizeof err);
    printf("%s %.3f\n", render_name(r), res.duration_s);
    for (int i = 0; i < res.n_assets; i++)
        printf("%s\n", res.assets[i]);
    render_free(r);
    return rc ? drive_fail("render", rc, err) : 0;
}

static int drive_cleanup(int argc, char **argv)
{
    char err[1024] = "";
    struct render *r = render_from_config(NULL, err, sizeof err);
    if (!r)
        return drive_fail("render backend", ERR_CONFIG, err);
    int status = 0;
    for (int i = 0; i < argc; i++) {
        int rc = render_cleanup(r, argv[i], err, sizeof err);
        if (rc)
            status = drive_fail("cleanup", rc, err);
        else
            printf("deleted %s\n", argv[i]);
    }
    render_free(r);
    return status;
}

static int drive_probe(char **argv)
{
    char err[1024] = "";
    struct media_info info;
    int rc = media_probe(argv[0], &info, err, sizeof err);
    if (rc)
        return drive_fail("probe", rc, err);
    printf("{\"duration\": %.3f, \"video\": %s, \"audio\": %s, \"width\": %d, \"height\": %d, "
           "\"video_codec\": \"%s\", \"audio_codec\": \"%s\", \"sample_rate\": %d}\n",
           info.duration_s, info.has_video ? "true" : "false", info.has_audio ? "true" : "false",
           info.width, info.height, info.video_codec, info.audio_codec, info.sample_rate);
    return 0;
}

static int drive(int argc, char **argv)
{
    log_set_level_name(getenv("HARDE_LOG_LEVEL") ? getenv("HARDE_LOG_LEVEL") : "warn");
    static const struct {
        const char *name;
        int args;
    } commands[] = {{"synth", 2},  {"enhance", 2}, {"defaults", 2},
                    {"render", 6}, {"cleanup", 1}, {"probe", 1}};
    const char *cmd = argc > 0 ? argv[0] : "";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        if (argc - 1 < commands[i].args) {
            fprintf(stderr, "usage: test_media --drive %s (%d arguments)\n", cmd, commands[i].args);
            return 2;
        }
        switch (i) {
        case 0:
            return drive_synth(argv + 1);
        case 1:
            return drive_enhance(argv + 1);
        case 2:
            return drive_defaults(argv + 1);
        case 3:
            return drive_render(argv + 1);
        case 4:
            return drive_cleanup(argc - 1, argv + 1);
        default:
            return drive_probe(argv + 1);
        }
    }
    fprintf(stderr, "usage: test_media --drive synth|enhance|defaults|render|cleanup|probe ...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--drive") == 0)
        return drive(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_ok_and_exit_code),
        cmocka_unit_test(test_run_stderr_tail_is_bounded),
        cmocka_unit_test(test_run_signal),
        cmocka_unit_test(test_run_missing_program),
        cmocka_unit_test(test_run_timeout_kills_the_group),
        cmocka_unit_test(test_run_cancel),
        cmocka_unit_test(test_run_stdout),
        cmocka_unit_test(test_run_argv_is_not_a_shell),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_probe_odd_names),
        cmocka_unit_test(test_filter_escape),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_wav_header_and_sniff),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_argv),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
