/* entities — the token scanner and the numeric recognisers (numbers,
 * quantities, pitch, layers, money, job ids), yes/no answers and enum
 * choices. Contacts (phones, emails, addresses, names) live in
 * entities_contact.c and dates in entities_time.c; all share the scanner
 * declared in entities_internal.h.
 *
 * Owns nothing beyond a call: each public function opens a scan of its text
 * (a normalised lower-case copy, a byte map back to the original, tokens),
 * runs one pattern matcher over the tokens and closes the scan. Patterns are
 * written as word tables ("sq ft", "linear feet", "go ahead") matched by
 * entity_scan_phrase, so adding a way of saying something is one table row.
 * Where two patterns could claim the same number (pitch "7 pitch" after
 * "7/12"), a per-call covered[] array of tokens keeps the first claim. */
#include "llm/local/entities.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "llm/local/entities_internal.h"

/* ---- entity lists ---- */

void entity_list_init(struct entity_list *list)
{
    list->items = NULL;
    list->len = list->cap = 0;
}

void entity_list_free(struct entity_list *list)
{
    free(list->items);
    entity_list_init(list);
}

struct entity *entity_list_push(struct entity_list *list, enum entity_kind kind, size_t start,
                                size_t end)
{
    if (list->len >= ENTITY_LIST_LIMIT)
        return NULL;
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = xrealloc(list->items, list->cap * sizeof *list->items);
    }
    struct entity *e = &list->items[list->len++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->start = start;
    e->end = end;
    return e;
}

const char *entity_kind_name(enum entity_kind kind)
{
    static const char *const names[] = {"number", "area",   "length",  "count",    "pitch",
                                        "layers", "money",  "phone",   "email",    "address",
                                        "person", "job_id", "datetime", "answer",  "choice"};
    if ((size_t)kind < sizeof names / sizeof names[0])
        return names[kind];
    return "unknown";
}

/* ---- the scanner ---- */

/* Folds the character at p into one normalised byte *out; returns the bytes
 * of p it used. */
static size_t fold_char(const unsigned char *p, char *out)
{
    if (p[0] == 0xE2 && p[1] == 0x80) {
        switch (p[2]) {
        case 0x98:
        case 0x99:
            *out = '\'';
            return 3;
        case 0x9C:
        case 0x9D:
            *out = '"';
            return 3;
        case 0x93:
        case 0x94:
            *out = '-';
            return 3;
        default:
            break;
        }
    }
    if (p[0] == 0xC2 && p[1] == 0xA0) {
        *out = ' ';
        return 2;
    }
    *out = (char)tolower(p[0]);
    return 1;
}

static bool is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || c >= 0x80;
}

static void token_case(struct scan *s, struct scan_token *t)
{
    size_t a = s->map[t->start], b = s->map[t->end];
    t->cap = isupper((unsigned char)s->text[a]) != 0;
    bool letters = false, lower = false;
    for (size_t k = a; k < b; k++) {
        unsigned char c = (unsigned char)s->text[k];
        if (isalpha(c)) {
            letters = true;
            if (islower(c))
                lower = true;
        }
    }
    t->all_caps = letters && !lower;
}

/* Length of the number starting at p (digits, 3-digit comma groups, one
 * decimal part). */
static size_t number_length(const char *p)
{
    size_t n = 0;
    while (isdigit((unsigned char)p[n]))
        n++;
    for (;;) {
        if (p[n] == ',' && isdigit((unsigned char)p[n + 1]) && isdigit((unsigned char)p[n + 2]) &&
            isdigit((unsigned char)p[n + 3]) && !isdigit((unsigned char)p[n + 4]))
            n += 4;
        else
            break;
    }
    if (p[n] == '.' && isdigit((unsigned char)p[n + 1])) {
        n++;
        while (isdigit((unsigned char)p[n]))
            n++;
    }
    return n;
}

static void tokenize(struct scan *s)
{
    s->tok = xcalloc(s->len + 1, sizeof *s->tok);
    bool space = true;
    size_t i = 0;
    while (i < s->len) {
        unsigned char c = (unsigned char)s->norm[i];
        if (isspace(c)) {
            space = true;
            i++;
            continue;
        }
        struct scan_token *t = &s->tok[s->n_tok++];
        t->start = i;
        t->space_before = space;
        space = false;
        if (isdigit(c)) {
            t->type = SCAN_NUM;
            i += number_length(s->norm + i);
        } else if (is_letter(c)) {
            t->type = SCAN_WORD;
            while (i < s->len && (is_letter((unsigned char)s->norm[i]) ||
                                  (s->norm[i] == '\'' && i + 1 < s->len &&
                                   is_letter((unsigned char)s->norm[i + 1]))))
                i++;
        } else {
            t->type = SCAN_PUNCT;
            i++;
        }
        t->end = i;
        token_case(s, t);
    }
}

int entity_scan_open(struct scan *s, const char *text)
{
    memset(s, 0, sizeof *s);
    if (!text)
        return ERR_INVALID;
    size_t n = strlen(text);
    if (n > ENTITY_TEXT_LIMIT)
        return ERR_LIMIT;
    s->text = text;
    s->norm = xmalloc(n + 1);
    s->map = xmalloc((n + 1) * sizeof *s->map);
    size_t i = 0;
    while (i < n) {
        s->map[s->len] = i;
        i += fold_char((const unsigned char *)text + i, &s->norm[s->len]);
        s->len++;
    }
    s->map[s->len] = n;
    s->norm[s->len] = '\0';
    tokenize(s);
    return 0;
}

void entity_scan_close(struct scan *s)
{
    free(s->norm);
    free(s->map);
    free(s->tok);
    memset(s, 0, sizeof *s);
}

size_t entity_scan_tok_len(const struct scan *s, size_t i)
{
    return i < s->n_tok ? s->tok[i].end - s->tok[i].start : 0;
}

bool entity_scan_is(const struct scan *s, size_t i, const char *w)
{
    if (i >= s->n_tok)
        return false;
    size_t n = strlen(w);
    return entity_scan_tok_len(s, i) == n && memcmp(s->norm + s->tok[i].start, w, n) == 0;
}

bool entity_scan_in(const struct scan *s, size_t i, const char *const *words)
{
    for (; *words; words++)
        if (entity_scan_is(s, i, *words))
            return true;
    return false;
}

bool entity_scan_word(const struct scan *s, size_t i)
{
    return i < s->n_tok && s->tok[i].type == SCAN_WORD;
}

bool entity_scan_num(const struct scan *s, size_t i)
{
    return i < s->n_tok && s->tok[i].type == SCAN_NUM;
}

bool entity_scan_punct(const struct scan *s, size_t i, char c)
{
    return i < s->n_tok && s->tok[i].type == SCAN_PUNCT && s->norm[s->tok[i].start] == c;
}

bool entity_scan_glued(const struct scan *s, size_t i)
{
    return i > 0 && i < s->n_tok && !s->tok[i].space_before;
}

size_t entity_scan_phrase(const struct scan *s, size_t i, const char *phrase)
{
    char word[48];
    const char *p = phrase;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == 0 || n >= sizeof word)
            return 0;
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        while (*p == ' ')
            p++;
        if (!entity_scan_is(s, i, word))
            return 0;
        i++;
        /* "sq." — a glued full stop after a short word is an abbreviation */
        if (n <= 4 && isalpha((unsigned char)word[0]) && entity_scan_punct(s, i, '.') &&
            entity_scan_glued(s, i))
            i++;
        if (*p && entity_scan_punct(s, i, '-'))
            i++;
    }
    return i;
}

size_t entity_scan_phrases(const struct scan *s, size_t i, const char *const *phrases)
{
    for (; *phrases; phrases++) {
        size_t next = entity_scan_phrase(s, i, *phrases);
        if (next)
            return next;
    }
    return 0;
}

size_t entity_scan_start(const struct scan *s, size_t i)
{
    return s->map[s->tok[i].start];
}

size_t entity_scan_end(const struct scan *s, size_t i)
{
    return s->map[s->tok[i].end];
}

void entity_scan_copy(const struct scan *s, size_t i, char *out, size_t outlen)
{
    size_t n = entity_scan_tok_len(s, i);
    if (n >= outlen)
        n = outlen - 1;
    if (i < s->n_tok)
        memcpy(out, s->norm + s->tok[i].start, n);
    out[n] = '\0';
}

struct entity *entity_scan_push(const struct scan *s, struct entity_list *out,
                                enum entity_kind kind, size_t first, size_t next)
{
    return entity_list_push(out, kind, entity_scan_start(s, first), entity_scan_end(s, next - 1));
}

void entity_singular(char *w)
{
    size_t n = strlen(w);
    if (n < 4 || w[n - 1] != 's')
        return;
    for (size_t k = 0; k < n; k++)
        if (!isalpha((unsigned char)w[k]))
            return;
    if (n >= 5 && strcmp(w + n - 3, "ies") == 0) {
        strcpy(w + n - 3, "y");
    } else if (strcmp(w + n - 4, "sses") == 0 || strcmp(w + n - 3, "xes") == 0 ||
               strcmp(w + n - 3, "zes") == 0 || strcmp(w + n - 4, "ches") == 0 ||
               strcmp(w + n - 4, "shes") == 0) {
        w[n - 2] = '\0';
    } else if (strcmp(w + n - 2, "ss") != 0 && strcmp(w + n - 2, "us") != 0 &&
               strcmp(w + n - 2, "is") != 0) {
        w[n - 1] = '\0';
    }
}

void entity_format_number(double v, char *out, size_t outlen)
{
    if (fabs(v - round(v)) < 1e-9 && fabs(v) < 1e15)
        snprintf(out, outlen, "%.0f", round(v));
    else
        snprintf(out, outlen, "%.6g", v);
}

/* ---- numbers ---- */

struct number_word {
    const char *word;
    int value;
};

static const struct number_word units_words[] = {
    {"zero", 0},      {"one", 1},        {"two", 2},       {"three", 3},    {"four", 4},
    {"five", 5},      {"six", 6},        {"seven", 7},     {"eight", 8},    {"nine", 9},
    {"ten", 10},      {"eleven", 11},    {"twelve", 12},   {"thirteen", 13}, {"fourteen", 14},
    {"fifteen", 15},  {"sixteen", 16},   {"seventeen", 17}, {"eighteen", 18}, {"nineteen", 19},
    {"twenty", 20},   {"thirty", 30},    {"forty", 40},    {"fifty", 50},   {"sixty", 60},
    {"seventy", 70},  {"eighty", 80},    {"ninety", 90},   {NULL, 0},
};

static int number_word_value(const struct scan *s, size_t i)
{
    for (const struct number_word *w = units_words; w->word; w++)
        if (entity_scan_is(s, i, w->word))
            return w->value;
    return -1;
}

static double digits_value(const struct scan *s, size_t i, size_t *n_digits, bool *integral)
{
    char tmp[64];
    size_t n = 0, digits = 0;
    bool point = false;
    for (size_t k = s->tok[i].start; k < s->tok[i].end && n + 1 < sizeof tmp; k++) {
        char c = s->norm[k];
        if (c == ',')
            continue;
        if (c == '.')
            point = true;
        else if (!point)
            digits++;
        tmp[n++] = c;
    }
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    *n_digits = digits;
    *integral = fabs(v - round(v)) < 1e-9;
    return v;
}

/* Multiplier words after a number: "2 thousand", "twenty four hundred". */
static double scale_word(const struct scan *s, size_t i)
{
    if (entity_scan_is(s, i, "hundred"))
        return 100;
    if (entity_scan_is(s, i, "thousand"))
        return 1000;
    if (entity_scan_is(s, i, "million"))
        return 1e6;
    return 0;
}

static bool number_from_digits(const struct scan *s, size_t i, struct scan_number *out)
{
    out->digits = true;
    out->value = digits_value(s, i, &out->n_digits, &out->integral);
    out->next = i + 1;
    if (entity_scan_word(s, i + 1) && entity_scan_glued(s, i + 1) &&
        (entity_scan_is(s, i + 1, "k") || entity_scan_is(s, i + 1, "m"))) {
        out->value *= entity_scan_is(s, i + 1, "k") ? 1000 : 1e6;
        out->suffixed = true;
        out->next = i + 2;
    } else if (scale_word(s, i + 1) > 0) {
        out->value *= scale_word(s, i + 1);
        out->next = i + 2;
    }
    out->integral = fabs(out->value - round(out->value)) < 1e-9;
    return true;
}

/* Spelled numbers: "twenty-five", "two thousand four hundred", "a couple". */
static bool number_from_words(const struct scan *s, size_t i, struct scan_number *out)
{
    size_t k = i;
    double total = 0, current = 0;
    bool any = false;
    if (entity_scan_is(s, k, "a") || entity_scan_is(s, k, "an")) {
        if (entity_scan_is(s, k + 1, "couple") || entity_scan_is(s, k + 1, "pair")) {
            out->value = 2;
            out->next = k + 2;
            out->integral = true;
            return true;
        }
        if (entity_scan_is(s, k + 1, "dozen")) {
            out->value = 12;
            out->next = k + 2;
            out->integral = true;
            return true;
        }
        if (scale_word(s, k + 1) == 0)
            return false;
        current = 1;
        any = true;
        k++;
    } else if (entity_scan_is(s, k, "dozen") || entity_scan_is(s, k, "couple")) {
        out->value = entity_scan_is(s, k, "dozen") ? 12 : 2;
        out->next = k + 1;
        out->integral = true;
        return true;
    }
    for (;;) {
        int v = number_word_value(s, k);
        double scale = scale_word(s, k);
        if (v >= 0) {
            current += v;
            any = true;
            k++;
            /* "twenty-five" */
            if (v >= 20 && v % 10 == 0 && entity_scan_punct(s, k, '-')) {
                int u = number_word_value(s, k + 1);
                if (u > 0 && u < 10) {
                    current += u;
                    k += 2;
                }
            }
        } else if (scale > 0 && any) {
            if (scale >= 1000) {
                total += (current ? current : 1) * scale;
                current = 0;
            } else {
                current = (current ? current : 1) * scale;
            }
            k++;
        } else if (any && entity_scan_is(s, k, "and") && number_word_value(s, k + 1) >= 0 &&
                   scale_word(s, k - 1) > 0) {
            k++;
        } else {
            break;
        }
    }
    if (!any)
        return false;
    out->value = total + current;
    out->next = k;
    out->integral = true;
    return true;
}

bool entity_scan_number(const struct scan *s, size_t i, struct scan_number *out)
{
    memset(out, 0, sizeof *out);
    out->first = i;
    if (entity_scan_num(s, i))
        return number_from_digits(s, i, out);
    if (entity_scan_word(s, i))
        return number_from_words(s, i, out);
    return false;
}

/* A number may start at token i: not glued to a word before it ("J1042",
 * "ft2"), except the "x" of "x2". */
static bool number_starts(const struct scan *s, size_t i)
{
    if (!entity_scan_glued(s, i))
        return true;
    if (entity_scan_word(s, i - 1))
        return entity_scan_is(s, i - 1, "x");
    return s->tok[i - 1].type == SCAN_PUNCT;
}

static struct entity *push_number(const struct scan *s, struct entity_list *out,
                                  enum entity_kind kind, const struct scan_number *n, size_t next)
{
    struct entity *e = entity_scan_push(s, out, kind, n->first, next);
    if (!e)
        return NULL;
    e->value = e->said = n->value;
    entity_format_number(n->value, e->norm, sizeof e->norm);
    return e;
}

int entity_scan_numbers(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        struct scan_number n;
        if (number_starts(s, i) && entity_scan_number(s, i, &n)) {
            if (!push_number(s, out, ENTITY_NUMBER, &n, n.next))
                return ERR_LIMIT;
            found++;
            i = n.next;
        } else {
            i++;
        }
    }
    return found;
}

/* ---- quantities: areas, lengths, counts ---- */

static const char *const area_units[] = {"sq ft",     "sq feet",     "sq foot",    "sqft",
                                         "square feet", "square foot", "square ft", "sf",
                                         NULL};
static const char *const square_units[] = {"roofing squares", "roofing square", "squares",
                                           "square", "sqs", "sq", NULL};
static const char *const length_units[] = {"linear feet", "linear foot", "linear ft",
                                           "lineal feet", "lineal foot", "lineal ft",
                                           "lin ft",      "ln ft",       "lf",
                                           "feet",        "foot",        "ft",
                                           "'",           NULL};
/* Words that are not the thing counted after a bare number. */
static const char *const count_stop[] = {
    "and",   "or",     "of",      "to",     "at",       "on",      "in",       "for",
    "by",    "from",   "with",    "x",      "am",       "pm",      "a",        "an",
    "the",   "is",     "are",     "was",    "were",     "be",      "it",       "its",
    "it's",  "i",      "we",      "you",    "they",     "he",      "she",      "that",
    "this",  "these",  "those",   "per",    "percent",  "than",    "times",    "o'clock",
    "th",    "st",     "nd",      "rd",     "k",        "m",       "sq",       "square",
    "squares", "feet", "foot",    "ft",     "lf",       "linear",  "lineal",   "pitch",
    "dollars", "dollar", "bucks", "usd",    "plus",     "if",      "so",       "but",
    "then",  "please", "thanks",  "hundred", "thousand", "million", "dozen",   "couple",
    "jan",   "january", "feb",    "february", "mar",    "march",   "apr",      "april",
    "may",   "jun",    "june",    "jul",    "july",     "aug",     "august",   "sep",
    "sept",  "september", "oct",  "october", "nov",     "november", "dec",     "december",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tomorrow",
    "today", "tonight", "more",   "over",   "under",    "about",   "around",   "ish",
    "sf",    "sqft",   "lin",     "ln",     "inch",     "inches",  "yes",      "no",
    "ok",    "okay",   NULL};
static const char *const count_adjectives[] = {
    "new",      "more",     "additional", "extra",    "old",    "existing", "large",
    "small",    "big",      "replacement", "separate", "standard", "custom", "seamless",
    "aluminum", "aluminium", "copper",    "vinyl",    NULL};

/* The noun after "of" (or right after when direct): "160 ft of gutters". */
static void quantity_noun(const struct scan *s, size_t j, bool direct, char *noun, size_t len)
{
    noun[0] = '\0';
    if (entity_scan_is(s, j, "of"))
        j++;
    else if (!direct)
        return;
    while (entity_scan_in(s, j, count_adjectives) || entity_scan_is(s, j, "the"))
        j++;
    if (entity_scan_word(s, j) && !entity_scan_in(s, j, count_stop)) {
        entity_scan_copy(s, j, noun, len);
        entity_singular(noun);
    }
}

/* Matches an area unit after a number; returns the index after it or 0. */
static size_t area_unit(const struct scan *s, size_t j, double value, enum entity_unit *unit)
{
    size_t k = entity_scan_phrases(s, j, area_units);
    if (!k && entity_scan_is(s, j, "ft") && entity_scan_is(s, j + 1, "2") &&
        entity_scan_glued(s, j + 1))
        k = j + 2;
    if (k) {
        *unit = ENTITY_UNIT_SQFT;
        return k;
    }
    k = entity_scan_phrases(s, j, square_units);
    if (k) {
        /* a bare "sq"/"square" after a big number is lazy "sq ft" */
        bool lazy = (entity_scan_is(s, j, "sq") || entity_scan_is(s, j, "square")) && value >= 200;
        *unit = lazy ? ENTITY_UNIT_SQFT : ENTITY_UNIT_SQUARES;
        return k;
    }
    return 0;
}

static int scan_quantity_at(const struct scan *s, const struct scan_number *n,
                            struct entity_list *out, size_t *next)
{
    size_t j = n->next;
    if (entity_scan_punct(s, j, '-') && entity_scan_word(s, j + 1))
        j++;
    enum entity_unit unit = ENTITY_UNIT_NONE;
    size_t k = area_unit(s, j, n->value, &unit);
    struct entity *e;
    if (k) {
        if (!(e = push_number(s, out, ENTITY_AREA, n, k)))
            return ERR_LIMIT;
        e->unit = unit;
        if (unit == ENTITY_UNIT_SQUARES)
            e->value = n->value * 100;
        entity_format_number(e->value, e->norm, sizeof e->norm);
        quantity_noun(s, k, false, e->noun, sizeof e->noun);
        *next = k;
        return 1;
    }
    if ((k = entity_scan_phrases(s, j, length_units)) != 0 &&
        !(entity_scan_is(s, j, "'") && !entity_scan_glued(s, j))) {
        if (!(e = push_number(s, out, ENTITY_LENGTH, n, k)))
            return ERR_LIMIT;
        e->unit = ENTITY_UNIT_FEET;
        quantity_noun(s, k, true, e->noun, sizeof e->noun);
        *next = k;
        return 1;
    }
    /* a count: "2 skylights", "three new windows", "a couple of vents" */
    k = n->next;
    if (entity_scan_is(s, k, "of") && !n->digits)
        k++;
    while (entity_scan_in(s, k, count_adjectives))
        k++;
    if (entity_scan_word(s, k) && !entity_scan_in(s, k, count_stop) &&
        entity_scan_tok_len(s, k) >= 2 && n->value >= 0 && n->integral && !n->suffixed) {
        if (!(e = push_number(s, out, ENTITY_COUNT, n, k + 1)))
            return ERR_LIMIT;
        e->unit = ENTITY_UNIT_EACH;
        entity_scan_copy(s, k, e->noun, sizeof e->noun);
        entity_singular(e->noun);
        *next = k + 1;
        return 1;
    }
    return 0;
}

int entity_scan_quantities(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        struct scan_number n;
        if (!number_starts(s, i) || (i > 0 && entity_scan_punct(s, i - 1, '$')) ||
            (i > 0 && entity_scan_punct(s, i - 1, '#')) || !entity_scan_number(s, i, &n)) {
            i++;
            continue;
        }
        size_t next = n.next;
        int rc = scan_quantity_at(s, &n, out, &next);
        if (rc < 0)
            return rc;
        found += rc;
        i = next > i ? next : i + 1;
    }
    return found;
}

/* ---- roof pitch ---- */

static bool is_twelve(const struct scan *s, size_t k)
{
    return entity_scan_is(s, k, "12") || entity_scan_is(s, k, "twelve");
}

/* "7/12", "7:12", "7-12", "7 on 12", "7 in 12", "7 12": returns the index of
 * the 12, or 0. */
static size_t pitch_over_twelve(const struct scan *s, const struct scan_number *n)
{
    size_t j = n->next;
    if (entity_scan_punct(s, j, '/') || entity_scan_punct(s, j, ':') ||
        entity_scan_punct(s, j, '-')) {
        if (!is_twelve(s, j + 1))
            return 0;
        /* "7/12/2024" is a date */
        if ((entity_scan_punct(s, j + 2, '/') || entity_scan_punct(s, j + 2, '-')) &&
            entity_scan_num(s, j + 3))
            return 0;
        return j + 1;
    }
    if (entity_scan_is(s, j, "on") || entity_scan_is(s, j, "in") || entity_scan_is(s, j, "over"))
        return is_twelve(s, j + 1) ? j + 1 : 0;
    if (n->digits && entity_scan_is(s, j, "12") && !entity_scan_punct(s, j + 1, '/') &&
        !entity_scan_phrases(s, j + 1, length_units) && !entity_scan_phrases(s, j + 1, area_units))
        return j;
    return 0;
}

static const char *const pitch_words[] = {"pitch", "slope", NULL};
static const char *const pitch_fillers[] = {"is", "of", ":", "=", "a", "about", "around",
                                            "roughly", "approximately", "approx", "like",
                                            "maybe", NULL};

static bool rise_ok(const struct scan_number *n)
{
    return n->value >= 0 && n->value <= 24;
}

static int push_pitch(const struct scan *s, struct entity_list *out, const struct scan_number *n,
                      size_t first, size_t next, bool *covered)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_PITCH, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = n->value;
    char num[32];
    entity_format_number(n->value, num, sizeof num);
    snprintf(e->norm, sizeof e->norm, "%s/12", num);
    for (size_t k = first; k < next; k++)
        covered[k] = true;
    return 1;
}

static int pitch_ratios(const struct scan *s, struct entity_list *out, bool *covered)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        struct scan_number n;
        if (!number_starts(s, i) || !entity_scan_number(s, i, &n) || !rise_ok(&n))
            continue;
        size_t twelve = pitch_over_twelve(s, &n);
        if (!twelve)
            continue;
        size_t next = twelve + 1;
        if (entity_scan_in(s, next, pitch_words))
            next++;
        int rc = push_pitch(s, out, &n, i, next, covered);
        if (rc < 0)
            return rc;
        found++;
        i = next - 1;
    }
    return found;
}

int entity_scan_pitches(const struct scan *s, struct entity_list *out)
{
    bool *covered = xcalloc(s->n_tok + 1, sizeof *covered);
    int found = pitch_ratios(s, out, covered);
    for (size_t i = 0; found >= 0 && i < s->n_tok; i++) {
        struct scan_number n;
        int rc = 0;
        if (covered[i])
            continue;
        /* "a 7 pitch", "7-pitch" */
        if (number_starts(s, i) && entity_scan_number(s, i, &n) && rise_ok(&n) && n.integral) {
            size_t j = n.next;
            if (entity_scan_punct(s, j, '-'))
                j++;
            if (entity_scan_in(s, j, pitch_words) && !covered[j])
                rc = push_pitch(s, out, &n, i, j + 1, covered);
        } else if (entity_scan_in(s, i, pitch_words)) {
            /* "pitch 7", "pitch is a 7", "slope: 6" */
            size_t j = i + 1;
            for (int skip = 0; skip < 3 && entity_scan_in(s, j, pitch_fillers); skip++)
                j++;
            if (!covered[j] && entity_scan_number(s, j, &n) && rise_ok(&n))
                rc = push_pitch(s, out, &n, i, n.next, covered);
        }
        if (rc < 0)
            found = rc;
        else
            found += rc;
    }
    free(covered);
    return found;
}

/* ---- layers ---- */

static const char *const layer_words[] = {"layer", "layers", NULL};
static const char *const tearoff_phrases[] = {"tear off", "tearoff", "tear offs", "tearoffs",
                                              "tear it off", "teardown", "tear down", NULL};
static const char *const overlay_phrases[] = {"overlay", "over lay", "lay over", "layover",
                                              "roof over", "reroof over", NULL};
static const char *const negators[] = {"no",     "not",   "without", "skip",   "skipping",
                                       "don't",  "dont",  "doesn't", "isn't",  "aren't",
                                       "won't",  "never", "minus",   "except", "remove",
                                       "drop",   "nix",   "forget",  "cancel", "excluding",
                                       "exclude", "instead", "rather", "nothing", NULL};

static bool negator_at(const struct scan *s, size_t k)
{
    if (entity_scan_in(s, k, negators))
        return true;
    size_t n = entity_scan_tok_len(s, k);
    return entity_scan_word(s, k) && n > 3 && memcmp(s->norm + s->tok[k].end - 3, "n't", 3) == 0;
}

/* A negation word in the clause before token i, at most `window` tokens back;
 * returns its index + 1 or 0. */
static size_t negated_before(const struct scan *s, size_t i, int window)
{
    static const char *const clause_ends[] = {"and", "but", "or", "plus", "with", "also",
                                              "then", "so", NULL};
    for (size_t k = i; k > 0 && window > 0; window--) {
        k--;
        if (s->tok[k].type == SCAN_PUNCT && !entity_scan_punct(s, k, '-'))
            return 0;
        if (entity_scan_in(s, k, clause_ends))
            return 0;
        if (negator_at(s, k))
            return k + 1;
    }
    return 0;
}

static int push_layers(const struct scan *s, struct entity_list *out, double value, size_t first,
                       size_t next, bool *covered)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_LAYERS, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = value;
    entity_format_number(value, e->norm, sizeof e->norm);
    for (size_t k = first; k < next; k++)
        covered[k] = true;
    return 1;
}

/* "2 layers", "one layer", "single layer", "layers: 2" at token i. */
static int layers_counted(const struct scan *s, size_t i, struct entity_list *out, bool *covered)
{
    static const char *const multiples[] = {"single", "double", "triple", NULL};
    struct scan_number n;
    size_t j;
    if (entity_scan_in(s, i, multiples) && entity_scan_in(s, i + 1, layer_words)) {
        double v = entity_scan_is(s, i, "single") ? 1 : entity_scan_is(s, i, "double") ? 2 : 3;
        return push_layers(s, out, v, i, i + 2, covered);
    }
    if (number_starts(s, i) && entity_scan_number(s, i, &n) && n.integral && n.value <= 9) {
        j = n.next;
        if (entity_scan_is(s, j, "existing") || entity_scan_is(s, j, "old"))
            j++;
        if (entity_scan_in(s, j, layer_words))
            return push_layers(s, out, n.value, i, j + 1, covered);
    }
    if (entity_scan_in(s, i, layer_words)) {
        j = i + 1;
        if (entity_scan_punct(s, j, ':') || entity_scan_punct(s, j, '=') ||
            entity_scan_is(s, j, "is"))
            j++;
        if (j > i + 1 && entity_scan_number(s, j, &n) && n.integral && n.value <= 9)
            return push_layers(s, out, n.value, i, n.next, covered);
    }
    return 0;
}

/* "no tear off", "tear off 2", "overlay" at token i. */
static int layers_tearoff(const struct scan *s, size_t i, struct entity_list *out, bool *covered)
{
    size_t j = entity_scan_phrases(s, i, overlay_phrases);
    if (j)
        return push_layers(s, out, 0, i, j, covered);
    if (!(j = entity_scan_phrases(s, i, tearoff_phrases)))
        return 0;
    size_t neg = negated_before(s, i, 3);
    if (neg)
        return push_layers(s, out, 0, neg - 1, j, covered);
    size_t k = j;
    if (entity_scan_is(s, k, "of") || entity_scan_punct(s, k, ':'))
        k++;
    struct scan_number n;
    if (!covered[k] && entity_scan_number(s, k, &n) && n.integral && n.value <= 9) {
        size_t end = entity_scan_in(s, n.next, layer_words) ? n.next + 1 : n.next;
        return push_layers(s, out, n.value, i, end, covered);
    }
    return 0;
}

int entity_scan_layers(const struct scan *s, struct entity_list *out)
{
    bool *covered = xcalloc(s->n_tok + 1, sizeof *covered);
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        if (covered[i])
            continue;
        int rc = layers_tearoff(s, i, out, covered);
        if (rc == 0)
            rc = layers_counted(s, i, out, covered);
        if (rc < 0) {
            found = rc;
            break;
        }
        found += rc;
    }
    free(covered);
    return found;
}

/* ---- money ---- */

static const char *const money_words[] = {"dollars", "dollar", "bucks", "usd", NULL};

static int push_money(const struct scan *s, struct entity_list *out, double v, size_t first,
                      size_t next)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_MONEY, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = v;
    snprintf(e->norm, sizeof e->norm, "%.2f", v);
    return 1;
}

int entity_scan_money(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        struct scan_number n;
        int rc = 0;
        if (entity_scan_punct(s, i, '$') && entity_scan_num(s, i + 1) &&
            entity_scan_number(s, i + 1, &n)) {
            rc = push_money(s, out, n.value, i, n.next);
        } else if (entity_scan_num(s, i) && number_starts(s, i) &&
                   !(i > 0 && entity_scan_punct(s, i - 1, '$')) &&
                   entity_scan_number(s, i, &n)) {
            size_t j = n.next;
            if (entity_scan_in(s, j, money_words))
                rc = push_money(s, out, n.value, i, j + 1);
            else if (n.suffixed && !area_unit(s, j, n.value, &(enum entity_unit){0}) &&
                     !entity_scan_phrases(s, j, length_units))
                rc = push_money(s, out, n.value, i, j);
        } else {
            continue;
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            found++;
            i = n.next - 1;
        }
    }
    return found;
}

/* ---- job ids ---- */

static int push_job(const struct scan *s, struct entity_list *out, size_t first, size_t next,
                    size_t num, size_t prefix, bool hyphen)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_JOB_ID, first, next);
    if (!e)
        return ERR_LIMIT;
    char digits[32], pre[8] = "";
    entity_scan_copy(s, num, digits, sizeof digits);
    if (prefix != (size_t)-1) {
        entity_scan_copy(s, prefix, pre, sizeof pre);
        for (char *p = pre; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    snprintf(e->norm, sizeof e->norm, "%s%s%s", pre, hyphen ? "-" : "", digits);
    e->value = e->said = strtod(digits, NULL);
    return 1;
}

static bool plain_integer(const struct scan *s, size_t i)
{
    if (!entity_scan_num(s, i))
        return false;
    for (size_t k = s->tok[i].start; k < s->tok[i].end; k++)
        if (!isdigit((unsigned char)s->norm[k]))
            return false;
    return true;
}

/* "job 1042", "job #1042", "job id J-1042", "job number: 1042" at token i. */
static int job_after_word(const struct scan *s, size_t i, struct entity_list *out, size_t *next)
{
    static const char *const fillers[] = {"id", "number", "no", "num", "#", ":", ".", NULL};
    size_t j = i + 1;
    for (int k = 0; k < 3 && entity_scan_in(s, j, fillers); k++)
        j++;
    if (plain_integer(s, j)) {
        enum entity_unit unit;
        if (area_unit(s, j + 1, 0, &unit) || entity_scan_phrases(s, j + 1, length_units))
            return 0;
        *next = j + 1;
        return push_job(s, out, i, j + 1, j, (size_t)-1, false);
    }
    if (entity_scan_word(s, j) && entity_scan_tok_len(s, j) <= 3) {
        bool hyphen = entity_scan_punct(s, j + 1, '-') && entity_scan_glued(s, j + 1);
        size_t num = hyphen ? j + 2 : j + 1;
        if (plain_integer(s, num) && entity_scan_glued(s, num)) {
            *next = num + 1;
            return push_job(s, out, i, num + 1, num, j, hyphen);
        }
    }
    return 0;
}

int entity_scan_job_ids(const struct scan *s, struct entity_list *out)
{
    static const char *const unit_words[] = {"apt", "apartment", "unit", "suite", "ste", "no",
                                             "room", NULL};
    static const char *const job_words[] = {"job", "jobs", "project", "ticket", NULL};
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        size_t next = 0;
        int rc = 0;
        if (entity_scan_in(s, i, job_words)) {
            rc = job_after_word(s, i, out, &next);
        } else if (entity_scan_punct(s, i, '#') && plain_integer(s, i + 1) &&
                   entity_scan_glued(s, i + 1) &&
                   !(i > 0 && (entity_scan_in(s, i - 1, unit_words) ||
                               entity_scan_in(s, i - 1, job_words) ||
                               entity_scan_in(s, i - 1, (const char *const[]){"id", NULL})))) {
            next = i + 2;
            rc = push_job(s, out, i, i + 2, i + 1, (size_t)-1, false);
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            found++;
            i = next - 1;
        }
    }
    return found;
}

/* ---- yes / no ---- */

struct answer_phrase {
    const char *phrase;
    enum entity_answer answer;
};

/* Checked in order at each token: hedges first, then phrases that contain a
 * yes or no word but mean the other ("no problem", "not correct"). */
static const struct answer_phrase answer_phrases[] = {
    {"i'm not sure", ENTITY_ANSWER_AMBIGUOUS}, {"im not sure", ENTITY_ANSWER_AMBIGUOUS},
    {"not sure", ENTITY_ANSWER_AMBIGUOUS},     {"i guess", ENTITY_ANSWER_AMBIGUOUS},
    {"i suppose", ENTITY_ANSWER_AMBIGUOUS},    {"i think so", ENTITY_ANSWER_AMBIGUOUS},
    {"i don't know", ENTITY_ANSWER_AMBIGUOUS}, {"i dont know", ENTITY_ANSWER_AMBIGUOUS},
    {"don't know", ENTITY_ANSWER_AMBIGUOUS},   {"dont know", ENTITY_ANSWER_AMBIGUOUS},
    {"idk", ENTITY_ANSWER_AMBIGUOUS},          {"dunno", ENTITY_ANSWER_AMBIGUOUS},
    {"maybe", ENTITY_ANSWER_AMBIGUOUS},        {"perhaps", ENTITY_ANSWER_AMBIGUOUS},
    {"possibly", ENTITY_ANSWER_AMBIGUOUS},     {"probably", ENTITY_ANSWER_AMBIGUOUS},
    {"kind of", ENTITY_ANSWER_AMBIGUOUS},      {"sort of", ENTITY_ANSWER_AMBIGUOUS},
    {"kinda", ENTITY_ANSWER_AMBIGUOUS},        {"sorta", ENTITY_ANSWER_AMBIGUOUS},
    {"let me think", ENTITY_ANSWER_AMBIGUOUS}, {"no problem", ENTITY_ANSWER_YES},
    {"no worries", ENTITY_ANSWER_YES},         {"why not", ENTITY_ANSWER_YES},
    {"not yet", ENTITY_ANSWER_NO},             {"not now", ENTITY_ANSWER_NO},
    {"hold on", ENTITY_ANSWER_NO},             {"hold off", ENTITY_ANSWER_NO},
    {"hang on", ENTITY_ANSWER_NO},             {"never mind", ENTITY_ANSWER_NO},
    {"not correct", ENTITY_ANSWER_NO},         {"not right", ENTITY_ANSWER_NO},
    {"that's wrong", ENTITY_ANSWER_NO},        {"thats wrong", ENTITY_ANSWER_NO},
    {"go ahead", ENTITY_ANSWER_YES},           {"go for it", ENTITY_ANSWER_YES},
    {"do it", ENTITY_ANSWER_YES},              {"sounds good", ENTITY_ANSWER_YES},
    {"looks good", ENTITY_ANSWER_YES},         {"that's right", ENTITY_ANSWER_YES},
    {"thats right", ENTITY_ANSWER_YES},        {"of course", ENTITY_ANSWER_YES},
    {"please do", ENTITY_ANSWER_YES},          {"send it", ENTITY_ANSWER_YES},
    {"nevermind", ENTITY_ANSWER_NO},           {"no", ENTITY_ANSWER_NO},
    {"nope", ENTITY_ANSWER_NO},                {"nah", ENTITY_ANSWER_NO},
    {"wait", ENTITY_ANSWER_NO},                {"stop", ENTITY_ANSWER_NO},
    {"cancel", ENTITY_ANSWER_NO},              {"don't", ENTITY_ANSWER_NO},
    {"dont", ENTITY_ANSWER_NO},                {"negative", ENTITY_ANSWER_NO},
    {"wrong", ENTITY_ANSWER_NO},               {"incorrect", ENTITY_ANSWER_NO},
    {"yes", ENTITY_ANSWER_YES},                {"yeah", ENTITY_ANSWER_YES},
    {"yea", ENTITY_ANSWER_YES},                {"yep", ENTITY_ANSWER_YES},
    {"yup", ENTITY_ANSWER_YES},                {"ya", ENTITY_ANSWER_YES},
    {"sure", ENTITY_ANSWER_YES},               {"correct", ENTITY_ANSWER_YES},
    {"right", ENTITY_ANSWER_YES},              {"ok", ENTITY_ANSWER_YES},
    {"okay", ENTITY_ANSWER_YES},               {"confirm", ENTITY_ANSWER_YES},
    {"confirmed", ENTITY_ANSWER_YES},          {"affirmative", ENTITY_ANSWER_YES},
    {"absolutely", ENTITY_ANSWER_YES},         {"definitely", ENTITY_ANSWER_YES},
    {"perfect", ENTITY_ANSWER_YES},            {"exactly", ENTITY_ANSWER_YES},
    {NULL, ENTITY_ANSWER_NONE},
};

/* "hmm", "hmmm", "hm" */
static bool is_hum(const struct scan *s, size_t i)
{
    size_t n = entity_scan_tok_len(s, i);
    const char *w = s->norm + s->tok[i].start;
    if (!entity_scan_word(s, i) || n < 2 || w[0] != 'h')
        return false;
    for (size_t k = 1; k < n; k++)
        if (w[k] != 'm')
            return false;
    return true;
}

/* One-letter answers count only when they are the whole text. */
static enum entity_answer single_letter_answer(const struct scan *s)
{
    if (s->n_tok != 1 && !(s->n_tok == 2 && s->tok[1].type == SCAN_PUNCT))
        return ENTITY_ANSWER_NONE;
    if (entity_scan_is(s, 0, "y") || entity_scan_is(s, 0, "k"))
        return ENTITY_ANSWER_YES;
    if (entity_scan_is(s, 0, "n"))
        return ENTITY_ANSWER_NO;
    return ENTITY_ANSWER_NONE;
}

static enum entity_answer scan_answer(const struct scan *s, size_t *first, size_t *next)
{
    bool yes = false, no = false, hedge = false;
    *first = *next = 0;
    enum entity_answer one = single_letter_answer(s);
    if (one != ENTITY_ANSWER_NONE) {
        *next = 1;
        return one;
    }
    for (size_t i = 0; i < s->n_tok;) {
        enum entity_answer a = ENTITY_ANSWER_NONE;
        size_t j = 0;
        if (is_hum(s, i)) {
            a = ENTITY_ANSWER_AMBIGUOUS;
            j = i + 1;
        }
        for (const struct answer_phrase *p = answer_phrases; !j && p->phrase; p++) {
            if ((j = entity_scan_phrase(s, i, p->phrase)) != 0)
                a = p->answer;
        }
        if (!j) {
            i++;
            continue;
        }
        if (!yes && !no && !hedge)
            *first = i;
        *next = j;
        hedge |= a == ENTITY_ANSWER_AMBIGUOUS;
        yes |= a == ENTITY_ANSWER_YES;
        no |= a == ENTITY_ANSWER_NO;
        i = j;
    }
    if (hedge || (yes && no))
        return ENTITY_ANSWER_AMBIGUOUS;
    return yes ? ENTITY_ANSWER_YES : no ? ENTITY_ANSWER_NO : ENTITY_ANSWER_NONE;
}

/* ---- choices ---- */

#define CHOICE_KEY_MAX 128

/* An alias as its words' singulars glued together: "3-Tab shingles" → "3tabshingle". */
static void choice_key(const char *alias, char *key, size_t len, size_t *n_words)
{
    size_t n = 0;
    *n_words = 0;
    key[0] = '\0';
    const unsigned char *p = (const unsigned char *)alias;
    while (*p) {
        char word[ENTITY_WORD_MAX];
        size_t w = 0;
        while (*p && !isalnum(*p) && *p < 0x80)
            p++;
        while (*p && (isalnum(*p) || *p >= 0x80 || (*p == '\'' && isalpha(p[1])))) {
            /* split letters from digits the way the scanner does */
            if (w > 0 && (isdigit(*p) != 0) != (isdigit((unsigned char)word[w - 1]) != 0))
                break;
            if (w + 1 < sizeof word)
                word[w++] = (char)tolower(*p);
            p++;
        }
        word[w] = '\0';
        if (!w)
            continue;
        entity_singular(word);
        if (n + w < len) {
            memcpy(key + n, word, w + 1);
            n += w;
        }
        (*n_words)++;
    }
}

struct choice_match {
    size_t first, next; /* tokens */
    size_t choice;
    size_t key_len;
};

/* The tokens from `first` whose singulars glue into key; the index after
 * them, or 0. Hyphens and underscores between words are skipped. */
static size_t match_key(const struct scan *s, size_t first, const char *key)
{
    size_t klen = strlen(key), have = 0;
    for (size_t j = first; j < s->n_tok; j++) {
        if (j > first && (entity_scan_punct(s, j, '-') || entity_scan_punct(s, j, '_')))
            continue;
        if (s->tok[j].type == SCAN_PUNCT && !entity_scan_is(s, j, "'"))
            return 0;
        char word[ENTITY_WORD_MAX];
        entity_scan_copy(s, j, word, sizeof word);
        if (s->tok[j].type == SCAN_WORD)
            entity_singular(word);
        size_t w = strlen(word);
        if (have + w > klen || memcmp(key + have, word, w) != 0)
            return 0;
        have += w;
        if (have == klen) {
            /* whole words: the match must not run into a glued word */
            if (j + 1 < s->n_tok && !s->tok[j + 1].space_before &&
                s->tok[j + 1].type != SCAN_PUNCT)
                return 0;
            return j + 1;
        }
    }
    return 0;
}

static bool word_start(const struct scan *s, size_t i)
{
    return s->tok[i].type != SCAN_PUNCT &&
           (i == 0 || s->tok[i].space_before || s->tok[i - 1].type == SCAN_PUNCT);
}

static void choice_try(const struct scan *s, size_t i, size_t c, const char *alias,
                       struct choice_match *best)
{
    char key[CHOICE_KEY_MAX];
    size_t n_words;
    choice_key(alias, key, sizeof key, &n_words);
    if (!key[0])
        return;
    size_t next = match_key(s, i, key);
    size_t klen = strlen(key);
    if (next && (!best->next || klen > best->key_len)) {
        best->first = i;
        best->next = next;
        best->choice = c;
        best->key_len = klen;
    }
}

/* "gutters not needed", "skylights: none" */
static bool negated_after(const struct scan *s, size_t j)
{
    static const char *const after[] = {"not needed", "not required", "not included",
                                        "not necessary", "not wanted", "isn't needed",
                                        "aren't needed", "none", NULL};
    if (entity_scan_punct(s, j, ':') || entity_scan_is(s, j, "is") ||
        entity_scan_is(s, j, "are"))
        j++;
    return entity_scan_phrases(s, j, after) != 0;
}

static int scan_choices(const struct scan *s, const struct entity_choice *choices,
                        size_t n_choices, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        struct choice_match best = {0};
        if (word_start(s, i)) {
            for (size_t c = 0; c < n_choices; c++) {
                if (choices[c].value)
                    choice_try(s, i, c, choices[c].value, &best);
                for (size_t a = 0; a < choices[c].n_aliases; a++)
                    if (choices[c].aliases[a])
                        choice_try(s, i, c, choices[c].aliases[a], &best);
            }
        }
        if (!best.next) {
            i++;
            continue;
        }
        struct entity *e = entity_scan_push(s, out, ENTITY_CHOICE, best.first, best.next);
        if (!e)
            return ERR_LIMIT;
        e->value = e->said = (double)best.choice;
        snprintf(e->norm, sizeof e->norm, "%s",
                 choices[best.choice].value ? choices[best.choice].value : "");
        e->negated = negated_before(s, best.first, 4) || negated_after(s, best.next);
        found++;
        i = best.next;
    }
    return found;
}

/* ---- public entry points ---- */

typedef int scan_fn(const struct scan *s, struct entity_list *out);

static int run_one(const char *text, struct entity_list *out, scan_fn *fn)
{
    if (!out)
        return ERR_INVALID;
    struct scan s;
    int rc = entity_scan_open(&s, text);
    if (rc == 0)
        rc = fn(&s, out);
    entity_scan_close(&s);
    return rc;
}

int entity_find_numbers(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_numbers);
}

int entity_find_quantities(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_quantities);
}

int entity_find_pitches(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_pitches);
}

int entity_find_layers(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_layers);
}

int entity_find_money(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_money);
}

int entity_find_phones(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_phones);
}

int entity_find_emails(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_emails);
}

int entity_find_addresses(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_addresses);
}

int entity_find_persons(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_persons);
}

int entity_find_job_ids(const char *text, struct entity_list *out)
{
    return run_one(text, out, entity_scan_job_ids);
}

int entity_find_datetimes(const char *text, const struct tm *now, struct entity_list *out)
{
    if (!out || !now)
        return ERR_INVALID;
    struct scan s;
    int rc = entity_scan_open(&s, text);
    if (rc == 0)
        rc = entity_scan_datetimes(&s, now, out);
    entity_scan_close(&s);
    return rc;
}

static int scan_answer_entity(const struct scan *s, struct entity_list *out)
{
    size_t first, next;
    enum entity_answer a = scan_answer(s, &first, &next);
    if (a == ENTITY_ANSWER_NONE)
        return 0;
    struct entity *e = entity_scan_push(s, out, ENTITY_ANSWER, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = a;
    static const char *const names[] = {"none", "yes", "no", "ambiguous"};
    snprintf(e->norm, sizeof e->norm, "%s", names[a]);
    return 1;
}

int entity_find_answer(const char *text, struct entity_list *out)
{
    return run_one(text, out, scan_answer_entity);
}

enum entity_answer entity_answer_of(const char *text)
{
    struct scan s;
    enum entity_answer a = ENTITY_ANSWER_NONE;
    size_t first, next;
    if (entity_scan_open(&s, text) == 0)
        a = scan_answer(&s, &first, &next);
    entity_scan_close(&s);
    return a;
}

int entity_find_choices(const char *text, const struct entity_choice *choices, size_t n_choices,
                        struct entity_list *out)
{
    if (!out || (!choices && n_choices))
        return ERR_INVALID;
    struct scan s;
    int rc = entity_scan_open(&s, text);
    if (rc == 0)
        rc = scan_choices(&s, choices, n_choices, out);
    entity_scan_close(&s);
    return rc;
}

int entity_find_all(const char *text, const struct tm *now, struct entity_list *out)
{
    static scan_fn *const all[] = {
        entity_scan_numbers, entity_scan_quantities, entity_scan_pitches, entity_scan_layers,
        entity_scan_money,   entity_scan_job_ids,    entity_scan_phones,  entity_scan_emails,
        entity_scan_addresses, entity_scan_persons,
    };
    if (!out || !now)
        return ERR_INVALID;
    struct scan s;
    int rc = entity_scan_open(&s, text), found = 0;
    for (size_t k = 0; rc >= 0 && k < sizeof all / sizeof all[0]; k++) {
        rc = all[k](&s, out);
        found += rc > 0 ? rc : 0;
    }
    if (rc >= 0)
        rc = entity_scan_datetimes(&s, now, out);
    entity_scan_close(&s);
    return rc < 0 ? rc : found + rc;
}
