#!/usr/bin/env bash
# opt_test.sh — `netc opt` saves exactly what the in-memory pipeline
# computes, for one example:
#
#   tests/opt_test.sh NETC NPY_COMPARE MODEL
#
# 1. netc opt -O2 writes OUT.ir + OUT.safetensors (the -O2 default pipeline);
# 2. the pair, loaded again, gives the in-memory pipeline's bits: on the
#    reference interpreter (`run net -O2` vs `run OUT.ir`) and through the
#    LLVM JIT (`run net --backend=llvm -O2` vs `run OUT.ir --backend=llvm
#    -O2 --passes=`: the same LLVM level, no graph passes on top);
# 3. the passes preserve the numbers: the reference interpreter on the
#    source and on OUT.ir agree within 1e-5 relative to the output's scale.
# Sizes, weights and inputs are those of the PyTorch goldens (MANIFEST).
set -u
netc=$1 compare=$2 model=$3
source "$(dirname "$0")/example_env.sh"
w=$tmp/w.safetensors

"$netc" init "$net" "${defs[@]}" --seed 1 -o "$w" || exit 1
"$netc" opt "$net" "${defs[@]}" --weights "$w" -O2 -o "$tmp/opt.ir" || { echo "FAIL opt: netc opt failed"; exit 1; }
[ -f "$tmp/opt.safetensors" ] || { echo "FAIL opt: no opt.safetensors beside opt.ir"; exit 1; }

run() { "$netc" run "$@" --input "$input" || { echo "FAIL run: netc run $*"; fail=1; }; }
run "$net" "${defs[@]}" --weights "$w" -o "$tmp/before.npy"
run "$net" "${defs[@]}" --weights "$w" -O2 -o "$tmp/mem.npy"
run "$tmp/opt.ir" --weights "$tmp/opt.safetensors" -o "$tmp/reload.npy"
run "$net" "${defs[@]}" --weights "$w" --backend=llvm -O2 -o "$tmp/mem_llvm.npy"
run "$tmp/opt.ir" --weights "$tmp/opt.safetensors" --backend=llvm -O2 --passes= -o "$tmp/reload_llvm.npy"
[ $fail -eq 0 ] || exit 1

# Tolerance 0: the same values, bit for bit.
"$compare" "$tmp/reload.npy" "$tmp/mem.npy" 0 || fail=1
"$compare" "$tmp/reload_llvm.npy" "$tmp/mem_llvm.npy" 0 || fail=1
"$compare" "$tmp/reload.npy" "$tmp/before.npy" 1e-5 || fail=1
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
