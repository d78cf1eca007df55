/*
 * ir_stats.c — model size and cost: parameters, multiply-accumulates and
 * activation memory, per layer and in total.
 *
 * Conventions (so numbers compare with published ones): a MAC is one
 * multiply-add, counted by the op's macs rule as torchvision / fvcore do;
 * parameters are element counts, each parameter counted once even when
 * several nodes share it (per layer it is charged to its first user);
 * activation bytes are a node's output size. A weight with a sparsity
 * mask (a prune pass) is also counted by its nonzeros in the bound data,
 * and its layer's MACs scaled by the nonzero fraction of its weights: the
 * MACs a sparse kernel or a crossbar skipping empty tiles still does.
 *
 * PyTorch counts only learnable tensors as parameters; batchnorm running
 * statistics are buffers there but state_dict entries (so IR parameters)
 * here. The total counts learnable parameters, as torchvision does, and
 * reports the running statistics beside it as buffers.
 *
 * Peak activation memory simulates running the nodes in order: graph inputs
 * are live from the start, a node's output is allocated while its inputs
 * are still live, and every value is freed after its last use (graph
 * outputs live to the end).
 *
 * The graph is assumed to pass ir_verify (value ids index the tables here).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* 25557032 -> "25,557,032" */
static char *with_commas(int64_t v, char *buf, size_t size)
{
    char digits[32];
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)mag);
    size_t k = 0;
    if (v < 0 && k + 1 < size)
        buf[k++] = '-';
    for (int i = 0; i < n && k + 1 < size; i++) {
        buf[k++] = digits[i];
        int left = n - 1 - i;
        if (left > 0 && left % 3 == 0 && k + 1 < size)
            buf[k++] = ',';
    }
    buf[k] = '\0';
    return buf;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Live memory in the peak simulation. Sizes near int64's range only occur
 * in absurd graphs; once a sum overflows the count sticks at INT64_MAX
 * rather than going negative when values are freed. */
typedef struct Live {
    int64_t bytes;
    bool saturated;
} Live;

static void live_alloc(Live *l, int64_t b)
{
    if (l->saturated || __builtin_add_overflow(l->bytes, b, &l->bytes))
        l->bytes = INT64_MAX, l->saturated = true;
}

static void live_free(Live *l, int64_t b)
{
    if (!l->saturated)
        l->bytes -= b;
}

static int64_t value_bytes(const IrValue *v)
{
    int64_t n = shape_numel(&v->shape);
    if (n < 0 || (uint64_t)n > (uint64_t)INT64_MAX / 64)
        return INT64_MAX;
    return (int64_t)dtype_nbytes(v->dtype, (uint64_t)n);
}

enum { COLS = 7 };

typedef struct Row {
    const char *cell[COLS];
} Row;

/* The bits of n's weights: the quantized width ("4", "4/8" when two weights
 * differ), the dtype of an unquantized weight, "-" without weights. */
static const char *weight_bits(Arena *a, const IrNode *n)
{
    const char *cell = "-";
    int nd = op_data_inputs(n);
    for (int k = nd; k < n->nin; k++) {
        const IrValue *w = n->in[k];
        if (op_param_role(n, k - nd) != PR_WEIGHT)
            continue;
        const char *mine = w->quant ? arena_printf(a, "%d", w->quant->bits) : dtype_name(w->dtype);
        cell = !strcmp(cell, "-") || !strcmp(cell, mine) ? mine : arena_printf(a, "%s/%s", cell, mine);
    }
    return cell;
}

/* Elements and nonzeros of n's masked weights with bound f32 data (both 0
 * when it has none). */
static void masked_weights(const IrNode *n, int64_t *numel, int64_t *nonzeros)
{
    *numel = *nonzeros = 0;
    int nd = op_data_inputs(n);
    for (int k = nd; k < n->nin; k++) {
        const IrValue *w = n->in[k];
        if (op_param_role(n, k - nd) != PR_WEIGHT || !w->sparsity || !w->data || w->data->dtype != DT_F32)
            continue;
        const float *x = w->data->data;
        int64_t c = tensor_numel(w->data);
        *numel += c;
        for (int64_t i = 0; i < c; i++)
            *nonzeros += x[i] != 0.0f;
    }
}

static void print_table(FILE *out, Row *rows, int nrows)
{
    static const bool right[COLS] = {false, false, false, true, true, true, true};
    int w[COLS] = {0};
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < COLS; c++) {
            int l = (int)strlen(rows[r].cell[c]);
            w[c] = l > w[c] ? l : w[c];
        }
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < COLS; c++) {
            const char *sep = c ? "  " : "";
            if (right[c])
                fprintf(out, "%s%*s", sep, w[c], rows[r].cell[c]);
            else if (c == COLS - 1)
                fprintf(out, "%s%s", sep, rows[r].cell[c]);
            else
                fprintf(out, "%s%-*s", sep, w[c], rows[r].cell[c]);
        }
        fputc('\n', out);
        if (r == 0) { /* rule under the header */
            int total = 0;
            for (int c = 0; c < COLS; c++)
                total += w[c] + (c ? 2 : 0);
            for (int i = 0; i < total; i++)
                fputc('-', out);
            fputc('\n', out);
        }
    }
}

IrStats ir_stats(const IrGraph *g, FILE *out)
{
    IrStats st = {0};
    int nids = g->next_value_id > 0 ? g->next_value_id : 1;
    int *last_use = ir_last_uses(g);
    bool *charged = xcalloc((size_t)nids, sizeof *charged);

    for (int i = 0; i < g->nparams; i++) {
        const IrValue *p = g->params[i];
        int64_t n = shape_numel(&p->shape);
        st.params = sat_add(st.params, n > 0 ? n : 0);
        /* A quantized weight is stored at its bits, packed (what a bundle
         * holds); everything else at its dtype. */
        int64_t bytes = p->quant ? (int64_t)(((uint64_t)(n > 0 ? n : 0) * (uint64_t)p->quant->bits + 7) / 8)
                                 : value_bytes(p);
        st.model_bytes = sat_add(st.model_bytes, bytes);
    }

    /* Parameters in a buffer slot of their op (batchnorm statistics). */
    /* Buffers are state, not learned: a norm's running statistics, and the
     * tensors metadata refers to (quantization scales, sparsity masks). */
    int64_t meta_elems = 0;
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *p = g->params[i];
        if (param_role_is_buffer(ir_param_role(p)))
            st.buffers = sat_add(st.buffers, shape_numel(&p->shape));
        else if (ir_param_in_metadata(g, p))
            meta_elems = sat_add(meta_elems, shape_numel(&p->shape));
    }
    st.buffers = sat_add(st.buffers, meta_elems);
    st.params -= st.buffers;

    Live live = {0};
    for (int i = 0; i < g->ninputs; i++)
        live_alloc(&live, value_bytes(g->inputs[i]));
    st.peak_activation_bytes = live.bytes;
    for (int i = 0; i < g->ninputs; i++)
        if (last_use[g->inputs[i]->id] < 0)
            live_free(&live, value_bytes(g->inputs[i]));

    Arena *a = out ? arena_new() : NULL;
    Row *rows = out ? xmalloc((size_t)(g->nnodes + 1) * sizeof *rows) : NULL;
    if (out)
        rows[0] = (Row){{"layer", "op", "output", "params", "W bits", "MACs", "activation bytes"}};

    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        const OpInfo *o = op_info(n->op);
        int64_t params = 0, macs = o->macs ? o->macs(n) : 0, bytes = 0;
        for (int r = 0; r < n->nout; r++)
            bytes = sat_add(bytes, value_bytes(n->outs[r]));
        for (int k = 0; k < n->nin; k++) {
            const IrValue *v = n->in[k];
            if (v->kind == VK_PARAM && !charged[v->id]) {
                charged[v->id] = true;
                params = sat_add(params, shape_numel(&v->shape));
            }
        }
        st.macs = sat_add(st.macs, macs);
        int64_t masked, nonzeros;
        masked_weights(n, &masked, &nonzeros);
        int64_t kept = masked ? (int64_t)((double)macs * (double)nonzeros / (double)masked + 0.5) : macs;
        st.macs_kept = sat_add(st.macs_kept, kept);
        st.sparse_weights += masked, st.sparse_nonzeros += nonzeros;
        st.activation_bytes = sat_add(st.activation_bytes, bytes);

        live_alloc(&live, bytes);
        if (live.bytes > st.peak_activation_bytes)
            st.peak_activation_bytes = live.bytes;
        for (int r = 0; r < n->nout; r++)
            if (last_use[n->outs[r]->id] == -1)
                live_free(&live, value_bytes(n->outs[r])); /* dead result: freed right away */
        for (int k = 0; k < n->nin; k++) {
            const IrValue *v = n->in[k];
            bool first = true; /* free a value read twice by this node only once */
            for (int j = 0; j < k; j++)
                first = first && n->in[j] != v;
            if (first && v->kind != VK_PARAM && last_use[v->id] == i)
                live_free(&live, value_bytes(v));
        }

        if (out) {
            char sh[200], p[32], m[32], b[32];
            Row *r = &rows[i + 1];
            r->cell[0] = n->name ? arena_strdup(a, n->name)
                                 : arena_printf(a, "%s#%d", o->name, i);
            r->cell[1] = arena_strdup(a, o->name);
            r->cell[2] = arena_printf(a, "%s%s", dtype_name(n->out->dtype),
                                      shape_str(&n->out->shape, sh, sizeof sh));
            r->cell[3] = arena_strdup(a, params ? with_commas(params, p, sizeof p) : "-");
            r->cell[4] = weight_bits(a, n);
            r->cell[5] = arena_strdup(a, macs ? with_commas(macs, m, sizeof m) : "-");
            if (masked) {
                char nz[32], mk[32];
                r->cell[3] = arena_printf(a, "%s (%s weights nonzero)", r->cell[3], with_commas(nonzeros, nz, sizeof nz));
                r->cell[5] = arena_printf(a, "%s (%s kept)", r->cell[5], with_commas(kept, mk, sizeof mk));
            }
            r->cell[6] = arena_strdup(a, with_commas(bytes, b, sizeof b));
        }
    }

    if (out) {
        char p[32], m[32], b[32], k[32];
        print_table(out, rows, g->nnodes + 1);
        fprintf(out, "\n");
        char r[32];
        fprintf(out, "total parameters:       %s", with_commas(st.params, p, sizeof p));
        if (st.buffers && !meta_elems)
            fprintf(out, " (plus %s in batchnorm running statistics)", with_commas(st.buffers, r, sizeof r));
        else if (st.buffers)
            fprintf(out, " (plus %s in buffers: running statistics, quantization and sparsity tensors)",
                    with_commas(st.buffers, r, sizeof r));
        fputc('\n', out);
        fprintf(out, "model size:             %s bytes (%.2f MiB)\n",
                with_commas(st.model_bytes, r, sizeof r), (double)st.model_bytes / (1024.0 * 1024.0));
        fprintf(out, "total MACs:             %s (%.2f GMACs)\n",
                with_commas(st.macs, m, sizeof m), (double)st.macs / 1e9);
        if (st.sparse_weights) {
            char w[32], z[32];
            fprintf(out, "masked weights:         %s nonzero of %s (%.2f%% sparsity)\n",
                    with_commas(st.sparse_nonzeros, z, sizeof z), with_commas(st.sparse_weights, w, sizeof w),
                    100.0 * (1.0 - (double)st.sparse_nonzeros / (double)st.sparse_weights));
            fprintf(out, "MACs left by the masks: %s (%.2f GMACs, %.2f%% of the dense)\n",
                    with_commas(st.macs_kept, m, sizeof m), (double)st.macs_kept / 1e9,
                    st.macs ? 100.0 * (double)st.macs_kept / (double)st.macs : 0.0);
        }
        fprintf(out, "activation bytes:       %s (%.2f MiB)\n",
                with_commas(st.activation_bytes, b, sizeof b),
                (double)st.activation_bytes / (1024.0 * 1024.0));
        fprintf(out, "peak activation memory: %s (%.2f MiB)\n",
                with_commas(st.peak_activation_bytes, k, sizeof k),
                (double)st.peak_activation_bytes / (1024.0 * 1024.0));
        free(rows);
        arena_free(a);
    }
    free(last_use);
    free(charged);
    return st;
}
