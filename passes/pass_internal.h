/*
 * pass_internal.h — what the pass files share with the pass manager: each
 * pass's run function (the table in pass_manager.c points at them) and the
 * two helpers more than one pass needs, defined in pass_util.c.
 */
#ifndef NETC_PASS_INTERNAL_H
#define NETC_PASS_INTERNAL_H

#include "pass.h"

/* dce.c, remove_identity.c, fold_bn.c, fold_constants.c */
bool pass_annotations_run(IrGraph *g, const PassArgs *args, Diag *d); /* annotations.c */
bool pass_dce(IrGraph *g, const PassArgs *args, Diag *d);
bool pass_remove_identity(IrGraph *g, const PassArgs *args, Diag *d);
bool pass_fold_bn(IrGraph *g, const PassArgs *args, Diag *d);
bool pass_fold_constants(IrGraph *g, const PassArgs *args, Diag *d);
bool pass_quantize(IrGraph *g, const PassArgs *args, Diag *d); /* quantize.c */
bool pass_expand_mha(IrGraph *g, const PassArgs *args, Diag *d); /* expand_mha.c */
bool pass_integerize(IrGraph *g, const PassArgs *args, Diag *d); /* integerize.c */
bool pass_prune(IrGraph *g, const PassArgs *args, Diag *d); /* prune.c */

/* A parameter key no parameter of g has: base itself when free, else
 * base.1, base.2, ... (allocated in g's arena). */
const char *pass_fresh_key(IrGraph *g, const char *base);

/* The bound data of parameter p as f32 floats, or NULL when p has no data
 * or data of another dtype (passes that compute on weights need f32). */
const float *pass_f32_data(const IrValue *p);

/* A node taking from's place (a rewrite) keeps its annotations, PIM
 * placement and typed requests. */
void pass_carry_node_meta(IrGraph *g, const IrNode *from, IrNode *to);

#endif
