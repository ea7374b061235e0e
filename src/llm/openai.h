/* openai — the OpenAI Chat Completions model backend (any compatible server).
 *
 * An llm_model whose complete() sends `POST {base_url}/chat/completions`
 * through net/http_client (timeouts, retries, cancellation), streaming the
 * answer over SSE when the request asks for it. Failures come back as ERR_*
 * codes with sentences a sales rep can act on ("the OpenAI API key was
 * rejected (401): set OPENAI_API_KEY to a valid key"). The model is safe to
 * use from several threads at once: it keeps a small pool of HTTP clients so
 * connections are reused. The API key is registered with the log's secret
 * redaction when the model is created. */
#ifndef HARDE_LLM_OPENAI_H
#define HARDE_LLM_OPENAI_H

#include <stddef.h>

#include "llm/model.h"

#define OPENAI_DEFAULT_BASE_URL           "https://api.openai.com/v1"
#define OPENAI_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define OPENAI_DEFAULT_TIMEOUT_MS         600000
#define OPENAI_DEFAULT_MAX_RESPONSE       (8u << 20)  /* a non-streamed body */
#define OPENAI_DEFAULT_MAX_STREAM         (64u << 20) /* all bytes of one stream */

struct openai_options {
    const char *base_url; /* NULL or "": OPENAI_DEFAULT_BASE_URL (callers pass OPENAI_BASE_URL) */
    const char *api_key;  /* sent as "Authorization: Bearer …"; NULL: no header (local servers) */
    const char *organization; /* OpenAI-Organization header, or NULL */
    const char *project;      /* OpenAI-Project header, or NULL */
    long connect_timeout_ms;  /* 0: OPENAI_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;          /* a whole call; 0: OPENAI_DEFAULT_TIMEOUT_MS */
    int max_retries;          /* < 0: the HTTP layer's default (2) */
    long retry_base_ms;       /* first backoff delay; 0: the HTTP layer's default */
    size_t max_response;      /* 0: OPENAI_DEFAULT_MAX_RESPONSE */
};

/* Options meaning "all defaults". */
#define OPENAI_OPTIONS_INIT ((struct openai_options){.max_retries = -1})

/* A new model (free with llm_model_free), or NULL with a sentence in err
 * when the options are unusable (a base URL that is not http(s)). All
 * strings are copied. */
struct llm_model *openai_model_new(const struct openai_options *options, char *err, size_t errlen);

#endif
