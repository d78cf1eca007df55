/*
 * op_dtypes.h — the dtype rules ops.def names (ir/op_dtypes.c). Internal to
 * ir/: everyone else asks op_info(op)->dtype.
 */
#ifndef NETC_OP_DTYPES_H
#define NETC_OP_DTYPES_H

#include "ir.h"

/* Arithmetic: the data inputs share one floating dtype, which the result
 * has; parameters are floating too but may be stored in another precision
 * (bf16 weights for f32 activations: mixed-precision storage). */
bool dtype_float(const IrNode *n, DType *out, char *err, size_t errlen);
/* Data movement (reshape, slice, concat, ...): the data inputs share any one
 * dtype, which the result has. */
bool dtype_same(const IrNode *n, DType *out, char *err, size_t errlen);
/* topk: a floating input; values of its dtype and i64 indices. */
bool dtype_topk(const IrNode *n, DType *out, char *err, size_t errlen);
/* The rule of an invalid op kind: always fails. */
/* quantize: a floating input; the integer container of its bits attribute
 * (i8/u8 up to 8 bits, i16/u16 up to 16). */
bool dtype_quantize(const IrNode *n, DType *out, char *err, size_t errlen);
/* dequantize: an integer input (its quant metadata is the verifier's to
 * check); f32. */
bool dtype_dequantize(const IrNode *n, DType *out, char *err, size_t errlen);
/* qconv2d, qlinear: u8 input, i8 weight, i32 bias, f32 mult; the result is
 * f32 (bits = 0) or the u8 container of bits. */
bool dtype_integer_layer(const IrNode *n, DType *out, char *err, size_t errlen);
bool dtype_invalid(const IrNode *n, DType *out, char *err, size_t errlen);

#endif
