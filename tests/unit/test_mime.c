/* test_mime — the MIME parser and builder: folded headers, encoded words,
 * addresses, dates, every transfer encoding and charset, nested multiparts,
 * HTML-only mail, malformed input of many kinds, every size limit, a
 * mutation sweep, and builder output parsed back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "net/mime.h"

/* ---- helpers ------------------------------------------------------------ */

static char err[512];

static void parse_ok(const char *raw, struct mime_message *m)
{
    int rc = mime_parse(raw, strlen(raw), 0, m, err, sizeof err);
    if (rc != 0)
        fail_msg("mime_parse failed (%d): %s", rc, err);
}

/* Parses raw expecting code, with want in the error message. */
static void parse_fails(const char *raw, size_t len, int code, const char *want)
{
    struct mime_message m;
    err[0] = '\0';
    int rc = mime_parse(raw, len, 0, &m, err, sizeof err);
    if (rc != code)
        fail_msg("want %d, got %d (%s) for: %.80s", code, rc, err, raw);
    if (want && !strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    mime_message_free(&m);
}

static void parse_fails_str(const char *raw, int code, const char *want)
{
    parse_fails(raw, strlen(raw), code, want);
}

static char *decode(const char *value)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(mime_decode_header(value, &b), 0);
    return buf_steal(&b);
}

static void assert_decodes(const char *value, const char *want)
{
    char *got = decode(value);
    if (strcmp(got, want) != 0)
        fail_msg("decode(%s) = [%s], want [%s]", value, got, want);
    free(got);
}

static char *html_text(const char *html)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(mime_html_to_text(html, strlen(html), &b), 0);
    return buf_steal(&b);
}

/* ---- header fields -------------------------------------------------------- */

static void test_folded_headers(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("Received: from a\r\n"
             "\tby b\r\n"
             "  with c\r\n"
             "Subject: a subject that is\r\n"
             " folded over\r\n"
             "\tthree lines\r\n"
             "X-Empty:\r\n"
             "X-Spaced : value\r\n"
             "\r\n"
             "body\r\n",
             &m);
    /* Unfolded; the tab is a blank like any control character in a header. */
    assert_string_equal(m.subject, "a subject that is folded over three lines");
    assert_string_equal(mime_message_header(&m, "received"), "from a\tby b  with c");
    assert_string_equal(mime_message_header(&m, "X-EMPTY"), "");
    assert_string_equal(mime_message_header(&m, "x-spaced"), "value");
    assert_null(mime_message_header(&m, "X-Missing"));
    assert_int_equal(m.header_count, 4);
    assert_string_equal(m.text, "body\n");
    assert_int_equal(m.text_source, MIME_TEXT_PLAIN);
    mime_message_free(&m);
}

static void test_lf_only_and_mbox_line(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("From someone@example.com Tue Jul  1 10:00:00 2025\n"
             "Subject: lf\n"
             "\n"
             "line one\n"
             "line two\n",
             &m);
    assert_string_equal(m.subject, "lf");
    assert_string_equal(m.text, "line one\nline two\n");
    mime_message_free(&m);
}

static void test_encoded_words(void **state)
{
    (void)state;
    assert_decodes("=?UTF-8?B?UHJpbWVyIHZpZMOpbw==?=", "Primer vid\xC3\xA9o");
    assert_decodes("=?utf-8?q?Primer_vid=C3=A9o?=", "Primer vid\xC3\xA9o");
    assert_decodes("=?ISO-8859-1?Q?Caf=E9?= au lait", "Caf\xC3\xA9 au lait");
    assert_decodes("=?windows-1252?Q?=93quoted=94_=80?=",
                   "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC");
    assert_decodes("=?iso-8859-15?q?=A4?=", "\xE2\x82\xAC");
    /* Blanks between encoded words vanish; blanks next to text stay. */
    assert_decodes("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab");
    assert_decodes("=?UTF-8?Q?a?=\t  =?UTF-8?Q?b?=", "ab");
    assert_decodes("x =?UTF-8?Q?a?= y", "x a y");
    assert_decodes("=?UTF-8?Q?a_?= y", "a  y");
    /* A character split across two words. */
    assert_decodes("=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "\xC3\xA9\xC3\xA9");
    assert_decodes("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "\xC3\xA9");
    /* RFC 2231 language suffix. */
    assert_decodes("=?utf-8*en?q?hi?=", "hi");
    /* Malformed or unknown: kept as written. */
    assert_decodes("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
    assert_decodes("=?UTF-8?B?***?=", "=?UTF-8?B?***?=");
    assert_decodes("=?UTF-8?Q?no end", "=?UTF-8?Q?no end");
    assert_decodes("=??Q?x?=", "=??Q?x?=");
    assert_decodes("=?koi8-r?B?8sXb?=", "=?koi8-r?B?8sXb?=");
    /* Unknown charset but UTF-8 bytes: decoded. */
    assert_decodes("=?x-unknown?Q?caf=C3=A9?=", "caf\xC3\xA9");
    /* Control characters never reach a header value. */
    assert_decodes("=?UTF-8?Q?a=0D=0Ab?=", "a  b");
    /* Raw 8-bit: kept when UTF-8, else read as Windows-1252. */
    assert_decodes("Caf\xC3\xA9", "Caf\xC3\xA9");
    assert_decodes("Caf\xE9 \x80", "Caf\xC3\xA9 \xE2\x82\xAC");
    assert_decodes("", "");
    char *empty = decode(NULL);
    assert_string_equal(empty, "");
    free(empty);
}

static void test_subject_charsets_in_message(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("Subject: =?UTF-8?B?UHJpbWVyIFZpZGVv?=\r\n"
             " =?UTF-8?Q?_f=C3=BCr_Garc=C3=ADa?=\r\n"
             "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"
             "\r\n"
             "x\r\n",
             &m);
    assert_string_equal(m.subject, "Primer Video f\xC3\xBCr Garc\xC3\xAD"
                                   "a");
    assert_int_equal(m.from.count, 1);
    assert_string_equal(m.from.items[0].name, "Andr\xC3\xA9");
    assert_string_equal(m.from.items[0].addr, "andre@example.com");
    mime_message_free(&m);
}

static void assert_address(const struct mime_address_list *l, size_t i, const char *name,
                           const char *addr)
{
    assert_true(i < l->count);
    if (strcmp(l->items[i].name, name) != 0 || strcmp(l->items[i].addr, addr) != 0)
        fail_msg("address %zu is [%s] <%s>, want [%s] <%s>", i, l->items[i].name, l->items[i].addr,
                 name, addr);
}

static void test_addresses(void **state)
{
    (void)state;
    struct mime_address_list l;
    assert_int_equal(
        mime_parse_addresses("\"Doe, John\" <john@example.com>, Jane Roe <jane@example.com>,"
                             " bob@example.com (Bob B), <carol@example.com>, dave@example.com,"
                             " \"Esc \\\"Q\\\" \\\\\" <e@example.com>,"
                             " =?UTF-8?Q?Zo=C3=AB?= <zoe@example.com>,"
                             " \"=?utf-8?B?R2FyY8OtYQ==?=\" <g@example.com>,"
                             " Routed <@relay.example:r@example.com>,"
                             " f(comment)@example.com,"
                             " Team: t1@example.com, \"T Two\" <t2@example.com>;,"
                             " undisclosed-recipients:;",
                             &l, err, sizeof err),
        0);
    assert_int_equal(l.count, 12);
    assert_address(&l, 0, "Doe, John", "john@example.com");
    assert_address(&l, 1, "Jane Roe", "jane@example.com");
    assert_address(&l, 2, "Bob B", "bob@example.com");
    assert_address(&l, 3, "", "carol@example.com");
    assert_address(&l, 4, "", "dave@example.com");
    assert_address(&l, 5, "Esc \"Q\" \\", "e@example.com");
    assert_address(&l, 6, "Zo\xC3\xAB", "zoe@example.com");
    assert_address(&l, 7,
                   "Garc\xC3\xAD"
                   "a",
                   "g@example.com");
    assert_address(&l, 8, "Routed", "r@example.com");
    assert_address(&l, 9, "comment", "f@example.com");
    assert_address(&l, 10, "", "t1@example.com");
    assert_address(&l, 11, "T Two", "t2@example.com");
    mime_address_list_free(&l);

    assert_int_equal(mime_parse_addresses("", &l, err, sizeof err), 0);
    assert_int_equal(l.count, 0);
    mime_address_list_free(&l);
    assert_int_equal(mime_parse_addresses("<>", &l, err, sizeof err), 0);
    assert_int_equal(l.count, 0);
    mime_address_list_free(&l);
    assert_int_equal(mime_parse_addresses("\"a b\"@example.com", &l, err, sizeof err), 0);
    assert_address(&l, 0, "", "\"a b\"@example.com");
    mime_address_list_free(&l);

    static const struct {
        const char *value;
        const char *want;
    } bad[] = {
        {"\"John <john@example.com>", "unterminated quoted string"},
        {"John <john@example.com", "unterminated angle address"},
        {"john@example.com (John", "unterminated comment"},
        {"John Smith", "name without an address"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(mime_parse_addresses(bad[i].value, &l, err, sizeof err), ERR_PARSE);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: error [%s] lacks [%s]", bad[i].value, err, bad[i].want);
        mime_address_list_free(&l);
    }
}

static void test_address_headers_in_message(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("From: CRM Bot <crm@example.com>\r\n"
             "To: a@example.com\r\n"
             "To: b@example.com, C <c@example.com>\r\n"
             "Cc: d@example.com\r\n"
             "Reply-To: \"Office\" <office@example.com>\r\n"
             "Message-ID: < abc.123@mail.example.com >\r\n"
             "\r\n"
             "x\r\n",
             &m);
    assert_address(&m.from, 0, "CRM Bot", "crm@example.com");
    assert_int_equal(m.to.count, 3);
    assert_address(&m.to, 2, "C", "c@example.com");
    assert_address(&m.cc, 0, "", "d@example.com");
    assert_address(&m.reply_to, 0, "Office", "office@example.com");
    assert_string_equal(m.message_id, "abc.123@mail.example.com");
    mime_message_free(&m);

    parse_fails_str("From: \"Broken <x@example.com>\r\n\r\nx\r\n", ERR_PARSE,
                    "From header: unterminated quoted string");
    parse_fails_str("To: a <b@example.com\r\n\r\nx\r\n", ERR_PARSE, "To header");
    parse_fails_str("From: a@example.com\r\nFrom: b@example.com\r\n\r\nx\r\n", ERR_PARSE,
                    "2 From headers");
}

static void test_dates(void **state)
{
    (void)state;
    assert_int_equal(mime_parse_date("Tue, 01 Jul 2025 10:00:00 +0000"), 1751364000);
    assert_int_equal(mime_parse_date("1 Jul 2025 12:30:15 +0230"), 1751364015);
    assert_int_equal(mime_parse_date("Tue, 1 Jul 25 10:00 EST"), 1751382000);
    assert_int_equal(mime_parse_date("Mon, 29 Feb 2016 08:00:00 PDT"), 1456758000);
    assert_int_equal(mime_parse_date("Tue, 01 Jul 2025 10:00:00 GMT (UTC)"), 1751364000);
    assert_int_equal(mime_parse_date("tue,  1 jul 2025 10:00:00"), 1751364000);
    assert_int_equal(mime_parse_date("Tuesday, 01 July 2025 10:00:00 +0000"), 1751364000);
    assert_int_equal(mime_parse_date("yesterday"), -1);
    assert_int_equal(mime_parse_date("32 Jul 2025 10:00:00 +0000"), -1);
    assert_int_equal(mime_parse_date("1 Foo 2025 10:00:00 +0000"), -1);
    assert_int_equal(mime_parse_date("1 Jul 2025 25:00:00 +0000"), -1);
    assert_int_equal(mime_parse_date(""), -1);
    assert_int_equal(mime_parse_date(NULL), -1);
    char out[64];
    mime_format_date(0, out, sizeof out);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
    mime_format_date(1751364000, out, sizeof out);
    assert_string_equal(out, "Tue, 01 Jul 2025 10:00:00 +0000");
    assert_int_equal(mime_parse_date(out), 1751364000);

    struct mime_message m;
    parse_ok("Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n\r\nx", &m);
    assert_string_equal(m.date, "Tue, 01 Jul 2025 10:00:00 +0000");
    assert_int_equal(m.date_unix, 1751364000);
    mime_message_free(&m);
    parse_ok("Subject: no date\r\n\r\nx", &m);
    assert_string_equal(m.date, "");
    assert_int_equal(m.date_unix, -1);
    assert_string_equal(m.message_id, "");
    assert_int_equal(m.from.count, 0);
    mime_message_free(&m);
}

/* ---- bodies ------------------------------------------------------------- */

/* Parses a one-part message with the given Content-Type and transfer
 * encoding and checks its text. */
static void assert_body(const char *content_type, const char *cte, const char *body,
                        const char *want)
{
    struct buf raw;
    buf_init(&raw, 0);
    buf_printf(&raw, "Subject: t\r\n");
    if (content_type)
        buf_printf(&raw, "Content-Type: %s\r\n", content_type);
    if (cte)
        buf_printf(&raw, "Content-Transfer-Encoding: %s\r\n", cte);
    buf_printf(&raw, "\r\n");
    buf_append(&raw, body, strlen(body));
    struct mime_message m;
    int rc = mime_parse(raw.data, raw.len, 0, &m, err, sizeof err);
    if (rc)
        fail_msg("parse failed (%d): %s", rc, err);
    if (strcmp(m.text, want) != 0)
        fail_msg("text [%s], want [%s] (type %s, cte %s)", m.text, want,
                 content_type ? content_type : "-", cte ? cte : "-");
    mime_message_free(&m);
    buf_free(&raw);
}

static void test_transfer_encodings(void **state)
{
    (void)state;
    assert_body(NULL, NULL, "plain\r\ntext\r\n", "plain\ntext\n");
    assert_body("text/plain", "7bit", "seven", "seven");
    assert_body("text/plain; charset=utf-8", "8bit", "eight \xC3\xA9", "eight \xC3\xA9");
    assert_body("text/plain", "BINARY", "bin\rary", "bin\nary");
    /* Quoted-printable: soft breaks, escapes, lower-case hex, padding. */
    assert_body("text/plain; charset=utf-8", "quoted-printable",
                "soft=\r\nbreak, =3D equals, caf=c3=a9, tail   \r\nnext=20\r\nend=",
                "softbreak, = equals, caf\xC3\xA9, tail\nnext \nend");
    assert_body("text/plain", "Quoted-Printable", "bad =ZZ and =4", "bad =ZZ and =4");
    assert_body("text/plain", "quoted-printable", "lf soft=\nbreak", "lf softbreak");
    assert_body("text/plain", "quoted-printable", "blank soft=  \r\nbreak", "blank softbreak");
    /* Base64: line breaks, missing padding. */
    assert_body("text/plain; charset=utf-8", "base64", "UHJpbWVyIHZp\r\nZMOpbw==\r\n",
                "Primer vid\xC3\xA9o");
    assert_body("text/plain", "base64", "YWJjZA", "abcd");
    assert_body("text/plain", "base64", "", "");
}

static void test_charsets(void **state)
{
    (void)state;
    assert_body("text/plain; charset=us-ascii", NULL, "ascii", "ascii");
    assert_body("text/plain; charset=\"UTF-8\"", NULL, "\xE2\x9C\x93", "\xE2\x9C\x93");
    assert_body("text/plain; charset=iso-8859-1", NULL, "caf\xE9", "caf\xC3\xA9");
    assert_body("text/plain; charset=latin1", NULL, "\x80", "\xE2\x82\xAC");
    assert_body("text/plain; charset=windows-1252", NULL, "\x93hi\x94 \x80 \x85",
                "\xE2\x80\x9Chi\xE2\x80\x9D \xE2\x82\xAC \xE2\x80\xA6");
    assert_body("text/plain; charset=cp1252", "quoted-printable", "=80", "\xE2\x82\xAC");
    assert_body("text/plain; charset=iso-8859-15", NULL, "\xA4", "\xE2\x82\xAC");
    /* Declared UTF-8 with a bad byte: the damage is visible, the rest kept. */
    assert_body("text/plain; charset=utf-8", NULL, "ok \xFF ok", "ok \xEF\xBF\xBD ok");
    /* us-ascii with 8-bit bytes: UTF-8 when valid, else Windows-1252. */
    assert_body("text/plain; charset=us-ascii", NULL, "caf\xC3\xA9", "caf\xC3\xA9");
    assert_body("text/plain", NULL, "caf\xE9", "caf\xC3\xA9");
    /* Unknown charsets: kept when the bytes are UTF-8. */
    assert_body("text/plain; charset=x-mac-roman", NULL, "plain ascii", "plain ascii");
    parse_fails_str("Content-Type: text/plain; charset=koi8-r\r\n\r\n\xF0\xD2\xC9", ERR_PARSE,
                    "charset \"koi8-r\" is not supported");
    /* NUL bytes in text become U+FFFD. */
    const char nul[] = "Subject: n\r\n\r\na\0b";
    struct mime_message m;
    assert_int_equal(mime_parse(nul, sizeof nul - 1, 0, &m, err, sizeof err), 0);
    assert_string_equal(m.text, "a\xEF\xBF\xBD"
                                "b");
    mime_message_free(&m);

    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(mime_charset_to_utf8(NULL, "x", 1, &b, err, sizeof err), 0);
    assert_int_equal(mime_charset_to_utf8(" ISO_8859-1 ", "\xE9", 1, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "x\xC3\xA9");
    buf_free(&b);
    buf_init(&b, 2);
    assert_int_equal(mime_charset_to_utf8("latin1", "\xE9\xE9", 2, &b, err, sizeof err), ERR_LIMIT);
    buf_free(&b);
}

static void test_format_flowed(void **state)
{
    (void)state;
    assert_body("text/plain; format=flowed", NULL,
                "This is a long \r\nflowed paragraph.\r\n \r\n>quoted \r\nline\r\n-- \r\nsig\r\n",
                "This is a long flowed paragraph.\n\n>quoted \nline\n-- \nsig\n");
    assert_body("text/plain; format=flowed; delsp=yes", NULL, "Ja\r\npan \r\nese\r\n",
                "Ja\npanese\n");
}

static const char *const alternative_msg =
    "From: CRM <crm@example.com>\r\n"
    "Subject: Please produce Primer Video\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Job <b>1042</b></p>\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Job 1042 =E2=80=94 Garc=C3=ADa\r\n"
    "--b1--\r\n"
    "This is the epilogue.\r\n"
    "--b1\r\n";

static void test_multipart_alternative(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok(alternative_msg, &m);
    assert_string_equal(m.text, "Job 1042 \xE2\x80\x94 Garc\xC3\xAD"
                                "a");
    assert_int_equal(m.text_source, MIME_TEXT_PLAIN);
    assert_non_null(m.html);
    assert_string_equal(m.html, "<p>Job <b>1042</b></p>");
    assert_int_equal(m.attachment_count, 0);
    mime_message_free(&m);
}

static void test_nested_multipart(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("Subject: nested\r\n"
             "Content-Type: multipart/mixed; boundary=abc\r\n"
             "\r\n"
             "--abc\r\n"
             "Content-Type: multipart/related; boundary=\"abcdef\"\r\n"
             "\r\n"
             "--abcdef\r\n"
             "Content-Type: multipart/alternative; boundary=alt\r\n"
             "\r\n"
             "--alt\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "the text\r\n"
             "--alt\r\n"
             "Content-Type: text/html\r\n"
             "\r\n"
             "<i>the html</i>\r\n"
             "--alt--\r\n"
             "--abcdef\r\n"
             "Content-Type: image/png; name=logo.png\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "iVBORw0KGgo=\r\n"
             "--abcdef--\r\n"
             "--abc\r\n"
             "Content-Type: application/pdf\r\n"
             "Content-Disposition: attachment;\r\n"
             " filename*=UTF-8''Devis%20Garc%C3%ADa.pdf\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "JVBERi0=\r\n"
             "--abc\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Disposition: inline\r\n"
             "\r\n"
             "footer\r\n"
             "--abc\r\n"
             "Content-Type: text/plain\r\n"
             "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
             "\r\n"
             "not body text\r\n"
             "--abc\r\n"
             "Content-Type: application/octet-stream;\r\n"
             " name*0=\"long\"; name*1=\"-name.bin\"\r\n"
             "Content-Transfer-Encoding: x-uuencode\r\n"
             "\r\n"
             "whatever\r\n"
             "--abc--\r\n",
             &m);
    assert_string_equal(m.text, "the text\nfooter");
    assert_string_equal(m.html, "<i>the html</i>");
    assert_int_equal(m.attachment_count, 4);
    assert_string_equal(m.attachments[0].content_type, "image/png");
    assert_string_equal(m.attachments[0].filename, "logo.png");
    assert_string_equal(m.attachments[1].content_type, "application/pdf");
    assert_string_equal(m.attachments[1].filename, "Devis Garc\xC3\xAD"
                                                   "a.pdf");
    assert_int_equal(m.attachments[1].size, strlen("JVBERi0="));
    assert_string_equal(m.attachments[2].filename, "notes.txt");
    assert_string_equal(m.attachments[3].filename, "long-name.bin");
    mime_message_free(&m);
}

static void test_alternative_choices(void **state)
{
    (void)state;
    struct mime_message m;
    /* Only HTML inside alternative: the text comes from the HTML. */
    parse_ok("Content-Type: multipart/alternative; boundary=x\r\n\r\n"
             "--x\r\nContent-Type: text/html\r\n\r\n<p>Hello&nbsp;<b>world</b></p>\r\n--x--\r\n",
             &m);
    assert_string_equal(m.text, "Hello world");
    assert_int_equal(m.text_source, MIME_TEXT_HTML);
    mime_message_free(&m);
    /* A nested multipart gives the text when there is no text/plain child,
     * and an empty text/plain gives way to the HTML. */
    parse_ok("Content-Type: multipart/alternative; boundary=x\r\n\r\n"
             "--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n"
             "--y\r\nContent-Type: text/plain\r\n\r\n   \r\n--y--\r\n"
             "--x\r\nContent-Type: text/html\r\n\r\n<div>from html</div>\r\n--x--\r\n",
             &m);
    assert_string_equal(m.text, "from html");
    assert_int_equal(m.text_source, MIME_TEXT_HTML);
    mime_message_free(&m);
    /* No body text at all. */
    parse_ok("Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBO\r\n", &m);
    assert_string_equal(m.text, "");
    assert_null(m.html);
    assert_int_equal(m.text_source, MIME_TEXT_NONE);
    assert_int_equal(m.attachment_count, 1);
    mime_message_free(&m);
    /* Empty multipart; header-only message; unreadable Content-Type. */
    parse_ok("Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n--e--\r\n", &m);
    assert_string_equal(m.text, "");
    mime_message_free(&m);
    parse_ok("Subject: only a header\r\n", &m);
    assert_string_equal(m.subject, "only a header");
    assert_string_equal(m.text, "");
    mime_message_free(&m);
    parse_ok("Content-Type: garbage\r\n\r\nstill text", &m);
    assert_string_equal(m.text, "still text");
    mime_message_free(&m);
}

static void test_html_only(void **state)
{
    (void)state;
    struct mime_message m;
    parse_ok("Subject: html\r\n"
             "Content-Type: text/html; charset=windows-1252\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "\r\n"
             "<html><head><title>T</title><style>p{color:red}</style></head>\r\n"
             "<body><script>alert('x')</script><h1>Primer &amp; video</h1>\r\n"
             "<p>Dear   Mr.\r\n Garc=EDa,<br>your job #1042 is ready.</p>\r\n"
             "<ul><li>Roof</li><li>Gutters</li></ul>\r\n"
             "<p><a href=3D\"https://example.com/v/1042?a=3D1&amp;b=3D2\">Watch</a></p>\r\n"
             "<!-- a comment with <p> inside --><p>&#8364;5 &#x263A; &euro; &lt;3 &copy;</p>\r\n"
             "</body></html>\r\n",
             &m);
    assert_int_equal(m.text_source, MIME_TEXT_HTML);
    assert_string_equal(m.text, "Primer & video\n\n"
                                "Dear Mr. Garc\xC3\xAD"
                                "a,\nyour job #1042 is ready.\n\n"
                                "- Roof\n- Gutters\n\n"
                                "Watch (https://example.com/v/1042?a=1&b=2)\n\n"
                                "\xE2\x82\xAC"
                                "5 \xE2\x98\xBA \xE2\x82\xAC <3 \xC2\xA9");
    mime_message_free(&m);
}

static void test_html_to_text(void **state)
{
    (void)state;
    static const struct {
        const char *html, *want;
    } cases[] = {
        {"a < b and c > d", "a < b and c > d"},
        {"<p>one</p><p>two</p>", "one\n\ntwo"},
        {"line<br>break<br/><br />x", "line\nbreak\n\nx"},
        {"<pre>  keep\n   spaces</pre>after", "  keep\n   spaces\n\nafter"},
        {"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
        {"<a href=\"https://x.test/\">https://x.test/</a>", "https://x.test/"},
        {"<a href='mailto:o@x.test'>write</a>", "write (o@x.test)"},
        {"<a href=\"javascript:evil()\">click</a>", "click"},
        {"&amp &lt; &unknown; &#0; &#xZZ; &#1114112;", "& < &unknown; \xEF\xBF\xBD &#xZZ; "
                                                       "\xEF\xBF\xBD"},
        {"&#150;&#x80;", "\xE2\x80\x93\xE2\x82\xAC"},
        {"<STYLE>x</STYLE><SCRIPT>y</Script>z", "z"},
        {"<script>never closed", ""},
        {"<!-- unterminated comment", ""},
        {"<p", ""},
        {"<!DOCTYPE html><?xml x?>text", "text"},
        {"<div title=\"a>b\">quoted gt</div>", "quoted gt"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = html_text(cases[i].html);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("html_to_text(%s) = [%s], want [%s]", cases[i].html, got, cases[i].want);
        free(got);
    }
    struct buf b;
    buf_init(&b, 3);
    assert_int_equal(mime_html_to_text("<p>too long</p>", 15, &b), ERR_LIMIT);
    buf_free(&b);
}

/* ---- malformed input ------------------------------------------------------ */

static void test_malformed(void **state)
{
    (void)state;
    parse_fails_str("", ERR_PARSE, "empty");
    parse_fails_str(" \r\n\r\n\t", ERR_PARSE, "empty");
    parse_fails_str("\r\nbody only", ERR_PARSE, "no header fields");
    parse_fails_str("hello world\nthis is not mail\n", ERR_PARSE,
                    "line 1 is not a header field (\"hello world\")");
    parse_fails_str("Subject: x\r\nThis body has no blank line before it\r\n", ERR_PARSE,
                    "line 2 is not a header field");
    parse_fails_str("Subject: x\r\nblank line missing\r\n", ERR_PARSE,
                    "blank line between header and body missing");
    parse_fails_str(" folded first\r\nSubject: x\r\n\r\n", ERR_PARSE,
                    "starts with white space but continues no field");
    parse_fails_str(": no name\r\n\r\n", ERR_PARSE, "not a header field");
    parse_fails("Subject: a\0b\r\n\r\nx", 17, ERR_PARSE, "NUL byte");
    parse_fails_str("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n--x--\r\n", ERR_PARSE,
                    "multipart/mixed has no boundary parameter");
    parse_fails_str("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\nx", ERR_PARSE,
                    "no boundary");
    parse_fails_str("Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiter at all\r\n",
                    ERR_PARSE, "boundary \"zz\" never appears");
    parse_fails_str("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nbody\r\n",
                    ERR_PARSE, "unterminated multipart/mixed");
    parse_fails_str("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
                    "Content-Type: multipart/alternative; boundary=yy\r\n\r\n"
                    "--yy\r\n\r\ninner\r\n--zz--\r\n",
                    ERR_PARSE, "part 1: unterminated multipart/alternative");
    parse_fails_str("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nok\r\n"
                    "--zz\r\nnot a header\r\n--zz--\r\n",
                    ERR_PARSE, "part 2 line 1 is not a header field");
    parse_fails_str("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\nQUJD*EF\r\n--zz--\r\n",
                    ERR_PARSE, "part 1: invalid base64: byte 0x2A at offset 4");
    parse_fails_str("Content-Transfer-Encoding: base64\r\n\r\nQUJDR", ERR_PARSE,
                    "the body: invalid base64: the data ends in a partial group");
    parse_fails_str("Content-Transfer-Encoding: base64\r\n\r\nQQ==QQ==", ERR_PARSE,
                    "invalid base64");
    parse_fails_str("Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n", ERR_PARSE,
                    "unsupported Content-Transfer-Encoding \"x-uuencode\"");
    parse_fails_str("Content-Type: multipart/mixed; boundary=q\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n--q\r\n\r\nx\r\n--q--\r\n",
                    ERR_PARSE, "cannot have Content-Transfer-Encoding");
    struct mime_message m;
    assert_int_equal(mime_parse(NULL, 0, 0, &m, err, sizeof err), ERR_INVALID);
    mime_message_free(&m);
}

/* ---- limits --------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    struct buf raw;
    buf_init(&raw, 0);
    /* max_len given by the caller, and the default. */
    struct mime_message m;
    assert_int_equal(mime_parse("Subject: x\r\n\r\n0123456789", 24, 20, &m, err, sizeof err),
                     ERR_LIMIT);
    assert_non_null(strstr(err, "more than the limit of 20"));
    mime_message_free(&m);
    size_t big = MIME_MAX_MESSAGE + 1;
    char *huge = xmalloc(big);
    memset(huge, 'a', big);
    assert_int_equal(mime_parse(huge, big, 0, &m, err, sizeof err), ERR_LIMIT);
    mime_message_free(&m);
    free(huge);

    /* One header block larger than MIME_MAX_HEADER_BYTES. */
    buf_printf(&raw, "Subject: start\r\n");
    while (raw.len <= MIME_MAX_HEADER_BYTES)
        buf_printf(&raw, " continued folded line of a very long header field\r\n");
    buf_printf(&raw, "\r\nbody");
    parse_fails(raw.data, raw.len, ERR_LIMIT, "header is larger than");
    buf_reset(&raw);

    /* Too many fields. */
    for (int i = 0; i <= MIME_MAX_FIELDS; i++)
        buf_printf(&raw, "X-F%d: v\r\n", i);
    buf_printf(&raw, "\r\nbody");
    parse_fails(raw.data, raw.len, ERR_LIMIT, "header fields");
    buf_reset(&raw);

    /* Nesting deeper than MIME_MAX_DEPTH. */
    for (int i = 0; i <= MIME_MAX_DEPTH; i++)
        buf_printf(&raw, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_printf(&raw, "\r\ndeep\r\n");
    for (int i = MIME_MAX_DEPTH; i >= 0; i--)
        buf_printf(&raw, "--b%d--\r\n", i);
    parse_fails(raw.data, raw.len, ERR_LIMIT, "nested deeper than");
    buf_reset(&raw);
    /* Exactly at the bound it parses. */
    for (int i = 0; i < MIME_MAX_DEPTH; i++)
        buf_printf(&raw, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_printf(&raw, "\r\ndeep\r\n");
    for (int i = MIME_MAX_DEPTH - 1; i >= 0; i--)
        buf_printf(&raw, "--b%d--\r\n", i);
    assert_int_equal(mime_parse(raw.data, raw.len, 0, &m, err, sizeof err), 0);
    assert_string_equal(m.text, "deep");
    mime_message_free(&m);
    buf_reset(&raw);

    /* Too many parts. */
    buf_printf(&raw, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
    for (int i = 0; i <= MIME_MAX_PARTS; i++)
        buf_printf(&raw, "--p\r\n\r\n%d\r\n", i);
    buf_printf(&raw, "--p--\r\n");
    parse_fails(raw.data, raw.len, ERR_LIMIT, "parts");
    buf_reset(&raw);

    /* Too many addresses. */
    buf_printf(&raw, "To: a0@example.com");
    for (int i = 1; i <= MIME_MAX_ADDRESSES; i++)
        buf_printf(&raw, ",a%d@example.com", i);
    buf_printf(&raw, "\r\n\r\nx");
    parse_fails(raw.data, raw.len, ERR_LIMIT, "To header: more than");
    buf_reset(&raw);

    /* Body text over MIME_MAX_TEXT. */
    buf_printf(&raw, "Subject: big\r\n\r\n");
    size_t body = MIME_MAX_TEXT + 10;
    char *text = xmalloc(body);
    memset(text, 'x', body);
    buf_append(&raw, text, body);
    free(text);
    parse_fails(raw.data, raw.len, ERR_LIMIT, "longer than");
    buf_free(&raw);
}

/* Every prefix and thousands of mutations of a rich message: the parser
 * returns 0 or an error with a message, and never crashes (ASan checks). */
static void test_mutations(void **state)
{
    (void)state;
    const char *seed = alternative_msg;
    size_t len = strlen(seed);
    char *copy = xmalloc(len + 64);
    struct mime_message m;
    for (size_t cut = 0; cut <= len; cut++) {
        memcpy(copy, seed, cut);
        err[0] = '\0';
        int rc = mime_parse(copy, cut, 0, &m, err, sizeof err);
        assert_true(rc == 0 || (rc < 0 && err[0]));
        mime_message_free(&m);
    }
    uint64_t x = 0x9E3779B97F4A7C15u;
    static const char alphabet[] = "-\r\n=?:;\"<>()\\ aQ_\t\x80\xC3\xFF\0";
    for (int round = 0; round < 4000; round++) {
        memcpy(copy, seed, len);
        int edits = 1 + round % 6;
        for (int e = 0; e < edits; e++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            copy[x % len] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
        }
        err[0] = '\0';
        int rc = mime_parse(copy, len, 0, &m, err, sizeof err);
        if (!(rc == 0 || (rc < 0 && err[0])))
            fail_msg("round %d: rc %d without a message", round, rc);
        mime_message_free(&m);
    }
    free(copy);
}

/* ---- builder -------------------------------------------------------------- */

/* Checks the wire rules on a built message: CRLF only, lines of at most 78
 * characters, no line starting with '.' or "From ". */
static void assert_wire_safe(const char *s)
{
    size_t col = 0;
    bool line_start = true;
    for (const char *p = s; *p; p++) {
        if (line_start) {
            if (*p == '.')
                fail_msg("a line starts with a dot: %.40s", p);
            if (strncmp(p, "From ", 5) == 0)
                fail_msg("a line starts with From: %.40s", p);
        }
        line_start = false;
        if (*p == '\n') {
            if (p == s || p[-1] != '\r')
                fail_msg("bare LF at offset %td", p - s);
            col = 0;
            line_start = true;
            continue;
        }
        if (*p == '\r' && p[1] != '\n')
            fail_msg("bare CR at offset %td", p - s);
        if (*p != '\r' && ++col > 78)
            fail_msg("line longer than 78: %.80s", p - 78);
    }
    assert_true(strlen(s) >= 2 && strcmp(s + strlen(s) - 2, "\r\n") == 0);
}

static void test_build_round_trip(void **state)
{
    (void)state;
    struct mime_mailbox to[] = {
        {"Zo\xC3\xAB Garc\xC3\xAD"
         "a",
         "zoe@example.com"},
        {"Smith, \"Bob\"", "bob@example.com"},
        {NULL, "plain@example.com"},
        {"A Very Long Display Name That Goes On", "long.address.for.folding@example.com"},
    };
    struct mime_mailbox cc[] = {{"Office", "office@example.com"}};
    const char *extra[] = {"X-Harde-Job: 1042", "Auto-Submitted: auto-generated", NULL};
    const char *text = "Bonjour Zo\xC3\xAB,\n"
                       ".a line starting with a dot\n"
                       "From here on, mbox would be unhappy\n"
                       "trailing blank \n"
                       "tab\tand = sign\n"
                       "A very long line that must be soft-wrapped because it is far longer "
                       "than seventy-six characters, \xE2\x9C\x93 with UTF-8 across the break.\n"
                       "\n"
                       "last line";
    const char *html = "<p>Bonjour <b>Zo\xC3\xAB</b> &amp; co</p>\n.<p>dot</p>";
    struct mime_draft d = {
        .from = {"Hard-E \xE2\x80\x94 Sales", "harde@example.com"},
        .to = to,
        .to_count = 4,
        .cc = cc,
        .cc_count = 1,
        .reply_to = {"Office", "office@example.com"},
        .subject = "Your primer vid\xC3\xA9o for job 1042 \xE2\x80\x94 with a subject long "
                   "enough to need several encoded words",
        .text = text,
        .html = html,
        .message_id = "fixed.1@example.com",
        .date_unix = 1751364000,
        .extra_headers = extra,
    };
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(mime_build(&d, &out, err, sizeof err), 0);
    assert_wire_safe(out.data);
    assert_non_null(strstr(out.data, "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"));
    assert_non_null(strstr(out.data, "Message-ID: <fixed.1@example.com>\r\n"));
    assert_non_null(strstr(out.data, "MIME-Version: 1.0\r\n"));
    assert_non_null(strstr(out.data, "X-Harde-Job: 1042\r\n"));
    assert_non_null(strstr(out.data, "Content-Type: multipart/alternative;\r\n boundary="));
    assert_non_null(strstr(out.data, "=?UTF-8?B?"));

    struct mime_message m;
    int rc = mime_parse(out.data, out.len, 0, &m, err, sizeof err);
    if (rc)
        fail_msg("parse of built message failed: %s\n%s", err, out.data);
    assert_string_equal(m.subject, d.subject);
    assert_address(&m.from, 0, "Hard-E \xE2\x80\x94 Sales", "harde@example.com");
    assert_int_equal(m.to.count, 4);
    for (size_t i = 0; i < 4; i++)
        assert_address(&m.to, i, to[i].name ? to[i].name : "", to[i].addr);
    assert_address(&m.cc, 0, "Office", "office@example.com");
    assert_address(&m.reply_to, 0, "Office", "office@example.com");
    assert_string_equal(m.message_id, "fixed.1@example.com");
    assert_int_equal(m.date_unix, 1751364000);
    assert_string_equal(m.text, text);
    assert_string_equal(m.html, html);
    assert_string_equal(mime_message_header(&m, "Auto-Submitted"), "auto-generated");
    mime_message_free(&m);
    buf_free(&out);
}

static void test_build_text_only(void **state)
{
    (void)state;
    struct mime_mailbox to = {NULL, "a@example.com"};
    struct mime_draft d = {.from = {NULL, "b@example.com"},
                           .to = &to,
                           .to_count = 1,
                           .subject = "Plain ASCII subject",
                           .text = "hello\r\nworld\n"};
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(mime_build(&d, &out, err, sizeof err), 0);
    assert_wire_safe(out.data);
    assert_non_null(strstr(out.data, "Subject: Plain ASCII subject\r\n"));
    assert_non_null(strstr(out.data, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_null(strstr(out.data, "multipart"));
    struct mime_message m;
    assert_int_equal(mime_parse(out.data, out.len, 0, &m, err, sizeof err), 0);
    assert_string_equal(m.text, "hello\nworld\n");
    assert_null(m.html);
    assert_address(&m.from, 0, "", "b@example.com");
    /* A generated Message-ID in the sender's domain, and a current date. */
    assert_non_null(strstr(m.message_id, "@example.com"));
    assert_true(m.date_unix > 1700000000);
    mime_message_free(&m);
    buf_free(&out);

    /* "=?" in an ASCII subject is encoded so it reads back the same. */
    d.subject = "literal =?UTF-8?Q?x?= text";
    d.text = "";
    buf_init(&out, 0);
    assert_int_equal(mime_build(&d, &out, err, sizeof err), 0);
    assert_int_equal(mime_parse(out.data, out.len, 0, &m, err, sizeof err), 0);
    assert_string_equal(m.subject, d.subject);
    assert_string_equal(m.text, ""); /* a blank body is no text */
    assert_int_equal(m.text_source, MIME_TEXT_NONE);
    mime_message_free(&m);
    buf_free(&out);
}

static void test_build_errors(void **state)
{
    (void)state;
    struct mime_mailbox to = {NULL, "a@example.com"};
    struct mime_mailbox bad_to = {NULL, "not an address"};
    const char *dup[] = {"Subject: again", NULL};
    const char *broken[] = {"X-Bad: line\r\nInjected: yes", NULL};
    const char *noname[] = {"no colon here", NULL};
    static const struct {
        const char *what;
        int field; /* which one to break */
    } cases[] = {
        {"From address", 0},
        {"To address", 1},
        {"no To address", 2},
        {"subject has a line break", 3},
        {"not valid UTF-8", 4},
        {"duplicates", 5},
        {"printable ASCII", 6},
        {"printable ASCII", 7},
        {"Message-ID", 8},
        {"text is missing", 9},
        {"name has a line break", 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mime_draft d = {
            .from = {"B", "b@example.com"}, .to = &to, .to_count = 1, .subject = "s", .text = "t"};
        switch (cases[i].field) {
        case 0:
            d.from.addr = "b@@example.com";
            break;
        case 1:
            d.to = &bad_to;
            break;
        case 2:
            d.to_count = 0;
            break;
        case 3:
            d.subject = "evil\r\nBcc: victim@example.com";
            break;
        case 4:
            d.text = "bad \xFF utf-8";
            break;
        case 5:
            d.extra_headers = dup;
            break;
        case 6:
            d.extra_headers = broken;
            break;
        case 7:
            d.extra_headers = noname;
            break;
        case 8:
            d.message_id = "no at sign";
            break;
        case 9:
            d.text = NULL;
            break;
        case 10:
            d.from.name = "evil\nname";
            break;
        }
        struct buf out;
        buf_init(&out, 0);
        err[0] = '\0';
        assert_int_equal(mime_build(&d, &out, err, sizeof err), ERR_INVALID);
        if (!strstr(err, cases[i].what))
            fail_msg("case %zu: error [%s] lacks [%s]", i, err, cases[i].what);
        assert_int_equal(out.len, 0);
        buf_free(&out);
    }
    /* The caller's bound: nothing is appended. */
    struct mime_draft d = {.from = {NULL, "b@example.com"}, .to = &to, .to_count = 1, .text = "t"};
    struct buf out;
    buf_init(&out, 50);
    assert_int_equal(mime_build(&d, &out, err, sizeof err), ERR_LIMIT);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

static void test_message_ids(void **state)
{
    (void)state;
    char a[128], b[128];
    mime_message_id_new("example.com", a, sizeof a);
    mime_message_id_new("example.com", b, sizeof b);
    assert_string_not_equal(a, b);
    assert_non_null(strstr(a, "@example.com"));
    mime_message_id_new(NULL, a, sizeof a);
    assert_non_null(strstr(a, "@harde.invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folded_headers),
        cmocka_unit_test(test_lf_only_and_mbox_line),
        cmocka_unit_test(test_encoded_words),
        cmocka_unit_test(test_subject_charsets_in_message),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_address_headers_in_message),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_transfer_encodings),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_format_flowed),
        cmocka_unit_test(test_multipart_alternative),
        cmocka_unit_test(test_nested_multipart),
        cmocka_unit_test(test_alternative_choices),
        cmocka_unit_test(test_html_only),
        cmocka_unit_test(test_html_to_text),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_build_round_trip),
        cmocka_unit_test(test_build_text_only),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_message_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
