/* local_model — the embedded model: answers any agent of the runtime with no
 * cloud account, the way assistants were built before LLMs.
 *
 * It is an llm_model backend, so the runner cannot tell it from OpenAI. Per
 * call it looks at what the agent offers and what the conversation holds:
 *   - a fresh user message and handoff tools → the intent classifier picks
 *     the specialist (`transfer_to_<intent>`); an answer to a question a
 *     specialist just asked goes back to that specialist;
 *   - a specialist with tools → the best-matching tool, its arguments filled
 *     from the conversation by schema-driven extraction (extract.h); missing
 *     required arguments → one question naming all of them;
 *   - a tool result → the answer, from the result's "summary" (or "answer")
 *     text when the tool provides one, else a plain rendering of its fields;
 *   - greetings, thanks, "what can you do", and unclear messages → short
 *     replies built from the handoff descriptions (a clarifying question when
 *     the classifier is not confident, never a guess).
 * Text is streamed word by word when the request asks for streaming. */
#ifndef HARDE_LLM_LOCAL_LOCAL_MODEL_H
#define HARDE_LLM_LOCAL_LOCAL_MODEL_H

#include <stddef.h>

#include "llm/local/intent.h"
#include "llm/model.h"

struct local_model_options {
    const struct intent_model *intents; /* trained classifier (borrowed; must outlive the model) */
    const char *assistant_name;         /* "Hard-E" */
};

/* A new local model (free with llm_model_free). Never fails for valid options;
 * NULL with err set when intents is NULL. */
struct llm_model *local_model_new(const struct local_model_options *options, char *err,
                                  size_t errlen);

#endif
