#!/bin/bash
# fuse_killed_reader.sh — readers killed with SIGKILL in the middle of a
# read, many times, on a mount of a plain tar layer and on one of a gzip
# layer: the daemon stays alive and keeps serving; afterwards 8 parallel
# readers of every large file all get GNU tar's bytes, and a listing of the
# mount equals the extracted tree.  The kill points are set by how much
# the reader has read already (/proc/PID/io), not by time.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
ROUNDS=${LAYERFS_KILL_ROUNDS:-25}

mkdir -p "$tmp/tree/d"
head -c 12000000 /dev/urandom >"$tmp/tree/big"
# compressible, so that gzip checkpoints are far apart in the file
perl -e 'srand(5); for (1 .. 200000) { print int(rand(1000)), " line of text\n" }' >"$tmp/tree/text"
for i in $(seq 50); do echo "$i" >"$tmp/tree/d/f$i"; done
tar --numeric-owner --sort=name -C "$tmp/tree" -cf "$tmp/plain.tar" . || bail_out "tar"
gzip -n -c "$tmp/plain.tar" >"$tmp/gz.tar.gz" || bail_out "gzip"
mkdir -p "$tmp/ref"
tar -C "$tmp/ref" -xpf "$tmp/gz.tar.gz" || bail_out "tar -x"

# rchar PID — bytes PID has read so far (empty once it is gone)
rchar() { sed -n 's/^rchar: //p' "/proc/$1/io" 2>/dev/null; }

# kill_readers MNT ROUND — 3 readers of the large files, with O_DIRECT
# (every read goes to the daemon, none is served from the page cache), one
# with small reads from an offset; each gets SIGKILL once it has read past
# a point that moves with ROUND.  Adds the readers that died of the signal
# (rather than finishing first) to $killed.
kill_readers() {
	local mnt=$1 r=$2 pids=() p want n st
	dd if="$mnt/big" of=/dev/null bs=1M iflag=direct status=none &
	pids+=($!)
	dd if="$mnt/text" of=/dev/null bs=4k iflag=direct skip=$((r * 13)) status=none &
	pids+=($!)
	dd if="$mnt/big" of=/dev/null bs=128k iflag=direct skip=$((r * 3)) status=none &
	pids+=($!)
	want=$(((r % 10) * 300000 + 1))
	for p in "${pids[@]}"; do
		for _ in $(seq 500); do
			n=$(rchar "$p")
			[ -z "$n" ] || [ "$n" -ge "$want" ] && break
			sleep 0.01
		done
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p"
		st=$?
		[ "$st" = 137 ] && killed=$((killed + 1))
	done
}

for kind in plain gz; do
	mnt=$tmp/mnt-$kind
	[ "$kind" = plain ] && layer=$tmp/plain.tar || layer=$tmp/gz.tar.gz
	t_mount_layers "$mnt" "$layer" || continue
	pid=$(pgrep -n -f "layerfs.* $mnt\$")
	killed=0
	# (the shell's "Killed" job notices go to /dev/null)
	for r in $(seq "$ROUNDS"); do kill_readers "$mnt" "$r" 2>/dev/null; done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		ok "$kind: the daemon survives $ROUNDS rounds of 3 readers ($killed killed mid-read)"
	else
		not_ok "$kind: the daemon survives $ROUNDS rounds of 3 readers ($killed killed mid-read)"
	fi
	# A reader that always finished first would test nothing.
	if [ "$killed" -gt 0 ]; then ok "$kind: readers were killed during a read"; else not_ok "$kind: readers were killed during a read"; fi
	bad=0
	for f in big text; do
		want=$(sha256sum <"$tmp/ref/$f")
		pids=()
		for i in 1 2 3 4 5 6 7 8; do
			sha256sum <"$mnt/$f" >"$tmp/sum$i" 2>&1 &
			pids+=($!)
		done
		for i in 1 2 3 4 5 6 7 8; do
			wait "${pids[$((i - 1))]}"
			got=$(cat "$tmp/sum$i")
			if [ "$got" != "$want" ]; then
				bad=$((bad + 1))
				diag "$f, reader $i: $got"
			fi
		done
	done
	is "$bad" 0 "$kind: then 8 parallel readers of each large file read GNU tar's bytes"
	t_compare "$mnt" "$tmp/ref" "$kind: the mount equals the extracted layer"
	t_umount "$mnt"
done
done_testing
