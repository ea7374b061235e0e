/* clock — time for measuring (monotonic) and for records (wall clock). */
#ifndef HARDE_BASE_CLOCK_H
#define HARDE_BASE_CLOCK_H

#include <signal.h>
#include <stdint.h>

/* Monotonic nanoseconds, for durations. */
int64_t clock_now_ns(void);
/* Wall-clock milliseconds since the Unix epoch, for timestamps. */
int64_t clock_wall_ms(void);
/* Sleeps for ms milliseconds (restarting after signals unless *cancel becomes
 * non-zero; cancel may be NULL). Returns 0, or ERR_CANCELED. */
int clock_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel);

#endif
