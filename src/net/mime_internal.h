/* mime_internal — helpers shared by the net/mime*.c files, not a contract.
 *
 * The MIME room is split by concern: mime.c walks a message's structure,
 * mime_header.c reads header values (encoded words, addresses, parameters,
 * dates), mime_codec.c holds the byte codecs (base64, quoted-printable,
 * charsets), mime_html.c turns HTML into text and mime_build.c writes
 * outgoing mail. They share the small pieces declared here. Decoders append
 * to unbounded scratch buffers: their output is at most a small multiple of
 * their bounded input, and the public functions apply the caller's bounds. */
#ifndef HARDE_NET_MIME_INTERNAL_H
#define HARDE_NET_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* A header-like value "token; name=value; name="quoted"": the token
 * lowercased (e.g. "text/plain", "attachment") and its parameters, with
 * RFC 2231 continuations and charset'lang'%XX values joined and decoded. */
struct mime_param {
    char *name;  /* lowercased, new */
    char *value; /* UTF-8, new */
};

struct mime_value {
    char token[96]; /* "" when the value is empty or unreadable */
    struct mime_param *params;
    size_t count;
};

/* Parses a Content-Type / Content-Disposition value; never fails. */
void mime_value_parse(const char *value, struct mime_value *out);
/* The parameter's value (borrowed), or NULL. name is lowercase. */
const char *mime_value_param(const struct mime_value *v, const char *name);
void mime_value_free(struct mime_value *v);

/* Length of the valid UTF-8 sequence at p given len bytes remain (1–4), or
 * 0 when it is not one (never reads past p + len). */
size_t mime_utf8_at(const unsigned char *p, size_t len);
/* True when the len bytes are valid UTF-8 without NUL. */
bool mime_utf8_valid(const char *p, size_t len);
/* Appends code point cp as UTF-8 (invalid code points become U+FFFD). */
void mime_utf8_put(struct buf *out, uint32_t cp);
/* The code point of byte c in Windows-1252 (which also serves ISO-8859-1:
 * they agree outside 0x80–0x9F, and WHATWG reads latin1 labels as 1252). */
uint32_t mime_cp1252(unsigned char c);

/* Base64 into out (appended). Whitespace is skipped; padding may be absent.
 * Returns 0, or ERR_PARSE with *bad_at set to the offset of the first byte
 * that is not base64 (or len for a truncated final quantum). */
int mime_base64_decode(const char *in, size_t len, struct buf *out, size_t *bad_at);
void mime_base64_encode(const unsigned char *in, size_t len, struct buf *out);
/* Quoted-printable into out (appended); header_q selects RFC 2047 "Q"
 * ('_' is a space, no soft line breaks). Malformed '=' sequences are kept
 * as written, as RFC 2045 advises; never fails. */
void mime_qp_decode(const char *in, size_t len, struct buf *out, bool header_q);

/* Appends the raw header bytes as UTF-8: kept when valid UTF-8, otherwise
 * read as Windows-1252. */
void mime_raw_to_utf8(const char *in, size_t len, struct buf *out);

/* ASCII case-insensitive helpers that work on length-bounded data. */
bool mime_prefix_ci(const char *s, size_t len, const char *prefix);
bool mime_equal_ci(const char *s, size_t len, const char *word);

#endif
