/* answer — composes a model-free answer from kb_search hits. See answer.h.
 *
 * Owns only the strings it builds. A passage's Markdown body is cut into
 * units: sentences of ordinary paragraphs, whole bullet items, whole
 * blockquotes (our scripts are written as quotes). A paragraph ending in ':'
 * that introduces a quote is joined to it, and is never quoted alone. Each
 * unit is scored by how many of the question's distinct word stems it holds
 * (kb_internal.h's light stemmer, tracked as a bitmask because a query has at
 * most KB_TERMS_MAX terms) plus a bonus that decays with its position, since
 * the playbook puts the key point first. The best passage contributes up to
 * four units, the others up to two, and only units that mention the question. */
#include "kb/answer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "kb/kb_internal.h"

#define MAX_UNITS        256 /* units taken from one passage */
#define FIRST_POINTS     4   /* points from the best passage */
#define OTHER_POINTS     2   /* points from each further passage */
#define OTHER_MIN_SCORE  0.5 /* a further passage needs this share of the best bm25 */
#define LEAD_TIE         0.9 /* hits this close to the best compete to lead */
#define OVERLAP_WEIGHT   2.0
#define SHORT_UNIT_BYTES 40
#define LONG_UNIT_BYTES  600 /* longer units are cut at a word and end in "…" */
#define SOURCE_SEPARATOR " › "

enum unit_kind { UNIT_SENTENCE, UNIT_BULLET, UNIT_QUOTE };

struct unit {
    char *text;
    enum unit_kind kind;
    bool lead_in; /* ends with ':' */
    int overlap;  /* question terms it holds */
    double score;
    bool picked;
};

struct units {
    struct unit items[MAX_UNITS];
    size_t count;
};

struct question {
    kb_term terms[KB_TERMS_MAX];
    size_t count;
};

/* ---- matching --------------------------------------------------------- */

/* Bit i set when question term i occurs (stemmed) in text. */
static uint32_t term_mask(const struct question *q, const char *text)
{
    uint32_t mask = 0;
    size_t pos = 0, len = strlen(text);
    kb_term word;
    while (kb_text_next_word(text, len, &pos, word) > 0) {
        if (kb_text_is_stop_word(word))
            continue;
        kb_text_stem(word);
        for (size_t i = 0; i < q->count; i++)
            if (strcmp(word, q->terms[i]) == 0)
                mask |= (uint32_t)1 << i;
    }
    return mask;
}

static int popcount(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* True when the passage holds more than half of the question's terms
 * (strict), or at least half. */
static bool is_relevant(const struct question *q, const struct kb_hit *hit, bool strict)
{
    uint32_t mask = term_mask(q, hit->heading) | term_mask(q, hit->text);
    size_t twice = 2 * (size_t)popcount(mask);
    return q->count > 0 && (strict ? twice > q->count : twice >= q->count);
}

/* ---- cutting a passage into units ------------------------------------- */

/* A new copy of s[0..len) without Markdown emphasis and with runs of
 * whitespace collapsed to one space. */
static char *clean_text(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '`' || (c == '*' && i + 1 < len && s[i + 1] == '*')) {
            i += c == '*';
            continue;
        }
        if (c == '\n' || c == '\t' || c == '\r')
            c = ' ';
        if (c == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return out;
}

static void add_unit(struct units *u, const char *s, size_t len, enum unit_kind kind)
{
    if (u->count == MAX_UNITS)
        return;
    char *text = clean_text(s, len);
    size_t n = strlen(text);
    if (n == 0) {
        free(text);
        return;
    }
    if (n > LONG_UNIT_BYTES) {
        size_t cut = LONG_UNIT_BYTES;
        while (cut > LONG_UNIT_BYTES / 2 && text[cut] != ' ')
            cut--;
        cut = kb_text_utf8_floor(text, n, cut);
        char *shorter = xasprintf("%.*s…", (int)cut, text);
        free(text);
        text = shorter;
        n = strlen(text);
    }
    struct unit *unit = &u->items[u->count++];
    unit->text = text;
    unit->kind = kind;
    unit->lead_in = text[n - 1] == ':';
    unit->overlap = 0;
    unit->score = 0.0;
    unit->picked = false;
}

static bool is_abbreviation(const char *p, size_t dot)
{
    static const char *const abbreviations[] = {"e.g", "i.e", "vs", "Mr", "Mrs",
                                                "Ms",  "Dr",  "St", "No", "approx"};
    size_t start = dot;
    while (start > 0 && p[start - 1] != ' ')
        start--;
    for (size_t i = 0; i < sizeof abbreviations / sizeof abbreviations[0]; i++) {
        size_t n = strlen(abbreviations[i]);
        if (dot - start == n && memcmp(p + start, abbreviations[i], n) == 0)
            return true;
    }
    return false;
}

/* True when a sentence may start at p[k]: a capital, a digit or a quote. */
static bool starts_sentence(const char *p, size_t len, size_t k)
{
    unsigned char c = (unsigned char)p[k];
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '"' || c == '\'' ||
           (c == 0xe2 && k + 1 < len); /* a curly quote or dash */
}

/* Length of closing quotes/brackets at p[j] (ASCII or a UTF-8 curly quote). */
static size_t closer_len(const char *p, size_t len, size_t j)
{
    if (p[j] == '"' || p[j] == '\'' || p[j] == ')')
        return 1;
    if (j + 2 < len && (unsigned char)p[j] == 0xe2 && (unsigned char)p[j + 1] == 0x80 &&
        ((unsigned char)p[j + 2] == 0x9d || (unsigned char)p[j + 2] == 0x99))
        return 3;
    return 0;
}

/* Tracks whether position j is inside a double quote: ASCII '"' toggles,
 * curly quotes open and close. Returns the bytes the quote mark occupies (0
 * when p[j] is not one). */
static size_t quote_mark(const char *p, size_t len, size_t j, bool *in_quote)
{
    if (p[j] == '"') {
        *in_quote = !*in_quote;
        return 1;
    }
    if (j + 2 < len && (unsigned char)p[j] == 0xe2 && (unsigned char)p[j + 1] == 0x80) {
        unsigned char c = (unsigned char)p[j + 2];
        if (c == 0x9c || c == 0x9d) {
            *in_quote = c == 0x9c;
            return 3;
        }
    }
    return 0;
}

/* Cuts a paragraph into sentences, never inside a quotation (scripts such as
 * "Can you cover my deductible? The other guy said he would" stay whole). */
static void split_sentences(struct units *u, const char *p, size_t len)
{
    size_t start = 0;
    bool in_quote = false;
    for (size_t i = 0; i < len; i++) {
        size_t mark = quote_mark(p, len, i, &in_quote);
        if (mark) {
            i += mark - 1;
            continue;
        }
        if (p[i] != '.' && p[i] != '!' && p[i] != '?')
            continue;
        bool quoted = in_quote;
        size_t j = i + 1, step;
        while (j < len && (step = closer_len(p, len, j)) > 0) {
            quote_mark(p, len, j, &quoted);
            j += step;
        }
        if (quoted || j >= len || p[j] != ' ' || (p[i] == '.' && is_abbreviation(p, i)))
            continue;
        size_t k = j;
        while (k < len && p[k] == ' ')
            k++;
        if (k >= len || !starts_sentence(p, len, k))
            continue;
        add_unit(u, p + start, j - start, UNIT_SENTENCE);
        in_quote = false;
        start = k;
        i = k - 1;
    }
    add_unit(u, p + start, len - start, UNIT_SENTENCE);
}

/* Length of a list marker ("- ", "* ", "+ ", "12. ", "3) ") at line start, or 0. */
static size_t bullet_marker(const char *line, size_t len)
{
    if (len >= 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+') && line[1] == ' ')
        return 2;
    size_t i = 0;
    while (i < len && i < 3 && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i > 0 && i + 1 < len && (line[i] == '.' || line[i] == ')') && line[i + 1] == ' ')
        return i + 2;
    return 0;
}

struct block {
    enum { BLOCK_NONE, BLOCK_PARAGRAPH, BLOCK_BULLET, BLOCK_QUOTE } kind;
    struct buf text;
};

static void flush_block(struct units *u, struct block *b)
{
    if (b->kind == BLOCK_PARAGRAPH)
        split_sentences(u, buf_str(&b->text), b->text.len);
    else if (b->kind == BLOCK_BULLET)
        add_unit(u, buf_str(&b->text), b->text.len, UNIT_BULLET);
    else if (b->kind == BLOCK_QUOTE)
        add_unit(u, buf_str(&b->text), b->text.len, UNIT_QUOTE);
    b->kind = BLOCK_NONE;
    buf_reset(&b->text);
}

static void add_line(struct units *u, struct block *b, const char *line, size_t len)
{
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    size_t marker = bullet_marker(line, len);
    if (len == 0 || line[0] == '|') {
        flush_block(u, b);
        return;
    }
    if (line[0] == '>') {
        if (b->kind != BLOCK_QUOTE)
            flush_block(u, b);
        b->kind = BLOCK_QUOTE;
        line++, len--;
    } else if (marker) {
        flush_block(u, b);
        b->kind = BLOCK_BULLET;
        line += marker, len -= marker;
    } else if (b->kind == BLOCK_NONE || b->kind == BLOCK_QUOTE) {
        flush_block(u, b);
        b->kind = BLOCK_PARAGRAPH;
    }
    if (b->text.len)
        buf_append_char(&b->text, ' ');
    buf_append(&b->text, line, len);
}

/* Joins a lead-in ("Say it like this:") with the quote that follows it. */
static void join_lead_ins(struct units *u)
{
    for (size_t i = 0; i + 1 < u->count; i++) {
        if (!u->items[i].lead_in || u->items[i + 1].kind != UNIT_QUOTE)
            continue;
        char *joined = xasprintf("%s %s", u->items[i].text, u->items[i + 1].text);
        free(u->items[i].text);
        free(u->items[i + 1].text);
        u->items[i].text = joined;
        u->items[i].kind = UNIT_QUOTE;
        u->items[i].lead_in = false;
        memmove(&u->items[i + 1], &u->items[i + 2], (u->count - i - 2) * sizeof u->items[0]);
        u->count--;
    }
}

static void cut_units(struct units *u, const char *text)
{
    struct block b = {BLOCK_NONE, {0}};
    bool in_fence = false;
    buf_init(&b.text, 0);
    u->count = 0;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        if (len >= 3 && (memcmp(text, "```", 3) == 0 || memcmp(text, "~~~", 3) == 0)) {
            flush_block(u, &b);
            in_fence = !in_fence;
        } else if (!in_fence) {
            add_line(u, &b, text, len);
        }
        text += len + (nl != NULL);
    }
    flush_block(u, &b);
    buf_free(&b.text);
    join_lead_ins(u);
}

static void free_units(struct units *u)
{
    for (size_t i = 0; i < u->count; i++)
        free(u->items[i].text);
    u->count = 0;
}

/* ---- choosing and writing points -------------------------------------- */

static void score_units(struct units *u, const struct question *q)
{
    for (size_t i = 0; i < u->count; i++) {
        struct unit *unit = &u->items[i];
        unit->overlap = popcount(term_mask(q, unit->text));
        unit->score = OVERLAP_WEIGHT * unit->overlap + 1.0 / (1.0 + (double)i);
        if (unit->kind != UNIT_SENTENCE)
            unit->score += 0.25;
        if (strlen(unit->text) < SHORT_UNIT_BYTES)
            unit->score -= 1.5; /* "Both lose the job." says little on its own */
    }
}

/* Marks up to max units, best score first, never a lead-in on its own (it
 * would end in ':' with nothing after it) and, when need_overlap, only units
 * that hold a question term and score like it. Returns how many were marked. */
static size_t pick_units(struct units *u, size_t max, bool need_overlap)
{
    size_t picked = 0;
    while (picked < max) {
        struct unit *best = NULL;
        for (size_t i = 0; i < u->count; i++) {
            struct unit *unit = &u->items[i];
            if (unit->picked || unit->lead_in)
                continue;
            if (need_overlap && (unit->overlap == 0 || unit->score < OVERLAP_WEIGHT))
                continue; /* off the question, or a short fragment that only grazes it */
            if (!best || unit->score > best->score)
                best = unit;
        }
        if (!best)
            break;
        best->picked = true;
        picked++;
    }
    return picked;
}

/* The last component of a heading path (borrowed, points into heading). */
static const char *section_name(const char *heading)
{
    const char *last = heading, *p = heading;
    while ((p = strstr(p, SOURCE_SEPARATOR)) != NULL) {
        p += strlen(SOURCE_SEPARATOR);
        last = p;
    }
    return last;
}

static const char *framing(const char *question)
{
    static const char *const asking[] = {"what", "why", "who", "which", "is",   "are",
                                         "does", "do",  "can", "when",  "where"};
    kb_term first;
    size_t pos = 0;
    if (question && kb_text_next_word(question, strlen(question), &pos, first) > 0)
        for (size_t i = 0; i < sizeof asking / sizeof asking[0]; i++)
            if (strcmp(first, asking[i]) == 0)
                return "Here's the short answer from our playbook:";
    return "Here's how we handle that:";
}

static const char not_found_text[] =
    "I don't have anything in our playbook that answers that. Try rephrasing it the way "
    "a homeowner would say it, or name the topic: for example \"price too high\", "
    "\"financing\", \"insurance deductible\" or \"primer video\".";

/* Appends the picked units of one passage; returns how many points were written. */
static size_t write_points(struct buf *out, const struct units *u, size_t room)
{
    size_t written = 0;
    for (size_t i = 0; i < u->count && written < room; i++) {
        if (!u->items[i].picked)
            continue;
        size_t mark = out->len;
        if (buf_printf(out, "- %s\n", u->items[i].text) != 0) {
            out->len = mark; /* over the limit: leave the point out */
            out->data[mark] = '\0';
            break;
        }
        written++;
    }
    return written;
}

/* Indexes of the passages to quote, at most KB_ANSWER_MAX_PASSAGES. The lead
 * passage is, among the relevant hits scoring within LEAD_TIE of the best
 * one, the one whose own section heading names most of the question: bm25
 * alone can put a short section that mentions "primer video" twice above
 * "What the Primer Video Is For". The others follow in score order and need
 * only half the question's words. */
static size_t choose_passages(const struct question *q, const struct kb_results *r, size_t *chosen)
{
    size_t limit = r->count < KB_ANSWER_SEARCH_K ? r->count : KB_ANSWER_SEARCH_K;
    size_t n = 0, lead = limit;
    double top = 0.0;
    int lead_terms = -1;
    for (size_t i = 0; i < limit; i++) {
        const struct kb_hit *hit = &r->hits[i];
        if (!is_relevant(q, hit, true))
            continue;
        if (lead == limit)
            top = hit->score;
        else if (hit->score < LEAD_TIE * top)
            break;
        int terms = popcount(term_mask(q, section_name(hit->heading)));
        if (terms > lead_terms) {
            lead = i;
            lead_terms = terms;
        }
    }
    if (lead == limit)
        return 0;
    chosen[n++] = lead;
    for (size_t i = 0; i < limit && n < KB_ANSWER_MAX_PASSAGES; i++) {
        if (i == lead || !is_relevant(q, &r->hits[i], false))
            continue;
        if (r->hits[i].score < OTHER_MIN_SCORE * top)
            break;
        chosen[n++] = i;
    }
    return n;
}

char *kb_answer_compose(const char *question, const struct kb_results *results, bool *found)
{
    struct question q;
    struct units *u = xcalloc(1, sizeof *u);
    struct buf out, sources;
    size_t chosen[KB_ANSWER_MAX_PASSAGES], points = 0, nsources = 0;
    q.count = kb_text_terms(question, q.terms, KB_TERMS_MAX, true);
    size_t n = q.count && results ? choose_passages(&q, results, chosen) : 0;
    buf_init(&out, KB_ANSWER_MAX_BYTES);
    buf_init(&sources, KB_ANSWER_MAX_BYTES);
    buf_printf(&out, "%s\n\n", framing(question));
    for (size_t i = 0; i < n && points < KB_ANSWER_MAX_POINTS; i++) {
        const struct kb_hit *hit = &results->hits[chosen[i]];
        cut_units(u, hit->text);
        score_units(u, &q);
        size_t room = KB_ANSWER_MAX_POINTS - points;
        pick_units(u, i == 0 ? FIRST_POINTS : OTHER_POINTS, i > 0);
        size_t written = write_points(&out, u, room);
        if (written) {
            points += written;
            buf_printf(&sources, "%s%s%s%s", nsources++ ? "; " : "", hit->source, SOURCE_SEPARATOR,
                       section_name(hit->heading));
        }
        free_units(u);
    }
    free(u);
    if (found)
        *found = points > 0;
    if (points == 0) {
        buf_free(&out);
        buf_free(&sources);
        return xstrdup(not_found_text);
    }
    char *text = xasprintf("%s\nSources: %s", buf_str(&out), buf_str(&sources));
    buf_free(&out);
    buf_free(&sources);
    return text;
}

int kb_answer(struct kb *kb, const char *question, char **out, bool *found, char *err,
              size_t errlen)
{
    struct kb_results results;
    *out = NULL;
    int rc = kb_search(kb, question, KB_ANSWER_SEARCH_K, &results, err, errlen);
    if (rc)
        return rc;
    *out = kb_answer_compose(question, &results, found);
    kb_results_free(&results);
    return 0;
}
