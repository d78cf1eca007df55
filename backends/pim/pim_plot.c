/*
 * pim_plot.c — pictures of a mapping program (`netc pim --plot DIR`), as
 * SVG that any browser shows:
 *
 *   chip.svg    the chip's crossbars, tile by tile (a tile is a block of
 *               IMA rows x crossbar columns): each crossbar coloured by the
 *               layer it holds and shaded by the fraction of its cells in
 *               use; empty crossbars grey
 *   layers.svg  per crossbar layer, bars of latency, energy and area (the
 *               cost model's figures), on one shared layer axis
 */
#include "pim_cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A distinct hue per layer (golden-angle steps). */
static double layer_hue(int layer) { return fmod(layer * 137.508, 360.0); }

void pim_plot_chip(const PimProgram *p, FILE *f)
{
    const PimHardware *hw = &p->hw;
    int cell = 6, gap = 4;
    int tile_w = hw->xbars_per_ima * cell, tile_h = hw->imas_per_tile * cell;
    /* Only the tiles in use, and at least one. */
    int64_t per_tile = (int64_t)hw->xbars_per_ima * hw->imas_per_tile;
    int tiles = (int)((p->used_xbars + per_tile - 1) / per_tile);
    if (tiles < 1)
        tiles = 1;
    int cols = (int)ceil(sqrt((double)tiles * tile_h / tile_w));
    if (cols < 1)
        cols = 1;
    int rows = (tiles + cols - 1) / cols;
    int width = cols * (tile_w + gap) + gap, height = rows * (tile_h + gap) + gap + 40;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", width < 360 ? 360 : width, height);
    fprintf(f, "<text x=\"%d\" y=\"16\">%s: %lld crossbars in %d of %d tiles (%dx%d each), colour = layer, "
               "shade = cells used</text>\n", gap, hw->preset, (long long)p->weight_xbars, tiles, hw->tiles,
            hw->xbar_rows, hw->xbar_cols);
    double cells = (double)hw->xbar_rows * hw->xbar_cols;
    for (int t = 0; t < tiles; t++) {
        int ox = gap + (t % cols) * (tile_w + gap), oy = 30 + (t / cols) * (tile_h + gap);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", ox - 1,
                oy - 1, tile_w + 2, tile_h + 2);
        for (int64_t k = 0; k < per_tile; k++) {
            int64_t x = t * per_tile + k;
            int ima = (int)(k / hw->xbars_per_ima), xb = (int)(k % hw->xbars_per_ima);
            const PimXbarPlace *pl = x < p->nxbars ? &p->xbars[x] : NULL;
            char fill[48];
            if (!pl || pl->layer < 0) {
                snprintf(fill, sizeof fill, "#e4e4e4");
            } else {
                double used = pl->cells_used / cells; /* 0..1: light to full colour */
                snprintf(fill, sizeof fill, "hsl(%.0f,70%%,%.0f%%)", layer_hue(pl->layer), 90 - 50 * used);
            }
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">", ox + xb * cell,
                    oy + ima * cell, cell - 1, cell - 1, fill);
            if (pl && pl->layer >= 0) {
                const PimLayer *L = &p->layers[pl->layer];
                fprintf(f, "<title>crossbar %lld (tile %d, IMA %d, %d): %s, %.0f%% used</title>", (long long)x,
                        pl->tile, pl->ima, pl->xbar, L->node->name ? L->node->name : "", 100 * pl->cells_used / cells);
            }
            fprintf(f, "</rect>\n");
        }
    }
    fprintf(f, "</svg>\n");
}

/* One bar chart of value[i] per layer, at vertical offset y0. */
static void bars(FILE *f, const PimProgram *p, const double *value, const char *title, const char *unit, int y0,
                 int bar_w, int h)
{
    double max = 0;
    for (int i = 0; i < p->nlayers; i++)
        max = value[i] > max ? value[i] : max;
    fprintf(f, "<text x=\"10\" y=\"%d\">%s (largest %.4g %s)</text>\n", y0 + 14, title, max, unit);
    for (int i = 0; i < p->nlayers; i++) {
        double frac = max > 0 ? value[i] / max : 0;
        int bh = (int)lround(frac * h);
        const PimLayer *L = &p->layers[i];
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"hsl(%.0f,70%%,50%%)\"><title>%s: %.4g %s"
                   "</title></rect>\n", 60 + i * bar_w, y0 + 20 + h - bh, bar_w > 2 ? bar_w - 1 : 1, bh,
                layer_hue(i), L->node->name ? L->node->name : "", value[i], unit);
    }
}

void pim_plot_layers(const PimProgram *p, const PimCost *c, FILE *f)
{
    int n = p->nlayers > 0 ? p->nlayers : 1, bar_w = n > 200 ? 3 : 900 / n > 30 ? 30 : 900 / n, h = 150;
    if (bar_w < 3)
        bar_w = 3;
    int width = 80 + n * bar_w, height = 3 * (h + 40) + 20;
    double *v = calloc((size_t)n, sizeof *v);
    if (!v)
        return;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", width < 500 ? 500 : width, height);
    for (int i = 0; i < p->nlayers; i++)
        v[i] = c->layers[i].latency_ns / 1e3;
    bars(f, p, v, "latency per layer", "us", 0, bar_w, h);
    for (int i = 0; i < p->nlayers; i++)
        v[i] = c->layers[i].energy_nj / 1e3;
    bars(f, p, v, "energy per layer", "uJ", h + 40, bar_w, h);
    for (int i = 0; i < p->nlayers; i++)
        v[i] = c->layers[i].area_mm2;
    bars(f, p, v, "area per layer (its IMAs)", "mm2", 2 * (h + 40), bar_w, h);
    fprintf(f, "</svg>\n");
    free(v);
}
