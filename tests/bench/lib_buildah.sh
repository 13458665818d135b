# shellcheck shell=bash
# tests/bench/lib_buildah.sh — shared set-up of the benchmarks anchored on
# buildah (build.sh, containers.sh).  Source it with NAME (the script's
# name for messages) and SUB (its scratch dir under BENCH_DIR) set; it:
#   - checks root and buildah, makes a fresh $B, copies the layerfs binary
#     there (a rebuild during the run does not mix binaries) and points
#     LAYERFS_ROOT at $B/store;
#   - defines bah (buildah with a private vfs store in $B), now, median
#     (of numbers on stdin), timed OUT CMD... (wall seconds appended to OUT;
#     a failing command stops the benchmark, showing its output);
#   - imports the busybox base as busybox:latest into both tools
#     (import_base re-imports it into a fresh layerfs store).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
B=${BENCH_DIR:-$top/build/bench}/$SUB

if [ "$(id -u)" != 0 ]; then
	echo "$NAME: needs root (buildah --isolation chroot)" >&2
	exit 1
fi
command -v buildah >/dev/null || {
	echo "$NAME: buildah missing: apt-get install buildah" >&2
	exit 1
}
rm -rf "$B"
mkdir -p "$B"
cp "$LAYERFS" "$B/layerfs"
LAYERFS=$B/layerfs
export LAYERFS_ROOT=$B/store

bah() { buildah --storage-driver vfs --root "$B/bah/root" --runroot "$B/bah/run" "$@"; }
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); printf "%.4f", (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'; }
timed() {
	local out=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>&1 || {
		echo "$NAME: failed: $*" >&2
		"$@" 2>&1 | tail -20 >&2
		exit 1
	}
	t1=$(now)
	echo "$t1 - $t0" | bc -l >>"$out"
}
import_base() {
	"$LAYERFS" import -c 'CMD ["sh"]' "$B/busybox.tar" busybox:latest >/dev/null
}

"$top/tools/mkbase.sh" "$B/busybox.tar" 2>/dev/null
import_base
"$LAYERFS" save -o "$B/busybox-save.tar" busybox:latest
bah pull -q "docker-archive:$B/busybox-save.tar" >/dev/null
