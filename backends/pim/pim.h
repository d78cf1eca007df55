/*
 * pim.h — the PIM backend: a net's crossbar layers mapped onto a
 * processing-in-memory accelerator of resistive crossbars (docs/pim.md).
 *
 *   pim_hardware.c  the hardware description: presets (isaac, mnsim,
 *                   neurosim) and command-line overrides
 *   pim_map.c       the mapping: every conv2d / linear (float or integer)
 *                   cut into crossbar blocks, weight bit slices, placement
 *                   on crossbars / IMAs / tiles, and whether it fits
 *   pim_print.c     the mapping program as text (.pim) and as JSON
 *   pim_cost.c      area, latency and energy per layer and in total
 *   pim_xbar_sim.c  one crossbar layer evaluated as the hardware does it:
 *                   bit-sliced weights, bit-serial inputs, the ADC model
 *
 * Vocabulary (../shared/research/pim.md §2.1). A crossbar has R rows
 * (inputs, driven by DACs of b_d bits) and C columns (outputs, read by
 * ADCs of b_adc bits); each cell stores b_c bits. A layer's weight is seen
 * as one or more matrices (one per group of a grouped conv, and per kernel
 * position under the per-position convention) whose rows are the reduction
 * (input channel x kernel position) and whose columns are output channel x
 * weight slice: a b_w-bit weight takes S = ceil(b_w' / b_c) slices (b_w' =
 * b_w - 1 magnitude bits on a differential pair, b_w otherwise), slice j
 * worth 2^(j*b_c). An input of b_a bits is fed in T = ceil(b_a / b_d)
 * cycles, cycle i worth 2^(i*b_d).
 */
#ifndef NETC_PIM_H
#define NETC_PIM_H

#include "../../ir/ir.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* How a layer's reduction is laid onto crossbar rows. X(enum, name) */
#define PIM_CONVENTION_LIST(X)                                                                     \
    X(IM2COL, "im2col")             /* rows = Ci*Kh*Kw, cut every R rows (PIMCOMP, CIM-MLC) */  \
    X(WHOLE_KERNEL, "whole-kernel") /* floor(R/(Kh*Kw)) whole kernels per crossbar (MNSIM) */    \
    X(PER_POSITION, "per-position") /* one Ci x Co matrix per kernel position (PUMA, NeuroSim) */
typedef enum {
#define X(e, name) PIM_CONV_##e,
    PIM_CONVENTION_LIST(X)
#undef X
    PIM_CONV__COUNT
} PimConvention;

/* How a signed weight is stored in cells that hold non-negative values. */
#define PIM_SIGNED_LIST(X)                                                                         \
    X(DIFFERENTIAL, "differential") /* |w| on a positive and a negative array, subtracted */      \
    X(OFFSET, "offset")             /* w + 2^(b_w-1) unsigned, a dummy column subtracts the offset */ \
    X(TWOS, "twos")                 /* two's complement bit slices, the sign slice subtracted */
typedef enum {
#define X(e, name) PIM_SIGNED_##e,
    PIM_SIGNED_LIST(X)
#undef X
    PIM_SIGNED__COUNT
} PimSigned;

/* How the ADC turns a column's analog partial sum into an integer. */
#define PIM_ADC_MODE_LIST(X)                                                                       \
    X(IDEAL, "ideal")           /* exact: no ADC quantization */                                  \
    X(FULLSCALE, "fullscale")   /* the top b_adc bits of the full-range integer */                \
    X(CALIBRATED, "calibrated") /* a per-layer step set from the largest sum seen in calibration */
typedef enum {
#define X(e, name) PIM_ADC_##e,
    PIM_ADC_MODE_LIST(X)
#undef X
    PIM_ADC__COUNT
} PimAdcMode;

typedef enum { PIM_ROUND_NEAREST, PIM_ROUND_FLOOR } PimRounding;

/* Layer by layer (one layer computes at a time) or a layer pipeline (all
 * layers at once, each on its own crossbars, optionally duplicated). */
typedef enum { PIM_ORDER_LAYER, PIM_ORDER_PIPELINE } PimOrder;

/*
 * The cost figures of one hardware preset (pim_cost.c uses them; every
 * number is cited in docs/pim-model.md). Powers in mW, areas in mm², times in ns.
 */
typedef struct PimCostParams {
    double xbar_read_ns;     /* one crossbar evaluation (one input cycle) */
    double xbar_mw, xbar_mm2;
    double adc_gsps, adc_mw, adc_mm2;
    double dac_mw, dac_mm2;  /* per DAC (one per row) */
    double sh_mw, sh_mm2;    /* sample-and-hold, per IMA */
    double sa_mw, sa_mm2;    /* shift-and-add units, per IMA (all of them) */
    double ir_mw, ir_mm2;    /* IMA input register */
    double or_mw, or_mm2;    /* IMA output register */
    double edram_kb, edram_mw, edram_mm2; /* tile buffer */
    double bus_mw, bus_mm2;  /* tile bus */
    double router_mw, router_mm2; /* a tile's share of its router */
    double digital_mw, digital_mm2; /* a tile's activation / pooling / S+A units */
    double tile_or_mw, tile_or_mm2;
    double chip_io_mw, chip_io_mm2; /* off-chip links */
    double digital_ghz;      /* digital units: one vector element per cycle per unit */
    double link_gbps;        /* inter-tile bandwidth, GB/s */
    /* The timing of one input cycle (pim_cost.c, docs/pim-model.md). */
    double dac_ns;           /* DAC settling before each read; 0: inside xbar_read_ns */
    double adc_ns;           /* one conversion; 0: 1 / adc_gsps (an ADC converting at its sample rate) */
    int dacs_per_xbar;       /* DACs driving a crossbar's rows, in turn; 0: one per row */
    bool adc_overlap;        /* sample-and-hold: a cycle's conversions overlap the next read */
} PimCostParams;

/* The accelerator: structure, precisions, conventions and cost figures. */
typedef struct PimHardware {
    const char *preset;      /* "isaac", "mnsim", "neurosim" */
    int xbar_rows, xbar_cols;
    int cell_bits, dac_bits, adc_bits;
    int weight_bits, act_bits; /* for layers whose quantization says nothing */
    int adcs_per_xbar;       /* ADCs shared by a crossbar's columns */
    int tiles, imas_per_tile, xbars_per_ima;
    PimSigned sign;
    PimConvention convention;
    PimAdcMode adc_mode;
    PimRounding rounding;
    PimOrder order;
    bool duplicate;          /* pipeline: duplicate slow layers into spare crossbars */
    PimCostParams cost;
} PimHardware;

/* A preset by name into hw; false when there is no such preset. */
bool pim_hardware_preset(const char *name, PimHardware *hw);
/* Sets one hardware key (every key of docs/pim.md's hardware section but
 * preset: xbar, cell-bits, ..., order, duplicate) from its text; false with
 * a message naming the key and what it takes. The one table the command
 * line and the .pim reader share. */
bool pim_hardware_set(PimHardware *hw, const char *key, const char *val, char *err, size_t errlen);
const char *pim_convention_name(PimConvention c);
const char *pim_signed_name(PimSigned s);
const char *pim_adc_mode_name(PimAdcMode m);
/* Inverses of the above: false when name is none of them. */
bool pim_convention_lookup(const char *name, PimConvention *out);
bool pim_signed_lookup(const char *name, PimSigned *out);
bool pim_adc_mode_lookup(const char *name, PimAdcMode *out);
/* Slices per weight (S) and input cycles (T) of a layer with these bits. */
int pim_weight_slices(const PimHardware *hw, int weight_bits);
int pim_input_cycles(const PimHardware *hw, int act_bits);
/* 1, or 2 on a differential pair (each block has a positive and a
 * negative array). */
int pim_polarities(const PimHardware *hw);
/* The ADC bits at which rows_active rows cannot lose a bit:
 * ceil(log2(rows_active*(2^b_d - 1)*(2^b_c - 1) + 1)). */
int pim_lossless_adc_bits(const PimHardware *hw, int64_t rows_active);
/* Crossbars the chip has: tiles * imas_per_tile * xbars_per_ima. */
int64_t pim_chip_xbars(const PimHardware *hw);

/*
 * One block of a layer matrix on one physical crossbar: rows [row0, row1)
 * of matrix `matrix` in its row order, columns [col0, col1) in its column
 * order, at crossbar `xbar` (an index into PimProgram.xbars) with its top
 * left cell at (xrow, xcol). Several blocks share a crossbar only under
 * block-diagonal packing (small groups of grouped and depthwise convs).
 */
typedef struct PimBlock {
    int matrix;
    int64_t row0, row1, col0, col1;
    int polarity; /* 0: one array; +1 / -1: the two arrays of a differential pair */
    int64_t xbar;   /* PIM_SKIPPED: every weight it covers is zero, so it has no crossbar */
    int xrow, xcol;
} PimBlock;

/* PimBlock.xbar of a block left out because its weights are all zero
 * (crossbar-block pruning; docs/pim.md "Empty blocks"). */
enum { PIM_SKIPPED = -1 };

/* Which blocks a program read back left out: (layer, block) pairs in the
 * program's order, so the mapping of its graph is the program again. */
typedef struct PimSkips {
    const int64_t (*at)[2];
    int64_t n;
} PimSkips;

/* Where a physical crossbar sits. */
typedef struct PimXbarPlace {
    int tile, ima, xbar;
    int layer;          /* the layer whose blocks it holds */
    int64_t cells_used; /* rows x columns its blocks cover */
} PimXbarPlace;

/*
 * The order of a matrix's rows and columns. Rows: c-major (r = c*K + p, the
 * order of PyTorch's weight.view(out, -1): input channel c of the group,
 * kernel position p = kh*Kw + kw, K = Kh*Kw) for im2col and whole-kernel;
 * one matrix per kernel position (r = c) under per-position. Columns:
 * output-major (k = o*S + s: a weight's slices side by side) for im2col and
 * per-position; slice-major (k = s*Co_g + o: each crossbar holds one slice
 * of many outputs) for whole-kernel.
 */
typedef enum { PIM_COLS_OUTPUT_MAJOR, PIM_COLS_SLICE_MAJOR } PimColOrder;

/* One crossbar layer: a conv2d / qconv2d / linear / qlinear node. */
typedef struct PimLayer {
    const IrNode *node;
    const char *name;    /* the node's instance path (or "%id") */
    int node_id;         /* the position of the node in the graph's node list */
    int64_t cin, cout, kh, kw, groups; /* linear: kh = kw = groups = 1, cin = in_features */
    int64_t pixels;      /* output pixels per image (oh*ow; linear: the rows of its input) */
    int64_t batch;
    int weight_bits, act_bits;
    int slices, input_cycles, polarities;
    int64_t matrices;    /* groups (x kernel positions under per-position) */
    int64_t matrix_rows, matrix_cols; /* of each matrix, in its orders */
    PimColOrder col_order;
    int64_t nblocks;
    PimBlock *blocks;
    int64_t nskipped;    /* blocks left out (PIM_SKIPPED): all their weights are zero */
    int64_t xbar0, nxbars; /* the physical crossbars it uses: [xbar0, xbar0 + nxbars) per replica */
    int replicas;        /* copies of its crossbars (pipeline duplication), >= 1 */
    int adc_lossless_bits; /* for its fullest block */
    int64_t macs;        /* per image */
} PimLayer;

/* A node that runs on a tile's digital units (everything that is not a
 * crossbar layer, including matmuls of two activations). */
typedef struct PimDigital {
    const IrNode *node;
    int position;        /* of the node in the graph's node list */
    int tile;            /* where it runs: the tile of the layer producing its first input */
} PimDigital;

/* A value sent from one tile to another. */
typedef struct PimTransfer {
    int node, result;    /* the value: result `result` of the node at position `node` */
    int from_tile, to_tile;
    int64_t bytes;
} PimTransfer;

typedef struct PimProgram {
    PimHardware hw;
    const IrGraph *graph;
    PimLayer *layers;
    int nlayers;
    PimDigital *digital;
    int ndigital;
    PimXbarPlace *xbars; /* xbars[x]: crossbar x of the chip (layer -1: unused) */
    int64_t nxbars;
    PimTransfer *transfers;
    int ntransfers;
    int64_t used_xbars;  /* crossbars up to the last one used (nxbars), copies included */
    int64_t weight_xbars; /* crossbars holding weights (used_xbars less alignment gaps) */
    bool fits;           /* every crossbar is on the chip */
} PimProgram;

/* conv2d, qconv2d, linear and qlinear: the ops whose weights sit in crossbars. */
bool pim_is_crossbar_op(OpKind op);

/*
 * Maps every crossbar layer of g onto hw. A layer's bits: its weight's and
 * input's quant(...) metadata when present, else its @precision request,
 * else hw->weight_bits / act_bits. An op the backend cannot run is an error
 * naming the node (reported to d, false). A net that does not fit the chip
 * is mapped anyway (prog->fits false): pim_report_fit says by how much.
 * The program points into g, which must outlive it.
 */
/* The element of a crossbar layer's weight ([cout, cin/groups, kh, kw] or
 * [out, in], row-major) at row `row`, column `col` of matrix `matrix`, in
 * the orders of PimColOrder's comment under convention conv (every weight
 * slice of an output has that output's index). */
int64_t pim_weight_index(const PimLayer *L, PimConvention conv, int64_t matrix, int64_t row, int64_t col);

/* Maps g. A block whose weights (bound f32 or integer data) are all zero
 * gets no crossbar (not even when that leaves its layer none); with skips
 * (a program read back, whose graph has no data) exactly those blocks are
 * left out instead. */
bool pim_map(const IrGraph *g, const PimHardware *hw, const PimSkips *skips, PimProgram *prog, Diag *d);
void pim_program_free(PimProgram *prog);
/* When the program does not fit: an error saying how many crossbars are
 * missing and which option would make it fit; false. True when it fits. */
bool pim_report_fit(const PimProgram *prog, const char *file, Diag *d);

/*
 * Reads .pim text (untrusted): the hardware section and the graph are
 * parsed, the graph mapped again, and every other line must be the line
 * that mapping prints (pim_parse.c). On success *prog is that mapping and
 * *graph its graph (the caller frees both); otherwise errors with
 * path:line:col go to d and false is returned.
 */
bool pim_parse(const char *path, const char *text, size_t len, PimProgram *prog, IrGraph **graph, Diag *d);
/* pim_parse of the file at path (what netc pim and pim-sim read). */
bool pim_read_file(const char *path, PimProgram *prog, IrGraph **graph, Diag *d);

/* The program as .pim text (pim_print.c) and as JSON with the same
 * content (pim_json.c). */
void pim_print(const PimProgram *p, FILE *f);
void pim_print_json(const PimProgram *p, FILE *f);

#endif
