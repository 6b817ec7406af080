#!/usr/bin/env bash
# Builds knet with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DKNET_SANITIZE=ON) into ${KNET_ASAN_BUILD_DIR:-build-asan} and runs the
# test suite there: plugins, libraries and test binaries are all
# instrumented, so a memory or UB error in a plugin fails the test that ran it
# (a sanitizer exits non-zero and writes its report on stderr).
# Bounded: the reliability loops run shortened (fewer churn cycles and crash
# rounds); the whole run fits in ~10 min on 2 cores including the build.
# Needs root, as scripts/test.sh. Extra arguments go to ctest (e.g. -R Hostile).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${KNET_ASAN_BUILD_DIR:-build-asan}"
# -O1 -g1: a third less compile time than -O2 -g, with line numbers in the
# reports; assertions stay on.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DKNET_SANITIZE=ON >/dev/null
ninja -C "$build" -j"$(nproc)"

# Reports go to stderr and fail the process; leaks are errors too. Only the
# test binaries see these variables: plugins run with a clean environment
# and use the sanitizers' defaults (exit 1 on an error, 23 on a leak).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Shorter reliability loops than the normal suite: instrumented binaries are
# 2-3x slower and the point here is coverage of code paths, not endurance.
export KNET_CHURN_CYCLES="${KNET_CHURN_CYCLES:-40}"
export KNET_CRASH_ROUNDS="${KNET_CRASH_ROUNDS:-6}"
cd "$build"
# -LE packaging: the OCI image and the .deb tests (test/deploy) package and
# run what ships, a normal build; built from instrumented binaries they would
# only repeat the plain suite's run, slower. `knet install` itself stays in.
ctest --output-on-failure --timeout 300 -j"$(nproc)" -LE packaging "$@"
