/*
 * ref_kernels.h — the reference kernels: one plain C function per operator,
 * the numerical oracle every backend and pass is checked against.
 *
 * Contract of every kernel (named in the last column of ir/ops.def):
 *   - n is the node; its attributes have their defaults filled in;
 *   - in[0..n->nin) are f32 tensors, in the node's input order (data inputs,
 *     then parameters in ops.def order), each of shape n->in[i]->shape;
 *   - out is a zero-filled f32 tensor of shape n->out->shape;
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

/* A prototype for every kernel named in ops.def, so the table and the
 * definitions cannot drift apart. A kernel serving several ops (ref_matmul:
 * matmul and bmm; ref_copy: flatten, reshape, dropout) is declared once per
 * op, which C allows. */
#define OP(e, name, mn, mx, attrs, params, shape, pfn, macs, kernel)                         \
    bool kernel(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen);
#include "../ir/ops.def"
#undef OP

#endif
