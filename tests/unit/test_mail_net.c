/* test_mail_net — the IMAP and SMTP clients.
 *
 * Without servers: configuration checks (plain text only to loopback),
 * connection refused, silent servers (timeouts), cancellation, envelope
 * checks, SMTP AUTH against a scripted server. With the real Dovecot and OpenSMTPD of
 * tests/servers/mail.sh, whose ports tests/e2e/test_mail.sh passes in HARDE_TEST_IMAP_PORT,
 * HARDE_TEST_SMTP_PORT, HARDE_TEST_MAIL_PASSWORD and HARDE_TEST_MAIL_DOMAIN
 * (users alice, bob, carol, dave): send with net/smtp, find with UID
 * SEARCH, fetch, parse with net/mime; the poll checkpoint across polls and
 * restarts; bad password; missing folder and UID; UIDVALIDITY mismatch;
 * limits; refused recipients; imaps:// and STARTTLS with the kit's
 * throw-away certificate (HARDE_TEST_IMAPS_PORT, HARDE_TEST_MAIL_CA). Those tests are skipped when
 * the variables are absent (tests/run.sh clears HARDE_* for unit tests). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "net/imap.h"
#include "net/mail_internal.h"
#include "net/mime.h"
#include "net/smtp.h"

#define DELIVERY_WAIT_MS 15000

static char err[1024];

/* ---- local sockets -------------------------------------------------------- */

/* A listening socket on 127.0.0.1 that never accepts (the kernel completes
 * connections, nobody greets); its port in *port. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nothing listens on. */
static int closed_port(void)
{
    int port;
    close(silent_listener(&port));
    return port;
}

/* ---- a scripted SMTP server with AUTH -------------------------------------- */

/* OpenSMTPD offers AUTH only after STARTTLS, which its build cannot do with
 * OpenSSL 3, so AUTH is tested against this small server written from RFC
 * 5321 and RFC 4954: it offers AUTH PLAIN, accepts one user and password,
 * refuses MAIL before a login, and can refuse the message after DATA. */
#define FAKE_PLAIN "AGJvYkBleGFtcGxlLnRlc3QAYXBwLXBhc3MtMTIzNA==" /* bob@…, app-pass-1234 */

struct fake_smtp {
    int listen_fd;
    int port;
    bool reject_data; /* answer 554 after the message */
    bool offer_auth;
    pthread_t thread;
    /* what the client did */
    bool authenticated;
    char auth_line[256]; /* the AUTH PLAIN response as sent */
    char mail_from[256];
    struct buf data;
};

static void fake_reply(FILE *f, const char *text)
{
    fputs(text, f);
    fflush(f);
}

static void *fake_smtp_run(void *arg)
{
    struct fake_smtp *fs = arg;
    int fd = accept(fs->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "r+");
    char line[256]; /* the test's lines are short */
    fake_reply(f, "220 fake.test ESMTP\r\n");
    while (fgets(line, sizeof line, f)) {
        if (strncasecmp(line, "EHLO", 4) == 0) {
            fake_reply(f, fs->offer_auth ? "250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                                         : "250-fake.test\r\n250 8BITMIME\r\n");
        } else if (strncasecmp(line, "AUTH PLAIN", 10) == 0) {
            const char *ir = line + 10;
            while (*ir == ' ')
                ir++;
            char given[256];
            size_t n = strlen(ir) < sizeof given ? strlen(ir) : sizeof given - 1;
            memcpy(given, ir, n);
            given[n] = '\0';
            if (!given[0] || given[0] == '\r') {
                fake_reply(f, "334 \r\n");
                if (!fgets(given, sizeof given, f))
                    break;
            }
            given[strcspn(given, "\r\n")] = '\0';
            memcpy(fs->auth_line, given, sizeof given);
            fs->authenticated = strcmp(given, FAKE_PLAIN) == 0;
            fake_reply(f, fs->authenticated ? "235 2.7.0 Authentication successful\r\n"
                                            : "535 5.7.8 Authentication credentials invalid\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            if (fs->offer_auth && !fs->authenticated) {
                fake_reply(f, "530 5.7.0 Authentication required\r\n");
                continue;
            }
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(fs->mail_from, sizeof fs->mail_from, "%s", line + 10);
            fake_reply(f, "250 2.1.0 Ok\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            fake_reply(f, "250 2.1.5 Ok\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            fake_reply(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
            while (fgets(line, sizeof line, f) && strcmp(line, ".\r\n") != 0)
                buf_append_str(&fs->data, line);
            fake_reply(f, fs->reject_data ? "554 5.6.0 Message rejected as spam\r\n"
                                          : "250 2.0.0 Ok: queued\r\n");
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            fake_reply(f, "221 2.0.0 Bye\r\n");
            break;
        } else {
            fake_reply(f, "502 5.5.2 Command not recognized\r\n");
        }
    }
    fclose(f);
    return NULL;
}

/* fs must be zeroed or stopped before; the last one's data is freed here. */
static void fake_smtp_start(struct fake_smtp *fs, bool offer_auth, bool reject_data)
{
    buf_free(&fs->data);
    memset(fs, 0, sizeof *fs);
    buf_init(&fs->data, 0);
    fs->offer_auth = offer_auth;
    fs->reject_data = reject_data;
    fs->listen_fd = silent_listener(&fs->port);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_smtp_run, fs), 0);
}

static void fake_smtp_stop(struct fake_smtp *fs)
{
    pthread_join(fs->thread, NULL);
    close(fs->listen_fd);
}

static int fake_send(struct fake_smtp *fs, const char *user, const char *password)
{
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", fs->port);
    struct smtp_config cfg = {.url = url, .user = user, .password = password, .timeout_ms = 5000};
    const char *rcpt[] = {"zoe@example.com"};
    const char *msg = "Subject: auth\r\n\r\n.leading dot\r\nbody\r\n";
    return smtp_send(&cfg, "bob@example.test", rcpt, 1, msg, strlen(msg), err, sizeof err);
}

static void test_smtp_auth(void **state)
{
    (void)state;
    struct fake_smtp fs = {0};
    fake_smtp_start(&fs, true, false);
    assert_int_equal(fake_send(&fs, "bob@example.test", "app-pass-1234"), 0);
    fake_smtp_stop(&fs);
    assert_true(fs.authenticated);
    assert_string_equal(fs.mail_from, "<bob@example.test>");
    /* Dot-stuffed on the wire, as RFC 5321 4.5.2 wants. */
    if (!strstr(buf_str(&fs.data), "\r\n..leading dot\r\nbody\r\n"))
        fail_msg("DATA was [%s]", buf_str(&fs.data));

    fake_smtp_start(&fs, true, false);
    err[0] = '\0';
    assert_int_equal(fake_send(&fs, "bob@example.test", "wrong-pass"), ERR_AUTH);
    fake_smtp_stop(&fs);
    assert_false(fs.authenticated);
    assert_true(fs.auth_line[0] != '\0'); /* it did try */
    if (!strstr(err, "\"bob@example.test\"") || !strstr(err, "535") || strstr(err, "wrong-pass"))
        fail_msg("error [%s] should name the user and quote the 535", err);

    /* No user: no AUTH, and the server's 530 is the error. */
    fake_smtp_start(&fs, true, false);
    assert_int_equal(fake_send(&fs, NULL, NULL), ERR_HTTP);
    fake_smtp_stop(&fs);
    assert_non_null(strstr(err, "530"));

    /* A user but no AUTH offered: not sent at all. */
    fake_smtp_start(&fs, false, false);
    assert_int_equal(fake_send(&fs, "bob@example.test", "app-pass-1234"), ERR_AUTH);
    fake_smtp_stop(&fs);
    assert_non_null(strstr(err, "offers no AUTH"));
    assert_string_equal(fs.mail_from, "");

    /* The message refused after DATA. */
    fake_smtp_start(&fs, true, true);
    assert_int_equal(fake_send(&fs, "bob@example.test", "app-pass-1234"), ERR_HTTP);
    fake_smtp_stop(&fs);
    if (!strstr(err, "refused the message") || !strstr(err, "554"))
        fail_msg("error [%s] should say the message was refused with 554", err);
    buf_free(&fs.data);
}

/* Feeds reply lines to the collector; returns the index of the line that
 * stopped the transfer, or -1. */
static int feed_replies(struct mail_reply *r, const char *const *lines)
{
    for (int i = 0; lines[i]; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s\r\n", lines[i]);
        if (mail_reply_header_cb(line, 1, strlen(line), r) != strlen(line))
            return i;
    }
    return -1;
}

/* The AUTH check judges the EHLO answer after STARTTLS, not the one before. */
static void test_smtp_auth_check_with_starttls(void **state)
{
    (void)state;
    const char *const upgraded[] = {"220 smtp.example.com ESMTP",
                                    "250-smtp.example.com at your service",
                                    "250-STARTTLS",
                                    "250 SMTPUTF8",
                                    "220 2.0.0 Ready to start TLS",
                                    "250-smtp.example.com at your service",
                                    "250-AUTH LOGIN PLAIN XOAUTH2",
                                    "250 SMTPUTF8",
                                    "235 2.7.0 Accepted",
                                    NULL};
    struct mail_reply r = {.require_auth = true, .starttls_pending = true};
    assert_int_equal(feed_replies(&r, upgraded), -1);
    assert_true(r.ehlo_auth);
    const char *const no_auth[] = {"220 x ESMTP",  "250-x", "250 STARTTLS", "220 go ahead", "250-x",
                                   "250 8BITMIME", NULL};
    struct mail_reply r2 = {.require_auth = true, .starttls_pending = true};
    assert_int_equal(feed_replies(&r2, no_auth), 5);
    assert_true(r2.auth_missing);
    /* Without STARTTLS the first answer counts. */
    struct mail_reply r3 = {.require_auth = true};
    assert_int_equal(feed_replies(&r3, no_auth), 2);
    /* Refusals are remembered past the QUIT answer. */
    const char *const refused[] = {"220 x",   "250 x", "250 ok", "550 5.1.1 no such user",
                                   "221 bye", NULL};
    struct mail_reply r4 = {0};
    assert_int_equal(feed_replies(&r4, refused), -1);
    assert_string_equal(r4.failed, "550 5.1.1 no such user");
    assert_string_equal(r4.last, "221 bye");
}

/* ---- without servers ------------------------------------------------------ */

static void expect_imap_config(const char *url, bool starttls, const char *folder, int code,
                               const char *want)
{
    struct imap_config cfg = {.url = url,
                              .user = "u@example.com",
                              .password = "pw",
                              .starttls = starttls,
                              .folder = folder};
    struct imap_client *c = NULL;
    err[0] = '\0';
    int rc = imap_client_new(&cfg, &c, err, sizeof err);
    if (rc != code)
        fail_msg("%s: want %d, got %d (%s)", url, code, rc, err);
    if (want && !strstr(err, want))
        fail_msg("%s: error [%s] lacks [%s]", url, err, want);
    imap_client_free(c);
}

static void test_config_checks(void **state)
{
    (void)state;
    expect_imap_config("imaps://imap.gmail.com", false, NULL, 0, NULL);
    expect_imap_config("imaps://imap.gmail.com:993", false, "Triggers/Primer", 0, NULL);
    expect_imap_config("imap://127.0.0.1:1143", false, NULL, 0, NULL);
    expect_imap_config("imap://localhost", false, NULL, 0, NULL);
    expect_imap_config("imap://[::1]:1143", false, NULL, 0, NULL);
    expect_imap_config("imap://imap.example.com", true, NULL, 0, NULL);
    expect_imap_config("imap://imap.example.com", false, NULL, ERR_CONFIG,
                       "allowed only to a loopback host");
    expect_imap_config("imap://127.0.0.1.evil.com", false, NULL, ERR_CONFIG, "loopback");
    expect_imap_config("imaps://u:secret@imap.gmail.com", false, NULL, ERR_CONFIG,
                       "configure them separately");
    expect_imap_config("imaps://imap.gmail.com/INBOX", false, NULL, ERR_CONFIG, "just");
    expect_imap_config("https://imap.gmail.com", false, NULL, ERR_CONFIG, "scheme");
    expect_imap_config("not a url", false, NULL, ERR_CONFIG, "not a valid URL");
    expect_imap_config("", false, NULL, ERR_CONFIG, "no IMAP server URL");
    expect_imap_config("imaps://imap.gmail.com", false, "Bad\"Name", ERR_CONFIG, "folder name");
    expect_imap_config("imaps://imap.gmail.com", false, "Caf\xC3\xA9", ERR_CONFIG, "folder");
    struct imap_config no_user = {.url = "imaps://imap.gmail.com"};
    struct imap_client *c = NULL;
    assert_int_equal(imap_client_new(&no_user, &c, err, sizeof err), ERR_CONFIG);
    assert_null(c);

    struct smtp_config scfg = {.url = "smtp://smtp.example.com:587"};
    const char *rcpt[] = {"a@example.com"};
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_CONFIG);
    assert_non_null(strstr(err, "loopback"));
    scfg.url = "ftp://smtp.example.com";
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_CONFIG);
    scfg.url = "smtps://smtp.example.com";
    scfg.user = "me";
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_CONFIG);
    assert_non_null(strstr(err, "without a password"));
}

static void test_envelope_checks(void **state)
{
    (void)state;
    struct smtp_config cfg = {.url = "smtp://127.0.0.1:1"};
    const char *good[] = {"a@example.com"};
    const char *bad[] = {"a@example.com", "evil@example.com>\r\nRCPT TO:<x@y"};
    assert_int_equal(smtp_send(&cfg, "b c@example.com", good, 1, "x", 1, err, sizeof err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "sender"));
    assert_int_equal(smtp_send(&cfg, "<b@example.com>", good, 1, "x", 1, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(smtp_send(&cfg, "b@example.com", bad, 2, "x", 1, err, sizeof err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "recipient"));
    assert_int_equal(smtp_send(&cfg, "b@example.com", good, 0, "x", 1, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(smtp_send(&cfg, "b@example.com", good, 1, "", 0, err, sizeof err),
                     ERR_INVALID);
    size_t big = SMTP_MAX_MESSAGE + 1;
    char *huge = calloc(1, big);
    assert_non_null(huge);
    assert_int_equal(smtp_send(&cfg, "b@example.com", good, 1, huge, big, err, sizeof err),
                     ERR_LIMIT);
    free(huge);
}

static void test_connection_refused(void **state)
{
    (void)state;
    int port = closed_port();
    char url[64], hostport[64];
    snprintf(url, sizeof url, "imap://127.0.0.1:%d", port);
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);
    struct imap_config cfg = {.url = url, .user = "alice@example.test", .password = "pw"};
    struct imap_client *c;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), ERR_NETWORK);
    if (!strstr(err, hostport) || !strstr(err, "refused"))
        fail_msg("IMAP error [%s] should name %s and say refused", err, hostport);
    imap_client_free(c);

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
    struct smtp_config scfg = {.url = url};
    const char *rcpt[] = {"a@example.com"};
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_NETWORK);
    if (!strstr(err, hostport) || !strstr(err, "refused"))
        fail_msg("SMTP error [%s] should name %s and say refused", err, hostport);
}

static void test_silent_server_times_out(void **state)
{
    (void)state;
    int port;
    int fd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof url, "imap://127.0.0.1:%d", port);
    struct imap_config cfg = {.url = url, .user = "u", .password = "p", .timeout_ms = 300};
    struct imap_client *c;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    int64_t t0 = clock_now_ns();
    uint32_t *uids;
    size_t n;
    assert_int_equal(imap_search(c, 0, NULL, &uids, &n, err, sizeof err), ERR_TIMEOUT);
    assert_true(clock_now_ns() - t0 < 5000000000LL);
    assert_non_null(strstr(err, "did not answer in time"));
    imap_client_free(c);

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
    struct smtp_config scfg = {.url = url, .timeout_ms = 300};
    const char *rcpt[] = {"a@example.com"};
    t0 = clock_now_ns();
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_TIMEOUT);
    assert_true(clock_now_ns() - t0 < 5000000000LL);

    volatile sig_atomic_t cancel = 1;
    scfg.timeout_ms = 10000;
    scfg.cancel = &cancel;
    t0 = clock_now_ns();
    assert_int_equal(smtp_send(&scfg, "b@example.com", rcpt, 1, "x", 1, err, sizeof err),
                     ERR_CANCELED);
    assert_true(clock_now_ns() - t0 < 5000000000LL);
    cfg.url = url;
    snprintf(url, sizeof url, "imap://127.0.0.1:%d", port);
    cfg.timeout_ms = 10000;
    cfg.cancel = &cancel;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), ERR_CANCELED);
    imap_client_free(c);
    close(fd);
}

/* ---- with the servers ----------------------------------------------------- */

struct servers {
    char imap_url[64];
    char smtp_url[64];
    const char *password;
    const char *domain;
};

static struct servers srv;

/* Skips the calling test unless tests/e2e/test_mail.sh started servers. */
static void need_servers(void)
{
    const char *imap = getenv("HARDE_TEST_IMAP_PORT");
    const char *smtp = getenv("HARDE_TEST_SMTP_PORT");
    srv.password = getenv("HARDE_TEST_MAIL_PASSWORD");
    srv.domain = getenv("HARDE_TEST_MAIL_DOMAIN");
    if (!imap || !smtp || !srv.password || !srv.domain) {
        skip();
        return;
    }
    snprintf(srv.imap_url, sizeof srv.imap_url, "imap://127.0.0.1:%s", imap);
    snprintf(srv.smtp_url, sizeof srv.smtp_url, "smtp://127.0.0.1:%s", smtp);
}

static struct imap_client *login(const char *user, const char *password, const char *folder)
{
    char login_name[128];
    snprintf(login_name, sizeof login_name, "%s@%s", user, srv.domain);
    struct imap_config cfg = {.url = srv.imap_url,
                              .user = login_name,
                              .password = password,
                              .folder = folder,
                              .timeout_ms = 20000};
    struct imap_client *c;
    int rc = imap_client_new(&cfg, &c, err, sizeof err);
    if (rc)
        fail_msg("imap_client_new: %s", err);
    return c;
}

/* Builds and sends a message to user; returns its Message-ID in id. */
static void send_to(const char *user, const char *subject, const char *text, const char *html,
                    char *id, size_t idlen)
{
    char to_addr[128], from_addr[128];
    snprintf(to_addr, sizeof to_addr, "%s@%s", user, srv.domain);
    snprintf(from_addr, sizeof from_addr, "bob@%s", srv.domain);
    mime_message_id_new(srv.domain, id, idlen);
    struct mime_mailbox to = {"Zo\xC3\xAB Garc\xC3\xAD"
                              "a",
                              to_addr};
    struct mime_draft d = {.from = {"Hard-E", from_addr},
                           .to = &to,
                           .to_count = 1,
                           .subject = subject,
                           .text = text,
                           .html = html,
                           .message_id = id};
    struct buf msg;
    buf_init(&msg, 0);
    assert_int_equal(mime_build(&d, &msg, err, sizeof err), 0);
    struct smtp_config cfg = {.url = srv.smtp_url, .timeout_ms = 20000};
    const char *rcpt[] = {to_addr};
    int rc = smtp_send(&cfg, from_addr, rcpt, 1, msg.data, msg.len, err, sizeof err);
    if (rc)
        fail_msg("smtp_send: %s", err);
    buf_free(&msg);
}

/* Polls until a search above after_uid finds something (delivery happens
 * after SMTP's 250). Returns the UIDs (new) and their count. */
static uint32_t *wait_for_mail(struct imap_client *c, uint32_t after_uid, size_t *count)
{
    int64_t deadline = clock_now_ns() + (int64_t)DELIVERY_WAIT_MS * 1000000;
    for (;;) {
        uint32_t *uids;
        struct imap_folder_status st; /* a fresh SELECT shows new mail at once */
        int rc = imap_select(c, &st, err, sizeof err);
        if (!rc)
            rc = imap_search(c, after_uid, NULL, &uids, count, err, sizeof err);
        if (rc)
            fail_msg("imap_search: %s", err);
        if (*count)
            return uids;
        free(uids);
        if (clock_now_ns() > deadline)
            fail_msg("no mail above UID %u within %d ms", after_uid, DELIVERY_WAIT_MS);
        clock_sleep_ms(100, NULL);
    }
}

static void fetch_parse(struct imap_client *c, uint32_t uidvalidity, uint32_t uid,
                        struct mime_message *m)
{
    struct buf raw;
    buf_init(&raw, 0);
    int rc = imap_fetch(c, uidvalidity, uid, &raw, err, sizeof err);
    if (rc)
        fail_msg("imap_fetch %u: %s", uid, err);
    rc = mime_parse(raw.data, raw.len, 0, m, err, sizeof err);
    if (rc)
        fail_msg("mime_parse of UID %u: %s", uid, err);
    buf_free(&raw);
}

static void test_send_and_read(void **state)
{
    (void)state;
    need_servers();
    struct imap_client *c = login("alice", srv.password, NULL);
    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), 0);
    assert_true(st.uidvalidity > 0);
    uint32_t before = st.uidnext ? st.uidnext - 1 : 0;
    const char *subject = "Please produce Primer Video \xE2\x80\x94 job 1042 for Garc\xC3\xAD"
                          "a \xE2\x9C\x93";
    const char *text = "Job: 1042\nCustomer: Zo\xC3\xAB Garc\xC3\xAD"
                       "a\n.dot line stays\nBien s\xC3\xBBr \xE2\x82\xAC 12.50";
    const char *html = "<p>Job <b>1042</b> for Zo\xC3\xAB</p>";
    char id[200];
    send_to("alice", subject, text, html, id, sizeof id);
    size_t n;
    uint32_t *uids = wait_for_mail(c, before, &n);
    assert_int_equal(n, 1);
    struct mime_message m;
    fetch_parse(c, st.uidvalidity, uids[0], &m);
    assert_string_equal(m.subject, subject);
    assert_string_equal(m.text, text);
    assert_string_equal(m.html, html);
    assert_string_equal(m.message_id, id);
    assert_string_equal(m.from.items[0].name, "Hard-E");
    assert_string_equal(m.to.items[0].name, "Zo\xC3\xAB Garc\xC3\xAD"
                                            "a");
    /* The server added its trace fields above ours. */
    assert_non_null(mime_message_header(&m, "Received"));
    mime_message_free(&m);
    /* The URL fetch set \Seen: an UNSEEN search no longer finds it. */
    uint32_t *unseen;
    size_t n_unseen;
    assert_int_equal(imap_search(c, before, "UNSEEN", &unseen, &n_unseen, err, sizeof err), 0);
    assert_int_equal(n_unseen, 0);
    free(unseen);
    free(uids);
    imap_client_free(c);
}

/* Handles every UID of a poll the way the listener does. */
static void handle_poll(struct imap_client *c, struct imap_checkpoint *cp,
                        const struct imap_poll *p)
{
    for (size_t i = 0; i < p->count; i++) {
        struct mime_message m;
        fetch_parse(c, p->uidvalidity, p->uids[i], &m);
        mime_message_free(&m);
        assert_int_equal(imap_mark_handled(c, p->uids[i], err, sizeof err), 0);
        imap_checkpoint_advance(cp, p->uidvalidity, p->uids[i]);
    }
}

static void test_checkpoint(void **state)
{
    (void)state;
    need_servers();
    struct imap_client *c = login("carol", srv.password, NULL);
    struct imap_checkpoint cp = {0, 0};
    struct imap_poll p;
    /* First poll of an empty folder: a new UIDVALIDITY, nothing to do. */
    assert_int_equal(imap_poll(c, &cp, &p, err, sizeof err), 0);
    assert_true(p.uidvalidity_changed);
    assert_int_equal(p.count, 0);
    uint32_t uidvalidity = p.uidvalidity;
    imap_poll_free(&p);

    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), 0);
    uint32_t before = st.uidnext ? st.uidnext - 1 : 0;
    char id[200];
    send_to("carol", "first", "one", NULL, id, sizeof id);
    size_t n;
    free(wait_for_mail(c, before, &n));
    assert_int_equal(imap_poll(c, &cp, &p, err, sizeof err), 0);
    assert_int_equal(p.count, 1);
    uint32_t first = p.uids[0];
    handle_poll(c, &cp, &p);
    imap_poll_free(&p);
    assert_int_equal(cp.uidvalidity, uidvalidity);
    assert_int_equal(cp.last_uid, first);

    /* The same UID is never returned again, though "UID n:*" matches the
     * newest message even when its UID is below n. */
    uint32_t *uids;
    assert_int_equal(imap_search(c, first, NULL, &uids, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(uids);
    assert_int_equal(imap_poll(c, &cp, &p, err, sizeof err), 0);
    assert_false(p.uidvalidity_changed);
    assert_int_equal(p.count, 0);
    imap_poll_free(&p);

    send_to("carol", "second", "two", NULL, id, sizeof id);
    free(wait_for_mail(c, first, &n));
    assert_int_equal(imap_poll(c, &cp, &p, err, sizeof err), 0);
    assert_int_equal(p.count, 1);
    assert_true(p.uids[0] > first);
    struct mime_message m;
    fetch_parse(c, p.uidvalidity, p.uids[0], &m);
    assert_string_equal(m.subject, "second");
    mime_message_free(&m);
    handle_poll(c, &cp, &p);
    imap_poll_free(&p);
    imap_client_free(c);

    /* A restart: a new client with the stored checkpoint finds nothing;
     * even a lost checkpoint finds nothing, as both are marked handled. */
    c = login("carol", srv.password, NULL);
    assert_int_equal(imap_poll(c, &cp, &p, err, sizeof err), 0);
    assert_int_equal(p.count, 0);
    imap_poll_free(&p);
    struct imap_checkpoint lost = {0, 0};
    assert_int_equal(imap_poll(c, &lost, &p, err, sizeof err), 0);
    assert_true(p.uidvalidity_changed);
    assert_int_equal(p.count, 0);
    imap_poll_free(&p);
    assert_int_equal(imap_search(c, 0, "KEYWORD " IMAP_HANDLED_KEYWORD, &uids, &n, err, sizeof err),
                     0);
    assert_true(n >= 2);
    free(uids);
    /* A checkpoint from another UIDVALIDITY restarts from zero. */
    struct imap_checkpoint stale = {uidvalidity + 1, 1000000};
    imap_checkpoint_advance(&stale, uidvalidity, 3);
    assert_int_equal(stale.uidvalidity, uidvalidity);
    assert_int_equal(stale.last_uid, 3);
    imap_checkpoint_advance(&stale, uidvalidity, 2);
    assert_int_equal(stale.last_uid, 3);
    imap_client_free(c);
}

static void test_imap_tls(void **state)
{
    (void)state;
    need_servers();
    const char *port = getenv("HARDE_TEST_IMAPS_PORT");
    const char *ca = getenv("HARDE_TEST_MAIL_CA");
    if (!port || !*port || !ca || !*ca) {
        skip();
        return;
    }
    char url[64], login_name[128];
    snprintf(url, sizeof url, "imaps://127.0.0.1:%s", port);
    snprintf(login_name, sizeof login_name, "alice@%s", srv.domain);
    struct imap_config cfg = {
        .url = url, .user = login_name, .password = srv.password, .ca_file = ca};
    struct imap_client *c;
    struct imap_folder_status st;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    if (imap_select(c, &st, err, sizeof err) != 0)
        fail_msg("imaps select: %s", err);
    assert_true(st.uidvalidity > 0);
    imap_client_free(c);
    /* The throw-away certificate is not trusted without its CA file. */
    cfg.ca_file = NULL;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    assert_int_equal(imap_select(c, &st, err, sizeof err), ERR_NETWORK);
    assert_non_null(strstr(err, "TLS"));
    imap_client_free(c);
    /* STARTTLS on the plain port. */
    cfg.url = srv.imap_url;
    cfg.ca_file = ca;
    cfg.starttls = true;
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    if (imap_select(c, &st, err, sizeof err) != 0)
        fail_msg("STARTTLS select: %s", err);
    imap_client_free(c);
}

/* Runs last: Dovecot delays logins from an address after a failed one. */
static void test_bad_password(void **state)
{
    (void)state;
    need_servers();
    struct imap_client *c = login("alice", "wrong-password", NULL);
    struct imap_folder_status st;
    err[0] = '\0';
    assert_int_equal(imap_select(c, &st, err, sizeof err), ERR_AUTH);
    char user[128];
    snprintf(user, sizeof user, "\"alice@%s\"", srv.domain);
    if (!strstr(err, user) || strstr(err, "wrong-password"))
        fail_msg("error [%s] should name %s and not show the password", err, user);
    imap_client_free(c);
}

static void test_imap_errors(void **state)
{
    (void)state;
    need_servers();
    struct imap_client *c = login("dave", srv.password, "NoSuchFolder");
    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), ERR_NOT_FOUND);
    assert_non_null(strstr(err, "NoSuchFolder"));
    uint32_t *uids;
    size_t n;
    assert_int_equal(imap_search(c, 0, NULL, &uids, &n, err, sizeof err), ERR_NOT_FOUND);
    imap_client_free(c);

    c = login("dave", srv.password, NULL);
    char id[200];
    send_to("dave", "for errors", "a body that is longer than forty bytes, surely", NULL, id,
            sizeof id);
    uids = wait_for_mail(c, 0, &n);
    uint32_t uid = uids[0];
    free(uids);
    assert_int_equal(imap_select(c, &st, err, sizeof err), 0);
    assert_true(st.exists >= 1);
    struct buf raw;
    buf_init(&raw, 0);
    assert_int_equal(imap_fetch(c, st.uidvalidity, uid + 1000, &raw, err, sizeof err),
                     ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no message with UID"));
    assert_int_equal(imap_fetch(c, st.uidvalidity + 1, uid, &raw, err, sizeof err), ERR_CONFLICT);
    assert_non_null(strstr(err, "UIDVALIDITY"));
    assert_int_equal(raw.len, 0);
    /* uidvalidity 0: no check. */
    assert_int_equal(imap_fetch(c, 0, uid, &raw, err, sizeof err), 0);
    assert_non_null(strstr(raw.data, "Subject: for errors\r\n"));
    buf_free(&raw);
    assert_int_equal(imap_store_flags(c, uid, "(\\Seen)", true, err, sizeof err), ERR_INVALID);
    assert_int_equal(imap_store_flags(c, uid, "\\Flagged", true, err, sizeof err), 0);
    assert_int_equal(imap_search(c, 0, "FLAGGED", &uids, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    free(uids);
    assert_int_equal(imap_store_flags(c, uid, "\\Flagged", false, err, sizeof err), 0);
    assert_int_equal(imap_search(c, 0, "FLAGGED", &uids, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(uids);
    assert_int_equal(imap_search(c, 0, "ALL\r\nA1 LOGOUT", &uids, &n, err, sizeof err),
                     ERR_INVALID);
    assert_int_equal(imap_search(c, 0, "NOSUCHKEY", &uids, &n, err, sizeof err), ERR_HTTP);
    imap_client_free(c);

    /* A message over the client's bound. */
    char login_name[128];
    snprintf(login_name, sizeof login_name, "dave@%s", srv.domain);
    struct imap_config cfg = {
        .url = srv.imap_url, .user = login_name, .password = srv.password, .max_message = 100};
    assert_int_equal(imap_client_new(&cfg, &c, err, sizeof err), 0);
    buf_init(&raw, 0);
    assert_int_equal(imap_fetch(c, 0, uid, &raw, err, sizeof err), ERR_LIMIT);
    assert_non_null(strstr(err, "larger than 100 bytes"));
    buf_free(&raw);
    imap_client_free(c);
}

static void test_smtp_errors(void **state)
{
    (void)state;
    need_servers();
    struct smtp_config cfg = {.url = srv.smtp_url, .timeout_ms = 20000};
    const char *rcpt[] = {"someone@elsewhere.example"};
    char from[128];
    snprintf(from, sizeof from, "bob@%s", srv.domain);
    const char *msg = "Subject: x\r\n\r\nbody\r\n";
    assert_int_equal(smtp_send(&cfg, from, rcpt, 1, msg, strlen(msg), err, sizeof err), ERR_HTTP);
    if (!strstr(err, "refused a recipient") || !strstr(err, "550"))
        fail_msg("error [%s] should say the recipient was refused with 550", err);
    /* OpenSMTPD offers AUTH only after STARTTLS: with a user configured we
     * refuse to send unauthenticated. */
    char to[128];
    snprintf(to, sizeof to, "bob@%s", srv.domain);
    const char *ok_rcpt[] = {to};
    cfg.user = "bob";
    cfg.password = "secret-pass";
    assert_int_equal(smtp_send(&cfg, from, ok_rcpt, 1, msg, strlen(msg), err, sizeof err),
                     ERR_AUTH);
    if (!strstr(err, "offers no AUTH") || !strstr(err, "\"bob\"") || strstr(err, "secret-pass"))
        fail_msg("error [%s] should say no AUTH and name the user", err);
}

static void test_raw_message_line_ends(void **state)
{
    (void)state;
    need_servers();
    struct imap_client *c = login("bob", srv.password, NULL);
    struct imap_folder_status st;
    assert_int_equal(imap_select(c, &st, err, sizeof err), 0);
    uint32_t before = st.uidnext ? st.uidnext - 1 : 0;
    char to[128];
    snprintf(to, sizeof to, "bob@%s", srv.domain);
    const char *rcpt[] = {to};
    /* LF line ends and lines starting with dots: CRLF on the wire, and
     * libcurl's dot-stuffing keeps the dots. */
    const char *msg = "From: raw@example.com\nSubject: raw\n\n.\n..two\n.end\nlast";
    struct smtp_config cfg = {.url = srv.smtp_url};
    assert_int_equal(smtp_send(&cfg, to, rcpt, 1, msg, strlen(msg), err, sizeof err), 0);
    size_t n;
    uint32_t *uids = wait_for_mail(c, before, &n);
    struct buf raw;
    buf_init(&raw, 0);
    assert_int_equal(imap_fetch(c, st.uidvalidity, uids[0], &raw, err, sizeof err), 0);
    assert_non_null(strstr(raw.data, "\r\n\r\n.\r\n..two\r\n.end\r\nlast\r\n"));
    struct mime_message m;
    assert_int_equal(mime_parse(raw.data, raw.len, 0, &m, err, sizeof err), 0);
    assert_string_equal(m.text, ".\n..two\n.end\nlast\n");
    mime_message_free(&m);
    buf_free(&raw);
    free(uids);
    imap_client_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_envelope_checks),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_smtp_auth),
        cmocka_unit_test(test_smtp_auth_check_with_starttls),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_send_and_read),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_imap_errors),
        cmocka_unit_test(test_smtp_errors),
        cmocka_unit_test(test_raw_message_line_ends),
        cmocka_unit_test(test_imap_tls),
        cmocka_unit_test(test_bad_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
