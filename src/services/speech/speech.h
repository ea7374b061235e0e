/* speech — the primer video's voice: text-to-speech, then voice enhancement.
 *
 * Two small interfaces, each with a local and a cloud implementation:
 *
 *   struct speech_tts       text → audio file      espeak-ng (local) · OpenAI TTS (cloud)
 *   struct speech_enhancer  audio → better audio   ffmpeg filter chain (local) ·
 *                                                  ElevenLabs speech-to-speech (cloud)
 *
 * Both write into a work directory the caller owns, under fixed names
 * ("tts.wav", "tts.mp3", "enhanced.wav", ...), through a temporary name and
 * a rename: a step that is re-run after a crash overwrites the same file and
 * never sees half of one. Temporary files (the text handed to espeak-ng)
 * live in the same directory and are removed before returning.
 *
 * Handles are long-lived and immutable after creation, so one may be shared
 * by threads. Every call takes a message buffer: on failure it holds one
 * sentence a person can act on ("espeak-ng failed (exit 1): ...", "OpenAI
 * TTS rejected the API key (HTTP 401): ..."). Secrets given to the cloud
 * backends are registered with base/log's redaction. */
#ifndef HARDE_SERVICES_SPEECH_H
#define HARDE_SERVICES_SPEECH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct config;

#define SPEECH_MAX_TEXT         20000       /* bytes of script text accepted */
#define SPEECH_MAX_AUDIO        (64u << 20) /* bytes of audio accepted from a service */
#define SPEECH_OPENAI_MAX_INPUT 4096        /* characters per OpenAI TTS request */

/* How to speak: every field is optional (NULL / 0 = the backend's default). */
struct speech_voice {
    const char *voice;        /* espeak-ng: "en-us", "en-gb+m3"; OpenAI: "alloy", "voice_..." */
    double speed;             /* 1.0 = normal; espeak-ng scales its words per minute */
    const char *instructions; /* OpenAI gpt-4o-mini-tts style prompt */
};

struct speech_tts;
struct speech_enhancer;

/* Speaks text (UTF-8, at most SPEECH_MAX_TEXT bytes) into an audio file in
 * work_dir (which must exist). voice may be NULL. On success *out_path is
 * the file's path (new; the caller frees it). */
int speech_synthesize(struct speech_tts *tts, const char *text, const struct speech_voice *voice,
                      const char *work_dir, char **out_path, char *err, size_t errlen);
/* "espeak" or "openai" (static). */
const char *speech_tts_name(const struct speech_tts *tts);
void speech_tts_free(struct speech_tts *tts);

/* Enhances the voice in in_path into an audio file in work_dir; *out_path is
 * new. in_path must not be the output's own name. */
int speech_enhance(struct speech_enhancer *enh, const char *in_path, const char *work_dir,
                   char **out_path, char *err, size_t errlen);
/* "ffmpeg" or "elevenlabs" (static). */
const char *speech_enhancer_name(const struct speech_enhancer *enh);
void speech_enhancer_free(struct speech_enhancer *enh);

/* ---- espeak-ng (local TTS) --------------------------------------------- */

struct speech_espeak_config {
    const char *program; /* NULL: "espeak-ng" */
    const char *voice;   /* NULL: "en-us" */
    int rate_wpm;        /* words per minute at speed 1; 0: 165 */
    int pitch;           /* 0-99; 0: espeak's default (50) */
    long timeout_ms;     /* 0: 120 s */
    volatile sig_atomic_t *cancel;
};
/* New; never NULL (the program is looked up when it runs). */
struct speech_tts *speech_espeak_new(const struct speech_espeak_config *cfg);

/* ---- ffmpeg filter chain (local enhancement) --------------------------- */

struct speech_ffmpeg_config {
    const char *program; /* NULL: "ffmpeg" */
    double target_lufs;  /* integrated loudness; 0: -16 */
    int highpass_hz;     /* 0: 80 */
    int lowpass_hz;      /* 0: 12000 */
    int sample_rate;     /* 0: 48000 */
    const char *format;  /* "wav" (default, PCM 16-bit) or "m4a" (AAC) */
    long timeout_ms;     /* 0: 300 s */
    volatile sig_atomic_t *cancel;
};
/* New; NULL with err set for an unknown format. */
struct speech_enhancer *speech_ffmpeg_new(const struct speech_ffmpeg_config *cfg, char *err,
                                          size_t errlen);

/* ---- OpenAI TTS (cloud) ------------------------------------------------- */

struct speech_openai_config {
    const char *base_url; /* NULL: "https://api.openai.com/v1" */
    const char *api_key;  /* required */
    const char *model;    /* NULL: "gpt-4o-mini-tts" */
    const char *voice;    /* default voice; NULL: "alloy" */
    const char *format;   /* wav (default), mp3, flac, aac, opus, pcm (saved as WAV, 24 kHz) */
    long timeout_ms;      /* 0: 120 s per attempt */
    int max_retries;      /* 0: the HTTP layer's default (2); < 0: none */
    long retry_base_ms;   /* 0: the HTTP layer's default */
    volatile sig_atomic_t *cancel;
};
/* New, or NULL with err set (no key, unknown format). */
struct speech_tts *speech_openai_new(const struct speech_openai_config *cfg, char *err,
                                     size_t errlen);

/* ---- ElevenLabs speech-to-speech (cloud) -------------------------------- */

struct speech_elevenlabs_config {
    const char *base_url;       /* NULL: "https://api.elevenlabs.io" */
    const char *api_key;        /* required (xi-api-key) */
    const char *voice_id;       /* required: the target voice */
    const char *model_id;       /* NULL: "eleven_multilingual_sts_v2" */
    const char *output_format;  /* NULL: "mp3_44100_128"; mp3_* or pcm_* (saved as WAV) */
    const char *voice_settings; /* JSON object text sent as the voice_settings field; may be NULL */
    bool remove_background_noise;
    long timeout_ms; /* 0: 300 s per attempt */
    int max_retries; /* 0: the HTTP layer's default (2); < 0: none */
    long retry_base_ms;
    volatile sig_atomic_t *cancel;
};
/* New, or NULL with err set. */
struct speech_enhancer *speech_elevenlabs_new(const struct speech_elevenlabs_config *cfg, char *err,
                                              size_t errlen);

/* ---- choosing from configuration ---------------------------------------- */

/* The TTS backend the configuration asks for: [speech] tts = auto | espeak |
 * openai (auto: OpenAI when OPENAI_API_KEY is set, else espeak-ng). Keys
 * come from the environment only (OPENAI_API_KEY, OPENAI_BASE_URL); the rest
 * from [speech] espeak_voice, espeak_rate, openai_model, openai_voice,
 * openai_format, timeout_ms, max_retries, retry_base_ms. cfg may be NULL.
 * New, or NULL with err set. */
struct speech_tts *speech_tts_from_config(const struct config *cfg, char *err, size_t errlen);
/* The enhancer: [speech] enhance = auto | ffmpeg | elevenlabs | none (auto:
 * ElevenLabs when ELEVENLABS_API_KEY and [speech] elevenlabs_voice_id are
 * set, else ffmpeg). "none" yields NULL with err empty and returns through
 * *none = true. Others: ELEVENLABS_BASE_URL, [speech] elevenlabs_model,
 * elevenlabs_output_format, elevenlabs_voice_settings, loudness_lufs,
 * enhance_format. New, or NULL with err set. */
struct speech_enhancer *speech_enhancer_from_config(const struct config *cfg, bool *none, char *err,
                                                    size_t errlen);

#endif
