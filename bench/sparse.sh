#!/usr/bin/env bash
# bench/sparse.sh — end-to-end latency of the native backend on
# magnitude-sparse ResNet-50 and ViT-B/16 against the same nets dense, as a
# markdown table (see bench/README.md, "Sparse weights").
#
#   bench/sparse.sh [MODEL...]     (default: resnet50 vit_b_16)
#
# 1. builds netc and bench_native in $BUILD;
# 2. weights: `netc init --seed 1` (dense), then tools/sparsify.py zeros the
#    smallest |w| of every conv/linear weight at 50, 70 and 90 %;
# 3. bench_native (JIT, 224x224, batch 1) per sparsity at each thread
#    count: medians of at least $RUNS timed runs (more while $BUDGET_MS
#    lasts), the default per-layer choice (NETC_SPARSE unset), plus the
#    90 % weights forced onto the dense kernels (NETC_SPARSE=off), all in
#    this one run, dense first;
# 4. prints the CPU (lscpu's model name and flags) and the table: ms per
#    thread count and the speedup over the dense net at that count.
#
# Environment: BUILD (default build-bench, configured Release), THREADS
# (default 1,2), RUNS (default 10), BUDGET_MS (default 2000), CPU (--cpu
# for the JIT, e.g. x86-64-v3 for the AVX2 kernels; default this machine's).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1,2}
runs=${RUNS:-10}
budget=${BUDGET_MS:-2000}
python=/usr/bin/python3
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet50 vit_b_16)
cpu_args=()
[ -n "${CPU:-}" ] && cpu_args=(--cpu "$CPU")

[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target netc bench_native >/dev/null
netc=$build/netc bench=$build/bench/bench_native
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/d0" "$tmp/d50" "$tmp/d70" "$tmp/d90"
for m in "${models[@]}"; do
    "$netc" init "$root/examples/$m.net" --seed 1 -o "$tmp/d0/$m.safetensors"
    for r in 50 70 90; do
        "$python" "$root/tools/sparsify.py" "$tmp/d0/$m.safetensors" "$tmp/d$r/$m.safetensors" --ratio 0.$r >/dev/null
    done
done

# setting LABEL DIR [NETC_SPARSE]: one bench_native run, records in $tmp/LABEL.tsv.
setting() {
    echo "timing $1 ..." >&2
    NETC_SPARSE=${3:-auto} "$bench" "${cpu_args[@]}" --weights-dir "$2" --threads "$threads" --runs "$runs" \
        --budget-ms "$budget" --tsv "$tmp/$1.tsv" "${models[@]}" >"$tmp/$1.log"
}
setting 0 "$tmp/d0"
setting 50 "$tmp/d50"
setting 70 "$tmp/d70"
setting 90 "$tmp/d90"
setting 90-dense "$tmp/d90" off
kernels=$(grep -m1 -o '([^)]*kernels[^)]*)' "$tmp/0.log" || true)

echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p')"
echo "Flags: $(lscpu | sed -n 's/^Flags:[[:space:]]*//p')"
echo "kernels: ${CPU:-native} $kernels; medians of >= $runs runs; JIT, 224x224, batch 1"
echo
IFS=, read -r -a tlist <<<"$threads"
printf '| model | sparsity |'
for t in "${tlist[@]}"; do printf ' netc ms %s thr |' "$t"; done
for t in "${tlist[@]}"; do printf ' speedup %s thr |' "$t"; done
printf '\n|---|---|'
for t in "${tlist[@]}" "${tlist[@]}"; do printf -- '---|'; done
printf '\n'
for m in "${models[@]}"; do
    for s in 0 50 70 90 90-dense; do
        case $s in 0) label="0 (dense)" ;; 90-dense) label="90, dense kernels" ;; *) label="$s %" ;; esac
        printf '| %s | %s |' "$m" "$label"
        for t in "${tlist[@]}"; do
            awk -F'\t' -v m="$m" -v t="$t" '$1 == "run" && $2 == m && $3 == t { printf " %.1f |", $4 }' "$tmp/$s.tsv"
        done
        for t in "${tlist[@]}"; do
            base=$(awk -F'\t' -v m="$m" -v t="$t" '$1 == "run" && $2 == m && $3 == t { print $4 }' "$tmp/0.tsv")
            awk -F'\t' -v m="$m" -v t="$t" -v b="$base" \
                '$1 == "run" && $2 == m && $3 == t { printf " %.2fx |", b / $4 }' "$tmp/$s.tsv"
        done
        printf '\n'
    done
done
