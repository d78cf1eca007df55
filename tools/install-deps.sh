#!/usr/bin/env bash
# install-deps.sh — installs what building and testing netc needs, from
# Debian 12's packages (run as root; both README commands call it).
#   flex, bison          the front end's scanner and parser generators
#   libcmocka-dev        unit tests
#   libjansson-dev       JSON headers of .safetensors files
#   libxxhash-dev        hashing (symbol tables, weight-init seeds)
#   llvm-19-dev          the LLVM C API of the native backend (libLLVM-19,
#                        llvm-link-19 for the kernel bitcode)
#   clang-19             compiles runtime/native to bitcode
#   python3-torch, python3-torchvision  the export test (tests/export_test.sh
#                        loads netc's torch export into torchvision) and
#                        regenerating the committed goldens
#                        (tools/make_torch_goldens.sh, make_quant_goldens.sh)
set -eu
pkgs="cmake make gcc pkg-config flex bison libcmocka-dev libjansson-dev libxxhash-dev llvm-19-dev clang-19 python3-torch python3-torchvision"
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null | grep -vc 'install ok installed' || true)
listed=$(dpkg-query -W -f='${Package}\n' $pkgs 2>/dev/null | wc -l)
if [ "$missing" -eq 0 ] && [ "$listed" -eq "$(echo $pkgs | wc -w)" ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $pkgs
