/*
 * strmap.c — see strmap.h. The table is kept at most half full so probe
 * sequences stay short.
 */
#include "strmap.h"
#include "arena.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct Slot {
    const char *key;
    void *value;
} Slot;

struct StrMap {
    Slot *slots;
    size_t cap, count; /* cap is a power of two */
};

StrMap *strmap_new(void)
{
    StrMap *m = xcalloc(1, sizeof *m);
    m->cap = 16;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    return m;
}

void strmap_free(StrMap *m)
{
    if (m)
        free(m->slots);
    free(m);
}

static Slot *find_slot(Slot *slots, size_t cap, const char *key)
{
    size_t i = (size_t)XXH3_64bits(key, strlen(key)) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

void *strmap_get(const StrMap *m, const char *key)
{
    Slot *s = find_slot(m->slots, m->cap, key);
    return s->key ? s->value : NULL;
}

void strmap_put(StrMap *m, const char *key, void *value)
{
    if (2 * (m->count + 1) > m->cap) {
        size_t cap = 2 * m->cap;
        Slot *slots = xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                *find_slot(slots, cap, m->slots[i].key) = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    Slot *s = find_slot(m->slots, m->cap, key);
    if (!s->key)
        m->count++;
    s->key = key;
    s->value = value;
}

size_t strmap_count(const StrMap *m) { return m->count; }
