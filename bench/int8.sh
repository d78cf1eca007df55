#!/usr/bin/env bash
# bench/int8.sh — the int8 kernels end to end: each model's native fp32
# code against its int8 code (quantize + integerize), measured in the same
# run, per kernel variant, as a markdown table (see bench/README.md).
#
#   bench/int8.sh [MODEL...]       (default: resnet50 vit_b_16)
#
# bench_native times both with the same seed-1 weights and input; the int8
# graph is `--quantize expand-mha,quantize,integerize,dce` after the default
# passes (W8A8: per-channel int8 weights, per-tensor u8 activations
# calibrated on the timed input). Variants: VNNI (--cpu cascadelake), AVX-512
# without VNNI (x86-64-v4), AVX2 (x86-64-v3), those this CPU can run.
#
# Environment: BUILD (default build-bench, Release), THREADS (default 1),
# RUNS (default 10), BUDGET_MS (default 3000).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1}
runs=${RUNS:-10}
budget=${BUDGET_MS:-3000}
if [ $# -gt 0 ]; then models=("$@"); else models=(resnet50 vit_b_16); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== building bench_native (Release) in $build" >&2
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target bench_native -j2; } > "$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    exit 1
fi

flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
variants=()
avx512=0
has avx512f && has avx512bw && has avx512dq && has avx512vl && avx512=1
[ $avx512 -eq 1 ] && has avx512_vnni && variants+=("cascadelake:AVX-512 VNNI")
[ $avx512 -eq 1 ] && variants+=("x86-64-v4:AVX-512")
has avx2 && has fma && variants+=("x86-64-v3:AVX2")

cd "$root"
for v in "${variants[@]}"; do
    cpu=${v%%:*}
    for kind in fp32 int8; do
        extra=()
        [ $kind = int8 ] && extra=(--quantize expand-mha,quantize,integerize,dce)
        echo "== $kind, ${v#*:} kernels (--cpu $cpu)" >&2
        "$build/bench/bench_native" --cpu "$cpu" --threads "$threads" --runs "$runs" --budget-ms "$budget" \
            "${extra[@]}" --tsv "$tmp/$cpu.$kind.tsv" "${models[@]}" 2> "$tmp/log" > /dev/null ||
            { grep -v 'stays float' "$tmp/log" >&2; exit 1; }
    done
done

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
echo "flags: $(lscpu | sed -n 's/^Flags: *//p')"
echo
echo "Median latency, batch 1, 224x224, $threads thread(s), ms (the int8 speed-up is fp32 / int8):"
echo
echo "| model | kernels | fp32 ms | int8 ms | speed-up |"
echo "|---|---|---:|---:|---:|"
for v in "${variants[@]}"; do
    cpu=${v%%:*}
    for m in "${models[@]}"; do
        f=$(awk -F'\t' -v m="$m" -v t="$threads" '$1 == "run" && $2 == m && $3 == t { print $4 }' "$tmp/$cpu.fp32.tsv")
        q=$(awk -F'\t' -v m="$m" -v t="$threads" '$1 == "run" && $2 == m && $3 == t { print $4 }' "$tmp/$cpu.int8.tsv")
        awk -v m="$m" -v k="${v#*:}" -v f="$f" -v q="$q" \
            'BEGIN { printf "| %s | %s | %.1f | %.1f | %.2fx |\n", m, k, f, q, f / q }'
    done
done
