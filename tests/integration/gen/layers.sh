#!/bin/bash
# gen/layers.sh OUTDIR — build the reference stack of four tar layers that
# exercises every OCI union rule layerfs must get right.
#
# Output:
#   OUTDIR/L1.tar  pax,   --xattrs --sparse, "./" member names, root entry
#   OUTDIR/L2.tar  gnu,   --sparse (old GNU sparse maps, GNU long names), root entry
#   OUTDIR/L3.tar  ustar, no root entry, member names without "./" (docker style)
#   OUTDIR/L4.tar  pax,   --xattrs --sparse-version=1.0, root entry
#   OUTDIR/layers             the tar file names, lowest layer first
#   OUTDIR/overlay-nlink-skip paths whose st_nlink kernel overlayfs reports
#                             wrongly by construction (see below)
#   OUTDIR/dirs/L1..L4        the layer directories (deleted unless KEEP_DIRS=1)
#
# Layer directories hold OCI whiteouts as plain empty files named .wh.NAME
# and .wh..wh..opq.  Every mtime is fixed explicitly, so the tars have the
# same content on every run.  Needs root: chown, mknod, trusted.* and
# security.capability xattrs.
set -eu
export LC_ALL=C TZ=UTC

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root (chown, mknod, trusted.* xattrs)" >&2
	exit 1
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
D=$out/dirs
rm -rf "$D"
mkdir -p "$D"

T_DEFAULT='2020-01-02 03:04:05.000000000'
# security.capability v2 blob: cap_net_raw in the permitted set (as setcap cap_net_raw+p).
CAP='0sAQAAAgAgAAAAAAAAAAAAAAAAAAA='

# mkf PATH CONTENT [MODE [UID:GID]] — a regular file; chown before chmod
# because chown clears setuid bits.
mkf() {
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
	if [ -n "${4:-}" ]; then chown "$4" "$1"; fi
	if [ -n "${3:-}" ]; then chmod "$3" "$1"; fi
}
# mkd PATH [MODE [UID:GID]]
mkd() {
	mkdir -p "$1"
	if [ -n "${3:-}" ]; then chown "$3" "$1"; fi
	if [ -n "${2:-}" ]; then chmod "$2" "$1"; fi
}
# wh DIR NAME — OCI whiteout marker for NAME in DIR.
wh() {
	mkdir -p "$1"
	: >"$1/.wh.$2"
}
# opq DIR — OCI opaque marker.
opq() {
	mkdir -p "$1"
	: >"$1/.wh..wh..opq"
}
# rnd SEED BYTES — deterministic incompressible bytes.
rnd() {
	perl -e 'srand($ARGV[0]); my $n = $ARGV[1]; my $s = "";
		while (length($s) < $n) { $s .= pack("N", int(rand(4294967296))) }
		print substr($s, 0, $n)' "$1" "$2"
}
# rep CHAR N — N copies of CHAR.
rep() { printf "%${2}s" '' | tr ' ' "$1"; }
# stamp DIR — fix every mtime in DIR (symlinks included), deepest first.
stamp() { find "$1" -depth -exec touch -h -d "$T_DEFAULT" {} +; }
# mktar DIR TAR FORMAT [TAR OPTIONS...] — archive DIR including its root entry.
mktar() {
	local dir=$1 tarf=$2 fmt=$3
	shift 3
	tar --format="$fmt" --numeric-owner --sort=name "$@" -C "$dir" -cf "$tarf" .
}

N255=$(rep N 255)
N60=$(rep L 60)

layer1() {
	local l=$D/L1
	mkd "$l" 0755 0:0
	cd "$l"
	mkf etc/hosts $'127.0.0.1 localhost\n'
	mkf etc/group $'root:x:0:\n'
	# replaced in L2 (content, mode, owner) and L4 (xattrs dropped)
	mkf replace/content.txt $'v1\n'
	mkf replace/mode.sh $'#!/bin/sh\necho hi\n' 0644
	mkf replace/owner.txt $'owner\n' 0644 0:0
	mkf replace/xattr.txt $'has xattrs in L1 only\n'
	setfattr -n user.gone -v 1 replace/xattr.txt
	# type changes: file->dir, dir->file, dir->symlink, symlink->dir (L4)
	mkf f2d $'a file in L1\n'
	mkf d2f/child $'child of a dir that becomes a file\n'
	mkf d2l/child $'child of a dir that becomes a symlink\n'
	ln -s etc l2d
	# whiteouts (L2): file, whole dir, nonexistent name; re-added in L3
	mkf wh/file1 $'whited out in L2, back in L3\n'
	mkf wh/file2 $'stays\n'
	mkf whdir/sub/deep.txt $'gone with whdir\n'
	mkf whdir/top.txt $'gone with whdir\n'
	# whiteout + same-name dir in the same layer (L2)
	mkf sl/old $'hidden by .wh.sl in L2\n'
	# opaque dirs (L2, L4)
	mkf opq/a a
	mkf opq/b b
	mkf opq/sub/c c
	mkf opq2/keep $'hidden by opaque in L4\n'
	mkf opq2/foo foo
	# a dir present in L1, L2, L3 with different mode/owner/mtime
	mkf multi/x x
	mkd multi 0755 0:0
	# dir metadata incl. xattrs: L4 has multi2 without xattrs
	mkf multi2/f f
	setfattr -n user.dirattr -v 1 multi2
	setfattr -n trusted.dirattr -v 2 multi2
	# hardlinks: a (L2 whites out a1, the data-carrying first name),
	# b (L2 replaces b1), c (across dirs, intact), d (L4 replaces d2 by a
	# symlink), s (setuid + capability, intact)
	mkf hard/a1 $'group a\n'
	ln hard/a1 hard/a2
	ln hard/a1 hard/a3
	mkf hard/b1 $'group b\n'
	ln hard/b1 hard/b2
	mkf hard/c1 $'group c\n'
	mkdir -p other
	ln hard/c1 other/c2
	mkf hard/d1 $'group d\n' 0640 1000:1000
	ln hard/d1 hard/d2
	ln hard/d1 hard/d3
	mkf hard/s1 $'#!/bin/sh\n' 4755 0:0
	setfattr -n security.capability -v "$CAP" hard/s1
	ln hard/s1 hard/s2
	# symlinks
	mkdir -p links
	ln -s /etc/hosts links/abs
	ln -s ../etc/hosts links/rel
	ln -s ../nonexistent/x links/dangling
	ln -s ../multi links/todir
	ln -s . links/dot
	ln -s "$(rep x 300)" links/longtarget
	ln -s "$N255" links/to255
	chown -h 1000:1000 links/rel
	setfattr -h -n trusted.linkattr -v 1 links/abs
	# devices and fifos
	mkdir -p dev
	mknod -m 0666 dev/null c 1 3
	mknod -m 0660 dev/loop0 b 7 0
	chown -h 0:6 dev/loop0
	mknod -m 0600 dev/big c 4095 1048575
	mkfifo -m 0644 dev/fifo
	mkfifo -m 0600 dev/fifo2
	# sparse: 32 MiB with data at 0, 1 MiB, 20 MiB and the last byte
	mkdir -p sparse
	truncate -s 32M sparse/holes
	rnd 1 4096 | dd of=sparse/holes conv=notrunc status=none
	printf 'ten bytes!' | dd of=sparse/holes bs=1 seek=1048576 conv=notrunc status=none
	rnd 2 65536 | dd of=sparse/holes bs=1M seek=20 conv=notrunc status=none
	printf 'E' | dd of=sparse/holes bs=1 seek=$((32 * 1048576 - 1)) conv=notrunc status=none
	truncate -s 5M sparse/allhole
	# data: random (gzip checkpoints), text, edge sizes
	mkdir -p data
	rnd 3 $((3 * 1048576 + 17)) >data/random3m
	seq 1 1000000 >data/seq.txt
	: >data/empty
	rnd 4 512 >data/b512
	rnd 5 513 >data/b513
	rnd 6 10240 >data/b10240
	# names
	mkdir -p names
	mkf "names/$N255" $'255-byte name\n'
	mkf "names/d$(rep M 254)/f" $'in a 255-byte dir name\n'
	mkf 'names/with space' sp
	mkf 'names/ünïcödé 名前.txt' utf8
	mkf 'names/-dash' dash
	mkf "names/quote'dq\"" q
	mkf 'names/star*?[x]' glob
	mkf names/.hidden hidden
	mkf names/...dots dots
	# deep path (60 levels) and long path (> 255 bytes total)
	local deep=deep i
	for i in $(seq 60); do deep=$deep/d$i; done
	mkf "$deep/leaf.txt" $'deep leaf\n'
	mkf "long/$N60/$N60/$N60/$N60/$N60/$(rep F 100)" $'long path\n'
	# modes
	mkf bin/su $'#!/bin/sh\n' 4755
	mkf bin/sg $'#!/bin/sh\n' 2755 0:50
	mkf bin/ping $'#!/bin/sh\n' 0755
	setfattr -n security.capability -v "$CAP" bin/ping
	mkd tmp 1777
	mkf perm/zero $'mode 0000\n' 0000
	mkf perm/locked/inside $'in a 0000 dir\n'
	mkd perm/locked 0000
	mkd perm/g2775 2775 0:100
	mkf perm/0640 x 0640 0:42
	mkf perm/all 'x' 7777
	# owners
	mkf own/u1000 a 0644 1000:1000
	mkf own/nobody b 0644 65534:65534
	mkf own/big c 0644 123456:654321
	mkd own/dir 0750 1000:1000
	# xattrs
	mkf xa/user.txt u
	setfattr -n user.foo -v bar xa/user.txt
	setfattr -n user.bin -v 0x00ff01 xa/user.txt
	mkf xa/trusted.txt t
	setfattr -n trusted.t -v 1 xa/trusted.txt
	mkf xa/big b
	setfattr -n user.big -v "$(rep v 3000)" xa/big
	mkf xa/many m
	for i in $(seq 20); do setfattr -n "user.k$i" -v "value$i" xa/many; done
	mkf xa/empty e
	setfattr -n user.empty -v '' xa/empty
	# added in L2, whited out in L3 (root-level whiteout, no root entry in L3)
	stamp "$l"
	mkf times/ns ns
	mkf times/old old
	mkf times/neg neg
	mkf times/future future
	ln -s ns times/link
	stamp "$l/times"
	touch -d '2021-03-04 05:06:07.123456789' times/ns
	touch -d '1970-01-01 00:00:01' times/old
	touch -d '1960-05-06 01:02:03.5' times/neg
	touch -d '2100-01-01 00:00:00.000000001' times/future
	touch -h -d '2022-02-02 02:02:02.222222222' times/link
	touch -d '2019-09-09 09:09:09.999999999' times
	touch -d '2018-01-01 00:00:00.5' multi
	touch -d '2010-10-10 10:10:10' .
	cd "$out"
	mktar "$l" "$out/L1.tar" pax --xattrs --xattrs-include='*' --sparse
}

layer2() {
	local l=$D/L2
	mkd "$l" 0755 0:0
	cd "$l"
	mkf replace/content.txt $'version two, longer\n'
	mkf replace/mode.sh $'#!/bin/sh\necho hi\n' 0755
	mkf replace/owner.txt $'owner\n' 0644 1000:1000
	mkf f2d/child $'f2d is a dir now\n'
	mkf d2f $'d2f is a file now\n'
	ln -s multi d2l
	wh wh file1
	wh wh nonexistent
	wh . whdir
	wh . sl
	mkf sl/new $'sl after .wh.sl in the same layer\n'
	opq opq
	mkf opq/new new
	mkd opq/sub 0700
	mkf multi/y y
	mkd multi 0700 1000:1000
	wh hard a1
	mkf hard/b1 $'b1 replaced in L2\n'
	mkf dev/fifo $'fifo became a file\n'
	# old GNU sparse with more than 4 regions (extension headers)
	mkdir -p sparse
	truncate -s 16M sparse/gnu
	local i
	for i in $(seq 0 9); do
		printf 'region %d\n' "$i" | dd of=sparse/gnu bs=1 seek=$((i * 1600000 + 4097)) conv=notrunc status=none
	done
	mkf "long2/$(rep G 120)/f" $'GNU long name\n'
	mkf l2only $'whited out in L3\n'
	stamp "$l"
	touch -d '2011-11-11 11:11:11' multi
	touch -d '2012-12-12 12:12:12' .
	cd "$out"
	mktar "$l" "$out/L2.tar" gnu --sparse
}

layer3() {
	local l=$D/L3
	mkdir -p "$l"
	cd "$l"
	mkf replace/content.txt $'three\n'
	mkf multi/z z
	mkd multi 0750 65534:65534
	mkf wh/file1 $'back in L3\n'
	wh . l2only
	mkf perm3/zero zero 0000
	mkdir -p dev3
	mknod -m 0666 dev3/zero c 1 5
	mkfifo dev3/fifo
	mkf hard/e1 $'group e (ustar)\n'
	ln hard/e1 hard/e2
	stamp "$l"
	touch -d '2013-03-13 13:13:13' multi
	cd "$out"
	# docker style: no "./" prefix and no entry for the root directory
	(cd "$l" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) |
		tar --format=ustar --numeric-owner --sort=name -C "$l" \
			--verbatim-files-from -T - -cf "$out/L3.tar"
}

layer4() {
	local l=$D/L4
	mkd "$l" 0751 0:0
	cd "$l"
	setfattr -n user.rootattr -v top .
	mkf replace/xattr.txt $'no xattrs in L4\n'
	mkf multi2/g g
	mkf l2d/file $'l2d is a dir now\n'
	opq newopq
	mkf newopq/x x
	opq opq2
	wh opq2 foo
	mkf opq2/new new
	mkdir -p hard
	ln -s d1 hard/d2
	wh . d2f
	wh f2d child
	mkf f2d/child2 $'child2\n'
	mkf xa4/file f
	setfattr -n user.new -v 1 xa4/file
	setfattr -n security.capability -v "$CAP" xa4/file
	setfattr -n user.dirattr4 -v yes xa4
	mkdir -p sparse
	truncate -s 8M sparse/v1
	printf 'one' | dd of=sparse/v1 bs=1 seek=100000 conv=notrunc status=none
	rnd 7 70000 | dd of=sparse/v1 bs=1 seek=3000000 conv=notrunc status=none
	printf 'end' | dd of=sparse/v1 bs=1 seek=$((8 * 1048576 - 3)) conv=notrunc status=none
	stamp "$l"
	touch -d '2023-07-08 09:10:11.987654321' .
	cd "$out"
	mktar "$l" "$out/L4.tar" posix --xattrs --xattrs-include='*' --sparse --sparse-version=1.0
}

layer1
layer2
layer3
layer4
printf '%s\n' L1.tar L2.tar L3.tar L4.tar >"$out/layers"
# Kernel overlayfs stats a lower-only file through its real inode, so it
# reports the lower st_nlink even when another name of that inode is whited
# out or replaced in a higher layer.  OCI (and layerfs, and the flat
# reference) count only the names that remain visible.
printf '%s\n' ./hard/a2 ./hard/a3 ./hard/b2 ./hard/d1 ./hard/d3 >"$out/overlay-nlink-skip"
if [ "${KEEP_DIRS:-0}" != 1 ]; then rm -rf "$D"; fi
