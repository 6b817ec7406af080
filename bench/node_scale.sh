#!/usr/bin/env bash
# knet-node's scale figures (issue 17, "Scale"), by hand, as root: builds a
# release knet-node and knet-node-bench, runs the bench (a real etcd and real
# agents in sandbox namespaces, see bench/node_scale.cpp) and writes the
# "knet-node scale" section of bench/results.md. Not part of CI.
#   bash bench/node_scale.sh                       # N = 100, 1000, 5000; 50 agents
#   SIZES=1000 AGENTS=10 IDLE=10 bash bench/node_scale.sh   # quick look
#   ONLY=sync,change  (groups: sync, change, steady, cluster)
# Everything it makes (namespaces named knb<pid>-*, the work directory on
# /dev/shm, etcd and the agents) is removed at the end, on failure and on
# Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "node_scale.sh: needs root (network namespaces)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "node_scale.sh: etcd missing (scripts/install-deps.sh installs etcd-server)" >&2; exit 1; }

# Release (-O3). GCC 12 gives a false -Wrestrict at -O3 in libcni/src/env.cpp,
# hence -Wno-error=restrict; -g only for perf (not loaded: RSS is the same).
build="${KNET_NODE_RELEASE_DIR:-build-node-release}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=-Wno-error=restrict -g" \
  -DKNET_TESTS=OFF "${launcher[@]}" >/dev/null
ninja -C "$build" -j"$(nproc)" knet-node knet-node-bench

tag="knb$$"
work="$(mktemp -d "/dev/shm/$tag.XXXXXX")"
bench_pid=""
cleanup() {
  [[ -n "$bench_pid" ]] && kill "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

args=(--agent "$build/bin/knet-node" --tag "$tag" --work "$work"
      --sizes "${SIZES:-100,1000,5000}" --changes "${CHANGES:-200}" --agents "${AGENTS:-50}"
      --agent-changes "${AGENT_CHANGES:-100}" --idle "${IDLE:-60}" --sync-runs "${SYNC_RUNS:-5}")
[[ -n "${ONLY:-}" ]] && args+=(--only "$ONLY")
load="$(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/knet-node-bench" "${args[@]}" > "$work/table.md" &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
cp "$work/raw.csv" bench/node_raw.csv

section="$work/section.md"
{
  echo "## knet-node scale"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC by bench/node_scale.sh on $(nproc) cores" \
       "($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)," \
       "etcd $(etcd --version | sed -n 's/^etcd Version: //p') (data on tmpfs), knet-node built Release (-O3);" \
       "load average before the run: $load."
  echo "Values \"p50 / p99 / max (n)\" are over n samples; every sample is in bench/node_raw.csv."
  echo
  cat "$work/table.md"
} > "$section"
# Replace the section in bench/results.md (it runs to the next "## " heading
# or the end), or append it.
python3 - "$section" <<'EOF'
import re, sys
new = open(sys.argv[1]).read().rstrip("\n") + "\n"
path = "bench/results.md"
text = open(path).read()
m = re.search(r"^## knet-node scale\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + new + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + new
open(path, "w").write(text)
EOF
cat "$section"
