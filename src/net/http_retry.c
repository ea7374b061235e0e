/* http_retry — retry decisions and delays. See http_retry.h.
 *
 * Numbers are parsed by hand (digits, an optional fraction) rather than with
 * strtod so the locale's decimal separator cannot change a server's meaning,
 * and HTTP dates are converted with the days-from-civil formula rather than
 * timegm(), which is not standard C. */
#include "net/http_retry.h"

#include <string.h>

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads between min and max digits at *p into *out; advances *p. */
static bool read_digits(const char **p, int min, int max, int *out)
{
    int n = 0, v = 0;
    while (n < max && is_digit((*p)[n])) {
        v = v * 10 + ((*p)[n] - '0');
        n++;
    }
    if (n < min)
        return false;
    *p += n;
    *out = v;
    return true;
}

static bool read_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool read_month(const char **p, int *month)
{
    for (int i = 0; i < 12; i++) {
        if (strncmp(*p, month_names[i], 3) == 0) {
            *p += 3;
            *month = i + 1;
            return true;
        }
    }
    return false;
}

/* "HH:MM:SS" */
static bool read_time(const char **p, int *h, int *m, int *s)
{
    return read_digits(p, 2, 2, h) && read_char(p, ':') && read_digits(p, 2, 2, m) &&
           read_char(p, ':') && read_digits(p, 2, 2, s);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t to_epoch_ms(int year, int month, int day, int h, int m, int s)
{
    if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60)
        return -1;
    int64_t days = days_from_civil(year, month, day);
    return ((days * 24 + h) * 60 + m) * 60000 + (int64_t)s * 1000;
}

int64_t http_date_parse_ms(const char *s)
{
    if (!s)
        return -1;
    const char *p = s;
    int day, month, year, h, m, sec;
    while (is_alpha(*p))
        p++;
    if (p == s)
        return -1;
    if (read_char(&p, ',')) {
        if (!read_char(&p, ' ') || !read_digits(&p, 2, 2, &day))
            return -1;
        if (read_char(&p, ' ')) { /* IMF-fixdate: 06 Nov 1994 */
            if (!read_month(&p, &month) || !read_char(&p, ' ') || !read_digits(&p, 4, 4, &year))
                return -1;
        } else { /* RFC 850: 06-Nov-94 */
            if (!read_char(&p, '-') || !read_month(&p, &month) || !read_char(&p, '-') ||
                !read_digits(&p, 2, 2, &year))
                return -1;
            year += year < 70 ? 2000 : 1900;
        }
        if (!read_char(&p, ' ') || !read_time(&p, &h, &m, &sec) || strcmp(p, " GMT") != 0)
            return -1;
    } else { /* asctime: Nov  6 08:49:37 1994 */
        if (!read_char(&p, ' ') || !read_month(&p, &month) || !read_char(&p, ' '))
            return -1;
        read_char(&p, ' ');
        if (!read_digits(&p, 1, 2, &day) || !read_char(&p, ' ') || !read_time(&p, &h, &m, &sec) ||
            !read_char(&p, ' ') || !read_digits(&p, 4, 4, &year) || *p != '\0')
            return -1;
    }
    return to_epoch_ms(year, month, day, h, m, sec);
}

/* A non-negative decimal number ("12", "1.5", " 3 ") times scale, rounded up,
 * or -1. Values beyond a day are clamped (they only ever mean "too long"). */
static int64_t parse_scaled(const char *s, int64_t scale)
{
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    int64_t whole = 0, frac_num = 0, frac_den = 1;
    bool any = false;
    for (; is_digit(*s); s++, any = true)
        if (whole < 1000000000)
            whole = whole * 10 + (*s - '0');
    if (*s == '.') {
        for (s++; is_digit(*s); s++, any = true) {
            if (frac_den < 1000000000) {
                frac_num = frac_num * 10 + (*s - '0');
                frac_den *= 10;
            }
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (!any || *s != '\0')
        return -1;
    if (whole > 86400000)
        whole = 86400000;
    return whole * scale + (frac_num * scale + frac_den - 1) / frac_den;
}

int64_t http_retry_after_ms(const char *retry_after_ms, const char *retry_after,
                            int64_t now_wall_ms)
{
    int64_t ms = parse_scaled(retry_after_ms, 1);
    if (ms >= 0)
        return ms;
    ms = parse_scaled(retry_after, 1000);
    if (ms >= 0)
        return ms;
    int64_t when = http_date_parse_ms(retry_after);
    if (when < 0)
        return -1;
    return when > now_wall_ms ? when - now_wall_ms : 0;
}

bool http_retry_status(long status, const char *x_should_retry)
{
    if (x_should_retry && strcmp(x_should_retry, "true") == 0)
        return true;
    if (x_should_retry && strcmp(x_should_retry, "false") == 0)
        return false;
    return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

int64_t http_retry_delay_ms(int retry, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms,
                            double rand01)
{
    if (retry_after_ms > HTTP_RETRY_AFTER_MAX_MS)
        return -1;
    if (retry_after_ms > 0)
        return retry_after_ms;
    if (retry < 0)
        retry = 0;
    if (retry > 30)
        retry = 30;
    if (base_ms < 0)
        base_ms = 0;
    double delay = (double)base_ms * (double)((int64_t)1 << retry);
    if (delay > (double)cap_ms)
        delay = (double)cap_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 1;
    delay *= 1.0 - 0.25 * rand01;
    return (int64_t)(delay + 0.5);
}
