/*
 * geometry.h — tensor geometry, once: convolution and pooling output sizes,
 * broadcasting, negative-dim wrapping and element strides.
 *
 * The shape rules (ir/ops.c), the reference kernels (runtime/ref_kernels.c)
 * and the LLVM lowering (backends/llvm/lower.c) all need the same
 * arithmetic, and a crossbar mapper will too; one formula in three places
 * is three chances for an off-by-one that PyTorch does not have. So every
 * function here reproduces PyTorch's own definition, is checked against
 * PyTorch's answers (tests/unit/test_geometry.c), and reports invalid or
 * overflowing arguments instead of computing garbage: callers decide what
 * message to give.
 *
 * Nothing here allocates or prints. (runtime/native is compiled to bitcode
 * on its own and does not include this header.)
 */
#ifndef NETC_GEOMETRY_H
#define NETC_GEOMETRY_H

#include "ir.h"

/*
 * a / b rounded toward negative infinity (C rounds toward zero), as
 * Python's // and torch's div_rtn. b must not be 0, and INT64_MIN / -1
 * overflows as it does in C.
 */
int64_t geom_floor_div(int64_t a, int64_t b);

/*
 * PyTorch's maybe_wrap_dim: dim may count from the end (-1 is the last
 * dim); the result in [0, rank) goes to *out. A 0-d tensor is treated as
 * rank 1, so it accepts 0 and -1 (*out = 0), as torch does for softmax or
 * transpose of a scalar; callers that index a dimension must reject rank 0
 * themselves. False when dim is out of range; *out is then untouched.
 */
bool geom_wrap_dim(int64_t dim, int rank, int *out);

/*
 * One spatial output size of a convolution, torch's conv output formula:
 *   floor((in + 2*pad - dilation*(k - 1) - 1) / stride) + 1,
 * with *out = 0 when the dilated kernel does not fit in the padded input.
 * False (and *out untouched) when k, stride or dilation is below 1, pad is
 * negative, in is negative, or an intermediate overflows int64.
 */
bool geom_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                        int64_t *out);

/*
 * One spatial output size of max/avg pooling, torch's pooling_output_shape:
 * the convolution formula with floor or (ceil_mode) ceiling division, and in
 * ceil mode the last window is dropped unless it starts inside the input or
 * its left padding ((out - 1) * stride < in + pad). The result may be < 1
 * when the window does not fit. torch's further check that pad is at most
 * half the kernel (pool2d_shape_check) is the caller's. False (and *out
 * untouched) on the invalid arguments of geom_conv_out_size or overflow.
 */
bool geom_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                        bool ceil_mode, int64_t *out);

/*
 * The geometry of one 2-D convolution, named like the native kernels'
 * descriptor (NkConv): input [n, c, h, w], output [n, oc, oh, ow], kernel
 * kh x kw, strides, paddings, dilations and groups (c / groups input
 * channels per output channel). oh and ow are 0 when the kernel does not
 * fit and -1 when they cannot be computed (see geom_conv_out_size).
 */
typedef struct GeomConv2d {
    int64_t n, c, h, w;
    int64_t oc, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t groups;
} GeomConv2d;

/*
 * Sets g->oh and g->ow from the other fields (-1 where not computable, 0
 * where the kernel does not fit); true when both are at least 1.
 */
bool geom_conv2d_output(GeomConv2d *g);

/*
 * Fills g from a conv2d node: n, c, h, w from input 0, the rest from the
 * attributes (int2 ones through geom_attr_int2), the output size by
 * geom_conv2d_output. Every field is written, 0 for what is missing. True
 * when the node is a convolution PyTorch accepts: a 4-D input, all
 * attributes present, oc and groups positive, groups dividing c and oc,
 * and an output of at least 1x1. Callers that explain a failure look at
 * the fields, which are filled either way.
 */
bool geom_conv2d_from_node(const IrNode *n, GeomConv2d *g);

/*
 * Reads the int2 attribute key of n (kernel_size, stride, padding,
 * dilation, output_size: a height/width pair) into v: a list of exactly two
 * ints, or one int standing for both. False, with v = {0, 0}, when it is
 * missing or of another kind.
 */
bool geom_attr_int2(const IrNode *n, const char *key, int64_t v[2]);

/*
 * NumPy broadcasting (torch.broadcast_shapes): shapes are aligned at their
 * last dims, missing leading dims count as 1, and each pair of sizes must
 * be equal or contain a 1, the result taking the other. False when some
 * pair differs with neither being 1; *out is untouched then. out may be a
 * or b.
 */
bool geom_broadcast_shape(const Shape *a, const Shape *b, Shape *out);

/*
 * Row-major element strides of a contiguous tensor of shape s: the last
 * dim has stride 1, each earlier one the product of the sizes after it.
 * (torch counts a size-0 dim as 1 here; we multiply by 0, which no index
 * of an empty tensor can notice.) Writes s->rank entries.
 */
void geom_contiguous_strides(const Shape *s, int64_t *strides);

/* The product of dims d[lo..hi): how reductions along one axis view a
 * tensor as [outer, len, inner] (outer = geom_dims_product(d, 0, dim),
 * inner = geom_dims_product(d, dim + 1, rank)). 1 for an empty range. */
int64_t geom_dims_product(const int64_t *d, int lo, int hi);

/*
 * The element strides at which a tensor of shape in, stored with strides
 * in_strides (NULL: contiguous), is read when broadcast to shape out:
 * strides[i] for out's dim i is 0 where in has no such dim (out has more
 * leading dims) or size 1 there, and in's own stride otherwise — what
 * torch's expand gives for the stretched dims. Writes out->rank entries.
 * False when in does not broadcast to out (in has more dims, or a size
 * that is neither 1 nor out's).
 */
bool geom_broadcast_strides(const Shape *in, const int64_t *in_strides, const Shape *out,
                            int64_t *strides);

#endif
