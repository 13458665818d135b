#!/bin/sh
# Installs the Debian packages layerfs needs to build, test and benchmark.
#   tools/install-deps.sh          install what is missing (as root), else print the command
#   tools/install-deps.sh --check  quiet when everything is there; otherwise as above
set -eu

# Build: compiler, libraries (headers via -dev), pkg-config.
BUILD_PKGS="gcc make pkg-config libfuse3-dev libarchive-dev zlib1g-dev libssl-dev libjansson-dev check libcurl4-openssl-dev libzstd-dev"
# Fuzzing (make fuzz): clang with the libFuzzer and sanitizer runtimes.
FUZZ_PKGS="clang libclang-rt-14-dev"
# Run and test: fusermount3, getfattr/setfattr, prove, a static busybox for the
# built-in demo/test root filesystem, fuse-overlayfs as the benchmark anchor,
# newuidmap/newgidmap for rootless builds, debootstrap for the debian base
# image, buildah as the reference and benchmark anchor of `layerfs build`,
# slirp4netns for the private network of `layerfs run`; python3 (the hostile
# tar corpus generator) and bsdtar (a reference extractor) for tar_corpus.sh.
RUN_PKGS="fuse3 attr perl busybox-static fuse-overlayfs util-linux tar gzip zstd skopeo umoci docker-registry apache2-utils uidmap debootstrap buildah slirp4netns curl passwd python3 libarchive-tools"

missing=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
for p in $BUILD_PKGS $FUZZ_PKGS $RUN_PKGS; do
	have_pkg "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
	[ "${1:-}" = "--check" ] || echo "layerfs: all build and test dependencies are installed"
	exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "layerfs: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends $missing >/dev/null 2>&1; then
		apt-get update -qq
		apt-get install -y -q --no-install-recommends $missing
	fi
	exit 0
fi

cat >&2 <<MSG
layerfs: missing Debian packages:$missing
Install them with:
    sudo apt-get update && sudo apt-get install -y$missing
then run make again.
MSG
exit 1
