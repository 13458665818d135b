#!/bin/bash
# union_scenarios.sh — the union-semantics scenarios of the writable mount,
# performed identically on kernel overlayfs and on layerfs over the same two
# tar layers: modify a lower file, delete a lower file (also one present in
# both layers) and recreate it, replace a lower dir by a file and a lower
# file by a dir, rmdir a lower dir then mkdir it (opaque), rename lower
# files and a merged lower dir across directories (the old name must come
# back empty), hardlink a lower file and write through each name, a lower
# hardlink pair, metadata and xattrs of lower entries, error cases.
# Compared after each phase: the log of every operation (exit status, its
# stdout and stderr, which carry the errno text) and a t_listing of the
# tree (type, mode, owner, size, nlink of non-dirs, rdev, symlink target,
# xattrs, sha256), where mtimes set during the run read "(new)" — lower
# mtimes and explicitly set ones are compared exactly.
# Then: unmount, remount with the same upper and re-check; a second phase of
# operations on the remounted tree; kernel overlayfs mounting the upper that
# layerfs wrote (the upper format is overlay's); `layerfs commit` of the
# upper stacked on the layers (read-only) and, independently, GNU tar's
# FLAT extraction of that stack — both must equal the overlay tree.
# The kernel side always runs, validating the scenarios; the layerfs side is
# gated (lib_writable.bash) and reported as TODO until it exists.
# shellcheck disable=SC2317 # the p_* and sh_c helpers are called through op "$@"
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_writable.bash
. "$(dirname "$0")/lib_writable.bash"
require_root
require_layerfs
t_tmpdir
tmp=$T_TMP
T0='2020-01-02 03:04:05'

# ------------------------------------------------------------ layers
mkf() { # mkf PATH CONTENT
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
}
gen_layers() {
	local d=$tmp/gen/d1
	mkdir -p "$d" "$tmp/gen/d2"
	cd "$d" || return 1
	mkf etc/passwd $'root:x:0:0::/root:/bin/sh\n'
	mkf mod/file.txt $'lower v1\n'
	perl -e 'srand(7); print map { chr(int(rand(256))) } 1 .. 70000' >mod/big.bin
	mkf del/gone.txt $'delete me\n'
	mkf del/keep.txt $'keep\n'
	mkf repl/dir/a $'a\n'
	mkf repl/dir/sub/b $'b\n'
	mkf repl/file.txt $'becomes a dir\n'
	mkf opq/dir/x $'x\n'
	mkf opq/dir/sub/z $'z\n'
	mkf opq2/old $'hidden by the opaque L2\n'
	mkf mv/src/f1.txt $'f1\n'
	mkf mv/src/dir/d1 $'d1\n'
	mkf mv/src/dir/sub/d2 $'d2\n'
	mkf mv/dst/keep $'keep\n'
	mkf hl/orig.txt $'orig\n'
	mkf hl/pair1 $'pair\n'
	ln hl/pair1 hl/pair2
	mkf xa/file $'xattrs\n'
	setfattr -n user.a -v 1 xa/file
	setfattr -n trusted.t -v t xa/file
	setfattr -n user.d -v dir xa
	mkf perm/exec.sh $'#!/bin/sh\n'
	chmod 0755 perm/exec.sh
	mkf own/file $'owned\n'
	chown 1000:1000 own/file
	mkdir -p sym
	ln -s ../mod/file.txt sym/link
	mkf multi/both.txt $'L1\n'
	mkf wh/old $'whited out in L2\n'
	mkf wh/stay $'stay\n'
	find . -depth -exec touch -h -d "$T0" {} +
	cd "$tmp/gen/d2" || return 1
	mkf multi/both.txt $'L2 version\n'
	mkf mod/l2file.txt $'from L2, longer than one hundred bytes? no, but it gets truncated to 100 anyway\n'
	mkdir -p wh
	: >wh/.wh.old
	mkdir -p opq2
	: >opq2/.wh..wh..opq
	mkf opq2/new $'new in L2\n'
	mkf mv/src/dir/l2child $'L2 child of a merged dir\n'
	mkf repl/dir/l2only $'l2 only\n'
	find . -depth -exec touch -h -d "$T0" {} +
	cd "$tmp" || return 1
	w_tar "$tmp/gen/d1" "$tmp/L1.tar" && w_tar "$tmp/gen/d2" "$tmp/L2.tar"
}
gen_layers || bail_out "generating the layers failed"
# Kernel overlay lowers: lib.sh's own OCI -> overlay conversion.
for i in 1 2; do
	if ! _t_untar "$tmp/L$i.tar" "$tmp/k/L$i" || ! _t_overlay_convert "$tmp/k" "$i"; then
		bail_out "converting L$i.tar for kernel overlayfs failed"
	fi
done
KLOWER=$tmp/k/L2:$tmp/k/L1

# --------------------------------------------------------- operations
# op DESC CMD... — run CMD in the current dir; log exit status and output.
op() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s: rc=%d %s\n' "$desc" "$rc" "$(printf '%s' "$out" | tr '\n' '|')"
}
# Raw syscalls through perl, so the errno is the kernel's, not coreutils'.
p_rename() { perl -e 'rename($ARGV[0], $ARGV[1]) or die "$!\n"' "$@"; }
p_rmdir() { perl -e 'rmdir($ARGV[0]) or die "$!\n"' "$@"; }
p_unlink() { perl -e 'unlink($ARGV[0]) or die "$!\n"' "$@"; }
p_link() { perl -e 'link($ARGV[0], $ARGV[1]) or die "$!\n"' "$@"; }
p_mkdir() { perl -e 'mkdir($ARGV[0]) or die "$!\n"' "$@"; }
sh_c() { sh -c "$1"; }

phase1() {
	# modify lower files
	op "modify: append" sh_c 'printf "appended\n" >>mod/file.txt'
	op "modify: overwrite middle" sh_c 'printf MIDDLE | dd of=mod/big.bin bs=1 seek=30000 conv=notrunc status=none'
	op "modify: truncate L2 file" truncate -s 100 mod/l2file.txt
	op "modify: via symlink" cat sym/link
	# delete then recreate
	op "delete" rm del/gone.txt
	op "delete: gone" cat del/gone.txt
	op "delete: listing" ls -A del
	op "delete: recreate" sh_c 'echo recreated >del/gone.txt'
	op "delete two-layer file" p_unlink multi/both.txt
	op "delete two-layer: gone" stat -c %n multi/both.txt
	op "delete two-layer: recreate" sh_c 'echo new >multi/both.txt'
	op "whited out in L2: unlink" p_unlink wh/old
	op "L2 opaque dir: listing" ls -A opq2
	# replace a lower dir by a file, a lower file by a dir
	op "dir->file: rmdir nonempty" p_rmdir repl/dir
	op "dir->file: rm -r" rm -r repl/dir
	op "dir->file: create" sh_c 'echo file >repl/dir'
	op "dir->file: old child" cat repl/dir/a
	op "file->dir: mkdir over" p_mkdir repl/file.txt
	op "file->dir: rm" rm repl/file.txt
	op "file->dir: mkdir" mkdir repl/file.txt
	op "file->dir: child" sh_c ': >repl/file.txt/inner'
	# rmdir a lower dir then mkdir it: opaque
	op "opaque: rm -r" rm -r opq/dir
	op "opaque: mkdir" mkdir opq/dir
	op "opaque: empty" ls -A opq/dir
	op "opaque: create" sh_c 'echo n >opq/dir/new'
	op "opaque L2: rm -r" rm -r opq2
	op "opaque L2: mkdir" mkdir opq2
	op "opaque L2: empty" ls -A opq2
	# renames across directories
	op "rename: file across" p_rename mv/src/f1.txt mv/dst/f1.txt
	op "rename: merged dir across" p_rename mv/src/dir mv/dst/dir2
	op "rename: moved listing" ls -AR mv/dst/dir2
	op "rename: old name" stat -c %n mv/src/dir
	op "rename: old name mkdir" p_mkdir mv/src/dir
	op "rename: old name empty" ls -A mv/src/dir
	op "rename: subdir out" p_rename mv/dst/dir2/sub mv/sub2
	op "rename: into own subdir" p_rename mv/dst mv/dst/dir2/x
	op "rename: dir over nonempty" p_rename mv/src mv/dst
	op "rename: dir over empty" p_rename mv/sub2 mv/src/dir
	op "rename: modified dir" p_rename mod mod.renamed
	op "rename: modified dir content" cat mod.renamed/file.txt
	op "rename: modified dir back" p_rename mod.renamed mod
	op "rename: file over lower file" p_rename del/keep.txt etc/passwd
	op "rename: file over dir" p_rename etc/passwd mv/dst
	# hardlinks to lower files
	op "hardlink" p_link hl/orig.txt hl/link.txt
	op "hardlink: nlink" stat -c '%n %h' hl/orig.txt hl/link.txt
	op "hardlink: write orig" sh_c 'echo A >>hl/orig.txt'
	op "hardlink: read link" cat hl/link.txt
	op "hardlink: write link" sh_c 'echo B >>hl/link.txt'
	op "hardlink: read orig" cat hl/orig.txt
	op "hardlink: to dir" p_link mv/dst mv/dstlink
	op "hardlink: exists" p_link hl/orig.txt hl/pair1
	op "lower pair: write" sh_c 'echo X >>hl/pair1'
	op "lower pair: read other" cat hl/pair2
	op "lower pair: nlink" stat -c '%n %h' hl/pair1 hl/pair2
	# metadata
	op "chmod" chmod 0700 perm/exec.sh
	op "chown" chown 2000:3000 own/file
	op "setxattr" setfattr -n user.b -v 2 xa/file
	op "removexattr" setfattr -x user.a xa/file
	op "getxattr removed" getfattr -n user.a xa/file
	op "setxattr dir" setfattr -n user.d2 -v 2 xa
	op "utimens" touch -m -d '2001-02-03 04:05:06.789' mod/l2file.txt
	# symlinks, special files, errors
	op "symlink: replace" sh_c 'rm sym/link && ln -s ../del/gone.txt sym/link'
	op "symlink: read" cat sym/link
	op "mkdir over file" p_mkdir etc/passwd
	op "mkfifo" mkfifo dev.fifo
	op "mknod" mknod dev.null c 1 3
	op "final listing" ls -AR .
}
phase2() {
	op "p2: rm recreated" rm del/gone.txt
	op "p2: rename dir back" p_rename mv/dst/dir2 mv/src/dir
	op "p2: rename dir back over nonempty" p_rename mv/dst mv/src
	op "p2: moved back listing" ls -AR mv
	op "p2: write via link" sh_c 'echo C >>hl/link.txt'
	op "p2: read orig" cat hl/orig.txt
	op "p2: rm pair2" rm hl/pair2
	op "p2: pair1 nlink" stat -c '%n %h' hl/pair1
	op "p2: rm -r opaque dir" rm -r opq
	op "p2: modify again" sh_c 'printf again >>mod/file.txt'
	op "p2: rm lower tree" rm -r repl
	op "p2: final listing" ls -AR .
}

# listing TREE OUT — t_listing with mtimes set during the run as "(new)":
# every lower mtime is in 2020 and the one set by the scenarios in 2001.
listing() {
	t_listing "$1" | awk -F'\t' -v OFS='\t' '$2 == "S" && $8 >= "2021" { $8 = "(new)" } { print }' >"$2"
}
# run_phase N ROOT NAME — phase N in ROOT; $tmp/NAME.logN, $tmp/NAME.listN.
run_phase() {
	(
		cd "$2" || exit 1
		case $1 in
		1) phase1 ;;
		2) phase2 ;;
		esac
	) >"$tmp/$3.log$1" 2>&1
	listing "$2" "$tmp/$3.list$1"
}

# -------------------------------------------------- kernel overlayfs
w_tmpfs "$tmp/b"
KMNT=$tmp/mnt/kernel
w_overlay "$KMNT" "$tmp/b/k" "$KLOWER" "$tmp/k/L2"
listing "$KMNT" "$tmp/kernel.list0"
t_ref_flat "$tmp/flat0" "$tmp/L1.tar" "$tmp/L2.tar" || bail_out "FLAT reference of L1+L2 failed"
listing "$tmp/flat0" "$tmp/flat.list0"
w_same "kernel overlay before any change equals the FLAT reference" "$tmp/flat.list0" "$tmp/kernel.list0"
run_phase 1 "$KMNT" kernel
# the scenarios did what they say (validates this script on the kernel)
expect() { # expect DESC ERE — a line of kernel.log1 matches
	if grep -Eq -- "$2" "$tmp/kernel.log1"; then ok "kernel: $1"; else
		not_ok "kernel: $1"
		diag "  no line of the log matches /$2/"
	fi
}
expect "rmdir then mkdir of a lower dir leaves it empty" '^opaque: empty: rc=0 $'
expect "a renamed merged lower dir keeps both layers' children" '^rename: moved listing: rc=0 .*d1\|l2child\|sub'
expect "a renamed lower dir's old name comes back empty" '^rename: old name empty: rc=0 $'
expect "rename into its own subdir is EINVAL" '^rename: into own subdir: rc=[1-9].* Invalid argument'
expect "a hardlinked lower file shares writes" '^hardlink: read orig: rc=0 orig\|A\|B$'
expect "a lower hardlink pair shares writes" '^lower pair: read other: rc=0 pair\|X$'
expect "a file in both layers is gone after unlink" '^delete two-layer: gone: rc=1 '
expect "link to a dir is EPERM" '^hardlink: to dir: rc=[1-9].* Operation not permitted'
umount "$KMNT"
w_overlay "$KMNT" "$tmp/b/k" "$KLOWER"
listing "$KMNT" "$tmp/kernel.list1r"
w_same "kernel overlay remounted: tree unchanged" "$tmp/kernel.list1" "$tmp/kernel.list1r"
run_phase 2 "$KMNT" kernel
umount "$KMNT"

# ---------------------------------------------------------- layerfs
LMNT=$tmp/mnt/layerfs
LUP=$tmp/b/l/upper
lfs_points=("layerfs mount --upper" "layerfs: operation log equals kernel overlay's"
	"layerfs: tree equals kernel overlay's" "layerfs umount"
	"layerfs remount with the same upper" "layerfs remounted: tree unchanged"
	"layerfs phase 2: operation log equals kernel overlay's"
	"layerfs phase 2: tree equals kernel overlay's" "layerfs umount"
	"kernel overlayfs mounts the upper layerfs wrote" "kernel overlay over the layerfs upper: tree equals")
if w_have_writable; then
	if w_lfs_mount "$LMNT" "$LUP" "$tmp/L1.tar" "$tmp/L2.tar"; then
		listing "$LMNT" "$tmp/layerfs.list0"
		w_same "layerfs before any change equals kernel overlay" "$tmp/kernel.list0" "$tmp/layerfs.list0"
		run_phase 1 "$LMNT" layerfs
		w_same "layerfs phase 1: operation log equals kernel overlay's" "$tmp/kernel.log1" "$tmp/layerfs.log1"
		w_same "layerfs phase 1: tree equals kernel overlay's" "$tmp/kernel.list1" "$tmp/layerfs.list1"
		t_umount "$LMNT"
		if w_lfs_mount "$LMNT" "$LUP" "$tmp/L1.tar" "$tmp/L2.tar"; then
			listing "$LMNT" "$tmp/layerfs.list1r"
			w_same "layerfs remounted: tree unchanged" "$tmp/kernel.list1" "$tmp/layerfs.list1r"
			run_phase 2 "$LMNT" layerfs
			w_same "layerfs phase 2: operation log equals kernel overlay's" "$tmp/kernel.log2" "$tmp/layerfs.log2"
			w_same "layerfs phase 2: tree equals kernel overlay's" "$tmp/kernel.list2" "$tmp/layerfs.list2"
			t_umount "$LMNT"
		else
			for d in "${lfs_points[@]:5:4}"; do not_ok "$d (remount failed)"; done
		fi
		# The upper is in overlay format: the kernel mounts it as it is
		# (index=off: that upper was not made with overlay's inode index;
		# metacopy=on: chmod & co. of lower files copied no data).
		mkdir -p "$tmp/b/l/kwork" "$tmp/mnt/kl"
		if mount -t overlay overlay -o "lowerdir=$KLOWER,upperdir=$LUP,workdir=$tmp/b/l/kwork,redirect_dir=on,index=off,metacopy=on" \
			"$tmp/mnt/kl" 2>"$tmp/kl.err"; then
			ok "kernel overlayfs mounts the upper layerfs wrote"
			listing "$tmp/mnt/kl" "$tmp/kl.list2"
			w_same "kernel overlay over the layerfs upper: tree equals kernel overlay's" \
				"$tmp/kernel.list2" "$tmp/kl.list2"
			umount "$tmp/mnt/kl"
		else
			not_ok "kernel overlayfs mounts the upper layerfs wrote"
			diag_file "$tmp/kl.err"
			not_ok "kernel overlay over the layerfs upper: tree equals (not mounted)"
		fi
	else
		for d in "${lfs_points[@]:1}"; do not_ok "$d (not mounted)"; done
	fi
fi

# ------------------------------------------------- commit and stack
# A committed layer need not have an entry for the root directory (docker's
# layers have none), so below the root's mtime comes from the lower layers:
# that one field is blanked on both sides of the stack comparisons.
noroot() { # noroot LIST — LIST with the mtime of "." blanked
	awk -F'\t' -v OFS='\t' '$1 == "." && $2 == "S" { $8 = "(root)" } { print }' "$1" >"$1.noroot"
}
c_points=("layerfs commit --upper -o LAYER.tar" "stacked committed layer mounts read-only"
	"stacked committed layer: tree equals kernel overlay's" "layerfs umount (stack)"
	"FLAT extraction of L1+L2+committed layer equals kernel overlay's")
if w_have_writable && w_have_commit; then
	# with the lower layers: metacopy files take their data from there
	if t_lfs commit --upper "$LUP" --layer "$tmp/L1.tar" --layer "$tmp/L2.tar" -o "$tmp/C.tar" &&
		[ -s "$tmp/C.tar" ]; then
		ok "${c_points[0]}"
		if t_mount_layers "$tmp/mnt/stack" "$tmp/L1.tar" "$tmp/L2.tar" "$tmp/C.tar"; then
			listing "$tmp/mnt/stack" "$tmp/stack.list2"
			noroot "$tmp/kernel.list2"
			noroot "$tmp/stack.list2"
			w_same "${c_points[2]}" "$tmp/kernel.list2.noroot" "$tmp/stack.list2.noroot"
			t_umount "$tmp/mnt/stack"
		else
			not_ok "${c_points[2]} (not mounted)"
			not_ok "${c_points[3]} (not mounted)"
		fi
		if t_ref_flat "$tmp/flatc" "$tmp/L1.tar" "$tmp/L2.tar" "$tmp/C.tar"; then
			listing "$tmp/flatc" "$tmp/flatc.list2"
			noroot "$tmp/kernel.list2"
			noroot "$tmp/flatc.list2"
			w_same "${c_points[4]}" "$tmp/kernel.list2.noroot" "$tmp/flatc.list2.noroot"
		else
			not_ok "${c_points[4]} (GNU tar extraction failed)"
		fi
	else
		not_ok "${c_points[0]}"
		t_diag_err
		for d in "${c_points[@]:1}"; do not_ok "$d (no layer)"; done
	fi
else
	for d in "${c_points[@]}"; do todo "$d — layerfs commit not implemented yet"; done
fi

done_testing
