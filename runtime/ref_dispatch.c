/*
 * ref_dispatch.c — which reference kernel runs each operator. The
 * interpreter's own table, kept out of ir/ops.def so the IR holds IR facts
 * only; test_ref_kernels checks every op has an entry.
 */
#include "ref_kernels.h"

static const RefKernelEntry table[OP__COUNT] = {
    [OP_CONV2D] = {ref_conv2d},
    [OP_LINEAR] = {ref_linear},
    [OP_MATMUL] = {ref_matmul},
    [OP_BMM] = {ref_matmul},
    [OP_BATCHNORM] = {ref_batchnorm},
    [OP_LAYERNORM] = {ref_layernorm},
    [OP_RELU] = {ref_relu},
    [OP_RELU6] = {ref_relu6},
    [OP_GELU] = {ref_gelu},
    [OP_SILU] = {ref_silu},
    [OP_SIGMOID] = {ref_sigmoid},
    [OP_HARDSWISH] = {ref_hardswish},
    [OP_SOFTMAX] = {ref_softmax},
    [OP_ADD] = {ref_add},
    [OP_SUB] = {ref_sub},
    [OP_MUL] = {ref_mul},
    [OP_MAXPOOL] = {ref_maxpool},
    [OP_AVGPOOL] = {ref_avgpool},
    [OP_ADAPTIVE_AVGPOOL] = {ref_adaptive_avgpool},
    [OP_GLOBAL_AVGPOOL] = {ref_global_avgpool},
    [OP_FLATTEN] = {ref_copy},
    [OP_RESHAPE] = {ref_copy},
    [OP_TRANSPOSE] = {ref_transpose},
    [OP_PERMUTE] = {ref_permute},
    [OP_EXPAND] = {ref_expand},
    [OP_CONCAT] = {ref_concat},
    [OP_SLICE] = {ref_slice},
    [OP_SELECT] = {ref_select},
    [OP_QUANTIZE] = {ref_quantize},
    [OP_DEQUANTIZE] = {ref_dequantize},
    [OP_QCONV2D] = {ref_qconv2d},
    [OP_QLINEAR] = {ref_qlinear},
    [OP_MHA] = {ref_mha},
    [OP_DROPOUT] = {ref_copy},
    [OP_TOPK] = {.many = ref_topk},
};

RefKernelEntry ref_kernel_for(OpKind op)
{
    return (unsigned)op < OP__COUNT ? table[op] : (RefKernelEntry){0};
}
