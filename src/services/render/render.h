/* render — the primer video: the voice over the company's template, with
 * background music, as an MP4.
 *
 *   struct render   ffmpeg (local) · Cloudinary (cloud)
 *
 * A render job names the voice (any audio ffmpeg reads), the template video,
 * the music (optional), the MP4 to write, a work directory for temporary
 * files, and a key (the workflow run's idempotency key). The video lasts as
 * long as the voice: the template is looped or trimmed to it; the music
 * loops under the voice, ducked while it speaks, fading in and out.
 *
 * Cloud assets: the Cloudinary backend uploads files under public ids made
 * from the key, so a step re-run after a crash overwrites the same assets
 * instead of adding new ones. Every asset it creates is listed in the
 * result (also when the render then fails) as a string such as
 * "cloudinary:video:harde/run-42-voice"; the workflow records the strings
 * and hands each to render_cleanup in its cleanup step, which deletes it
 * (an asset already gone counts as deleted). render_planned_assets lists the
 * same strings before anything is uploaded, for cleanup after a crash.
 *
 * render_make_defaults makes the project's own template (a brand-coloured
 * animated gradient with the company name, drawn with a DejaVu font when one
 * is installed) and music (a soft four-chord pad), with ffmpeg's generators:
 * nothing is downloaded. They are cached in a directory by company name.
 *
 * Every program runs without a shell, under a timeout, with its stderr's
 * last lines quoted on failure ("ffmpeg failed (exit 1): ..."). */
#ifndef HARDE_SERVICES_RENDER_H
#define HARDE_SERVICES_RENDER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct config;

#define RENDER_MAX_ASSETS 4
#define RENDER_ASSET_MAX  256 /* bytes of one asset string, NUL included */
#define RENDER_KEY_MAX    64

struct render_job {
    const char *voice;          /* audio file (required) */
    const char *template_video; /* video file (required unless the backend has its own) */
    const char *music;          /* audio file; NULL: no music */
    const char *output;         /* the MP4 to write (replaced atomically) */
    const char *work_dir;       /* existing directory for temporary files */
    const char *key;            /* [A-Za-z0-9_-]{1,64}; NULL: "harde" */
};

struct render_result {
    double duration_s; /* of the MP4 written */
    double voice_s;    /* of the voice */
    int n_assets;      /* cloud assets created (to pass to render_cleanup) */
    char assets[RENDER_MAX_ASSETS][RENDER_ASSET_MAX];
};

struct render;

/* Renders job into job->output. res is always reset and, even on failure,
 * lists the cloud assets created so far. 0, or an ERR_* code with err set. */
int render_run(struct render *r, const struct render_job *job, struct render_result *res, char *err,
               size_t errlen);
/* The assets render_run would create for job (none for ffmpeg). */
void render_planned_assets(struct render *r, const struct render_job *job,
                           struct render_result *res);
/* Deletes one asset listed by render_run. 0 when it is gone (also when it
 * was already gone); ERR_INVALID when the asset is not this backend's. */
int render_cleanup(struct render *r, const char *asset, char *err, size_t errlen);
/* "ffmpeg" or "cloudinary" (static). */
const char *render_name(const struct render *r);
void render_free(struct render *r);

/* ---- ffmpeg (local) ------------------------------------------------------ */

enum render_video_mode {
    RENDER_VIDEO_AUTO,   /* copy when the template is already H.264 yuv420p without B-frames */
    RENDER_VIDEO_COPY,   /* always copy the template's video stream (it must be H.264) */
    RENDER_VIDEO_ENCODE, /* always re-encode with libx264 */
};

struct render_ffmpeg_config {
    const char *program; /* NULL: "ffmpeg" */
    enum render_video_mode video_mode;
    const char *preset;  /* libx264 preset when encoding; NULL: "veryfast" */
    int crf;             /* 0: 23 */
    int max_width;       /* wider templates are scaled down when encoding; 0: 1920 */
    double music_volume; /* gain of the music under the voice; 0: 0.25 (-12 dB) */
    bool no_ducking;     /* true: constant music level instead of sidechain ducking */
    int audio_kbps;      /* AAC bit rate; 0: 160 */
    long timeout_ms;     /* 0: 10 minutes */
    volatile sig_atomic_t *cancel;
};
/* New; never NULL. */
struct render *render_ffmpeg_new(const struct render_ffmpeg_config *cfg);

/* ---- Cloudinary (cloud) -------------------------------------------------- */

struct render_cloudinary_config {
    const char *cloud_name;         /* required */
    const char *api_key;            /* required */
    const char *api_secret;         /* required */
    const char *api_base;           /* NULL: "https://api.cloudinary.com" */
    const char *delivery_base;      /* NULL: "https://res.cloudinary.com" */
    const char *folder;             /* public id prefix; NULL: "harde" */
    const char *template_public_id; /* an uploaded template to use; NULL: upload the job's */
    const char *music_public_id;    /* an uploaded music bed; NULL: upload the job's */
    int music_volume;               /* e_volume percent change for the music; 0: -70 */
    bool sha256;                    /* sign with SHA-256 instead of SHA-1 */
    const char *ffmpeg;             /* to stretch a short template/music; NULL: "ffmpeg" */
    long timeout_ms;                /* per HTTP attempt; 0: 300 s */
    int max_retries;                /* 0: the HTTP layer's default (2); < 0: none */
    long retry_base_ms;             /* 0: the HTTP layer's default */
    int processing_polls;           /* times a 423 "still processing" is waited out; 0: 30 */
    long processing_wait_ms;        /* between those; 0: 2000 */
    volatile sig_atomic_t *cancel;
};
/* New, or NULL with err set (a missing credential or name). */
struct render *render_cloudinary_new(const struct render_cloudinary_config *cfg, char *err,
                                     size_t errlen);

/* ---- choosing from configuration ----------------------------------------- */

/* [render] backend = auto | ffmpeg | cloudinary (auto: Cloudinary when
 * CLOUDINARY_URL, cloudinary://KEY:SECRET@CLOUD[?upload_prefix=URL], is set).
 * Other keys: [render] preset, crf, video_mode (auto|copy|encode),
 * music_volume, timeout_ms, cloudinary_folder, cloudinary_template,
 * cloudinary_music, cloudinary_music_volume, cloudinary_delivery_base,
 * cloudinary_signature (sha1|sha256), cloudinary_processing_wait_ms,
 * max_retries, retry_base_ms; $HARDE_FFMPEG names the ffmpeg program. cfg
 * may be NULL. New, or NULL with err set. */
struct render *render_from_config(const struct config *cfg, char *err, size_t errlen);

/* ---- the project's own template and music -------------------------------- */

struct render_defaults {
    char *template_video; /* new path */
    char *music;          /* new path */
};

/* Makes (or finds cached in dir, which is created) the default template for
 * company_name (NULL or "": no title) and the default music. ffmpeg is
 * "ffmpeg" or $HARDE_FFMPEG. 0, or an ERR_* code with err set. */
int render_make_defaults(const char *dir, const char *company_name, struct render_defaults *out,
                         char *err, size_t errlen);
void render_defaults_free(struct render_defaults *d);

#endif
