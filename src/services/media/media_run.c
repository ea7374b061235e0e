/* media_run — runs one external program safely. See media.h.
 *
 * Owns, for the length of one call: the child process (spawned in its own
 * process group so a timeout kills ffmpeg's helpers too), two pipes (stderr,
 * and stdout when the caller collects it) and a fixed stderr tail.
 *
 * Design: fork + execve of a program found on PATH beforehand (no shell, no
 * allocation between fork and exec; an exec that still fails exits 127) with
 * stdin from /dev/null, signal mask and the usual terminating signals reset
 * to defaults, and PR_SET_PDEATHSIG so the child dies with its parent. The
 * parent polls the pipes in slices of at most 50 ms so the deadline and the
 * cancel flag are noticed promptly; after both pipes close it waits for the
 * exit status, still under the deadline. Only the last MEDIA_STDERR_TAIL
 * bytes of stderr are kept; a failure quotes its last MEDIA_ERROR_LINES
 * non-empty lines on one line. */
#define _GNU_SOURCE
#include "services/media/media.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"

extern char **environ;

#define MEDIA_POLL_SLICE_MS  50
#define MEDIA_READ_CHUNK     8192
#define MEDIA_ERROR_LINE_MAX 200 /* characters quoted of one stderr line */

struct media_tail {
    char data[MEDIA_STDERR_TAIL];
    size_t len;
};

static void media_tail_add(struct media_tail *t, const char *p, size_t n)
{
    if (n >= sizeof t->data) {
        memcpy(t->data, p + n - sizeof t->data, sizeof t->data);
        t->len = sizeof t->data;
        return;
    }
    if (t->len + n > sizeof t->data) {
        size_t drop = t->len + n - sizeof t->data;
        memmove(t->data, t->data + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->data + t->len, p, n);
    t->len += n;
}

/* The last MEDIA_ERROR_LINES non-empty lines of the tail, joined by " | ",
 * control characters replaced by spaces. */
static void media_tail_lines(const struct media_tail *t, char *out, size_t outlen)
{
    size_t end = t->len, starts[MEDIA_ERROR_LINES], ends[MEDIA_ERROR_LINES];
    int n = 0;
    while (end > 0 && n < MEDIA_ERROR_LINES) {
        while (end > 0 &&
               (t->data[end - 1] == '\n' || t->data[end - 1] == '\r' || t->data[end - 1] == ' '))
            end--;
        if (end == 0)
            break;
        size_t start = end;
        while (start > 0 && t->data[start - 1] != '\n' && t->data[start - 1] != '\r')
            start--;
        starts[n] = start;
        ends[n] = end;
        n++;
        end = start;
    }
    size_t w = 0;
    out[0] = '\0';
    for (int i = n - 1; i >= 0 && w + 1 < outlen; i--) {
        if (i != n - 1 && w + 3 < outlen) {
            memcpy(out + w, " | ", 3);
            w += 3;
        }
        size_t stop = ends[i];
        bool cut = stop - starts[i] > MEDIA_ERROR_LINE_MAX;
        if (cut)
            stop = starts[i] + MEDIA_ERROR_LINE_MAX;
        for (size_t k = starts[i]; k < stop && w + 1 < outlen; k++) {
            unsigned char c = (unsigned char)t->data[k];
            out[w++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        for (int dot = 0; cut && dot < 3 && w + 1 < outlen; dot++)
            out[w++] = '.';
    }
    out[w < outlen ? w : outlen - 1] = '\0';
}

static const char *media_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The full path of program name in PATH (new), or NULL. */
static char *media_find_program(const char *name)
{
    if (!name || !*name)
        return NULL;
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        char *candidate = len ? xasprintf("%.*s/%s", (int)len, path, name) : xstrdup(name);
        struct stat st;
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
            return candidate;
        free(candidate);
        if (!colon)
            break;
        path = colon + 1;
    }
    return NULL;
}

bool media_have_program(const char *name)
{
    char *path = media_find_program(name);
    free(path);
    return path != NULL;
}

/* fork + exec rather than posix_spawn, for one thing posix_spawn cannot do:
 * PR_SET_PDEATHSIG, so that ffmpeg or espeak-ng dies with a worker killed by
 * SIGKILL instead of writing on into a work directory the restarted worker
 * is using. Between fork and exec the child only makes async-signal-safe
 * calls. */
static int media_spawn(const char *path, const char *const *argv, int out_fd, int err_fd,
                       pid_t *pid)
{
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0)
        return errno;
    if (child > 0) {
        *pid = child;
        return 0;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl */
        _exit(127);
    setpgid(0, 0);
    int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        signal(reset[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0)
        _exit(127);
    if (out_fd >= 0) {
        if (dup2(out_fd, 1) < 0)
            _exit(127);
    } else {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull < 0 || dup2(devnull, 1) < 0)
            _exit(127);
    }
    if (dup2(err_fd, 2) < 0)
        _exit(127);
    execve(path, (char *const *)argv, environ);
    _exit(127);
}

/* Reads what is available on fd; returns bytes read, 0 at EOF, -1 if nothing now. */
static ssize_t media_drain(int fd, char *chunk, size_t size)
{
    ssize_t n;
    do {
        n = read(fd, chunk, size);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
    return n;
}

struct media_child {
    pid_t pid;
    int out_fd, err_fd; /* read ends, -1 once closed */
    struct media_tail tail;
    struct buf *out;
    int stop; /* 0, or the ERR_* that made us kill the child */
};

/* Pumps the pipes until both close or a stop condition; sets child->stop. */
static void media_pump(struct media_child *c, int64_t deadline_ns, volatile sig_atomic_t *cancel)
{
    char chunk[MEDIA_READ_CHUNK];
    while (c->out_fd >= 0 || c->err_fd >= 0) {
        if (cancel && *cancel) {
            c->stop = ERR_CANCELED;
            return;
        }
        int64_t left_ms = (deadline_ns - clock_now_ns()) / 1000000;
        if (left_ms <= 0) {
            c->stop = ERR_TIMEOUT;
            return;
        }
        struct pollfd fds[2];
        int nfds = 0;
        if (c->err_fd >= 0)
            fds[nfds++] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
        if (c->out_fd >= 0)
            fds[nfds++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
        int ready = poll(fds, (nfds_t)nfds,
                         (int)(left_ms < MEDIA_POLL_SLICE_MS ? left_ms : MEDIA_POLL_SLICE_MS));
        if (ready <= 0)
            continue;
        for (int i = 0; i < nfds; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = media_drain(fds[i].fd, chunk, sizeof chunk);
            if (n < 0)
                continue;
            bool is_err = fds[i].fd == c->err_fd;
            if (n == 0) {
                close(fds[i].fd);
                if (is_err)
                    c->err_fd = -1;
                else
                    c->out_fd = -1;
            } else if (is_err) {
                media_tail_add(&c->tail, chunk, (size_t)n);
            } else if (buf_append(c->out, chunk, (size_t)n) != 0) {
                c->stop = ERR_LIMIT;
                return;
            }
        }
    }
}

/* Waits for the child's status until the deadline; kills the group on stop. */
static int media_reap(struct media_child *c, int64_t deadline_ns, volatile sig_atomic_t *cancel,
                      int *status)
{
    for (;;) {
        if (c->stop) {
            kill(-c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
            while (waitpid(c->pid, status, 0) < 0 && errno == EINTR)
                ;
            return c->stop;
        }
        pid_t r = waitpid(c->pid, status, WNOHANG);
        if (r == c->pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return ERR_IO;
        if (cancel && *cancel)
            c->stop = ERR_CANCELED;
        else if (clock_now_ns() >= deadline_ns)
            c->stop = ERR_TIMEOUT;
        else
            clock_sleep_ms(10, NULL);
    }
}

static int media_report(int rc, int status, const struct media_child *c, const char *name,
                        long timeout_ms, size_t out_max, char *err, size_t errlen)
{
    char lines[MEDIA_ERROR_LINES * (MEDIA_ERROR_LINE_MAX + 6)];
    media_tail_lines(&c->tail, lines, sizeof lines);
    const char *sep = lines[0] ? ": " : "";
    switch (rc) {
    case 0:
        break;
    case ERR_TIMEOUT:
        snprintf(err, errlen, "%s timed out after %.1f s and was stopped%s%s", name,
                 (double)timeout_ms / 1000.0, sep, lines);
        return rc;
    case ERR_CANCELED:
        snprintf(err, errlen, "%s was canceled", name);
        return rc;
    case ERR_LIMIT:
        snprintf(err, errlen, "%s wrote more than %zu bytes of output and was stopped", name,
                 out_max);
        return rc;
    default:
        snprintf(err, errlen, "could not wait for %s: %s", name, strerror(errno));
        return ERR_IO;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s failed (exit %d)%s%s", name, WEXITSTATUS(status), sep, lines);
    else if (WIFSIGNALED(status))
        snprintf(err, errlen, "%s was killed by signal %d%s%s", name, WTERMSIG(status), sep, lines);
    else
        snprintf(err, errlen, "%s ended abnormally%s%s", name, sep, lines);
    return ERR_IO;
}

int media_run(const char *const *argv, const struct media_run_opts *opts, char *err, size_t errlen)
{
    struct media_run_opts none = {0};
    if (!opts)
        opts = &none;
    if (!argv || !argv[0]) {
        snprintf(err, errlen, "no program to run");
        return ERR_INVALID;
    }
    const char *name = media_basename(argv[0]);
    long timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : MEDIA_RUN_DEFAULT_TIMEOUT_MS;
    char *path = media_find_program(argv[0]);
    if (!path) {
        snprintf(err, errlen, "%s is not installed (not found in PATH)", name);
        return ERR_NOT_FOUND;
    }
    int err_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    struct media_child *c = xcalloc(1, sizeof *c);
    c->out_fd = c->err_fd = -1;
    c->out = opts->out;
    if (c->out)
        buf_reset(c->out);
    int rc = 0, status = 0;
    if (pipe2(err_pipe, O_CLOEXEC) != 0 || (c->out && pipe2(out_pipe, O_CLOEXEC) != 0)) {
        snprintf(err, errlen, "could not run %s: %s", name, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    int spawn_rc = media_spawn(path, argv, out_pipe[1], err_pipe[1], &c->pid);
    close(err_pipe[1]);
    err_pipe[1] = -1;
    if (out_pipe[1] >= 0) {
        close(out_pipe[1]);
        out_pipe[1] = -1;
    }
    if (spawn_rc != 0) {
        snprintf(err, errlen, "could not run %s: %s", name, strerror(spawn_rc));
        rc = spawn_rc == ENOENT ? ERR_NOT_FOUND : ERR_IO;
        goto out;
    }
    c->err_fd = err_pipe[0];
    c->out_fd = out_pipe[0];
    err_pipe[0] = out_pipe[0] = -1;
    fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
    if (c->out_fd >= 0)
        fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
    int64_t deadline = clock_now_ns() + (int64_t)timeout_ms * 1000000;
    media_pump(c, deadline, opts->cancel);
    rc = media_reap(c, deadline, opts->cancel, &status);
    rc = media_report(rc, status, c, name, timeout_ms, c->out ? c->out->max : 0, err, errlen);
out:
    for (int i = 0; i < 2; i++) {
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
    }
    if (c->err_fd >= 0)
        close(c->err_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    free(c);
    free(path);
    return rc;
}
