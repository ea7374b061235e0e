/* media_probe — duration and stream kinds of a media file. See media.h.
 *
 * Runs `ffprobe -v error -show_entries format=...:stream=... -of json FILE`
 * through media_run (bounded output, a timeout) and reads the JSON with
 * jansson. ffprobe prints numbers as strings ("duration": "12.480000",
 * "avg_frame_rate": "25/1"), so those are parsed here. The first video and
 * the first audio stream describe the file. */
#define _POSIX_C_SOURCE 200809L
#include "services/media/media.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MEDIA_PROBE_TIMEOUT_MS 60000

static double media_json_number(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *slash = strchr(s, '/');
        if (slash) {
            double num = strtod(s, NULL), den = strtod(slash + 1, NULL);
            return den > 0 ? num / den : 0;
        }
        return strtod(s, NULL);
    }
    return 0;
}

static void media_json_copy(const json_t *obj, const char *key, char *out, size_t outlen)
{
    const char *s = json_string_value(json_object_get(obj, key));
    snprintf(out, outlen, "%s", s ? s : "");
}

static void media_probe_stream(const json_t *st, struct media_info *info)
{
    const char *type = json_string_value(json_object_get(st, "codec_type"));
    if (!type)
        return;
    if (strcmp(type, "video") == 0 && !info->has_video) {
        info->has_video = true;
        info->width = (int)media_json_number(st, "width");
        info->height = (int)media_json_number(st, "height");
        info->fps = media_json_number(st, "avg_frame_rate");
        info->has_b_frames = (int)media_json_number(st, "has_b_frames");
        media_json_copy(st, "codec_name", info->video_codec, sizeof info->video_codec);
        media_json_copy(st, "pix_fmt", info->pix_fmt, sizeof info->pix_fmt);
    } else if (strcmp(type, "audio") == 0 && !info->has_audio) {
        info->has_audio = true;
        info->sample_rate = (int)media_json_number(st, "sample_rate");
        info->channels = (int)media_json_number(st, "channels");
        media_json_copy(st, "codec_name", info->audio_codec, sizeof info->audio_codec);
    }
}

int media_probe(const char *path, struct media_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (media_file_size(path) < 0) {
        snprintf(err, errlen, "%s: no such file", path);
        return ERR_NOT_FOUND;
    }
    const char *program = getenv("HARDE_FFPROBE");
    struct media_argv argv;
    media_argv_init(&argv);
    media_argv_add(&argv, program && *program ? program : "ffprobe");
    media_argv_add(&argv, "-v");
    media_argv_add(&argv, "error");
    media_argv_add(&argv, "-show_entries");
    media_argv_add(&argv, "format=duration,format_name:stream=codec_type,codec_name,width,"
                          "height,avg_frame_rate,pix_fmt,has_b_frames,sample_rate,channels");
    media_argv_add(&argv, "-of");
    media_argv_add(&argv, "json");
    media_argv_file(&argv, path);
    struct buf out;
    buf_init(&out, MEDIA_PROBE_MAX_OUTPUT);
    struct media_run_opts opts = {.timeout_ms = MEDIA_PROBE_TIMEOUT_MS, .out = &out};
    json_t *root = NULL;
    int rc = media_run(argv.v, &opts, err, errlen);
    if (rc)
        goto out;
    json_error_t jerr;
    root = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
    if (!json_is_object(root)) {
        snprintf(err, errlen, "ffprobe printed something that is not JSON for %s", path);
        rc = ERR_PARSE;
        goto out;
    }
    info->duration_s = media_json_number(json_object_get(root, "format"), "duration");
    media_json_copy(json_object_get(root, "format"), "format_name", info->format_name,
                    sizeof info->format_name);
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(root, "streams"), i, st) media_probe_stream(st, info);
    if (!info->has_audio && !info->has_video) {
        snprintf(err, errlen, "%s has no audio or video stream", path);
        rc = ERR_PARSE;
    }
out:
    json_decref(root);
    buf_free(&out);
    media_argv_free(&argv);
    return rc;
}
