/* extract_internal — the field table shared by extract.c and extract_schema.c.
 *
 * Not a contract outside src/llm/local/extract*.c. extract_schema.c flattens
 * a JSON Schema into fields in schema order (preorder: an object before its
 * properties), each knowing its path, its parent, what fills it (the kind)
 * and the words that name it; extract.c fills the fields' values. */
#ifndef HARDE_LLM_LOCAL_EXTRACT_INTERNAL_H
#define HARDE_LLM_LOCAL_EXTRACT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "llm/local/entities.h"
#include "llm/local/extract.h"

enum field_kind {
    FIELD_OBJECT,      /* nested properties */
    FIELD_LIST,        /* array of objects with an enum key ({id, qty}) */
    FIELD_SET,         /* array of enum strings */
    FIELD_UNSUPPORTED, /* other arrays: never filled */
    FIELD_AREA,
    FIELD_LENGTH,
    FIELD_COUNT,
    FIELD_PITCH,
    FIELD_LAYERS,
    FIELD_MONEY,
    FIELD_NUMBER, /* a number with no recogniser: cue or answer only */
    FIELD_PHONE,
    FIELD_EMAIL,
    FIELD_FIRST_NAME,
    FIELD_LAST_NAME,
    FIELD_FULL_NAME,
    FIELD_STREET,
    FIELD_CITY,
    FIELD_STATE,
    FIELD_ZIP,
    FIELD_ADDRESS,
    FIELD_JOB_ID,
    FIELD_DATETIME,
    FIELD_DATE,
    FIELD_ENUM,
    FIELD_BOOL,
    FIELD_TEXT,
};

/* Choices for entity_find_choices with the storage behind them. */
struct field_choices {
    struct entity_choice *items; /* new */
    size_t n;
    const char **aliases; /* new array; strings borrowed from the schema or owned */
    char **owned;         /* strings this set made (humanised names) */
    size_t n_owned;
};

struct field {
    char path[EXTRACT_PATH_MAX]; /* "roof.area_sqft"; "" for the root */
    const char *name;            /* the property name (borrowed); "" for the root */
    const json_t *schema;        /* borrowed */
    int parent;                  /* index of the parent field; -1 for the root */
    int depth;
    enum field_kind kind;
    bool required;    /* listed in the parent's "required" */
    bool has_default; /* never reported missing */
    bool integer;     /* "type": "integer" */
    bool in_squares;  /* an area asked in roofing squares */
    bool has_min, has_max;
    double min, max;
    struct field_choices choices;  /* enum values (+ x-aliases): ENUM, SET, LIST key */
    struct field_choices cues;     /* words naming the property itself */
    struct field_choices examples; /* TEXT: the schema's "examples" */
    /* FIELD_LIST */
    const char *key_name, *qty_name; /* borrowed; qty_name may be NULL */
    const json_t *qty_schema;
    const json_t *units; /* "x-units" of the key (borrowed) or NULL */
    bool qty_required, qty_integer;
    /* results */
    json_t *value;  /* new reference or NULL; LIST/SET: an array */
    int confidence; /* of value */
    int from_text;  /* the text that gave value, -1 for none */
    bool named;     /* OBJECT: the user named it ("how much for a roof") */
};

/* Flattens schema into a new array of fields (the root first). 0, or
 * ERR_INVALID / ERR_LIMIT with err set. */
int extract_fields_build(const json_t *schema, struct field **fields, size_t *n_fields, char *err,
                         size_t errlen);
void extract_fields_free(struct field *fields, size_t n_fields);
/* "area_sqft" → "area sqft", "leadSource" → "lead source". */
void extract_humanise(const char *name, char *out, size_t outlen);
/* A number as the field's JSON type: an integer when whole, NULL when an
 * integer field gets a fraction. New reference. */
json_t *extract_field_number(const struct field *f, double v);
/* v lies within the field's minimum/maximum. */
bool extract_field_in_range(const struct field *f, double v);

#endif
