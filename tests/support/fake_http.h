/* fake_http — a tiny scripted HTTP/1.1 server for unit tests.
 *
 * Listens on 127.0.0.1 on a port the kernel picks, in one thread of the test
 * process, and answers each request with the next reply of a script (the
 * last reply repeats once the script is used up). Replies can be delayed,
 * withheld (the server holds the connection open until the client gives up),
 * dropped (the connection closes with no answer), or sent in pieces with
 * pauses between them (a close-delimited body, as an SSE stream). Every
 * request is recorded so tests can check what the client sent and how many
 * attempts it made. fake_http_stop joins the thread and closes every socket. */
#ifndef HARDE_TESTS_FAKE_HTTP_H
#define HARDE_TESTS_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct fake_http_reply {
    int status;                /* 0: never answer; hold the connection until the client leaves */
    const char *headers;       /* extra header lines, each ending "\r\n"; may be NULL */
    const char *body;          /* may be NULL */
    int delay_ms;              /* pause before answering */
    const char *const *chunks; /* NULL-terminated body pieces sent apart, then close */
    int chunk_delay_ms;        /* pause between pieces */
    bool drop;                 /* close the connection without answering */
};

struct fake_http;

/* Starts a server with a copy of the script's array (the strings it points
 * to are borrowed and must outlive the server). New; NULL if the socket or
 * thread could not be made. */
struct fake_http *fake_http_start(const struct fake_http_reply *script, size_t n);
int fake_http_port(const struct fake_http *server);
/* "http://127.0.0.1:PORT" + path, new. */
char *fake_http_url(const struct fake_http *server, const char *path);
/* Requests received so far. */
size_t fake_http_count(struct fake_http *server);
/* Connections accepted so far (to see keep-alive at work). */
size_t fake_http_connections(struct fake_http *server);
/* The raw text (head and body) of request i, new, or NULL. */
char *fake_http_request(struct fake_http *server, size_t i);
/* Stops the thread, closes every socket, frees the server. */
void fake_http_stop(struct fake_http *server);

#endif
