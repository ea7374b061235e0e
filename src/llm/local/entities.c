/* entities — the token scanner, numbers and the public entry points.
 * Measurements (quantities, pitch, layers, money, job ids) live in
 * entities_measure.c, yes/no answers and enum choices in entities_words.c,
 * contacts (phones, emails, addresses, names) in entities_contact.c and dates
 * in entities_time.c; all share the scanner of entities_internal.h.
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
    static const char *const names[] = {"number", "area",   "length",   "count",  "pitch",
                                        "layers", "money",  "phone",    "email",  "address",
                                        "person", "job_id", "datetime", "answer", "choice"};
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
    {"zero", 0},     {"one", 1},      {"two", 2},        {"three", 3},     {"four", 4},
    {"five", 5},     {"six", 6},      {"seven", 7},      {"eight", 8},     {"nine", 9},
    {"ten", 10},     {"eleven", 11},  {"twelve", 12},    {"thirteen", 13}, {"fourteen", 14},
    {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17}, {"eighteen", 18}, {"nineteen", 19},
    {"twenty", 20},  {"thirty", 30},  {"forty", 40},     {"fifty", 50},    {"sixty", 60},
    {"seventy", 70}, {"eighty", 80},  {"ninety", 90},    {NULL, 0},
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

bool entity_scan_number_starts(const struct scan *s, size_t i)
{
    if (!entity_scan_glued(s, i))
        return true;
    if (entity_scan_word(s, i - 1))
        return entity_scan_is(s, i - 1, "x");
    return s->tok[i - 1].type == SCAN_PUNCT;
}

struct entity *entity_scan_push_number(const struct scan *s, struct entity_list *out,
                                       enum entity_kind kind, const struct scan_number *n,
                                       size_t next)
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
        if (entity_scan_number_starts(s, i) && entity_scan_number(s, i, &n)) {
            if (!entity_scan_push_number(s, out, ENTITY_NUMBER, &n, n.next))
                return ERR_LIMIT;
            found++;
            i = n.next;
        } else {
            i++;
        }
    }
    return found;
}

static const char *const negators[] = {
    "no",     "not",       "without", "skip",    "skipping", "don't",   "dont", "doesn't", "isn't",
    "aren't", "won't",     "never",   "minus",   "except",   "remove",  "drop", "nix",     "forget",
    "cancel", "excluding", "exclude", "instead", "rather",   "nothing", NULL};

static bool negator_at(const struct scan *s, size_t k)
{
    if (entity_scan_in(s, k, negators))
        return true;
    size_t n = entity_scan_tok_len(s, k);
    return entity_scan_word(s, k) && n > 3 && memcmp(s->norm + s->tok[k].end - 3, "n't", 3) == 0;
}

size_t entity_scan_negated_before(const struct scan *s, size_t i, int window)
{
    static const char *const clause_ends[] = {"and",  "but",  "or", "plus", "with",
                                              "also", "then", "so", NULL};
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

/* ---- public entry points ---- */

int entity_scan_run(const char *text, struct entity_list *out, entity_scan_fn *fn)
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
    return entity_scan_run(text, out, entity_scan_numbers);
}

int entity_find_quantities(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_quantities);
}

int entity_find_pitches(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_pitches);
}

int entity_find_layers(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_layers);
}

int entity_find_money(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_money);
}

int entity_find_phones(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_phones);
}

int entity_find_emails(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_emails);
}

int entity_find_addresses(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_addresses);
}

int entity_find_persons(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_persons);
}

int entity_find_job_ids(const char *text, struct entity_list *out)
{
    return entity_scan_run(text, out, entity_scan_job_ids);
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

int entity_find_all(const char *text, const struct tm *now, struct entity_list *out)
{
    static entity_scan_fn *const all[] = {
        entity_scan_numbers,   entity_scan_quantities, entity_scan_pitches, entity_scan_layers,
        entity_scan_money,     entity_scan_job_ids,    entity_scan_phones,  entity_scan_emails,
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
