/* entities_time — dates and times said the way reps say them ("tomorrow at
 * 3", "Tuesday 10am", "11/28", "Nov 28 at 2pm"), resolved to ISO 8601
 * against a caller-given 'now'.
 *
 * Owns nothing beyond a call. The scan finds parts — a date ("tomorrow",
 * "Tuesday", "11/28", "Nov 28th"), a time ("3pm", "10:30", "at 3", "noon") or
 * a part of the day ("morning") — and then merges parts that stand next to
 * each other (with "at", "on", "," or "in the" between) into one entity.
 * Calendar arithmetic is done on day numbers (days since 1970-01-01, the
 * civil-from-days formulas) so the result never depends on the process time
 * zone. Guesses are rules written down here, not hidden: a bare hour 1–6 is
 * afternoon, a weekday is the next one after today, a date already past this
 * year is next year's, a time alone is today's if still ahead, else tomorrow's. */
#include "llm/local/entities.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "llm/local/entities_internal.h"

/* ---- calendar ---- */

static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 = Sunday */
static int weekday_of(long days)
{
    return (int)(((days % 7) + 7 + 4) % 7);
}

static int days_in_month(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

static bool valid_date(int y, int m, int d)
{
    return y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* ---- parts ---- */

enum part_kind { PART_DATE, PART_TIME, PART_DAYPART };

struct part {
    enum part_kind kind;
    size_t first, next; /* tokens */
    long day;           /* PART_DATE: day number */
    int hour, minute;   /* PART_TIME, PART_DAYPART */
};

struct now {
    long today;
    int year, month, minutes; /* minutes since midnight */
};

static const char *const weekdays[][4] = {
    {"sunday", "sun", NULL},
    {"monday", "mon", NULL},
    {"tuesday", "tue", "tues", NULL},
    {"wednesday", "wed", NULL},
    {"thursday", "thu", "thurs", "thur"},
    {"friday", "fri", NULL},
    {"saturday", "sat", NULL},
};
static const char *const months[][3] = {
    {"january", "jan", NULL}, {"february", "feb", NULL}, {"march", "mar", NULL},
    {"april", "apr", NULL},   {"may", NULL, NULL},       {"june", "jun", NULL},
    {"july", "jul", NULL},    {"august", "aug", NULL},   {"september", "sep", "sept"},
    {"october", "oct", NULL}, {"november", "nov", NULL}, {"december", "dec", NULL},
};

static int weekday_at(const struct scan *s, size_t i)
{
    for (int w = 0; w < 7; w++)
        for (int k = 0; k < 4 && weekdays[w][k]; k++)
            if (entity_scan_is(s, i, weekdays[w][k]))
                return w;
    return -1;
}

/* 1–12 for a month name at token i (with an optional glued "."), else 0. */
static int month_at(const struct scan *s, size_t i, size_t *next)
{
    for (int m = 0; m < 12; m++)
        for (int k = 0; k < 3 && months[m][k]; k++)
            if (entity_scan_is(s, i, months[m][k])) {
                *next = i + 1;
                if (entity_scan_punct(s, *next, '.') && entity_scan_glued(s, *next))
                    (*next)++;
                return m + 1;
            }
    return 0;
}

/* A plain integer token (no commas or decimals) and its value, or -1. */
static long integer_at(const struct scan *s, size_t i)
{
    if (!entity_scan_num(s, i) || entity_scan_tok_len(s, i) > 6)
        return -1;
    long v = 0;
    for (size_t k = s->tok[i].start; k < s->tok[i].end; k++) {
        char c = s->norm[k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

/* A day of month with an optional glued ordinal: "28", "28th". */
static long day_at(const struct scan *s, size_t i, size_t *next)
{
    static const char *const ords[] = {"st", "nd", "rd", "th", NULL};
    long d = integer_at(s, i);
    if (d < 1 || d > 31)
        return -1;
    *next = i + 1;
    if (entity_scan_in(s, *next, ords) && entity_scan_glued(s, *next))
        (*next)++;
    else if (entity_scan_word(s, *next) && entity_scan_glued(s, *next))
        return -1;
    return d;
}

/* A month/day with no year: this year, or next year when already past. */
static long resolve_month_day(const struct now *now, int m, int d, long year)
{
    if (year >= 0) {
        if (year < 100)
            year += 2000;
        return valid_date((int)year, m, d) ? days_from_civil(year, m, d) : -1;
    }
    if (!valid_date(now->year, m, d) && !valid_date(now->year + 1, m, d))
        return -1;
    long day = valid_date(now->year, m, d) ? days_from_civil(now->year, m, d) : -1;
    if (day < now->today)
        day = valid_date(now->year + 1, m, d) ? days_from_civil(now->year + 1, m, d) : -1;
    return day;
}

/* "11/28", "11/28/2024", "2024-11-28" */
static bool numeric_date(const struct scan *s, size_t i, const struct now *now, struct part *p)
{
    long a = integer_at(s, i), b, c = -1;
    size_t next;
    if (a >= 1000 && entity_scan_punct(s, i + 1, '-') && (b = integer_at(s, i + 2)) > 0 &&
        entity_scan_punct(s, i + 3, '-') && (c = integer_at(s, i + 4)) > 0) {
        if (!valid_date((int)a, (int)b, (int)c))
            return false;
        p->day = days_from_civil(a, (int)b, (int)c);
        p->next = i + 5;
        return true;
    }
    if (a < 1 || a > 12 || !entity_scan_punct(s, i + 1, '/') || !entity_scan_glued(s, i + 1) ||
        (b = integer_at(s, i + 2)) < 1 || b > 31 || !entity_scan_glued(s, i + 2))
        return false;
    next = i + 3;
    if (entity_scan_punct(s, next, '/') && entity_scan_glued(s, next) &&
        (c = integer_at(s, next + 1)) >= 0 &&
        (entity_scan_tok_len(s, next + 1) == 2 || entity_scan_tok_len(s, next + 1) == 4))
        next += 2;
    else
        c = -1;
    p->day = resolve_month_day(now, (int)a, (int)b, c);
    p->next = next;
    return p->day >= 0;
}

/* "Nov 28", "November 28th, 2024", "28 Nov", "the 28th of November" */
static bool named_date(const struct scan *s, size_t i, const struct now *now, struct part *p)
{
    size_t j, k;
    long d, year = -1;
    int m = month_at(s, i, &j);
    if (m) {
        if ((d = day_at(s, j, &k)) < 0)
            return false;
    } else {
        size_t at = entity_scan_is(s, i, "the") ? i + 1 : i;
        if ((d = day_at(s, at, &j)) < 0)
            return false;
        if (entity_scan_is(s, j, "of"))
            j++;
        if (!(m = month_at(s, j, &k)))
            return false;
    }
    size_t y = entity_scan_punct(s, k, ',') ? k + 1 : k;
    if (integer_at(s, y) >= 1900 && entity_scan_tok_len(s, y) == 4) {
        year = integer_at(s, y);
        k = y + 1;
    }
    p->day = resolve_month_day(now, m, (int)d, year);
    p->next = k;
    return p->day >= 0;
}

/* "the 28th": the next such day of a month. */
static bool ordinal_day(const struct scan *s, size_t i, const struct now *now, struct part *p)
{
    size_t j;
    if (!entity_scan_is(s, i, "the") || !entity_scan_num(s, i + 1) || !entity_scan_word(s, i + 2) ||
        !entity_scan_glued(s, i + 2))
        return false;
    long d = day_at(s, i + 1, &j);
    if (d < 0 || j != i + 3)
        return false;
    int y = now->year, m = now->month;
    for (int tries = 0; tries < 3; tries++) {
        if (valid_date(y, m, (int)d) && days_from_civil(y, m, (int)d) >= now->today) {
            p->day = days_from_civil(y, m, (int)d);
            p->next = j;
            return true;
        }
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    return false;
}

static bool date_part(const struct scan *s, size_t i, const struct now *now, struct part *p)
{
    size_t j;
    p->kind = PART_DATE;
    p->first = i;
    if ((j = entity_scan_phrase(s, i, "day after tomorrow")) != 0) {
        p->day = now->today + 2;
    } else if (entity_scan_is(s, i, "tomorrow") || entity_scan_is(s, i, "tmrw") ||
               entity_scan_is(s, i, "tmr")) {
        p->day = now->today + 1;
        j = i + 1;
    } else if (entity_scan_is(s, i, "today")) {
        p->day = now->today;
        j = i + 1;
    } else {
        size_t w = i;
        if (entity_scan_is(s, w, "next") || entity_scan_is(s, w, "this") ||
            entity_scan_is(s, w, "coming"))
            w++;
        int wd = weekday_at(s, w);
        if (wd < 0)
            return numeric_date(s, i, now, p) || named_date(s, i, now, p) ||
                   ordinal_day(s, i, now, p);
        int ahead = (wd - weekday_of(now->today) + 7) % 7;
        p->day = now->today + (ahead ? ahead : 7);
        j = w + 1;
    }
    p->next = j;
    return true;
}

/* Without am/pm, hours 1–6 are afternoon appointments; 7–11 morning. */
static int business_hour(int h)
{
    return h >= 1 && h <= 6 ? h + 12 : h;
}

/* "am", "pm", "a.m.", "p.m." at token j: 0 am, 12 pm, -1 none; *next after it. */
static int meridiem_at(const struct scan *s, size_t j, size_t *next)
{
    if (entity_scan_is(s, j, "am") || entity_scan_is(s, j, "pm")) {
        *next = j + 1;
        if (entity_scan_punct(s, *next, '.') && entity_scan_glued(s, *next))
            (*next)++;
        return entity_scan_is(s, j, "pm") ? 12 : 0;
    }
    size_t k = entity_scan_phrase(s, j, "a m");
    if (!k)
        k = entity_scan_phrase(s, j, "p m");
    if (k && entity_scan_punct(s, j + 1, '.')) {
        *next = k;
        return entity_scan_is(s, j, "p") ? 12 : 0;
    }
    return -1;
}

/* Words that may follow "at 3" when 3 is a time. */
static const char *const after_time[] = {"on",   "tomorrow", "today",   "tonight", "this", "next",
                                         "in",   "and",      "or",      "please",  "then", "for",
                                         "with", "to",       "o'clock", "sharp",   "ok",   "okay",
                                         "if",   "works",    "is",      "would",   NULL};

static bool time_followed_ok(const struct scan *s, size_t j)
{
    if (j >= s->n_tok)
        return true;
    if (s->tok[j].type == SCAN_PUNCT)
        return !entity_scan_punct(s, j, '/') && !entity_scan_punct(s, j, '-');
    size_t after;
    return entity_scan_in(s, j, after_time) || weekday_at(s, j) >= 0 || month_at(s, j, &after);
}

/* "3pm", "10:30 am", "14:00", "at 3", "3 o'clock", "noon" */
static bool time_part(const struct scan *s, size_t i, struct part *p)
{
    size_t j = i, next;
    p->kind = PART_TIME;
    p->first = i;
    p->minute = 0;
    if (entity_scan_is(s, i, "noon") || entity_scan_is(s, i, "midday") ||
        entity_scan_is(s, i, "midnight")) {
        p->hour = entity_scan_is(s, i, "midnight") ? 0 : 12;
        p->next = i + 1;
        return true;
    }
    bool cue = entity_scan_is(s, j, "at") || entity_scan_punct(s, j, '@') ||
               entity_scan_is(s, j, "around") || entity_scan_is(s, j, "by");
    if (cue)
        j++;
    struct scan_number n;
    if (!entity_scan_number(s, j, &n) || !n.integral || n.value > 23 ||
        (n.digits && entity_scan_tok_len(s, j) > 2))
        return false;
    int h = (int)n.value;
    next = n.next;
    bool colon = false;
    if (n.digits && entity_scan_punct(s, next, ':') && entity_scan_glued(s, next) &&
        entity_scan_tok_len(s, next + 1) == 2 && integer_at(s, next + 1) >= 0 &&
        integer_at(s, next + 1) < 60 && entity_scan_glued(s, next + 1)) {
        p->minute = (int)integer_at(s, next + 1);
        next += 2;
        colon = true;
    }
    size_t after;
    int mer = meridiem_at(s, next, &after);
    if (mer >= 0 && h >= 1 && h <= 12) {
        p->hour = h % 12 + mer;
        p->next = after;
        return true;
    }
    if (entity_scan_is(s, next, "o'clock") && h >= 1 && h <= 12) {
        p->hour = business_hour(h);
        p->next = next + 1;
        return true;
    }
    if ((colon || cue) && time_followed_ok(s, next) && (colon || (h >= 1 && h <= 12))) {
        p->hour = h <= 12 ? business_hour(h) : h;
        p->next = next;
        return true;
    }
    return false;
}

/* "morning", "in the afternoon", "this evening", "tonight" */
static bool daypart(const struct scan *s, size_t i, struct part *p)
{
    static const struct {
        const char *word;
        int hour;
    } parts[] = {{"morning", 9}, {"afternoon", 14}, {"evening", 18}, {"tonight", 19}};
    size_t j = i;
    if (entity_scan_phrase(s, j, "in the"))
        j += 2;
    else if (entity_scan_is(s, j, "this"))
        j++;
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        if (entity_scan_is(s, j, parts[k].word)) {
            p->kind = PART_DAYPART;
            p->first = i;
            p->next = j + 1;
            p->hour = parts[k].hour;
            p->minute = 0;
            return true;
        }
    return false;
}

/* ---- merging parts into entities ---- */

struct moment {
    bool used, has_date, has_time, has_daypart;
    size_t first, next;
    long day;
    int hour, minute, daypart_hour;
};

static bool gap_ok(const struct scan *s, size_t from, size_t to)
{
    static const char *const glue[] = {"at", "@", ",", "on", "by", "around", "about", "-", NULL};
    if (to < from || to - from > 2)
        return false;
    for (size_t k = from; k < to; k++)
        if (!entity_scan_in(s, k, glue))
            return false;
    return true;
}

static int flush_moment(const struct scan *s, const struct now *now, struct moment *m,
                        struct entity_list *out)
{
    if (!m->used)
        return 0;
    struct entity *e = entity_scan_push(s, out, ENTITY_DATETIME, m->first, m->next);
    if (!e)
        return ERR_LIMIT;
    bool timed = m->has_time || m->has_daypart;
    int hour = m->has_time ? m->hour : m->daypart_hour, minute = m->has_time ? m->minute : 0;
    long day = m->day;
    if (!m->has_date)
        day = hour * 60 + minute > now->minutes ? now->today : now->today + 1;
    int y, mo, d;
    civil_from_days(day, &y, &mo, &d);
    if (timed)
        snprintf(e->norm, sizeof e->norm, "%04d-%02d-%02dT%02d:%02d:00", y, mo, d, hour, minute);
    else
        snprintf(e->norm, sizeof e->norm, "%04d-%02d-%02d", y, mo, d);
    e->has_date = m->has_date;
    e->has_time = timed;
    e->value = e->said = (double)day;
    memset(m, 0, sizeof *m);
    return 1;
}

/* Adds part p to moment m when it fits next to it; false when m must be
 * flushed first. */
static bool merge_part(const struct scan *s, struct moment *m, const struct part *p)
{
    if (m->used &&
        (!gap_ok(s, m->next, p->first) || (p->kind == PART_DATE && m->has_date) ||
         (p->kind == PART_TIME && m->has_time) || (p->kind == PART_DAYPART && m->has_daypart)))
        return false;
    if (!m->used)
        m->first = p->first;
    m->used = true;
    m->next = p->next;
    if (p->kind == PART_DATE) {
        m->has_date = true;
        m->day = p->day;
    } else if (p->kind == PART_TIME) {
        m->has_time = true;
        m->hour = p->hour;
        m->minute = p->minute;
    } else {
        m->has_daypart = true;
        m->daypart_hour = p->hour;
    }
    return true;
}

int entity_scan_datetimes(const struct scan *s, const struct tm *tm_now, struct entity_list *out)
{
    struct now now = {
        .today = days_from_civil(tm_now->tm_year + 1900L, tm_now->tm_mon + 1, tm_now->tm_mday),
        .year = tm_now->tm_year + 1900,
        .month = tm_now->tm_mon + 1,
        .minutes = tm_now->tm_hour * 60 + tm_now->tm_min,
    };
    struct moment m;
    memset(&m, 0, sizeof m);
    int found = 0, rc;
    for (size_t i = 0; i < s->n_tok;) {
        struct part p;
        memset(&p, 0, sizeof p);
        bool got = daypart(s, i, &p) || date_part(s, i, &now, &p) || time_part(s, i, &p);
        if (entity_scan_is(s, i, "tonight") && got && p.kind == PART_DAYPART) {
            /* "tonight" is a date and a part of the day at once */
            struct part d = {.kind = PART_DATE, .first = i, .next = i, .day = now.today};
            if (!merge_part(s, &m, &d)) {
                if ((rc = flush_moment(s, &now, &m, out)) < 0)
                    return rc;
                found += rc;
                merge_part(s, &m, &d);
            }
        }
        if (!got) {
            i++;
            continue;
        }
        if (!merge_part(s, &m, &p)) {
            if ((rc = flush_moment(s, &now, &m, out)) < 0)
                return rc;
            found += rc;
            merge_part(s, &m, &p);
        }
        i = p.next > i ? p.next : i + 1;
    }
    if ((rc = flush_moment(s, &now, &m, out)) < 0)
        return rc;
    return found + rc;
}
