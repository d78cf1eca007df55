/*
 * pim_cost.h — the cost model of the PIM backend: the chip's area and peak
 * power rolled up from its unit figures (PimCostParams), and the latency,
 * energy and crossbar utilisation of a mapped program, per layer, per
 * digital node, per transfer and in total. The formulas and the source of
 * every figure are in docs/pim-model.md.
 *
 * Units: mW, mm², ns, nJ (mW x ns = pJ). A unit figure of 0 is one the
 * preset does not know: its term counts 0, it is never guessed.
 */
#ifndef NETC_PIM_COST_H
#define NETC_PIM_COST_H

#include "pim.h"

/* The chip's components, X(enum, name, level): level IMA (per IMA), TILE
 * (per tile, IMAs aside) or CHIP (once). */
#define PIM_PART_LIST(X)                                                                           \
    X(XBAR, "crossbars", IMA)                                                                      \
    X(ADC, "ADCs", IMA)                                                                            \
    X(DAC, "DACs", IMA)                                                                            \
    X(SH, "S+H", IMA)                                                                              \
    X(SA, "S+A", IMA)                                                                              \
    X(IR, "IMA input registers", IMA)                                                              \
    X(OR, "IMA output registers", IMA)                                                             \
    X(EDRAM, "tile buffers", TILE)                                                                 \
    X(BUS, "tile buses", TILE)                                                                     \
    X(ROUTER, "routers", TILE)                                                                     \
    X(DIGITAL, "digital units", TILE)                                                              \
    X(TILE_OR, "tile output registers", TILE)                                                      \
    X(IO, "off-chip IO", CHIP)
typedef enum {
#define X(e, name, level) PIM_PART_##e,
    PIM_PART_LIST(X)
#undef X
    PIM_PART__COUNT
} PimPart;

/* Where the energy of a program goes. X(enum, name) */
#define PIM_ENERGY_LIST(X)                                                                         \
    X(XBAR, "crossbar reads")                                                                      \
    X(DAC, "DAC activations")                                                                      \
    X(ADC, "ADC conversions")                                                                      \
    X(IMA, "IMA periphery")   /* S+H, S+A, IR, OR of the IMAs a layer holds, while it runs */      \
    X(TILE, "tile periphery") /* buffer, bus, output register of its tiles, while it runs */       \
    X(DIGITAL, "digital units")                                                                    \
    X(TRANSFER, "transfers")
typedef enum {
#define X(e, name) PIM_ENERGY_##e,
    PIM_ENERGY_LIST(X)
#undef X
    PIM_ENERGY__COUNT
} PimEnergyKind;

const char *pim_part_name(PimPart k);
const char *pim_energy_name(PimEnergyKind k);

/* One crossbar layer (PimProgram.layers[i]). */
typedef struct PimLayerCost {
    double area_mm2;          /* the IMAs holding its crossbars, copies included */
    double cycle_ns;          /* one input cycle of its slowest crossbar */
    double latency_ns;        /* the whole batch on its crossbars (and copies) */
    double stage_ns;          /* one image: its stage of a layer pipeline */
    double energy_nj;
    double energy_by_nj[PIM_ENERGY__COUNT];
    double xbar_utilization;  /* cells used / cells of its crossbars, copies included */
    int64_t xbars, imas, tiles; /* copies included */
    int64_t xbar_evals;       /* crossbar x input cycle x output pixel x image */
    int64_t xbar_reads;       /* analog reads (an evaluation takes several when DACs or ADCs are shared) */
    int64_t adc_conversions, dac_activations;
    int64_t digital_ops;      /* shift-and-adds: one per conversion */
} PimLayerCost;

/* One node on a tile's digital units (PimProgram.digital[i]). */
typedef struct PimDigitalCost {
    int64_t elements;         /* its work: MACs when the op has them, else its largest operand */
    double latency_ns, energy_nj;
} PimDigitalCost;

/* One value sent between tiles (PimProgram.transfers[i]). */
typedef struct PimTransferCost {
    double latency_ns, energy_nj;
} PimTransferCost;

typedef struct PimCost {
    PimLayerCost *layers;     /* nlayers, as PimProgram.layers */
    int nlayers;
    PimDigitalCost *digital;  /* ndigital, as PimProgram.digital */
    int ndigital;
    PimTransferCost *transfers; /* ntransfers, as PimProgram.transfers */
    int ntransfers;
    /* The chip: area and peak power, in total and by component. */
    double area_mm2, area_by_mm2[PIM_PART__COUNT];
    double power_mw, power_by_mw[PIM_PART__COUNT];
    /* The program over its batch of images. */
    int64_t images;
    double latency_ns;        /* layer order: the sum of everything; pipeline: see pim_cost */
    double slowest_stage_ns;  /* pipeline: the interval between images */
    double energy_nj, energy_by_nj[PIM_ENERGY__COUNT];
    double average_mw;        /* energy / latency */
    double xbar_utilization;  /* cells used / cells of the crossbars holding weights */
    double chip_utilization;  /* cells used / cells of the chip */
} PimCost;

/*
 * The cost of p (docs/pim-model.md has the formulas). Layer order: the
 * latency is the sum of every layer's, digital node's and transfer's
 * latency over the whole batch. Pipeline order: every layer, digital node
 * and transfer is a stage taking its one-image time t_s; latency =
 * sum(t_s) + (images - 1) * max(t_s) (each stage fills with one whole
 * image: overlap within an image is not modelled). False, with *out
 * zeroed, when the hardware or a layer is malformed (a dimension < 1, no
 * read time) or memory runs out.
 */
bool pim_cost(const PimProgram *p, PimCost *out);
void pim_cost_free(PimCost *c);

/*
 * Roll-ups of the unit figures. IMA: xbars_per_ima crossbars, their ADCs
 * (adcs_per_xbar each) and DACs (dacs_per_xbar each, else one per row),
 * S+H, S+A, IR, OR. Tile: imas_per_tile IMAs, buffer, bus, router share,
 * digital units, output register. Chip: tiles tiles and the off-chip IO.
 */
double pim_ima_power_mw(const PimHardware *hw);
double pim_ima_area_mm2(const PimHardware *hw);
double pim_tile_power_mw(const PimHardware *hw);
double pim_tile_area_mm2(const PimHardware *hw);
double pim_chip_power_mw(const PimHardware *hw);
double pim_chip_area_mm2(const PimHardware *hw);
/* The chip's peak power and area by component (either may be NULL); they
 * sum to pim_chip_power_mw / pim_chip_area_mm2. */
void pim_chip_parts(const PimHardware *hw, double power_mw[PIM_PART__COUNT], double area_mm2[PIM_PART__COUNT]);

/* The cost as a table: per layer, digital work, transfers, totals
 * (pim_report.c). */
void pim_cost_print(const PimProgram *p, const PimCost *c, FILE *f);

/* SVG pictures (pim_plot.c): the chip's crossbars coloured by layer and
 * shaded by use, and per-layer latency / energy / area bars. */
void pim_plot_chip(const PimProgram *p, FILE *f);
void pim_plot_layers(const PimProgram *p, const PimCost *c, FILE *f);

#endif
