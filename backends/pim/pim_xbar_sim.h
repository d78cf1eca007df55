/*
 * pim_xbar_sim.h — one crossbar layer evaluated the way the hardware does
 * it (../shared/research/pim.md §2.1, §3.4): block by block as the mapping
 * placed it, bit-serial inputs of b_d bits per cycle, weights in bit slices
 * of b_c-bit cells, every column partial sum through the ADC model, then
 * shift-and-add and the digital zero-point correction.
 *
 * The result is the layer's accumulator without bias,
 *   acc[o] = Σ_k (x_k − zx)·w_k[o]
 * as the crossbars and the ADCs deliver it: exactly that integer when the
 * ADC is ideal or has at least the lossless bits of every block, an
 * approximation of it otherwise. pim_sim.c runs whole graphs with it.
 */
#ifndef NETC_PIM_XBAR_SIM_H
#define NETC_PIM_XBAR_SIM_H

#include "pim.h"

#include <stddef.h>

/* What one layer's simulation did. Counts are over the whole call (every
 * image and output pixel); a differential pair's two arrays count apart. */
typedef struct PimSimStats {
    int64_t xbar_evals;      /* crossbar reads: blocks x input cycles x pixels */
    int64_t adc_conversions; /* column conversions, dummy and sign columns included */
    int64_t adc_clipped;     /* conversions whose round(p/Δ) exceeded the top code 2^b_adc − 1 */
    int64_t psum_max;        /* the largest column partial sum seen (calibration) */
    bool exact_checked;      /* max_abs_err below was computed */
    int64_t max_abs_err;     /* max |acc − exact| over all outputs */
} PimSimStats;

/* Per call choices beyond the hardware description. */
typedef struct PimXbarOptions {
    /* The ADC step Δ of this layer in calibrated mode (>= 1, in units of the
     * column partial sum): q = clamp(round(p/Δ), 0, 2^b_adc − 1)·Δ. An
     * integer so that acc stays an integer; pim_adc_calibrated_step gives
     * the usual choice from a calibration run's psum_max. Unused by the
     * other modes. */
    int64_t adc_step;
    /* Also compute the exact sum and stats->max_abs_err (a plain integer
     * convolution: about the cost of the simulation again). */
    bool check_exact;
} PimXbarOptions;

/*
 * Evaluates layer L (a conv2d / qconv2d / linear / qlinear mapped by
 * pim_map) on hw:
 *   w   the layer weight as PyTorch stores it, [cout, cin/groups, kh, kw] or
 *       [out, in], every value a signed b_w-bit integer (b_w =
 *       L->weight_bits): |w| <= 2^(b_w−1) − 1 on a differential pair,
 *       −2^(b_w−1) allowed by offset and twos;
 *   x   the layer input, NCHW [batch, cin, h, w] (linear: [batch*pixels,
 *       in]), every value < 2^(L->act_bits);
 *   zx  the input zero point: padding pixels read as zx, and the digital
 *       side subtracts zx·Σ_k w_k[o];
 *   opt NULL for the defaults (no step, no exact check);
 *   acc out: one int64 per output element, in the result's layout
 *       [batch, cout, oh, ow] or [batch*pixels, out];
 *   stats NULL or filled (zeroed first).
 * Convolution geometry (stride, padding, dilation, input size) comes from
 * L->node. False with a message in err when L, its blocks, hw or the
 * values disagree (a block outside its matrix, blocks not covering the
 * matrices, a weight or input out of its range, ...).
 *
 * Signed weights (hw->sign), with S slices of b_c bits, s_top = the slice
 * holding bit b_w − 1:
 *   differential  |w| in b_w − 1 bits sliced on the block's array: blocks
 *                 of polarity +1 hold the w > 0, of polarity −1 the w < 0
 *                 (polarity 0 under differential: both arrays, as two
 *                 reads); each array's columns are converted on their own
 *                 and the −1 array's results subtracted digitally.
 *   offset        u = w + 2^(b_w−1) in b_w bits, sliced unsigned. Each
 *                 block has one dummy column on the same rows whose every
 *                 cell holds the offset's one nonzero slice (2^((b_w−1) mod
 *                 b_c) in slice s_top); it is converted by the same ADC
 *                 each cycle and its result, times 2^(s_top·b_c), is
 *                 subtracted from every output whose slice s_top lies in
 *                 the block (NeuroSim's dummy column): 1 extra column and
 *                 conversion per block and cycle.
 *   twos          u = w mod 2^b_w sliced unsigned, except that the sign bit
 *                 (worth −2^(b_w−1)) is read as its own column of 0/1 cells
 *                 and subtracted, times 2^(b_w−1). When (b_w − 1) mod b_c =
 *                 0 the sign bit is alone in slice s_top, so that slice is
 *                 simply subtracted: no extra column. Otherwise slice s_top
 *                 is read as two columns (its lower bits, added; the sign
 *                 bit, subtracted): 1 extra column and conversion per
 *                 output and cycle in the block holding its slice s_top.
 *
 * The offset dummy column and the twos sign columns are not in the
 * mapping's matrices (matrix_cols = cout_g * S): they are read here on the
 * rows of the block they serve, and counted in stats->adc_conversions.
 *
 * ADC (hw->adc_mode, hw->adc_bits = b, hw->rounding), per column partial
 * sum p of one input cycle and one slice:
 *   ideal       q = p;
 *   fullscale   Δ = 2^s, s = max(0, pim_lossless_adc_bits(block rows) − b);
 *   calibrated  Δ = opt->adc_step;
 *   then        q = clamp(round(p/Δ), 0, 2^b − 1)·Δ, round = floor(p/Δ +
 *               1/2) (half up) under PIM_ROUND_NEAREST, floor(p/Δ) under
 *               PIM_ROUND_FLOOR.
 * Shift-and-add: acc += ±2^(i·b_d + j·b_c)·q for cycle i and slice j.
 */
bool pim_xbar_layer(const PimHardware *hw, const PimLayer *L, const int8_t *w, const uint8_t *x,
                    int32_t zx, const PimXbarOptions *opt, int64_t *acc, PimSimStats *stats, char *err,
                    size_t errlen);

/* The calibrated step for a layer whose largest partial sum in a
 * calibration run was psum_max: the smallest integer Δ >= 1 with
 * (2^b_adc − 1)·Δ >= psum_max, so that nothing seen clips. */
int64_t pim_adc_calibrated_step(const PimHardware *hw, int64_t psum_max);

#endif
