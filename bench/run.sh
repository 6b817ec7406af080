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
# What a user installs: the release configuration (-Os, link-time optimisation,
# see README), `cmake --install --strip`ped into a scratch root.
build="${KNET_RELEASE_DIR:-build-release}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
  -DKNET_TESTS=OFF >/dev/null
ninja -C "$build" -j"$(nproc)" knet knet-bench
root="$(mktemp -d /tmp/knet-bench-root.XXXXXX)"
trap 'rm -rf "$root"' EXIT
DESTDIR="$root" cmake --install "$build" --strip >/dev/null
knet_bin="$root$(cmake -L -N "$build" | sed -n 's/^KNET_CNI_BIN_DIR:PATH=//p')"
args=(--knet "$knet_bin" --ref /usr/lib/cni --runs "${RUNS:-30}" --raw bench/raw.csv)
[[ -n "${ONLY:-}" ]] && args+=(--only "$ONLY")
{
  echo "# knet vs reference plugins"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, kernel $(uname -r), reference $(dpkg-query -W -f='${Version}' containernetworking-plugins)."
  echo "Median (p50) and p95 of ${RUNS:-30} runs per timing figure, knet and reference alternating."
  echo
  "$build/bench/knet-bench" "${args[@]}"
} > bench/results.md.new
# Keep every "## " section after the table: bench/node_scale.sh's ("## knet-node
# scale") and the readings written by hand ("## Reading the DEL rows", ...).
if [[ -f bench/results.md ]]; then
  awk '/^## /{keep = 1} keep' bench/results.md > bench/results.md.node
  [[ -s bench/results.md.node ]] && { echo; cat bench/results.md.node; } >> bench/results.md.new
  rm -f bench/results.md.node
fi
mv bench/results.md.new bench/results.md
cat bench/results.md
