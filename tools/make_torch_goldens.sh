#!/bin/sh
# make_torch_goldens.sh -- regenerate (or check netc against) the PyTorch
# goldens of the examples.
#
# For every line of tests/golden/torch/MANIFEST (or only the models named
# on the command line): netc writes seeded random weights for
# examples/<model>.net, torch_golden.py loads them into the torchvision
# twin and runs it on a seeded input. The input and PyTorch's output are
# stored as tests/golden/torch/<model>.input.npy / <model>.expected.npy;
# the weights are not kept (netc regenerates them from the seed).
#
# With --check nothing is written: netc's reference interpreter runs each
# example on the stored input and its output is compared with the stored
# PyTorch output (torch_golden.py compare; only numpy is needed).
#
# Usage: tools/make_torch_goldens.sh [--check] [model ...]
#   NETC    netc binary (default: build/netc)
#   PYTHON  a python with numpy, and torch + torchvision unless --check
#           (default: /usr/bin/python3)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
NETC=${NETC:-$root/build/netc}
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=1
gold=$root/tests/golden/torch
check=false
if [ "${1:-}" = "--check" ]; then
    check=true
    shift
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ ! -x "$NETC" ]; then
    echo "make_torch_goldens: no netc at $NETC (build it or set NETC)" >&2
    exit 1
fi

# wanted MODEL [SELECTED...]: true when nothing is selected or MODEL is.
wanted() {
    m=$1; shift
    [ $# -eq 0 ] && return 0
    for w in "$@"; do [ "$w" = "$m" ] && return 0; done
    return 1
}

# The loop runs in a subshell (pipe); failures are counted in a file.
: >"$tmp/failed"
grep -v '^#' "$gold/MANIFEST" | while read -r model size shape; do
    [ -n "$model" ] || continue
    wanted "$model" "$@" || continue
    if [ "$size" = "-" ]; then
        define="" ; torch_size=""
    else
        define="-D image_size=$size" ; torch_size="--image-size $size"
    fi
    net=$root/examples/$model.net
    w=$tmp/w.safetensors
    # shellcheck disable=SC2086  # $define / $torch_size are word lists
    "$NETC" init "$net" $define --seed "$SEED" -o "$w" </dev/null
    if $check; then
        # shellcheck disable=SC2086
        if ! "$NETC" run "$net" $define --weights "$w" --input "$gold/$model.input.npy" \
                -o "$tmp/out.npy" </dev/null ||
           ! "$PYTHON" "$root/tools/torch_golden.py" compare --name "$model" \
                "$tmp/out.npy" "$gold/$model.expected.npy" </dev/null; then
            echo "$model" >>"$tmp/failed"
        fi
    else
        echo "== $model (image_size $size, input $shape)"
        "$PYTHON" "$root/tools/torch_golden.py" input --shape "$shape" --seed "$SEED" \
            --out "$gold/$model.input.npy" </dev/null
        # shellcheck disable=SC2086
        "$PYTHON" "$root/tools/torch_golden.py" "$model" $torch_size --weights "$w" \
            --input "$gold/$model.input.npy" --out "$gold/$model.expected.npy" </dev/null
    fi
    rm -f "$w"
done

if [ -s "$tmp/failed" ]; then
    echo "make_torch_goldens: mismatch: $(tr '\n' ' ' <"$tmp/failed")" >&2
    exit 1
fi
