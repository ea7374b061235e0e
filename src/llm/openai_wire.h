/* openai_wire — the OpenAI Chat Completions wire format, as pure functions.
 *
 * Builds the request JSON from an llm_request, reads a non-streamed response
 * into an llm_response, and turns an error (an HTTP status with its body, or
 * an `error` object inside a 200 or a stream) into an ERR_* code and a
 * sentence a sales rep can act on. No I/O: openai.c moves the bytes, and the
 * tests check every shape without a server (EXTERNAL_APIS.md §1.2–1.5). */
#ifndef HARDE_LLM_OPENAI_WIRE_H
#define HARDE_LLM_OPENAI_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "llm/model.h"

/* The request body for req as a new JSON object: model, messages (a leading
 * system message from req->instructions), tools, tool_choice, temperature,
 * max_completion_tokens, and stream + stream_options when req->stream. */
json_t *openai_wire_request(const struct llm_request *req);

/* Fills *out (zeroed by the caller; strings new) from a response body.
 * 0, or ERR_MODEL (not JSON, no choices, a tool call without a name) or the
 * mapped code of an `error` object, with a sentence in err. */
int openai_wire_parse_response(const char *body, size_t len, const char *model,
                               struct llm_response *out, char *err, size_t errlen);
/* The same from parsed JSON (borrowed). */
int openai_wire_response_from_json(const json_t *root, const char *model, struct llm_response *out,
                                   char *err, size_t errlen);

/* Maps an `error` value ({"message","type","code"}, borrowed) that came with
 * HTTP status (0: inside a 200 body or a stream) to ERR_AUTH, ERR_MODEL,
 * ERR_RATE_LIMIT or ERR_HTTP, writing a sentence into err. model names the
 * requested model in messages (may be NULL). */
int openai_wire_error(const json_t *error, long status, const char *model, char *err,
                      size_t errlen);
/* The same for a non-2xx HTTP answer whose body may or may not be JSON. */
int openai_wire_http_error(long status, const char *body, size_t len, const char *model, char *err,
                           size_t errlen);
/* True when a body says the account is out of credit (insufficient_quota):
 * such a 429 is not worth retrying. */
bool openai_wire_is_quota_error(const char *body, size_t len);

/* A new id for a tool call the server sent without one ("call_h…_index"),
 * unique enough to match its result within a conversation. */
char *openai_wire_call_id(size_t index);

/* A new JSON string of s; invalid UTF-8 is replaced by U+FFFD so no text is
 * ever dropped from a request. */
json_t *openai_wire_string(const char *s);

#endif
