#!/usr/bin/env bash
# test.sh — the whole test suite, as README.md and .ci/run invoke it.
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as
# errors into build-test/, then runs every test (unit, golden, examples,
# malformed-input corpus) under ctest, with NETC_VERIFY_EACH=1 so every
# graph pass any test runs is followed by the IR verifier.
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETC_SANITIZE=ON -DNETC_WERROR=ON > /dev/null
cmake --build build-test -j2
NETC_VERIFY_EACH=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-test --output-on-failure -j2
