#!/bin/bash
# mount_lowerdir.sh — the fuse-overlayfs form: `layerfs -o lowerdir=...,
# upperdir=U,workdir=W MNT` (as podman/buildah's mount_program calls it)
# and `layerfs mount -o ...`, with lower DIRECTORIES in the kernel overlay
# format (0/0 whiteouts, opaque xattrs) and tars mixed in.  Each is
# compared with a kernel overlayfs mount of the same lower dirs, first as
# mounted, then after the same changes made through both.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 13

t_layer_set "$tmp/gen"
tars=()
while IFS= read -r t; do tars+=("$tmp/gen/$t"); done <"$tmp/gen/layers"
n=${#tars[@]}
# The kernel reference unpacks each layer into $tmp/ovl/L1..Ln (converted
# to the overlay format) and mounts them: those dirs are our lowers too.
t_ref_overlay "$tmp/kref" "$tmp/ovl" "${tars[@]}" || bail_out "kernel overlay reference failed"
lower=
for ((i = 1; i <= n; i++)); do lower=$tmp/ovl/L$i${lower:+:$lower}; done
skip=$tmp/gen/overlay-nlink-skip

# 1. all-directory lowers and an empty upper, next to a writable kernel
# overlay of the same lowers with its own empty upper
mkdir -p "$tmp/m1" "$tmp/u1" "$tmp/k2" "$tmp/ku" "$tmp/kw"
touch -d '2001-02-03 04:05:06' "$tmp/u1" "$tmp/ku"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$tmp/ku,workdir=$tmp/kw,redirect_dir=on" "$tmp/k2" ||
	bail_out "writable kernel overlay mount failed"
t_run "layerfs -o lowerdir=(dirs),upperdir,workdir MNT (mount_program form)" \
	"$LAYERFS" -o "lowerdir=$lower,upperdir=$tmp/u1,workdir=$tmp/w1" "$tmp/m1"
t_compare "$tmp/m1" "$tmp/k2" "directory lowers vs kernel overlay" "$skip"

# 2. the same changes through both
# shellcheck disable=SC2317 # called through t_run
change() {
	local r=$1 p
	echo appended >>"$r/etc/hosts" &&
		rm -rf "${r:?}/usr" &&
		mkdir -p "$r/usr/new" && echo n >"$r/usr/new/file" &&
		mv "$r/etc" "$r/etc2" &&
		ln -s etc2 "$r/etc" &&
		chmod 0700 "$r/etc2" || return 1
	# Fixed times on everything touched, so both trees can be compared.
	for p in . etc etc2 etc2/hosts usr usr/new usr/new/file; do
		touch -h -d '2001-02-03 04:05:06.7' "$r/$p" || return 1
	done
}
t_run "changes through layerfs" change "$tmp/m1"
t_run "the same changes through kernel overlayfs" change "$tmp/k2"
t_compare "$tmp/m1" "$tmp/k2" "after changes: layerfs vs kernel overlay" "$skip"
t_umount "$tmp/m1"
umount "$tmp/k2"

# 3. the upper layerfs wrote, under KERNEL overlayfs, and theirs under layerfs
mkdir -p "$tmp/k3" "$tmp/m3"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$tmp/u1,workdir=$tmp/w1" "$tmp/k3" ||
	bail_out "kernel overlay over layerfs's upper failed"
t_run "layerfs mount -o over the kernel's upper, tar lowers mixed in" \
	"$LAYERFS" mount -o "lowerdir=$(echo "$lower" | cut -d: -f1-$((n - 1))):${tars[0]},upperdir=$tmp/ku,workdir=$tmp/kw" "$tmp/m3"
t_compare "$tmp/m3" "$tmp/k3" "layerfs on the kernel's upper vs kernel on layerfs's upper" "$skip"
umount "$tmp/k3"
t_umount "$tmp/m3"

t_fails "an unsupported option is refused by name" "uidmapping" \
	"$LAYERFS" -o "lowerdir=$lower,uidmapping=0:1000:1" "$tmp/m3"
done_testing
