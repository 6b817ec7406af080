#!/usr/bin/env bash
# Builds knet's OCI image from `scratch`, offline: the knet and knet-node
# executables of a build dir, exactly the shared libraries they load (from
# ldd, plus the dynamic loader), the plugin links and the CA bundle. No base
# image, no network, no package manager in the image (docs/deploy.md).
#
# usage: deploy/image/build.sh --build-dir DIR [--tag IMAGE] [--root DIR]
#          [--runroot DIR] [--storage-driver vfs|overlay] [--save FILE]
#
#   --build-dir DIR       a configured and built knet tree (DIR/bin/knet, DIR/bin/knet-node)
#   --tag IMAGE           the image name (default localhost/knet:<version from DIR>)
#   --root, --runroot, --storage-driver
#                         podman's container storage (default: podman's own, or
#                         CONTAINERS_STORAGE_CONF / CONTAINERS_CONF when set);
#                         tests pass a private store under a temp dir
#   --save FILE           also write the image as an OCI archive (podman load -i FILE)
#
# Prints the image's size on its last line, in bytes, as
#   image IMAGE: uncompressed=N compressed=N
# where compressed is the size of the gzip'd layer a registry holds (what a
# node pulls). Exits non-zero with a message on any failure.
set -euo pipefail

die() {
  echo "build.sh: $*" >&2
  exit 1
}

build_dir="" tag="" save=""
storage=()
while (($#)); do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --root | --runroot | --storage-driver) storage+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --save) save=${2:?--save needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n $build_dir ]] || die "--build-dir is required (see --help)"
build_dir=$(cd "$build_dir" && pwd) || die "no build dir $build_dir"
for exe in knet knet-node; do
  [[ -x $build_dir/bin/$exe ]] || die "$build_dir/bin/$exe missing: build it first (ninja -C $build_dir knet knet-node)"
done
command -v podman >/dev/null || die "podman not installed (apt-get install podman)"
command -v jq >/dev/null || die "jq not installed (apt-get install jq)"
if [[ -z $tag ]]; then
  version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
  tag=localhost/knet:${version:-latest}
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/knet-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/opt/cni/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/run"
chmod 1777 "$root/tmp"

# The executables, without their debug info (RelWithDebInfo keeps it in the
# build tree; the image has no use for it).
for exe in knet knet-node; do
  objcopy --strip-debug --strip-unneeded "$build_dir/bin/$exe" "$root/usr/bin/$exe"
done
# Every plugin of the multi-call binary (the names `knet install` links,
# written by the configure step), as a link in the image's own CNI bin dir, so
# `podman run IMAGE bridge` works.
linked=$build_dir/knet-linked-programs.txt
[[ -s $linked ]] || die "$linked missing: configure $build_dir with this source tree"
while read -r p; do
  [[ -n $p ]] && ln -s ../../../usr/bin/knet "$root/opt/cni/bin/$p"
done <"$linked"

# The shared libraries, at the paths the loader resolves them to on the build
# machine (it searches the same default dirs in the image: no ld.so.cache).
libs=$(ldd "$build_dir/bin/knet" "$build_dir/bin/knet-node" |
  awk '/=> \// { print $3 } /^\t\/[^ ]+ \(0x/ { print $1 }' | sort -u)
[[ -n $libs ]] || die "ldd found no shared libraries (is the build static? then drop this step)"
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done <<<"$libs"
# knet-node's libcurl verifies https:// etcd endpoints against this bundle
# when no --etcd-cafile is given.
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
# A user database for libraries that look one up; the image runs as root.
echo 'root:x:0:0:root:/:/usr/bin/knet' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/bin:/opt/cni/bin
LABEL org.opencontainers.image.title="knet" \\
      org.opencontainers.image.description="knet CNI plugins (knet install) and the knet-node agent" \\
      org.opencontainers.image.version="${version:-}"
# No ENTRYPOINT: the command names the program (knet install ..., knet-node ...).
CMD ["knet"]
CONTAINERFILE

# --timestamp 0: the same build dir gives the same image digest.
podman "${storage[@]}" build --quiet --network none --pull=never --timestamp 0 \
  -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null || die "podman build failed"

uncompressed=$(podman "${storage[@]}" image inspect --format '{{.Size}}' "$tag")
# The layer as a registry stores it (what a node pulls): podman's OCI
# archive holds it gzip'd; the manifest gives its size.
podman "${storage[@]}" save --quiet --format oci-archive -o "$ctx/image.tar" "$tag" >/dev/null ||
  die "podman save failed"
blob() { tar -xOf "$ctx/image.tar" "blobs/sha256/${1#sha256:}"; }
manifest=$(blob "$(tar -xOf "$ctx/image.tar" index.json | jq -r '.manifests[0].digest')") ||
  die "no manifest in the saved image"
compressed=0
while read -r digest media size; do
  if [[ $media == *gzip* || $media == *zstd* ]]; then
    compressed=$((compressed + size))
  else  # an uncompressed layer: as gzip would push it
    compressed=$((compressed + $(blob "$digest" | gzip -6 | wc -c)))
  fi
done < <(jq -r '.layers[] | "\(.digest) \(.mediaType) \(.size)"' <<<"$manifest")
if [[ -n $save ]]; then
  mv "$ctx/image.tar" "$save"
fi
echo "image $tag: uncompressed=$uncompressed compressed=$compressed"
