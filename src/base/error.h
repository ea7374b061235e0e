/* error — Hard-E's error codes, declared once as a table (libuv's habit).
 *
 * Fallible functions return 0 on success or a negative ERR_* code; a person
 * reads err_message(code). Where more detail helps (which field, which
 * server said what), functions also fill a caller's message buffer. */
#ifndef HARDE_BASE_ERROR_H
#define HARDE_BASE_ERROR_H

#define ERR_TABLE(X)                                                                               \
    X(INVALID, -1, "invalid argument")                                                             \
    X(LIMIT, -2, "size limit exceeded")                                                            \
    X(IO, -3, "input/output error")                                                                \
    X(PARSE, -4, "malformed input")                                                                \
    X(NOT_FOUND, -5, "not found")                                                                  \
    X(TIMEOUT, -6, "timed out")                                                                    \
    X(CANCELED, -7, "canceled")                                                                    \
    X(NETWORK, -8, "network error")                                                                \
    X(HTTP, -9, "the server returned an error")                                                    \
    X(AUTH, -10, "authentication failed")                                                          \
    X(CONFIG, -11, "configuration error")                                                          \
    X(MODEL, -12, "model error")                                                                   \
    X(RATE_LIMIT, -13, "rate limited")                                                             \
    X(MAX_TURNS, -14, "the run exceeded its maximum number of turns")                              \
    X(GUARDRAIL, -15, "a guardrail stopped the run")                                               \
    X(TOOL, -16, "a tool failed")                                                                  \
    X(CONFLICT, -17, "changed or held by someone else")                                            \
    X(EXISTS, -18, "already exists")

enum {
#define ERR_ENUM(name, code, text) ERR_##name = code,
    ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
};

/* A static description of code ("unknown error" for codes not in the table). */
const char *err_message(int code);
/* The code's short name, e.g. "TIMEOUT" (static). */
const char *err_name(int code);

#endif
