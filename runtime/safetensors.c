/*
 * safetensors.c — TensorList and the .safetensors reader and writer; see
 * safetensors.h.
 *
 * Reading happens in two rounds. The first parses and validates the whole
 * header (jansson, JSON_REJECT_DUPLICATES) into an array of entries and
 * reports every problem; only a header with none goes on to the second,
 * which allocates each tensor and preads its bytes. F16/BF16 conversion
 * goes through a bounded scratch buffer, so the peak memory is the tensors
 * themselves plus at most 1 MiB.
 *
 * Validation mirrors the reference implementation (safetensors' Rust
 * `Metadata::validate`): sorted by begin offset, each tensor must start
 * where the previous one ended, and the last must end at the end of the
 * file. A hole could hide a second file format inside the data (a
 * "polyglot"), an overlap would alias two tensors.
 */
#include "safetensors.h"
#include "../support/arena.h"
#include "../support/fileio.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader and writer assume a little-endian host"
#endif

/* The reference implementation's limit on the header (100 MB). */
#define ST_MAX_HEADER 100000000u
/* Scratch size for converting halves to f32 while reading. */
#define ST_CHUNK (1u << 20)

/* ---- TensorList ---- */

void rt_tlist_init(TensorList *l) { memset(l, 0, sizeof *l); }

NamedTensor *rt_tlist_add(TensorList *l, const char *name, Tensor *t)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->items = xrealloc(l->items, (size_t)l->cap * sizeof *l->items);
    }
    NamedTensor *e = &l->items[l->n++];
    e->name = xstrdup(name);
    e->t = t;
    e->file_dtype = t ? t->dtype : DT_F32;
    return e;
}

NamedTensor *rt_tlist_find(const TensorList *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

void rt_tlist_set_meta(TensorList *l, const char *key, const char *value)
{
    for (int i = 0; i < l->nmeta; i++)
        if (strcmp(l->meta[2 * i], key) == 0) {
            free(l->meta[2 * i + 1]);
            l->meta[2 * i + 1] = xstrdup(value);
            return;
        }
    l->meta = xrealloc(l->meta, (size_t)(l->nmeta + 1) * 2 * sizeof *l->meta);
    l->meta[2 * l->nmeta] = xstrdup(key);
    l->meta[2 * l->nmeta + 1] = xstrdup(value);
    l->nmeta++;
}

const char *rt_tlist_get_meta(const TensorList *l, const char *key)
{
    for (int i = 0; i < l->nmeta; i++)
        if (strcmp(l->meta[2 * i], key) == 0)
            return l->meta[2 * i + 1];
    return NULL;
}

void rt_tlist_free(TensorList *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].name);
        if (!l->borrowed)
            tensor_free(l->items[i].t);
    }
    for (int i = 0; i < 2 * l->nmeta; i++)
        free(l->meta[i]);
    free(l->items);
    free(l->meta);
    rt_tlist_init(l);
}

/* ---- reading: header validation ---- */

typedef struct Entry {
    const char *name; /* points into the jansson tree */
    DType dtype;
    Shape shape;
    uint64_t begin, end;
} Entry;

/* Reads a JSON array of non-negative integers into v[0..max); returns the
 * count, or -1 if it is not such an array, -2 if it is longer than max. */
static int int_array(const json_t *a, uint64_t *v, int max)
{
    if (!json_is_array(a))
        return -1;
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return -1;
        if ((int)i < max)
            v[i] = (uint64_t)json_integer_value(x);
    }
    return n > (size_t)max ? -2 : (int)n;
}

/* Checks one tensor entry of the header and fills e; reports and returns
 * false on the first problem with it. data_size is the bytes after the
 * header. */
static bool parse_entry(const char *path, const char *key, const json_t *v, uint64_t data_size,
                        Entry *e, Diag *d)
{
    e->name = key;
    if (!json_is_object(v)) {
        diag_file_error(d, path, "tensor '%s': the header entry is not a JSON object", key);
        return false;
    }
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!dt || !sh || !off) {
        diag_file_error(d, path, "tensor '%s': the header entry lacks \"%s\"", key,
                        !dt ? "dtype" : !sh ? "shape" : "data_offsets");
        return false;
    }
    if (!json_is_string(dt)) {
        diag_file_error(d, path, "tensor '%s': \"dtype\" is not a string", key);
        return false;
    }
    if (!dtype_from_safetensors_name(json_string_value(dt), &e->dtype)) {
        diag_file_error(d, path,
                        "tensor '%s': unsupported dtype '%s' (supported: F32 F16 BF16 I64 I32 "
                        "I8 U8 BOOL)",
                        key, json_string_value(dt));
        return false;
    }
    uint64_t dims[SHAPE_MAX_RANK];
    int rank = int_array(sh, dims, SHAPE_MAX_RANK);
    if (rank == -2) {
        diag_file_error(d, path, "tensor '%s': rank %zu is more than %d", key,
                        json_array_size(sh), SHAPE_MAX_RANK);
        return false;
    }
    if (rank < 0) {
        diag_file_error(d, path, "tensor '%s': \"shape\" is not a list of non-negative integers",
                        key);
        return false;
    }
    e->shape.rank = rank;
    for (int i = 0; i < rank; i++)
        e->shape.d[i] = (int64_t)dims[i];
    uint64_t o[2];
    if (int_array(off, o, 2) != 2) {
        diag_file_error(d, path,
                        "tensor '%s': \"data_offsets\" is not a pair of non-negative integers",
                        key);
        return false;
    }
    e->begin = o[0];
    e->end = o[1];
    char s[160];
    int64_t numel = shape_numel(&e->shape);
    size_t esize = dtype_size(e->dtype);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / esize) {
        diag_file_error(d, path, "tensor '%s': shape %s overflows", key,
                        shape_str(&e->shape, s, sizeof s));
        return false;
    }
    if (e->begin > e->end) {
        diag_file_error(d, path, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run backwards",
                        key, e->begin, e->end);
        return false;
    }
    if (e->end > data_size) {
        diag_file_error(d, path,
                        "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                        "] end past the data, which is %" PRIu64 " bytes",
                        key, e->begin, e->end, data_size);
        return false;
    }
    uint64_t need = (uint64_t)numel * esize;
    if (e->end - e->begin != need) {
        diag_file_error(d, path,
                        "tensor '%s': shape %s of %s needs %" PRIu64 " bytes, data_offsets [%" PRIu64
                        ", %" PRIu64 "] hold %" PRIu64,
                        key, shape_str(&e->shape, s, sizeof s), dtype_safetensors_name(e->dtype),
                        need, e->begin, e->end, e->end - e->begin);
        return false;
    }
    return true;
}

static int cmp_entry_offset(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* After sorting by offset: the tensors must tile [0, data_size). */
static bool check_tiling(const char *path, const Entry *e, int n, uint64_t data_size, Diag *d)
{
    bool ok = true;
    uint64_t at = 0;
    const char *prev = NULL;
    for (int i = 0; i < n; i++) {
        if (e[i].begin < at) {
            diag_file_error(d, path,
                            "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                            "] overlap tensor '%s', which ends at %" PRIu64,
                            e[i].name, e[i].begin, e[i].end, prev, at);
            ok = false;
        } else if (e[i].begin > at) {
            diag_file_error(d, path,
                            "tensor '%s': a gap of %" PRIu64 " unused bytes before its data_offsets "
                            "[%" PRIu64 ", %" PRIu64 "]",
                            e[i].name, e[i].begin - at, e[i].begin, e[i].end);
            ok = false;
        }
        if (e[i].end > at) {
            at = e[i].end;
            prev = e[i].name;
        }
    }
    if (ok && at < data_size) {
        diag_file_error(d, path, "%" PRIu64 " bytes after the last tensor belong to no tensor",
                        data_size - at);
        ok = false;
    }
    return ok;
}

/* ---- reading: data ---- */

/* Reads one validated entry at file offset base + begin. */
static Tensor *read_tensor(FioReader *r, uint64_t base, const Entry *e, bool to_f32,
                           void **scratch, Diag *d)
{
    bool half = e->dtype == DT_F16 || e->dtype == DT_BF16;
    bool convert = to_f32 && half;
    Tensor *t = tensor_new(convert ? DT_F32 : e->dtype, &e->shape);
    if (!t) {
        char s[160];
        diag_file_error(d, r->path, "tensor '%s': cannot allocate shape %s", e->name,
                        shape_str(&e->shape, s, sizeof s));
        return NULL;
    }
    uint64_t off = base + e->begin, nbytes = e->end - e->begin;
    if (!convert) {
        if (!fio_pread(r, off, t->data, (size_t)nbytes, d))
            goto fail;
        return t;
    }
    if (!*scratch)
        *scratch = xmalloc(ST_CHUNK);
    float *o = t->data;
    for (uint64_t done = 0; done < nbytes;) {
        size_t n = nbytes - done < ST_CHUNK ? (size_t)(nbytes - done) : ST_CHUNK;
        if (!fio_pread(r, off + done, *scratch, n, d))
            goto fail;
        const uint16_t *h = *scratch;
        for (size_t i = 0; i < n / 2; i++)
            *o++ = e->dtype == DT_F16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
        done += n;
    }
    return t;
fail:
    tensor_free(t);
    return NULL;
}

static bool read_metadata(const char *path, const json_t *v, TensorList *l, Diag *d)
{
    if (!json_is_object(v)) {
        diag_file_error(d, path, "\"__metadata__\" is not a JSON object");
        return false;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (!json_is_string(x)) {
            diag_file_error(d, path, "\"__metadata__\" entry '%s' is not a string", k);
            return false;
        }
        rt_tlist_set_meta(l, k, json_string_value(x));
    }
    return true;
}

bool rt_safetensors_read(const char *path, TensorList *out, bool to_f32, Diag *d)
{
    FioReader r;
    if (!fio_open(&r, path, d))
        return false;
    int errors = diag_errors(d);
    char *hdr = NULL;
    json_t *root = NULL;
    Entry *ents = NULL;
    void *scratch = NULL;
    TensorList got = {0};
    bool ok = false;

    unsigned char lenb[8];
    if (r.size < 8) {
        diag_file_error(d, path,
                        "not a safetensors file: %" PRIu64 " bytes, too short for the 8-byte header "
                        "length",
                        r.size);
        goto out;
    }
    if (!fio_pread(&r, 0, lenb, 8, d))
        goto out;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | lenb[i];
    if (hlen > ST_MAX_HEADER) {
        diag_file_error(d, path, "header length %" PRIu64 " is more than the limit of %u bytes",
                        hlen, ST_MAX_HEADER);
        goto out;
    }
    if (8 + hlen > r.size) {
        diag_file_error(d, path,
                        "header length %" PRIu64 " runs past the end of the file (%" PRIu64
                        " bytes)",
                        hlen, r.size);
        goto out;
    }
    hdr = fio_pread_text(&r, 8, (size_t)hlen, d);
    if (!hdr)
        goto out;
    if (hlen == 0 || hdr[0] != '{') {
        diag_file_error(d, path, "at byte 8: the header is not a JSON object (it must start "
                                 "with '{')");
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(hdr, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        diag_file_error(d, path, "at byte %" PRIu64 ": invalid JSON header: %s",
                        8 + (uint64_t)(jerr.position > 0 ? jerr.position : 0), jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        diag_file_error(d, path, "at byte 8: the header is not a JSON object");
        goto out;
    }

    uint64_t data_size = r.size - 8 - hlen;
    ents = xmalloc((json_object_size(root) + 1) * sizeof *ents);
    int n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "__metadata__") == 0)
            read_metadata(path, v, &got, d);
        else if (parse_entry(path, key, v, data_size, &ents[n], d))
            n++;
    }
    if (diag_errors(d) > errors)
        goto out;
    qsort(ents, (size_t)n, sizeof *ents, cmp_entry_offset);
    if (!check_tiling(path, ents, n, data_size, d))
        goto out;

    for (int i = 0; i < n; i++) {
        Tensor *t = read_tensor(&r, 8 + hlen, &ents[i], to_f32, &scratch, d);
        if (!t)
            goto out;
        rt_tlist_add(&got, ents[i].name, t)->file_dtype = ents[i].dtype;
    }
    /* Success: move everything into out. */
    for (int i = 0; i < got.n; i++) {
        rt_tlist_add(out, got.items[i].name, got.items[i].t)->file_dtype = got.items[i].file_dtype;
        got.items[i].t = NULL;
    }
    for (int i = 0; i < got.nmeta; i++)
        rt_tlist_set_meta(out, got.meta[2 * i], got.meta[2 * i + 1]);
    ok = true;
out:
    rt_tlist_free(&got);
    free(scratch);
    free(ents);
    json_decref(root);
    free(hdr);
    fio_close(&r);
    return ok;
}

/* ---- writing ---- */

static int cmp_name(const void *a, const void *b)
{
    const NamedTensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Builds the header object for items (sorted); NULL after reporting. */
static json_t *build_header(const char *path, const TensorList *l, const NamedTensor **items,
                            Diag *d)
{
    json_t *root = json_object();
    if (l->nmeta) {
        json_t *m = json_object();
        json_object_set_new(root, "__metadata__", m);
        for (int i = 0; i < l->nmeta; i++)
            if (json_object_set_new(m, l->meta[2 * i], json_string(l->meta[2 * i + 1])) != 0) {
                diag_file_error(d, path, "metadata '%s' is not valid UTF-8", l->meta[2 * i]);
                goto fail;
            }
    }
    uint64_t at = 0;
    for (int i = 0; i < l->n; i++) {
        const NamedTensor *e = items[i];
        if (!*e->name || strcmp(e->name, "__metadata__") == 0) {
            diag_file_error(d, path, "cannot write a tensor named '%s'", e->name);
            goto fail;
        }
        if (i && strcmp(items[i - 1]->name, e->name) == 0) {
            diag_file_error(d, path, "cannot write two tensors named '%s'", e->name);
            goto fail;
        }
        const Tensor *t = e->t;
        if (!t || t->dtype >= DT__COUNT || t->shape.rank < 0 || t->shape.rank > SHAPE_MAX_RANK ||
            tensor_numel(t) < 0) {
            diag_file_error(d, path, "tensor '%s' has no data or an invalid shape", e->name);
            goto fail;
        }
        if (!dtype_safetensors_name(t->dtype)[0]) {
            diag_file_error(d, path, "tensor '%s' is %s, which safetensors has no dtype for "
                            "(store it widened to i8/u8)", e->name, dtype_name(t->dtype));
            goto fail;
        }
        json_t *shape = json_array();
        for (int k = 0; k < t->shape.rank; k++)
            json_array_append_new(shape, json_integer(t->shape.d[k]));
        uint64_t nb = tensor_nbytes(t);
        json_t *ent = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_safetensors_name(t->dtype),
                                "shape", shape, "data_offsets", (json_int_t)at,
                                (json_int_t)(at + nb));
        at += nb;
        if (!ent || json_object_set_new(root, e->name, ent) != 0) {
            diag_file_error(d, path, "tensor name '%s' is not valid UTF-8", e->name);
            goto fail;
        }
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

bool rt_safetensors_write(const char *path, const TensorList *l, Diag *d)
{
    const NamedTensor **items = xmalloc((size_t)(l->n ? l->n : 1) * sizeof *items);
    for (int i = 0; i < l->n; i++)
        items[i] = &l->items[i];
    qsort(items, (size_t)l->n, sizeof *items, cmp_name);
    bool ok = false;
    char *text = NULL;
    json_t *root = build_header(path, l, items, d);
    if (!root)
        goto out;
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        diag_file_error(d, path, "cannot encode the header");
        goto out;
    }
    /* Pad with spaces so the data starts at a multiple of 8. */
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    FioAtomic w;
    if (!fio_atomic_open(&w, path, d))
        goto out;
    fio_atomic_write(&w, lenb, 8);
    fio_atomic_write(&w, text, len);
    fio_atomic_write(&w, "        ", padded - len);
    for (int i = 0; i < l->n; i++)
        fio_atomic_write(&w, items[i]->t->data, tensor_nbytes(items[i]->t));
    ok = fio_atomic_commit(&w, d);
out:
    free(text);
    json_decref(root);
    free(items);
    return ok;
}
