/*
 * test_weights.c — strict binding of named tensors to graph parameters
 * (runtime/weights.c): everything reported in one run, nothing bound on
 * failure, num_batches_tracked ignored, tensors moved rather than copied,
 * and export/save/load round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../runtime/weights.h"
#include "ir_test_util.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static Tensor *filled(DType dt, Shape s, float v)
{
    Tensor *t = tensor_new(dt, &s);
    assert_non_null(t);
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        if (dt == DT_F32)
            ((float *)t->data)[i] = v + (float)i;
        else if (dt == DT_F16)
            ((uint16_t *)t->data)[i] = f32_to_f16(v + (float)i);
        else if (dt == DT_I64)
            ((int64_t *)t->data)[i] = (int64_t)v;
    }
    return t;
}

/* A graph with the parameters of conv1 (no bias) + bn1 + fc. */
static IrGraph *small_graph(void)
{
    IrGraph *g = ir_graph_new("Small");
    Loc none = loc_none();
    ir_add_param(g, "conv1.weight", DT_F32, SH(4, 64, 3, 3, 3), none);
    ir_add_param(g, "bn1.weight", DT_F32, SH(1, 64), none);
    ir_add_param(g, "bn1.bias", DT_F32, SH(1, 64), none);
    ir_add_param(g, "bn1.running_mean", DT_F32, SH(1, 64), none);
    ir_add_param(g, "bn1.running_var", DT_F32, SH(1, 64), none);
    ir_add_param(g, "fc.weight", DT_F32, SH(2, 10, 64), none);
    ir_add_param(g, "fc.bias", DT_F32, SH(1, 10), none);
    return g;
}

/* The matching state_dict, in another order, with num_batches_tracked. */
static void full_state(TensorList *w)
{
    rt_tlist_add(w, "fc.bias", filled(DT_F32, SH(1, 10), 7));
    rt_tlist_add(w, "fc.weight", filled(DT_F32, SH(2, 10, 64), 6));
    rt_tlist_add(w, "bn1.num_batches_tracked", filled(DT_I64, SH(0), 100));
    rt_tlist_add(w, "bn1.running_var", filled(DT_F32, SH(1, 64), 5));
    rt_tlist_add(w, "bn1.running_mean", filled(DT_F32, SH(1, 64), 4));
    rt_tlist_add(w, "bn1.bias", filled(DT_F32, SH(1, 64), 3));
    rt_tlist_add(w, "bn1.weight", filled(DT_F16, SH(1, 64), 2));
    rt_tlist_add(w, "conv1.weight", filled(DT_F32, SH(4, 64, 3, 3, 3), 1));
}

static void test_bind_all(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = small_graph();
    TensorList w = {0};
    full_state(&w);
    void *conv_data = rt_tlist_find(&w, "conv1.weight")->t->data;
    assert_true(rt_weights_bind(g, &w, "w.safetensors", true, c.d));
    assert_int_equal(diag_errors(c.d), 0);
    assert_true(cap_text(&c) == NULL || *cap_text(&c) == '\0');
    for (int p = 0; p < g->nparams; p++) {
        const IrValue *v = g->params[p];
        assert_non_null(v->data);
        assert_int_equal(v->data->dtype, DT_F32);
        assert_true(shape_equal(&v->data->shape, &v->shape));
    }
    /* moved, not copied */
    assert_ptr_equal(ir_find_param(g, "conv1.weight")->data->data, conv_data);
    assert_null(rt_tlist_find(&w, "conv1.weight")->t);
    /* f16 converted, values intact */
    const float *bw = ir_find_param(g, "bn1.weight")->data->data;
    assert_true(bw[0] == 2.0f && bw[63] == 65.0f);
    assert_true(((float *)ir_find_param(g, "fc.bias")->data->data)[9] == 16.0f);
    /* the ignored key stays in the list */
    assert_non_null(rt_tlist_find(&w, "bn1.num_batches_tracked")->t);
    rt_tlist_free(&w);
    ir_graph_free(g);
    cap_close(&c);
}

/* Missing, unexpected and size mismatch reported together; nothing bound. */
static void test_every_problem_in_one_run(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = small_graph();
    TensorList w = {0};
    full_state(&w);
    /* conv1.weight from a 7x7 stem, fc.* absent, an extra fc2.weight */
    Tensor *big = filled(DT_F32, SH(4, 64, 3, 7, 7), 0);
    tensor_free(rt_tlist_find(&w, "conv1.weight")->t);
    rt_tlist_find(&w, "conv1.weight")->t = big;
    free(w.items[0].name);
    w.items[0].name = strdup("fc2.weight");
    free(w.items[1].name);
    w.items[1].name = strdup("layer9.num_batches_tracked");
    rt_tlist_add(&w, "num_batches_tracked", filled(DT_I64, SH(0), 1));

    assert_false(rt_weights_bind(g, &w, "w.safetensors", true, c.d));
    const char *out = cap_text(&c);
    const char *want[] = {
        "w.safetensors: error: missing key 'fc.weight': the network expects a tensor of shape "
        "[10, 64]\n",
        "w.safetensors: error: missing key 'fc.bias': the network expects a tensor of shape [10]\n",
        "w.safetensors: error: unexpected key 'fc2.weight' (shape [10]): the network has no such "
        "parameter\n",
        "w.safetensors: error: size mismatch for conv1.weight: file has [64, 3, 7, 7], network "
        "expects [64, 3, 3, 3]\n",
        "w.safetensors: note: cannot load weights into 'Small': 2 missing keys, 1 unexpected key, 1 "
        "size mismatch; nothing was bound\n",
    };
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *hit = strstr(at, want[i]);
        if (!hit)
            fail_msg("expected, in order:\n%s\ngot:\n%s", want[i], out);
        at = hit + strlen(want[i]);
    }
    assert_int_equal(diag_errors(c.d), 4);
    assert_null(strstr(out, "num_batches_tracked"));
    for (int p = 0; p < g->nparams; p++)
        assert_null(g->params[p]->data);
    assert_ptr_equal(rt_tlist_find(&w, "conv1.weight")->t, big);
    rt_tlist_free(&w);
    ir_graph_free(g);
    cap_close(&c);
}

static void test_prefix_hint(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = small_graph();
    TensorList w = {0};
    full_state(&w);
    for (int i = 0; i < w.n; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "module.%s", w.items[i].name);
        free(w.items[i].name);
        w.items[i].name = strdup(buf);
    }
    assert_false(rt_weights_bind(g, &w, "dp.safetensors", true, c.d));
    assert_int_equal(diag_errors(c.d), 14);
    assert_non_null(strstr(cap_text(&c), "dp.safetensors: note: the file's keys carry a prefix the "
                                         "network's lack: 'module.'"));
    rt_tlist_free(&w);

    /* and the other way round */
    IrGraph *g2 = ir_graph_new("Wrapped");
    ir_add_param(g2, "backbone.fc.weight", DT_F32, SH(1, 2), loc_none());
    rt_tlist_add(&w, "fc.weight", filled(DT_F32, SH(1, 2), 0));
    assert_false(rt_weights_bind(g2, &w, "x.safetensors", true, c.d));
    assert_non_null(strstr(cap_text(&c), "the network's keys carry a prefix the file's lack: "
                                         "'backbone.'"));
    rt_tlist_free(&w);
    ir_graph_free(g2);
    ir_graph_free(g);
    cap_close(&c);
}

static void test_non_strict(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = small_graph();
    TensorList w = {0};
    full_state(&w);
    free(w.items[0].name);
    w.items[0].name = strdup("extra"); /* fc.bias missing, "extra" unexpected */
    assert_true(rt_weights_bind(g, &w, "w.safetensors", false, c.d));
    assert_int_equal(diag_errors(c.d), 0);
    assert_non_null(strstr(cap_text(&c), "w.safetensors: warning: non-strict load: 1 parameter of "
                                         "the network not in the file, 1 key of the file not used"));
    assert_null(ir_find_param(g, "fc.bias")->data);
    assert_non_null(ir_find_param(g, "fc.weight")->data);
    rt_tlist_free(&w);

    /* size mismatches stay errors */
    rt_tlist_add(&w, "fc.bias", filled(DT_F32, SH(1, 11), 0));
    assert_false(rt_weights_bind(g, &w, "w.safetensors", false, c.d));
    assert_int_equal(diag_errors(c.d), 1);
    assert_non_null(strstr(cap_text(&c), "size mismatch for fc.bias: file has [11], network "
                                         "expects [10]"));
    rt_tlist_free(&w);
    ir_graph_free(g);
    cap_close(&c);
}

static void test_duplicate_and_taken(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = ir_graph_new("G");
    ir_add_param(g, "a", DT_F32, SH(1, 2), loc_none());
    TensorList w = {0};
    rt_tlist_add(&w, "a", filled(DT_F32, SH(1, 2), 0));
    rt_tlist_add(&w, "a", filled(DT_F32, SH(1, 2), 0));
    assert_false(rt_weights_bind(g, &w, "w", true, c.d));
    assert_non_null(strstr(cap_text(&c), "key 'a' appears twice"));
    rt_tlist_free(&w);
    rt_tlist_add(&w, "a", filled(DT_F32, SH(1, 2), 0));
    assert_true(rt_weights_bind(g, &w, "w", true, c.d));
    int before = diag_errors(c.d);
    assert_false(rt_weights_bind(g, &w, "w", true, c.d)); /* its tensor was moved out */
    assert_int_equal(diag_errors(c.d), before + 1);
    rt_tlist_free(&w);
    ir_graph_free(g);
    cap_close(&c);
}

static void test_export_save_load(void **state)
{
    Captured c;
    cap_open(&c);
    IrGraph *g = small_graph();
    TensorList w = {0};
    /* export refuses a graph with unbound parameters, naming each */
    assert_false(rt_weights_export(g, &w, c.d));
    assert_int_equal(diag_errors(c.d), 7);
    assert_non_null(strstr(cap_text(&c), "parameter 'fc.bias' has no weights bound"));
    rt_tlist_free(&w);

    full_state(&w);
    assert_true(rt_weights_bind(g, &w, "mem", true, c.d));
    rt_tlist_free(&w);
    assert_true(rt_weights_export(g, &w, c.d));
    assert_true(w.borrowed);
    assert_int_equal(w.n, 7);
    assert_string_equal(w.items[0].name, "conv1.weight");
    assert_ptr_equal(w.items[0].t, g->params[0]->data);
    rt_tlist_free(&w); /* leaves the graph's tensors alone */

    const char *path = tmp_path("small.safetensors");
    assert_true(rt_weights_save(g, path, c.d));
    IrGraph *h = small_graph();
    assert_true(rt_weights_load(h, path, true, c.d));
    for (int p = 0; p < g->nparams; p++)
        assert_memory_equal(h->params[p]->data->data, g->params[p]->data->data,
                            tensor_nbytes(g->params[p]->data));
    /* loading into a different network reports, then nothing changes */
    IrGraph *k = ir_graph_new("Other");
    ir_add_param(k, "conv1.weight", DT_F32, SH(4, 64, 3, 7, 7), loc_none());
    int before = diag_errors(c.d);
    assert_false(rt_weights_load(k, path, true, c.d));
    assert_int_equal(diag_errors(c.d), before + 7); /* 6 unexpected + 1 size mismatch */
    assert_false(rt_weights_load(k, "/nonexistent/x.safetensors", true, c.d));
    unlink(path);
    ir_graph_free(k);
    ir_graph_free(h);
    ir_graph_free(g);
    cap_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_all),
        cmocka_unit_test(test_every_problem_in_one_run),
        cmocka_unit_test(test_prefix_hint),
        cmocka_unit_test(test_non_strict),
        cmocka_unit_test(test_duplicate_and_taken),
        cmocka_unit_test(test_export_save_load),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
