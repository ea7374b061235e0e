/* sse — incremental event-stream parser. See sse.h.
 *
 * Bytes are scanned for line terminators; a line is collected in `line` until
 * its terminator arrives (a '\r' at the very end of a chunk sets skip_lf so a
 * '\n' starting the next chunk is not taken for a second, empty line). Each
 * complete line is interpreted at once: fields update the pending event and
 * an empty line dispatches it. Only ASCII bytes (CR, LF, ':', ' ') are ever
 * looked at, so multi-byte UTF-8 split across chunks passes through intact. */
#include "net/sse.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

void sse_parser_init(struct sse_parser *p, size_t max_line, size_t max_event, sse_event_cb *cb,
                     void *user)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->line, max_line ? max_line : SSE_DEFAULT_MAX_LINE);
    /* Each data line is stored with a '\n' after it; the last one is removed
     * before dispatch, hence the extra byte. */
    buf_init(&p->data, (max_event ? max_event : SSE_DEFAULT_MAX_EVENT) + 1);
    p->retry_ms = -1;
    p->cb = cb;
    p->user = user;
}

void sse_parser_free(struct sse_parser *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
}

bool sse_parser_pending(const struct sse_parser *p)
{
    return p->line.len > 0 || p->data.len > 0 || p->event[0] != '\0';
}

static int sse_fail(struct sse_parser *p, int code, char *err, size_t errlen, const char *msg,
                    size_t limit)
{
    if (err && errlen)
        snprintf(err, errlen, msg, limit);
    p->failed = code;
    return code;
}

static int sse_dispatch(struct sse_parser *p)
{
    if (p->data.len == 0) {
        p->event[0] = '\0';
        return 0;
    }
    p->data.len--; /* the '\n' after the last data line */
    p->data.data[p->data.len] = '\0';
    struct sse_event ev = {
        .event = p->event[0] ? p->event : "message",
        .data = p->data.data,
        .data_len = p->data.len,
        .id = p->id,
        .retry_ms = p->retry_ms,
    };
    int rc = p->cb ? p->cb(&ev, p->user) : 0;
    p->events++;
    buf_reset(&p->data);
    p->event[0] = '\0';
    return rc;
}

/* Copies a short field value; 0 or ERR_LIMIT. */
static int sse_set_field(char *dst, const char *value, size_t len)
{
    if (len >= SSE_MAX_FIELD)
        return ERR_LIMIT;
    memcpy(dst, value, len);
    dst[len] = '\0';
    return 0;
}

static void sse_set_retry(struct sse_parser *p, const char *value, size_t len)
{
    if (len == 0 || len > 9) /* more than 9 digits: over 11 days, not a real delay */
        return;
    long ms = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return;
        ms = ms * 10 + (value[i] - '0');
    }
    p->retry_ms = ms;
}

static int sse_line(struct sse_parser *p, char *err, size_t errlen)
{
    const char *line = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    if (!p->bom_done) {
        p->bom_done = true;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0)
        return sse_dispatch(p);
    if (line[0] == ':')
        return 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = len - (size_t)(value - line);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
#define SSE_FIELD_IS(lit) (name_len == sizeof(lit) - 1 && memcmp(line, lit, name_len) == 0)
    if (SSE_FIELD_IS("data")) {
        if (buf_append(&p->data, value, value_len) || buf_append_char(&p->data, '\n'))
            return sse_fail(p, ERR_LIMIT, err, errlen,
                            "an event in the event stream carries more than %zu bytes of data",
                            p->data.max - 1);
    } else if (SSE_FIELD_IS("event")) {
        if (sse_set_field(p->event, value, value_len))
            return sse_fail(p, ERR_LIMIT, err, errlen,
                            "an event name in the event stream is longer than %zu bytes",
                            (size_t)SSE_MAX_FIELD - 1);
    } else if (SSE_FIELD_IS("id")) {
        if (memchr(value, '\0', value_len) == NULL && sse_set_field(p->id, value, value_len))
            return sse_fail(p, ERR_LIMIT, err, errlen,
                            "an event id in the event stream is longer than %zu bytes",
                            (size_t)SSE_MAX_FIELD - 1);
    } else if (SSE_FIELD_IS("retry")) {
        sse_set_retry(p, value, value_len);
    }
#undef SSE_FIELD_IS
    return 0;
}

static int sse_append_line(struct sse_parser *p, const char *data, size_t len, char *err,
                           size_t errlen)
{
    if (buf_append(&p->line, data, len))
        return sse_fail(p, ERR_LIMIT, err, errlen,
                        "the event stream has a line longer than %zu bytes", p->line.max);
    return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *data, size_t len, char *err, size_t errlen)
{
    if (p->failed)
        return p->failed;
    size_t i = 0;
    while (i < len) {
        if (p->skip_lf) {
            p->skip_lf = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && data[j] != '\r' && data[j] != '\n')
            j++;
        int rc = sse_append_line(p, data + i, j - i, err, errlen);
        if (rc)
            return rc;
        if (j == len)
            break;
        if (data[j] == '\r') {
            if (j + 1 == len)
                p->skip_lf = true;
            else if (data[j + 1] == '\n')
                j++;
        }
        i = j + 1;
        rc = sse_line(p, err, errlen);
        buf_reset(&p->line);
        if (rc) {
            p->failed = rc;
            return rc;
        }
    }
    return 0;
}
