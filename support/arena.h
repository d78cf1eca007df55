/*
 * arena.h — region allocation for one compilation.
 *
 * The AST, the IR, and every string the front end makes live in one Arena and
 * are freed together (QBE's freeall, PostgreSQL's memory contexts). Nothing
 * allocated here is freed one by one. Out of memory aborts with a message:
 * a compiler has no sensible way to continue.
 */
#ifndef NETC_ARENA_H
#define NETC_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
    ArenaChunk *head;
} Arena;

Arena *arena_new(void);
void arena_free(Arena *a);
/* Zeroed memory, aligned for any scalar type. */
void *arena_alloc(Arena *a, size_t size);
/* Copies old_size bytes into a fresh block of new_size bytes. */
void *arena_grow(Arena *a, void *old, size_t old_size, size_t new_size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(Arena *a, const char *fmt, va_list ap);

/* malloc/realloc that abort with a message instead of returning NULL. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/*
 * Growable arrays kept in an arena: `VEC_PUSH(arena, items, n, cap, x)`
 * appends x to items[0..n) and grows cap by doubling.
 */
#define VEC_PUSH(arena, items, n, cap, x)                                          \
    do {                                                                         \
        if ((n) == (cap)) {                                                      \
            size_t new_cap_ = (cap) ? 2 * (size_t)(cap) : 8;                     \
            (items) = arena_grow((arena), (items), (size_t)(cap) * sizeof *(items), \
                                 new_cap_ * sizeof *(items));                    \
            (cap) = new_cap_;                                                    \
        }                                                                        \
        (items)[(n)++] = (x);                                                    \
    } while (0)

#endif
