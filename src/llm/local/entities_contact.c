/* entities_contact — recognisers for how people are reached: US phone
 * numbers, email addresses, US street addresses and person names.
 *
 * Owns nothing beyond a call. Phones and emails are matched over the
 * original characters (their separators — ( ) - . @ — are what identify
 * them); addresses and names over the shared tokens of entities_internal.h.
 * Words that are never names (days, months, street suffixes, trades, common
 * sentence openers) and the US states are tables, so tuning a false match is
 * a table edit. */
#define _POSIX_C_SOURCE 200809L
#include "llm/local/entities.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "llm/local/entities_internal.h"

/* ---- phones ---- */

#define PHONE_MAX_GROUPS 5

struct phone_groups {
    size_t n;
    size_t start[PHONE_MAX_GROUPS], len[PHONE_MAX_GROUPS];
};

static bool phone_separator(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/* Digit groups from t[i] ("+1 (614) 555-0123" → 1, 614, 555, 0123). */
static void phone_read_groups(const char *t, size_t i, struct phone_groups *g)
{
    size_t p = i;
    g->n = 0;
    if (t[p] == '+')
        p++;
    while (g->n < PHONE_MAX_GROUPS) {
        size_t q = p, sep = 0;
        while (t[q] && phone_separator(t[q]) && sep < 3) {
            if (g->n == 0 && t[q] != '(')
                break;
            q++;
            sep++;
        }
        if (!isdigit((unsigned char)t[q]))
            break;
        p = q;
        while (isdigit((unsigned char)t[p]))
            p++;
        g->start[g->n] = q;
        g->len[g->n] = p - q;
        g->n++;
    }
}

/* The digits of the first k groups when their lengths are `shape`. */
static bool phone_shape(const char *t, const struct phone_groups *g, const size_t *shape, size_t k,
                        char *digits, size_t *end)
{
    if (g->n < k)
        return false;
    size_t n = 0;
    for (size_t a = 0; a < k; a++) {
        if (g->len[a] != shape[a])
            return false;
        memcpy(digits + n, t + g->start[a], g->len[a]);
        n += g->len[a];
    }
    digits[n] = '\0';
    *end = g->start[k - 1] + g->len[k - 1];
    return true;
}

/* A US number at t[i]: writes E.164 into e164 and the span end. */
static bool phone_at(const char *t, size_t i, char *e164, size_t *end)
{
    static const size_t shapes[][5] = {
        {4, 1, 3, 3, 4}, {3, 3, 3, 4, 0}, {1, 11, 0, 0, 0}, {1, 10, 0, 0, 0}};
    struct phone_groups g;
    char digits[24];
    phone_read_groups(t, i, &g);
    bool found = false;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0] && !found; k++)
        found = phone_shape(t, &g, shapes[k] + 1, shapes[k][0], digits, end);
    if (!found)
        return false;
    const char *d = digits;
    if (strlen(d) == 11) {
        if (d[0] != '1')
            return false;
        d++;
    } else if (t[i] == '+') {
        return false; /* "+44 …" is not a US number */
    }
    if (d[0] < '2' || d[3] < '2')
        return false;
    unsigned char after = (unsigned char)t[*end];
    if (isalnum(after) ||
        ((after == '.' || after == '/' || after == ',') && isdigit((unsigned char)t[*end + 1])))
        return false;
    snprintf(e164, 16, "+1%.10s", d);
    return true;
}

int entity_scan_phones(const struct scan *s, struct entity_list *out)
{
    const char *t = s->text;
    int found = 0;
    for (size_t i = 0; t[i];) {
        unsigned char c = (unsigned char)t[i];
        unsigned char prev = i ? (unsigned char)t[i - 1] : ' ';
        char e164[16];
        size_t end;
        if ((isdigit(c) || c == '+' || c == '(') && !isalnum(prev) && prev != '$' && prev != '#' &&
            prev != '-' && prev != '.' && prev != '/' && prev != '+' &&
            phone_at(t, i, e164, &end)) {
            struct entity *e = entity_list_push(out, ENTITY_PHONE, i, end);
            if (!e)
                return ERR_LIMIT;
            snprintf(e->norm, sizeof e->norm, "%s", e164);
            found++;
            i = end;
        } else {
            i++;
        }
    }
    return found;
}

/* ---- emails ---- */

static bool email_local_char(char c)
{
    return isalnum((unsigned char)c) || strchr("._%+-", c) != NULL;
}

static bool email_domain_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

/* The domain from t[d] to *end is host.tld with a 2+ letter top level. */
static bool email_domain_ok(const char *t, size_t d, size_t *end)
{
    size_t e = d;
    while (t[e] && email_domain_char(t[e]))
        e++;
    while (e > d && (t[e - 1] == '.' || t[e - 1] == '-'))
        e--;
    size_t dot = e;
    while (dot > d && t[dot - 1] != '.')
        dot--;
    if (dot <= d + 1 || e - dot < 2)
        return false;
    for (size_t k = dot; k < e; k++)
        if (!isalpha((unsigned char)t[k]))
            return false;
    for (size_t k = d + 1; k < e; k++)
        if (t[k] == '.' && t[k - 1] == '.')
            return false;
    *end = e;
    return true;
}

int entity_scan_emails(const struct scan *s, struct entity_list *out)
{
    const char *t = s->text;
    int found = 0;
    for (size_t at = 0; t[at]; at++) {
        if (t[at] != '@' || at == 0)
            continue;
        size_t start = at;
        while (start > 0 && email_local_char(t[start - 1]))
            start--;
        while (start < at && t[start] == '.')
            start++;
        size_t end;
        if (start == at || t[at - 1] == '.' || !email_domain_ok(t, at + 1, &end) ||
            end - start > 254)
            continue;
        struct entity *e = entity_list_push(out, ENTITY_EMAIL, start, end);
        if (!e)
            return ERR_LIMIT;
        size_t n = end - start;
        for (size_t k = 0; k < n && k + 1 < sizeof e->norm; k++)
            e->norm[k] = (char)tolower((unsigned char)t[start + k]);
        found++;
        at = end - 1;
    }
    return found;
}

/* ---- US states ---- */

struct us_state {
    const char *code, *name;
};

static const struct us_state us_states[] = {
    {"AL", "alabama"},
    {"AK", "alaska"},
    {"AZ", "arizona"},
    {"AR", "arkansas"},
    {"CA", "california"},
    {"CO", "colorado"},
    {"CT", "connecticut"},
    {"DE", "delaware"},
    {"DC", "district of columbia"},
    {"FL", "florida"},
    {"GA", "georgia"},
    {"HI", "hawaii"},
    {"ID", "idaho"},
    {"IL", "illinois"},
    {"IN", "indiana"},
    {"IA", "iowa"},
    {"KS", "kansas"},
    {"KY", "kentucky"},
    {"LA", "louisiana"},
    {"ME", "maine"},
    {"MD", "maryland"},
    {"MA", "massachusetts"},
    {"MI", "michigan"},
    {"MN", "minnesota"},
    {"MS", "mississippi"},
    {"MO", "missouri"},
    {"MT", "montana"},
    {"NE", "nebraska"},
    {"NV", "nevada"},
    {"NH", "new hampshire"},
    {"NJ", "new jersey"},
    {"NM", "new mexico"},
    {"NY", "new york"},
    {"NC", "north carolina"},
    {"ND", "north dakota"},
    {"OH", "ohio"},
    {"OK", "oklahoma"},
    {"OR", "oregon"},
    {"PA", "pennsylvania"},
    {"RI", "rhode island"},
    {"SC", "south carolina"},
    {"SD", "south dakota"},
    {"TN", "tennessee"},
    {"TX", "texas"},
    {"UT", "utah"},
    {"VT", "vermont"},
    {"VA", "virginia"},
    {"WA", "washington"},
    {"WV", "west virginia"},
    {"WI", "wisconsin"},
    {"WY", "wyoming"},
    {NULL, NULL},
};

const char *entity_us_state(const char *name)
{
    if (!name)
        return NULL;
    while (isspace((unsigned char)*name))
        name++;
    size_t n = strlen(name);
    while (n > 0 && (isspace((unsigned char)name[n - 1]) || name[n - 1] == '.'))
        n--;
    for (const struct us_state *st = us_states; st->code; st++) {
        if ((n == 2 && strncasecmp(name, st->code, 2) == 0) ||
            (n == strlen(st->name) && strncasecmp(name, st->name, n) == 0))
            return st->code;
    }
    return NULL;
}

/* A state at token i: an upper-case code, or a name of one to three words.
 * Returns the index after it (0 when none) and the code. */
static size_t state_at(const struct scan *s, size_t i, const char **code)
{
    if (!entity_scan_word(s, i))
        return 0;
    if (entity_scan_tok_len(s, i) == 2 && s->tok[i].all_caps) {
        char w[3];
        entity_scan_copy(s, i, w, sizeof w);
        *code = entity_us_state(w);
        return *code ? i + 1 : 0;
    }
    for (const struct us_state *st = us_states; st->code; st++) {
        size_t j = entity_scan_phrase(s, i, st->name);
        if (j) {
            *code = st->code;
            return j;
        }
    }
    return 0;
}

/* ---- street addresses ---- */

static const char *const street_suffixes[] = {
    "street", "st",    "avenue",    "ave",  "av",      "road",     "rd",      "drive", "dr",
    "lane",   "ln",    "boulevard", "blvd", "court",   "ct",       "way",     "place", "pl",
    "circle", "cir",   "parkway",   "pkwy", "terrace", "ter",      "trail",   "trl",   "highway",
    "hwy",    "pike",  "loop",      "row",  "path",    "crossing", "xing",    "point", "pt",
    "cove",   "plaza", "alley",     "bend", "ridge",   "walk",     "commons", "run",   NULL};
static const char *const directions[] = {
    "n",     "s",    "e",    "w",         "ne",        "nw",        "se",        "sw", "north",
    "south", "east", "west", "northeast", "northwest", "southeast", "southwest", NULL};
static const char *const street_stop[] = {
    "and",   "or", "of",  "the",  "a",    "an",     "to",      "at", "on",     "in",    "for",
    "with",  "sq", "ft",  "feet", "foot", "square", "squares", "lf", "linear", "layer", "layers",
    "pitch", "is", "are", "x",    "by",   "from",   "am",      "pm", NULL};

/* Copies the original text of tokens [first, next) into out with whitespace
 * collapsed; title-cases it when it was written all in lower case. */
static void copy_span(const struct scan *s, size_t first, size_t next, char *out, size_t len)
{
    size_t a = entity_scan_start(s, first), b = entity_scan_end(s, next - 1), n = 0;
    bool upper = false, space = false;
    for (size_t k = a; k < b; k++)
        upper |= isupper((unsigned char)s->text[k]) != 0;
    for (size_t k = a; k < b && n + 1 < len; k++) {
        char c = s->text[k];
        if (isspace((unsigned char)c)) {
            space = true;
            continue;
        }
        if (space && n + 2 < len)
            out[n++] = ' ';
        bool word_start = n == 0 || out[n - 1] == ' ' || out[n - 1] == '-';
        out[n++] = (!upper && word_start) ? (char)toupper((unsigned char)c) : c;
        space = false;
    }
    while (n > 0 && (out[n - 1] == '.' || out[n - 1] == ','))
        n--;
    out[n] = '\0';
}

static bool ordinal_number(const struct scan *s, size_t i)
{
    static const char *const ords[] = {"st", "nd", "rd", "th", NULL};
    return entity_scan_num(s, i) && entity_scan_in(s, i + 1, ords) && entity_scan_glued(s, i + 1);
}

/* 1 to 6 plain digits */
static bool house_number(const struct scan *s, size_t i)
{
    size_t n = entity_scan_tok_len(s, i);
    if (!entity_scan_num(s, i) || n > 6)
        return false;
    for (size_t k = s->tok[i].start; k < s->tok[i].end; k++)
        if (!isdigit((unsigned char)s->norm[k]))
            return false;
    return true;
}

/* "1234 N Maple Ave Apt 4": returns the index after the street, or 0. */
static size_t street_at(const struct scan *s, size_t i)
{
    if (!house_number(s, i) ||
        (i > 0 && (entity_scan_punct(s, i - 1, '$') || entity_scan_punct(s, i - 1, '#') ||
                   (entity_scan_glued(s, i) && s->tok[i - 1].type != SCAN_PUNCT))))
        return 0;
    size_t j = i + 1, names = 0;
    if (entity_scan_in(s, j, directions)) {
        j++;
        if (entity_scan_punct(s, j, '.') && entity_scan_glued(s, j))
            j++;
    }
    for (; names < 5; names++) {
        if (names > 0 && entity_scan_in(s, j, street_suffixes))
            break;
        if (ordinal_number(s, j))
            j += 2;
        else if (entity_scan_word(s, j) && !entity_scan_in(s, j, street_stop))
            j++;
        else
            return 0;
    }
    if (names == 5)
        return 0;
    j++;
    if (entity_scan_punct(s, j, '.') && entity_scan_glued(s, j))
        j++;
    /* a unit: "Apt 4", "Unit B", "#12" */
    static const char *const units[] = {"apt", "apartment", "unit", "suite", "ste", NULL};
    size_t k = entity_scan_punct(s, j, ',') ? j + 1 : j;
    if (entity_scan_in(s, k, units) || entity_scan_punct(s, k, '#')) {
        size_t v = k + 1;
        if (entity_scan_punct(s, v, '.') || entity_scan_punct(s, v, '#'))
            v++;
        if (entity_scan_num(s, v) || (entity_scan_word(s, v) && entity_scan_tok_len(s, v) <= 2))
            j = v + 1;
    }
    return j;
}

static size_t zip_at(const struct scan *s, size_t i, char *zip, size_t len)
{
    if (!entity_scan_num(s, i) || entity_scan_tok_len(s, i) != 5)
        return 0;
    char a[8], b[8];
    entity_scan_copy(s, i, a, sizeof a);
    if (strspn(a, "0123456789") != 5)
        return 0;
    if (entity_scan_punct(s, i + 1, '-') && entity_scan_num(s, i + 2) &&
        entity_scan_tok_len(s, i + 2) == 4 && entity_scan_glued(s, i + 2)) {
        entity_scan_copy(s, i + 2, b, sizeof b);
        snprintf(zip, len, "%.5s-%.4s", a, b);
        return i + 3;
    }
    snprintf(zip, len, "%s", a);
    return i + 1;
}

/* City (0–3 words), state and optional ZIP from token i. With need_city the
 * city must be capitalised words and present. Returns the index after, or 0. */
static size_t city_state_zip(const struct scan *s, size_t i, struct entity_address *a,
                             bool need_city)
{
    if (entity_scan_punct(s, i, ','))
        i++;
    for (size_t words = 0; words <= 3; words++) {
        const char *code = NULL;
        size_t st = i + words;
        if (words > 0 && entity_scan_punct(s, st, ','))
            st++;
        size_t next = state_at(s, st, &code);
        if (next && (words > 0 || !need_city)) {
            if (words > 0)
                copy_span(s, i, i + words, a->city, sizeof a->city);
            snprintf(a->state, sizeof a->state, "%s", code);
            if (entity_scan_punct(s, next, ','))
                next++;
            size_t z = zip_at(s, next, a->zip, sizeof a->zip);
            if (z)
                return z;
            return entity_scan_punct(s, next - 1, ',') ? next - 1 : next;
        }
        if (words < 3 &&
            !(entity_scan_word(s, i + words) && (!need_city || s->tok[i + words].cap) &&
              !s->tok[i + words].all_caps && !entity_scan_in(s, i + words, street_stop)))
            return 0;
    }
    return 0;
}

static int push_address(const struct scan *s, struct entity_list *out, size_t first, size_t next,
                        const struct entity_address *a)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_ADDRESS, first, next);
    if (!e)
        return ERR_LIMIT;
    e->address = *a;
    size_t n = 0;
    const char *parts[] = {a->street, a->city};
    for (size_t k = 0; k < 2; k++)
        if (parts[k][0])
            n += (size_t)snprintf(e->norm + n, sizeof e->norm - n, "%s%s", n ? ", " : "", parts[k]);
    if (a->state[0] && n < sizeof e->norm)
        n += (size_t)snprintf(e->norm + n, sizeof e->norm - n, "%s%s", n ? ", " : "", a->state);
    if (a->zip[0] && n < sizeof e->norm)
        snprintf(e->norm + n, sizeof e->norm - n, "%s%s", n ? " " : "", a->zip);
    return 1;
}

/* "Columbus, OH 43215", "OH 43215", "zip 43215" without a street. */
static size_t address_without_street(const struct scan *s, size_t i, struct entity_address *a)
{
    static const char *const zip_words[] = {"zip code", "zipcode", "zip", "postal code", NULL};
    size_t j = entity_scan_phrases(s, i, zip_words);
    if (j) {
        if (entity_scan_punct(s, j, ':') || entity_scan_is(s, j, "is"))
            j++;
        return zip_at(s, j, a->zip, sizeof a->zip);
    }
    if (!entity_scan_word(s, i) || (!s->tok[i].cap && !s->tok[i].all_caps))
        return 0;
    size_t next = city_state_zip(s, i, a, true);
    if (next)
        return next;
    const char *code = NULL;
    next = state_at(s, i, &code);
    if (next && zip_at(s, next, a->zip, sizeof a->zip)) {
        snprintf(a->state, sizeof a->state, "%s", code);
        return zip_at(s, next, a->zip, sizeof a->zip);
    }
    memset(a, 0, sizeof *a);
    return 0;
}

int entity_scan_addresses(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        struct entity_address a;
        memset(&a, 0, sizeof a);
        size_t next = street_at(s, i);
        if (next) {
            copy_span(s, i, next, a.street, sizeof a.street);
            size_t more = city_state_zip(s, next, &a, false);
            if (!more) {
                memset(a.city, 0, sizeof a.city);
                size_t k = entity_scan_punct(s, next, ',') ? next + 1 : next;
                more = zip_at(s, k, a.zip, sizeof a.zip);
            }
            if (more)
                next = more;
        } else {
            next = address_without_street(s, i, &a);
        }
        if (!next) {
            i++;
            continue;
        }
        int rc = push_address(s, out, i, next, &a);
        if (rc < 0)
            return rc;
        found++;
        i = next;
    }
    return found;
}

/* ---- person names ---- */

static const char *const not_names[] = {
    "i",        "i'm",       "im",        "the",       "a",         "an",
    "this",     "that",      "these",     "those",     "my",        "our",
    "your",     "his",       "her",       "their",     "we",        "you",
    "he",       "she",       "it",        "they",      "hi",        "hey",
    "hello",    "thanks",    "thank",     "please",    "yes",       "no",
    "ok",       "okay",      "sure",      "new",       "old",       "price",
    "quote",    "estimate",  "client",    "customer",  "homeowner", "job",
    "lead",     "roof",      "roofing",   "siding",    "gutter",    "gutters",
    "window",   "windows",   "skylight",  "skylights", "shingles",  "call",
    "email",    "phone",     "text",      "what",      "how",       "when",
    "where",    "who",       "why",       "can",       "could",     "would",
    "should",   "will",      "is",        "are",       "was",       "do",
    "does",     "did",       "let",       "let's",     "need",      "get",
    "make",     "add",       "create",    "update",    "schedule",  "send",
    "and",      "or",        "but",       "so",        "also",      "just",
    "actually", "mr",        "mrs",       "ms",        "miss",      "dr",
    "monday",   "tuesday",   "wednesday", "thursday",  "friday",    "saturday",
    "sunday",   "mon",       "tue",       "tues",      "wed",       "thu",
    "thur",     "thurs",     "fri",       "sat",       "sun",       "january",
    "february", "march",     "april",     "may",       "june",      "july",
    "august",   "september", "october",   "november",  "december",  "jan",
    "feb",      "mar",       "apr",       "jun",       "jul",       "aug",
    "sep",      "sept",      "oct",       "nov",       "dec",       "today",
    "tomorrow", "tonight",   "street",    "avenue",    "road",      "drive",
    "lane",     "court",     "st",        "ave",       "rd",        "dr",
    "ln",       "ct",        "blvd",      "way",       "north",     "south",
    "east",     "west",      "hip",       "gable",     "metal",     "architectural",
    "designer", "tab",       "standing",  "seam",      "referral",  "from",
    "for",      "with",      "at",        "on",        "in",        "to",
    "of",       "by",        "go",        "ahead",     "maybe",     "hmm",
    "nope",     "yep",       "yeah",      "mobile",    "cell",      "home",
    "work",     "address",   "name",      "first",     "last",      "zip",
    "city",     "state",     "note",      "notes",     "permit",    "tear",
    "off",      NULL};
static const char *const titles[] = {"mr", "mrs", "ms", "miss", "dr", "mister", NULL};
static const char *const name_cues[] = {"name is",  "name's",  "named",     "for",
                                        "customer", "client",  "homeowner", "homeowners",
                                        "lead",     "contact", NULL};
static const char *const job_nouns[] = {"job",      "project",  "house", "home", "roof",
                                        "account",  "estimate", "quote", "file", "residence",
                                        "property", "family",   "place", "deal", NULL};

/* A name word at token i: capitalised (any case when any_case), not all
 * capitals unless cued ("client MARIA GARCIA", but not a bare "OH" or "NOT
 * SURE"); returns the index after it, joining "Smith-Jones". */
static size_t name_word(const struct scan *s, size_t i, bool any_case, bool cued)
{
    if (!entity_scan_word(s, i) || entity_scan_in(s, i, not_names) || (!any_case && !s->tok[i].cap))
        return 0;
    if (s->tok[i].all_caps && !any_case && entity_scan_tok_len(s, i) > 1 &&
        (!cued || entity_scan_tok_len(s, i) < 3))
        return 0;
    if (entity_scan_punct(s, i + 1, '-') && entity_scan_glued(s, i + 1) &&
        entity_scan_word(s, i + 2) && entity_scan_glued(s, i + 2))
        return i + 3;
    return i + 1;
}

/* Copies a name with its first letter upper case and, when it was written
 * all in one case, the rest lower case. */
static void copy_name(const struct scan *s, size_t first, size_t next, char *out, size_t len)
{
    size_t a = entity_scan_start(s, first), b = entity_scan_end(s, next - 1), n = 0;
    bool lower = false, upper = false;
    for (size_t k = a; k < b; k++) {
        lower |= islower((unsigned char)s->text[k]) != 0;
        upper |= isupper((unsigned char)s->text[k]) != 0;
    }
    bool one_case = !(lower && upper);
    for (size_t k = a; k < b && n + 1 < len; k++) {
        char c = s->text[k];
        bool start = n == 0 || out[n - 1] == '-' || out[n - 1] == '\'';
        if (start)
            c = (char)toupper((unsigned char)c);
        else if (one_case)
            c = (char)tolower((unsigned char)c);
        out[n++] = c;
    }
    out[n] = '\0';
}

static int push_person(const struct scan *s, struct entity_list *out, size_t first, size_t next,
                       const struct entity_person *p, int confidence)
{
    struct entity *e = entity_scan_push(s, out, ENTITY_PERSON, first, next);
    if (!e)
        return ERR_LIMIT;
    e->person = *p;
    e->confidence = confidence;
    snprintf(e->norm, sizeof e->norm, "%s%s%s", p->first, p->first[0] && p->last[0] ? " " : "",
             p->last);
    return 1;
}

/* After a cue or a title: one or two name words. */
static int person_after(const struct scan *s, size_t cue, size_t i, bool title, bool any_case,
                        struct entity_list *out, size_t *next)
{
    struct entity_person p;
    memset(&p, 0, sizeof p);
    while (entity_scan_punct(s, i, ':') || entity_scan_punct(s, i, ',') ||
           entity_scan_is(s, i, "is"))
        i++;
    size_t a = name_word(s, i, any_case, true);
    if (!a)
        return 0;
    size_t b = name_word(s, a, any_case, true);
    if (b) {
        copy_name(s, i, a, p.first, sizeof p.first);
        copy_name(s, a, b, p.last, sizeof p.last);
    } else {
        copy_name(s, i, a, title ? p.last : p.first, sizeof p.first);
        b = a;
    }
    *next = b;
    return push_person(s, out, cue, b, &p, 2);
}

static int person_at(const struct scan *s, size_t i, struct entity_list *out, size_t *next)
{
    size_t j;
    if (entity_scan_in(s, i, titles)) {
        j = i + 1;
        if (entity_scan_punct(s, j, '.'))
            j++;
        return person_after(s, i, j, true, false, out, next);
    }
    if ((j = entity_scan_phrases(s, i, name_cues)) != 0) {
        /* after "name is" / "named" a lower-case name is still a name */
        bool any_case = entity_scan_is(s, i, "name") || entity_scan_is(s, i, "named") ||
                        entity_scan_is(s, i, "name's");
        /* "last name is Garcia": a single word is the last name */
        bool last = any_case && i > 0 &&
                    (entity_scan_is(s, i - 1, "last") || entity_scan_is(s, i - 1, "family") ||
                     entity_scan_is(s, i - 1, "sur"));
        return person_after(s, i, j, last, any_case, out, next);
    }
    /* "the Garcia job" */
    if (entity_scan_is(s, i, "the") && (j = name_word(s, i + 1, false, false)) != 0 &&
        entity_scan_in(s, j, job_nouns)) {
        struct entity_person p;
        memset(&p, 0, sizeof p);
        copy_name(s, i + 1, j, p.last, sizeof p.last);
        *next = j + 1;
        return push_person(s, out, i + 1, j, &p, 2);
    }
    return 0;
}

static bool cap_word(const struct scan *s, size_t i)
{
    return entity_scan_word(s, i) && s->tok[i].cap;
}

/* A bare "Maria Garcia": exactly two capitalised name words. */
static int person_pair(const struct scan *s, size_t i, struct entity_list *out, size_t *next)
{
    size_t a = name_word(s, i, false, false);
    if (!a || (i > 0 && cap_word(s, i - 1) && !entity_scan_glued(s, i)))
        return 0;
    size_t b = name_word(s, a, false, false);
    if (!b || cap_word(s, b))
        return 0;
    struct entity_person p;
    memset(&p, 0, sizeof p);
    copy_name(s, i, a, p.first, sizeof p.first);
    copy_name(s, a, b, p.last, sizeof p.last);
    *next = b;
    return push_person(s, out, i, b, &p, 1);
}

int entity_scan_persons(const struct scan *s, struct entity_list *out)
{
    int found = 0;
    for (size_t i = 0; i < s->n_tok;) {
        size_t next = 0;
        int rc = person_at(s, i, out, &next);
        if (rc == 0)
            rc = person_pair(s, i, out, &next);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            i++;
            continue;
        }
        found++;
        i = next;
    }
    return found;
}
