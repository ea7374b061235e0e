/* price_book — the company's prices, loaded from JSON and validated whole.
 *
 * The format is fixed by docs/PRICING.md: currency, tax rate, permit fee, the
 * roofing section (waste per roof style, pitch bands, tear-off price, shingle
 * materials) and the other items, plus financing plans. A company may add
 * materials, items, styles, pitch bands and plans; `aliases` and `tier` are
 * optional. Loading checks every field and fails with one message naming the
 * path and the problem ("roofing.pitch[1].up_to_rise: bands must be in
 * increasing up_to_rise order"), so a bad book is refused at start-up instead
 * of producing a wrong quote later.
 *
 * Amounts are stored as exact fixed-point integers, never as binary floating
 * point: prices in 1/10000 of the currency unit, waste and pitch multipliers in
 * 1/10000, the tax rate in 1/1000000. A book value with more decimals than its
 * scale holds is refused. Ranges are bounded (see the PRICE_BOOK_MAX_* names)
 * so that quote arithmetic on these integers can never overflow int64.
 *
 * Materials and items may be named by key, label or alias: names are compared
 * case-insensitively, ignoring spaces, hyphens and underscores, so "3 tab",
 * "3-TAB" and "3tab" are one name. Two different entries that would answer to
 * the same name are refused when the book loads. The loaded book is immutable
 * and may be shared between threads. */
#ifndef HARDE_HARDE_PRICE_BOOK_H
#define HARDE_HARDE_PRICE_BOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRICE_BOOK_PRICE_SCALE 10000   /* prices: units of 1/10000 of the currency */
#define PRICE_BOOK_RATIO_SCALE 10000   /* waste and pitch multipliers */
#define PRICE_BOOK_TAX_SCALE   1000000 /* tax_rate */

#define PRICE_BOOK_MAX_FILE       (1024 * 1024) /* bytes of JSON */
#define PRICE_BOOK_MAX_ENTRIES    500           /* per map or list */
#define PRICE_BOOK_MAX_ALIASES    32            /* per material or item */
#define PRICE_BOOK_MAX_NAME       200           /* bytes in a key, label, alias, unit or name */
#define PRICE_BOOK_MAX_PRICE      1000000.0     /* any single price */
#define PRICE_BOOK_MAX_MULTIPLIER 10.0          /* pitch multiplier */
#define PRICE_BOOK_MAX_WASTE      1.0           /* waste fraction per style */
#define PRICE_BOOK_MAX_RISE       1000.0        /* up_to_rise of a band */
#define PRICE_BOOK_MAX_APR        1.0           /* financing apr (1.0 = 100 %) */
#define PRICE_BOOK_MAX_MONTHS     600           /* financing term */

enum price_book_tier {
    PRICE_BOOK_TIER_NONE = 0,
    PRICE_BOOK_TIER_GOOD,
    PRICE_BOOK_TIER_BETTER,
    PRICE_BOOK_TIER_BEST,
};
#define PRICE_BOOK_N_TIERS 4

struct price_book_material {
    char *key;
    char *label;
    int64_t per_square; /* PRICE_BOOK_PRICE_SCALE */
    enum price_book_tier tier;
    char **aliases;
    size_t n_aliases;
};

struct price_book_item {
    char *key;
    char *label;
    char *unit;    /* free text: "linear_ft", "each", "square", ... */
    int64_t price; /* per unit, PRICE_BOOK_PRICE_SCALE */
    char **aliases;
    size_t n_aliases;
};

struct price_book_style {
    char *key;     /* "gable", "hip", ... */
    int64_t waste; /* PRICE_BOOK_RATIO_SCALE: 1000 = 10 % */
};

struct price_book_band {
    double up_to_rise;  /* inclusive upper bound of the band, rise per 12 */
    int64_t multiplier; /* PRICE_BOOK_RATIO_SCALE: 11500 = 1.15 */
};

struct price_book_plan {
    char *name;
    double apr; /* 0.0799 = 7.99 % a year */
    int months;
};

/* A loaded book. The arrays keep the order of the file. */
struct price_book {
    char currency[4];           /* ISO 4217, e.g. "USD" */
    int64_t tax_rate;           /* PRICE_BOOK_TAX_SCALE: 72500 = 7.25 % */
    int64_t permit_fee;         /* PRICE_BOOK_PRICE_SCALE */
    int64_t tearoff_per_square; /* PRICE_BOOK_PRICE_SCALE, per square per layer */
    struct price_book_style *styles;
    size_t n_styles;
    struct price_book_band *bands; /* strictly increasing up_to_rise */
    size_t n_bands;
    struct price_book_material *materials;
    size_t n_materials;
    struct price_book_item *items;
    size_t n_items;
    struct price_book_plan *plans;
    size_t n_plans;
};

/* Loads and validates the book at path (at most PRICE_BOOK_MAX_FILE bytes).
 * New (free with price_book_free), or NULL with "PATH: problem" in err. */
struct price_book *price_book_load_file(const char *path, char *err, size_t errlen);
/* Parses and validates JSON text. New, or NULL with the problem in err. */
struct price_book *price_book_parse(const char *text, char *err, size_t errlen);
/* Validates an already parsed document (borrowed; not kept). New, or NULL
 * with "path: problem" in err. */
struct price_book *price_book_from_json(const json_t *root, char *err, size_t errlen);
/* The sample book of docs/PRICING.md (also shipped as data/price_book.json),
 * built into the binary so quoting works with nothing configured. New. */
struct price_book *price_book_load_default(void);
/* The sample book's JSON text (static). */
const char *price_book_default_json(void);
void price_book_free(struct price_book *book);

/* The material answering to name (key, label or alias; see the top of this
 * file), or NULL. Borrowed from the book. */
const struct price_book_material *price_book_find_material(const struct price_book *book,
                                                           const char *name);
/* The item answering to name (key, label or alias), or NULL. Borrowed. */
const struct price_book_item *price_book_find_item(const struct price_book *book, const char *name);
/* The roof style with that key (case, spaces and hyphens ignored), or NULL. Borrowed. */
const struct price_book_style *price_book_find_style(const struct price_book *book,
                                                     const char *name);
/* The first band whose up_to_rise >= pitch_rise, or NULL when pitch_rise is
 * steeper than every band. Borrowed. */
const struct price_book_band *price_book_find_band(const struct price_book *book,
                                                   double pitch_rise);
/* The material of a tier, or NULL when the book defines none. Borrowed. */
const struct price_book_material *price_book_tier_material(const struct price_book *book,
                                                           enum price_book_tier tier);
/* "good", "better", "best" or "" (static). */
const char *price_book_tier_name(enum price_book_tier tier);
/* True when two names are the same for lookup purposes ("3 Tab" == "3-tab"). */
bool price_book_names_match(const char *a, const char *b);
/* Converts v to a count of 1/scale units (v = 0.0725, scale 1000000 -> 72500).
 * True, or false when v has more decimals than the scale holds or is too big
 * for exact conversion (|v * scale| >= 2^52). */
bool price_book_decimal(double v, int64_t scale, int64_t *out);

#endif
