/* script — video scripts from templates. See script.h.
 *
 * A script is: an opening (per tone), the purpose line (per kind), the
 * talking points, and a close (per kind and tone). Talking points the rep
 * asked for always appear; the kind's default points are added in order while
 * the script is shorter than the target, then dropped from the end while it is
 * longer. Every sentence is written for the homeowner, in the rep's voice. */
#define _XOPEN_SOURCE 700
#include "harde/script.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SCRIPT_MAX_TEXT 8192

struct topic {
    const char *name;
    const char *keywords; /* space-separated words that name it in a revision */
    const char *sentence; /* {trade} and {city} are filled in */
};

static const struct topic topics[] = {
    {"inspection", "inspection inspect photos look",
     "When I'm there, I'll check the decking, flashing, vents and gutters, and I'll show you "
     "photos of anything that needs attention, so you see exactly what I see."},
    {"options", "options option good better best choices prices price",
     "You'll get three clear options, good, better and best, each with an exact price, so you can "
     "choose what fits your home and your budget."},
    {"warranty", "warranty warranties guarantee guaranteed",
     "Every job we do is backed by our own workmanship warranty on top of the manufacturer's "
     "warranty, and I'll walk you through exactly what's covered and for how long."},
    {"financing", "financing finance payment payments monthly loan",
     "If it helps, we offer financing, including twelve months same as cash and a low monthly "
     "payment plan, and I can show you both side by side."},
    {"insurance", "insurance claim adjuster storm hail wind",
     "If storm damage is involved, I'll explain how the insurance process works and I can meet "
     "with your adjuster so nothing gets missed."},
    {"crew", "crew crews installers team",
     "Our own trained crews do the work, and a project manager checks on the job every day."},
    {"cleanup", "cleanup clean nails magnet yard landscaping",
     "We protect your landscaping while we work, and when we're done we run magnets over the yard "
     "to pick up every nail."},
    {"timeline", "timeline schedule days long quick",
     "Most {trade} projects like yours take one to two days once the materials arrive, and we'll "
     "give you the schedule up front."},
    {"local", "local neighbor neighbors neighbour neighbours neighborhood neighbourhood community",
     "We've been taking care of homes around {city} since 2009, and a lot of your neighbours have "
     "trusted us with theirs."},
    {"reviews", "reviews review rating ratings",
     "You can read what homeowners near you say about us in our online reviews before we meet."},
};

#define N_TOPICS (sizeof topics / sizeof topics[0])

static const char *const *topic_names(void)
{
    static const char *names[N_TOPICS + 1];
    if (!names[0])
        for (size_t i = 0; i < N_TOPICS; i++)
            names[i] = topics[i].name;
    return names;
}

const char *const *script_topics(void)
{
    return topic_names();
}

/* Default points per kind, in the order they are added. */
static const char *const default_points[4][8] = {
    [SCRIPT_PRIMER] = {"inspection", "options", "warranty", "local", "financing", "crew", NULL},
    [SCRIPT_FOLLOW_UP] = {"options", "financing", "warranty", "timeline", "reviews", NULL},
    [SCRIPT_THANK_YOU] = {"crew", "cleanup", "timeline", "warranty", NULL},
    [SCRIPT_REVIEW_REQUEST] = {"warranty", "local", NULL},
};

static const char *const kind_names[] = {"primer", "follow_up", "thank_you", "review_request"};

const char *script_kind_name(enum script_kind kind)
{
    return (unsigned)kind < 4 ? kind_names[kind] : "primer";
}

int script_kind_parse(const char *s)
{
    char norm[32];
    size_t n = 0;
    for (; *s && n + 1 < sizeof norm; s++)
        if (isalpha((unsigned char)*s))
            norm[n++] = (char)tolower((unsigned char)*s);
    norm[n] = '\0';
    if (strstr(norm, "primer") || strcmp(norm, "intro") == 0)
        return SCRIPT_PRIMER;
    if (strstr(norm, "follow"))
        return SCRIPT_FOLLOW_UP;
    if (strstr(norm, "thank"))
        return SCRIPT_THANK_YOU;
    if (strstr(norm, "review"))
        return SCRIPT_REVIEW_REQUEST;
    return -1;
}

/* ---- composing ------------------------------------------------------------ */

static const struct topic *find_topic(const char *name)
{
    for (size_t i = 0; i < N_TOPICS; i++)
        if (strcasecmp(topics[i].name, name) == 0)
            return &topics[i];
    return NULL;
}

/* Appends template with {trade}, {city}, {first}, {rep}, {company} filled. */
static void fill(struct buf *b, const char *tmpl, const struct script_facts *f)
{
    const struct {
        const char *key;
        const char *value;
    } vars[] = {
        {"{trade}", f->trade ? f->trade : "home improvement"},
        {"{city}", f->city ? f->city : "town"},
        {"{first}", f->customer_first ? f->customer_first : "there"},
        {"{rep}", f->rep_name ? f->rep_name : "your project consultant"},
        {"{company}", f->company ? f->company : "our company"},
    };
    for (const char *p = tmpl; *p;) {
        size_t i;
        for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            size_t n = strlen(vars[i].key);
            if (strncmp(p, vars[i].key, n) == 0) {
                buf_append_str(b, vars[i].value);
                p += n;
                break;
            }
        }
        if (i == sizeof vars / sizeof vars[0])
            buf_append_char(b, *p++);
    }
}

static const char *opening(const char *tone)
{
    if (tone && strcasecmp(tone, "professional") == 0)
        return "Hello {first}, this is {rep} with {company}.";
    if (tone && strcasecmp(tone, "energetic") == 0)
        return "Hey {first}! It's {rep} from {company}, and I'm excited to meet you.";
    return "Hi {first}, this is {rep} from {company}.";
}

static void purpose(struct buf *b, const struct script_facts *f, enum script_kind kind)
{
    switch (kind) {
    case SCRIPT_PRIMER:
        fill(b,
             " I'm recording this quick video so you know who's coming and what to expect at our "
             "{trade} appointment",
             f);
        if (f->appointment)
            buf_printf(b, " on %s", f->appointment);
        if (f->street)
            buf_printf(b, " at %s", f->street);
        buf_append_str(b, ".");
        break;
    case SCRIPT_FOLLOW_UP:
        fill(b,
             " Thanks again for having me out to look at your {trade} project. I wanted to follow "
             "up personally and make it easy to take the next step.",
             f);
        break;
    case SCRIPT_THANK_YOU:
        fill(b,
             " I just wanted to say thank you for choosing us for your {trade} project. It means "
             "a lot to a local company like ours.",
             f);
        break;
    case SCRIPT_REVIEW_REQUEST:
        fill(b,
             " Now that your {trade} project is finished, I hope you're as happy with it as we "
             "are.",
             f);
        break;
    }
}

static void closing(struct buf *b, const struct script_facts *f, enum script_kind kind,
                    const char *tone)
{
    bool energetic = tone && strcasecmp(tone, "energetic") == 0;
    switch (kind) {
    case SCRIPT_PRIMER:
        fill(b,
             " If anyone else will be part of the decision, it helps to have them there too, so "
             "you both hear the same thing. If anything comes up before then, just reply to this "
             "email.",
             f);
        buf_append_str(b, energetic ? " See you soon!" : " See you soon.");
        break;
    case SCRIPT_FOLLOW_UP:
        fill(b,
             " Whenever you're ready, call or text me and we'll get you on the schedule. No "
             "pressure, I'm here for any questions.",
             f);
        break;
    case SCRIPT_THANK_YOU:
        fill(b, " If you need anything at all, you have my number. Thanks again, {first}.", f);
        break;
    case SCRIPT_REVIEW_REQUEST:
        fill(b,
             " Would you take two minutes to leave us a review? I'll send the link right below "
             "this video. It really helps other homeowners find a contractor they can trust. "
             "Thank you, {first}.",
             f);
        break;
    }
}

static char *assemble(const struct script_facts *f, const struct script_request *r,
                      const char *const *points, size_t n)
{
    struct buf b;
    buf_init(&b, SCRIPT_MAX_TEXT);
    fill(&b, opening(r->tone), f);
    purpose(&b, f, r->kind);
    for (size_t i = 0; i < n; i++) {
        const struct topic *t = find_topic(points[i]);
        buf_append_char(&b, ' ');
        if (t)
            fill(&b, t->sentence, f);
        else /* a key point in the rep's own words */
            buf_printf(&b, "%c%s%s", toupper((unsigned char)points[i][0]), points[i] + 1,
                       points[i][strlen(points[i]) - 1] == '.' ? "" : ".");
    }
    closing(&b, f, r->kind, r->tone);
    return buf_steal(&b);
}

static bool listed(const char *const *points, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(points[i], name) == 0)
            return true;
    return false;
}

char *script_compose(const struct script_facts *f, const struct script_request *r)
{
    int target = r->target_seconds ? r->target_seconds : 90;
    const char *points[SCRIPT_MAX_POINTS + 8];
    size_t n = 0;
    for (size_t i = 0; i < r->n_points && n < SCRIPT_MAX_POINTS; i++)
        points[n++] = r->points[i];
    size_t required = n;
    const char *const *defaults = default_points[(unsigned)r->kind < 4 ? r->kind : 0];
    char *text = assemble(f, r, points, n);
    /* Grow with default points while clearly short of the target. */
    for (size_t d = 0; defaults[d] && script_seconds(text) < target - 10; d++) {
        if (listed(points, n, defaults[d]))
            continue;
        points[n++] = defaults[d];
        char *longer = assemble(f, r, points, n);
        if (script_seconds(longer) > target + 10) {
            free(longer);
            n--;
            break;
        }
        free(text);
        text = longer;
    }
    /* Shrink by dropping added points while too long. */
    while (n > required && script_seconds(text) > target + 10) {
        free(text);
        text = assemble(f, r, points, --n);
    }
    return text;
}

double script_seconds(const char *text)
{
    size_t words = 0;
    bool in_word = false;
    for (const char *p = text; *p; p++) {
        bool space = isspace((unsigned char)*p);
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return (double)words * 60.0 / SCRIPT_WORDS_PER_MINUTE;
}

void script_appointment_text(const char *iso, char *out, size_t outlen)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    out[0] = '\0';
    if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M", &tm))
        return;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    localtime_r(&t, &tm);
    char day[64];
    strftime(day, sizeof day, "%A, %B %e", &tm);
    char *dbl = strstr(day, "  "); /* %e pads single-digit days with a space */
    if (dbl)
        memmove(dbl, dbl + 1, strlen(dbl));
    int hour = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
    snprintf(out, outlen, "%s at %d:%02d %s", day, hour, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
}

/* ---- revising ------------------------------------------------------------- */

static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
        bool start = p == text || !isalpha((unsigned char)p[-1]);
        bool end =
            !isalpha((unsigned char)p[n]) || (p[n] == 's' && !isalpha((unsigned char)p[n + 1]));
        if (start && end)
            return true;
    }
    return false;
}

/* The topics text names, in table order; returns how many (at most max). */
static size_t topics_in(const char *text, const struct topic **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < N_TOPICS && n < max; i++) {
        char words[128];
        snprintf(words, sizeof words, "%s", topics[i].keywords);
        for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
            if (has_word(text, w)) {
                out[n++] = &topics[i];
                break;
            }
    }
    return n;
}

static void remove_point(struct script_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_points; i++)
        if (strcasecmp(r->points[i], name) == 0) {
            memmove(&r->points[i], &r->points[i + 1], (r->n_points - i - 1) * sizeof r->points[0]);
            r->n_points--;
            return;
        }
}

int script_revise_request(struct script_request *r, const char *instruction, char **change)
{
    char text[512];
    size_t n = 0;
    for (const char *p = instruction; *p && n + 1 < sizeof text; p++)
        text[n++] = (char)tolower((unsigned char)*p);
    text[n] = '\0';
    int target = r->target_seconds ? r->target_seconds : 90;
    const struct topic *found[N_TOPICS];
    size_t n_found = topics_in(text, found, N_TOPICS);
    bool negative = has_word(text, "drop") || has_word(text, "remove") ||
                    has_word(text, "without") || strstr(text, "don't") || strstr(text, "do not") ||
                    has_word(text, "no") || has_word(text, "skip") || has_word(text, "leave out");
    if (n_found) {
        struct buf b;
        buf_init(&b, 512);
        buf_append_str(&b, negative ? "left out " : "added ");
        for (size_t i = 0; i < n_found; i++) {
            if (negative)
                remove_point(r, found[i]->name);
            else if (!listed(r->points, r->n_points, found[i]->name) &&
                     r->n_points < SCRIPT_MAX_POINTS)
                r->points[r->n_points++] = found[i]->name;
            buf_printf(&b, "%s%s", i == 0 ? "" : (i + 1 == n_found ? " and " : ", "),
                       found[i]->name);
        }
        *change = buf_steal(&b);
    } else if (has_word(text, "shorter") || has_word(text, "short") || has_word(text, "trim") ||
               has_word(text, "cut") || has_word(text, "tighten") || has_word(text, "quicker")) {
        r->target_seconds = target - 20 < SCRIPT_MIN_SECONDS ? SCRIPT_MIN_SECONDS : target - 20;
        *change = xasprintf("made it shorter (about %d s)", r->target_seconds);
    } else if (has_word(text, "longer") || has_word(text, "expand") ||
               has_word(text, "more detail")) {
        r->target_seconds = target + 20 > SCRIPT_MAX_SECONDS ? SCRIPT_MAX_SECONDS : target + 20;
        *change = xasprintf("made it longer (about %d s)", r->target_seconds);
    } else if (has_word(text, "energetic") || has_word(text, "excited") ||
               has_word(text, "upbeat")) {
        r->tone = "energetic";
        *change = xstrdup("made it more energetic");
    } else if (has_word(text, "professional") || has_word(text, "formal")) {
        r->tone = "professional";
        *change = xstrdup("made it more professional");
    } else if (has_word(text, "friendly") || has_word(text, "warmer") || has_word(text, "casual")) {
        r->tone = "friendly";
        *change = xstrdup("made it friendlier");
    } else {
        *change =
            xstrdup("I can make it shorter or longer, more friendly, professional or "
                    "energetic, or mention or drop: inspection, options, warranty, financing, "
                    "insurance, crew, cleanup, timeline, local, reviews");
        return ERR_INVALID;
    }
    return 0;
}
