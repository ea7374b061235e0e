/* kb_internal — text helpers shared inside the kb room (not a public contract).
 *
 * kb.c (query sanitising, import validation) and answer.c (sentence scoring)
 * must agree on what a "word" is, which words carry no meaning and how UTF-8 is
 * checked, so those rules live once here. A word is a run of ASCII letters and
 * digits or non-ASCII letters; ASCII punctuation, Latin-1 and General
 * Punctuation symbols (curly quotes, dashes, ellipsis) and invalid bytes all
 * separate words. Words are lower-cased (ASCII only; FTS5's unicode61 folds the
 * rest). The stemmer is deliberately light: it only has to map a question's
 * word and a passage's word to the same key, not to be linguistically right. */
#ifndef HARDE_KB_INTERNAL_H
#define HARDE_KB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Longest word kept, in bytes; longer words are skipped (they match nothing). */
#define KB_TERM_MAX 64
/* Most distinct terms taken from one query. */
#define KB_TERMS_MAX 32

typedef char kb_term[KB_TERM_MAX + 1];

/* Scans text[*pos..len) for the next word of at most KB_TERM_MAX bytes, copies
 * it lower-cased into word (NUL-terminated) and advances *pos past it. Returns
 * the word's length, or 0 when the text is exhausted. */
size_t kb_text_next_word(const char *text, size_t len, size_t *pos, kb_term word);
/* True for words that carry no meaning in a question ("the", "what", "want"). */
bool kb_text_is_stop_word(const char *word);
/* Light suffix stripping in place ("financing" -> "financ", "quotes" -> "quot"). */
void kb_text_stem(char *word);
/* The distinct non-stop words of text, in order, at most max (stemmed when
 * stem is true). Returns how many were written to terms. */
size_t kb_text_terms(const char *text, kb_term *terms, size_t max, bool stem);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF); otherwise false with *bad_offset (may be NULL)
 * set to the first offending byte. */
bool kb_text_utf8_valid(const char *s, size_t len, size_t *bad_offset);
/* The largest n' <= n such that s[0..n') ends on a UTF-8 character boundary. */
size_t kb_text_utf8_floor(const char *s, size_t len, size_t n);

#endif
