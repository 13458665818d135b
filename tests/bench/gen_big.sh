#!/bin/bash
# gen_big.sh — synthetic multi-layer image for the benchmark.
#
#   tests/bench/gen_big.sh OUTDIR [NFILES [BIG_MIB]]
#
# Writes OUTDIR/layer0.tar … OUTDIR/layer4.tar (lowest first, plain GNU
# tars, deterministic names/owners/mtimes) with about NFILES regular files
# (default 100000) in total, plus one BIG_MIB MiB file (default 256) at
# big/blob.bin in the top layer.  The layers exercise the OCI rules:
#   layer0  base/dAA/dBB/fNNNNN (60%), symlinks, hardlinks
#   layer1  new tree l1/ (10%), 1% of base files replaced
#   layer2  new tree l2/ (10%), whiteouts (.wh.NAME) for 1% of base files,
#           an opaque dir (base/d00/d01/.wh..wh..opq) with new children
#   layer3  new tree l3/ (10%), more replacements
#   layer4  new tree l4/ (10%), big/blob.bin
# File sizes cycle through 0..8 KiB.  OUTDIR/.complete records the
# parameters: a rerun with the same ones does nothing.
set -euo pipefail

[ $# -ge 1 ] || {
	echo "usage: $0 OUTDIR [NFILES [BIG_MIB]]" >&2
	exit 2
}
out=$1
nfiles=${2:-100000}
big_mib=${3:-256}
epoch=${SOURCE_DATE_EPOCH:-1700000000}
stamp="gen_big v2 nfiles=$nfiles big_mib=$big_mib"

if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$stamp" ]; then
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022

# 8 KiB of printable pseudo-random text; files are prefixes of a rotation of it.
blob=$(head -c 6144 /dev/urandom | base64 -w 0)
blob=$blob$blob

per_leaf=100 # files per leaf directory
n_base=$((nfiles * 6 / 10))
n_upper=$((nfiles / 10))

# put_files DIR FIRST COUNT TAG — COUNT files under DIR/dAA/dBB/fNNNNN.
put_files() {
	local dir=$1 first=$2 count=$3 tag=$4 i leaf sz off d f
	for ((i = first; i < first + count; i++)); do
		leaf=$((i / per_leaf))
		printf -v d '%s/d%02d/d%02d' "$dir" $((leaf / 100 % 100)) $((leaf % 100))
		if ((i % per_leaf == 0 || i == first)); then mkdir -p "$d"; fi
		sz=$(((i * 7919) % 8193))
		off=$(((i * 131) % 8192))
		printf -v f 'f%06d' "$i"
		printf '%s %d\n%s' "$tag" "$i" "${blob:off:sz}" >"$d/$f"
	done
}

# base_path I — sets $p to the path of base file I (relative to the layer
# root) and $pd to its directory; no subshell, this runs thousands of times.
base_path() {
	local leaf=$(($1 / per_leaf))
	printf -v pd 'base/d%02d/d%02d' $((leaf / 100 % 100)) $((leaf % 100))
	printf -v p '%s/f%06d' "$pd" "$1"
}

pack() { # pack N — tar the staging dir as layerN.tar, then empty it
	local n=$1 top
	mapfile -t top < <(cd "$stage" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort)
	LC_ALL=C tar -C "$stage" --sort=name --format=gnu --mtime="@$epoch" \
		--owner=0 --group=0 --numeric-owner -cf "$out/layer$n.tar.tmp" -- "${top[@]}"
	mv "$out/layer$n.tar.tmp" "$out/layer$n.tar"
	find "$stage" -mindepth 1 -delete
}

p='' pd=''
# layer0: the base tree, with symlinks and hardlinks.
put_files "$stage/base" 0 "$n_base" L0
for ((i = 0; i < n_base; i += 97)); do
	base_path "$i"
	ln -s "${p##*/}" "$stage/$p.sym"
done
# Hardlinked files (i % 100 == 7) are never replaced or whited out in upper
# layers, and sit outside the opaque dir: a partly shadowed hardlink has no
# agreed st_nlink (kernel overlayfs reports the lower inode's count).
for ((i = 507; i < n_base; i += 500)); do
	base_path "$i"
	ln "$stage/$p" "$stage/$p.hard"
done
pack 0

for n in 1 2 3 4; do
	put_files "$stage/l$n" $((n * 1000000)) "$n_upper" "L$n"
	case $n in
	1 | 3) # replace 1% of the base files
		for ((i = n; i < n_base; i += 100)); do
			base_path "$i"
			[ -d "$stage/$pd" ] || mkdir -p "$stage/$pd"
			printf 'replaced in layer %d\n' "$n" >"$stage/$p"
		done
		;;
	2) # whiteouts for 1% of the base files, one opaque directory
		for ((i = 50; i < n_base; i += 100)); do
			base_path "$i"
			[ -d "$stage/$pd" ] || mkdir -p "$stage/$pd"
			: >"$stage/$pd/.wh.${p##*/}"
		done
		mkdir -p "$stage/base/d00/d01"
		: >"$stage/base/d00/d01/.wh..wh..opq"
		for i in 1 2 3; do echo "only child $i" >"$stage/base/d00/d01/new$i"; done
		;;
	4)
		mkdir -p "$stage/big"
		head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$stage/big/blob.bin"
		;;
	esac
	pack "$n"
done

echo "$stamp" >"$out/.complete"
