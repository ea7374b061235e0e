/* http_retry — the retry policy for outbound HTTP, as pure functions.
 *
 * One place decides whether a failed attempt is worth repeating and how long
 * to wait first, following the official OpenAI SDK (EXTERNAL_APIS.md §1.5):
 * transport failures, 408, 409, 429 and 5xx are retried, nothing else; the
 * server's `x-should-retry: true|false` overrides that; the wait is the
 * server's `retry-after-ms` / `Retry-After` (seconds, fractional seconds or
 * an HTTP date) when 0 < wait <= 120 s, else exponential backoff
 * min(base * 2^n, cap) scaled by a jitter factor in (0.75, 1]. A Retry-After
 * over 120 s means "not worth waiting": no retry. No I/O, no clocks, no
 * randomness of their own — the caller passes "now" and a random number, so
 * every rule is unit-testable. */
#ifndef HARDE_NET_HTTP_RETRY_H
#define HARDE_NET_HTTP_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define HTTP_RETRY_DEFAULT_MAX     2      /* retries after the first attempt */
#define HTTP_RETRY_DEFAULT_BASE_MS 500    /* first backoff delay */
#define HTTP_RETRY_DEFAULT_CAP_MS  8000   /* longest backoff delay */
#define HTTP_RETRY_AFTER_MAX_MS    120000 /* a longer Retry-After is not waited for */
#define HTTP_RETRY_MAX_RETRIES     10     /* hard bound on configured retries */

/* Milliseconds since the Unix epoch of an HTTP date in any of the three
 * RFC 9110 forms (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"),
 * or -1 when s is not one. */
int64_t http_date_parse_ms(const char *s);

/* The delay the server asked for, in ms: `retry-after-ms` (a number of ms)
 * when it parses, else `Retry-After` as seconds (fractions allowed), else as
 * an HTTP date relative to now_wall_ms. Either header may be NULL. Returns -1
 * when neither gives a delay. A date in the past gives 0. */
int64_t http_retry_after_ms(const char *retry_after_ms, const char *retry_after,
                            int64_t now_wall_ms);

/* Whether an HTTP status is worth retrying: x_should_retry ("true"/"false",
 * may be NULL) wins when present; otherwise 408, 409, 429 and 5xx. */
bool http_retry_status(long status, const char *x_should_retry);

/* The wait before retry number `retry` (0 for the first retry), in ms.
 * retry_after_ms is http_retry_after_ms's answer (-1 = none): used as is when
 * 0 < it <= HTTP_RETRY_AFTER_MAX_MS; above that the answer is -1 (do not
 * retry). Otherwise min(base_ms * 2^retry, cap_ms) * (1 - 0.25 * rand01),
 * with rand01 in [0, 1). */
int64_t http_retry_delay_ms(int retry, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms,
                            double rand01);

#endif
