#!/usr/bin/env bash
# bench/native.sh — the native backend's latency on the examples against
# PyTorch, as one markdown table (see bench/README.md).
#
#   bench/native.sh [MODEL...]     (default: the eleven 224x224 examples)
#
# 1. builds netc and bench_native (Release) in $BUILD;
# 2. writes seed-1 weights per model with `netc init` into a temporary
#    directory;
# 3. bench_native: peak FP32 FMA throughput, then per model JIT compile
#    time and end-to-end latency at each thread count, and the time of
#    `netc build examples/resnet50.net`; it saves each model's input and
#    output;
# 4. when /usr/bin/python3 has torch: bench/torch_infer.py per model (one
#    process each: OMP_WAIT_POLICY is read when torch loads; transformers
#    twice, with PASSIVE and without) with the same weights and input, which
#    also checks PyTorch's output against netc's;
# 5. prints the combined table; without torch its columns show "-".
#
# Environment:
#   BUILD      build directory (default: build-bench), configured Release
#   THREADS    thread counts (default: 1,2)
#   RUNS       least timed runs per setting (default: 20)
#   BUDGET_MS  more timed runs while this lasts, per setting (default: 2000)
#   PYTHON     the python with torch (default: /usr/bin/python3)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1,2}
runs=${RUNS:-20}
budget=${BUDGET_MS:-2000}
python=${PYTHON:-/usr/bin/python3}
if [ $# -gt 0 ]; then
    models=("$@")
else
    models=(resnet18 resnet50 mobilenet_v2 vgg16 vit_b_16 vit_ti_16
            squeezenet1_1 shufflenet_v2_x1_0 efficientnet_b0 densenet121 convnext_tiny)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== building netc and bench_native (Release) in $build" >&2
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target netc bench_native -j2; } > "$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    echo "native.sh: the build failed (log above)" >&2
    exit 1
fi
netc=$build/netc

cd "$root"
echo "== writing weights (netc init --seed 1)" >&2
for m in "${models[@]}"; do
    "$netc" init "examples/$m.net" --seed 1 -o "$tmp/$m.safetensors"
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== netc: bench_native ($cpu, $(nproc) cores, load $load_before)" >&2
"$build/bench/bench_native" --weights-dir "$tmp" --save-io "$tmp" --tsv "$tmp/netc.tsv" \
    --netc "$netc" --threads "$threads" --runs "$runs" --budget-ms "$budget" "${models[@]}" >&2 ||
    echo "native.sh: bench_native reported a failure (see above)" >&2

: > "$tmp/torch.tsv"
if "$python" -c 'import torch, torchvision' 2> /dev/null; then
    for m in "${models[@]}"; do
        # Transformers: PASSIVE (torch_infer's default for them) and the
        # environment's policy (unset: libgomp's default); the table keeps
        # the faster per thread count.
        policies=auto
        case $m in vit_*) policies="auto env" ;; esac
        for p in $policies; do
            echo "== PyTorch: $m (--wait-policy $p)" >&2
            "$python" bench/torch_infer.py "$m" --weights "$tmp/$m.safetensors" \
                --input "$tmp/$m.input.npy" --netc-output "$tmp/$m.netc.npy" --threads "$threads" \
                --runs "$runs" --budget-ms "$budget" --wait-policy "$p" \
                >> "$tmp/torch.tsv" || echo "native.sh: torch_infer.py $m failed" >&2
        done
        rm -f "$tmp/$m.safetensors"
    done
else
    echo "== PyTorch skipped: $python has no torch/torchvision (apt-get install python3-torch python3-torchvision)" >&2
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The table. Records: see bench_native.c and torch_infer.py.
echo
echo "### netc (LLVM JIT) vs PyTorch — batch 1, 224x224, $(date +%Y-%m-%d)"
echo
echo "CPU: $cpu, $(nproc) cores; load average before/after: $load_before / $load_after."
echo "Times are medians of at least $runs timed runs after 3 warm-up runs."
echo
awk -F'\t' '
    FNR == NR && $1 == "peak"  { peak[$2] = $3; pt[++np] = $2; next }
    FNR == NR && $1 == "model" { gflop[$2] = $3; compile[$2] = $4; next }
    FNR == NR && $1 == "run"   { k = $2 SUBSEP $3; ms[k] = $4; gfs[k] = $7; order[++n] = k; next }
    FNR == NR && $1 == "build" { build = sprintf("%s: median %.2f s (min %.2f s, %d runs; target <= 2 s)",
                                                 $2, $3 / 1000, $4 / 1000, $5); next }
    FNR == NR { next }
    $1 == "torch" { k = $2 SUBSEP $3; npol[k]++
                    if (!(k in tms) || $4 < tms[k]) { tms[k] = $4; pol[k] = $7 } }
    $1 == "check" { err[$2] = $3 }
    $1 == "env"   { torchv = $3; blas = $5 }
    END {
        line = "Peak FP32 (FMA loop, bench/peak.c):"
        for (i = 1; i <= np; i++)
            line = line sprintf("%s %d thread%s %.0f GFLOP/s", i > 1 ? "," : "", pt[i], pt[i] == 1 ? "" : "s",
                                peak[pt[i]])
        print line "."
        print ""
        print "| model | GFLOP | threads | netc ms | netc GFLOP/s | % peak | torch ms | netc/torch |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(order[i], kk, SUBSEP); m = kk[1]; t = kk[2]
            pct = peak[t] > 0 ? sprintf("%.1f", 100 * gfs[order[i]] / peak[t]) : "-"
            tm = (order[i] in tms) ? sprintf("%.2f", tms[order[i]]) : "-"
            ratio = (order[i] in tms) && tms[order[i]] > 0 ? sprintf("%.2f", ms[order[i]] / tms[order[i]]) : "-"
            printf "| %s | %.2f | %d | %.2f | %.1f | %s | %s | %s |\n", m, gflop[m], t, ms[order[i]],
                   gfs[order[i]], pct, tm, ratio
        }
        print ""
        print "| model | JIT compile s | max rel err netc vs torch |"
        print "|---|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(order[i], kk, SUBSEP); m = kk[1]
            if (m in done) continue
            done[m] = 1
            printf "| %s | %.2f | %s |\n", m, compile[m] / 1000, (m in err) ? err[m] : "-"
        }
        print ""
        print "`netc build` " (build != "" ? build : "(not measured)")
        if (torchv != "") {
            w = ""
            for (i = 1; i <= n; i++)
                if (npol[order[i]] > 1) {
                    split(order[i], kk, SUBSEP)
                    w = w (w == "" ? "" : ", ") kk[1] " " kk[2] "T " pol[order[i]]
                }
            print ""
            print "PyTorch " torchv ": torch.jit.trace + optimize_for_inference; BLAS " blas "."
            if (w != "")
                print "OMP_WAIT_POLICY (transformers timed with two, the faster kept): " w "."
        }
    }' "$tmp/netc.tsv" "$tmp/torch.tsv"
if grep -q 'netlib reference BLAS' "$tmp/torch.tsv"; then
    echo
    echo "Warning: PyTorch ran its matmuls on the netlib reference BLAS (Debian's default), so its"
    echo "transformer and fully-connected times are far from its best; install libopenblas0-openmp."
fi
