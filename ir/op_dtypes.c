/*
 * op_dtypes.c — what element types each operator takes and gives.
 *
 * Each rule reads only n->in[*]->dtype (never shapes or attributes), so it
 * can run before the shape rule and on a half-built node; a missing input
 * is reported, never followed. Rules are strict on purpose: there is no
 * implicit promotion, so an i8 value reaching relu means a pass forgot a
 * dequantize, and the verifier says so at that node.
 */
#include "op_dtypes.h"

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

static bool inputs_present(const IrNode *n, char *err, size_t errlen)
{
    if (n->nin < 1 || !n->in)
        FAIL("has no inputs");
    for (int i = 0; i < n->nin; i++)
        if (!n->in[i])
            FAIL("input %d is missing", i + 1);
    return true;
}

/* "input 2" or "parameter 'weight'" for messages. */
static const char *slot_name(const IrNode *n, int i, char *buf, size_t size)
{
    int nd = op_data_inputs(n);
    if (i < nd)
        snprintf(buf, size, "input %d", i + 1);
    else
        snprintf(buf, size, "parameter '%s'", n->in[i]->name ? n->in[i]->name : "?");
    return buf;
}

/* Inputs 0..count all have in[0]'s dtype. */
static bool all_like_first(const IrNode *n, int count, char *err, size_t errlen)
{
    DType t = n->in[0]->dtype;
    char who[200];
    for (int i = 1; i < count; i++)
        if (n->in[i]->dtype != t)
            FAIL("%s is %s but input 1 is %s", slot_name(n, i, who, sizeof who),
                 dtype_name(n->in[i]->dtype), dtype_name(t));
    return true;
}

bool dtype_float(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!inputs_present(n, err, errlen))
        return false;
    DType t = n->in[0]->dtype;
    char who[200];
    if (!dtype_is_float(t))
        FAIL("%s takes floating-point tensors, input 1 is %s", op_info(n->op)->name, dtype_name(t));
    if (!all_like_first(n, op_data_inputs(n), err, errlen))
        return false;
    for (int i = op_data_inputs(n); i < n->nin; i++)
        if (!dtype_is_float(n->in[i]->dtype))
            FAIL("%s is %s; parameters of %s are floating-point", slot_name(n, i, who, sizeof who),
                 dtype_name(n->in[i]->dtype), op_info(n->op)->name);
    out[0] = t;
    return true;
}

bool dtype_same(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!inputs_present(n, err, errlen) || !all_like_first(n, op_data_inputs(n), err, errlen))
        return false;
    out[0] = n->in[0]->dtype;
    return true;
}

bool dtype_topk(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!dtype_float(n, out, err, errlen))
        return false;
    out[1] = DT_I64;
    return true;
}

/* The one rule that reads attributes: the container follows the bit width
 * (attributes are set before any rule runs). */
bool dtype_quantize(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!inputs_present(n, err, errlen))
        return false;
    if (!dtype_is_float(n->in[0]->dtype))
        FAIL("quantize takes a floating-point tensor, input 1 is %s", dtype_name(n->in[0]->dtype));
    int64_t bits = ir_attr_int(n, "bits");
    bool is_signed = ir_attr_int(n, "signed") != 0;
    if (bits < IR_QUANT_MIN_BITS || bits > IR_QUANT_MAX_BITS)
        FAIL("quantize bits %lld is outside %d..%d", (long long)bits, IR_QUANT_MIN_BITS,
             IR_QUANT_MAX_BITS);
    out[0] = ir_quant_container(bits, is_signed);
    return true;
}

bool dtype_dequantize(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!inputs_present(n, err, errlen))
        return false;
    DTypeClass c = dtype_class(n->in[0]->dtype);
    if (c != DC_SIGNED && c != DC_UNSIGNED)
        FAIL("dequantize takes an integer tensor, input 1 is %s", dtype_name(n->in[0]->dtype));
    out[0] = DT_F32;
    return true;
}

bool dtype_integer_layer(const IrNode *n, DType *out, char *err, size_t errlen)
{
    if (!inputs_present(n, err, errlen))
        return false;
    const char *name = op_info(n->op)->name;
    if (n->in[0]->dtype != DT_U8)
        FAIL("%s takes a u8 tensor, input 1 is %s", name, dtype_name(n->in[0]->dtype));
    bool bias = n->nin > 3;
    DType want[4] = {DT_U8, DT_I8, bias ? DT_I32 : DT_F32, DT_F32};
    char who[200];
    for (int i = 1; i < n->nin && i < 4; i++)
        if (n->in[i]->dtype != want[i])
            FAIL("%s is %s; %s needs %s", slot_name(n, i, who, sizeof who), dtype_name(n->in[i]->dtype), name,
                 dtype_name(want[i]));
    int64_t bits = ir_attr_int(n, "bits");
    if (bits < 0 || bits > 8)
        FAIL("%s bits %lld is outside 0..8 (0: an f32 result)", name, (long long)bits);
    out[0] = bits ? ir_quant_container(bits, false) : DT_F32;
    return true;
}

bool dtype_invalid(const IrNode *n, DType *out, char *err, size_t errlen)
{
    FAIL("invalid operator kind %d", (int)n->op);
}
