/* xalloc — allocation that never returns NULL.
 *
 * Out of memory is not a condition Hard-E tries to survive (Redis's choice):
 * every allocation goes through these wrappers, which print one line and abort.
 * That keeps every other function free of OOM branches. */
#ifndef HARDE_BASE_XALLOC_H
#define HARDE_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* New copy of s (NULL stays NULL). */
char *xstrdup(const char *s);
/* New copy of the first n bytes of s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* New string formatted like printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
