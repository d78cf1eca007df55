/*
 * safetensors.h — named tensor lists and the .safetensors weights format.
 *
 * A TensorList is what a state_dict is in PyTorch: tensors under string keys
 * ("layer1.0.conv1.weight"), plus the optional string-to-string
 * `__metadata__` of the file. It owns its names and, unless `borrowed` is
 * set, its tensors.
 *
 * The file format (github.com/huggingface/safetensors):
 *   8 bytes   N, the header length, little-endian u64
 *   N bytes   a JSON object {key: {"dtype": "F32", "shape": [..],
 *             "data_offsets": [begin, end]}, "__metadata__": {..}},
 *             padded with spaces
 *   rest      the data; offsets are relative to its start
 *
 * Files are untrusted. The reader checks the header length (at most 100 MB
 * and inside the file), that the header is a JSON object without duplicate
 * keys, every entry's dtype, shape (rank <= SHAPE_MAX_RANK, no overflow) and
 * data_offsets (begin <= end, (end - begin) == numel * dtype size), and that
 * the tensors tile the data exactly — no gaps, no overlaps, nothing after the
 * last one — as the format requires. It reports every problem it finds, then
 * fails. Tensors may be listed in any order; each is read straight from the
 * file into its own buffer, so a file is held in memory once.
 *
 * Supported dtypes are those of DType: F32 F16 BF16 I64 I32 I8 U8 BOOL.
 */
#ifndef NETC_RT_SAFETENSORS_H
#define NETC_RT_SAFETENSORS_H

#include "../ir/tensor.h"
#include "../support/diag.h"

typedef struct NamedTensor {
    char *name;       /* owned */
    Tensor *t;        /* owned unless the list is borrowed; may be moved out (NULL) */
    DType file_dtype; /* the dtype stored in the file (t may be converted to f32) */
} NamedTensor;

typedef struct TensorList {
    int n, cap;
    NamedTensor *items;
    int nmeta;     /* __metadata__ entries */
    char **meta;   /* meta[2*i] = key, meta[2*i+1] = value; owned */
    bool borrowed; /* tensors belong to someone else: rt_tlist_free leaves them */
} TensorList;

/* An empty list; a zero-initialised TensorList is empty too. */
void rt_tlist_init(TensorList *l);
/* Appends (name copied, t taken over); no duplicate check. */
NamedTensor *rt_tlist_add(TensorList *l, const char *name, Tensor *t);
/* The entry named name, or NULL. */
NamedTensor *rt_tlist_find(const TensorList *l, const char *name);
/* Sets a __metadata__ entry, replacing an old value. */
void rt_tlist_set_meta(TensorList *l, const char *key, const char *value);
const char *rt_tlist_get_meta(const TensorList *l, const char *key);
/* Frees names, metadata and (unless borrowed) tensors; leaves l empty. */
void rt_tlist_free(TensorList *l);

/*
 * Reads every tensor of a .safetensors file and appends them to out (in data
 * order). With to_f32, F16 and BF16 tensors are converted to F32 (exactly:
 * every half value is a float) and file_dtype keeps the stored dtype; other
 * dtypes are kept as stored. out must own its tensors (not borrowed).
 * Returns false after reporting to d, leaving out as it was.
 */
bool rt_safetensors_read(const char *path, TensorList *out, bool to_f32, Diag *d);

/*
 * Writes l atomically: keys sorted by byte value, data contiguous in that
 * order, header padded with spaces to a multiple of 8 bytes. Duplicate or
 * empty names, the name "__metadata__" and names that are not UTF-8 are
 * refused. Returns false after reporting to d.
 */
bool rt_safetensors_write(const char *path, const TensorList *l, Diag *d);

#endif
