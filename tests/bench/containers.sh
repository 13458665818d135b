#!/bin/bash
# containers.sh — `make bench`: `layerfs run` next to `buildah run --isolation
# chroot` (Debian's buildah, vfs storage) on the same busybox image, in one
# run, with ratios.  A measurement script, never a pass/fail test.
#
#   true x1     one `run IMAGE true`, median of BENCH_REPS (default 20); the
#               default network is private (slirp4netns) where it can be, so
#               `--network host` (buildah run's own default) is timed too
#   true x100   a loop of 100 runs, total wall time
#   memory      RSS of the FUSE server serving one running container
#
# layerfs: `layerfs run --rm busybox:latest true` (a record, namespaces, the
# FUSE mount of the layers with an upper, init, the command, cleanup).
# buildah: `buildah run --isolation chroot C true` on a working container
# made once with `buildah from` (buildah's cheapest form: no new container
# per run).
# Needs root (buildah chroot isolation).
set -euo pipefail
export LC_ALL=C

NAME=containers.sh SUB=run
# shellcheck source-path=SCRIPTDIR source=lib_buildah.sh
. "$(dirname "$0")/lib_buildah.sh"
REPS=${BENCH_REPS:-20}
ctr=
cleanup() {
	"$LAYERFS" rm -f bench-mem >/dev/null 2>&1 || true
	[ -z "$ctr" ] || bah rm "$ctr" >/dev/null 2>&1 || true
	bah rmi -a -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

ctr=$(bah from --pull-never busybox:latest)

lfs_true() { "$LAYERFS" run --rm busybox:latest true; }
lfs_host() { "$LAYERFS" run --rm --network host busybox:latest true; }
bah_true() { bah run --isolation chroot "$ctr" true; }
lfs_loop() { for _ in $(seq 100); do lfs_true; done; }
bah_loop() { for _ in $(seq 100); do bah_true; done; }

lfs_true >/dev/null 2>&1 # warm both
bah_true >/dev/null 2>&1
for _ in $(seq "$REPS"); do
	timed "$B/t.lfs.one" lfs_true
	timed "$B/t.lfs.host" lfs_host
	timed "$B/t.bah.one" bah_true
done
timed "$B/t.lfs.loop" lfs_loop
timed "$B/t.bah.loop" bah_loop

# Memory of the FUSE server of one running container (a detached sleep).
"$LAYERFS" run -d --name bench-mem busybox:latest sleep 60 >/dev/null
rss=
for _ in $(seq 50); do
	srv=$(for p in $(pgrep -x layerfs); do
		if [ -n "$(find /proc/$p/fd -lname /dev/fuse 2>/dev/null | head -1)" ]; then echo "$p"; fi
	done | head -1)
	if [ -n "$srv" ]; then
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$srv/status")
		break
	fi
	sleep 0.1
done
"$LAYERFS" rm -f bench-mem >/dev/null

printf '\n%s\n' "layerfs run vs buildah run --isolation chroot, busybox image (seconds)"
printf '%-40s %10s %10s %10s\n' scenario layerfs buildah 'buildah/layerfs'
row() {
	local l b
	l=$(median <"$B/t.lfs.$1")
	b=$(median <"$B/t.bah.$1")
	printf '%-40s %10s %10s %10.1fx\n' "$2" "$l" "$b" "$(echo "$b / $l" | bc -l)"
}
row one "run IMAGE true (median of $REPS)"
cp "$B/t.bah.one" "$B/t.bah.host"
row host "run --network host IMAGE true"
row loop "100 runs of true (total)"
echo "RSS of the FUSE server of one running container: ${rss:-?} KiB"
