#!/bin/bash
# memory.sh — memory of the layerfs daemon on a layer of many entries.
# A measurement, never a pass/fail test: it prints numbers.
#
#   tests/bench/memory.sh [NDIRS [NFILES]]     (default 1000 x 1000: 1,001,000 entries)
#
# The layer (tests/bench/gen_many.py: NDIRS directories of NFILES empty
# files) is cached in $MEM_DIR (default build/bench/memory).  It is mounted
# read-only with `layerfs mount --foreground` and the daemon's memory read
# from /proc/PID/status and smaps_rollup at each stage:
#   mounted        right after the mount is ready
#   find           after `find MNT` (lookup + readdir of every directory)
#   stat all       after `find MNT -printf %s` (lookup + getattr of every entry)
#   stat again     a second full stat pass: growth here would mean memory
#                  that is not bounded by the number of entries
# RssAnon is the daemon's own heap (node tables, merged directories);
# RssFile is the mmap'd index (page cache, shared and reclaimable).  The
# per-entry figures divide by the layer's entry count: "+anon" is the heap
# grown since the mount was ready, "RSS" all resident memory.
# RssShmem is shared memory (an index kept in a memfd when it cannot be cached).
# Needs root or a user allowed to use /dev/fuse.
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
ndirs=${1:-1000}
nfiles=${2:-1000}
dir=${MEM_DIR:-$top/build/bench/memory}
entries=$((ndirs * (nfiles + 1) + 1))
layer=$dir/many-$ndirs-$nfiles.tar
mkdir -p "$dir"
if [ ! -s "$layer" ]; then
	echo "generating $layer ($entries entries)..." >&2
	python3 "$top/tests/bench/gen_many.py" "$layer.tmp" "$ndirs" "$nfiles"
	mv "$layer.tmp" "$layer"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/layerfs-mem.XXXXXX")
mnt=$tmp/mnt
mkdir -p "$mnt"
# The image store (and the layer's index in it) is cached beside the layer.
export LAYERFS_ROOT=$dir/store-$ndirs-$nfiles
pid=
unmount() {
	if grep -qs " $mnt " /proc/self/mounts; then
		"$LAYERFS" umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	if [ -n "$pid" ]; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'unmount; rm -rf "$tmp"' EXIT

if ! "$LAYERFS" images -q many:1 >/dev/null 2>&1 || [ -z "$("$LAYERFS" images -q many:1 2>/dev/null)" ]; then
	t0=$(date +%s.%N)
	"$LAYERFS" import "$layer" many:1 >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "import (indexes the layer): %.1f s\n", b - a }'
fi
printf '%s: %d entries (%d dirs x %d files), tar %d MiB, index %d MiB\n' "$(basename "$layer")" \
	"$entries" "$ndirs" "$nfiles" $(($(stat -c %s "$layer") >> 20)) \
	$(($(du -sb "$LAYERFS_ROOT/indexes" | cut -f1) >> 20))
anon0=0

kb() { awk -v k="$1" '$1 == k ":" { print $2 }' "/proc/$pid/status"; }
# report STAGE — one row: the daemon's memory now.
report() {
	awk -v st="$1" -v n="$entries" -v rss="$(kb VmRSS)" -v anon="$(kb RssAnon)" \
		-v file="$(kb RssFile)" -v shm="$(kb RssShmem)" -v hwm="$(kb VmHWM)" -v a0="$anon0" 'BEGIN {
		printf "  %-12s %9.1f %9.1f %9.1f %9.1f %9.1f %12.1f %12.1f\n", st, rss / 1024,
			anon / 1024, file / 1024, shm / 1024, hwm / 1024, (anon - a0) * 1024 / n,
			rss * 1024 / n }'
}
# measure DESC MOUNT-ARGS... — mount in the foreground, walk, report.
measure() {
	local desc=$1
	shift
	echo "$desc"
	"$LAYERFS" mount --foreground --read-only "$@" "$mnt" &
	pid=$!
	for _ in $(seq 1200); do
		grep -qs " $mnt " /proc/self/mounts && break
		kill -0 "$pid" 2>/dev/null || { echo "layerfs mount exited" >&2; exit 1; }
		sleep 0.1
	done
	printf '  %-12s %9s %9s %9s %9s %9s %12s %12s\n' stage 'RSS MiB' 'anon' 'file' 'shmem' 'peak' \
		'+anon B/ent' 'RSS B/ent'
	anon0=$(kb RssAnon)
	report mounted
	n=$(find "$mnt" | wc -l)
	report find
	find "$mnt" -printf '%s\n' >/dev/null
	report 'stat all'
	find "$mnt" -printf '%s\n' >/dev/null
	report 'stat again'
	echo "  entries seen by find: $n (expected $entries)"
	unmount
}

measure "image many:1 (index file in the store, mmap'd):" many:1
measure "--layer (the first mount builds the index, cached under the store's indexes/files/):" --layer "$layer"
