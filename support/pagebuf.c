/*
 * pagebuf.c — see pagebuf.h.
 */
#define _GNU_SOURCE /* mremap */
#include "pagebuf.h"

#include <sys/mman.h>
#include <unistd.h>

static size_t round_pages(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

bool pagebuf_reserve(PageBuf *b, size_t need)
{
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1 << 20;
    while (cap < need)
        cap *= 2;
    cap = round_pages(cap);
    void *p = b->data ? mremap(b->data, b->cap, cap, MREMAP_MAYMOVE)
                      : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    /* No MADV_HUGEPAGE: with the common defrag=madvise setting it makes the
     * kernel compact memory on the fault path, and a ResNet-50 lowering
     * then took 60 or 240 ms from run to run instead of a steady 108 ms. */
    b->data = p;
    b->cap = cap;
    return true;
}

void pagebuf_free(PageBuf *b)
{
    if (b->data)
        munmap(b->data, b->cap);
    b->data = NULL;
    b->cap = 0;
}
