/*
 * test_safetensors.c — TensorList, the .safetensors reader and writer
 * (runtime/safetensors.c) and the atomic output they rely on
 * (support/fileio.c).
 *
 * Round trips in every dtype, F16/BF16 -> F32 exactness, the header layout
 * the format requires, files written the way the Python library writes
 * them, and a malformed-input corpus: the generator below builds each bad
 * file in a temporary directory from a description (header JSON, data
 * length, optional raw header-length field), runs the reader and checks it
 * failed with a clear message and left the output list empty. A valid file
 * is also cut at every length. Run under ASan or valgrind for leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../runtime/safetensors.h"
#include "../../support/fileio.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static Tensor *patterned(DType dt, int rank, const int64_t *dims, int seed)
{
    Shape s = shape_make(rank, dims);
    Tensor *t = tensor_new(dt, &s);
    assert_non_null(t);
    unsigned char *b = t->data;
    for (size_t i = 0; i < tensor_nbytes(t); i++)
        b[i] = (unsigned char)(i * 37 + 11 + seed);
    if (dt == DT_BOOL)
        for (size_t i = 0; i < tensor_nbytes(t); i++)
            b[i] &= 1;
    return t;
}

/* The 8-byte length prefix of a file's bytes. */
static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* ---- TensorList ---- */

static void test_tlist_basics(void **state)
{
    TensorList l = {0};
    int64_t dims[] = {2};
    rt_tlist_add(&l, "a", patterned(DT_F32, 1, dims, 0));
    rt_tlist_add(&l, "b.c", patterned(DT_I64, 1, dims, 0));
    for (int i = 0; i < 40; i++) { /* grows past the first capacity */
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        rt_tlist_add(&l, name, NULL);
    }
    assert_int_equal(l.n, 42);
    assert_ptr_equal(rt_tlist_find(&l, "b.c"), &l.items[1]);
    assert_int_equal(rt_tlist_find(&l, "b.c")->file_dtype, DT_I64);
    assert_null(rt_tlist_find(&l, "b"));
    rt_tlist_set_meta(&l, "format", "pt");
    rt_tlist_set_meta(&l, "format", "np");
    assert_int_equal(l.nmeta, 1);
    assert_string_equal(rt_tlist_get_meta(&l, "format"), "np");
    assert_null(rt_tlist_get_meta(&l, "other"));
    rt_tlist_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.items);
}

/* ---- round trips ---- */

static void test_roundtrip_all_dtypes(void **state)
{
    Captured c;
    cap_open(&c);
    TensorList l = {0};
    const int64_t dims[] = {2, 3, 1, 2, 1, 1, 1, 2};
    char name[32];
    /* one tensor per dtype safetensors has and rank 0..8, added in reverse
     * name order (sub-byte dtypes have no safetensors name: see below) */
    for (int dt = DT__COUNT - 1; dt >= 0; dt--)
        for (int rank = SHAPE_MAX_RANK; rank >= 0 && dtype_safetensors_name((DType)dt)[0]; rank--) {
            snprintf(name, sizeof name, "%s.r%d", dtype_name((DType)dt), rank);
            rt_tlist_add(&l, name, patterned((DType)dt, rank, dims, dt + rank));
        }
    int64_t zero[] = {4, 0};
    rt_tlist_add(&l, "empty", patterned(DT_F32, 2, zero, 0));
    rt_tlist_set_meta(&l, "format", "pt");
    rt_tlist_set_meta(&l, "note", "caf\xc3\xa9 \"quoted\"");
    assert_true(rt_safetensors_write(tmp_path("rt.safetensors"), &l, c.d));

    TensorList r = {0};
    assert_true(rt_safetensors_read(tmp_path("rt.safetensors"), &r, false, c.d));
    assert_int_equal(diag_errors(c.d), 0);
    assert_int_equal(r.n, l.n);
    for (int i = 0; i < l.n; i++) {
        NamedTensor *e = rt_tlist_find(&r, l.items[i].name);
        assert_non_null(e);
        assert_int_equal(e->t->dtype, l.items[i].t->dtype);
        assert_int_equal(e->file_dtype, l.items[i].t->dtype);
        assert_true(shape_equal(&e->t->shape, &l.items[i].t->shape));
        assert_memory_equal(e->t->data, l.items[i].t->data, tensor_nbytes(e->t));
    }
    assert_string_equal(rt_tlist_get_meta(&r, "format"), "pt");
    assert_string_equal(rt_tlist_get_meta(&r, "note"), "caf\xc3\xa9 \"quoted\"");

    /* Reading appends: a second read doubles the list. */
    assert_true(rt_safetensors_read(tmp_path("rt.safetensors"), &r, false, c.d));
    assert_int_equal(r.n, 2 * l.n);
    rt_tlist_free(&r);
    rt_tlist_free(&l);
    cap_close(&c);
}

/* Header layout: length prefix multiple of 8, '{' first, space padding,
 * keys sorted, data contiguous in key order. */
static void test_written_layout(void **state)
{
    Captured c;
    cap_open(&c);
    TensorList l = {0};
    int64_t d3[] = {3}, d1[] = {1};
    rt_tlist_add(&l, "zeta", patterned(DT_F32, 1, d3, 1));
    rt_tlist_add(&l, "alpha", patterned(DT_F16, 1, d1, 2));
    rt_tlist_add(&l, "Mid", patterned(DT_I8, 1, d3, 3));
    assert_true(rt_safetensors_write(tmp_path("lay.safetensors"), &l, c.d));
    size_t n;
    unsigned char *b = read_bytes(tmp_path("lay.safetensors"), &n);
    uint64_t hl = le64(b);
    assert_int_equal(hl % 8, 0);
    assert_int_equal(b[8], '{');
    const char *want = "{\"Mid\":{\"data_offsets\":[0,3],\"dtype\":\"I8\",\"shape\":[3]},"
                       "\"alpha\":{\"data_offsets\":[3,5],\"dtype\":\"F16\",\"shape\":[1]},"
                       "\"zeta\":{\"data_offsets\":[5,17],\"dtype\":\"F32\",\"shape\":[3]}}";
    assert_true(hl >= strlen(want) && hl < strlen(want) + 8);
    assert_memory_equal(b + 8, want, strlen(want));
    for (size_t i = 8 + strlen(want); i < 8 + hl; i++)
        assert_int_equal(b[i], ' ');
    assert_int_equal(n, 8 + hl + 17);
    assert_memory_equal(b + 8 + hl, l.items[2].t->data, 3);
    assert_memory_equal(b + 8 + hl + 3, l.items[1].t->data, 2);
    assert_memory_equal(b + 8 + hl + 5, l.items[0].t->data, 12);
    free(b);

    /* An empty list is "{}" padded to 8 bytes. */
    TensorList e = {0};
    assert_true(rt_safetensors_write(tmp_path("empty.safetensors"), &e, c.d));
    b = read_bytes(tmp_path("empty.safetensors"), &n);
    assert_int_equal(n, 16);
    assert_memory_equal(b, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(b);
    assert_true(rt_safetensors_read(tmp_path("empty.safetensors"), &e, true, c.d));
    assert_int_equal(e.n, 0);
    rt_tlist_free(&l);
    cap_close(&c);
}

/* F16 and BF16 load to exactly the float they denote. */
static void test_half_to_f32_exact(void **state)
{
    Captured c;
    cap_open(&c);
    TensorList l = {0};
    int64_t all[] = {65536};
    Tensor *h = patterned(DT_F16, 1, all, 0), *bf = patterned(DT_BF16, 1, all, 0);
    for (int i = 0; i < 65536; i++)
        ((uint16_t *)h->data)[i] = ((uint16_t *)bf->data)[i] = (uint16_t)i;
    /* known values, checked independently of f16_to_f32 */
    static const struct {
        uint16_t bits;
        float f16, bf16;
    } known[] = {
        {0x3c00, 1.0f, 0x1p-7f},
        {0xc000, -2.0f, -2.0f},
        {0x7bff, 65504.0f, 0x1.fep+120f},
        {0x0001, 0x1p-24f, 0x1p-133f},
        {0x3555, 0x1.554p-2f, 0x1.aap-21f},
        {0x3f80, 1.875f, 1.0f},
        {0x4049, 2.142578125f, 3.140625f},
        {0x8000, -0.0f, -0.0f},
    };
    rt_tlist_add(&l, "h", h);
    rt_tlist_add(&l, "bf", bf);
    assert_true(rt_safetensors_write(tmp_path("half.safetensors"), &l, c.d));
    TensorList r = {0};
    assert_true(rt_safetensors_read(tmp_path("half.safetensors"), &r, true, c.d));
    NamedTensor *rh = rt_tlist_find(&r, "h"), *rb = rt_tlist_find(&r, "bf");
    assert_int_equal(rh->t->dtype, DT_F32);
    assert_int_equal(rh->file_dtype, DT_F16);
    assert_int_equal(rb->t->dtype, DT_F32);
    assert_int_equal(rb->file_dtype, DT_BF16);
    const float *fh = rh->t->data, *fb = rb->t->data;
    for (int i = 0; i < 65536; i++) {
        uint32_t want = (uint32_t)i << 16, got;
        memcpy(&got, &fb[i], 4);
        if (got != want)
            fail_msg("bf16 0x%04x loads as 0x%08x", i, got);
        float g = f16_to_f32((uint16_t)i);
        if (memcmp(&fh[i], &g, 4) != 0)
            fail_msg("f16 0x%04x", i);
        /* every finite half is exactly representable: converting back is the identity */
        if ((i & 0x7c00) != 0x7c00 && f32_to_f16(fh[i]) != i)
            fail_msg("f16 0x%04x does not round trip", i);
    }
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
        assert_memory_equal(&fh[known[k].bits], &known[k].f16, 4);
        assert_memory_equal(&fb[known[k].bits], &known[k].bf16, 4);
    }
    assert_true(fh[0x7c00] > 3e38f && fh[0xfc00] < -3e38f && fh[0x7e00] != fh[0x7e00]);
    rt_tlist_free(&r);
    rt_tlist_free(&l);
    cap_close(&c);
}

/* A file as the Python library writes it (metadata first, its own key order,
 * I64 num_batches_tracked), and tensors listed out of data order. */
static void test_foreign_files(void **state)
{
    Captured c;
    cap_open(&c);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                      "\"data_offsets\":[8,16]},"
                      "\"bn.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char buf[512];
    size_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    float w[2] = {0.5f, -1.25f};
    int64_t nbt = 123;
    memcpy(buf + 8 + hl, w, 8);
    memcpy(buf + 8 + hl + 8, &nbt, 8);
    write_bytes(tmp_path("py.safetensors"), buf, 8 + hl + 16);
    TensorList r = {0};
    assert_true(rt_safetensors_read(tmp_path("py.safetensors"), &r, true, c.d));
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[0].name, "bn.weight"); /* data order */
    assert_memory_equal(r.items[0].t->data, w, 8);
    assert_int_equal(r.items[1].t->dtype, DT_I64);
    assert_int_equal(r.items[1].t->shape.rank, 0);
    assert_int_equal(*(int64_t *)r.items[1].t->data, 123);
    assert_string_equal(rt_tlist_get_meta(&r, "format"), "pt");
    rt_tlist_free(&r);
    cap_close(&c);
}

static void test_write_refusals(void **state)
{
    Captured c;
    cap_open(&c);
    int64_t d1[] = {1};
    int files = test_dir_entries();
    TensorList l = {0};
    rt_tlist_add(&l, "a", patterned(DT_F32, 1, d1, 0));
    rt_tlist_add(&l, "a", patterned(DT_F32, 1, d1, 0));
    assert_false(rt_safetensors_write(tmp_path("dup.safetensors"), &l, c.d));
    assert_non_null(strstr(cap_text(&c), "two tensors named 'a'"));
    rt_tlist_free(&l);

    const char *bad[] = {"", "__metadata__", "bad\xff"};
    for (int i = 0; i < 3; i++) {
        rt_tlist_add(&l, bad[i], patterned(DT_F32, 1, d1, 0));
        int before = diag_errors(c.d);
        assert_false(rt_safetensors_write(tmp_path("bad.safetensors"), &l, c.d));
        assert_int_equal(diag_errors(c.d), before + 1);
        rt_tlist_free(&l);
    }
    rt_tlist_add(&l, "nodata", NULL);
    assert_false(rt_safetensors_write(tmp_path("bad.safetensors"), &l, c.d));
    rt_tlist_free(&l);
    /* nothing was created, no temporary file left over */
    assert_int_equal(test_dir_entries(), files);
    cap_close(&c);
}

/* ---- atomic output (support/fileio.c) ---- */

static void test_atomic_output(void **state)
{
    Captured c;
    cap_open(&c);
    const char *p = tmp_path("target.bin");
    mode_t old_mask = umask(022);
    assert_true(fio_write_file(p, "first", 5, c.d));
    int files = test_dir_entries();
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(chmod(p, 0600), 0);

    /* a failed write leaves the old contents and no temporary file */
    FioAtomic w;
    assert_true(fio_atomic_open(&w, p, c.d));
    fio_atomic_write(&w, "partial", 7);
    fio_atomic_abort(&w);
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(b, "first", 5);
    free(b);
    assert_int_equal(test_dir_entries(), files);

    /* a write error (simulated) is reported at commit; the target survives */
    assert_true(fio_atomic_open(&w, p, c.d));
    fio_atomic_write(&w, "xx", 2);
    w.err = 28; /* ENOSPC */
    assert_false(fio_atomic_commit(&w, c.d));
    assert_non_null(strstr(cap_text(&c), "target.bin: error: cannot write: "));
    b = read_bytes(p, &n);
    assert_memory_equal(b, "first", 5);
    free(b);
    assert_int_equal(test_dir_entries(), files);

    /* success replaces the target and keeps its mode */
    assert_true(fio_write_file(p, "second!", 7, c.d));
    b = read_bytes(p, &n);
    assert_int_equal(n, 7);
    assert_memory_equal(b, "second!", 7);
    free(b);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(test_dir_entries(), files);

    /* a directory that does not exist */
    int before = diag_errors(c.d);
    assert_false(fio_write_file(tmp_path("no/such/dir/x"), "x", 1, c.d));
    assert_int_equal(diag_errors(c.d), before + 1);
    assert_non_null(strstr(cap_text(&c), "cannot create a temporary file: No such file"));
    assert_false(fio_write_file(tmp_path(""), "x", 1, c.d));
    unlink(p);
    umask(old_mask);
    cap_close(&c);
}

static void test_read_all(void **state)
{
    Captured c;
    cap_open(&c);
    const char *p = tmp_path("text.txt");
    write_bytes(p, "hello\nworld", 11);
    size_t n = 0;
    char *s = fio_read_all(p, 100, &n, c.d);
    assert_non_null(s);
    assert_int_equal(n, 11);
    assert_string_equal(s, "hello\nworld");
    free(s);
    s = fio_read_all(p, 11, &n, c.d);
    assert_non_null(s);
    free(s);
    assert_null(fio_read_all(p, 10, &n, c.d));
    assert_non_null(strstr(cap_text(&c), "text.txt: error: file is 11 bytes, more than the limit of 10"));
    assert_null(fio_read_all(tmp_path("missing.txt"), 10, &n, c.d));
    assert_non_null(strstr(cap_text(&c), "missing.txt: error: cannot open: No such file"));
    assert_int_equal(diag_errors(c.d), 2);
    unlink(p);
    /* a pipe: no size known in advance */
    s = fio_read_all("/dev/null", 10, &n, c.d);
    assert_non_null(s);
    assert_int_equal(n, 0);
    free(s);
    cap_close(&c);
}

/* ---- the malformed-input corpus ---- */

typedef struct BadSt {
    const char *what;
    const char *header; /* the JSON text; NULL: raw bytes */
    int dlen;           /* data bytes after the header */
    const char *expect; /* a substring of the message */
    long long hlen;     /* >= 0: overrides the header length field */
    const char *raw;
    int rawlen;
} BadSt;

#define T(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static const BadSt bad_st[] = {
    {"empty file", .raw = "", .rawlen = 0, .expect = "0 bytes, too short", .hlen = -1},
    {"5 bytes", .raw = "\x02\0\0\0\0", .rawlen = 5, .expect = "5 bytes, too short", .hlen = -1},
    {"header length 2^62", "{}", 0, "more than the limit", 1LL << 62, NULL, 0},
    {"header length > 100 MB", "{}", 0, "is more than the limit of 100000000 bytes", 100000001, NULL, 0},
    {"header past end of file", "{" T("a", "F32", "[1]", 0, 4) "}", 4, "runs past the end",
     1000, NULL, 0},
    {"header length cuts the JSON", "{" T("a", "F32", "[1]", 0, 4) "}", 4, "invalid JSON", 20, NULL, 0},
    {"zero header length", "", 0, "not a JSON object", -1, NULL, 0},
    {"header is an array", "[1, 2]", 0, "not a JSON object", -1, NULL, 0},
    {"header is a string", "\"abc\"", 0, "not a JSON object", -1, NULL, 0},
    {"header is not JSON", "{abc}", 0, "invalid JSON", -1, NULL, 0},
    {"header unclosed", "{\"a\":{\"dtype\":\"F32\"", 0, "invalid JSON", -1, NULL, 0},
    {"text after the object", "{} junk", 0, "invalid JSON", -1, NULL, 0},
    {"invalid UTF-8", "{\"\xff\":1}", 0, "invalid JSON", -1, NULL, 0},
    {"escaped NUL in a key", "{\"a\\u0000b\":1}", 0, "invalid JSON", -1, NULL, 0},
    {"leading spaces", "  {}", 0, "not a JSON object", -1, NULL, 0},
    {"duplicate keys", "{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8,
     "duplicate", -1, NULL, 0},
    {"entry not an object", "{\"a\":[1,2]}", 0, "tensor 'a': the header entry is not a JSON object",
     -1, NULL, 0},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks \"dtype\"", -1, NULL, 0},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "lacks \"shape\"",
     -1, NULL, 0},
    {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks \"data_offsets\"",
     -1, NULL, 0},
    {"dtype F31", "{" T("a", "F31", "[1]", 0, 4) "}", 4, "unsupported dtype 'F31'", -1, NULL, 0},
    {"dtype lower case", "{" T("a", "f32", "[1]", 0, 4) "}", 4, "unsupported dtype 'f32'", -1, NULL, 0},
    {"dtype F64", "{" T("a", "F64", "[1]", 0, 8) "}", 8, "unsupported dtype 'F64'", -1, NULL, 0},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "\"dtype\" is not a string", -1, NULL, 0},
    {"shape not a list", "{" T("a", "F32", "4", 0, 4) "}", 4, "\"shape\" is not a list", -1, NULL, 0},
    {"negative dim", "{" T("a", "F32", "[-1]", 0, 4) "}", 4, "\"shape\" is not a list", -1, NULL, 0},
    {"float dim", "{" T("a", "F32", "[1.0]", 0, 4) "}", 4, "\"shape\" is not a list", -1, NULL, 0},
    {"rank 9", "{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "rank 9 is more than 8", -1, NULL, 0},
    {"dim beyond int64", "{" T("a", "F32", "[99999999999999999999]", 0, 4) "}", 4, "invalid JSON",
     -1, NULL, 0},
    {"dims overflow int64", "{" T("a", "F32", "[9223372036854775807,2]", 0, 4) "}", 4,
     "overflows", -1, NULL, 0},
    {"bytes overflow", "{" T("a", "F32", "[4611686018427387904]", 0, 4) "}", 4, "overflows", -1, NULL, 0},
    {"offsets backwards", "{" T("a", "F32", "[1]", 8, 4) "}", 8, "run backwards", -1, NULL, 0},
    {"offsets negative", "{" T("a", "F32", "[1]", -4, 0) "}", 4, "not a pair", -1, NULL, 0},
    {"offsets past the end", "{" T("a", "F32", "[4]", 0, 16) "}", 8,
     "end past the data, which is 8 bytes", -1, NULL, 0},
    {"offsets far past the end", "{" T("a", "F32", "[1]", 18446744073709551608, 4) "}", 4,
     "invalid JSON", -1, NULL, 0},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
     "not a pair", -1, NULL, 0},
    {"one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "not a pair",
     -1, NULL, 0},
    {"size disagrees with shape", "{" T("a", "F32", "[2]", 0, 4) "}", 4,
     "shape [2] of F32 needs 8 bytes, data_offsets [0, 4] hold 4", -1, NULL, 0},
    {"size disagrees with dtype", "{" T("a", "F16", "[4]", 0, 16) "}", 16, "needs 8 bytes", -1, NULL, 0},
    {"overlap", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", 12,
     "tensor 'b': data_offsets [4, 12] overlap tensor 'a'", -1, NULL, 0},
    {"same offsets twice", "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 0, 4) "}", 4,
     "overlap", -1, NULL, 0},
    {"gap", "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}", 12,
     "a gap of 4 unused bytes", -1, NULL, 0},
    {"gap at the start", "{" T("a", "F32", "[1]", 4, 8) "}", 8, "a gap of 4", -1, NULL, 0},
    {"trailing bytes", "{" T("a", "F32", "[1]", 0, 4) "}", 9, "5 bytes after the last tensor", -1, NULL, 0},
    {"data truncated", "{" T("a", "F32", "[4]", 0, 16) "}", 10, "end past the data", -1, NULL, 0},
    {"metadata not an object", "{\"__metadata__\":[1]}", 0, "\"__metadata__\" is not a JSON object",
     -1, NULL, 0},
    {"metadata value not a string", "{\"__metadata__\":{\"k\":1}}", 0, "entry 'k' is not a string",
     -1, NULL, 0},
};

static size_t make_st(unsigned char *buf, const char *header, size_t dlen)
{
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, 0, dlen);
    return 8 + hl + dlen;
}

static void test_malformed_corpus(void **state)
{
    int n = (int)(sizeof bad_st / sizeof *bad_st);
    assert_true(n >= 20);
    for (int k = 0; k < n; k++) {
        const BadSt *b = &bad_st[k];
        static unsigned char buf[1024];
        size_t len;
        if (b->header) {
            len = make_st(buf, b->header, (size_t)b->dlen);
            if (b->hlen >= 0)
                for (int i = 0; i < 8; i++)
                    buf[i] = (unsigned char)((uint64_t)b->hlen >> (8 * i));
        } else {
            memcpy(buf, b->raw, (size_t)b->rawlen);
            len = (size_t)b->rawlen;
        }
        write_bytes(tmp_path("bad.safetensors"), buf, len);
        Captured c;
        cap_open(&c);
        TensorList l = {0};
        bool ok = rt_safetensors_read(tmp_path("bad.safetensors"), &l, true, c.d);
        const char *msg = cap_text(&c);
        if (ok || l.n || l.nmeta || diag_errors(c.d) == 0 || !strstr(msg, b->expect) ||
            !strstr(msg, "bad.safetensors: error: "))
            fail_msg("corpus case '%s': expected an error containing \"%s\", got: %s", b->what,
                     b->expect, msg && *msg ? msg : "(no message)");
        if (getenv("NETC_TEST_VERBOSE")) /* to review the wording of every message */
            printf("%-28s %s", b->what, msg);
        rt_tlist_free(&l);
        cap_close(&c);
    }
}

/* All problems of a header are reported in one run. */
static void test_reports_every_entry(void **state)
{
    unsigned char buf[1024];
    size_t len = make_st(buf,
                         "{" T("a", "F99", "[1]", 0, 4) "," T("b", "F32", "[3]", 4, 8) "," T(
                             "c", "F32", "[1]", 8, 4) ",\"__metadata__\":{\"x\":[]}}",
                         8);
    write_bytes(tmp_path("many.safetensors"), buf, len);
    Captured c;
    cap_open(&c);
    TensorList l = {0};
    assert_false(rt_safetensors_read(tmp_path("many.safetensors"), &l, false, c.d));
    assert_int_equal(diag_errors(c.d), 4);
    rt_tlist_free(&l);
    cap_close(&c);
}

/* A valid file cut at every length fails, and a failed read leaves the
 * list it was appending to as it was. */
static void test_truncated_everywhere(void **state)
{
    Captured c;
    cap_open(&c);
    TensorList l = {0};
    int64_t d2[] = {2, 3}, d1[] = {5};
    rt_tlist_add(&l, "w", patterned(DT_BF16, 2, d2, 0));
    rt_tlist_add(&l, "b", patterned(DT_F32, 1, d1, 0));
    rt_tlist_set_meta(&l, "format", "pt");
    assert_true(rt_safetensors_write(tmp_path("full.safetensors"), &l, c.d));
    size_t n;
    unsigned char *full = read_bytes(tmp_path("full.safetensors"), &n);
    TensorList into = {0};
    rt_tlist_add(&into, "keep", NULL);
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(tmp_path("cut.safetensors"), full, cut);
        int before = diag_errors(c.d);
        if (rt_safetensors_read(tmp_path("cut.safetensors"), &into, true, c.d) ||
            diag_errors(c.d) == before)
            fail_msg("cut at %zu of %zu bytes was not reported", cut, n);
    }
    assert_int_equal(into.n, 1);
    assert_int_equal(into.nmeta, 0);
    free(full);
    rt_tlist_free(&into);
    rt_tlist_free(&l);
    cap_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlist_basics),
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_written_layout),
        cmocka_unit_test(test_half_to_f32_exact),
        cmocka_unit_test(test_foreign_files),
        cmocka_unit_test(test_write_refusals),
        cmocka_unit_test(test_atomic_output),
        cmocka_unit_test(test_read_all),
        cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_reports_every_entry),
        cmocka_unit_test(test_truncated_everywhere),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
