/* mime — reading incoming mail (RFC 5322 + MIME) and writing outgoing mail.
 *
 * The inbox listener turns a raw message fetched over IMAP (or read from an
 * .eml file) into what a person would see: the subject and addresses decoded
 * to UTF-8, and one body text. mime_parse unfolds headers, decodes RFC 2047
 * encoded words, walks multipart trees of any nesting up to a bound,
 * undoes quoted-printable and base64, converts utf-8, us-ascii,
 * iso-8859-1/-15 and windows-1252 to UTF-8 (any other charset is kept when
 * its bytes are valid UTF-8 and is an error otherwise), prefers text/plain
 * over text/html and falls back to a text rendering of the HTML for
 * HTML-only mail. Garbage never crashes it: every problem is an ERR_* code
 * and a sentence naming it ("part 1.2: invalid base64 …").
 *
 * mime_build writes the other direction: From/To/Cc/Subject with encoded
 * words where needed, Date, Message-ID, MIME-Version, a text part or a
 * multipart/alternative text + HTML pair, both quoted-printable UTF-8, CRLF
 * line ends, no line over 78 characters, and no line that starts with a dot
 * (dot-safe for SMTP DATA) or "From " (safe for mbox).
 *
 * Pure: no network, no files, no shared state (except that
 * mime_message_id_new reads /dev/urandom). */
#ifndef HARDE_NET_MIME_H
#define HARDE_NET_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define MIME_MAX_MESSAGE      (32u << 20)  /* raw bytes mime_parse accepts (max_len 0) */
#define MIME_MAX_HEADER_BYTES (256u << 10) /* one header block, message or part */
#define MIME_MAX_FIELDS       1000         /* header fields in one block */
#define MIME_MAX_DEPTH        16           /* multipart nesting */
#define MIME_MAX_PARTS        500          /* parts in the whole message */
#define MIME_MAX_ADDRESSES    500          /* addresses per header name (To, Cc, …) */
#define MIME_MAX_TEXT         (8u << 20)   /* decoded body text, and the HTML */

/* One header field as written, unfolded (line breaks removed) and trimmed;
 * encoded words are not decoded (mime_decode_header does that). */
struct mime_header {
    char *name;
    char *value;
};

/* A mailbox: display name (UTF-8, "" when none) and address ("user@host"). */
struct mime_address {
    char *name;
    char *addr;
};

struct mime_address_list {
    struct mime_address *items;
    size_t count;
};

enum mime_text_source {
    MIME_TEXT_NONE,  /* no text/plain or text/html body */
    MIME_TEXT_PLAIN, /* text came from text/plain */
    MIME_TEXT_HTML,  /* text is the HTML body rendered as text */
};

/* A part that is not body text (a file, an image, a forwarded message). */
struct mime_attachment {
    char *content_type; /* lowercased, e.g. "application/pdf" */
    char *filename;     /* UTF-8, "" when none */
    size_t size;        /* bytes as transferred (still encoded) */
};

/* A parsed message. Every string is owned by the message and is never NULL
 * except html. */
struct mime_message {
    struct mime_header *headers; /* in order */
    size_t header_count;
    char *subject; /* decoded; "" when absent */
    struct mime_address_list from, to, cc, reply_to;
    char *message_id;  /* without the angle brackets; "" when absent */
    char *date;        /* the Date header as written; "" when absent */
    int64_t date_unix; /* seconds since the epoch; -1 when absent or unreadable */
    char *text;        /* the body text in UTF-8 with "\n" line ends; inline text/plain
                        * parts joined, else the HTML rendered; "" if blank */
    char *html;        /* the HTML body in UTF-8, or NULL when there is none */
    enum mime_text_source text_source;
    struct mime_attachment *attachments;
    size_t attachment_count;
};

/* Parses the raw message (len bytes, CRLF or LF line ends) into msg, which
 * is overwritten (free it with mime_message_free, also after a failure).
 * max_len bounds len (0: MIME_MAX_MESSAGE). Returns 0, or
 *   ERR_PARSE  malformed: empty input, a line that is not a header field
 *              before the blank line, a multipart without its boundary or
 *              closing delimiter, invalid base64, an unsupported transfer
 *              encoding or charset on a body part, a broken address header,
 *              more than one From header, …;
 *   ERR_LIMIT  a bound above (or max_len) was exceeded;
 *   ERR_INVALID raw is NULL;
 * with a sentence in err saying what and where. */
int mime_parse(const char *raw, size_t len, size_t max_len, struct mime_message *msg, char *err,
               size_t errlen);
void mime_message_free(struct mime_message *msg);

/* The value of the first header called name (case-insensitive), borrowed,
 * or NULL. */
const char *mime_message_header(const struct mime_message *msg, const char *name);

/* Appends the header value with RFC 2047 encoded words decoded, as UTF-8
 * (raw 8-bit bytes that are not UTF-8 are read as Windows-1252; malformed
 * encoded words stay as written; control characters become spaces).
 * Returns 0 or ERR_LIMIT (out's bound). */
int mime_decode_header(const char *value, struct buf *out);

/* Parses an address-list header value (names, quoted strings, comments,
 * angle addresses, groups) into list, which is overwritten (free it with
 * mime_address_list_free). Returns 0, ERR_PARSE (unterminated quote,
 * comment or angle address) or ERR_LIMIT (over MIME_MAX_ADDRESSES), with
 * err filled. */
int mime_parse_addresses(const char *value, struct mime_address_list *list, char *err,
                         size_t errlen);
void mime_address_list_free(struct mime_address_list *list);

/* Converts len bytes in charset (a MIME name, any case; NULL or "" means
 * us-ascii) to UTF-8, appended to out. utf-8 keeps valid sequences and
 * replaces invalid bytes by U+FFFD; us-ascii with 8-bit bytes is read as
 * UTF-8 when valid, else as Windows-1252; iso-8859-1, iso-8859-15 and
 * windows-1252 (and their aliases) are converted; any other charset is kept
 * when valid UTF-8. Returns 0, ERR_PARSE (unknown charset and not UTF-8) or
 * ERR_LIMIT, with err filled. */
int mime_charset_to_utf8(const char *charset, const char *data, size_t len, struct buf *out,
                         char *err, size_t errlen);

/* Appends a plain-text rendering of the HTML: tags dropped (script, style
 * and head with their content), block elements as line breaks, list items
 * as "- ", links as "text (url)", entities decoded, white space collapsed.
 * Returns 0 or ERR_LIMIT (out's bound). */
int mime_html_to_text(const char *html, size_t len, struct buf *out);

/* The RFC 5322 date as seconds since the epoch, or -1 when unreadable. */
int64_t mime_parse_date(const char *value);
/* Writes unix_seconds as an RFC 5322 date in UTC ("Tue, 01 Jul 2025
 * 10:00:00 +0000") into out (at least 32 bytes). */
void mime_format_date(int64_t unix_seconds, char *out, size_t outlen);

/* ---- outgoing mail ------------------------------------------------------ */

/* A mailbox for mime_build; strings are borrowed. name may be NULL. */
struct mime_mailbox {
    const char *name;
    const char *addr;
};

struct mime_draft {
    struct mime_mailbox from;
    const struct mime_mailbox *to; /* to_count entries, at least one */
    size_t to_count;
    const struct mime_mailbox *cc; /* may be NULL */
    size_t cc_count;
    struct mime_mailbox reply_to;     /* addr NULL: none */
    const char *subject;              /* UTF-8, one line */
    const char *text;                 /* UTF-8 plain text (required, may be "") */
    const char *html;                 /* UTF-8 HTML, or NULL for a text-only message */
    const char *message_id;           /* without <>; NULL: a new one (mime_message_id_new) */
    int64_t date_unix;                /* 0: now */
    const char *const *extra_headers; /* "Name: value" in ASCII, NULL-terminated; may be NULL */
};

/* Appends the complete message to out. Returns 0, ERR_INVALID (a missing
 * or malformed address, a line break in a header value, text that is not
 * UTF-8, a bad extra header) or ERR_LIMIT (out's bound), with err filled. */
int mime_build(const struct mime_draft *draft, struct buf *out, char *err, size_t errlen);

/* Writes a new unique Message-ID (without <>) for domain into out, e.g.
 * "1751364000.9f2c41d87a0b3e65@example.com". */
void mime_message_id_new(const char *domain, char *out, size_t outlen);

#endif
