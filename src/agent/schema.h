/* schema — JSON Schema validation of tool arguments.
 *
 * Tools describe their arguments with a JSON Schema; the model's arguments are
 * checked against it before the tool runs, and every violation is reported at
 * once, in words a model can act on, with a dotted path to the bad value:
 *
 *   roof.pitch_rise: must be at most 24 (got 30)
 *   missing required property "area_sqft"
 *   unknown property "colour" (allowed: "color", "size")
 *
 * The subset tool schemas use is supported: type (one name or an array of
 * names), properties, required, additionalProperties (false or a schema),
 * enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 * minLength, maxLength, pattern (ECMA escapes \d \w \s translated to POSIX;
 * a pattern beyond that subset is not enforced), items, minItems, maxItems,
 * nested to any depth. Annotations (description, title, default, examples,
 * format) are ignored. Combinators and references (anyOf, oneOf, allOf, not,
 * $ref) are refused by schema_check so that nobody believes they are enforced.
 *
 * Tools are static data, so each schema text is parsed and checked once per
 * process and kept in a small thread-safe cache (schema_cache_get). */
#ifndef HARDE_AGENT_SCHEMA_H
#define HARDE_AGENT_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

/* At most this many violations are listed; the rest are counted. */
#define SCHEMA_MAX_ERRORS 16
/* Violations in one list are separated by this. */
#define SCHEMA_ERROR_SEPARATOR "; "

/* Checks that schema is a sane object schema (a JSON object with "type":
 * "object", well-formed keywords all the way down). Returns 0, or
 * ERR_INVALID with the first problem written to err ("properties.roof.minimum:
 * must be a number"). */
int schema_check(const json_t *schema, char *err, size_t errlen);

/* Validates instance against schema (borrowed; assumed to have passed
 * schema_check). Returns 0 when it conforms, or ERR_INVALID after appending
 * every violation to errors (separated by SCHEMA_ERROR_SEPARATOR, at most
 * SCHEMA_MAX_ERRORS, then "and N more"). */
int schema_validate(const json_t *schema, const json_t *instance, struct buf *errors);

/* The parsed and checked schema for text, parsed the first time this text is
 * seen and cached for the life of the process (keyed by the text pointer and
 * verified by content, so a reused pointer with new text is parsed again).
 * Returns a new reference (json_decref it), or NULL with err filled when the
 * text is not JSON or fails schema_check. Thread-safe. */
json_t *schema_cache_get(const char *text, char *err, size_t errlen);
/* Empties the cache (for tests and exit); not to be called while other threads
 * use it. */
void schema_cache_clear(void);

#endif
