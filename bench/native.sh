#!/usr/bin/env bash
# bench/native.sh — the native backend's latency and compile time on the
# examples against PyTorch and ONNX Runtime, as markdown tables (see
# bench/README.md).
#
#   bench/native.sh [MODEL...]     (default: the eleven 224x224 examples)
#
# 1. builds netc and bench_native (Release) in $BUILD;
# 2. writes seed-1 weights per model with `netc init` into a temporary
#    directory;
# 3. bench_native, once per kernel ISA in $ISAS (--cpu x86-64-v4 for
#    avx512, x86-64-v3 for avx2, x86-64 for sse2): the FMA peak of that
#    ISA and the memory bandwidth, then per model JIT compile time and
#    end-to-end latency at each thread count; the first ISA's run also
#    times `netc build examples/resnet50.net` and saves each model's input
#    and output;
# 4. when /usr/bin/python3 has torch: bench/torch_infer.py per model (one
#    process each: OMP_WAIT_POLICY is read when torch loads; transformers
#    twice, with PASSIVE and without) with the same weights and input, which
#    also checks PyTorch's output against netc's, and times PyTorch's
#    compile step (trace + optimize_for_inference + first run);
# 5. when node can load onnxruntime-node ($ORT_NODE_MODULES) and torch is
#    there for the export: bench/export_onnx.py writes MODEL.onnx from the
#    same weights and bench/ort_infer.js times ONNX Runtime's session
#    creation and runs on the same input, checking its output against netc's;
# 6. prints the latency table and the compile-time table; a baseline that is
#    missing shows "-" in its columns and a line saying why.
#
# Environment:
#   BUILD      build directory (default: build-bench), configured Release
#   THREADS    thread counts (default: 1,2)
#   ISAS       kernel variants to time (default: those of avx512 and avx2 this
#              CPU can run, by its /proc/cpuinfo flags; sse2 may be added)
#   RUNS       least timed runs per setting (default: 20)
#   BUDGET_MS  more timed runs while this lasts, per setting (default: 2000)
#   PYTHON     the python with torch (default: /usr/bin/python3)
#   NODE       node for the ONNX Runtime baseline (default: node)
#   ORT_NODE_MODULES  the node_modules holding onnxruntime-node
#              (default: bench/ort/node_modules, from
#              `npm install --prefix bench/ort --ignore-scripts`)
#   ORT_CREATIONS     timed ONNX Runtime session creations (default: 5)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
threads=${THREADS:-1,2}
runs=${RUNS:-20}
budget=${BUDGET_MS:-2000}
python=${PYTHON:-/usr/bin/python3}
node=${NODE:-node}
ort_modules=${ORT_NODE_MODULES:-$root/bench/ort/node_modules}
ort_creations=${ORT_CREATIONS:-5}
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

cpu=$(lscpu 2> /dev/null | sed -n 's/^Model name: *//p')
[ -n "$cpu" ] || cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(lscpu 2> /dev/null | sed -n 's/^Flags: *//p')
[ -n "$flags" ] || flags=$(awk -F': ' '/^flags/ { print $2; exit }' /proc/cpuinfo)
# The vector extensions the kernels (and the baselines) can use, yes or no.
simd=""
for f in avx512f avx512_vnni avx512_bf16 avx2 fma; do
    case " $flags " in *" $f "*) simd="$simd, $f yes" ;; *) simd="$simd, $f no" ;; esac
done
simd=${simd#, }
# The kernel variants to time: each one this CPU can run, unless $ISAS says.
has_flags() {
    local f
    for f in "$@"; do case " $flags " in *" $f "*) ;; *) return 1 ;; esac; done
}
if [ -z "${ISAS:-}" ]; then
    ISAS=""
    has_flags avx512f avx512bw avx512dq avx512vl && ISAS="avx512"
    has_flags avx2 fma && ISAS="$ISAS avx2"
    [ -n "$ISAS" ] || ISAS=sse2
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
netc_tsvs=()
first=true
for isa in $ISAS; do
    case $isa in
        avx512) march=x86-64-v4 ;;
        avx2) march=x86-64-v3 ;;
        sse2) march=x86-64 ;;
        *) echo "native.sh: unknown ISA '$isa' in ISAS (avx512, avx2, sse2)" >&2; exit 2 ;;
    esac
    extra=()
    $first && extra=(--save-io "$tmp" --netc "$netc")
    echo "== netc: bench_native, $isa kernels ($cpu, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$build/bench/bench_native" --weights-dir "$tmp" --cpu "$march" --tsv "$tmp/netc_$isa.tsv" "${extra[@]}" \
        --threads "$threads" --runs "$runs" --budget-ms "$budget" "${models[@]}" >&2 ||
        echo "native.sh: bench_native ($isa) reported a failure (see above)" >&2
    netc_tsvs+=("$tmp/netc_$isa.tsv")
    first=false
done

: > "$tmp/torch.tsv"
: > "$tmp/ort.tsv"
have_torch=false
if "$python" -c 'import torch, torchvision' 2> /dev/null; then
    have_torch=true
else
    echo "== PyTorch skipped: $python has no torch/torchvision (apt-get install python3-torch python3-torchvision)" >&2
fi
# ONNX Runtime needs node, onnxruntime-node and, for the export, torch.
ort_skip=""
if ! command -v "$node" > /dev/null; then
    ort_skip="no node ($node; apt-get install nodejs)"
elif [ ! -d "$ort_modules/onnxruntime-node" ]; then
    ort_skip="no onnxruntime-node in $ort_modules (npm install --prefix bench/ort --ignore-scripts, or set ORT_NODE_MODULES)"
elif ! "$node" -e 'require(process.argv[1])' "$ort_modules/onnxruntime-node" 2> "$tmp/ort-load.log"; then
    ort_skip="onnxruntime-node in $ort_modules does not load: $(grep -m1 -i error "$tmp/ort-load.log" || tail -n 1 "$tmp/ort-load.log")"
elif ! $have_torch; then
    ort_skip="the ONNX export (bench/export_onnx.py) needs torch and torchvision in $python"
fi
[ -z "$ort_skip" ] || echo "== ONNX Runtime skipped: $ort_skip" >&2

# Appends an ONNX Runtime failure for model $1 (reason $2) to ort.tsv: the
# table then says why that model has no ONNX Runtime numbers.
ort_failed() {
    printf 'ortfail\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "$tmp/ort.tsv"
}

for m in "${models[@]}"; do
    if $have_torch; then
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
    fi
    if [ -z "$ort_skip" ]; then
        echo "== ONNX Runtime: $m" >&2
        if [ ! -f "$tmp/$m.input.npy" ]; then
            ort_failed "$m" "no input from bench_native (it failed on this model)"
        elif "$python" bench/export_onnx.py "$m" --weights "$tmp/$m.safetensors" \
                --input "$tmp/$m.input.npy" --out "$tmp/$m.onnx" > "$tmp/export.tsv"; then
            cat "$tmp/export.tsv" >> "$tmp/ort.tsv"
            if ! "$node" bench/ort_infer.js "$m" --onnx "$tmp/$m.onnx" --input "$tmp/$m.input.npy" \
                    --netc-output "$tmp/$m.netc.npy" --threads "$threads" --runs "$runs" \
                    --budget-ms "$budget" --creations "$ort_creations" --node-modules "$ort_modules" \
                    >> "$tmp/ort.tsv" 2> "$tmp/ort.err"; then
                ort_failed "$m" "$(tail -n 1 "$tmp/ort.err")"
            fi
            cat "$tmp/ort.err" >&2
        else
            # export_onnx.py says why in an onnxfail record, unless it crashed.
            cat "$tmp/export.tsv" >> "$tmp/ort.tsv"
            grep -q '^onnxfail' "$tmp/export.tsv" || ort_failed "$m" "bench/export_onnx.py failed (see its output above)"
        fi
        rm -f "$tmp/$m.onnx"
    fi
    rm -f "$tmp/$m.safetensors"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The tables. Records: see bench_native.c, torch_infer.py, export_onnx.py
# and ort_infer.js.
echo
echo "### netc (LLVM JIT) vs PyTorch and ONNX Runtime — batch 1, 224x224, $(date +%Y-%m-%d)"
echo
echo "CPU: $cpu, $(nproc) cores; load average before/after: $load_before / $load_after."
echo "CPU vector extensions (lscpu flags): $simd."
echo "Times are medians of at least $runs timed runs after 3 warm-up runs."
echo
awk -F'\t' -v torch_tsv="$tmp/torch.tsv" -v ort_tsv="$tmp/ort.tsv" \
    -v ort_skip="$ort_skip" -v ort_creations="$ort_creations" -v flags="$flags" '
    # Numbers as fields, or "-" when a baseline has none.
    function cell(fmt, v) { return v == "" ? "-" : sprintf(fmt, v) }
    function ratio(a, b)  { return a == "" || b == "" || b <= 0 ? "-" : sprintf("%.2f", a / b) }
    # bench_native files, one per ISA; the first names the rows.
    FILENAME != torch_tsv && FILENAME != ort_tsv && FNR == 1 { isa = ""; nf++ }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "isa" { isa = $2; isas[++ni] = isa; next }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "peak"  { if (!((isa, $2) in peak)) { if (nf == 1) pt[++np] = $2 }
                                                                    peak[isa, $2] = $3; next }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "bandwidth" { bw[$2] = $3; next }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "model" { gflop[$2] = $3; if (nf == 1) compile[$2] = $4; next }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "run"   { k = $2 SUBSEP $3; ms[isa, k] = $4; gfs[isa, k] = $7
                                                                    if (nf == 1) order[++n] = k; next }
    FILENAME != torch_tsv && FILENAME != ort_tsv && $1 == "build" { bmodel = $2; bms = $3
                                            build = sprintf("%s: median %.2f s (min %.2f s, %d runs; target <= 2 s)",
                                                            $2, $3 / 1000, $4 / 1000, $5); next }
    FILENAME == torch_tsv && $1 == "torch" { k = $2 SUBSEP $3; npol[k]++
                                             if (!(k in tms) || $4 + 0 < tms[k]) { tms[k] = $4 + 0; pol[k] = $7 } }
    # Transformers run in two processes: the faster compile is kept too.
    FILENAME == torch_tsv && $1 == "compile" { if (!($2 in tcomp) || $3 + 0 < tcomp[$2]) tcomp[$2] = $3 + 0 }
    FILENAME == torch_tsv && $1 == "check"   { err[$2] = $3 }
    FILENAME == torch_tsv && $1 == "env"     { torchv = $3; blas = $5 }
    FILENAME == ort_tsv && $1 == "ort"       { oms[$2 SUBSEP $3] = $4 + 0 }
    # Session creation at the largest thread count, as netc compiles for it.
    FILENAME == ort_tsv && $1 == "ortcreate" { if (!($2 in ocreate_t) || $3 + 0 > ocreate_t[$2]) {
                                                   ocreate_t[$2] = $3 + 0; ocreate[$2] = $4 + 0 } }
    FILENAME == ort_tsv && $1 == "ortcheck"  { oerr[$2] = $3 }
    FILENAME == ort_tsv && $1 == "ortenv"    { ortv = $3; ortdir = $4 }
    FILENAME == ort_tsv && $1 == "onnx"      { opset = $4 }
    FILENAME == ort_tsv && $1 == "onnxfail"  { why[$2] = why[$2] (why[$2] == "" ? "" : "; ") "ONNX export failed: " $3 }
    FILENAME == ort_tsv && $1 == "ortfail"   { why[$2] = why[$2] (why[$2] == "" ? "" : "; ") $3 }
    END {
        for (j = 1; j <= ni; j++) {
            line = "Peak FP32 of the " isas[j] " kernels'"'"' instructions (FMA loop, bench/peak.c):"
            for (i = 1; i <= np; i++)
                line = line sprintf("%s %d thread%s %.0f GFLOP/s", i > 1 ? "," : "", pt[i], pt[i] == 1 ? "" : "s",
                                    peak[isas[j], pt[i]])
            print line "."
        }
        line = "Memory read bandwidth (bench/bandwidth.c):"
        for (i = 1; i <= np; i++)
            line = line sprintf("%s %d thread%s %.1f GB/s", i > 1 ? "," : "", pt[i], pt[i] == 1 ? "" : "s", bw[pt[i]])
        print line "."
        print ""
        head = "| model | GFLOP | threads | torch ms | ORT ms | best baseline ms"
        rule = "|---|---:|---:|---:|---:|---:"
        for (j = 1; j <= ni; j++) {
            head = head " | netc " isas[j] " ms | % peak | netc/best"
            rule = rule "|---:|---:|---:"
        }
        print head " |"
        print rule "|"
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, kk, SUBSEP); m = kk[1]; t = kk[2]
            tm = (k in tms) ? tms[k] : ""
            om = (k in oms) ? oms[k] : ""
            best = tm; who = "torch"
            if (om != "" && (best == "" || om < best)) { best = om; who = "ORT" }
            row = sprintf("| %s | %.2f | %d | %s | %s | %s", m, gflop[m], t, cell("%.2f", tm), cell("%.2f", om),
                          best == "" ? "-" : sprintf("%.2f (%s)", best, who))
            for (j = 1; j <= ni; j++) {
                a = isas[j]
                if (!((a, k) in ms)) { row = row " | - | - | -"; continue }
                pk = peak[a, t]
                row = row sprintf(" | %.2f | %s | %s", ms[a, k], pk > 0 ? sprintf("%.1f", 100 * gfs[a, k] / pk) : "-",
                                  ratio(ms[a, k], best))
            }
            print row " |"
        }
        print ""
        print "Compile time, ms: netc = graph passes + llvm_jit_compile (" isas[1] " kernels); torch = torch.jit.trace +"
        print "optimize_for_inference + first run; ORT = InferenceSession.create (median of " ort_creations ");"
        print "each at the largest thread count. Below 1 in a ratio, netc compiles faster."
        print ""
        print "| model | netc JIT compile ms | torch compile ms | ORT session ms | netc/torch | netc/ORT | max rel err vs torch | max rel err vs ORT |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(order[i], kk, SUBSEP); m = kk[1]
            if (m in done) continue
            done[m] = 1
            tc = (m in tcomp) ? tcomp[m] : ""
            oc = (m in ocreate) ? ocreate[m] : ""
            printf "| %s | %.0f | %s | %s | %s | %s | %s | %s |\n", m, compile[m], cell("%.0f", tc), cell("%.0f", oc),
                   ratio(compile[m], tc), ratio(compile[m], oc), (m in err) ? err[m] : "-", (m in oerr) ? oerr[m] : "-"
        }
        print ""
        line = "`netc build` " (build != "" ? build : "(not measured)")
        if (build != "" && (bmodel in tcomp))
            line = line sprintf("; PyTorch trace + optimize + first run %.2f s (netc build / torch %.2f)",
                                tcomp[bmodel] / 1000, bms / tcomp[bmodel])
        if (build != "" && (bmodel in ocreate))
            line = line sprintf("; ONNX Runtime session creation %.2f s (netc build / ORT %.2f)",
                                ocreate[bmodel] / 1000, bms / ocreate[bmodel])
        if (build != "" && !(bmodel in tcomp) && !(bmodel in ocreate) && (torchv != "" || ortv != ""))
            line = line " (PyTorch and ONNX Runtime compile " bmodel " only when it is one of the models benchmarked)"
        print line
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
        if (ortv != "") {
            print ""
            print "ONNX Runtime " ortv " (onnxruntime-node, CPU execution provider, " ortdir "): torch.onnx.export opset " \
                  opset ", static shapes; graphOptimizationLevel all, executionMode sequential, interOpNumThreads 1,"
            print "intraOpNumThreads = threads."
        }
        if (ort_skip != "") {
            print ""
            print "ONNX Runtime skipped: " ort_skip "."
        }
        for (i = 1; i <= n; i++) {
            split(order[i], kk, SUBSEP); m = kk[1]
            if ((m in why) && !(m in told)) {
                told[m] = 1
                print ""
                print "ONNX Runtime, " m ": " why[m]
            }
        }
        print ""
        print "CPU flags (lscpu): " flags
    }' "${netc_tsvs[@]}" "$tmp/torch.tsv" "$tmp/ort.tsv"
if grep -q 'netlib reference BLAS' "$tmp/torch.tsv"; then
    echo
    echo "Warning: PyTorch ran its matmuls on the netlib reference BLAS (Debian's default), so its"
    echo "transformer and fully-connected times are far from its best; install libopenblas0-openmp."
fi
