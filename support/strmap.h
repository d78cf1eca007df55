/*
 * strmap.h — a string-keyed hash map (open addressing, linear probing).
 *
 * Used for symbol tables and parameter indexes. Keys are not copied: they
 * must outlive the map (they normally live in an Arena). Hashing is XXH3
 * from Debian's libxxhash.
 */
#ifndef NETC_STRMAP_H
#define NETC_STRMAP_H

#include <stddef.h>

typedef struct StrMap StrMap;

StrMap *strmap_new(void);
void strmap_free(StrMap *m);
/* Returns the value stored under key, or NULL. */
void *strmap_get(const StrMap *m, const char *key);
/* Stores value under key, replacing any previous value. */
void strmap_put(StrMap *m, const char *key, void *value);
size_t strmap_count(const StrMap *m);

#endif
