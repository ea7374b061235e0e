/* model — the one interface every model backend implements.
 *
 * A backend (the OpenAI Chat Completions client, the embedded local model, a
 * scripted model in tests) turns a request — instructions, the conversation,
 * the tools on offer, settings — into one assistant response: text and/or
 * tool calls, with token usage. Text can be streamed as it is produced.
 *
 * The conversation type (llm_messages) lives here too because it is what
 * every floor above passes around: the runner appends to it, sessions store
 * it as JSON. Messages own their strings. */
#ifndef HARDE_LLM_MODEL_H
#define HARDE_LLM_MODEL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

enum llm_role { LLM_ROLE_SYSTEM, LLM_ROLE_USER, LLM_ROLE_ASSISTANT, LLM_ROLE_TOOL };

struct llm_tool_call {
    char *id;        /* "call_…", unique within the conversation */
    char *name;      /* the tool's name */
    char *arguments; /* JSON text exactly as the model wrote it: may be invalid */
};

struct llm_message {
    enum llm_role role;
    char *content;                    /* NULL for an assistant turn with only tool calls */
    struct llm_tool_call *tool_calls; /* assistant only */
    size_t n_tool_calls;
    char *tool_call_id; /* tool results only: the call answered */
    char *agent;        /* assistant/tool: the agent that acted (not sent to models) */
};

/* A conversation: a growable array of messages, oldest first. */
struct llm_messages {
    struct llm_message *items;
    size_t len;
    size_t cap;
};

void llm_messages_init(struct llm_messages *m);
void llm_messages_free(struct llm_messages *m);
/* Appends a zeroed message with the given role and returns it (borrowed; valid
 * until the next append). */
struct llm_message *llm_messages_push(struct llm_messages *m, enum llm_role role);
/* Appends a text message; content is copied. */
void llm_messages_push_text(struct llm_messages *m, enum llm_role role, const char *content,
                            const char *agent);
/* Removes messages from index len onwards. */
void llm_messages_truncate(struct llm_messages *m, size_t len);
void llm_message_free(struct llm_message *msg);
/* Deep copy of src into dst (dst is overwritten, not freed). */
void llm_message_copy(struct llm_message *dst, const struct llm_message *src);
/* The conversation as a new JSON array in the Chat Completions message shape
 * plus an "agent" member where known. */
json_t *llm_messages_to_json(const struct llm_messages *m);
/* Appends the messages of a JSON array made by llm_messages_to_json. 0, or
 * ERR_PARSE with a message naming the bad element. */
int llm_messages_from_json(struct llm_messages *m, const json_t *array, char *err, size_t errlen);
const char *llm_role_name(enum llm_role role);
/* The last assistant text among msgs[0..before) — stopping at a user message —
 * when it asks the user something (ends with "?" or "(yes/no)"), else NULL.
 * Borrowed. How routers and the local model tell an answer from a new request. */
const struct llm_message *llm_messages_open_question(const struct llm_message *msgs, size_t before);

struct llm_tool_spec {
    const char *name;
    const char *description;
    const json_t *parameters; /* JSON Schema of the arguments (borrowed) */
};

struct llm_settings {
    double temperature; /* < 0: the server's default */
    int max_tokens;     /* 0: the server's default */
    /* NULL or "auto", "none", "required", or the name of one tool to force. */
    const char *tool_choice;
};

/* Settings meaning "use the server's defaults". */
#define LLM_SETTINGS_DEFAULT ((struct llm_settings){.temperature = -1, .max_tokens = 0})

struct llm_request {
    const char *model;                  /* model name, e.g. "gpt-4.1" */
    const char *agent;                  /* the acting agent's name (for local models, traces) */
    const char *instructions;           /* sent as the leading system message; may be NULL */
    const struct llm_message *messages; /* the conversation (borrowed) */
    size_t n_messages;
    const struct llm_tool_spec *tools;
    size_t n_tools;
    struct llm_settings settings;
    bool stream;                   /* deliver text through on_text as it arrives */
    volatile sig_atomic_t *cancel; /* set non-zero to abandon the call; may be NULL */
};

struct llm_usage {
    long prompt_tokens;
    long completion_tokens;
    long total_tokens;
};

struct llm_response {
    char *content; /* the text answer, or NULL */
    struct llm_tool_call *tool_calls;
    size_t n_tool_calls;
    char *finish_reason; /* "stop", "tool_calls", "length", … */
    char *model;         /* the model that answered, as the server named it */
    char *request_id;    /* the server's request id, for support; may be NULL */
    struct llm_usage usage;
};

void llm_response_free(struct llm_response *r);

/* Receives streamed text; delta is not NUL-terminated. */
typedef void llm_text_cb(const char *delta, size_t len, void *user);

struct llm_model_ops {
    const char *name; /* "openai", "local", … */
    /* Fills *out (zeroed by the caller). Returns 0 or ERR_* with a sentence a
     * rep can read in err: ERR_AUTH (key rejected), ERR_MODEL (unknown model,
     * bad response), ERR_RATE_LIMIT, ERR_TIMEOUT, ERR_NETWORK, ERR_HTTP,
     * ERR_CANCELED. */
    int (*complete)(void *impl, const struct llm_request *req, llm_text_cb *on_text, void *user,
                    struct llm_response *out, char *err, size_t errlen);
    void (*destroy)(void *impl);
};

struct llm_model {
    const struct llm_model_ops *ops;
    void *impl;
};

/* Delivers text to on_text word by word (each word with the spaces after it),
 * the way a model streams: for answers composed without a model. */
void llm_stream_words(const char *text, llm_text_cb *on_text, void *user);

/* Calls the backend; out is zeroed first. */
int llm_complete(struct llm_model *model, const struct llm_request *req, llm_text_cb *on_text,
                 void *user, struct llm_response *out, char *err, size_t errlen);
/* Destroys the backend and frees model (NULL is fine). */
void llm_model_free(struct llm_model *model);

#endif
