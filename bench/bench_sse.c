/* bench_sse — N concurrent SSE streams against net/http_server.
 *
 * The server runs in a child process (so its memory can be measured alone)
 * with one route, GET /tokens, whose handler opens a stream and hands it to
 * a producer thread that emits one event every DELAY ms (a model's tokens),
 * EVENTS times, then "done". Each event carries the producer's clock at send
 * time and at stream open (CLOCK_MONOTONIC is shared between processes).
 *
 * The client side is one thread with an epoll loop over raw non-blocking
 * sockets (no curl, to keep the client light): it opens N connections spread
 * evenly over RAMP ms (all N are open at once after the ramp, since a stream
 * lasts EVENTS * DELAY ms), decodes the chunked body, parses events with
 * net/sse.h, and measures:
 *   first_event_added  time from connect() to the first event, minus the
 *                      producer's own wait before sending it (the server's
 *                      added latency: accept, parse, route, write, wake-up);
 *   delivery           producer's send → client's receive, for every event;
 *   errors             streams that failed or ended early;
 *   rss                the server process's resident memory, peak and idle.
 *
 * Prints `name value` lines. Usage: bench_sse REPO_ROOT
 * Environment: BENCH_SSE_STREAMS (default "100,1000"), BENCH_SSE_DELAY_MS
 * (20), BENCH_SSE_EVENTS (100), BENCH_SSE_RAMP_MS (1000). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_server.h"
#include "net/sse.h"

#define MS 1000000LL

struct settings {
    int delay_ms;
    int events;
    int ramp_ms;
};

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : fallback;
}

/* ======================= the server (child process) ======================== */

struct token_stream {
    struct http_stream *stream;
    int64_t open_ns;
    int64_t next_ns;
    int sent;
};

struct producer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct token_stream **heap; /* min-heap on next_ns */
    size_t n, cap;
    bool quit;
    struct settings set;
};

static bool heap_less(const struct token_stream *a, const struct token_stream *b)
{
    return a->next_ns < b->next_ns;
}

static void heap_push(struct producer *p, struct token_stream *t)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->heap = xrealloc(p->heap, p->cap * sizeof *p->heap);
    }
    size_t i = p->n++;
    p->heap[i] = t;
    while (i && heap_less(p->heap[i], p->heap[(i - 1) / 2])) {
        struct token_stream *tmp = p->heap[i];
        p->heap[i] = p->heap[(i - 1) / 2];
        p->heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct token_stream *heap_pop(struct producer *p)
{
    struct token_stream *top = p->heap[0];
    p->heap[0] = p->heap[--p->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->n && heap_less(p->heap[l], p->heap[m]))
            m = l;
        if (r < p->n && heap_less(p->heap[r], p->heap[m]))
            m = r;
        if (m == i)
            break;
        struct token_stream *tmp = p->heap[i];
        p->heap[i] = p->heap[m];
        p->heap[m] = tmp;
        i = m;
    }
    return top;
}

/* Sends one token; returns false when the stream is finished. */
static bool emit(struct producer *p, struct token_stream *t)
{
    char data[96];
    if (t->sent == p->set.events) {
        http_stream_send(t->stream, "done", NULL, "", 0);
        return false;
    }
    snprintf(data, sizeof data, "%lld %lld %d", (long long)clock_now_ns(), (long long)t->open_ns,
             t->sent);
    if (http_stream_send(t->stream, "delta", NULL, data, strlen(data)) != 0)
        return false;
    t->sent++;
    t->next_ns += (int64_t)p->set.delay_ms * MS;
    return true;
}

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->quit) {
        if (!p->n) {
            pthread_cond_wait(&p->wake, &p->lock);
            continue;
        }
        int64_t now = clock_now_ns();
        if (p->heap[0]->next_ns > now) {
            int64_t at = p->heap[0]->next_ns;
            struct timespec ts = {.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000};
            pthread_cond_timedwait(&p->wake, &p->lock, &ts);
            continue;
        }
        struct token_stream *t = heap_pop(p);
        pthread_mutex_unlock(&p->lock);
        bool more = emit(p, t);
        pthread_mutex_lock(&p->lock);
        if (more) {
            heap_push(p, t);
        } else {
            http_stream_close(t->stream);
            free(t);
        }
    }
    while (p->n) {
        struct token_stream *t = heap_pop(p);
        http_stream_close(t->stream);
        free(t);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void tokens_handler(struct http_req *req, void *user)
{
    struct producer *p = user;
    struct token_stream *t = xcalloc(1, sizeof *t);
    t->stream = http_stream_open(req, NULL);
    t->open_ns = clock_now_ns();
    t->next_ns = t->open_ns + (int64_t)p->set.delay_ms * MS;
    pthread_mutex_lock(&p->lock);
    heap_push(p, t);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* The child: serves until the control pipe closes. Writes its port to port_fd. */
static int server_main(const struct settings *set, int streams, int port_fd, int control_fd)
{
    log_set_level(LOG_WARN);
    struct producer p = {.set = *set};
    pthread_mutex_init(&p.lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p.wake, &attr);
    pthread_t thread;
    pthread_create(&thread, NULL, producer_main, &p);

    struct http_server_config cfg = {.max_connections = (unsigned)streams + 64};
    struct http_server *server = http_server_new(&cfg);
    char err[256];
    if (http_server_route(server, "GET", "/tokens", tokens_handler, &p, err, sizeof err) ||
        http_server_start(server, err, sizeof err)) {
        fprintf(stderr, "bench_sse: server: %s\n", err);
        return 1;
    }
    int port = http_server_port(server);
    if (write(port_fd, &port, sizeof port) != sizeof port)
        return 1;
    close(port_fd);
    char byte;
    while (read(control_fd, &byte, 1) > 0 || errno == EINTR)
        ;
    http_server_stop(server);
    pthread_mutex_lock(&p.lock);
    p.quit = true;
    pthread_cond_signal(&p.wake);
    pthread_mutex_unlock(&p.lock);
    pthread_join(thread, NULL);
    http_server_free(server);
    free(p.heap);
    return 0;
}

/* ======================= the clients (parent process) ======================= */

enum phase { CONNECTING, HEADERS, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, FINISHED };

struct client {
    int fd;
    enum phase phase;
    char head[1024]; /* response headers, then the current chunk-size line */
    size_t head_len;
    size_t chunk_left;
    struct sse_parser parser;
    int64_t start_ns;
    int events;
    bool done_event;
    bool ended; /* the terminating chunk arrived */
    bool failed;
    struct run *run;
};

struct run {
    struct settings set;
    int64_t *first_added;
    size_t nfirst;
    int64_t *delivery;
    size_t ndelivery, delivery_cap;
    int errors;
    int open_now, open_max;
};

static int on_event(const struct sse_event *ev, void *user)
{
    struct client *c = user;
    struct run *r = c->run;
    int64_t now = clock_now_ns();
    if (!strcmp(ev->event, "done")) {
        c->done_event = true;
        return 0;
    }
    long long sent_ns, open_ns;
    int k;
    if (sscanf(ev->data, "%lld %lld %d", &sent_ns, &open_ns, &k) != 3 || k != c->events)
        return -1;
    if (c->events == 0)
        r->first_added[r->nfirst++] = (now - c->start_ns) - (sent_ns - open_ns);
    if (r->ndelivery == r->delivery_cap) {
        r->delivery_cap = r->delivery_cap ? r->delivery_cap * 2 : 4096;
        r->delivery = xrealloc(r->delivery, r->delivery_cap * sizeof *r->delivery);
    }
    r->delivery[r->ndelivery++] = now - sent_ns;
    c->events++;
    return 0;
}

static void client_close(struct client *c, bool failed)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        c->run->open_now--;
    }
    if (c->phase != FINISHED) {
        c->failed = failed || !c->done_event || c->events != c->run->set.events;
        if (c->failed)
            c->run->errors++;
    }
    c->phase = FINISHED;
    sse_parser_free(&c->parser);
}

static bool client_connect(struct client *c, int ep, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return false;
    c->run->open_now++;
    if (c->run->open_now > c->run->open_max)
        c->run->open_max = c->run->open_now;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->start_ns = clock_now_ns();
    c->phase = CONNECTING;
    sse_parser_init(&c->parser, 4096, 4096, on_event, c);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        return false;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
}

/* Feeds body bytes through the chunked decoder into the SSE parser. */
static bool client_body(struct client *c, const char *p, size_t n)
{
    while (n && !c->ended) {
        if (c->phase == CHUNK_SIZE) {
            if (c->head_len == sizeof c->head - 1)
                return false;
            c->head[c->head_len++] = *p++, n--;
            if (c->head_len >= 2 && c->head[c->head_len - 1] == '\n') {
                c->head[c->head_len] = '\0';
                c->chunk_left = strtoul(c->head, NULL, 16);
                c->head_len = 0;
                if (c->chunk_left == 0) {
                    c->ended = true; /* the response is complete; trailers are not read */
                    return true;
                }
                c->phase = CHUNK_DATA;
            }
        } else if (c->phase == CHUNK_DATA) {
            size_t take = n < c->chunk_left ? n : c->chunk_left;
            if (sse_parser_feed(&c->parser, p, take, NULL, 0) != 0)
                return false;
            p += take, n -= take, c->chunk_left -= take;
            if (!c->chunk_left)
                c->phase = CHUNK_CRLF, c->chunk_left = 2;
        } else { /* CHUNK_CRLF */
            p++, n--;
            if (--c->chunk_left == 0)
                c->phase = CHUNK_SIZE;
        }
    }
    return true;
}

static bool client_headers(struct client *c, const char **p, size_t *n)
{
    while (*n && c->phase == HEADERS) {
        if (c->head_len == sizeof c->head - 1)
            return false;
        c->head[c->head_len++] = **p;
        (*p)++, (*n)--;
        if (c->head_len >= 4 && !memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4)) {
            c->head[c->head_len] = '\0';
            if (strncmp(c->head, "HTTP/1.1 200", 12) != 0 || !strstr(c->head, "chunked"))
                return false;
            c->head_len = 0;
            c->phase = CHUNK_SIZE;
        }
    }
    return true;
}

/* Handles readiness; returns false when the client is finished. */
static bool client_ready(struct client *c, uint32_t events)
{
    if (c->phase == CONNECTING) {
        if (!(events & EPOLLOUT))
            return true;
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        static const char req[] = "GET /tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Accept: text/event-stream\r\n\r\n";
        if (soerr || send(c->fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
            return false;
        c->phase = HEADERS;
        return true;
    }
    char buf[16384];
    for (;;) {
        ssize_t got = recv(c->fd, buf, sizeof buf, 0);
        if (got < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (got == 0)
            return false;
        const char *p = buf;
        size_t n = (size_t)got;
        if (!client_headers(c, &p, &n))
            return false;
        if (n && !client_body(c, p, n))
            return false;
        if (c->ended)
            return false; /* the server ended the response: close our side */
    }
}

static long proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t flen = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, flen) && line[flen] == ':')
            kb = atol(line + flen + 1);
    if (f)
        fclose(f);
    return kb;
}

static double proc_cpu_s(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');
    unsigned long utime = 0, stime = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(int64_t *v, size_t n, double pct)
{
    if (!n)
        return -1;
    size_t i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

/* The client loop for N streams against port; samples the server's RSS. */
static void run_clients(struct run *r, int n, int port, pid_t server, long *rss_peak_kb)
{
    int ep = epoll_create1(0);
    struct client *clients = xcalloc((size_t)n, sizeof *clients);
    int started = 0, finished = 0;
    int64_t t0 = clock_now_ns();
    int64_t deadline =
        t0 +
        ((int64_t)r->set.ramp_ms + (int64_t)r->set.delay_ms * (r->set.events + 1) + 15000) * MS;
    int64_t next_sample = 0;
    struct epoll_event events[256];
    while (finished < n && clock_now_ns() < deadline) {
        int64_t now = clock_now_ns();
        while (started < n && now >= t0 + (int64_t)r->set.ramp_ms * MS * started / n) {
            struct client *c = &clients[started++];
            c->fd = -1;
            c->run = r;
            if (!client_connect(c, ep, port)) {
                client_close(c, true);
                finished++;
            }
        }
        if (now >= next_sample) {
            long kb = proc_status_kb(server, "VmRSS");
            if (kb > *rss_peak_kb)
                *rss_peak_kb = kb;
            next_sample = now + 20 * MS;
        }
        int got = epoll_wait(ep, events, 256, 1);
        for (int i = 0; i < got; i++) {
            struct client *c = events[i].data.ptr;
            if (c->phase == FINISHED)
                continue;
            bool connecting = c->phase == CONNECTING;
            if (!client_ready(c, events[i].events)) {
                client_close(c, false);
                finished++;
            } else if (connecting && c->phase != CONNECTING) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev); /* no more write interest */
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (i >= started || clients[i].phase != FINISHED) {
            if (i < started)
                client_close(&clients[i], true);
            else
                r->errors++;
        }
    free(clients);
    close(ep);
}

static void bench_streams(const struct settings *set, int n)
{
    int port_pipe[2], control_pipe[2];
    if (pipe(port_pipe) || pipe(control_pipe)) {
        perror("pipe");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(port_pipe[0]);
        close(control_pipe[1]);
        _exit(server_main(set, n, port_pipe[1], control_pipe[0]));
    }
    close(port_pipe[1]);
    close(control_pipe[0]);
    int port = 0;
    if (read(port_pipe[0], &port, sizeof port) != sizeof port || port <= 0) {
        fprintf(stderr, "bench_sse: the server did not start\n");
        close(control_pipe[1]);
        waitpid(pid, NULL, 0);
        return;
    }
    close(port_pipe[0]);
    clock_sleep_ms(100, NULL);
    long rss_idle = proc_status_kb(pid, "VmRSS"), rss_peak = rss_idle;
    double cpu0 = proc_cpu_s(pid);
    int64_t t0 = clock_now_ns();

    struct run r = {.set = *set};
    r.first_added = xcalloc((size_t)n, sizeof *r.first_added);
    run_clients(&r, n, port, pid, &rss_peak);
    double wall = (double)(clock_now_ns() - t0) / 1e9;
    double cpu = proc_cpu_s(pid) - cpu0;
    long hwm = proc_status_kb(pid, "VmHWM");
    close(control_pipe[1]);
    waitpid(pid, NULL, 0);

    qsort(r.first_added, r.nfirst, sizeof *r.first_added, cmp_i64);
    qsort(r.delivery, r.ndelivery, sizeof *r.delivery, cmp_i64);
    printf("sse_%d_streams_concurrent_max %d\n", n, r.open_max);
    printf("sse_%d_first_event_added_p50_us %.1f\n", n, pct_us(r.first_added, r.nfirst, 50));
    printf("sse_%d_first_event_added_p99_us %.1f\n", n, pct_us(r.first_added, r.nfirst, 99));
    printf("sse_%d_event_delivery_p50_us %.1f\n", n, pct_us(r.delivery, r.ndelivery, 50));
    printf("sse_%d_event_delivery_p99_us %.1f\n", n, pct_us(r.delivery, r.ndelivery, 99));
    printf("sse_%d_events_received %zu\n", n, r.ndelivery);
    printf("sse_%d_errors %d\n", n, r.errors);
    printf("sse_%d_server_rss_idle_mb %.1f\n", n, (double)rss_idle / 1024.0);
    printf("sse_%d_server_rss_peak_mb %.1f\n", n,
           (double)(hwm > rss_peak ? hwm : rss_peak) / 1024.0);
    printf("sse_%d_server_rss_per_stream_kb %.1f\n", n, (double)(rss_peak - rss_idle) / n);
    printf("sse_%d_server_cpu_pct %.1f\n", n, 100.0 * cpu / wall);
    fflush(stdout);
    free(r.first_added);
    free(r.delivery);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv; /* argv[1] is the repository root; nothing is read from it */
    signal(SIGPIPE, SIG_IGN);
    struct settings set = {.delay_ms = env_int("BENCH_SSE_DELAY_MS", 20),
                           .events = env_int("BENCH_SSE_EVENTS", 100),
                           .ramp_ms = env_int("BENCH_SSE_RAMP_MS", 1000)};
    const char *list = getenv("BENCH_SSE_STREAMS");
    if (!list || !*list)
        list = "100,1000";
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    printf("# %d ms per token, %d tokens per stream, streams opened over %d ms; "
           "server: 2 event threads + 1 producer thread, in a child process\n",
           set.delay_ms, set.events, set.ramp_ms);
    for (const char *p = list; *p;) {
        int n = atoi(p);
        if (n > 0) {
            if ((rlim_t)n + 64 > rl.rlim_cur) {
                printf("# %d streams skipped: open-file limit %ld\n", n, (long)rl.rlim_cur);
            } else {
                bench_streams(&set, n);
            }
        }
        p += strcspn(p, ",");
        if (*p)
            p++;
    }
    return 0;
}
