#!/bin/bash
# One node of knet's DaemonSet under `podman kube play`: the image built by
# deploy/image/build.sh, the manifest's pod template turned into a Pod
# (pod_from_daemonset.mjs), run host-network in a sandbox "node": its own
# network, mount and pid namespaces (test/containers/sandbox.sh), where
# /opt/cni/bin, /etc/cni/net.d, /run (so /run/knet) and the container storage
# are fresh tmpfs: the manifest's hostPaths, untouched, land there. The node
# has an underlay link with a default route and an etcd on 127.0.0.1.
#
# Asserts: the init container installed the plugins and the conflist (same
# content as the ConfigMap's); knet-node took a lease, wrote the peersFile,
# made the VTEP and answers the probes' URL with 200; and the installed
# plugins, run by the installed cnitool as a runtime would, give a pod an
# address of the node's leased subnet; knet-node exits 0 on the pod's stop.
#
# Usage: kube_play.sh <source dir> <build dir>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../containers/sandbox.sh"
. "$here/node.sh"
knet_enter_sandbox "$@"

src=$(readlink -f "${1:?usage: kube_play.sh <source dir> <build dir>}")
build=$(readlink -f "${2:?usage: kube_play.sh <source dir> <build dir>}")
command -v podman >/dev/null || skip "podman not installed (apt-get install podman)"
command -v etcd >/dev/null || skip "etcd not installed (apt-get install etcd-server etcd-client)"
command -v node >/dev/null || skip "node not installed (apt-get install nodejs)"
[[ -d $here/node_modules/yaml ]] || skip "npm packages missing (cd test/kubernetes && npm ci; scripts/install-deps.sh does it)"
runtime=$(command -v crun || command -v runc) || skip "no OCI runtime (apt-get install crun)"
catatonit=$(command -v catatonit) || skip "catatonit missing: podman's pod infra needs it (apt-get install catatonit)"
knet_setup_sandbox "$build/bin"
start=$SECONDS

NODE_IP=192.0.2.10
knet_node_underlay "$NODE_IP"
knet_node_etcd

# podman with its own storage and configuration under the scratch dir; the
# pod's infra container runs catatonit, found in helper_binaries_dir.
mkdir -p "$WORK/cni-bin" "$WORK/cni-conf"  # the CNI backend wants them; the pod uses the host network
knet_podman_config "$runtime"
sed -i "/^\[engine\]/a helper_binaries_dir = [\"$(dirname "$catatonit")\"]" "$CONTAINERS_CONF"
# podman 4.3's kube play has no --cgroup-parent: the pod's cgroups go under
# podman's /libpod_parent, and removing the pod removes them.
cleanup() {
  within 60 podman --log-level=error pod rm -f -t 0 knet >/dev/null 2>&1 || true
}
trap cleanup EXIT

out=$(within 120 bash "$src/deploy/image/build.sh" --build-dir "$build" --root "$WORK/storage" \
  --runroot "$WORK/storage-run" --storage-driver vfs 2>&1) || die "image build failed: $out"
note "$(tail -n 1 <<<"$out") ($((SECONDS - start)) s)"
image=$(sed -n 's/^image \([^:]*:[^:]*\):.*/\1/p' <<<"$out" | tail -n 1)
manifest=$src/deploy/kubernetes/knet.yaml
grep -q "image: $image\$" "$manifest" || die "the manifest does not run the image build.sh makes ($image)"

node "$here/pod_from_daemonset.mjs" "$manifest" --set "etcd-endpoints=$ETCD" --set lease-ttl=10 \
  --probes "$WORK/probes.txt" >"$WORK/pod.yaml" || die "turning the DaemonSet into a Pod failed"
out=$(pod kube play "$WORK/pod.yaml" 2>&1) ||
  die "podman kube play failed: $out"$'\n'"$(cat "$WORK/pod.yaml")"
note "pod up ($((SECONDS - start)) s)"
logs() { pod pod logs knet 2>&1 | tail -n 30; }

# The init container ran to completion before knet-node started.
state=$(pod inspect --format '{{.State.Status}} {{.State.ExitCode}}' knet-install 2>&1) ||
  die "no init container knet-install: $state"
[[ $state == "exited 0" ]] || die "init container: $state: $(logs)"
[[ -x /opt/cni/bin/knet && ! -L /opt/cni/bin/knet ]] || die "knet not installed in /opt/cni/bin: $(ls -l /opt/cni/bin)"
for p in vxlan bandwidth loopback host-local cnitool; do
  [[ $(readlink -f "/opt/cni/bin/$p") == /opt/cni/bin/knet ]] || die "/opt/cni/bin/$p is not a link to knet"
done
conf=/etc/cni/net.d/00-knet.conflist
[[ -f $conf ]] || die "no $conf installed: $(ls -la /etc/cni/net.d)"
want=$(knet_manifest_conflist "$manifest") || die "no conflist in the manifest"
[[ $(jq -S . "$conf") == "$(jq -S . <<<"$want")" ]] || die "$conf differs from the ConfigMap's: $(cat "$conf")"
note "installed: $(ls /opt/cni/bin | tr '\n' ' ')"

# knet-node: healthy on the probes' URL (what kubelet asks), lease in etcd.
mapfile -t urls <"$WORK/probes.txt"
((${#urls[@]})) || die "the manifest has no httpGet probe"
for _ in $(seq 150); do
  code=$(within 5 curl -s -o "$WORK/healthz" -w '%{http_code}' "${urls[0]}" 2>/dev/null) || true
  [[ $code == 200 ]] && break
  sleep 0.1
done
[[ $code == 200 ]] || die "${urls[0]} answered '$code' $(cat "$WORK/healthz" 2>/dev/null) after 15 s: $(logs)"
for u in "${urls[@]}"; do
  code=$(within 5 curl -s -o /dev/null -w '%{http_code}' "$u") || true
  [[ $code == 200 ]] || die "probe $u answered $code"
done
note "knet-node healthy ($((SECONDS - start)) s)"
lease=$(etcdctl get --prefix /knet/network/subnets/ --print-value-only)
grep -q "\"PublicIP\":\"$NODE_IP\"" <<<"${lease// /}" || die "no lease for $NODE_IP in etcd: $lease"
subnet=$(jq -r --arg ip "$NODE_IP" '.nodes[] | select(.vtep == $ip) | .subnet' /run/knet/vxlan-peers.json) ||
  die "no peersFile /run/knet/vxlan-peers.json: $(ls -la /run/knet)"
[[ $subnet == 10.244.*.0/24 ]] || die "this node's subnet in the peersFile is '$subnet'"
ip -d link show knetvx1 | grep -q 'vxlan id 1 ' || die "knet-node made no VTEP knetvx1: $(ip -d link)"
state=$(pod inspect --format '{{.State.Status}} {{.HostConfig.Privileged}} {{.State.Restarting}}' knet-knet-node)
[[ $state == "running false false" ]] || die "knet-node container: $state"

# A pod on this node the way kubelet's runtime adds one: the installed
# cnitool runs the installed conflist from the installed plugins.
ip netns add knetpod
trap 'ip netns del knetpod 2>/dev/null; cleanup' EXIT
out=$(CNI_PATH=/opt/cni/bin NETCONFPATH=/etc/cni/net.d within 30 /opt/cni/bin/cnitool add overlay \
  /var/run/netns/knetpod 2>&1) || die "cnitool add with the installed plugins failed: $out"
addr=$(ip -n knetpod -4 -o addr show dev eth0 | awk '{ print $4 }')
prefix=${subnet%.0/24}
[[ $addr == "$prefix".*/24 ]] || die "the pod got '$addr', not an address of the node's subnet $subnet"
ip netns exec knetpod ping -c 1 -w 5 "$prefix.1" >/dev/null || die "the pod cannot reach its gateway $prefix.1"
out=$(CNI_PATH=/opt/cni/bin NETCONFPATH=/etc/cni/net.d within 30 /opt/cni/bin/cnitool del overlay \
  /var/run/netns/knetpod 2>&1) || die "cnitool del failed: $out"
note "pod got $addr from the node's subnet $subnet"

out=$(pod pod stop -t 10 knet 2>&1) || die "podman pod stop failed: $out"
# SIGTERM: knet-node stops its watch and keepalives and exits 0.
state=$(pod inspect --format '{{.State.Status}} {{.State.ExitCode}}' knet-knet-node)
[[ $state == "exited 0" ]] || die "knet-node after SIGTERM: $state: $(logs)"
echo "PASS: the DaemonSet's pod under podman kube play installed knet and ran a healthy knet-node ($((SECONDS - start)) s)"
