/* sse — an incremental Server-Sent Events (text/event-stream) parser.
 *
 * Follows the WHATWG event-stream rules (EXTERNAL_APIS.md §0): bytes are fed
 * in chunks split anywhere (inside a "\r\n", inside a UTF-8 sequence); lines
 * end on "\r\n", "\n" or "\r"; "event:", "data:", "id:" and "retry:" fields
 * build an event that an empty line dispatches to a callback; lines starting
 * with ':' are comments; one space after the colon is stripped. A leading
 * UTF-8 BOM is skipped. An event with no data line is not dispatched; the last
 * event id persists across events, as the standard says.
 *
 * The parser owns a line buffer and an event buffer, both bounded: a line or
 * an event's data larger than the maximum fails with ERR_LIMIT and a message.
 * Pure: no I/O, no allocation beyond its buffers. */
#ifndef HARDE_NET_SSE_H
#define HARDE_NET_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define SSE_DEFAULT_MAX_LINE  (1u << 20) /* bytes in one line */
#define SSE_DEFAULT_MAX_EVENT (4u << 20) /* bytes of data in one event */
#define SSE_MAX_FIELD         256        /* bytes of an event name or id */

struct sse_event {
    const char *event; /* the event name; "message" when none was given */
    const char *data;  /* data lines joined with '\n', NUL-terminated (may hold NULs) */
    size_t data_len;
    const char *id; /* the last event id seen on the stream, "" when none */
    long retry_ms;  /* the last valid "retry:" value, -1 when none */
};

/* Receives one event (all pointers borrowed for the duration of the call).
 * Returns 0 to go on, or a negative ERR_* code that stops the parser and is
 * returned by sse_parser_feed. */
typedef int sse_event_cb(const struct sse_event *event, void *user);

struct sse_parser {
    struct buf line; /* the current, unfinished line */
    struct buf data; /* data of the current event, each line followed by '\n' */
    char event[SSE_MAX_FIELD];
    char id[SSE_MAX_FIELD];
    long retry_ms;
    bool skip_lf;  /* the previous chunk ended with '\r' */
    bool bom_done; /* past the point where a BOM may appear */
    int failed;    /* sticky error code once feeding failed */
    size_t events; /* events dispatched so far */
    sse_event_cb *cb;
    void *user;
};

/* Prepares p. max_line / max_event of 0 select the defaults. */
void sse_parser_init(struct sse_parser *p, size_t max_line, size_t max_event, sse_event_cb *cb,
                     void *user);
/* Frees the buffers; p can be initialised again. */
void sse_parser_free(struct sse_parser *p);
/* Feeds len bytes. Returns 0, ERR_LIMIT (with a message in err) when a line
 * or event is too large, or the callback's error code. After an error the
 * parser stays failed and returns the same code. err may be NULL. */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len, char *err, size_t errlen);
/* True when bytes of an unfinished event are pending (the stream stopped
 * mid-event). The standard discards such data at end of stream. */
bool sse_parser_pending(const struct sse_parser *p);

#endif
