/*
 * bandwidth.c — memory read bandwidth (see peak.h): each thread sums its
 * share of a 512 MiB buffer (16x the L3 of the machines we run on) with
 * four independent vector accumulators, so the loads, not the adds, set
 * the pace. The buffer is written first, so its pages exist.
 */
#include "peak.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BW_BYTES ((size_t)512 << 20)

typedef float BwVec __attribute__((vector_size(32)));

typedef struct BwPart {
    const BwVec *p;
    size_t n; /* vectors */
    pthread_barrier_t *start;
    volatile float sink;
} BwPart;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *bw_read(void *arg)
{
    BwPart *w = arg;
    if (w->start)
        pthread_barrier_wait(w->start);
    BwVec a = {0}, b = {0}, c = {0}, d = {0};
    for (size_t i = 0; i + 4 <= w->n; i += 4)
        a += w->p[i], b += w->p[i + 1], c += w->p[i + 2], d += w->p[i + 3];
    BwVec s = (a + b) + (c + d);
    w->sink = s[0] + s[7];
    return NULL;
}

double bandwidth_gbs(int threads)
{
    enum { MAX = 64, PASSES = 4 };
    threads = threads < 1 ? 1 : threads > MAX ? MAX : threads;
    BwVec *buf = aligned_alloc(64, BW_BYTES);
    if (!buf)
        return 0;
    memset(buf, 0, BW_BYTES);
    size_t nv = BW_BYTES / sizeof(BwVec), per = nv / (size_t)threads;
    double best = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)threads);
        BwPart parts[MAX];
        pthread_t tid[MAX];
        int started = 1;
        for (int t = 0; t < threads; t++)
            parts[t] = (BwPart){.p = buf + (size_t)t * per, .n = per, .start = &start};
        for (int t = 1; t < threads; t++, started++)
            if (pthread_create(&tid[t], NULL, bw_read, &parts[t]))
                break;
        if (started < threads) { /* cannot start them all: no figure */
            for (int t = 1; t < started; t++)
                pthread_cancel(tid[t]);
            pthread_barrier_destroy(&start);
            free(buf);
            return 0;
        }
        pthread_barrier_wait(&start);
        double t0 = now_s();
        parts[0].start = NULL;
        bw_read(&parts[0]);
        for (int t = 1; t < threads; t++)
            pthread_join(tid[t], NULL);
        double gbs = (double)per * threads * sizeof(BwVec) / (now_s() - t0) / 1e9;
        best = gbs > best ? gbs : best;
        pthread_barrier_destroy(&start);
    }
    free(buf);
    return best;
}
