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
#    90 % weights forced onto the dense kernels (NETC_SPARSE=off); the
#    settings alternate, dense first, $ROUNDS times, because the speed of
#    a shared machine drifts;
# 4. prints the CPU (lscpu's model name and flags), the load average, and
#    the table: per thread count the median over rounds of the per-round
#    medians (ms), and the speedup over the dense net = the median of the
#    per-round ratios, with their range.
#
# Environment: BUILD (default build-bench, configured Release), THREADS
# (default 1,2), RUNS (default 10), BUDGET_MS (default 2000), ROUNDS
# (default 3), CPU (--cpu for the JIT, e.g. x86-64-v3 for the AVX2
# kernels; default this machine's).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1,2}
runs=${RUNS:-10}
budget=${BUDGET_MS:-2000}
rounds=${ROUNDS:-3}
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

settings=(0 50 70 90 90-dense)
# setting LABEL ROUND: one bench_native run, records in $tmp/LABEL.ROUND.tsv.
setting() {
    local dir=$tmp/d${1%-dense} mode=auto
    [ "$1" = 90-dense ] && mode=off
    echo "round $2: $1 ..." >&2
    NETC_SPARSE=$mode "$bench" "${cpu_args[@]}" --weights-dir "$dir" --threads "$threads" --runs "$runs" \
        --budget-ms "$budget" --tsv "$tmp/$1.$2.tsv" "${models[@]}" >"$tmp/$1.log"
}
for round in $(seq "$rounds"); do
    for s in "${settings[@]}"; do setting "$s" "$round"; done
done
kernels=$(grep -m1 -o '([^)]*kernels[^)]*)' "$tmp/0.log" || true)

# ms LABEL MODEL THREADS ROUND: that round's median.
ms() { awk -F'\t' -v m="$2" -v t="$3" '$1 == "run" && $2 == m && $3 == t { print $4 }' "$tmp/$1.$4.tsv"; }
# median of the numbers on stdin (one per line).
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p')"
echo "Flags: $(lscpu | sed -n 's/^Flags:[[:space:]]*//p')"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernels: ${CPU:-native} $kernels; JIT, 224x224, batch 1; $rounds alternating rounds, each the median of >= $runs runs"
echo
IFS=, read -r -a tlist <<<"$threads"
printf '| model | sparsity |'
for t in "${tlist[@]}"; do printf ' netc ms %s thr |' "$t"; done
for t in "${tlist[@]}"; do printf ' speedup %s thr (range) |' "$t"; done
printf '\n|---|---|'
for t in "${tlist[@]}" "${tlist[@]}"; do printf -- '---:|'; done
printf '\n'
for m in "${models[@]}"; do
    for s in "${settings[@]}"; do
        case $s in 0) label="0 (dense)" ;; 90-dense) label="90 %, dense kernels" ;; *) label="$s %" ;; esac
        printf '| %s | %s |' "$m" "$label"
        for t in "${tlist[@]}"; do
            printf ' %.1f |' "$(for r in $(seq "$rounds"); do ms "$s" "$m" "$t" "$r"; done | median)"
        done
        for t in "${tlist[@]}"; do
            ratios=$(for r in $(seq "$rounds"); do
                         awk -v b="$(ms 0 "$m" "$t" "$r")" -v x="$(ms "$s" "$m" "$t" "$r")" 'BEGIN { print b / x }'
                     done)
            printf ' %.2fx (%.2f-%.2f) |' "$(median <<<"$ratios")" "$(sort -g <<<"$ratios" | head -1)" \
                "$(sort -g <<<"$ratios" | tail -1)"
        done
        printf '\n'
    done
done
