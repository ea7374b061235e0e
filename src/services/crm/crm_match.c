/* crm_match — ranking customers against a search text, shared by both
 * backends (the local CRM scores every candidate row; the Leap client
 * re-ranks what Leap's own search returned), so "Garcia" finds the same
 * customer first whichever CRM holds the book.
 *
 * Design: a query is either a number (four or more digits, no letters: a
 * phone, a ZIP or a house number) or words. Words are ANDed — every word must
 * hit some field — and scored per field with exact > prefix > inside, names
 * above email above address, so "smith" puts Smith before Smithers before a
 * Smith Rd. The weights live in one table-like function (word_score) and are
 * documented in crm_internal.h. ASCII case-folding only: names with accents
 * match when typed with the same accents. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r, strcasecmp */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "services/crm/crm_internal.h"

#define MATCH_MAX_WORDS 8
#define MATCH_WORD_MAX  64

static bool ci_eq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

static bool ci_prefix(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool ci_contains(const char *hay, const char *needle)
{
    if (!hay || !*needle)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

/* True when one of s's space-separated words equals word. */
static bool ci_has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ' ' && *end != ',')
            end++;
        if ((size_t)(end - p) == n && strncasecmp(p, word, n) == 0)
            return true;
        p = end;
    }
    return false;
}

static void digits_of(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; s && *s && n + 1 < outlen; s++)
        if (isdigit((unsigned char)*s))
            out[n++] = *s;
    out[n] = '\0';
}

/* A 10-digit US number without its leading country code. */
static const char *national(const char *digits)
{
    return strlen(digits) == 11 && digits[0] == '1' ? digits + 1 : digits;
}

static void better(int *best, const char **field, int score, const char *name)
{
    if (score > *best) {
        *best = score;
        *field = name;
    }
}

static int number_score(const struct crm_customer *c, const char *query, const char **matched)
{
    char qd[32], pd[32];
    digits_of(query, qd, sizeof qd);
    digits_of(c->phone, pd, sizeof pd);
    const char *q = national(qd), *p = national(pd);
    size_t qn = strlen(q), pn = strlen(p);
    int best = 0;
    if (pn && strcmp(q, p) == 0)
        better(&best, matched, 100, "phone");
    else if (pn >= qn && strcmp(p + pn - qn, q) == 0)
        better(&best, matched, 80, "phone");
    else if (strstr(p, q))
        better(&best, matched, 60, "phone");
    if (qn == 5 && c->zip && strncmp(c->zip, q, 5) == 0)
        better(&best, matched, 70, "zip");
    if (c->street && strncmp(c->street, q, qn) == 0 && c->street[qn] == ' ')
        better(&best, matched, 50, "address");
    return best;
}

static int word_score(const struct crm_customer *c, const char *w, const char **field)
{
    int best = 0;
    if (ci_eq(c->last_name, w))
        better(&best, field, 40, "name");
    else if (ci_prefix(c->last_name, w))
        better(&best, field, 25, "name");
    if (ci_eq(c->first_name, w))
        better(&best, field, 30, "name");
    else if (ci_prefix(c->first_name, w))
        better(&best, field, 20, "name");
    if (ci_contains(c->first_name, w) || ci_contains(c->last_name, w))
        better(&best, field, 12, "name");
    if (ci_eq(c->email, w))
        better(&best, field, 45, "email");
    else if (ci_prefix(c->email, w))
        better(&best, field, 15, "email");
    else if (ci_contains(c->email, w))
        better(&best, field, 10, "email");
    if (ci_eq(c->zip, w))
        better(&best, field, 20, "zip");
    if (c->street && ci_has_word(c->street, w))
        better(&best, field, 12, "address");
    else if (ci_contains(c->street, w))
        better(&best, field, 10, "address");
    if (ci_eq(c->city, w))
        better(&best, field, 10, "address");
    else if (ci_prefix(c->city, w))
        better(&best, field, 6, "address");
    if (ci_eq(c->state, w))
        better(&best, field, 3, "address");
    return best;
}

/* Splits query into at most MATCH_MAX_WORDS words; returns how many. */
static size_t split_words(const char *query, char words[][MATCH_WORD_MAX])
{
    size_t n = 0;
    const char *p = query;
    while (*p && n < MATCH_MAX_WORDS) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        size_t len = 0;
        while (p[len] && !isspace((unsigned char)p[len]) && p[len] != ',')
            len++;
        if (!len)
            break;
        if (len >= MATCH_WORD_MAX)
            len = MATCH_WORD_MAX - 1;
        memcpy(words[n], p, len);
        words[n][len] = '\0';
        n++;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
            p++;
    }
    return n;
}

static bool is_number_query(const char *query)
{
    int digits = 0;
    for (const char *p = query; *p; p++) {
        if (isalpha((unsigned char)*p))
            return false;
        digits += isdigit((unsigned char)*p) != 0;
    }
    return digits >= 4;
}

int crm_match(const struct crm_customer *c, const char *query, const char **matched)
{
    const char *field = NULL;
    int total = 0;
    if (is_number_query(query)) {
        total = number_score(c, query, &field);
    } else {
        char words[MATCH_MAX_WORDS][MATCH_WORD_MAX];
        size_t n = split_words(query, words);
        int top = 0;
        for (size_t i = 0; i < n; i++) {
            const char *f = NULL;
            int s = word_score(c, words[i], &f);
            if (s == 0) {
                total = 0;
                field = NULL;
                break;
            }
            total += s;
            better(&top, &field, s, f);
        }
        if (total > 0 && n == 2 && ci_eq(c->first_name, words[0]) && ci_eq(c->last_name, words[1]))
            total += 30;
    }
    if (matched)
        *matched = total > 0 ? field : NULL;
    return total;
}

static int cmp_str(const char *a, const char *b)
{
    return strcasecmp(a ? a : "", b ? b : "");
}

static int cmp_hits(const void *pa, const void *pb)
{
    const struct crm_hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    int c = cmp_str(a->customer.last_name, b->customer.last_name);
    if (c == 0)
        c = cmp_str(a->customer.first_name, b->customer.first_name);
    if (c == 0 && a->customer.id != b->customer.id)
        c = a->customer.id < b->customer.id ? -1 : 1;
    return c;
}

void crm_hits_rank(struct crm_hits *hits, size_t limit)
{
    if (hits->count > 1)
        qsort(hits->items, hits->count, sizeof hits->items[0], cmp_hits);
    while (hits->count > limit)
        crm_customer_free(&hits->items[--hits->count].customer);
}
