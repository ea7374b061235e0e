/* mime_html — HTML mail rendered as plain text, for messages that carry no
 * text/plain part.
 *
 * Owns nothing. Not an HTML parser: a single pass that drops markup and
 * keeps what a reader sees. Tags are recognised only when '<' is followed
 * by a letter, '/', '!' or '?' (so "a < b" stays text); the content of
 * script, style, head, title and template is skipped; block elements become
 * line breaks (paragraph-like ones a blank line), list items "- ", table
 * cells a space, links "text (url)" unless the text already is the url.
 * White space collapses as a browser would, except inside <pre>. Named
 * entities come from a short table of the ones mail uses; numeric ones are
 * decoded with HTML5's Windows-1252 reading of 128–159. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "net/mime.h"
#include "net/mime_internal.h"

#define TAG_NAME_MAX 16
#define HREF_MAX     2048
#define ENTITY_MAX   10 /* longest name in the table, plus room */

struct render {
    struct buf text;
    int newlines;      /* line breaks owed before the next text (0–2) */
    bool space;        /* a blank owed before the next text */
    bool pre;          /* inside <pre>: white space is kept */
    char *href;        /* the open link's target, new, or NULL */
    size_t link_start; /* text.len when the link opened */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool at_line_start(const struct render *r)
{
    return r->text.len == 0 || r->text.data[r->text.len - 1] == '\n';
}

/* Removes blanks at the end of the text. */
static void trim_end(struct render *r)
{
    while (r->text.len && (r->text.data[r->text.len - 1] == ' '))
        r->text.len--;
    if (r->text.data)
        r->text.data[r->text.len] = '\0';
}

/* Emits one byte of visible text, settling owed breaks and blanks first. */
static void emit(struct render *r, char c)
{
    if (!r->pre && is_space(c)) {
        r->space = true;
        return;
    }
    if (r->newlines && r->text.len) {
        trim_end(r);
        for (int i = 0; i < r->newlines; i++)
            buf_append_char(&r->text, '\n');
    }
    if (r->space && !r->newlines && !at_line_start(r) && !r->pre)
        buf_append_char(&r->text, ' ');
    r->newlines = 0;
    r->space = false;
    buf_append_char(&r->text, c);
}

static void emit_str(struct render *r, const char *s)
{
    while (*s)
        emit(r, *s++);
}

static void emit_codepoint(struct render *r, uint32_t cp)
{
    struct buf one;
    buf_init(&one, 0);
    mime_utf8_put(&one, cp);
    for (size_t i = 0; i < one.len; i++)
        emit(r, one.data[i]);
    buf_free(&one);
}

static void owe_break(struct render *r, int n)
{
    if (r->text.len == 0)
        return;
    if (r->newlines < n)
        r->newlines = n;
    r->space = false;
}

/* ---- entities --------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", ' '},     {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
    {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"bull", 0x2022},  {"middot", 0xB7},
    {"euro", 0x20AC},  {"pound", 0xA3},   {"yen", 0xA5},     {"cent", 0xA2},    {"deg", 0xB0},
    {"times", 0xD7},   {"divide", 0xF7},  {"sect", 0xA7},    {"para", 0xB6},    {"plusmn", 0xB1},
    {"frac12", 0xBD},  {"frac14", 0xBC},  {"frac34", 0xBE},  {"iexcl", 0xA1},   {"iquest", 0xBF},
    {"szlig", 0xDF},   {"eacute", 0xE9},  {"Eacute", 0xC9},  {"egrave", 0xE8},  {"ecirc", 0xEA},
    {"aacute", 0xE1},  {"agrave", 0xE0},  {"acirc", 0xE2},   {"auml", 0xE4},    {"Auml", 0xC4},
    {"ouml", 0xF6},    {"Ouml", 0xD6},    {"uuml", 0xFC},    {"Uuml", 0xDC},    {"iacute", 0xED},
    {"oacute", 0xF3},  {"uacute", 0xFA},  {"ntilde", 0xF1},  {"Ntilde", 0xD1},  {"ccedil", 0xE7},
    {"Ccedil", 0xC7},  {"shy", 0},        {"zwnj", 0},       {"zwj", 0},        {"ensp", ' '},
    {"emsp", ' '},     {"thinsp", ' '},
};

/* Decodes the entity at s[0] == '&' into *cp (0: nothing visible); returns
 * its length, or 0 when it is not an entity. */
static size_t entity_at(const char *s, size_t len, uint32_t *cp)
{
    if (len >= 3 && s[1] == '#') {
        bool hex = s[2] == 'x' || s[2] == 'X';
        size_t i = hex ? 3 : 2, start = i;
        uint32_t v = 0;
        for (; i < len && i - start < 8; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'          ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (d < 0)
                break;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
        }
        if (i == start)
            return 0;
        if (v >= 0x80 && v <= 0x9F)
            v = mime_cp1252((unsigned char)v);
        *cp = (v == 0 || v > 0x10FFFF) ? 0xFFFD : v;
        return i < len && s[i] == ';' ? i + 1 : i;
    }
    size_t n = 1;
    while (n < len && n <= ENTITY_MAX && (is_alpha(s[n]) || (s[n] >= '0' && s[n] <= '9')))
        n++;
    bool semi = n < len && s[n] == ';';
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        if (strlen(entities[i].name) != n - 1 || memcmp(entities[i].name, s + 1, n - 1) != 0)
            continue;
        if (!semi && i >= 5) /* only the five basic ones may lack ';' */
            return 0;
        *cp = entities[i].cp;
        return semi ? n + 1 : n;
    }
    return 0;
}

/* Decodes entities in s[0..len) into out (for attribute values). */
static void decode_entities(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = s[i] == '&' ? entity_at(s + i, len - i, &cp) : 0;
        if (n) {
            if (cp)
                mime_utf8_put(out, cp);
            i += n;
        } else {
            buf_append_char(out, s[i++]);
        }
    }
}

/* ---- tags ------------------------------------------------------------- */

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return true;
    return false;
}

static const char *const raw_text_tags[] = {"script", "style", "head", "title", "template", NULL};
static const char *const paragraph_tags[] = {"p",  "h1", "h2",    "h3",         "h4",
                                             "h5", "h6", "table", "blockquote", "ul",
                                             "ol", "dl", "hr",    "pre",        NULL};
static const char *const line_tags[] = {
    "div",  "tr",   "li",     "dt",      "dd",     "section", "article", "header", "footer", "nav",
    "main", "form", "center", "address", "figure", "caption", "tbody",   "thead",  "tfoot",  NULL};

/* The value of attribute attr in the tag's attribute text, new, or NULL. */
static char *tag_attribute(const char *s, size_t len, const char *attr)
{
    size_t alen = strlen(attr);
    for (size_t i = 0; i < len; i++) {
        if (!mime_prefix_ci(s + i, len - i, attr) || (i && !is_space(s[i - 1])))
            continue;
        size_t j = i + alen;
        while (j < len && is_space(s[j]))
            j++;
        if (j >= len || s[j] != '=')
            continue;
        j++;
        while (j < len && is_space(s[j]))
            j++;
        char quote = j < len && (s[j] == '"' || s[j] == '\'') ? s[j++] : 0;
        size_t start = j;
        while (j < len && (quote ? s[j] != quote : !is_space(s[j])))
            j++;
        if (j - start > HREF_MAX)
            return NULL;
        struct buf v;
        buf_init(&v, 0);
        decode_entities(s + start, j - start, &v);
        return buf_steal(&v);
    }
    return NULL;
}

/* Closes an open link: appends " (url)" unless the text already shows it. */
static void close_link(struct render *r)
{
    if (!r->href)
        return;
    const char *shown = r->href;
    if (strncmp(shown, "mailto:", 7) == 0)
        shown += 7;
    const char *text = buf_str(&r->text) + r->link_start;
    if (*shown && !strstr(text, shown)) {
        emit(r, ' ');
        emit(r, '(');
        emit_str(r, shown);
        emit(r, ')');
    }
    free(r->href);
    r->href = NULL;
}

static void open_link(struct render *r, const char *attrs, size_t len)
{
    close_link(r);
    char *href = tag_attribute(attrs, len, "href");
    if (href && (strncmp(href, "http://", 7) == 0 || strncmp(href, "https://", 8) == 0 ||
                 strncmp(href, "mailto:", 7) == 0)) {
        r->href = href;
        r->link_start = r->text.len;
    } else {
        free(href);
    }
}

/* Acts on one tag; returns the index just past what it consumed. */
static size_t handle_tag(struct render *r, const char *s, size_t len, size_t i)
{
    i++; /* '<' */
    if (mime_prefix_ci(s + i, len - i, "!--")) {
        const char *end = NULL;
        for (size_t k = i + 3; k + 2 < len && !end; k++)
            if (s[k] == '-' && s[k + 1] == '-' && s[k + 2] == '>')
                end = s + k + 3;
        return end ? (size_t)(end - s) : len;
    }
    bool closing = s[i] == '/';
    if (closing)
        i++;
    char name[TAG_NAME_MAX + 1];
    size_t n = 0;
    while (i < len && (is_alpha(s[i]) || (n && s[i] >= '0' && s[i] <= '9'))) {
        if (n < TAG_NAME_MAX)
            name[n++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        i++;
    }
    name[n] = '\0';
    size_t attrs = i;
    char quote = 0;
    while (i < len && (quote || s[i] != '>')) {
        if (quote && s[i] == quote)
            quote = 0;
        else if (!quote && (s[i] == '"' || s[i] == '\'') && i > attrs && s[i - 1] == '=')
            quote = s[i];
        i++;
    }
    size_t attrs_len = i - attrs;
    size_t end = i < len ? i + 1 : len;
    if (!closing && name_in(name, raw_text_tags) && !(attrs_len && s[i - 1] == '/')) {
        /* Skip to the matching end tag. */
        for (size_t k = end; k + 1 < len; k++) {
            if (s[k] == '<' && s[k + 1] == '/' && mime_prefix_ci(s + k + 2, len - k - 2, name)) {
                const char *gt = memchr(s + k, '>', len - k);
                return gt ? (size_t)(gt - s) + 1 : len;
            }
        }
        return len;
    }
    if (strcmp(name, "br") == 0) {
        if (r->text.len && r->newlines < 2)
            r->newlines++;
        r->space = false;
    } else if (strcmp(name, "li") == 0 && !closing) {
        owe_break(r, 1);
        emit_str(r, "- ");
    } else if (name_in(name, paragraph_tags)) {
        owe_break(r, 2);
        if (strcmp(name, "pre") == 0)
            r->pre = !closing;
    } else if (name_in(name, line_tags)) {
        owe_break(r, 1);
    } else if ((strcmp(name, "td") == 0 || strcmp(name, "th") == 0) && !closing) {
        r->space = true;
    } else if (strcmp(name, "a") == 0) {
        if (closing)
            close_link(r);
        else
            open_link(r, s + attrs, attrs_len);
    }
    return end;
}

int mime_html_to_text(const char *html, size_t len, struct buf *out)
{
    struct render r = {0};
    buf_init(&r.text, 0);
    size_t i = 0;
    while (i < len) {
        char c = html[i];
        if (c == '<' && i + 1 < len &&
            (is_alpha(html[i + 1]) || html[i + 1] == '/' || html[i + 1] == '!' ||
             html[i + 1] == '?')) {
            i = handle_tag(&r, html, len, i);
            continue;
        }
        if (c == '&') {
            uint32_t cp;
            size_t n = entity_at(html + i, len - i, &cp);
            if (n) {
                if (cp)
                    emit_codepoint(&r, cp);
                i += n;
                continue;
            }
        }
        if (c == '\r' && r.pre) {
            i++;
            continue;
        }
        emit(&r, c);
        i++;
    }
    close_link(&r);
    trim_end(&r);
    while (r.text.len && r.text.data[r.text.len - 1] == '\n') {
        r.text.len--;
        r.text.data[r.text.len] = '\0';
        trim_end(&r);
    }
    int rc = buf_append(out, buf_str(&r.text), r.text.len);
    buf_free(&r.text);
    free(r.href);
    return rc;
}
