#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite with CTest.
# Needs root: integration tests create (and remove) their own network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${KNET_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
