#!/bin/bash
# deploy/kubernetes/knet.yaml checked offline (validate.mjs: Kubernetes'
# schema through npm kubernetes-models, then what a schema misses), against
# the flags the built knet install and knet-node accept. Then a few broken
# copies of the manifest, each of which validate.mjs must refuse with the
# reason: proof that the checks can fail.
# Usage: manifest.sh <source dir> <build dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(readlink -f "$1")
build=$(readlink -f "$2")
skip() {
  echo "SKIP: $*" >&2
  exit 77
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v node >/dev/null || skip "node not installed (apt-get install nodejs npm)"
[[ -d $here/node_modules/kubernetes-models ]] ||
  skip "npm packages missing (cd test/kubernetes && npm ci; scripts/install-deps.sh does it)"
manifest=$src/deploy/kubernetes/knet.yaml
validate() { timeout 60 node "$here/validate.mjs" "$@" --knet "$build/bin/knet" --knet-node "$build/bin/knet-node"; }
validate "$manifest" || die "the manifest does not validate"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/knet-manifest.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# sed expression | what validate.mjs must say about it
mutants=(
  's/hostNetwork: true/hostNetwork: false/|pod is not hostNetwork'
  's/- operator: Exists/- operator: Exists\n          key: node.kubernetes.io\/not-ready/|no toleration of every taint'
  's/containerPort: 9717/containerPort: "9717"/|containerPort must be integer'
  's/port: 9717 }/port: 9718 }/|readinessProbe port 9718 is not --healthz-addr'"'"'s 9717'
  's/--conf-name=00-knet.conflist/--conf-name=50-knet.conflist/|does not sort before other CNI configs'
  's/--conf-dir=/--config-dir=/|knet install has no flag --config-dir'
  's/--lease-ttl=/--lease-time=/|knet-node has no flag --lease-time'
  's/mountPath: \/run\/knet/mountPath: \/run\/knet-node/|is not the host'"'"'s /run/knet/vxlan-peers.json'
  '0,/- name: run-knet$/s//- name: run-knot/|mounts run-knot, which is no volume of the pod'
  's/key: lease-ttl }/key: lease-time }/|refers to knet-config/lease-time, which the ConfigMap does not hold'
  's/"mode": "l3"/"mode": "l2"/|vxlan is not in l3 mode'
  's/enforce: privileged/enforce: baseline/|pod-security.kubernetes.io/enforce: privileged'
  's/^spec:$/spac:/|cannot check further'
)
files=()
for i in "${!mutants[@]}"; do
  expr=${mutants[i]%%|*}
  sed "$expr" "$manifest" >"$scratch/$i.yaml"
  ! cmp -s "$manifest" "$scratch/$i.yaml" || die "mutation '$expr' changed nothing"
  files+=("$scratch/$i.yaml")
done
# One node process for all of them (loading the schemas takes a second).
! out=$(validate "${files[@]}" 2>&1) || die "validate.mjs accepted every broken copy: $out"
for i in "${!mutants[@]}"; do
  expr=${mutants[i]%%|*} want=${mutants[i]#*|}
  ! grep -q "^PASS $scratch/$i.yaml" <<<"$out" || die "validate.mjs accepted the manifest with '$expr'"
  grep -F "FAIL $scratch/$i.yaml: " <<<"$out" | grep -qF -- "$want" ||
    die "with '$expr' validate.mjs said: $(grep -F "$scratch/$i.yaml" <<<"$out"), not '$want'"
done
echo "PASS: the manifest validates; ${#mutants[@]} broken copies refused, each with its reason"
