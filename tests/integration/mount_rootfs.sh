#!/bin/bash
# mount_rootfs.sh — a real root filesystem: the busybox-static base image
# (tools/mkbase.sh, no network) is imported, mounted read-only and
# writable, and compared with GNU tar's extraction of the same tarball;
# its own busybox runs inside the mount (chroot) and a change made there
# lands in the upper directory only.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 12

repo=$(cd "$(dirname "$0")/../.." && pwd)
"$repo/tools/mkbase.sh" "$tmp/base.tar" >"$tmp/mkbase.log" 2>&1 || {
	diag_file "$tmp/mkbase.log"
	bail_out "tools/mkbase.sh failed"
}
_t_untar "$tmp/base.tar" "$tmp/ref" || bail_out "tar -xf of the base image failed"
count=$(tar -tf "$tmp/base.tar" | wc -l)
if [ "$count" -gt 300 ]; then ok "the base image is a real rootfs ($count entries)"; else
	not_ok "the base image is a real rootfs ($count entries)"; fi

t_run "import base.tar base:1" "$LAYERFS" import "$tmp/base.tar" base:1
t_mount_image "$tmp/ro" base:1
t_compare "$tmp/ro" "$tmp/ref" "read-only mount of base:1 vs tar -xf"
t_umount "$tmp/ro"

# Writable, with a persistent upper: the tree starts equal to the image.
mkdir -p "$tmp/rw"
t_run "writable mount with --upper" "$LAYERFS" mount base:1 "$tmp/rw" --upper "$tmp/upper"
t_compare "$tmp/rw" "$tmp/ref" "fresh writable mount of base:1 vs tar -xf"
out=$(chroot "$tmp/rw" /bin/sh -c 'echo hello >/tmp/note; cat /tmp/note; ls /bin | wc -l' 2>&1)
if [ "$(printf '%s\n' "$out" | head -1)" = hello ] && [ "$(printf '%s\n' "$out" | tail -1)" -gt 50 ]; then
	ok "the image's own busybox runs in the mount and writes /tmp/note"
else
	not_ok "the image's own busybox runs in the mount and writes /tmp/note"
	diag "  output: $out"
fi
t_umount "$tmp/rw"
if [ "$(cat "$tmp/upper/tmp/note" 2>/dev/null)" = hello ] && ! tar -tf "$tmp/base.tar" | grep -q 'tmp/note'; then
	ok "the change is in the upper directory, the layer is untouched"
else
	not_ok "the change is in the upper directory, the layer is untouched"
fi
done_testing
