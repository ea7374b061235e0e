/* state_normalize — the validators/normalisers behind state.h's field types.
 *
 * Owns nothing beyond a call. state_normalize() is the one entry point the
 * generic code uses: it refuses what no field accepts (invalid UTF-8,
 * control characters, too long, empty), cleans whitespace (one line for
 * every type but STATE_TEXT), then runs the field's own normaliser or its
 * type's, and finally checks the normalised length. The type normalisers
 * reuse the local model's recognisers (llm/local/entities.h) for phones,
 * emails, states and enumeration mentions, insisting that the recognised
 * value covers the whole text: a field value is one value, not a sentence
 * that happens to contain one. Every normaliser is idempotent. */
#include "harde/state.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#define SNIPPET_MAX          40 /* bytes of a rep's value quoted back in a message */
#define STR_(x)              #x
#define STR(x)               STR_(x)
#define STATE_VALUE_MAX_TEXT STR(STATE_VALUE_MAX)

/* The start of text, cut at a character boundary with "…" when longer. */
const char *state_snippet(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (p[n] && n < SNIPPET_MAX) {
        size_t k = utf8_sequence(p + n);
        if (k == 0 || n + k > SNIPPET_MAX)
            break;
        n += k;
    }
    snprintf(out, outlen, "%.*s%s", (int)n, text, p[n] ? "\xe2\x80\xa6" : "");
    return out;
}

#define SNIP(text) state_snippet((text), snip, sizeof snip)

/* ---- cleaning ----------------------------------------------------------------- */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* 0, or a static reason why text is no value at all. */
static const char *refuse_bytes(const char *text, bool multiline)
{
    if (strlen(text) > STATE_VALUE_MAX)
        return "is too long (at most " STATE_VALUE_MAX_TEXT " bytes)";
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        size_t k = utf8_sequence(p);
        if (k == 0)
            return "is not valid UTF-8 text";
        if (*p == 0x7f || (*p < 0x20 && !isspace(*p)) || (!multiline && (*p == '\v' || *p == '\f')))
            return "contains control characters";
        p += k;
    }
    return NULL;
}

/* A new copy of text, trimmed; one-line: whitespace runs become one space;
 * multi-line: CRLF and CR become LF. */
static char *clean(const char *text, bool multiline)
{
    size_t len = strlen(text), n = 0;
    char *out = xmalloc(len + 1);
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (multiline) {
            if (c == '\r') {
                if (text[i + 1] == '\n')
                    continue;
                c = '\n';
            }
            out[n++] = c;
        } else if (isspace((unsigned char)c)) {
            space = n > 0;
        } else {
            if (space)
                out[n++] = ' ';
            space = false;
            out[n++] = c;
        }
    }
    while (n > 0 && isspace((unsigned char)out[n - 1]))
        n--;
    out[n] = '\0';
    size_t lead = 0;
    while (isspace((unsigned char)out[lead]))
        lead++;
    memmove(out, out + lead, n - lead + 1);
    return out;
}

static size_t default_max_len(const struct state_field *f)
{
    if (f->max_len)
        return f->max_len;
    return f->type == STATE_TEXT ? STATE_VALUE_MAX : STATE_STRING_MAX;
}

static state_normalize_fn *type_normalizer(enum state_type type);

char *state_normalize(const struct state_field *field, const char *text, char *err, size_t errlen)
{
    bool multiline = field->type == STATE_TEXT;
    if (!text) {
        snprintf(err, errlen, "no value given");
        return NULL;
    }
    const char *why = refuse_bytes(text, multiline);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    char *cleaned = clean(text, multiline), *out = NULL;
    if (!*cleaned) {
        snprintf(err, errlen, "no value given");
        goto out;
    }
    state_normalize_fn *fn = field->normalize ? field->normalize : type_normalizer(field->type);
    out = fn ? fn(field, cleaned, err, errlen) : xstrdup(cleaned);
    if (out && field->type != STATE_INTEGER && utf8_chars(out) > default_max_len(field)) {
        snprintf(err, errlen, "is too long (at most %zu characters)", default_max_len(field));
        free(out);
        out = NULL;
    }
out:
    free(cleaned);
    return out;
}

/* ---- the type normalisers ------------------------------------------------------- */

/* True when the list holds exactly one match and it spans all of text. */
static bool one_whole_match(const struct entity_list *l, int found, const char *text)
{
    return found == 1 && l->len == 1 && l->items[0].start == 0 && l->items[0].end == strlen(text);
}

char *state_normalize_phone(const struct state_field *field, const char *text, char *err,
                            size_t errlen)
{
    char snip[SNIPPET_MAX + 8];
    struct entity_list l;
    entity_list_init(&l);
    int found = entity_find_phones(text, &l);
    char *out = one_whole_match(&l, found, text) ? xstrdup(l.items[0].norm) : NULL;
    entity_list_free(&l);
    if (!out)
        snprintf(err, errlen, "%s is not a US phone number (10 digits)", SNIP(text));
    return out;
}

/* Local part rules the recogniser does not check: 1–64 bytes, no "..". */
static bool email_local_ok(const char *text)
{
    const char *at = strchr(text, '@');
    if (!at || at == text || at - text > 64)
        return false;
    for (const char *p = text + 1; p < at; p++)
        if (p[0] == '.' && p[-1] == '.')
            return false;
    return true;
}

char *state_normalize_email(const struct state_field *field, const char *text, char *err,
                            size_t errlen)
{
    char snip[SNIPPET_MAX + 8];
    struct entity_list l;
    entity_list_init(&l);
    int found = entity_find_emails(text, &l);
    bool ok = one_whole_match(&l, found, text) && strlen(text) <= 254 && email_local_ok(text);
    entity_list_free(&l);
    if (!ok) {
        snprintf(err, errlen, "%s is not an email address (like name@example.com)", SNIP(text));
        return NULL;
    }
    char *out = xstrdup(text);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

char *state_normalize_us_state(const struct state_field *field, const char *text, char *err,
                               size_t errlen)
{
    char snip[SNIPPET_MAX + 8];
    const char *code = entity_us_state(text);
    if (!code) {
        snprintf(err, errlen, "%s is not a US state (two letters like OH, or the name)",
                 SNIP(text));
        return NULL;
    }
    return xstrdup(code);
}

char *state_normalize_zip(const struct state_field *field, const char *text, char *err,
                          size_t errlen)
{
    char snip[SNIPPET_MAX + 8], digits[10];
    size_t n = 0, seps = 0, sep_at = 0;
    bool ok = true;
    for (const char *p = text; *p && ok; p++) {
        if (isdigit((unsigned char)*p) && n < 9)
            digits[n++] = *p;
        else if ((*p == '-' || *p == ' ') && seps == 0)
            seps++, sep_at = n;
        else
            ok = false;
    }
    ok = ok && (n == 5 || n == 9) && (seps == 0 || (n == 9 && sep_at == 5));
    if (!ok) {
        snprintf(err, errlen, "%s is not a ZIP code (5 digits, or 5+4 like 43215-1234)",
                 SNIP(text));
        return NULL;
    }
    return n == 5 ? xstrndup(digits, 5) : xasprintf("%.5s-%.4s", digits, digits + 5);
}

void state_title_case(char *s)
{
    bool upper = false, lower = false;
    for (char *p = s; *p; p++) {
        upper |= isupper((unsigned char)*p) != 0;
        lower |= islower((unsigned char)*p) != 0;
    }
    if (upper && lower)
        return;
    size_t word = 0; /* characters since the word started */
    for (char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '-' || c == '.' || c == '/') {
            word = 0;
            continue;
        }
        if (c == '\'' && word == 1) { /* O'Brien, D'Angelo */
            word = 0;
            continue;
        }
        if (isalpha(c))
            *p = (char)(word == 0 ? toupper(c) : tolower(c));
        word++;
    }
}

char *state_normalize_name(const struct state_field *field, const char *text, char *err,
                           size_t errlen)
{
    char snip[SNIPPET_MAX + 8];
    bool letter = false, ok = true;
    for (const unsigned char *p = (const unsigned char *)text; *p && ok; p++) {
        letter |= isalpha(*p) || *p >= 0x80;
        ok = isalpha(*p) || *p >= 0x80 || strchr(" -'.", *p);
    }
    if (!ok || !letter) {
        snprintf(err, errlen, "%s is not a name (letters, spaces, hyphens and apostrophes)",
                 SNIP(text));
        return NULL;
    }
    char *out = xstrdup(text);
    state_title_case(out);
    return out;
}

/* ---- enumerations ----------------------------------------------------------------- */

/* s lower-cased without spaces, hyphens and underscores ("Follow-up" → "followup"). */
static void fold(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *s && n + 1 < outlen; s++)
        if (!strchr(" -_", *s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

/* Folded words equal, allowing a plural on either side. */
static bool same_word(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb)
        return strcmp(a, b) == 0;
    if (la == lb + 1)
        return a[lb] == 's' && strncmp(a, b, lb) == 0;
    if (lb == la + 1)
        return b[la] == 's' && strncmp(a, b, la) == 0;
    return false;
}

static bool choice_named(const struct entity_choice *c, const char *folded)
{
    char f[STATE_STRING_MAX + 1];
    fold(c->value, f, sizeof f);
    if (same_word(f, folded))
        return true;
    for (size_t k = 0; k < c->n_aliases; k++) {
        fold(c->aliases[k], f, sizeof f);
        if (same_word(f, folded))
            return true;
    }
    return false;
}

/* The one choice mentioned (not negated) in a longer text, or -1. */
static long mentioned_choice(const struct state_field *field, const char *text)
{
    struct entity_list l;
    long pick = -1;
    entity_list_init(&l);
    int found = entity_find_choices(text, field->choices, field->n_choices, &l);
    for (size_t i = 0; found > 0 && i < l.len; i++) {
        long v = (long)l.items[i].value;
        if (l.items[i].negated)
            continue;
        if (pick >= 0 && pick != v) {
            pick = -1;
            break;
        }
        pick = v;
    }
    entity_list_free(&l);
    return pick;
}

char *state_normalize_enum(const struct state_field *field, const char *text, char *err,
                           size_t errlen)
{
    char folded[STATE_STRING_MAX + 1], snip[SNIPPET_MAX + 8];
    fold(text, folded, sizeof folded);
    for (size_t i = 0; i < field->n_choices; i++)
        if (choice_named(&field->choices[i], folded))
            return xstrdup(field->choices[i].value);
    long pick = mentioned_choice(field, text);
    if (pick >= 0 && (size_t)pick < field->n_choices)
        return xstrdup(field->choices[pick].value);
    struct buf list;
    buf_init(&list, 0);
    for (size_t i = 0; i < field->n_choices; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", field->choices[i].value);
    snprintf(err, errlen, "%s is not one of %s", SNIP(text), buf_str(&list));
    buf_free(&list);
    return NULL;
}

/* ---- the rest ------------------------------------------------------------------- */

static char *normalize_integer(const struct state_field *field, const char *text, char *err,
                               size_t errlen)
{
    char snip[SNIPPET_MAX + 8], *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || isspace((unsigned char)*text)) {
        snprintf(err, errlen, "%s is not a whole number", SNIP(text));
        return NULL;
    }
    return xasprintf("%ld", v);
}

static state_normalize_fn *type_normalizer(enum state_type type)
{
    switch (type) {
    case STATE_NAME:
        return state_normalize_name;
    case STATE_ENUM:
        return state_normalize_enum;
    case STATE_PHONE:
        return state_normalize_phone;
    case STATE_EMAIL:
        return state_normalize_email;
    case STATE_US_STATE:
        return state_normalize_us_state;
    case STATE_ZIP:
        return state_normalize_zip;
    case STATE_INTEGER:
        return normalize_integer;
    default:
        return NULL; /* STRING, TEXT, list items: the cleaned text itself */
    }
}
