#!/usr/bin/env bash
# Installs everything knet needs to build, test and run its demo, from Debian
# packages only. Safe to run again: apt-get skips what is already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  cmake ninja-build g++ pkg-config
  nlohmann-json3-dev libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev
  libgtest-dev googletest clang libclang-rt-14-dev
  jq iproute2 iputils-ping iperf3 nftables iptables tcpdump procps util-linux kmod strace
  containernetworking-plugins golang-go golang-github-appc-cni-dev
  golang-github-containerd-go-cni-dev
  podman containerd crun runc busybox-static
  libcurl4-openssl-dev libssl-dev etcd-server etcd-client openssl
  dpkg-dev lintian
  catatonit python3-grpcio python3-grpc-tools
)
# Node.js for the manifest's offline validation (test/kubernetes): Debian's
# nodejs + npm unless a node is installed already (another distribution of
# it, e.g. NodeSource's, bundles its own npm and conflicts with Debian's).
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# etcd-server's package starts a host-wide etcd (systemd unit or init script)
# where the machine lets packages start services; the tests start their own
# inside sandbox namespaces and want none on the host.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl disable --now etcd
elif [[ -x /etc/init.d/etcd ]] && /etc/init.d/etcd status >/dev/null 2>&1; then
  /etc/init.d/etcd stop
fi
# The npm packages test/kubernetes pins (package-lock.json), in its
# node_modules (not in git); again only when the lock file changed.
kube_tests=$(cd "$(dirname "$0")/../test/kubernetes" && pwd)
# Without the npm registry the tests that need them skip (ctest lists them).
if ! cmp -s "$kube_tests/package-lock.json" "$kube_tests/node_modules/.knet-lock"; then
  if (cd "$kube_tests" && timeout 600 npm ci --no-audit --no-fund --loglevel=error); then
    cp "$kube_tests/package-lock.json" "$kube_tests/node_modules/.knet-lock"
  else
    echo "install-deps: npm ci in test/kubernetes failed: its tests will skip" >&2
  fi
fi
