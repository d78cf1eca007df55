/*
 * pim_map.c — the mapping of a net onto crossbars (docs/pim.md, "Mapping").
 *
 * Every conv2d / qconv2d / linear / qlinear is a crossbar layer; every
 * other node runs on a tile's digital units. A layer's weight is cut into
 * matrices (one per group; per group and kernel position under the
 * per-position convention), each matrix into blocks of at most R rows and
 * C columns (the row and column orders of pim.h), and each block goes to
 * one crossbar per polarity. When a whole matrix fits in a crossbar and
 * the layer has several (grouped and depthwise convs), floor(R/rows) x
 * floor(C/cols) of them — the smaller — share a crossbar block-diagonally,
 * the compact packing of ../shared/research/pim.md §2.1.
 *
 * Placement: crossbars are numbered across the chip (tile, IMA, crossbar
 * in that order) and every layer starts on a fresh IMA, so that an IMA's
 * crossbars serve one layer, as in ISAAC and PUMA. In a layer pipeline
 * with duplication, spare crossbars hold copies of the layer with the most
 * crossbar cycles until no copy fits (PIMCOMP's -r balance, greedily).
 */
#include "pim.h"

#include "../../ir/geometry.h"

#include <stdlib.h>
#include <string.h>

static int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

static void *grow(void *p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    int64_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    *cap = cap2;
    void *q = realloc(p, (size_t)cap2 * elem);
    if (!q)
        abort();
    return q;
}

bool pim_is_crossbar_op(OpKind op)
{
    return op == OP_CONV2D || op == OP_QCONV2D || op == OP_LINEAR || op == OP_QLINEAR;
}

/* The bits of a value's quantization: its own quant(...), or that of the
 * quantized tensor a dequantize reads. 0 when there is none. */
static int value_bits(const IrValue *v)
{
    if (v->quant)
        return v->quant->bits;
    if (v->kind == VK_NODE && v->def->op == OP_DEQUANTIZE && v->def->in[0]->quant)
        return v->def->in[0]->quant->bits;
    return 0;
}

static int layer_bits(const IrNode *n, int slot, bool weight, int dflt)
{
    int b = value_bits(n->in[slot]);
    if (b)
        return b;
    if (n->req) {
        const IrPrecisionReq *r = weight ? &n->req->weight : &n->req->act;
        if ((n->req->set & (weight ? REQ_WEIGHT : REQ_ACT)) && !r->is_float)
            return r->bits;
    }
    return dflt;
}

/* The layer's geometry from its node; false with a message in err. */
static bool layer_shape(const IrNode *n, PimLayer *L, char *err, size_t errlen)
{
    const Shape *xs = &n->in[0]->shape;
    if (n->op == OP_CONV2D || n->op == OP_QCONV2D) {
        GeomConv2d gc;
        if (!geom_conv2d_from_node(n, &gc)) {
            snprintf(err, errlen, "its convolution geometry is not valid");
            return false;
        }
        L->cin = gc.c, L->cout = gc.oc, L->kh = gc.kh, L->kw = gc.kw, L->groups = gc.groups;
        L->pixels = gc.oh * gc.ow, L->batch = gc.n;
    } else {
        if (xs->rank < 1) {
            snprintf(err, errlen, "its input is a scalar");
            return false;
        }
        int64_t rows = 1;
        for (int i = 0; i + 1 < xs->rank; i++)
            rows *= xs->d[i];
        L->cin = xs->d[xs->rank - 1], L->cout = ir_attr_int(n, "out_features");
        L->kh = L->kw = L->groups = 1;
        L->batch = xs->rank >= 2 ? xs->d[0] : 1;
        L->pixels = L->batch > 0 ? rows / L->batch : 0;
    }
    if (L->cin < 1 || L->cout < 1 || L->pixels < 1 || L->batch < 1) {
        snprintf(err, errlen, "it has an empty dimension");
        return false;
    }
    L->macs = op_info(n->op)->macs ? op_info(n->op)->macs(n) / L->batch : 0;
    return true;
}

/* How one matrix is cut: rows every row_step, columns every C (within
 * slice-major's per-slice runs of cog columns). */
typedef struct Cuts {
    int64_t row_step;
    bool slice_runs; /* whole-kernel: a block never mixes slices */
} Cuts;

typedef struct Mapper {
    const PimHardware *hw;
    PimProgram *p;
    const PimSkips *skips; /* given: a program read back; NULL: from the weights */
    int64_t next_skip;     /* cursor into skips */
    int64_t cap_blocks, cap_xbars;
    int64_t next_xbar; /* the next free crossbar */
} Mapper;

/* Crossbar x of the chip, as PimProgram.xbars[x] (every crossbar up to
 * the last one used has an entry; those skipped by alignment hold no
 * layer). */
static void extend_xbars(Mapper *m, int64_t upto)
{
    PimProgram *p = m->p;
    p->xbars = grow(p->xbars, &m->cap_xbars, upto, sizeof *p->xbars);
    int per_ima = m->hw->xbars_per_ima, per_tile = per_ima * m->hw->imas_per_tile;
    for (int64_t x = p->nxbars; x < upto; x++)
        p->xbars[x] = (PimXbarPlace){.tile = (int)(x / per_tile), .ima = (int)(x / per_ima % m->hw->imas_per_tile),
                                     .xbar = (int)(x % per_ima), .layer = -1};
    if (upto > p->nxbars)
        p->nxbars = upto;
}

static int64_t new_xbar(Mapper *m, int layer)
{
    int64_t x = m->next_xbar++;
    extend_xbars(m, x + 1);
    m->p->xbars[x].layer = layer;
    return x;
}

/* Moves the next free crossbar to the start of an IMA. */
static void align_to_ima(Mapper *m)
{
    int64_t per = m->hw->xbars_per_ima;
    m->next_xbar = ceil_div64(m->next_xbar, per) * per;
}

static void add_block(Mapper *m, PimLayer *L, PimBlock b, int64_t *cap)
{
    L->blocks = grow(L->blocks, cap, L->nblocks + 1, sizeof *L->blocks);
    L->blocks[L->nblocks++] = b;
    if (b.xbar != PIM_SKIPPED)
        m->p->xbars[b.xbar].cells_used += (b.row1 - b.row0) * (b.col1 - b.col0);
    else
        L->nskipped++;
}

int64_t pim_weight_index(const PimLayer *L, PimConvention conv, int64_t matrix, int64_t row, int64_t col)
{
    int64_t K = L->kh * L->kw, cig = L->cin / L->groups, cog = L->cout / L->groups, grp, c, p;
    if (conv == PIM_CONV_PER_POSITION)
        grp = matrix / K, p = matrix % K, c = row;
    else
        grp = matrix, c = row / K, p = row % K;
    int64_t o = L->col_order == PIM_COLS_SLICE_MAJOR ? col % cog : col / L->slices;
    return ((grp * cog + o) * cig + c) * K + p;
}

/* Whether weight i of w is zero; false for data it cannot read. */
static bool weight_is_zero(const Tensor *w, int64_t i)
{
    switch (w->dtype) {
    case DT_F32: return ((const float *)w->data)[i] == 0.0f;
    case DT_I8: return ((const int8_t *)w->data)[i] == 0;
    case DT_U8: return ((const uint8_t *)w->data)[i] == 0;
    default: return false;
    }
}

/* Whether the block of matrix mi, rows [r0, r1), columns [c0, c1) is left
 * out: in a program read back when it says so, else when its weights are
 * all zero. Its ordinal is the layer's block count. */
static bool block_skipped(Mapper *m, const PimLayer *L, int layer, int64_t mi, int64_t r0, int64_t r1, int64_t c0,
                          int64_t c1)
{
    if (m->skips) {
        const PimSkips *s = m->skips;
        bool hit = m->next_skip < s->n && s->at[m->next_skip][0] == layer && s->at[m->next_skip][1] == L->nblocks;
        m->next_skip += hit;
        return hit;
    }
    const IrValue *wv = L->node->in[op_data_inputs(L->node)];
    const Tensor *w = wv->data;
    if (!w || tensor_numel(w) != L->cout * (L->cin / L->groups) * L->kh * L->kw)
        return false;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t k = c0; k < c1; k++)
            if (!weight_is_zero(w, pim_weight_index(L, m->hw->convention, mi, r, k)))
                return false;
    return true;
}

/* Cuts every matrix of L into blocks on fresh crossbars, one set per
 * polarity. The unit a block is cut from is a matrix's column run: all its
 * columns, or under whole-kernel one slice's cog columns. Whole units of
 * the matrices of a grouped conv share crossbars block-diagonally when
 * they fit. */
static void place_layer(Mapper *m, PimLayer *L, int layer, const Cuts *cuts)
{
    const PimHardware *hw = m->hw;
    int64_t cap = 0;
    align_to_ima(m);
    L->xbar0 = m->next_xbar;
    int pols[2] = {0, 0};
    if (L->polarities == 2)
        pols[0] = +1, pols[1] = -1;
    int64_t runs = cuts->slice_runs ? L->slices : 1, run_len = L->matrix_cols / runs;
    int64_t per_xbar = 1;
    if (L->matrices > 1 && L->matrix_rows <= cuts->row_step && run_len <= hw->xbar_cols) {
        int64_t by_rows = hw->xbar_rows / L->matrix_rows, by_cols = hw->xbar_cols / run_len;
        per_xbar = by_rows < by_cols ? by_rows : by_cols;
    }
    for (int pi = 0; pi < L->polarities; pi++)
        for (int64_t s = 0; s < runs; s++) {
            if (per_xbar > 1) {
                for (int64_t mi = 0; mi < L->matrices; mi += per_xbar) {
                    int64_t x = new_xbar(m, layer);
                    for (int64_t k = 0; k < per_xbar && mi + k < L->matrices; k++)
                        add_block(m, L,
                                  (PimBlock){.matrix = (int)(mi + k), .row0 = 0, .row1 = L->matrix_rows,
                                             .col0 = s * run_len, .col1 = (s + 1) * run_len, .polarity = pols[pi],
                                             .xbar = x, .xrow = (int)(k * L->matrix_rows), .xcol = (int)(k * run_len)},
                                  &cap);
                }
                continue;
            }
            for (int64_t mi = 0; mi < L->matrices; mi++)
                for (int64_t r0 = 0; r0 < L->matrix_rows; r0 += cuts->row_step) {
                    int64_t r1 = r0 + cuts->row_step < L->matrix_rows ? r0 + cuts->row_step : L->matrix_rows;
                    for (int64_t c0 = 0; c0 < run_len; c0 += hw->xbar_cols) {
                        int64_t c1 = c0 + hw->xbar_cols < run_len ? c0 + hw->xbar_cols : run_len;
                        bool skip = block_skipped(m, L, layer, mi, r0, r1, s * run_len + c0, s * run_len + c1);
                        int64_t x = skip ? PIM_SKIPPED : new_xbar(m, layer);
                        add_block(m, L,
                                  (PimBlock){.matrix = (int)mi, .row0 = r0, .row1 = r1, .col0 = s * run_len + c0,
                                             .col1 = s * run_len + c1, .polarity = pols[pi], .xbar = x},
                                  &cap);
                    }
                }
        }
    L->nxbars = m->next_xbar - L->xbar0;
    int64_t fullest = 0;
    for (int64_t b = 0; b < L->nblocks; b++)
        if (L->blocks[b].xbar != PIM_SKIPPED && L->blocks[b].row1 - L->blocks[b].row0 > fullest)
            fullest = L->blocks[b].row1 - L->blocks[b].row0;
    L->adc_lossless_bits = pim_lossless_adc_bits(hw, fullest);
}

/* The matrices and their cuts under hw's convention. */
static void layer_matrices(const PimHardware *hw, PimLayer *L, Cuts *cuts)
{
    int64_t k = L->kh * L->kw, cig = L->cin / L->groups, cog = L->cout / L->groups;
    L->slices = pim_weight_slices(hw, L->weight_bits);
    L->input_cycles = pim_input_cycles(hw, L->act_bits);
    L->polarities = pim_polarities(hw);
    L->matrix_cols = cog * L->slices;
    *cuts = (Cuts){.row_step = hw->xbar_rows};
    switch (hw->convention) {
    case PIM_CONV_IM2COL:
        L->matrices = L->groups, L->matrix_rows = cig * k, L->col_order = PIM_COLS_OUTPUT_MAJOR;
        break;
    case PIM_CONV_WHOLE_KERNEL:
        L->matrices = L->groups, L->matrix_rows = cig * k, L->col_order = PIM_COLS_SLICE_MAJOR;
        /* Whole kernels per crossbar; a kernel taller than the crossbar is
         * cut at R as im2col cuts it. */
        if (k <= hw->xbar_rows)
            cuts->row_step = hw->xbar_rows / k * k;
        cuts->slice_runs = true;
        break;
    case PIM_CONV_PER_POSITION:
        L->matrices = L->groups * k, L->matrix_rows = cig, L->col_order = PIM_COLS_OUTPUT_MAJOR;
        break;
    default:
        break;
    }
}

/* Layers a pipeline is slowest on get copies in the spare crossbars. */
static void duplicate_layers(Mapper *m)
{
    PimProgram *p = m->p;
    int64_t spare = pim_chip_xbars(m->hw) - m->next_xbar, per = m->hw->xbars_per_ima;
    for (;;) {
        int worst = -1;
        double worst_cycles = 0;
        for (int i = 0; i < p->nlayers; i++) {
            const PimLayer *L = &p->layers[i];
            double cycles = (double)L->pixels * L->input_cycles / L->replicas;
            if (cycles > worst_cycles && ceil_div64(L->nxbars, per) * per <= spare)
                worst = i, worst_cycles = cycles;
        }
        if (worst < 0)
            break;
        PimLayer *L = &p->layers[worst];
        /* Stop when the slowest layer cannot be copied: copying a faster
         * one would not shorten the pipeline's cycle. */
        double slowest = 0;
        for (int i = 0; i < p->nlayers; i++) {
            double c = (double)p->layers[i].pixels * p->layers[i].input_cycles / p->layers[i].replicas;
            slowest = c > slowest ? c : slowest;
        }
        if (worst_cycles < slowest || L->replicas >= L->pixels)
            break;
        int64_t need = ceil_div64(L->nxbars, per) * per;
        spare -= need;
        int64_t first = m->next_xbar;
        m->next_xbar += need;
        extend_xbars(m, m->next_xbar);
        for (int64_t x = 0; x < L->nxbars; x++) /* the copy holds what the original holds */
            m->p->xbars[first + x].layer = worst, m->p->xbars[first + x].cells_used = m->p->xbars[L->xbar0 + x].cells_used;
        L->replicas++;
    }
}

/* The tile a value is on: where its producer ran (graph inputs: tile 0). */
static int value_tile(const int *node_tile, const IrValue *v)
{
    return v->kind == VK_NODE ? node_tile[v->def->id] : 0;
}

bool pim_map(const IrGraph *g, const PimHardware *hw, const PimSkips *skips, PimProgram *prog, Diag *d)
{
    memset(prog, 0, sizeof *prog);
    prog->hw = *hw;
    prog->graph = g;
    Mapper m = {.hw = hw, .p = prog, .skips = skips};
    int64_t cap_layers = 0, cap_digital = 0, cap_transfers = 0;
    int max_id = 0;
    for (int i = 0; i < g->nnodes; i++)
        max_id = g->nodes[i]->id > max_id ? g->nodes[i]->id : max_id;
    int *node_tile = calloc((size_t)max_id + 1, sizeof *node_tile);
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == OP_MHA) {
            diag_error(d, n->loc, "%s: mha has its projections fused; the PIM backend needs them as linear layers "
                       "(run the expand-mha pass)", n->name ? n->name : op_info(n->op)->name);
            ok = false;
            continue;
        }
        if (!pim_is_crossbar_op(n->op)) {
            prog->digital = grow(prog->digital, &cap_digital, prog->ndigital + 1, sizeof *prog->digital);
            int tile = n->nin > 0 ? value_tile(node_tile, n->in[0]) : 0;
            prog->digital[prog->ndigital++] = (PimDigital){.node = n, .position = i, .tile = tile};
            node_tile[n->id] = tile;
            continue;
        }
        prog->layers = grow(prog->layers, &cap_layers, prog->nlayers + 1, sizeof *prog->layers);
        PimLayer *L = &prog->layers[prog->nlayers];
        memset(L, 0, sizeof *L);
        L->node = n, L->node_id = i, L->replicas = 1;
        L->name = n->name;
        char err[160];
        if (!layer_shape(n, L, err, sizeof err)) {
            diag_error(d, n->loc, "%s: %s cannot be mapped onto crossbars: %s", n->name ? n->name : "layer",
                       op_info(n->op)->name, err);
            ok = false;
            continue;
        }
        L->weight_bits = layer_bits(n, 1, true, hw->weight_bits);
        L->act_bits = layer_bits(n, 0, false, hw->act_bits);
        Cuts cuts;
        layer_matrices(hw, L, &cuts);
        place_layer(&m, L, prog->nlayers, &cuts);
        /* (a layer with every block skipped still has a place to run from) */
        node_tile[n->id] = (int)(L->xbar0 / ((int64_t)hw->xbars_per_ima * hw->imas_per_tile));
        prog->nlayers++;
    }
    if (ok && hw->order == PIM_ORDER_PIPELINE && hw->duplicate)
        duplicate_layers(&m);
    /* Transfers: a value read on another tile than the one producing it. */
    int *position = calloc((size_t)max_id + 1, sizeof *position);
    for (int i = 0; i < g->nnodes; i++)
        position[g->nodes[i]->id] = i;
    for (int i = 0; ok && i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        for (int k = 0; k < op_data_inputs(n); k++) {
            const IrValue *v = n->in[k];
            if (v->kind != VK_NODE)
                continue;
            int from = node_tile[v->def->id], to = node_tile[n->id];
            bool seen = false;
            int from_node = position[v->def->id];
            for (int t = 0; t < prog->ntransfers && !seen; t++)
                seen = prog->transfers[t].node == from_node && prog->transfers[t].result == v->result &&
                       prog->transfers[t].to_tile == to;
            if (from == to || seen)
                continue;
            prog->transfers = grow(prog->transfers, &cap_transfers, prog->ntransfers + 1, sizeof *prog->transfers);
            prog->transfers[prog->ntransfers++] = (PimTransfer){
                .node = from_node, .result = v->result, .from_tile = from, .to_tile = to,
                .bytes = shape_numel(&v->shape) * (int64_t)dtype_size(v->dtype)};
        }
    }
    free(node_tile);
    free(position);
    prog->fits = m.next_xbar <= pim_chip_xbars(hw);
    prog->used_xbars = m.next_xbar;
    for (int64_t x = 0; x < prog->nxbars; x++)
        prog->weight_xbars += prog->xbars[x].layer >= 0;
    if (!ok)
        pim_program_free(prog);
    return ok;
}

void pim_program_free(PimProgram *prog)
{
    for (int i = 0; i < prog->nlayers; i++)
        free(prog->layers[i].blocks);
    free(prog->layers);
    free(prog->digital);
    free(prog->xbars);
    free(prog->transfers);
    memset(prog, 0, sizeof *prog);
}

bool pim_report_fit(const PimProgram *prog, const char *file, Diag *d)
{
    if (prog->fits)
        return true;
    const PimHardware *hw = &prog->hw;
    int64_t have = pim_chip_xbars(hw), per_tile = (int64_t)hw->imas_per_tile * hw->xbars_per_ima;
    diag_file_error(d, file,
                    "the net needs %lld crossbars of %dx%d but the chip (%s: %d tiles x %d IMAs x %d crossbars) "
                    "has %lld: %lld too few; --tiles %lld would fit it (or fewer --weight-bits, or a larger --xbar)",
                    (long long)prog->used_xbars, hw->xbar_rows, hw->xbar_cols, hw->preset, hw->tiles,
                    hw->imas_per_tile, hw->xbars_per_ima, (long long)have, (long long)(prog->used_xbars - have),
                    (long long)ceil_div64(prog->used_xbars, per_tile));
    return false;
}
