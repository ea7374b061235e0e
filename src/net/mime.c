/* mime — the message parser: header blocks, the multipart tree, body text.
 * See mime.h for the contract.
 *
 * Owns the struct mime_message it fills. The raw message is never copied
 * whole: header blocks and parts are slices of the input, and only decoded
 * text is allocated. One recursive walk visits the tree; a mode mask says
 * what a subtree may contribute (body text, the HTML, attachments), which is
 * how multipart/alternative keeps only its best text child (text/plain,
 * else a nested multipart, whose HTML is kept too) while multipart/mixed
 * contributes everything. Parts named by IMAP's numbering ("part 1.2")
 * appear in every error. Bounds (message size, header size and count,
 * depth, parts, text size) are checked where the data first appears. */
#define _POSIX_C_SOURCE 200809L
#include "net/mime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "net/mime_internal.h"

#define PATH_MAX_LEN 64  /* "1.2.3…" of the deepest part */
#define SHOW_MAX     40  /* bytes of a bad line quoted in an error */
#define BOUNDARY_MAX 200 /* RFC 2046 says 70; some mailers use more */

enum want {
    WANT_TEXT = 1,
    WANT_HTML = 2,
    WANT_ATTACH = 4,
    WANT_ALL = 7,
};

struct fields {
    struct mime_header *items;
    size_t count;
    size_t cap;
};

struct parse_ctx {
    struct mime_message *msg;
    struct buf text; /* body text so far (MIME_MAX_TEXT) */
    struct buf html; /* the first HTML part (MIME_MAX_TEXT) */
    bool have_html;
    size_t parts; /* parts seen, bounded by MIME_MAX_PARTS */
    size_t attach_cap;
    char *err;
    size_t errlen;
};

/* "part 1.2" or, for a message that is not multipart, "the body". */
static const char *where_name(const char *path, char *out, size_t outlen)
{
    if (path[0])
        snprintf(out, outlen, "part %s", path);
    else
        snprintf(out, outlen, "the body");
    return out;
}

/* ---- header blocks ---------------------------------------------------- */

static void fields_free(struct fields *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->items[i].name);
        free(f->items[i].value);
    }
    free(f->items);
    memset(f, 0, sizeof *f);
}

/* Stores the field being built (value trimmed) at the end of f. */
static void fields_push(struct fields *f, const char *name, size_t name_len, struct buf *value)
{
    if (f->count == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->items = xrealloc(f->items, f->cap * sizeof *f->items);
    }
    const char *v = buf_str(value);
    size_t vl = value->len;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    f->items[f->count].name = xstrndup(name, name_len);
    f->items[f->count].value = xstrndup(v, vl);
    f->count++;
    buf_reset(value);
}

static const char *fields_get(const struct fields *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcasecmp(f->items[i].name, name) == 0)
            return f->items[i].value;
    return NULL;
}

/* The length of a field name ending in ':' at line (blanks allowed before
 * the colon), or 0 when the line is not a field. *value_at gets the offset
 * just past the colon. */
static size_t field_name_len(const char *line, size_t len, size_t *value_at)
{
    size_t n = 0;
    while (n < len && (unsigned char)line[n] > 32 && (unsigned char)line[n] < 127 && line[n] != ':')
        n++;
    size_t c = n;
    while (c < len && (line[c] == ' ' || line[c] == '\t'))
        c++;
    if (n == 0 || c == len || line[c] != ':')
        return 0;
    *value_at = c + 1;
    return n;
}

/* A header block being read. */
struct field_reader {
    const char *where; /* names the block in errors */
    struct fields *f;
    struct buf value; /* the value of the field being built */
    const char *name; /* its name, or NULL before the first field */
    size_t name_len;
    size_t line_no;
    char *err;
    size_t errlen;
};

/* Takes one non-empty header line (without its line break). */
static int field_line(struct field_reader *r, const char *line, size_t ll)
{
    if (memchr(line, '\0', ll)) {
        snprintf(r->err, r->errlen, "%s header line %zu contains a NUL byte", r->where, r->line_no);
        return ERR_PARSE;
    }
    if (line[0] == ' ' || line[0] == '\t') {
        if (!r->name) {
            snprintf(r->err, r->errlen,
                     "%s header line %zu starts with white space but continues no field", r->where,
                     r->line_no);
            return ERR_PARSE;
        }
        buf_append(&r->value, line, ll); /* unfolding: the line break goes, blanks stay */
        return 0;
    }
    size_t value_at = 0, n = field_name_len(line, ll, &value_at);
    if (!n) {
        snprintf(r->err, r->errlen,
                 "%s line %zu is not a header field (\"%.*s\"): is the blank line between "
                 "header and body missing?",
                 r->where, r->line_no, (int)(ll < SHOW_MAX ? ll : SHOW_MAX), line);
        return ERR_PARSE;
    }
    if (r->name)
        fields_push(r->f, r->name, r->name_len, &r->value);
    if (r->f->count >= MIME_MAX_FIELDS) {
        snprintf(r->err, r->errlen, "%s has more than %d header fields", r->where, MIME_MAX_FIELDS);
        return ERR_LIMIT;
    }
    r->name = line;
    r->name_len = n;
    buf_append(&r->value, line + value_at, ll - value_at);
    return 0;
}

/* Parses the header block at the start of data[0..len) into f. Sets
 * *body_at to where the body starts (len when there is no blank line and
 * every line was a field). where names the block in errors. */
static int parse_fields(const char *data, size_t len, bool top, const char *where, struct fields *f,
                        size_t *body_at, char *err, size_t errlen)
{
    struct field_reader r = {.where = where, .f = f, .err = err, .errlen = errlen};
    buf_init(&r.value, 0);
    size_t pos = 0;
    int rc = 0;
    if (top && len >= 5 && memcmp(data, "From ", 5) == 0) { /* an mbox separator line */
        const char *nl = memchr(data, '\n', len);
        pos = nl ? (size_t)(nl - data) + 1 : len;
        r.line_no++;
    }
    *body_at = len;
    while (pos < len && rc == 0) {
        r.line_no++;
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t next = nl ? (size_t)(nl - data) + 1 : len;
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            *body_at = next;
            break;
        }
        if (next > MIME_MAX_HEADER_BYTES) {
            snprintf(err, errlen, "%s header is larger than %u bytes", where,
                     MIME_MAX_HEADER_BYTES);
            rc = ERR_LIMIT;
            break;
        }
        rc = field_line(&r, line, ll);
        pos = next;
    }
    if (!rc && r.name)
        fields_push(f, r.name, r.name_len, &r.value);
    buf_free(&r.value);
    return rc;
}

/* ---- body parts ------------------------------------------------------- */

/* Undoes the transfer encoding of a leaf part into out. */
static int decode_transfer(const char *cte, const char *body, size_t len, struct buf *out,
                           const char *where, char *err, size_t errlen)
{
    if (!cte[0] || strcmp(cte, "7bit") == 0 || strcmp(cte, "8bit") == 0 ||
        strcmp(cte, "binary") == 0) {
        buf_append(out, body, len);
        return 0;
    }
    if (strcmp(cte, "quoted-printable") == 0) {
        mime_qp_decode(body, len, out, false);
        return 0;
    }
    if (strcmp(cte, "base64") == 0) {
        size_t bad = 0;
        if (mime_base64_decode(body, len, out, &bad) == 0)
            return 0;
        if (bad < len)
            snprintf(err, errlen, "%s: invalid base64: byte 0x%02X at offset %zu", where,
                     (unsigned char)body[bad], bad);
        else
            snprintf(err, errlen, "%s: invalid base64: the data ends in a partial group", where);
        return ERR_PARSE;
    }
    snprintf(err, errlen, "%s: unsupported Content-Transfer-Encoding \"%.*s\"", where, SHOW_MAX,
             cte);
    return ERR_PARSE;
}

/* RFC 3676: joins the lines of format=flowed text (already "\n"-only). */
static void unflow(const char *s, size_t len, bool delsp, struct buf *out)
{
    size_t pos = 0;
    while (pos < len) {
        const char *line = s + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        bool quoted = ll && line[0] == '>';
        if (!quoted && ll && line[0] == ' ') { /* space-stuffing */
            line++;
            ll--;
        }
        bool signature = ll == 3 && memcmp(line, "-- ", 3) == 0;
        bool flowed = nl && !quoted && !signature && ll && line[ll - 1] == ' ';
        buf_append(out, line, flowed && delsp ? ll - 1 : ll);
        if (nl && !flowed)
            buf_append_char(out, '\n');
    }
}

/* Appends s with CRLF and lone CR turned into "\n". */
static void normalize_newlines(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r') {
            buf_append_char(out, '\n');
            if (i + 1 < len && s[i + 1] == '\n')
                i++;
        } else {
            buf_append_char(out, s[i]);
        }
    }
}

/* Decodes a text leaf into UTF-8 text with "\n" line ends (new in out). */
static int decode_text(struct parse_ctx *cx, const struct mime_value *ct, const char *cte,
                       const char *body, size_t len, const char *where, struct buf *out)
{
    struct buf raw, utf8;
    buf_init(&raw, 0);
    buf_init(&utf8, 0);
    char why[200];
    int rc = decode_transfer(cte, body, len, &raw, where, cx->err, cx->errlen);
    if (rc)
        goto out;
    rc = mime_charset_to_utf8(mime_value_param(ct, "charset"), buf_str(&raw), raw.len, &utf8, why,
                              sizeof why);
    if (rc) {
        snprintf(cx->err, cx->errlen, "%s: %s", where, why);
        goto out;
    }
    const char *format = mime_value_param(ct, "format");
    if (format && strcasecmp(format, "flowed") == 0) {
        struct buf lines;
        buf_init(&lines, 0);
        normalize_newlines(buf_str(&utf8), utf8.len, &lines);
        const char *delsp = mime_value_param(ct, "delsp");
        unflow(buf_str(&lines), lines.len, delsp && strcasecmp(delsp, "yes") == 0, out);
        buf_free(&lines);
    } else {
        normalize_newlines(buf_str(&utf8), utf8.len, out);
    }
out:
    buf_free(&raw);
    buf_free(&utf8);
    return rc;
}

static int add_attachment(struct parse_ctx *cx, const char *type, const char *filename, size_t size)
{
    struct mime_message *m = cx->msg;
    if (m->attachment_count == cx->attach_cap) {
        cx->attach_cap = cx->attach_cap ? cx->attach_cap * 2 : 4;
        m->attachments = xrealloc(m->attachments, cx->attach_cap * sizeof *m->attachments);
    }
    struct mime_attachment *a = &m->attachments[m->attachment_count++];
    a->content_type = xstrdup(type);
    a->filename = xstrdup(filename ? filename : "");
    a->size = size;
    return 0;
}

/* Handles a part that is not multipart. */
static int walk_leaf(struct parse_ctx *cx, const struct fields *f, const struct mime_value *ct,
                     const char *body, size_t len, const char *where, unsigned want)
{
    struct mime_value disp, cte;
    mime_value_parse(fields_get(f, "Content-Disposition"), &disp);
    mime_value_parse(fields_get(f, "Content-Transfer-Encoding"), &cte);
    bool plain = strcmp(ct->token, "text/plain") == 0;
    bool html = strcmp(ct->token, "text/html") == 0;
    const char *filename = mime_value_param(&disp, "filename");
    if (!filename)
        filename = mime_value_param(ct, "name");
    bool attachment =
        strcmp(disp.token, "attachment") == 0 || !(plain || html) || (!disp.token[0] && filename);
    int rc = 0;
    struct buf text;
    buf_init(&text, 0);
    if (attachment) {
        if (want & WANT_ATTACH)
            rc = add_attachment(cx, ct->token, filename, len);
        goto out;
    }
    if ((plain && !(want & WANT_TEXT)) || (html && (!(want & WANT_HTML) || cx->have_html)))
        goto out;
    rc = decode_text(cx, ct, cte.token, body, len, where, &text);
    if (rc)
        goto out;
    if (html) {
        cx->have_html = true;
        rc = buf_append(&cx->html, buf_str(&text), text.len);
    } else {
        if (cx->text.len && cx->text.data[cx->text.len - 1] != '\n')
            rc = buf_append_char(&cx->text, '\n');
        if (!rc)
            rc = buf_append(&cx->text, buf_str(&text), text.len);
    }
    if (rc)
        snprintf(cx->err, cx->errlen, "%s: the body text is longer than %u bytes", where,
                 MIME_MAX_TEXT);
out:
    buf_free(&text);
    mime_value_free(&disp);
    mime_value_free(&cte);
    return rc;
}

struct slice {
    const char *data;
    size_t len;
};

/* Splits a multipart body at its boundary into parts (new array in *out). */
static int split_multipart(const char *body, size_t len, const char *boundary, const char *type,
                           const char *where, struct slice **out, size_t *count, char *err,
                           size_t errlen)
{
    size_t blen = strlen(boundary), cap = 0, pos = 0, part_start = 0;
    bool opened = false, closed = false;
    *out = NULL;
    *count = 0;
    while (pos < len && !closed) {
        const char *line = body + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        size_t next = nl ? pos + ll + 1 : len;
        bool delim = ll >= blen + 2 && line[0] == '-' && line[1] == '-' &&
                     memcmp(line + 2, boundary, blen) == 0;
        bool close = false;
        if (delim) {
            size_t k = blen + 2;
            if (k + 2 <= ll && line[k] == '-' && line[k + 1] == '-') {
                close = true;
                k += 2;
            }
            for (; k < ll && delim; k++)
                delim = line[k] == ' ' || line[k] == '\t' || line[k] == '\r';
        }
        if (delim) {
            if (opened) {
                size_t end = pos; /* the line break before the delimiter is its own */
                if (end > part_start && body[end - 1] == '\n')
                    end--;
                if (end > part_start && body[end - 1] == '\r')
                    end--;
                if (*count >= MIME_MAX_PARTS) {
                    snprintf(err, errlen, "%s: more than %d parts", where, MIME_MAX_PARTS);
                    return ERR_LIMIT;
                }
                if (*count == cap) {
                    cap = cap ? cap * 2 : 8;
                    *out = xrealloc(*out, cap * sizeof **out);
                }
                (*out)[(*count)++] = (struct slice){body + part_start, end - part_start};
            }
            opened = true;
            closed = close;
            part_start = next;
        }
        pos = next;
    }
    if (!opened) {
        snprintf(err, errlen, "%s: the %s boundary \"%.*s\" never appears", where, type, SHOW_MAX,
                 boundary);
        return ERR_PARSE;
    }
    if (!closed) {
        snprintf(err, errlen, "%s: unterminated %s: the closing delimiter \"--%.*s--\" is missing",
                 where, type, SHOW_MAX, boundary);
        return ERR_PARSE;
    }
    return 0;
}

static int walk(struct parse_ctx *cx, const struct fields *f, const char *body, size_t len,
                int depth, const char *path, const char *default_type, unsigned want);

/* One child of a multipart, parsed before it is walked. */
struct child {
    struct fields fields;
    const char *body;
    size_t len;
    char token[96];  /* its content type */
    bool attachment; /* Content-Disposition: attachment */
};

/* Which children multipart/alternative walks, and for what: the text from
 * text/plain (else the first nested multipart), the HTML from text/html
 * (else the last nested multipart). */
static unsigned alternative_want(const struct child *kids, size_t n, size_t i, unsigned want)
{
    long plain = -1, html = -1, first_multi = -1, last_multi = -1;
    for (size_t k = 0; k < n; k++) {
        if (kids[k].attachment)
            continue;
        if (strcmp(kids[k].token, "text/plain") == 0 && plain < 0)
            plain = (long)k;
        else if (strcmp(kids[k].token, "text/html") == 0 && html < 0)
            html = (long)k;
        else if (strncmp(kids[k].token, "multipart/", 10) == 0) {
            if (first_multi < 0)
                first_multi = (long)k;
            last_multi = (long)k;
        }
    }
    long text_child = plain >= 0 ? plain : first_multi;
    long html_child = html >= 0 ? html : last_multi;
    unsigned w = 0;
    if ((long)i == text_child)
        w |= want & (WANT_TEXT | WANT_ATTACH);
    if ((long)i == html_child)
        w |= want & WANT_HTML;
    return w;
}

static int walk_multipart(struct parse_ctx *cx, const struct mime_value *ct, const char *body,
                          size_t len, int depth, const char *path, unsigned want)
{
    char where[PATH_MAX_LEN + 16];
    where_name(path, where, sizeof where);
    if (depth >= MIME_MAX_DEPTH) {
        snprintf(cx->err, cx->errlen, "%s: multiparts nested deeper than %d levels", where,
                 MIME_MAX_DEPTH);
        return ERR_LIMIT;
    }
    const char *boundary = mime_value_param(ct, "boundary");
    if (!boundary || !boundary[0] || strlen(boundary) > BOUNDARY_MAX) {
        snprintf(cx->err, cx->errlen, "%s: %s has %s boundary parameter", where, ct->token,
                 boundary && boundary[0] ? "a too long" : "no");
        return ERR_PARSE;
    }
    struct slice *parts = NULL;
    size_t n = 0;
    int rc =
        split_multipart(body, len, boundary, ct->token, where, &parts, &n, cx->err, cx->errlen);
    struct child *kids = n ? xcalloc(n, sizeof *kids) : NULL;
    bool digest = strcmp(ct->token, "multipart/digest") == 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char kid_where[PATH_MAX_LEN + 16], kid_path[PATH_MAX_LEN];
        snprintf(kid_path, sizeof kid_path, "%s%s%zu", path, path[0] ? "." : "", i + 1);
        snprintf(kid_where, sizeof kid_where, "part %s", kid_path);
        size_t body_at;
        rc = parse_fields(parts[i].data, parts[i].len, false, kid_where, &kids[i].fields, &body_at,
                          cx->err, cx->errlen);
        kids[i].body = parts[i].data + body_at;
        kids[i].len = parts[i].len - body_at;
        struct mime_value v;
        mime_value_parse(fields_get(&kids[i].fields, "Content-Type"), &v);
        snprintf(kids[i].token, sizeof kids[i].token, "%s",
                 strchr(v.token, '/') ? v.token
                 : digest             ? "message/rfc822"
                                      : "text/plain");
        mime_value_free(&v);
        mime_value_parse(fields_get(&kids[i].fields, "Content-Disposition"), &v);
        kids[i].attachment = strcmp(v.token, "attachment") == 0;
        mime_value_free(&v);
    }
    bool alternative = strcmp(ct->token, "multipart/alternative") == 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned w = alternative ? alternative_want(kids, n, i, want) : want;
        if (!w)
            continue;
        char kid_path[PATH_MAX_LEN];
        snprintf(kid_path, sizeof kid_path, "%s%s%zu", path, path[0] ? "." : "", i + 1);
        rc = walk(cx, &kids[i].fields, kids[i].body, kids[i].len, depth + 1, kid_path,
                  digest ? "message/rfc822" : "text/plain", w);
    }
    for (size_t i = 0; i < n; i++)
        fields_free(&kids[i].fields);
    free(kids);
    free(parts);
    return rc;
}

static int walk(struct parse_ctx *cx, const struct fields *f, const char *body, size_t len,
                int depth, const char *path, const char *default_type, unsigned want)
{
    char where[PATH_MAX_LEN + 16];
    where_name(path, where, sizeof where);
    if (++cx->parts > MIME_MAX_PARTS) {
        snprintf(cx->err, cx->errlen, "the message has more than %d parts", MIME_MAX_PARTS);
        return ERR_LIMIT;
    }
    struct mime_value ct;
    mime_value_parse(fields_get(f, "Content-Type"), &ct);
    if (!strchr(ct.token, '/')) /* absent or unreadable: RFC 2045's default */
        snprintf(ct.token, sizeof ct.token, "%s", default_type);
    int rc;
    if (strncmp(ct.token, "multipart/", 10) == 0) {
        struct mime_value cte;
        mime_value_parse(fields_get(f, "Content-Transfer-Encoding"), &cte);
        if (cte.token[0] && strcmp(cte.token, "7bit") && strcmp(cte.token, "8bit") &&
            strcmp(cte.token, "binary")) {
            snprintf(cx->err, cx->errlen, "%s: %s cannot have Content-Transfer-Encoding \"%.*s\"",
                     where, ct.token, SHOW_MAX, cte.token);
            rc = ERR_PARSE;
        } else {
            rc = walk_multipart(cx, &ct, body, len, depth, path, want);
        }
        mime_value_free(&cte);
    } else {
        rc = walk_leaf(cx, f, &ct, body, len, where, want);
    }
    mime_value_free(&ct);
    return rc;
}

/* ---- the top-level header fields -------------------------------------- */

/* Parses every header called name into list (appending). */
static int read_addresses(const struct fields *f, const char *name, struct mime_address_list *list,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < f->count; i++) {
        if (strcasecmp(f->items[i].name, name) != 0)
            continue;
        struct mime_address_list more;
        char why[200];
        int rc = mime_parse_addresses(f->items[i].value, &more, why, sizeof why);
        if (rc) {
            snprintf(err, errlen, "%s header: %s", name, why);
            mime_address_list_free(&more);
            return rc;
        }
        if (list->count + more.count > MIME_MAX_ADDRESSES) {
            snprintf(err, errlen, "%s header: more than %d addresses", name, MIME_MAX_ADDRESSES);
            mime_address_list_free(&more);
            return ERR_LIMIT;
        }
        if (more.count) {
            list->items = xrealloc(list->items, (list->count + more.count) * sizeof *list->items);
            memcpy(list->items + list->count, more.items, more.count * sizeof *more.items);
            list->count += more.count;
        }
        free(more.items);
    }
    return 0;
}

static char *message_id_of(const char *value)
{
    if (!value)
        return xstrdup("");
    const char *lt = strchr(value, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *s = lt && gt ? lt + 1 : value;
    size_t n = lt && gt ? (size_t)(gt - s) : strlen(value);
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            buf_append_char(&b, s[i]);
    return buf_steal(&b);
}

static int read_top_fields(struct mime_message *m, const struct fields *f, char *err, size_t errlen)
{
    size_t froms = 0;
    for (size_t i = 0; i < f->count; i++)
        froms += strcasecmp(f->items[i].name, "From") == 0;
    if (froms > 1) {
        snprintf(err, errlen, "the message has %zu From headers (one is allowed)", froms);
        return ERR_PARSE;
    }
    struct buf subject;
    buf_init(&subject, 0);
    mime_decode_header(fields_get(f, "Subject"), &subject);
    m->subject = buf_steal(&subject);
    m->message_id = message_id_of(fields_get(f, "Message-ID"));
    const char *date = fields_get(f, "Date");
    m->date = xstrdup(date ? date : "");
    m->date_unix = date ? mime_parse_date(date) : -1;
    int rc = read_addresses(f, "From", &m->from, err, errlen);
    if (!rc)
        rc = read_addresses(f, "To", &m->to, err, errlen);
    if (!rc)
        rc = read_addresses(f, "Cc", &m->cc, err, errlen);
    if (!rc)
        rc = read_addresses(f, "Reply-To", &m->reply_to, err, errlen);
    return rc;
}

/* ---- the entry points ------------------------------------------------- */

static bool all_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Sets the body text from what the walk found. */
static int finish_text(struct parse_ctx *cx)
{
    struct mime_message *m = cx->msg;
    int rc = 0;
    if (cx->have_html)
        m->html = xstrdup(buf_str(&cx->html));
    if (!all_blank(buf_str(&cx->text), cx->text.len)) {
        m->text_source = MIME_TEXT_PLAIN;
    } else if (cx->have_html) {
        buf_reset(&cx->text);
        rc = mime_html_to_text(buf_str(&cx->html), cx->html.len, &cx->text);
        if (rc)
            snprintf(cx->err, cx->errlen, "the body text is longer than %u bytes", MIME_MAX_TEXT);
        m->text_source = MIME_TEXT_HTML;
    } else {
        buf_reset(&cx->text);
    }
    m->text = buf_steal(&cx->text);
    return rc;
}

int mime_parse(const char *raw, size_t len, size_t max_len, struct mime_message *msg, char *err,
               size_t errlen)
{
    memset(msg, 0, sizeof *msg);
    msg->date_unix = -1;
    if (!raw) {
        snprintf(err, errlen, "no message");
        return ERR_INVALID;
    }
    if (!max_len)
        max_len = MIME_MAX_MESSAGE;
    if (len > max_len) {
        snprintf(err, errlen, "the message has %zu bytes, more than the limit of %zu", len,
                 max_len);
        return ERR_LIMIT;
    }
    if (all_blank(raw, len)) {
        snprintf(err, errlen, "the message is empty");
        return ERR_PARSE;
    }
    struct parse_ctx cx = {.msg = msg, .err = err, .errlen = errlen};
    buf_init(&cx.text, MIME_MAX_TEXT);
    buf_init(&cx.html, MIME_MAX_TEXT);
    struct fields f = {0};
    size_t body_at = 0;
    int rc = parse_fields(raw, len, true, "the message", &f, &body_at, err, errlen);
    if (!rc && f.count == 0) {
        snprintf(err, errlen, "the message has no header fields");
        rc = ERR_PARSE;
    }
    if (!rc)
        rc = read_top_fields(msg, &f, err, errlen);
    if (!rc)
        rc = walk(&cx, &f, raw + body_at, len - body_at, 0, "", "text/plain", WANT_ALL);
    if (!rc)
        rc = finish_text(&cx);
    msg->headers = f.items;
    msg->header_count = f.count;
    buf_free(&cx.text);
    buf_free(&cx.html);
    return rc;
}

void mime_message_free(struct mime_message *msg)
{
    struct fields f = {.items = msg->headers, .count = msg->header_count};
    fields_free(&f);
    free(msg->subject);
    mime_address_list_free(&msg->from);
    mime_address_list_free(&msg->to);
    mime_address_list_free(&msg->cc);
    mime_address_list_free(&msg->reply_to);
    free(msg->message_id);
    free(msg->date);
    free(msg->text);
    free(msg->html);
    for (size_t i = 0; i < msg->attachment_count; i++) {
        free(msg->attachments[i].content_type);
        free(msg->attachments[i].filename);
    }
    free(msg->attachments);
    memset(msg, 0, sizeof *msg);
    msg->date_unix = -1;
}

const char *mime_message_header(const struct mime_message *msg, const char *name)
{
    for (size_t i = 0; i < msg->header_count; i++)
        if (strcasecmp(msg->headers[i].name, name) == 0)
            return msg->headers[i].value;
    return NULL;
}
