/* bench_startup — time from exec of `harde ask` to its first model request.
 *
 * The bench listens on 127.0.0.1 (a port chosen by the kernel), points
 * OPENAI_BASE_URL at itself, starts `harde ask` and stops the clock when the
 * request's first bytes arrive: that is the process's whole start-up (loading,
 * config, price book, agents, building the request). The child is then
 * stopped by its PID. Prints the median and the best of N runs.
 * Usage: bench_startup PATH/TO/harde [N] */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/clock.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t one_run(const char *harde, int listener)
{
    int64_t t0 = clock_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(harde, harde, "ask", "--no-stream", "price a roof", (char *)NULL);
        _exit(127);
    }
    struct pollfd pfd = {.fd = listener, .events = POLLIN};
    int64_t elapsed = -1;
    if (poll(&pfd, 1, 5000) == 1) {
        int conn = accept(listener, NULL, NULL);
        struct pollfd cfd = {.fd = conn, .events = POLLIN};
        char byte;
        if (conn >= 0 && poll(&cfd, 1, 5000) == 1 && recv(conn, &byte, 1, MSG_PEEK) == 1)
            elapsed = clock_now_ns() - t0;
        if (conn >= 0)
            close(conn);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return elapsed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_startup PATH/TO/harde [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 30;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("bench_startup: listen");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(addr.sin_port));
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("OPENAI_API_KEY", "sk-bench-startup", 1);
    setenv("HARDE_OPENAI_MAX_RETRIES", "0", 1);
    int64_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        t[i] = one_run(argv[1], listener);
        if (t[i] < 0) {
            fprintf(stderr, "bench_startup: harde made no request within 5 s\n");
            return 1;
        }
    }
    qsort(t, (size_t)n, sizeof *t, cmp_i64);
    printf("startup.exec_to_first_request_ms.median %.2f\n", (double)t[n / 2] / 1e6);
    printf("startup.exec_to_first_request_ms.best %.2f\n", (double)t[0] / 1e6);
    free(t);
    close(listener);
    return 0;
}
