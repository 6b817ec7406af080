#!/bin/bash
# knet under containerd 1.6: `ctr run --cni` starts two busybox containers from
# a local rootfs (no image, no network) on a knet bridge + host-local +
# bandwidth network. ctr looks for the conflist in /etc/cni/net.d and the
# plugins in /opt/cni/bin (then /usr/lib/cni): in the sandbox's mount
# namespace those hold only knet's. Usage: containerd.sh <knet plugin dir>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/sandbox.sh"
knet_enter_sandbox "$@"

plugins=$(readlink -f "${1:?usage: containerd.sh <knet plugin dir>}")
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
  skip "containerd/ctr not installed (apt-get install containerd)"
fi
runtime=$(command -v runc || command -v crun) || skip "no OCI runtime (apt-get install runc)"
knet_setup_sandbox "$plugins"

NET=knetctr BRIDGE=knetctr0 SUBNET=10.89.8 IPAM_DIR=$WORK/ipam
knet_cni_bin_dir /opt/cni/bin
knet_conflist /etc/cni/net.d
knet_busybox_rootfs "$WORK/rootfs1"
knet_busybox_rootfs "$WORK/rootfs2"

export CONTAINERD_ADDRESS=$WORK/containerd.sock CONTAINERD_NAMESPACE=knet
cat >"$WORK/containerd.toml" <<CONF
version = 2
root = "$WORK/containerd-root"
state = "$WORK/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_ADDRESS"
CONF

containerd --config "$WORK/containerd.toml" --log-level warn >"$WORK/containerd.log" 2>&1 &
daemon=$!
declare -A runs=()
cleanup() {
  local c
  for c in "${!runs[@]}"; do
    within 10 ctr task kill -s SIGKILL "$c" >/dev/null 2>&1 || true
  done
  for c in "${!runs[@]}"; do
    within 20 tail --pid="${runs[$c]}" -f /dev/null || true
  done
  kill "$daemon" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 100); do
  within 5 ctr version >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || die "containerd exited: $(tail -n 20 "$WORK/containerd.log")"
  sleep 0.1
done
within 5 ctr version >/dev/null 2>&1 || die "containerd not serving after 10 s: $(tail -n 20 "$WORK/containerd.log")"

# Runs an applet in container $1. ctr task exec may drop the output of a
# process that exits right after printing (concourse/concourse#6775 saw it
# too), so the output goes to a file in the container's rootfs, read here.
ctr_exec() {
  local out=$WORK/rootfs${1#c}/knet-out rc=0
  rm -f "$out"
  within 30 ctr task exec --exec-id "e$RANDOM$RANDOM" "$1" \
    /bin/sh -c '"$@" >/knet-out 2>&1' sh "${@:2}" || rc=$?
  cat "$out" 2>/dev/null
  return "$rc"
}

# `ctr run` without --detach: it runs CNI ADD before starting the task and DEL
# (network.Remove) once the task exits, so it stays in the background.
start=$SECONDS
for c in c1 c2; do
  ctr run --cni --rm --null-io --runc-binary "$runtime" --cgroup "/$KNET_CT_TAG/$c" \
    --rootfs "$WORK/rootfs${c#c}" "$c" /bin/sleep 600 >"$WORK/ctr-$c.log" 2>&1 &
  runs[$c]=$!
done
for c in c1 c2; do
  for _ in $(seq 150); do
    status=$(within 5 ctr task ls 2>/dev/null | awk -v c="$c" '$1 == c { print $3 }') || true
    [[ $status == RUNNING ]] && break
    kill -0 "${runs[$c]}" 2>/dev/null || die "ctr run --cni $c exited: $(cat "$WORK/ctr-$c.log")"
    sleep 0.1
  done
  [[ $status == RUNNING ]] || die "task $c not running after 15 s: $(cat "$WORK/ctr-$c.log")"
done
note "two containers up in $((SECONDS - start)) s"

# Killing the tasks makes each `ctr run` run CNI DEL and return.
remove_containers() {
  local c out
  for c in c1 c2; do
    out=$(within 10 ctr task kill -s SIGKILL "$c" 2>&1) || die "ctr task kill $c failed: $out"
  done
  for c in c1 c2; do
    within 30 tail --pid="${runs[$c]}" -f /dev/null || die "ctr run $c did not return after its task was killed"
    unset "runs[$c]"
    ! grep -qi 'error' "$WORK/ctr-$c.log" || die "ctr run $c reported: $(cat "$WORK/ctr-$c.log")"
  done
}
knet_check_lifecycle ctr_exec remove_containers
echo "PASS: containerd ran two busybox containers on knet's bridge/host-local/bandwidth ($((SECONDS - start)) s)"
