/* store_internal — what a store backend implements, shared inside store/ only.
 *
 * A backend is a struct that begins with struct store and an operations
 * table (a vtable, like a VFS in SQLite). store.c owns the public functions:
 * it checks every argument (ids, names, lengths, enums), clears the error
 * message, zeroes out structs, applies defaults (limits, NULL strings), and
 * only then calls the backend, so a backend may assume valid input and a
 * zeroed out struct. A backend reports failures through store_fail, which sets
 * the message that store_error returns. On failure a backend may leave an out
 * struct partly filled: store.c frees it. */
#ifndef HARDE_STORE_STORE_INTERNAL_H
#define HARDE_STORE_STORE_INTERNAL_H

#include "store/store.h"

#define STORE_RUN_ID_LEN 16 /* characters of [a-z0-9] in a generated run id */

struct store_ops {
    const char *name;
    void (*close)(struct store *st);

    int (*session_get)(struct store *st, const char *id, struct store_session *out);
    int (*session_put)(struct store *st, const struct store_session_put *in, int64_t *new_version);
    int (*session_list)(struct store *st, const struct store_session_filter *f,
                        struct store_session_list *out);
    int (*session_delete)(struct store *st, const char *id);
    int (*session_delete_idle)(struct store *st, int64_t idle_ms, size_t *deleted);

    int (*run_create)(struct store *st, const struct store_run_new *in, struct store_run *out,
                      bool *created);
    int (*run_get)(struct store *st, const char *id, bool with_steps, struct store_run *out);
    int (*run_find)(struct store *st, const char *dedupe_key, struct store_run *out);
    int (*run_list)(struct store *st, const struct store_run_filter *f, struct store_run_list *out);
    int (*run_due)(struct store *st, size_t limit, struct store_run_list *out);
    int (*run_transition)(struct store *st, const char *id, const struct store_run_transition *t,
                          struct store_run *out);
    int (*run_delete)(struct store *st, const char *id);
    int (*step_start)(struct store *st, const char *run_id, const char *step,
                      struct store_step *out);
    int (*step_succeed)(struct store *st, const char *run_id, const char *step,
                        const json_t *output, const char *next_step);
    int (*step_fail)(struct store *st, const char *run_id, const char *step, const char *error);
    int (*step_get)(struct store *st, const char *run_id, const char *step, struct store_step *out);

    int (*lease_acquire)(struct store *st, const char *name, const char *owner, int64_t ttl_ms,
                         struct store_lease *holder);
    int (*lease_release)(struct store *st, const char *name, const char *owner);
    int (*lease_get)(struct store *st, const char *name, struct store_lease *holder);

    int (*checkpoint_get)(struct store *st, const char *key, char **value);
    int (*checkpoint_put)(struct store *st, const char *key, const char *value);
    int (*checkpoint_delete)(struct store *st, const char *key);

    int (*user_create)(struct store *st, const struct store_user_spec *u);
    int (*user_update)(struct store *st, const struct store_user_spec *u);
    int (*user_get)(struct store *st, const char *name, struct store_user *out);
    int (*user_list)(struct store *st, const struct store_user_filter *f,
                     struct store_user_list *out);
    int (*user_delete)(struct store *st, const char *name);
    int (*token_create)(struct store *st, const char *hash, const char *user, const char *label);
    int (*token_lookup)(struct store *st, const char *hash, struct store_token *out);
    int (*token_list)(struct store *st, const char *user, struct store_token_list *out);
    int (*token_delete)(struct store *st, const char *hash);
};

/* The part every backend shares; a backend's own struct starts with it. */
struct store {
    const struct store_ops *ops;
    int64_t (*now_ms)(void *clock_ctx); /* never NULL */
    void *clock_ctx;
    char error[STORE_ERROR_MAX];
};

/* Sets st's error message and returns code (for `return store_fail(...)`). */
int store_fail(struct store *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills out with a fresh run id: STORE_RUN_ID_LEN characters of [a-z0-9]
 * from the kernel's random source, NUL-terminated. */
void store_new_run_id(char out[STORE_RUN_ID_LEN + 1]);
/* The backends' constructors. Each sets *out to a new store or returns an
 * error code with err filled. opts is never NULL here. */
int store_sqlite_open(const char *path, const struct store_options *opts, struct store **out,
                      char *err, size_t errlen);

#endif
