/*
 * weights.h — binding named weights to a graph's parameters, and back.
 *
 * Loading follows PyTorch's load_state_dict(strict=True): keys are matched
 * exactly, and every problem is reported in one run — each missing key (a
 * parameter the file lacks), each unexpected key (a tensor no parameter
 * takes), each size mismatch (both shapes shown) — followed by a summary
 * note. Nothing is bound unless everything matches. Keys ending in
 * `num_batches_tracked` (a BatchNorm training counter PyTorch saves) are
 * accepted and ignored. When the keys differ only by a prefix (the
 * `module.` that nn.DataParallel adds), a note says so.
 *
 * Bound tensors are f32 (F16/BF16/integer tensors are converted) and are
 * moved out of the list, not copied, so a large network is held once.
 */
#ifndef NETC_RT_WEIGHTS_H
#define NETC_RT_WEIGHTS_H

#include "../ir/ir.h"
#include "safetensors.h"

/*
 * Binds w's tensors to g's parameters by key; path names the source in
 * messages. strict: missing and unexpected keys are errors; otherwise they
 * are counted in one warning, and parameters without a tensor keep what
 * they had. Size mismatches are always errors. On success the bound
 * tensors are moved out of w (their entries' t become NULL); on failure
 * nothing is bound and w is unchanged. Returns false after reporting to d.
 */
bool rt_weights_bind(IrGraph *g, TensorList *w, const char *path, bool strict, Diag *d);

/*
 * Fills the empty list out with g's bound parameters in graph order. The
 * list borrows the tensors (out->borrowed is set): it is valid while g
 * lives and its parameters are not rebound, and rt_tlist_free leaves the
 * tensors alone. Reports every unbound parameter and returns false if any.
 */
bool rt_weights_export(const IrGraph *g, TensorList *out, Diag *d);

/* Reads a .safetensors file and binds it (rt_weights_bind). */
bool rt_weights_load(IrGraph *g, const char *path, bool strict, Diag *d);
/* Writes g's bound parameters to a .safetensors file, atomically. */
bool rt_weights_save(const IrGraph *g, const char *path, Diag *d);

#endif
