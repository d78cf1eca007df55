/*
 * pim_json.c — the mapping program as JSON (`netc pim --emit json`): the
 * same content as the .pim text of pim_print.c, field for field (names
 * with '_' where the text has '-'), for tools that would rather not parse
 * a new syntax. docs/pim.md lists the fields.
 */
#include "pim.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *hardware_json(const PimHardware *hw)
{
    return json_pack("{s:s, s:[i,i], s:i, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:s, s:b}",
                     "preset", hw->preset, "xbar", hw->xbar_rows, hw->xbar_cols, "cell_bits", hw->cell_bits,
                     "dac_bits", hw->dac_bits, "adc_bits", hw->adc_bits, "adc_mode",
                     pim_adc_mode_name(hw->adc_mode), "rounding",
                     hw->rounding == PIM_ROUND_FLOOR ? "floor" : "nearest", "adcs_per_xbar", hw->adcs_per_xbar,
                     "weight_bits", hw->weight_bits, "act_bits", hw->act_bits, "signed", pim_signed_name(hw->sign),
                     "convention", pim_convention_name(hw->convention), "tiles", hw->tiles, "imas_per_tile",
                     hw->imas_per_tile, "xbars_per_ima", hw->xbars_per_ima, "order",
                     hw->order == PIM_ORDER_PIPELINE ? "pipeline" : "layer", "duplicate", hw->duplicate);
}

static json_t *layer_json(const PimProgram *p, int i)
{
    const PimLayer *L = &p->layers[i];
    json_t *blocks = json_array();
    for (int64_t b = 0; b < L->nblocks; b++) {
        const PimBlock *k = &L->blocks[b];
        if (k->xbar == PIM_SKIPPED) {
            json_array_append_new(blocks, json_pack("{s:i, s:[I,I], s:[I,I], s:i, s:b}", "matrix", k->matrix, "rows",
                                                    (json_int_t)k->row0, (json_int_t)k->row1, "cols",
                                                    (json_int_t)k->col0, (json_int_t)k->col1, "polarity",
                                                    k->polarity, "skipped", 1));
            continue;
        }
        const PimXbarPlace *x = &p->xbars[k->xbar];
        json_array_append_new(blocks, json_pack("{s:i, s:[I,I], s:[I,I], s:i, s:I, s:[i,i], s:[i,i,i]}", "matrix",
                                                k->matrix, "rows", (json_int_t)k->row0, (json_int_t)k->row1, "cols",
                                                (json_int_t)k->col0, (json_int_t)k->col1, "polarity", k->polarity,
                                                "xbar", (json_int_t)k->xbar, "at", k->xrow, k->xcol, "on", x->tile,
                                                x->ima, x->xbar));
    }
    json_t *shape = json_pack("{s:I, s:I, s:[I,I], s:I, s:I, s:I, s:I}", "cin", (json_int_t)L->cin, "cout",
                              (json_int_t)L->cout, "kernel", (json_int_t)L->kh, (json_int_t)L->kw, "groups",
                              (json_int_t)L->groups, "pixels", (json_int_t)L->pixels, "batch",
                              (json_int_t)L->batch, "macs", (json_int_t)L->macs);
    json_t *bits = json_pack("{s:i, s:i, s:i, s:i, s:i}", "weight", L->weight_bits, "act", L->act_bits, "slices",
                             L->slices, "cycles", L->input_cycles, "polarities", L->polarities);
    return json_pack("{s:i, s:s, s:i, s:s, s:o, s:o, s:I, s:I, s:I, s:s, s:i, s:I, s:I, s:i, s:o}", "index", i,
                     "name", L->node->name ? L->node->name : "", "node", L->node_id, "op",
                     op_info(L->node->op)->name, "shape", shape, "bits", bits, "matrices", (json_int_t)L->matrices,
                     "rows", (json_int_t)L->matrix_rows, "cols", (json_int_t)L->matrix_cols, "col_order",
                     L->col_order == PIM_COLS_SLICE_MAJOR ? "slice-major" : "output-major", "adc_lossless",
                     L->adc_lossless_bits, "xbars", (json_int_t)L->nxbars, "first", (json_int_t)L->xbar0,
                     "replicas", L->replicas, "blocks", blocks);
}

void pim_print_json(const PimProgram *p, FILE *f)
{
    json_t *layers = json_array(), *ops = json_array(), *transfers = json_array();
    int64_t nblocks = 0;
    for (int i = 0; i < p->nlayers; i++) {
        json_array_append_new(layers, layer_json(p, i));
        nblocks += p->layers[i].nblocks;
    }
    for (int i = 0; i < p->ndigital; i++) {
        const IrNode *n = p->digital[i].node;
        int64_t elements = 0;
        for (int k = 0; k < n->nout; k++)
            elements += shape_numel(&n->outs[k]->shape);
        json_array_append_new(ops, json_pack("{s:s, s:i, s:s, s:i, s:I}", "name", n->name ? n->name : "", "node",
                                             p->digital[i].position, "op", op_info(n->op)->name, "tile", p->digital[i].tile,
                                             "elements", (json_int_t)elements));
    }
    for (int t = 0; t < p->ntransfers; t++) {
        const PimTransfer *x = &p->transfers[t];
        json_array_append_new(transfers, json_pack("{s:i, s:i, s:i, s:i, s:I}", "node", x->node, "result", x->result, "from",
                                                   x->from_tile, "to", x->to_tile, "bytes", (json_int_t)x->bytes));
    }
    char *graph = NULL;
    size_t glen = 0;
    FILE *gf = open_memstream(&graph, &glen);
    if (gf) {
        ir_print(p->graph, gf);
        fclose(gf);
    }
    json_t *summary = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:b}", "layers", p->nlayers, "ops", p->ndigital,
                                "blocks", (json_int_t)nblocks, "xbars", (json_int_t)p->weight_xbars, "span",
                                (json_int_t)p->used_xbars, "chip_xbars",
                                (json_int_t)pim_chip_xbars(&p->hw), "fits", p->fits);
    json_t *root = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:s}", "pim", 1, "hardware", hardware_json(&p->hw),
                             "summary", summary, "layers", layers, "ops", ops, "transfers", transfers, "graph",
                             graph ? graph : "");
    json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(root);
    free(graph);
}
