#!/bin/bash
# context.sh — build-context checksum (ctx_checksum) timings on a generated
# context, next to tools doing the same work on the same files, in one run.
# A measurement script, never a pass/fail test.
#
#   cold        no stat cache, page cache dropped (root only): reads and
#               hashes every file          anchor: find | xargs sha256sum
#   hot read    no stat cache, files in the page cache
#                                          anchor: the same, files cached
#   warm        stat cache from the previous run: a walk and an lstat per
#               entry, no file read        anchor: find -printf (a walk
#                                          and an lstat per entry)
#
# Environment: BENCH_CTX_FILES (default 50000), BENCH_DIR (default
# build/bench), BENCH_REPS (default 3; the median is shown).
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
files=${BENCH_CTX_FILES:-50000}
reps=${BENCH_REPS:-3}
dir=${BENCH_DIR:-$top/build/bench}/context-$files
bin=$top/build/bench/ctx_bench

make -C "$top" --no-print-directory build/liblayerfs-tools.a build/liblayerfs-fs.a >/dev/null
mkdir -p "$(dirname "$bin")"
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$top/fs" -I"$top/tools" -o "$bin" \
	"$top/tests/bench/ctx_bench.c" "$top/build/liblayerfs-tools.a" \
	"$top/build/liblayerfs-fs.a" $(pkg-config --libs fuse3 libarchive zlib libcrypto jansson libcurl) -pthread

if [ ! -d "$dir/ctx" ]; then
	mkdir -p "$dir/ctx"
	"$bin" gen "$dir/ctx" "$files"
fi
echo "context: $files files, $(du -sh "$dir/ctx" | cut -f1)"

drop() {
	if [ "$(id -u)" = 0 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

# median of the first field of REPS runs of "$@" (after PREP)
median() {
	local prep=$1
	shift
	for _ in $(seq "$reps"); do
		$prep
		"$@"
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

layerfs_cold() { rm -f "$dir/cache"; "$bin" sum "$dir/ctx" | cut -d' ' -f1; }
layerfs_warm() { "$bin" sum "$dir/ctx" "$dir/cache" | cut -d' ' -f1; }
anchor_read() {
	local t0
	t0=$(now_ms)
	(cd "$dir/ctx" && find . -type f -print0 | xargs -0 -n 2000 sha256sum >/dev/null)
	awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f\n", b - a }'
}
anchor_walk() {
	local t0
	t0=$(now_ms)
	find "$dir/ctx" -printf '%i %s %m %U %G %C@\n' >/dev/null
	awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f\n", b - a }'
}
noop() { :; }
prime() { rm -f "$dir/cache"; "$bin" sum "$dir/ctx" "$dir/cache" >/dev/null; }

[ "$(id -u)" = 0 ] || echo "(not root: 'cold' runs with whatever the page cache holds)"
cold=$(median drop layerfs_cold)
cold_a=$(median drop anchor_read)
hot=$(median noop layerfs_cold)
hot_a=$(median noop anchor_read)
prime
warm=$(median noop layerfs_warm)
warm_a=$(median noop anchor_walk)
read -r _ nread _ < <("$bin" sum "$dir/ctx" "$dir/cache")

printf '%-10s %12s %14s %8s\n' case "layerfs ms" "anchor ms" ratio
for row in "cold $cold $cold_a" "hot-read $hot $hot_a" "warm $warm $warm_a"; do
	# shellcheck disable=SC2086
	set -- $row
	printf '%-10s %12s %14s %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')"
done
echo "files read by a warm run: $nread"
