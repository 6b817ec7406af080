#!/usr/bin/env bash
# `knet install` into temp dirs: a fresh install, the same again (nothing
# rewritten), a conflist that does not parse and one naming a plugin that is
# not there (both refused, nothing changed), bad command lines, --exclusive,
# and kill -9 at random moments (every file is the old or the new one, never
# partial; the next run finishes the job). Touches nothing outside its temp
# dir. Usage: install.sh <knet's plugin dir (build/bin)>
set -euo pipefail
plugins=$(cd "${1:?usage: install.sh <knet plugin dir>}" && pwd)
[[ -x $plugins/knet ]] || { echo "FAIL: no $plugins/knet (build the knet target)" >&2; exit 1; }
die() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*" >&2; }

# On tmpfs when there is one: the kill loop copies the (unstripped, tens of
# MB) executable dozens of times, and fsync on a disk would dominate.
tmp=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && tmp=/dev/shm
work=$(mktemp -d "$tmp/knet-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The executable as it ships (without debug info): what is copied is what a
# node gets, and the test stays quick.
knet=$work/src/knet
mkdir -p "$work/src"
objcopy --strip-debug "$plugins/knet" "$knet"
bin=$work/opt/cni/bin conf=$work/etc/cni/net.d
# The programs that must become links: every link of the build dir but the
# tools (`knet install`, `knet uninstall` and `knet inspect` run as `knet <tool>`, never from a bin dir).
linked=()
for l in "$plugins"/*; do
  [[ -L $l && $(readlink "$l") == knet ]] || continue
  n=$(basename "$l")
  [[ $n == install || $n == inspect || $n == uninstall ]] || linked+=("$n")
done
((${#linked[@]} >= 6)) || die "expected at least 6 plugin links in $plugins, found: ${linked[*]}"

conflist() {  # conflist FILE NAME [extra plugin type]
  local extra=""
  [[ -n ${3:-} ]] && extra=", { \"type\": \"$3\" }"
  cat >"$1" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$2",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "ipam": { "type": "host-local", "subnet": "10.99.0.0/24" } },
    { "type": "bandwidth", "capabilities": { "bandwidth": true } }$extra
  ]
}
JSON
}
# Everything under the temp root with its inode, size and content digest (or
# link target): equal snapshots mean nothing was touched.
snapshot() {
  (cd "$work" && find opt etc -printf '%p %y %i %s %l\n' 2>/dev/null | sort &&
    find opt etc -type f -exec sha256sum {} + 2>/dev/null | sort)
}
run_install() {  # run_install OUT_VAR_PREFIX args...: sets rc, out, err
  rc=0
  "$knet" install "$@" >"$work/out" 2>"$work/err" || rc=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
}
args=(--bin-dir "$bin" --conf-dir "$conf")

note "fresh install"
conflist "$work/10-knet.conflist" knet
run_install "${args[@]}" --conflist "$work/10-knet.conflist"
[[ $rc == 0 ]] || die "fresh install exited $rc: $err"
cmp -s "$knet" "$bin/knet" || die "$bin/knet is not a copy of $knet"
[[ $(stat -c %a "$bin/knet") == 755 ]] || die "$bin/knet has mode $(stat -c %a "$bin/knet"), not 755"
for p in "${linked[@]}"; do
  [[ -L $bin/$p && $(readlink "$bin/$p") == knet ]] || die "$bin/$p is not a link to knet"
done
[[ ! -e $bin/install ]] || die "$bin/install exists: a tool got a plugin link"
cmp -s "$work/10-knet.conflist" "$conf/10-knet.conflist" || die "conflist not installed as $conf/10-knet.conflist"
v=$(CNI_COMMAND=VERSION "$bin/bridge" </dev/null) || die "installed bridge does not answer VERSION"
grep -q '"supportedVersions"' <<<"$v" || die "installed bridge's VERSION answer is odd: $v"
[[ -z $(find "$work/opt" "$work/etc" -name '*.tmp.*') ]] || die "temp files left: $(find "$work" -name '*.tmp.*')"
grep -q "files installed" <<<"$out" || die "fresh install did not say what it installed: $out"

note "again: idempotent"
before=$(snapshot)
run_install "${args[@]}" --conflist "$work/10-knet.conflist"
[[ $rc == 0 ]] || die "second install exited $rc: $err"
grep -q "nothing to do" <<<"$out" || die "second install did not say it had nothing to do: $out"
[[ $(snapshot) == "$before" ]] || die "second install changed files: $(diff <(echo "$before") <(snapshot))"

note "a conflist that does not parse: refused, nothing changed"
printf '{ "cniVersion": "1.0.0", "name": "broken", "plugins": [ { "type": "bridge" ' >"$work/20-broken.conflist"
run_install "${args[@]}" --conflist "$work/20-broken.conflist"
[[ $rc == 3 ]] || die "broken conflist: exit $rc, expected 3 (stdout: $out, stderr: $err)"
grep -q "refused, nothing changed.*does not parse" <<<"$err" || die "broken conflist: unclear message: $err"
[[ $(snapshot) == "$before" ]] || die "a refused conflist changed files"
echo '{ "cniVersion": "1.0.0", "name": "x", "plugins": [ { "bridge": "cni0" } ] }' >"$work/21-notype.conflist"
run_install "${args[@]}" --conflist "$work/21-notype.conflist"
[[ $rc == 3 ]] || die "conflist without type: exit $rc, expected 3 ($err)"
grep -q "type" <<<"$err" || die "conflist without type: the message does not name the key: $err"

note "a plugin type that is not installed: refused, naming it"
conflist "$work/30-portmap.conflist" knet portmap
run_install "${args[@]}" --conflist "$work/30-portmap.conflist"
[[ $rc == 3 ]] || die "missing plugin: exit $rc, expected 3 ($err)"
grep -q '"portmap" is not installed' <<<"$err" || die "missing plugin: the message does not name portmap: $err"
[[ $(snapshot) == "$before" ]] || die "a refused conflist changed files"
# Another vendor's plugin already in the bin dir is fine.
printf '#!/bin/sh\nexit 0\n' >"$bin/portmap"
chmod 755 "$bin/portmap"
run_install "${args[@]}" --conflist "$work/30-portmap.conflist"
[[ $rc == 0 ]] || die "a conflist with an installed portmap was refused: $err"
rm -f "$bin/portmap" "$conf/30-portmap.conflist"

note "bad command lines"
run_install --conf-dir "$conf" --conflist "$work/10-knet.conflist"
[[ $rc == 2 ]] && grep -q -- "--bin-dir is required" <<<"$err" || die "missing --bin-dir: exit $rc: $err"
run_install "${args[@]}" --conflist "$work/10-knet.conflist" --conf-name 10-knet.conf
[[ $rc == 2 ]] && grep -q "conflist" <<<"$err" || die "--conf-name without .conflist: exit $rc: $err"
run_install "${args[@]}" --conflist "$work/10-knet.conflist" --frobnicate
[[ $rc == 2 ]] && grep -q -- "--frobnicate" <<<"$err" || die "unknown flag: exit $rc: $err"
run_install "${args[@]}" --conflist "$work/absent.conflist"
[[ $rc == 4 ]] && grep -q "absent.conflist" <<<"$err" || die "unreadable conflist: exit $rc: $err"
run_install --help
[[ $rc == 0 ]] && grep -q -- "--exclusive" <<<"$out" || die "--help: exit $rc: $out"

note "--exclusive moves the other configs aside, without it they are named"
conflist "$conf/05-other.conflist" other
echo '{ "cniVersion": "0.4.0", "name": "y", "type": "bridge" }' >"$conf/99-y.conf"
echo '{}' >"$conf/50-z.json"
echo 'not a config' >"$conf/README"
run_install "${args[@]}" --conflist "$work/10-knet.conflist"
[[ $rc == 0 ]] || die "install next to other configs exited $rc: $err"
grep -q "note: $conf/05-other.conflist sorts before 10-knet.conflist" <<<"$out" ||
  die "05-other.conflist, which a runtime would load first, is not named: $out"
[[ -f $conf/05-other.conflist ]] || die "without --exclusive another config was moved"
run_install "${args[@]}" --conflist "$work/10-knet.conflist" --exclusive
[[ $rc == 0 ]] || die "--exclusive exited $rc: $err"
for f in 05-other.conflist 99-y.conf 50-z.json; do
  [[ ! -e $conf/$f && -f $conf/$f.knet_bak ]] || die "--exclusive did not move $f aside to $f.knet_bak"
done
[[ -f $conf/README && -f $conf/10-knet.conflist ]] || die "--exclusive moved what it should not"
rm -f "$conf"/*.knet_bak "$conf/README"

note "kill -9 at random moments: every file old or new, never partial"
# The old install: another executable, links elsewhere, another conflist.
old=$work/old
mkdir -p "$old"
head -c 300000 /dev/urandom >"$old/knet"
conflist "$old/10-knet.conflist" knet-old
# The old install, made once: another executable, links elsewhere, another
# conflist; each round starts from a copy of it.
template=$work/template
mkdir -p "$template/opt/cni/bin" "$template/etc/cni/net.d"
cp "$old/knet" "$template/opt/cni/bin/knet"
for p in "${linked[@]}"; do ln -s "old-$p" "$template/opt/cni/bin/$p"; done
cp "$old/10-knet.conflist" "$template/etc/cni/net.d/10-knet.conflist"
old_state() {
  rm -rf "$work/opt" "$work/etc"
  cp -a "$template/opt" "$template/etc" "$work/"
}
# How long one install from the old state takes here (the shortest of three:
# a busy machine only lengthens it): the kills land uniformly over that span.
span_ms=1000000
for _ in 1 2 3; do
  old_state
  t0=${EPOCHREALTIME/./}
  "$knet" install "${args[@]}" --conflist "$work/10-knet.conflist" >/dev/null
  t=$(((${EPOCHREALTIME/./} - t0) / 1000 + 1))
  ((t < span_ms)) && span_ms=$t
done
rounds=${KNET_INSTALL_KILL_ROUNDS:-30}
mixed=0 all_old=0 all_new=0
for ((r = 0; r < rounds; r++)); do
  old_state
  # timeout(1) sends SIGKILL that long after it started knet: no shell or
  # sleep(1) start-up between the two.
  us=$((RANDOM * 32768 + RANDOM))
  us=$((us % (span_ms * 1000)))
  timeout --foreground -s KILL "$((us / 1000000)).$(printf %06d $((us % 1000000)))" \
    "$knet" install "${args[@]}" --conflist "$work/10-knet.conflist" >/dev/null 2>&1 || true
  n_old=0 n_new=0
  if cmp -s "$bin/knet" "$old/knet"; then ((++n_old)); elif cmp -s "$bin/knet" "$knet"; then ((++n_new)); else
    die "round $r: $bin/knet is neither the old nor the new executable ($(stat -c %s "$bin/knet") bytes)"
  fi
  declare -A target=()
  while read -r name to; do target[$name]=$to; done < <(find "$bin" -maxdepth 1 -type l -printf '%f %l\n')
  for p in "${linked[@]}"; do
    case ${target[$p]:-missing} in
      "old-$p") ((++n_old)) ;;
      knet) ((++n_new)) ;;
      *) die "round $r: $bin/$p is neither the old link nor the new one: $(ls -l "$bin/$p" 2>&1)" ;;
    esac
  done
  if cmp -s "$conf/10-knet.conflist" "$old/10-knet.conflist"; then ((++n_old)); elif
    cmp -s "$conf/10-knet.conflist" "$work/10-knet.conflist"; then ((++n_new)); else
    die "round $r: the conflist is neither the old nor the new one: $(head -c 200 "$conf/10-knet.conflist")"
  fi
  if ((n_new == 0)); then ((++all_old)); elif ((n_old == 0)); then ((++all_new)); else ((++mixed)); fi
  # The next run completes the install and removes the killed run's temp files.
  run_install "${args[@]}" --conflist "$work/10-knet.conflist"
  [[ $rc == 0 ]] || die "round $r: the install after a kill exited $rc: $err"
  cmp -s "$bin/knet" "$knet" && cmp -s "$conf/10-knet.conflist" "$work/10-knet.conflist" ||
    die "round $r: the install after a kill did not finish the job"
  left=$(find "$work/opt" "$work/etc" -name '*.tmp.*')
  [[ -z $left ]] || die "round $r: temp files left after the next install: $left"
done
note "$rounds kills over ${span_ms} ms: $all_old before any change, $mixed in the middle, $all_new after the last file"
echo "PASS: knet install (fresh, idempotent, refusals, --exclusive, $rounds kill -9 rounds)"
