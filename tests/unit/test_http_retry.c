/* test_http_retry — the retry policy as pure functions: HTTP dates,
 * Retry-After / retry-after-ms, the should-retry table and backoff bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http_retry.h"

static void test_http_dates(void **state)
{
    const int64_t sunday = 784111777000; /* 1994-11-06 08:49:37 UTC */
    assert_int_equal(http_date_parse_ms("Sun, 06 Nov 1994 08:49:37 GMT"), sunday);
    assert_int_equal(http_date_parse_ms("Sunday, 06-Nov-94 08:49:37 GMT"), sunday);
    assert_int_equal(http_date_parse_ms("Sun Nov  6 08:49:37 1994"), sunday);
    assert_int_equal(http_date_parse_ms("Sun Nov 16 08:49:37 1994"), sunday + 10 * 86400000LL);
    assert_int_equal(http_date_parse_ms("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    assert_int_equal(http_date_parse_ms("Tue, 29 Feb 2028 12:00:00 GMT"), 1835438400000LL);
    assert_int_equal(http_date_parse_ms("Monday, 01-Jan-24 00:00:00 GMT"), 1704067200000LL);
    assert_int_equal(http_date_parse_ms("Tue, 31 Dec 2069 23:59:59 GMT"), 3155759999000LL);

    const char *bad[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:00:00 GMT",
        "Sun, 06 Nov 1994 08:61:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT trailing",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 extra",
        ", 06 Nov 1994 08:49:37 GMT",
        "120",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (http_date_parse_ms(bad[i]) != -1)
            fail_msg("\"%s\" was accepted as a date", bad[i]);
    assert_int_equal(http_date_parse_ms(NULL), -1);
}

static void test_retry_after(void **state)
{
    const int64_t now = 784111777000;
    assert_int_equal(http_retry_after_ms("250", NULL, now), 250);
    assert_int_equal(http_retry_after_ms("1.5", NULL, now), 2);  /* rounded up */
    assert_int_equal(http_retry_after_ms("250", "9", now), 250); /* ms wins */
    assert_int_equal(http_retry_after_ms(NULL, "3", now), 3000);
    assert_int_equal(http_retry_after_ms(NULL, "0.5", now), 500);
    assert_int_equal(http_retry_after_ms(NULL, " 2 ", now), 2000);
    assert_int_equal(http_retry_after_ms(NULL, "0", now), 0);
    assert_int_equal(http_retry_after_ms("abc", "4", now), 4000); /* bad ms falls back */
    assert_int_equal(http_retry_after_ms(NULL, "Sun, 06 Nov 1994 08:50:07 GMT", now), 30000);
    assert_int_equal(http_retry_after_ms(NULL, "Sun, 06 Nov 1994 08:00:00 GMT", now), 0);
    assert_int_equal(http_retry_after_ms(NULL, "Sun Nov  6 08:51:37 1994", now), 120000);
    assert_int_equal(http_retry_after_ms(NULL, "soon", now), -1);
    assert_int_equal(http_retry_after_ms(NULL, "-1", now), -1);
    assert_int_equal(http_retry_after_ms(NULL, "", now), -1);
    assert_int_equal(http_retry_after_ms("", NULL, now), -1);
    assert_int_equal(http_retry_after_ms(NULL, "1e3", now), -1);
    assert_int_equal(http_retry_after_ms(NULL, NULL, now), -1);
    /* absurd values are clamped, not overflowed */
    assert_true(http_retry_after_ms(NULL, "99999999999999999999", now) > 120000);
}

static void test_should_retry_table(void **state)
{
    static const struct {
        long status;
        const char *header;
        bool retry;
    } table[] = {
        {408, NULL, true},    {409, NULL, true},     {429, NULL, true},     {500, NULL, true},
        {502, NULL, true},    {503, NULL, true},     {504, NULL, true},     {599, NULL, true},
        {400, NULL, false},   {401, NULL, false},    {403, NULL, false},    {404, NULL, false},
        {422, NULL, false},   {200, NULL, false},    {301, NULL, false},    {600, NULL, false},
        {400, "true", true},  {503, "false", false}, {429, "false", false}, {404, "true", true},
        {503, "maybe", true}, {400, "maybe", false}, {400, "TRUE", false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (http_retry_status(table[i].status, table[i].header) != table[i].retry)
            fail_msg("status %ld with x-should-retry %s: expected %s", table[i].status,
                     table[i].header ? table[i].header : "(none)",
                     table[i].retry ? "retry" : "no retry");
}

static void test_delay_uses_retry_after(void **state)
{
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, 1234, 0.5), 1234);
    assert_int_equal(http_retry_delay_ms(3, 500, 8000, 120000, 0.5), 120000);
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, 120001, 0.5), -1); /* too long: give up */
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, 3600000, 0.0), -1);
    /* 0 or none: backoff */
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, 0, 0.0), 500);
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, -1, 0.0), 500);
}

static void test_delay_backoff(void **state)
{
    const int64_t expect[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
    for (int n = 0; n < 7; n++)
        assert_int_equal(http_retry_delay_ms(n, 500, 8000, -1, 0.0), expect[n]);
    assert_int_equal(http_retry_delay_ms(0, 500, 8000, -1, 1.0), 375); /* clamped to 0.75 */
    assert_int_equal(http_retry_delay_ms(2, 500, 8000, -1, 0.5), 1750);
    assert_int_equal(http_retry_delay_ms(60, 500, 8000, -1, 0.0), 8000); /* no overflow */
    assert_int_equal(http_retry_delay_ms(-3, 500, 8000, -1, 0.0), 500);
    assert_int_equal(http_retry_delay_ms(1, 5, 40, -1, 0.0), 10); /* the tests' few ms */
}

static void test_delay_bounds_with_jitter(void **state)
{
    uint32_t seed = 7;
    for (int i = 0; i < 10000; i++) {
        seed = seed * 1664525u + 1013904223u;
        double r = (seed >> 8) / 16777216.0;
        int n = i % 8;
        int64_t full = 500LL << n;
        if (full > 8000)
            full = 8000;
        int64_t d = http_retry_delay_ms(n, 500, 8000, -1, r);
        assert_true(d <= full);
        assert_true(d >= (full * 3) / 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_dates),         cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_should_retry_table), cmocka_unit_test(test_delay_uses_retry_after),
        cmocka_unit_test(test_delay_backoff),      cmocka_unit_test(test_delay_bounds_with_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
