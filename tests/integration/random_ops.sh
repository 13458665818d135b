#!/bin/bash
# random_ops.sh — tests/random_ops/random_ops with fixed seeds: the same
# pseudo-random operations (create, write at random offsets, truncate,
# O_TRUNC, mkdir, rmdir, unlink, rename incl. NOREPLACE/EXCHANGE, link,
# symlink, mkfifo, chmod, chown, set/get/removexattr, utimensat, stat, and
# descriptors held open across unlink/rename) on a tmpfs copy of a lower
# tree (A) and on a union over that lower (B); every result and errno must
# match, and both trees are compared byte for byte every 25 operations and
# at the end.  B is kernel overlayfs (validating the tester), then a
# writable layerfs mount of the same lower as a tar layer (gated, see
# lib_writable.bash).
#
# The lower tree has no hardlink pair: kernel overlayfs reports the lower
# st_nlink of a name that was never copied up after its sibling is
# unlinked (gen/layers.sh, overlay-nlink-skip), a documented overlay
# difference.  posix_check --lower-prepared covers lower hardlink pairs.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_writable.bash
. "$(dirname "$0")/lib_writable.bash"
require_root
require_layerfs
t_tmpdir
tmp=$T_TMP
RO=$(w_prog random_ops)
SEEDS=(1 2 3 4 5)
OPS=2000

# --- the lower tree (kept in a plain dir on $TMPDIR, tarred for layerfs)
gen_lower() {
	local l=$tmp/lower/tree
	mkdir -p "$l/a/c" "$l/b" "$l/d/e"
	printf 'hello\n' >"$l/a/f"
	perl -e 'srand(3); print map { chr(int(rand(256))) } 1 .. 20000' >"$l/b/g"
	printf 'c\n' >"$l/a/c/h"
	: >"$l/d/empty"
	printf 'deep\n' >"$l/d/e/x"
	ln -s a/f "$l/s"
	ln -s nowhere "$l/d/dangling"
	mkfifo "$l/d/p"
	chmod 0600 "$l/b/g"
	chmod 0700 "$l/d/e"
	chown 1000:1000 "$l/a/c/h"
	setfattr -n user.k1 -v lower "$l/a/f"
	setfattr -n trusted.k2 -v t "$l/a/f"
	setfattr -n user.k0 -v dir "$l/a"
	find "$tmp/lower" -depth -exec touch -h -d '2020-01-02 03:04:05' {} +
	w_tar "$tmp/lower" "$tmp/lower.tar"
}
gen_lower || bail_out "generating the lower tree failed"
w_tmpfs "$tmp/b"

# run_ro DESC SEED A B — one random_ops run, one test point.
run_ro() {
	local desc=$1 seed=$2 rc
	timeout -k 5 60 "$RO" --seed "$seed" --ops "$OPS" --check-every 25 "$3" "$4" >"$tmp/ro.out" 2>"$tmp/ro.err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc: $(sed -n 's/^random_ops: seed [0-9]*: //p' "$tmp/ro.out")"
	else
		not_ok "$desc (exit $rc)"
		diag_file "$tmp/ro.err" 40
	fi
}
# fresh_ref SEED — a tmpfs copy of the lower tree: prints its path.
fresh_ref() {
	mkdir -p "$tmp/b/ref$1"
	cp -a "$tmp/lower/tree" "$tmp/b/ref$1/tree"
	echo "$tmp/b/ref$1/tree"
}

# --- the tester catches a divergence (one byte changed in B)
mkdir -p "$tmp/b/self"
cp -a "$tmp/lower/tree" "$tmp/b/self/A"
cp -a "$tmp/lower/tree" "$tmp/b/self/B"
printf 'X' | dd of="$tmp/b/self/B/b/g" bs=1 seek=12345 conv=notrunc status=none
if "$RO" --seed 1 --ops 10 "$tmp/b/self/A" "$tmp/b/self/B" >/dev/null 2>"$tmp/self.err"; then
	not_ok "random_ops reports a tree that differs by one byte"
else
	if grep -q 'b/g: contents differ at byte 12345' "$tmp/self.err"; then
		ok "random_ops reports a tree that differs by one byte"
	else
		not_ok "random_ops reports a tree that differs by one byte (wrong diagnostic)"
		diag_file "$tmp/self.err" 10
	fi
fi
cp -a "$tmp/lower/tree" "$tmp/b/self/A2"
cp -a "$tmp/lower/tree" "$tmp/b/self/C"
run_ro "seed 1, tmpfs vs tmpfs (the sequence is deterministic)" 1 "$tmp/b/self/A2" "$tmp/b/self/C"

# --- tmpfs vs kernel overlayfs
for s in "${SEEDS[@]}"; do
	a=$(fresh_ref "k$s")
	w_overlay "$tmp/mnt/k$s" "$tmp/b/k$s" "$tmp/lower"
	run_ro "seed $s, tmpfs vs kernel overlayfs" "$s" "$a" "$tmp/mnt/k$s/tree"
	umount "$tmp/mnt/k$s"
done

# --- tmpfs vs layerfs (writable, lower as a tar layer)
if w_have_writable; then
	for s in "${SEEDS[@]}"; do
		a=$(fresh_ref "l$s")
		if w_lfs_mount "$tmp/mnt/l$s" "$tmp/b/l$s/upper" "$tmp/lower.tar"; then
			run_ro "seed $s, tmpfs vs layerfs" "$s" "$a" "$tmp/mnt/l$s/tree"
			t_umount "$tmp/mnt/l$s"
		else
			not_ok "seed $s, tmpfs vs layerfs (not mounted)"
			not_ok "layerfs umount (not mounted)"
		fi
	done
fi

done_testing
