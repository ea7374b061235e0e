/* table — bounded string-keyed table with LRU eviction. See table.h.
 *
 * Entries live in one array; free ones are chained through `next`. The hash
 * index maps a bucket to the first entry of its chain (NONE when empty). The
 * LRU list runs from `head` (most recent) to `tail` (least recent). */
#include "web/table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define NONE SIZE_MAX

struct entry {
    char key[WEB_TABLE_KEY_MAX];
    size_t next;     /* next in the hash chain, or in the free list */
    size_t prev_lru; /* towards head */
    size_t next_lru; /* towards tail */
    bool used;
};

struct web_table {
    size_t value_size;
    size_t cap;
    size_t count;
    size_t nbuckets;
    size_t *buckets;
    struct entry *entries;
    unsigned char *values;
    size_t free_list;
    size_t head, tail;
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct web_table *web_table_new(size_t value_size, size_t max_entries)
{
    struct web_table *t = xcalloc(1, sizeof *t);
    t->value_size = value_size ? value_size : 1;
    t->cap = max_entries ? max_entries : 1;
    t->nbuckets = t->cap * 2;
    t->buckets = xmalloc(t->nbuckets * sizeof *t->buckets);
    for (size_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NONE;
    t->entries = xcalloc(t->cap, sizeof *t->entries);
    t->values = xcalloc(t->cap, t->value_size);
    for (size_t i = 0; i < t->cap; i++)
        t->entries[i].next = i + 1 < t->cap ? i + 1 : NONE;
    t->free_list = 0;
    t->head = t->tail = NONE;
    return t;
}

void web_table_free(struct web_table *t)
{
    if (!t)
        return;
    free(t->buckets);
    free(t->entries);
    free(t->values);
    free(t);
}

static void *value_of(struct web_table *t, size_t i)
{
    return t->values + i * t->value_size;
}

static void lru_unlink(struct web_table *t, size_t i)
{
    struct entry *e = &t->entries[i];
    if (e->prev_lru != NONE)
        t->entries[e->prev_lru].next_lru = e->next_lru;
    else
        t->head = e->next_lru;
    if (e->next_lru != NONE)
        t->entries[e->next_lru].prev_lru = e->prev_lru;
    else
        t->tail = e->prev_lru;
}

static void lru_push_front(struct web_table *t, size_t i)
{
    struct entry *e = &t->entries[i];
    e->prev_lru = NONE;
    e->next_lru = t->head;
    if (t->head != NONE)
        t->entries[t->head].prev_lru = i;
    t->head = i;
    if (t->tail == NONE)
        t->tail = i;
}

static size_t find(const struct web_table *t, const char *key, size_t bucket)
{
    for (size_t i = t->buckets[bucket]; i != NONE; i = t->entries[i].next)
        if (strcmp(t->entries[i].key, key) == 0)
            return i;
    return NONE;
}

/* Unlinks entry i from its hash chain and the LRU list and frees it. */
static void drop_entry(struct web_table *t, size_t i)
{
    size_t bucket = hash_key(t->entries[i].key) % t->nbuckets;
    size_t *link = &t->buckets[bucket];
    while (*link != i)
        link = &t->entries[*link].next;
    *link = t->entries[i].next;
    lru_unlink(t, i);
    t->entries[i].used = false;
    t->entries[i].next = t->free_list;
    t->free_list = i;
    t->count--;
}

void *web_table_get(struct web_table *t, const char *key)
{
    if (strlen(key) >= WEB_TABLE_KEY_MAX)
        return NULL;
    size_t i = find(t, key, hash_key(key) % t->nbuckets);
    if (i == NONE)
        return NULL;
    lru_unlink(t, i);
    lru_push_front(t, i);
    return value_of(t, i);
}

void *web_table_put(struct web_table *t, const char *key, bool *created)
{
    if (created)
        *created = false;
    size_t len = strlen(key);
    if (len >= WEB_TABLE_KEY_MAX)
        return NULL;
    void *existing = web_table_get(t, key);
    if (existing)
        return existing;
    if (t->free_list == NONE)
        drop_entry(t, t->tail);
    size_t i = t->free_list;
    t->free_list = t->entries[i].next;
    struct entry *e = &t->entries[i];
    memcpy(e->key, key, len + 1);
    e->used = true;
    size_t bucket = hash_key(key) % t->nbuckets;
    e->next = t->buckets[bucket];
    t->buckets[bucket] = i;
    lru_push_front(t, i);
    t->count++;
    memset(value_of(t, i), 0, t->value_size);
    if (created)
        *created = true;
    return value_of(t, i);
}

bool web_table_remove(struct web_table *t, const char *key)
{
    if (strlen(key) >= WEB_TABLE_KEY_MAX)
        return false;
    size_t i = find(t, key, hash_key(key) % t->nbuckets);
    if (i == NONE)
        return false;
    drop_entry(t, i);
    return true;
}

void web_table_sweep(struct web_table *t, bool (*drop)(const char *key, void *value, void *user),
                     void *user)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->entries[i].used && drop(t->entries[i].key, value_of(t, i), user))
            drop_entry(t, i);
}

size_t web_table_count(const struct web_table *t)
{
    return t->count;
}
