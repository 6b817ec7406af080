# Shared by the container-runtime drivers (podman.sh, containerd.sh): the
# sandbox a real runtime runs in, a busybox rootfs, the knet conflist, and the
# assertions. Sourced, never run.
#
# The sandbox is one `unshare --mount --net --pid --fork`: the runtime, its
# monitors and its containers live in a pid namespace that dies with the
# driver (--kill-child), a network namespace that is not the machine's, and a
# private mount namespace where /run, /var/lib/cni, /var/lib/containers ...
# and the scratch directory are fresh tmpfs, so nothing a runtime writes
# survives the test.

set -euo pipefail

die() {
  echo "FAIL: $*" >&2
  exit 1
}
# A package the scenario needs is not installed: ctest reports a skip (77).
skip() {
  echo "SKIP: $*" >&2
  exit 77
}
note() { echo "--- $*" >&2; }

# Bounded command: `within SECONDS cmd...` fails if cmd runs longer.
within() {
  local secs=$1
  shift
  timeout --kill-after=5 "$secs" "$@"
}

# Removes what the outer half of run $1 (a pid) left on the machine: its
# scratch mount point and the cgroup directories its runtime made under the
# cgroup v1 hierarchies.
knet_reap_run() {
  local d
  for d in "${TMPDIR:-/tmp}/knet-ct-$1".* /sys/fs/cgroup/*/"knet-ct-$1"; do
    [[ -d $d ]] || continue
    if [[ $d == /sys/* ]]; then
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    else
      rm -rf "$d"
    fi
  done
}

# Re-executes the calling driver inside the sandbox unless already there. The
# outer half waits for it, then cleans up after it and after earlier runs
# whose outer half was killed (a ctest timeout kills the whole tree).
knet_enter_sandbox() {
  [[ -n ${KNET_CT_INNER:-} ]] && return 0
  [[ $(id -u) == 0 ]] || die "needs root (namespaces, mounts, cgroups)"
  local rc=0 work d pid
  for d in "${TMPDIR:-/tmp}"/knet-ct-* /sys/fs/cgroup/*/knet-ct-*; do
    pid=${d##*/knet-ct-}
    pid=${pid%%.*}
    [[ $pid =~ ^[0-9]+$ && -e $d ]] && ! kill -0 "$pid" 2>/dev/null && knet_reap_run "$pid"
  done
  work=$(mktemp -d "${TMPDIR:-/tmp}/knet-ct-$$.XXXXXX")
  KNET_CT_INNER=1 KNET_CT_TAG=knet-ct-$$ KNET_CT_WORK=$work \
    unshare --mount --net --pid --fork --kill-child --mount-proc --propagation private \
    -- bash "$0" "$@" || rc=$?
  knet_reap_run $$
  exit "$rc"
}

# An empty tmpfs at directory $1 in this mount namespace. Where $1 does not
# exist, the tmpfs goes on its deepest existing ancestor (not / or /etc), so
# the machine's own tree gets no new directories.
mask_dir() {
  local dir=$1 base
  base=$dir
  while [[ ! -d $base ]]; do base=$(dirname "$base"); done
  if [[ $base == / || $base == /etc ]]; then
    mkdir -p "$dir"
    base=$dir
  fi
  mount -t tmpfs -o mode=755 knet-ct "$base"
  mkdir -p "$dir"
}

# Inside the new mount + net namespaces: a sysfs of this netns, the machine's
# cgroup v1 controllers re-mounted (no cgroup2: crun refuses hybrid layouts),
# state directories on tmpfs, lo up. Sets WORK to the tmpfs scratch directory
# and KNET_BIN to knet's plugin dir $1, bound into WORK first so that masking
# the state directories cannot hide it.
knet_setup_sandbox() {
  WORK=$KNET_CT_WORK
  KNET_BIN=$WORK/knet-bin
  mount -t tmpfs -o mode=755 knet-ct "$WORK"
  mkdir "$KNET_BIN"
  mount --bind "$1" "$KNET_BIN"
  local cg
  cg=$(awk '$3 == "cgroup" { print $2 " " $4 }' /proc/mounts)
  [[ -n $cg ]] || die "no cgroup v1 controllers mounted on this machine (mount | grep cgroup)"
  umount -l /sys
  mount -t sysfs sysfs /sys
  mount -t tmpfs -o mode=755 cgroup-root /sys/fs/cgroup
  local target opts
  while read -r target opts; do
    mkdir -p "$target"
    mount -t cgroup -o "$opts" cgroup "$target"
  done <<<"$cg"
  # /usr/lib/cni too: runtimes fall back to it for plugins they miss elsewhere.
  local d
  for d in /run /var/lib/cni /var/lib/containers /var/lib/containerd /etc/cni/net.d \
    /opt/cni/bin /usr/lib/cni; do
    mask_dir "$d"
  done
  ip link set lo up
}

# A busybox root filesystem at $1: a static busybox and the applets the
# scenario runs.
knet_busybox_rootfs() {
  local root=$1 bb applet
  bb=$(command -v busybox) || skip "busybox not installed (apt-get install busybox-static)"
  ! ldd "$bb" >/dev/null 2>&1 || skip "$bb is not static (apt-get install busybox-static)"
  mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,run,root}
  cp "$bb" "$root/bin/busybox"
  for applet in sh ip ping sleep cat ls hostname; do
    ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  : >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
}

# A CNI bin dir at $1 holding only knet's plugins (links named after the
# plugin: the multi-call binary dispatches on its argv[0]).
knet_cni_bin_dir() {
  local dir=$1 p
  mkdir -p "$dir"
  for p in bridge host-local bandwidth loopback; do
    [[ -x $KNET_BIN/$p ]] || die "knet plugin $p missing in the plugin dir (build the knet target)"
    ln -s "$KNET_BIN/$p" "$dir/$p"
  done
}

# Writes the knet conflist ($NET on bridge $BRIDGE, $SUBNET/24 leased from
# host-local with state under $IPAM_DIR, then bandwidth) into dir $1.
knet_conflist() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/10-$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$IPAM_DIR"
      }
    },
    {
      "type": "bandwidth",
      "ingressRate": 1000000000,
      "ingressBurst": 10000000,
      "egressRate": 1000000000,
      "egressBurst": 10000000
    }
  ]
}
EOF
}

# The IPv4 address of eth0 as the container sees it, from `ip addr` run inside
# by the caller's exec function $1 (e.g. podman_exec) for container $2.
container_addr() {
  local out
  out=$("$1" "$2" ip -4 -o addr show dev eth0) || die "ip addr in $2 failed: $out"
  sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' <<<"$out" | head -n1
}

# Asserts what two running containers with addresses $2 and $3 must show,
# using exec function $1 and container names c1 c2.
assert_attached() {
  local exec=$1 a1=$2 a2=$3 a
  for a in "$a1" "$a2"; do
    [[ $a == "$SUBNET".* ]] || die "container address '$a' is not in $SUBNET.0/24"
    [[ -f $IPAM_DIR/$NET/$a ]] || die "host-local holds no lease file $IPAM_DIR/$NET/$a"
  done
  [[ $a1 != "$a2" ]] || die "both containers got $a1"
  ip -o link show dev "$BRIDGE" >/dev/null 2>&1 || die "bridge $BRIDGE missing in the sandbox host"
  local out
  out=$(ip -4 -o addr show dev "$BRIDGE")
  grep -q " $SUBNET.1/24" <<<"$out" || die "bridge $BRIDGE has no gateway address $SUBNET.1/24: $out"
  local veths
  veths=$(ip -o link show type veth master "$BRIDGE" | wc -l)
  [[ $veths == 2 ]] || die "expected 2 veths on $BRIDGE, found $veths: $(ip -o link show type veth)"
  local v
  for v in $(ip -o link show type veth master "$BRIDGE" | awk -F'[:@]' '{ gsub(/ /, "", $2); print $2 }'); do
    # knet's bridge tags the host end with its owner: proof that knet ran.
    out=$(cat "/sys/class/net/$v/ifalias")
    [[ $out == "knet:$NET:"* ]] || die "host veth $v has alias '$out', not knet's owner tag knet:$NET:..."
    out=$(tc qdisc show dev "$v")
    grep -q '^qdisc tbf' <<<"$out" || die "bandwidth left no tbf qdisc on host veth $v: $out"
  done
  out=$("$exec" c1 ip route show)
  grep -q "default via $SUBNET.1" <<<"$out" || die "c1 has no default route via $SUBNET.1: $out"
  "$exec" c1 ping -c 1 -w 5 "$SUBNET.1" >/dev/null || die "c1 cannot ping the gateway $SUBNET.1"
  "$exec" c2 ping -c 1 -w 5 "$SUBNET.1" >/dev/null || die "c2 cannot ping the gateway $SUBNET.1"
  "$exec" c1 ping -c 1 -w 5 "$a2" >/dev/null || die "c1 cannot ping c2 at $a2"
  "$exec" c2 ping -c 1 -w 5 "$a1" >/dev/null || die "c2 cannot ping c1 at $a1"
}

# Asserts that removing both containers released what ADD took.
assert_released() {
  local a
  for a in "$@"; do
    [[ ! -e $IPAM_DIR/$NET/$a ]] || die "lease $IPAM_DIR/$NET/$a still held after removal"
  done
  local left
  left=$(ip -o link show type veth)
  [[ -z $left ]] || die "veths left in the sandbox host after removal: $left"
  left=$(ip -o link show type ifb)
  [[ -z $left ]] || die "ifb devices left in the sandbox host after removal: $left"
}

# The scenario once containers c1 and c2 run: both attached (through exec
# function $1), then removed by function $2, then everything released.
knet_check_lifecycle() {
  local exec=$1 remove=$2 a1 a2
  a1=$(container_addr "$exec" c1)
  a2=$(container_addr "$exec" c2)
  note "c1=$a1 c2=$a2"
  assert_attached "$exec" "$a1" "$a2"
  "$remove"
  assert_released "$a1" "$a2"
}

# Points podman at the sandbox: containers.conf and storage.conf in $WORK
# (exported as CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) with a vfs store
# there, OCI runtime $1, ulimits this machine lets root set (it lacks
# CAP_SYS_RESOURCE), and the CNI backend reading $WORK/cni-conf and
# $WORK/cni-bin. `pod` runs podman with them, bounded.
knet_podman_config() {
  cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
default_sysctls = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
runtime = "$(basename "$1")"
tmp_dir = "$WORK/libpod-tmp"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$WORK/cni-bin"]
network_config_dir = "$WORK/cni-conf"
CONF
  cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$WORK/storage"
runroot = "$WORK/storage-run"
CONF
  export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf
}
pod() { within 60 podman --log-level=error --cgroup-manager=cgroupfs "$@"; }
