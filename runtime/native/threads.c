/*
 * threads.c — the thread pool behind nk_parallel_for.
 *
 * Design:
 *   - Workers are started and stopped only in nk_set_threads; a kernel call
 *     never creates a thread. Before the first nk_set_threads there are no
 *     workers and everything runs on the calling thread.
 *   - A call cuts [0, n) into chunks (whole multiples of grain; about
 *     NK_CHUNKS_PER_THREAD per thread, fewer when n is small) and publishes
 *     the job. The caller and the workers then claim chunks one at a time
 *     from a shared ticket until none are left: whoever is running takes
 *     the work, so a worker that the OS has descheduled (another process
 *     on its core) delays the call by at most the one chunk it holds, never
 *     by its whole static share. Which thread runs a chunk varies; how a
 *     chunk is computed does not, and kernels make each output element the
 *     work of one chunk in a fixed order, so results do not depend on the
 *     thread count or the schedule.
 *   - The ticket is one 64-bit word, (generation << 32) | next chunk, and a
 *     chunk is claimed by compare-and-swap on it. A claim of an old job's
 *     chunk therefore fails once a new job is published, and a successful
 *     claim means the job is live (the caller waits for every claimed
 *     chunk to be done before it returns), so its fields are read only
 *     after the claim. The caller waits for done chunks, not for workers:
 *     a worker that never woke up for a job is not waited for.
 *   - Workers spin on the generation for a short while after each job
 *     (layers follow each other within microseconds during inference) and
 *     then sleep on a condition variable, so an idle process costs no CPU.
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
/* Chunks per thread: enough that a stalled thread holds up only a small
 * share, few enough that per-chunk setup (a GEMM packs its A block per
 * chunk) stays small. */
#define NK_CHUNKS_PER_THREAD 4

typedef struct NkThreadPool {
    /* Configuration, changed only by nk_set_threads. */
    atomic_int nthreads; /* workers + the caller */
    pthread_t workers[NK_MAX_THREADS];
    uint_fast64_t spawn_generation; /* the generation new workers start from */
    /* The current job; written by the caller before publishing it. */
    NkTask fn;
    void *ctx;
    int64_t n, grain, units; /* units: ceil(n / grain) */
    /* Atomic because a worker that lost the race for the last chunk may
     * read it while the next job is being set up (relaxed is enough: the
     * ticket decides whether the claim counts). */
    atomic_int_fast64_t chunks;
    /* Synchronization. */
    atomic_uint_fast64_t generation;
    _Atomic uint64_t ticket; /* (generation << 32) | next unclaimed chunk */
    atomic_int_fast64_t done; /* chunks of the current job finished */
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

/* Claims and runs chunks of job generation gen until none are left (or a
 * newer job replaced it) as thread t. */
static void run_chunks(uint32_t gen, int t)
{
    uint64_t seen = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(seen >> 32) != gen)
            return;
        uint64_t c = seen & 0xffffffffu;
        if ((int64_t)c >= atomic_load_explicit(&pool.chunks, memory_order_relaxed))
            return;
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &seen, seen + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int64_t chunks = atomic_load_explicit(&pool.chunks, memory_order_relaxed);
        int64_t u0 = (int64_t)c * pool.units / chunks, u1 = ((int64_t)c + 1) * pool.units / chunks;
        int64_t begin = u0 * pool.grain, end = u1 * pool.grain;
        if (end > pool.n)
            end = pool.n;
        if (begin < end)
            pool.fn(pool.ctx, begin, end, t);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_acq_rel);
        seen = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    }
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
        run_chunks((uint32_t)seen, t);
    }
    return NULL;
}

/* Publishes the job already stored in pool and wakes the workers. */
static void publish(void)
{
    uint_fast64_t g = atomic_load(&pool.generation) + 1;
    atomic_store(&pool.ticket, (uint64_t)(uint32_t)g << 32);
    atomic_store(&pool.generation, g);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
}

/* Waits until every chunk of the current job is done. */
static void wait_chunks(void)
{
    int64_t chunks = atomic_load_explicit(&pool.chunks, memory_order_relaxed);
    for (int i = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < chunks; i++) {
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
    int64_t units = (n + grain - 1) / grain;
    if (units <= 1 || atomic_load_explicit(&pool.nthreads, memory_order_relaxed) <= 1 ||
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
    int64_t most = (int64_t)nt * NK_CHUNKS_PER_THREAD;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.grain = grain;
    pool.units = units;
    atomic_store_explicit(&pool.chunks, units < most ? units : most, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    publish();
    run_chunks((uint32_t)atomic_load_explicit(&pool.generation, memory_order_relaxed), 0);
    wait_chunks();
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
