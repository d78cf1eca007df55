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

/* Fused multiply-add throughput of `threads` threads running an
 * independent FMA chains each, in GFLOP/s (an FMA counts as 2 FLOPs): the
 * best of a few rounds taking about `seconds` together. */
double peak_gflops(int threads, double seconds);

/* The widest vector peak.c was compiled for, in floats (16 with AVX-512). */
int peak_vector_floats(void);

#endif
