/*
 * peak.c — FP32 FMA throughput of this machine (see peak.h).
 *
 * Compiled once per kernel ISA (bench/CMakeLists.txt: -march=x86-64-v4,
 * x86-64-v3, x86-64, each with -DPEAK_NAME=peak_gflops_<isa> and
 * -ffp-contract=fast) so `acc * a + b` on GNU vectors becomes one FMA on
 * that ISA's registers: "% of peak" is then against the ceiling of the
 * instructions the kernels in use can issue (on Zen 4 the zmm and ymm
 * ceilings are equal, on two-FMA-unit Intel parts they are not). SSE2 has
 * no FMA: its "peak" is a mul + add pair per lane, counted as 2 FLOPs. Each thread keeps
 * PEAK_ACCS independent accumulators: an FMA has a latency of about 4
 * cycles and current cores issue up to 2 per cycle, so at least 8 chains
 * must be in flight to saturate the units; 12 leave headroom and still fit
 * in 16 registers (AVX2) next to the two constants. The chain
 * acc = acc * a + b converges to b / (1 - a) = 1, so values stay normal.
 * Floating-point contraction is the only licence given: without
 * reassociation the compiler cannot shorten the chains.
 */
#include "peak.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#if defined(__AVX512F__)
#define PEAK_FLOATS 16
#elif defined(__AVX__)
#define PEAK_FLOATS 8
#else
#define PEAK_FLOATS 4
#endif
#define PEAK_ACCS 12

typedef float PeakVec __attribute__((vector_size(PEAK_FLOATS * sizeof(float))));

/* FLOPs per iteration of the loop in fma_chains. */
#define PEAK_FLOPS_PER_ITER (2.0 * PEAK_ACCS * PEAK_FLOATS)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs iters rounds of PEAK_ACCS independent FMAs; returns a value that
 * depends on all of them so the work cannot be dropped. Written out by hand:
 * -O2 does not promise to unroll a loop over an accumulator array into
 * registers. */
static float fma_chains(int64_t iters)
{
    PeakVec zero = {0};
    PeakVec a = zero + 0.9999f, b = zero + 1e-4f;
    PeakVec c0 = zero + 0.01f, c1 = zero + 0.02f, c2 = zero + 0.03f, c3 = zero + 0.04f;
    PeakVec c4 = zero + 0.05f, c5 = zero + 0.06f, c6 = zero + 0.07f, c7 = zero + 0.08f;
    PeakVec c8 = zero + 0.09f, c9 = zero + 0.10f, c10 = zero + 0.11f, c11 = zero + 0.12f;
    for (int64_t i = 0; i < iters; i++) {
        c0 = c0 * a + b, c1 = c1 * a + b, c2 = c2 * a + b, c3 = c3 * a + b;
        c4 = c4 * a + b, c5 = c5 * a + b, c6 = c6 * a + b, c7 = c7 * a + b;
        c8 = c8 * a + b, c9 = c9 * a + b, c10 = c10 * a + b, c11 = c11 * a + b;
    }
    PeakVec s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
    float r = 0;
    for (int k = 0; k < PEAK_FLOATS; k++)
        r += s[k];
    return r;
}

typedef struct PeakThread {
    pthread_barrier_t *start;
    int64_t iters;
    volatile float sink;
} PeakThread;

static void *peak_thread(void *arg)
{
    PeakThread *t = arg;
    pthread_barrier_wait(t->start);
    t->sink = fma_chains(t->iters);
    return NULL;
}

/* Wall time of `threads` threads (the caller is one of them) each running
 * iters rounds, from a common start. */
static double timed_round(int threads, int64_t iters)
{
    enum { MAX_THREADS = 64 };
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    pthread_t tid[MAX_THREADS];
    PeakThread work[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    int started = 1;
    for (int i = 1; i < threads; i++) {
        work[i] = (PeakThread){.start = &start, .iters = iters};
        if (pthread_create(&tid[i], NULL, peak_thread, &work[i]))
            break;
        started++;
    }
    if (started < threads) { /* could not start them all: measure none */
        pthread_barrier_destroy(&start);
        return -1;
    }
    work[0] = (PeakThread){.start = &start, .iters = iters};
    pthread_barrier_wait(&start);
    double t0 = now_s();
    work[0].sink = fma_chains(iters);
    for (int i = 1; i < threads; i++)
        pthread_join(tid[i], NULL);
    double t = now_s() - t0;
    pthread_barrier_destroy(&start);
    return t;
}

double PEAK_NAME(int threads, double seconds)
{
    if (threads < 1)
        threads = 1;
    /* Calibrate on one thread until a round takes >= 20 ms. */
    int64_t iters = 1 << 16;
    double t;
    while ((t = timed_round(1, iters)) < 0.02 && iters < (INT64_C(1) << 40))
        iters *= 2;
    enum { REPS = 6 }; /* short rounds: more chances of one with the cores to ourselves */
    iters = (int64_t)(iters * (seconds / REPS / t)) + 1;
    double best = 0;
    for (int rep = 0; rep < REPS; rep++) {
        t = timed_round(threads, iters);
        if (t <= 0)
            return 0;
        double gf = PEAK_FLOPS_PER_ITER * (double)iters * threads / t / 1e9;
        if (gf > best)
            best = gf;
    }
    return best;
}
