/* mime_codec — the byte codecs of the MIME room: base64, quoted-printable,
 * UTF-8 checks and the charsets mail actually uses.
 *
 * Owns nothing: every function appends to a caller's buffer. Charsets are a
 * table of names pointing at one of four readers (UTF-8, ASCII, the
 * Windows-1252 family, ISO-8859-15); Hard-E reads no other charset, but text
 * in an unknown charset that happens to be valid UTF-8 (most "unknown" mail
 * is plain ASCII) is still accepted. Decoders follow RFC 2045's advice to be
 * liberal where nothing is lost (a stray '=' in quoted-printable stays as
 * written) and strict where guessing would corrupt data (a byte that is not
 * base64 is an error, reported by offset). */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"
#include "net/mime.h"
#include "net/mime_internal.h"

#define MIME_CHARSET_NAME_MAX 40

/* ---- small helpers ---------------------------------------------------- */

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool mime_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n > len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower_ascii(s[i]) != lower_ascii(prefix[i]))
            return false;
    return true;
}

bool mime_equal_ci(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && mime_prefix_ci(s, len, word);
}

size_t mime_utf8_at(const unsigned char *p, size_t len)
{
    unsigned char tmp[4] = {0, 0, 0, 0};
    memcpy(tmp, p, len < 4 ? len : 4);
    size_t n = utf8_sequence(tmp);
    return n <= len ? n : 0;
}

bool mime_utf8_valid(const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        if (u[i] == 0)
            return false;
        size_t n = mime_utf8_at(u + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

void mime_utf8_put(struct buf *out, uint32_t cp)
{
    char b[4];
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        buf_append_char(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, b, 4);
    }
}

/* Windows-1252's 0x80–0x9F; the five unassigned bytes keep their C1 code. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

uint32_t mime_cp1252(unsigned char c)
{
    if (c >= 0x80 && c <= 0x9F)
        return cp1252_high[c - 0x80];
    return c;
}

/* ISO-8859-15 differs from ISO-8859-1 in eight places. */
static uint32_t latin9(unsigned char c)
{
    switch (c) {
    case 0xA4:
        return 0x20AC;
    case 0xA6:
        return 0x0160;
    case 0xA8:
        return 0x0161;
    case 0xB4:
        return 0x017D;
    case 0xB8:
        return 0x017E;
    case 0xBC:
        return 0x0152;
    case 0xBD:
        return 0x0153;
    case 0xBE:
        return 0x0178;
    default:
        return c;
    }
}

void mime_raw_to_utf8(const char *in, size_t len, struct buf *out)
{
    if (mime_utf8_valid(in, len)) {
        buf_append(out, in, len);
        return;
    }
    for (size_t i = 0; i < len; i++)
        mime_utf8_put(out, mime_cp1252((unsigned char)in[i]));
}

/* ---- base64 ----------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mime_base64_decode(const char *in, size_t len, struct buf *out, size_t *bad_at)
{
    uint32_t acc = 0;
    int quantum = 0; /* sextets in acc */
    bool padding = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || padding) {
            *bad_at = i;
            return ERR_PARSE;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (++quantum == 4) {
            char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
            buf_append(out, b, 3);
            acc = 0;
            quantum = 0;
        }
    }
    if (quantum == 1) {
        *bad_at = len;
        return ERR_PARSE;
    }
    if (quantum == 2) {
        buf_append_char(out, (char)(acc >> 4));
    } else if (quantum == 3) {
        char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
        buf_append(out, b, 2);
    }
    return 0;
}

void mime_base64_encode(const unsigned char *in, size_t len, struct buf *out)
{
    size_t i = 0;
    char q[4];
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        q[0] = b64_alphabet[v >> 18];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = b64_alphabet[(v >> 6) & 63];
        q[3] = b64_alphabet[v & 63];
        buf_append(out, q, 4);
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        q[0] = b64_alphabet[v >> 18];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        q[3] = '=';
        buf_append(out, q, 4);
    }
}

/* ---- quoted-printable ------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower_ascii(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* At in[i] == '=': the length of a soft line break ("=", optional blanks,
 * then CRLF, LF or the end), or 0. */
static size_t qp_soft_break(const char *in, size_t len, size_t i)
{
    size_t j = i + 1;
    while (j < len && (in[j] == ' ' || in[j] == '\t'))
        j++;
    if (j == len)
        return j - i;
    if (in[j] == '\n')
        return j + 1 - i;
    if (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')
        return j + 2 - i;
    return 0;
}

void mime_qp_decode(const char *in, size_t len, struct buf *out, bool header_q)
{
    /* Bytes before kept_len are decoded or visible; blanks after it are
     * transport padding, dropped at a line break (RFC 2045 6.7). */
    size_t kept_len = out->len;
    size_t i = 0;
    while (i < len) {
        char c = in[i];
        if (c == '=') {
            int hi = i + 1 < len ? hex_value(in[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                buf_append_char(out, (char)(hi * 16 + lo));
                kept_len = out->len;
                i += 3;
                continue;
            }
            size_t soft = header_q ? 0 : qp_soft_break(in, len, i);
            if (soft) {
                i += soft;
                kept_len = out->len;
                continue;
            }
            buf_append_char(out, '=');
            kept_len = out->len;
            i++;
            continue;
        }
        if (!header_q && (c == '\n' || (c == '\r' && i + 1 < len && in[i + 1] == '\n'))) {
            if (out->data) {
                out->len = kept_len;
                out->data[out->len] = '\0';
            }
            size_t n = c == '\n' ? 1 : 2;
            buf_append(out, in + i, n);
            kept_len = out->len;
            i += n;
            continue;
        }
        if (header_q && c == '_')
            c = ' ';
        buf_append_char(out, c);
        if (c != ' ' && c != '\t')
            kept_len = out->len;
        i++;
    }
}

/* ---- charsets --------------------------------------------------------- */

enum charset_kind { CS_UTF8, CS_ASCII, CS_CP1252, CS_LATIN9 };

static const struct {
    const char *name;
    enum charset_kind kind;
} charset_names[] = {
    {"utf-8", CS_UTF8},          {"utf8", CS_UTF8},         {"unicode-1-1-utf-8", CS_UTF8},
    {"us-ascii", CS_ASCII},      {"ascii", CS_ASCII},       {"ansi_x3.4-1968", CS_ASCII},
    {"iso646-us", CS_ASCII},     {"us", CS_ASCII},          {"iso-8859-1", CS_CP1252},
    {"iso8859-1", CS_CP1252},    {"iso_8859-1", CS_CP1252}, {"iso_8859-1:1987", CS_CP1252},
    {"latin1", CS_CP1252},       {"latin-1", CS_CP1252},    {"l1", CS_CP1252},
    {"cp819", CS_CP1252},        {"ibm819", CS_CP1252},     {"iso-ir-100", CS_CP1252},
    {"windows-1252", CS_CP1252}, {"cp1252", CS_CP1252},     {"x-cp1252", CS_CP1252},
    {"iso-8859-15", CS_LATIN9},  {"iso8859-15", CS_LATIN9}, {"iso_8859-15", CS_LATIN9},
    {"latin9", CS_LATIN9},       {"latin-9", CS_LATIN9},    {"l9", CS_LATIN9},
};

/* The kind for charset, or -1 when unknown. */
static int charset_lookup(const char *charset)
{
    if (!charset)
        return CS_ASCII;
    while (*charset == ' ' || *charset == '\t' || *charset == '"')
        charset++;
    size_t len = strlen(charset);
    while (len && (charset[len - 1] == ' ' || charset[len - 1] == '\t' || charset[len - 1] == '"'))
        len--;
    if (len == 0)
        return CS_ASCII;
    for (size_t i = 0; i < sizeof charset_names / sizeof charset_names[0]; i++)
        if (mime_equal_ci(charset, len, charset_names[i].name))
            return (int)charset_names[i].kind;
    return -1;
}

/* Appends UTF-8 input, each invalid byte (and NUL) as U+FFFD. */
static void utf8_repair(const char *data, size_t len, struct buf *out)
{
    const unsigned char *u = (const unsigned char *)data;
    size_t i = 0;
    while (i < len) {
        size_t n = u[i] ? mime_utf8_at(u + i, len - i) : 0;
        if (n) {
            buf_append(out, u + i, n);
            i += n;
        } else {
            mime_utf8_put(out, 0xFFFD);
            i++;
        }
    }
}

static void convert(int kind, const char *data, size_t len, struct buf *out)
{
    const unsigned char *u = (const unsigned char *)data;
    switch (kind) {
    case CS_UTF8:
        utf8_repair(data, len, out);
        break;
    case CS_ASCII:
        if (mime_utf8_valid(data, len))
            buf_append(out, data, len);
        else
            convert(CS_CP1252, data, len, out);
        break;
    case CS_CP1252:
        for (size_t i = 0; i < len; i++)
            mime_utf8_put(out, u[i] ? mime_cp1252(u[i]) : 0xFFFD);
        break;
    case CS_LATIN9:
        for (size_t i = 0; i < len; i++)
            mime_utf8_put(out, u[i] ? latin9(u[i]) : 0xFFFD);
        break;
    }
}

int mime_charset_to_utf8(const char *charset, const char *data, size_t len, struct buf *out,
                         char *err, size_t errlen)
{
    int kind = charset_lookup(charset);
    if (kind < 0 && !mime_utf8_valid(data, len)) {
        snprintf(err, errlen,
                 "charset \"%.*s\" is not supported (only utf-8, us-ascii, iso-8859-1, "
                 "iso-8859-15 and windows-1252 are) and the text is not valid UTF-8",
                 MIME_CHARSET_NAME_MAX, charset);
        return ERR_PARSE;
    }
    struct buf tmp;
    buf_init(&tmp, 0);
    if (kind < 0)
        buf_append(&tmp, data, len);
    else
        convert(kind, data, len, &tmp);
    int rc = buf_append(out, tmp.data ? tmp.data : "", tmp.len);
    buf_free(&tmp);
    if (rc)
        snprintf(err, errlen, "text longer than the %zu-byte limit", out->max);
    return rc;
}
