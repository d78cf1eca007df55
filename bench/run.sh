#!/usr/bin/env bash
# bench/run.sh — front-end benchmark: netc parse + elaborate + verify per
# example, and the -O2 pass pipeline's --time-passes table per example
# (bench_frontend), with PyTorch's model construction time measured in the
# same run as the baseline column when /usr/bin/python3 has torch.
# Usage: bench/run.sh [BUILD_DIR]   (RUNS=51 PASS_RUNS=7 to change)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
runs=${RUNS:-51} pass_runs=${PASS_RUNS:-7}
cmake --build "$build" --target bench_frontend -j2 > /dev/null
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
lscpu | sed -n 's/^Flags: */flags: /p'
: > "$tmp/torch"
if /usr/bin/python3 -c 'import torch, torchvision' 2> /dev/null; then
    /usr/bin/python3 bench/torch_construct.py 11 > "$tmp/torch"
else
    echo "== baseline skipped: /usr/bin/python3 has no torch (apt-get install python3-torch python3-torchvision)"
fi
echo "== netc front end (parse + elaborate + verify), median of $runs runs"
# The markdown rows of the pass table get PyTorch's construction time
# (torch_construct.py prints "model ms") as their last column.
"$build/bench/bench_frontend" "$runs" examples "$pass_runs" |
    awk -v torch="$tmp/torch" '
        BEGIN { while ((getline line < torch) > 0) { split(line, f, " "); ms[f[1]] = f[2] } }
        /^\| model/ { print $0 " torch construct ms |"; next }
        /^\|---/    { print $0 "---:|"; next }
        /^\| /      { m = $2; print $0 " " (m in ms ? ms[m] : "-") " |"; next }
        { print }'
