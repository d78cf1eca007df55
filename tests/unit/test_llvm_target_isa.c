/*
 * test_llvm_target_isa.c — the kernel variant netc picks for a target CPU
 * (backends/llvm/target.c: llvm_cpu_isa, a code-generation probe, and
 * llvm_kernel_isa, the same capped at the variants codegen embeds),
 * against what each CPU's documentation says it implements:
 *   AVX-512 F/BW/DQ/VL + VNNI: cascadelake, cooperlake, icelake-server,
 *     tigerlake, sapphirerapids, znver4, znver5, x86-64-v4 +avx512vnni;
 *   AVX-512 F/BW/DQ/VL without VNNI: skylake-avx512, cannonlake, x86-64-v4,
 *     znver4 -avx512vnni;
 *   AVX2 + FMA (no AVX-512, or AVX-512F without BW as on Knights Landing):
 *     haswell, skylake, znver1, znver3, x86-64-v3, knl;
 *   neither: x86-64, x86-64-v2, sandybridge (AVX without AVX2), btver2;
 *   AVX2 + FMA with AVX-VNNI (ymm only) is still AVX2: alderlake;
 * and --features: -avx512f on znver4 leaves AVX2, +avx2,+fma on x86-64
 * gives AVX2. The host's variant must be one the host can run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../backends/llvm/llvm_backend.h"
#include "../../runtime/native/nk.h"

#include <stdio.h>

/* llvm_cpu_isa, or llvm_kernel_isa when embedded. */
static int isa_of(const char *cpu, const char *features, bool embedded)
{
    LlvmOptions o = {.cpu = cpu, .features = features};
    Diag *d = diag_new(stderr);
    int isa = embedded ? llvm_kernel_isa(&o, d) : llvm_cpu_isa(&o, d);
    assert_int_equal(diag_errors(d), 0);
    diag_free(d);
    return isa;
}

static int isa_for(const char *cpu, const char *features) { return isa_of(cpu, features, false); }

static void expect(const char *cpu, const char *features, NkIsa want)
{
    int got = isa_for(cpu, features);
    if (got != (int)want)
        fail_msg("--cpu %s%s%s: %s kernels, expected %s", cpu, features ? " --features " : "",
                 features ? features : "", nk_isa_name((NkIsa)got), nk_isa_name(want));
    /* what codegen uses: the same (every variant is embedded) */
    NkIsa embedded = want;
    if (isa_of(cpu, features, true) != (int)embedded)
        fail_msg("--cpu %s: llvm_kernel_isa is not %s", cpu, nk_isa_name(embedded));
}

static void test_named_cpus(void **state)
{
    const char *vnni[] = {"cascadelake", "cooperlake", "icelake-server", "tigerlake",
                          "sapphirerapids", "znver4", "znver5"};
    for (size_t i = 0; i < sizeof vnni / sizeof *vnni; i++)
        expect(vnni[i], NULL, NK_ISA_AVX512VNNI);
    const char *avx512[] = {"skylake-avx512", "cannonlake", "x86-64-v4"};
    const char *avx2[] = {"haswell", "skylake", "znver1", "znver3", "x86-64-v3", "knl", "alderlake"};
    const char *sse2[] = {"x86-64", "x86-64-v2", "sandybridge", "btver2"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        expect(avx512[i], NULL, NK_ISA_AVX512);
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        expect(avx2[i], NULL, NK_ISA_AVX2);
    for (size_t i = 0; i < sizeof sse2 / sizeof *sse2; i++)
        expect(sse2[i], NULL, NK_ISA_SSE2);
}

static void test_features_override(void **state)
{
    expect("znver4", "-avx512f", NK_ISA_AVX2);
    expect("znver4", "-avx512vnni", NK_ISA_AVX512);
    expect("x86-64-v4", "+avx512vnni", NK_ISA_AVX512VNNI);
    expect("x86-64", "+avx2,+fma", NK_ISA_AVX2);
    expect("x86-64-v3", "-fma", NK_ISA_SSE2);
}

static void test_host_runs_its_variant(void **state)
{
    int isa = isa_for(NULL, NULL);
    assert_true(isa >= 0 && isa < NK_ISA_COUNT);
    printf("host: %s kernels\n", nk_isa_name((NkIsa)isa));
    assert_true(nk_isa_runs_here((NkIsa)isa));
    /* and not a lesser one than it could run */
    for (int better = isa + 1; better < NK_ISA_COUNT; better++)
        assert_false(nk_isa_runs_here((NkIsa)better));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_cpus),
        cmocka_unit_test(test_features_override),
        cmocka_unit_test(test_host_runs_its_variant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
