#!/bin/bash
# mount_rootless.sh — an ordinary user (uid 65534, no new account) imports,
# mounts, reads and unmounts without root: the mount goes through
# fusermount3, the store is the user's own, and the files seen equal the
# FLAT reference built by root with GNU tar.  Unprivileged FUSE needs
# /dev/fuse to be 0666 (udev's usual mode); where it is not, the test first
# checks the error message, then sets 0666 and restores the mode on exit.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
command -v setpriv >/dev/null || bail_out "setpriv missing (apt-get install util-linux)"
t_tmpdir
tmp=$T_TMP
plan 13

t_layer_set "$tmp/gen"
tars=()
while IFS= read -r t; do tars+=("$tmp/gen/$t"); done <"$tmp/gen/layers"
t_ref_flat "$tmp/flat" "${tars[@]}" || bail_out "building the FLAT reference failed"

# The user's own area: home, store, mountpoint; the layers readable to all.
home=$tmp/home
mkdir -p "$home/mnt" "$home/mnt2"
# The generated layers' root is 0700 (a mktemp dir): open it up so the user
# can enter the merged root, and put the tree on top as one more layer.
chmod 755 "$tmp" "$tmp/flat"
# The user must be able to reach $tmp: open up our own temporary ancestors.
d=$(dirname "$tmp")
while case "$(basename "$d")" in layerfs-*) true ;; *) false ;; esac; do
	chmod o+x "$d"
	d=$(dirname "$d")
done
tar -C "$tmp/flat" --xattrs --numeric-owner -cf "$home/top.tar" . || bail_out "tar of the reference failed"
cp "${tars[@]}" "$home/"
chown -R 65534:65534 "$home"
utars=()
for t in "${tars[@]}" "$home/top.tar"; do utars+=(--layer "$home/$(basename "$t")"); done

as_user() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" XDG_DATA_HOME="$home/.local/share" \
		${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} \
		timeout -k 5 120 "$@"
}

fuse_mode=$(stat -c %a /dev/fuse)
if [ "$fuse_mode" != 666 ]; then
	t_fails "with /dev/fuse $fuse_mode: the error says what to fix" "chmod 0666 /dev/fuse" \
		as_user "$LAYERFS" mount "${utars[@]}" "$home/mnt"
	trap 'chmod "$fuse_mode" /dev/fuse; _t_cleanup' EXIT
	chmod 0666 /dev/fuse
else
	ok "/dev/fuse is already 0666"
fi
t_run "mount --layer as uid 65534 returns with the mount ready" \
	as_user "$LAYERFS" mount "${utars[@]}" "$home/mnt"
if grep -q " $home/mnt fuse.layerfs .*user_id=65534" /proc/mounts; then
	ok "the mount belongs to uid 65534 (fusermount3 path)"
else
	not_ok "the mount belongs to uid 65534 (fusermount3 path)"
	diag "$(grep "$home/mnt" /proc/mounts)"
fi
# Every file the user may read has the reference's contents (the others
# are closed to uid 65534 by their modes, as in the reference).
if as_user sh -c "cd '$home/mnt' && find . -type f -readable -print0 | sort -z | xargs -0r sha256sum" >"$tmp/mine" 2>"$tmp/mine.err" &&
	[ "$(wc -l <"$tmp/mine")" -gt 20 ] &&
	(cd "$tmp/flat" && sed 's/^[0-9a-f]*  //' "$tmp/mine" | tr '\n' '\0' | xargs -0r sha256sum) >"$tmp/ref"; then
	if diff -u "$tmp/ref" "$tmp/mine" >"$tmp/d"; then ok "file contents seen by the user equal the reference"; else
		not_ok "file contents seen by the user equal the reference"; diag_file "$tmp/d" 20; fi
else
	not_ok "file contents seen by the user equal the reference"; diag "  $(wc -l <"$tmp/mine") files"; diag_file "$tmp/mine.err" 10
fi
t_run "the user's store holds the cached indexes" test -d "$home/.local/share/layerfs/indexes/files"
t_run "umount as the user" as_user "$LAYERFS" umount "$home/mnt"
if t_is_mounted "$home/mnt"; then not_ok "gone from /proc/mounts"; t_unmount_all "$home/mnt"; else ok "gone from /proc/mounts"; fi

# A rootfs import and image mount, all as the user.
t_run "import as the user" as_user "$LAYERFS" import "$home/top.tar" mine:1
t_run "mount the imported image as the user" as_user "$LAYERFS" mount mine:1 "$home/mnt2"
t_run "umount it" as_user "$LAYERFS" umount "$home/mnt2"

# Rootless ownership: a file created in the image's root-owned /tmp copies
# /tmp up; the kernel will not let the user own it as root, so the owner
# and mode are recorded in user.containers.override_stat and shown.
mkdir -p "$tmp/src/tmp" && chmod 1777 "$tmp/src/tmp" && chmod 755 "$tmp/src"
tar -C "$tmp/src" --numeric-owner -cf "$home/tmpdir.tar" . && chown 65534 "$home/tmpdir.tar"
as_user "$LAYERFS" mount --layer "$home/tmpdir.tar" --upper "$home/up3" "$home/mnt2" &&
	as_user touch "$home/mnt2/tmp/x"
is "$(as_user stat -c '%u:%g %a' "$home/mnt2/tmp" 2>&1)" "0:0 1777" \
	"a copied-up root-owned dir still shows root:root 1777 to the user"
is "$(getfattr --absolute-names -h --only-values -n user.containers.override_stat "$home/up3/tmp" 2>&1)" "0:0:01777" \
	"its owner is recorded in user.containers.override_stat"
t_run "umount" as_user "$LAYERFS" umount "$home/mnt2"
t_unmount_all "$home/mnt2"
done_testing
