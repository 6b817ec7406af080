#!/usr/bin/env bash
# Configures and builds knet into ${KNET_BUILD_DIR:-build}. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${KNET_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${KNET_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
ninja -C "$build" -j"$(nproc)"
