# example_env.sh — sourced by the per-example test scripts (example_test.sh,
# native_test.sh, opt_test.sh) after they set $model: where the example and
# its PyTorch goldens are, a scratch directory removed on exit, and the size
# MANIFEST runs the example at (defs, for netc's command line) with its input.
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
