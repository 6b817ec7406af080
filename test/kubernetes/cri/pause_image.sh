#!/bin/bash
# Writes a pod sandbox ("pause") image as an OCI image layout tarball, offline:
# one layer holding a static pause program (catatonit in pause mode, -P: it
# sleeps, reaps nothing, exits on a signal), no base image. containerd's CRI
# plugin needs one for every pod (sandbox_image) and cannot pull it here.
# `ctr -n k8s.io images import` takes the tarball; the image is named NAME.
# Usage: pause_image.sh OUT.tar NAME (e.g. localhost/knet-pause:1)
set -euo pipefail
out=${1:?usage: pause_image.sh OUT.tar NAME}
name=${2:?usage: pause_image.sh OUT.tar NAME}
pause=$(command -v catatonit) || {
  echo "catatonit not installed (apt-get install catatonit)" >&2
  exit 77
}
! ldd "$pause" >/dev/null 2>&1 || {
  echo "$pause is not static: it cannot run in an image without libraries" >&2
  exit 1
}
arch=$(dpkg --print-architecture)
dir=$(mktemp -d "${TMPDIR:-/tmp}/knet-pause.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/root" "$dir/oci/blobs/sha256"
install -m 0755 "$pause" "$dir/root/pause"

# A blob named by its digest; prints "<digest> <size>".
blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$dir/oci/blobs/sha256/$d"
  echo "$d $(stat -c %s "$dir/oci/blobs/sha256/$d")"
}
# Reproducible layer: fixed owner, mode and time.
tar -C "$dir/root" --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -cf "$dir/layer.tar" pause
read -r layer layer_size < <(blob "$dir/layer.tar")
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause","-P"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$layer" >"$dir/config.json"
read -r config config_size < <(blob "$dir/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" >"$dir/manifest.json"
read -r manifest manifest_size < <(blob "$dir/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$arch" "$name" "${name##*:}" >"$dir/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci/oci-layout"
tar -C "$dir/oci" --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -cf "$out" oci-layout index.json blobs
