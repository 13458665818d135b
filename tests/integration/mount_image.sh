#!/bin/bash
# mount_image.sh — a rootfs tar (plain and .tar.gz) goes into the store with
# `layerfs import`; the stored image, mounted with `layerfs mount IMAGE MNT`
# (and --read-only), must equal GNU tar's extraction of the original tar;
# `layerfs ls [-l]`, `cat`, `images`, `inspect` answer from the store like
# ls -A / cat on that extraction.  The store must be a valid OCI layout.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

# The rootfs: the flattened generated stack, re-tarred as one plain tree.
t_layer_set "$tmp/gen"
tars=()
while IFS= read -r t; do tars+=("$tmp/gen/$t"); done <"$tmp/gen/layers"
t_ref_flat "$tmp/flat" "${tars[@]}" || bail_out "flattening the generated layers failed"
tar --format=pax --xattrs --xattrs-include='*' --sparse --numeric-owner --sort=name \
	-C "$tmp/flat" -cf "$tmp/rootfs.tar" . || bail_out "tar of the rootfs failed"
gzip -n -c "$tmp/rootfs.tar" >"$tmp/rootfs.tar.gz"
rm -rf "$tmp/flat" "$tmp/gen"
ref=$tmp/ref
_t_untar "$tmp/rootfs.tar" "$ref" || bail_out "tar -xf of the rootfs failed"

# --- import
t_lfs import "$tmp/rootfs.tar" app:1
check "import rootfs.tar app:1" $? || t_diag_err
t_lfs import "$tmp/rootfs.tar.gz" appgz:2
check "import rootfs.tar.gz appgz:2" $? || t_diag_err
t_lfs images
rc=$?
if [ "$rc" -eq 0 ] && t_out | grep -q app && t_out | grep -q appgz; then
	ok "images lists both"
else
	not_ok "images lists both"
	diag "  exit $rc, output:"
	diag_file "$T_TMP/.out"
fi
# The store is an OCI image layout other tools can read.
if [ -f "$LAYERFS_ROOT/oci-layout" ] && jq -e '.imageLayoutVersion' "$LAYERFS_ROOT/oci-layout" >/dev/null 2>&1 &&
	jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$LAYERFS_ROOT/index.json" 2>/dev/null | grep -qx 'app:1'; then
	ok "store: oci-layout and index.json with ref.name app:1"
else
	not_ok "store: oci-layout and index.json with ref.name app:1"
	diag "  index.json: $(head -c 400 "$LAYERFS_ROOT/index.json" 2>&1)"
fi
bad=0
for b in "$LAYERFS_ROOT"/blobs/sha256/*; do
	[ -f "$b" ] || continue
	[ "$(sha256sum <"$b" | cut -d' ' -f1)" = "${b##*/}" ] || {
		bad=$((bad + 1))
		diag "  blob ${b##*/} does not match its digest"
	}
done
nblobs=$(find "$LAYERFS_ROOT/blobs/sha256" -type f 2>/dev/null | wc -l)
if [ "$bad" = 0 ] && [ "$nblobs" -ge 3 ]; then ok "store: $nblobs blobs, each named by its sha256"; else not_ok "store: blobs named by their sha256 ($nblobs blobs, $bad bad)"; fi

# --- mount
mnt=$tmp/mnt
t_mount_image "$mnt" app:1
t_compare "$mnt" "$ref" "mounted app:1 vs tar -xf"
t_ls_dots "$mnt" "of the mount root"
t_umount "$mnt"
t_mount_image "$mnt" appgz:2 --read-only
t_compare "$mnt" "$ref" "mounted appgz:2 --read-only vs tar -xf"
t_fails "--read-only: writes fail with EROFS" 'Read-only file system' touch "$mnt/newfile"
t_umount "$mnt"

# --- ls
# names_of DIR — what `ls -A DIR` prints, one name a line.
names_of() { find "$1" -mindepth 1 -maxdepth 1 -printf '%P\n'; }
# ls_same IMAGE PATH — `layerfs ls` names equal `ls -A` of the reference dir.
ls_same() {
	t_lfs ls "$1" "$2"
	local rc=$?
	if [ "$rc" -eq 0 ] && diff <(names_of "$ref/$2" | sort) <(t_out | sort) >"$tmp/ls.diff"; then
		ok "ls $1 $2: names equal ls -A"
	else
		not_ok "ls $1 $2: names equal ls -A (exit $rc)"
		diag_file "$tmp/ls.diff" 20
		t_diag_err
	fi
}
t_lfs ls app:1
rc=$?
if [ "$rc" -eq 0 ] && diff <(names_of "$ref" | sort) <(t_out | sort) >"$tmp/ls.diff"; then
	ok "ls app:1 (no PATH): the root's names equal ls -A"
else
	not_ok "ls app:1 (no PATH): the root's names equal ls -A (exit $rc)"
	diag_file "$tmp/ls.diff" 20
fi
ls_same app:1 /
ls_same app:1 /multi
ls_same app:1 /names
ls_same app:1 /hard
ls_same appgz:2 /opq
ls_same app:1 "/long/$(printf "%60s" '' | tr ' ' L)"
# ls -l: one line per name, ending in the name (or "name -> target"), with
# ls's mode string.
t_lfs ls -l app:1 /links
rc=$?
bad=0
while IFS= read -r -d '' name; do
	mode=$(stat -c %A "$ref/links/$name")
	t_out | grep -F -- " $name" | grep -qF -- "$mode" || {
		bad=$((bad + 1))
		diag "  no line with '$mode' and '$name'"
	}
done < <(cd "$ref/links" && find . -mindepth 1 -maxdepth 1 -printf '%P\0')
if [ "$rc" -eq 0 ] && [ "$bad" = 0 ]; then ok "ls -l app:1 /links: mode and name of every entry"; else
	not_ok "ls -l app:1 /links: mode and name of every entry (exit $rc)"
	diag_file "$T_TMP/.out" 10
fi
if t_lfs ls -l app:1 /perm && t_out | grep -F ' zero' | grep -qF -- '----------' && t_out | grep -F ' locked' | grep -qF -- 'd---------'; then
	ok "ls -l app:1 /perm: 0000 file and dir"
else
	not_ok "ls -l app:1 /perm: 0000 file and dir"
	diag_file "$T_TMP/.out" 10
fi
t_fails "ls of a missing path: non-zero exit naming it" 'nosuchdir' "$LAYERFS" ls app:1 /nosuchdir
t_fails "ls of a missing image: non-zero exit naming it" 'nosuchimage' "$LAYERFS" ls nosuchimage:1 /

# --- cat
n255=$(printf "%255s" '' | tr ' ' N)
L=$(printf "%60s" '' | tr ' ' L)
for f in etc/hosts data/random3m data/seq.txt data/empty data/b513 sparse/holes sparse/gnu sparse/v1 \
	hard/a2 hard/b2 perm/zero perm/locked/inside "names/$n255" 'names/ünïcödé 名前.txt' \
	"long/$L/$L/$L/$L/$L/$(printf "%100s" '' | tr ' ' F)" wh/file1; do
	"$LAYERFS" cat appgz:2 "/$f" >"$tmp/cat.out" 2>"$tmp/cat.err"
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$ref/$f" "$tmp/cat.out"; then
		ok "cat /${f:0:60}: same bytes"
	else
		not_ok "cat /${f:0:60}: same bytes (exit $rc)"
		diag_file "$tmp/cat.err" 5
	fi
done
"$LAYERFS" cat app:1 etc/hosts >"$tmp/cat.out" 2>&1
check "cat with a relative PATH" "$(cmp -s "$ref/etc/hosts" "$tmp/cat.out"; echo $?)"
t_fails "cat of a directory: non-zero exit" . "$LAYERFS" cat app:1 /multi
t_fails "cat of a missing file: non-zero exit naming it" 'nosuchfile' "$LAYERFS" cat app:1 /nosuchfile

# --- inspect
t_lfs inspect app:1
rc=$?
if [ "$rc" -eq 0 ] && [ -s "$T_TMP/.out" ]; then ok "inspect app:1"; else
	not_ok "inspect app:1 (exit $rc)"
	t_diag_err
fi
if jq -e . "$T_TMP/.out" >/dev/null 2>&1; then diag "  inspect prints JSON"; fi
t_fails "inspect of a missing image: non-zero exit naming it" 'nosuchimage' "$LAYERFS" inspect nosuchimage:1
done_testing
