/* entities_words — answers and choices: whether a message says yes, no or
 * "maybe", and which values of an enumeration it mentions.
 *
 * Owns nothing beyond a call. Answers are a table of phrases checked at each
 * token, hedges first ("not sure" before "not"). Choices compare an alias's
 * words, singular and glued together ("3-Tab shingles" → "3tabshingle"),
 * with the text's tokens glued the same way, so hyphens, spaces and plurals
 * do not matter; the longest alias wins where mentions overlap, and a
 * negation earlier in the clause ("no gutters") marks a mention negated. */
#include "llm/local/entities.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "llm/local/entities_internal.h"

/* ---- yes / no ---- */

struct answer_phrase {
    const char *phrase;
    enum entity_answer answer;
};

/* Checked in order at each token: hedges first, then phrases that contain a
 * yes or no word but mean the other ("no problem", "not correct"). */
static const struct answer_phrase answer_phrases[] = {
    {"i'm not sure", ENTITY_ANSWER_AMBIGUOUS},
    {"im not sure", ENTITY_ANSWER_AMBIGUOUS},
    {"not sure", ENTITY_ANSWER_AMBIGUOUS},
    {"i guess", ENTITY_ANSWER_AMBIGUOUS},
    {"i suppose", ENTITY_ANSWER_AMBIGUOUS},
    {"i think so", ENTITY_ANSWER_AMBIGUOUS},
    {"i don't know", ENTITY_ANSWER_AMBIGUOUS},
    {"i dont know", ENTITY_ANSWER_AMBIGUOUS},
    {"don't know", ENTITY_ANSWER_AMBIGUOUS},
    {"dont know", ENTITY_ANSWER_AMBIGUOUS},
    {"idk", ENTITY_ANSWER_AMBIGUOUS},
    {"dunno", ENTITY_ANSWER_AMBIGUOUS},
    {"maybe", ENTITY_ANSWER_AMBIGUOUS},
    {"perhaps", ENTITY_ANSWER_AMBIGUOUS},
    {"possibly", ENTITY_ANSWER_AMBIGUOUS},
    {"probably", ENTITY_ANSWER_AMBIGUOUS},
    {"kind of", ENTITY_ANSWER_AMBIGUOUS},
    {"sort of", ENTITY_ANSWER_AMBIGUOUS},
    {"kinda", ENTITY_ANSWER_AMBIGUOUS},
    {"sorta", ENTITY_ANSWER_AMBIGUOUS},
    {"let me think", ENTITY_ANSWER_AMBIGUOUS},
    {"no problem", ENTITY_ANSWER_YES},
    {"no worries", ENTITY_ANSWER_YES},
    {"why not", ENTITY_ANSWER_YES},
    {"not yet", ENTITY_ANSWER_NO},
    {"not now", ENTITY_ANSWER_NO},
    {"hold on", ENTITY_ANSWER_NO},
    {"hold off", ENTITY_ANSWER_NO},
    {"hang on", ENTITY_ANSWER_NO},
    {"never mind", ENTITY_ANSWER_NO},
    {"not correct", ENTITY_ANSWER_NO},
    {"not right", ENTITY_ANSWER_NO},
    {"that's wrong", ENTITY_ANSWER_NO},
    {"thats wrong", ENTITY_ANSWER_NO},
    {"go ahead", ENTITY_ANSWER_YES},
    {"go for it", ENTITY_ANSWER_YES},
    {"do it", ENTITY_ANSWER_YES},
    {"sounds good", ENTITY_ANSWER_YES},
    {"looks good", ENTITY_ANSWER_YES},
    {"that's right", ENTITY_ANSWER_YES},
    {"thats right", ENTITY_ANSWER_YES},
    {"of course", ENTITY_ANSWER_YES},
    {"please do", ENTITY_ANSWER_YES},
    {"send it", ENTITY_ANSWER_YES},
    {"nevermind", ENTITY_ANSWER_NO},
    {"no", ENTITY_ANSWER_NO},
    {"nope", ENTITY_ANSWER_NO},
    {"nah", ENTITY_ANSWER_NO},
    {"wait", ENTITY_ANSWER_NO},
    {"stop", ENTITY_ANSWER_NO},
    {"cancel", ENTITY_ANSWER_NO},
    {"don't", ENTITY_ANSWER_NO},
    {"dont", ENTITY_ANSWER_NO},
    {"negative", ENTITY_ANSWER_NO},
    {"wrong", ENTITY_ANSWER_NO},
    {"incorrect", ENTITY_ANSWER_NO},
    {"yes", ENTITY_ANSWER_YES},
    {"yeah", ENTITY_ANSWER_YES},
    {"yea", ENTITY_ANSWER_YES},
    {"yep", ENTITY_ANSWER_YES},
    {"yup", ENTITY_ANSWER_YES},
    {"ya", ENTITY_ANSWER_YES},
    {"sure", ENTITY_ANSWER_YES},
    {"correct", ENTITY_ANSWER_YES},
    {"right", ENTITY_ANSWER_YES},
    {"ok", ENTITY_ANSWER_YES},
    {"okay", ENTITY_ANSWER_YES},
    {"confirm", ENTITY_ANSWER_YES},
    {"confirmed", ENTITY_ANSWER_YES},
    {"affirmative", ENTITY_ANSWER_YES},
    {"absolutely", ENTITY_ANSWER_YES},
    {"definitely", ENTITY_ANSWER_YES},
    {"perfect", ENTITY_ANSWER_YES},
    {"exactly", ENTITY_ANSWER_YES},
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
            if (j + 1 < s->n_tok && !s->tok[j + 1].space_before && s->tok[j + 1].type != SCAN_PUNCT)
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
    static const char *const after[] = {"not needed",    "not required", "not included",
                                        "not necessary", "not wanted",   "isn't needed",
                                        "aren't needed", "none",         NULL};
    if (entity_scan_punct(s, j, ':') || entity_scan_is(s, j, "is") || entity_scan_is(s, j, "are"))
        j++;
    return entity_scan_phrases(s, j, after) != 0;
}

static int scan_choices(const struct scan *s, const struct entity_choice *choices, size_t n_choices,
                        struct entity_list *out)
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
        e->negated = entity_scan_negated_before(s, best.first, 4) || negated_after(s, best.next);
        found++;
        i = best.next;
    }
    return found;
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
    return entity_scan_run(text, out, scan_answer_entity);
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
