/*
 * ir_meta.c — the rules typed metadata (IrQuant, IrSparsity, IrPlacement)
 * must satisfy to agree with the tensors it describes.
 *
 * They live here, apart from the verifier, because two phases enforce them:
 * ir_verify reports a violation at the value's source location, and the IR
 * parser at the metadata clause in the .ir text, so a hand-edited file gets
 * a line:col in that file. Messages do not name the value: each caller says
 * it the way its reader knows it (a parameter key, %N in the text).
 *
 * Rules on bound data (a pow2 scale, an n:m mask) are checked only when the
 * data is bound and matches its declaration; a mismatch there is the
 * parameter check's to report.
 */
#include "ir.h"
#include "quantizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const sparsity_names[] = {
#define X(e, name) name,
    SPARSITY_LIST(X)
#undef X
};

const char *ir_sparsity_name(SparsityKind k)
{
    return (unsigned)k < SP__COUNT ? sparsity_names[k] : "?";
}

SparsityKind ir_sparsity_lookup(const char *name)
{
    for (int k = 0; k < SP__COUNT; k++)
        if (strcmp(sparsity_names[k], name) == 0)
            return (SparsityKind)k;
    return SP__COUNT;
}

void ir_weight_view(const Shape *s, int64_t *rows, int64_t *cols)
{
    int64_t numel = shape_numel(s);
    *rows = s->rank > 0 ? s->d[0] : 1;
    *cols = *rows > 0 && numel > 0 ? numel / *rows : 0;
}

void ir_block_grid(const Shape *s, const int block[2], int64_t *tile_rows, int64_t *tile_cols)
{
    int64_t out, k;
    ir_weight_view(s, &out, &k);
    *tile_rows = (k + block[0] - 1) / block[0];
    *tile_cols = (out + block[1] - 1) / block[1];
}

/* Bound data that can be read as its declaration says. */
static bool data_as_declared(const IrValue *p)
{
    return p->data && p->data->dtype == p->dtype && shape_equal(&p->data->shape, &p->shape);
}

/* The parameter a metadata field names is one, of dtype dt (or alt) and
 * shape want; what is "quant scale", "sparsity mask", ... */
static bool check_ref(const IrValue *p, const char *what, DType dt, DType alt, const Shape *want,
                      char *err, size_t errlen)
{
    char a[200], b[200];
    if (!p) {
        snprintf(err, errlen, "%s is missing", what);
        return false;
    }
    if (p->kind != VK_PARAM) {
        snprintf(err, errlen, "%s must be a parameter, not %s", what,
                 p->kind == VK_INPUT ? "a graph input" : "a node result");
        return false;
    }
    if ((p->dtype != dt && p->dtype != alt) || !shape_equal(&p->shape, want)) {
        snprintf(err, errlen, "%s '%s' is %s%s, expected %s%s%s%s", what, p->name ? p->name : "?",
                 dtype_name(p->dtype), shape_str(&p->shape, a, sizeof a), dtype_name(dt),
                 alt != dt ? " or " : "", alt != dt ? dtype_name(alt) : "",
                 shape_str(want, b, sizeof b));
        return false;
    }
    return true;
}

/* Exactly 2^e for some integer e (positive, finite). */
static bool is_pow2(float x)
{
    int e;
    return x > 0 && isfinite(x) && frexpf(x, &e) == 0.5f;
}

void ir_quant_range(int bits, bool is_signed, int32_t *lo, int32_t *hi)
{
    *lo = is_signed ? -(1 << (bits - 1)) : 0;
    *hi = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
}

void ir_quant_layout(const IrQuant *q, const Shape *s, int64_t *channels, int64_t *inner)
{
    *channels = q->axis < 0 ? 1 : s->d[q->axis];
    *inner = 1;
    for (int d = q->axis + 1; q->axis >= 0 && d < s->rank; d++)
        *inner *= s->d[d];
}

int32_t ir_quant_zero_point(const IrQuant *q)
{
    const Tensor *z = q && q->zero_point ? q->zero_point->data : NULL;
    return z && z->dtype == DT_I32 && tensor_numel(z) > 0 ? ((const int32_t *)z->data)[0] : 0;
}

bool ir_qlayer_clamp(const IrNode *n, int32_t *zy, int32_t *lo, int32_t *hi)
{
    const IrQuant *y = n->out ? n->out->quant : NULL;
    const Tensor *s = y && y->scale ? y->scale->data : NULL;
    if (!s || s->dtype != DT_F32 || tensor_numel(s) < 1)
        return false;
    const char *act = ir_attr_str(n, "act");
    *zy = ir_quant_zero_point(y);
    ir_quant_range(y->bits, false, lo, hi);
    if (act && (!strcmp(act, "relu") || !strcmp(act, "relu6")) && *zy > *lo)
        *lo = *zy;
    if (act && !strcmp(act, "relu6")) {
        int32_t six = ir_quantize_elem(6.0f, 1.0f / ((const float *)s->data)[0], *zy, *lo, *hi);
        *hi = six < *hi ? six : *hi;
    }
    return true;
}

DType ir_quant_container(int64_t bits, bool is_signed)
{
    if (bits <= 8)
        return is_signed ? DT_I8 : DT_U8;
    return is_signed ? DT_I16 : DT_U16;
}

/* An integer value's dtype holds the grid: a signed grid needs a signed
 * dtype (a u8 cannot hold -3), an unsigned one fits in either with room. */
static bool check_container(const IrValue *v, const IrQuant *q, char *err, size_t errlen)
{
    DTypeClass c = dtype_class(v->dtype);
    if (c == DC_FLOAT)
        return true;
    int room = dtype_bits(v->dtype) - (c == DC_SIGNED && !q->is_signed); /* a sign bit unused */
    if (c == DC_BOOL || (q->is_signed && c != DC_SIGNED) || room < q->bits) {
        snprintf(err, errlen, "a %s value cannot hold %s %d-bit integers", dtype_name(v->dtype),
                 q->is_signed ? "signed" : "unsigned", q->bits);
        return false;
    }
    return true;
}

int64_t ir_quant_integers(const IrValue *v, int32_t *q)
{
    const IrQuant *qt = v->quant;
    int32_t lo, hi;
    ir_quant_range(qt->bits, qt->is_signed, &lo, &hi);
    const float *w = v->data->data, *s = qt->scale->data->data;
    const int32_t *z = qt->zero_point ? qt->zero_point->data->data : NULL;
    int64_t numel = shape_numel(&v->shape), channels, inner;
    ir_quant_layout(qt, &v->shape, &channels, &inner);
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = qt->axis < 0 ? 0 : (i / inner) % channels;
        int32_t zp = z ? z[c] : 0, n = ir_quantize_elem(w[i], 1.0f / s[c], zp, lo, hi);
        if (ir_dequantize_elem(n, s[c], zp) != w[i])
            return i;
        if (q)
            q[i] = n;
    }
    return -1;
}

/* A quantized f32 weight stores its dequantized values: every element must
 * be scale·(q − zero_point) for an integer q on the grid, which is what
 * quantizing it again gives (so the integer lowering recovers q exactly). */
static bool check_on_grid(const IrValue *v, const IrQuant *q, char *err, size_t errlen)
{
    if (v->kind != VK_PARAM || v->dtype != DT_F32 || !data_as_declared(v) ||
        !data_as_declared(q->scale) || (q->zero_point && !data_as_declared(q->zero_point)))
        return true;
    int64_t i = ir_quant_integers(v, NULL);
    if (i < 0)
        return true;
    int64_t channels, inner;
    ir_quant_layout(q, &v->shape, &channels, &inner);
    int64_t c = q->axis < 0 ? 0 : (i / inner) % channels;
    int32_t zp = q->zero_point ? ((const int32_t *)q->zero_point->data->data)[c] : 0, lo, hi;
    float w = ((const float *)v->data->data)[i], s = ((const float *)q->scale->data->data)[c];
    ir_quant_range(q->bits, q->is_signed, &lo, &hi);
    float back = ir_dequantize_elem(ir_quantize_elem(w, 1.0f / s, zp, lo, hi), s, zp);
    snprintf(err, errlen, "element %lld is %.9g, not on the %d-bit grid of scale %.9g (nearest %.9g)",
             (long long)i, (double)w, q->bits, (double)s, (double)back);
    return false;
}

bool ir_quant_check(const IrValue *v, char *err, size_t errlen)
{
    const IrQuant *q = v->quant;
    char a[200];
    if (q->bits < IR_QUANT_MIN_BITS || q->bits > IR_QUANT_MAX_BITS) {
        snprintf(err, errlen, "quant bits %d is outside %d..%d", q->bits, IR_QUANT_MIN_BITS,
                 IR_QUANT_MAX_BITS);
        return false;
    }
    if (q->axis < -1 || q->axis >= v->shape.rank) {
        snprintf(err, errlen, "quant axis %d is out of range for %s (expected -1..%d)", q->axis,
                 shape_str(&v->shape, a, sizeof a), v->shape.rank - 1);
        return false;
    }
    Shape want = {1, {q->axis < 0 ? 1 : v->shape.d[q->axis]}};
    if (!check_ref(q->scale, "quant scale", DT_F32, DT_F32, &want, err, errlen))
        return false;
    if (q->zero_point &&
        !check_ref(q->zero_point, "quant zero_point", DT_I32, DT_I32, &want, err, errlen))
        return false;
    if (q->pow2 && data_as_declared(q->scale)) {
        const float *s = q->scale->data->data;
        for (int64_t i = 0; i < want.d[0]; i++)
            if (!is_pow2(s[i])) {
                snprintf(err, errlen,
                         "quant scale '%s' element %lld is %g, not a power of two (pow2 = true)",
                         q->scale->name, (long long)i, (double)s[i]);
                return false;
            }
    }
    return check_container(v, q, err, errlen) && check_on_grid(v, q, err, errlen);
}

/* An nm mask keeps at most n in every m consecutive elements of each row
 * of the weight view (the last group of a row may be shorter). */
static bool check_nm_mask(const IrValue *v, const IrSparsity *sp, char *err, size_t errlen)
{
    const uint8_t *mask = sp->mask->data->data;
    int64_t rows, cols;
    ir_weight_view(&v->shape, &rows, &cols);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c0 = 0; c0 < cols; c0 += sp->m) {
            int kept = 0;
            for (int64_t c = c0; c < cols && c < c0 + sp->m; c++)
                kept += mask[r * cols + c] != 0;
            if (kept > sp->n) {
                snprintf(err, errlen,
                         "sparsity mask '%s' keeps %d of the %d elements at row %lld, columns "
                         "%lld.. (n:m is %d:%d)",
                         sp->mask->name, kept, sp->m, (long long)r, (long long)c0, sp->n, sp->m);
                return false;
            }
        }
    return true;
}

bool ir_sparsity_check(const IrValue *v, char *err, size_t errlen)
{
    const IrSparsity *sp = v->sparsity;
    char a[200];
    int64_t rows, cols;
    Shape want = v->shape;
    switch (sp->kind) {
    case SP_ELEMENT: break;
    case SP_NM:
        if (sp->n < 1 || sp->n >= sp->m || sp->m > IR_NM_MAX_M) {
            snprintf(err, errlen, "sparsity n:m %d:%d needs 1 <= n < m <= %d", sp->n, sp->m,
                     IR_NM_MAX_M);
            return false;
        }
        break;
    case SP_CHANNEL:
        if (sp->axis < 0 || sp->axis >= v->shape.rank) {
            snprintf(err, errlen, "sparsity axis %d is out of range for %s (expected 0..%d)",
                     sp->axis, shape_str(&v->shape, a, sizeof a), v->shape.rank - 1);
            return false;
        }
        want = (Shape){1, {v->shape.d[sp->axis]}};
        break;
    case SP_BLOCK:
        if (sp->block[0] < 1 || sp->block[1] < 1) {
            snprintf(err, errlen, "sparsity block %dx%d must be at least 1x1", sp->block[0],
                     sp->block[1]);
            return false;
        }
        ir_block_grid(&v->shape, sp->block, &rows, &cols);
        want = (Shape){2, {rows, cols}};
        break;
    default: snprintf(err, errlen, "sparsity has invalid kind %d", (int)sp->kind); return false;
    }
    if (!check_ref(sp->mask, "sparsity mask", DT_U8, DT_BOOL, &want, err, errlen))
        return false;
    if (sp->kind == SP_NM && data_as_declared(sp->mask))
        return check_nm_mask(v, sp, err, errlen);
    return true;
}

bool ir_placement_check(const IrNode *n, char *err, size_t errlen)
{
    const IrPlacement *pl = n->placement;
    if (pl->tile < 0 || pl->crossbar < 0 || pl->crossbars < 1 || pl->replicas < 1) {
        snprintf(err, errlen,
                 "placement tile %d, crossbar %d, crossbars %d, replicas %d: tile and crossbar "
                 "must be >= 0, crossbars and replicas >= 1",
                 pl->tile, pl->crossbar, pl->crossbars, pl->replicas);
        return false;
    }
    return true;
}
