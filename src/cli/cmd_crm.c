/* cmd_crm — `harde crm search TEXT | customer ID | job ID | jobs [--stage S] |
 * stages`, each with [--json]: what the CRM holds, for people (tables) and
 * scripts (JSON).
 *
 * Thin on purpose: parse the arguments, open the configured CRM
 * (crm_open_configured: the local SQLite book by default, Leap when
 * configured), make one call, print. With --json the answer is one JSON
 * value on stdout — also for a failure: {"error": {"code", "message"}} — so
 * a script never has to parse a table. Exit status: 0 ok, 1 the CRM failed
 * or has no such record, 2 a usage error. Read-only: writes go through the
 * agents, which ask the rep to confirm first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "cli/cli.h"
#include "services/crm/crm.h"

#define CRM_CLI_NOTE_INDENT "      "

struct crm_cli {
    const char *sub;
    struct buf text; /* positional words, joined by spaces */
    const char *stage;
    long limit;
    bool json;
};

/* ---- printing ---------------------------------------------------------------- */

static void print_json(json_t *value)
{
    char *s = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(value);
}

static int fail(const struct crm_cli *o, int code, const char *message)
{
    if (o->json)
        print_json(
            json_pack("{s:{s:s, s:s}}", "error", "code", crm_err_name(code), "message", message));
    fprintf(stderr, "harde crm: %s\n", message);
    return 1;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* "+16145550142" as "(614) 555-0142" into out; other text as is. */
static const char *phone_text(const char *phone, char *out, size_t outlen)
{
    if (phone && strlen(phone) == 12 && strncmp(phone, "+1", 2) == 0)
        snprintf(out, outlen, "(%.3s) %.3s-%.4s", phone + 2, phone + 5, phone + 8);
    else
        snprintf(out, outlen, "%s", or_dash(phone));
    return out;
}

/* "2026-12-01T18:00" as "2026-12-01 18:00" into out. */
static const char *time_text(const char *t, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", or_dash(t));
    char *tee = strchr(out, 'T');
    if (tee && tee - out == 10)
        *tee = ' ';
    size_t n = strlen(out);
    if (n == 20 && out[19] == 'Z') /* drop seconds and the zone of a timestamp */
        out[16] = '\0';
    return out;
}

static void print_address_line(const char *label, const char *street, const char *city,
                               const char *state, const char *zip)
{
    char line[512] = "";
    size_t n = 0;
    const char *parts[] = {street, city, state};
    for (int i = 0; i < 3; i++)
        if (parts[i] && *parts[i])
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? ", " : "", parts[i]);
    if (zip && *zip && n < sizeof line)
        snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", zip);
    printf("  %-13s %s\n", label, or_dash(line));
}

static void print_job_rows(const struct crm_job *jobs, size_t count, bool with_customer)
{
    char when[32];
    if (with_customer)
        printf("  %-6s %-18s %-8s %-22s %-17s %s\n", "JOB", "STAGE", "TRADE", "CUSTOMER",
               "APPOINTMENT", "REP");
    else
        printf("  %-6s %-18s %-8s %-17s %s\n", "JOB", "STAGE", "TRADE", "APPOINTMENT", "REP");
    for (size_t i = 0; i < count; i++) {
        const struct crm_job *j = &jobs[i];
        const char *stage = j->stage == CRM_STAGE_UNKNOWN && j->stage_name
                                ? j->stage_name
                                : crm_stage_label(j->stage);
        time_text(j->appointment, when, sizeof when);
        if (with_customer)
            printf("  %-6lld %-18s %-8s %-22s %-17s %s\n", (long long)j->id, stage,
                   crm_trade_label(j->trade), or_dash(j->customer_name), when, or_dash(j->rep));
        else
            printf("  %-6lld %-18s %-8s %-17s %s\n", (long long)j->id, stage,
                   crm_trade_label(j->trade), when, or_dash(j->rep));
    }
}

/* ---- the subcommands -------------------------------------------------------------- */

static int run_search(struct crm *crm, const struct crm_cli *o)
{
    struct crm_hits hits;
    char err[1024], phone[32];
    const char *query = buf_str(&o->text);
    int rc = crm_search(crm, query, (size_t)o->limit, &hits, err, sizeof err);
    if (rc)
        return fail(o, rc, err);
    if (o->json) {
        print_json(json_pack("{s:s, s:s, s:I, s:o}", "query", query, "backend",
                             crm_backend_name(crm), "count", (json_int_t)hits.count, "results",
                             crm_hits_to_json(&hits)));
    } else if (hits.count == 0) {
        printf("no customer matches \"%s\"\n", query);
    } else {
        printf("%-6s %-24s %-15s %-30s %s\n", "ID", "NAME", "PHONE", "EMAIL", "ADDRESS");
        for (size_t i = 0; i < hits.count; i++) {
            const struct crm_customer *c = &hits.items[i].customer;
            char name[256];
            snprintf(name, sizeof name, "%s %s", or_dash(c->first_name), or_dash(c->last_name));
            printf("%-6lld %-24s %-15s %-30s %s, %s\n", (long long)c->id, name,
                   phone_text(c->phone, phone, sizeof phone), or_dash(c->email), or_dash(c->street),
                   or_dash(c->city));
        }
    }
    crm_hits_free(&hits);
    return 0;
}

static int parse_id(const struct crm_cli *o, const char *what, long long *id)
{
    const char *s = buf_str(&o->text);
    char *end = NULL;
    *id = strtoll(s, &end, 10);
    if (!*s || *end || *id <= 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "a %s id is a positive number, not \"%s\"", what, s);
        fail(o, ERR_INVALID, msg);
        return 2;
    }
    return 0;
}

static int run_customer(struct crm *crm, const struct crm_cli *o)
{
    long long id;
    if (parse_id(o, "customer", &id))
        return 2;
    struct crm_customer c;
    char err[1024], text[64];
    int rc = crm_customer_get(crm, id, &c, err, sizeof err);
    if (rc)
        return fail(o, rc, err);
    if (o->json) {
        print_json(crm_customer_to_json(&c));
    } else {
        printf("%s %s (customer %lld)\n", or_dash(c.first_name), or_dash(c.last_name), id);
        printf("  %-13s %s\n", "Phone:", phone_text(c.phone, text, sizeof text));
        printf("  %-13s %s\n", "Email:", or_dash(c.email));
        print_address_line("Address:", c.street, c.city, c.state, c.zip);
        printf("  %-13s %s\n", "Lead source:", or_dash(c.lead_source));
        printf("  %-13s %s\n", "Since:", time_text(c.created_at, text, sizeof text));
        if (c.job_count == 0) {
            printf("\nNo jobs.\n");
        } else {
            printf("\nJobs:\n");
            print_job_rows(c.jobs, c.job_count, false);
        }
    }
    crm_customer_free(&c);
    return 0;
}

static void print_job(const struct crm_job *j)
{
    char text[64];
    printf("Job %lld — %s — %s\n", (long long)j->id, crm_trade_label(j->trade),
           j->stage == CRM_STAGE_UNKNOWN && j->stage_name ? j->stage_name
                                                          : crm_stage_label(j->stage));
    printf("  %-13s %s (customer %lld)\n", "Customer:", or_dash(j->customer_name),
           (long long)j->customer_id);
    print_address_line("Address:", j->street, j->city, j->state, j->zip);
    printf("  %-13s %s\n", "Appointment:", time_text(j->appointment, text, sizeof text));
    printf("  %-13s %s\n", "Rep:", or_dash(j->rep));
    if (j->number)
        printf("  %-13s %s\n", "Number:", j->number);
    printf("  %-13s %s\n", "Description:", or_dash(j->description));
    printf("\nNotes:%s\n", j->note_count ? "" : " none");
    for (size_t i = 0; i < j->note_count; i++) {
        printf("  %s  %s\n", time_text(j->notes[i].created_at, text, sizeof text),
               or_dash(j->notes[i].author));
        printf(CRM_CLI_NOTE_INDENT "%s\n", or_dash(j->notes[i].text));
    }
    if (j->history_count) {
        printf("\nStage history:\n");
        for (size_t i = 0; i < j->history_count; i++) {
            const struct crm_stage_change *h = &j->history[i];
            printf("  %s  %s%s%s", time_text(h->changed_at, text, sizeof text),
                   h->from == CRM_STAGE_UNKNOWN ? "" : crm_stage_label(h->from),
                   h->from == CRM_STAGE_UNKNOWN ? "→ " : " → ", crm_stage_label(h->to));
            if (h->changed_by)
                printf("  (%s)", h->changed_by);
            if (h->reason)
                printf("  %s", h->reason);
            printf("\n");
        }
    }
}

static int run_job(struct crm *crm, const struct crm_cli *o)
{
    long long id;
    if (parse_id(o, "job", &id))
        return 2;
    struct crm_job j;
    char err[1024];
    int rc = crm_job_get(crm, id, &j, err, sizeof err);
    if (rc)
        return fail(o, rc, err);
    if (o->json)
        print_json(crm_job_to_json(&j));
    else
        print_job(&j);
    crm_job_free(&j);
    return 0;
}

static int run_jobs(struct crm *crm, const struct crm_cli *o, enum crm_stage stage)
{
    struct crm_jobs jobs;
    char err[1024];
    int rc = crm_jobs_list(crm, stage, (size_t)o->limit, &jobs, err, sizeof err);
    if (rc)
        return fail(o, rc, err);
    if (o->json) {
        json_t *j = crm_jobs_to_json(&jobs);
        json_object_set_new(
            j, "stage", stage == CRM_STAGE_ANY ? json_null() : json_string(crm_stage_key(stage)));
        json_object_set_new(j, "backend", json_string(crm_backend_name(crm)));
        print_json(j);
    } else if (jobs.count == 0) {
        printf("no jobs%s%s\n", stage == CRM_STAGE_ANY ? "" : " in ",
               stage == CRM_STAGE_ANY ? "" : crm_stage_label(stage));
    } else {
        print_job_rows(jobs.items, jobs.count, true);
        printf("%zu job%s", jobs.count, jobs.count == 1 ? "" : "s");
        if (jobs.total > jobs.count)
            printf(" of %zu", jobs.total);
        printf("%s%s\n", stage == CRM_STAGE_ANY ? "" : " in ",
               stage == CRM_STAGE_ANY ? "" : crm_stage_label(stage));
    }
    crm_jobs_free(&jobs);
    return 0;
}

static int run_stages(const struct crm_cli *o)
{
    if (o->json) {
        print_json(crm_stages_to_json());
        return 0;
    }
    for (int i = 0; i < CRM_STAGE_COUNT; i++)
        printf("%d. %-18s %s\n", i + 1, crm_stage_label(i), crm_stage_key(i));
    return 0;
}

/* ---- arguments ------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, const struct cli_globals *globals, struct crm_cli *o)
{
    o->sub = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--stage") == 0 && i + 1 < argc) {
            o->stage = argv[++i];
        } else if (strncmp(a, "--stage=", 8) == 0) {
            o->stage = a + 8;
        } else if ((strcmp(a, "--limit") == 0 && i + 1 < argc) || strncmp(a, "--limit=", 8) == 0) {
            const char *v = a[7] == '=' ? a + 8 : argv[++i];
            char *end = NULL;
            o->limit = strtol(v, &end, 10);
            if (!*v || *end || o->limit <= 0)
                return cli_usage_error(globals, "--limit takes a positive number");
        } else if (cli_wants_help(globals, a)) {
            return -1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(globals, "unknown option");
        } else {
            buf_printf(&o->text, "%s%s", o->text.len ? " " : "", a);
        }
    }
    return 0;
}

/* Checks the arguments against the subcommand: 0, or an exit status. */
static int check_args(const struct cli_globals *globals, const struct crm_cli *o)
{
    bool wants_text = strcmp(o->sub, "search") == 0 || strcmp(o->sub, "customer") == 0 ||
                      strcmp(o->sub, "job") == 0;
    bool no_text = strcmp(o->sub, "jobs") == 0 || strcmp(o->sub, "stages") == 0;
    if (!wants_text && !no_text)
        return cli_usage_error(globals, "unknown crm command");
    if (wants_text && o->text.len == 0)
        return cli_usage_error(globals,
                               strcmp(o->sub, "search") == 0 ? "search for what?" : "which id?");
    if (no_text && o->text.len)
        return cli_usage_error(globals, "unexpected argument");
    if (o->stage && strcmp(o->sub, "jobs") != 0)
        return cli_usage_error(globals, "--stage goes with `crm jobs`");
    return 0;
}

static int run(struct crm_cli *o, const struct cli_globals *globals)
{
    enum crm_stage stage = CRM_STAGE_ANY;
    if (o->stage && crm_stage_parse(o->stage, &stage) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "unknown stage \"%s\" (see `harde crm stages`: lead, appointment_set, "
                 "primer_video_sent, inspection, presentation, signed, production, complete, "
                 "review_request)",
                 o->stage);
        fail(o, ERR_INVALID, msg);
        return 2;
    }
    if (strcmp(o->sub, "stages") == 0)
        return run_stages(o);
    struct harde_app app;
    if (cli_open_app(&app, globals, 0) != 0)
        return 1;
    char err[1024];
    struct crm *crm = crm_open_configured(app.config, app.data_dir, app.share_dir, err, sizeof err);
    int rc;
    if (!crm)
        rc = fail(o, ERR_CONFIG, err);
    else if (strcmp(o->sub, "search") == 0)
        rc = run_search(crm, o);
    else if (strcmp(o->sub, "customer") == 0)
        rc = run_customer(crm, o);
    else if (strcmp(o->sub, "job") == 0)
        rc = run_job(crm, o);
    else
        rc = run_jobs(crm, o, stage);
    crm_close(crm);
    harde_app_close(&app);
    return rc;
}

int cmd_crm(int argc, char **argv, const struct cli_globals *globals)
{
    if (argc < 2)
        return cli_usage_error(globals, "which crm command? (search, customer, job, jobs, stages)");
    if (cli_wants_help(globals, argv[1]))
        return 0;
    struct crm_cli o = {.limit = 0};
    buf_init(&o.text, 4096);
    int rc = parse_args(argc, argv, globals, &o);
    if (rc == 0)
        rc = check_args(globals, &o);
    if (rc == 0)
        rc = run(&o, globals);
    buf_free(&o.text);
    return rc < 0 ? 0 : rc;
}
