#!/usr/bin/env python3
"""pim_check.py — checks a `netc pim --emit json` program against closed
forms computed here from the layer shapes (../shared/research/pim.md §2.1),
independently of backends/pim:

  * every layer's crossbar count equals the closed form of its convention
    (im2col, whole-kernel, per-position; block-diagonal packing of small
    matrices of grouped convs, kernel positions under per-position);
  * the blocks cover every cell of every matrix exactly once per polarity,
    and the blocks on one crossbar fit it without overlapping;
  * MACs equal cout * cin/groups * kh * kw * pixels;
  * the total crossbar count, when --expect N is given (published and
    derived figures of pim.md §6).

usage: pim_check.py PROGRAM.json [--expect N]
Exit 0 when every check holds; 1 with a message per failure.
"""
import json
import sys


def ceil_div(a, b):
    return -(-a // b)


def closed_form(hw, L):
    R, C = hw["xbar"]
    bc = hw["cell_bits"]
    diff = hw["signed"] == "differential"
    bw = L["bits"]["weight"]
    S = ceil_div(max(1, bw - 1 if diff else bw), bc)
    P = 2 if diff else 1
    s = L["shape"]
    K = s["kernel"][0] * s["kernel"][1]
    G = s["groups"]
    cig, cog = s["cin"] // G, s["cout"] // G
    conv = hw["convention"]

    def packed(nmat, rows, cols, row_step, runs):
        # nmat matrices of rows x cols (per column run), cut at row_step / C;
        # whole matrices share a crossbar block-diagonally when they fit.
        if nmat > 1 and rows <= row_step and cols <= C:
            n = min(R // rows, C // cols)
            if n > 1:
                return runs * ceil_div(nmat, n) * P
        return runs * nmat * ceil_div(rows, row_step) * ceil_div(cols, C) * P

    if conv == "im2col":
        return S, packed(G, cig * K, cog * S, R, 1)
    if conv == "whole-kernel":
        step = R // K * K if K <= R else R
        return S, packed(G, cig * K, cog, step, S)
    return S, packed(G * K, cig, cog * S, R, 1)


def check_cover(L, S, errors):
    """Blocks tile each (matrix, polarity) exactly, and fit their crossbar."""
    rows, cols = L["rows"], L["cols"]
    area = {}
    per_xbar = {}
    for b in L["blocks"]:
        r0, r1 = b["rows"]
        c0, c1 = b["cols"]
        if not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
            errors.append(f"{L['name']}: block {b} outside the {rows}x{cols} matrix")
            continue
        key = (b["matrix"], b["polarity"])
        area.setdefault(key, []).append((r0, r1, c0, c1))
        per_xbar.setdefault(b["xbar"], []).append((b["at"][0], b["at"][0] + r1 - r0, b["at"][1], b["at"][1] + c1 - c0))
    want_keys = L["matrices"] * (2 if any(b["polarity"] for b in L["blocks"]) else 1)
    if len(area) != want_keys:
        errors.append(f"{L['name']}: blocks cover {len(area)} matrix/polarity pairs, expected {want_keys}")
    for key, rects in area.items():
        if sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in rects) != rows * cols or overlaps(rects):
            errors.append(f"{L['name']}: matrix {key} is not covered exactly once")
    return per_xbar


def overlaps(rects):
    rects = sorted(rects)
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            a, b = rects[i], rects[j]
            if b[0] >= a[1]:
                break
            if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                return True
    return False


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    prog = json.load(open(args[0]))
    expect = int(args[args.index("--expect") + 1]) if "--expect" in args else None
    hw = prog["hardware"]
    R, C = hw["xbar"]
    errors = []
    total = 0
    xbar_rects = {}
    for L in prog["layers"]:
        S, want = closed_form(hw, L)
        got = len({b["xbar"] for b in L["blocks"]})
        if got != want or L["xbars"] < got or L["bits"]["slices"] != S:
            errors.append(f"{L['name']}: {got} crossbars (slices {L['bits']['slices']}), closed form {want} (slices {S})")
        s = L["shape"]
        macs = s["cout"] * (s["cin"] // s["groups"]) * s["kernel"][0] * s["kernel"][1] * s["pixels"]
        if L["op"] in ("conv2d", "qconv2d") and s["macs"] != macs:
            errors.append(f"{L['name']}: macs {s['macs']}, shapes give {macs}")
        for x, rects in check_cover(L, S, errors).items():
            xbar_rects.setdefault(x, []).extend(rects)
        total += want
    for x, rects in xbar_rects.items():
        if any(r1 > R or c1 > C for _, r1, _, c1 in rects) or overlaps(rects):
            errors.append(f"crossbar {x}: blocks overflow the {R}x{C} array or overlap")
    if prog["summary"]["xbars"] != total:
        errors.append(f"summary says {prog['summary']['xbars']} crossbars, the layers' closed forms sum to {total}")
    if expect is not None and total != expect:
        errors.append(f"{total} crossbars in all, expected {expect}")
    for e in errors[:20]:
        print(f"pim_check: {args[0]}: {e}", file=sys.stderr)
    if not errors:
        print(f"pim_check: {args[0]}: {len(prog['layers'])} layers, {total} crossbars: closed forms hold")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
