/*
 * pim_report.c — the cost of a mapping program as a table (`netc pim
 * --cost`): per crossbar layer its crossbars, utilisation, latency, energy
 * and area, then the digital work, the transfers and the totals against
 * the chip (pim_cost.c computes every figure; docs/pim-model.md has the
 * formulas).
 */
#include "pim_cost.h"

#include <inttypes.h>

void pim_cost_print(const PimProgram *p, const PimCost *c, FILE *f)
{
    const PimHardware *hw = &p->hw;
    fprintf(f, "PIM cost: preset %s, %dx%d crossbars, %d-bit cells, %s order, %" PRId64 " image(s)\n", hw->preset,
            hw->xbar_rows, hw->xbar_cols, hw->cell_bits, hw->order == PIM_ORDER_PIPELINE ? "pipeline" : "layer",
            c->images);
    fprintf(f, "%-44s %8s %6s %4s %7s %12s %12s %10s\n", "layer", "xbars", "util", "w/a", "copies", "latency us",
            "energy uJ", "area mm2");
    double dig_ns = 0, dig_nj = 0, tr_ns = 0, tr_nj = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PimLayer *L = &p->layers[i];
        const PimLayerCost *k = &c->layers[i];
        char bits[16];
        snprintf(bits, sizeof bits, "%d/%d", L->weight_bits, L->act_bits);
        fprintf(f, "%-44.44s %8" PRId64 " %5.1f%% %4s %7d %12.3f %12.3f %10.4f\n",
                L->node->name ? L->node->name : op_info(L->node->op)->name, k->xbars, 100 * k->xbar_utilization,
                bits, L->replicas, k->latency_ns / 1e3, k->energy_nj / 1e3, k->area_mm2);
    }
    for (int i = 0; i < c->ndigital; i++)
        dig_ns += c->digital[i].latency_ns, dig_nj += c->digital[i].energy_nj;
    for (int i = 0; i < c->ntransfers; i++)
        tr_ns += c->transfers[i].latency_ns, tr_nj += c->transfers[i].energy_nj;
    fprintf(f, "%-44s %8s %6s %4s %7s %12.3f %12.3f\n", "digital operations", "", "", "", "", dig_ns / 1e3,
            dig_nj / 1e3);
    fprintf(f, "%-44s %8s %6s %4s %7s %12.3f %12.3f\n", "transfers between tiles", "", "", "", "", tr_ns / 1e3,
            tr_nj / 1e3);
    fprintf(f, "total: %" PRId64 " crossbars holding weights of %" PRId64 " on the chip (%.1f%% of their cells used, "
               "%.2f%% of the chip's), latency %.3f us, energy %.3f uJ, average power %.3f W\n",
            p->weight_xbars, pim_chip_xbars(hw), 100 * c->xbar_utilization, 100 * c->chip_utilization,
            c->latency_ns / 1e3, c->energy_nj / 1e3, c->average_mw / 1e3);
    fprintf(f, "chip: %d tiles, area %.2f mm2, peak power %.2f W (per tile %.4f mm2, %.2f mW; per IMA %.5f mm2, %.3f mW)\n",
            hw->tiles, c->area_mm2, c->power_mw / 1e3, pim_tile_area_mm2(hw), pim_tile_power_mw(hw),
            pim_ima_area_mm2(hw), pim_ima_power_mw(hw));
}
