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

/* X(enum suffix, name in .net / IR text, bytes per element, safetensors name) */
#define DTYPE_LIST(X)                \
    X(F32, "f32", 4, "F32")          \
    X(F16, "f16", 2, "F16")          \
    X(BF16, "bf16", 2, "BF16")       \
    X(I64, "i64", 8, "I64")          \
    X(I32, "i32", 4, "I32")          \
    X(I8, "i8", 1, "I8")             \
    X(U8, "u8", 1, "U8")             \
    X(BOOL, "bool", 1, "BOOL")

typedef enum {
#define X(e, name, size, st) DT_##e,
    DTYPE_LIST(X)
#undef X
    DT__COUNT
} DType;

const char *dtype_name(DType t);
size_t dtype_size(DType t);
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
    void *data; /* numel * dtype_size bytes, owned */
} Tensor;

/* Zero-filled tensor; NULL if the size overflows or is absurd (> 2^40 bytes). */
Tensor *tensor_new(DType dtype, const Shape *shape);
void tensor_free(Tensor *t);
size_t tensor_nbytes(const Tensor *t);
int64_t tensor_numel(const Tensor *t);
/* A new f32 tensor with t's values (f16/bf16/ints converted), or NULL. */
Tensor *tensor_to_f32(const Tensor *t);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif
