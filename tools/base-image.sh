#!/bin/bash
# base-image.sh — make real base images locally, without a registry.
#
#   tools/base-image.sh busybox [NAME:TAG]   busybox:latest from Debian's busybox-static
#                                            (seconds; `make demo` and the tests use it)
#   tools/base-image.sh debian [NAME:TAG]    debian:bookworm with debootstrap
#                                            (minutes, needs root and the Debian mirror)
#   tools/base-image.sh node [NAME:TAG]      node:18: debian:bookworm plus Debian's
#                                            nodejs and npm, built by `layerfs build`
#
# Environment: LAYERFS (the binary; default: layerfs beside this script's
# repository, else the one on PATH), LAYERFS_ROOT (the store),
# SOURCE_DATE_EPOCH (busybox: the fixed file times), DEBIAN_MIRROR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
if [ -z "${LAYERFS:-}" ]; then
	if [ -x "$top/layerfs" ]; then LAYERFS=$top/layerfs; else LAYERFS=layerfs; fi
fi

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
kind=$1
case "$kind" in -h | --help) usage ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/layerfs-base.XXXXXX")
cleanup() {
	# debootstrap may leave mounts (proc, sys) when it fails half-way.
	if [ -d "$tmp/rootfs" ]; then
		for m in proc sys dev/pts dev; do
			mountpoint -q "$tmp/rootfs/$m" 2>/dev/null && umount -l "$tmp/rootfs/$m"
		done
	fi
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

case "$kind" in
busybox)
	name=${2:-busybox:latest}
	"$here/mkbase.sh" "$tmp/busybox.tar"
	"$LAYERFS" import -c 'CMD ["sh"]' \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-m "busybox base from Debian's busybox-static" "$tmp/busybox.tar" "$name"
	;;
debian)
	name=${2:-debian:bookworm}
	if [ "$(id -u)" != 0 ]; then
		echo "$0: debootstrap needs root: run 'sudo $0 debian'" >&2
		exit 1
	fi
	if ! command -v debootstrap >/dev/null; then
		echo "$0: debootstrap is missing: apt-get install debootstrap" >&2
		exit 1
	fi
	mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
	debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >&2
	# What `docker run debian` users expect: no apt caches, the mirror set.
	rm -rf "$tmp/rootfs"/var/lib/apt/lists/* "$tmp/rootfs"/var/cache/apt/*.bin
	printf 'deb %s bookworm main\n' "$mirror" >"$tmp/rootfs/etc/apt/sources.list"
	: >"$tmp/rootfs/etc/resolv.conf"
	tar -C "$tmp/rootfs" --numeric-owner --xattrs --sort=name -cf "$tmp/debian.tar" .
	"$LAYERFS" import -c 'CMD ["bash"]' \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-m "debian bookworm (debootstrap --variant=minbase)" "$tmp/debian.tar" "$name"
	;;
node)
	name=${2:-node:18}
	cp -r "$top/examples/node-base" "$tmp/ctx"
	# The host's own CAs (a TLS-inspecting proxy's, say): trusted inside too.
	for crt in /usr/local/share/ca-certificates/*.crt; do
		[ -f "$crt" ] && cp "$crt" "$tmp/ctx/certs/"
	done
	"$LAYERFS" build --progress=plain -t "$name" "$tmp/ctx"
	;;
*)
	usage
	;;
esac
