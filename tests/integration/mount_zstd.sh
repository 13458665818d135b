#!/bin/bash
# mount_zstd.sh — zstd-compressed layers mounted as they are: each layer as
# one zstd frame (the zstd CLI's default), as many frames (pieces compressed
# one by one and concatenated, as zstd:chunked and seekable writers make
# them), a layer larger than a frame may be entered at (read through a
# decompressed copy made once), and zstd mixed with gzip and plain layers.
# Every mount must equal the FLAT reference: GNU tar -x of `zstd -dc`
# output.  Reads at random offsets on a fresh mount must return the
# reference's bytes.  A corrupt layer fails naming the layer and the
# compressed offset, and leaves no copy behind.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
command -v zstd >/dev/null || bail_out "zstd not installed (apt-get install zstd)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

t_layer_set "$tmp/gen"
g=$tmp/gen
for l in L1 L2 L3 L4; do
	zstd -q -c "$g/$l.tar" >"$g/$l.tar.zst"
	# Many frames: 64 KiB pieces, each compressed on its own.
	rm -rf "$tmp/split" && mkdir "$tmp/split"
	split -b 65536 -a 4 "$g/$l.tar" "$tmp/split/p."
	for p in "$tmp"/split/p.*; do zstd -q -c "$p"; done >"$g/$l.multi.tar.zst"
	zstd -q -dc "$g/$l.tar.zst" >"$g/$l.ref.tar"
	cmp -s "$g/$l.ref.tar" <(zstd -q -dc "$g/$l.multi.tar.zst") || bail_out "zstd -dc of the multi-frame $l differs"
done
rm -rf "$tmp/split"
t_ref_flat "$tmp/flat" "$g/L1.ref.tar" "$g/L2.ref.tar" "$g/L3.ref.tar" "$g/L4.ref.tar" ||
	bail_out "building the FLAT reference failed"

RANDOM=4343
files=(data/random3m data/seq.txt data/b10240 sparse/holes sparse/gnu sparse/v1 hard/a2)
mnt=$tmp/mnt
copies() { find "$LAYERFS_ROOT/indexes" -name '*.tar' 2>/dev/null | sort; }
# A layer of more than 4 MiB in one frame is read through a copy.
want_copies=0
for l in L1 L2 L3 L4; do
	[ "$(stat -c %s "$g/$l.tar")" -gt 4194304 ] && want_copies=$((want_copies + 1))
done

t_mount_layers "$mnt" "$g/L1.tar.zst" "$g/L2.tar.zst" "$g/L3.tar.zst" "$g/L4.tar.zst"
t_random_reads "$mnt" "$tmp/flat" "single-frame zstd" "${files[@]}"
t_compare "$mnt" "$tmp/flat" "single-frame zstd vs FLAT"
t_umount "$mnt"
is "$(copies | wc -l)" "$want_copies" "single-frame layers over 4 MiB get a decompressed copy, others none"
copies >"$tmp/copies.1"

t_mount_layers "$mnt" "$g/L1.multi.tar.zst" "$g/L2.multi.tar.zst" "$g/L3.multi.tar.zst" "$g/L4.multi.tar.zst"
t_random_reads "$mnt" "$tmp/flat" "multi-frame zstd" "${files[@]}"
# 8 readers at once across the frames of one file (shared frame cache).
t_parallel_reads "$mnt" "$tmp/flat" data/random3m "8 parallel readers of a multi-frame zstd file get the right bytes"
t_compare "$mnt" "$tmp/flat" "multi-frame zstd vs FLAT"
t_umount "$mnt"
is "$(copies)" "$(cat "$tmp/copies.1")" "layers read by frame get no decompressed copy"

gzip -n -c "$g/L2.tar" >"$g/L2.tar.gz"
t_mount_layers "$mnt" "$g/L1.multi.tar.zst" "$g/L2.tar.gz" "$g/L3.tar" "$g/L4.tar.zst"
t_random_reads "$mnt" "$tmp/flat" "zstd+gzip+plain" data/random3m sparse/gnu
t_compare "$mnt" "$tmp/flat" "zstd, gzip and plain layers mixed vs FLAT"
t_umount "$mnt"

# A single frame of 12 MB: too large to enter in the middle, so it is read
# through a decompressed copy, made once and reused.
big=$tmp/bigroot
mkdir -p "$big/d"
head -c 6000000 /dev/urandom >"$big/d/random6m"
seq 1 800000 >"$big/d/seq.txt"
for i in $(seq 200); do echo "file $i" >"$big/d/f$i"; done
tar --numeric-owner -C "$big" -cf "$g/big.tar" .
zstd -q -19 -c "$g/big.tar" >"$g/big.tar.zst"
zstd -q -dc "$g/big.tar.zst" >"$g/big.ref.tar"
t_ref_flat "$tmp/flatbig" "$g/big.ref.tar" ||
	bail_out "building the FLAT reference of the big layer failed"
t_mount_layers "$mnt" "$g/big.tar.zst"
copy=$(comm -13 "$tmp/copies.1" <(copies))
is "$(printf '%s\n' "$copy" | grep -c .)" 1 "a single large frame gets one decompressed copy beside its index"
t_random_reads "$mnt" "$tmp/flatbig" "large single-frame zstd" d/random6m d/seq.txt d/f200
t_compare "$mnt" "$tmp/flatbig" "large single-frame zstd vs FLAT"
t_umount "$mnt"
cmp -s "$copy" "$g/big.tar"
check "the copy is the layer's tar, byte for byte" $?
before=$(stat -c %Y.%i "$copy")
t_mount_layers "$mnt" "$g/big.tar.zst"
is "$(stat -c %Y.%i "$copy")" "$before" "a second mount reuses the copy"
cmp -s "$mnt/d/random6m" "$big/d/random6m"
check "second mount reads the copy right" $?
t_umount "$mnt"

# Corruption: the message names the layer and the compressed offset; no
# mount, and neither index nor copy nor temporary file is left.
size=$(stat -c %s "$g/big.tar.zst")
cp "$g/big.tar.zst" "$g/bad.tar.zst"
printf '\377\377\377\377\377\377\377\377' | dd of="$g/bad.tar.zst" bs=1 seek=$((size / 2)) conv=notrunc status=none
zstd -q -t "$g/bad.tar.zst" 2>/dev/null && bail_out "the corrupted file still tests fine"
before=$(find "$LAYERFS_ROOT/indexes" -type f | sort)
mkdir -p "$mnt"
t_fails "a corrupt zstd layer is refused, naming the layer and the compressed offset" \
	"bad\.tar\.zst.*compressed offset [0-9]" "$LAYERFS" mount --read-only --layer "$g/bad.tar.zst" "$mnt"
if t_is_mounted "$mnt"; then not_ok "nothing is mounted"; else ok "nothing is mounted"; fi
is "$(find "$LAYERFS_ROOT/indexes" -type f | sort)" "$before" "no index, copy or temporary file is left"
head -c $((size - 100)) "$g/big.tar.zst" >"$g/cut.tar.zst"
t_fails "a truncated zstd layer is refused, saying where it ends" \
	"cut\.tar\.zst.*truncated at compressed offset [0-9]" "$LAYERFS" mount --read-only --layer "$g/cut.tar.zst" "$mnt"
done_testing
