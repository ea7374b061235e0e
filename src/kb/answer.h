/* answer — an offline answer to a sales question, composed from playbook passages.
 *
 * Used when no language model is configured (or to ground one): the best 1-3
 * passages from kb_search are cut into sentences, bullets and quoted scripts;
 * those that share the most words with the question, earlier ones preferred,
 * are quoted in their original order under a one-line framing in the Sales
 * Director's voice, followed by "Sources: file.md › Section; ...". Nothing is
 * invented: every point is text from a passage. When no passage covers enough
 * of the question's words the answer says so and suggests rephrasing. */
#ifndef HARDE_KB_ANSWER_H
#define HARDE_KB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "kb/kb.h"

/* A passage is relevant when its heading and body together hold more than
 * half of the question's distinct non-stop words (all of them for a one- or
 * two-word question), so "weather in Tokyo" does not get an answer about
 * storm weather. */
#define KB_ANSWER_MAX_PASSAGES 3    /* passages quoted in one answer */
#define KB_ANSWER_MAX_POINTS   6    /* points quoted in one answer */
#define KB_ANSWER_MAX_BYTES    4096 /* the whole answer */
#define KB_ANSWER_SEARCH_K     8    /* hits kb_answer asks kb_search for */

/* Composes the answer to question from results (best first, as kb_search
 * returns them). Returns a new string (never NULL); *found (may be NULL) is
 * set true when the answer quotes the playbook, false when it says nothing
 * relevant was found. */
char *kb_answer_compose(const char *question, const struct kb_results *results, bool *found);

/* Searches kb for question and composes the answer. 0 and *out set to a new
 * string (and *found as above; may be NULL), or a negative ERR_* code with
 * err filled. */
int kb_answer(struct kb *kb, const char *question, char **out, bool *found, char *err,
              size_t errlen);

#endif
