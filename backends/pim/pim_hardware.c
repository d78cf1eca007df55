/*
 * pim_hardware.c — the hardware description of the PIM backend: the three
 * presets, the names of its choices, and the small closed forms every other
 * file of backends/pim needs (slices, input cycles, lossless ADC bits).
 *
 * The preset figures and their sources are listed in docs/pim-model.md; ../shared/research/pim.md §2.4, §2.5, §2.6 and
 * §2.10 hold the notes they were taken from.
 */
#include "pim.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

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
    /* ISAAC Table 6 (per IMA: 8 ADCs 16 mW / 0.0096 mm², 8x128 DACs 4 mW /
     * 0.00017 mm², 8x128 S+H 10 uW / 0.00004 mm², 8 arrays 2.4 mW /
     * 0.0002 mm², 4 S+A 0.2 mW / 0.00024 mm², IR 2 KB 1.24 mW / 0.0021 mm²,
     * OR 256 B 0.23 mW / 0.00077 mm²; per tile the rest) as pim.md §2.4
     * lists it; unit values as puma-simulator include/constants.py encodes
     * them. pim_cost.c rolls them up to ISAAC's 289 mW / 0.157 mm² for 12
     * IMAs, 330 mW / 0.372 mm² per tile, 65.8 W / 85.4 mm² per chip. */
    .cost = {
        /* ISAAC's 100 ns read cycle (pim.md §2.4); constants.py xbar_ip_lat = 100.0 */
        .xbar_read_ns = 100,
        /* 128x128 2-bit array: constants.py xbar_pow_dict / xbar_area_dict['2']['128'] */
        .xbar_mw = 0.3, .xbar_mm2 = 2.5e-5,
        /* 8-bit SAR ADC: MNSIM Hardware_Model/ADC.py choice 2 (cites ISAAC),
         * constants.py adc_pow_dyn 1.8 + adc_pow_leak 0.2 mW, adc_area 0.0012 */
        .adc_gsps = 1.28, .adc_mw = 2.0, .adc_mm2 = 0.0012,
        /* 1-bit DAC: Table 6's 4 mW for 8x128 (constants.py: dyn 0.00350625 +
         * leak 0.000390625 = 3.9e-3 mW); area constants.py dac_area 1.67e-7 */
        .dac_mw = 4.0 / 1024, .dac_mm2 = 1.67e-7,
        /* S+H, all 8x128 of an IMA: Table 6; constants.py snh_area = 0.00004/8/128 */
        .sh_mw = 0.01, .sh_mm2 = 0.00004,
        /* S+A, the 4 of an IMA: Table 6; constants.py sna 0.05 mW / 0.00006 mm² each */
        .sa_mw = 0.2, .sa_mm2 = 0.00024,
        .ir_mw = 1.24, .ir_mm2 = 0.0021,  /* Table 6: IMA input register, 2 KB */
        .or_mw = 0.23, .or_mm2 = 0.00077, /* Table 6: IMA output register, 256 B */
        /* Table 6: eDRAM 64 KB (constants.py edram_area_dict['64'] 0.086) */
        .edram_kb = 64, .edram_mw = 20.7, .edram_mm2 = 0.083,
        /* Table 6: eDRAM-IMA bus, 384 wires (constants.py edram_bus_area 0.090) */
        .bus_mw = 7, .bus_mm2 = 0.090,
        /* Table 6: router 42 mW / 0.151 mm², shared by 4 tiles (cmesh c = 4) */
        .router_mw = 42.0 / 4, .router_mm2 = 0.151 / 4,
        /* Table 6: 2 sigmoid 0.52 mW / 0.0006, 1 S+A 0.05 / 0.00006, 1 max-pool 0.4 / 0.00024 */
        .digital_mw = 0.52 + 0.05 + 0.4, .digital_mm2 = 0.0006 + 0.00006 + 0.00024,
        .tile_or_mw = 1.68, .tile_or_mm2 = 0.0032, /* Table 6: tile output register, 3 KB */
        /* Table 6: 4 HyperTransport links, 10.4 W / 22.88 mm² (constants.py
         * noc_inter_pow_dyn 10400, noc_inter_area 22.88) */
        .chip_io_mw = 10400, .chip_io_mm2 = 22.88,
        /* ISAAC's 1.2 GHz clock; one HyperTransport link's 6.4 GB/s (constants.py
         * ht_lat comment) for a transfer: the on-chip mesh's bandwidth is not in our notes */
        .digital_ghz = 1.2, .link_gbps = 6.4,
        /* ISAAC: the DACs drive all 128 rows inside the 100 ns cycle; one
         * 1.28 GS/s ADC digitises 128 columns in it, while the S+H holds them
         * and the next read proceeds */
        .dac_ns = 0, .adc_ns = 0, .dacs_per_xbar = 0, .adc_overlap = true,
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
    /* thu-nics/MNSIM-2.0 SimConfig.ini and Hardware_Model/{ADC,DAC,Crossbar}.py
     * (pim.md §2.5).
     * MNSIM models no S+H, registers, buffers, bus, router or chip IO in our
     * notes' terms: those figures are unknown here and left 0 (not counted). */
    .cost = {
        /* SimConfig.ini read latency 3.16 ns (the wire term of Crossbar.py is not in our notes) */
        .xbar_read_ns = 3.16,
        /* Crossbar.py's read power rows*cols*V^2/R_eff and area rows*cols*1.44 um²
         * + 1150 um² x rows at the SimConfig.ini defaults: 4.96 mW, 0.389 mm²
         * (derived in pim.md §2.5) */
        .xbar_mw = 4.96, .xbar_mm2 = 0.389,
        /* SimConfig.ini ADC choice 6: 6-bit, 1 GS/s, 1.26 mW, 1650 um² */
        .adc_gsps = 1.0, .adc_mw = 1.26, .adc_mm2 = 0.00165,
        /* DAC.py: power and area from the ISAAC table (constants.py) */
        .dac_mw = 3.9e-3, .dac_mm2 = 1.67e-7,
        /* SimConfig.ini digital frequency 500 MHz; inter-tile 20 Gb/s = 2.5 GB/s */
        .digital_ghz = 0.5, .link_gbps = 2.5,
        /* DAC.py / ADC.py: latency (bits + 2) / rate: 1-bit DAC 3 ns, 6-bit ADC
         * 8 ns; SimConfig.ini DAC_Num 128 per 256-row subarray; PE_latency.py
         * adds DAC, crossbar and ADC latency (no overlap) */
        .dac_ns = (1 + 2) / 1.0, .adc_ns = (6 + 2) / 1.0, .dacs_per_xbar = 128, .adc_overlap = false,
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
    /* neurosim/DNN_NeuroSim_V1.4 Param.cpp (pim.md §2.6). NeuroSim computes
     * its powers and areas from circuit models at 22 nm; our notes hold none
     * of the results, so every power, area and ADC figure is unknown and left
     * 0 (not counted): the preset gives latencies only. */
    .cost = {
        .xbar_read_ns = 10, /* Param.cpp: 10 ns read pulse */
        /* Param.cpp: 1 GHz clock; the interconnect's bandwidth is unknown (0: not counted) */
        .digital_ghz = 1.0, .link_gbps = 0,
        /* Param.cpp: parallelRead = 128 rows at once; numColMuxed 8 columns
         * share a sense amp, read in turn (the sense amp's own time is unknown) */
        .dac_ns = 0, .adc_ns = 0, .dacs_per_xbar = 0, .adc_overlap = false,
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

/* A word of choices[] (NULL-terminated), its index in *out; false otherwise. */
static bool choice(const char *val, const char *const *choices, int *out)
{
    for (int i = 0; choices[i]; i++)
        if (!strcmp(val, choices[i]))
            return (*out = i), true;
    return false;
}

bool pim_hardware_set(PimHardware *hw, const char *key, const char *val, char *err, size_t errlen)
{
#define WANT(...) return (snprintf(err, errlen, __VA_ARGS__), false)
    if (!strcmp(key, "xbar")) {
        int r, c, n = 0;
        if (sscanf(val, "%dx%d%n", &r, &c, &n) != 2 || val[n] || r < 1 || c < 1 || r > 4096 || c > 4096)
            WANT("xbar is ROWSxCOLS with both from 1 to 4096 (e.g. 128x128), not '%s'", val);
        hw->xbar_rows = r, hw->xbar_cols = c;
        return true;
    }
    static const struct {
        const char *key;
        size_t offset;
        int lo, hi;
    } ints[] = {
        {"cell-bits", offsetof(PimHardware, cell_bits), 1, 8},
        {"dac-bits", offsetof(PimHardware, dac_bits), 1, 8},
        {"adc-bits", offsetof(PimHardware, adc_bits), 1, 32},
        {"weight-bits", offsetof(PimHardware, weight_bits), 2, 16},
        {"act-bits", offsetof(PimHardware, act_bits), 1, 16},
        {"adcs-per-xbar", offsetof(PimHardware, adcs_per_xbar), 1, 4096},
        {"tiles", offsetof(PimHardware, tiles), 1, 1 << 20},
        {"imas-per-tile", offsetof(PimHardware, imas_per_tile), 1, 1024},
        {"xbars-per-ima", offsetof(PimHardware, xbars_per_ima), 1, 1024},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(key, ints[i].key)) {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (!*val || *end || errno || v < ints[i].lo || v > ints[i].hi)
                WANT("%s needs an integer from %d to %d, not '%s'", key, ints[i].lo, ints[i].hi, val);
            *(int *)((char *)hw + ints[i].offset) = (int)v;
            return true;
        }
    int k;
    if (!strcmp(key, "adc-mode"))
        return pim_adc_mode_lookup(val, &hw->adc_mode) ||
               (snprintf(err, errlen, "adc-mode is ideal, fullscale or calibrated, not '%s'", val), false);
    if (!strcmp(key, "signed"))
        return pim_signed_lookup(val, &hw->sign) ||
               (snprintf(err, errlen, "signed is differential, offset or twos, not '%s'", val), false);
    if (!strcmp(key, "convention"))
        return pim_convention_lookup(val, &hw->convention) ||
               (snprintf(err, errlen, "convention is im2col, whole-kernel or per-position, not '%s'", val), false);
    if (!strcmp(key, "rounding")) {
        if (!choice(val, (const char *const[]){"nearest", "floor", NULL}, &k))
            WANT("rounding is nearest or floor, not '%s'", val);
        hw->rounding = k ? PIM_ROUND_FLOOR : PIM_ROUND_NEAREST;
        return true;
    }
    if (!strcmp(key, "order")) {
        if (!choice(val, (const char *const[]){"layer", "pipeline", NULL}, &k))
            WANT("order is layer or pipeline, not '%s'", val);
        hw->order = k ? PIM_ORDER_PIPELINE : PIM_ORDER_LAYER;
        return true;
    }
    if (!strcmp(key, "duplicate")) {
        if (!choice(val, (const char *const[]){"false", "true", NULL}, &k))
            WANT("duplicate is true or false, not '%s'", val);
        hw->duplicate = k;
        return true;
    }
    WANT("unknown hardware key '%s'", key);
#undef WANT
}
