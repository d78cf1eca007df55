/*
 * npy.h — reading and writing NumPy .npy files (one array per file).
 *
 * Used for network inputs and reference outputs exchanged with PyTorch and
 * NumPy scripts. Reading accepts format versions 1.0, 2.0 and 3.0, C order,
 * little-endian (or byte-order-free) data of these dtypes:
 *
 *   descr   DType      descr   DType
 *   <f4     DT_F32     <i4     DT_I32
 *   <f2     DT_F16     |i1     DT_I8
 *   <f8     DT_F32 *   |u1     DT_U8
 *   <i8     DT_I64     |b1     DT_BOOL (bytes normalised to 0/1)
 *
 * (*) float64 has no DType; it is narrowed to float32 (round to nearest).
 * Use tensor_to_f32 for an f32 copy of the other dtypes.
 *
 * Files are treated as untrusted: the magic, version, header length, the
 * header dictionary, the shape and the data size are all checked, and each
 * problem is reported as `file: error: ...` naming the byte offset where it
 * helps. Writing produces version 1.0 (a rank-8 header is far below its
 * 64 KiB limit) with the header padded so the data starts on a 64-byte
 * boundary, and replaces the target atomically. DT_BF16 has no NumPy dtype and is refused.
 */
#ifndef NETC_RT_NPY_H
#define NETC_RT_NPY_H

#include "../ir/tensor.h"
#include "../support/diag.h"

/* Returns a new tensor, or NULL after reporting to d. */
Tensor *rt_npy_read(const char *path, Diag *d);
/* Writes t atomically; false after reporting to d. */
bool rt_npy_write(const char *path, const Tensor *t, Diag *d);

#endif
