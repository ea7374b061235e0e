/* buf — a growable byte buffer with a hard size limit (curl's dynbuf idea).
 *
 * Every buffer of outside bytes (HTTP bodies, SSE lines, model output) is a
 * buf with a named maximum: appending past it fails with ERR_LIMIT instead of
 * growing forever. The data is always NUL-terminated so it can be used as a
 * C string. A zeroed struct buf with max 0 is valid and unlimited. */
#ifndef HARDE_BASE_BUF_H
#define HARDE_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len; 0 = unlimited */
};

void buf_init(struct buf *b, size_t max);
/* Frees the data; the buf can be reused after buf_init. */
void buf_free(struct buf *b);
/* Empties the buffer and keeps its memory. */
void buf_reset(struct buf *b);
/* 0, or ERR_LIMIT when the result would exceed max (the buffer is unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Returns the data as a new string (never NULL) and leaves the buffer empty. */
char *buf_steal(struct buf *b);
/* The data as a C string, "" when empty (borrowed). */
const char *buf_str(const struct buf *b);

#endif
