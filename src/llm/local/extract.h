/* extract — fills a tool's arguments from what the user said, driven by the
 * tool's JSON Schema (the embedded local model's slot filling).
 *
 * Given the schema of a tool's parameters and the user's messages (oldest
 * first), extract_arguments walks the schema — object properties, nested
 * objects, required lists, arrays of {id, qty} objects, arrays of enum
 * strings — and decides for each property which recogniser of entities.h can
 * fill it from its type, enum, name, description and format: "square feet"
 * → an area, "pitch rise" → a pitch, "phone" → a phone number, "ZIP" → the
 * ZIP of an address, an enum → its values plus `x-aliases`, a free string →
 * its `examples` or a cue ("notes: …"). It never invents: a number without a
 * unit fills a property only when the user's last message answers a question
 * that asked for that property (options.expecting) or follows the
 * property's own name ("area 2400").
 *
 * Later messages win ("actually it's a hip roof" replaces "gable"); "no
 * gutters" removes the gutters element of an item list. Defaults in the
 * schema are not filled in (the tool applies them) and a property with a
 * default is never reported missing.
 *
 * Schema extensions understood (all optional):
 *   "x-aliases": { "architectural": ["dimensional", "arch"], … } on an enum;
 *                an array of strings on a boolean or object (more cue words)
 *   "x-units":   { "gutters": "linear_ft", "skylight": "each",
 *                  "siding": "square" } on the id enum of an item list, so
 *                "20 squares of siding" gives qty 20 and "1,200 sq ft of
 *                siding" qty 12; units: linear_ft, square, sqft, each
 *   "examples":  [ "referral", "door knock" ] on a free string (standard) */
#ifndef HARDE_LLM_LOCAL_EXTRACT_H
#define HARDE_LLM_LOCAL_EXTRACT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* The most user messages considered; older ones are ignored. */
#define EXTRACT_MAX_TEXTS 64
/* The most properties (at every depth) a schema may have; more is ERR_LIMIT. */
#define EXTRACT_MAX_FIELDS 128
/* The deepest nesting of objects followed; deeper properties are ignored. */
#define EXTRACT_MAX_DEPTH 6
#define EXTRACT_PATH_MAX  128

struct extract_options {
    /* "now" for relative dates (wall-clock fields); NULL = the local clock. */
    const struct tm *now;
    /* Property paths the last assistant question asked for ("roof.area_sqft",
     * "items[0].qty", as reported in missing); the last user text is read as
     * the answer. May be NULL. */
    const char *const *expecting;
    size_t n_expecting;
};

/* Fills *args_out with a new JSON object of the arguments found (empty
 * objects and arrays left out) and *missing_out with a new JSON array of the
 * required properties still missing, in schema order, each
 *   { "path": "roof.area_sqft", "label": "the roof area (square feet)",
 *     "choices": ["gable", …] (enums only) }.
 * A required property is reported only inside an object that is active: the
 * root, a required object, an object the user named ("how much for a roof")
 * or one with something filled. user_texts are the user's messages, oldest
 * first; opt may be NULL. Returns 0, or ERR_INVALID (not an object schema,
 * NULL arguments) / ERR_LIMIT (a text over ENTITY_TEXT_LIMIT bytes or with
 * more than ENTITY_LIST_LIMIT values, too many properties) with a sentence
 * in err; on error both outputs are NULL. */
int extract_arguments(const json_t *schema, const char *const *user_texts, size_t n_texts,
                      const struct extract_options *opt, json_t **args_out, json_t **missing_out,
                      char *err, size_t errlen);

/* One question asking for everything in missing (as made by
 * extract_arguments): "To price it, I still need the roof area (square
 * feet) and the material (3-tab, architectural, designer or metal). What are
 * they?". purpose ("To price it") may be NULL. New string, or NULL when
 * missing is empty or not an array. */
char *extract_question(const json_t *missing, const char *purpose);

/* The plain-words label of a property: its title, else the first words of its
 * description ("Roof area in square feet" → "the roof area (square feet)"),
 * else its humanised name ("first_name" → "the first name"). Written to out. */
void extract_label(const json_t *property, const char *name, char *out, size_t outlen);

#endif
