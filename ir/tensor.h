/*
 * tensor.h — element types, shapes and dense tensors.
 *
 * These are the plain data types shared by the IR (value types, bound
 * weights), the runtime (kernels, .npy/.safetensors I/O) and the backends.
 * A Tensor owns its data (malloc'd, freed by tensor_free); shapes are small
 * fixed arrays so they can be copied by value.
 */
#ifndef NETC_TENSOR_H
#define NETC_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * X(enum suffix, name in .net / IR text, bits per element, safetensors name,
 *   class). Sizes come from the bits, so sub-byte integer storage (i4, i2:
 *   quantized weights) packs elements little-end first within each byte;
 *   such dtypes have no safetensors name (""), so the writer refuses them
 *   and a pass stores them widened to i8/u8.
 */
#define DTYPE_LIST(X)                    \
    X(F32, "f32", 32, "F32", DC_FLOAT)   \
    X(F16, "f16", 16, "F16", DC_FLOAT)   \
    X(BF16, "bf16", 16, "BF16", DC_FLOAT) \
    X(I64, "i64", 64, "I64", DC_SIGNED)  \
    X(I32, "i32", 32, "I32", DC_SIGNED)  \
    X(I16, "i16", 16, "I16", DC_SIGNED)  \
    X(U16, "u16", 16, "U16", DC_UNSIGNED) \
    X(I8, "i8", 8, "I8", DC_SIGNED)      \
    X(U8, "u8", 8, "U8", DC_UNSIGNED)    \
    X(BOOL, "bool", 8, "BOOL", DC_BOOL)  \
    X(I4, "i4", 4, "", DC_SIGNED)        \
    X(U4, "u4", 4, "", DC_UNSIGNED)      \
    X(I2, "i2", 2, "", DC_SIGNED)        \
    X(U2, "u2", 2, "", DC_UNSIGNED)

/* What kind of number an element is; operators' dtype rules ask this. */
typedef enum { DC_FLOAT, DC_SIGNED, DC_UNSIGNED, DC_BOOL } DTypeClass;

typedef enum {
#define X(e, name, bits, st, cls) DT_##e,
    DTYPE_LIST(X)
#undef X
    DT__COUNT
} DType;

const char *dtype_name(DType t);
/* Bits per element. */
int dtype_bits(DType t);
/* Bytes per element for whole-byte dtypes; 0 for sub-byte ones (use
 * dtype_nbytes). */
size_t dtype_size(DType t);
/* Bytes that n elements occupy, sub-byte dtypes packed: ceil(n*bits/8). */
uint64_t dtype_nbytes(DType t, uint64_t n);
DTypeClass dtype_class(DType t);
bool dtype_is_float(DType t);
/* Returns false when name is not a dtype name ("f32", ...). */
bool dtype_from_name(const char *name, DType *out);
/* The dtype spelled as in a safetensors header ("F32", ...). */
const char *dtype_safetensors_name(DType t);
bool dtype_from_safetensors_name(const char *name, DType *out);

/* Rank 8 covers every network we know of; shape rules reject anything larger. */
#define SHAPE_MAX_RANK 8

typedef struct Shape {
    int rank;
    int64_t d[SHAPE_MAX_RANK];
} Shape;

/* Element count, or -1 if it would overflow int64 or a dim is negative. */
int64_t shape_numel(const Shape *s);
bool shape_equal(const Shape *a, const Shape *b);
/* Formats as "[1, 3, 224, 224]" into buf; returns buf. */
char *shape_str(const Shape *s, char *buf, size_t size);
Shape shape_make(int rank, const int64_t *dims);

typedef struct Tensor {
    DType dtype;
    Shape shape;
    void *data; /* dtype_nbytes(dtype, numel) bytes, owned */
} Tensor;

/* Zero-filled tensor; NULL if the size overflows or is absurd (> 2^40 bytes). */
Tensor *tensor_new(DType dtype, const Shape *shape);
void tensor_free(Tensor *t);
size_t tensor_nbytes(const Tensor *t);
int64_t tensor_numel(const Tensor *t);
/* Element access for sub-byte integer dtypes (i4, u4, i2, u2); value is
 * truncated to the dtype's bits. */
int64_t tensor_packed_get(const Tensor *t, int64_t i);
void tensor_packed_set(Tensor *t, int64_t i, int64_t value);
/* A new f32 tensor with t's values (f16/bf16/ints converted), or NULL. */
Tensor *tensor_to_f32(const Tensor *t);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif
