#!/bin/bash
# store_crash.sh — kill -9 at every point where build, commit, pull, load,
# rmi and prune write the store (LAYERFS_CRASH_AT, store.h), and at a few
# random moments of build and pull: afterwards `layerfs fsck` passes, or
# finds only what the killed command left (temp files, its scratch dir),
# which --repair removes; every image listed before is still listed, its
# `export` is byte for byte what it was, and it mounts with a file readable.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$(dirname "$0")/lib_registry.bash"
[ -x "$REG_BIN" ] || bail_out "docker-registry not installed (apt-get install docker-registry)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

trap '_rc=$?; stop_registries; (exit $_rc); _t_cleanup' EXIT

refs() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = decode_json(<$f>);
		print join("\n", sort grep { defined } map { $_->{annotations}{"org.opencontainers.image.ref.name"} } @{$j->{manifests}}), "\n"' \
		"$LAYERFS_ROOT/index.json"
}
export_sum() { "$LAYERFS" export -o "$tmp/.exp.tar" "$1" 2>/dev/null && sha256sum <"$tmp/.exp.tar" | cut -c1-64; }

# --- the images that must survive every crash
b_base || bail_out "importing the busybox base failed"
mkdir -p "$tmp/a/etc"
echo a >"$tmp/a/etc/a"
tar -C "$tmp/a" -cf "$tmp/a.tar" .
"$LAYERFS" import "$tmp/a.tar" app:1 >/dev/null || bail_out "import failed"
c=$tmp/ctx
mkdir -p "$c"
echo built >"$c/f.txt"
printf 'FROM busybox:latest\nCOPY f.txt /data/f.txt\n' >"$c/Dockerfile"
"$LAYERFS" build -q -t built:1 "$c" >/dev/null 2>"$tmp/err" || { diag_file "$tmp/err"; bail_out "build failed"; }
refs >"$tmp/refs.before"
declare -A sum
while read -r r; do sum[$r]=$(export_sum "$r"); done <"$tmp/refs.before"

# --- an image only the registry has (pull) and an archive of another (load)
start_registry reg
mkdir -p "$tmp/p/srv"
head -c 300000 /dev/urandom >"$tmp/p/srv/blob"
tar -C "$tmp/p" -cf "$tmp/p.tar" .
mkdir -p "$tmp/l/opt"
head -c 200000 /dev/urandom >"$tmp/l/opt/data"
tar -C "$tmp/l" -cf "$tmp/l.tar" .
(
	export LAYERFS_ROOT=$tmp/store2
	"$LAYERFS" import "$tmp/p.tar" "$REG/crash/p:1" >/dev/null &&
		"$LAYERFS" push "$REG/crash/p:1" >/dev/null &&
		"$LAYERFS" import "$tmp/l.tar" ld:1 >/dev/null &&
		"$LAYERFS" save -o "$tmp/ld.tar" ld:1
) 2>"$tmp/err" || { diag_file "$tmp/err"; bail_out "preparing the pull and load images failed"; }

# after DESC — the checks after a kill: fsck (only leftovers, then clean
# after --repair), the images of before listed and exporting as before,
# and built:1 mounted with a file read.
after() {
	local desc=$1 r bad=
	if ! "$LAYERFS" fsck >"$tmp/fsck.out" 2>&1; then
		if grep -v '^[0-9]* problems* found' "$tmp/fsck.out" | grep -vq 'leftover'; then
			not_ok "$desc: fsck finds only what the killed command left"
			diag_file "$tmp/fsck.out"
			"$LAYERFS" fsck --repair >/dev/null 2>&1
			return
		fi
		"$LAYERFS" fsck --repair >/dev/null 2>&1
		repaired=$((repaired + 1))
	fi
	if ! "$LAYERFS" fsck >"$tmp/fsck.out" 2>&1; then
		not_ok "$desc: fsck passes (after --repair of leftovers)"
		diag_file "$tmp/fsck.out"
		return
	fi
	refs >"$tmp/refs.now"
	while read -r r; do
		grep -qxF "$r" "$tmp/refs.now" || bad="$bad $r(gone)"
		[ "$(export_sum "$r")" = "${sum[$r]}" ] || bad="$bad $r(export differs)"
	done <"$tmp/refs.before"
	mkdir -p "$tmp/mnt"
	if "$LAYERFS" mount built:1 "$tmp/mnt" 2>"$tmp/mnt.err"; then
		[ "$(cat "$tmp/mnt/data/f.txt" 2>/dev/null)" = built ] || bad="$bad built:1(file unreadable in mount)"
		"$LAYERFS" umount "$tmp/mnt" 2>>"$tmp/mnt.err" || bad="$bad (umount failed)"
	else
		bad="$bad built:1(mount failed)"
		diag_file "$tmp/mnt.err"
	fi
	if [ -z "$bad" ]; then ok "$desc: fsck passes, every image whole"; else
		not_ok "$desc: fsck passes, every image whole"
		diag "  broken:$bad"
	fi
}

# quiet CMD... — runs CMD in a subshell whose own stderr (where bash says
# "Killed") is dropped; CMD's output goes where the caller redirects it.
quiet() {
	exec 3>&2
	(
		"$@" 2>&3
		exit $?
	) 2>/dev/null
	local rc=$?
	exec 3>&-
	return $rc
}

# crash POINT DESC CMD... — CMD must die of SIGKILL at POINT.
crash() {
	local point=$1 desc=$2 rc
	shift 2
	quiet env LAYERFS_CRASH_AT="$point" "$@" >"$tmp/crash.out" 2>&1
	rc=$?
	if [ $rc -ne 137 ]; then
		not_ok "$desc: killed at $point (exit $rc)"
		diag_file "$tmp/crash.out"
		return
	fi
	after "$desc killed at $point"
}

n=0
repaired=0
# build: a new step each time (its layer, cache entry and image are new)
for p in layer-blob layer-committed cache-put atomic-write:1 image-blobs atomic-write:2 index-saved; do
	n=$((n + 1))
	echo "step $n" >"$c/f$n.txt"
	printf 'FROM busybox:latest\nCOPY f%s.txt /data/\n' "$n" >"$c/Dockerfile.$n"
	crash "$p" build "$LAYERFS" build -q -f "$c/Dockerfile.$n" -t "new:$n" "$c"
done

# commit of an upper dir over app:1
for p in layer-blob layer-committed image-blobs atomic-write:2 index-saved; do
	n=$((n + 1))
	mkdir -p "$tmp/up$n/etc"
	echo "$n" >"$tmp/up$n/etc/c"
	crash "$p" commit "$LAYERFS" commit --upper "$tmp/up$n" app:1 "com:$n"
done

# pull; a pulled image from an earlier round is removed first
for p in layer-blob layer-committed image-blobs atomic-write:2 index-saved; do
	"$LAYERFS" rmi "$REG/crash/p:1" >/dev/null 2>&1
	crash "$p" pull "$LAYERFS" pull "$REG/crash/p:1"
done

# load of a docker-save archive
for p in layer-blob layer-committed image-blobs atomic-write:2 index-saved; do
	"$LAYERFS" rmi ld:1 >/dev/null 2>&1
	crash "$p" load "$LAYERFS" load -i "$tmp/ld.tar"
done

# rmi of an image made for it (the collection deletes its blobs)
for p in index-saved gc-marked gc-sweep:1 gc-sweep:2; do
	n=$((n + 1))
	mkdir -p "$tmp/r$n"
	echo "$n" >"$tmp/r$n/x"
	tar -C "$tmp/r$n" -cf "$tmp/r$n.tar" .
	"$LAYERFS" import "$tmp/r$n.tar" "gone:$n" >/dev/null
	crash "$p" rmi "$LAYERFS" rmi "gone:$n"
done

# prune of a dangling image made for it
for p in index-saved gc-marked gc-sweep:1 gc-sweep:2; do
	n=$((n + 1))
	echo "dangling $n" >"$c/d$n.txt"
	printf 'FROM busybox:latest\nCOPY d%s.txt /\n' "$n" >"$c/Dockerfile.d$n"
	"$LAYERFS" build -q -f "$c/Dockerfile.d$n" "$c" >/dev/null 2>&1
	crash "$p" "system prune" "$LAYERFS" system prune -f
done

# kills at moments not chosen by the code: a build and a pull after a
# growing delay (the command may also finish first)
for d in 0.02 0.05 0.1 0.2 0.4; do
	n=$((n + 1))
	echo "timed $n" >"$c/t$n.txt"
	printf 'FROM busybox:latest\nCOPY t%s.txt /\nRUN echo %s > /r\n' "$n" "$n" >"$c/Dockerfile.t$n"
	quiet timeout -s KILL "$d" "$LAYERFS" build -q -f "$c/Dockerfile.t$n" -t "timed:$n" "$c" >/dev/null 2>&1
	after "build killed after ${d}s"
	"$LAYERFS" rmi "$REG/crash/p:1" >/dev/null 2>&1
	quiet timeout -s KILL "$d" "$LAYERFS" pull "$REG/crash/p:1" >/dev/null 2>&1
	after "pull killed after ${d}s"
done

diag "$repaired of the kills left temp files or a scratch dir that fsck --repair removed"
done_testing
