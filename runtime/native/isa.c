/*
 * isa.c — the kernel variants as data: names, the tiling table netc packs
 * weights with (nk_isa.h), which variant this build is, and whether the
 * running CPU can execute a variant.
 */
#include "nk.h"
#include "nk_isa.h"

/* F: the float row, Q: the int8 row (VNNI has AVX-512's float kernels). */
#define NK_TILING_ROW(F, Q) {F##_MR, F##_NR, F##_KC, F##_MB_TILES, Q##_QMR, Q##_QNR, Q##_QKG, NK_QMB_TILES}

static const NkTiling tilings[NK_ISA_COUNT] = {
    [NK_ISA_SSE2] = NK_TILING_ROW(NK_SSE2, NK_SSE2),
    [NK_ISA_AVX2] = NK_TILING_ROW(NK_AVX2, NK_AVX2),
    [NK_ISA_AVX512] = NK_TILING_ROW(NK_AVX512, NK_AVX512),
    [NK_ISA_AVX512VNNI] = NK_TILING_ROW(NK_AVX512, NK_AVX512VNNI),
};

const NkTiling *nk_tiling(NkIsa isa)
{
    return isa >= 0 && isa < NK_ISA_COUNT ? &tilings[isa] : &tilings[NK_ISA_SSE2];
}

const char *nk_isa_name(NkIsa isa)
{
    switch (isa) {
    case NK_ISA_SSE2: return "sse2";
    case NK_ISA_AVX2: return "avx2";
    case NK_ISA_AVX512: return "avx512";
    case NK_ISA_AVX512VNNI: return "avx512vnni";
    default: return "?";
    }
}

NkIsa nk_kernel_isa(void) { return NK_BUILD_ISA; }

int nk_isa_runs_here(NkIsa isa)
{
    switch (isa) {
    case NK_ISA_SSE2: return 1;
    case NK_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case NK_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case NK_ISA_AVX512VNNI: return nk_isa_runs_here(NK_ISA_AVX512) && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}
