/*
 * nk_isa.h — which kernel variant a build is, and every variant's vector
 * length and register blocking, in one place: the kernels compile their
 * own row as constants, isa.c turns all rows into the NkTiling table netc
 * packs weights with, so the two cannot disagree.
 *
 * The variant comes from the compiler's target macros (-march): AVX-512
 * needs F, BW, DQ and VL (x86-64-v4: Skylake-SP, Ice Lake, Sapphire
 * Rapids, Zen 4, Zen 5); AVX2 needs FMA too (x86-64-v3: Haswell, Zen 1-3);
 * anything else is the SSE2 baseline every x86-64 CPU has. AVX-512 with
 * VNNI too (Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4, Zen 5) is a
 * fourth variant: the same float kernels (the AVX-512 row), and int8
 * kernels on vpdpbusd.
 *
 * Blocking per variant (gemm.c explains the loops). Registers: MR·NR/VL
 * accumulators + NR/VL panel vectors + 1 broadcast.
 *   AVX-512  16 lanes, 14×32: 28 + 2 + 1 of 32 zmm (measured on Zen 5
 *            against 12×32, 10×32, 6×64, 8×48: best or tied on every
 *            ResNet-50 shape; 14 divides 56², 28², 14², 112²);
 *   AVX2     8 lanes, 6×16: 12 + 2 + 1 of 16 ymm (the BLIS/OpenBLAS
 *            Haswell shape; 14×32 would need 56 registers and spill);
 *   SSE2     4 lanes, 6×8: 12 + 2 + 1 of 16 xmm (no FMA: mul + add).
 * NK_KC (a multiple of 16) keeps one K block of a B panel, KC·NR floats,
 * in L1 beside the A tile; NK_MB_TILES·MR·KC floats of packed A stay in L2.
 * AVX2 runs 384 deep (24 KiB of B): a 6×16 tile does 12 FMAs per k step
 * against AVX-512's 28, so per-tile costs (C in and out, the epilogue)
 * weigh more per FMA; on an AVX-512 EPYC (Zen 4) running the AVX2 kernels,
 * ResNet-18 at 1 thread went from 48.3 ms (KC 256) to 38.3 ms (KC 384),
 * and to 48.0 ms at KC 512 (32 KiB of B: all of L1).
 */
#ifndef NETC_NK_ISA_H
#define NETC_NK_ISA_H

#define NK_SSE2_VL 4
#define NK_SSE2_MR 6
#define NK_SSE2_NR 8
#define NK_SSE2_KC 256
#define NK_SSE2_MB_TILES 16

#define NK_AVX2_VL 8
#define NK_AVX2_MR 6
#define NK_AVX2_NR 16
#define NK_AVX2_KC 384
#define NK_AVX2_MB_TILES 16

#define NK_AVX512_VL 16
#define NK_AVX512_MR 14
#define NK_AVX512_NR 32
#define NK_AVX512_KC 256
#define NK_AVX512_MB_TILES 8

/*
 * The int8 GEMM core (qgemm.h): a QMR × QNR micro-tile of int32
 * accumulators, fed per step by one 32-bit group of QKG activations per
 * row (broadcast) and one packed weight vector per QNR/VL columns.
 *   VNNI     vpdpbusd: 4 u8 × 4 s8 summed into each int32 lane, exact (no
 *            intermediate saturation); 14×32: 28 + 2 of 32 zmm, the
 *            broadcasts are memory operands.
 *   others   vpmaddwd / pmaddwd on int16 pairs (activations widened while
 *            packing A, weights stored as int16): 2 products summed per
 *            lane, exact; vpmaddubsw (u8 × s8 pairs into int16) would
 *            saturate at 2·255·127 > 32767. One temporary per step besides
 *            the accumulators: AVX-512 12×32 (24 + 2 + 2 of 32), AVX2
 *            6×16 (12 + 2 + 2 of 16), SSE2 6×8.
 * QMB_TILES micro-tiles of packed A form one block (no K blocking: the
 * int32 partial sums have nowhere to go between blocks, and a whole-K
 * tile keeps the loads per multiply-add low enough to run from L2).
 */
#define NK_SSE2_QMR 6
#define NK_SSE2_QNR 8
#define NK_SSE2_QKG 2
#define NK_AVX2_QMR 6
#define NK_AVX2_QNR 16
#define NK_AVX2_QKG 2
#define NK_AVX512_QMR 12
#define NK_AVX512_QNR 32
#define NK_AVX512_QKG 2
#define NK_AVX512VNNI_QMR 14
#define NK_AVX512VNNI_QNR 32
#define NK_AVX512VNNI_QKG 4
#define NK_QMB_TILES 8

/* This build's variant and constants. A benchmark may override the
 * blocking with -D (the packed layout follows NK_NR, so only in a build
 * that packs its own weights). */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#if defined(__AVX512VNNI__)
#define NK_BUILD_ISA NK_ISA_AVX512VNNI
#define NK_BUILD_VNNI 1
#define NK_QROW(x) NK_AVX512VNNI_##x
#else
#define NK_BUILD_ISA NK_ISA_AVX512
#define NK_QROW(x) NK_AVX512_##x
#endif
#define NK_ISA_ROW(x) NK_AVX512_##x
#elif defined(__AVX2__) && defined(__FMA__)
#define NK_BUILD_ISA NK_ISA_AVX2
#define NK_ISA_ROW(x) NK_AVX2_##x
#define NK_QROW(x) NK_AVX2_##x
#else
#define NK_BUILD_ISA NK_ISA_SSE2
#define NK_ISA_ROW(x) NK_SSE2_##x
#define NK_QROW(x) NK_SSE2_##x
#endif
#ifndef NK_BUILD_VNNI
#define NK_BUILD_VNNI 0
#endif

#define NK_VL NK_ISA_ROW(VL)
#ifndef NK_MR
#define NK_MR NK_ISA_ROW(MR)
#endif
#ifndef NK_NR
#define NK_NR NK_ISA_ROW(NR)
#endif
#ifndef NK_KC
#define NK_KC NK_ISA_ROW(KC)
#endif
#ifndef NK_MB_TILES
#define NK_MB_TILES NK_ISA_ROW(MB_TILES)
#endif
#define NK_QMR NK_QROW(QMR)
#define NK_QNR NK_QROW(QNR)
#define NK_QKG NK_QROW(QKG)

#endif
