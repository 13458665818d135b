#!/bin/bash
# mount_gzip.sh — gzip-compressed layers: every layer gzipped, plain and gzip
# layers mixed in one stack, and a layer that is several concatenated gzip
# members.  Each mount must equal the FLAT reference (GNU tar reads the same
# .tar.gz files), and reads at random offsets, backwards and in parallel
# (dd skip=) must return the reference's bytes.  Random reads run first on a
# fresh mount so the page cache cannot hide a wrong seek.
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
g=$tmp/gen
for l in L1 L2 L3 L4; do gzip -n -6 -c "$g/$l.tar" >"$g/$l.tar.gz"; done
# L1 as two gzip members, split at a 512-byte block in the middle of the
# tar (inside data/seq.txt's data).
size=$(stat -c %s "$g/L1.tar")
half=$((size / 2 - size / 2 % 512))
{
	head -c "$half" "$g/L1.tar" | gzip -n -1
	tail -c +$((half + 1)) "$g/L1.tar" | gzip -n -9
} >"$g/L1.multi.tar.gz"

all_gz=("$g/L1.tar.gz" "$g/L2.tar.gz" "$g/L3.tar.gz" "$g/L4.tar.gz")
mixed=("$g/L1.tar.gz" "$g/L2.tar" "$g/L3.tar.gz" "$g/L4.tar")
t_ref_flat "$tmp/flat" "${all_gz[@]}" || bail_out "building the FLAT reference failed"
t_ref_flat "$tmp/flat1" "$g/L1.tar" || bail_out "building the FLAT reference of L1 failed"

RANDOM=4242
files=(data/random3m data/seq.txt data/b10240 sparse/holes sparse/gnu sparse/v1 hard/a2)

mnt=$tmp/mnt
t_mount_layers "$mnt" "${all_gz[@]}"
t_random_reads "$mnt" "$tmp/flat" "all gzip" "${files[@]}"
t_compare "$mnt" "$tmp/flat" "all gzip vs FLAT"
t_umount "$mnt"

t_mount_layers "$mnt" "${mixed[@]}"
t_random_reads "$mnt" "$tmp/flat" "mixed plain+gzip" data/random3m data/seq.txt sparse/gnu
# 8 readers at once on one gzip member (multithreaded session, chunk cache).
t_parallel_reads "$mnt" "$tmp/flat" data/random3m "8 parallel readers of a gzip layer file get the right bytes"
t_compare "$mnt" "$tmp/flat" "mixed plain+gzip vs FLAT"
t_umount "$mnt"

t_mount_layers "$mnt" "$g/L1.multi.tar.gz"
t_random_reads "$mnt" "$tmp/flat1" "multi-member gzip" data/random3m data/seq.txt
t_compare "$mnt" "$tmp/flat1" "multi-member gzip L1 vs FLAT"
t_umount "$mnt"
done_testing
