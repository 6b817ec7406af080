#!/usr/bin/env bash
# Installs the dependencies, builds knet, and wires two containers (network
# namespaces) with knet's bridge + host-local + bandwidth:
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

# cnitool (issue 6) has not landed yet, so this script plays the runtime: it
# runs each plugin of the list in order with the previous result as prevResult,
# exactly as the spec describes, and runs DEL in reverse order.
list="$work/net.d/10-demo.conflist"
plugin_conf() { # <index> <prevResult json or null> <runtimeConfig json or null>
  jq -c --argjson i "$1" --argjson prev "$2" --argjson rc "$3" \
    '.plugins[$i] + {name: .name, cniVersion: .cniVersion}
     + (if $prev == null then {} else {prevResult: $prev} end)
     + (if $rc == null then {} else {runtimeConfig: $rc} end)' "$list"
}
run_plugin() { # <command> <container id> <netns> <index> <prev> <rc>
  local type; type="$(jq -r ".plugins[$4].type" "$list")"
  plugin_conf "$4" "$5" "$6" | in_host env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS="/var/run/netns/$3" CNI_IFNAME=eth0 CNI_PATH="$bin" "$bin/$type"
}
add() { # <container id> <netns> <runtimeConfig>
  local r; r="$(run_plugin ADD "$1" "$2" 0 null null)" || { echo "$r"; return 1; }
  run_plugin ADD "$1" "$2" 1 "$r" "$3"
}
del() { # <container id> <netns> <cached result>
  run_plugin DEL "$1" "$2" 1 "$3" null && run_plugin DEL "$1" "$2" 0 "$3" null
}
shaped='{"bandwidth":{"ingressRate":20000000,"ingressBurst":400000,"egressRate":20000000,"egressBurst":400000}}'
step "ADD c1: bridge, then bandwidth (shaped to 20 Mbit/s both ways)"
add demo-c1 "$c1" "$shaped" | tee "$work/c1.json"
step "ADD c2"
add demo-c2 "$c2" null | tee "$work/c2.json"
ip1="$(jq -r '.ips[0].address | split("/")[0]' "$work/c1.json")"
ip2="$(jq -r '.ips[0].address | split("/")[0]' "$work/c2.json")"

step "what the sandbox host now holds"
in_host ip -br link
in_host ip -br addr show knet0
in_host tc qdisc show
in_host nft list table ip knet-nat 2>/dev/null || true

step "c1 -> c2 ($ip2) and c1 -> gateway (10.88.0.1)"
ip netns exec "$c1" ping -c2 -W1 "$ip2"
ip netns exec "$c1" ping -c2 -W1 10.88.0.1

step "iperf3 c2 -> c1 for 3 s (c1's ingress is shaped to 20 Mbit/s)"
ip netns exec "$c1" timeout 15 iperf3 -s -1 >/dev/null 2>&1 &
sleep 1
ip netns exec "$c2" timeout 15 iperf3 -c "$ip1" -t 3 -f m 2>&1 | tail -4
wait || true

step "DEL both (reverse order: bandwidth, then bridge)"
del demo-c1 "$c1" "$(cat "$work/c1.json")"
del demo-c2 "$c2" "$(cat "$work/c2.json")"
echo "deleted"
step "left behind in the sandbox host (only the bridge should remain)"
in_host ip -br link
in_host tc qdisc show | grep -v "noqueue\|pfifo_fast" || echo "no qdiscs"
echo "reserved IPs: $(find "$work/ipam" -type f -name '10.*' | wc -l)"
echo
echo "demo finished"
