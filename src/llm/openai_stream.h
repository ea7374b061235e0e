/* openai_stream — assembles a streamed Chat Completions answer from its chunks.
 *
 * Fed one SSE event (or one parsed chunk) at a time, it passes text deltas to
 * the caller's callback as they arrive, collects the whole text, assembles
 * tool calls from their fragments keyed by `index` (id and name from the
 * first fragment, arguments appended), and keeps finish_reason, the model's
 * name and the usage chunk that stream_options.include_usage adds before
 * `[DONE]`. An `error` event or a chunk with an `error` object is an error;
 * a stream that ends with neither `[DONE]` nor a finish_reason was cut off.
 * Text and arguments are bounded. Pure: no I/O (EXTERNAL_APIS.md §1.4). */
#ifndef HARDE_LLM_OPENAI_STREAM_H
#define HARDE_LLM_OPENAI_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "llm/model.h"

#define OPENAI_STREAM_MAX_TEXT       (4u << 20) /* bytes of answer text */
#define OPENAI_STREAM_MAX_ARGUMENTS  (1u << 20) /* bytes of one call's arguments */
#define OPENAI_STREAM_MAX_TOOL_CALLS 64

struct openai_stream_call {
    long index;
    char *id;
    char *name;
    struct buf arguments;
};

struct openai_stream {
    const char *model_requested; /* for error messages (borrowed) */
    llm_text_cb *on_text;        /* may be NULL */
    void *user;
    struct buf text;
    bool have_text; /* a content delta arrived (even an empty one) */
    struct openai_stream_call *calls;
    size_t n_calls;
    char *finish_reason;
    char *model;
    struct llm_usage usage;
    bool done;     /* "[DONE]" arrived */
    size_t chunks; /* chunks accepted */
};

/* Prepares s. model names the requested model in error messages (borrowed,
 * may be NULL); on_text receives text deltas (may be NULL). */
void openai_stream_init(struct openai_stream *s, const char *model, llm_text_cb *on_text,
                        void *user);
void openai_stream_free(struct openai_stream *s);

/* Feeds one SSE event: its name ("message" when none) and data. "[DONE]"
 * ends the stream; anything after it is ignored. Returns 0, or ERR_MODEL
 * (not JSON, an error event), ERR_AUTH / ERR_RATE_LIMIT (a mapped error
 * object) or ERR_LIMIT, with a sentence in err. */
int openai_stream_event(struct openai_stream *s, const char *event, const char *data, size_t len,
                        char *err, size_t errlen);
/* Feeds one parsed chunk (borrowed); same results as openai_stream_event. */
int openai_stream_chunk(struct openai_stream *s, const json_t *chunk, char *err, size_t errlen);
/* Ends the stream: 0 and the answer moved into *out (zeroed by the caller;
 * strings new), or ERR_MODEL ("the model's answer was cut off", a tool call
 * without a name). s must still be freed. */
int openai_stream_finish(struct openai_stream *s, struct llm_response *out, char *err,
                         size_t errlen);

#endif
