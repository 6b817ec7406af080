#!/usr/bin/env bash
# `knet uninstall` in temp dirs after a `knet install --exclusive`: what
# install wrote is removed, what it moved aside comes back with --restore,
# other files stay (named), a second run does nothing, --keep-binaries, bad
# command lines, and kill -9 at random moments (a conflist never outlives the
# plugins it runs; the next run finishes). Touches nothing outside its temp
# dir. Usage: uninstall.sh <knet's plugin dir (build/bin)>
set -euo pipefail
plugins=$(cd "${1:?usage: uninstall.sh <knet plugin dir>}" && pwd)
[[ -x $plugins/knet ]] || { echo "FAIL: no $plugins/knet (build the knet target)" >&2; exit 1; }
die() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*" >&2; }

tmp=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && tmp=/dev/shm
work=$(mktemp -d "$tmp/knet-uninstall-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
knet=$work/src/knet
mkdir -p "$work/src"
objcopy --strip-debug "$plugins/knet" "$knet"
bin=$work/opt/cni/bin conf=$work/etc/cni/net.d
dirs=(--bin-dir "$bin" --conf-dir "$conf")
cat >"$work/10-knet.conflist" <<'JSON'
{ "cniVersion": "1.0.0", "name": "knet",
  "plugins": [ { "type": "bridge", "ipam": { "type": "host-local", "subnet": "10.99.0.0/24" } } ] }
JSON
run() {  # run <knet args...>: sets rc, out, err
  rc=0
  "$knet" "$@" >"$work/out" 2>"$work/err" || rc=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
}
snapshot() {
  (cd "$work" && find opt etc -printf '%p %y %i %s %l\n' 2>/dev/null | sort)
}
# What a node looks like before knet: another network's configs, another
# vendor's plugin, a file that is not a config.
node_before() {
  rm -rf "$work/opt" "$work/etc"
  mkdir -p "$bin" "$conf"
  echo '{ "cniVersion": "1.0.0", "name": "other", "plugins": [ { "type": "portmap" } ] }' >"$conf/05-other.conflist"
  echo '{ "cniVersion": "0.4.0", "name": "y", "type": "bridge" }' >"$conf/99-y.conf"
  echo 'not a config' >"$conf/README"
  printf '#!/bin/sh\nexit 0\n' >"$bin/portmap"
  chmod 755 "$bin/portmap"
}
install_knet() {
  run install "${dirs[@]}" --conflist "$work/10-knet.conflist" --exclusive
  [[ $rc == 0 ]] || die "install exited $rc: $err"
}
knet_files() {  # what of knet's is on the node, one per line
  find "$bin" -maxdepth 1 \( -name knet -o -lname knet \) -printf '%f\n' 2>/dev/null | sort
  [[ -e $conf/10-knet.conflist ]] && echo 10-knet.conflist
  find "$conf" -maxdepth 1 -name '*.knet_bak' -printf '%f\n' 2>/dev/null | sort
}

note "install --exclusive, then uninstall --restore: the node as before"
node_before
before=$(cd "$work" && find opt etc -type f -exec sha256sum {} + | sort)
install_knet
[[ -e $conf/05-other.conflist.knet_bak && -x $bin/bridge ]] || die "install did not do what this test expects"
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore
[[ $rc == 0 ]] || die "uninstall exited $rc: $err"
[[ -z $(knet_files) ]] || die "uninstall left knet's files: $(knet_files)"
after=$(cd "$work" && find opt etc -type f -exec sha256sum {} + | sort)
[[ $before == "$after" ]] || die "the node is not as before: $(diff <(echo "$before") <(echo "$after"))"
grep -q "restored $conf/05-other.conflist.knet_bak -> $conf/05-other.conflist" <<<"$out" ||
  die "uninstall did not say what it restored: $out"
grep -q "removed $bin/bridge" <<<"$out" || die "uninstall did not say what it removed: $out"

note "again: nothing to do, nothing touched"
snap=$(snapshot)
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore
[[ $rc == 0 ]] && grep -q "nothing to do" <<<"$out" || die "second uninstall: exit $rc: $out $err"
[[ $(snapshot) == "$snap" ]] || die "second uninstall changed files"
run uninstall --bin-dir "$work/none/bin" --conf-dir "$work/none/net.d" --conf-name 10-knet.conflist
[[ $rc == 0 ]] && grep -q "nothing to do" <<<"$out" || die "uninstall from missing dirs: exit $rc: $out $err"
[[ ! -e $work/none ]] || die "uninstall created the missing dirs"

note "without --restore the moved-aside configs stay aside; --keep-binaries keeps the plugins"
node_before
install_knet
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --keep-binaries
[[ $rc == 0 ]] || die "uninstall --keep-binaries exited $rc: $err"
[[ ! -e $conf/10-knet.conflist && -e $conf/05-other.conflist.knet_bak && ! -e $conf/05-other.conflist ]] ||
  die "uninstall without --restore: $(ls "$conf")"
[[ -f $bin/knet && -L $bin/bridge ]] || die "--keep-binaries removed the plugins: $(ls "$bin")"
note "a config back in place is not overwritten by its backup"
echo '{ "cniVersion": "1.0.0", "name": "new", "plugins": [ { "type": "portmap" } ] }' >"$conf/05-other.conflist"
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore
[[ $rc == 0 ]] || die "uninstall --restore exited $rc: $err"
grep -q '"new"' "$conf/05-other.conflist" || die "a backup overwrote the config put back meanwhile"
[[ -e $conf/05-other.conflist.knet_bak && -e $conf/99-y.conf ]] || die "restore: $(ls "$conf")"
grep -q "note: $conf/05-other.conflist.knet_bak not restored" <<<"$out" || die "the kept backup is not named: $out"
[[ -x $bin/portmap && ! -e $bin/knet && ! -e $bin/bridge ]] || die "binaries: $(ls -l "$bin")"

note "what is not knet's stays, named"
node_before
install_knet
rm "$bin/macvlan"
printf '#!/bin/sh\nexit 0\n' >"$bin/macvlan"  # another vendor's macvlan
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore
[[ $rc == 0 ]] || die "uninstall exited $rc: $err"
[[ -f $bin/macvlan && ! -e $bin/knet ]] || die "another vendor's macvlan: $(ls -l "$bin")"
grep -q "note: $bin/macvlan is not a link to knet" <<<"$out" || die "another vendor's macvlan is not named: $out"
mkdir "$conf/10-knet.conflist"
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist
[[ $rc == 0 && -d $conf/10-knet.conflist ]] || die "a directory named like the conflist: exit $rc, $(ls -l "$conf")"
grep -q "is not a regular file" <<<"$out" || die "the directory in the conflist's place is not named: $out"

note "bad command lines"
run uninstall --bin-dir "$bin" --conf-dir "$conf"
[[ $rc == 2 ]] && grep -q -- "--conf-name is required" <<<"$err" || die "missing --conf-name: exit $rc: $err"
run uninstall "${dirs[@]}" --conf-name 10-knet.conf
[[ $rc == 2 ]] && grep -q "conflist" <<<"$err" || die "--conf-name without .conflist: exit $rc: $err"
run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore=yes
[[ $rc == 2 ]] && grep -q -- "--restore takes no value" <<<"$err" || die "--restore=yes: exit $rc: $err"
run uninstall --help
[[ $rc == 0 ]] && grep -q -- "--keep-binaries" <<<"$out" || die "--help: exit $rc: $out"

note "kill -9 at random moments: the conflist never outlives its plugins; the next run finishes"
# The kills land evenly spread up to the moment an uninstall ends, from a
# third of an exec of knet that does nothing (shortest of three each): the
# uninstall's own work is a fraction of a millisecond after knet's start-up.
lo_us=100000000 hi_us=100000000
for _ in 1 2 3; do
  node_before
  install_knet
  # Through timeout(1), as the kills are: the same start-up before knet.
  t0=${EPOCHREALTIME/./}
  timeout 60 "$knet" uninstall --help >/dev/null
  t1=${EPOCHREALTIME/./}
  timeout 60 "$knet" uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore >/dev/null
  t2=${EPOCHREALTIME/./}
  ((t1 - t0 < lo_us)) && lo_us=$((t1 - t0))
  ((t2 - t1 < hi_us)) && hi_us=$((t2 - t1))
done
((hi_us > lo_us)) || hi_us=$((lo_us + 1000))
rounds=${KNET_UNINSTALL_KILL_ROUNDS:-40}
untouched=0 partial=0 done_=0
links=$(find "$plugins" -maxdepth 1 -lname knet -printf '%f\n' | grep -cvxE 'install|inspect|uninstall')
for ((r = 0; r < rounds; r++)); do
  node_before
  install_knet
  # Spread evenly from a third of the do-nothing exec to the whole uninstall.
  us=$((lo_us / 3 + (hi_us - lo_us / 3) * r / rounds))
  timeout --foreground -s KILL "$((us / 1000000)).$(printf %06d $((us % 1000000)))" \
    "$knet" uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore >/dev/null 2>&1 || true
  have_links=$(find "$bin" -maxdepth 1 -lname knet | wc -l)
  if [[ -e $conf/10-knet.conflist ]]; then
    [[ -f $bin/knet && $have_links == "$links" ]] ||
      die "round $r: the conflist is still there but the plugins are not: $(ls "$bin")"
  fi
  ((have_links == 0)) || [[ -f $bin/knet ]] || die "round $r: links to knet without knet"
  n=$(knet_files | wc -l)
  if ((n == links + 1 + 1 + 2)); then ((++untouched)); elif ((n == 0)); then ((++done_)); else ((++partial)); fi
  run uninstall "${dirs[@]}" --conf-name 10-knet.conflist --restore
  [[ $rc == 0 ]] || die "round $r: the uninstall after a kill exited $rc: $err"
  [[ -z $(knet_files) && -e $conf/05-other.conflist && -e $conf/99-y.conf && -x $bin/portmap ]] ||
    die "round $r: the uninstall after a kill did not finish: $(knet_files)"
done
note "$rounds kills between ${lo_us} and ${hi_us} us: $untouched before any change, $partial in the middle, $done_ after the last"
echo "PASS: knet uninstall (restore, idempotent, keep-binaries, foreign files kept, bad flags, $rounds kill -9 rounds)"
