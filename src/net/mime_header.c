/* mime_header — reading header values: RFC 2047 encoded words, address
 * lists, parameters (RFC 2045 + RFC 2231) and dates (RFC 5322).
 *
 * Owns nothing beyond what it returns. Each reader is a small hand-written
 * scanner over one unfolded header value. Encoded words that follow each
 * other are joined before their charset is converted, so a character split
 * across two words (common in the wild, though RFC 2047 forbids it) survives.
 * Where the RFCs and real mail disagree the scanners lean towards real mail
 * (encoded words inside quoted names, 8-bit names in Windows-1252, missing
 * time zones), but structure that cannot be read — an unterminated quote or
 * angle address — is an error, never a guess. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "net/mime.h"
#include "net/mime_internal.h"

#define EW_CHARSET_MAX 40 /* bytes of an encoded word's charset name */
#define PARAM_MAX      64 /* parameters kept per value */
#define ADDR_SHOW_MAX  60 /* bytes of a bad address quoted in errors */

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- encoded words ---------------------------------------------------- */

/* An encoded word's decoded bytes not yet converted (joined with the next
 * word when it has the same charset). */
struct ew_pending {
    struct buf bytes;
    char charset[EW_CHARSET_MAX + 1];
};

static void ew_flush(struct ew_pending *pend, struct buf *out)
{
    if (!pend->charset[0])
        return;
    char err[160];
    if (mime_charset_to_utf8(pend->charset, buf_str(&pend->bytes), pend->bytes.len, out, err,
                             sizeof err) != 0)
        mime_raw_to_utf8(buf_str(&pend->bytes), pend->bytes.len, out);
    buf_reset(&pend->bytes);
    pend->charset[0] = '\0';
}

/* If p starts an encoded word, decodes it into bytes/charset and returns its
 * length; otherwise 0. An unknown charset that is not UTF-8 is not decoded. */
static size_t ew_read(const char *p, struct buf *bytes, char *charset)
{
    if (p[0] != '=' || p[1] != '?')
        return 0;
    const char *cs = p + 2;
    const char *q = strchr(cs, '?');
    if (!q || q == cs || (size_t)(q - cs) > EW_CHARSET_MAX)
        return 0;
    for (const char *c = cs; c < q; c++)
        if ((unsigned char)*c <= ' ' || *c == '=' || (unsigned char)*c >= 0x7F)
            return 0;
    char enc = q[1];
    if (!(enc == 'B' || enc == 'b' || enc == 'Q' || enc == 'q') || q[2] != '?')
        return 0;
    const char *text = q + 3;
    const char *end = text;
    while (*end && *end != '?' && (unsigned char)*end > ' ' && (unsigned char)*end < 0x7F)
        end++;
    if (end[0] != '?' || end[1] != '=')
        return 0;
    size_t cs_len = (size_t)(q - cs);
    const char *star = memchr(cs, '*', cs_len); /* RFC 2231 language suffix */
    if (star)
        cs_len = (size_t)(star - cs);
    if (cs_len == 0)
        return 0;
    size_t mark = bytes->len;
    if (enc == 'B' || enc == 'b') {
        size_t bad;
        if (mime_base64_decode(text, (size_t)(end - text), bytes, &bad) != 0) {
            bytes->len = mark;
            if (bytes->data)
                bytes->data[mark] = '\0';
            return 0;
        }
    } else {
        mime_qp_decode(text, (size_t)(end - text), bytes, true);
    }
    memcpy(charset, cs, cs_len);
    charset[cs_len] = '\0';
    struct buf probe; /* an unknown charset whose bytes are not UTF-8 stays as written */
    buf_init(&probe, 0);
    char why[160];
    int rc = mime_charset_to_utf8(charset, bytes->data + mark, bytes->len - mark, &probe, why,
                                  sizeof why);
    buf_free(&probe);
    if (rc) {
        bytes->len = mark;
        bytes->data[mark] = '\0';
        return 0;
    }
    return (size_t)(end + 2 - p);
}

int mime_decode_header(const char *value, struct buf *out)
{
    struct buf res, literal, word;
    buf_init(&res, 0);
    buf_init(&literal, 0); /* raw bytes since the last encoded word */
    buf_init(&word, 0);
    struct ew_pending pend = {.charset = ""};
    buf_init(&pend.bytes, 0);
    const char *p = value ? value : "";
    bool after_word = false; /* nothing but blanks since the last encoded word */
    while (*p) {
        char charset[EW_CHARSET_MAX + 1];
        buf_reset(&word);
        size_t n = ew_read(p, &word, charset);
        if (n) {
            if (after_word) {
                buf_reset(&literal); /* blanks between two encoded words vanish */
                if (strcasecmp(pend.charset, charset) != 0)
                    ew_flush(&pend, &res);
            } else {
                mime_raw_to_utf8(buf_str(&literal), literal.len, &res);
                buf_reset(&literal);
            }
            snprintf(pend.charset, sizeof pend.charset, "%s", charset);
            buf_append(&pend.bytes, buf_str(&word), word.len);
            p += n;
            after_word = true;
            continue;
        }
        if (after_word && !is_wsp(*p)) {
            ew_flush(&pend, &res);
            after_word = false;
        }
        buf_append_char(&literal, *p++);
    }
    ew_flush(&pend, &res);
    mime_raw_to_utf8(buf_str(&literal), literal.len, &res);
    for (size_t i = 0; i < res.len; i++) /* no control characters in a header */
        if ((unsigned char)res.data[i] < 0x20 || res.data[i] == 0x7F)
            res.data[i] = ' ';
    int rc = buf_append(out, buf_str(&res), res.len);
    buf_free(&res);
    buf_free(&literal);
    buf_free(&word);
    buf_free(&pend.bytes);
    return rc;
}

/* ---- parameters ------------------------------------------------------- */

/* Skips blanks and (nested) comments. */
static const char *skip_cfws(const char *p)
{
    for (;;) {
        while (is_wsp(*p))
            p++;
        if (*p != '(')
            return p;
        int depth = 0;
        while (*p) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')' && --depth == 0) {
                p++;
                break;
            }
            p++;
        }
    }
}

/* One raw parameter as written, before RFC 2231 assembly. */
struct raw_param {
    char *base;    /* name without the '*' suffixes, lowercased */
    int section;   /* N of name*N, or -1 */
    bool extended; /* name* or name*N*: charset'lang'%XX */
    char *value;
};

/* Reads a quoted string or a token at p into out; returns the end. */
static const char *read_param_value(const char *p, struct buf *out)
{
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            buf_append_char(out, *p++);
        }
        return *p == '"' ? p + 1 : p;
    }
    const char *s = p;
    while (*p && *p != ';')
        p++;
    const char *e = p;
    while (e > s && is_wsp(e[-1]))
        e--;
    buf_append(out, s, (size_t)(e - s));
    return p;
}

/* Splits "name*N*" into raw. Returns false for an empty name. */
static bool split_param_name(const char *s, size_t len, struct raw_param *raw)
{
    char *name = xstrndup(s, len);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    raw->section = -1;
    raw->extended = false;
    char *star = strchr(name, '*');
    if (star) {
        *star = '\0';
        char *rest = star + 1;
        if (*rest >= '0' && *rest <= '9') {
            raw->section = (int)strtol(rest, &rest, 10);
            if (raw->section > 999)
                raw->section = 999;
        }
        raw->extended = *rest == '*' || (rest == star + 1 && *rest == '\0');
    }
    raw->base = name;
    if (!name[0]) {
        free(name);
        return false;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in an RFC 2231 extended value into out. */
static void percent_decode(const char *s, struct buf *out)
{
    for (; *s; s++) {
        int hi = s[0] == '%' && s[1] ? hex_digit(s[1]) : -1;
        int lo = hi >= 0 && s[2] ? hex_digit(s[2]) : -1;
        if (hi >= 0 && lo >= 0) {
            buf_append_char(out, (char)(hi * 16 + lo));
            s += 2;
        } else {
            buf_append_char(out, *s);
        }
    }
}

/* Joins the raw parameters named base (sections in order) into a value. */
static char *assemble_param(struct raw_param *raws, size_t n, const char *base)
{
    struct buf bytes, out;
    buf_init(&bytes, 0);
    buf_init(&out, 0);
    char charset[EW_CHARSET_MAX + 1] = "";
    bool any_extended = false;
    for (int section = -1; section < 1000; section++) {
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            if (raws[i].section != section || strcmp(raws[i].base, base) != 0)
                continue;
            const char *v = raws[i].value;
            if (raws[i].extended) {
                if (!any_extended) { /* the first extended piece: charset'lang'… */
                    const char *q1 = strchr(v, '\'');
                    const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
                    if (q2) {
                        size_t cl = (size_t)(q1 - v);
                        if (cl > EW_CHARSET_MAX)
                            cl = EW_CHARSET_MAX;
                        memcpy(charset, v, cl);
                        charset[cl] = '\0';
                        v = q2 + 1;
                    }
                }
                any_extended = true;
                percent_decode(v, &bytes);
            } else {
                buf_append_str(&bytes, v);
            }
            found = true;
            break;
        }
        if (!found && section >= 0)
            break;
        if (section == -1 && found)
            break; /* name or name*: not a continuation */
    }
    char err[160];
    if (any_extended) {
        if (mime_charset_to_utf8(charset, buf_str(&bytes), bytes.len, &out, err, sizeof err))
            mime_raw_to_utf8(buf_str(&bytes), bytes.len, &out);
    } else {
        mime_decode_header(buf_str(&bytes), &out);
    }
    buf_free(&bytes);
    return buf_steal(&out);
}

void mime_value_parse(const char *value, struct mime_value *v)
{
    memset(v, 0, sizeof *v);
    const char *p = skip_cfws(value ? value : "");
    size_t tl = 0;
    bool too_long = false;
    while (*p && *p != ';') {
        if (*p == '(') {
            p = skip_cfws(p);
            continue;
        }
        if (!is_wsp(*p)) {
            if (tl + 1 < sizeof v->token)
                v->token[tl++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
            else
                too_long = true;
        }
        p++;
    }
    v->token[too_long ? 0 : tl] = '\0';
    struct raw_param raws[PARAM_MAX];
    size_t n = 0;
    struct buf val;
    buf_init(&val, 0);
    while (*p == ';' && n < PARAM_MAX) {
        p = skip_cfws(p + 1);
        const char *name = p;
        while (*p && *p != '=' && *p != ';' && !is_wsp(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        p = skip_cfws(p);
        if (*p != '=') {
            while (*p && *p != ';')
                p++;
            continue;
        }
        p = skip_cfws(p + 1);
        buf_reset(&val);
        p = read_param_value(p, &val);
        while (*p && *p != ';')
            p++;
        struct raw_param raw;
        if (!split_param_name(name, name_len, &raw))
            continue;
        raw.value = xstrdup(buf_str(&val));
        raws[n++] = raw;
    }
    buf_free(&val);
    v->params = n ? xcalloc(n, sizeof *v->params) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (mime_value_param(v, raws[i].base))
            continue;
        v->params[v->count].name = xstrdup(raws[i].base);
        v->params[v->count].value = assemble_param(raws, n, raws[i].base);
        v->count++;
    }
    for (size_t i = 0; i < n; i++) {
        free(raws[i].base);
        free(raws[i].value);
    }
}

const char *mime_value_param(const struct mime_value *v, const char *name)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->params[i].name, name) == 0)
            return v->params[i].value;
    return NULL;
}

void mime_value_free(struct mime_value *v)
{
    for (size_t i = 0; i < v->count; i++) {
        free(v->params[i].name);
        free(v->params[i].value);
    }
    free(v->params);
    memset(v, 0, sizeof *v);
}

/* ---- addresses -------------------------------------------------------- */

/* Appends the phrase s[0..len) as text: quotes removed (escapes kept as
 * their character), comments dropped, blanks collapsed; then decodes
 * encoded words. comment_out, when not NULL, receives the first comment. */
static void phrase_text(const char *s, size_t len, struct buf *out, struct buf *comment_out)
{
    struct buf raw;
    buf_init(&raw, 0);
    bool quoted = false, blank = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (c == '\\' && i + 1 < len) {
            c = s[++i];
        } else if (!quoted && c == '(') {
            int depth = 0;
            size_t start = i + 1;
            for (; i < len; i++) {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                else if (s[i] == '(')
                    depth++;
                else if (s[i] == ')' && --depth == 0)
                    break;
            }
            if (comment_out && comment_out->len == 0 && i > start)
                phrase_text(s + start, i - start, comment_out, NULL);
            blank = true;
            continue;
        } else if (is_wsp(c)) {
            blank = true;
            continue;
        }
        if (blank && raw.len)
            buf_append_char(&raw, ' ');
        blank = false;
        buf_append_char(&raw, c);
    }
    mime_decode_header(buf_str(&raw), out);
    buf_free(&raw);
}

/* Appends the address s[0..len) with comments and blanks removed (blanks
 * inside a quoted local part are kept). */
static void addr_spec_text(const char *s, size_t len, struct buf *out)
{
    bool quoted = false;
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len && (quoted || depth)) {
            if (quoted) {
                buf_append(out, s + i, 2);
            }
            i++;
            continue;
        }
        if (depth) {
            if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && c == '(') {
            depth = 1;
            continue;
        } else if (!quoted && is_wsp(c))
            continue;
        buf_append_char(out, c);
    }
}

static int add_address(struct mime_address_list *list, size_t *cap, struct buf *name,
                       struct buf *addr)
{
    if (list->count == MIME_MAX_ADDRESSES)
        return ERR_LIMIT;
    if (list->count == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        list->items = xrealloc(list->items, *cap * sizeof *list->items);
    }
    list->items[list->count].name = buf_steal(name);
    list->items[list->count].addr = buf_steal(addr);
    list->count++;
    return 0;
}

/* Parses one item (a mailbox) s[0..len) and adds it unless empty. */
static int parse_mailbox(const char *s, size_t len, struct mime_address_list *list, size_t *cap,
                         char *err, size_t errlen)
{
    struct buf name, addr, comment;
    buf_init(&name, 0);
    buf_init(&addr, 0);
    buf_init(&comment, 0);
    int rc = 0;
    /* The top-level '<' (outside quotes and comments). */
    size_t lt = len, gt = len;
    bool quoted = false;
    int depth = 0;
    for (size_t i = 0; i < len && lt == len; i++) {
        if (s[i] == '\\')
            i++;
        else if (depth)
            depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == '(')
            depth = 1;
        else if (!quoted && s[i] == '<')
            lt = i;
    }
    if (lt < len) {
        gt = lt + 1;
        while (gt < len && s[gt] != '>')
            gt++;
        const char *a = s + lt + 1;
        size_t alen = gt - lt - 1;
        if (alen && a[0] == '@') { /* obsolete route "@a,@b:" */
            const char *colon = memchr(a, ':', alen);
            if (colon) {
                alen -= (size_t)(colon + 1 - a);
                a = colon + 1;
            }
        }
        addr_spec_text(a, alen, &addr);
        phrase_text(s, lt, &name, &comment);
    } else {
        addr_spec_text(s, len, &addr);
        struct buf words;
        buf_init(&words, 0);
        phrase_text(s, len, &words, &comment);
        /* Words separated by blanks with no '@' anywhere: a name, no address. */
        bool name_only = !memchr(s, '@', len) && comment.len == 0 && strchr(buf_str(&words), ' ');
        if (name_only)
            snprintf(err, errlen, "\"%.*s\" is a name without an address", ADDR_SHOW_MAX,
                     buf_str(&words));
        buf_free(&words);
        if (name_only) {
            rc = ERR_PARSE;
            goto out;
        }
    }
    if (name.len == 0 && comment.len)
        buf_append(&name, comment.data, comment.len);
    if (addr.len == 0)
        goto out; /* "<>" or an empty item */
    rc = add_address(list, cap, &name, &addr);
    if (rc)
        snprintf(err, errlen, "more than %d addresses", MIME_MAX_ADDRESSES);
out:
    buf_free(&name);
    buf_free(&addr);
    buf_free(&comment);
    return rc;
}

int mime_parse_addresses(const char *value, struct mime_address_list *list, char *err,
                         size_t errlen)
{
    memset(list, 0, sizeof *list);
    const char *s = value ? value : "";
    size_t cap = 0, item = 0, i = 0;
    bool quoted = false, angle = false;
    int depth = 0;
    for (;; i++) {
        char c = s[i];
        if (c == '\0') {
            const char *what = quoted  ? "quoted string"
                               : depth ? "comment"
                               : angle ? "angle address"
                                       : NULL;
            if (what) {
                snprintf(err, errlen, "unterminated %s", what);
                return ERR_PARSE;
            }
        }
        if (c && c == '\\' && s[i + 1] && (quoted || depth)) {
            i++;
            continue;
        }
        if (c && depth) {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            continue;
        }
        if (c && quoted) {
            quoted = c != '"';
            continue;
        }
        if (c == '"')
            quoted = true;
        else if (c == '(')
            depth = 1;
        else if (c == '<' && !angle)
            angle = true;
        else if (c == '>' && angle)
            angle = false;
        else if (c == ':' && !angle)
            item = i + 1; /* "group name:" — the name is not an address */
        else if ((c == ',' || c == ';' || c == '\0') && !angle) {
            int rc = parse_mailbox(s + item, i - item, list, &cap, err, errlen);
            if (rc)
                return rc;
            item = i + 1;
            if (c == '\0')
                return 0;
        }
    }
}

void mime_address_list_free(struct mime_address_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].addr);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* ---- dates ------------------------------------------------------------ */

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_caps[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads up to max digits at *p; -1 when there are none. */
static int read_number(const char **p, int max)
{
    int n = 0, digits = 0;
    while (digits < max && **p >= '0' && **p <= '9') {
        n = n * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    return digits ? n : -1;
}

/* The zone at p in minutes east of UTC; 0 for unknown zones (RFC 5322 4.3). */
static int read_zone(const char *p)
{
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        const char *s = p;
        int hhmm = read_number(&p, 4);
        if (hhmm < 0 || p - s != 4 || hhmm % 100 > 59)
            return 0;
        return sign * ((hhmm / 100) * 60 + hhmm % 100);
    }
    static const struct {
        const char *name;
        int minutes;
    } zones[] = {{"EDT", -240}, {"EST", -300}, {"CDT", -300}, {"CST", -360},
                 {"MDT", -360}, {"MST", -420}, {"PDT", -420}, {"PST", -480}};
    size_t len = 0;
    while ((p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= 'a' && p[len] <= 'z'))
        len++;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
        if (mime_equal_ci(p, len, zones[i].name))
            return zones[i].minutes;
    return 0;
}

int64_t mime_parse_date(const char *value)
{
    if (!value)
        return -1;
    struct buf clean; /* without comments */
    buf_init(&clean, 0);
    phrase_text(value, strlen(value), &clean, NULL);
    const char *p = buf_str(&clean);
    int64_t result = -1;
    while (*p == ' ')
        p++;
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) { /* day name */
        while (*p && *p != ',' && *p != ' ')
            p++;
        if (*p == ',')
            p++;
        while (*p == ' ')
            p++;
    }
    int day = read_number(&p, 2);
    while (*p == ' ' || *p == '-')
        p++;
    int month = -1;
    for (int m = 0; m < 12; m++)
        if (mime_prefix_ci(p, strlen(p), month_names[m]))
            month = m + 1;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    while (*p == ' ' || *p == '-')
        p++;
    const char *ys = p;
    int year = read_number(&p, 4);
    size_t ydigits = (size_t)(p - ys);
    while (*p == ' ')
        p++;
    int hour = read_number(&p, 2);
    int minute = *p == ':' ? (p++, read_number(&p, 2)) : -1;
    int second = 0;
    if (*p == ':') {
        p++;
        second = read_number(&p, 2);
    }
    while (*p == ' ')
        p++;
    if (day < 1 || day > 31 || month < 0 || year < 0 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 60)
        goto out;
    if (ydigits == 2) /* obsolete two-digit years */
        year += year < 50 ? 2000 : 1900;
    else if (ydigits == 3)
        year += 1900;
    result = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
             (int64_t)read_zone(p) * 60;
out:
    buf_free(&clean);
    return result;
}

void mime_format_date(int64_t unix_seconds, char *out, size_t outlen)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", day_names[tm.tm_wday % 7],
             tm.tm_mday, month_caps[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}
