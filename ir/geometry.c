/*
 * geometry.c — the formulas declared in geometry.h.
 *
 * Sizes come from user text (attributes) and files (weights), so the size
 * formulas check every step for int64 overflow rather than trusting that
 * the inputs are sane; stride and broadcast helpers run on shapes that a
 * shape rule or a tensor already validated.
 */
#include "geometry.h"

static bool mul64(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static bool add64(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

int64_t geom_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool geom_wrap_dim(int64_t dim, int rank, int *out)
{
    int r = rank > 0 ? rank : 1;
    if (dim < -r || dim >= r)
        return false;
    *out = (int)(dim < 0 ? dim + r : dim);
    return true;
}

/* The arguments every window formula needs to be meaningful. */
static bool window_ok(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation)
{
    return in >= 0 && k >= 1 && stride >= 1 && pad >= 0 && dilation >= 1;
}

/*
 * in + 2*pad and the dilated kernel extent dilation*(k - 1) + 1, the two
 * terms of both output formulas; false on overflow.
 */
static bool window_terms(int64_t in, int64_t k, int64_t pad, int64_t dilation, int64_t *padded,
                         int64_t *span)
{
    return mul64(dilation, k - 1, span) && add64(*span, 1, span) && mul64(pad, 2, padded) &&
           add64(*padded, in, padded);
}

bool geom_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                        int64_t *out)
{
    int64_t padded, span;
    if (!window_ok(in, k, stride, pad, dilation) ||
        !window_terms(in, k, pad, dilation, &padded, &span))
        return false;
    int64_t num = padded - span; /* both non-negative: cannot overflow */
    *out = num < 0 ? 0 : num / stride + 1;
    return true;
}

bool geom_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                        bool ceil_mode, int64_t *out)
{
    int64_t padded, span;
    if (!window_ok(in, k, stride, pad, dilation) ||
        !window_terms(in, k, pad, dilation, &padded, &span))
        return false;
    int64_t num = padded - span, o, last;
    if (ceil_mode && !add64(num, stride - 1, &num))
        return false;
    o = geom_floor_div(num, stride) + 1;
    /* The last window starts at (o - 1) * stride <= num, and in + pad <=
     * padded: neither can overflow. */
    if (ceil_mode && o > 0 && mul64(o - 1, stride, &last) && last >= in + pad)
        o--;
    *out = o;
    return true;
}

bool geom_conv2d_output(GeomConv2d *g)
{
    if (!geom_conv_out_size(g->h, g->kh, g->sh, g->ph, g->dh, &g->oh))
        g->oh = -1;
    if (!geom_conv_out_size(g->w, g->kw, g->sw, g->pw, g->dw, &g->ow))
        g->ow = -1;
    return g->oh >= 1 && g->ow >= 1;
}

bool geom_attr_int2(const IrNode *n, const char *key, int64_t v[2])
{
    const IrAttr *a = ir_attr(n, key);
    v[0] = v[1] = 0;
    if (a && a->kind == AK_INTS && a->n == 2 && a->ints) {
        v[0] = a->ints[0], v[1] = a->ints[1];
        return true;
    }
    if (a && a->kind == AK_INT) {
        v[0] = v[1] = a->i;
        return true;
    }
    return false;
}

/* The int attribute key of n into *v (0 when missing or not an int). */
static bool attr_int(const IrNode *n, const char *key, int64_t *v)
{
    const IrAttr *a = ir_attr(n, key);
    *v = a && a->kind == AK_INT ? a->i : 0;
    return a && a->kind == AK_INT;
}

bool geom_conv2d_from_node(const IrNode *n, GeomConv2d *g)
{
    *g = (GeomConv2d){0};
    bool ok = (n->op == OP_CONV2D || n->op == OP_QCONV2D) && n->nin >= 1 && n->in && n->in[0] &&
              n->in[0]->shape.rank == 4;
    if (ok) {
        const int64_t *d = n->in[0]->shape.d;
        g->n = d[0], g->c = d[1], g->h = d[2], g->w = d[3];
    }
    /* & rather than &&: every field is filled even when an earlier one fails. */
    int64_t k[2], s[2], p[2], dl[2];
    ok &= attr_int(n, "out_channels", &g->oc) & attr_int(n, "groups", &g->groups);
    ok &= geom_attr_int2(n, "kernel_size", k) & geom_attr_int2(n, "stride", s) &
          geom_attr_int2(n, "padding", p) & geom_attr_int2(n, "dilation", dl);
    g->kh = k[0], g->kw = k[1], g->sh = s[0], g->sw = s[1];
    g->ph = p[0], g->pw = p[1], g->dh = dl[0], g->dw = dl[1];
    ok &= geom_conv2d_output(g);
    return ok && g->oc >= 1 && g->groups >= 1 && g->c % g->groups == 0 &&
           g->oc % g->groups == 0;
}

bool geom_broadcast_shape(const Shape *a, const Shape *b, Shape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    Shape o = {.rank = r};
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        o.d[i] = da == 1 ? db : da;
    }
    *out = o;
    return true;
}

void geom_contiguous_strides(const Shape *s, int64_t *strides)
{
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = acc;
        acc *= s->d[i];
    }
}

bool geom_broadcast_strides(const Shape *in, const int64_t *in_strides, const Shape *out,
                            int64_t *strides)
{
    if (in->rank > out->rank)
        return false;
    int64_t own[SHAPE_MAX_RANK];
    if (!in_strides) {
        geom_contiguous_strides(in, own);
        in_strides = own;
    }
    int shift = out->rank - in->rank;
    for (int i = 0; i < out->rank; i++) {
        int j = i - shift;
        if (j < 0 || in->d[j] == 1)
            strides[i] = 0;
        else if (in->d[j] == out->d[i])
            strides[i] = in_strides[j];
        else
            return false;
    }
    return true;
}

int64_t geom_dims_product(const int64_t *d, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= d[i];
    return p;
}
