/* Unit tests for the Leap CRM client (services/crm/crm_leap*.c): the token
 * bucket's arithmetic and its 60-a-minute guarantee, form and multipart
 * encoding, the mapping of Leap JSON, and the client end to end against
 * tests/fakes/fake_leap.py (started on 127.0.0.1 with a port the kernel picks,
 * stopped by its PID): Bearer auth, exact field names and content types,
 * pagination, idempotent creates (also when the answer is lost), notes,
 * operations Leap lacks, and the rate limiter's spacing and bound.
 * The fake-backed tests skip when python3 is not installed. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "services/crm/crm.h"
#include "services/crm/crm_internal.h"

#define TOKEN "leap-unit-token-5c1e9a"

/* ---- the fake ----------------------------------------------------------------------- */

struct fake {
    pid_t pid;
    char *dir;
    char *log;
    char *url;
};

static char *repo_path(const char *rel)
{
    const char *root = getenv("HARDE_SOURCE_DIR");
    return root ? xasprintf("%s/%s", root, rel) : xasprintf("%s/../%s", HARDE_SHARE_DIR, rel);
}

static bool have_python(void)
{
    const char *path = getenv("PATH");
    char *copy = xstrdup(path ? path : "/usr/bin:/bin");
    bool found = false;
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/python3", dir);
        found = access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return found;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Starts the fake with the sample book and extra arguments (NULL-terminated;
 * may be NULL); faults (JSON text) may be NULL. Skips the test without python3. */
static void fake_start(struct fake *f, const char *faults, const char *const *extra)
{
    if (!have_python())
        skip();
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    f->dir = xasprintf("%s/leap-fake.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->log = xasprintf("%s/requests.jsonl", f->dir);
    char *port_file = xasprintf("%s/port", f->dir), *out = xasprintf("%s/output", f->dir);
    char *faults_file = xasprintf("%s/faults.json", f->dir);
    char *script = repo_path("tests/fakes/fake_leap.py"), *seed = repo_path("data/crm_seed.json");
    char parent[24];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    if (faults)
        write_text(faults_file, faults);
    const char *args[32] = {"python3",      script,  "--seed",       seed,      "--port-file",
                            port_file,      "--log", f->log,         "--token", TOKEN,
                            "--parent-pid", parent,  "--rate-limit", "0"};
    int n = 14;
    if (faults) {
        args[n++] = "--faults";
        args[n++] = faults_file;
    }
    for (int i = 0; extra && extra[i] && n < 30; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp("python3", (char *const *)args);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 500 && !port; i++) {
        FILE *fp = fopen(port_file, "r");
        if (fp) {
            if (fscanf(fp, "%d", &port) != 1)
                port = 0;
            fclose(fp);
        }
        if (!port) {
            int status;
            if (waitpid(f->pid, &status, WNOHANG) == f->pid)
                fail_msg("fake_leap exited early (see %s)", out);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (!port)
        fail_msg("fake_leap did not start within 10 s (see %s)", out);
    f->url = xasprintf("http://127.0.0.1:%d/api/v3", port);
    free(port_file);
    free(out);
    free(faults_file);
    free(script);
    free(seed);
}

static void fake_stop(struct fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int status;
        bool gone = false;
        for (int i = 0; i < 250 && !gone; i++) {
            gone = waitpid(f->pid, &status, WNOHANG) == f->pid;
            if (!gone) {
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (!gone) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &status, 0);
        }
    }
    const char *names[] = {"requests.jsonl", "port", "output", "faults.json", NULL};
    for (int i = 0; f->dir && names[i]; i++) {
        char *p = xasprintf("%s/%s", f->dir, names[i]);
        unlink(p);
        free(p);
    }
    if (f->dir)
        rmdir(f->dir);
    free(f->dir);
    free(f->log);
    free(f->url);
    memset(f, 0, sizeof *f);
}

/* The fake's request log as a JSON array (new). */
static json_t *fake_log(const struct fake *f)
{
    json_t *all = json_array();
    FILE *fp = fopen(f->log, "r");
    if (!fp)
        return all;
    char line[65536];
    while (fgets(line, sizeof line, fp)) {
        json_t *rec = json_loads(line, 0, NULL);
        if (rec)
            json_array_append_new(all, rec);
    }
    fclose(fp);
    return all;
}

/* Requests in the log with method and path (after the /api/v3 prefix). */
static size_t log_count(const struct fake *f, const char *method, const char *path)
{
    json_t *all = fake_log(f), *r;
    size_t n = 0, i;
    char *full = xasprintf("/api/v3%s", path);
    json_array_foreach(all, i, r)
    {
        n += strcmp(json_string_value(json_object_get(r, "method")), method) == 0 &&
             strcmp(json_string_value(json_object_get(r, "path")), full) == 0;
    }
    free(full);
    json_decref(all);
    return n;
}

/* The last logged request with method and path (new), or fails. */
static json_t *log_last(const struct fake *f, const char *method, const char *path)
{
    json_t *all = fake_log(f), *r, *found = NULL;
    size_t i;
    char *full = xasprintf("/api/v3%s", path);
    json_array_foreach(all, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "method")), method) == 0 &&
            strcmp(json_string_value(json_object_get(r, "path")), full) == 0)
            found = r;
    }
    if (!found)
        fail_msg("no %s %s in the fake's log", method, full);
    json_incref(found);
    json_decref(all);
    free(full);
    return found;
}

/* The single value of a logged query or form field, or NULL. */
static const char *field(json_t *rec, const char *where, const char *name)
{
    json_t *v = json_object_get(json_object_get(rec, where), name);
    return json_array_size(v) == 1 ? json_string_value(json_array_get(v, 0)) : NULL;
}

static struct crm *open_leap(const struct fake *f, const struct crm_options *extra)
{
    struct crm_options o = extra ? *extra : (struct crm_options){0};
    o.backend = "leap";
    o.leap_base_url = f->url;
    if (!o.leap_token)
        o.leap_token = TOKEN;
    if (!o.leap_per_minute) { /* functional tests: a budget that never waits */
        o.leap_per_minute = 60000;
        o.leap_burst = 1000;
    }
    if (!o.leap_retry_base_ms)
        o.leap_retry_base_ms = 10;
    o.leap_timeout_ms = o.leap_timeout_ms ? o.leap_timeout_ms : 10000;
    char err[512];
    struct crm *crm = crm_open(&o, err, sizeof err);
    if (!crm)
        fail_msg("crm_open(leap): %s", err);
    return crm;
}

static double seconds_since(int64_t start_ns)
{
    return (double)(clock_now_ns() - start_ns) / 1e9;
}

/* ---- pure parts ------------------------------------------------------------------------- */

static void test_bucket(void **state)
{
    struct crm_bucket b;
    const int64_t s = 1000000000;
    crm_bucket_init(&b, 3, 60, 5 * s); /* 3 at once, one a second after that */
    assert_int_equal(crm_bucket_take(&b, 5 * s), 0);
    assert_int_equal(crm_bucket_take(&b, 5 * s), 0);
    assert_int_equal(crm_bucket_take(&b, 5 * s), 0);
    int64_t wait = crm_bucket_take(&b, 5 * s);
    assert_true(wait > s - 1000 && wait <= s + 1000);
    /* Asking again does not take a token or shorten the wait wrongly. */
    wait = crm_bucket_take(&b, 5 * s + s / 2);
    assert_true(wait > s / 2 - 1000 && wait <= s / 2 + 1000);
    assert_int_equal(crm_bucket_take(&b, 6 * s), 0);
    assert_true(crm_bucket_take(&b, 6 * s) > 0);
    /* A long pause refills only up to the capacity. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(crm_bucket_take(&b, 100 * s), 0);
    assert_true(crm_bucket_take(&b, 100 * s) > 0);
}

/* A client that sends whenever the bucket lets it, for ten minutes: no
 * 60-second window may hold more than 60 requests (burst 10, refill 50). */
static void test_bucket_never_exceeds_a_minute(void **state)
{
    struct crm_bucket b;
    const int64_t ms = 1000000;
    crm_bucket_init(&b, 10, 50, 0);
    int64_t *sent = xcalloc(2000, sizeof *sent);
    size_t n = 0;
    for (int64_t t = 0; t < 600000 * ms && n < 2000;) {
        int64_t wait = crm_bucket_take(&b, t);
        if (wait == 0)
            sent[n++] = t;
        else
            t += wait;
    }
    assert_true(n >= 500); /* it does use the budget */
    for (size_t i = 0, j = 0; i < n; i++) {
        while (sent[i] - sent[j] >= 60000 * ms)
            j++;
        if (i - j + 1 > 60)
            fail_msg("%zu requests in the minute ending at %.3f s", i - j + 1, sent[i] / 1e9);
    }
    free(sent);
}

static void test_form_and_multipart(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(crm_form_add(&b, "phones[0][number]", "6145550142"), 0);
    assert_int_equal(crm_form_add(&b, "job[description]", "Roof & gutters: 20% off? café"), 0);
    assert_int_equal(crm_form_add(&b, "email", NULL), 0);
    assert_string_equal(buf_str(&b), "phones%5B0%5D%5Bnumber%5D=6145550142&job%5Bdescription%5D="
                                     "Roof%20%26%20gutters%3A%2020%25%20off%3F%20caf%C3%A9&email=");
    buf_free(&b);
    buf_init(&b, 16);
    assert_int_equal(crm_form_add(&b, "first_name", "a very long name indeed"), ERR_LIMIT);
    buf_free(&b);

    buf_init(&b, 0);
    char *ctype = NULL;
    assert_int_equal(crm_multipart_one(&b, "note", "line one\r\nline two", &ctype), 0);
    const char *boundary = strstr(ctype, "boundary=");
    assert_non_null(boundary);
    assert_true(strncmp(ctype, "multipart/form-data; ", 21) == 0);
    char *open = xasprintf("--%s\r\n", boundary + 9),
         *close = xasprintf("\r\n--%s--\r\n", boundary + 9);
    assert_true(strncmp(buf_str(&b), open, strlen(open)) == 0);
    assert_non_null(strstr(buf_str(&b), "Content-Disposition: form-data; name=\"note\"\r\n"));
    assert_non_null(strstr(buf_str(&b), "\r\n\r\nline one\r\nline two\r\n--"));
    assert_string_equal(buf_str(&b) + b.len - strlen(close), close);
    free(open);
    free(close);
    free(ctype);
    buf_free(&b);
}

static void test_json_mapping(void **state)
{
    json_t *c =
        json_loads("{\"id\": \"77\", \"first_name\": \"Rosa\", \"last_name\": \"Garcia\","
                   " \"email\": \"r@example.com\","
                   " \"phones\": {\"data\": [{\"label\": \"home\", \"number\": \"6145550100\"},"
                   "   {\"label\": \"cell\", \"number\": 6145550142}]},"
                   " \"address\": {\"data\": {\"address\": \"1 Main St\", \"city\": \"Columbus\","
                   "   \"state\": {\"id\": 36, \"code\": \"OH\"}, \"zip\": \"43215\"}},"
                   " \"referred_by_type\": \"referral\", \"created_at\": \"2026-11-09 15:20:00\"}",
                   0, NULL);
    struct crm_customer cu;
    memset(&cu, 0, sizeof cu);
    crm_leap_customer(c, &cu);
    assert_int_equal(cu.id, 77);
    assert_string_equal(cu.phone, "+16145550142"); /* the cell, as E.164 */
    assert_string_equal(cu.street, "1 Main St");
    assert_string_equal(cu.state, "OH");
    assert_string_equal(cu.lead_source, "referral");
    assert_string_equal(cu.created_at, "2026-11-09T15:20:00Z");
    crm_customer_free(&cu);
    json_decref(c);

    json_t *j = json_loads(
        "{\"id\": 9, \"number\": \"2611-0000009-01\", \"description\": \"Re-roof\","
        " \"current_stage\": {\"code\": \"123\", \"name\": \"Contract Sent\"},"
        " \"trades\": [{\"id\": 3, \"name\": \"SIDING\"}],"
        " \"reps\": {\"data\": [{\"first_name\": \"Dave\", \"last_name\": \"K\"}]},"
        " \"customer\": {\"data\": {\"id\": 5, \"full_name\": \"Ann Lee\","
        "   \"address\": {\"address\": \"2 Oak\", \"city\": \"Dublin\", \"state\": \"OH\"}}}}",
        0, NULL);
    struct crm_job jb;
    memset(&jb, 0, sizeof jb);
    crm_leap_job(j, &jb);
    assert_int_equal(jb.id, 9);
    assert_int_equal(jb.customer_id, 5);
    assert_int_equal(jb.stage, CRM_STAGE_UNKNOWN); /* not one of ours: kept by name */
    assert_string_equal(jb.stage_name, "Contract Sent");
    assert_int_equal(jb.trade, CRM_TRADE_SIDING);
    assert_string_equal(jb.rep, "Dave K");
    assert_string_equal(jb.customer_name, "Ann Lee");
    assert_string_equal(jb.city, "Dublin"); /* the customer's address stands in */
    json_t *out = crm_job_to_json(&jb);
    assert_string_equal(json_string_value(json_object_get(out, "stage")), "unknown");
    assert_string_equal(json_string_value(json_object_get(out, "stage_label")), "Contract Sent");
    json_decref(out);
    crm_job_free(&jb);
    json_decref(j);

    char msg[128];
    crm_leap_error_text("{\"status\": 412, \"error\": {\"message\": \"Bad phone.\"}}", msg,
                        sizeof msg);
    assert_string_equal(msg, "Bad phone.");
    crm_leap_error_text("{\"message\": \"Unauthenticated.\"}", msg, sizeof msg);
    assert_string_equal(msg, "Unauthenticated.");
    crm_leap_error_text("<html><body><h1>Precondition\n Failed</h1></body></html>", msg,
                        sizeof msg);
    assert_string_equal(msg, "Precondition Failed");
    char *t = crm_leap_time("2026-12-01 18:00:00");
    assert_string_equal(t, "2026-12-01T18:00");
    free(t);
}

/* ---- against the fake ------------------------------------------------------------------ */

static void test_auth(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    struct crm_options o = {.leap_token = "wrong-token-0000", .leap_retries = -1};
    struct crm *crm = open_leap(&f, &o);
    struct crm_job j;
    char err[512];
    assert_int_equal(crm_job_get(crm, 1042, &j, err, sizeof err), ERR_AUTH);
    assert_non_null(strstr(err, "LEAP_API_TOKEN"));
    assert_null(strstr(err, "wrong-token-0000"));
    json_t *r = log_last(&f, "GET", "/jobs/1042");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "headers"), "Authorization")),
        "<bad>");
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 401);
    json_decref(r);
    crm_close(crm);
    fake_stop(&f);
}

static void test_reads(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    struct crm *crm = open_leap(&f, NULL);
    char err[512];

    struct crm_hits hits;
    assert_int_equal(crm_search(crm, "garcia", 0, &hits, err, sizeof err), 0);
    assert_int_equal(hits.count, 1);
    assert_int_equal(hits.items[0].customer.id, 501);
    assert_string_equal(hits.items[0].customer.phone, "+16145550142");
    assert_string_equal(hits.items[0].customer.state, "OH");
    assert_string_equal(hits.items[0].matched, "name");
    crm_hits_free(&hits);
    json_t *r = log_last(&f, "GET", "/customers");
    json_t *h = json_object_get(r, "headers");
    assert_null(json_object_get(h, "Content-Type")); /* never on a GET */
    assert_string_equal(json_string_value(json_object_get(h, "Accept")), "application/json");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")), "Bearer <ok>");
    assert_string_equal(field(r, "query", "query"), "garcia");
    assert_string_equal(field(r, "query", "limit"), "100");
    json_decref(r);

    /* Smith before Smithers, as locally. */
    assert_int_equal(crm_search(crm, "smith", 0, &hits, err, sizeof err), 0);
    assert_int_equal(hits.count, 2);
    assert_string_equal(hits.items[0].customer.last_name, "Smith");
    crm_hits_free(&hits);

    struct crm_customer c;
    assert_int_equal(crm_customer_get(crm, 502, &c, err, sizeof err), 0);
    assert_string_equal(c.first_name, "James");
    assert_int_equal(c.job_count, 2);
    assert_int_equal(c.jobs[1].id, 1077);
    assert_int_equal(c.jobs[1].stage, CRM_STAGE_LEAD);
    assert_int_equal(c.jobs[1].trade, CRM_TRADE_GUTTERS);
    assert_string_equal(c.jobs[1].customer_name, "James Smith");
    crm_customer_free(&c);

    struct crm_job j;
    assert_int_equal(crm_job_get(crm, 1042, &j, err, sizeof err), 0);
    assert_string_equal(j.customer_name, "Rosa Garcia");
    assert_int_equal(j.customer_id, 501);
    assert_string_equal(j.street, "2217 Elmwood Ave");
    assert_string_equal(j.state, "OH");
    assert_int_equal(j.trade, CRM_TRADE_ROOFING);
    assert_int_equal(j.stage, CRM_STAGE_APPOINTMENT_SET);
    assert_string_equal(j.stage_name, "Appointment Set");
    assert_string_equal(j.rep, "Dave Kowalski");
    assert_string_equal(j.appointment, "2026-12-01T18:00");
    assert_non_null(j.number);
    assert_int_equal(j.note_count, 2);
    assert_non_null(strstr(j.notes[1].text, "Miguel"));
    crm_job_free(&j);
    r = log_last(&f, "GET", "/jobs/1042");
    json_t *inc = json_object_get(json_object_get(r, "query"), "includes[]");
    assert_int_equal(json_array_size(inc), 4);
    json_decref(r);
    r = log_last(&f, "GET", "/appointments");
    assert_string_equal(field(r, "query", "job_ids[]"), "1042");
    json_decref(r);

    assert_int_equal(crm_job_get(crm, 9999, &j, err, sizeof err), ERR_NOT_FOUND);
    assert_non_null(strstr(err, "job 9999"));
    assert_int_equal(crm_customer_get(crm, 9999, &c, err, sizeof err), ERR_NOT_FOUND);
    crm_close(crm);
    fake_stop(&f);
}

static void test_unsupported(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    struct crm *crm = open_leap(&f, NULL);
    char err[512];
    struct crm_hits hits;
    assert_int_equal(crm_search(crm, "614-555-0142", 0, &hits, err, sizeof err),
                     CRM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "names and email addresses only"));
    assert_int_equal(crm_stage_move(crm, 1042, CRM_STAGE_SIGNED, "Dave", NULL, err, sizeof err),
                     CRM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "no documented way to move a job"));
    assert_non_null(strstr(err, "Signed"));
    assert_string_equal(crm_err_name(CRM_ERR_UNSUPPORTED), "UNSUPPORTED");
    json_t *all = fake_log(&f);
    assert_int_equal(json_array_size(all), 0); /* nothing was sent */
    json_decref(all);
    /* The job did not move. */
    struct crm_job j;
    assert_int_equal(crm_job_get(crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.stage, CRM_STAGE_APPOINTMENT_SET);
    crm_job_free(&j);
    crm_close(crm);
    fake_stop(&f);
}

static void test_pagination(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    struct crm_options o = {.leap_page_size = 2};
    struct crm *crm = open_leap(&f, &o);
    struct crm_jobs jobs;
    char err[512];
    assert_int_equal(crm_jobs_list(crm, CRM_STAGE_APPOINTMENT_SET, 0, &jobs, err, sizeof err), 0);
    assert_int_equal(jobs.count, 4);
    assert_int_equal(jobs.total, 4);
    for (size_t i = 0; i < jobs.count; i++) {
        assert_int_equal(jobs.items[i].stage, CRM_STAGE_APPOINTMENT_SET);
        assert_non_null(jobs.items[i].customer_name);
        if (i)
            assert_true(jobs.items[i - 1].id < jobs.items[i].id);
    }
    crm_jobs_free(&jobs);
    assert_int_equal(log_count(&f, "GET", "/jobs"), 2);
    json_t *r = log_last(&f, "GET", "/jobs");
    assert_string_equal(field(r, "query", "page"), "2");
    assert_string_equal(field(r, "query", "limit"), "2");
    assert_string_equal(field(r, "query", "stages[]"), "1691550000102");
    assert_string_equal(field(r, "query", "sort_by"), "id");
    json_decref(r);

    /* All stages, cut by the caller's limit: 3 pages of 2 for 5 jobs. */
    assert_int_equal(crm_jobs_list(crm, CRM_STAGE_ANY, 5, &jobs, err, sizeof err), 0);
    assert_int_equal(jobs.count, 5);
    assert_int_equal(jobs.total, 31);
    crm_jobs_free(&jobs);
    assert_int_equal(log_count(&f, "GET", "/jobs"), 5);
    /* The workflow stages are fetched once per handle. */
    assert_int_equal(crm_jobs_list(crm, CRM_STAGE_LEAD, 0, &jobs, err, sizeof err), 0);
    assert_int_equal(jobs.count, 4);
    crm_jobs_free(&jobs);
    assert_int_equal(log_count(&f, "GET", "/workflow/stages"), 1);
    crm_close(crm);
    fake_stop(&f);
}

static struct crm_new_client new_client(void)
{
    return (struct crm_new_client){
        .first_name = "Tom",
        .last_name = "Baker",
        .phone = "(614) 555-0177",
        .email = "tom.baker@example.com",
        .street = "88 Birch Ln",
        .city = "Dublin",
        .state = "OH",
        .zip = "43017",
        .lead_source = "Website form",
        .trade = CRM_TRADE_ROOFING,
        .description = "Roof leak over the garage",
        .appointment = "2026-12-09T17:00",
        .rep = "Jenna Brooks",
        .idempotency_key = "sess-41:new-client",
    };
}

static size_t customers_named(struct crm *crm, const char *name)
{
    struct crm_hits hits;
    char err[512];
    assert_int_equal(crm_search(crm, name, 0, &hits, err, sizeof err), 0);
    size_t n = hits.count;
    crm_hits_free(&hits);
    return n;
}

static void test_create(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    struct crm *crm = open_leap(&f, NULL);
    struct crm_new_client in = new_client();
    struct crm_created ids, again;
    char err[512];
    assert_int_equal(crm_client_create(crm, &in, &ids, err, sizeof err), 0);
    assert_true(ids.customer_id > 0);
    assert_true(ids.job_id > 0);
    assert_false(ids.replayed);

    json_t *r = log_last(&f, "POST", "/prospects");
    json_t *h = json_object_get(r, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Content-Type")),
                        "application/x-www-form-urlencoded");
    json_t *form = json_object_get(r, "form");
    const char *want[] = {"first_name",        "last_name",        "email",
                          "phones[0][number]", "phones[0][label]", "address[address]",
                          "address[city]",     "address[state]",   "address[zip]",
                          "job[description]",  "job[trades][]",    "job[same_as_customer_address]"};
    assert_int_equal(json_object_size(form), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!json_object_get(form, want[i]))
            fail_msg("the create did not send %s", want[i]);
    assert_string_equal(field(r, "form", "phones[0][number]"), "6145550177");
    assert_string_equal(field(r, "form", "phones[0][label]"), "cell");
    assert_string_equal(field(r, "form", "job[trades][]"), "8"); /* Roofing in /company/trades */
    const char *desc = field(r, "form", "job[description]");
    assert_non_null(strstr(desc, "Roof leak over the garage"));
    assert_non_null(strstr(desc, "Assigned rep: Jenna Brooks"));
    assert_non_null(strstr(desc, "2026-12-09T17:00"));
    json_decref(r);

    struct crm_job j;
    assert_int_equal(crm_job_get(crm, ids.job_id, &j, err, sizeof err), 0);
    assert_int_equal(j.customer_id, ids.customer_id);
    assert_int_equal(j.trade, CRM_TRADE_ROOFING);
    assert_int_equal(j.stage, CRM_STAGE_LEAD);
    crm_job_free(&j);

    /* Replays: in this handle, and from a new one (a restarted process). */
    assert_int_equal(crm_client_create(crm, &in, &again, err, sizeof err), 0);
    assert_true(again.replayed);
    assert_int_equal(again.customer_id, ids.customer_id);
    crm_close(crm);
    crm = open_leap(&f, NULL);
    assert_int_equal(crm_client_create(crm, &in, &again, err, sizeof err), 0);
    assert_true(again.replayed);
    assert_int_equal(again.customer_id, ids.customer_id);
    assert_int_equal(again.job_id, ids.job_id);
    assert_int_equal(log_count(&f, "POST", "/prospects"), 1);
    assert_int_equal(customers_named(crm, "Tom Baker"), 1);
    crm_close(crm);
    fake_stop(&f);
}

static void test_create_lost_answer(void **state)
{
    struct fake f;
    /* Leap creates the prospect, then the connection drops before the answer. */
    fake_start(&f,
               "[{\"method\": \"POST\", \"path\": \"/prospects\", \"commit\": true,"
               " \"drop\": true}]",
               NULL);
    struct crm *crm = open_leap(&f, NULL);
    struct crm_new_client in = new_client();
    struct crm_created ids;
    char err[512];
    assert_int_equal(crm_client_create(crm, &in, &ids, err, sizeof err), 0);
    assert_true(ids.customer_id > 0);
    assert_true(ids.job_id > 0);
    assert_int_equal(log_count(&f, "POST", "/prospects"), 1); /* never sent twice */
    assert_int_equal(customers_named(crm, "Tom Baker"), 1);
    crm_close(crm);
    fake_stop(&f);

    /* Dropped before Leap did anything: an error that says a retry is safe. */
    fake_start(&f, "[{\"method\": \"POST\", \"path\": \"/prospects\", \"drop\": true}]", NULL);
    crm = open_leap(&f, NULL);
    assert_int_equal(crm_client_create(crm, &in, &ids, err, sizeof err), ERR_NETWORK);
    assert_non_null(strstr(err, "safe to try again"));
    assert_int_equal(ids.customer_id, 0);
    assert_int_equal(customers_named(crm, "Tom Baker"), 0);
    assert_int_equal(crm_client_create(crm, &in, &ids, err, sizeof err), 0);
    assert_int_equal(customers_named(crm, "Tom Baker"), 1);
    crm_close(crm);
    fake_stop(&f);
}

static void test_create_refused(void **state)
{
    struct fake f;
    fake_start(&f,
               "[{\"method\": \"POST\", \"path\": \"/prospects\", \"status\": 412,"
               " \"body\": \"<html><body><h1>Precondition Failed</h1></body></html>\","
               " \"content_type\": \"text/html\"}]",
               NULL);
    struct crm *crm = open_leap(&f, NULL);
    struct crm_new_client in = new_client();
    in.idempotency_key = NULL;
    struct crm_created ids;
    char err[512];
    assert_int_equal(crm_client_create(crm, &in, &ids, err, sizeof err), ERR_INVALID);
    assert_non_null(strstr(err, "HTTP 412"));
    assert_non_null(strstr(err, "Precondition Failed"));
    assert_int_equal(log_count(&f, "POST", "/prospects"), 1); /* a 412 is not retried */
    crm_close(crm);
    fake_stop(&f);
}

static void test_note(void **state)
{
    struct fake f;
    fake_start(&f, "[{\"method\": \"POST\", \"path\": \"/jobs/1042/notes\", \"status\": 429}]",
               NULL);
    struct crm *crm = open_leap(&f, NULL);
    char err[512];
    int64_t id = 0;
    assert_int_equal(crm_note_add(crm, 1042, "Hard-E", "Primer video sent: https://v.example/1",
                                  &id, err, sizeof err),
                     0);
    assert_true(id > 0);
    /* The 429 was retried (Leap did nothing the first time); one note exists. */
    assert_int_equal(log_count(&f, "POST", "/jobs/1042/notes"), 2);
    json_t *r = log_last(&f, "POST", "/jobs/1042/notes");
    const char *ctype =
        json_string_value(json_object_get(json_object_get(r, "headers"), "Content-Type"));
    assert_true(strncmp(ctype, "multipart/form-data; boundary=", 30) == 0);
    assert_int_equal(json_object_size(json_object_get(r, "form")), 1);
    assert_non_null(strstr(field(r, "form", "note"), "https://v.example/1"));
    json_decref(r);
    struct crm_job j;
    assert_int_equal(crm_job_get(crm, 1042, &j, err, sizeof err), 0);
    assert_int_equal(j.note_count, 3);
    assert_int_equal(j.notes[2].id, id);
    assert_non_null(strstr(j.notes[2].text, "— Hard-E (via Hard-E)"));
    crm_job_free(&j);
    assert_int_equal(crm_note_add(crm, 9999, NULL, "x", &id, err, sizeof err), ERR_NOT_FOUND);
    crm_close(crm);
    fake_stop(&f);
}

static void test_read_retry(void **state)
{
    struct fake f;
    fake_start(&f, "[{\"method\": \"GET\", \"path\": \"/jobs/1042\", \"status\": 503}]", NULL);
    struct crm *crm = open_leap(&f, NULL);
    struct crm_job j;
    char err[512];
    assert_int_equal(crm_job_get(crm, 1042, &j, err, sizeof err), 0);
    crm_job_free(&j);
    assert_int_equal(log_count(&f, "GET", "/jobs/1042"), 2);
    crm_close(crm);
    fake_stop(&f);
}

static void test_rate_limit_spacing(void **state)
{
    /* Leap's rule, scaled down: at most 3 requests in any half second. */
    const char *limit[] = {"--rate-limit", "3", "--rate-window", "0.5", NULL};
    struct fake f;
    fake_start(&f, NULL, limit);
    /* One at once, then 179 a minute (a token every 0.335 s): no half second sees 3. */
    struct crm_options o = {.leap_per_minute = 180, .leap_burst = 1, .leap_retries = -1};
    struct crm *crm = open_leap(&f, &o);
    struct crm_hits hits;
    char err[512];
    int64_t start = clock_now_ns();
    for (int i = 0; i < 6; i++) {
        if (crm_search(crm, "garcia", 0, &hits, err, sizeof err) != 0)
            fail_msg("request %d: %s", i + 1, err);
        crm_hits_free(&hits);
    }
    double took = seconds_since(start);
    if (took < 1.55)
        fail_msg("6 requests took %.2f s; the bucket should space them >= 1.67 s", took);
    json_t *all = fake_log(&f), *r;
    size_t i;
    json_array_foreach(all, i, r)
    {
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
    }
    json_decref(all);
    crm_close(crm);

    /* The same fake with a client that does not hold back gets 429s. */
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL);
    o = (struct crm_options){.leap_per_minute = 60000, .leap_burst = 100, .leap_retries = -1};
    crm = open_leap(&f, &o);
    int limited = 0;
    for (int k = 0; k < 6; k++) {
        int rc = crm_search(crm, "garcia", 0, &hits, err, sizeof err);
        crm_hits_free(&hits);
        if (rc == ERR_RATE_LIMIT)
            limited++;
    }
    assert_true(limited > 0);
    assert_non_null(strstr(err, "rate limit"));
    crm_close(crm);
    fake_stop(&f);
}

static void test_rate_limit_bound(void **state)
{
    struct fake f;
    fake_start(&f, NULL, NULL);
    /* 60 a minute, one at once, and no call may wait more than 0.2 s. */
    struct crm_options o = {.leap_per_minute = 60, .leap_burst = 1, .leap_max_wait_ms = 200};
    struct crm *crm = open_leap(&f, &o);
    struct crm_hits hits;
    char err[512];
    assert_int_equal(crm_search(crm, "garcia", 0, &hits, err, sizeof err), 0);
    crm_hits_free(&hits);
    int64_t start = clock_now_ns();
    assert_int_equal(crm_search(crm, "garcia", 0, &hits, err, sizeof err), ERR_RATE_LIMIT);
    assert_true(seconds_since(start) < 0.15); /* fails at once instead of sleeping */
    assert_non_null(strstr(err, "60 requests a minute"));
    json_t *all = fake_log(&f);
    assert_int_equal(json_array_size(all), 1); /* the second never left */
    json_decref(all);
    crm_close(crm);

    /* A wait within the bound is waited. */
    o.leap_max_wait_ms = 3000;
    crm = open_leap(&f, &o);
    start = clock_now_ns();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(crm_search(crm, "garcia", 0, &hits, err, sizeof err), 0);
        crm_hits_free(&hits);
    }
    double took = seconds_since(start);
    assert_true(took > 0.9);
    crm_close(crm);
    fake_stop(&f);
}

static void test_open_checks(void **state)
{
    char err[512];
    struct crm_options o = {
        .backend = "leap", .leap_token = "t0ken-abc", .leap_base_url = "ftp://x"};
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "https://"));
    o.leap_base_url = NULL;
    o.leap_burst = 60;
    assert_null(crm_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "burst"));
    o.leap_burst = 0;
    o.leap_token = "bad\r\nX-Injected: 1";
    assert_null(crm_open(&o, err, sizeof err));
    o.leap_token = "t0ken-abc";
    o.leap_page_size = 500;
    assert_null(crm_open(&o, err, sizeof err));
    o.leap_page_size = 0;
    struct crm *crm = crm_open(&o, err, sizeof err); /* the real base URL: no request made */
    assert_non_null(crm);
    assert_string_equal(crm_backend_name(crm), "leap");
    crm_close(crm);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_bucket_never_exceeds_a_minute),
        cmocka_unit_test(test_form_and_multipart),
        cmocka_unit_test(test_json_mapping),
        cmocka_unit_test(test_open_checks),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_create_lost_answer),
        cmocka_unit_test(test_create_refused),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_read_retry),
        cmocka_unit_test(test_rate_limit_spacing),
        cmocka_unit_test(test_rate_limit_bound),
    };
    return cmocka_run_group_tests_name("crm_leap", tests, NULL, NULL);
}
