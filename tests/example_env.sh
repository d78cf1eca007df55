# example_env.sh — sourced by the per-example test scripts (example_test.sh,
# native_test.sh, opt_test.sh, sparse_test.sh) after they set $model: where
# the example and its PyTorch goldens are, a scratch directory removed on
# exit, the size MANIFEST runs the example at (defs, for netc's command line)
# with its input, and can_run (whether this CPU runs a kernel variant).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gold=$root/tests/golden/torch
net=$root/examples/$model.net
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
size=$(awk -v m="$model" '$1 == m { print $2 }' "$gold/MANIFEST")
defs=()
[ -n "$size" ] && [ "$size" != "-" ] && defs=(-D "image_size=$size")
input=$gold/$model.input.npy

# can_run ISA: whether /proc/cpuinfo lists the features the variant needs.
can_run() {
    local flags need
    flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    case $1 in
        avx512vnni) need="avx512f avx512bw avx512dq avx512vl avx512_vnni" ;;
        avx512) need="avx512f avx512bw avx512dq avx512vl" ;;
        avx2) need="avx2 fma" ;;
        *) need="" ;;
    esac
    for f in $need; do
        case $flags in *" $f "*) ;; *) return 1 ;; esac
    done
}
