/* speech_internal — what the speech room's files share, and the pure pieces
 * the unit tests check (argv, filter chains, request bodies, URLs).
 *
 * A backend embeds struct speech_tts / struct speech_enhancer as its first
 * member and fills in the ops table; speech.c dispatches through it. */
#ifndef HARDE_SERVICES_SPEECH_INTERNAL_H
#define HARDE_SERVICES_SPEECH_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "services/media/media.h"
#include "services/speech/speech.h"

struct http_response;

struct speech_tts_ops {
    const char *name;
    int (*synthesize)(struct speech_tts *tts, const char *text, const struct speech_voice *voice,
                      const char *work_dir, char **out_path, char *err, size_t errlen);
    void (*free)(struct speech_tts *tts);
};

struct speech_tts {
    const struct speech_tts_ops *ops;
};

struct speech_enhancer_ops {
    const char *name;
    int (*enhance)(struct speech_enhancer *enh, const char *in_path, const char *work_dir,
                   char **out_path, char *err, size_t errlen);
    void (*free)(struct speech_enhancer *enh);
};

struct speech_enhancer {
    const struct speech_enhancer_ops *ops;
};

/* espeak-ng's argv: -v VOICE -s WPM [-p PITCH] -b 1 -w OUT -f TEXTFILE.
 * voice may be NULL. 0, or ERR_INVALID with err set (a voice name with
 * characters other than letters, digits, '-', '_', '+', '/'). */
int speech_espeak_argv(const struct speech_espeak_config *cfg, const struct speech_voice *voice,
                       const char *text_path, const char *out_path, struct media_argv *argv,
                       char *err, size_t errlen);

/* The enhancement filter chain (high-pass, low-pass, compressor, loudnorm,
 * resample), new. */
char *speech_ffmpeg_filter(const struct speech_ffmpeg_config *cfg);
/* ffmpeg's argv for enhancing in_path into out_path (a temporary name whose
 * extension picks the container). */
void speech_ffmpeg_argv(const struct speech_ffmpeg_config *cfg, const char *in_path,
                        const char *out_path, struct media_argv *argv);

/* The JSON body of POST /audio/speech (new reference), or NULL with err set. */
json_t *speech_openai_body(const char *model, const char *default_voice, const char *format,
                           const char *text, const struct speech_voice *voice, char *err,
                           size_t errlen);
/* "{base}/v1/speech-to-speech/{voice_id}?output_format=F" (new), or NULL
 * when voice_id or the format holds characters that do not belong in a URL. */
char *speech_elevenlabs_url(const char *base_url, const char *voice_id, const char *output_format);

/* Turns a non-2xx answer of a speech service into an ERR_* code and a
 * sentence: 401/403 → ERR_AUTH, 429 → ERR_RATE_LIMIT, others ERR_HTTP;
 * the service's own message is quoted (OpenAI {"error":{"message"}},
 * ElevenLabs {"detail":{"message"}} or [{"msg"}]). who names the service. */
int speech_http_error(const char *who, int rc, const struct http_response *resp,
                      const char *transport_err, char *err, size_t errlen);

/* Whether a 2xx answer really carries audio of kind ("wav", "mp3", "pcm",
 * or another format name): not a JSON or HTML page whatever the status, and
 * shaped like the kind (media_looks_like). 0, or ERR_PARSE with err set. */
int speech_check_audio(const char *who, const struct http_response *resp, const char *kind,
                       char *err, size_t errlen);

/* Writes audio bytes to work_dir/name through a temporary name; sets
 * *out_path (new). pcm_rate > 0 wraps raw 16-bit mono PCM in a WAV header. */
int speech_save_audio(const char *work_dir, const char *name, const void *data, size_t len,
                      int pcm_rate, char **out_path, char *err, size_t errlen);

#endif
