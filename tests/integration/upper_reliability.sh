#!/bin/bash
# upper_reliability.sh — a full disk.  The upper lives on a small tmpfs: a
# copy-up that does not fit fails with ENOSPC and leaves nothing half-made
# in the upper or the work dir; the file still reads as the lower one.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 6

mkdir -p "$tmp/src/data" "$tmp/small" "$tmp/m1"
head -c $((8 << 20)) /dev/urandom >"$tmp/src/data/big"
echo small >"$tmp/src/data/small"
tar -C "$tmp/src" -cf "$tmp/l.tar" . || bail_out "tar failed"
mount -t tmpfs -o size=4m tmpfs "$tmp/small" || bail_out "tmpfs mount failed"

t_run "mount with the upper on a 4 MiB tmpfs" \
	"$LAYERFS" mount --layer "$tmp/l.tar" --upper "$tmp/small/u" --work "$tmp/small/w" "$tmp/m1"
err=$( (echo more >>"$tmp/m1/data/big") 2>&1)
case $err in
*"No space left"*) ok "appending to an 8 MiB lower file fails with ENOSPC" ;;
*) not_ok "appending to an 8 MiB lower file fails with ENOSPC"; diag "  got: '$err'" ;;
esac
if [ ! -e "$tmp/small/u/data/big" ] && [ -z "$(ls -A "$tmp/small/w")" ]; then
	ok "no half-copied file in the upper, nothing left in the work dir"
else
	not_ok "no half-copied file in the upper, nothing left in the work dir"
	diag "$(find "$tmp/small" | head)"
fi
is "$(cmp "$tmp/m1/data/big" "$tmp/src/data/big" 2>&1 && echo same)" same "the file still reads as the lower one"
t_run "a small change still fits and works" sh -c "echo changed >>'$tmp/m1/data/small'"
t_umount "$tmp/m1"

done_testing
