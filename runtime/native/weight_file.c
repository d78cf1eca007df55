/*
 * weight_file.c — the compact form of sub-8-bit integer layers in a
 * bundle's weights file, and loading that file into the packed blob the
 * kernels read (nk.h, "a bundle's weights file").
 *
 * The kernels want int8 panels (int16 words outside VNNI), so a 4-bit
 * weight costs the same as an 8-bit one in memory; the file need not. The
 * bundle repacks the compact layers once, at load time, with the same
 * nk_q*_pack functions netc uses at build time, so the loaded blob is
 * byte-identical to the one netc would have written.
 */
#include "qgemm.h"

#include <stdlib.h>
#include <string.h>

int64_t nk_qlayer_file_bytes(const NkQLayerFile *f)
{
    return (f->nweights * f->bits + 7) / 8 + (f->has_bias ? f->oc * 4 : 0) + f->oc * 4;
}

int nk_qlayer_file_encode(const NkQLayerFile *f, const int8_t *weight, const int32_t *bias, const float *mult,
                          uint8_t *out)
{
    int64_t lim = ((int64_t)1 << (f->bits - 1)) - 1, wbytes = (f->nweights * f->bits + 7) / 8;
    uint32_t mask = (1u << f->bits) - 1;
    memset(out, 0, (size_t)wbytes);
    for (int64_t i = 0; i < f->nweights; i++) {
        if (weight[i] < -lim - 1 || weight[i] > lim)
            return -1;
        uint32_t v = (uint32_t)(int32_t)weight[i] & mask;
        int64_t bit = i * f->bits;
        for (int64_t b = 0; b < f->bits; b++, bit++)
            out[bit / 8] |= (uint8_t)(((v >> b) & 1) << (bit % 8));
    }
    uint8_t *p = out + wbytes;
    if (f->has_bias)
        memcpy(p, bias, (size_t)f->oc * 4), p += f->oc * 4;
    memcpy(p, mult, (size_t)f->oc * 4);
    return 0;
}

/* The int8 weights of a compact layer, sign-extended from its bits. */
static void decode_weights(const NkQLayerFile *f, const uint8_t *src, int8_t *w)
{
    int64_t bit = 0;
    for (int64_t i = 0; i < f->nweights; i++) {
        uint32_t v = 0;
        for (int64_t b = 0; b < f->bits; b++, bit++)
            v |= (uint32_t)((src[bit / 8] >> (bit % 8)) & 1) << b;
        if (v >> (f->bits - 1))
            v |= ~0u << f->bits;
        w[i] = (int8_t)(int32_t)v;
    }
}

static int load_qlayer(const NkQLayerFile *f, const uint8_t *src, uint8_t *dst)
{
    int8_t *w = malloc((size_t)f->nweights + 1);
    int32_t *bias = f->has_bias ? malloc((size_t)f->oc * 4) : NULL;
    float *mult = malloc((size_t)f->oc * 4 + 4);
    int rc = -1;
    if (w && mult && (bias || !f->has_bias)) {
        decode_weights(f, src, w);
        const uint8_t *p = src + (f->nweights * f->bits + 7) / 8;
        if (bias)
            memcpy(bias, p, (size_t)f->oc * 4), p += f->oc * 4;
        memcpy(mult, p, (size_t)f->oc * 4);
        const NkTiling t = NK_QBUILD_TILING; /* this build's: the bundle's own variant */
        rc = f->is_conv ? nk_qconv2d_pack(&f->conv, &t, w, bias, mult, dst)
                        : nk_qlinear_pack(&f->linear, &t, w, bias, mult, dst);
    }
    free(w), free(bias), free(mult);
    return rc;
}

int nk_load_weights(const NkWeightFile *f, const uint8_t *file, uint8_t *weights)
{
    memset(weights, 0, (size_t)f->blob_bytes);
    for (int64_t i = 0; i < f->nregions; i++) {
        const NkWeightRegion *r = &f->region[i];
        if (!r->compact)
            memcpy(weights + r->blob_offset, file + r->file_offset, (size_t)r->blob_bytes);
        else if (load_qlayer(&r->q, file + r->file_offset, weights + r->blob_offset) != 0)
            return -1;
    }
    return 0;
}
