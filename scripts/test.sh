#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite with CTest.
# Needs root: integration tests create (and remove) their own network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Short, bounded fuzzing of the parsers (clang + libFuzzer + ASan/UBSan).
KNET_FUZZ_SECONDS="${KNET_FUZZ_SECONDS:-15}" bash scripts/fuzz.sh
(cd "${KNET_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@")
# The whole suite again with every binary built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/; about 10 min on 2 cores).
# KNET_SANITIZE_SUITE=0 skips it for a quick local run.
if [[ "${KNET_SANITIZE_SUITE:-1}" != 0 ]]; then
  bash scripts/sanitize.sh "$@"
fi
