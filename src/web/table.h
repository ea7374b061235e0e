/* table — a bounded string-keyed table with least-recently-used eviction.
 *
 * The web server keeps several small in-memory maps whose keys come from
 * outside (client addresses, user names, login cookies): rate-limit buckets,
 * login sessions. Each must have a hard size so that nobody can make the
 * server grow by inventing keys. A table holds at most max_entries values of
 * value_size bytes each, stored inline; inserting into a full table evicts
 * the least recently used entry (every get and put counts as a use).
 *
 * Design: one allocation of entries, a chained hash index of 2x the capacity,
 * and a doubly linked LRU list through the entries, all by index. Keys are
 * copied (at most WEB_TABLE_KEY_MAX bytes). Not thread-safe: the owner locks. */
#ifndef HARDE_WEB_TABLE_H
#define HARDE_WEB_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define WEB_TABLE_KEY_MAX 96 /* bytes of a key, NUL included */

struct web_table;

/* A new empty table (max_entries >= 1). */
struct web_table *web_table_new(size_t value_size, size_t max_entries);
void web_table_free(struct web_table *t);

/* The value of key (borrowed, valid until the next put or remove), or NULL. */
void *web_table_get(struct web_table *t, const char *key);
/* The value of key, created zeroed when missing (evicting the least recently
 * used entry when full); *created (may be NULL) says which. NULL only when
 * key is longer than WEB_TABLE_KEY_MAX - 1 bytes. Borrowed. */
void *web_table_put(struct web_table *t, const char *key, bool *created);
/* Removes key; true when it was there. */
bool web_table_remove(struct web_table *t, const char *key);
/* Removes every entry for which drop(key, value, user) is true. */
void web_table_sweep(struct web_table *t, bool (*drop)(const char *key, void *value, void *user),
                     void *user);
size_t web_table_count(const struct web_table *t);

#endif
