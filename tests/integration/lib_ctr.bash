# shellcheck shell=bash
# lib_ctr.bash — what the container tests (ctr_*.sh) share; source it
# after lib.sh and lib_build.bash.
#   ctr_setup — needs root, FUSE and layerfs; makes $tmp with a store of
#     its own (LAYERFS_ROOT), imports busybox:latest, and on exit removes
#     every container of that store (none may outlive the test).
#   L ARGS... — layerfs under a timeout.
#   state FIELD ID — a field of the container's state.json.
#   ctr_test_user NAME BASE — creates the user NAME (a free uid in
#     61000..63999, a group of its own) with the subordinate range
#     BASE:65536 in /etc/subuid and /etc/subgid and the home $tmp/thome;
#     sets tuser, tuid, tgid, thome; one test point (useradd).  Let the
#     EXIT trap call user_cleanup (set it before): it removes the user,
#     its ranges and its home.  $tmp/sub{u,g}id.orig: the files before.
#   as_tuser CMD... — CMD as that user, with a store of its own.

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

user_cleanup() {
	[ -n "${tuser:-}" ] || return 0
	[ -n "${tuid:-}" ] && pkill -KILL -u "$tuid" 2>/dev/null
	userdel "$tuser" >/dev/null 2>&1
	sed -i "/^$tuser:/d" /etc/subuid /etc/subgid 2>/dev/null
	rm -rf --one-file-system "$thome" 2>/dev/null
}

ctr_test_user() {
	local c
	tuser=$1
	tuid=
	thome=$tmp/thome
	for _ in $(seq 50); do
		c=$((61000 + RANDOM % 3000))
		getent passwd "$c" >/dev/null || getent group "$c" >/dev/null || { tuid=$c; break; }
	done
	cp -p /etc/subuid "$tmp/subuid.orig" 2>/dev/null || : >"$tmp/subuid.orig"
	cp -p /etc/subgid "$tmp/subgid.orig" 2>/dev/null || : >"$tmp/subgid.orig"
	useradd -M -U -d "$thome" -s /bin/sh -u "$tuid" "$tuser" 2>/dev/null # userdel removes its group too
	check "useradd $tuser (uid $tuid)" $?
	tgid=$(id -g "$tuser") # newuidmap wants the caller's gid to be the user's own
	echo "$tuser:$2:65536" >>/etc/subuid
	echo "$tuser:$2:65536" >>/etc/subgid
	mkdir -p "$thome"
	chown "$tuid:$tgid" "$thome"
}

as_tuser() {
	setpriv --reuid="$tuid" --regid="$tgid" --clear-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$thome" LAYERFS_ROOT="$thome/store" \
		timeout -k 5 120 "$@"
}
