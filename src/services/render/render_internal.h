/* render_internal — what the render room's files share, and the pure pieces
 * the unit tests check (ffmpeg argv and filtergraphs, Cloudinary signatures
 * and URLs, asset strings).
 *
 * A backend embeds struct render as its first member and fills the ops
 * table; render.c dispatches through it. */
#ifndef HARDE_SERVICES_RENDER_INTERNAL_H
#define HARDE_SERVICES_RENDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "services/media/media.h"
#include "services/render/render.h"

struct render_ops {
    const char *name;
    int (*run)(struct render *r, const struct render_job *job, struct render_result *res, char *err,
               size_t errlen);
    void (*planned)(struct render *r, const struct render_job *job, struct render_result *res);
    int (*cleanup)(struct render *r, const char *asset, char *err, size_t errlen);
    void (*free)(struct render *r);
};

struct render {
    const struct render_ops *ops;
};

/* ---- ffmpeg ---------------------------------------------------------------- */

/* Whether a template can be stream-copied: H.264, yuv420p, no B-frames (so a
 * cut at any frame decodes cleanly), in an MP4/MOV container. */
bool render_can_copy(const struct media_info *tmpl);

/* The -filter_complex graph (new): inputs 0 = template, 1 = voice, 2 = music
 * (when has_music); outputs [aout], and [vout] when encode is true (scaled
 * to at most scale_width when > 0, yuv420p). */
char *render_ffmpeg_graph(const struct render_ffmpeg_config *cfg, bool has_music, double voice_s,
                          bool encode, int scale_width);

/* The whole ffmpeg argv for a job whose voice lasts voice_s seconds, writing
 * MP4 to out_path. copy: stream-copy the template's video. scale_width > 0
 * scales it down when encoding. 0 or ERR_LIMIT. */
int render_ffmpeg_argv(const struct render_ffmpeg_config *cfg, const struct render_job *job,
                       const char *out_path, double voice_s, bool copy, int scale_width,
                       struct media_argv *argv, char *err, size_t errlen);

/* ---- Cloudinary --------------------------------------------------------------- */

struct render_param {
    const char *name;
    const char *value; /* NULL or "" = left out */
};

/* §5.2 steps 1-3: the params other than file, cloud_name, resource_type,
 * api_key and signature, empty ones dropped, sorted by name, joined as
 * name=value with '&' ('&' inside a value written %26). New string. */
char *render_cloudinary_string_to_sign(const struct render_param *params, size_t n);
/* The signature: hex SHA-1 (or SHA-256) of string_to_sign + api_secret,
 * written to out (41 or 65 bytes with the NUL). 0, or ERR_INVALID. */
int render_cloudinary_sign(const struct render_param *params, size_t n, const char *api_secret,
                           bool sha256, char out[65]);

/* A public id as an overlay's layer id: '/' becomes ':' (new). */
char *render_cloudinary_layer_id(const char *public_id);
/* The delivery URL overlaying the voice (full level) and the music (at
 * music_volume percent change; music_id may be NULL) on the template,
 * trimmed to duration_s (> 0), as MP4 (new):
 * {base}/{cloud}/video/upload/du_D/l_audio:V/fl_layer_apply/
 *   l_audio:M/e_volume:-70/fl_layer_apply/TEMPLATE.mp4 */
char *render_cloudinary_video_url(const char *delivery_base, const char *cloud,
                                  const char *template_id, const char *voice_id,
                                  const char *music_id, int music_volume, double duration_s);

/* "cloudinary:video:<public_id>" into out; false if it does not fit. */
bool render_asset_format(char *out, size_t outlen, const char *resource_type,
                         const char *public_id);
/* Splits an asset string made by render_asset_format; false if it is not one
 * for backend (e.g. "cloudinary") or is malformed. */
bool render_asset_parse(const char *asset, const char *backend, char *resource_type, size_t rtlen,
                        char *public_id, size_t idlen);
/* Appends an asset to res unless it is already listed. */
void render_result_add(struct render_result *res, const char *asset);
/* Whether key is [A-Za-z0-9_-]{1,RENDER_KEY_MAX}. */
bool render_key_ok(const char *key);

/* ---- defaults ---------------------------------------------------------------- */

/* The first installed font of the candidates ($HARDE_FONT first), or NULL (static/env). */
const char *render_find_font(void);
/* The template's -vf graph for a title in title_path (NULL: no title) drawn
 * with font (NULL: no text at all) and the given palette index (new). */
char *render_template_graph(const char *font, const char *title_path, size_t title_chars,
                            unsigned palette);
/* The music generator's aevalsrc expression (static). */
const char *render_music_expression(void);

#endif
