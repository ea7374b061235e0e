/* entities_internal — the token scanner the recognisers of entities*.c share.
 *
 * Not a contract for anyone outside src/llm/local/entities*.c. A scan holds a
 * normalised copy of the text (ASCII lower case; ’ ‘ → ', “ ” → ", – — → -,
 * no-break space → space) with a map from every normalised byte back to the
 * original, and the tokens of that copy: words (letters, digits after the
 * first letter, inner apostrophes; bytes >= 0x80 count as letters), numbers
 * (digits with 3-digit comma groups and one decimal part) and single
 * punctuation characters. Token offsets are into the normalised copy. */
#ifndef HARDE_LLM_LOCAL_ENTITIES_INTERNAL_H
#define HARDE_LLM_LOCAL_ENTITIES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "llm/local/entities.h"

enum scan_token_type { SCAN_WORD, SCAN_NUM, SCAN_PUNCT };

struct scan_token {
    enum scan_token_type type;
    size_t start, end; /* in scan.norm */
    bool space_before; /* whitespace (or the text start) precedes it */
    bool cap;          /* the original starts with an upper-case ASCII letter */
    bool all_caps;     /* every letter of the original is upper case */
};

struct scan {
    const char *text; /* the original (borrowed) */
    char *norm;       /* normalised copy (new) */
    size_t *map;      /* norm offset → text offset, len + 1 entries (new) */
    size_t len;       /* bytes in norm */
    struct scan_token *tok;
    size_t n_tok;
};

/* 0, ERR_INVALID (NULL) or ERR_LIMIT (longer than ENTITY_TEXT_LIMIT). */
int entity_scan_open(struct scan *s, const char *text);
void entity_scan_close(struct scan *s);

/* Token i is the word, number or punctuation exactly equal to lower-case w
 * (false past the end). */
bool entity_scan_is(const struct scan *s, size_t i, const char *w);
/* Token i equals one of the NULL-terminated words. */
bool entity_scan_in(const struct scan *s, size_t i, const char *const *words);
/* Token i is a word / a number / that punctuation character. */
bool entity_scan_word(const struct scan *s, size_t i);
bool entity_scan_num(const struct scan *s, size_t i);
bool entity_scan_punct(const struct scan *s, size_t i, char c);
/* Bytes of token i (0 past the end). */
size_t entity_scan_tok_len(const struct scan *s, size_t i);
/* Token i glued to i-1 (no whitespace between). */
bool entity_scan_glued(const struct scan *s, size_t i);
/* Matches a phrase of space-separated words ("sq ft", "go ahead") at token i,
 * allowing '.' after a word and '-' between words; returns the index after
 * the phrase, or 0 when it does not match. */
size_t entity_scan_phrase(const struct scan *s, size_t i, const char *phrase);
/* Tries each NULL-terminated phrase in order; index after the first that
 * matches, or 0. */
size_t entity_scan_phrases(const struct scan *s, size_t i, const char *const *phrases);

/* A number starting at token i. */
struct scan_number {
    double value;
    size_t first, next; /* tokens [first, next) */
    bool digits;        /* written with digits (not words) */
    bool integral;      /* a whole number */
    bool suffixed;      /* "2.4k", "1.2m" */
    size_t n_digits;    /* digits before any decimal point (digit numbers) */
};
bool entity_scan_number(const struct scan *s, size_t i, struct scan_number *out);

/* A number may start at token i: not glued to a word before it ("J1042",
 * "ft2"), except the "x" of "x2". */
bool entity_scan_number_starts(const struct scan *s, size_t i);
/* Appends an entity of kind for number n spanning tokens [n->first, next),
 * value and norm set; NULL when the list is full. */
struct entity *entity_scan_push_number(const struct scan *s, struct entity_list *out,
                                       enum entity_kind kind, const struct scan_number *n,
                                       size_t next);
/* A negation ("no", "without", "don't", "instead" …) in the clause before
 * token i, at most window tokens back (a comma, "and", "but" … end the
 * clause); returns its index + 1, or 0. */
size_t entity_scan_negated_before(const struct scan *s, size_t i, int window);

/* Appends an entity spanning tokens [first, next); NULL when the list is full. */
struct entity *entity_scan_push(const struct scan *s, struct entity_list *out,
                                enum entity_kind kind, size_t first, size_t next);
/* Original byte offsets of token i's start / end. */
size_t entity_scan_start(const struct scan *s, size_t i);
size_t entity_scan_end(const struct scan *s, size_t i);
/* Copies the normalised text of token i into out (bounded, NUL-terminated). */
void entity_scan_copy(const struct scan *s, size_t i, char *out, size_t outlen);
/* "skylights" → "skylight", "gutters" → "gutter", "glass" stays: in place. */
void entity_singular(char *word);
/* Formats a number without trailing zeros ("2400", "2.5"). */
void entity_format_number(double v, char *out, size_t outlen);

typedef int entity_scan_fn(const struct scan *s, struct entity_list *out);
/* Opens a scan of text, runs fn over it, closes it: fn's result, or the
 * scan's ERR_INVALID / ERR_LIMIT. */
int entity_scan_run(const char *text, struct entity_list *out, entity_scan_fn *fn);

/* The recognisers over an open scan (entities.c, entities_measure.c,
 * entities_contact.c, entities_time.c). */
int entity_scan_numbers(const struct scan *s, struct entity_list *out);
int entity_scan_quantities(const struct scan *s, struct entity_list *out);
int entity_scan_pitches(const struct scan *s, struct entity_list *out);
int entity_scan_layers(const struct scan *s, struct entity_list *out);
int entity_scan_money(const struct scan *s, struct entity_list *out);
int entity_scan_job_ids(const struct scan *s, struct entity_list *out);
int entity_scan_phones(const struct scan *s, struct entity_list *out);
int entity_scan_emails(const struct scan *s, struct entity_list *out);
int entity_scan_addresses(const struct scan *s, struct entity_list *out);
int entity_scan_persons(const struct scan *s, struct entity_list *out);
int entity_scan_datetimes(const struct scan *s, const struct tm *now, struct entity_list *out);

#endif
