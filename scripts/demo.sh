#!/usr/bin/env bash
# Installs the dependencies, builds knet, and wires two containers (network
# namespaces) with knet's bridge + host-local + bandwidth through cnitool:
# shows the results, pings between them and to the gateway, measures the
# shaped rate with iperf3, tears everything down and shows nothing is left.
# Everything happens inside namespaces this script creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
bin="$PWD/${KNET_BUILD_DIR:-build}/bin"

tag="knet-demo-$$"
host="$tag-host" c1="$tag-c1" c2="$tag-c2"
work="$(mktemp -d)"
cleanup() {
  set +e
  for ns in "$c1" "$c2" "$host"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_host() { ip netns exec "$host" "$@"; }

for ns in "$host" "$c1" "$c2"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
mkdir -p "$work/net.d" "$work/ipam" "$work/cache"
cat >"$work/net.d/10-demo.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "demo",
  "plugins": [
    { "type": "bridge", "bridge": "knet0", "isGateway": true, "ipMasq": true,
      "ipam": { "type": "host-local", "dataDir": "$work/ipam",
                "ranges": [[{ "subnet": "10.88.0.0/24" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "bandwidth", "capabilities": { "bandwidth": true } }
  ]
}
JSON
step "network config ($work/net.d/10-demo.conflist)"
cat "$work/net.d/10-demo.conflist"

export NETCONFPATH="$work/net.d" CNI_PATH="$bin" CNI_CACHE_DIR="$work/cache"
step "cnitool add demo c1 (shaped to 20 Mbit/s both ways through CAP_ARGS)"
CAP_ARGS='{"bandwidth":{"ingressRate":20000000,"ingressBurst":400000,"egressRate":20000000,"egressBurst":400000}}' \
  in_host "$bin/cnitool" add demo "/var/run/netns/$c1" | tee "$work/c1.json"
step "cnitool add demo c2"
in_host "$bin/cnitool" add demo "/var/run/netns/$c2" | tee "$work/c2.json"
ip2="$(sed -n 's/.*"address": *"\([0-9.]*\)\/.*/\1/p' "$work/c2.json" | head -1)"

step "what the sandbox host now holds"
in_host ip -br link
in_host ip -br addr show knet0
in_host tc qdisc show
in_host nft list table ip knet-nat 2>/dev/null || true

step "c1 -> c2 ($ip2) and c1 -> gateway (10.88.0.1)"
ip netns exec "$c1" ping -c2 -W1 "$ip2"
ip netns exec "$c1" ping -c2 -W1 10.88.0.1

step "iperf3 c2 -> c1 for 3 s (c1's ingress is shaped to 20 Mbit/s)"
ip1="$(sed -n 's/.*"address": *"\([0-9.]*\)\/.*/\1/p' "$work/c1.json" | head -1)"
ip netns exec "$c1" timeout 15 iperf3 -s -1 >/dev/null 2>&1 &
sleep 1
ip netns exec "$c2" timeout 15 iperf3 -c "$ip1" -t 3 -f m 2>&1 | tail -4
wait || true

step "cnitool del both"
in_host "$bin/cnitool" del demo "/var/run/netns/$c1"
in_host "$bin/cnitool" del demo "/var/run/netns/$c2"
step "left behind in the sandbox host (only the bridge should remain)"
in_host ip -br link
in_host tc qdisc show | grep -v "noqueue\|pfifo_fast" || echo "no qdiscs"
echo "reserved IPs: $(find "$work/ipam" -type f -name '10.*' | wc -l)"
echo
echo "demo finished"
