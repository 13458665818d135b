#!/bin/bash
# mount_posix.sh — POSIX behaviour of a read-only layerfs mount, checked
# against the FLAT reference: hardlink st_ino/st_nlink from the very first
# stat, stable inode numbers (also after the kernel forgets them), the
# inode partition of all paths, ENAMETOOLONG, statfs, readlink, xattrs,
# EROFS for every kind of write, the mount table entry, files > 8 GiB,
# foreground mode (-f) and error exits of mount/umount.
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
ref=$tmp/flat
mnt=$tmp/mnt

t_mount_layers "$mnt" "${tars[@]}"

# --- hardlinks, before anything else touches the mount
# hl_first A B — A and B share st_ino; both report FLAT's st_nlink at once.
hl_first() {
	local a b want
	a=$(stat -c '%i %h' "$mnt/$1" 2>&1)
	b=$(stat -c '%i %h' "$mnt/$2" 2>&1)
	want=$(stat -c %h "$ref/$1")
	if [ "${a%% *}" = "${b%% *}" ] && [ "${a#* }" = "$want" ] && [ "${b#* }" = "$want" ]; then
		ok "first stat: $1 and $2 share st_ino, st_nlink=$want"
	else
		not_ok "first stat: $1 and $2 share st_ino, st_nlink=$want"
		diag "  $1: '$a'   $2: '$b'   (st_ino st_nlink)"
	fi
}
hl_first hard/a3 hard/a2 # a1, the name holding the data, whited out above
hl_first hard/d3 hard/d1 # d2 replaced by a symlink above
hl_first hard/c1 other/c2
hl_first hard/s2 hard/s1
hl_first hard/e2 hard/e1
is "$(stat -c %h "$mnt/hard/b2" 2>&1)" "$(stat -c %h "$ref/hard/b2")" "first stat: hard/b2 (other name replaced above) has st_nlink 1"

# --- inode numbers
f=data/b512
i1=$(stat -c %i "$mnt/$f")
i2=$(stat -c %i "$mnt/$f")
is "$i2" "$i1" "stat twice: same st_ino"
# inode_groups TREE — every path with the first path sharing its inode.
inode_groups() {
	(cd "$1" && find . -printf '%i\t%P\n' | sort -t $'\t' -k2 |
		awk -F'\t' '{ if (!($1 in g)) g[$1] = $2; print $2 "\t" g[$1] }')
}
inode_groups "$mnt" >"$tmp/ino.before"
inode_groups "$ref" >"$tmp/ino.ref"
if diff "$tmp/ino.ref" "$tmp/ino.before" >"$tmp/ino.diff"; then
	ok "paths share an st_ino exactly when they are hardlinks ($(wc -l <"$tmp/ino.ref") paths)"
else
	not_ok "paths share an st_ino exactly when they are hardlinks"
	diag_file "$tmp/ino.diff" 20
fi
(cd "$mnt" && find . -printf '%i\t%P\n' | sort) >"$tmp/ino.1"
sync
echo 2 >/proc/sys/vm/drop_caches # the kernel forgets dentries and inodes
(cd "$mnt" && find . -printf '%i\t%P\n' | sort) >"$tmp/ino.2"
if diff "$tmp/ino.1" "$tmp/ino.2" >"$tmp/ino.diff"; then
	ok "st_ino of every path unchanged after the kernel dropped its inodes"
else
	not_ok "st_ino of every path unchanged after the kernel dropped its inodes"
	diag_file "$tmp/ino.diff" 10
fi
is "$(stat -c %i "$mnt")" 1 "the mount root is inode 1 (FUSE_ROOT_ID)"

# --- names
n255=$(printf "%255s" '' | tr ' ' N)
t_run "a 255-byte name resolves" stat "$mnt/names/$n255"
t_fails "a 256-byte name: ENAMETOOLONG" 'File name too long' stat "$mnt/names/${n255}N"
t_fails "a 256-byte name under a missing dir: ENAMETOOLONG or ENOENT" 'File name too long|No such file' stat "$mnt/nodir/${n255}N"
t_fails "a missing 255-byte name: ENOENT" 'No such file or directory' stat "$mnt/names/$(printf "%255s" '' | tr ' ' Q)"
deep=deep
for i in $(seq 60); do deep=$deep/d$i; done
t_run "cat of a file 60 directories deep" cmp "$ref/$deep/leaf.txt" "$mnt/$deep/leaf.txt"
L=$(printf "%60s" '' | tr ' ' L)
long="long/$L/$L/$L/$L/$L/$(printf "%100s" '' | tr ' ' F)"
t_run "cat of a file with a ${#long}-byte path" cmp "$ref/$long" "$mnt/$long"
t_run "lookup through a symlink to a dir (links/todir/x)" cmp "$ref/multi/x" "$mnt/links/todir/x"
t_fails "a file used as a dir: ENOTDIR" 'Not a directory' stat "$mnt/data/b512/x"
t_ls_dots "$mnt" "of the mount root"
t_ls_dots "$mnt/multi" "of a merged directory"

# --- statfs, readlink
if out=$(stat -f -c '%T %s %b %c' "$mnt" 2>&1) && [ "${out%% *}" = fuseblk ] || [ "${out%% *}" = fuse ]; then
	ok "statfs works (stat -f: $out)"
else
	not_ok "statfs works"
	diag "  stat -f: $out"
fi
for l in links/abs links/rel links/dangling links/todir links/dot links/longtarget links/to255 hard/d2 d2l; do
	is "$(readlink "$mnt/$l" 2>&1)" "$(readlink "$ref/$l")" "readlink $l"
done

# --- xattrs
is "$(getfattr --absolute-names --only-values -n user.foo "$mnt/xa/user.txt" 2>&1)" bar "getxattr user.foo"
is "$(getfattr --absolute-names -e hex -n user.bin "$mnt/xa/user.txt" 2>&1 | grep user.bin)" "user.bin=0x00ff01" "getxattr of a binary value"
is "$(getfattr --absolute-names -e hex -n security.capability "$mnt/bin/ping" 2>&1 | grep security)" \
	"$(getfattr --absolute-names -e hex -n security.capability "$ref/bin/ping" | grep security)" "getxattr security.capability"
is "$(getfattr --absolute-names --only-values -n user.big "$mnt/xa/big" 2>&1 | wc -c)" 3000 "getxattr of a 3000-byte value"
is "$(getfattr --absolute-names -m - "$mnt/xa/many" 2>&1 | grep -v '^#' | sort)" "$(getfattr --absolute-names -m - "$ref/xa/many" | grep -v '^#' | sort)" \
	"listxattr of a file with 20 xattrs"
is "$(getfattr --absolute-names -m - "$mnt/replace/xattr.txt" 2>&1 | grep -c user)" 0 "no xattrs on a file replaced by one without"
is "$(getfattr --absolute-names -h -m - -d "$mnt" 2>&1 | grep rootattr)" 'user.rootattr="top"' "xattr of the mount root"
t_fails "missing xattr: ENODATA" 'No such attribute' getfattr -n user.nope "$mnt/xa/user.txt"

# --- writes: EROFS
erofs='Read-only file system'
t_fails "create a file: EROFS" "$erofs" touch "$mnt/newfile"
t_fails "set times: EROFS" "$erofs" touch "$mnt/data/b512"
t_fails "open for writing: EROFS" "$erofs" sh -c "echo x >>'$mnt/data/b512'"
t_fails "truncate: EROFS" "$erofs" truncate -s 0 "$mnt/data/b512"
t_fails "mkdir: EROFS" "$erofs" mkdir "$mnt/newdir"
t_fails "rm: EROFS" "$erofs" rm -f "$mnt/data/b512"
t_fails "rmdir: EROFS" "$erofs" rmdir "$mnt/tmp"
t_fails "rename: EROFS" "$erofs" mv "$mnt/data/b512" "$mnt/data/b512.new"
t_fails "link: EROFS" "$erofs" ln "$mnt/data/b512" "$mnt/data/b512.ln"
t_fails "symlink: EROFS" "$erofs" ln -s x "$mnt/data/sym"
t_fails "mknod: EROFS" "$erofs" mkfifo "$mnt/data/fifo"
t_fails "chmod: EROFS" "$erofs" chmod 600 "$mnt/data/b512"
t_fails "chown: EROFS" "$erofs" chown 1:1 "$mnt/data/b512"
t_fails "setfattr: EROFS" "$erofs" setfattr -n user.x -v 1 "$mnt/data/b512"
t_fails "removexattr: EROFS" "$erofs" setfattr -x user.foo "$mnt/xa/user.txt"
t_run "the layer's bytes are unchanged after the attempts" cmp "$ref/data/b512" "$mnt/data/b512"

# --- the mount table
is "$(t_mount_type "$mnt")" fuse.layerfs "/proc/mounts lists it as fuse.layerfs"
if t_mount_opts "$mnt" | tr ',' '\n' | grep -qx ro; then
	ok "mounted with the ro flag"
else
	todo "mounted with the ro flag (opts: $(t_mount_opts "$mnt"))"
fi
t_umount "$mnt"
t_fails "umount of a dir that is not mounted: non-zero exit with a message" . "$LAYERFS" umount "$mnt"

# --- a file over 8 GiB (pax size record), sparse
big=$tmp/big
mkdir -p "$big/src"
truncate -s 9G "$big/src/huge"
printf 'start' | dd of="$big/src/huge" conv=notrunc status=none
printf 'the end' | dd of="$big/src/huge" bs=1 seek=$((9 * 1073741824 - 7)) conv=notrunc status=none
tar --format=pax --sparse --numeric-owner -C "$big/src" -cf "$big/huge.tar" .
t_mount_layers "$big/mnt" "$big/huge.tar"
is "$(stat -c %s "$big/mnt/huge" 2>&1)" 9663676416 "a 9 GiB sparse file has the right st_size"
is "$(tail -c 7 "$big/mnt/huge" 2>&1)" "the end" "its last bytes read back"
is "$(dd if="$big/mnt/huge" bs=1M skip=5000 count=1 status=none 2>&1 | tr -d '\0' | wc -c)" 0 "a hole in it reads as zeros"
t_umount "$big/mnt"

# --- foreground mode
mkdir -p "$mnt"
"$LAYERFS" mount -f --layer "$tmp/gen/L1.tar" "$mnt" >"$tmp/fg.log" 2>&1 &
fg=$!
T_PIDS+=("$fg")
if t_wait_mount "$mnt" 1 30; then
	ok "-f: the mount appears in /proc/mounts"
else
	not_ok "-f: the mount appears in /proc/mounts"
	diag_file "$tmp/fg.log"
fi
if kill -0 "$fg" 2>/dev/null; then ok "-f: the command stays in the foreground"; else not_ok "-f: the command stays in the foreground"; fi
t_run "-f: files readable" cmp "$tmp/flat/etc/hosts" "$mnt/etc/hosts"
t_umount "$mnt"
rc=0
timeout 30 tail --pid="$fg" -f /dev/null || rc=timeout
if [ "$rc" = 0 ]; then
	wait "$fg"
	rc=$?
fi
is "$rc" 0 "-f: the process exits 0 after umount"

# --- bad command lines
t_fails "mount with a missing layer file: non-zero exit naming it" "nosuch\\.tar" \
	"$LAYERFS" mount --layer "$tmp/nosuch.tar" "$mnt"
t_fails "mount on a missing mountpoint: non-zero exit naming it" "nomnt" \
	"$LAYERFS" mount --layer "$tmp/gen/L1.tar" "$tmp/nomnt"
if t_is_mounted "$mnt" || t_is_mounted "$tmp/nomnt"; then not_ok "failed mounts leave nothing mounted"; else ok "failed mounts leave nothing mounted"; fi
done_testing
