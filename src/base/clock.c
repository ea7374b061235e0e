/* clock — monotonic and wall clocks, cancellable sleep. See clock.h. */
#define _POSIX_C_SOURCE 200809L
#include "base/clock.h"

#include <errno.h>
#include <time.h>

#include "base/error.h"

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int clock_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel)
{
    /* Sleep in slices so a cancel flag set by a signal handler is seen soon. */
    int64_t deadline = clock_now_ns() + ms * 1000000;
    for (;;) {
        if (cancel && *cancel)
            return ERR_CANCELED;
        int64_t left = deadline - clock_now_ns();
        if (left <= 0)
            return 0;
        if (left > 50000000)
            left = 50000000;
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
            return 0;
    }
}
