#!/usr/bin/env bash
# bench/prune.sh — what pruning buys on the native backend, against the
# same net unpruned and against PyTorch running the pruned twin, as a
# markdown table (bench/README.md, "Pruning").
#
#   bench/prune.sh [MODEL...]     (default: resnet18 resnet50 mobilenet_v2 vit_b_16)
#
# For every model (224x224, batch 1, seed-1 weights from `netc init`) and
# every pruning in $PRUNINGS (default: none, channel:0.3, channel:0.5,
# element:0.5, element:0.9): `netc opt --prune=P` (the -O2 pipeline after
# the prune pass) writes the graph and its weights; `netc stats` gives its
# parameters and MACs (a masked net: its nonzero weights and the MACs the
# masks leave); bench_native times every graph in one run (JIT, medians of
# at least $RUNS runs, more while $BUDGET_MS lasts, each thread count of
# $THREADS), so the unpruned baseline is measured in the same run; and
# bench/torch_infer.py times PyTorch's twin: for channel pruning the
# torchvision model rebuilt at the exported widths, for masks the dense
# model holding the exported zeros (PyTorch has no sparse conv kernels).
# Prints the CPU (lscpu model name and flags) first.
#
# Environment: BUILD (default build-bench, Release), THREADS (1,2), RUNS
# (10), BUDGET_MS (2000), PRUNINGS, TORCH (0: skip PyTorch).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1,2}
runs=${RUNS:-10}
budget=${BUDGET_MS:-2000}
prunings=(${PRUNINGS:-none channel:0.3 channel:0.5 element:0.5 element:0.9})
python=/usr/bin/python3
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet18 resnet50 mobilenet_v2 vit_b_16)

[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target netc bench_native >/dev/null
netc=$build/netc bench=$build/bench/bench_native
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
echo "flags: $(lscpu | sed -n 's/^Flags: *//p')"
echo

irs=()
for m in "${models[@]}"; do
    "$netc" init "$root/examples/$m.net" --seed 1 -o "$tmp/$m.safetensors"
    for p in "${prunings[@]}"; do
        tag=${p//:/_}
        args=()
        [ "$p" != none ] && args=("--prune=$p")
        "$netc" opt "$root/examples/$m.net" --weights "$tmp/$m.safetensors" "${args[@]}" -o "$tmp/$m.$tag.ir"
        "$netc" stats "$tmp/$m.$tag.ir" --weights "$tmp/$m.$tag.safetensors" > "$tmp/$m.$tag.stats"
        "$netc" export "$root/examples/$m.net" --weights "$tmp/$m.safetensors" "${args[@]}" --format=torch \
            -o "$tmp/$m.$tag.torch.safetensors"
        irs+=("$tmp/$m.$tag.ir")
    done
done

echo "timing netc ..." >&2
"$bench" --threads "$threads" --runs "$runs" --budget-ms "$budget" --save-io "$tmp" --tsv "$tmp/netc.tsv" \
    "${irs[@]}" > "$tmp/netc.log"
kernels=$(sed -n 's/^isa\t//p' "$tmp/netc.tsv")

if [ "${TORCH:-1}" != 0 ]; then
    for m in "${models[@]}"; do
        for p in "${prunings[@]}"; do
            tag=${p//:/_}
            echo "timing PyTorch $m $p ..." >&2
            pruned=()
            case $p in channel:*) pruned=(--pruned) ;; esac
            base=$tmp/$m.$tag
            "$python" "$root/bench/torch_infer.py" "$m" --weights "$base.torch.safetensors" "${pruned[@]}" \
                --input "$base.ir.input.npy" --threads "$threads" --runs "$runs" --budget-ms "$budget" \
                > "$base.torch.tsv" 2> /dev/null || echo "torch failed for $m $p" >&2
        done
    done
fi

# The table: one row per model and pruning.
IFS=, read -ra tcounts <<< "$threads"
head="| model | pruning | params | MACs (G) |"
rule="|---|---|---:|---:|"
for t in "${tcounts[@]}"; do head+=" netc ms ${t}T | speedup ${t}T |"; rule+="---:|---:|"; done
for t in "${tcounts[@]}"; do head+=" torch ms ${t}T |"; rule+="---:|"; done
echo "$head"
echo "$rule"
for m in "${models[@]}"; do
    for p in "${prunings[@]}"; do
        tag=${p//:/_}
        base=$tmp/$m.$tag
        stats=$base.stats
        params=$(sed -n 's/^masked weights: *\([0-9,]*\) nonzero.*/\1 nonzero/p' "$stats")
        [ -n "$params" ] || params=$(sed -n 's/^total parameters: *\([0-9,]*\).*/\1/p' "$stats")
        macs=$(sed -n 's/^MACs left by the masks: *[0-9,]* (\([0-9.]*\) GMACs.*/\1/p' "$stats")
        [ -n "$macs" ] || macs=$(sed -n 's/^total MACs: *[0-9,]* (\([0-9.]*\) GMACs.*/\1/p' "$stats")
        row="| $m | $p | $params | $macs |"
        for t in "${tcounts[@]}"; do
            ms=$(awk -F'\t' -v f="$m.$tag.ir" -v t="$t" '$1 == "run" && $2 == f && $3 == t { print $4 }' "$tmp/netc.tsv")
            dense=$(awk -F'\t' -v f="$m.none.ir" -v t="$t" '$1 == "run" && $2 == f && $3 == t { print $4 }' \
                "$tmp/netc.tsv")
            sp=$(awk -v a="$dense" -v b="$ms" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }')
            row+=" $(printf '%.2f' "${ms:-0}") | $sp |"
        done
        for t in "${tcounts[@]}"; do
            ms=$(awk -F'\t' -v t="$t" '$1 == "torch" && $3 == t { print $4 }' "$base.torch.tsv" 2>/dev/null || true)
            if [ -n "$ms" ]; then row+=" $(printf '%.2f' "$ms") |"; else row+=" - |"; fi
        done
        echo "$row"
    done
done
echo
echo "netc kernels: $kernels; torch: $(awk -F'\t' '$1 == "env" { print $2 " " $3 ", BLAS " $5; exit }' \
    "$tmp"/*.torch.tsv 2>/dev/null || echo not run)"
