/*
 * test_native_mha.c — nk_mha (runtime/native/mha.c) against ref_mha: the
 * projections packed with nk_linear_pack as the backend packs them, shapes
 * from one token to ViT-sized rows (odd sequence lengths, head dims that
 * are not multiples of 16, a single head), scratch sized by nk_mha_scratch
 * for 2 threads and fenced to catch overruns, and the result compared at 1
 * and at 2 threads (bit for bit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

#define FENCE 64 /* floats after the scratch that must stay untouched */

static double check_mha(int64_t b, int64_t l, int64_t e, int64_t heads)
{
    float ws = 2.0f / sqrtf((float)e); /* keeps q·k of order one: a non-trivial softmax */
    float *x = nt_floats(b * l * e, 2), *w_in = nt_floats(3 * e * e, ws);
    float *b_in = nt_floats(3 * e, 0.5f), *w_out = nt_floats(e * e, ws);
    float *b_out = nt_floats(e, 0.5f);
    char attrs[32], what[96];
    snprintf(attrs, sizeof attrs, "num_heads=%lld", (long long)heads);
    snprintf(what, sizeof what, "mha b=%lld l=%lld e=%lld heads=%lld", (long long)b,
             (long long)l, (long long)e, (long long)heads);
    Shape shapes[5] = {SH(3, b, l, e), SH(2, 3 * e, e), SH(1, 3 * e), SH(2, e, e), SH(1, e)};
    float *ref = nt_ref(ref_mha, OP_MHA, 5, shapes,
                        (const float *const[]){x, w_in, b_in, w_out, b_out}, attrs, NULL);

    NkLinear lin_in = {.m = b * l, .k = e, .n = 3 * e}, lin_out = {.m = b * l, .k = e, .n = e};
    float *p_in = nt_floats(nk_linear_packed_floats(&lin_in, nt_tiling()), 0);
    float *p_out = nt_floats(nk_linear_packed_floats(&lin_out, nt_tiling()), 0);
    nk_linear_pack(&lin_in, nt_tiling(), w_in, b_in, p_in);
    nk_linear_pack(&lin_out, nt_tiling(), w_out, b_out, p_out);
    NkMha d = {b, l, e, heads};
    int64_t ns = nk_mha_scratch(&d, nt_tiling(), 2);
    float *scratch = nt_floats(ns + FENCE, 0);
    for (int i = 0; i < FENCE; i++)
        scratch[ns + i] = 1234.5f;
    int64_t n = b * l * e;
    float *y = nt_floats(n, 0);
    NT_AT_1_AND_2_THREADS(y, n, what, nk_mha(&d, x, p_in, p_out, y, scratch));
    for (int i = 0; i < FENCE; i++)
        assert_true(scratch[ns + i] == 1234.5f);
    double err = nt_expect_close(y, ref, n, 1e-5, what);
    free(x);
    free(w_in);
    free(b_in);
    free(w_out);
    free(b_out);
    free(ref);
    free(p_in);
    free(p_out);
    free(scratch);
    free(y);
    return err;
}

static void test_mha(void **state)
{
    static const int64_t cases[][4] = {
        /* b, l, e, heads */
        {1, 1, 8, 1},    {2, 5, 16, 2},  {3, 7, 24, 3},   {2, 13, 60, 5},
        {1, 50, 192, 3}, {2, 17, 96, 1}, {1, 197, 192, 3}, {1, 65, 768, 12},
    };
    double worst = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double e = check_mha(cases[c][0], cases[c][1], cases[c][2], cases[c][3]);
        worst = e > worst ? e : worst;
    }
    print_message("mha: max error %.3g of max |ref|\n", worst);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mha),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
