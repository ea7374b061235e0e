/* app — opening and closing one Hard-E instance. See app.h.
 *
 * Configuration keys read here (every one overridable by HARDE_<SECTION>_<KEY>):
 *   [harde]   data_dir, share_dir
 *   [log]     level, file
 *   [model]   backend (auto|openai|local), triage, specialist, max_turns, history_tokens,
 *             intents
 *   [kb]      dir, index
 *   [store]   path        (DATA_DIR/harde.sqlite)
 *   [state]   idle_minutes (120)
 *   [crm] …, [leap] …     (see services/crm/crm.h)
 *   [openai]  base_url, timeout_s, connect_timeout_s, max_retries
 *   [http]    retry_base_ms
 *   [pricing] book            (also HARDE_PRICE_BOOK)
 *   [company] name, director
 * Secrets only from the environment: OPENAI_API_KEY. */
#define _POSIX_C_SOURCE 200809L
#include "harde/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "agent/agent.h"
#include "harde/agents.h"
#include "harde/price_book.h"
#include "kb/kb.h"
#include "services/crm/crm.h"
#include "store/store.h"
#include "llm/local/intent.h"
#include "llm/local/local_model.h"
#include "llm/openai.h"

#ifndef HARDE_SHARE_DIR
#define HARDE_SHARE_DIR "data"
#endif

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int open_logging(struct harde_app *app, char *err, size_t errlen)
{
    const char *level = config_get(app->config, "log", "level", "warn");
    if (log_set_level_name(level) != 0) {
        snprintf(err, errlen, "log.level: expected debug, info, warn, error or off, got \"%s\"",
                 level);
        return ERR_CONFIG;
    }
    const char *file = config_get(app->config, "log", "file", NULL);
    if (file && *file && log_open(file) != 0) {
        snprintf(err, errlen, "log.file: cannot open %s for appending", file);
        return ERR_CONFIG;
    }
    return 0;
}

static int open_book(struct harde_app *app, char *err, size_t errlen)
{
    const char *path = env_nonempty("HARDE_PRICE_BOOK");
    if (!path)
        path = config_get(app->config, "pricing", "book", NULL);
    if (path && *path) {
        app->book_path = xstrdup(path);
    } else {
        app->book_path = xasprintf("%s/price_book.json", app->share_dir);
        if (access(app->book_path, R_OK) != 0) {
            /* Not installed beside the binary: use the built-in sample book. */
            free(app->book_path);
            app->book_path = xstrdup("(built-in sample book)");
            app->book = price_book_load_default();
            return 0;
        }
    }
    app->book = price_book_load_file(app->book_path, err, errlen);
    return app->book ? 0 : ERR_CONFIG;
}

static int open_openai(struct harde_app *app, const char *key, const char *base, char *err,
                       size_t errlen)
{
    long timeout_s, connect_s, retries, retry_base;
    int rc;
    if ((rc = config_get_long(app->config, "openai", "timeout_s", 600, &timeout_s, err, errlen)) ||
        (rc = config_get_long(app->config, "openai", "connect_timeout_s", 5, &connect_s, err,
                              errlen)) ||
        (rc = config_get_long(app->config, "openai", "max_retries", 2, &retries, err, errlen)) ||
        (rc = config_get_long(app->config, "http", "retry_base_ms", 500, &retry_base, err, errlen)))
        return rc;
    struct openai_options opt = OPENAI_OPTIONS_INIT;
    opt.base_url = base;
    opt.api_key = key;
    opt.organization = env_nonempty("OPENAI_ORGANIZATION");
    opt.project = env_nonempty("OPENAI_PROJECT");
    opt.timeout_ms = timeout_s * 1000;
    opt.connect_timeout_ms = connect_s * 1000;
    opt.max_retries = (int)retries;
    opt.retry_base_ms = retry_base;
    if (key)
        log_add_secret(key);
    app->model = openai_model_new(&opt, err, errlen);
    if (!app->model)
        return ERR_CONFIG;
    app->backend = "openai";
    app->model_base_url = xstrdup(base ? base : OPENAI_DEFAULT_BASE_URL);
    return 0;
}

/* Tells the user once per data directory that the local model is in use. */
static void local_notice(const struct harde_app *app)
{
    char *marker = xasprintf("%s/.local-model-notice", app->data_dir);
    if (access(marker, F_OK) != 0) {
        fprintf(stderr, "harde: no OPENAI_API_KEY set: using the built-in local model (offline). "
                        "Set OPENAI_API_KEY to use OpenAI.\n");
        FILE *f = fopen(marker, "w");
        if (f)
            fclose(f);
    }
    free(marker);
}

static int open_model(struct harde_app *app, char *err, size_t errlen)
{
    const char *backend = config_get(app->config, "model", "backend", "auto");
    const char *key = env_nonempty("OPENAI_API_KEY");
    const char *base = env_nonempty("OPENAI_BASE_URL");
    if (!base)
        base = config_get(app->config, "openai", "base_url", NULL);
    if (base && !*base)
        base = NULL;
    if (strcmp(backend, "auto") != 0 && strcmp(backend, "openai") != 0 &&
        strcmp(backend, "local") != 0) {
        snprintf(err, errlen, "model.backend: expected auto, openai or local, got \"%s\"", backend);
        return ERR_CONFIG;
    }
    if (strcmp(backend, "openai") == 0 || (strcmp(backend, "auto") == 0 && (key || base)))
        return open_openai(app, key, base, err, errlen);
    struct local_model_options opt = {.intents = app->intents, .assistant_name = "Hard-E"};
    app->model = local_model_new(&opt, err, errlen);
    if (!app->model)
        return ERR_CONFIG;
    app->backend = "local";
    if (strcmp(backend, "auto") == 0)
        local_notice(app);
    return 0;
}

static int open_intents(struct harde_app *app, char *err, size_t errlen)
{
    const char *dir = config_get(app->config, "model", "intents", NULL);
    char *path = dir && *dir ? xstrdup(dir) : xasprintf("%s/intents", app->share_dir);
    char inner[512];
    char *cache = xasprintf("%s/intents.cache", app->data_dir);
    app->intents = intent_model_open_cached(path, cache, inner, sizeof inner);
    free(cache);
    if (!app->intents)
        snprintf(err, errlen, "cannot load the intent data: %s", inner);
    free(path);
    return app->intents ? 0 : ERR_CONFIG;
}

char *harde_app_store_location(const struct harde_app *app)
{
    const char *path = config_get(app->config, "store", "path", NULL);
    return path && *path ? xstrdup(path) : xasprintf("%s/harde.sqlite", app->data_dir);
}

static int open_store(struct harde_app *app, char *err, size_t errlen)
{
    char *location = harde_app_store_location(app);
    char inner[512];
    int rc = store_open(location, NULL, &app->store, inner, sizeof inner);
    if (rc != 0)
        snprintf(err, errlen, "the store (%s): %s", location, inner);
    free(location);
    return rc;
}

static int open_crm(struct harde_app *app, char *err, size_t errlen)
{
    char inner[512];
    app->crm = crm_open_configured(app->config, app->data_dir, app->share_dir, inner, sizeof inner);
    if (!app->crm) {
        snprintf(err, errlen, "the CRM: %s", inner);
        return ERR_CONFIG;
    }
    return 0;
}

static void resolve_kb(struct harde_app *app)
{
    const char *index = config_get(app->config, "kb", "index", NULL);
    const char *dir = config_get(app->config, "kb", "dir", NULL);
    app->kb_index = index && *index ? xstrdup(index) : xasprintf("%s/kb.sqlite", app->data_dir);
    app->kb_dir = dir && *dir ? xstrdup(dir) : xasprintf("%s/kb", app->share_dir);
}

struct store *harde_app_store_take(struct harde_app *app)
{
    if (app->store)
        return app->store;
    return app->store_lender ? app->store_lender->take(app->store_lender->ctx) : NULL;
}

void harde_app_store_give(struct harde_app *app, struct store *st)
{
    if (st && st != app->store && app->store_lender)
        app->store_lender->give(app->store_lender->ctx, st);
}

struct kb *harde_app_kb(struct harde_app *app, char *err, size_t errlen)
{
    if (app->kb)
        return app->kb;
    char inner[512];
    int rc = kb_open(app->kb_index, &app->kb, inner, sizeof inner);
    if (rc == 0)
        rc = kb_ensure_imported(app->kb, app->kb_dir, inner, sizeof inner);
    if (rc != 0) {
        snprintf(err, errlen, "the knowledge base: %s", inner);
        if (app->kb)
            kb_close(app->kb);
        app->kb = NULL;
    }
    return app->kb;
}

static const char *find_config_path(const char *given)
{
    if (given)
        return given;
    const char *env = env_nonempty("HARDE_CONFIG");
    if (env)
        return env;
    return access("harde.ini", R_OK) == 0 ? "harde.ini" : NULL;
}

int harde_app_open(struct harde_app *app, const char *config_path, unsigned need, char *err,
                   size_t errlen)
{
    memset(app, 0, sizeof *app);
    int rc = 0;
    log_add_secret(env_nonempty("OPENAI_API_KEY"));
    app->config = config_load(find_config_path(config_path), err, errlen);
    if (!app->config)
        return ERR_CONFIG;
    if ((rc = open_logging(app, err, errlen)) != 0)
        goto fail;
    if (!(app->data_dir = config_data_dir(app->config, err, errlen))) {
        rc = ERR_IO;
        goto fail;
    }
    app->share_dir = xstrdup(config_get(app->config, "harde", "share_dir", HARDE_SHARE_DIR));
    app->triage_model = xstrdup(config_get(app->config, "model", "triage", "gpt-4.1-mini"));
    app->specialist_model = xstrdup(config_get(app->config, "model", "specialist", "gpt-4.1"));
    app->company_name =
        xstrdup(config_get(app->config, "company", "name", "Summit Ridge Roofing & Exteriors"));
    app->director_name = xstrdup(config_get(app->config, "company", "director", "Dale Harmon"));
    if ((rc = config_get_long(app->config, "model", "max_turns", AGENT_DEFAULT_MAX_TURNS,
                              &app->max_turns, err, errlen)) != 0 ||
        (rc = config_get_long(app->config, "model", "history_tokens", 24000, &app->history_tokens,
                              err, errlen)) != 0)
        goto fail;
    if ((rc = open_book(app, err, errlen)) != 0)
        goto fail;
    if (need & HARDE_NEED_MODEL)
        need |= HARDE_NEED_INTENTS | HARDE_NEED_STORE | HARDE_NEED_CRM;
    if ((rc = config_get_long(app->config, "state", "idle_minutes", 120, &app->state_idle_minutes,
                              err, errlen)) != 0)
        goto fail;
    app->user = xstrdup(env_nonempty("USER") ? env_nonempty("USER") : "local");
    if ((need & HARDE_NEED_STORE) && (rc = open_store(app, err, errlen)) != 0)
        goto fail;
    if ((need & HARDE_NEED_CRM) && (rc = open_crm(app, err, errlen)) != 0)
        goto fail;
    if ((need & HARDE_NEED_INTENTS) && (rc = open_intents(app, err, errlen)) != 0)
        goto fail;
    resolve_kb(app);
    if ((need & HARDE_NEED_KB) && !(need & HARDE_NEED_MODEL) && !harde_app_kb(app, err, errlen)) {
        rc = ERR_CONFIG;
        goto fail;
    }
    if ((need & HARDE_NEED_MODEL) && (rc = open_model(app, err, errlen)) != 0)
        goto fail;
    app->agents = harde_agents_new(app);
    log_info("app", "opened: data %s, book %s, backend %s", app->data_dir, app->book_path,
             app->backend ? app->backend : "none");
    return 0;
fail:
    harde_app_close(app);
    return rc;
}

void harde_app_close(struct harde_app *app)
{
    harde_agents_free(app->agents);
    llm_model_free(app->model);
    intent_model_free(app->intents);
    if (app->kb)
        kb_close(app->kb);
    free(app->kb_dir);
    free(app->kb_index);
    store_close(app->store);
    if (app->crm)
        crm_close(app->crm);
    free(app->user);
    price_book_free(app->book);
    config_free(app->config);
    free(app->data_dir);
    free(app->share_dir);
    free(app->book_path);
    free(app->model_base_url);
    free(app->triage_model);
    free(app->specialist_model);
    free(app->company_name);
    free(app->director_name);
    memset(app, 0, sizeof *app);
}
