#!/bin/bash
# gen/big.sh N_FILES N_LAYERS OUTDIR — a big synthetic image for benchmarks
# and scale tests (not used by `make check`).
#
# Layer 1 holds N_FILES/N_LAYERS files in directories of 1000; each later
# layer adds as many new files, rewrites 5% of layer 1's files, whites out
# 1% of them, replaces one directory by an opaque one and adds a hardlink
# pair.  Every 997th file is 64 KiB, the rest are one line.  All mtimes are
# fixed, entries sorted: the tars are the same on every run.
# Output: OUTDIR/L1.tar ... OUTDIR/Ln.tar (pax) and OUTDIR/layers (names,
# lowest first).  Set GZIP=1 to also write OUTDIR/Li.tar.gz.  Layer dirs
# are staged in $BIG_WORKDIR (default /dev/shm when writable: creating and
# removing 100k small files on disk takes minutes).
set -eu
export LC_ALL=C TZ=UTC
if [ $# -ne 3 ] || [ "$1" -lt 1 ] || [ "$2" -lt 1 ]; then
	echo "usage: $0 N_FILES N_LAYERS OUTDIR" >&2
	exit 2
fi
nfiles=$1
nlayers=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
per=$(((nfiles + nlayers - 1) / nlayers))
work=${BIG_WORKDIR:-}
if [ -z "$work" ]; then
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then work=/dev/shm; else work=$out; fi
fi
work=$(mktemp -d "$work/layerfs-big.XXXXXX")
trap 'rm -rf "$work"' EXIT
blob=$(head -c 65536 /dev/zero | tr '\0' 'z')
: >"$out/layers"

# mkfile PATH N LAYER
mkfile() {
	if [ $(($2 % 997)) = 0 ]; then
		printf '%s\n' "$blob" >"$1"
	else
		printf 'layer %s file %s\n' "$3" "$2" >"$1"
	fi
}

for ((l = 1; l <= nlayers; l++)); do
	d=$work/L$l
	rm -rf "$d"
	mkdir -p "$d"
	# new files: layer l, files k = 0..per-1, in dirs of 1000
	for ((k = 0; k < per; k++)); do
		dir=$d/l$l/d$((k / 1000))
		if [ $((k % 1000)) = 0 ]; then mkdir -p "$dir"; fi
		mkfile "$dir/f$k" "$k" "$l"
	done
	if [ "$l" -gt 1 ]; then
		# rewrite 5% and white out 1% of layer 1's files
		for ((k = l; k < per; k += 20)); do
			dir=$d/l1/d$((k / 1000))
			mkdir -p "$dir"
			mkfile "$dir/f$k" "$k" "$l"
		done
		for ((k = l + 7; k < per; k += 100)); do
			dir=$d/l1/d$((k / 1000))
			mkdir -p "$dir"
			: >"$dir/.wh.f$k"
		done
		# an opaque directory replacing one of layer 1's directories
		od=$d/l1/d$(((l - 2) % ((per + 999) / 1000)))
		mkdir -p "$od"
		: >"$od/.wh..wh..opq"
		printf 'opaque in layer %s\n' "$l" >"$od/only"
	fi
	printf 'hard %s\n' "$l" >"$d/l$l/hard1"
	ln "$d/l$l/hard1" "$d/l$l/hard2"
	find "$d" -depth -exec touch -h -d "2020-01-0$((l % 9 + 1)) 00:00:00" {} +
	tar --format=pax --numeric-owner --sort=name -C "$d" -cf "$out/L$l.tar" .
	if [ "${GZIP:-0}" = 1 ]; then gzip -n -1 -c "$out/L$l.tar" >"$out/L$l.tar.gz"; fi
	rm -rf "$d"
	echo "L$l.tar" >>"$out/layers"
done
