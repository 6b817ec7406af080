#!/bin/bash
# knet under podman 4 (CNI network backend): two busybox containers on a knet
# bridge + host-local + bandwidth network, run from a local rootfs (no image,
# no network). Usage: podman.sh <dir with knet's plugin links>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/sandbox.sh"
knet_enter_sandbox "$@"

plugins=$(readlink -f "${1:?usage: podman.sh <knet plugin dir>}")
command -v podman >/dev/null || skip "podman not installed (apt-get install podman)"
runtime=$(command -v crun || command -v runc) || skip "no OCI runtime (apt-get install crun)"
knet_setup_sandbox "$plugins"

NET=knetpod BRIDGE=knetpod0 SUBNET=10.89.7 IPAM_DIR=$WORK/ipam
knet_cni_bin_dir "$WORK/cni-bin"
knet_conflist "$WORK/cni-conf"
knet_busybox_rootfs "$WORK/rootfs1"
knet_busybox_rootfs "$WORK/rootfs2"

knet_podman_config "$runtime"

podman_exec() { pod exec "$1" "${@:2}"; }

nets=$(pod network ls --format '{{.Name}}' 2>&1) || die "podman network ls failed: $nets"
grep -qx "$NET" <<<"$nets" || die "podman does not list network $NET from the knet conflist: $nets"

cleanup() {
  within 60 podman --log-level=error rm -f -t 0 c1 c2 >/dev/null 2>&1 || true
}
trap cleanup EXIT

start=$SECONDS
for c in c1 c2; do
  out=$(pod run -d --name "$c" --network "$NET" --cap-add NET_RAW \
    --cgroup-parent "/$KNET_CT_TAG" --rootfs "$WORK/rootfs${c#c}" /bin/sleep 600 2>&1) ||
    die "podman run $c on $NET failed: $out"
done
note "two containers up in $((SECONDS - start)) s"

remove_containers() {
  local out
  out=$(pod rm -f -t 0 c1 c2 2>&1) || die "podman rm failed: $out"
}
knet_check_lifecycle podman_exec remove_containers
echo "PASS: podman ran two busybox containers on knet's bridge/host-local/bandwidth ($((SECONDS - start)) s)"
