/* media_form — a multipart/form-data request body (RFC 7578), in memory.
 *
 * The ElevenLabs and Cloudinary clients upload audio files as form parts
 * next to plain text fields. The body is built in one bounded buf with a
 * random boundary; adding a part whose bytes contain the boundary fails (a
 * 1 in 2^128 event, but the body would be corrupt), and so does a name,
 * file name or content type holding a quote, CR or LF. Finish it once, then
 * send body.data / body.len with the Content-Type line from content_type. */
#ifndef HARDE_SERVICES_MEDIA_FORM_H
#define HARDE_SERVICES_MEDIA_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define MEDIA_FORM_DEFAULT_MAX (80u << 20)

struct media_form {
    struct buf body;
    char boundary[64];
    char content_type[128]; /* "Content-Type: multipart/form-data; boundary=..." */
    bool finished;
};

/* Starts an empty form bounded by max bytes (0: MEDIA_FORM_DEFAULT_MAX) with a
 * random boundary. */
void media_form_init(struct media_form *f, size_t max);
/* Same with a fixed boundary (tests). */
void media_form_init_boundary(struct media_form *f, size_t max, const char *boundary);
/* Adds a text field: 0, ERR_INVALID (bad name / finished) or ERR_LIMIT. */
int media_form_field(struct media_form *f, const char *name, const char *value);
/* Adds a file part with its filename and content type. 0, ERR_INVALID or ERR_LIMIT. */
int media_form_file(struct media_form *f, const char *name, const char *filename,
                    const char *content_type, const void *data, size_t len);
/* Writes the closing boundary: 0 or ERR_LIMIT. */
int media_form_finish(struct media_form *f);
void media_form_free(struct media_form *f);

#endif
