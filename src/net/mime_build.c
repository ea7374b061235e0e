/* mime_build — outgoing mail: the header, the text and HTML parts, the
 * Message-ID. See mime.h for the contract.
 *
 * Owns nothing; writes into a scratch buffer and appends it to the caller's
 * in one piece, so a message is either whole or absent. Every input is
 * checked before a byte is written: addresses are plain ASCII addr-specs,
 * header text has no line breaks (no header injection), text is UTF-8.
 * A header writer keeps the column and folds before 78 characters; names
 * and subjects that are not plain ASCII become RFC 2047 "B" encoded words
 * of at most 45 bytes each, cut at character boundaries. Bodies are
 * quoted-printable, which keeps lines short and lets the encoder escape a
 * '.' or "From " at the start of any line, so the result is dot-safe for
 * SMTP and safe for mbox without relying on the transport. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "net/mime.h"
#include "net/mime_internal.h"

#define LINE_SOFT_MAX   76 /* fold header lines before this column */
#define QP_LINE_MAX     76 /* encoded body line, the soft-break '=' included */
#define EW_BYTES_MAX    45 /* UTF-8 bytes in one encoded word: 60 base64 + 12 = 72 */
#define HEADER_LINE_MAX 998
#define ADDR_MAX        254
#define BOUNDARY_PREFIX "=_harde_" /* "=_" never occurs in quoted-printable */

/* ---- checks ----------------------------------------------------------- */

static bool atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A plain ASCII addr-spec: dot-atoms on both sides of one '@'. */
static bool addr_ok(const char *a)
{
    if (!a || strlen(a) > ADDR_MAX)
        return false;
    const char *at = strrchr(a, '@');
    if (!at || at == a || !at[1] || a[0] == '.' || at[-1] == '.' || at[1] == '.' ||
        a[strlen(a) - 1] == '.')
        return false;
    for (const char *p = a; *p; p++) {
        if (p == at)
            continue;
        bool ok = p < at ? (atext(*p) || *p == '.')
                         : ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
        if (!ok || (*p == '.' && p[1] == '.'))
            return false;
    }
    return true;
}

/* UTF-8 text for one header line: no control characters at all. */
static bool header_text_ok(const char *s)
{
    if (!mime_utf8_valid(s, strlen(s)))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

static const char *const builder_fields[] = {
    "From", "To",         "Cc",           "Reply-To",     "Subject",
    "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Bcc",  NULL,
};

/* "Name: value" in printable ASCII, not one of the builder's own fields. */
static bool extra_header_ok(const char *h, char *err, size_t errlen)
{
    const char *colon = strchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] <= 32 || (unsigned char)h[i] >= 127)
            n = 0;
    for (const char *p = h; n && *p; p++)
        if (((unsigned char)*p < 32 && *p != '\t') || (unsigned char)*p >= 127)
            n = 0;
    if (!n || strlen(h) > HEADER_LINE_MAX) {
        snprintf(err, errlen, "extra header \"%.40s\" is not \"Name: value\" in printable ASCII",
                 h);
        return false;
    }
    for (const char *const *f = builder_fields; *f; f++) {
        if (strlen(*f) == n && strncasecmp(h, *f, n) == 0) {
            snprintf(err, errlen, "extra header %s duplicates one mime_build writes", *f);
            return false;
        }
    }
    return true;
}

static int check_mailbox(const struct mime_mailbox *mb, const char *role, char *err, size_t errlen)
{
    if (!addr_ok(mb->addr)) {
        snprintf(err, errlen, "%s address \"%.60s\" is not a plain user@domain address", role,
                 mb->addr ? mb->addr : "");
        return ERR_INVALID;
    }
    if (mb->name && !header_text_ok(mb->name)) {
        snprintf(err, errlen, "%s name has a line break, a control character or invalid UTF-8",
                 role);
        return ERR_INVALID;
    }
    return 0;
}

static int check_draft(const struct mime_draft *d, char *err, size_t errlen)
{
    int rc = check_mailbox(&d->from, "From", err, errlen);
    if (!rc && d->to_count == 0) {
        snprintf(err, errlen, "no To address");
        rc = ERR_INVALID;
    }
    for (size_t i = 0; !rc && i < d->to_count; i++)
        rc = check_mailbox(&d->to[i], "To", err, errlen);
    for (size_t i = 0; !rc && i < d->cc_count; i++)
        rc = check_mailbox(&d->cc[i], "Cc", err, errlen);
    if (!rc && d->reply_to.addr)
        rc = check_mailbox(&d->reply_to, "Reply-To", err, errlen);
    if (rc)
        return rc;
    if (d->subject && !header_text_ok(d->subject)) {
        snprintf(err, errlen, "the subject has a line break, a control character or invalid UTF-8");
        return ERR_INVALID;
    }
    if (!d->text || !mime_utf8_valid(d->text, strlen(d->text)) ||
        (d->html && !mime_utf8_valid(d->html, strlen(d->html)))) {
        snprintf(err, errlen, "the %s is %s", d->text ? "HTML or text" : "text",
                 d->text ? "not valid UTF-8" : "missing");
        return ERR_INVALID;
    }
    if (d->message_id && !addr_ok(d->message_id)) {
        snprintf(err, errlen, "Message-ID \"%.60s\" is not left@right in printable ASCII",
                 d->message_id);
        return ERR_INVALID;
    }
    for (const char *const *h = d->extra_headers; h && *h; h++)
        if (!extra_header_ok(*h, err, errlen))
            return ERR_INVALID;
    return 0;
}

/* ---- header writer ---------------------------------------------------- */

struct writer {
    struct buf *out;
    size_t col;
};

static void start_field(struct writer *w, const char *name)
{
    buf_printf(w->out, "%s:", name);
    w->col = strlen(name) + 1;
}

/* Appends a token preceded by a blank, folding first when it would pass
 * the soft limit (never before the field's first token). */
static void token(struct writer *w, const char *s, size_t len, bool first)
{
    if (!first && w->col + 1 + len > LINE_SOFT_MAX) {
        buf_append_str(w->out, "\r\n");
        w->col = 0;
    }
    buf_append_char(w->out, ' ');
    buf_append(w->out, s, len);
    w->col += 1 + len;
}

static void end_field(struct writer *w)
{
    buf_append_str(w->out, "\r\n");
    w->col = 0;
}

/* True when s can be written as is: printable ASCII without "=?". */
static bool plain_ascii(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E || (p[0] == '=' && p[1] == '?'))
            return false;
    return true;
}

/* Writes s as "=?UTF-8?B?…?=" words. */
static void encoded_words(struct writer *w, const char *s, bool first)
{
    size_t len = strlen(s), pos = 0;
    struct buf word;
    buf_init(&word, 0);
    while (pos < len) {
        /* A field's first word cannot be folded away from the name: it gets
         * what is left of the line; every other word may start a line. */
        size_t budget = EW_BYTES_MAX;
        if (first) {
            size_t room = LINE_SOFT_MAX > w->col + 13 ? LINE_SOFT_MAX - w->col - 13 : 0;
            budget = room / 4 * 3;
            if (budget < 4)
                budget = 4;
            if (budget > EW_BYTES_MAX)
                budget = EW_BYTES_MAX;
        }
        size_t take = 0;
        while (pos + take < len) {
            size_t n = mime_utf8_at((const unsigned char *)s + pos + take, len - pos - take);
            if (!n || take + n > budget)
                break;
            take += n;
        }
        buf_reset(&word);
        buf_append_str(&word, "=?UTF-8?B?");
        mime_base64_encode((const unsigned char *)s + pos, take, &word);
        buf_append_str(&word, "?=");
        token(w, word.data, word.len, first);
        first = false;
        pos += take;
    }
    buf_free(&word);
}

/* Writes plain ASCII text word by word. */
static void plain_words(struct writer *w, const char *s, bool first)
{
    while (*s) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n) {
            token(w, s, n, first);
            first = false;
        }
        s += n;
    }
}

static void write_mailbox(struct writer *w, const struct mime_mailbox *mb, bool first, bool last)
{
    struct buf tok;
    buf_init(&tok, 0);
    const char *name = mb->name ? mb->name : "";
    if (name[0] && plain_ascii(name)) {
        bool simple = true;
        for (const char *p = name; *p; p++)
            simple = simple && (atext(*p) || *p == ' ');
        if (simple) {
            plain_words(w, name, first);
        } else {
            buf_append_char(&tok, '"');
            for (const char *p = name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    buf_append_char(&tok, '\\');
                buf_append_char(&tok, *p);
            }
            buf_append_char(&tok, '"');
            token(w, tok.data, tok.len, first);
        }
        first = false;
    } else if (name[0]) {
        encoded_words(w, name, first);
        first = false;
    }
    buf_reset(&tok);
    buf_printf(&tok, name[0] ? "<%s>%s" : "%s%s", mb->addr, last ? "" : ",");
    token(w, tok.data, tok.len, first);
    buf_free(&tok);
}

static void write_mailboxes(struct writer *w, const char *field, const struct mime_mailbox *list,
                            size_t n)
{
    if (!n)
        return;
    start_field(w, field);
    for (size_t i = 0; i < n; i++)
        write_mailbox(w, &list[i], i == 0, i + 1 == n);
    end_field(w);
}

/* ---- quoted-printable body -------------------------------------------- */

/* The encoding of byte c at column col; last says it ends its line. */
static void qp_token(const char *line, size_t i, size_t len, size_t col, char out[4])
{
    unsigned char c = (unsigned char)line[i];
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < len);
    if (col == 0 && c == '.')
        literal = false;
    if (col == 0 && c == 'F' && len - i >= 5 && memcmp(line + i, "From ", 5) == 0)
        literal = false;
    if (literal) {
        out[0] = (char)c;
        out[1] = '\0';
    } else {
        snprintf(out, 4, "=%02X", c);
    }
}

static void qp_encode(const char *text, struct buf *out)
{
    size_t len = strlen(text), pos = 0;
    while (pos < len || pos == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *line = text + pos;
        if (ll && line[ll - 1] == '\r' && nl)
            ll--;
        size_t col = 0;
        for (size_t i = 0; i < ll; i++) {
            char tok[4];
            qp_token(line, i, ll, col, tok);
            size_t tl = strlen(tok);
            /* Room for the token and, unless it ends the line, a soft '='. */
            if (col + tl > QP_LINE_MAX - (i + 1 < ll ? 1 : 0)) {
                buf_append_str(out, "=\r\n");
                col = 0;
                qp_token(line, i, ll, col, tok);
                tl = strlen(tok);
            }
            buf_append(out, tok, tl);
            col += tl;
        }
        buf_append_str(out, "\r\n");
        pos += (nl ? (size_t)(nl - (text + pos)) + 1 : len - pos);
        if (!nl)
            break;
        if (pos == len)
            break; /* the text ended with a line break: no empty extra line */
    }
}

static void text_part_header(struct buf *out, const char *subtype)
{
    buf_printf(out,
               "Content-Type: text/%s; charset=utf-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n",
               subtype);
}

/* ---- entry points ----------------------------------------------------- */

static void random_bytes(unsigned char *out, size_t n)
{
    static unsigned counter;
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, out, n);
        got = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    uint64_t x = (uint64_t)clock_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)++counter;
    for (size_t i = got; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (unsigned char)x;
    }
}

void mime_message_id_new(const char *domain, char *out, size_t outlen)
{
    unsigned char r[8];
    random_bytes(r, sizeof r);
    snprintf(out, outlen, "%lld.%02x%02x%02x%02x%02x%02x%02x%02x@%s",
             (long long)(clock_wall_ms() / 1000), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
             domain && domain[0] ? domain : "harde.invalid");
}

int mime_build(const struct mime_draft *d, struct buf *out, char *err, size_t errlen)
{
    int rc = check_draft(d, err, errlen);
    if (rc)
        return rc;
    struct buf msg;
    buf_init(&msg, 0);
    struct writer w = {.out = &msg};
    char date[64], id[300];
    mime_format_date(d->date_unix ? d->date_unix : clock_wall_ms() / 1000, date, sizeof date);
    if (d->message_id)
        snprintf(id, sizeof id, "%s", d->message_id);
    else
        mime_message_id_new(strrchr(d->from.addr, '@') + 1, id, sizeof id);
    buf_printf(&msg, "Date: %s\r\n", date);
    write_mailboxes(&w, "From", &d->from, 1);
    write_mailboxes(&w, "To", d->to, d->to_count);
    write_mailboxes(&w, "Cc", d->cc, d->cc_count);
    if (d->reply_to.addr)
        write_mailboxes(&w, "Reply-To", &d->reply_to, 1);
    const char *subject = d->subject ? d->subject : "";
    start_field(&w, "Subject");
    if (plain_ascii(subject))
        plain_words(&w, subject, true);
    else
        encoded_words(&w, subject, true);
    end_field(&w);
    buf_printf(&msg, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n", id);
    for (const char *const *h = d->extra_headers; h && *h; h++)
        buf_printf(&msg, "%s\r\n", *h);
    if (!d->html) {
        text_part_header(&msg, "plain");
        buf_append_str(&msg, "\r\n");
        qp_encode(d->text, &msg);
    } else {
        unsigned char r[12];
        random_bytes(r, sizeof r);
        char boundary[64];
        snprintf(boundary, sizeof boundary,
                 BOUNDARY_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x"
                                 "%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11]);
        buf_printf(&msg, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n",
                   boundary);
        buf_printf(&msg, "--%s\r\n", boundary);
        text_part_header(&msg, "plain");
        buf_append_str(&msg, "\r\n");
        qp_encode(d->text, &msg);
        buf_printf(&msg, "--%s\r\n", boundary);
        text_part_header(&msg, "html");
        buf_append_str(&msg, "\r\n");
        qp_encode(d->html, &msg);
        buf_printf(&msg, "--%s--\r\n", boundary);
    }
    rc = buf_append(out, buf_str(&msg), msg.len);
    if (rc)
        snprintf(err, errlen, "the message (%zu bytes) is over the buffer's limit", msg.len);
    buf_free(&msg);
    return rc;
}
