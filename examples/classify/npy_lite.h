/*
 * npy_lite.h — just enough .npy for programs that link a netc bundle and
 * nothing else: read a little-endian f32 array, write one. (netc itself
 * uses runtime/npy.c, which handles every dtype and checks much more.)
 * Header-only; include it in one .c file.
 */
#ifndef NPY_LITE_H
#define NPY_LITE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file in a 64-byte aligned buffer (free()), or NULL. */
static void *npy_lite_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = aligned_alloc(64, ((size_t)n + 64) & ~(size_t)63);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int npy_lite_contains(const char *buf, size_t n, const char *needle)
{
    for (size_t i = 0, m = strlen(needle); i + m <= n; i++)
        if (!memcmp(buf + i, needle, m))
            return 1;
    return 0;
}

/* The data of a C-order '<f4' .npy file held in buf, if it has exactly
 * `want` elements; NULL otherwise. */
static const float *npy_lite_f32(const char *buf, size_t len, size_t want)
{
    if (len < 12 || memcmp(buf, "\x93NUMPY", 6) != 0 || (buf[6] != 1 && buf[6] != 2))
        return NULL;
    size_t hl = (size_t)(uint8_t)buf[8] | (size_t)(uint8_t)buf[9] << 8;
    if (buf[6] == 2)
        hl |= (size_t)(uint8_t)buf[10] << 16 | (size_t)(uint8_t)buf[11] << 24;
    size_t off = (buf[6] == 1 ? 10 : 12) + hl;
    if (off > len || !npy_lite_contains(buf, off, "'<f4'") || npy_lite_contains(buf, off, "True"))
        return NULL;
    return off + want * 4 == len ? (const float *)(buf + off) : NULL;
}

/* Writes x (shape dims[0..rank)) as a version 1 '<f4' .npy; 0 on success. */
static int npy_lite_write(const char *path, const float *x, const long long *dims, int rank)
{
    char shape[256] = "", head[512];
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%lld,%s", dims[i], i + 1 < rank ? " " : "");
        count *= (size_t)dims[i];
    }
    int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    int total = (10 + n + 1 + 63) / 64 * 64; /* the data starts 64-byte aligned */
    memset(head + n, ' ', (size_t)(total - 10 - n - 1));
    head[total - 10 - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total - 10),
                             (unsigned char)((total - 10) >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(head, 1, (size_t)(total - 10), f) != (size_t)(total - 10) ||
              fwrite(x, 4, count, f) != count;
    return fclose(f) != 0 || bad;
}

#endif
