/* media — what the speech and render services share: running external
 * programs (ffmpeg, ffprobe, espeak-ng), probing media files, and small file
 * helpers.
 *
 * Every external program runs from an argv array through posix_spawn —
 * never a shell — with stdin from /dev/null, in its own process group, under
 * a deadline and an optional cancel flag; on timeout or cancel the whole
 * group is killed. Its stderr is read through a pipe and only the last
 * MEDIA_STDERR_TAIL bytes are kept, so a failure can be reported as
 * "ffmpeg failed (exit 1): <its last lines>" without unbounded memory.
 * Output files are written under a temporary name in the destination's
 * directory and renamed into place, so a crash never leaves a half-written
 * file under the final name (a rerun of a workflow step simply overwrites). */
#ifndef HARDE_SERVICES_MEDIA_H
#define HARDE_SERVICES_MEDIA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define MEDIA_RUN_DEFAULT_TIMEOUT_MS (10L * 60 * 1000)
#define MEDIA_STDERR_TAIL            4096 /* bytes of stderr kept for messages */
#define MEDIA_ERROR_LINES            3    /* last stderr lines quoted in a failure */
#define MEDIA_PROBE_MAX_OUTPUT       (256u << 10)
#define MEDIA_MAX_ARGS               96 /* argv entries built by the services */

struct media_run_opts {
    long timeout_ms;               /* 0: MEDIA_RUN_DEFAULT_TIMEOUT_MS */
    struct buf *out;               /* stdout collected here (bounded by its max); NULL: discarded */
    volatile sig_atomic_t *cancel; /* non-zero kills the program; may be NULL */
};

/* Runs argv (argv[0] looked up in PATH unless it holds a '/') and waits for
 * it. opts may be NULL. Returns 0 when it exited with status 0; otherwise
 * writes a sentence into err and returns:
 *   ERR_NOT_FOUND  the program is not installed (not in PATH);
 *   ERR_IO         it could not start, exited non-zero or died of a signal
 *                  ("ffmpeg failed (exit 1): last | lines | of stderr");
 *   ERR_TIMEOUT    it outlived timeout_ms (and was killed);
 *   ERR_CANCELED   *cancel became non-zero (and it was killed);
 *   ERR_LIMIT      its stdout exceeded opts->out's max (and it was killed). */
int media_run(const char *const *argv, const struct media_run_opts *opts, char *err, size_t errlen);

/* Whether name (or a path) is an executable program found in PATH. */
bool media_have_program(const char *name);

/* What ffprobe says about a file. */
struct media_info {
    double duration_s; /* the container's duration; 0 when unknown */
    bool has_video;
    bool has_audio;
    int width, height; /* of the first video stream */
    double fps;        /* of the first video stream (avg_frame_rate) */
    int has_b_frames;  /* of the first video stream */
    int sample_rate;   /* of the first audio stream */
    int channels;      /* of the first audio stream */
    char video_codec[32];
    char audio_codec[32];
    char pix_fmt[32];
    char format_name[64]; /* e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
};

/* Probes path with `ffprobe -v error -show_entries ... -of json` (program
 * "ffprobe", or $HARDE_FFPROBE). 0 with *info filled, or ERR_NOT_FOUND /
 * ERR_IO / ERR_PARSE / ERR_TIMEOUT with err set. */
int media_probe(const char *path, struct media_info *info, char *err, size_t errlen);

/* ---- files -------------------------------------------------------------- */

/* "dir/name" as a new string. */
char *media_path(const char *dir, const char *name);
/* Reads a whole file into out (reset first; bounded by max, 0 = unlimited):
 * 0, ERR_NOT_FOUND, ERR_IO or ERR_LIMIT with err set. */
int media_read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen);
/* Writes data to path through "path.tmp.PID" + fsync-free rename: 0 or ERR_IO. */
int media_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* "path.tmp.PID.ext" — where a program writes before media_commit (new).
 * ext (no dot) keeps the extension tools use to pick a format; may be NULL. */
char *media_temp_name(const char *path, const char *ext);
/* Renames tmp onto path: 0, or ERR_IO with err set (tmp is removed). */
int media_commit(const char *tmp, const char *path, char *err, size_t errlen);
/* Size of a regular file in bytes, or -1 when it does not exist / is not one. */
long long media_file_size(const char *path);
/* The extension of path after the last '.' of its last component, "" when none
 * (borrowed, points into path). */
const char *media_extension(const char *path);
/* A MIME type for an audio/video file name by its extension (static). */
const char *media_mime_type(const char *path);

/* ---- argv building ------------------------------------------------------ */

/* An argv under construction: borrowed strings and owned (formatted) ones.
 * Adding past MEDIA_MAX_ARGS sets overflow (media_argv_check reports it). */
struct media_argv {
    const char *v[MEDIA_MAX_ARGS + 1]; /* NULL-terminated */
    char *owned[MEDIA_MAX_ARGS];
    int n, n_owned;
    bool overflow;
};

void media_argv_init(struct media_argv *a);
/* Appends s (borrowed: it must outlive the argv). */
void media_argv_add(struct media_argv *a, const char *s);
/* Appends a formatted string the argv owns. */
void media_argv_addf(struct media_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends "file:PATH": ffmpeg/ffprobe then never read PATH as an option or a
 * protocol URL, whatever characters it holds. */
void media_argv_file(struct media_argv *a, const char *path);
/* 0, or ERR_LIMIT with err set when too many arguments were added. */
int media_argv_check(const struct media_argv *a, char *err, size_t errlen);
void media_argv_free(struct media_argv *a);

/* ---- formats ------------------------------------------------------------ */

/* Escapes value for use as an option value inside an ffmpeg filtergraph
 * (both levels of "Notes on filtergraph escaping": the option level escapes
 * \ ' : and the graph level \ ' [ ] , ;). New string. */
char *media_filter_escape(const char *value);
/* Writes a 44-byte canonical WAV header for 16-bit little-endian PCM. */
void media_wav_header(unsigned char header[44], int sample_rate, int channels, size_t data_bytes);
/* Whether data looks like audio of the given kind: "wav" (RIFF/WAVE),
 * "mp3" (ID3 tag or an MPEG frame sync), "pcm" (whole 16-bit samples),
 * others: non-empty and not starting like JSON or HTML. */
bool media_looks_like(const char *kind, const void *data, size_t len);

#endif
