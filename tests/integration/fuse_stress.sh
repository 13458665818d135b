#!/bin/bash
# fuse_stress.sh — tests/stress/stress: N threads doing random create,
# write, read, truncate, rename (files and directories), unlink, mkdir,
# rmdir, readdir and stat at once, each in its own subtree checked against
# its own model, plus create/rename/unlink/readdir/read in one shared
# directory checked for invariants (own files exact, no error but ENOENT
# for others' files, d_ino = st_ino, lower files equal to GNU tar's
# extraction).  The image has three layers: plain, gzip (changes files,
# whiteouts) and plain (an opaque directory); the initial model of each
# subtree is GNU tar's extraction of the layers (t_ref_flat).  The tester
# runs first on a tmpfs copy of that reference (and must notice one extra
# file), then on kernel overlayfs, then on a writable layerfs mount.  The
# run is bounded by an operation count; LAYERFS_STRESS_OPS and
# LAYERFS_STRESS_THREADS make it longer.
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
ST=$(w_prog stress)
THREADS=${LAYERFS_STRESS_THREADS:-8}
OPS=${LAYERFS_STRESS_OPS:-2500}

# --- three layers
gen_layers() {
	local i l=$tmp/gen
	mkdir -p "$l/1/shared" "$l/2/shared" "$l/3"
	head -c 1500000 /dev/urandom >"$l/1/shared/ro-big"
	echo small >"$l/1/shared/ro-small"
	head -c 3000000 /dev/urandom >"$l/2/shared/ro-gz"
	for ((i = 0; i < THREADS; i++)); do
		mkdir -p "$l/1/t$i/d1/d2" "$l/2/t$i/d1" "$l/3/t$i/d1" "$l/3/t$i/d3"
		head -c 50000 /dev/urandom >"$l/1/t$i/a"
		echo "b$i" >"$l/1/t$i/b"
		head -c 7000 /dev/urandom >"$l/1/t$i/d1/c"
		echo e >"$l/1/t$i/d1/d2/e"
		head -c 120000 /dev/urandom >"$l/2/t$i/a"
		: >"$l/2/t$i/.wh.b"
		echo new >"$l/2/t$i/d1/new"
		: >"$l/3/t$i/d1/.wh..wh..opq"
		echo only >"$l/3/t$i/d1/only"
		head -c 9000 /dev/urandom >"$l/3/t$i/d3/f"
	done
	tar --numeric-owner --sort=name -C "$l/1" -cf "$tmp/l1.tar" . &&
		tar --numeric-owner --sort=name -C "$l/2" -czf "$tmp/l2.tar.gz" . &&
		tar --numeric-owner --sort=name -C "$l/3" -cf "$tmp/l3.tar" . &&
		t_ref_flat "$tmp/ref" "$tmp/l1.tar" "$tmp/l2.tar.gz" "$tmp/l3.tar"
}
gen_layers || bail_out "generating the layers failed"
w_tmpfs "$tmp/b"

# run_stress DESC MNT — one stress run, one test point.
run_stress() {
	local rc
	timeout -k 5 240 "$ST" --threads "$THREADS" --ops "$OPS" --seed 7 "$tmp/ref" "$2" \
		>"$tmp/st.out" 2>"$tmp/st.err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$1: $(sed -n 's/^stress: seed [0-9]*: //p' "$tmp/st.out")"
	else
		not_ok "$1 (exit $rc)"
		diag_file "$tmp/st.err" 20
	fi
}

# --- the tester itself: tmpfs passes, an extra file is noticed
cp -a "$tmp/ref" "$tmp/b/self"
echo x >"$tmp/b/self/t0/intruder"
if "$ST" --threads 2 --ops 50 --seed 1 "$tmp/ref" "$tmp/b/self" >/dev/null 2>"$tmp/self.err"; then
	not_ok "stress notices a file nobody created"
elif grep -Eq 'intruder|t0 holds' "$tmp/self.err"; then
	ok "stress notices a file nobody created"
else
	not_ok "stress notices a file nobody created (wrong diagnostic)"
	diag_file "$tmp/self.err"
fi
cp -a "$tmp/ref" "$tmp/b/plain"
run_stress "tmpfs" "$tmp/b/plain"

# --- kernel overlayfs over the same layers, extracted by GNU tar
# lowers on the same tmpfs as the upper: overlayfs then keeps st_ino
# constant across copy-up and reports it as d_ino
kl=$tmp/b/kl
mkdir -p "$kl"
t_ref_overlay "$kl/ro" "$kl/work" "$tmp/l1.tar" "$tmp/l2.tar.gz" "$tmp/l3.tar" ||
	bail_out "kernel overlay reference failed"
umount "$kl/ro"
w_overlay "$tmp/kmnt" "$tmp/b/k" "$kl/work/L3:$kl/work/L2:$kl/work/L1"
run_stress "kernel overlayfs" "$tmp/kmnt"
umount "$tmp/kmnt"

# --- layerfs, writable, upper on a tmpfs
if w_lfs_mount "$tmp/mnt" "$tmp/b/upper" "$tmp/l1.tar" "$tmp/l2.tar.gz" "$tmp/l3.tar"; then
	pid=$(pgrep -n -f "layerfs.* $tmp/mnt\$")
	run_stress "layerfs" "$tmp/mnt"
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then ok "the daemon is still running"; else not_ok "the daemon is still running"; fi
	# the lower files read through a fresh mount of the same upper
	t_umount "$tmp/mnt"
	if w_lfs_mount "$tmp/mnt" "$tmp/b/upper" "$tmp/l1.tar" "$tmp/l2.tar.gz" "$tmp/l3.tar"; then
		if cmp -s "$tmp/ref/shared/ro-gz" "$tmp/mnt/shared/ro-gz" && cmp -s "$tmp/ref/shared/ro-big" "$tmp/mnt/shared/ro-big"; then
			ok "after a remount: lower files unchanged"
		else
			not_ok "after a remount: lower files unchanged"
		fi
		t_umount "$tmp/mnt"
	fi
else
	not_ok "layerfs (not mounted)"
fi
done_testing
