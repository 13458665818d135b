#!/bin/bash
# daemon_kill.sh — the FUSE daemon of `layerfs mount IMAGE MNT --upper U`
# is killed with SIGKILL while a writer copies lower files up (whole-file
# and metacopy), creates and writes files and renames a lower directory;
# one kill point per round, each with a fresh upper.  After a lazy unmount
# (fusermount3 -uz):
#  - the image's layer blobs are unchanged (sha256 = their names);
#  - layerfs mounts the upper again, and removes the copy-up temporaries
#    the dead daemon left in the work dir;
#  - no half-copied file shows: each big lower file the writer appended to
#    reads as the lower file, or the lower file plus whole appends;
#  - the upper is a valid overlay upper: kernel overlayfs (metacopy=on)
#    mounts it over the layer unpacked with GNU tar, and its tree equals
#    layerfs's (t_listing: types, modes, owners, sizes, xattrs, sha256).
# The daemon runs in the foreground with stdout/stderr in a file, so that
# nothing of this script's output stays open in it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_writable.bash
. "$(dirname "$0")/lib_writable.bash"
require_root
require_layerfs
w_have_writable
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
BIG_MIB=32
NBIG=4
stages=("copyup 1" "small 2" "meta 2" "mv 3")
# after its stage line, each round waits (spinning, no sleep) until the
# upper or work dir shows the stage under way: a copy-up temporary or the
# copied file, the metacopy file, the copied-up directory being moved.
# It only steers the kill into the operation; nothing asserts that it hit.
# Globs, with @U for the upper and @W for the work dir.
marks=('@W/#* @U/big/f1' '' '@U/big/m2' '@U/tree/d3')
plan $((1 + ${#stages[@]} * 7))

# ------------------------------------------------------------ the image
g=$tmp/gen
mkdir -p "$g/big" "$g/tree"
for n in $(seq 1 $NBIG); do
	head -c $((BIG_MIB << 20)) /dev/urandom >"$g/big/f$n"
	head -c $((8 << 20)) /dev/urandom >"$g/big/m$n"
	mkdir -p "$g/tree/d$n/sub"
	for k in 1 2 3; do echo "tree $n $k" >"$g/tree/d$n/sub/k$k"; done
done
mkdir -p "$g/new"
w_tar "$g" "$tmp/L1.tar" || bail_out "tar of the layer failed"
_t_untar "$tmp/L1.tar" "$tmp/k/L1" || bail_out "GNU tar -x of the layer failed"
t_run "layerfs import of the layer as img:1" "$LAYERFS" import "$tmp/L1.tar" img:1

blob_sums() { # the store's blobs whose content does not match their name
	local f
	for f in "$LAYERFS_ROOT"/blobs/sha256/*; do
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "${f##*/}" ] || echo "${f##*/}"
	done
	find "$LAYERFS_ROOT/blobs" -type f -printf '%P %s\n' | sort
}
blob_sums >"$tmp/blobs.before"

# writer MNT — the load, each stage announced on stdout before it starts.
writer() {
	cd "$1" || exit 1
	for n in $(seq 1 $NBIG); do
		echo "copyup $n"
		printf 'appended\n' >>"big/f$n"
		echo "small $n"
		for k in $(seq 1 200); do printf '%s\n' "$k" >"new/n$n-$k"; done
		echo "meta $n"
		chmod 0600 "big/m$n" && printf 'x\n' >>"big/m$n"
		echo "mv $n"
		mv "tree/d$n" "tree/moved$n"
	done
	echo "finished"
}

# whole_or_none MNT — each big file is the lower one, or it plus appends.
whole_or_none() {
	local n size f bad=0
	for n in $(seq 1 $NBIG); do
		size=$(stat -c %s "$1/big/m$n") || return 1
		if ! cmp -s -n $((8 << 20)) "$1/big/m$n" "$g/big/m$n" ||
			{ [ "$size" != $((8 << 20)) ] && [ "$size" != $(((8 << 20) + 2)) ]; }; then
			diag "  big/m$n: not the lower file (+ one append): size $size"
			bad=1
		fi
		f=$1/big/f$n
		size=$(stat -c %s "$f") || return 1
		if ! cmp -s -n $((BIG_MIB << 20)) "$f" "$g/big/f$n"; then
			diag "  big/f$n: first $BIG_MIB MiB differ from the lower file"
			bad=1
		elif [ $(((size - (BIG_MIB << 20)) % 9)) != 0 ] ||
			[ "$(tail -c +$(((BIG_MIB << 20) + 1)) "$f" | tr -d '\n' | sed 's/appended//g')" != "" ]; then
			diag "  big/f$n: size $size is not the lower's plus whole appends"
			bad=1
		fi
	done
	return $bad
}

# spin_until GLOB... — until one matches (at most ~100000 checks)
spin_until() {
	local s p
	[ $# -gt 0 ] || return 0
	for ((s = 0; s < 100000; s++)); do
		for p; do
			if compgen -G "$p" >/dev/null; then
				diag "  killed after $s checks, on $(compgen -G "$p" | head -1)"
				return 0
			fi
		done
	done
	return 1
}

round() { # round I STAGE MARKS
	local i=$1 stage=$2 u=$tmp/r$1/upper w=$tmp/r$1/work m=$tmp/mnt/r$1 pid wpid line fd left
	mkdir -p "$u" "$w" "$m"
	"$LAYERFS" mount -f --upper "$u" --work "$w" img:1 "$m" >"$tmp/r$i.daemon.log" 2>&1 &
	pid=$!
	if ! t_wait_mount "$m" 1 30; then
		not_ok "round $i: layerfs mount -f img:1 --upper"
		diag_file "$tmp/r$i.daemon.log"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		for _ in $(seq 1 6); do not_ok "round $i (not mounted)"; done
		return
	fi
	exec {fd}< <(writer "$m" 2>"$tmp/r$i.writer.err")
	wpid=$!
	while IFS= read -r -u "$fd" line; do
		[ "$line" = "$stage" ] && break
	done
	local globs
	read -r -a globs <<<"$3"
	globs=("${globs[@]//@U/$u}")
	spin_until "${globs[@]//@W/$w}"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	ok "round $i: daemon killed at '$line'"
	fusermount3 -uz "$m"
	exec {fd}<&-
	wait "$wpid" 2>/dev/null
	if ! t_is_mounted "$m" && ! kill -0 "$wpid" 2>/dev/null; then
		ok "round $i: lazily unmounted; the writer ended"
	else
		not_ok "round $i: lazily unmounted; the writer ended"
	fi
	blob_sums >"$tmp/blobs.r$i"
	w_same "round $i: layer blobs unchanged (sha256 = name)" "$tmp/blobs.before" "$tmp/blobs.r$i"
	left=$(find "$w" -mindepth 1 -maxdepth 1 -name '#*' | wc -l)
	diag "  copy-up temporaries left by the dead daemon: $left"
	if ! t_run "round $i: layerfs mounts the upper again" "$LAYERFS" mount --upper "$u" --work "$w" img:1 "$m"; then
		for _ in $(seq 1 3); do not_ok "round $i (not remounted)"; done
		return
	fi
	is "$(find "$w" -mindepth 1 -maxdepth 1 -name '#*' | wc -l)" 0 "round $i: work dir temporaries removed at mount"
	if whole_or_none "$m"; then ok "round $i: no half-copied file"; else not_ok "round $i: no half-copied file"; fi
	t_listing "$m" >"$tmp/r$i.layerfs.list"
	"$LAYERFS" umount "$m" || t_unmount_all "$m"
	mkdir -p "$tmp/r$i/kwork"
	if mount -t overlay overlay -o "lowerdir=$tmp/k/L1,upperdir=$u,workdir=$tmp/r$i/kwork,metacopy=on,index=off" \
		"$m" 2>"$tmp/r$i.kernel.err"; then
		t_listing "$m" >"$tmp/r$i.kernel.list"
		umount "$m"
		w_same "round $i: kernel overlayfs over the upper equals layerfs's tree" "$tmp/r$i.kernel.list" "$tmp/r$i.layerfs.list"
	else
		not_ok "round $i: kernel overlayfs over the upper equals layerfs's tree (mount failed)"
		diag_file "$tmp/r$i.kernel.err"
	fi
}

for i in "${!stages[@]}"; do
	round $((i + 1)) "${stages[$i]}" "${marks[$i]}"
done

done_testing
