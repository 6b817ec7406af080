# Shared by kube_play.sh and cri.sh, sourced after test/containers/sandbox.sh
# inside the sandbox: what turns the sandbox's network namespace into a
# Kubernetes node for knet. Sourced, never run.

# The node's underlay: a veth pair inside the sandbox (the peer stands for the
# rest of the network), address $1/24 and a default route on knetul0, as the
# vxlan plugin and knet-node find it. Forwarding on, as on every Kubernetes
# node (knet-node, unprivileged, cannot turn it on: /proc/sys is read-only).
knet_node_underlay() {
  ip link add knetul0 type veth peer name knetul1
  ip link set knetul1 up
  ip link set knetul0 up
  ip addr add "$1/24" dev knetul0
  ip route add default via "${1%.*}.1" dev knetul0
  sysctl -qw net.ipv4.ip_forward=1
}

# etcd on the node's 127.0.0.1 (data in $WORK/etcd), serving within 10 s,
# holding the network's config at /knet/network/config. Sets ETCD (its URL)
# and defines `etcdctl` (v3 API, that endpoint, bounded).
knet_node_etcd() {
  ETCD=http://127.0.0.1:2379
  etcd --name t --data-dir "$WORK/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster t=http://127.0.0.1:2380 --heartbeat-interval 10 --election-timeout 100 \
    >"$WORK/etcd.log" 2>&1 &
  local pid=$!
  etcdctl() { within 10 env ETCDCTL_API=3 etcdctl --endpoints "$ETCD" "$@"; }
  for _ in $(seq 100); do
    etcdctl endpoint health >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "etcd exited: $(tail -n 20 "$WORK/etcd.log")"
    sleep 0.1
  done
  etcdctl put /knet/network/config \
    '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472}}' >/dev/null ||
    die "etcd not serving after 10 s: $(tail -n 20 "$WORK/etcd.log")"
}

# The ConfigMap's 00-knet.conflist of manifest $1, on stdout.
knet_manifest_conflist() {
  node -e 'const y = require(process.argv[2]);
    const cm = y.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8"))
      .map((d) => d.toJS()).find((o) => o && o.kind === "ConfigMap");
    process.stdout.write(cm.data["00-knet.conflist"]);' "$1" "$(dirname "${BASH_SOURCE[0]}")/node_modules/yaml"
}
