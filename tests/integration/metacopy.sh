#!/bin/bash
# metacopy.sh — metadata-only copy-up, side by side with kernel overlayfs
# mounted with metacopy=on over the same tar layer (unpacked with GNU tar).
# chmod/chown/utimes/setxattr/removexattr of lower files copy no data (du
# of the upper file is 0 on a tmpfs, on both sides); then reads, a write
# through a descriptor opened for reading earlier, rename, hard link,
# truncate, rename of the directory and a set-user-ID file written after
# its chmod behave as on the kernel (operation log and a full listing with
# sha256 of each file compared).  The upper layerfs wrote is then mounted
# by kernel overlayfs (metacopy=on) and by layerfs again; the upper the
# kernel wrote is mounted by layerfs; `layerfs commit` of the layerfs upper
# extracted over the layer by GNU tar: all must equal the kernel's tree.
# The fuse-overlayfs form (-o lowerdir=) copies whole files unless given
# metacopy=on.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_writable.bash
. "$(dirname "$0")/lib_writable.bash"
require_root
require_layerfs
w_have_writable
w_have_commit
t_tmpdir
tmp=$T_TMP
T0='2020-01-02 03:04:05'
plan 23

# ------------------------------------------------------------ the layer
d=$tmp/gen
mkdir -p "$d/data" "$d/sub"
head -c $((32 << 20)) /dev/urandom >"$d/data/big"
for f in own times xa rw mv hl tr suid; do head -c 100000 /dev/urandom >"$d/data/$f"; done
head -c 100000 /dev/urandom >"$d/sub/f"
setfattr -n user.old -v old "$d/data/xa"
chmod 0444 "$d/data/rw"
find "$d" -depth -exec touch -h -d "$T0" {} +
w_tar "$d" "$tmp/L1.tar" || bail_out "tar of the layer failed"
_t_untar "$tmp/L1.tar" "$tmp/k/L1" || bail_out "GNU tar -x of the layer failed"

# ------------------------------------------------------------ operations
op() { # op DESC CMD... — log exit status and output
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s: rc=%d %s\n' "$desc" "$rc" "$(printf '%s' "$out" | tr '\n' '|')"
}
# shellcheck disable=SC2317 # called through op "$@"
sh_c() { sh -c "$1"; }
meta_ops() {
	op "chmod" chmod 0600 data/big
	op "chown" chown 12:34 data/own
	op "utimes" touch -h -d '2001-02-03 04:05:06' data/times
	op "setxattr" setfattr -n user.new -v new data/xa
	op "removexattr" setfattr -x user.old data/xa
	op "chmod read-only file" chmod 0440 data/rw
}
data_ops() {
	op "read after chmod" sha256sum data/big
	op "read, then write through another descriptor" sh_c \
		'exec 3<data/rw; printf NEW | dd of=data/rw bs=1 conv=notrunc status=none; head -c 3 <&3; echo; stat -c %a data/rw'
	op "chmod, then rename" sh_c 'chmod 0640 data/mv && mv data/mv data/moved && sha256sum data/moved'
	op "chmod, then hard link and write through it" sh_c \
		'chmod 0640 data/hl && ln data/hl data/hl2 && printf X >>data/hl2 && tail -c 1 data/hl && stat -c %h data/hl'
	op "chmod, then truncate" sh_c 'chmod 0600 data/tr && truncate -s 10 data/tr && wc -c <data/tr'
	op "chmod, then rename the directory" sh_c 'chmod 0600 sub/f && mv sub sub2 && sha256sum sub2/f'
	op "set-user-ID, then append" sh_c 'chmod 4755 data/suid && printf x >>data/suid && stat -c %a data/suid'
}
# listing TREE OUT — t_listing, with mtimes set during the run as "(new)".
listing() {
	t_listing "$1" | awk -F'\t' -v OFS='\t' '$2 == "S" && $8 >= "2021" { $8 = "(new)" } { print }' >"$2"
}
# du_zero DESC FILE — the upper file holds no data blocks
du_zero() {
	local k
	k=$(du -k "$2" 2>&1 | cut -f1)
	is "$k" 0 "$1 (du -k: $k)"
}

w_tmpfs "$tmp/b"

# ------------------------------------------------------ kernel overlayfs
KUP=$tmp/b/k/upper KMNT=$tmp/mnt/kernel
mkdir -p "$KUP" "$tmp/b/k/work" "$KMNT"
# the upper root looks like the image's, as layerfs makes a new upper's
chmod --reference="$tmp/k/L1" "$KUP"
touch -r "$tmp/k/L1" "$KUP"
mount -t overlay overlay -o "lowerdir=$tmp/k/L1,upperdir=$KUP,workdir=$tmp/b/k/work,metacopy=on,index=off" \
	"$KMNT" || bail_out "kernel overlayfs with metacopy=on failed (kernel $(uname -r))"
(cd "$KMNT" && meta_ops) >"$tmp/kernel.log1" 2>&1
du_zero "kernel: chmod of a 32 MiB lower file copies no data (validates the reference)" "$KUP/data/big"
listing "$KMNT" "$tmp/kernel.list1"
(cd "$KMNT" && data_ops) >"$tmp/kernel.log2" 2>&1
listing "$KMNT" "$tmp/kernel.list2"
umount "$KMNT"

# ---------------------------------------------------------------- layerfs
LUP=$tmp/b/l/upper LMNT=$tmp/mnt/layerfs
if w_lfs_mount "$LMNT" "$LUP" "$tmp/L1.tar"; then
	(cd "$LMNT" && meta_ops) >"$tmp/layerfs.log1" 2>&1
	w_same "metadata changes: operation log equals kernel overlay's" "$tmp/kernel.log1" "$tmp/layerfs.log1"
	du_zero "chmod of a 32 MiB lower file copies no data" "$LUP/data/big"
	n=0
	for f in big own times xa rw; do
		[ "$(du -k "$LUP/data/$f" | cut -f1)" = 0 ] &&
			getfattr -h -n trusted.overlay.metacopy "$LUP/data/$f" >/dev/null 2>&1 && n=$((n + 1))
	done
	is "$n" 5 "chmod, chown, utimes, setxattr, removexattr: each upper file empty and marked trusted.overlay.metacopy"
	listing "$LMNT" "$tmp/layerfs.list1"
	w_same "metadata changes: tree equals kernel overlay's" "$tmp/kernel.list1" "$tmp/layerfs.list1"
	(cd "$LMNT" && data_ops) >"$tmp/layerfs.log2" 2>&1
	w_same "data after metadata changes: operation log equals kernel overlay's" "$tmp/kernel.log2" "$tmp/layerfs.log2"
	listing "$LMNT" "$tmp/layerfs.list2"
	w_same "data after metadata changes: tree equals kernel overlay's" "$tmp/kernel.list2" "$tmp/layerfs.list2"
	if getfattr -h -n trusted.overlay.metacopy "$LUP/data/rw" >/dev/null 2>&1; then
		not_ok "a written metacopy file loses its mark"
	else
		ok "a written metacopy file loses its mark"
	fi
	t_umount "$LMNT"
	if w_lfs_mount "$LMNT" "$LUP" "$tmp/L1.tar"; then
		listing "$LMNT" "$tmp/layerfs.list2r"
		w_same "layerfs remounted on its upper: tree equals kernel overlay's" "$tmp/kernel.list2" "$tmp/layerfs.list2r"
		t_umount "$LMNT"
	else
		not_ok "layerfs remounted on its upper (not mounted)"
		not_ok "layerfs umount (not mounted)"
	fi
else
	for i in $(seq 1 11); do not_ok "layerfs side $i (not mounted)"; done
fi

# kernel overlayfs (metacopy=on) mounts the upper layerfs wrote
mkdir -p "$tmp/b/l/kwork" "$tmp/mnt/kl"
if mount -t overlay overlay -o "lowerdir=$tmp/k/L1,upperdir=$LUP,workdir=$tmp/b/l/kwork,metacopy=on,index=off" \
	"$tmp/mnt/kl" 2>"$tmp/kl.err"; then
	listing "$tmp/mnt/kl" "$tmp/kl.list2"
	w_same "kernel overlayfs over the layerfs upper: tree equals kernel overlay's" "$tmp/kernel.list2" "$tmp/kl.list2"
	umount "$tmp/mnt/kl"
else
	not_ok "kernel overlayfs over the layerfs upper: tree equals kernel overlay's (not mounted)"
	diag_file "$tmp/kl.err"
fi

# layerfs mounts the upper the kernel wrote (metacopy files, a redirect)
KLMNT=$tmp/mnt/lk
if w_lfs_mount "$KLMNT" "$KUP" "$tmp/L1.tar"; then
	listing "$KLMNT" "$tmp/lk.list2"
	w_same "layerfs over the kernel's metacopy upper: tree equals kernel overlay's" "$tmp/kernel.list2" "$tmp/lk.list2"
	t_umount "$KLMNT"
else
	not_ok "layerfs over the kernel's metacopy upper (not mounted)"
	not_ok "layerfs umount (not mounted)"
fi

# commit: a layer has no metacopy, so the data comes from below
noroot() { awk -F'\t' -v OFS='\t' '$1 == "." && $2 == "S" { $8 = "(root)" } { print }' "$1" >"$1.noroot"; }
if t_lfs commit --upper "$LUP" --layer "$tmp/L1.tar" -o "$tmp/C.tar"; then
	ok "layerfs commit of the metacopy upper"
	t_ref_flat "$tmp/flatc" "$tmp/L1.tar" "$tmp/C.tar" 2>"$tmp/flat.err" || bail_out "GNU tar extraction of L1 + commit failed"
	listing "$tmp/flatc" "$tmp/flatc.list"
	noroot "$tmp/kernel.list2"
	noroot "$tmp/flatc.list"
	w_same "GNU tar extraction of the layer + the committed layer equals kernel overlay's" \
		"$tmp/kernel.list2.noroot" "$tmp/flatc.list.noroot"
else
	not_ok "layerfs commit of the metacopy upper"
	t_diag_err
	not_ok "GNU tar extraction of the layer + the committed layer (no layer)"
fi

# the fuse-overlayfs form: no metacopy unless asked for (its users read
# the upper as fuse-overlayfs writes it)
for mc in default on; do
	m=$tmp/mnt/o-$mc u=$tmp/b/o-$mc
	mkdir -p "$m" "$u/upper" "$u/work"
	opt=lowerdir=$tmp/L1.tar,upperdir=$u/upper,workdir=$u/work
	[ "$mc" = default ] || opt=$opt,metacopy=$mc
	if t_lfs mount -o "$opt" "$m" && chmod 0600 "$m/data/big"; then
		k=$(du -k "$u/upper/data/big" | cut -f1)
		if [ "$mc" = default ]; then
			is "$(cmp "$u/upper/data/big" "$tmp/gen/data/big" && echo whole)" whole \
				"-o lowerdir=...: chmod copies the whole file up (du -k: $k)"
		else
			is "$k" 0 "-o lowerdir=...,metacopy=on: chmod copies no data"
		fi
	else
		not_ok "-o lowerdir=... metacopy=$mc: mount and chmod"
		t_diag_err
	fi
	t_umount "$m"
done

done_testing
