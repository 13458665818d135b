#!/bin/bash
# inspect.sh — the inspection commands next to their anchor, on the same
# data, in one run: `layerfs find/layers/grep/ls -R` read the tars through
# the indexes; the anchor is find/grep/du on a kernel overlayfs mount of the
# same layers unpacked with GNU tar (whiteouts → 0/0 char devices, opaque
# markers → trusted.overlay.opaque).  A measurement, never a pass/fail test.
#
#   tests/bench/inspect.sh            (root: kernel overlayfs, drop_caches)
# Environment: BENCH_FILES (default 100000), BENCH_LAYERS (default 10),
# BENCH_REPS (default 3, median printed), BENCH_DIR (default build/bench-inspect),
# LAYERFS (default ./layerfs).
# "warm": page/dentry caches hot (after one untimed run); "cold": caches
# dropped (echo 3 > /proc/sys/vm/drop_caches) right before the timed command.
set -euo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
B=${BENCH_DIR:-$top/build/bench-inspect}
nfiles=${BENCH_FILES:-100000}
nlayers=${BENCH_LAYERS:-10}
reps=${BENCH_REPS:-3}
[ "$(id -u)" = 0 ] || { echo "inspect.sh: needs root (kernel overlayfs, drop_caches)" >&2; exit 1; }

# shellcheck source=../integration/lib.sh
. "$top/tests/integration/lib.sh"
data=$B/data-$nfiles-$nlayers
if [ ! -f "$data/layers" ]; then
	echo "# generating $nfiles files in $nlayers layers (tests/integration/gen/big.sh)"
	"$top/tests/integration/gen/big.sh" "$nfiles" "$nlayers" "$data" >/dev/null
fi
tars=()
L=()
while IFS= read -r t; do tars+=("$data/$t"); L+=(--layer "$data/$t"); done <"$data/layers"
t_tmpdir
export LAYERFS_ROOT=$T_TMP/store
ovl=$T_TMP/ovl
echo "# unpacking the layers for kernel overlayfs"
t_ref_overlay "$ovl" "$T_TMP/work" "${tars[@]}"
"$LAYERFS" find "${L[@]}" / >/dev/null # builds the indexes (not timed)

now() { date +%s.%N; }
# median_time COLD(0|1) CMD... — median wall seconds over $reps runs
median_time() {
	local cold=$1 i t0 t1 ts=()
	shift
	"$@" >/dev/null 2>&1 || true
	for ((i = 0; i < reps; i++)); do
		if [ "$cold" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
		t0=$(now)
		"$@" >/dev/null 2>&1 || true
		t1=$(now)
		ts+=("$(echo "$t1 - $t0" | bc -l)")
	done
	printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] }'
}
row() { # row LABEL COLD LAYERFS-CMD -- ANCHOR-CMD
	local label=$1 cold=$2 a=() b=() x
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	local tl to
	tl=$(median_time "$cold" "${a[@]}")
	to=$(median_time "$cold" "${b[@]}")
	x=$(echo "$tl / $to" | bc -l)
	printf '%-34s %5s %10s %10s %8.2f\n' "$label" "$([ "$cold" = 1 ] && echo cold || echo warm)" "$tl" "$to" "$x"
}
entries=$(cd "$ovl" && find . | wc -l)
echo "# $entries entries in the merged tree, $nlayers layers, $reps reps (median seconds)"
printf '%-34s %5s %10s %10s %8s\n' "operation" "cache" "layerfs" "overlay" "ratio"
row "find /" 0 "$LAYERFS" find "${L[@]}" / -- find "$ovl"
row "find /" 1 "$LAYERFS" find "${L[@]}" / -- find "$ovl"
row "find / -name 'f1*' -type f" 0 "$LAYERFS" find "${L[@]}" / -name 'f1*' -type f -- find "$ovl" -name 'f1*' -type f
row "find / -size +8k" 0 "$LAYERFS" find "${L[@]}" / -size +8k -- find "$ovl" -size +8k
row "find --format json / (vs find -ls)" 0 "$LAYERFS" find --format json "${L[@]}" / -- find "$ovl" -ls
row "ls -R -l / (vs ls -lR)" 0 "$LAYERFS" ls -R -l --bytes "${L[@]}" / -- ls -lR "$ovl"
row "layers (vs du -s of each layer dir)" 0 "$LAYERFS" layers "${L[@]}" -- du -s "$T_TMP/work"
row "layers" 1 "$LAYERFS" layers "${L[@]}" -- du -s "$T_TMP/work"
row "grep -r 'file 12345'" 0 "$LAYERFS" grep "${L[@]}" 'file 12345' / -- grep -r 'file 12345' "$ovl"
row "grep -r 'file 12345'" 1 "$LAYERFS" grep "${L[@]}" 'file 12345' / -- grep -r 'file 12345' "$ovl"
umount "$ovl"
