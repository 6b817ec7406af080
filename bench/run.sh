#!/usr/bin/env bash
# Runs every benchmark for knet's plugins and the reference plugins
# (Debian's containernetworking-plugins in /usr/lib/cni) in one run,
# alternating A/B inside sandbox namespaces, and writes bench/results.md
# (the table) and bench/raw.csv (every sample). Needs root. Not part of CI.
#   bash bench/run.sh                 # everything, 30 runs per timing figure
#   RUNS=100 ONLY=chain,scale bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build="${KNET_BUILD_DIR:-build}"
args=(--knet "$PWD/$build/bin" --ref /usr/lib/cni --runs "${RUNS:-30}" --raw bench/raw.csv)
[[ -n "${ONLY:-}" ]] && args+=(--only "$ONLY")
{
  echo "# knet vs reference plugins"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, kernel $(uname -r), reference $(dpkg-query -W -f='${Version}' containernetworking-plugins)."
  echo "Median (p50) and p95 of ${RUNS:-30} runs per timing figure, knet and reference alternating."
  echo
  "$build/bench/knet-bench" "${args[@]}"
} > bench/results.md.new
mv bench/results.md.new bench/results.md
cat bench/results.md
