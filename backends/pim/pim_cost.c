/*
 * pim_cost.c — area, power, latency and energy of a mapped PIM program
 * (docs/pim-model.md).
 *
 * The chip is a table of components (PIM_PART_LIST), each with a count per
 * IMA, per tile or per chip and the preset's unit power and area; every
 * roll-up (IMA, tile, chip, breakdown) is a sum over that one table. With
 * the isaac preset it reproduces ISAAC's Table 6 (the tests check it).
 *
 * A layer's time is counted in input cycles: every crossbar of the layer
 * (they run in parallel) is evaluated once per input cycle per output pixel
 * per image, the copies of a duplicated layer sharing the pixels. One
 * cycle of a crossbar with r rows and c columns used takes, with
 * rp = ceil(r / dacs_per_xbar) row passes (1 when every row has a DAC),
 * cp = ceil(c / adcs_per_xbar) conversions per ADC and t_conv one
 * conversion:
 *   adc_overlap (ISAAC: S+H holds the columns while the next read runs)
 *       max(rp * (dac_ns + xbar_read_ns), rp * cp * t_conv)
 *   otherwise (MNSIM PE_latency.py: the passes one after the other)
 *       rp * cp * (dac_ns + xbar_read_ns + t_conv)
 * Energy is each component's power times the time it is busy.
 */
#include "pim_cost.h"

#include <stdlib.h>
#include <string.h>

enum { LEVEL_IMA, LEVEL_TILE, LEVEL_CHIP };

static const int part_level[] = {
#define X(e, name, level) LEVEL_##level,
    PIM_PART_LIST(X)
#undef X
};
static const char *const part_names[] = {
#define X(e, name, level) name,
    PIM_PART_LIST(X)
#undef X
};
static const char *const energy_names[] = {
#define X(e, name) name,
    PIM_ENERGY_LIST(X)
#undef X
};

const char *pim_part_name(PimPart k) { return part_names[k]; }
const char *pim_energy_name(PimEnergyKind k) { return energy_names[k]; }

static int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t dacs_per_xbar(const PimHardware *hw)
{
    return hw->cost.dacs_per_xbar > 0 ? hw->cost.dacs_per_xbar : hw->xbar_rows;
}

/* One component: how many there are at its level and one's power and area. */
static void part_unit(const PimHardware *hw, PimPart k, double *count, double *mw, double *mm2)
{
    const PimCostParams *c = &hw->cost;
    double xb = hw->xbars_per_ima;
    switch (k) {
    case PIM_PART_XBAR: *count = xb, *mw = c->xbar_mw, *mm2 = c->xbar_mm2; return;
    case PIM_PART_ADC: *count = xb * hw->adcs_per_xbar, *mw = c->adc_mw, *mm2 = c->adc_mm2; return;
    case PIM_PART_DAC: *count = xb * (double)dacs_per_xbar(hw), *mw = c->dac_mw, *mm2 = c->dac_mm2; return;
    case PIM_PART_SH: *count = 1, *mw = c->sh_mw, *mm2 = c->sh_mm2; return;
    case PIM_PART_SA: *count = 1, *mw = c->sa_mw, *mm2 = c->sa_mm2; return;
    case PIM_PART_IR: *count = 1, *mw = c->ir_mw, *mm2 = c->ir_mm2; return;
    case PIM_PART_OR: *count = 1, *mw = c->or_mw, *mm2 = c->or_mm2; return;
    case PIM_PART_EDRAM: *count = 1, *mw = c->edram_mw, *mm2 = c->edram_mm2; return;
    case PIM_PART_BUS: *count = 1, *mw = c->bus_mw, *mm2 = c->bus_mm2; return;
    case PIM_PART_ROUTER: *count = 1, *mw = c->router_mw, *mm2 = c->router_mm2; return;
    case PIM_PART_DIGITAL: *count = 1, *mw = c->digital_mw, *mm2 = c->digital_mm2; return;
    case PIM_PART_TILE_OR: *count = 1, *mw = c->tile_or_mw, *mm2 = c->tile_or_mm2; return;
    case PIM_PART_IO: *count = 1, *mw = c->chip_io_mw, *mm2 = c->chip_io_mm2; return;
    default: *count = 0, *mw = 0, *mm2 = 0; return;
    }
}

/* The sum over the components of one level: power (area false) or area. */
static double level_sum(const PimHardware *hw, int level, bool area)
{
    double s = 0;
    for (int k = 0; k < PIM_PART__COUNT; k++) {
        if (part_level[k] != level)
            continue;
        double n, mw, mm2;
        part_unit(hw, (PimPart)k, &n, &mw, &mm2);
        s += n * (area ? mm2 : mw);
    }
    return s;
}

static double ima_sum(const PimHardware *hw, bool area) { return level_sum(hw, LEVEL_IMA, area); }
static double tile_sum(const PimHardware *hw, bool area)
{
    return hw->imas_per_tile * ima_sum(hw, area) + level_sum(hw, LEVEL_TILE, area);
}
static double chip_sum(const PimHardware *hw, bool area)
{
    return hw->tiles * tile_sum(hw, area) + level_sum(hw, LEVEL_CHIP, area);
}

double pim_ima_power_mw(const PimHardware *hw) { return ima_sum(hw, false); }
double pim_ima_area_mm2(const PimHardware *hw) { return ima_sum(hw, true); }
double pim_tile_power_mw(const PimHardware *hw) { return tile_sum(hw, false); }
double pim_tile_area_mm2(const PimHardware *hw) { return tile_sum(hw, true); }
double pim_chip_power_mw(const PimHardware *hw) { return chip_sum(hw, false); }
double pim_chip_area_mm2(const PimHardware *hw) { return chip_sum(hw, true); }

void pim_chip_parts(const PimHardware *hw, double power_mw[PIM_PART__COUNT], double area_mm2[PIM_PART__COUNT])
{
    double per_level[] = {[LEVEL_IMA] = (double)hw->tiles * hw->imas_per_tile, [LEVEL_TILE] = hw->tiles,
                          [LEVEL_CHIP] = 1};
    for (int k = 0; k < PIM_PART__COUNT; k++) {
        double n, mw, mm2;
        part_unit(hw, (PimPart)k, &n, &mw, &mm2);
        n *= per_level[part_level[k]];
        if (power_mw)
            power_mw[k] = n * mw;
        if (area_mm2)
            area_mm2[k] = n * mm2;
    }
}

/* One conversion: the preset's ADC latency, else one sample period; 0 when
 * neither is known. */
static double conversion_ns(const PimCostParams *c)
{
    return c->adc_ns > 0 ? c->adc_ns : c->adc_gsps > 0 ? 1 / c->adc_gsps : 0;
}

/* The rows and columns each crossbar of L has in use: the extent of its
 * blocks (rows[x], cols[x] for crossbar L->xbar0 + x). */
static void xbar_extents(const PimLayer *L, int64_t *rows, int64_t *cols)
{
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *B = &L->blocks[b];
        int64_t x = B->xbar - L->xbar0;
        if (x < 0 || x >= L->nxbars)
            continue; /* not one of the layer's crossbars: a malformed program */
        int64_t r = B->xrow + (B->row1 - B->row0), c = B->xcol + (B->col1 - B->col0);
        rows[x] = r > rows[x] ? r : rows[x];
        cols[x] = c > cols[x] ? c : cols[x];
    }
}

/* Crossbars, cells, IMAs and tiles of each layer, from the chip's
 * crossbar list (copies are anywhere on it; the list is in tile, IMA,
 * crossbar order, so a layer's IMAs and tiles are counted as they change). */
typedef struct LayerPlace {
    int64_t xbars, cells, imas, tiles;
    int64_t last_ima, last_tile;
} LayerPlace;

static void layer_places(const PimProgram *p, LayerPlace *lp)
{
    for (int i = 0; i < p->nlayers; i++)
        lp[i] = (LayerPlace){.last_ima = -1, .last_tile = -1};
    for (int64_t x = 0; x < p->nxbars; x++) {
        const PimXbarPlace *X = &p->xbars[x];
        if (X->layer < 0 || X->layer >= p->nlayers)
            continue;
        LayerPlace *l = &lp[X->layer];
        int64_t ima = (int64_t)X->tile * p->hw.imas_per_tile + X->ima;
        l->xbars++, l->cells += X->cells_used;
        l->imas += ima != l->last_ima, l->last_ima = ima;
        l->tiles += X->tile != l->last_tile, l->last_tile = X->tile;
    }
}

static bool layer_cost(const PimProgram *p, const PimLayer *L, const LayerPlace *lp, PimLayerCost *out)
{
    const PimHardware *hw = &p->hw;
    const PimCostParams *c = &hw->cost;
    int64_t *rows = calloc((size_t)(L->nxbars > 0 ? L->nxbars : 1), sizeof *rows);
    int64_t *cols = calloc((size_t)(L->nxbars > 0 ? L->nxbars : 1), sizeof *cols);
    if (!rows || !cols) {
        free(rows), free(cols);
        return false;
    }
    xbar_extents(L, rows, cols);
    double t_conv = conversion_ns(c), t_read = c->dac_ns + c->xbar_read_ns;
    double t_dac = c->dac_ns > 0 ? c->dac_ns : c->xbar_read_ns; /* how long a DAC drives its row */
    int64_t live = 0, reads = 0, convs = 0, dacs = 0; /* per evaluation of all its crossbars */
    double cycle = 0;
    for (int64_t x = 0; x < L->nxbars; x++) {
        if (!rows[x] || !cols[x])
            continue;
        int64_t rp = c->dacs_per_xbar > 0 ? ceil_div64(rows[x], c->dacs_per_xbar) : 1;
        int64_t cp = ceil_div64(cols[x], hw->adcs_per_xbar);
        double t;
        if (c->adc_overlap) {
            double ta = (double)(rp * cp) * t_conv, tr = (double)rp * t_read;
            t = ta > tr ? ta : tr;
            reads += rp, dacs += rows[x];
        } else {
            t = (double)(rp * cp) * (t_read + t_conv);
            reads += rp * cp, dacs += rows[x] * cp;
        }
        convs += rp * cols[x];
        live++;
        cycle = t > cycle ? t : cycle;
    }
    free(rows), free(cols);
    int64_t per_xbar = L->pixels * L->batch * L->input_cycles; /* evaluations of each crossbar */
    *out = (PimLayerCost){
        .cycle_ns = cycle,
        .latency_ns = (double)ceil_div64(L->pixels * L->batch, L->replicas) * L->input_cycles * cycle,
        .stage_ns = (double)ceil_div64(L->pixels, L->replicas) * L->input_cycles * cycle,
        .xbars = lp->xbars, .imas = lp->imas, .tiles = lp->tiles,
        .xbar_evals = live * per_xbar, .xbar_reads = reads * per_xbar,
        .adc_conversions = convs * per_xbar, .dac_activations = dacs * per_xbar,
        .digital_ops = convs * per_xbar,
        .area_mm2 = (double)lp->imas * pim_ima_area_mm2(hw),
        .xbar_utilization = lp->xbars ? (double)lp->cells / ((double)lp->xbars * hw->xbar_rows * hw->xbar_cols) : 0,
    };
    double *e = out->energy_by_nj; /* pJ until the end */
    e[PIM_ENERGY_XBAR] = (double)out->xbar_reads * c->xbar_mw * c->xbar_read_ns;
    e[PIM_ENERGY_DAC] = (double)out->dac_activations * c->dac_mw * t_dac;
    e[PIM_ENERGY_ADC] = (double)out->adc_conversions * c->adc_mw * t_conv;
    e[PIM_ENERGY_IMA] = (double)lp->imas * (c->sh_mw + c->sa_mw + c->ir_mw + c->or_mw) * out->latency_ns;
    e[PIM_ENERGY_TILE] = (double)lp->tiles * (c->edram_mw + c->bus_mw + c->tile_or_mw) * out->latency_ns;
    for (int k = 0; k < PIM_ENERGY__COUNT; k++) {
        e[k] /= 1000;
        out->energy_nj += e[k];
    }
    return true;
}

/* A digital node's work: its MACs when the op counts them (a matmul of two
 * activations), else the elements of its largest data input or result. */
static int64_t digital_work(const IrNode *n)
{
    if (!n)
        return 0;
    const OpInfo *oi = op_info(n->op);
    int64_t w = oi->macs ? oi->macs(n) : 0;
    if (w > 0)
        return w;
    for (int k = 0; k < op_data_inputs(n); k++) {
        int64_t e = shape_numel(&n->in[k]->shape);
        w = e > w ? e : w;
    }
    for (int k = 0; k < n->nout; k++) {
        int64_t e = shape_numel(&n->outs[k]->shape);
        w = e > w ? e : w;
    }
    return w;
}

static bool hardware_ok(const PimHardware *hw)
{
    return hw->xbar_rows >= 1 && hw->xbar_cols >= 1 && hw->adcs_per_xbar >= 1 && hw->tiles >= 1 &&
           hw->imas_per_tile >= 1 && hw->xbars_per_ima >= 1 && hw->cost.xbar_read_ns > 0;
}

static bool layer_ok(const PimLayer *L)
{
    return L->pixels >= 1 && L->batch >= 1 && L->input_cycles >= 1 && L->replicas >= 1 && L->nxbars >= 0 &&
           (L->nblocks == 0 || L->blocks);
}

bool pim_cost(const PimProgram *p, PimCost *out)
{
    memset(out, 0, sizeof *out);
    const PimHardware *hw = &p->hw;
    const PimCostParams *c = &hw->cost;
    if (!hardware_ok(hw))
        return false;
    for (int i = 0; i < p->nlayers; i++)
        if (!layer_ok(&p->layers[i]))
            return false;
    out->nlayers = p->nlayers, out->ndigital = p->ndigital, out->ntransfers = p->ntransfers;
    out->layers = calloc((size_t)(p->nlayers > 0 ? p->nlayers : 1), sizeof *out->layers);
    out->digital = calloc((size_t)(p->ndigital > 0 ? p->ndigital : 1), sizeof *out->digital);
    out->transfers = calloc((size_t)(p->ntransfers > 0 ? p->ntransfers : 1), sizeof *out->transfers);
    LayerPlace *lp = calloc((size_t)(p->nlayers > 0 ? p->nlayers : 1), sizeof *lp);
    bool ok = out->layers && out->digital && out->transfers && lp;
    if (ok)
        layer_places(p, lp);

    out->area_mm2 = pim_chip_area_mm2(hw);
    out->power_mw = pim_chip_power_mw(hw);
    pim_chip_parts(hw, out->power_by_mw, out->area_by_mm2);
    out->images = 1;
    for (int i = 0; i < p->nlayers; i++)
        out->images = p->layers[i].batch > out->images ? p->layers[i].batch : out->images;

    /* Every layer, digital node and transfer: its whole-batch time (summed in
     * layer order) and its one-image time (a pipeline stage). */
    double sum = 0, stages = 0, slowest = 0;
    int64_t cells = 0;
    for (int i = 0; ok && i < p->nlayers; i++) {
        PimLayerCost *lc = &out->layers[i];
        ok = layer_cost(p, &p->layers[i], &lp[i], lc);
        sum += lc->latency_ns, stages += lc->stage_ns;
        slowest = lc->stage_ns > slowest ? lc->stage_ns : slowest;
        for (int k = 0; k < PIM_ENERGY__COUNT; k++)
            out->energy_by_nj[k] += lc->energy_by_nj[k];
        cells += lp[i].cells;
    }
    for (int i = 0; ok && i < p->ndigital; i++) {
        PimDigitalCost *dc = &out->digital[i];
        dc->elements = digital_work(p->digital[i].node);
        dc->latency_ns = c->digital_ghz > 0 ? (double)dc->elements / c->digital_ghz : 0;
        dc->energy_nj = c->digital_mw * dc->latency_ns / 1000;
        out->energy_by_nj[PIM_ENERGY_DIGITAL] += dc->energy_nj;
        double stage = dc->latency_ns / (double)out->images;
        sum += dc->latency_ns, stages += stage;
        slowest = stage > slowest ? stage : slowest;
    }
    for (int i = 0; ok && i < p->ntransfers; i++) {
        PimTransferCost *tc = &out->transfers[i];
        tc->latency_ns = c->link_gbps > 0 ? (double)p->transfers[i].bytes / c->link_gbps : 0; /* GB/s = B/ns */
        tc->energy_nj = c->router_mw * tc->latency_ns / 1000;
        out->energy_by_nj[PIM_ENERGY_TRANSFER] += tc->energy_nj;
        double stage = tc->latency_ns / (double)out->images;
        sum += tc->latency_ns, stages += stage;
        slowest = stage > slowest ? stage : slowest;
    }
    free(lp);
    if (!ok) {
        pim_cost_free(out);
        return false;
    }
    if (hw->order == PIM_ORDER_PIPELINE) {
        out->latency_ns = stages + (double)(out->images - 1) * slowest;
        out->slowest_stage_ns = slowest;
    } else {
        out->latency_ns = sum;
    }
    for (int k = 0; k < PIM_ENERGY__COUNT; k++)
        out->energy_nj += out->energy_by_nj[k];
    out->average_mw = out->latency_ns > 0 ? out->energy_nj / out->latency_ns * 1000 : 0;
    double cell_per_xbar = (double)hw->xbar_rows * hw->xbar_cols;
    out->xbar_utilization = p->weight_xbars > 0 ? (double)cells / ((double)p->weight_xbars * cell_per_xbar) : 0;
    out->chip_utilization = (double)cells / ((double)pim_chip_xbars(hw) * cell_per_xbar);
    return true;
}

void pim_cost_free(PimCost *c)
{
    free(c->layers);
    free(c->digital);
    free(c->transfers);
    memset(c, 0, sizeof *c);
}
