/*
 * test_npy.c — the .npy reader and writer (runtime/npy.c).
 *
 * Round trips in every dtype, files as NumPy writes them (v1.0, v2.0, v3.0,
 * byte for byte), and a malformed-input corpus: the generator below builds
 * each bad file in a temporary directory from a description (header text,
 * version, data length), runs the reader on it and checks that it failed
 * with a clear message — never a crash or a leak (run under ASan/valgrind).
 * A valid file is also cut at every length to check truncation handling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../runtime/npy.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- round trips ---- */

static Tensor *patterned(DType dt, int rank, const int64_t *dims)
{
    Shape s = shape_make(rank, dims);
    Tensor *t = tensor_new(dt, &s);
    assert_non_null(t);
    unsigned char *b = t->data;
    for (size_t i = 0; i < tensor_nbytes(t); i++)
        b[i] = (unsigned char)(i * 37 + 11);
    if (dt == DT_BOOL)
        for (size_t i = 0; i < tensor_nbytes(t); i++)
            b[i] &= 1;
    if (dt == DT_F32) /* keep the floats finite so == comparisons are meaningful */
        for (int64_t i = 0; i < tensor_numel(t); i++)
            ((float *)t->data)[i] = (float)i * 0.25f - 3.0f;
    return t;
}

static void test_roundtrip_all_dtypes(void **state)
{
    const DType dts[] = {DT_F32, DT_F16, DT_I64, DT_I32, DT_I8, DT_U8, DT_BOOL};
    const int64_t dims[] = {2, 3, 5, 1, 2, 1, 1, 2};
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (int rank = 0; rank <= SHAPE_MAX_RANK; rank++) {
            Captured c;
            cap_open(&c);
            Tensor *t = patterned(dts[k], rank, dims);
            const char *p = tmp_path("rt.npy");
            assert_true(rt_npy_write(p, t, c.d));
            Tensor *u = rt_npy_read(p, c.d);
            assert_non_null(u);
            assert_int_equal(diag_errors(c.d), 0);
            assert_int_equal(u->dtype, t->dtype);
            assert_true(shape_equal(&u->shape, &t->shape));
            assert_memory_equal(u->data, t->data, tensor_nbytes(t));
            /* magic + length + header is a multiple of 64, header ends in \n */
            size_t n;
            unsigned char *b = read_bytes(p, &n);
            size_t hl = b[8] | (size_t)b[9] << 8;
            assert_int_equal((10 + hl) % 64, 0);
            assert_int_equal(b[10 + hl - 1], '\n');
            assert_int_equal(n, 10 + hl + tensor_nbytes(t));
            free(b);
            tensor_free(t);
            tensor_free(u);
            cap_close(&c);
        }
}

static void test_zero_size_and_scalar(void **state)
{
    Captured c;
    cap_open(&c);
    int64_t dims[] = {3, 0, 4};
    Tensor *t = patterned(DT_F32, 3, dims);
    assert_true(rt_npy_write(tmp_path("z.npy"), t, c.d));
    Tensor *u = rt_npy_read(tmp_path("z.npy"), c.d);
    assert_non_null(u);
    assert_int_equal(tensor_numel(u), 0);
    assert_int_equal(u->shape.rank, 3);
    tensor_free(t);
    tensor_free(u);
    cap_close(&c);
}

/* The exact bytes numpy.save writes for np.arange(6, dtype=np.float32).reshape(2, 3). */
static void test_matches_numpy_bytes(void **state)
{
    char want[128 + 24];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
    memset(want + 10, ' ', 118);
    memcpy(want + 10, dict, strlen(dict));
    want[127] = '\n';
    float v[6] = {0, 1, 2, 3, 4, 5};
    memcpy(want + 128, v, 24);

    Captured c;
    cap_open(&c);
    int64_t dims[] = {2, 3};
    Shape s = shape_make(2, dims);
    Tensor *t = tensor_new(DT_F32, &s);
    memcpy(t->data, v, 24);
    assert_true(rt_npy_write(tmp_path("np.npy"), t, c.d));
    size_t n;
    unsigned char *b = read_bytes(tmp_path("np.npy"), &n);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    free(b);
    tensor_free(t);
    cap_close(&c);
}

/* Builds an .npy file: magic, version, length, header text, data bytes. */
static size_t make_npy(unsigned char *buf, int major, int minor, const char *header,
                       const void *data, size_t dlen)
{
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t i = 8; i < pre; i++)
        buf[i] = (unsigned char)(hl >> (8 * (i - 8)));
    memcpy(buf + pre, header, hl);
    if (dlen)
        memcpy(buf + pre + hl, data, dlen);
    return pre + hl + dlen;
}

static void test_versions_and_dialects(void **state)
{
    static const struct {
        int major;
        const char *header;
        DType dt;
        int rank;
    } ok[] = {
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", DT_F32, 2},
        {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", DT_F32, 2},
        /* any key order, double quotes, no trailing comma, odd spacing, longs */
        {1, "{\"shape\":(2,3L) ,'fortran_order':False,'descr':'<f4'}", DT_F32, 2},
        {1, "{ 'shape' : [ 6 , ] , 'descr' : '=f4' , 'fortran_order' : False , }", DT_F32, 1},
        {1, "{'descr': '<i1', 'fortran_order': False, 'shape': (6,), }", DT_I8, 1},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 6), }", DT_U8, 2},
        {1, "{'descr':'<f2','fortran_order':False,'shape':(6,)}", DT_F16, 1},
        {1, "{'descr':'<i4','fortran_order':False,'shape':(6,)}", DT_I32, 1},
    };
    unsigned char data[48];
    for (int i = 0; i < 48; i++)
        data[i] = (unsigned char)i;
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        unsigned char buf[256];
        DType dt = ok[k].dt;
        size_t dlen = 6 * dtype_size(dt);
        size_t n = make_npy(buf, ok[k].major, 0, ok[k].header, data, dlen);
        write_bytes(tmp_path("v.npy"), buf, n);
        Captured c;
        cap_open(&c);
        Tensor *t = rt_npy_read(tmp_path("v.npy"), c.d);
        if (!t)
            fail_msg("case %zu: %s", k, cap_text(&c));
        assert_int_equal(t->dtype, dt);
        assert_int_equal(t->shape.rank, ok[k].rank);
        assert_int_equal(tensor_numel(t), 6);
        assert_memory_equal(t->data, data, dlen);
        tensor_free(t);
        cap_close(&c);
    }
}

static void test_f8_and_bool_conversion(void **state)
{
    double v[4] = {1.5, -2.25, 1e300, 0.1};
    unsigned char buf[256];
    size_t n = make_npy(buf, 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                        v, sizeof v);
    write_bytes(tmp_path("f8.npy"), buf, n);
    Captured c;
    cap_open(&c);
    Tensor *t = rt_npy_read(tmp_path("f8.npy"), c.d);
    assert_non_null(t);
    assert_int_equal(t->dtype, DT_F32);
    float *f = t->data;
    assert_true(f[0] == 1.5f && f[1] == -2.25f && f[3] == (float)0.1);
    assert_true(f[2] > 3e38f); /* overflow narrows to infinity */
    tensor_free(t);

    unsigned char b[3] = {0, 1, 7};
    n = make_npy(buf, 1, 0, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b, 3);
    write_bytes(tmp_path("b1.npy"), buf, n);
    t = rt_npy_read(tmp_path("b1.npy"), c.d);
    assert_non_null(t);
    assert_int_equal(t->dtype, DT_BOOL);
    assert_memory_equal(t->data, "\0\1\1", 3);
    tensor_free(t);
    cap_close(&c);
}

static void test_write_bf16_refused(void **state)
{
    Captured c;
    cap_open(&c);
    int64_t dims[] = {2};
    Tensor *t = patterned(DT_BF16, 1, dims);
    assert_false(rt_npy_write(tmp_path("bf.npy"), t, c.d));
    assert_non_null(strstr(cap_text(&c), "bf16"));
    assert_int_equal(access(tmp_path("bf.npy"), F_OK), -1);
    tensor_free(t);
    cap_close(&c);
}

/* ---- the malformed-input corpus ---- */

typedef struct BadNpy {
    const char *what;
    int major, minor;
    const char *header; /* NULL: raw bytes in raw/rawlen */
    int dlen;           /* data bytes after the header */
    const char *expect; /* a substring of the message */
    const char *raw;
    int rawlen;
    long long hlen; /* >= 0: overrides the header length field */
} BadNpy;

#define GOOD_DICT(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape ", }"

static const BadNpy bad_npy[] = {
    {"empty file", .raw = "", .rawlen = 0, .expect = "only 0 bytes", .hlen = -1},
    {"short file", .raw = "\x93NUM", .rawlen = 4, .expect = "only 4 bytes", .hlen = -1},
    {"bad magic", .raw = "\x93NUMPZ\x01\x00\x00\x00", .rawlen = 10, .expect = "bad magic",
     .hlen = -1},
    {"text file", .raw = "hello, world\n", .rawlen = 13, .expect = "bad magic", .hlen = -1},
    {"version 4.0", 4, 0, GOOD_DICT("(2,)"), 8, "version 4.0", .hlen = -1},
    {"version 1.1", 1, 1, GOOD_DICT("(2,)"), 8, "version 1.1", .hlen = -1},
    {"version 0.0", 0, 0, GOOD_DICT("(2,)"), 8, "version 0.0", .hlen = -1},
    {"v2 length cut off", .raw = "\x93NUMPY\x02\x00\x05\x00\x00", .rawlen = 11,
     .expect = "ends inside the header length", .hlen = -1},
    {"header longer than file", 1, 0, GOOD_DICT("(2,)"), 0, "runs past the end", .hlen = 5000},
    {"huge v2 header length", 2, 0, GOOD_DICT("(2,)"), 8, "implausible", .hlen = 0xffffffffLL},
    {"header not a dict", 1, 0, "[1, 2, 3]", 0, "expected '{'", .hlen = -1},
    {"empty header", 1, 0, "", 0, "expected '{'", .hlen = -1},
    {"missing shape", 1, 0, "{'descr': '<f4', 'fortran_order': False}", 4, "lacks the key 'shape'",
     .hlen = -1},
    {"missing descr", 1, 0, "{'fortran_order': False, 'shape': (1,)}", 4, "lacks the key 'descr'",
     .hlen = -1},
    {"unknown key", 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4,
     "unknown key 'x'", .hlen = -1},
    {"duplicate key", 1, 0, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
     4, "duplicate key 'descr'", .hlen = -1},
    {"unterminated string", 1, 0, "{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", 4,
     "expected ':'", .hlen = -1},
    {"string runs to the end", 1, 0, "{'descr", 0, "unterminated string", .hlen = -1},
    {"missing comma", 1, 0, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4,
     "expected ',' or '}'", .hlen = -1},
    {"text after the dict", 1, 0, GOOD_DICT("(1,)") " junk", 4, "after the dictionary",
     .hlen = -1},
    {"unclosed dict", 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4,
     "expected ',' or '}'", .hlen = -1},
    {"descr f3", 1, 0, "{'descr': '<f3', 'fortran_order': False, 'shape': (1,)}", 4,
     "unsupported dtype '<f3'", .hlen = -1},
    {"descr complex", 1, 0, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8,
     "unsupported dtype '<c8'", .hlen = -1},
    {"descr name", 1, 0, "{'descr': 'float32', 'fortran_order': False, 'shape': (1,)}", 4,
     "unsupported dtype 'float32'", .hlen = -1},
    {"descr empty", 1, 0, "{'descr': '', 'fortran_order': False, 'shape': (1,)}", 4,
     "unsupported dtype ''", .hlen = -1},
    {"descr |f4", 1, 0, "{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", 4,
     "unsupported dtype '|f4'", .hlen = -1},
    {"big-endian", 1, 0, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", 4,
     "big-endian", .hlen = -1},
    {"structured", 1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4,
     "structured", .hlen = -1},
    {"descr not a string", 1, 0, "{'descr': 4, 'fortran_order': False, 'shape': (1,)}", 4,
     "expected a quoted string", .hlen = -1},
    {"fortran order", 1, 0, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16,
     "Fortran-order", .hlen = -1},
    {"fortran_order 0", 1, 0, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4,
     "True or False", .hlen = -1},
    {"fortran_order Maybe", 1, 0, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", 4,
     "True or False", .hlen = -1},
    {"rank 9", 1, 0, GOOD_DICT("(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, "more than 8 dimensions",
     .hlen = -1},
    {"negative dim", 1, 0, GOOD_DICT("(2, -1)"), 8, "negative dimension", .hlen = -1},
    {"dim overflows int64", 1, 0, GOOD_DICT("(99999999999999999999,)"), 4, "overflows 64 bits",
     .hlen = -1},
    {"product overflows", 1, 0, GOOD_DICT("(4611686018427387904, 4)"), 4, "overflows",
     .hlen = -1},
    {"bytes overflow", 1, 0, GOOD_DICT("(4611686018427387904,)"), 4, "overflows", .hlen = -1},
    {"huge shape", 1, 0, GOOD_DICT("(1099511627776,)"), 4,
     "needs 4398046511104 data bytes, the file has 4", .hlen = -1},
    {"shape not a tuple", 1, 0, GOOD_DICT("7"), 28, "expected a shape tuple", .hlen = -1},
    {"float dim", 1, 0, GOOD_DICT("(2.5,)"), 8, "expected ',' or ')'", .hlen = -1},
    {"unclosed shape", 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 24,
     "expected", .hlen = -1},
    {"data truncated", 1, 0, GOOD_DICT("(10,)"), 20, "needs 40 data bytes, the file has 20",
     .hlen = -1},
    {"data missing", 1, 0, GOOD_DICT("(2, 2)"), 0, "truncated", .hlen = -1},
    {"trailing data", 1, 0, GOOD_DICT("(2,)"), 12, "needs 8 data bytes, the file has 12",
     .hlen = -1},
    {"NUL in header", .raw = "\x93NUMPY\x01\x00\x07\x00{'de\0'}", .rawlen = 17,
     .expect = "unsupported character", .hlen = -1},
};

static void test_malformed_corpus(void **state)
{
    int n = (int)(sizeof bad_npy / sizeof *bad_npy);
    assert_true(n >= 10);
    for (int k = 0; k < n; k++) {
        const BadNpy *b = &bad_npy[k];
        static unsigned char buf[1024];
        size_t len;
        if (b->header) {
            static unsigned char zeros[64];
            len = make_npy(buf, b->major, b->minor, b->header, zeros, (size_t)b->dlen);
            if (b->hlen >= 0)
                for (int i = 0; i < (b->major == 1 ? 2 : 4); i++)
                    buf[8 + i] = (unsigned char)(b->hlen >> (8 * i));
        } else {
            memcpy(buf, b->raw, (size_t)b->rawlen);
            len = (size_t)b->rawlen;
        }
        write_bytes(tmp_path("bad.npy"), buf, len);
        Captured c;
        cap_open(&c);
        Tensor *t = rt_npy_read(tmp_path("bad.npy"), c.d);
        const char *msg = cap_text(&c);
        if (t || diag_errors(c.d) == 0 || !strstr(msg, b->expect) ||
            !strstr(msg, "bad.npy: error: "))
            fail_msg("corpus case '%s': expected an error containing \"%s\", got: %s", b->what,
                     b->expect, msg && *msg ? msg : "(no message)");
        if (getenv("NETC_TEST_VERBOSE")) /* to review the wording of every message */
            printf("%-24s %s", b->what, msg);
        cap_close(&c);
    }
}

/* A valid file cut short at every length fails with a message. */
static void test_truncated_everywhere(void **state)
{
    Captured c;
    cap_open(&c);
    int64_t dims[] = {3, 5};
    Tensor *t = patterned(DT_F32, 2, dims);
    assert_true(rt_npy_write(tmp_path("full.npy"), t, c.d));
    size_t n;
    unsigned char *full = read_bytes(tmp_path("full.npy"), &n);
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(tmp_path("cut.npy"), full, cut);
        int before = diag_errors(c.d);
        Tensor *u = rt_npy_read(tmp_path("cut.npy"), c.d);
        if (u || diag_errors(c.d) != before + 1)
            fail_msg("cut at %zu of %zu bytes was not reported exactly once", cut, n);
    }
    free(full);
    tensor_free(t);
    cap_close(&c);
}

static void test_missing_file(void **state)
{
    Captured c;
    cap_open(&c);
    assert_null(rt_npy_read(tmp_path("nonexistent.npy"), c.d));
    assert_non_null(strstr(cap_text(&c), "nonexistent.npy: error: cannot open: No such file"));
    assert_null(rt_npy_read(test_dir(), c.d));
    assert_non_null(strstr(cap_text(&c), "not a regular file"));
    cap_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_zero_size_and_scalar),
        cmocka_unit_test(test_matches_numpy_bytes),
        cmocka_unit_test(test_versions_and_dialects),
        cmocka_unit_test(test_f8_and_bool_conversion),
        cmocka_unit_test(test_write_bf16_refused),
        cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
