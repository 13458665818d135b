#!/bin/bash
# mount_union.sh — the generated four-layer stack (pax, gnu, ustar without a
# root entry, pax sparse 1.0) mounted with `layerfs mount --layer ...` must
# equal both independent references: GNU tar extracting the layers in order
# with the OCI rules applied (FLAT), and kernel overlayfs over the layers
# unpacked separately (KERNEL OVERLAY).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

t_layer_set "$tmp/gen"
tars=()
while IFS= read -r t; do tars+=("$tmp/gen/$t"); done <"$tmp/gen/layers"

t_ref_flat "$tmp/flat" "${tars[@]}" || bail_out "building the FLAT reference failed"
t_ref_overlay "$tmp/ovl" "$tmp/ovlwork" "${tars[@]}" || bail_out "mounting the KERNEL OVERLAY reference failed"
# The references must agree with each other, or the harness is broken.
# st_nlink is left out where overlayfs is wrong by construction (a hardlinked
# name whited out or replaced above: overlayfs reports the lower inode's
# count; see gen/layers.sh).
t_compare "$tmp/ovl" "$tmp/flat" "references agree (overlay vs flat)" "$tmp/gen/overlay-nlink-skip"

mnt=$tmp/mnt
t_mount_layers "$mnt" "${tars[@]}"
is "$(t_mount_type "$mnt")" fuse.layerfs "mount type is fuse.layerfs"
# FLAT is exact, st_nlink included.
t_compare "$mnt" "$tmp/flat" "layerfs vs FLAT"
t_compare "$mnt" "$tmp/ovl" "layerfs vs KERNEL OVERLAY" "$tmp/gen/overlay-nlink-skip"
t_ls_dots "$mnt" "of the mount root"
# Directory listings: readdir of every directory equals the reference's.
bad=0
while IFS= read -r -d '' d; do
	if ! diff <(ls -A "$tmp/flat/$d") <(ls -A "$mnt/$d") >/dev/null 2>&1; then
		bad=$((bad + 1))
		if [ "$bad" -le 5 ]; then diag "  ls -A differs in ./$d"; fi
	fi
done < <(cd "$tmp/flat" && find . -type d -print0)
is "$bad" 0 "ls -A of every directory equals FLAT"

t_umount "$mnt"
umount "$tmp/ovl"
done_testing
