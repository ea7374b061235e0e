/* fake_http — scripted HTTP/1.1 server thread for unit tests. See fake_http.h.
 *
 * One thread serves one connection at a time (keep-alive supported), which
 * is all a single-threaded client under test needs. Every wait is a poll of
 * at most 20 ms followed by a look at the stop flag, so fake_http_stop
 * returns promptly whatever the script is doing. Sends use MSG_NOSIGNAL so a
 * client that left does not kill the test with SIGPIPE. */
#define _POSIX_C_SOURCE 200809L
#include "fake_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

#define FAKE_HTTP_MAX_REQUESTS 256
#define FAKE_HTTP_MAX_REQUEST  (4u << 20)
#define FAKE_HTTP_TICK_MS      20

struct fake_http {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    struct fake_http_reply *script;
    size_t n_script;
    pthread_mutex_t lock; /* guards requests */
    char *requests[FAKE_HTTP_MAX_REQUESTS];
    size_t n_requests;
    size_t n_connections;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for fd to become readable: 1 readable, 0 not yet, -1 stop. */
static int wait_readable(struct fake_http *f, int fd, int ms)
{
    long end = now_ms() + ms;
    for (;;) {
        if (atomic_load(&f->stop))
            return -1;
        long left = end - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, left < FAKE_HTTP_TICK_MS ? (int)left : FAKE_HTTP_TICK_MS);
        if (n > 0)
            return 1;
    }
}

/* Sleeps ms, or less when stopping; false when stopping. */
static bool pause_ms(struct fake_http *f, int ms)
{
    long end = now_ms() + ms;
    while (now_ms() < end) {
        if (atomic_load(&f->stop))
            return false;
        struct timespec ts = {0, FAKE_HTTP_TICK_MS * 1000000L / 4};
        nanosleep(&ts, NULL);
    }
    return !atomic_load(&f->stop);
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static size_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/* Reads one request into req; false when the client left or we stop. */
static bool read_request(struct fake_http *f, int fd, struct buf *req)
{
    buf_reset(req);
    size_t need = 0;
    const char *end = NULL;
    for (;;) {
        if (!end && req->data && (end = strstr(req->data, "\r\n\r\n")) != NULL)
            need = (size_t)(end - req->data) + 4 + content_length(req->data);
        if (end && req->len >= need)
            return true;
        if (wait_readable(f, fd, 60000) != 1)
            return false;
        char chunk[16384];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0 || buf_append(req, chunk, (size_t)n))
            return false;
    }
}

static void record(struct fake_http *f, const struct buf *req)
{
    pthread_mutex_lock(&f->lock);
    if (f->n_requests < FAKE_HTTP_MAX_REQUESTS)
        f->requests[f->n_requests] = xstrdup(buf_str(req));
    f->n_requests++;
    pthread_mutex_unlock(&f->lock);
}

/* Holds the connection until the client closes it or we stop. */
static void hold(struct fake_http *f, int fd)
{
    char sink[4096];
    while (wait_readable(f, fd, 1000) >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0 && recv(fd, sink, sizeof sink, 0) <= 0)
            return;
    }
}

/* Answers one request; false when the connection must close. */
static bool answer(struct fake_http *f, int fd, const struct fake_http_reply *r)
{
    if (r->delay_ms && !pause_ms(f, r->delay_ms))
        return false;
    if (r->drop)
        return false;
    if (r->status == 0) {
        hold(f, fd);
        return false;
    }
    struct buf out;
    buf_init(&out, 0);
    const char *body = r->body ? r->body : "";
    buf_printf(&out, "HTTP/1.1 %d Scripted\r\n%s", r->status, r->headers ? r->headers : "");
    if (r->chunks)
        buf_append_str(&out, "Connection: close\r\n\r\n");
    else
        buf_printf(&out, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    send_all(fd, out.data, out.len);
    buf_free(&out);
    if (!r->chunks)
        return true;
    for (const char *const *c = r->chunks; *c; c++) {
        if (c != r->chunks && r->chunk_delay_ms && !pause_ms(f, r->chunk_delay_ms))
            return false;
        send_all(fd, *c, strlen(*c));
    }
    return false;
}

static void serve_connection(struct fake_http *f, int fd)
{
    struct buf req;
    buf_init(&req, FAKE_HTTP_MAX_REQUEST);
    while (read_request(f, fd, &req)) {
        pthread_mutex_lock(&f->lock);
        size_t i = f->n_requests;
        pthread_mutex_unlock(&f->lock);
        record(f, &req);
        const struct fake_http_reply *r = &f->script[i < f->n_script ? i : f->n_script - 1];
        if (!answer(f, fd, r))
            break;
    }
    buf_free(&req);
    close(fd);
}

static void *serve(void *arg)
{
    struct fake_http *f = arg;
    while (wait_readable(f, f->listen_fd, 1000) >= 0) {
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&f->lock);
        f->n_connections++;
        pthread_mutex_unlock(&f->lock);
        serve_connection(f, fd);
    }
    return NULL;
}

struct fake_http *fake_http_start(const struct fake_http_reply *script, size_t n)
{
    if (n == 0)
        return NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        close(fd);
        return NULL;
    }
    struct fake_http *f = xcalloc(1, sizeof *f);
    f->listen_fd = fd;
    f->port = ntohs(addr.sin_port);
    f->script = xcalloc(n, sizeof *f->script);
    memcpy(f->script, script, n * sizeof *script);
    f->n_script = n;
    atomic_init(&f->stop, 0);
    pthread_mutex_init(&f->lock, NULL);
    if (pthread_create(&f->thread, NULL, serve, f) != 0) {
        close(fd);
        pthread_mutex_destroy(&f->lock);
        free(f->script);
        free(f);
        return NULL;
    }
    return f;
}

int fake_http_port(const struct fake_http *f)
{
    return f->port;
}

char *fake_http_url(const struct fake_http *f, const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", f->port, path ? path : "");
}

size_t fake_http_count(struct fake_http *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->n_requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fake_http_connections(struct fake_http *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->n_connections;
    pthread_mutex_unlock(&f->lock);
    return n;
}

char *fake_http_request(struct fake_http *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    char *r = i < f->n_requests && i < FAKE_HTTP_MAX_REQUESTS ? xstrdup(f->requests[i]) : NULL;
    pthread_mutex_unlock(&f->lock);
    return r;
}

void fake_http_stop(struct fake_http *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    for (size_t i = 0; i < f->n_requests && i < FAKE_HTTP_MAX_REQUESTS; i++)
        free(f->requests[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->script);
    free(f);
}
