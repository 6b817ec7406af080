#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each one for
# KNET_FUZZ_SECONDS (default 20) on a corpus seeded from test/fuzz/seeds and conf/.
# Any sanitizer finding (UBSan included: halt_on_error) fails the run.
# A longer run by hand, with inputs long enough for deep nesting:
#   KNET_FUZZ_SECONDS=300 KNET_FUZZ_MAX_LEN=262144 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${KNET_FUZZ_SECONDS:-20}"
build="${KNET_FUZZ_BUILD_DIR:-build-fuzz}"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DKNET_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(netconf cni_args result skel cnitool)
ninja -C "$build" -j"$(nproc)" "${targets[@]/#/fuzz_}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
max_len="${KNET_FUZZ_MAX_LEN:-65536}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp test/fuzz/seeds/$t/* "$work/$t/"
  if [[ $t == netconf || $t == result ]]; then cp conf/*.conf* "$work/$t/" 2>/dev/null || true; fi
  echo "fuzzing $t for ${secs}s"
  "$build/test/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work/$t" 2>"$work/$t.log" || { tail -50 "$work/$t.log"; echo "fuzz_$t FAILED"; exit 1; }
  grep -E "stat::number_of_executed_units|Done" "$work/$t.log" | tail -1
done
echo "fuzzing: ${#targets[@]} passed, 0 failed"
