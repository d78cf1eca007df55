/*
 * export.h — a quantized graph's parameters as the tensor lists `netc export`
 * writes (docs/quantization.md, "Exporting"):
 *
 *   torch  (export_torch.c) the source network's state_dict, f32, quantized
 *          weights at their fake-quantized values, so that PyTorch's
 *          load_state_dict(strict=True) takes it unchanged; a batchnorm that
 *          fold-bn merged into its conv comes back as an exact identity plus
 *          shift, and the quantizers are described in __metadata__
 *   int    (export_int.c) the graph's own parameters, each quantized weight
 *          as its integers (i8/u8 up to 8 bits, i16/u16 above) beside its
 *          scale and zero point, everything else as it is
 *
 * Both describe every quantizer in __metadata__ under `netc.quant.<stem>`
 * (export.c): a compact JSON object with bits, signed, axis and the scale
 * and zero point. The lists borrow the graph's tensors; what an export makes
 * (integers, batchnorm stand-ins) it owns in `made`.
 */
#ifndef NETC_RT_EXPORT_H
#define NETC_RT_EXPORT_H

#include "../ir/ir.h"
#include "safetensors.h"

typedef struct RtExport {
    TensorList tensors; /* what is written: borrows from the graph and from made */
    TensorList made;    /* the tensors the export created; owned */
} RtExport;

/*
 * The state_dict of src (the input as written: its parameter keys, minus
 * quantizer scales and zero points) with g's values, g being src after the
 * passes, bound. Every key of src must have its value in g (same key and
 * shape, f32) or be a batchnorm fold-bn removed; every parameter of g must
 * land somewhere (a state_dict key, a folded bias, a quantizer). Anything
 * else is reported, naming the parameter, and nothing is exported. With
 * activation quantizers, a warning says PyTorch will not apply them.
 */
bool rt_export_torch(const IrGraph *g, const IrGraph *src, RtExport *out, Diag *d);

/*
 * g's parameters with each quantized f32 weight replaced by its integers,
 * checked to dequantize to the weight's values bit for bit. A graph
 * without quantized weights is refused (there would be nothing integer
 * about the file). False after reporting.
 */
bool rt_export_int(const IrGraph *g, RtExport *out, Diag *d);

void rt_export_free(RtExport *e);

/* ---- export.c: what both formats share ---- */

/*
 * Adds __metadata__ `netc.quant.<stem>` for each quantized value of g (a
 * parameter, or a node result: an activation point), stem being the
 * weight's key or the activation's parameter stem (`layer1.0.conv1.input`
 * from `layer1.0.conv1.input_scale`). inline_values: the scale and zero
 * point as JSON arrays of numbers (torch: those tensors are not in the
 * file); otherwise the keys of their tensors. Returns the number of
 * activation quantizers (node results) described.
 */
int rt_export_quant_meta(const IrGraph *g, TensorList *l, bool inline_values);

/* The quantized values of g, parameters (graph order) then node results
 * (activation points): a malloc'd array of *n the caller frees. */
const IrValue **rt_export_quantized(const IrGraph *g, int *n);

/* Adds t under name to the written list and takes it into made. */
void rt_export_add_made(RtExport *e, const char *name, Tensor *t);

#endif
