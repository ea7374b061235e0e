/* entities_measure — recognisers of what a job measures and costs: areas,
 * lengths and counts, roof pitch, layers to tear off, money and job ids.
 *
 * Owns nothing beyond a call. Each is a pattern over the scanner's tokens
 * (entities_internal.h): a number (entity_scan_number, digits or words)
 * followed or preceded by unit words from a table ("sq ft", "squares",
 * "linear feet", "pitch", "layers", "dollars"). Where two patterns could
 * claim the same number ("7/12 pitch" is not also "12 pitch"), a per-call
 * covered[] array of tokens keeps the first claim. */
#include "llm/local/entities.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "llm/local/entities_internal.h"

/* ---- quantities: areas, lengths, counts ---- */

static const char *const area_units[] = {
    "sq ft", "sq feet", "sq foot", "sqft", "square feet", "square foot", "square ft", "sf", NULL};
static const char *const square_units[] = {
    "roofing squares", "roofing square", "squares", "square", "sqs", "sq", NULL};
static const char *const length_units[] = {
    "linear feet", "linear foot", "linear ft", "lineal feet", "lineal foot", "lineal ft", "lin ft",
    "ln ft",       "lf",          "feet",      "foot",        "ft",          "'",         NULL};
/* Words that are not the thing counted after a bare number. */
static const char *const count_stop[] = {
    "and",     "or",        "of",        "to",       "at",       "on",       "in",     "for",
    "by",      "from",      "with",      "x",        "am",       "pm",       "a",      "an",
    "the",     "is",        "are",       "was",      "were",     "be",       "it",     "its",
    "it's",    "i",         "we",        "you",      "they",     "he",       "she",    "that",
    "this",    "these",     "those",     "per",      "percent",  "than",     "times",  "o'clock",
    "th",      "st",        "nd",        "rd",       "k",        "m",        "sq",     "square",
    "squares", "feet",      "foot",      "ft",       "lf",       "linear",   "lineal", "pitch",
    "dollars", "dollar",    "bucks",     "usd",      "plus",     "if",       "so",     "but",
    "then",    "please",    "thanks",    "hundred",  "thousand", "million",  "dozen",  "couple",
    "jan",     "january",   "feb",       "february", "mar",      "march",    "apr",    "april",
    "may",     "jun",       "june",      "jul",      "july",     "aug",      "august", "sep",
    "sept",    "september", "oct",       "october",  "nov",      "november", "dec",    "december",
    "monday",  "tuesday",   "wednesday", "thursday", "friday",   "saturday", "sunday", "tomorrow",
    "today",   "tonight",   "more",      "over",     "under",    "about",    "around", "ish",
    "sf",      "sqft",      "lin",       "ln",       "inch",     "inches",   "yes",    "no",
    "ok",      "okay",      NULL};
static const char *const count_adjectives[] = {
    "new",      "more",      "additional",  "extra",    "old",      "existing", "large",
    "small",    "big",       "replacement", "separate", "standard", "custom",   "seamless",
    "aluminum", "aluminium", "copper",      "vinyl",    NULL};

/* The noun after "of" (or right after when direct): "160 ft of gutters". */
static void quantity_noun(const struct scan *s, size_t j, bool direct, char *noun, size_t len)
{
    noun[0] = '\0';
    if (entity_scan_is(s, j, "of"))
        j++;
    else if (!direct)
        return;
    while (entity_scan_in(s, j, count_adjectives) || entity_scan_is(s, j, "the"))
        j++;
    if (entity_scan_word(s, j) && !entity_scan_in(s, j, count_stop)) {
        entity_scan_copy(s, j, noun, len);
        entity_singular(noun);
    }
}

/* Matches an area unit after a number; returns the index after it or 0. */
static size_t area_unit(const struct scan *s, size_t j, double value, enum entity_unit *unit)
{
    size_t k = entity_scan_phrases(s, j, area_units);
    if (!k && entity_scan_is(s, j, "ft") && entity_scan_is(s, j + 1, "2") &&
        entity_scan_glued(s, j + 1))
        k = j + 2;
    if (k) {
        *unit = ENTITY_UNIT_SQFT;
        return k;
    }
    k = entity_scan_phrases(s, j, square_units);
    if (k) {
        /* a bare "sq"/"square" after a big number is lazy "sq ft" */
        bool lazy = (entity_scan_is(s, j, "sq") || entity_scan_is(s, j, "square")) && value >= 200;
        *unit = lazy ? ENTITY_UNIT_SQFT : ENTITY_UNIT_SQUARES;
        return k;
    }
    return 0;
}

static int scan_quantity_at(const struct scan *s, const struct scan_number *n,
                            struct entity_list *out, size_t *next)
{
    size_t j = n->next;
    if (entity_scan_punct(s, j, '-') && entity_scan_word(s, j + 1))
        j++;
    enum entity_unit unit = ENTITY_UNIT_NONE;
    size_t k = area_unit(s, j, n->value, &unit);
    struct entity *e;
    if (k) {
        if (!(e = entity_scan_push_number(s, out, ENTITY_AREA, n, k)))
            return ERR_LIMIT;
        e->unit = unit;
        if (unit == ENTITY_UNIT_SQUARES)
            e->value = n->value * 100;
        entity_format_number(e->value, e->norm, sizeof e->norm);
        quantity_noun(s, k, false, e->noun, sizeof e->noun);
        *next = k;
        return 1;
    }
    if ((k = entity_scan_phrases(s, j, length_units)) != 0 &&
        !(entity_scan_is(s, j, "'") && !entity_scan_glued(s, j))) {
        if (!(e = entity_scan_push_number(s, out, ENTITY_LENGTH, n, k)))
            return ERR_LIMIT;
        e->unit = ENTITY_UNIT_FEET;
        quantity_noun(s, k, true, e->noun, sizeof e->noun);
        *next = k;
        return 1;
    }
    /* a count: "2 skylights", "three new windows", "a couple of vents" */
    k = n->next;
    if (entity_scan_is(s, k, "of") && !n->digits)
        k++;
    while (entity_scan_in(s, k, count_adjectives))
        k++;
    if (entity_scan_word(s, k) && !entity_scan_in(s, k, count_stop) &&
        entity_scan_tok_len(s, k) >= 2 && n->value >= 0 && n->integral && !n->suffixed) {
        if (!(e = entity_scan_push_number(s, out, ENTITY_COUNT, n, k + 1)))
            return ERR_LIMIT;
        e->unit = ENTITY_UNIT_EACH;
        entity_scan_copy(s, k, e->noun, sizeof e->noun);
        entity_singular(e->noun);
        *next = k + 1;
        return 1;
    }
    return 0;
}

int entity_scan_quantities(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        struct scan_number n;
        if (!entity_scan_number_starts(s, i) || (i > 0 && entity_scan_punct(s, i - 1, '$')) ||
            (i > 0 && entity_scan_punct(s, i - 1, '#')) || !entity_scan_number(s, i, &n)) {
            i++;
            continue;
        }
        size_t next = n.next;
        int rc = scan_quantity_at(s, &n, out, &next);
        if (rc < 0)
            return rc;
        found += rc;
        i = next > i ? next : i + 1;
    }
    return found;
}

/* ---- roof pitch ---- */

static bool is_twelve(const struct scan *s, size_t k)
{
    return entity_scan_is(s, k, "12") || entity_scan_is(s, k, "twelve");
}

/* "7/12", "7:12", "7-12", "7 on 12", "7 in 12", "7 12": returns the index of
 * the 12, or 0. */
static size_t pitch_over_twelve(const struct scan *s, const struct scan_number *n)
{
    size_t j = n->next;
    if (entity_scan_punct(s, j, '/') || entity_scan_punct(s, j, ':') ||
        entity_scan_punct(s, j, '-')) {
        if (!is_twelve(s, j + 1))
            return 0;
        /* "7/12/2024" is a date */
        if ((entity_scan_punct(s, j + 2, '/') || entity_scan_punct(s, j + 2, '-')) &&
            entity_scan_num(s, j + 3))
            return 0;
        return j + 1;
    }
    if (entity_scan_is(s, j, "on") || entity_scan_is(s, j, "in") || entity_scan_is(s, j, "over"))
        return is_twelve(s, j + 1) ? j + 1 : 0;
    if (n->digits && entity_scan_is(s, j, "12") && !entity_scan_punct(s, j + 1, '/') &&
        !entity_scan_phrases(s, j + 1, length_units) && !entity_scan_phrases(s, j + 1, area_units))
        return j;
    return 0;
}

static const char *const pitch_words[] = {"pitch", "slope", NULL};
static const char *const pitch_fillers[] = {
    "is",     "of",   ":",     "=", "a", "about", "around", "roughly", "approximately",
    "approx", "like", "maybe", NULL};

static bool rise_ok(const struct scan_number *n)
{
    return n->value >= 0 && n->value <= 24;
}

static int push_pitch(const struct scan *s, struct entity_list *out, const struct scan_number *n,
                      size_t first, size_t next, bool *covered)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_PITCH, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = n->value;
    char num[32];
    entity_format_number(n->value, num, sizeof num);
    snprintf(e->norm, sizeof e->norm, "%s/12", num);
    for (size_t k = first; k < next; k++)
        covered[k] = true;
    return 1;
}

static int pitch_ratios(const struct scan *s, struct entity_list *out, bool *covered)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        struct scan_number n;
        if (!entity_scan_number_starts(s, i) || !entity_scan_number(s, i, &n) || !rise_ok(&n))
            continue;
        size_t twelve = pitch_over_twelve(s, &n);
        if (!twelve)
            continue;
        size_t next = twelve + 1;
        if (entity_scan_in(s, next, pitch_words))
            next++;
        int rc = push_pitch(s, out, &n, i, next, covered);
        if (rc < 0)
            return rc;
        found++;
        i = next - 1;
    }
    return found;
}

int entity_scan_pitches(const struct scan *s, struct entity_list *out)
{
    bool *covered = xcalloc(s->n_tok + 1, sizeof *covered);
    int found = pitch_ratios(s, out, covered);
    for (size_t i = 0; found >= 0 && i < s->n_tok; i++) {
        struct scan_number n;
        int rc = 0;
        if (covered[i])
            continue;
        /* "a 7 pitch", "7-pitch" */
        if (entity_scan_number_starts(s, i) && entity_scan_number(s, i, &n) && rise_ok(&n) &&
            n.integral) {
            size_t j = n.next;
            if (entity_scan_punct(s, j, '-'))
                j++;
            if (entity_scan_in(s, j, pitch_words) && !covered[j])
                rc = push_pitch(s, out, &n, i, j + 1, covered);
        } else if (entity_scan_in(s, i, pitch_words)) {
            /* "pitch 7", "pitch is a 7", "slope: 6" */
            size_t j = i + 1;
            for (int skip = 0; skip < 3 && entity_scan_in(s, j, pitch_fillers); skip++)
                j++;
            if (!covered[j] && entity_scan_number(s, j, &n) && rise_ok(&n))
                rc = push_pitch(s, out, &n, i, n.next, covered);
        }
        if (rc < 0)
            found = rc;
        else
            found += rc;
    }
    free(covered);
    return found;
}

/* ---- layers ---- */

static const char *const layer_words[] = {"layer", "layers", NULL};
static const char *const tearoff_phrases[] = {"tear off",    "tearoff",  "tear offs", "tearoffs",
                                              "tear it off", "teardown", "tear down", NULL};
static const char *const overlay_phrases[] = {"overlay",   "over lay",    "lay over", "layover",
                                              "roof over", "reroof over", NULL};
static int push_layers(const struct scan *s, struct entity_list *out, double value, size_t first,
                       size_t next, bool *covered)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_LAYERS, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = value;
    entity_format_number(value, e->norm, sizeof e->norm);
    for (size_t k = first; k < next; k++)
        covered[k] = true;
    return 1;
}

/* "2 layers", "one layer", "single layer", "layers: 2" at token i. */
static int layers_counted(const struct scan *s, size_t i, struct entity_list *out, bool *covered)
{
    static const char *const multiples[] = {"single", "double", "triple", NULL};
    struct scan_number n;
    size_t j;
    if (entity_scan_in(s, i, multiples) && entity_scan_in(s, i + 1, layer_words)) {
        double v = entity_scan_is(s, i, "single") ? 1 : entity_scan_is(s, i, "double") ? 2 : 3;
        return push_layers(s, out, v, i, i + 2, covered);
    }
    if (entity_scan_number_starts(s, i) && entity_scan_number(s, i, &n) && n.integral &&
        n.value <= 9) {
        j = n.next;
        if (entity_scan_is(s, j, "existing") || entity_scan_is(s, j, "old"))
            j++;
        if (entity_scan_in(s, j, layer_words))
            return push_layers(s, out, n.value, i, j + 1, covered);
    }
    if (entity_scan_in(s, i, layer_words)) {
        j = i + 1;
        if (entity_scan_punct(s, j, ':') || entity_scan_punct(s, j, '=') ||
            entity_scan_is(s, j, "is"))
            j++;
        if (j > i + 1 && entity_scan_number(s, j, &n) && n.integral && n.value <= 9)
            return push_layers(s, out, n.value, i, n.next, covered);
    }
    return 0;
}

/* "no tear off", "tear off 2", "overlay" at token i. */
static int layers_tearoff(const struct scan *s, size_t i, struct entity_list *out, bool *covered)
{
    size_t j = entity_scan_phrases(s, i, overlay_phrases);
    if (j)
        return push_layers(s, out, 0, i, j, covered);
    if (!(j = entity_scan_phrases(s, i, tearoff_phrases)))
        return 0;
    size_t neg = entity_scan_negated_before(s, i, 3);
    if (neg)
        return push_layers(s, out, 0, neg - 1, j, covered);
    size_t k = j;
    if (entity_scan_is(s, k, "of") || entity_scan_punct(s, k, ':'))
        k++;
    struct scan_number n;
    if (!covered[k] && entity_scan_number(s, k, &n) && n.integral && n.value <= 9) {
        size_t end = entity_scan_in(s, n.next, layer_words) ? n.next + 1 : n.next;
        return push_layers(s, out, n.value, i, end, covered);
    }
    return 0;
}

int entity_scan_layers(const struct scan *s, struct entity_list *out)
{
    bool *covered = xcalloc(s->n_tok + 1, sizeof *covered);
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        if (covered[i])
            continue;
        int rc = layers_tearoff(s, i, out, covered);
        if (rc == 0)
            rc = layers_counted(s, i, out, covered);
        if (rc < 0) {
            found = rc;
            break;
        }
        found += rc;
    }
    free(covered);
    return found;
}

/* ---- money ---- */

static const char *const money_words[] = {"dollars", "dollar", "bucks", "usd", NULL};

static int push_money(const struct scan *s, struct entity_list *out, double v, size_t first,
                      size_t next)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_MONEY, first, next);
    if (!e)
        return ERR_LIMIT;
    e->value = e->said = v;
    snprintf(e->norm, sizeof e->norm, "%.2f", v);
    return 1;
}

int entity_scan_money(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        struct scan_number n;
        int rc = 0;
        if (entity_scan_punct(s, i, '$') && entity_scan_num(s, i + 1) &&
            entity_scan_number(s, i + 1, &n)) {
            rc = push_money(s, out, n.value, i, n.next);
        } else if (entity_scan_num(s, i) && entity_scan_number_starts(s, i) &&
                   !(i > 0 && entity_scan_punct(s, i - 1, '$')) && entity_scan_number(s, i, &n)) {
            size_t j = n.next;
            if (entity_scan_in(s, j, money_words))
                rc = push_money(s, out, n.value, i, j + 1);
            else if (n.suffixed && !area_unit(s, j, n.value, &(enum entity_unit){0}) &&
                     !entity_scan_phrases(s, j, length_units))
                rc = push_money(s, out, n.value, i, j);
        } else {
            continue;
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            found++;
            i = n.next - 1;
        }
    }
    return found;
}

/* ---- job ids ---- */

static int push_job(const struct scan *s, struct entity_list *out, size_t first, size_t next,
                    size_t num, size_t prefix, bool hyphen)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_JOB_ID, first, next);
    if (!e)
        return ERR_LIMIT;
    char digits[32], pre[8] = "";
    entity_scan_copy(s, num, digits, sizeof digits);
    if (prefix != (size_t)-1) {
        entity_scan_copy(s, prefix, pre, sizeof pre);
        for (char *p = pre; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    snprintf(e->norm, sizeof e->norm, "%s%s%s", pre, hyphen ? "-" : "", digits);
    e->value = e->said = strtod(digits, NULL);
    return 1;
}

static bool plain_integer(const struct scan *s, size_t i)
{
    if (!entity_scan_num(s, i))
        return false;
    for (size_t k = s->tok[i].start; k < s->tok[i].end; k++)
        if (!isdigit((unsigned char)s->norm[k]))
            return false;
    return true;
}

/* "job 1042", "job #1042", "job id J-1042", "job number: 1042" at token i. */
static int job_after_word(const struct scan *s, size_t i, struct entity_list *out, size_t *next)
{
    static const char *const fillers[] = {"id", "number", "no", "num", "#", ":", ".", NULL};
    size_t j = i + 1;
    for (int k = 0; k < 3 && entity_scan_in(s, j, fillers); k++)
        j++;
    if (plain_integer(s, j)) {
        enum entity_unit unit;
        if (area_unit(s, j + 1, 0, &unit) || entity_scan_phrases(s, j + 1, length_units))
            return 0;
        *next = j + 1;
        return push_job(s, out, i, j + 1, j, (size_t)-1, false);
    }
    if (entity_scan_word(s, j) && entity_scan_tok_len(s, j) <= 3) {
        bool hyphen = entity_scan_punct(s, j + 1, '-') && entity_scan_glued(s, j + 1);
        size_t num = hyphen ? j + 2 : j + 1;
        if (plain_integer(s, num) && entity_scan_glued(s, num)) {
            *next = num + 1;
            return push_job(s, out, i, num + 1, num, j, hyphen);
        }
    }
    return 0;
}

int entity_scan_job_ids(const struct scan *s, struct entity_list *out)
{
    static const char *const unit_words[] = {"apt", "apartment", "unit", "suite",
                                             "ste", "no",        "room", NULL};
    static const char *const job_words[] = {"job", "jobs", "project", "ticket", NULL};
    int found = 0;
    for (size_t i = 0; i < s->n_tok; i++) {
        size_t next = 0;
        int rc = 0;
        if (entity_scan_in(s, i, job_words)) {
            rc = job_after_word(s, i, out, &next);
        } else if (entity_scan_punct(s, i, '#') && plain_integer(s, i + 1) &&
                   entity_scan_glued(s, i + 1) &&
                   !(i > 0 &&
                     (entity_scan_in(s, i - 1, unit_words) || entity_scan_in(s, i - 1, job_words) ||
                      entity_scan_in(s, i - 1, (const char *const[]){"id", NULL})))) {
            next = i + 2;
            rc = push_job(s, out, i, i + 2, i + 1, (size_t)-1, false);
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            found++;
            i = next - 1;
        }
    }
    return found;
}
