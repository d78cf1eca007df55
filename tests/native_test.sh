#!/usr/bin/env bash
# native_test.sh — checks the LLVM backend on one example against the
# reference interpreter, both ways native code runs:
#
#   tests/native_test.sh NETC NPY_COMPARE CC MODEL
#
# 1. JIT: `netc run --backend=llvm` at 1 and at 2 threads matches `netc run`
#    (the reference interpreter) within 1e-4 relative to the output's scale,
#    and both thread counts give the same bits;
# 2. AOT: `netc build` writes a bundle; tests/aot_runner.c is compiled
#    against its header and linked with its object; its output gives the
#    JIT's bits exactly (same module, same machine code);
# 3. every kernel variant (--cpu x86-64-v4: AVX-512, x86-64-v3: AVX2,
#    x86-64: SSE2) this CPU can run: a bundle built for that CPU names its
#    kernels in the header, and its output matches the reference
#    interpreter at 2 threads; a variant the CPU cannot run is reported as
#    skipped (never as passed).
# Sizes, weights and inputs are those of the PyTorch goldens (MANIFEST).
set -u
netc=$1 compare=$2 cc=$3 model=$4
source "$(dirname "$0")/example_env.sh"

"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
"$netc" run "$net" "${defs[@]}" --weights "$tmp/w.safetensors" --input "$input" -o "$tmp/ref.npy" || exit 1

for t in 1 2; do
    if "$netc" run "$net" "${defs[@]}" --backend=llvm --threads $t --weights "$tmp/w.safetensors" \
           --input "$input" -o "$tmp/jit$t.npy"; then
        "$compare" "$tmp/jit$t.npy" "$tmp/ref.npy" 1e-4 || fail=1
    else
        echo "FAIL jit: netc run --backend=llvm --threads $t failed"; fail=1
    fi
done
cmp -s "$tmp/jit1.npy" "$tmp/jit2.npy" || { echo "FAIL threads: 1 and 2 threads differ"; fail=1; }

if "$netc" build "$net" "${defs[@]}" --threads 2 --weights "$tmp/w.safetensors" -o "$tmp/bundle"; then
    name=$(basename "$tmp"/bundle/*.h .h)
    upper=$(echo "$name" | tr a-z A-Z)
    if "$cc" -O1 -std=c11 -include "$tmp/bundle/$name.h" -DNET="$name" -DNETU="$upper" \
           "$root/tests/aot_runner.c" "$tmp/bundle/$name.o" -o "$tmp/runner" -lm -lpthread &&
       "$tmp/runner" "$tmp/bundle/$name.weights" "$input" "$tmp/aot.npy" 2; then
        # Tolerance 0: the same values, bit for bit.
        "$compare" "$tmp/aot.npy" "$tmp/jit2.npy" 0 || fail=1
    else
        echo "FAIL aot: compiling, linking or running the bundle failed"; fail=1
    fi
else
    echo "FAIL aot: netc build failed"; fail=1
fi
for variant in avx512vnni:cascadelake avx512:x86-64-v4 avx2:x86-64-v3 sse2:x86-64; do
    isa=${variant%%:*} cpu=${variant#*:}
    if ! can_run "$isa"; then
        echo "SKIP $isa: this CPU lacks its features (a bundle for --cpu $cpu is still built)"
    fi
    if ! "$netc" build "$net" "${defs[@]}" --cpu "$cpu" --threads 2 --weights "$tmp/w.safetensors" \
             -o "$tmp/b_$isa"; then
        echo "FAIL $isa: netc build --cpu $cpu failed"; fail=1; continue
    fi
    h=$(ls "$tmp/b_$isa"/*.h)
    grep -q "_KERNELS \"$isa\"" "$h" || { echo "FAIL $isa: --cpu $cpu did not get the $isa kernels"; fail=1; }
    can_run "$isa" || continue
    if "$cc" -O1 -std=c11 -include "$h" -DNET="$name" -DNETU="$upper" \
           "$root/tests/aot_runner.c" "$tmp/b_$isa/$name.o" -o "$tmp/runner_$isa" -lm -lpthread &&
       "$tmp/runner_$isa" "$tmp/b_$isa/$name.weights" "$input" "$tmp/aot_$isa.npy" 2; then
        "$compare" "$tmp/aot_$isa.npy" "$tmp/ref.npy" 1e-4 || fail=1
    else
        echo "FAIL $isa: compiling, linking or running the bundle failed"; fail=1
    fi
done

if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
