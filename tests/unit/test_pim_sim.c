/*
 * test_pim_sim.c — the functional crossbar simulator (pim_xbar_sim.c) and
 * the graph runner on top of it (pim_sim.c).
 *
 * The layers' blocks come from a test-only block builder (cut_blocks): the
 * mapper proper (pim_map.c) is tested on its own, and these tests only need
 * some valid cutting of each convention's matrices (rows cut at R, columns
 * at C, as pim.h describes them).
 *
 * Cases: random convolutions (grouped, depthwise, strided, padded, dilated)
 * and linears under every signed scheme, convention, cell bits 1/2/4, DAC
 * bits 1/2, weight bits 2..8 and input bits 2..8, bit-exact against a naive
 * integer convolution with an ideal ADC and with a fullscale one at the
 * lossless bound; the error growing as ADC bits go down; a full block below
 * the bound not exact; tiny layers whose every partial sum, ADC code and
 * count is written out from the formulas; pim_sim_run on small integer
 * graphs against rt_interp_run, bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../backends/pim/pim_sim.h"
#include "../../ir/geometry.h"
#include "../../runtime/interp.h"
#include "ir_test_util.h"
#include "test_rng.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static Loc here(void) { return (Loc){"test.net", 1, 1, 1}; }

/* ---- the test-only block builder ---- */

/* Fills L for node n (conv2d / qconv2d / linear / qlinear) on hw and cuts
 * every matrix into blocks: rows every R (whole-kernel: every floor(R/K)
 * whole kernels), columns every C; on a differential pair each block twice,
 * polarity +1 and −1. */
static void cut_blocks(const PimHardware *hw, const IrNode *n, int wbits, int abits, PimLayer *L)
{
    *L = (PimLayer){.node = n, .name = n->name ? n->name : "layer", .node_id = n->id, .weight_bits = wbits,
                    .act_bits = abits, .replicas = 1};
    if (n->op == OP_CONV2D || n->op == OP_QCONV2D) {
        GeomConv2d g;
        assert_true(geom_conv2d_from_node(n, &g));
        L->cin = g.c, L->cout = g.oc, L->kh = g.kh, L->kw = g.kw, L->groups = g.groups;
        L->pixels = g.oh * g.ow, L->batch = g.n;
    } else {
        const Shape *s = &n->in[0]->shape;
        L->cin = s->d[s->rank - 1], L->cout = n->out->shape.d[n->out->shape.rank - 1];
        L->kh = L->kw = L->groups = 1, L->batch = 1, L->pixels = shape_numel(s) / L->cin;
    }
    int64_t K = L->kh * L->kw, cig = L->cin / L->groups, cog = L->cout / L->groups;
    L->slices = pim_weight_slices(hw, wbits), L->input_cycles = pim_input_cycles(hw, abits);
    L->polarities = pim_polarities(hw);
    bool per_pos = hw->convention == PIM_CONV_PER_POSITION;
    L->matrices = per_pos ? L->groups * K : L->groups;
    L->matrix_rows = per_pos ? cig : cig * K;
    L->matrix_cols = cog * L->slices;
    L->col_order = hw->convention == PIM_CONV_WHOLE_KERNEL ? PIM_COLS_SLICE_MAJOR : PIM_COLS_OUTPUT_MAJOR;
    int64_t rstep = hw->xbar_rows;
    if (hw->convention == PIM_CONV_WHOLE_KERNEL && hw->xbar_rows >= K)
        rstep = hw->xbar_rows / K * K;
    int64_t rb = (L->matrix_rows + rstep - 1) / rstep, cb = (L->matrix_cols + hw->xbar_cols - 1) / hw->xbar_cols;
    L->nblocks = L->matrices * rb * cb * L->polarities;
    L->blocks = calloc((size_t)L->nblocks, sizeof *L->blocks);
    int64_t k = 0;
    for (int64_t m = 0; m < L->matrices; m++)
        for (int64_t r = 0; r < rb; r++)
            for (int64_t c = 0; c < cb; c++)
                for (int pol = 0; pol < L->polarities; pol++) {
                    PimBlock *B = &L->blocks[k++];
                    *B = (PimBlock){.matrix = (int)m, .row0 = r * rstep, .col0 = c * hw->xbar_cols,
                                    .polarity = L->polarities == 2 ? (pol ? -1 : 1) : 0, .xbar = k};
                    B->row1 = B->row0 + rstep < L->matrix_rows ? B->row0 + rstep : L->matrix_rows;
                    B->col1 = B->col0 + hw->xbar_cols < L->matrix_cols ? B->col0 + hw->xbar_cols : L->matrix_cols;
                }
    L->adc_lossless_bits = pim_lossless_adc_bits(hw, rstep < L->matrix_rows ? rstep : L->matrix_rows);
}

/* ---- layers built for the simulator alone ---- */

typedef struct Case {
    IrGraph *g;
    const IrNode *n;
    GeomConv2d geo;  /* linear: n = rows, c = in, oc = out, 1x1 */
    int8_t *w;
    uint8_t *x;
    int32_t zx;
    int64_t nout;
    int64_t *exact;
} Case;

/* The naive Σ (x − zx)·w of every output (the specification). */
static void naive(Case *c)
{
    const GeomConv2d *g = &c->geo;
    int64_t cig = g->c / g->groups, cog = g->oc / g->groups;
    for (int64_t img = 0; img < g->n; img++)
        for (int64_t o = 0; o < g->oc; o++)
            for (int64_t oy = 0; oy < g->oh; oy++)
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    int64_t a = 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t i = 0; i < g->kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t iy = oy * g->sh - g->ph + i * g->dh, ix = ox * g->sw - g->pw + j * g->dw;
                                int64_t xv = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w
                                                 ? c->zx
                                                 : c->x[((img * g->c + o / cog * cig + ci) * g->h + iy) * g->w + ix];
                                a += (xv - c->zx) * c->w[((o * cig + ci) * g->kh + i) * g->kw + j];
                            }
                    c->exact[((img * g->oc + o) * g->oh + oy) * g->ow + ox] = a;
                }
}

/* A float conv2d node (the simulator reads only its geometry) with random
 * weights of wbits signed bits (lo .. 2^(wbits−1) − 1) and inputs of
 * abits bits. */
static Case conv_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, int64_t stride,
                      int64_t pad, int64_t dil, int64_t groups, int wbits, int abits, bool full_range)
{
    Case cs = {.g = ir_graph_new("sim")};
    IrValue *x = ir_add_input(cs.g, "x", DT_F32, SH(4, n, c, h, w), here());
    IrValue *wt = ir_add_param(cs.g, "w", DT_F32, SH(4, oc, c / groups, k, k), here());
    IrValue *in[2] = {x, wt};
    char attrs[200];
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=%lld stride=%lld padding=%lld dilation=%lld "
             "groups=%lld bias=false", (long long)oc, (long long)k, (long long)stride, (long long)pad,
             (long long)dil, (long long)groups);
    cs.n = add_node(cs.g, OP_CONV2D, "conv", attrs, 2, in, here());
    assert_true(geom_conv2d_from_node(cs.n, &cs.geo));
    int64_t nw = oc * (c / groups) * k * k, nx = n * c * h * w;
    cs.w = malloc((size_t)nw), cs.x = malloc((size_t)nx);
    int hi = (1 << (wbits - 1)) - 1, lo = full_range ? -hi - 1 : -hi;
    for (int64_t i = 0; i < nw; i++)
        cs.w[i] = (int8_t)pick(lo, hi);
    for (int64_t i = 0; i < nx; i++)
        cs.x[i] = (uint8_t)pick(0, (1 << abits) - 1);
    cs.zx = (int32_t)pick(0, (1 << abits) - 1);
    cs.nout = n * oc * cs.geo.oh * cs.geo.ow;
    cs.exact = malloc((size_t)cs.nout * sizeof *cs.exact);
    naive(&cs);
    return cs;
}

static Case linear_case(int64_t rows, int64_t in_f, int64_t out_f, int wbits, int abits, bool full_range)
{
    Case cs = {.g = ir_graph_new("sim")};
    IrValue *x = ir_add_input(cs.g, "x", DT_F32, SH(2, rows, in_f), here());
    IrValue *wt = ir_add_param(cs.g, "w", DT_F32, SH(2, out_f, in_f), here());
    IrValue *in[2] = {x, wt};
    char attrs[100];
    snprintf(attrs, sizeof attrs, "out_features=%lld bias=false", (long long)out_f);
    cs.n = add_node(cs.g, OP_LINEAR, "fc", attrs, 2, in, here());
    cs.geo = (GeomConv2d){.n = rows, .c = in_f, .h = 1, .w = 1, .oc = out_f, .oh = 1, .ow = 1, .kh = 1, .kw = 1,
                          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
    cs.w = malloc((size_t)(in_f * out_f)), cs.x = malloc((size_t)(rows * in_f));
    int hi = (1 << (wbits - 1)) - 1, lo = full_range ? -hi - 1 : -hi;
    for (int64_t i = 0; i < in_f * out_f; i++)
        cs.w[i] = (int8_t)pick(lo, hi);
    for (int64_t i = 0; i < rows * in_f; i++)
        cs.x[i] = (uint8_t)pick(0, (1 << abits) - 1);
    cs.zx = (int32_t)pick(0, (1 << abits) - 1);
    cs.nout = rows * out_f;
    cs.exact = malloc((size_t)cs.nout * sizeof *cs.exact);
    naive(&cs);
    return cs;
}

static void case_free(Case *c)
{
    ir_graph_free(c->g);
    free(c->w), free(c->x), free(c->exact);
}

/* Runs the simulator on c; the accumulators into acc (nout), stats out. */
static int simulate(const PimHardware *hw, const Case *c, int wbits, int abits, int64_t step, int64_t *acc,
                    PimSimStats *st)
{
    PimLayer L;
    cut_blocks(hw, c->n, wbits, abits, &L);
    char err[512];
    PimXbarOptions o = {.adc_step = step, .check_exact = true};
    if (!pim_xbar_layer(hw, &L, c->w, c->x, c->zx, &o, acc, st, err, sizeof err))
        fail_msg("pim_xbar_layer: %s", err);
    free(L.blocks);
    return L.adc_lossless_bits;
}

static PimHardware random_hw(PimSigned sign, PimConvention conv)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("isaac", &hw));
    static const int cells[] = {1, 2, 4};
    hw.sign = sign, hw.convention = conv;
    hw.cell_bits = cells[pick(0, 2)];
    hw.dac_bits = (int)pick(1, 2);
    hw.xbar_rows = (int)pick(9, 80);
    hw.xbar_cols = (int)pick(3, 40);
    hw.rounding = pick(0, 1) ? PIM_ROUND_NEAREST : PIM_ROUND_FLOOR;
    return hw;
}

static const char *hw_str(const PimHardware *hw, int wb, int ab, char *buf, size_t n)
{
    snprintf(buf, n, "%s %s R%d C%d cell %d dac %d adc %s/%d w%d a%d", pim_signed_name(hw->sign),
             pim_convention_name(hw->convention), hw->xbar_rows, hw->xbar_cols, hw->cell_bits, hw->dac_bits,
             pim_adc_mode_name(hw->adc_mode), hw->adc_bits, wb, ab);
    return buf;
}

/* Ideal and lossless fullscale: every accumulator exact. */
static void check_exact(PimHardware hw, Case *c, int wb, int ab)
{
    int64_t *acc = malloc((size_t)c->nout * sizeof *acc);
    char what[200];
    for (int mode = 0; mode < 2; mode++) {
        hw.adc_mode = mode ? PIM_ADC_FULLSCALE : PIM_ADC_IDEAL;
        hw.adc_bits = pim_lossless_adc_bits(&hw, hw.xbar_rows);
        PimSimStats st;
        simulate(&hw, c, wb, ab, 0, acc, &st);
        hw_str(&hw, wb, ab, what, sizeof what);
        for (int64_t i = 0; i < c->nout; i++)
            if (acc[i] != c->exact[i])
                fail_msg("%s: acc[%lld] = %lld, exactly %lld", what, (long long)i, (long long)acc[i],
                         (long long)c->exact[i]);
        assert_true(st.exact_checked);
        assert_int_equal(st.max_abs_err, 0);
        assert_int_equal(st.adc_clipped, 0);
        assert_true(st.adc_conversions > 0 && st.xbar_evals > 0);
    }
    free(acc);
}

static void test_random_convs_exact(void **state)
{
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int conv = 0; conv < PIM_CONV__COUNT; conv++)
            for (int rep = 0; rep < 6; rep++) {
                PimHardware hw = random_hw((PimSigned)sign, (PimConvention)conv);
                int wb = (int)pick(2, 8), ab = (int)pick(2, 8);
                int64_t groups = rep == 4 ? 1 : pick(1, 3), k = pick(1, 3);
                int64_t cin = groups * pick(1, 9), cout = groups * pick(1, 6);
                if (rep == 5) /* depthwise */
                    groups = cin = pick(2, 7), cout = cin * pick(1, 2);
                int64_t dil = pick(1, 2), span = dil * (k - 1) + 1;
                Case c = conv_case(pick(1, 2), cin, span + pick(0, 6), span + pick(0, 6), cout, k, pick(1, 2),
                                   pick(0, 2), dil, groups, wb, ab, sign != PIM_SIGNED_DIFFERENTIAL);
                check_exact(hw, &c, wb, ab);
                case_free(&c);
            }
}

static void test_random_linears_exact(void **state)
{
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int conv = 0; conv < PIM_CONV__COUNT; conv++)
            for (int rep = 0; rep < 4; rep++) {
                PimHardware hw = random_hw((PimSigned)sign, (PimConvention)conv);
                int wb = (int)pick(2, 8), ab = (int)pick(2, 8);
                Case c = linear_case(pick(1, 5), pick(1, 200), pick(1, 30), wb, ab, sign != PIM_SIGNED_DIFFERENTIAL);
                check_exact(hw, &c, wb, ab);
                case_free(&c);
            }
}

/* Every cell, DAC, weight and input width once per scheme (a small conv). */
static void test_all_widths_exact(void **state)
{
    static const int cells[] = {1, 2, 4};
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int ci = 0; ci < 3; ci++)
            for (int dac = 1; dac <= 2; dac++)
                for (int wb = 2; wb <= 8; wb++)
                    for (int ab = 2; ab <= 8; ab += 3) {
                        PimHardware hw = random_hw((PimSigned)sign, (PimConvention)((wb + ab) % PIM_CONV__COUNT));
                        hw.cell_bits = cells[ci], hw.dac_bits = dac;
                        Case c = conv_case(1, 4, 5, 5, 3, 3, 1, 1, 1, 1, wb, ab, sign != PIM_SIGNED_DIFFERENTIAL);
                        check_exact(hw, &c, wb, ab);
                        case_free(&c);
                    }
}

/*
 * Fullscale from the lossless bound down to 1 bit. Each conversion's
 * |p − q| never shrinks as bits drop (the coarser grid is a subset of the
 * finer one, and its top code is lower), and under floor q <= p. So on a
 * differential pair with non-negative weights (every conversion added)
 * under floor, every output's error grows with every bit dropped: checked
 * output by output. With signed weights the schemes subtract conversions
 * (the negative array, the offset's dummy, the twos sign column), whose
 * errors partly cancel, and nearest rounds half up with a bias of +Δ/2 per
 * tie whatever Δ: the summed error then only grows overall, checked as
 * exact at the bound, inexact below it, and worse at 1 bit than 1 below
 * the bound.
 */
static void test_error_grows_as_adc_bits_drop(void **state)
{
    for (int conv = 0; conv < PIM_CONV__COUNT; conv++) {
        PimHardware hw;
        assert_true(pim_hardware_preset("isaac", &hw));
        hw.sign = PIM_SIGNED_DIFFERENTIAL, hw.convention = (PimConvention)conv, hw.adc_mode = PIM_ADC_FULLSCALE;
        hw.xbar_rows = 64, hw.xbar_cols = 32, hw.cell_bits = 2, hw.dac_bits = 1, hw.rounding = PIM_ROUND_FLOOR;
        Case c = conv_case(1, 16, 8, 8, 8, 3, 1, 1, 1, 1, 8, 8, false);
        for (int64_t i = 0; i < 8 * 16 * 9; i++)
            c.w[i] = (int8_t)(c.w[i] < 0 ? -c.w[i] : c.w[i]);
        naive(&c);
        int64_t *acc = malloc((size_t)c.nout * sizeof *acc), *prev = calloc((size_t)c.nout, sizeof *prev);
        PimSimStats st;
        hw.adc_bits = 30;
        int lossless = simulate(&hw, &c, 8, 8, 0, acc, &st);
        for (int b = lossless; b >= 1; b--) {
            hw.adc_bits = b;
            simulate(&hw, &c, 8, 8, 0, acc, &st);
            for (int64_t i = 0; i < c.nout; i++) {
                int64_t e = c.exact[i] - acc[i];
                if (e < prev[i] || (b == lossless && e != 0))
                    fail_msg("%s: output %lld is off by %lld at %d ADC bits, by %lld at %d",
                             pim_convention_name(hw.convention), (long long)i, (long long)e, b, (long long)prev[i],
                             b + 1);
                prev[i] = e;
            }
        }
        free(acc), free(prev);
        case_free(&c);
    }
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int conv = 0; conv < PIM_CONV__COUNT; conv++)
            for (int rnd = 0; rnd < 2; rnd++) {
                PimHardware hw;
                assert_true(pim_hardware_preset("isaac", &hw));
                hw.sign = (PimSigned)sign, hw.convention = (PimConvention)conv, hw.adc_mode = PIM_ADC_FULLSCALE;
                hw.xbar_rows = 64, hw.xbar_cols = 32, hw.cell_bits = 2, hw.dac_bits = 1;
                hw.rounding = rnd ? PIM_ROUND_FLOOR : PIM_ROUND_NEAREST;
                Case c = conv_case(1, 16, 8, 8, 8, 3, 1, 1, 1, 1, 8, 8, sign != PIM_SIGNED_DIFFERENTIAL);
                int64_t *acc = malloc((size_t)c.nout * sizeof *acc);
                PimSimStats st;
                hw.adc_bits = 30;
                int lossless = simulate(&hw, &c, 8, 8, 0, acc, &st);
                double err[32] = {0};
                for (int b = lossless; b >= 1; b--) {
                    hw.adc_bits = b;
                    simulate(&hw, &c, 8, 8, 0, acc, &st);
                    for (int64_t i = 0; i < c.nout; i++)
                        err[b] += fabs((double)(acc[i] - c.exact[i]));
                    char what[200];
                    if (b == lossless ? err[b] != 0 : err[b] == 0)
                        fail_msg("%s: summed |error| %g at %d ADC bits (lossless: %d)",
                                 hw_str(&hw, 8, 8, what, sizeof what), err[b], b, lossless);
                }
                if (err[1] <= err[lossless - 1])
                    fail_msg("%s %s: summed |error| %g at 1 ADC bit, %g at %d", pim_signed_name(hw.sign),
                             pim_convention_name(hw.convention), err[1], err[lossless - 1], lossless - 1);
                free(acc);
                case_free(&c);
            }
}

/* One full block below the lossless bound: 33 rows with every input and
 * weight at its maximum make odd partial sums (33·3 = 99 on full slices),
 * which a power-of-two step cannot hold; random values as well. */
static void test_below_bound_not_exact(void **state)
{
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int random = 0; random < 2; random++) {
            PimHardware hw;
            assert_true(pim_hardware_preset("isaac", &hw));
            hw.sign = (PimSigned)sign, hw.convention = PIM_CONV_IM2COL, hw.adc_mode = PIM_ADC_FULLSCALE;
            hw.xbar_rows = 33, hw.xbar_cols = 64, hw.cell_bits = 2, hw.dac_bits = 1;
            Case c = linear_case(2, 33, 4, 8, 8, false);
            if (!random) {
                memset(c.w, 127, 33 * 4);
                memset(c.x, 255, 2 * 33);
                c.zx = 0;
                naive(&c);
            }
            int64_t acc[8];
            PimSimStats st;
            hw.adc_bits = pim_lossless_adc_bits(&hw, 33);
            simulate(&hw, &c, 8, 8, 0, acc, &st);
            assert_int_equal(st.max_abs_err, 0);
            hw.adc_bits--;
            simulate(&hw, &c, 8, 8, 0, acc, &st);
            if (st.max_abs_err == 0)
                fail_msg("%s, %s values: exact one bit below the bound", pim_signed_name(hw.sign),
                         random ? "random" : "maximal");
            case_free(&c);
        }
}

/* ---- tiny layers checked against numbers from the formulas ---- */

static PimHardware tiny_hw(PimSigned sign, int cell, int adc_bits, PimRounding r)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("isaac", &hw));
    hw.sign = sign, hw.convention = PIM_CONV_IM2COL, hw.adc_mode = PIM_ADC_FULLSCALE, hw.rounding = r;
    hw.xbar_rows = 2, hw.xbar_cols = 8, hw.cell_bits = cell, hw.dac_bits = 1, hw.adc_bits = adc_bits;
    return hw;
}

static void run_tiny(const PimHardware *hw, Case *c, int wb, const int64_t *want, int64_t conversions,
                     int64_t clipped, int64_t evals)
{
    int64_t acc[4];
    PimSimStats st;
    simulate(hw, c, wb, 1, 0, acc, &st);
    for (int64_t i = 0; i < c->nout; i++)
        assert_int_equal(acc[i], want[i]);
    assert_int_equal(st.adc_conversions, conversions);
    assert_int_equal(st.adc_clipped, clipped);
    assert_int_equal(st.xbar_evals, evals);
}

/*
 * Differential, 3-bit weights (2 magnitude bits, one 2-bit slice), 1-bit
 * inputs x = [1, 1], two rows: lossless bits = ceil(log2(2·1·3 + 1)) = 3.
 * w = [[3, −2], [3, 3]]:
 *   out 0: p+ = 3, p− = 2;  out 1: p+ = 6, p− = 0.
 * ADC 1 bit: s = 2, Δ = 4, top code 1.
 *   nearest: code(3) = (3+2)>>2 = 1 → 4, code(2) = 1 → 4, code(6) = 2 clips
 *            to 1 → 4, code(0) = 0: acc = [4 − 4, 4 − 0] = [0, 4], 1 clip.
 *   floor:   3>>2 = 0, 2>>2 = 0, 6>>2 = 1 → 4: acc = [0, 4], no clip.
 * ADC 2 bits: s = 1, Δ = 2, top 3, nearest: (3+1)>>1 = 2 → 4, (2+1)>>1 = 1
 *   → 2, (6+1)>>1 = 3 → 6: acc = [2, 6].
 * zx = 1 subtracts zx·Σw = [1, 6]: nearest at 1 bit gives [−1, −2].
 * Conversions: 2 arrays × 2 columns × 1 cycle; 2 crossbar reads.
 */
static void test_tiny_differential(void **state)
{
    Case c = linear_case(1, 2, 2, 3, 1, false);
    const int8_t w[] = {3, -2, 3, 3};
    memcpy(c.w, w, sizeof w);
    c.x[0] = c.x[1] = 1, c.zx = 0;
    PimHardware hw = tiny_hw(PIM_SIGNED_DIFFERENTIAL, 2, 1, PIM_ROUND_NEAREST);
    run_tiny(&hw, &c, 3, (int64_t[]){0, 4}, 4, 1, 2);
    hw.rounding = PIM_ROUND_FLOOR;
    run_tiny(&hw, &c, 3, (int64_t[]){0, 4}, 4, 0, 2);
    hw = tiny_hw(PIM_SIGNED_DIFFERENTIAL, 2, 2, PIM_ROUND_NEAREST);
    run_tiny(&hw, &c, 3, (int64_t[]){2, 6}, 4, 0, 2);
    hw = tiny_hw(PIM_SIGNED_DIFFERENTIAL, 2, 1, PIM_ROUND_NEAREST);
    c.zx = 1;
    run_tiny(&hw, &c, 3, (int64_t[]){-1, -2}, 4, 1, 2);
    case_free(&c);
}

/*
 * Offset, 2-bit weights in one 2-bit slice: u = w + 2. w = [1, −1] (one
 * output) is stored as [3, 1]; the dummy column holds 2 in both cells.
 * x = [1, 0]: p = 3, dummy p = 2 (exactly: 3 − 2 = 1 = Σ x·w).
 * ADC 2 bits (lossless 3): s = 1, nearest: (3+1)>>1 = 2 → 4, (2+1)>>1 = 1
 *   → 2: acc = 4 − 2 = 2. ADC 1 bit: s = 2: (3+2)>>2 = 1 → 4, (2+2)>>2 = 1
 *   → 4: acc = 0. Conversions: 1 column + 1 dummy.
 */
static void test_tiny_offset(void **state)
{
    Case c = linear_case(1, 2, 1, 2, 1, true);
    c.w[0] = 1, c.w[1] = -1, c.x[0] = 1, c.x[1] = 0, c.zx = 0;
    PimHardware hw = tiny_hw(PIM_SIGNED_OFFSET, 2, 3, PIM_ROUND_NEAREST);
    run_tiny(&hw, &c, 2, (int64_t[]){1}, 2, 0, 1);
    hw.adc_bits = 2;
    run_tiny(&hw, &c, 2, (int64_t[]){2}, 2, 0, 1);
    hw.adc_bits = 1;
    run_tiny(&hw, &c, 2, (int64_t[]){0}, 2, 0, 1);
    case_free(&c);
}

/*
 * Twos, 4-bit weights in 2-bit cells: slices 0 (bits 0-1) and 1 (bit 2 and
 * the sign bit 3, which is read as its own column): 3 columns per output.
 * w = [−3, 5]: patterns 1101 and 0101; slice 0 cells [1, 1], slice 1 low
 * bit cells [1, 1], sign cells [1, 0]. x = [1, 1]:
 *   p0 = 2, p1 = 2, psign = 1: ideal acc = 2 + 4·2 − 8·1 = 2 = −3 + 5.
 * ADC 1 bit (lossless 3, s = 2), nearest: (2+2)>>2 = 1 → 4 for p0 and p1,
 *   (1+2)>>2 = 0 for the sign: acc = 4 + 16 − 0 = 20.
 * Twos, 3-bit weights in 2-bit cells: the sign bit alone in slice 1, so 2
 *   columns: w = [−3, 2] = 101, 010: slice 0 [1, 2], slice 1 [1, 0]:
 *   p0 = 3, p1 = 1: acc = 3 − 4 = −1.
 */
static void test_tiny_twos(void **state)
{
    Case c = linear_case(1, 2, 1, 4, 1, true);
    c.w[0] = -3, c.w[1] = 5, c.x[0] = c.x[1] = 1, c.zx = 0;
    PimHardware hw = tiny_hw(PIM_SIGNED_TWOS, 2, 3, PIM_ROUND_NEAREST);
    run_tiny(&hw, &c, 4, (int64_t[]){2}, 3, 0, 1);
    hw.adc_bits = 1;
    run_tiny(&hw, &c, 4, (int64_t[]){20}, 3, 0, 1);
    c.w[0] = -3, c.w[1] = 2;
    hw.adc_bits = 3;
    run_tiny(&hw, &c, 3, (int64_t[]){-1}, 2, 0, 1);
    case_free(&c);
}

/* Calibrated: the step from an ideal run's largest partial sum clips
 * nothing; the accumulators are then multiples of the step's rounding. */
static void test_calibrated(void **state)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("isaac", &hw));
    hw.sign = PIM_SIGNED_OFFSET, hw.convention = PIM_CONV_PER_POSITION, hw.xbar_rows = 64, hw.xbar_cols = 64;
    hw.cell_bits = 2, hw.dac_bits = 1;
    Case c = conv_case(1, 16, 6, 6, 8, 3, 1, 1, 1, 1, 8, 8, true);
    int64_t *acc = malloc((size_t)c.nout * sizeof *acc);
    PimSimStats st;
    hw.adc_mode = PIM_ADC_IDEAL;
    simulate(&hw, &c, 8, 8, 0, acc, &st);
    assert_int_equal(st.max_abs_err, 0);
    hw.adc_mode = PIM_ADC_CALIBRATED, hw.adc_bits = 4;
    int64_t step = pim_adc_calibrated_step(&hw, st.psum_max);
    assert_true(step * 15 >= st.psum_max && (step - 1) * 15 < st.psum_max);
    simulate(&hw, &c, 8, 8, step, acc, &st);
    assert_int_equal(st.adc_clipped, 0);
    assert_true(st.max_abs_err > 0);
    /* step 1 with enough bits is exact */
    hw.adc_bits = 12;
    simulate(&hw, &c, 8, 8, 1, acc, &st);
    assert_int_equal(st.max_abs_err, 0);
    free(acc);
    case_free(&c);
}

/* A differential layer whose blocks say polarity 0: each is read as its
 * two arrays, the same accumulators and twice the reads of one array. */
static void test_differential_polarity0(void **state)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("mnsim", &hw));
    hw.xbar_rows = 40, hw.xbar_cols = 16;
    Case c = conv_case(1, 6, 7, 7, 5, 3, 2, 1, 1, 1, 7, 6, false);
    PimLayer L;
    cut_blocks(&hw, c.n, 7, 6, &L);
    int64_t n = 0;
    for (int64_t b = 0; b < L.nblocks; b++)
        if (L.blocks[b].polarity > 0)
            L.blocks[n] = L.blocks[b], L.blocks[n++].polarity = 0;
    L.nblocks = n;
    int64_t *acc = malloc((size_t)c.nout * sizeof *acc);
    char err[512];
    PimSimStats st;
    hw.adc_mode = PIM_ADC_IDEAL;
    PimXbarOptions o = {.check_exact = true};
    if (!pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, &o, acc, &st, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(st.max_abs_err, 0);
    assert_int_equal(st.xbar_evals, 2 * n * L.input_cycles * L.pixels);
    for (int64_t i = 0; i < c.nout; i++)
        assert_int_equal(acc[i], c.exact[i]);
    free(acc);
    free(L.blocks);
    case_free(&c);
}

/* Layers the simulator must refuse, with a message. */
static void test_refusals(void **state)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("isaac", &hw));
    hw.sign = PIM_SIGNED_DIFFERENTIAL;
    Case c = linear_case(1, 4, 2, 4, 4, false);
    PimLayer L;
    cut_blocks(&hw, c.n, 4, 4, &L);
    int64_t acc[2];
    char err[512];
    c.w[0] = -8; /* no 4-bit magnitude on a differential pair */
    assert_false(pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, NULL, acc, NULL, err, sizeof err));
    assert_non_null(strstr(err, "outside"));
    c.w[0] = 0, c.x[0] = 16;
    assert_false(pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, NULL, acc, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a 4-bit value"));
    c.x[0] = 0;
    L.nblocks--; /* a block missing */
    assert_false(pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, NULL, acc, NULL, err, sizeof err));
    assert_non_null(strstr(err, "cover"));
    L.nblocks++;
    hw.adc_mode = PIM_ADC_CALIBRATED;
    assert_false(pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, NULL, acc, NULL, err, sizeof err));
    assert_non_null(strstr(err, "step"));
    free(L.blocks);
    case_free(&c);
}

/* ---- speed ---- */

/* A ResNet-like 3x3 conv 128 -> 128 at 28x28, 8-bit weights and inputs,
 * 2-bit cells, 1-bit DAC, 128x128 crossbars, offset weights: prints MACs/s
 * (the ResNet-18 budget is 1.8 G MACs in well under 30 s). */
static void test_speed(void **state)
{
    PimHardware hw;
    assert_true(pim_hardware_preset("isaac", &hw));
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++) {
        hw.sign = (PimSigned)sign;
        Case c = conv_case(1, 128, 28, 28, 128, 3, 1, 1, 1, 1, 8, 8, sign != PIM_SIGNED_DIFFERENTIAL);
        PimLayer L;
        cut_blocks(&hw, c.n, 8, 8, &L);
        int64_t *acc = malloc((size_t)c.nout * sizeof *acc);
        char err[512];
        PimSimStats st;
        double s = INFINITY;
        for (int rep = 0; rep < 3; rep++) { /* the best of 3, in CPU time: the machine may be shared */
            struct timespec t0, t1;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
            assert_true(pim_xbar_layer(&hw, &L, c.w, c.x, c.zx, NULL, acc, &st, err, sizeof err));
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
            double t = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            s = t < s ? t : s;
        }
        double macs = 128.0 * 128 * 9 * 28 * 28;
        printf("test_pim_sim: 3x3 conv 128->128 28x28, %s, 2-bit cells: %.3f s, %.0f M MACs/s, "
               "%.1f M conversions/s\n", pim_signed_name(hw.sign), s, macs / s / 1e6,
               (double)st.adc_conversions / s / 1e6);
        for (int64_t i = 0; i < c.nout; i++)
            if (acc[i] != c.exact[i] && hw.adc_bits >= pim_lossless_adc_bits(&hw, 128))
                fail_msg("speed case not exact at %lld", (long long)i);
        free(acc);
        free(L.blocks);
        case_free(&c);
    }
}

/* ---- pim_sim_run against the interpreter ---- */

static IrValue *bound(IrGraph *g, const char *key, DType dt, Shape s)
{
    IrValue *v = ir_add_param(g, arena_strdup(g->arena, key), dt, s, here());
    assert_non_null(v);
    ir_bind(v, tensor_new(dt, &s));
    return v;
}

static IrQuant *act_quant(IrGraph *g, const char *key, float scale, int32_t zero)
{
    char k[128];
    IrQuant *q = arena_alloc(g->arena, sizeof *q);
    snprintf(k, sizeof k, "%s.scale", key);
    *q = (IrQuant){.bits = 8, .axis = -1, .scale = bound(g, k, DT_F32, SH(1, 1))};
    *(float *)q->scale->data->data = scale;
    snprintf(k, sizeof k, "%s.zero_point", key);
    q->zero_point = bound(g, k, DT_I32, SH(1, 1));
    *(int32_t *)q->zero_point->data->data = zero;
    return q;
}

/* An integer layer with random int8 weights, an i32 bias and mult spreading
 * the results over the u8 range; bits 8: a u8 result, 0: f32. */
static IrValue *qlayer(IrGraph *g, OpKind op, const char *name, const char *attrs, IrValue *x, Shape ws,
                       int64_t fan_in, int bits)
{
    char key[128], full[300];
    int64_t oc = ws.d[0];
    snprintf(key, sizeof key, "%s.weight", name);
    IrValue *w = bound(g, key, DT_I8, ws);
    for (int64_t i = 0; i < tensor_numel(w->data); i++)
        ((int8_t *)w->data->data)[i] = (int8_t)pick(-127, 127);
    w->quant = arena_alloc(g->arena, sizeof *w->quant);
    snprintf(key, sizeof key, "%s.weight.scale", name);
    *w->quant = (IrQuant){.bits = 8, .is_signed = true, .axis = 0, .scale = bound(g, key, DT_F32, SH(1, oc))};
    snprintf(key, sizeof key, "%s.bias", name);
    IrValue *b = bound(g, key, DT_I32, SH(1, oc));
    snprintf(key, sizeof key, "%s.mult", name);
    IrValue *m = bound(g, key, DT_F32, SH(1, oc));
    double acc_sd = sqrt((double)fan_in) * 127 / sqrt(3.0) * 74;
    for (int64_t o = 0; o < oc; o++) {
        ((int32_t *)b->data->data)[o] = (int32_t)pick(-(int64_t)acc_sd, (int64_t)acc_sd);
        ((float *)m->data->data)[o] = (float)((bits ? 90.0 : 3.0) * (1.2 + uniform()) / acc_sd);
        ((float *)w->quant->scale->data->data)[o] = 0.01f;
    }
    snprintf(full, sizeof full, "%s bias=true bits=%d", attrs, bits);
    IrValue *in[4] = {x, w, b, m};
    IrValue *y = add_node(g, op, arena_strdup(g->arena, name), full, 4, in, here())->out;
    if (bits) {
        snprintf(key, sizeof key, "%s.out", name);
        y->quant = act_quant(g, key, 0.05f, 3);
    }
    return y;
}

/* x -> quantize -> qconv2d 3x3 padded (u8, relu) -> qconv2d 2x2 stride 2,
 * 2 groups (u8) -> qlinear on the last axis (f32) -> output, and the first
 * layer's result dequantized as a second output. */
static IrGraph *int_graph(void)
{
    IrGraph *g = ir_graph_new("pim_sim");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 5, 7, 6), here());
    IrValue *q = add_node(g, OP_QUANTIZE, NULL, "bits=8 signed=false", 1, &x, here())->out;
    q->quant = act_quant(g, "x", 2.0f / 255, 117);
    IrValue *y1 = qlayer(g, OP_QCONV2D, "c1", "out_channels=6 kernel_size=3 padding=1 stride=1 act=relu", q,
                         SH(4, 6, 5, 3, 3), 45, 8);
    IrValue *y2 = qlayer(g, OP_QCONV2D, "c2", "out_channels=4 kernel_size=2 stride=2 groups=2", y1, SH(4, 4, 3, 2, 2),
                         12, 8);
    IrValue *y3 = qlayer(g, OP_QLINEAR, "fc", "out_features=5", y2, SH(2, 5, 3), 3, 0);
    ir_add_output(g, "y", y3);
    ir_add_output(g, "mid", add_node(g, OP_DEQUANTIZE, NULL, "", 1, &y1, here())->out);
    return g;
}

static void test_pim_sim_run_matches_interp(void **state)
{
    IrGraph *g = int_graph();
    Captured cap;
    cap_open(&cap);
    if (!ir_verify(g, cap.d))
        fail_msg("the test graph does not verify:\n%s", cap_text(&cap));
    Tensor *in = tensor_new(DT_F32, &g->inputs[0]->shape);
    for (int64_t k = 0; k < tensor_numel(in); k++)
        ((float *)in->data)[k] = 1.2f * uniform();
    Tensor *want[2] = {0};
    if (!rt_interp_run(g, &in, want, cap.d))
        fail_msg("reference failed:\n%s", cap_text(&cap));
    for (int sign = 0; sign < PIM_SIGNED__COUNT; sign++)
        for (int conv = 0; conv < PIM_CONV__COUNT; conv++)
            for (int mode = 0; mode < 2; mode++) {
                PimProgram p = {.graph = g};
                assert_true(pim_hardware_preset("isaac", &p.hw));
                p.hw.sign = (PimSigned)sign, p.hw.convention = (PimConvention)conv;
                p.hw.xbar_rows = 16, p.hw.xbar_cols = 8, p.hw.cell_bits = 2;
                p.hw.adc_mode = mode ? PIM_ADC_FULLSCALE : PIM_ADC_IDEAL;
                p.hw.adc_bits = pim_lossless_adc_bits(&p.hw, p.hw.xbar_rows);
                PimLayer layers[3];
                int nl = 0;
                for (int i = 0; i < g->nnodes; i++)
                    if (g->nodes[i]->op == OP_QCONV2D || g->nodes[i]->op == OP_QLINEAR)
                        cut_blocks(&p.hw, g->nodes[i], sign == PIM_SIGNED_DIFFERENTIAL ? 8 : 8, 8, &layers[nl++]);
                p.layers = layers, p.nlayers = nl;
                Tensor *got[2] = {0};
                PimSimOptions opt = {.check_exact = true, .check_output = true};
                PimSimReport rep;
                if (!pim_sim_run(&p, &in, got, &opt, &rep, cap.d))
                    fail_msg("pim_sim_run failed:\n%s", cap_text(&cap));
                for (int o = 0; o < 2; o++) {
                    assert_int_equal(tensor_numel(got[o]), tensor_numel(want[o]));
                    if (memcmp(got[o]->data, want[o]->data, (size_t)tensor_numel(got[o]) * sizeof(float)))
                        fail_msg("%s %s %s: output %d differs from the interpreter's", pim_signed_name(p.hw.sign),
                                 pim_convention_name(p.hw.convention), pim_adc_mode_name(p.hw.adc_mode), o);
                    tensor_free(got[o]);
                }
                assert_int_equal(rep.nlayers, 3);
                for (int l = 0; l < 3; l++) {
                    assert_int_equal(rep.layers[l].runs, 1);
                    assert_true(rep.layers[l].stats.exact_checked && rep.layers[l].output_checked);
                    assert_int_equal(rep.layers[l].stats.max_abs_err, 0);
                    assert_true(rep.layers[l].out_max_abs_err == 0);
                    assert_true(rep.layers[l].stats.adc_conversions > 0);
                }
                assert_int_equal(rep.total.max_abs_err, 0);
                pim_sim_report_free(&rep);
                for (int l = 0; l < nl; l++)
                    free(layers[l].blocks);
            }
    /* At 3 ADC bits the crossbars lose bits: the report says by how much. */
    PimProgram p = {.graph = g};
    assert_true(pim_hardware_preset("isaac", &p.hw));
    p.hw.xbar_rows = 16, p.hw.xbar_cols = 8, p.hw.adc_bits = 3;
    PimLayer layers[3];
    int nl = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == OP_QCONV2D || g->nodes[i]->op == OP_QLINEAR)
            cut_blocks(&p.hw, g->nodes[i], 8, 8, &layers[nl++]);
    p.layers = layers, p.nlayers = nl;
    Tensor *got[2] = {0};
    PimSimOptions opt = {.check_exact = true, .check_output = true};
    PimSimReport rep;
    assert_true(pim_sim_run(&p, &in, got, &opt, &rep, cap.d));
    assert_true(rep.layers[0].stats.max_abs_err > 0 && rep.layers[0].out_max_abs_err > 0);
    pim_sim_report_free(&rep);
    tensor_free(got[0]), tensor_free(got[1]);
    for (int l = 0; l < nl; l++)
        free(layers[l].blocks);
    tensor_free(want[0]), tensor_free(want[1]);
    tensor_free(in);
    free(cap_finish(&cap));
    ir_graph_free(g);
}

/* A float conv2d as a crossbar layer: an error naming it. */
static void test_pim_sim_run_float_layer(void **state)
{
    IrGraph *g = ir_graph_new("float");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 4, 4), here());
    IrValue *w = bound(g, "conv1.weight", DT_F32, SH(4, 3, 2, 3, 3));
    IrValue *in[2] = {x, w};
    IrNode *n = add_node(g, OP_CONV2D, "conv1", "out_channels=3 kernel_size=3 bias=false", 2, in, here());
    ir_add_output(g, "y", n->out);
    PimProgram p = {.graph = g};
    assert_true(pim_hardware_preset("isaac", &p.hw));
    PimLayer L;
    cut_blocks(&p.hw, n, 8, 8, &L);
    p.layers = &L, p.nlayers = 1;
    Tensor *t = tensor_new(DT_F32, &x->shape), *out = NULL;
    Captured cap;
    cap_open(&cap);
    assert_false(pim_sim_run(&p, &t, &out, NULL, NULL, cap.d));
    assert_null(out);
    char *msg = cap_finish(&cap);
    if (!strstr(msg, "'conv1' is not quantized: run the quantize and integerize passes first"))
        fail_msg("unexpected message: %s", msg);
    free(msg);
    free(L.blocks);
    tensor_free(t);
    ir_graph_free(g);
}

int main(void)
{
    test_rng_state = 0x5eed5eedcafef00dull;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_differential),
        cmocka_unit_test(test_tiny_offset),
        cmocka_unit_test(test_tiny_twos),
        cmocka_unit_test(test_random_convs_exact),
        cmocka_unit_test(test_random_linears_exact),
        cmocka_unit_test(test_all_widths_exact),
        cmocka_unit_test(test_error_grows_as_adc_bits_drop),
        cmocka_unit_test(test_below_bound_not_exact),
        cmocka_unit_test(test_calibrated),
        cmocka_unit_test(test_differential_polarity0),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_pim_sim_run_matches_interp),
        cmocka_unit_test(test_pim_sim_run_float_layer),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
