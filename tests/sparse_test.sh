#!/usr/bin/env bash
# sparse_test.sh — the LLVM backend's sparse kernels end to end on one
# example, against the reference interpreter:
#
#   tests/sparse_test.sh NETC NPY_COMPARE CC MODEL
#
# Weights: `netc init --seed 1`, then tools/sparsify.py zeros the smallest
# 90 % (and, for the fallback check, 50 %) of every conv/linear weight.
# 1. choice: at 90 % the default cost model (NETC_SPARSE unset) lowers
#    layers to the sparse kernels (nk_spconv2d / nk_splinear / nk_spmha
#    calls in the module, --emit llvm), at 50 % to none of them;
# 2. numbers: with NETC_SPARSE=on (every layer the sparse kernels run;
#    grouped and depthwise convs stay dense) and with the default model,
#    `netc run --backend=llvm` on every kernel variant this CPU runs
#    (--cpu x86-64-v4: AVX-512, x86-64-v3: AVX2) at 1 and 2 threads
#    matches `netc run` within 1e-4 relative, and the thread counts give
#    the same bits;
# 3. a bundle (`netc build`, tests/aot_runner.c) gives the JIT's bits.
# A variant the CPU cannot run is reported as skipped. Needs /usr/bin/python3
# with numpy (exit 77 without).
set -u
netc=$1 compare=$2 cc=$3 model=$4
source "$(dirname "$0")/example_env.sh"
python=/usr/bin/python3
"$python" -c "import numpy" 2>/dev/null || { echo "SKIP: $python has no numpy"; exit 77; }

"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
for r in 50 90; do
    "$python" "$root/tools/sparsify.py" "$tmp/w.safetensors" "$tmp/w$r.safetensors" --ratio 0.$r || exit 1
done
"$netc" run "$net" "${defs[@]}" --weights "$tmp/w90.safetensors" --input "$input" -o "$tmp/ref.npy" || exit 1

# sparse_calls R: how many sparse kernel calls the default model makes at R %.
sparse_calls() {
    "$netc" build "$net" "${defs[@]}" --weights "$tmp/w$1.safetensors" --emit llvm -o "$tmp/ll$1" >/dev/null || return 1
    grep -cE 'call void @nk_sp(conv2d|linear|mha)\(' "$tmp/ll$1"/*.ll
}
n90=$(unset NETC_SPARSE; sparse_calls 90)
n50=$(unset NETC_SPARSE; sparse_calls 50)
echo "default cost model: $n90 sparse layers at 90 % zeros, $n50 at 50 %"
[ "${n90:-0}" -gt 0 ] || { echo "FAIL choice: no sparse layer at 90 % zeros"; fail=1; }
[ "${n50:-1}" -eq 0 ] || { echo "FAIL choice: sparse layers at 50 % zeros (dense must win there)"; fail=1; }

for variant in avx512:x86-64-v4 avx2:x86-64-v3; do
    isa=${variant%%:*} cpu=${variant#*:}
    if ! can_run "$isa"; then
        echo "SKIP $isa: this CPU lacks its features"; continue
    fi
    for mode in on auto; do
        for t in 1 2; do
            out=$tmp/$isa.$mode.$t.npy
            if NETC_SPARSE=$mode "$netc" run "$net" "${defs[@]}" --backend=llvm --cpu "$cpu" --threads $t \
                   --weights "$tmp/w90.safetensors" --input "$input" -o "$out"; then
                "$compare" "$out" "$tmp/ref.npy" 1e-4 || { echo "FAIL $isa $mode $t threads"; fail=1; }
            else
                echo "FAIL $isa $mode: netc run --backend=llvm --threads $t failed"; fail=1
            fi
        done
        cmp -s "$tmp/$isa.$mode.1.npy" "$tmp/$isa.$mode.2.npy" ||
            { echo "FAIL $isa $mode: 1 and 2 threads differ"; fail=1; }
    done
done

if NETC_SPARSE=on "$netc" build "$net" "${defs[@]}" --threads 2 --weights "$tmp/w90.safetensors" -o "$tmp/bundle"; then
    name=$(basename "$tmp"/bundle/*.h .h)
    upper=$(echo "$name" | tr a-z A-Z)
    if "$cc" -O1 -std=c11 -include "$tmp/bundle/$name.h" -DNET="$name" -DNETU="$upper" \
           "$root/tests/aot_runner.c" "$tmp/bundle/$name.o" -o "$tmp/runner" -lm -lpthread &&
       "$tmp/runner" "$tmp/bundle/$name.weights" "$input" "$tmp/aot.npy" 2 &&
       NETC_SPARSE=on "$netc" run "$net" "${defs[@]}" --backend=llvm --threads 2 \
           --weights "$tmp/w90.safetensors" --input "$input" -o "$tmp/jit.npy"; then
        "$compare" "$tmp/aot.npy" "$tmp/jit.npy" 0 || fail=1
    else
        echo "FAIL aot: building, linking or running the sparse bundle failed"; fail=1
    fi
else
    echo "FAIL aot: netc build failed"; fail=1
fi

if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
