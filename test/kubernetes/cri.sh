#!/bin/bash
# Kubelet's path to knet, end to end: containerd 1.6's CRI plugin, driven by
# a CRI v1 client of our own (cri/cri_client.py: RunPodSandbox,
# StopPodSandbox, RemovePodSandbox, UpdateRuntimeConfig, Status), with knet's
# plugins as its CNI. containerd runs in a sandbox node: its own network,
# mount and pid namespaces (test/containers/sandbox.sh), so the plugins' links
# and routes land in the sandbox's network namespace, its root, state, socket,
# CNI dirs and pods' netns files live in tmpfs, and it dies with the test.
#
# 1. kubelet hands out the pod CIDR: the conf dir is empty, UpdateRuntimeConfig
#    gives a CIDR, containerd renders conf_template ({{.PodCIDRRanges}},
#    {{.Routes}}) into 10-containerd-net.conflist (knet bridge + host-local +
#    bandwidth + loopback): a pod gets an address of that CIDR, no knet-node.
# 2. knet-node hands it out: `knet install` puts the DaemonSet's conflist
#    (vxlan l3, 00-knet.conflist) next to it; containerd loads the lexically
#    first; with the peersFile knet-node would write, a pod gets an address of
#    the node's subnet on knet's vxlan network.
# Each pod: the address is in its netns on eth0, knet's owner tag is on the
# host end, Stop releases the address and removes the link, Remove forgets it.
#
# Usage: cri.sh <source dir> <build dir>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../containers/sandbox.sh"
. "$here/node.sh"
knet_enter_sandbox "$@"

src=$(readlink -f "${1:?usage: cri.sh <source dir> <build dir>}")
build=$(readlink -f "${2:?usage: cri.sh <source dir> <build dir>}")
command -v containerd >/dev/null && command -v ctr >/dev/null ||
  skip "containerd/ctr not installed (apt-get install containerd)"
command -v runc >/dev/null || skip "runc not installed (apt-get install runc)"
py=/usr/bin/python3
"$py" -c 'import grpc, grpc_tools' 2>/dev/null ||
  skip "python3 grpc missing (apt-get install python3-grpcio python3-grpc-tools)"
command -v node >/dev/null && [[ -d $here/node_modules/yaml ]] ||
  skip "node or npm packages missing (cd test/kubernetes && npm ci)"
knet_setup_sandbox "$build/bin"
start=$SECONDS

NODE_IP=192.0.2.20
knet_node_underlay "$NODE_IP"

# The CRI client's messages, compiled for this run.
mkdir -p "$WORK/cri-py"
"$py" -m grpc_tools.protoc -I "$here/cri" --python_out="$WORK/cri-py" --grpc_python_out="$WORK/cri-py" \
  "$here/cri/api.proto" || die "compiling cri/api.proto failed"
SOCK=$WORK/containerd.sock
cri() { within 40 "$py" "$here/cri/cri_client.py" "$WORK/cri-py" "$SOCK" "$@"; }

BIN=$WORK/cni-bin CONF=$WORK/cni-conf
mkdir -p "$BIN" "$CONF"
PAUSE=localhost/knet-pause:1
cat >"$WORK/template.conflist" <<'EOF'
{
  "cniVersion": "1.0.0",
  "name": "knet-podcidr",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "knetcri0",
      "isGateway": true,
      "ipam": {
        "type": "host-local",
        "ranges": [{{range $i, $r := .PodCIDRRanges}}{{if $i}}, {{end}}[{ "subnet": "{{$r}}" }]{{end}}],
        "routes": [{{range $i, $r := .Routes}}{{if $i}}, {{end}}{ "dst": "{{$r}}" }{{end}}]
      }
    },
    { "type": "bandwidth", "capabilities": { "bandwidth": true } },
    { "type": "loopback" }
  ]
}
EOF
cat >"$WORK/containerd.toml" <<CONF
version = 2
root = "$WORK/containerd-root"
state = "$WORK/containerd-state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  disable_apparmor = true
  # The sandbox's oom_score_adj is -998; a process that may not lower its
  # own (this machine's test runner) makes runc fail. Kept at ours instead.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$BIN"
    conf_dir = "$CONF"
    conf_template = "$WORK/template.conflist"
    max_conf_num = 1
CONF

containerd --config "$WORK/containerd.toml" --log-level warn >"$WORK/containerd.log" 2>&1 &
daemon=$!
pods=()
cleanup() {
  local id
  for id in "${pods[@]}"; do
    cri stop "$id" >/dev/null 2>&1 || true
    cri remove "$id" >/dev/null 2>&1 || true
  done
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  cri version >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || die "containerd exited: $(tail -n 20 "$WORK/containerd.log")"
  sleep 0.1
done
version=$(cri version 2>&1) || die "containerd's CRI does not answer: $version $(tail -n 20 "$WORK/containerd.log")"
note "CRI: $version ($((SECONDS - start)) s)"

bash "$here/cri/pause_image.sh" "$WORK/pause.tar" "$PAUSE" || die "building the pause image failed"
out=$(within 60 ctr --address "$SOCK" -n k8s.io images import --snapshotter native "$WORK/pause.tar" 2>&1) ||
  die "ctr images import failed: $out"
# knet's plugins in the CRI's bin dir, as the DaemonSet's init container puts them.
conflist=$WORK/00-knet.conflist
knet_manifest_conflist "$src/deploy/kubernetes/knet.yaml" >"$conflist" || die "no conflist in the manifest"
out=$(within 30 "$build/bin/knet" install --bin-dir "$BIN" --conf-dir "$WORK/staging" --conflist "$conflist" 2>&1) ||
  die "knet install failed: $out"

# Waits until containerd's loaded CNI config has network $1.
wait_cni_network() {
  local cfg=""
  for _ in $(seq 100); do
    cfg=$(cri cni-config 2>/dev/null) || true
    [[ $(jq -r '.Networks[]?.Config.Name' <<<"$cfg" 2>/dev/null) == *"$1"* ]] && return 0
    sleep 0.1
  done
  die "containerd did not load CNI network $1 within 10 s: $cfg"
}

# Runs pod $1 and asserts what its network must be: an IPv4 address of
# prefix $2 on eth0 in its netns, the host end of its veth tagged by knet for
# network $3, host-local's lease held. Prints the sandbox id.
run_pod() {
  local name=$1 prefix=$2 net=$3 id st ip netns addr host_if
  id=$(cri run "$name" "uid-$name" "/$KNET_CT_TAG/$name") ||
    die "RunPodSandbox $name failed; containerd: $(tail -n 5 "$WORK/containerd.log")"
  pods+=("$id")
  st=$(cri status "$id") || die "PodSandboxStatus $name failed"
  ip=$(jq -r .ip <<<"$st") netns=$(jq -r .netns <<<"$st")
  [[ $(jq -r .state <<<"$st") == SANDBOX_READY ]] || die "pod $name is not ready: $st"
  [[ $ip == "$prefix".* ]] || die "pod $name got '$ip' from the CRI, not an address of $prefix.*: $st"
  [[ -e $netns ]] || die "pod $name's netns '$netns' does not exist: $st"
  addr=$(nsenter --net="$netns" ip -4 -o addr show dev eth0 | awk '{ print $4 }')
  [[ ${addr%/*} == "$ip" ]] || die "pod $name's eth0 holds '$addr', the CRI reported $ip"
  [[ $(nsenter --net="$netns" ip -o link show lo) == *"UP"* ]] || die "pod $name's lo is down"
  host_if=$(grep -lx "knet:$net:$id:eth0" /sys/class/net/*/ifalias 2>/dev/null | head -n 1)
  [[ -n $host_if ]] || die "no host link tagged knet:$net:$id:eth0 (knet's owner tag): $(ip -o link)"
  [[ -f /var/lib/cni/networks/$net/$ip ]] || die "host-local holds no lease for $ip in network $net"
  note "pod $name: $ip on eth0, host end $(basename "$(dirname "$host_if")")"
  POD_ID=$id POD_IP=$ip
}
# Stops and removes pod $1 (id $2, address $3 of network $4): the link and the
# lease are gone after Stop, the sandbox after Remove.
stop_pod() {
  local id=$2 ip=$3 net=$4 out
  out=$(cri stop "$id" 2>&1) || die "StopPodSandbox $1 failed: $out"
  ! grep -qx "knet:$net:$id:eth0" /sys/class/net/*/ifalias 2>/dev/null || die "pod $1's host link survived Stop"
  [[ ! -e /var/lib/cni/networks/$net/$ip ]] || die "pod $1's lease of $ip survived Stop"
  out=$(cri remove "$id" 2>&1) || die "RemovePodSandbox $1 failed: $out"
  ! cri status "$id" >/dev/null 2>&1 || die "pod $1 still has a status after Remove"
  pods=("${pods[@]/$id/}")
}

# --- 1. kubelet's pod CIDR through conf_template -------------------------------
ready=$(cri network-ready)
[[ $ready == false* ]] || die "NetworkReady before any CNI config: $ready"
cri update-cidr 10.89.32.0/24 || die "UpdateRuntimeConfig failed"
[[ -f $CONF/10-containerd-net.conflist ]] || die "containerd rendered no conflist from conf_template: $(ls -la "$CONF")"
jq -e '.plugins[0].ipam.ranges == [[{"subnet": "10.89.32.0/24"}]] and .plugins[0].ipam.routes == [{"dst": "0.0.0.0/0"}]' \
  "$CONF/10-containerd-net.conflist" >/dev/null ||
  die "the rendered conflist does not carry the pod CIDR: $(cat "$CONF/10-containerd-net.conflist")"
wait_cni_network knet-podcidr
run_pod web 10.89.32 knet-podcidr
[[ $(ip -4 -o addr show dev knetcri0) == *" 10.89.32.1/24 "* ]] || die "bridge knetcri0 lacks the gateway 10.89.32.1/24"
stop_pod web "$POD_ID" "$POD_IP" knet-podcidr
note "conf_template: pod CIDR 10.89.32.0/24 from UpdateRuntimeConfig reached host-local ($((SECONDS - start)) s)"

# --- 2. the DaemonSet's conflist, lexically first ------------------------------
# The peersFile knet-node would write for this node (its lease: 10.244.5.0/24).
mkdir -p /run/knet
echo "{\"nodes\": [{\"vtep\": \"$NODE_IP\", \"subnet\": \"10.244.5.0/24\"}]}" >/run/knet/vxlan-peers.json
out=$(within 30 "$BIN/knet" install --bin-dir "$BIN" --conf-dir "$CONF" --conflist "$conflist" 2>&1) ||
  die "knet install of the manifest's conflist failed: $out"
wait_cni_network overlay
run_pod db 10.244.5 overlay
ip -d link show knetvx1 | grep -q 'vxlan id 1 ' || die "no VTEP knetvx1 after a pod on the overlay"
stop_pod db "$POD_ID" "$POD_IP" overlay
pods=()
echo "PASS: containerd's CRI ran pods on knet: kubelet's pod CIDR via conf_template, and the DaemonSet's vxlan conflist ($((SECONDS - start)) s)"
