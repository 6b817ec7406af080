#!/usr/bin/env bash
# The Debian package (cmake/Packaging.cmake): `cpack -G DEB` from the build
# dir; `dpkg-deb -c` lists what it should and nothing else; Depends names the
# package of every shared library the executables load; `dpkg-deb -x` into a
# temp root gives working plugins; lintian finds no error; and dpkg installs
# it into a temp root (--root), removes it leaving only the conffile, and
# purges it leaving nothing. Runs in test/containers/sandbox.sh's private
# namespaces; cpack's absolute destinations (/opt/cni/bin, /etc/default,
# /lib/systemd/system) are tmpfs there, so a staging mistake cannot reach the
# machine. Usage: deb.sh <build dir>
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../containers/sandbox.sh"
knet_enter_sandbox "$@"

build=$(readlink -f "${1:?usage: deb.sh <build dir>}")
[[ -x $build/bin/knet && -x $build/bin/knet-node && -f $build/CPackConfig.cmake ]] ||
  die "build knet and knet-node in $build first"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v $tool >/dev/null || skip "$tool not installed (apt-get install cmake dpkg-dev)"
done
WORK=$KNET_CT_WORK
mount -t tmpfs -o mode=755 knet-deb "$WORK"
for d in /opt/cni/bin /etc/default /lib/systemd/system; do mask_dir "$d"; done
start=$SECONDS

note "cpack -G DEB"
out=$(cd "$build" && within 120 cpack -G DEB -B "$WORK/out" 2>&1) || die "cpack failed: $out"
debs=("$WORK"/out/knet_*.deb)
[[ -f ${debs[0]} && ${#debs[@]} == 1 ]] || die "cpack made no single knet_*.deb: $(ls "$WORK/out")"
deb=${debs[0]}
note "$(basename "$deb"): $(stat -c %s "$deb") bytes ($((SECONDS - start)) s)"

note "dpkg-deb -c: the files, links and nothing else"
list=$(dpkg-deb -c "$deb" | awk '{ p = $6; if ($7 == "->") p = p " -> " $8; print p }')
plugins=(bandwidth bridge cnitool host-local loopback macvlan vxlan)
expect=(./opt/cni/bin/knet ./usr/bin/knet-node "./usr/bin/knet -> /opt/cni/bin/knet"
  ./lib/systemd/system/knet-node.service ./etc/default/knet-node ./usr/share/doc/knet/copyright
  ./usr/share/doc/knet/changelog.gz ./usr/share/doc/knet/README.md ./usr/share/doc/knet/deploy.md
  ./usr/share/doc/knet/knet-node.md ./usr/share/doc/knet/examples/vxlan-l3.conflist
  ./usr/share/lintian/overrides/knet ./usr/share/man/man1/knet.1.gz ./usr/share/man/man1/knet-node.1.gz)
for p in "${plugins[@]}"; do expect+=("./opt/cni/bin/$p -> knet"); done
for e in "${expect[@]}"; do
  grep -qxF -- "$e" <<<"$list" || die "the package lacks '$e'; it holds: $list"
done
# Nothing else in the bin dirs, nothing under /usr/local, no test or bench binary.
extra=$(grep -E '^\./(opt/cni/bin|usr/bin)/[^/]' <<<"$list" | grep -vxF -f <(printf '%s\n' "${expect[@]}") || true)
[[ -z $extra ]] || die "unexpected executables in the package: $extra"
! grep -qE '^\./usr/local|_test|bench' <<<"$list" || die "the package holds build-tree files: $list"

note "control: Depends from the libraries actually linked, the conffile, the scripts"
control=$(dpkg-deb -f "$deb")
depends=$(dpkg-deb -f "$deb" Depends)
for exe in knet knet-node; do
  for lib in $(objdump -p "$build/bin/$exe" | awk '$1 == "NEEDED" { print $2 }'); do
    # (awk reads to the end: an early exit would SIGPIPE the producer under pipefail)
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && $NF ~ /^\// && !p { p = $NF } END { print p }')
    [[ -n $path ]] || die "$exe needs $lib, which ldconfig does not know"
    pkg=$({ dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path"; } | awk -F: 'NR == 1 { print $1 }')
    [[ -n $pkg ]] || die "no package owns $path ($lib of $exe)"
    grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || die "$exe loads $lib of $pkg, missing from Depends: $depends"
  done
done
grep -q '^ *libcurl' <<<"$(tr ',' '\n' <<<"$depends")" || die "Depends lacks libcurl (knet-node): $depends"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
[[ $conffiles == /etc/default/knet-node ]] || die "conffiles is '$conffiles'"
grep -q '^Section: net' <<<"$control" || die "no Section: net in: $control"

note "dpkg-deb -x: working plugins"
root=$WORK/x
dpkg-deb -x "$deb" "$root"
for p in "${plugins[@]}"; do
  [[ $p == cnitool ]] && continue
  v=$(CNI_COMMAND=VERSION "$root/opt/cni/bin/$p" </dev/null) || die "$p from the package fails VERSION"
  grep -q supportedVersions <<<"$v" || die "$p from the package answered: $v"
done
"$root/opt/cni/bin/knet" install --help | grep -q -- --bin-dir || die "knet install --help from the package"
"$root/usr/bin/knet-node" --help | grep -q -- --etcd-endpoints || die "knet-node --help from the package"
grep -qx "ExecStart=/usr/bin/knet-node \$KNET_NODE_ARGS" "$root/lib/systemd/system/knet-node.service" ||
  die "the unit does not start /usr/bin/knet-node: $(cat "$root/lib/systemd/system/knet-node.service")"

note "dpkg --root: install, remove (only the conffile stays), purge (nothing stays)"
target=$WORK/target
mkdir -p "$target/var/lib/dpkg/info" "$target/var/lib/dpkg/updates"
: >"$target/var/lib/dpkg/status"
files() { (cd "$target" && find . -mindepth 1 -not -path './var/lib/dpkg*' -not -path ./var/lib -not -path ./var | sort); }
# Chrootless: the maintainer scripts run here with DPKG_ROOT set, and touch
# nothing outside it (no systemctl then). The temp root has no libc6: --force-depends.
dpkgr() { within 60 dpkg --root="$target" --force-script-chrootless --force-depends "$@"; }
out=$(dpkgr -i "$deb" 2>&1) || die "dpkg -i failed: $out"
[[ -x $target/opt/cni/bin/knet && -L $target/opt/cni/bin/bridge ]] || die "dpkg -i did not install the plugins"
mkdir -p "$target/run/knet" && : >"$target/run/knet/vxlan-peers.json"  # what knet-node leaves
# What `systemctl enable knet-node` makes.
mkdir -p "$target/etc/systemd/system/multi-user.target.wants"
ln -s /lib/systemd/system/knet-node.service "$target/etc/systemd/system/multi-user.target.wants/"
out=$(dpkgr -r knet 2>&1) || die "dpkg -r failed: $out"
rm -d "$target/etc/systemd/system/multi-user.target.wants" "$target/etc/systemd/system" "$target/etc/systemd" ||
  die "dpkg -r left the unit's wants-link: $(files)"
left=$(files)
[[ $left == $'./etc\n./etc/default\n./etc/default/knet-node\n./run\n./run/knet\n./run/knet/vxlan-peers.json' ]] ||
  die "dpkg -r left more than the conffile (and knet-node's run dir): $left"
out=$(dpkgr -P knet 2>&1) || die "dpkg -P failed: $out"
left=$(files)
[[ $left == ./run ]] || die "dpkg -P left: $left"

if command -v lintian >/dev/null; then
  note "lintian"
  out=$(within 120 lintian --pedantic "$deb" 2>&1 | grep -v 'running with root privileges' || true)
  grep -q '^E:' <<<"$out" && die "lintian errors: $out"
  tags=$(grep -E '^[WIPX]:' <<<"$out" || true)
  note "lintian --pedantic: no errors, $(grep -c . <<<"$tags") warnings or notes${tags:+: }$(tr '\n' ';' <<<"$tags")"
else
  skip "lintian not installed (apt-get install lintian); everything else passed"
fi
echo "PASS: the .deb ($(stat -c %s "$deb") bytes; Depends: $depends) ($((SECONDS - start)) s)"
