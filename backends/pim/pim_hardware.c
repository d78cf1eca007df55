/*
 * pim_hardware.c — the hardware description of the PIM backend: the three
 * presets, the names of its choices, and the small closed forms every other
 * file of backends/pim needs (slices, input cycles, lossless ADC bits).
 *
 * The preset figures and their sources are listed in docs/pim.md
 * ("Hardware presets"); ../shared/research/pim.md §2.4, §2.5, §2.6 and
 * §2.10 hold the notes they were taken from.
 */
#include "pim.h"

#include <string.h>

/* ISAAC (Shafiee et al., ISCA 2016), 32 nm: the per-unit figures that
 * puma-simulator's include/constants.py and MNSIM's ADC.py / DAC.py encode
 * and cite, and the paper's tile and chip organisation. */
static const PimHardware isaac = {
    .preset = "isaac",
    .xbar_rows = 128, .xbar_cols = 128,
    .cell_bits = 2, .dac_bits = 1, .adc_bits = 8,
    .weight_bits = 16, .act_bits = 16,
    .adcs_per_xbar = 1,
    .tiles = 168, .imas_per_tile = 12, .xbars_per_ima = 8,
    .sign = PIM_SIGNED_OFFSET,
    .convention = PIM_CONV_IM2COL,
    .adc_mode = PIM_ADC_FULLSCALE,
    .rounding = PIM_ROUND_NEAREST,
    .order = PIM_ORDER_LAYER,
    .cost = {
        .xbar_read_ns = 100, .xbar_mw = 0.3, .xbar_mm2 = 2.5e-5,
        .adc_gsps = 1.28, .adc_mw = 2.0, .adc_mm2 = 0.0012,
        .dac_mw = 3.9e-3, .dac_mm2 = 1.67e-7,
        .sh_mw = 0.01, .sh_mm2 = 0.00004,
        .sa_mw = 0.2, .sa_mm2 = 0.00024,
        .ir_mw = 1.24, .ir_mm2 = 0.0021,
        .or_mw = 0.23, .or_mm2 = 0.00077,
        .edram_kb = 64, .edram_mw = 20.7, .edram_mm2 = 0.083,
        .bus_mw = 7, .bus_mm2 = 0.090,
        .router_mw = 10.5, .router_mm2 = 0.0378,
        .digital_mw = 0.97, .digital_mm2 = 0.0009,
        .tile_or_mw = 1.68, .tile_or_mm2 = 0.0032,
        .chip_io_mw = 10400, .chip_io_mm2 = 22.88,
        .digital_ghz = 1.2, .link_gbps = 6.4,
    },
};

/* MNSIM 2.0 (thu-nics/MNSIM-2.0 SimConfig.ini defaults): 256x256 1-bit
 * RRAM, 9-bit signed weights on a differential pair (polarity 2), 6-bit
 * ADCs, 2x2 PEs per tile of 1x2 crossbars, whole-kernel packing. */
static const PimHardware mnsim = {
    .preset = "mnsim",
    .xbar_rows = 256, .xbar_cols = 256,
    .cell_bits = 1, .dac_bits = 1, .adc_bits = 6,
    .weight_bits = 9, .act_bits = 9,
    .adcs_per_xbar = 128,
    .tiles = 64 * 64, .imas_per_tile = 4, .xbars_per_ima = 2,
    .sign = PIM_SIGNED_DIFFERENTIAL,
    .convention = PIM_CONV_WHOLE_KERNEL,
    .adc_mode = PIM_ADC_FULLSCALE,
    .rounding = PIM_ROUND_NEAREST,
    .order = PIM_ORDER_LAYER,
    .cost = {
        .xbar_read_ns = 3.16, .xbar_mw = 4.96, .xbar_mm2 = 0.389,
        .adc_gsps = 1.0, .adc_mw = 1.26, .adc_mm2 = 0.00165,
        .dac_mw = 3.9e-3, .dac_mm2 = 1.67e-7,
        .digital_ghz = 0.5, .link_gbps = 2.5,
    },
};

/* DNN+NeuroSim V1.4 (Param.cpp, inference.py defaults): 128x128 1-bit
 * cells, 8-bit weights and activations, 5-bit sense-amp ADCs shared by 8
 * columns, offset weights with a dummy column, per-position mapping. */
static const PimHardware neurosim = {
    .preset = "neurosim",
    .xbar_rows = 128, .xbar_cols = 128,
    .cell_bits = 1, .dac_bits = 1, .adc_bits = 5,
    .weight_bits = 8, .act_bits = 8,
    .adcs_per_xbar = 16,
    .tiles = 256, .imas_per_tile = 4, .xbars_per_ima = 16,
    .sign = PIM_SIGNED_OFFSET,
    .convention = PIM_CONV_PER_POSITION,
    .adc_mode = PIM_ADC_FULLSCALE,
    .rounding = PIM_ROUND_NEAREST,
    .order = PIM_ORDER_LAYER,
    .cost = {
        .xbar_read_ns = 10,
        .digital_ghz = 1.0, .link_gbps = 8,
    },
};

bool pim_hardware_preset(const char *name, PimHardware *hw)
{
    const PimHardware *all[] = {&isaac, &mnsim, &neurosim};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(name, all[i]->preset)) {
            *hw = *all[i];
            return true;
        }
    return false;
}

static const char *const convention_names[] = {
#define X(e, name) name,
    PIM_CONVENTION_LIST(X)
#undef X
};
static const char *const signed_names[] = {
#define X(e, name) name,
    PIM_SIGNED_LIST(X)
#undef X
};
static const char *const adc_mode_names[] = {
#define X(e, name) name,
    PIM_ADC_MODE_LIST(X)
#undef X
};

const char *pim_convention_name(PimConvention c) { return convention_names[c]; }
const char *pim_signed_name(PimSigned s) { return signed_names[s]; }
const char *pim_adc_mode_name(PimAdcMode m) { return adc_mode_names[m]; }

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

bool pim_convention_lookup(const char *name, PimConvention *out)
{
    int i = lookup(convention_names, PIM_CONV__COUNT, name);
    return i >= 0 && (*out = (PimConvention)i, true);
}

bool pim_signed_lookup(const char *name, PimSigned *out)
{
    int i = lookup(signed_names, PIM_SIGNED__COUNT, name);
    return i >= 0 && (*out = (PimSigned)i, true);
}

bool pim_adc_mode_lookup(const char *name, PimAdcMode *out)
{
    int i = lookup(adc_mode_names, PIM_ADC__COUNT, name);
    return i >= 0 && (*out = (PimAdcMode)i, true);
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

int pim_weight_slices(const PimHardware *hw, int weight_bits)
{
    /* A differential pair stores the magnitude; the sign picks the array. */
    int stored = hw->sign == PIM_SIGNED_DIFFERENTIAL ? weight_bits - 1 : weight_bits;
    return ceil_div(stored < 1 ? 1 : stored, hw->cell_bits);
}

int pim_input_cycles(const PimHardware *hw, int act_bits) { return ceil_div(act_bits, hw->dac_bits); }

int pim_polarities(const PimHardware *hw) { return hw->sign == PIM_SIGNED_DIFFERENTIAL ? 2 : 1; }

int pim_lossless_adc_bits(const PimHardware *hw, int64_t rows_active)
{
    uint64_t pmax = (uint64_t)rows_active * ((1u << hw->dac_bits) - 1) * ((1u << hw->cell_bits) - 1);
    int bits = 0;
    while (bits < 63 && (pmax >> bits) != 0) /* smallest bits with pmax < 2^bits */
        bits++;
    return bits;
}

int64_t pim_chip_xbars(const PimHardware *hw)
{
    return (int64_t)hw->tiles * hw->imas_per_tile * hw->xbars_per_ima;
}
