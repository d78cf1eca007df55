/*
 * tensor.c — dtype tables, shape helpers and half-precision conversion.
 */
#include "tensor.h"
#include "../support/arena.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *st_name;
    int bits;
    DTypeClass cls;
} dtype_info[] = {
#define X(e, name, bits, st, cls) [DT_##e] = {name, st, bits, cls},
    DTYPE_LIST(X)
#undef X
};

const char *dtype_name(DType t) { return t < DT__COUNT ? dtype_info[t].name : "?"; }
int dtype_bits(DType t) { return t < DT__COUNT ? dtype_info[t].bits : 0; }
size_t dtype_size(DType t) { return dtype_bits(t) % 8 ? 0 : (size_t)dtype_bits(t) / 8; }
uint64_t dtype_nbytes(DType t, uint64_t n) { return (n * (uint64_t)dtype_bits(t) + 7) / 8; }
DTypeClass dtype_class(DType t) { return t < DT__COUNT ? dtype_info[t].cls : DC_BOOL; }
bool dtype_is_float(DType t) { return t < DT__COUNT && dtype_info[t].cls == DC_FLOAT; }
const char *dtype_safetensors_name(DType t) { return t < DT__COUNT ? dtype_info[t].st_name : "?"; }

bool dtype_from_name(const char *name, DType *out)
{
    for (int t = 0; t < DT__COUNT; t++)
        if (strcmp(dtype_info[t].name, name) == 0)
            return *out = (DType)t, true;
    return false;
}

bool dtype_from_safetensors_name(const char *name, DType *out)
{
    for (int t = 0; t < DT__COUNT; t++)
        if (dtype_info[t].st_name[0] && strcmp(dtype_info[t].st_name, name) == 0)
            return *out = (DType)t, true;
    return false;
}

int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->d[i] < 0)
            return -1;
        if (s->d[i] && n > INT64_MAX / s->d[i])
            return -1;
        n *= s->d[i];
    }
    return n;
}

bool shape_equal(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return false;
    return true;
}

char *shape_str(const Shape *s, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
    for (int i = 0; i < s->rank; i++)
        n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%lld", i ? ", " : "",
                              (long long)s->d[i]);
    snprintf(buf + n, n < size ? size - n : 0, "]");
    return buf;
}

Shape shape_make(int rank, const int64_t *dims)
{
    Shape s = {.rank = rank};
    for (int i = 0; i < rank && i < SHAPE_MAX_RANK; i++)
        s.d[i] = dims[i];
    return s;
}

Tensor *tensor_new(DType dtype, const Shape *shape)
{
    int64_t n = shape_numel(shape);
    if (n < 0 || dtype >= DT__COUNT || shape->rank > SHAPE_MAX_RANK || shape->rank < 0)
        return NULL;
    if ((uint64_t)n > ((uint64_t)1 << 40) / 8)
        return NULL;
    Tensor *t = xcalloc(1, sizeof *t);
    t->dtype = dtype;
    t->shape = *shape;
    uint64_t bytes = dtype_nbytes(dtype, (uint64_t)n);
    t->data = calloc(bytes ? (size_t)bytes : 1, 1);
    if (!t->data) {
        free(t);
        return NULL;
    }
    return t;
}

void tensor_free(Tensor *t)
{
    if (t)
        free(t->data);
    free(t);
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(&t->shape); }
size_t tensor_nbytes(const Tensor *t) { return (size_t)dtype_nbytes(t->dtype, (uint64_t)tensor_numel(t)); }

/* Element i of a sub-byte integer tensor: elements are packed from the
 * least significant bits of each byte up; signed ones are two's complement. */
int64_t tensor_packed_get(const Tensor *t, int64_t i)
{
    int bits = dtype_bits(t->dtype), per = 8 / bits;
    unsigned byte = ((const uint8_t *)t->data)[i / per];
    unsigned raw = (byte >> (bits * (int)(i % per))) & ((1u << bits) - 1);
    if (dtype_class(t->dtype) == DC_SIGNED && raw >> (bits - 1))
        return (int64_t)raw - (1 << bits);
    return raw;
}

void tensor_packed_set(Tensor *t, int64_t i, int64_t value)
{
    int bits = dtype_bits(t->dtype), per = 8 / bits, sh = bits * (int)(i % per);
    uint8_t *byte = (uint8_t *)t->data + i / per;
    unsigned mask = ((1u << bits) - 1) << sh;
    *byte = (uint8_t)((*byte & ~mask) | (((unsigned)value << sh) & mask));
}

Tensor *tensor_to_f32(const Tensor *t)
{
    Tensor *r = tensor_new(DT_F32, &t->shape);
    if (!r)
        return NULL;
    float *o = r->data;
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case DT_F32: o[i] = ((const float *)t->data)[i]; break;
        case DT_F16: o[i] = f16_to_f32(((const uint16_t *)t->data)[i]); break;
        case DT_BF16: o[i] = bf16_to_f32(((const uint16_t *)t->data)[i]); break;
        case DT_I64: o[i] = (float)((const int64_t *)t->data)[i]; break;
        case DT_I32: o[i] = (float)((const int32_t *)t->data)[i]; break;
        case DT_I16: o[i] = ((const int16_t *)t->data)[i]; break;
        case DT_U16: o[i] = ((const uint16_t *)t->data)[i]; break;
        case DT_I8: o[i] = ((const int8_t *)t->data)[i]; break;
        case DT_U8: o[i] = ((const uint8_t *)t->data)[i]; break;
        case DT_BOOL: o[i] = ((const uint8_t *)t->data)[i] != 0; break;
        case DT_I4:
        case DT_U4:
        case DT_I2:
        case DT_U2: o[i] = (float)tensor_packed_get(t, i); break;
        default: tensor_free(r); return NULL;
        }
    }
    return r;
}

/* IEEE 754 binary16 -> binary32, exact for every input incl. subnormals. */
float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000 | (man << 13);
    else if (exp)
        bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man) {
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    } else
        bits = sign;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* binary32 -> binary16 with round-to-nearest-even, overflow to infinity. */
uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000)
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    if (absx >= 0x477ff000) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000) { /* subnormal or zero in f16 */
        float a;
        memcpy(&a, &absx, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    }
    uint32_t r = absx + 0xfff + ((absx >> 13) & 1);
    return (uint16_t)(sign | ((r - 0x38000000) >> 13));
}

float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}
