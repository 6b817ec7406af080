#!/usr/bin/env bash
# knet's OCI image, built offline inside the test by deploy/image/build.sh
# (from scratch, into a container store of the sandbox's own), then run with
# podman: `knet install` from the image fills two host dirs, every plugin in
# the image answers VERSION, knet-node --help runs, and knet-node from the
# image registers its node with an etcd of the sandbox. Everything happens in
# test/containers/sandbox.sh's namespaces (mount, net, pid): /run,
# /var/lib/containers ... are tmpfs there. Usage: image.sh <build dir>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../containers/sandbox.sh"
knet_enter_sandbox "$@"

build=$(readlink -f "${1:?usage: image.sh <build dir>}")
source_dir=$(readlink -f "$here/../..")
command -v podman >/dev/null || skip "podman not installed (apt-get install podman)"
runtime=$(command -v crun || command -v runc) || skip "no OCI runtime (apt-get install crun)"
[[ -x $build/bin/knet && -x $build/bin/knet-node ]] || die "build knet and knet-node in $build first"
knet_setup_sandbox "$build/bin"
start=$SECONDS

mkdir -p "$WORK/tmp" "$WORK/cni-conf" "$WORK/cni-bin"
knet_podman_config "$runtime"
export TMPDIR=$WORK/tmp
# Containers' cgroups under the sandbox's own parent, which the sandbox reaps.
run() { pod run --cgroup-parent "/$KNET_CT_TAG" "$@"; }

note "build the image (offline, from scratch)"
img=localhost/knet:test
out=$(within 180 bash "$source_dir/deploy/image/build.sh" --build-dir "$build" --tag "$img" 2>&1) ||
  die "deploy/image/build.sh failed: $out"
size_line=$(tail -n1 <<<"$out")
[[ $size_line =~ ^image\ $img:\ uncompressed=([0-9]+)\ compressed=([0-9]+)$ ]] ||
  die "build.sh did not print the image size as expected: $out"
compressed=${BASH_REMATCH[2]}
note "$size_line ($((SECONDS - start)) s)"
((compressed <= 15 * 1024 * 1024)) || die "the image is $compressed bytes compressed, more than 15 MiB"
layers=$(pod image inspect --format '{{len .RootFS.Layers}}' "$img")
[[ $layers == 1 ]] || die "the image has $layers layers, expected the one of its rootfs (FROM scratch)"

note "knet install from the image into two host dirs"
host=$WORK/host
mkdir -p "$host/bin" "$host/net.d" "$WORK/knet-conf"
cat >"$WORK/knet-conf/10-knet.conflist" <<'JSON'
{
  "cniVersion": "1.0.0",
  "name": "knet",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "ipam": { "type": "host-local", "subnet": "10.99.0.0/24" } },
    { "type": "bandwidth", "capabilities": { "bandwidth": true } },
    { "type": "loopback" }
  ]
}
JSON
install_args=(--rm --network none -v "$host/bin:/host/opt/cni/bin" -v "$host/net.d:/host/etc/cni/net.d"
  -v "$WORK/knet-conf:/etc/knet:ro" "$img" knet install --bin-dir /host/opt/cni/bin
  --conf-dir /host/etc/cni/net.d --conflist /etc/knet/10-knet.conflist)
out=$(run "${install_args[@]}" 2>&1) || die "knet install in the image failed: $out"
grep -q "files installed" <<<"$out" || die "knet install did not report what it installed: $out"
[[ -f $host/bin/knet && -x $host/bin/knet ]] || die "no executable $host/bin/knet after knet install"
cmp -s "$host/net.d/10-knet.conflist" "$WORK/knet-conf/10-knet.conflist" || die "conflist not installed"
for p in bridge host-local bandwidth loopback macvlan vxlan cnitool; do
  [[ $(readlink "$host/bin/$p") == knet ]] || die "$host/bin/$p is not a link to knet"
done
# What the image put on the host runs on the host (it needs only libc and libmnl).
v=$(CNI_COMMAND=VERSION "$host/bin/bridge" </dev/null) || die "the installed bridge fails on the host"
grep -q supportedVersions <<<"$v" || die "the installed bridge answered: $v"
out=$(run "${install_args[@]}" 2>&1) || die "second knet install failed: $out"
grep -q "nothing to do" <<<"$out" || die "second knet install rewrote files: $out"

note "every plugin in the image answers VERSION; knet-node --help"
# The image has no shell: a static busybox is lent to the container for the loop.
bb=$(command -v busybox) || skip "busybox not installed (apt-get install busybox-static)"
out=$(run --rm --network none -v "$bb:/busybox:ro" -e CNI_COMMAND=VERSION "$img" /busybox sh -c \
  'echo links: $(ls /opt/cni/bin); for p in bridge host-local bandwidth loopback macvlan vxlan; do printf "%s " $p; $p </dev/null || exit 1; echo; done' 2>&1) ||
  die "a plugin in the image failed VERSION: $out"
for p in bridge host-local bandwidth loopback macvlan vxlan; do
  grep -q "^$p {.*\"supportedVersions\"" <<<"$out" || die "$p in the image did not answer VERSION: $out"
done
want="links: $(sort "$build/knet-linked-programs.txt" | tr '\n' ' ' | sed 's/ $//')"
grep -qxF "$want" <<<"$out" || die "the image's /opt/cni/bin is not exactly the plugin links ($want): $out"

out=$(run --rm --network none "$img" knet-node --help 2>&1) || die "knet-node --help failed: $out"
grep -q -- "--etcd-endpoints" <<<"$out" || die "knet-node --help printed: $out"
out=$(run --rm --network none "$img" 2>&1) && die "the image's default command (knet) exited 0: $out"
grep -q "Programs:.*bridge" <<<"$out" || die "the image's default command printed: $out"

note "knet-node from the image registers this node with an etcd of the sandbox"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
  skip "etcd not installed (apt-get install etcd-server etcd-client)"
# The sandbox's network namespace is the "host" network of the container: an
# underlay device with a test address, etcd on its loopback.
ip link add kn-ul0 type veth peer name kn-ul1
ip addr add 192.0.2.11/24 dev kn-ul0
ip link set kn-ul0 up
ip link set kn-ul1 up
# A Kubernetes node forwards already (kubeadm's preflight insists); knet-node,
# without privileges, finds /proc/sys read-only and leaves a right value be.
sysctl -qw net.ipv4.ip_forward=1
ep=http://127.0.0.1:23790
etcd --name t --data-dir "$WORK/etcd" --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls http://127.0.0.1:23800 >"$WORK/etcd.log" 2>&1 &
etcd_pid=$!
ctl() { within 10 env ETCDCTL_API=3 etcdctl --endpoints "$ep" "$@"; }
for ((i = 0; i < 100; i++)); do
  ctl endpoint health >/dev/null 2>&1 && break
  kill -0 "$etcd_pid" 2>/dev/null || die "etcd exited: $(tail -5 "$WORK/etcd.log")"
  sleep 0.2
done
ctl put /knet/network/config \
  '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "Mode": "l3"}}' \
  >/dev/null || die "etcdctl put failed: $(tail -5 "$WORK/etcd.log")"
mkdir -p "$WORK/run-knet"
# As the DaemonSet runs it: host network, NET_ADMIN and NET_RAW, /run/knet from the host.
out=$(run -d --name knet-node --network host --cap-drop all --cap-add NET_ADMIN --cap-add NET_RAW \
  -v "$WORK/run-knet:/run/knet" "$img" knet-node --etcd-endpoints="$ep" --iface=kn-ul0 \
  --lease-ttl=10 --healthz-addr=127.0.0.1:9099 --cni-network=knet 2>&1) || die "knet-node did not start: $out"
healthz() {  # the status line of GET /healthz, through bash's /dev/tcp
  local line
  exec 3<>/dev/tcp/127.0.0.1/9099 || return 1
  printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
  read -r line <&3 || true
  exec 3>&-
  echo "$line"
}
lease="" status=""
for ((i = 0; i < 100; i++)); do
  lease=$(ctl get --prefix /knet/network/subnets/ 2>/dev/null | grep -A1 '^/knet/network/subnets/' | tail -n1 || true)
  status=$(healthz 2>/dev/null || true)
  [[ $lease == *'"PublicIP":"192.0.2.11"'* && $status == *" 200 "* && -s $WORK/run-knet/vxlan-peers.json ]] && break
  sleep 0.2
done
logs=$(pod logs knet-node 2>&1 | tail -20)
[[ $lease == *'"PublicIP":"192.0.2.11"'* ]] || die "no lease for 192.0.2.11 in etcd (got '$lease'); knet-node: $logs"
[[ $status == *" 200 "* ]] || die "knet-node's /healthz answered '$status'; knet-node: $logs"
[[ -s $WORK/run-knet/vxlan-peers.json ]] || die "knet-node wrote no peersFile in /run/knet; knet-node: $logs"
ip -d link show type vxlan | grep -q "vxlan id 1 " || die "knet-node made no vxlan device: $(ip -d link show)"
pod stop -t 5 knet-node >/dev/null 2>&1 || die "knet-node did not stop"
pod rm knet-node >/dev/null 2>&1 || true
note "lease: $lease"

echo "PASS: the image ($compressed bytes compressed) installs knet, runs every plugin, knet-node registers with etcd ($((SECONDS - start)) s)"
