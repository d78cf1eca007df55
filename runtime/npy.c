/*
 * npy.c — the .npy format; see npy.h.
 *
 * Layout (numpy/lib/format.py):
 *   "\x93NUMPY" major minor
 *   header length: uint16 LE (v1) or uint32 LE (v2, v3)
 *   header: a Python dict literal, e.g.
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   padded with spaces and ended by '\n' so the data is 64-byte aligned
 *   data: numel * itemsize bytes, nothing after it.
 *
 * The header is parsed by a small recursive-descent reader over the subset
 * of Python literals NumPy writes (strings, True/False, non-negative ints,
 * tuples and lists of ints); the three keys may come in any order, with any
 * spacing and trailing commas. Everything else is an error that names the
 * byte offset in the file.
 *
 * The data goes straight from the file into the tensor with pread, so a
 * large array is held in memory once.
 */
#include "npy.h"
#include "../support/arena.h"
#include "../support/fileio.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader and writer assume a little-endian host"
#endif

static const char npy_magic[6] = "\x93NUMPY";

/* Longer headers are refused before allocating (numpy's own reader stops at
 * 10000 bytes by default; a header only needs about 120). */
#define NPY_MAX_HEADER (1u << 20)

/* One row of the descr table; file_size differs from the DType's only for f8. */
typedef struct NpyType {
    char kind; /* 'f', 'i', 'u', 'b' */
    int file_size;
    DType dtype;
} NpyType;

static const NpyType npy_types[] = {
    {'f', 4, DT_F32}, {'f', 2, DT_F16}, {'f', 8, DT_F32}, {'i', 8, DT_I64},
    {'i', 4, DT_I32}, {'i', 2, DT_I16}, {'u', 2, DT_U16}, {'i', 1, DT_I8},
    {'u', 1, DT_U8},  {'b', 1, DT_BOOL},
};

/* ---- header parsing ---- */

typedef struct HeaderParser {
    const char *s;
    size_t len, pos;
    uint64_t base; /* file offset of s[0], for messages */
    const char *path;
    Diag *d;
    bool failed;
} HeaderParser;

static bool hp_fail(HeaderParser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports the first problem at the current position; later calls are quiet. */
static bool hp_fail(HeaderParser *p, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        diag_file_error(p->d, p->path, "bad .npy header at byte %" PRIu64 ": %s",
                        p->base + p->pos, msg);
    }
    p->failed = true;
    return false;
}

static void hp_skip_space(HeaderParser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
        p->pos++;
}

/* Consumes c (after spaces) if it is next. */
static bool hp_accept(HeaderParser *p, char c)
{
    hp_skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static bool hp_expect(HeaderParser *p, char c, const char *what)
{
    if (hp_accept(p, c))
        return true;
    return hp_fail(p, "expected %s", what);
}

/* string: '...' or "..." without escapes (NumPy never writes any). */
static bool hp_string(HeaderParser *p, char *out, size_t outlen)
{
    hp_skip_space(p);
    if (p->pos >= p->len || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return hp_fail(p, "expected a quoted string");
    char q = p->s[p->pos++];
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\' || p->s[p->pos] == '\n' || p->s[p->pos] == '\0')
            return hp_fail(p, "unsupported character in a string");
        p->pos++;
    }
    if (p->pos >= p->len) {
        p->pos = start - 1;
        return hp_fail(p, "unterminated string");
    }
    size_t n = p->pos - start;
    p->pos++;
    if (n >= outlen) {
        p->pos = start;
        return hp_fail(p, "string too long");
    }
    memcpy(out, p->s + start, n);
    out[n] = '\0';
    return true;
}

/* A bare word such as True, False. */
static bool hp_word(HeaderParser *p, char *out, size_t outlen)
{
    hp_skip_space(p);
    size_t n = 0;
    while (p->pos < p->len && ((p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z') ||
                               (p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z'))) {
        if (n + 1 < outlen)
            out[n++] = p->s[p->pos];
        p->pos++;
    }
    out[n] = '\0';
    return n > 0;
}

/* dim: digits, optionally followed by L (Python 2 longs); no sign. */
static bool hp_dim(HeaderParser *p, int64_t *out)
{
    hp_skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == '-')
        return hp_fail(p, "negative dimension");
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
        return hp_fail(p, "expected a dimension (a non-negative integer)");
    size_t start = p->pos;
    int64_t v = 0;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        int digit = p->s[p->pos] - '0';
        if (v > (INT64_MAX - digit) / 10) {
            p->pos = start;
            return hp_fail(p, "dimension overflows 64 bits");
        }
        v = v * 10 + digit;
        p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == 'L')
        p->pos++;
    *out = v;
    return true;
}

/* shape: '(' [dim (',' dim)* [',']] ')', or the same in brackets. */
static bool hp_shape(HeaderParser *p, Shape *s)
{
    hp_skip_space(p);
    char close = ')';
    if (hp_accept(p, '['))
        close = ']';
    else if (!hp_accept(p, '('))
        return hp_fail(p, "expected a shape tuple");
    s->rank = 0;
    while (!hp_accept(p, close)) {
        int64_t v = 0;
        size_t at = p->pos;
        if (!hp_dim(p, &v))
            return false;
        if (s->rank == SHAPE_MAX_RANK) {
            p->pos = at;
            return hp_fail(p, "more than %d dimensions", SHAPE_MAX_RANK);
        }
        s->d[s->rank++] = v;
        if (!hp_accept(p, ','))
            return hp_accept(p, close) || hp_fail(p, "expected ',' or '%c' in the shape", close);
    }
    return true;
}

typedef struct NpyHeader {
    char descr[16];
    uint64_t descr_at; /* file offset of the descr value, for messages */
    bool fortran;
    Shape shape;
} NpyHeader;

/* dict: '{' [key ':' value (',' key ':' value)* [',']] '}' */
static bool hp_dict(HeaderParser *p, NpyHeader *h)
{
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!hp_expect(p, '{', "'{' opening the header dictionary"))
        return false;
    while (!hp_accept(p, '}')) {
        char key[32];
        size_t at = (hp_skip_space(p), p->pos);
        if (!hp_string(p, key, sizeof key) || !hp_expect(p, ':', "':' after a key"))
            return false;
        bool *seen = strcmp(key, "descr") == 0           ? &have_descr
                     : strcmp(key, "fortran_order") == 0 ? &have_fortran
                     : strcmp(key, "shape") == 0         ? &have_shape
                                                         : NULL;
        if (!seen) {
            p->pos = at;
            return hp_fail(p, "unknown key '%s' (expected descr, fortran_order, shape)", key);
        }
        if (*seen) {
            p->pos = at;
            return hp_fail(p, "duplicate key '%s'", key);
        }
        *seen = true;
        hp_skip_space(p);
        at = p->pos;
        if (strcmp(key, "descr") == 0) {
            if (p->pos < p->len && (p->s[p->pos] == '[' || p->s[p->pos] == '{'))
                return hp_fail(p, "structured dtypes are not supported");
            h->descr_at = p->base + p->pos;
            if (!hp_string(p, h->descr, sizeof h->descr))
                return false;
        } else if (strcmp(key, "fortran_order") == 0) {
            char w[8];
            if (!hp_word(p, w, sizeof w) || (strcmp(w, "True") && strcmp(w, "False"))) {
                p->pos = at;
                return hp_fail(p, "fortran_order must be True or False");
            }
            h->fortran = w[0] == 'T';
        } else if (!hp_shape(p, &h->shape)) {
            return false;
        }
        if (!hp_accept(p, ',')) {
            if (!hp_expect(p, '}', "',' or '}'"))
                return false;
            break;
        }
    }
    hp_skip_space(p);
    if (p->pos != p->len)
        return hp_fail(p, "unexpected text after the dictionary");
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order"
                        : !have_shape ? "shape" : NULL;
    if (missing)
        return hp_fail(p, "the header lacks the key '%s'", missing);
    return true;
}

/* Maps descr (e.g. "<f4") to a table row; reports and returns NULL otherwise. */
static const NpyType *lookup_descr(const char *descr, const char *path, uint64_t at, Diag *d)
{
    char order = descr[0];
    int size = 0;
    bool ok = strchr("<>|=", order) && order && descr[1] && descr[2] >= '1' && descr[2] <= '9';
    if (ok) {
        for (const char *c = descr + 2; *c; c++)
            if (*c < '0' || *c > '9' || size > 1000)
                ok = false;
            else
                size = size * 10 + (*c - '0');
    }
    if (ok)
        for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++) {
            const NpyType *t = &npy_types[i];
            if (t->kind != descr[1] || t->file_size != size)
                continue;
            if (order == '>' && size > 1) {
                diag_file_error(d, path,
                                "at byte %" PRIu64 ": big-endian data ('%s') is not supported",
                                at, descr);
                return NULL;
            }
            if (order == '|' && size > 1)
                break;
            return t;
        }
    diag_file_error(d, path,
                    "at byte %" PRIu64 ": unsupported dtype '%s' (supported: <f4 <f2 <f8 <i8 "
                    "<i4 |i1 |u1 |b1)",
                    at, descr);
    return NULL;
}

static uint32_t le32(const unsigned char *b)
{
    return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

Tensor *rt_npy_read(const char *path, Diag *d)
{
    FioReader r;
    if (!fio_open(&r, path, d))
        return NULL;
    Tensor *t = NULL;
    char *hdr = NULL;
    void *tmp = NULL;
    unsigned char pre[12];
    if (r.size < 10) {
        diag_file_error(d, path, "not a .npy file: only %" PRIu64 " bytes", r.size);
        goto out;
    }
    if (!fio_pread(&r, 0, pre, r.size < 12 ? 10 : 12, d))
        goto out;
    if (memcmp(pre, npy_magic, 6) != 0) {
        diag_file_error(d, path, "not a .npy file: bad magic (expected \\x93NUMPY)");
        goto out;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        diag_file_error(d, path, "at byte 6: unsupported .npy version %d.%d (1.0, 2.0, 3.0 are)",
                        major, minor);
        goto out;
    }
    uint64_t hstart = major == 1 ? 10 : 12;
    if (r.size < hstart) {
        diag_file_error(d, path, "truncated: the file ends inside the header length");
        goto out;
    }
    uint64_t hlen = major == 1 ? (uint64_t)(pre[8] | pre[9] << 8) : le32(pre + 8);
    if (hlen > NPY_MAX_HEADER) {
        diag_file_error(d, path, "at byte 8: header length %" PRIu64 " is implausible (limit %u)",
                        hlen, NPY_MAX_HEADER);
        goto out;
    }
    if (hstart + hlen > r.size) {
        diag_file_error(d, path,
                        "at byte 8: header length %" PRIu64 " runs past the end of the file (%" PRIu64
                        " bytes)",
                        hlen, r.size);
        goto out;
    }
    hdr = fio_pread_text(&r, hstart, (size_t)hlen, d);
    if (!hdr)
        goto out;

    NpyHeader h = {0};
    HeaderParser p = {hdr, (size_t)hlen, 0, hstart, path, d, false};
    if (!hp_dict(&p, &h))
        goto out;
    if (h.fortran) {
        diag_file_error(d, path, "Fortran-order arrays are not supported; save with "
                                 "np.ascontiguousarray(a)");
        goto out;
    }
    const NpyType *ty = lookup_descr(h.descr, path, h.descr_at, d);
    if (!ty)
        goto out;
    char sh[160];
    int64_t numel = shape_numel(&h.shape);
    uint64_t avail = r.size - hstart - hlen;
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / 8) {
        diag_file_error(d, path, "shape %s overflows", shape_str(&h.shape, sh, sizeof sh));
        goto out;
    }
    uint64_t need = (uint64_t)numel * (uint64_t)ty->file_size;
    if (need != avail) {
        diag_file_error(d, path,
                        "%s: shape %s of %s needs %" PRIu64 " data bytes, the file has %" PRIu64
                        " after the header (byte %" PRIu64 ")",
                        need > avail ? "truncated" : "size mismatch",
                        shape_str(&h.shape, sh, sizeof sh), h.descr, need, avail, hstart + hlen);
        goto out;
    }
    t = tensor_new(ty->dtype, &h.shape);
    if (!t) {
        diag_file_error(d, path, "cannot allocate a tensor of shape %s",
                        shape_str(&h.shape, sh, sizeof sh));
        goto out;
    }
    bool narrow = (size_t)ty->file_size != dtype_size(ty->dtype);
    if (narrow)
        tmp = malloc(need ? (size_t)need : 1);
    if (narrow && !tmp) {
        diag_file_error(d, path, "out of memory reading %" PRIu64 " bytes", need);
        goto fail;
    }
    if (!fio_pread(&r, hstart + hlen, narrow ? tmp : t->data, (size_t)need, d))
        goto fail;
    if (narrow) {
        float *o = t->data;
        for (int64_t i = 0; i < numel; i++) {
            double v;
            memcpy(&v, (char *)tmp + 8 * i, 8);
            o[i] = (float)v;
        }
    }
    if (ty->dtype == DT_BOOL)
        for (int64_t i = 0; i < numel; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    goto out;
fail:
    tensor_free(t);
    t = NULL;
out:
    free(tmp);
    free(hdr);
    fio_close(&r);
    return t;
}

static const char *npy_descr(DType dt)
{
    switch (dt) {
    case DT_F32: return "<f4";
    case DT_F16: return "<f2";
    case DT_I64: return "<i8";
    case DT_I32: return "<i4";
    case DT_I16: return "<i2";
    case DT_U16: return "<u2";
    case DT_I8: return "|i1";
    case DT_U8: return "|u1";
    case DT_BOOL: return "|b1";
    default: return NULL;
    }
}

bool rt_npy_write(const char *path, const Tensor *t, Diag *d)
{
    const char *descr = npy_descr(t->dtype);
    if (!descr) {
        diag_file_error(d, path, "cannot write %s to .npy: NumPy has no such dtype "
                                 "(convert to f32 first)", dtype_name(t->dtype));
        return false;
    }
    if (t->shape.rank < 0 || t->shape.rank > SHAPE_MAX_RANK || tensor_numel(t) < 0) {
        diag_file_error(d, path, "cannot write a tensor with an invalid shape");
        return false;
    }
    /* The dict exactly as numpy.lib.format writes it. */
    char dict[64 + SHAPE_MAX_RANK * 24];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < t->shape.rank; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%" PRId64, i ? ", " : "",
                      t->shape.d[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->shape.rank == 1 ? "," : "");
    /* Pad with spaces, end with '\n', so that magic + length + header is a
     * multiple of 64. */
    size_t prefix = 10, hlen = (size_t)n + 1;
    hlen += (64 - (prefix + hlen) % 64) % 64;
    unsigned char head[10 + sizeof dict + 64];
    memcpy(head, npy_magic, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', hlen - (size_t)n - 1);
    head[10 + hlen - 1] = '\n';

    FioAtomic w;
    if (!fio_atomic_open(&w, path, d))
        return false;
    fio_atomic_write(&w, head, 10 + hlen);
    fio_atomic_write(&w, t->data, tensor_nbytes(t));
    return fio_atomic_commit(&w, d);
}
