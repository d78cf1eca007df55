/*
 * peak.h — the machine's peak FP32 throughput, measured (bench/peak.c).
 *
 * "% of peak" in the native benchmark divides by this number rather than by
 * a data-sheet figure: under a hypervisor the clock, the turbo state and
 * even the FMA width are whatever this run gets, so the ceiling is measured
 * in the same process, on the same cores, next to the network timings.
 */
#ifndef NETC_BENCH_PEAK_H
#define NETC_BENCH_PEAK_H

/* Fused multiply-add throughput of `threads` threads running independent
 * FMA chains each, in GFLOP/s (an FMA counts as 2 FLOPs): the best of a few
 * rounds taking about `seconds` together; one copy per kernel ISA (call
 * only one the CPU runs). */
double peak_gflops_sse2(int threads, double seconds);
double peak_gflops_avx2(int threads, double seconds);
double peak_gflops_avx512(int threads, double seconds);

/* The one for an NkIsa (0 SSE2, 1 AVX2, 2 AVX-512, 3 AVX-512 VNNI: the
 * same float vectors). */
static inline double peak_gflops(int isa, int threads, double seconds)
{
    return isa >= 2 ? peak_gflops_avx512(threads, seconds)
           : isa == 1 ? peak_gflops_avx2(threads, seconds)
                      : peak_gflops_sse2(threads, seconds);
}

/* Read bandwidth of `threads` threads streaming disjoint parts of a buffer
 * far larger than the caches, in GB/s: the best of a few passes
 * (bench/bandwidth.c). The ceiling of a batch-1 linear layer, whose
 * weights are each read once. */
double bandwidth_gbs(int threads);

#endif
