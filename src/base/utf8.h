/* utf8 — UTF-8 validation and lossy JSON strings.
 *
 * Outside bytes (model output, mail, user input) may hold invalid UTF-8, and
 * jansson refuses such strings (json_string returns NULL), which would make a
 * message field silently vanish. utf8_json_string instead replaces each bad
 * byte by U+FFFD, so the text survives with the damage visible. */
#ifndef HARDE_BASE_UTF8_H
#define HARDE_BASE_UTF8_H

#include <jansson.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1–4), or 0 if it is not one. */
size_t utf8_sequence(const unsigned char *p);
/* A new JSON string of s (NULL → ""), invalid bytes replaced by U+FFFD. */
json_t *utf8_json_string(const char *s);

#endif
