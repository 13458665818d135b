#!/bin/bash
# mkbase.sh — build the built-in base image: a small but real root file
# system made from Debian's busybox-static, with no network.
#
#   tools/mkbase.sh OUT.tar        plain tar
#   tools/mkbase.sh OUT.tar.gz     gzip-compressed tar (gzip -n)
#
# The result is byte-for-byte reproducible: names sorted, owners 0:0
# (numeric), every mtime = $SOURCE_DATE_EPOCH (default: a fixed constant).
# `make demo` imports it as layerfs-base:latest.
set -euo pipefail

usage() {
	echo "usage: $0 OUT.tar[.gz]" >&2
	echo "  builds a busybox root filesystem tarball (needs busybox-static: apt-get install busybox-static)" >&2
	exit 2
}

[ $# -eq 1 ] || usage
case "$1" in -h | --help) usage ;; esac
out=$1
busybox=${BUSYBOX:-/bin/busybox}
epoch=${SOURCE_DATE_EPOCH:-1700000000}

if [ ! -x "$busybox" ]; then
	echo "$0: $busybox not found; install it with: apt-get install busybox-static" >&2
	exit 1
fi
# A dynamically linked busybox would not run inside the image (no libc there).
if command -v file >/dev/null 2>&1 &&
	! LC_ALL=C file -L "$busybox" | grep 'statically linked' >/dev/null; then
	echo "$0: $busybox is not statically linked; install busybox-static" >&2
	exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/layerfs-mkbase.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022

r=$stage/rootfs
mkdir -p "$r"
for d in bin sbin etc root tmp home var var/tmp var/log var/spool run \
	usr usr/bin usr/sbin usr/lib usr/share dev proc sys mnt opt srv; do
	mkdir -p "$r/$d"
done
chmod 0700 "$r/root"
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0555 "$r/proc" "$r/sys"

install -m 0755 "$busybox" "$r/bin/busybox"

# One symlink per applet, at the path busybox itself reports.
n_applets=0
while IFS= read -r applet; do
	applet=${applet#/}
	case "$applet" in
	'' | bin/busybox | */) continue ;;
	esac
	dir=$(dirname "$applet")
	mkdir -p "$r/$dir"
	[ -e "$r/$applet" ] || [ -L "$r/$applet" ] || ln -s /bin/busybox "$r/$applet"
	n_applets=$((n_applets + 1))
done < <("$busybox" --list-full)
# /bin/sh must exist even if a future busybox build lists it elsewhere.
[ -L "$r/bin/sh" ] || ln -s /bin/busybox "$r/bin/sh"

cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
users:x:100:
nogroup:x:65534:
EOF
cat >"$r/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
sys:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0640 "$r/etc/shadow"
bbver=$("$busybox" --help 2>&1 | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
cat >"$r/etc/os-release" <<EOF
NAME="layerfs base"
PRETTY_NAME="layerfs base (busybox ${bbver:-static})"
ID=layerfs-base
VERSION_ID="1"
EOF
cat >"$r/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
cat >"$r/etc/nsswitch.conf" <<'EOF'
passwd:     files
group:      files
shadow:     files
hosts:      files dns
networks:   files
protocols:  files
services:   files
EOF
echo layerfs >"$r/etc/hostname"
: >"$r/etc/resolv.conf"
cat >"$r/etc/profile" <<'EOF'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PS1='\u@\h:\w\$ '
EOF
cat >"$r/etc/shells" <<'EOF'
/bin/sh
/bin/ash
EOF

# Deterministic archive: sorted names, the root directory itself first (so
# the image root's mode and owner are explicit, as in `docker export`), fixed
# times and owners, GNU format (no pax atime/ctime records that would vary).
chmod 755 "$r"
tmp_out=$stage/out.tar
LC_ALL=C tar -C "$r" --sort=name --format=gnu --mtime="@$epoch" \
	--owner=0 --group=0 --numeric-owner --no-acls --no-xattrs --no-selinux \
	-cf "$tmp_out" .

case "$out" in
*.gz | *.tgz) gzip -n -9 -c "$tmp_out" >"$out.tmp.$$" ;;
*) cp "$tmp_out" "$out.tmp.$$" ;;
esac
mv -f "$out.tmp.$$" "$out"
echo "mkbase: wrote $out ($n_applets busybox applets, $(wc -c <"$out") bytes)" >&2
