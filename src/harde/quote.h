/* quote — prices a job from the price book, to the cent, as docs/PRICING.md fixes it.
 *
 * Every surface (chat tool, CLI, web page) prices through quote_compute, so a
 * job has one price everywhere. The request is validated whole first: every
 * problem is reported at once (missing fields in one message, each bad value
 * naming its field and the allowed range, unknown names listing the valid
 * choices), and a request with any problem yields no quote at all, so a
 * partial total can never be shown.
 *
 * The arithmetic is exact: book amounts are fixed-point integers (see
 * price_book.h) and each line is computed as one rational number, e.g. the
 * roof line as bundles x per_square x multiplier / 3, then rounded once to
 * cents, half away from zero; tax is rounded once on the subtotal. Only the
 * bundle count (a ceiling with the 1e-9 tolerance) and amortised financing
 * payments use floating point.
 *
 * The quote (a JSON object; quote_text.c renders it as a table) looks like:
 *   { "currency": "USD",
 *     "request":  the request, normalised: defaults filled in, names resolved to keys,
 *     "lines":    [ { "id", "label", "qty", "unit", "unit_price", "amount" }, ... ],
 *     "squares": 27.6667, "bundles": 83, "pitch_multiplier": 1.15,   (with a roof)
 *     "tax_rate": 0.0725, "subtotal": 21924.17, "tax": 1589.5, "total": 23513.67,
 *     "financing": [ { "name", "apr", "months", "monthly" }, ... ],
 *     "options":  [ { "tier", "material", "label", "selected", "subtotal", "tax", "total",
 *                     "financing" }, ... ] }      (good/better/best; empty without a roof)
 * Line ids are "roof", "tearoff", the item's key, and "permit". Money is a
 * JSON real holding a whole number of cents; dump it with QUOTE_JSON_FLAGS so
 * that it prints as 21924.17 and not as 21924.169999999998. */
#ifndef HARDE_HARDE_QUOTE_H
#define HARDE_HARDE_QUOTE_H

#include <jansson.h>
#include <stdio.h>

#include "harde/price_book.h"

#define QUOTE_MAX_REQUEST     (1024 * 1024)  /* bytes of request JSON */
#define QUOTE_MAX_ITEMS       100            /* entries in "items" */
#define QUOTE_MAX_AREA        100000.0       /* roof.area_sqft */
#define QUOTE_MAX_PITCH_RISE  24.0           /* roof.pitch_rise, rise per 12 */
#define QUOTE_MAX_LAYERS      3              /* roof.layers */
#define QUOTE_MAX_QTY         100000.0       /* items[].qty (at most 4 decimals) */
#define QUOTE_MAX_TOTAL_CENTS 100000000000LL /* 1,000,000,000.00: no quote is larger */

/* Flags for json_dumps/json_dumpf on anything holding a quote: 15 significant
 * digits print every amount with its cents and without binary noise. */
#define QUOTE_JSON_FLAGS JSON_REAL_PRECISION(15)

/* Prices request (borrowed) with book (borrowed).
 * 0 and *quote_out = a new quote object; or ERR_INVALID and *errors_out = a
 * new JSON array of strings, one per problem, each starting with the field
 * ("roof.layers: must be a whole number from 0 to 3 (got 5)"). Either out
 * pointer may be NULL when the caller does not want it; the other is set to
 * NULL. */
int quote_compute(const struct price_book *book, const json_t *request, json_t **quote_out,
                  json_t **errors_out);

/* Monthly payments on amount (in the book's currency) under every financing
 * plan of the book, by the formula of step 8: a new object
 * {"currency", "amount", "financing": [{name, apr, months, monthly}]}, or NULL
 * with *error a new message when amount is not positive or too large. */
json_t *quote_financing(const struct price_book *book, double amount, char **error);

/* A short plain-text table of a quote (borrowed) for terminals: the lines,
 * subtotal, tax, total, the financing plans and the Good/Better/Best options
 * with their monthly payments. New string. */
char *quote_format_text(const json_t *quote);

/* A short answer in words for a rep (total, Good/Better/Best, monthly
 * payments) followed by the text table in a Markdown code block. New string. */
char *quote_format_summary(const json_t *quote);
/* "On $23,000.00: $1,916.67 a month over 12 months (…) or …." for a
 * quote_financing result (borrowed). New string. */
char *quote_format_financing(const json_t *financing);

enum { QUOTE_CLI_TEXT = 1 }; /* quote_cli_run flags: print the text table, not JSON */

/* `harde quote [--book FILE] [REQUEST.json | -]`: loads the book at book_path
 * (NULL: the built-in sample book), reads the request from request_path ("-"
 * or NULL: from in), and prints the quote on out as JSON (2-space indent) or,
 * with QUOTE_CLI_TEXT, as the text table. Problems go to err, one per line,
 * prefixed "harde quote: ". Returns the exit code: 0 ok, 1 the book cannot be
 * read or is invalid, 2 the request cannot be read or is bad. */
int quote_cli_run(const char *book_path, const char *request_path, unsigned flags, FILE *in,
                  FILE *out, FILE *err);

#endif
