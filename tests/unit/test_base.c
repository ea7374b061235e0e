/* Unit tests for base/: buf limits, config parsing and environment overrides,
 * the data directory, log redaction, error names. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

static void buf_respects_limit(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345"), 0);
    assert_int_equal(buf_append_str(&b, "6789"), ERR_LIMIT);
    assert_string_equal(buf_str(&b), "12345");
    assert_int_equal(buf_printf(&b, "%d", 678), 0);
    assert_string_equal(buf_str(&b), "12345678");
    assert_int_equal(buf_append_char(&b, 'x'), ERR_LIMIT);
    buf_consume(&b, 3);
    assert_string_equal(buf_str(&b), "45678");
    char *s = buf_steal(&b);
    assert_string_equal(s, "45678");
    free(s);
    assert_string_equal(buf_str(&b), "");
    buf_free(&b);
}

static void buf_unlimited_grows(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_append_char(&b, 'a'), 0);
    assert_int_equal(b.len, 10000);
    buf_free(&b);
}

static void config_parses_sections_and_quotes(void **state)
{
    char err[256];
    struct config *c = config_parse("# comment\n[model]\ntriage = gpt-4.1-mini\n"
                                    "; other\n[company]\nname = \"Summit Ridge\"\n",
                                    "t.ini", err, sizeof err);
    assert_non_null(c);
    assert_string_equal(config_get(c, "model", "triage", "x"), "gpt-4.1-mini");
    assert_string_equal(config_get(c, "company", "name", "x"), "Summit Ridge");
    assert_string_equal(config_get(c, "company", "missing", "dflt"), "dflt");
    config_free(c);
}

static void config_reports_line_of_error(void **state)
{
    char err[256];
    assert_null(config_parse("[ok]\na = 1\nthis is wrong\n", "bad.ini", err, sizeof err));
    assert_string_equal(err, "bad.ini:3: expected `key = value`");
    assert_null(config_parse("a = 1\n", "bad.ini", err, sizeof err));
    assert_non_null(strstr(err, "outside any [section]"));
    assert_null(config_parse("[bad section\n", "bad.ini", err, sizeof err));
    assert_non_null(strstr(err, "bad.ini:1"));
}

static void config_env_overrides_file(void **state)
{
    char err[256];
    struct config *c = config_parse("[model]\nspecialist = a\n", "t", err, sizeof err);
    char name[128];
    config_env_name("model", "specialist", name, sizeof name);
    assert_string_equal(name, "HARDE_MODEL_SPECIALIST");
    setenv("HARDE_MODEL_SPECIALIST", "b", 1);
    assert_string_equal(config_get(c, "model", "specialist", NULL), "b");
    unsetenv("HARDE_MODEL_SPECIALIST");
    assert_string_equal(config_get(c, "model", "specialist", NULL), "a");
    config_env_name("http", "retry-base.ms", name, sizeof name);
    assert_string_equal(name, "HARDE_HTTP_RETRY_BASE_MS");
    config_free(c);
}

static void config_typed_getters(void **state)
{
    char err[256];
    struct config *c =
        config_parse("[a]\nn = 42\nd = 0.5\nb = yes\nbad = 4x\n", "t", err, sizeof err);
    long n;
    double d;
    bool b;
    assert_int_equal(config_get_long(c, "a", "n", 0, &n, err, sizeof err), 0);
    assert_int_equal(n, 42);
    assert_int_equal(config_get_long(c, "a", "none", 7, &n, err, sizeof err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(config_get_double(c, "a", "d", 0, &d, err, sizeof err), 0);
    assert_true(d == 0.5);
    assert_int_equal(config_get_bool(c, "a", "b", false, &b, err, sizeof err), 0);
    assert_true(b);
    assert_int_equal(config_get_long(c, "a", "bad", 0, &n, err, sizeof err), ERR_CONFIG);
    assert_string_equal(err, "a.bad: expected a whole number, got \"4x\"");
    assert_int_equal(config_get_bool(c, "a", "bad", 0, &b, err, sizeof err), ERR_CONFIG);
    config_free(c);
}

static void config_load_missing_file_names_it(void **state)
{
    char err[256];
    assert_null(config_load("/nonexistent/harde.ini", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/harde.ini"));
}

static void data_dir_is_created(void **state)
{
    char tmpl[] = "/tmp/harde-test-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *want = xasprintf("%s/a/b", tmpl);
    setenv("HARDE_DATA_DIR", want, 1);
    char err[256];
    char *dir = config_data_dir(NULL, err, sizeof err);
    assert_non_null(dir);
    assert_string_equal(dir, want);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    free(dir);
    unsetenv("HARDE_DATA_DIR");
    setenv("XDG_DATA_HOME", tmpl, 1);
    dir = config_data_dir(NULL, err, sizeof err);
    char *want2 = xasprintf("%s/harde", tmpl);
    assert_string_equal(dir, want2);
    free(dir);
    free(want2);
    unsetenv("XDG_DATA_HOME");
    rmdir(want);
    free(want);
    char *ab = xasprintf("%s/a", tmpl);
    rmdir(ab);
    free(ab);
    char *h = xasprintf("%s/harde", tmpl);
    rmdir(h);
    free(h);
    rmdir(tmpl);
}

static void log_redacts_secrets(void **state)
{
    log_add_secret("sk-test-1234567890");
    log_add_secret("abc"); /* too short: ignored */
    char *r = log_redact("key=sk-test-1234567890 again sk-test-1234567890 abc");
    assert_string_equal(r, "key=[REDACTED] again [REDACTED] abc");
    free(r);
    char path[] = "/tmp/harde-log-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(log_open(path), 0);
    log_set_level(LOG_DEBUG);
    log_info("test", "Authorization: Bearer %s", "sk-test-1234567890");
    log_debug("test", "hidden %d", 1);
    log_set_level(LOG_INFO);
    log_debug("test", "not written");
    log_close();
    FILE *f = fopen(path, "r");
    char line[512] = "";
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "Bearer [REDACTED]"));
    assert_null(strstr(line, "sk-test"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    log_reset();
}

static void error_table(void **state)
{
    assert_string_equal(err_name(ERR_TIMEOUT), "TIMEOUT");
    assert_string_equal(err_message(ERR_LIMIT), "size limit exceeded");
    assert_string_equal(err_message(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_limit),
        cmocka_unit_test(buf_unlimited_grows),
        cmocka_unit_test(config_parses_sections_and_quotes),
        cmocka_unit_test(config_reports_line_of_error),
        cmocka_unit_test(config_env_overrides_file),
        cmocka_unit_test(config_typed_getters),
        cmocka_unit_test(config_load_missing_file_names_it),
        cmocka_unit_test(data_dir_is_created),
        cmocka_unit_test(log_redacts_secrets),
        cmocka_unit_test(error_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
