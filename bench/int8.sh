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
# RUNS (default 10), BUDGET_MS (default 3000), ROUNDS (default 3).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1}
runs=${RUNS:-10}
budget=${BUDGET_MS:-3000}
rounds=${ROUNDS:-3}
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
# fp32 and int8 alternate, ROUNDS times: this machine's speed drifts
# between seconds-long windows (a shared VM), so each figure is the median
# over rounds of the per-round medians, and the speed-up the median of the
# per-round ratios.
for round in $(seq "$rounds"); do
    for v in "${variants[@]}"; do
        cpu=${v%%:*}
        for kind in fp32 int8; do
            extra=()
            [ $kind = int8 ] && extra=(--quantize expand-mha,quantize,integerize,dce)
            echo "== round $round: $kind, ${v#*:} kernels (--cpu $cpu)" >&2
            "$build/bench/bench_native" --cpu "$cpu" --threads "$threads" --runs "$runs" --budget-ms "$budget" \
                "${extra[@]}" --tsv "$tmp/$cpu.$kind.$round.tsv" "${models[@]}" 2> "$tmp/log" > /dev/null ||
                { grep -v 'stays float' "$tmp/log" >&2; exit 1; }
        done
    done
done

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
echo "flags: $(lscpu | sed -n 's/^Flags: *//p')"
echo
echo "Median latency over $rounds alternating rounds (each the median of >= $runs runs), batch 1, 224x224,"
echo "$threads thread(s), ms; speed-up = the median of the rounds' fp32 / int8:"
echo
echo "| model | kernels | fp32 ms | int8 ms | speed-up | per-round range |"
echo "|---|---|---:|---:|---:|---:|"
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for v in "${variants[@]}"; do
    cpu=${v%%:*}
    for m in "${models[@]}"; do
        : > "$tmp/f" && : > "$tmp/q" && : > "$tmp/r"
        for round in $(seq "$rounds"); do
            f=$(awk -F'\t' -v m="$m" -v t="$threads" '$1 == "run" && $2 == m && $3 == t { print $4 }' \
                "$tmp/$cpu.fp32.$round.tsv")
            q=$(awk -F'\t' -v m="$m" -v t="$threads" '$1 == "run" && $2 == m && $3 == t { print $4 }' \
                "$tmp/$cpu.int8.$round.tsv")
            echo "$f" >> "$tmp/f" && echo "$q" >> "$tmp/q" && awk -v f="$f" -v q="$q" 'BEGIN { print f / q }' >> "$tmp/r"
        done
        awk -v m="$m" -v k="${v#*:}" -v f="$(median < "$tmp/f")" -v q="$(median < "$tmp/q")" \
            -v r="$(median < "$tmp/r")" -v lo="$(sort -g "$tmp/r" | head -1)" -v hi="$(sort -g "$tmp/r" | tail -1)" \
            'BEGIN { printf "| %s | %s | %.1f | %.1f | %.2fx | %.2f-%.2f |\n", m, k, f, q, r, lo, hi }'
    done
done
