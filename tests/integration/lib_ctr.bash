# shellcheck shell=bash
# lib_ctr.bash — what the container tests (ctr_*.sh) share; source it
# after lib.sh and lib_build.bash.
#   ctr_setup — needs root, FUSE and layerfs; makes $tmp with a store of
#     its own (LAYERFS_ROOT), imports busybox:latest, and on exit removes
#     every container of that store (none may outlive the test).
#   L ARGS... — layerfs under a timeout.
#   state FIELD ID — a field of the container's state.json.

L() { timeout -k 5 120 "$LAYERFS" "$@"; }

state() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1; print JSON::PP->new->decode(<$f>)->{$ARGV[1]} // ""' \
		"$LAYERFS_ROOT/containers/$2/state.json" "$1"
}

ctr_cleanup() {
	local id
	for id in $(timeout 30 "$LAYERFS" ps -a -q --no-trunc 2>/dev/null); do
		timeout 30 "$LAYERFS" rm -f "$id" >/dev/null 2>&1
	done
}

ctr_setup() {
	require_root
	require_fuse
	require_layerfs
	t_tmpdir
	tmp=$T_TMP
	export LAYERFS_ROOT=$tmp/store
	trap 'rc_=$?; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT
	b_base || bail_out "importing the busybox base failed"
}
