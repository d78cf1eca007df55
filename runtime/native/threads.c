/*
 * threads.c — the thread pool behind nk_parallel_for.
 *
 * Design:
 *   - Workers are started and stopped only in nk_set_threads; a kernel call
 *     never creates a thread. Before the first nk_set_threads there are no
 *     workers and everything runs on the calling thread.
 *   - A call publishes one job (fn, ctx, the split of [0, n)) and bumps a
 *     generation counter. Workers spin on that counter for a short while
 *     after each job (layers follow each other within microseconds during
 *     inference) and then sleep on a condition variable, so an idle process
 *     costs no CPU.
 *   - The split is static and deterministic: [0, n) is cut into
 *     ceil(n / grain) chunks, and part t of T gets chunks
 *     [t*chunks/T, (t+1)*chunks/T). Part 0 runs on the calling thread, part t
 *     on worker t. Kernels make each output element the work of one part
 *     computed in a fixed order, so results do not depend on T.
 *   - Every worker acknowledges every job (also those it has no part in),
 *     so the job fields are never rewritten while a worker may still read
 *     them: the caller returns only when all workers are done with the job.
 *   - A call made while the pool is busy (fn calling nk_parallel_for, or a
 *     second application thread) runs serially on its own thread instead of
 *     deadlocking; the results are the same.
 *
 * Sleep protocol (no lost wake-ups): a worker announces itself in `sleepers`
 * and re-reads the generation while holding the mutex; the caller bumps the
 * generation and then reads `sleepers`. Both are sequentially consistent,
 * so either the worker sees the new generation or the caller sees the
 * sleeper and broadcasts under the mutex.
 */
#include "nk.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Spin iterations before a worker sleeps (roughly 50-100 us). */
#define NK_SPIN_WORKER 20000
/* Spin iterations before a waiting caller starts yielding its core. */
#define NK_SPIN_CALLER 4000

typedef struct NkThreadPool {
    /* Configuration, changed only by nk_set_threads. */
    atomic_int nthreads; /* workers + the caller */
    pthread_t workers[NK_MAX_THREADS];
    uint_fast64_t spawn_generation; /* the generation new workers start from */
    /* The current job; written by the caller before bumping generation. */
    NkTask fn;
    void *ctx;
    int64_t n, grain, chunks;
    int parts;
    /* Synchronization. */
    atomic_uint_fast64_t generation;
    atomic_int remaining; /* workers that have not finished the job */
    atomic_int sleepers;
    atomic_bool quit;
    atomic_flag busy;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} NkThreadPool;

static NkThreadPool pool = {
    .nthreads = 1,
    .busy = ATOMIC_FLAG_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Runs part t of the current job (nothing when t >= parts). */
static void run_part(int t)
{
    if (t >= pool.parts)
        return;
    int64_t c0 = t * pool.chunks / pool.parts, c1 = (t + 1) * pool.chunks / pool.parts;
    int64_t begin = c0 * pool.grain, end = c1 * pool.grain;
    if (end > pool.n)
        end = pool.n;
    if (begin < end)
        pool.fn(pool.ctx, begin, end, t);
}

/* Waits until the generation differs from seen or quit is set; returns the
 * new generation. Spins first, then sleeps. */
static uint_fast64_t wait_job(uint_fast64_t seen)
{
    for (int i = 0; i < NK_SPIN_WORKER; i++) {
        uint_fast64_t g = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (g != seen)
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleepers, 1);
    uint_fast64_t g;
    while ((g = atomic_load(&pool.generation)) == seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    /* Not the live counter: a job published before this thread got to run
     * would be missed. */
    uint_fast64_t seen = pool.spawn_generation;
    for (;;) {
        seen = wait_job(seen);
        if (atomic_load_explicit(&pool.quit, memory_order_acquire))
            break;
        run_part(t);
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel);
    }
    return NULL;
}

/* Publishes the job already stored in pool and wakes the workers. */
static void publish(void)
{
    atomic_store(&pool.generation, atomic_load(&pool.generation) + 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
}

static void wait_workers(void)
{
    for (int i = 0; atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0; i++) {
        if (i < NK_SPIN_CALLER)
            cpu_relax();
        else
            sched_yield();
    }
}

static void stop_workers(void)
{
    int nt = atomic_load(&pool.nthreads);
    if (nt <= 1)
        return;
    atomic_store(&pool.quit, true);
    publish();
    for (int t = 1; t < nt; t++)
        pthread_join(pool.workers[t], NULL);
    atomic_store(&pool.quit, false);
    atomic_store(&pool.nthreads, 1);
}

/* Not thread-safe against a concurrent nk_parallel_for: call it between
 * inferences. If a worker cannot be created, the pool keeps those started. */
void nk_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > NK_MAX_THREADS)
        n = NK_MAX_THREADS;
    while (atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire))
        sched_yield();
    if (n == atomic_load(&pool.nthreads)) {
        atomic_flag_clear_explicit(&pool.busy, memory_order_release);
        return;
    }
    stop_workers();
    pool.spawn_generation = atomic_load(&pool.generation);
    int started = 1;
    for (int t = 1; t < n; t++) {
        if (pthread_create(&pool.workers[t], NULL, worker_main, (void *)(intptr_t)t) != 0)
            break;
        started++;
    }
    atomic_store(&pool.nthreads, started);
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

int nk_get_threads(void) { return atomic_load_explicit(&pool.nthreads, memory_order_relaxed); }

void nk_parallel_for(int64_t n, int64_t grain, NkTask fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks <= 1 || atomic_load_explicit(&pool.nthreads, memory_order_relaxed) <= 1 ||
        atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        fn(ctx, 0, n, 0);
        return;
    }
    int nt = atomic_load_explicit(&pool.nthreads, memory_order_relaxed);
    if (nt <= 1) { /* lowered between the two reads */
        atomic_flag_clear_explicit(&pool.busy, memory_order_release);
        fn(ctx, 0, n, 0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.grain = grain;
    pool.chunks = chunks;
    pool.parts = chunks < nt ? (int)chunks : nt;
    atomic_store_explicit(&pool.remaining, nt - 1, memory_order_relaxed);
    publish();
    run_part(0);
    wait_workers();
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
