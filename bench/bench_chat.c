/* bench_chat — N concurrent streamed chats against `harde serve`, with the
 * fake OpenAI server (tests/fakes/fake_openai.py) as the model.
 *
 * What it measures, for each flow ("agent": a greeting answered by Triage in
 * one streamed model call; "fast": a sales question answered from the
 * playbook in one streamed model call) and each N (default 100 and 1,000):
 *   model_ttft      time to the first content token of N concurrent
 *                   streaming requests sent straight to the fake: the model's
 *                   own latency at that concurrency (the baseline);
 *   chat_ttft       time to the first `delta` event of N concurrent
 *                   POST /v1/sessions/{id}/messages (Accept: text/event-stream)
 *                   through harde serve, each in its own session;
 *   added           chat_ttft minus model_ttft, at p50 and at p99: what Hard-E
 *                   adds (HTTP, auth, session load, routing, retrieval, the
 *                   model request, the SSE relay);
 *   errors          chats without a `final` event (or not 200);
 *   rss             the server process's resident memory, idle and peak;
 *   cpu             the server's CPU time (user + system) per chat.
 *
 * The server runs in a child process (fork, then web_server_open/start as
 * `harde serve` does) so its memory is measured alone; the fake is a second
 * child (python3). The client is one thread with an epoll loop over raw
 * non-blocking sockets, opening the N connections evenly over RAMP ms.
 * Sessions, the bench user and its bearer token are written to the store
 * before the server starts.
 *
 * The baseline replays the very request body Hard-E sends the model (captured
 * once per flow from a logging fake), so the fake does the same work in both
 * measurements and only Hard-E's part differs.
 *
 * Prints `name value` lines. Usage: bench_chat REPO_ROOT
 * Environment: BENCH_CHAT_STREAMS ("100,1000"), BENCH_CHAT_FLOWS ("agent,fast"),
 * BENCH_CHAT_TOKEN_MS (100: the fake's delay between tokens), BENCH_CHAT_TOKENS
 * (20: tokens per answer, so a stream lasts 2 s and all N are open at once
 * after the ramp), BENCH_CHAT_RAMP_MS (1000). Faster tokens at 1,000 streams
 * saturate the Python fake before anything else on a 2-core machine. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "harde/session.h"
#include "net/sse.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/web.h"

#define MS      1000000LL
#define API_KEY "sk-bench-chat-0123456789"

static const char *const QUESTIONS[] = {
    "hello there",                                     /* agent: Triage answers */
    "what do I say when they want to think about it?", /* fast: the playbook */
};

struct settings {
    int token_ms, tokens, ramp_ms;
    const char *root;
    char dir[64];
    char token[WEB_TOKEN_MAX];
};

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : fallback;
}

/* ============================ the clients ================================ */

enum phase { CONNECTING, HEADERS, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, FINISHED };

struct client {
    int fd;
    enum phase phase;
    char *request;
    size_t request_len, sent;
    char head[2048];
    size_t head_len;
    size_t chunk_left;
    struct sse_parser parser;
    bool to_fake; /* the baseline: OpenAI chunks, not Hard-E events */
    int64_t start_ns, first_ns;
    bool done; /* final / [DONE] seen */
    bool failed;
};

struct run {
    struct client *clients;
    int n, open_now, open_max, errors;
};

static int on_event(const struct sse_event *ev, void *user)
{
    struct client *c = user;
    if (c->to_fake) {
        if (!strcmp(ev->data, "[DONE]"))
            c->done = true;
        else if (!c->first_ns && strstr(ev->data, "\"content\":\"") &&
                 !strstr(ev->data, "\"content\":\"\""))
            c->first_ns = clock_now_ns();
        return 0;
    }
    if (!strcmp(ev->event, "delta") && !c->first_ns)
        c->first_ns = clock_now_ns();
    else if (!strcmp(ev->event, "final"))
        c->done = true;
    else if (!strcmp(ev->event, "error"))
        c->failed = true;
    return 0;
}

static void client_close(struct run *r, struct client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        r->open_now--;
    }
    if (c->phase != FINISHED && (c->failed || !c->done || !c->first_ns))
        r->errors++;
    c->phase = FINISHED;
    sse_parser_free(&c->parser);
}

static bool client_connect(struct run *r, struct client *c, int ep, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return false;
    if (++r->open_now > r->open_max)
        r->open_max = r->open_now;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->start_ns = clock_now_ns();
    c->phase = CONNECTING;
    sse_parser_init(&c->parser, 1 << 20, 1 << 20, on_event, c);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        return false;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
}

static bool client_body(struct client *c, const char *p, size_t n)
{
    while (n && c->phase != FINISHED) {
        if (c->phase == CHUNK_SIZE) {
            if (c->head_len == sizeof c->head - 1)
                return false;
            c->head[c->head_len++] = *p++, n--;
            if (c->head_len >= 2 && c->head[c->head_len - 1] == '\n') {
                c->head[c->head_len] = '\0';
                c->chunk_left = strtoul(c->head, NULL, 16);
                c->head_len = 0;
                if (c->chunk_left == 0)
                    return false; /* the response is complete */
                c->phase = CHUNK_DATA;
            }
        } else if (c->phase == CHUNK_DATA) {
            size_t take = n < c->chunk_left ? n : c->chunk_left;
            if (sse_parser_feed(&c->parser, p, take, NULL, 0) != 0)
                return false;
            p += take, n -= take, c->chunk_left -= take;
            if (!c->chunk_left)
                c->phase = CHUNK_CRLF, c->chunk_left = 2;
        } else {
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
            if (strncmp(c->head, "HTTP/1.1 200", 12) != 0 || !strstr(c->head, "chunked")) {
                c->failed = true;
                return false;
            }
            c->head_len = 0;
            c->phase = CHUNK_SIZE;
        }
    }
    return true;
}

static bool client_ready(struct client *c, uint32_t events)
{
    if (c->phase == CONNECTING) {
        if (!(events & EPOLLOUT))
            return true;
        while (c->sent < c->request_len) {
            ssize_t n = send(c->fd, c->request + c->sent, c->request_len - c->sent, MSG_NOSIGNAL);
            if (n < 0)
                return errno == EAGAIN;
            c->sent += (size_t)n;
        }
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
        if (!client_headers(c, &p, &n) || (n && !client_body(c, p, n)))
            return false;
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

/* CPU seconds (user + system) pid has used so far. */
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

/* Runs the clients (requests already set) to the end; samples pid's RSS. */
static void run_clients(struct run *r, int port, int ramp_ms, int64_t limit_ms, pid_t pid,
                        long *rss_peak)
{
    int ep = epoll_create1(0);
    int started = 0, finished = 0, n = r->n;
    int64_t t0 = clock_now_ns(), next_sample = 0;
    struct epoll_event events[256];
    while (finished < n && clock_now_ns() < t0 + limit_ms * MS) {
        int64_t now = clock_now_ns();
        while (started < n && now >= t0 + (int64_t)ramp_ms * MS * started / n) {
            struct client *c = &r->clients[started++];
            if (!client_connect(r, c, ep, port)) {
                c->failed = true;
                client_close(r, c);
                finished++;
            }
        }
        if (pid > 0 && now >= next_sample) {
            long kb = proc_status_kb(pid, "VmRSS");
            if (kb > *rss_peak)
                *rss_peak = kb;
            next_sample = now + 20 * MS;
        }
        int got = epoll_wait(ep, events, 256, 1);
        for (int i = 0; i < got; i++) {
            struct client *c = events[i].data.ptr;
            if (c->phase == FINISHED)
                continue;
            bool connecting = c->phase == CONNECTING;
            if (!client_ready(c, events[i].events)) {
                client_close(r, c);
                finished++;
            } else if (connecting && c->phase != CONNECTING) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (r->clients[i].phase != FINISHED) {
            r->clients[i].failed = true;
            client_close(r, &r->clients[i]);
        }
    close(ep);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double pct)
{
    if (!n)
        return -1;
    size_t i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* Sorted times to first token of the clients that got one (new array). */
static int64_t *ttfts(const struct run *r, size_t *count)
{
    int64_t *v = xcalloc((size_t)r->n, sizeof *v);
    size_t k = 0;
    for (int i = 0; i < r->n; i++)
        if (r->clients[i].first_ns)
            v[k++] = r->clients[i].first_ns - r->clients[i].start_ns;
    qsort(v, k, sizeof *v, cmp_i64);
    *count = k;
    return v;
}

static void free_run(struct run *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->clients[i].request);
    free(r->clients);
}

/* ============================ the servers ================================ */

/* Starts a fake OpenAI server (script in the bench directory; log when
 * given); 0 with *port and *pid set. */
static int start_fake(const struct settings *s, const char *name, const char *log, int *port,
                      pid_t *pid)
{
    char script[256], portfile[256], content[4096] = "";
    snprintf(script, sizeof script, "%s/fake.json", s->dir);
    snprintf(portfile, sizeof portfile, "%s/%s.port", s->dir, name);
    remove(portfile);
    for (int i = 0; i < s->tokens; i++)
        strcat(content, "word ");
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fprintf(f,
            "[{\"content\": \"%s\", \"token_delay_ms\": %d, \"chunk_chars\": 5,"
            " \"usage\": {\"prompt_tokens\": 900, \"completion_tokens\": %d}}]\n",
            content, s->token_ms, s->tokens);
    fclose(f);
    char fake[512], parent[32];
    snprintf(fake, sizeof fake, "%s/tests/fakes/fake_openai.py", s->root);
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    *pid = fork();
    if (*pid == 0) {
        if (log)
            execlp("python3", "python3", fake, "--script", script, "--repeat", "--api-key", API_KEY,
                   "--port-file", portfile, "--parent-pid", parent, "--log", log, (char *)NULL);
        else
            execlp("python3", "python3", fake, "--script", script, "--repeat", "--api-key", API_KEY,
                   "--port-file", portfile, "--parent-pid", parent, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *pf = fopen(portfile, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", port) == 1;
            fclose(pf);
            if (ok && *port > 0)
                return 0;
        }
        clock_sleep_ms(50, NULL);
    }
    return -1;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* The bench user, its token and n sessions in the store (ids into ids). */
static int prepare_store(struct settings *s, int n, char (*ids)[SESSION_ID_MAX + 1])
{
    char path[256], err[512], hash[WEB_DIGEST_HEX + 1];
    snprintf(path, sizeof path, "%s/harde.sqlite", s->dir);
    struct store *st;
    if (store_open(path, NULL, &st, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chat: %s\n", err);
        return -1;
    }
    if (!s->token[0]) {
        struct store_user_spec u = {.name = "bench", .role = STORE_ROLE_REP, .password_hash = ""};
        store_user_create(st, &u);
        web_token_new(WEB_BEARER_PREFIX, s->token, sizeof s->token);
        web_digest_hex(s->token, hash);
        store_token_create(st, hash, "bench", "bench");
    }
    for (int i = 0; i < n; i++) {
        struct harde_session sess;
        session_init_new(&sess);
        sess.owner = xstrdup("bench");
        sess.title = xstrdup("bench");
        if (session_save(st, &sess, err, sizeof err) != 0) {
            fprintf(stderr, "bench_chat: %s\n", err);
            session_free(&sess);
            store_close(st);
            return -1;
        }
        snprintf(ids[i], sizeof ids[i], "%s", sess.id);
        session_free(&sess);
    }
    store_close(st);
    return 0;
}

/* The server child: serves until the control pipe closes. */
static int server_main(const struct settings *s, int fake_port, int n, int port_fd, int control_fd)
{
    char num[32], url[128];
    setenv("HARDE_DATA_DIR", s->dir, 1);
    setenv("OPENAI_API_KEY", API_KEY, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", fake_port);
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("HARDE_LOG_LEVEL", "error", 1);
    snprintf(num, sizeof num, "%d", n + 8);
    setenv("HARDE_WEB_WORKERS", num, 1);
    setenv("HARDE_WEB_QUEUE", num, 1);
    snprintf(num, sizeof num, "%d", 2 * n + 64);
    setenv("HARDE_WEB_API_QUEUE", num, 1);
    setenv("HARDE_WEB_RATE_PER_MINUTE", "10000000", 1);
    setenv("HARDE_WEB_RATE_BURST", "10000000", 1);
    setenv("HARDE_OPENAI_MAX_RETRIES", "0", 1);
    struct web_options opts = {.host = "127.0.0.1", .port = 0};
    struct web_server *ws;
    char err[1024];
    if (web_server_open(&opts, &ws, NULL, err, sizeof err) != 0 ||
        web_server_start(ws, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chat: server: %s\n", err);
        return 1;
    }
    int port = web_server_port(ws);
    if (write(port_fd, &port, sizeof port) != sizeof port)
        return 1;
    close(port_fd);
    char byte;
    while (read(control_fd, &byte, 1) > 0 || errno == EINTR)
        ;
    web_server_free(ws);
    return 0;
}

/* ============================ one measurement ============================ */

static void set_request(struct client *c, const char *text)
{
    c->request = xstrdup(text);
    c->request_len = strlen(text);
    c->fd = -1;
}

/* Forks the server child against the fake at fake_port; returns its port
 * (0 on failure) with *pid and *control (close it to stop the server). */
static int start_server(const struct settings *s, int fake_port, int n, pid_t *pid, int *control)
{
    int port_pipe[2], control_pipe[2];
    if (pipe(port_pipe) || pipe(control_pipe)) {
        perror("pipe");
        exit(1);
    }
    fflush(stdout);
    *pid = fork();
    if (*pid == 0) {
        close(port_pipe[0]);
        close(control_pipe[1]);
        _exit(server_main(s, fake_port, n, port_pipe[1], control_pipe[0]));
    }
    close(port_pipe[1]);
    close(control_pipe[0]);
    int port = 0;
    if (read(port_pipe[0], &port, sizeof port) != sizeof port || port <= 0)
        port = 0;
    close(port_pipe[0]);
    *control = control_pipe[1];
    return port;
}

static void stop_server(pid_t pid, int control)
{
    close(control);
    waitpid(pid, NULL, 0);
}

static char *chat_request(const char *session, const char *token, const char *question)
{
    char body[256];
    snprintf(body, sizeof body, "{\"text\":\"%s\"}", question);
    return xasprintf("POST /v1/sessions/%s/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     session, token, strlen(body), body);
}

/* The exact request body Hard-E sends the model for question (new), taken
 * from the request log of a fake it talked to once; NULL on failure. */
static char *capture_model_request(struct settings *s, const char *question)
{
    char log[256], id[1][SESSION_ID_MAX + 1];
    snprintf(log, sizeof log, "%s/capture.jsonl", s->dir);
    remove(log);
    int fake_port;
    pid_t fake_pid, pid;
    if (start_fake(s, "capture", log, &fake_port, &fake_pid) != 0 || prepare_store(s, 1, id) != 0)
        return NULL;
    int control, port = start_server(s, fake_port, 1, &pid, &control);
    if (port > 0) {
        struct run r = {.clients = xcalloc(1, sizeof(struct client)), .n = 1};
        char *req = chat_request(id[0], s->token, question);
        set_request(&r.clients[0], req);
        free(req);
        long unused = 0;
        run_clients(&r, port, 0, 60000, 0, &unused);
        free_run(&r);
        stop_server(pid, control);
    }
    stop_child(fake_pid);
    /* The last logged chat request. */
    FILE *f = fopen(log, "r");
    char *line = NULL, *body = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *entry = json_loads(line, 0, NULL);
        json_t *b = json_object_get(entry, "body");
        if (json_is_object(b)) {
            free(body);
            body = json_dumps(b, JSON_COMPACT);
        }
        json_decref(entry);
    }
    free(line);
    if (f)
        fclose(f);
    return body;
}

/* The model's own time to first token at concurrency n, for body. */
static void baseline(const struct settings *s, int fake_port, int n, const char *body,
                     int64_t **out, size_t *count, int *errors)
{
    struct run r = {.clients = xcalloc((size_t)n, sizeof(struct client)), .n = n};
    char *req = xasprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
                          API_KEY, strlen(body), body);
    for (int i = 0; i < n; i++) {
        set_request(&r.clients[i], req);
        r.clients[i].to_fake = true;
    }
    free(req);
    long unused = 0;
    run_clients(&r, fake_port, s->ramp_ms, 120000, 0, &unused);
    *out = ttfts(&r, count);
    *errors = r.errors;
    free_run(&r);
}

static void print_figures(const char *flow, int n, int64_t *base, size_t nbase, int base_errors,
                          int64_t *chat, size_t nchat, const struct run *r, long rss_idle,
                          long rss_peak, double cpu_s)
{
    double b50 = pct_ms(base, nbase, 50), b99 = pct_ms(base, nbase, 99);
    double c50 = pct_ms(chat, nchat, 50), c99 = pct_ms(chat, nchat, 99);
    printf("chat_%s_%d_model_ttft_p50_ms %.3f\n", flow, n, b50);
    printf("chat_%s_%d_model_ttft_p99_ms %.3f\n", flow, n, b99);
    printf("chat_%s_%d_ttft_p50_ms %.3f\n", flow, n, c50);
    printf("chat_%s_%d_ttft_p99_ms %.3f\n", flow, n, c99);
    printf("chat_%s_%d_added_p50_ms %.3f\n", flow, n, c50 - b50);
    printf("chat_%s_%d_added_p99_ms %.3f\n", flow, n, c99 - b99);
    printf("chat_%s_%d_streams_concurrent_max %d\n", flow, n, r->open_max);
    printf("chat_%s_%d_errors %d\n", flow, n, r->errors);
    printf("chat_%s_%d_model_errors %d\n", flow, n, base_errors);
    printf("chat_%s_%d_server_rss_idle_mb %.1f\n", flow, n, (double)rss_idle / 1024.0);
    printf("chat_%s_%d_server_rss_peak_mb %.1f\n", flow, n, (double)rss_peak / 1024.0);
    printf("chat_%s_%d_server_cpu_ms_per_chat %.3f\n", flow, n, cpu_s * 1000.0 / n);
    fflush(stdout);
}

static void bench_one(struct settings *s, const char *flow, const char *question,
                      const char *model_body, int n)
{
    char(*ids)[SESSION_ID_MAX + 1] = xcalloc((size_t)n, sizeof *ids);
    int fake_port;
    pid_t fake_pid, pid;
    if (prepare_store(s, n, ids) != 0 || start_fake(s, "fake", NULL, &fake_port, &fake_pid) != 0) {
        fprintf(stderr, "bench_chat: cannot prepare the run\n");
        exit(1);
    }
    int64_t *base;
    size_t nbase;
    int base_errors;
    baseline(s, fake_port, n, model_body, &base, &nbase, &base_errors);

    int control, port = start_server(s, fake_port, n, &pid, &control);
    if (port <= 0) {
        fprintf(stderr, "bench_chat: the server did not start\n");
        exit(1);
    }
    clock_sleep_ms(200, NULL);
    long rss_idle = proc_status_kb(pid, "VmRSS"), rss_peak = rss_idle;
    double cpu0 = proc_cpu_s(pid);
    struct run r = {.clients = xcalloc((size_t)n, sizeof(struct client)), .n = n};
    for (int i = 0; i < n; i++) {
        char *req = chat_request(ids[i], s->token, question);
        set_request(&r.clients[i], req);
        free(req);
    }
    run_clients(&r, port, s->ramp_ms, 120000, pid, &rss_peak);
    long hwm = proc_status_kb(pid, "VmHWM");
    double cpu = proc_cpu_s(pid) - cpu0;
    stop_server(pid, control);
    stop_child(fake_pid);

    size_t nchat;
    int64_t *chat = ttfts(&r, &nchat);
    print_figures(flow, n, base, nbase, base_errors, chat, nchat, &r, rss_idle,
                  hwm > rss_peak ? hwm : rss_peak, cpu);
    free(base);
    free(chat);
    free_run(&r);
    free(ids);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_chat REPO_ROOT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct settings s = {.token_ms = env_int("BENCH_CHAT_TOKEN_MS", 100),
                         .tokens = env_int("BENCH_CHAT_TOKENS", 20),
                         .ramp_ms = env_int("BENCH_CHAT_RAMP_MS", 1000),
                         .root = argv[1]};
    if (s.tokens > 500)
        s.tokens = 500;
    snprintf(s.dir, sizeof s.dir, "/tmp/harde-bench-chat-XXXXXX");
    if (!mkdtemp(s.dir) || web_auth_init() != 0)
        return 1;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    const char *streams = getenv("BENCH_CHAT_STREAMS");
    const char *flows = getenv("BENCH_CHAT_FLOWS");
    if (!streams || !*streams)
        streams = "100,1000";
    if (!flows || !*flows)
        flows = "agent,fast";
    printf("# fake model: %d ms between tokens, %d tokens; connections opened over %d ms; "
           "server in a child process; %ld cores\n",
           s.token_ms, s.tokens, s.ramp_ms, sysconf(_SC_NPROCESSORS_ONLN));
    for (int f = 0; f < 2; f++) {
        const char *flow = f == 0 ? "agent" : "fast";
        if (!strstr(flows, flow))
            continue;
        char *body = capture_model_request(&s, QUESTIONS[f]);
        if (!body) {
            printf("# %s: could not capture the model request; skipped\n", flow);
            continue;
        }
        for (const char *p = streams; *p;) {
            int n = atoi(p);
            if (n > 0 && (rlim_t)(4 * n + 256) > rl.rlim_cur)
                printf("# %d streams skipped: open-file limit %ld\n", n, (long)rl.rlim_cur);
            else if (n > 0)
                bench_one(&s, flow, QUESTIONS[f], body, n);
            p += strcspn(p, ",");
            if (*p)
                p++;
        }
        free(body);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_chat: could not remove %s\n", s.dir);
    return 0;
}
