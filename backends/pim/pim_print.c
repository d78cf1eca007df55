/*
 * pim_print.c — the mapping program as text: the .pim format of
 * docs/pim.md ("The .pim format"), one statement per line, in this order:
 *
 *   pim 1                        format version
 *   hardware { key value ... }   the accelerator (every field, so a program
 *                                reads without knowing the presets)
 *   summary ...                  totals (checked against the body when read)
 *   layer I "NAME" node N OP { ... block ... }   crossbar layers
 *   op "NAME" node N OP tile T elements E        digital operations
 *   transfer node N result R tile A -> B bytes N
 *   graph begin / graph end      the net itself, as netc IR text
 *
 * Layers and ops appear in execution order (the graph's order).
 */
#include "pim.h"

#include <inttypes.h>
#include <string.h>

static const char *order_name(PimOrder o) { return o == PIM_ORDER_PIPELINE ? "pipeline" : "layer"; }
static const char *rounding_name(PimRounding r) { return r == PIM_ROUND_FLOOR ? "floor" : "nearest"; }

static void print_hardware(const PimHardware *hw, FILE *f)
{
    fprintf(f, "hardware {\n");
    fprintf(f, "  preset %s\n", hw->preset);
    fprintf(f, "  xbar %dx%d\n", hw->xbar_rows, hw->xbar_cols);
    fprintf(f, "  cell-bits %d\n  dac-bits %d\n  adc-bits %d\n", hw->cell_bits, hw->dac_bits, hw->adc_bits);
    fprintf(f, "  adc-mode %s\n  rounding %s\n", pim_adc_mode_name(hw->adc_mode), rounding_name(hw->rounding));
    fprintf(f, "  adcs-per-xbar %d\n", hw->adcs_per_xbar);
    fprintf(f, "  weight-bits %d\n  act-bits %d\n", hw->weight_bits, hw->act_bits);
    fprintf(f, "  signed %s\n  convention %s\n", pim_signed_name(hw->sign), pim_convention_name(hw->convention));
    fprintf(f, "  tiles %d\n  imas-per-tile %d\n  xbars-per-ima %d\n", hw->tiles, hw->imas_per_tile,
            hw->xbars_per_ima);
    fprintf(f, "  order %s\n  duplicate %s\n", order_name(hw->order), hw->duplicate ? "true" : "false");
    fprintf(f, "}\n");
}

static const char *node_label(const IrNode *n) { return n->name ? n->name : ""; }

static void print_layer(const PimProgram *p, int i, FILE *f)
{
    const PimLayer *L = &p->layers[i];
    fprintf(f, "layer %d \"%s\" node %d %s {\n", i, node_label(L->node), L->node_id, op_info(L->node->op)->name);
    fprintf(f, "  shape cin %" PRId64 " cout %" PRId64 " kernel %" PRId64 "x%" PRId64 " groups %" PRId64
               " pixels %" PRId64 " batch %" PRId64 " macs %" PRId64 "\n",
            L->cin, L->cout, L->kh, L->kw, L->groups, L->pixels, L->batch, L->macs);
    fprintf(f, "  bits weight %d act %d slices %d cycles %d polarities %d\n", L->weight_bits, L->act_bits,
            L->slices, L->input_cycles, L->polarities);
    fprintf(f, "  matrices %" PRId64 " rows %" PRId64 " cols %" PRId64 " col-order %s\n", L->matrices,
            L->matrix_rows, L->matrix_cols, L->col_order == PIM_COLS_SLICE_MAJOR ? "slice-major" : "output-major");
    fprintf(f, "  adc lossless %d\n", L->adc_lossless_bits);
    fprintf(f, "  xbars %" PRId64 " first %" PRId64 " replicas %d", L->nxbars, L->xbar0, L->replicas);
    if (L->nskipped)
        fprintf(f, " skipped %" PRId64, L->nskipped);
    fputc('\n', f);
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *k = &L->blocks[b];
        if (k->xbar == PIM_SKIPPED) {
            fprintf(f, "  block %d rows %" PRId64 "..%" PRId64 " cols %" PRId64 "..%" PRId64 " pol %c skipped\n",
                    k->matrix, k->row0, k->row1, k->col0, k->col1,
                    k->polarity > 0 ? '+' : k->polarity < 0 ? '-' : '0');
            continue;
        }
        const PimXbarPlace *x = &p->xbars[k->xbar];
        fprintf(f, "  block %d rows %" PRId64 "..%" PRId64 " cols %" PRId64 "..%" PRId64 " pol %c xbar %" PRId64
                   " at %d,%d on %d.%d.%d\n",
                k->matrix, k->row0, k->row1, k->col0, k->col1, k->polarity > 0 ? '+' : k->polarity < 0 ? '-' : '0',
                k->xbar, k->xrow, k->xcol, x->tile, x->ima, x->xbar);
    }
    fprintf(f, "}\n");
}

static void print_digital(const PimDigital *op, FILE *f)
{
    const IrNode *n = op->node;
    int64_t elements = 0;
    for (int k = 0; k < n->nout; k++)
        elements += shape_numel(&n->outs[k]->shape);
    fprintf(f, "op \"%s\" node %d %s tile %d elements %" PRId64 "\n", node_label(n), op->position, op_info(n->op)->name,
            op->tile, elements);
}

void pim_print(const PimProgram *p, FILE *f)
{
    fprintf(f, "# netc PIM mapping program: docs/pim.md describes this format\n");
    fprintf(f, "pim 1\n");
    print_hardware(&p->hw, f);
    int64_t blocks = 0;
    for (int i = 0; i < p->nlayers; i++)
        blocks += p->layers[i].nblocks;
    fprintf(f,
            "summary layers %d ops %d blocks %" PRId64 " xbars %" PRId64 " span %" PRId64 " chip-xbars %" PRId64
            " fits %s\n",
            p->nlayers, p->ndigital, blocks, p->weight_xbars, p->used_xbars, pim_chip_xbars(&p->hw),
            p->fits ? "true" : "false");
    /* Execution order: the graph's. */
    int li = 0, di = 0;
    for (int i = 0; i < p->graph->nnodes; i++) {
        const IrNode *n = p->graph->nodes[i];
        if (li < p->nlayers && p->layers[li].node == n)
            print_layer(p, li++, f);
        else if (di < p->ndigital && p->digital[di].node == n)
            print_digital(&p->digital[di++], f);
    }
    for (int t = 0; t < p->ntransfers; t++) {
        const PimTransfer *x = &p->transfers[t];
        fprintf(f, "transfer node %d result %d tile %d -> %d bytes %" PRId64 "\n", x->node, x->result, x->from_tile,
                x->to_tile, x->bytes);
    }
    fprintf(f, "graph begin\n");
    ir_print(p->graph, f);
    fprintf(f, "graph end\n");
}
