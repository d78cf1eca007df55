/*
 * pagebuf.h — a large, growable, zero-filled buffer straight from the
 * kernel (mmap, grown with mremap): page-aligned, so it can be handed to
 * code that wants 64-byte alignment as is, and growing it moves page
 * mappings instead of copying bytes. For the LLVM backend's packed weight
 * blob (hundreds of MiB for VGG) and activation arena.
 */
#ifndef NETC_PAGEBUF_H
#define NETC_PAGEBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct PageBuf {
    unsigned char *data; /* NULL until the first grow */
    size_t cap;          /* bytes mapped */
} PageBuf;

/* Makes at least `need` bytes available (new bytes are zero); false when
 * the system refuses, leaving b as it was. */
bool pagebuf_reserve(PageBuf *b, size_t need);
void pagebuf_free(PageBuf *b);

#endif
