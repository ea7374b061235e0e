/* text — words, stop words, a light stemmer and UTF-8 checks for the kb room.
 *
 * Owns nothing: every function works on caller memory. The word scanner
 * decodes UTF-8 strictly so that hostile or broken input (a 10 KB query, a
 * stray 0xff byte, curly quotes) can only ever produce plain words, which kb.c
 * then quotes into an FTS5 expression that cannot be a syntax error. The stop
 * word list is a sorted table searched with bsearch. See kb_internal.h. */
#include "kb/kb_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Sorted (strcmp order): checked by kb_text_is_stop_word's bsearch. Besides
 * the usual English function words it holds the filler of a rep's question
 * ("tell", "want", "customer's" -> "s"); "say" is kept on purpose, because it finds
 * the "What to Say" sections reps are asking for and the pieces unicode61 makes
 * of contractions ("don", "t", "ll"). */
static const char *const stop_words[] = {
    "a",       "about",     "above",      "again",  "against", "all",        "also",    "am",
    "an",      "and",       "any",        "are",    "aren",    "around",     "as",      "at",
    "be",      "because",   "been",       "being",  "below",   "between",    "both",    "but",
    "by",      "can",       "cannot",     "could",  "couldn",  "d",          "did",     "didn",
    "do",      "does",      "doesn",      "doing",  "don",     "down",       "each",    "even",
    "ever",    "few",       "for",        "from",   "further", "get",        "gets",    "getting",
    "go",      "goes",      "going",      "got",    "had",     "hadn",       "has",     "hasn",
    "have",    "haven",     "having",     "he",     "hello",   "her",        "here",    "hers",
    "herself", "hey",       "hi",         "him",    "himself", "his",        "how",     "i",
    "if",      "im",        "in",         "into",   "is",      "isn",        "it",      "its",
    "itself",  "just",      "know",       "let",    "lets",    "like",       "ll",      "m",
    "maybe",   "me",        "might",      "more",   "most",    "much",       "must",    "my",
    "myself",  "no",        "nor",        "not",    "now",     "o",          "of",      "off",
    "ok",      "okay",      "on",         "once",   "only",    "or",         "other",   "others",
    "our",     "ours",      "ourselves",  "out",    "over",    "own",        "please",  "re",
    "really",  "s",         "said",       "same",   "shall",   "she",        "should",  "so",
    "some",    "something", "such",       "t",      "tell",    "tells",      "than",    "that",
    "thats",   "the",       "their",      "theirs", "them",    "themselves", "then",    "there",
    "these",   "they",      "thing",      "things", "this",    "those",      "through", "to",
    "too",     "under",     "until",      "up",     "us",      "ve",         "very",    "want",
    "wants",   "was",       "wasn",       "we",     "went",    "were",       "weren",   "what",
    "whats",   "when",      "where",      "which",  "while",   "who",        "whom",    "why",
    "will",    "with",      "won",        "would",  "wouldn",  "y",          "you",     "your",
    "yours",   "yourself",  "yourselves",
};

/* Decodes one UTF-8 character at s[i]; returns its length (1-4) and sets *cp,
 * or 0 when the bytes there are not well-formed UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = s[i];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len - i < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Non-ASCII code points that separate words rather than belong to them. */
static bool is_separator_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
           (cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x2190 && cp <= 0x2bff) ||
           (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp == 0xfeff;
}

/* Length of the word character at s[i] (0 when s[i] starts a separator or an
 * invalid sequence); *skip is the number of bytes to step over either way. */
static size_t word_char(const unsigned char *s, size_t len, size_t i, size_t *skip)
{
    uint32_t cp;
    size_t n = utf8_decode(s, len, i, &cp);
    if (n == 0) {
        *skip = 1;
        return 0;
    }
    *skip = n;
    if (cp < 0x80) {
        bool alnum =
            (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
        return alnum ? 1 : 0;
    }
    return is_separator_cp(cp) ? 0 : n;
}

size_t kb_text_next_word(const char *text, size_t len, size_t *pos, kb_term word)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = *pos;
    while (i < len) {
        size_t skip, wlen = 0, start;
        while (i < len && word_char(s, len, i, &skip) == 0)
            i += skip;
        if (i >= len)
            break;
        start = i;
        while (i < len && word_char(s, len, i, &skip) > 0)
            i += skip;
        wlen = i - start;
        if (wlen > KB_TERM_MAX)
            continue; /* too long to be a real word: skip it */
        for (size_t k = 0; k < wlen; k++) {
            unsigned char c = s[start + k];
            word[k] = (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
        }
        word[wlen] = '\0';
        *pos = i;
        return wlen;
    }
    *pos = len;
    word[0] = '\0';
    return 0;
}

static int cmp_stop(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

bool kb_text_is_stop_word(const char *word)
{
    return bsearch(word, stop_words, sizeof stop_words / sizeof stop_words[0], sizeof stop_words[0],
                   cmp_stop) != NULL;
}

static bool ends_with(const char *w, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n > m && memcmp(w + n - m, suffix, m) == 0;
}

void kb_text_stem(char *word)
{
    size_t n = strlen(word);
    if (n <= 3)
        return;
    if (ends_with(word, n, "ies") && n > 4) {
        memcpy(word + n - 3, "y", 2);
        n -= 2;
    } else if (ends_with(word, n, "sses")) {
        word[n -= 2] = '\0';
    } else if (word[n - 1] == 's' && word[n - 2] != 's' && word[n - 2] != 'u') {
        word[--n] = '\0';
    }
    if (n > 5 && ends_with(word, n, "ing"))
        word[n -= 3] = '\0';
    else if (n > 4 && ends_with(word, n, "ed"))
        word[n -= 2] = '\0';
    else if (n > 4 && ends_with(word, n, "ly"))
        word[n -= 2] = '\0';
    if (n > 4 && word[n - 1] == 'e')
        word[--n] = '\0';
    if (n > 4 && word[n - 1] == word[n - 2] && word[n - 1] != 'l' && word[n - 1] != 's')
        word[--n] = '\0'; /* "shopp(ing)" -> "shop" */
}

size_t kb_text_terms(const char *text, kb_term *terms, size_t max, bool stem)
{
    size_t count = 0, pos = 0, len = text ? strlen(text) : 0;
    kb_term word;
    while (count < max && kb_text_next_word(text, len, &pos, word) > 0) {
        if (kb_text_is_stop_word(word))
            continue;
        if (stem)
            kb_text_stem(word);
        bool seen = false;
        for (size_t k = 0; k < count && !seen; k++)
            seen = strcmp(terms[k], word) == 0;
        if (!seen)
            memcpy(terms[count++], word, sizeof(kb_term));
    }
    return count;
}

bool kb_text_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(u, len, i, &cp);
        if (n == 0) {
            if (bad_offset)
                *bad_offset = i;
            return false;
        }
        i += n;
    }
    return true;
}

size_t kb_text_utf8_floor(const char *s, size_t len, size_t n)
{
    if (n >= len)
        return len;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}
