/*
 * eltwise.c — elementwise kernels: nk_unary, nk_binary, nk_scale_shift.
 *
 * Design:
 *   - One vector loop per operation, written once as an always-inline
 *     function of the operation code and instantiated by a switch with a
 *     constant code per case, so every case gets a loop with no per-element
 *     dispatch (and the backend, whose descriptors are constants, folds the
 *     switch away entirely).
 *   - Tails (the last n % 16 elements) go through the same vector code on a
 *     partial load, so the tail can never compute differently.
 *   - nk_binary simplifies its index space first (size-1 dims dropped,
 *     dims merged where both operands are contiguous across them), then
 *     walks rows of the innermost dim. A row is one of: both operands
 *     contiguous (same shape), one operand a scalar per row (a per-channel
 *     [c, 1, 1] operand in NCHW), one contiguous and the other repeated for
 *     every row (a bias [e] added to [b, l, e] — the stride-0 outer dims
 *     cost nothing), or anything else, strided, one lane at a time. The
 *     fused activation runs over each finished chunk while it is in L1,
 *     rather than multiplying the loop variants by four.
 *   - Work is split over the flat output index with a grain of tens of
 *     kilobytes, so small tensors stay on the calling thread; every element
 *     is computed the same way whatever the split, so results do not
 *     depend on the thread count.
 */
#include "nk.h"
#include "nk_vec.h"

/* Elements per task for cheap ops and for ops that call exp/erf. */
#define GRAIN_CHEAP 32768
#define GRAIN_MATH 8192
/* Binary rows are processed in chunks of this many elements, so the
 * activation pass reads them back from L1. */
#define CHUNK 2048

/* ---------------------------------------------------------------- unary */

NK_INLINE NkVec unary_vec(NkVec x, int64_t op)
{
    switch (op) {
    case NK_UNARY_RELU:
        return nk_act(x, NK_ACT_RELU);
    case NK_UNARY_RELU6:
        return nk_act(x, NK_ACT_RELU6);
    case NK_UNARY_GELU:
        return nk_gelu(x);
    case NK_UNARY_SILU:
        return x * nk_sigmoid(x);
    case NK_UNARY_SIGMOID:
        return nk_sigmoid(x);
    case NK_UNARY_HARDSWISH:
        /* torch's formula and rounding: x * min(max(x + 3, 0), 6) / 6 */
        return x * nk_min(nk_max(x + 3.0f, nk_splat(0.0f)), nk_splat(6.0f)) / 6.0f;
    default:
        return x;
    }
}

NK_INLINE void unary_loop(const float *in, float *out, int64_t n, int64_t op)
{
    int64_t i = 0;
    for (; i + NK_VL <= n; i += NK_VL)
        nk_store(out + i, unary_vec(nk_load(in + i), op));
    if (i < n)
        nk_store_part(out + i, unary_vec(nk_load_part(in + i, n - i, 0.0f), op), n - i);
}

typedef struct UnaryJob {
    const NkUnary *d;
    const float *in;
    float *out;
} UnaryJob;

static void unary_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const UnaryJob *j = ctx;
    const float *in = j->in + begin;
    float *out = j->out + begin;
    int64_t n = end - begin;
    switch (j->d->op) {
    case NK_UNARY_RELU: unary_loop(in, out, n, NK_UNARY_RELU); break;
    case NK_UNARY_RELU6: unary_loop(in, out, n, NK_UNARY_RELU6); break;
    case NK_UNARY_GELU: unary_loop(in, out, n, NK_UNARY_GELU); break;
    case NK_UNARY_SILU: unary_loop(in, out, n, NK_UNARY_SILU); break;
    case NK_UNARY_SIGMOID: unary_loop(in, out, n, NK_UNARY_SIGMOID); break;
    case NK_UNARY_HARDSWISH: unary_loop(in, out, n, NK_UNARY_HARDSWISH); break;
    default:
        if (out != in)
            memmove(out, in, (size_t)n * sizeof *out);
        break;
    }
}

static int64_t unary_grain(int64_t op)
{
    return op == NK_UNARY_GELU || op == NK_UNARY_SILU || op == NK_UNARY_SIGMOID ? GRAIN_MATH
                                                                                 : GRAIN_CHEAP;
}

/* in and out may be the same buffer (an in-place activation). */
void nk_unary(const NkUnary *d, const float *in, float *out)
{
    UnaryJob j = {d, in, out};
    if (d->n > 0)
        nk_parallel_for(d->n, unary_grain(d->op), unary_task, &j);
}

/* ---------------------------------------------------------- activation */

/* v[i] = act(v[i]) in place; the activations are the fused ones of nk.h. */
static void act_inplace(float *v, int64_t n, int64_t act)
{
    switch (act) {
    case NK_ACT_RELU: unary_loop(v, v, n, NK_UNARY_RELU); break;
    case NK_ACT_RELU6: unary_loop(v, v, n, NK_UNARY_RELU6); break;
    case NK_ACT_GELU: unary_loop(v, v, n, NK_UNARY_GELU); break;
    case NK_ACT_SILU: unary_loop(v, v, n, NK_UNARY_SILU); break;
    default: break;
    }
}

/* --------------------------------------------------------------- binary */

NK_INLINE NkVec binary_vec(NkVec a, NkVec b, int64_t op)
{
    switch (op) {
    case NK_BINARY_SUB:
        return a - b;
    case NK_BINARY_MUL:
        return a * b;
    default:
        return a + b;
    }
}

/* Row shapes after coalescing, by the operands' innermost strides. */
enum { ROW_BOTH, ROW_A_SCALAR, ROW_B_SCALAR, ROW_STRIDED };

/*
 * out[i] = a[i*sa] op b[i*sb] for i < n, where the row kind fixes sa and sb
 * (1 or 0) except for ROW_STRIDED, which takes them as given.
 */
NK_INLINE void binary_row(const float *a, const float *b, float *out, int64_t n, int64_t sa,
                          int64_t sb, int64_t op, int kind)
{
    if (kind == ROW_STRIDED) {
        for (int64_t i = 0; i < n; i++) {
            NkVec r = binary_vec(nk_splat(a[i * sa]), nk_splat(b[i * sb]), op);
            out[i] = r[0];
        }
        return;
    }
    NkVec va = nk_splat(a[0]), vb = nk_splat(b[0]);
    int64_t i = 0;
    for (; i + NK_VL <= n; i += NK_VL) {
        if (kind != ROW_A_SCALAR)
            va = nk_load(a + i);
        if (kind != ROW_B_SCALAR)
            vb = nk_load(b + i);
        nk_store(out + i, binary_vec(va, vb, op));
    }
    if (i < n) {
        if (kind != ROW_A_SCALAR)
            va = nk_load_part(a + i, n - i, 0.0f);
        if (kind != ROW_B_SCALAR)
            vb = nk_load_part(b + i, n - i, 0.0f);
        nk_store_part(out + i, binary_vec(va, vb, op), n - i);
    }
}

typedef struct BinaryJob {
    NkIter it; /* operands a, b, out; the last dim is the row */
    int64_t op, act;
    int kind;
    const float *a, *b;
    float *out;
} BinaryJob;

NK_INLINE void binary_row_op(const BinaryJob *j, const float *a, const float *b, float *out,
                             int64_t n, int64_t sa, int64_t sb, int kind)
{
    switch (j->op) {
    case NK_BINARY_SUB: binary_row(a, b, out, n, sa, sb, NK_BINARY_SUB, kind); break;
    case NK_BINARY_MUL: binary_row(a, b, out, n, sa, sb, NK_BINARY_MUL, kind); break;
    default: binary_row(a, b, out, n, sa, sb, NK_BINARY_ADD, kind); break;
    }
}

/* Elements [begin, end) of the flat output, row by row, CHUNK at a time. */
static void binary_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const BinaryJob *j = ctx;
    NkIter it = j->it;
    int outer = it.rank - 1;
    int64_t len = it.dims[outer], sa = it.strides[0][outer], sb = it.strides[1][outer];
    int64_t col = begin % len;
    nk_iter_seek(&it, outer, begin / len);
    for (int64_t pos = begin; pos < end;) {
        int64_t n = len - col < end - pos ? len - col : end - pos;
        n = n < CHUNK ? n : CHUNK;
        const float *a = j->a + it.off[0] + col * sa, *b = j->b + it.off[1] + col * sb;
        float *out = j->out + it.off[2] + col;
        switch (j->kind) {
        case ROW_BOTH: binary_row_op(j, a, b, out, n, 1, 1, ROW_BOTH); break;
        case ROW_A_SCALAR: binary_row_op(j, a, b, out, n, 0, 1, ROW_A_SCALAR); break;
        case ROW_B_SCALAR: binary_row_op(j, a, b, out, n, 1, 0, ROW_B_SCALAR); break;
        default: binary_row_op(j, a, b, out, n, sa, sb, ROW_STRIDED); break;
        }
        act_inplace(out, n, j->act);
        pos += n;
        col += n;
        if (col == len) {
            col = 0;
            nk_iter_next(&it, outer);
        }
    }
}

/* out may be a or b itself when that operand is read contiguously (an
 * in-place residual add): each element is read before it is written. */
void nk_binary(const NkBinary *d, const float *a, const float *b, float *out)
{
    BinaryJob j = {.op = d->op, .act = d->act, .a = a, .b = b, .out = out};
    j.it.rank = (int)d->rank;
    j.it.nops = 3;
    int64_t os = 1;
    for (int i = (int)d->rank - 1; i >= 0; i--) {
        j.it.dims[i] = d->dims[i];
        j.it.strides[0][i] = d->a_strides[i];
        j.it.strides[1][i] = d->b_strides[i];
        j.it.strides[2][i] = os;
        os *= d->dims[i];
    }
    int64_t total = nk_iter_coalesce(&j.it);
    if (total == 0)
        return;
    int r = j.it.rank - 1;
    int64_t sa = j.it.strides[0][r], sb = j.it.strides[1][r];
    j.kind = sa == 1 && sb == 1   ? ROW_BOTH
             : sa == 0 && sb == 1 ? ROW_A_SCALAR
             : sa == 1 && sb == 0 ? ROW_B_SCALAR
                                  : ROW_STRIDED;
    nk_parallel_for(total, d->act == NK_ACT_GELU ? GRAIN_MATH : GRAIN_CHEAP, binary_task, &j);
}

/* ---------------------------------------------------------- scale_shift */

typedef struct ScaleShiftJob {
    const NkScaleShift *d;
    const float *in, *ss;
    float *out;
} ScaleShiftJob;

/*
 * out[i] = act(in[i] * scale[i] + shift[i]) for i < n, the scale and shift
 * either contiguous vectors (channels last: inner == 1) or one value each
 * (stride 0: the row is one channel's inner extent).
 */
NK_INLINE void scale_shift_row(const float *in, const float *scale, const float *shift,
                               float *out, int64_t n, int64_t stride, int64_t act)
{
    NkVec s = nk_splat(scale[0]), t = nk_splat(shift[0]);
    int64_t i = 0;
    for (; i + NK_VL <= n; i += NK_VL) {
        if (stride)
            s = nk_load(scale + i), t = nk_load(shift + i);
        nk_store(out + i, nk_act(nk_load(in + i) * s + t, act));
    }
    if (i < n) {
        if (stride)
            s = nk_load_part(scale + i, n - i, 0.0f), t = nk_load_part(shift + i, n - i, 0.0f);
        nk_store_part(out + i, nk_act(nk_load_part(in + i, n - i, 0.0f) * s + t, act), n - i);
    }
}

NK_INLINE void scale_shift_rows(const ScaleShiftJob *j, int64_t begin, int64_t end, int64_t act)
{
    const NkScaleShift *d = j->d;
    int64_t c = d->c, inner = d->inner;
    for (int64_t pos = begin; pos < end;) {
        if (inner == 1) { /* rows are [c], a slice of one */
            int64_t ch = pos % c, n = c - ch < end - pos ? c - ch : end - pos;
            scale_shift_row(j->in + pos, j->ss + ch, j->ss + c + ch, j->out + pos, n, 1, act);
            pos += n;
        } else { /* rows are one channel's [inner] */
            int64_t ch = pos / inner % c, col = pos % inner;
            int64_t n = inner - col < end - pos ? inner - col : end - pos;
            scale_shift_row(j->in + pos, j->ss + ch, j->ss + c + ch, j->out + pos, n, 0, act);
            pos += n;
        }
    }
}

static void scale_shift_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ScaleShiftJob *j = ctx;
    switch (j->d->act) {
    case NK_ACT_RELU: scale_shift_rows(j, begin, end, NK_ACT_RELU); break;
    case NK_ACT_RELU6: scale_shift_rows(j, begin, end, NK_ACT_RELU6); break;
    case NK_ACT_GELU: scale_shift_rows(j, begin, end, NK_ACT_GELU); break;
    default: scale_shift_rows(j, begin, end, NK_ACT_NONE); break;
    }
}

void nk_scale_shift(const NkScaleShift *d, const float *in, const float *ss, float *out)
{
    ScaleShiftJob j = {d, in, ss, out};
    int64_t total = d->outer * d->c * d->inner;
    if (total > 0)
        nk_parallel_for(total, d->act == NK_ACT_GELU ? GRAIN_MATH : GRAIN_CHEAP,
                        scale_shift_task, &j);
}
