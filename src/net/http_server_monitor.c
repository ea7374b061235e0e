/* http_server_monitor — the thread that notices hang-ups and sends keep-alives.
 *
 * libmicrohttpd does not watch a suspended connection, so a client that
 * disconnects while its stream is idle (the model is thinking) or its
 * deferred request waits would go unnoticed until the next write. The
 * monitor adds each such socket to its own epoll set for EPOLLRDHUP (the
 * peer closed; no read interest, so request bytes never wake it) and tells
 * the request at once through http_req_set_gone. It also walks the open
 * streams to queue keep-alive comments on idle ones.
 *
 * Owns: the registry of watched requests (server->watches, slots with a
 * generation so that an epoll event for a request that completed meanwhile
 * is recognised as stale), the epoll fd, an eventfd to wake the thread, and
 * the thread. A socket is removed from the epoll set before libmicrohttpd
 * closes it (in the request-completed notification), so a reused descriptor
 * number is never confused with the old one. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

#define MONITOR_MAX_TICK_MS 1000
#define MONITOR_MIN_TICK_MS 5
#define MONITOR_EVENTS      64
#define WAKE_KEY            UINT64_MAX

static uint64_t watch_key(uint32_t slot, uint32_t gen)
{
    return (uint64_t)gen << 32 | slot;
}

void http_monitor_watch(struct http_server *s, struct http_req *req)
{
    /* Under the lock: http_monitor_unwatch marks the request closed before it
     * takes the lock, and libmicrohttpd closes the socket only after that,
     * so the socket is open here unless closed is already set. */
    pthread_mutex_lock(&s->lock);
    if (req->watched || atomic_load(&req->closed)) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    uint32_t slot;
    if (s->nfree) {
        slot = s->free_slots[--s->nfree];
    } else {
        if (s->nwatches == s->watch_cap) {
            s->watch_cap = s->watch_cap ? s->watch_cap * 2 : 64;
            s->watches = xrealloc(s->watches, s->watch_cap * sizeof *s->watches);
            s->free_slots = xrealloc(s->free_slots, s->watch_cap * sizeof *s->free_slots);
        }
        slot = s->nwatches++;
        s->watches[slot].gen = 0;
    }
    s->watches[slot].req = req;
    req->watched = true;
    req->slot = slot;
    req->slot_gen = s->watches[slot].gen;
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT,
                             .data.u64 = watch_key(slot, req->slot_gen)};
    if (req->watch_fd >= 0 && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, req->watch_fd, &ev) != 0)
        log_warn("http", "cannot watch a connection: %s", strerror(errno));
    pthread_mutex_unlock(&s->lock);
}

void http_monitor_unwatch(struct http_server *s, struct http_req *req)
{
    atomic_store(&req->closed, true);
    pthread_mutex_lock(&s->lock);
    if (req->watched) {
        struct http_watch *w = &s->watches[req->slot];
        w->req = NULL;
        w->gen++;
        s->free_slots[s->nfree++] = req->slot;
        req->watched = false;
        if (req->watch_fd >= 0)
            epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, req->watch_fd, NULL);
    }
    pthread_mutex_unlock(&s->lock);
}

size_t http_monitor_snapshot(struct http_server *s, struct http_req ***out)
{
    pthread_mutex_lock(&s->lock);
    size_t n = 0;
    struct http_req **list = xmalloc((s->nwatches ? s->nwatches : 1) * sizeof *list);
    for (uint32_t i = 0; i < s->nwatches; i++) {
        if (s->watches[i].req) {
            http_req_ref(s->watches[i].req);
            list[n++] = s->watches[i].req;
        }
    }
    pthread_mutex_unlock(&s->lock);
    *out = list;
    return n;
}

void http_monitor_keepalive_hint(struct http_server *s, int ms)
{
    int current = atomic_load(&s->min_keepalive_ms);
    while (current == 0 || ms < current) {
        if (atomic_compare_exchange_weak(&s->min_keepalive_ms, &current, ms)) {
            /* The monitor may be sleeping for longer than ms: wake it. */
            uint64_t one = 1;
            if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof one) < 0)
                log_warn("http", "monitor wake-up: %s", strerror(errno));
            return;
        }
    }
}

/* The watched request behind key with a new reference, or NULL when stale. */
static struct http_req *lookup(struct http_server *s, uint64_t key)
{
    uint32_t slot = (uint32_t)key, gen = (uint32_t)(key >> 32);
    struct http_req *req = NULL;
    pthread_mutex_lock(&s->lock);
    if (slot < s->nwatches && s->watches[slot].gen == gen && s->watches[slot].req) {
        req = s->watches[slot].req;
        http_req_ref(req);
    }
    pthread_mutex_unlock(&s->lock);
    return req;
}

/* Queues due keep-alives; returns the milliseconds until the next is due. */
static int keepalive_pass(struct http_server *s)
{
    int next = MONITOR_MAX_TICK_MS;
    int min = atomic_load(&s->min_keepalive_ms);
    if (min == 0)
        return next;
    if (min < next)
        next = min;
    struct http_req **list;
    size_t n = http_monitor_snapshot(s, &list);
    int64_t now = clock_now_ns();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&list[i]->lock);
        struct http_stream *st = list[i]->stream;
        pthread_mutex_unlock(&list[i]->lock);
        if (st) {
            int due = http_stream_keepalive(st, now);
            if (due < next)
                next = due;
        }
        http_req_unref(list[i]);
    }
    free(list);
    return next;
}

static void *monitor_main(void *arg)
{
    struct http_server *s = arg;
    struct epoll_event events[MONITOR_EVENTS];
    int64_t next_pass = 0;
    while (!atomic_load(&s->monitor_quit)) {
        int64_t now = clock_now_ns();
        if (now >= next_pass) {
            int wait = keepalive_pass(s);
            if (wait < MONITOR_MIN_TICK_MS)
                wait = MONITOR_MIN_TICK_MS;
            next_pass = now + (int64_t)wait * 1000000;
        }
        int timeout = (int)((next_pass - now) / 1000000) + 1;
        int n = epoll_wait(s->epoll_fd, events, MONITOR_EVENTS, timeout);
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == WAKE_KEY) {
                uint64_t value;
                if (read(s->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
                    log_warn("http", "monitor wake-up: %s", strerror(errno));
                next_pass = 0; /* a shorter keep-alive may have appeared */
                continue;
            }
            struct http_req *req = lookup(s, events[i].data.u64);
            if (req) {
                http_req_set_gone(req, HTTP_GONE_CLIENT);
                http_req_unref(req);
            }
        }
    }
    return NULL;
}

int http_monitor_start(struct http_server *s, char *err, size_t errlen)
{
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epoll_fd < 0 || s->wake_fd < 0) {
        snprintf(err, errlen, "cannot create the connection monitor: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_KEY};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) != 0) {
        snprintf(err, errlen, "cannot create the connection monitor: %s", strerror(errno));
        goto fail;
    }
    atomic_store(&s->monitor_quit, 0);
    if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0) {
        snprintf(err, errlen, "cannot start the connection monitor thread");
        goto fail;
    }
    s->monitor_running = true;
    return 0;
fail:
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->epoll_fd = s->wake_fd = -1;
    return ERR_IO;
}

void http_monitor_stop(struct http_server *s)
{
    if (!s->monitor_running)
        return;
    atomic_store(&s->monitor_quit, 1);
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0)
        log_warn("http", "monitor wake-up: %s", strerror(errno));
    pthread_join(s->monitor, NULL);
    s->monitor_running = false;
    close(s->epoll_fd);
    close(s->wake_fd);
    s->epoll_fd = s->wake_fd = -1;
}
