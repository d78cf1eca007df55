#!/usr/bin/env bash
# bench/run.sh — front-end benchmark: netc parse + elaborate + verify per
# example (bench_frontend), and PyTorch's model construction as the baseline
# when /usr/bin/python3 has torch. Usage: bench/run.sh [BUILD_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target bench_frontend -j2 > /dev/null
cd "$root"
echo "== netc front end (parse + elaborate + verify), $(nproc) cores"
"$build/bench/bench_frontend" 51 examples
if /usr/bin/python3 -c 'import torch, torchvision' 2> /dev/null; then
    echo "== baseline: PyTorch constructs the torchvision model"
    /usr/bin/python3 bench/torch_construct.py 11
else
    echo "== baseline skipped: /usr/bin/python3 has no torch (apt-get install python3-torch python3-torchvision)"
fi
