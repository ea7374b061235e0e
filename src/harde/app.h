/* app — one Hard-E instance: configuration, data directory, price book,
 * model backend, agents. Every entry point (CLI, later the web server and the
 * worker) opens one app and runs turns against it.
 *
 * Opening resolves configuration once (file, then environment), so the rest
 * of the code reads plain fields instead of looking keys up again. Secrets
 * (OPENAI_API_KEY) are read from the environment here, registered with the
 * log for redaction, and never stored in the config. */
#ifndef HARDE_HARDE_APP_H
#define HARDE_HARDE_APP_H

#include <stdbool.h>

#include "base/config.h"
#include "llm/model.h"

struct price_book;
struct harde_agents;
struct intent_model;
struct kb;
struct store;
struct crm;

/* What an entry point needs opened (bit flags). */
enum {
    HARDE_NEED_BOOK = 1,
    HARDE_NEED_MODEL = 2, /* implies everything a turn needs: intents, store, CRM */
    HARDE_NEED_KB = 4,
    HARDE_NEED_INTENTS = 8,
    HARDE_NEED_STORE = 16,
    HARDE_NEED_CRM = 32,
};

/* Lends store connections to an app that has none of its own (the web
 * server's turn workers share a small pool instead of one per thread). */
struct harde_store_lender {
    struct store *(*take)(void *ctx);
    void (*give)(void *ctx, struct store *st);
    void *ctx;
};

struct harde_app {
    struct config *config;
    char *data_dir;  /* created on first use */
    char *share_dir; /* the shipped data (price book, playbook, intents) */
    char *book_path;
    struct price_book *book;
    struct llm_model *model;
    const char *backend;                           /* "openai" or "local" */
    struct intent_model *intents;                  /* the local classifier (routing, local model) */
    struct kb *kb;                                 /* the company playbook, opened on first use */
    char *kb_dir;                                  /* where the playbook's Markdown files are */
    char *kb_index;                                /* the FTS5 index file */
    struct store *store;                           /* sessions, runs, users ([store] path) */
    const struct harde_store_lender *store_lender; /* when store is NULL (borrowed) */
    struct crm *crm;                               /* the CRM: local SQLite or Leap */
    long state_idle_minutes; /* [state] idle_minutes: a workflow state expires after */
    char *user;              /* who is talking ($USER on the CLI; the login on the web) */
    char *model_base_url;
    char *triage_model;     /* [model] triage, default gpt-4.1-mini */
    char *specialist_model; /* [model] specialist, default gpt-4.1 */
    long max_turns;
    long history_tokens; /* [model] history_tokens: budget of the conversation sent */
    char *company_name;
    char *director_name;
    struct harde_agents *agents;
};

/* Opens an app from config_path (NULL: $HARDE_CONFIG, else ./harde.ini if it
 * exists, else defaults only). 0, or ERR_* with a message for the user. */
int harde_app_open(struct harde_app *app, const char *config_path, unsigned need, char *err,
                   size_t errlen);
void harde_app_close(struct harde_app *app);
/* Where the store lives: [store] path, else DATA_DIR/harde.sqlite. New string. */
char *harde_app_store_location(const struct harde_app *app);

/* A store connection for a short piece of work: the app's own, else one
 * borrowed from its lender, else NULL. Give it back with harde_app_store_give. */
struct store *harde_app_store_take(struct harde_app *app);
void harde_app_store_give(struct harde_app *app, struct store *st);

/* The playbook index, opened (and imported on first use) when first needed:
 * a turn that never touches the playbook does not pay for it. Borrowed, or
 * NULL with err set. */
struct kb *harde_app_kb(struct harde_app *app, char *err, size_t errlen);

#endif
