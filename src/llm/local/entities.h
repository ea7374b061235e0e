/* entities — recognisers that find typed values in a rep's message.
 *
 * The embedded local model fills tool arguments the way assistants did before
 * LLMs: slot filling. This module is its eyes: pure functions that scan one
 * text and report every match of one kind, each with its byte span in the
 * text, a numeric value where there is one and a normalised form. Nothing here
 * knows about tools or schemas (that is extract.h); nothing here keeps state.
 *
 * Design: the text is normalised once (lower case, typographic quotes and
 * dashes folded) into tokens — words, numbers, punctuation — with a map back
 * to byte offsets in the original, and each recogniser is a small pattern
 * matcher over those tokens (phones and emails over characters). Recognisers
 * are independent: the same bytes may be a pitch ("7/12") and a date (July
 * 12); the caller decides which one its slot wants. Matches are appended to a
 * bounded entity_list in text order per recogniser. */
#ifndef HARDE_LLM_LOCAL_ENTITIES_H
#define HARDE_LLM_LOCAL_ENTITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The longest text a recogniser accepts (bytes); longer is ERR_LIMIT. */
#define ENTITY_TEXT_LIMIT 16384
/* The most matches one entity_list holds; more is ERR_LIMIT. */
#define ENTITY_LIST_LIMIT 1024
#define ENTITY_NORM_MAX   160
#define ENTITY_WORD_MAX   64

enum entity_kind {
    ENTITY_NUMBER,   /* value: the number ("2,400", "2.4k", "twenty", "a couple") */
    ENTITY_AREA,     /* value: square feet ("24 squares" = 2400); said/unit: as spoken */
    ENTITY_LENGTH,   /* value: feet ("160 lf"); noun: what it measures, if said */
    ENTITY_COUNT,    /* value: how many; noun: the thing, singular ("skylight") */
    ENTITY_PITCH,    /* value: rise per 12 of run; norm "7/12" */
    ENTITY_LAYERS,   /* value: layers to tear off (0 for "no tear off", "overlay") */
    ENTITY_MONEY,    /* value: dollars; norm "23513.67" */
    ENTITY_PHONE,    /* norm: E.164 "+16145550123" */
    ENTITY_EMAIL,    /* norm: lower case address */
    ENTITY_ADDRESS,  /* address: parts; norm "1234 Maple Ave, Columbus, OH 43215" */
    ENTITY_PERSON,   /* person: first/last; norm "Maria Garcia"; confidence 1 or 2 */
    ENTITY_JOB_ID,   /* value: the digits; norm: the id as written ("1042", "J-1042") */
    ENTITY_DATETIME, /* norm: ISO 8601 "2024-11-28T14:00:00" or "2024-11-28" */
    ENTITY_ANSWER,   /* value: an enum entity_answer */
    ENTITY_CHOICE,   /* value: index of the choice; norm: its value; negated */
};

/* How a quantity was said. */
enum entity_unit {
    ENTITY_UNIT_NONE,
    ENTITY_UNIT_SQFT,    /* "sq ft", "square feet", "sqft", "sf" */
    ENTITY_UNIT_SQUARES, /* roofing squares: 100 sq ft each */
    ENTITY_UNIT_FEET,    /* "ft", "feet", "lf", "linear feet", "'" */
    ENTITY_UNIT_EACH,    /* a count of things */
};

enum entity_answer {
    ENTITY_ANSWER_NONE, /* the text is not an answer to a yes/no question */
    ENTITY_ANSWER_YES,
    ENTITY_ANSWER_NO,
    ENTITY_ANSWER_AMBIGUOUS, /* "maybe", "I guess", "hmm", or both yes and no */
};

struct entity_address {
    char street[96]; /* "1234 Maple Ave" ("" when only city/state/zip were said) */
    char city[48];
    char state[3]; /* two-letter code, upper case */
    char zip[11];  /* "43215" or "43215-1234" */
};

struct entity_person {
    char first[ENTITY_WORD_MAX]; /* may be "" ("Mrs. Garcia", "the Garcia job") */
    char last[ENTITY_WORD_MAX];  /* may be "" ("client Maria") */
};

struct entity {
    enum entity_kind kind;
    size_t start, end; /* byte span [start, end) in the original text */
    double value;      /* see the kinds */
    double said;       /* the number as spoken before unit conversion (24 for "24 squares") */
    enum entity_unit unit;
    char norm[ENTITY_NORM_MAX];
    char noun[ENTITY_WORD_MAX]; /* COUNT/LENGTH/AREA: the thing, singular, lower case */
    int confidence;             /* PERSON: 2 after a cue ("client", "Mr."), 1 for a bare pair */
    bool negated;               /* CHOICE: "no gutters", "without a permit", "not gable" */
    bool has_date, has_time;    /* DATETIME */
    struct entity_address address;
    struct entity_person person;
};

/* A growable array of matches, at most ENTITY_LIST_LIMIT. A zeroed list is empty. */
struct entity_list {
    struct entity *items;
    size_t len;
    size_t cap;
};

void entity_list_init(struct entity_list *list);
void entity_list_free(struct entity_list *list);
/* Appends a zeroed entity of kind spanning [start, end) and returns it
 * (borrowed; valid until the next push), or NULL when the list is full. */
struct entity *entity_list_push(struct entity_list *list, enum entity_kind kind, size_t start,
                                size_t end);
const char *entity_kind_name(enum entity_kind kind);

/* Every recogniser below scans text (NUL-terminated, at most
 * ENTITY_TEXT_LIMIT bytes) and appends its matches to out. Each returns the
 * number of matches appended, ERR_LIMIT (text too long, list full) or
 * ERR_INVALID (NULL argument). */

/* Numbers: "2,400", "2400.5", "2.4k", "one" … "twenty", "twenty-five",
 * "two thousand four hundred", "a couple", "a dozen". */
int entity_find_numbers(const char *text, struct entity_list *out);
/* Quantities with units: areas ("2400 sq ft", "2,400 sqft", "24 squares"),
 * lengths ("160 ft of gutters", "160 lf", "160 linear feet") and counts
 * ("2 skylights", "three windows", "a couple of vents"). */
int entity_find_quantities(const char *text, struct entity_list *out);
/* Roof pitch: "7/12", "7 12", "7 on 12", "7:12", "a 7 pitch", "pitch 7". */
int entity_find_pitches(const char *text, struct entity_list *out);
/* Layers to tear off: "one layer", "2 layers", "tear off 2", "no tear off" and
 * "overlay" (0). */
int entity_find_layers(const char *text, struct entity_list *out);
/* Money: "$23,513.67", "23.5k", "23k", "$1.2m", "500 dollars". */
int entity_find_money(const char *text, struct entity_list *out);
/* US phone numbers with 10 digits (or 11 starting with 1) in the usual
 * groupings; shorter numbers and other countries are not phones. */
int entity_find_phones(const char *text, struct entity_list *out);
int entity_find_emails(const char *text, struct entity_list *out);
/* US street addresses: "1234 Maple Ave" with optional unit, city, two-letter
 * state and ZIP; also "Columbus, OH 43215" and "zip 43215" without a street. */
int entity_find_addresses(const char *text, struct entity_list *out);
/* Person names after "for", "customer", "client", "homeowner", "Mr./Mrs./Ms.",
 * "name is" (confidence 2); "the Garcia job" (last name, confidence 2); a bare
 * capitalised First Last pair (confidence 1). */
int entity_find_persons(const char *text, struct entity_list *out);
/* Job ids: "job 1042", "job #1042", "#1042", "job id J-1042". */
int entity_find_job_ids(const char *text, struct entity_list *out);
/* Dates and times relative to now (wall-clock fields of a struct tm; only
 * year, month, day, hour and minute are read): "tomorrow at 3", "Tuesday
 * 10am", "11/28", "Nov 28 at 2pm", "2024-11-28". A weekday means the next
 * one after today; a month/day already past means next year; an hour 1–6
 * without am/pm means the afternoon. */
int entity_find_datetimes(const char *text, const struct tm *now, struct entity_list *out);
/* A yes/no answer: appends at most one ANSWER entity spanning the words that
 * decided it. Hedges ("maybe", "I guess", "hmm", "not sure") and texts with
 * both a yes and a no are AMBIGUOUS. */
int entity_find_answer(const char *text, struct entity_list *out);
/* The answer a text gives, ENTITY_ANSWER_NONE when it gives none. */
enum entity_answer entity_answer_of(const char *text);

/* One value of an enumeration and the other ways people say it. */
struct entity_choice {
    const char *value;          /* "architectural" (also matched itself) */
    const char *const *aliases; /* "dimensional", "arch shingles", … (borrowed) */
    size_t n_aliases;
};

/* Mentions of choices: case-insensitive whole words, where hyphens, spaces and
 * underscores are interchangeable ("3-tab" = "3 tab" = "3tab") and a plural
 * matches its singular. The longest alias wins where mentions overlap. A
 * mention preceded by "no", "not", "without", "skip", "don't", "instead of"
 * … (within its clause) or followed by "not needed" is negated. */
int entity_find_choices(const char *text, const struct entity_choice *choices, size_t n_choices,
                        struct entity_list *out);

/* Runs every recogniser above except choices and the answer. */
int entity_find_all(const char *text, const struct tm *now, struct entity_list *out);

/* The two-letter code of a US state or DC given its code ("oh", "OH") or its
 * name ("Ohio", "new york"); NULL when it is none. Static string. */
const char *entity_us_state(const char *name);

#endif
