/* store — the public face of the store: argument checks and dispatch.
 *
 * Owns nothing but the rules every backend shares. Each public function
 * clears the error message, checks its arguments once (ids, names, lengths,
 * enums, limits) so that no backend repeats or forgets a check, zeroes the
 * out struct, applies defaults, then calls the backend through its operations
 * table (store_internal.h). On failure it frees whatever the backend left in
 * the out struct, so callers see either a filled struct or a zeroed one.
 * Status and role names, run ids and the *_free functions live here too,
 * since they do not depend on a backend. See store.h. */
#define _POSIX_C_SOURCE 200809L
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/error.h"
#include "store/store_internal.h"

#define STORE_BUSY_DEFAULT_MS 5000
#define STORE_TTL_MAX_MS      (INT64_C(1) << 40) /* about 35 years: a bound, not a policy */

static const char *const run_status_names[STORE_RUN_STATUS_COUNT] = {
    "pending", "running", "waiting", "succeeded", "failed", "cancelled",
};
static const char *const step_status_names[STORE_STEP_STATUS_COUNT] = {
    "running",
    "succeeded",
    "failed",
};
static const char *const role_names[STORE_ROLE_COUNT] = {"rep", "manager", "admin"};

/* ---- shared helpers ------------------------------------------------------ */

int store_fail(struct store *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->error, sizeof st->error, fmt, ap);
    va_end(ap);
    return code;
}

void store_new_run_id(char out[STORE_RUN_ID_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[STORE_RUN_ID_LEN];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0) {
            /* The kernel's random source does not fail on Linux ≥ 3.17;
             * should it, an id must still not repeat within this process. */
            uint64_t t = (uint64_t)clock_now_ns(); /* unsigned: the LCG wraps, never overflows */
            for (; got < sizeof raw; got++, t = t * 6364136223846793005ULL + 1442695040888963407ULL)
                raw[got] = (unsigned char)(t >> 33);
            break;
        }
        got += (size_t)n;
    }
    /* 252 = 7 × 36: rejecting bytes ≥ 252 would keep the mapping exactly
     * uniform; the bias of a plain modulo is under 2% per character and
     * leaves 16 characters far beyond guessing, so we keep it simple. */
    for (size_t i = 0; i < STORE_RUN_ID_LEN; i++)
        out[i] = alphabet[raw[i] % 36];
    out[STORE_RUN_ID_LEN] = '\0';
}

static bool span_valid(const char *s, size_t max, const char *extra)
{
    if (!s)
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr(extra, c);
        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}

bool store_id_valid(const char *id)
{
    return span_valid(id, STORE_ID_MAX, "-_");
}

bool store_user_name_valid(const char *name)
{
    return span_valid(name, STORE_USER_MAX, "._@-");
}

/* A name: 1–STORE_NAME_MAX bytes of printable ASCII without spaces. */
static bool name_valid(const char *name)
{
    if (!name)
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7e || n >= STORE_NAME_MAX)
            return false;
    return n > 0;
}

static bool hash_valid(const char *hash)
{
    if (!hash)
        return false;
    size_t n = 0;
    for (const char *p = hash; *p; p++, n++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return n == STORE_TOKEN_HASH_LEN;
}

/* NULL is fine (a default applies); otherwise at most STORE_TEXT_MAX bytes. */
static bool text_valid(const char *text)
{
    return !text || strnlen(text, STORE_TEXT_MAX + 1) <= STORE_TEXT_MAX;
}

static size_t list_limit(size_t limit)
{
    if (limit == 0)
        return STORE_LIST_DEFAULT;
    return limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

/* Starts a call: clears the message. Returns st's ops for chaining. */
static const struct store_ops *begin(struct store *st)
{
    st->error[0] = '\0';
    return st->ops;
}

#define CHECK(st, cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return store_fail((st), ERR_INVALID, __VA_ARGS__);                                     \
    } while (0)

#define CHECK_ID(st, what, id)                                                                     \
    CHECK(st, store_id_valid(id), "invalid %s id \"%.80s\" (1-%d of A-Z a-z 0-9 _ -)", what,       \
          (id) ? (id) : "(null)", STORE_ID_MAX)

#define CHECK_NAME(st, what, name)                                                                 \
    CHECK(st, name_valid(name), "invalid %s \"%.80s\" (1-%d printable characters, no spaces)",     \
          what, (name) ? (name) : "(null)", STORE_NAME_MAX)

#define CHECK_USER(st, name)                                                                       \
    CHECK(st, store_user_name_valid(name),                                                         \
          "invalid user name \"%.80s\" (1-%d of A-Z a-z 0-9 . _ @ -)", (name) ? (name) : "(null)", \
          STORE_USER_MAX)

#define CHECK_TEXT(st, what, text)                                                                 \
    CHECK(st, text_valid(text), "%s is longer than %d bytes", what, STORE_TEXT_MAX)

#define CHECK_HASH(st, hash)                                                                       \
    CHECK(st, hash_valid(hash), "a token hash is %d lowercase hex digits (SHA-256)",               \
          STORE_TOKEN_HASH_LEN)

/* ---- opening --------------------------------------------------------------- */

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return clock_wall_ms();
}

int store_open(const char *location, const struct store_options *opts, struct store **out,
               char *err, size_t errlen)
{
    *out = NULL;
    struct store_options o = {0};
    if (opts)
        o = *opts;
    if (!o.now_ms)
        o.now_ms = wall_clock;
    if (o.busy_timeout_ms <= 0)
        o.busy_timeout_ms = STORE_BUSY_DEFAULT_MS;
    if (!location || !*location) {
        snprintf(err, errlen, "no store location given");
        return ERR_CONFIG;
    }
    if (strncmp(location, "redis://", 8) == 0 || strncmp(location, "rediss://", 9) == 0) {
        snprintf(err, errlen, "%s: the Redis store backend is not built into this harde yet",
                 location);
        return ERR_CONFIG;
    }
    const char *path = location;
    if (strncmp(location, "sqlite:", 7) == 0)
        path = location + 7;
    if (!*path) {
        snprintf(err, errlen, "%s: no database path", location);
        return ERR_CONFIG;
    }
    return store_sqlite_open(path, &o, out, err, errlen);
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

const char *store_error(const struct store *st)
{
    return st->error;
}

const char *store_backend(const struct store *st)
{
    return st->ops->name;
}

int64_t store_now_ms(struct store *st)
{
    return st->now_ms(st->clock_ctx);
}

/* ---- sessions ---------------------------------------------------------------- */

int store_session_get(struct store *st, const char *id, struct store_session *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK_ID(st, "session", id);
    int rc = ops->session_get(st, id, out);
    if (rc)
        store_session_free(out);
    return rc;
}

int store_session_put(struct store *st, const struct store_session_put *in, int64_t *new_version)
{
    const struct store_ops *ops = begin(st);
    if (new_version)
        *new_version = 0;
    CHECK(st, in, "no session given");
    CHECK_ID(st, "session", in->id);
    CHECK(st, in->version >= 0, "session %s: negative version", in->id);
    CHECK(st, !in->owner || !*in->owner || store_user_name_valid(in->owner),
          "session %s: invalid owner \"%.80s\"", in->id, in->owner);
    CHECK_TEXT(st, "the session title", in->title);
    int64_t version = 0;
    int rc = ops->session_put(st, in, &version);
    if (rc == 0 && new_version)
        *new_version = version;
    return rc;
}

int store_session_list(struct store *st, const struct store_session_filter *f,
                       struct store_session_list *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    struct store_session_filter g = {0};
    if (f)
        g = *f;
    CHECK(st, !g.owner || !*g.owner || store_user_name_valid(g.owner), "invalid owner \"%.80s\"",
          g.owner);
    CHECK(st, g.offset <= INT64_MAX, "offset out of range");
    g.limit = list_limit(g.limit);
    int rc = ops->session_list(st, &g, out);
    if (rc)
        store_session_list_free(out);
    return rc;
}

int store_session_delete(struct store *st, const char *id)
{
    const struct store_ops *ops = begin(st);
    CHECK_ID(st, "session", id);
    return ops->session_delete(st, id);
}

int store_session_delete_idle(struct store *st, int64_t idle_ms, size_t *deleted)
{
    const struct store_ops *ops = begin(st);
    size_t n = 0;
    if (deleted)
        *deleted = 0;
    CHECK(st, idle_ms >= 0, "negative idle time");
    int rc = ops->session_delete_idle(st, idle_ms, &n);
    if (rc == 0 && deleted)
        *deleted = n;
    return rc;
}

void store_session_free(struct store_session *s)
{
    if (!s)
        return;
    free(s->owner);
    free(s->title);
    json_decref(s->doc);
    memset(s, 0, sizeof *s);
}

void store_session_list_free(struct store_session_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        store_session_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---- runs and steps ------------------------------------------------------------ */

const char *store_run_status_name(enum store_run_status status)
{
    return (unsigned)status < STORE_RUN_STATUS_COUNT ? run_status_names[status] : "unknown";
}

const char *store_step_status_name(enum store_step_status status)
{
    return (unsigned)status < STORE_STEP_STATUS_COUNT ? step_status_names[status] : "unknown";
}

int store_run_status_parse(const char *name, enum store_run_status *out)
{
    for (int i = 0; name && i < STORE_RUN_STATUS_COUNT; i++)
        if (strcmp(name, run_status_names[i]) == 0) {
            *out = (enum store_run_status)i;
            return 0;
        }
    return ERR_INVALID;
}

bool store_run_status_final(enum store_run_status status)
{
    return status == STORE_RUN_SUCCEEDED || status == STORE_RUN_FAILED ||
           status == STORE_RUN_CANCELLED;
}

int store_run_create(struct store *st, const struct store_run_new *in, struct store_run *out,
                     bool *created)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    bool made = false;
    if (created)
        *created = false;
    CHECK(st, in, "no run given");
    CHECK_NAME(st, "workflow name", in->workflow);
    CHECK(st, !in->dedupe_key || name_valid(in->dedupe_key), "invalid dedupe key \"%.80s\"",
          in->dedupe_key);
    CHECK(st, in->wake_at_ms >= 0, "negative wake-up time");
    int rc = ops->run_create(st, in, out, &made);
    if (rc)
        store_run_free(out);
    else if (created)
        *created = made;
    return rc;
}

int store_run_get(struct store *st, const char *id, bool with_steps, struct store_run *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK_ID(st, "run", id);
    int rc = ops->run_get(st, id, with_steps, out);
    if (rc)
        store_run_free(out);
    return rc;
}

int store_run_find(struct store *st, const char *dedupe_key, struct store_run *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK(st, name_valid(dedupe_key), "invalid dedupe key \"%.80s\"",
          dedupe_key ? dedupe_key : "(null)");
    int rc = ops->run_find(st, dedupe_key, out);
    if (rc)
        store_run_free(out);
    return rc;
}

int store_run_list(struct store *st, const struct store_run_filter *f, struct store_run_list *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    struct store_run_filter g = {0};
    if (f)
        g = *f;
    CHECK(st, g.status_mask < (1u << STORE_RUN_STATUS_COUNT), "unknown run status in filter");
    CHECK(st, !g.workflow || name_valid(g.workflow), "invalid workflow name \"%.80s\"", g.workflow);
    CHECK(st, g.offset <= INT64_MAX, "offset out of range");
    if (g.status_mask == 0)
        g.status_mask = (1u << STORE_RUN_STATUS_COUNT) - 1;
    g.limit = list_limit(g.limit);
    int rc = ops->run_list(st, &g, out);
    if (rc)
        store_run_list_free(out);
    return rc;
}

int store_run_due(struct store *st, size_t limit, struct store_run_list *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    int rc = ops->run_due(st, list_limit(limit), out);
    if (rc)
        store_run_list_free(out);
    return rc;
}

int store_run_transition(struct store *st, const char *id, const struct store_run_transition *t,
                         struct store_run *out)
{
    const struct store_ops *ops = begin(st);
    if (out)
        memset(out, 0, sizeof *out);
    CHECK_ID(st, "run", id);
    CHECK(st, t, "no transition given");
    CHECK(st, (unsigned)t->to < STORE_RUN_STATUS_COUNT, "unknown run status %d", (int)t->to);
    CHECK(st, t->from < (1u << STORE_RUN_STATUS_COUNT), "unknown run status in from");
    CHECK(st, t->wake_at_ms >= 0, "negative wake-up time");
    CHECK_TEXT(st, "the error", t->error);
    struct store_run after = {0};
    int rc = ops->run_transition(st, id, t, out ? &after : NULL);
    if (rc)
        store_run_free(&after);
    else if (out)
        *out = after;
    return rc;
}

int store_run_cancel(struct store *st, const char *id)
{
    struct store_run_transition t = {
        .from = STORE_RUN_MASK(STORE_RUN_PENDING) | STORE_RUN_MASK(STORE_RUN_RUNNING) |
                STORE_RUN_MASK(STORE_RUN_WAITING),
        .to = STORE_RUN_CANCELLED,
    };
    return store_run_transition(st, id, &t, NULL);
}

int store_run_retry(struct store *st, const char *id)
{
    struct store_run_transition t = {.from = STORE_RUN_MASK(STORE_RUN_FAILED),
                                     .to = STORE_RUN_PENDING};
    return store_run_transition(st, id, &t, NULL);
}

int store_run_delete(struct store *st, const char *id)
{
    const struct store_ops *ops = begin(st);
    CHECK_ID(st, "run", id);
    return ops->run_delete(st, id);
}

int store_step_start(struct store *st, const char *run_id, const char *step, struct store_step *out)
{
    const struct store_ops *ops = begin(st);
    if (out)
        memset(out, 0, sizeof *out);
    CHECK_ID(st, "run", run_id);
    CHECK_NAME(st, "step name", step);
    struct store_step s = {0};
    int rc = ops->step_start(st, run_id, step, out ? &s : NULL);
    if (rc)
        store_step_free(&s);
    else if (out)
        *out = s;
    return rc;
}

int store_step_succeed(struct store *st, const char *run_id, const char *step, const json_t *output,
                       const char *next_step)
{
    const struct store_ops *ops = begin(st);
    CHECK_ID(st, "run", run_id);
    CHECK_NAME(st, "step name", step);
    CHECK(st, !next_step || !*next_step || name_valid(next_step),
          "invalid next step name \"%.80s\"", next_step);
    return ops->step_succeed(st, run_id, step, output, next_step ? next_step : "");
}

int store_step_fail(struct store *st, const char *run_id, const char *step, const char *error)
{
    const struct store_ops *ops = begin(st);
    CHECK_ID(st, "run", run_id);
    CHECK_NAME(st, "step name", step);
    CHECK_TEXT(st, "the error", error);
    return ops->step_fail(st, run_id, step, error && *error ? error : "failed");
}

int store_step_get(struct store *st, const char *run_id, const char *step, struct store_step *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK_ID(st, "run", run_id);
    CHECK_NAME(st, "step name", step);
    int rc = ops->step_get(st, run_id, step, out);
    if (rc)
        store_step_free(out);
    return rc;
}

void store_step_free(struct store_step *s)
{
    if (!s)
        return;
    free(s->name);
    json_decref(s->output);
    free(s->error);
    memset(s, 0, sizeof *s);
}

void store_run_free(struct store_run *r)
{
    if (!r)
        return;
    free(r->workflow);
    free(r->dedupe_key);
    json_decref(r->input);
    free(r->current_step);
    free(r->last_error);
    for (size_t i = 0; i < r->step_count; i++)
        store_step_free(&r->steps[i]);
    free(r->steps);
    memset(r, 0, sizeof *r);
}

void store_run_list_free(struct store_run_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        store_run_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---- leases and checkpoints ----------------------------------------------------- */

int store_lease_acquire(struct store *st, const char *name, const char *owner, int64_t ttl_ms,
                        struct store_lease *holder)
{
    const struct store_ops *ops = begin(st);
    struct store_lease h = {0};
    if (holder)
        memset(holder, 0, sizeof *holder);
    CHECK_NAME(st, "lease name", name);
    CHECK_NAME(st, "lease owner", owner);
    CHECK(st, ttl_ms > 0 && ttl_ms <= STORE_TTL_MAX_MS, "lease %s: ttl out of range", name);
    int rc = ops->lease_acquire(st, name, owner, ttl_ms, &h);
    if (holder && (rc == 0 || rc == ERR_CONFLICT))
        *holder = h;
    return rc;
}

int store_lease_release(struct store *st, const char *name, const char *owner)
{
    const struct store_ops *ops = begin(st);
    CHECK_NAME(st, "lease name", name);
    CHECK_NAME(st, "lease owner", owner);
    return ops->lease_release(st, name, owner);
}

int store_lease_get(struct store *st, const char *name, struct store_lease *holder)
{
    const struct store_ops *ops = begin(st);
    struct store_lease h = {0};
    memset(holder, 0, sizeof *holder);
    CHECK_NAME(st, "lease name", name);
    int rc = ops->lease_get(st, name, &h);
    if (rc == 0)
        *holder = h;
    return rc;
}

int store_checkpoint_get(struct store *st, const char *key, char **value)
{
    const struct store_ops *ops = begin(st);
    *value = NULL;
    CHECK_NAME(st, "checkpoint key", key);
    int rc = ops->checkpoint_get(st, key, value);
    if (rc) {
        free(*value);
        *value = NULL;
    }
    return rc;
}

int store_checkpoint_put(struct store *st, const char *key, const char *value)
{
    const struct store_ops *ops = begin(st);
    CHECK_NAME(st, "checkpoint key", key);
    CHECK(st, value, "checkpoint %s: no value", key);
    CHECK_TEXT(st, "the checkpoint value", value);
    return ops->checkpoint_put(st, key, value);
}

int store_checkpoint_delete(struct store *st, const char *key)
{
    const struct store_ops *ops = begin(st);
    CHECK_NAME(st, "checkpoint key", key);
    return ops->checkpoint_delete(st, key);
}

/* ---- users and tokens ------------------------------------------------------------ */

const char *store_role_name(enum store_role role)
{
    return (unsigned)role < STORE_ROLE_COUNT ? role_names[role] : "unknown";
}

int store_role_parse(const char *name, enum store_role *out)
{
    for (int i = 0; name && i < STORE_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum store_role)i;
            return 0;
        }
    return ERR_INVALID;
}

static int check_user_spec(struct store *st, const struct store_user_spec *u)
{
    CHECK(st, u, "no user given");
    CHECK_USER(st, u->name);
    CHECK(st, (unsigned)u->role < STORE_ROLE_COUNT, "user %s: unknown role %d", u->name,
          (int)u->role);
    CHECK_TEXT(st, "the team name", u->team);
    CHECK_TEXT(st, "the password hash", u->password_hash);
    return 0;
}

int store_user_create(struct store *st, const struct store_user_spec *u)
{
    const struct store_ops *ops = begin(st);
    int rc = check_user_spec(st, u);
    return rc ? rc : ops->user_create(st, u);
}

int store_user_update(struct store *st, const struct store_user_spec *u)
{
    const struct store_ops *ops = begin(st);
    int rc = check_user_spec(st, u);
    return rc ? rc : ops->user_update(st, u);
}

int store_user_get(struct store *st, const char *name, struct store_user *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK_USER(st, name);
    int rc = ops->user_get(st, name, out);
    if (rc)
        store_user_free(out);
    return rc;
}

int store_user_list(struct store *st, const struct store_user_filter *f,
                    struct store_user_list *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    struct store_user_filter g = {0};
    if (f)
        g = *f;
    CHECK_TEXT(st, "the team name", g.team);
    CHECK(st, g.offset <= INT64_MAX, "offset out of range");
    g.limit = list_limit(g.limit);
    int rc = ops->user_list(st, &g, out);
    if (rc)
        store_user_list_free(out);
    return rc;
}

int store_user_delete(struct store *st, const char *name)
{
    const struct store_ops *ops = begin(st);
    CHECK_USER(st, name);
    return ops->user_delete(st, name);
}

int store_token_create(struct store *st, const char *hash, const char *user, const char *label)
{
    const struct store_ops *ops = begin(st);
    CHECK_HASH(st, hash);
    CHECK_USER(st, user);
    CHECK_TEXT(st, "the token label", label);
    return ops->token_create(st, hash, user, label ? label : "");
}

int store_token_lookup(struct store *st, const char *hash, struct store_token *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK_HASH(st, hash);
    int rc = ops->token_lookup(st, hash, out);
    if (rc)
        store_token_free(out);
    return rc;
}

int store_token_list(struct store *st, const char *user, struct store_token_list *out)
{
    const struct store_ops *ops = begin(st);
    memset(out, 0, sizeof *out);
    CHECK(st, !user || store_user_name_valid(user), "invalid user name \"%.80s\"", user);
    int rc = ops->token_list(st, user, out);
    if (rc)
        store_token_list_free(out);
    return rc;
}

int store_token_delete(struct store *st, const char *hash)
{
    const struct store_ops *ops = begin(st);
    CHECK_HASH(st, hash);
    return ops->token_delete(st, hash);
}

void store_user_free(struct store_user *u)
{
    if (!u)
        return;
    free(u->team);
    free(u->password_hash);
    memset(u, 0, sizeof *u);
}

void store_user_list_free(struct store_user_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        store_user_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void store_token_free(struct store_token *t)
{
    if (!t)
        return;
    free(t->label);
    memset(t, 0, sizeof *t);
}

void store_token_list_free(struct store_token_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        store_token_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}
