/*
 * ref_kernels.h — the reference kernels: one plain C function per operator,
 * the numerical oracle every backend and pass is checked against.
 *
 * Contract of every kernel (ref_kernel_for gives the one of each op):
 *   - n is the node; its attributes have their defaults filled in;
 *   - in[0..n->nin) are f32 tensors, in the node's input order (data inputs,
 *     then parameters in ops.def order), each of shape n->in[i]->shape;
 *   - out is a zero-filled f32 tensor of shape n->out->shape (multi-result
 *     kernels: out[r] of shape n->outs[r]->shape);
 *   - semantics are PyTorch 1.13's in eval mode (docs/language.md);
 *   - any condition the kernel cannot honour (a wrong rank, a shape that
 *     disagrees with the attributes, a missing attribute) writes a message to
 *     err and returns false. Kernels never abort and never read out of bounds.
 *
 * Kernels are written for clarity first. Dot products accumulate in double;
 * convolution, linear and matmul share one cache-blocked GEMM so ResNet-50
 * runs in seconds on one core.
 */
#ifndef NETC_REF_KERNELS_H
#define NETC_REF_KERNELS_H

#include "../ir/ir.h"

typedef bool (*RefKernel)(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                          size_t errlen);

/* Kernels of multi-result ops: out[r] for each result r. */
typedef bool (*RefKernelN)(const IrNode *n, const Tensor *const *in, Tensor *const *out, char *err,
                           size_t errlen);

/* The interpreter's dispatch: each op has exactly one of the two. */
typedef struct RefKernelEntry {
    RefKernel one;
    RefKernelN many;
} RefKernelEntry;
/* The entry of op; both NULL for an op without a reference kernel (the
 * unit tests check that no op is in that state). */
RefKernelEntry ref_kernel_for(OpKind op);

#define REF_KERNEL(name) \
    bool name(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen);
REF_KERNEL(ref_conv2d) REF_KERNEL(ref_linear) REF_KERNEL(ref_matmul) REF_KERNEL(ref_batchnorm)
REF_KERNEL(ref_layernorm) REF_KERNEL(ref_relu) REF_KERNEL(ref_relu6) REF_KERNEL(ref_gelu)
REF_KERNEL(ref_silu) REF_KERNEL(ref_sigmoid) REF_KERNEL(ref_hardswish) REF_KERNEL(ref_softmax)
REF_KERNEL(ref_add) REF_KERNEL(ref_sub) REF_KERNEL(ref_mul) REF_KERNEL(ref_maxpool)
REF_KERNEL(ref_avgpool) REF_KERNEL(ref_adaptive_avgpool) REF_KERNEL(ref_global_avgpool)
REF_KERNEL(ref_copy) REF_KERNEL(ref_transpose) REF_KERNEL(ref_permute) REF_KERNEL(ref_expand)
REF_KERNEL(ref_concat) REF_KERNEL(ref_slice) REF_KERNEL(ref_select) REF_KERNEL(ref_mha)
REF_KERNEL(ref_quantize) REF_KERNEL(ref_dequantize) REF_KERNEL(ref_qconv2d) REF_KERNEL(ref_qlinear)
#undef REF_KERNEL
/*
 * The epilogue of the integer layer n (qconv2d or qlinear), the one both
 * kernels end with: acc[i] = Σ_k (x_k − zx)·w_k for every element i of out,
 * in out's layout (channels on axis 1 of qconv2d's [N, C, H, W], on the last
 * axis of qlinear's); adds the bound i32 bias, refuses an accumulator that
 * overflows int32, and requantizes into out (ref_qlayers.c's header). Also
 * what the PIM simulator applies to its crossbars' accumulators.
 */
bool ref_qlayer_epilogue(const IrNode *n, const int64_t *acc, Tensor *out, char *err, size_t errlen);
bool ref_topk(const IrNode *n, const Tensor *const *in, Tensor *const *out, char *err, size_t errlen);

#endif
