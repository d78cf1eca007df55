/*
 * pim_xbar_sim.c — the functional crossbar simulator; see pim_xbar_sim.h
 * for the model (signed schemes, ADC modes, shift-and-add).
 *
 * Speed comes from bit planes. Each cell bit of a column is stored as a
 * bitset over the block's rows (uint64 words), and each bit of the inputs
 * as a bitset over the same rows, so the analog column sum of one input
 * cycle and one slice is
 *   p = Σ_{d < b_d} Σ_{c < b_c} 2^(d+c) · popcount(X_{i·b_d+d} & W_c)
 * — exactly what the crossbar sums, at 64 rows per instruction. Per output
 * pixel the inputs are gathered once per matrix (im2col of that pixel's
 * rows, padding as zx) and turned into bit planes once per distinct row
 * range of the blocks; then every block reads every one of its columns in
 * every input cycle, through the ADC, as the hardware does. Nothing the
 * hardware converts is skipped (all-zero columns still go through the ADC);
 * only cell bit planes that cannot hold a one (the unused top bits of a
 * slice) are left out of the popcounts, which changes no sum.
 *
 * Pixels go in batches of PIX_BATCH, so each column's planes are loaded
 * once per batch; the loop is specialized per ADC mode, words per plane
 * and planes per column. Measured on one core of a shared AMD EPYC:
 * ResNet-18 at 224x224 (1.8 G MACs, 8-bit, 2-bit cells, 1-bit DAC, 128x128)
 * in about 3 s (offset, im2col) to 10 s (twos, per-position, where conv1's
 * 3-row matrices make 13 conversions per MAC).
 */
#include "pim_xbar_sim.h"

#include "../../ir/geometry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

/* One column the ADC reads: an output's slice, a twos sign column, or a
 * block's offset dummy column. Its cell bits plane0 .. plane0+nplanes−1
 * are planes[0 .. nplanes) (nw words each); its converted value enters the
 * accumulator of `out` (the block's dummy targets when out < 0) times
 * ±2^shift. */
typedef struct ReadCol {
    int32_t out;
    int shift, plane0, nplanes;
    bool neg, sign_bit; /* sign_bit: a twos sign column (cells hold w < 0) */
    uint64_t *planes;
} ReadCol;

/* The distinct (matrix, row range) of the blocks: the unit of input bit
 * planes. */
typedef struct RowSet {
    int64_t matrix, row0, row1;
    int nw;
} RowSet;

typedef struct SimBlock {
    int rowset, nw;
    int adc_shift; /* fullscale: s */
    int ncols;
    ReadCol *cols;
    int ntargets;  /* offset: the outputs the dummy column is subtracted from */
    int32_t *targets;
} SimBlock;

/* The ADC of one layer: q = clamp(round(p/step), 0, top)·step. */
typedef struct Adc {
    PimAdcMode mode;
    bool nearest;
    int64_t top, step;
} Adc;

/* The layer as the simulator walks it. */
typedef struct Sim {
    const PimHardware *hw;
    const PimLayer *L;
    GeomConv2d g;     /* linear: n = rows, c = in, h = w = oh = ow = 1 */
    bool conv;
    int64_t cig, cog, K, S;
    int bw, ba, bd, bc, T;
    Adc adc;
    int64_t nrowsets;
    RowSet *rowsets;
    int64_t nblocks;
    SimBlock *blocks;
    uint64_t *plane_mem; /* every ReadCol's planes */
    int64_t *colsum;     /* Σ_k w_k[o], for the zero-point correction */
} Sim;

static int64_t words_of(int64_t rows) { return (rows + 63) / 64; }

/* ---- the weight as cells ---- */

/* The group, input channel of the group and kernel position of row r of
 * matrix m, and the output of the group and slice of column k. */
static void row_of(const Sim *s, int64_t m, int64_t r, int64_t *grp, int64_t *c, int64_t *p)
{
    if (s->hw->convention == PIM_CONV_PER_POSITION)
        *grp = m / s->K, *p = m % s->K, *c = r;
    else
        *grp = m, *c = r / s->K, *p = r % s->K;
}

static void col_of(const Sim *s, int64_t k, int64_t *o, int64_t *slice)
{
    if (s->L->col_order == PIM_COLS_SLICE_MAJOR)
        *slice = k / s->cog, *o = k % s->cog;
    else
        *o = k / s->S, *slice = k % s->S;
}

/* The unsigned value the cells of slice `slice` hold for weight v on an
 * array of polarity pol (see the header for each scheme); twos: without the
 * sign bit, which the output's sign column holds. */
static unsigned cell_value(const Sim *s, int v, int pol, int64_t slice)
{
    unsigned u, mask = (1u << s->bc) - 1;
    switch (s->hw->sign) {
    case PIM_SIGNED_DIFFERENTIAL: u = pol > 0 ? (v > 0 ? (unsigned)v : 0) : (v < 0 ? (unsigned)-v : 0); break;
    case PIM_SIGNED_OFFSET: u = (unsigned)(v + (1 << (s->bw - 1))); break;
    default: u = (unsigned)v & ((1u << (s->bw - 1)) - 1); break;
    }
    return (u >> (slice * s->bc)) & mask;
}

/* Bits a slice's cells can hold: b_w − 1 (differential magnitude, twos
 * below the sign bit) or b_w (offset) bits are stored, b_c per slice. */
static int slice_planes(const Sim *s, int64_t slice)
{
    int stored = s->hw->sign == PIM_SIGNED_OFFSET ? s->bw : s->bw - 1;
    int left = stored - (int)slice * s->bc;
    return left < 0 ? 0 : left > s->bc ? s->bc : left;
}

/* ---- setup: checks, row sets, columns, planes ---- */

static bool check_layer(Sim *s, char *err, size_t errlen)
{
    const PimHardware *hw = s->hw;
    const PimLayer *L = s->L;
    if (!L->node)
        FAIL("layer '%s' has no node", L->name ? L->name : "?");
    OpKind op = L->node->op;
    s->conv = op == OP_CONV2D || op == OP_QCONV2D;
    if (!s->conv && op != OP_LINEAR && op != OP_QLINEAR)
        FAIL("layer '%s' is a %s, not a conv2d or linear", L->name, op_info(op)->name);
    if (s->conv) {
        if (!geom_conv2d_from_node(L->node, &s->g))
            FAIL("layer '%s': its convolution geometry is invalid", L->name);
        if (s->g.c != L->cin || s->g.oc != L->cout || s->g.kh != L->kh || s->g.kw != L->kw ||
            s->g.groups != L->groups || s->g.oh * s->g.ow != L->pixels || s->g.n != L->batch)
            FAIL("layer '%s': cin, cout, kernel, groups, pixels or batch disagree with its node", L->name);
    } else {
        if (L->kh != 1 || L->kw != 1 || L->groups != 1)
            FAIL("layer '%s': a linear layer has kh = kw = groups = 1", L->name);
        s->g = (GeomConv2d){.n = L->batch * L->pixels, .c = L->cin, .h = 1, .w = 1, .oc = L->cout, .oh = 1,
                            .ow = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
    }
    if (L->cin < 1 || L->cout < 1 || L->groups < 1 || L->cin % L->groups || L->cout % L->groups)
        FAIL("layer '%s': groups must divide cin and cout", L->name);
    s->cig = L->cin / L->groups, s->cog = L->cout / L->groups, s->K = L->kh * L->kw;
    s->bw = L->weight_bits, s->ba = L->act_bits, s->bd = hw->dac_bits, s->bc = hw->cell_bits;
    if (s->bw < 2 || s->bw > 8 || s->ba < 1 || s->ba > 8)
        FAIL("layer '%s': the simulator takes 2..8-bit weights and 1..8-bit inputs, got %d and %d", L->name,
             s->bw, s->ba);
    if (s->bc < 1 || s->bc > 8 || s->bd < 1 || s->bd > 8)
        FAIL("layer '%s': cell and DAC bits must be in 1..8", L->name);
    s->S = pim_weight_slices(hw, s->bw);
    s->T = pim_input_cycles(hw, s->ba);
    bool per_pos = hw->convention == PIM_CONV_PER_POSITION;
    int64_t matrices = per_pos ? L->groups * s->K : L->groups, rows = per_pos ? s->cig : s->cig * s->K;
    PimColOrder order = hw->convention == PIM_CONV_WHOLE_KERNEL ? PIM_COLS_SLICE_MAJOR : PIM_COLS_OUTPUT_MAJOR;
    if (L->slices != s->S || L->input_cycles != s->T || L->polarities != pim_polarities(hw))
        FAIL("layer '%s': slices, input cycles or polarities disagree with the hardware", L->name);
    if (L->matrices != matrices || L->matrix_rows != rows || L->matrix_cols != s->cog * s->S ||
        L->col_order != order)
        FAIL("layer '%s': its matrices are not %lld of %lld x %lld in the %s convention's orders", L->name,
             (long long)matrices, (long long)rows, (long long)(s->cog * s->S),
             pim_convention_name(hw->convention));
    return true;
}

/* Every block inside its matrix, of its polarity, and together covering
 * every matrix once per array: the areas must add up (a cheap check that
 * catches a missing or doubled block; overlaps that cancel a gap do not
 * get through the bounds checks in practice). */
static bool check_blocks(const Sim *s, char *err, size_t errlen)
{
    const PimLayer *L = s->L;
    bool diff = s->hw->sign == PIM_SIGNED_DIFFERENTIAL;
    int64_t area[2] = {0, 0};
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *B = &L->blocks[b];
        if (B->matrix < 0 || B->matrix >= L->matrices || B->row0 < 0 || B->row0 >= B->row1 ||
            B->row1 > L->matrix_rows || B->col0 < 0 || B->col0 >= B->col1 || B->col1 > L->matrix_cols)
            FAIL("layer '%s': block %lld (matrix %d rows [%lld, %lld) columns [%lld, %lld)) is outside its "
                 "%lld x %lld matrix",
                 L->name, (long long)b, B->matrix, (long long)B->row0, (long long)B->row1, (long long)B->col0,
                 (long long)B->col1, (long long)L->matrix_rows, (long long)L->matrix_cols);
        if (B->polarity != 0 && (!diff || (B->polarity != 1 && B->polarity != -1)))
            FAIL("layer '%s': block %lld has polarity %d under %s weights", L->name, (long long)b, B->polarity,
                 pim_signed_name(s->hw->sign));
        int64_t a = (B->row1 - B->row0) * (B->col1 - B->col0);
        if (B->polarity >= 0)
            area[0] += a;
        if (B->polarity <= 0)
            area[1] += a;
    }
    int64_t want = L->matrices * L->matrix_rows * L->matrix_cols;
    if (area[0] != want || (diff && area[1] != want))
        FAIL("layer '%s': its blocks cover %lld cells of its matrices%s, which have %lld", L->name,
             (long long)area[0], diff ? " (positive array)" : "", (long long)want);
    return true;
}

static int rowset_of(Sim *s, const PimBlock *B)
{
    for (int64_t i = s->nrowsets - 1; i >= 0; i--) /* blocks of one row range tend to be adjacent */
        if (s->rowsets[i].matrix == B->matrix && s->rowsets[i].row0 == B->row0 && s->rowsets[i].row1 == B->row1)
            return (int)i;
    s->rowsets[s->nrowsets] = (RowSet){B->matrix, B->row0, B->row1, (int)words_of(B->row1 - B->row0)};
    return (int)s->nrowsets++;
}

/* The read columns of block B on the array of polarity pol; with out ==
 * NULL only counts them and their planes. */
static int block_cols(const Sim *s, const PimBlock *B, int pol, ReadCol *out, int64_t *planes)
{
    int n = 0;
    int64_t np = 0;
    int64_t top = (s->bw - 1) / s->bc; /* s_top */
    bool twos = s->hw->sign == PIM_SIGNED_TWOS;
    for (int64_t k = B->col0; k < B->col1; k++) {
        int64_t grp, c, p, o, slice;
        row_of(s, B->matrix, B->row0, &grp, &c, &p); /* the group: the same for every row */
        col_of(s, k, &o, &slice);
        int32_t out_ch = (int32_t)(grp * s->cog + o);
        int nbits = slice_planes(s, slice);
        if (!(twos && slice == top && nbits == 0)) { /* the slice's cells proper */
            if (out)
                out[n] = (ReadCol){.out = out_ch, .shift = (int)slice * s->bc, .nplanes = nbits, .neg = pol < 0};
            n++, np += nbits;
        }
        if (twos && slice == top) { /* the sign bit, worth −2^(b_w−1) */
            if (out)
                out[n] = (ReadCol){.out = out_ch, .shift = s->bw - 1, .nplanes = 1, .neg = true, .sign_bit = true};
            n++, np += 1;
        }
    }
    if (s->hw->sign == PIM_SIGNED_OFFSET) { /* the dummy column */
        if (out)
            out[n] = (ReadCol){.out = -1, .shift = (int)top * s->bc, .plane0 = (s->bw - 1) % s->bc, .nplanes = 1,
                               .neg = true};
        n++, np += 1;
    }
    *planes = np;
    return n;
}

/* Bit b of each of the 8 bytes of chunk, as 8 bits (byte k to bit k): the
 * bytes' bits land on distinct positions of the product, so nothing
 * carries. */
static inline uint64_t byte_bits(uint64_t chunk, int b)
{
    return (((chunk >> b) & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56;
}

/* Fills the planes of column rc of block B (rows [row0, row1) of its
 * matrix, bit r − row0 of each word array): the cell values of the rows
 * into tmp (zero-padded to a multiple of 8), then 8 rows per step. */
static void fill_planes(const Sim *s, const PimBlock *B, int pol, int64_t k, ReadCol *rc, const int8_t *w,
                        uint8_t *tmp)
{
    int64_t rows = B->row1 - B->row0;
    int nw = (int)words_of(rows);
    memset(tmp, 0, (size_t)(rows + 8));
    if (rc->out < 0)
        memset(tmp, 1 << rc->plane0, (size_t)rows); /* dummy: the offset's slice in every cell */
    else {
        int64_t o, slice, grp, c, p;
        col_of(s, k, &o, &slice);
        row_of(s, B->matrix, B->row0, &grp, &c, &p);
        /* Consecutive rows are consecutive weights (r = c*K + p), or K
         * apart under per-position (r = c). */
        int64_t stride = s->hw->convention == PIM_CONV_PER_POSITION ? s->K : 1;
        const int8_t *wr = w + ((grp * s->cog + o) * s->cig + c) * s->K + p;
        for (int64_t r = 0; r < rows; r++) {
            int wv = wr[r * stride];
            tmp[r] = (uint8_t)(rc->sign_bit ? (unsigned)(wv < 0) : cell_value(s, wv, pol, slice));
        }
    }
    for (int64_t r = 0; r < rows; r += 8) {
        uint64_t chunk;
        memcpy(&chunk, tmp + r, 8);
        for (int q = 0; q < rc->nplanes; q++)
            rc->planes[q * nw + r / 64] |= byte_bits(chunk, rc->plane0 + q) << (r % 64);
    }
}

static bool check_values(const Sim *s, const int8_t *w, const uint8_t *x, int32_t zx, char *err, size_t errlen)
{
    const PimLayer *L = s->L;
    int lo = s->hw->sign == PIM_SIGNED_DIFFERENTIAL ? -(1 << (s->bw - 1)) + 1 : -(1 << (s->bw - 1));
    int hi = (1 << (s->bw - 1)) - 1;
    int64_t nw = L->cout * s->cig * s->K;
    for (int64_t i = 0; i < nw; i++)
        if (w[i] < lo || w[i] > hi)
            FAIL("layer '%s': weight %lld is %d, outside [%d, %d] (%d-bit %s)", L->name, (long long)i, w[i], lo, hi,
                 s->bw, pim_signed_name(s->hw->sign));
    /* A block the program left out must hold only zeros: weights for
     * another program would otherwise lose their products silently. */
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *B = &L->blocks[b];
        for (int64_t r = B->row0; B->xbar == PIM_SKIPPED && r < B->row1; r++)
            for (int64_t k = B->col0; k < B->col1; k++) {
                int64_t i = pim_weight_index(L, s->hw->convention, B->matrix, r, k);
                if (w[i])
                    FAIL("layer '%s': block %lld is skipped by the program (its weights were zero) but weight "
                         "element %lld is %d: these are not the weights it was mapped with",
                         L->name, (long long)b, (long long)i, w[i]);
            }
    }
    int64_t nx = s->g.n * s->g.c * s->g.h * s->g.w;
    for (int64_t i = 0; i < nx; i++)
        if (x[i] >> s->ba)
            FAIL("layer '%s': input %lld is %d, not a %d-bit value", L->name, (long long)i, x[i], s->ba);
    if (zx < 0 || zx >> s->ba)
        FAIL("layer '%s': the zero point %d is not a %d-bit value", L->name, (int)zx, s->ba);
    return true;
}

static bool sim_setup(Sim *s, const int8_t *w, int64_t adc_step, char *err, size_t errlen)
{
    const PimHardware *hw = s->hw;
    const PimLayer *L = s->L;
    bool diff = hw->sign == PIM_SIGNED_DIFFERENTIAL;
    if (hw->adc_mode != PIM_ADC_IDEAL && (hw->adc_bits < 1 || hw->adc_bits > 40))
        FAIL("layer '%s': ADC bits must be in 1..40, got %d", L->name, hw->adc_bits);
    if (hw->adc_mode == PIM_ADC_CALIBRATED && adc_step < 1)
        FAIL("layer '%s': a calibrated ADC needs a step >= 1 (pim_adc_calibrated_step)", L->name);
    s->adc = (Adc){hw->adc_mode, hw->rounding == PIM_ROUND_NEAREST, ((int64_t)1 << hw->adc_bits) - 1,
                   adc_step};
    /* A polarity-0 block of a differential pair is read as its two arrays. */
    int64_t nsb = 0;
    for (int64_t b = 0; b < L->nblocks; b++)
        nsb += L->blocks[b].xbar == PIM_SKIPPED ? 0 : diff && L->blocks[b].polarity == 0 ? 2 : 1;
    s->rowsets = xcalloc((size_t)nsb, sizeof *s->rowsets);
    s->blocks = xcalloc((size_t)nsb, sizeof *s->blocks);
    int64_t total_planes = 0;
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *B = &L->blocks[b];
        if (B->xbar == PIM_SKIPPED)
            continue; /* zero weights (check_values): nothing to read */
        for (int pol = 1; pol >= -1; pol -= 2) {
            int bp = diff ? (B->polarity ? B->polarity : pol) : 0;
            if (diff && B->polarity && bp != pol)
                continue;
            int64_t np;
            SimBlock *sb = &s->blocks[s->nblocks++];
            sb->rowset = rowset_of(s, B);
            sb->nw = s->rowsets[sb->rowset].nw;
            sb->ncols = block_cols(s, B, bp, NULL, &np);
            total_planes += np * sb->nw;
            if (!diff)
                break;
        }
    }
    s->plane_mem = xcalloc((size_t)total_planes + 1, sizeof *s->plane_mem);
    uint64_t *pm = s->plane_mem;
    uint8_t *tmp = xmalloc((size_t)L->matrix_rows + 16);
    int64_t sbi = 0;
    int64_t top = (s->bw - 1) / s->bc;
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *B = &L->blocks[b];
        if (B->xbar == PIM_SKIPPED)
            continue;
        for (int pol = 1; pol >= -1; pol -= 2) {
            int bp = diff ? (B->polarity ? B->polarity : pol) : 0;
            if (diff && B->polarity && bp != pol)
                continue;
            SimBlock *sb = &s->blocks[sbi++];
            int64_t np;
            sb->cols = xcalloc((size_t)sb->ncols, sizeof *sb->cols);
            block_cols(s, B, bp, sb->cols, &np);
            int64_t rows = B->row1 - B->row0;
            int lossless = pim_lossless_adc_bits(hw, rows);
            sb->adc_shift = lossless > hw->adc_bits ? lossless - hw->adc_bits : 0;
            /* Column k of the block: walk the columns in block_cols' order. */
            int ci = 0;
            for (int64_t k = B->col0; k < B->col1; k++) {
                int64_t grp, o, slice, c, p;
                row_of(s, B->matrix, B->row0, &grp, &c, &p);
                col_of(s, k, &o, &slice);
                int n = hw->sign == PIM_SIGNED_TWOS && slice == top ? (slice_planes(s, slice) ? 2 : 1) : 1;
                for (int j = 0; j < n; j++, ci++) {
                    sb->cols[ci].planes = pm;
                    pm += (int64_t)sb->cols[ci].nplanes * sb->nw;
                    fill_planes(s, B, bp, k, &sb->cols[ci], w, tmp);
                }
                if (slice == top && hw->sign == PIM_SIGNED_OFFSET)
                    sb->ntargets++;
            }
            if (hw->sign == PIM_SIGNED_OFFSET) {
                ReadCol *d = &sb->cols[ci];
                d->planes = pm;
                pm += sb->nw;
                fill_planes(s, B, bp, 0, d, w, tmp);
                sb->targets = xcalloc((size_t)sb->ntargets + 1, sizeof *sb->targets);
                int t = 0;
                for (int64_t k = B->col0; k < B->col1; k++) {
                    int64_t grp, o, slice, c, p;
                    row_of(s, B->matrix, B->row0, &grp, &c, &p);
                    col_of(s, k, &o, &slice);
                    if (slice == top)
                        sb->targets[t++] = (int32_t)(grp * s->cog + o);
                }
            }
            if (!diff)
                break;
        }
    }
    free(tmp);
    s->colsum = xcalloc((size_t)L->cout, sizeof *s->colsum);
    for (int64_t o = 0; o < L->cout; o++)
        for (int64_t k = 0; k < s->cig * s->K; k++)
            s->colsum[o] += w[o * s->cig * s->K + k];
    return true;
}

static void sim_free(Sim *s)
{
    for (int64_t b = 0; b < s->nblocks; b++) {
        free(s->blocks[b].cols);
        free(s->blocks[b].targets);
    }
    free(s->blocks);
    free(s->rowsets);
    free(s->plane_mem);
    free(s->colsum);
}

/* ---- the per-pixel engine ---- */

/* Output pixels simulated together: each column's planes are loaded once
 * for all of them (the crossbar reads them one after the other anyway). */
enum { PIX_BATCH = 4 };

/* Scratch of a batch of pixels. */
typedef struct Pixel {
    uint8_t *vals;     /* by matrix: its rows' input values (im2col) for one pixel, padded */
    int64_t vstride;   /* bytes per matrix in vals */
    int npx;           /* pixels in the batch, <= PIX_BATCH */
    uint64_t *xplanes; /* by pixel (xwords each), then by row set: b_a planes of nw words */
    int64_t xwords;
    int64_t *xoff;     /* by row set: offset into a pixel's planes */
    int64_t *acc;      /* by pixel (cout each), then by output channel */
    int64_t cout;
    int64_t clipped, psum_max;
} Pixel;

/* The input values of every matrix row for output pixel (img, oy, ox). */
static void gather(const Sim *s, const uint8_t *x, int32_t zx, int64_t img, int64_t oy, int64_t ox, Pixel *px)
{
    const GeomConv2d *g = &s->g;
    bool per_pos = s->hw->convention == PIM_CONV_PER_POSITION;
    for (int64_t grp = 0; grp < g->groups; grp++)
        for (int64_t c = 0; c < s->cig; c++) {
            const uint8_t *plane = x + ((img * g->c + grp * s->cig + c) * g->h) * g->w;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t iy = oy * g->sh - g->ph + i * g->dh;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t ix = ox * g->sw - g->pw + j * g->dw, p = i * g->kw + j;
                    uint8_t v = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w ? (uint8_t)zx : plane[iy * g->w + ix];
                    if (per_pos)
                        px->vals[(grp * s->K + p) * px->vstride + c] = v;
                    else
                        px->vals[grp * px->vstride + c * s->K + p] = v;
                }
            }
        }
}

/* The b_a bit planes of row set rs from the gathered values: bit b of row
 * r − row0 in plane b, eight rows at a time (byte_bits). vals is
 * zero-padded past each matrix's rows by 64. */
static void make_planes(const Sim *s, const RowSet *rs, const uint8_t *vals, uint64_t *xp)
{
    int64_t rows = rs->row1 - rs->row0;
    const uint8_t *v = vals + rs->row0;
    for (int b = 0; b < s->ba; b++)
        for (int wi = 0; wi < rs->nw; wi++)
            xp[b * rs->nw + wi] = 0;
    for (int64_t r = 0; r < rows; r += 8) {
        uint64_t chunk;
        memcpy(&chunk, v + r, 8);
        int64_t left = rows - r;
        if (left < 8)
            chunk &= ((uint64_t)1 << (8 * left)) - 1;
        for (int b = 0; b < s->ba; b++)
            xp[b * rs->nw + r / 64] |= byte_bits(chunk, b) << (r % 64);
    }
}

/* Popcount over n words of a & b (n a constant after inlining when the
 * caller's is). */
static inline __attribute__((always_inline)) int64_t and_count(const uint64_t *a, const uint64_t *b, int n)
{
    int64_t c = 0;
    for (int i = 0; i < n; i++)
        c += __builtin_popcountll(a[i] & b[i]);
    return c;
}

/* The crossbar sums p[i] of one column for every input cycle i (before
 * the plane0 shift). NW words per plane and NP planes (0: any) are
 * constants where the caller's are. */
static inline __attribute__((always_inline)) void cycle_sums(const Sim *s, const uint64_t *xp, const uint64_t *wp,
                                                            int nw, int np, int NW, int NP, int64_t *p)
{
    if (NW)
        nw = NW;
    if (NP)
        np = NP;
    int bd = s->bd, ba = s->ba, T = s->T;
    if (bd == 1) {
        for (int i = 0; i < T; i++) {
            int64_t v = 0;
            for (int q = 0; q < np; q++)
                v += and_count(xp + (int64_t)i * nw, wp + (int64_t)q * nw, nw) << q;
            p[i] = v;
        }
        return;
    }
    for (int i = 0; i < T; i++) {
        int64_t v = 0;
        for (int d = 0; d < bd && i * bd + d < ba; d++)
            for (int q = 0; q < np; q++)
                v += and_count(xp + (int64_t)(i * bd + d) * nw, wp + (int64_t)q * nw, nw) << (d + q);
        p[i] = v;
    }
}

/*
 * Every column of block sb in every input cycle, for every pixel of the
 * batch, into px->acc: the crossbar sums of the column, each one's ADC
 * code, shift-and-add (Horner over the cycles: the last cycle first).
 * mode and NW (words per plane, 0: any) are constants at each call site,
 * so the compiler specializes the loop per ADC mode and block height.
 */
static inline __attribute__((always_inline)) void run_block_k(const Sim *s, const SimBlock *sb, const uint64_t *xp0,
                                                             Pixel *px, PimAdcMode mode, int NW)
{
    int nw = NW ? NW : sb->nw, bd = s->bd, T = s->T, shift = sb->adc_shift;
    int64_t top = s->adc.top, step = s->adc.step;
    int64_t half = mode == PIM_ADC_FULLSCALE ? (s->adc.nearest && shift ? (int64_t)1 << (shift - 1) : 0)
                                             : (s->adc.nearest ? step / 2 : 0);
    int64_t clipped = 0, pmax = px->psum_max;
    int64_t p[8 * 8];
    for (int ci = 0; ci < sb->ncols; ci++) {
        const ReadCol *rc = &sb->cols[ci];
        int np = rc->nplanes, plane0 = rc->plane0;
        for (int j = 0; j < px->npx; j++) {
            const uint64_t *xp = xp0 + j * px->xwords;
            if (np == 2)
                cycle_sums(s, xp, rc->planes, nw, np, NW, 2, p);
            else if (np == 1)
                cycle_sums(s, xp, rc->planes, nw, np, NW, 1, p);
            else
                cycle_sums(s, xp, rc->planes, nw, np, NW, 0, p);
            int64_t sum = 0;
            for (int i = T - 1; i >= 0; i--) {
                int64_t v = p[i] << plane0;
                pmax = v > pmax ? v : pmax;
                if (mode == PIM_ADC_FULLSCALE) {
                    int64_t code = (v + half) >> shift;
                    clipped += code > top;
                    v = (code > top ? top : code) << shift;
                } else if (mode == PIM_ADC_CALIBRATED) {
                    int64_t code = (v + half) / step;
                    clipped += code > top;
                    v = (code > top ? top : code) * step;
                }
                sum = (sum << bd) + v;
            }
            sum = rc->neg ? -(sum << rc->shift) : sum << rc->shift;
            int64_t *acc = px->acc + j * px->cout;
            if (rc->out >= 0)
                acc[rc->out] += sum;
            else
                for (int t = 0; t < sb->ntargets; t++)
                    acc[sb->targets[t]] += sum;
        }
    }
    px->clipped += clipped;
    px->psum_max = pmax;
}

#define RUN_BLOCK_NW(mode)                                                                                     \
    switch (sb->nw) {                                                                                          \
    case 1: run_block_k(s, sb, xp, px, mode, 1); break;                                                        \
    case 2: run_block_k(s, sb, xp, px, mode, 2); break;                                                        \
    case 4: run_block_k(s, sb, xp, px, mode, 4); break;                                                        \
    default: run_block_k(s, sb, xp, px, mode, 0); break;                                                       \
    }

static inline __attribute__((always_inline)) void run_pixel_body(const Sim *s, Pixel *px)
{
    for (int64_t b = 0; b < s->nblocks; b++) {
        const SimBlock *sb = &s->blocks[b];
        const uint64_t *xp = px->xplanes + px->xoff[sb->rowset];
        switch (s->adc.mode) {
        case PIM_ADC_IDEAL: RUN_BLOCK_NW(PIM_ADC_IDEAL); break;
        case PIM_ADC_FULLSCALE: RUN_BLOCK_NW(PIM_ADC_FULLSCALE); break;
        default: RUN_BLOCK_NW(PIM_ADC_CALIBRATED); break;
        }
    }
}

/* The block loop compiled twice: with the popcnt instruction when the CPU
 * has it (the build targets baseline x86-64, whose popcount is a libgcc
 * call), and plainly otherwise. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static void run_pixel_popcnt(const Sim *s, Pixel *px) { run_pixel_body(s, px); }
#endif
static void run_pixel_plain(const Sim *s, Pixel *px) { run_pixel_body(s, px); }

/* The exact Σ (x − zx)·w of output element (img, o, oy, ox). */
static int64_t exact_at(const Sim *s, const int8_t *w, const uint8_t *x, int32_t zx, int64_t img, int64_t o,
                        int64_t oy, int64_t ox)
{
    const GeomConv2d *g = &s->g;
    int64_t grp = o / s->cog, acc = 0;
    for (int64_t c = 0; c < s->cig; c++)
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t iy = oy * g->sh - g->ph + i * g->dh;
            if (iy < 0 || iy >= g->h)
                continue;
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t ix = ox * g->sw - g->pw + j * g->dw;
                if (ix < 0 || ix >= g->w)
                    continue;
                int64_t xv = x[((img * g->c + grp * s->cig + c) * g->h + iy) * g->w + ix];
                acc += (xv - zx) * w[((o * s->cig + c) * g->kh + i) * g->kw + j];
            }
        }
    return acc;
}

bool pim_xbar_layer(const PimHardware *hw, const PimLayer *L, const int8_t *w, const uint8_t *x, int32_t zx,
                    const PimXbarOptions *opt, int64_t *acc, PimSimStats *stats, char *err, size_t errlen)
{
    PimXbarOptions dflt = {0};
    if (!opt)
        opt = &dflt;
    if (stats)
        *stats = (PimSimStats){0};
    Sim s = {.hw = hw, .L = L};
    if (!check_layer(&s, err, errlen) || !check_blocks(&s, err, errlen) || !check_values(&s, w, x, zx, err, errlen))
        return false;
    if (!sim_setup(&s, w, opt->adc_step, err, errlen)) {
        sim_free(&s);
        return false;
    }
    int64_t nmat = L->matrices;
    Pixel px = {0};
    px.vstride = L->matrix_rows + 64;
    px.vals = xcalloc((size_t)(nmat * px.vstride), 1);
    px.xoff = xcalloc((size_t)s.nrowsets + 1, sizeof *px.xoff);
    int64_t xwords = 0;
    for (int64_t r = 0; r < s.nrowsets; r++)
        px.xoff[r] = xwords, xwords += (int64_t)s.ba * s.rowsets[r].nw;
    px.xwords = xwords;
    px.xplanes = xcalloc((size_t)(PIX_BATCH * xwords) + 1, sizeof *px.xplanes);
    px.cout = L->cout;
    px.acc = xcalloc((size_t)(PIX_BATCH * L->cout), sizeof *px.acc);

    void (*run_pixel)(const Sim *, Pixel *) = run_pixel_plain;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt"))
        run_pixel = run_pixel_popcnt;
#endif
    const GeomConv2d *g = &s.g;
    int64_t npix = g->oh * g->ow, total = g->n * npix, max_err = 0;
    for (int64_t first = 0; first < total; first += PIX_BATCH) {
        px.npx = (int)(total - first < PIX_BATCH ? total - first : PIX_BATCH);
        for (int j = 0; j < px.npx; j++) {
            int64_t f = first + j, img = f / npix, oy = f % npix / g->ow, ox = f % g->ow;
            gather(&s, x, zx, img, oy, ox, &px);
            for (int64_t r = 0; r < s.nrowsets; r++)
                make_planes(&s, &s.rowsets[r], px.vals + s.rowsets[r].matrix * px.vstride,
                            px.xplanes + j * px.xwords + px.xoff[r]);
        }
        memset(px.acc, 0, (size_t)(PIX_BATCH * L->cout) * sizeof *px.acc);
        run_pixel(&s, &px);
        for (int j = 0; j < px.npx; j++) {
            int64_t f = first + j, img = f / npix, oy = f % npix / g->ow, ox = f % g->ow;
            for (int64_t o = 0; o < L->cout; o++) {
                int64_t a = px.acc[j * L->cout + o] - (int64_t)zx * s.colsum[o];
                acc[(img * L->cout + o) * npix + oy * g->ow + ox] = a;
                if (opt->check_exact) {
                    int64_t e = a - exact_at(&s, w, x, zx, img, o, oy, ox);
                    e = e < 0 ? -e : e;
                    if (e > max_err)
                        max_err = e;
                }
            }
        }
    }
    if (stats) {
        int64_t cols = 0;
        for (int64_t b = 0; b < s.nblocks; b++)
            cols += s.blocks[b].ncols;
        int64_t pixels = total;
        stats->xbar_evals = s.nblocks * s.T * pixels;
        stats->adc_conversions = cols * s.T * pixels;
        stats->adc_clipped = px.clipped;
        stats->psum_max = px.psum_max;
        stats->exact_checked = opt->check_exact;
        stats->max_abs_err = max_err;
    }
    free(px.vals);
    free(px.xoff);
    free(px.xplanes);
    free(px.acc);
    sim_free(&s);
    return true;
}

int64_t pim_adc_calibrated_step(const PimHardware *hw, int64_t psum_max)
{
    int64_t top = ((int64_t)1 << hw->adc_bits) - 1;
    int64_t step = (psum_max + top - 1) / top;
    return step < 1 ? 1 : step;
}
