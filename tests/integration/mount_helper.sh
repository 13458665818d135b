#!/bin/bash
# mount_helper.sh — the ways other programs start layerfs: `make install`
# puts mount.fuse.layerfs beside it; mount.fuse3 (what `mount -t
# fuse.layerfs` runs) calls `layerfs SOURCE MNT -o OPTS`; the installed
# mount.fuse.layerfs is called the same way by mount(8).  Each mount must
# show the lower dir's files and unmount cleanly.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 8
repo=$(cd "$(dirname "$0")/../.." && pwd)

mkdir -p "$tmp/lower/etc" "$tmp/m1" "$tmp/m2"
echo from-lower >"$tmp/lower/etc/file"
t_run "make install DESTDIR" make -s -C "$repo" install DESTDIR="$tmp/root" PREFIX=/usr \
	BUILD="$(dirname "$(readlink -f "$LAYERFS")")"
t_run "mount.fuse.layerfs is a link to layerfs" test "$(readlink -f "$tmp/root/usr/sbin/mount.fuse.layerfs")" = "$(readlink -f "$tmp/root/usr/bin/layerfs")"

# mount.fuse3 finds the program named by the type in PATH.
t_run "mount.fuse3 none MNT -t fuse.layerfs -o lowerdir=...,upperdir=...,workdir=..." \
	env PATH="$tmp/root/usr/bin:$PATH" mount.fuse3 none "$tmp/m1" -t fuse.layerfs \
	-o "lowerdir=$tmp/lower,upperdir=$tmp/u1,workdir=$tmp/w1"
is "$(cat "$tmp/m1/etc/file" 2>&1)" from-lower "the lower file is visible through mount.fuse3's mount"
t_umount "$tmp/m1"

t_run "mount.fuse.layerfs SOURCE MNT -o ... (as mount(8) calls it)" \
	"$tmp/root/usr/sbin/mount.fuse.layerfs" overlay "$tmp/m2" \
	-o "lowerdir=$tmp/lower,upperdir=$tmp/u2,workdir=$tmp/w2,rw,nodev,nosuid"
echo upper >"$tmp/m2/etc/new"
is "$(cat "$tmp/u2/etc/new" 2>&1)" upper "a write lands in the upper directory"
t_umount "$tmp/m2"
done_testing
