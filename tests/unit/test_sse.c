/* test_sse — the event-stream parser: every split point, line endings,
 * comments, multi-line data, ids, retry, BOM, limits, garbage, stopping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "net/sse.h"

/* Records every event as "event|data|id|retry\n" (data's '\n' shown as '~'). */
struct recorder {
    struct buf log;
    int stop_after; /* return ERR_CANCELED after this many events; 0 = never */
    int seen;
};

static int record_event(const struct sse_event *ev, void *user)
{
    struct recorder *r = user;
    buf_printf(&r->log, "%s|", ev->event);
    for (size_t i = 0; i < ev->data_len; i++)
        buf_append_char(&r->log, ev->data[i] == '\n' ? '~' : ev->data[i]);
    assert_int_equal(ev->data[ev->data_len], '\0');
    buf_printf(&r->log, "|%s|%ld\n", ev->id, ev->retry_ms);
    r->seen++;
    if (r->stop_after && r->seen >= r->stop_after)
        return ERR_CANCELED;
    return 0;
}

/* Feeds text in the pieces given by cut points and returns the log (new). */
static char *parse_pieces(const char *text, size_t len, const size_t *cuts, size_t n_cuts,
                          int *rc_out)
{
    struct recorder r = {0};
    buf_init(&r.log, 0);
    struct sse_parser p;
    sse_parser_init(&p, 0, 0, record_event, &r);
    size_t at = 0;
    int rc = 0;
    char err[256];
    for (size_t i = 0; i <= n_cuts && rc == 0; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        rc = sse_parser_feed(&p, text + at, end - at, err, sizeof err);
        at = end;
    }
    if (rc_out)
        *rc_out = rc;
    sse_parser_free(&p);
    return buf_steal(&r.log);
}

/* A stream using every line ending, comments, multi-line data, UTF-8
 * ("é" = C3 A9, "€" = E2 82 AC), ids, retry, an unknown field, a BOM. */
static const char stream[] = "\xEF\xBB\xBF"
                             ": keep-alive comment\r\n"
                             "event: delta\r\n"
                             "data: {\"a\":1}\r\n"
                             "\r\n"
                             "data:first\n"
                             "data: second line caf\xC3\xA9\n"
                             "id: 42\n"
                             "\n"
                             "data: r\xE2\x82\xAC\r"
                             "retry: 1500\r"
                             "bogus: ignored\r"
                             "\r"
                             "event: error\r\n"
                             "data\r\n"
                             "\r\n"
                             "data:  two spaces\n"
                             "retry: 12x\n"
                             "id\n"
                             "\n"
                             "data: [DONE]\n"
                             "\n";

static const char expected[] = "delta|{\"a\":1}||-1\n"
                               "message|first~second line caf\xC3\xA9|42|-1\n"
                               "message|r\xE2\x82\xAC|42|1500\n"
                               "error||42|1500\n"
                               "message| two spaces||1500\n"
                               "message|[DONE]||1500\n";

static void test_whole_stream(void **state)
{
    int rc;
    char *log = parse_pieces(stream, sizeof stream - 1, NULL, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(log, expected);
    free(log);
}

static void test_every_split_point(void **state)
{
    size_t len = sizeof stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        int rc;
        char *log = parse_pieces(stream, len, &cut, 1, &rc);
        assert_int_equal(rc, 0);
        if (strcmp(log, expected) != 0)
            fail_msg("split at %zu gave:\n%s", cut, log);
        free(log);
    }
}

static void test_every_two_split_points(void **state)
{
    size_t len = sizeof stream - 1;
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            char *log = parse_pieces(stream, len, cuts, 2, NULL);
            if (strcmp(log, expected) != 0)
                fail_msg("splits at %zu,%zu gave:\n%s", a, b, log);
            free(log);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    size_t len = sizeof stream - 1;
    size_t cuts[sizeof stream];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    char *log = parse_pieces(stream, len, cuts, len - 1, NULL);
    assert_string_equal(log, expected);
    free(log);
}

static void test_crlf_split_is_one_line_end(void **state)
{
    /* "\r" | "\n" across chunks must not become an extra empty line, which
     * would dispatch "a" before "b" is added. */
    const char text[] = "data: a\r\ndata: b\r\n\r\n";
    size_t cut = 8; /* just after the first '\r' */
    char *log = parse_pieces(text, sizeof text - 1, &cut, 1, NULL);
    assert_string_equal(log, "message|a~b||-1\n");
    free(log);
    /* but a lone '\r' followed by '\r' is two line ends */
    log = parse_pieces("data: a\r\rdata: b\n\n", 18, NULL, 0, NULL);
    assert_string_equal(log, "message|a||-1\nmessage|b||-1\n");
    free(log);
}

static void test_unfinished_event_is_pending(void **state)
{
    struct recorder r = {0};
    buf_init(&r.log, 0);
    struct sse_parser p;
    sse_parser_init(&p, 0, 0, record_event, &r);
    assert_false(sse_parser_pending(&p));
    assert_int_equal(sse_parser_feed(&p, "data: x\n", 8, NULL, 0), 0);
    assert_true(sse_parser_pending(&p));
    assert_int_equal(r.seen, 0);
    assert_int_equal(sse_parser_feed(&p, "\n", 1, NULL, 0), 0);
    assert_int_equal(r.seen, 1);
    assert_false(sse_parser_pending(&p));
    assert_int_equal(sse_parser_feed(&p, "data: part", 10, NULL, 0), 0);
    assert_true(sse_parser_pending(&p));
    assert_int_equal(r.seen, 1);
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_line_limit(void **state)
{
    struct recorder r = {0};
    buf_init(&r.log, 0);
    struct sse_parser p;
    sse_parser_init(&p, 16, 64, record_event, &r);
    char err[256] = "";
    assert_int_equal(sse_parser_feed(&p, "data: 123456789\n\n", 17, err, sizeof err), 0);
    assert_int_equal(r.seen, 1);
    /* 17 bytes in one line, fed in two pieces */
    assert_int_equal(sse_parser_feed(&p, "data: 1234", 10, err, sizeof err), 0);
    assert_int_equal(sse_parser_feed(&p, "5678901", 7, err, sizeof err), ERR_LIMIT);
    assert_non_null(strstr(err, "longer than 16 bytes"));
    /* sticky */
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2, err, sizeof err), ERR_LIMIT);
    assert_int_equal(r.seen, 1);
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_event_limit(void **state)
{
    struct recorder r = {0};
    buf_init(&r.log, 0);
    struct sse_parser p;
    sse_parser_init(&p, 64, 10, record_event, &r);
    char err[256] = "";
    /* exactly 10 bytes of data: "12345~7890" */
    const char ok[] = "data: 12345\ndata: 7890\n\n";
    assert_int_equal(sse_parser_feed(&p, ok, sizeof ok - 1, err, sizeof err), 0);
    assert_int_equal(r.seen, 1);
    const char big[] = "data: 12345\ndata: 67890\n\n";
    assert_int_equal(sse_parser_feed(&p, big, sizeof big - 1, err, sizeof err), ERR_LIMIT);
    assert_non_null(strstr(err, "more than 10 bytes"));
    assert_int_equal(r.seen, 1);
    sse_parser_free(&p);

    /* an over-long event name is refused too */
    sse_parser_init(&p, 0, 0, record_event, &r);
    char line[SSE_MAX_FIELD + 16];
    memset(line, 'e', sizeof line);
    memcpy(line, "event:", 6);
    line[sizeof line - 1] = '\n';
    assert_int_equal(sse_parser_feed(&p, line, sizeof line, err, sizeof err), ERR_LIMIT);
    assert_non_null(strstr(err, "event name"));
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_callback_stops_parsing(void **state)
{
    struct recorder r = {.stop_after = 2};
    buf_init(&r.log, 0);
    struct sse_parser p;
    sse_parser_init(&p, 0, 0, record_event, &r);
    const char text[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(sse_parser_feed(&p, text, sizeof text - 1, NULL, 0), ERR_CANCELED);
    assert_int_equal(r.seen, 2);
    assert_int_equal(sse_parser_feed(&p, "data: 4\n\n", 9, NULL, 0), ERR_CANCELED);
    assert_int_equal(r.seen, 2);
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_nul_and_odd_fields(void **state)
{
    /* NUL in data passes through with its length; an id holding NUL is
     * ignored; a field name with no colon and no value is an empty value. */
    const char text[] = "id: good\n"
                        "id: b\0d\n"
                        "data: a\0b\n"
                        "\n";
    char *log = parse_pieces(text, sizeof text - 1, NULL, 0, NULL);
    assert_memory_equal(log, "message|a\0b|good|-1\n", 20);
    free(log);
    /* events without data are not dispatched, and their name does not leak
     * into the next event */
    log = parse_pieces("event: x\n\ndata: y\n\n", 19, NULL, 0, NULL);
    assert_string_equal(log, "message|y||-1\n");
    free(log);
}

static void test_garbage_does_not_crash(void **state)
{
    uint32_t seed = 12345;
    char junk[4096];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = (seed >> 16) & 0xFF;
            /* bias towards the bytes the parser cares about */
            static const char interesting[] = "\r\n:d ata";
            junk[i] = v < 96 ? interesting[v % 8] : (char)v;
        }
        struct recorder r = {0};
        buf_init(&r.log, 0);
        struct sse_parser p;
        sse_parser_init(&p, 512, 1024, record_event, &r);
        size_t at = 0;
        while (at < sizeof junk) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 97;
            if (n > sizeof junk - at)
                n = sizeof junk - at;
            int rc = sse_parser_feed(&p, junk + at, n, NULL, 0);
            assert_true(rc == 0 || rc == ERR_LIMIT);
            at += n;
        }
        sse_parser_free(&p);
        buf_free(&r.log);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_every_two_split_points),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_crlf_split_is_one_line_end),
        cmocka_unit_test(test_unfinished_event_is_pending),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_event_limit),
        cmocka_unit_test(test_callback_stops_parsing),
        cmocka_unit_test(test_nul_and_odd_fields),
        cmocka_unit_test(test_garbage_does_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
