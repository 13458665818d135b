# shellcheck shell=bash
# tests/integration/lib_writable.bash — helpers shared by the writable-mount
# suites (posix_conformance.sh, union_scenarios.sh, random_ops.sh).  Source
# it after lib.sh.  It is not a test: tests/run.sh only runs *.sh files.
#
# The references:
#   tmpfs          a fresh `mount -t tmpfs` directory: plain POSIX.
#   kernel overlay `mount -t overlay` with redirect_dir=on (a lower directory
#                  can be renamed: no EXDEV) and index=on (a lower file keeps
#                  its hardlinks when one name is copied up), its upper and
#                  work dirs on a tmpfs, so that upper-fs limits (ext4 keeps
#                  all xattrs of an inode in one block: ENOSPC) are tmpfs's.
# layerfs gets its upper dir on a tmpfs too.
#
# The layerfs side of each suite needs writable mounts, the fuse-overlayfs
# form and `layerfs commit`: a layerfs without them fails the suite.

# w_prog NAME — a test program built by the Makefile into $(BUILD)/tests,
# found beside the layerfs binary ($LAYERFS may be the ./layerfs symlink).
w_prog() {
	local d
	d=$(dirname "$(readlink -f "$LAYERFS")")
	if [ -f "$d/tests/$1" ] && [ -x "$d/tests/$1" ]; then
		echo "$d/tests/$1"
	elif [ -f "$T_REPO/build/tests/$1" ] && [ -x "$T_REPO/build/tests/$1" ]; then
		echo "$T_REPO/build/tests/$1"
	else
		bail_out "test program $1 not built (run: make build/tests/$1)"
	fi
}

# w_have_writable — layerfs mounts writable (`mount --help` has --upper)
# and FUSE is usable; anything missing ends the script as a failure.
w_have_writable() {
	require_fuse
	"$LAYERFS" mount --help 2>&1 | grep -q -- '--upper' || bail_out "layerfs mount has no --upper"
}
# w_have_lowerdir_opt — the fuse-overlayfs form `mount -o lowerdir=...`.
w_have_lowerdir_opt() {
	w_have_writable
	"$LAYERFS" mount --help 2>&1 | grep -q 'lowerdir' || bail_out "layerfs mount has no -o lowerdir="
}
# w_have_commit — `layerfs commit --upper DIR -o LAYER.tar`.
w_have_commit() {
	"$LAYERFS" commit --help 2>&1 | grep -q -- '--upper' || bail_out "layerfs commit has no --upper"
}

# w_tmpfs DIR — mount a fresh tmpfs on DIR (unmounted by t_tmpdir's cleanup).
w_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o mode=0755 tmpfs "$1" || bail_out "mount -t tmpfs on $1 failed"
}

# w_overlay MNT UPPERBASE LOWER[:LOWER...] [ROOTREF] — kernel overlayfs,
# lowers top first, upper and work dirs created in UPPERBASE (a tmpfs).
# The root of an overlay mount is always the upper dir itself, so a new
# upper gives the root a new mtime; with ROOTREF (the top lower) the upper
# root starts with that dir's mode, owner and times, as if copied up.
w_overlay() {
	local mnt=$1 base=$2 lowers=$3 ref=${4:-}
	mkdir -p "$mnt" "$base/work"
	if [ ! -d "$base/upper" ]; then
		mkdir -p "$base/upper"
		if [ -n "$ref" ]; then
			chmod --reference="$ref" "$base/upper"
			chown --reference="$ref" "$base/upper"
			touch -r "$ref" "$base/upper"
		fi
	fi
	mount -t overlay overlay \
		-o "lowerdir=$lowers,upperdir=$base/upper,workdir=$base/work,redirect_dir=on,index=on" "$mnt" ||
		bail_out "kernel overlayfs mount with redirect_dir=on,index=on failed on $mnt"
}

# w_tar DIR TAR — a pax tar layer of DIR (root entry included), with xattrs.
w_tar() {
	tar --format=pax --xattrs --xattrs-include='*' --numeric-owner --sort=name \
		-C "$1" -cf "$2" .
}

# w_lfs_mount MNT UPPER TAR... — writable layerfs mount of bare tar layers
# (lowest first); one test point.
w_lfs_mount() {
	local mnt=$1 upper=$2 tarf args=() rc
	shift 2
	for tarf; do args+=(--layer "$tarf"); done
	mkdir -p "$mnt"
	t_lfs mount "${args[@]}" --upper "$upper" "$mnt"
	rc=$?
	if [ "$rc" -eq 0 ] && t_is_mounted "$mnt"; then
		ok "layerfs mount --layer x$# --upper: mounted when the command returns"
		return 0
	fi
	not_ok "layerfs mount --layer x$# --upper: mounted when the command returns"
	diag "  exit status $rc"
	t_diag_err
	return 1
}

# w_same DESC REF GOT — the two output files are equal; shows a diff if not.
w_same() {
	if diff -u "$2" "$3" >"$T_TMP/.wdiff"; then
		ok "$1 ($(wc -l <"$2") lines)"
		return 0
	fi
	not_ok "$1"
	diag "  diff -u $(basename "$2") $(basename "$3"):"
	diag_file "$T_TMP/.wdiff" 80
	return 1
}

