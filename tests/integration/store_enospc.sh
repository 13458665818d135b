#!/bin/bash
# store_enospc.sh — a full disk under the store.  $LAYERFS_ROOT is on a
# small tmpfs, filled up to a few MiB; build (COPY), pull, commit, import
# and load of a layer larger than that each fail with a clear "No space
# left on device" error naming what was being written; the store is then
# byte for byte what it was (sha256 of every file but the lock files, no
# temp file left), and once space is freed the same command succeeds and
# its image reads back what GNU tar reads from the input.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$(dirname "$0")/lib_registry.bash"
require_root
require_fuse
require_layerfs
[ -x "$REG_BIN" ] || bail_out "docker-registry not installed (apt-get install docker-registry)"
t_tmpdir
tmp=$T_TMP
export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$tmp/small"
trap 'rc_=$?; stop_registries; (exit $rc_); _t_cleanup' EXIT
mount -t tmpfs -o size=128m tmpfs "$tmp/small" || bail_out "mount -t tmpfs failed"
export LAYERFS_ROOT=$tmp/small/store

# The inputs, each with its own 12 MiB file of random bytes (gzip cannot
# shrink it, and no layer is already in the store)
big() { mkdir -p "$(dirname "$2")" && head -c $((12 << 20)) /dev/urandom >"$2" && sha256sum <"$2" >"$tmp/in/$1.sum"; }
mkdir -p "$tmp/in"
big build "$tmp/in/ctx/big"
printf 'FROM busybox:latest\nCOPY big /opt/big\n' >"$tmp/in/ctx/Dockerfile"
big import "$tmp/in/root/opt/big"
big commit "$tmp/in/upper/opt/big"
big load "$tmp/in/rload/opt/big"
big pull "$tmp/in/rpull/opt/big"
tar --numeric-owner -C "$tmp/in/root" -cf "$tmp/in/root.tar" . || bail_out "tar"

# A second store on the normal disk makes the archive and registry image.
(
	other() { LAYERFS_ROOT=$tmp/other "$LAYERFS" "$@"; }
	tar --numeric-owner -C "$tmp/in/rload" -cf "$tmp/in/rload.tar" . &&
		tar --numeric-owner -C "$tmp/in/rpull" -cf "$tmp/in/rpull.tar" . &&
		other import "$tmp/in/rload.tar" big:1 >/dev/null &&
		other import "$tmp/in/rpull.tar" pull:1 >/dev/null &&
		other save -o "$tmp/in/save.tar" big:1
) >"$tmp/.prep" 2>&1 || {
	diag_file "$tmp/.prep"
	bail_out "preparing the archive failed"
}
start_registry reg
registry_push "oci:$tmp/other:pull:1" pull:1

b_base || bail_out "importing the busybox base failed"

# state — every entry of the store but the lock files and the tmp/ scratch
# directory itself (its contents count): path, type, file size, sha256
state() {
	(cd "$LAYERFS_ROOT" && find . ! -path ./tmp ! -name .lock ! -name '*.lock' \( -type f -printf '%p f %s\n' -o -printf '%p %y\n' \) | sort &&
		find . -type f ! -name .lock ! -name '*.lock' -print0 | sort -z | xargs -0 -r sha256sum)
}
# same_store DESC BEFORE — one test point: state is still BEFORE.
same_store() {
	if [ "$2" = "$(state)" ]; then ok "$1"; else
		not_ok "$1"
		diff <(echo "$2") <(state) >"$tmp/.diff"
		diag_file "$tmp/.diff" 20
	fi
}
# fill — leave about 4 MiB free on the tmpfs
fill() {
	rm -f "$tmp/small/filler"
	local avail
	avail=$(df -k --output=avail "$tmp/small" | tail -1)
	if [ "$avail" -gt 4096 ]; then
		head -c $(((avail - 4096) * 1024)) /dev/zero >"$tmp/small/filler" 2>/dev/null
	fi
}

# full DESC WHAT CMD... — CMD fails on the full disk, saying ENOSPC and
# naming WHAT (an ERE); the store is unchanged.  Then, with space freed,
# CMD succeeds.
full() {
	local desc=$1 what=$2 before rc
	shift 2
	fill
	before=$(state)
	[ -n "$before" ] || bail_out "no store state"
	timeout -k 5 120 "$@" >"$tmp/.out" 2>"$tmp/.err"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'No space left on device' "$tmp/.err" && grep -Eq -- "$what" "$tmp/.err"; then
		ok "$desc on a full disk: fails, saying no space left and what it was writing"
		diag "  $(tail -1 "$tmp/.err")"
	else
		not_ok "$desc on a full disk: fails, saying no space left and what it was writing"
		diag "  exit $rc; stderr (expected /No space left on device/ and /$what/):"
		diag_file "$tmp/.err" 10
	fi
	same_store "$desc on a full disk: the store is byte for byte as before" "$before"
	rm -f "$tmp/small/filler"
	timeout -k 5 120 "$@" >"$tmp/.out" 2>"$tmp/.err"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$desc with space freed: succeeds"; else
		not_ok "$desc with space freed: succeeds"
		diag "  exit $rc; stderr:"
		diag_file "$tmp/.err" 10
	fi
}
# reads IMAGE OP — /opt/big of IMAGE is OP's input file
reads() {
	is "$("$LAYERFS" cat "$1" /opt/big 2>&1 | sha256sum)" "$(cat "$tmp/in/$2.sum")" "$2: the image reads back the input"
}

full "import" "root.tar|layer" "$LAYERFS" import "$tmp/in/root.tar" imp:1
reads imp:1 import
full "build (COPY)" "COPY|layer|big" "$LAYERFS" build -t bld:1 "$tmp/in/ctx"
reads bld:1 build
full "commit --upper" "commit|layer|upper" "$LAYERFS" commit --upper "$tmp/in/upper" busybox:latest cmt:1
reads cmt:1 commit
full "load" "save.tar|layer|blob" "$LAYERFS" load -i "$tmp/in/save.tar"
reads big:1 load
full "pull" "pull:1|layer|blob|sha256" "$LAYERFS" pull --tls-verify=false "$REG/pull:1"
reads "$REG/pull:1" pull
# --- a late failure: the layer fits, the image config, manifest or
# index.json does not.  The space an import takes is measured first; then
# the disk is left 1, 2 or 3 pages short of it.
mkdir -p "$tmp/in/late"
head -c 300000 /dev/urandom >"$tmp/in/late/f"
tar --numeric-owner -C "$tmp/in/late" -cf "$tmp/in/late.tar" . || bail_out "tar"
avail() { df -k --output=avail "$tmp/small" | tail -1; }
fill_to() { # fill_to KB — leave KB free
	rm -f "$tmp/small/filler"
	head -c $((($(avail) - $1) * 1024)) /dev/zero >"$tmp/small/filler"
}
a0=$(avail)
"$LAYERFS" import "$tmp/in/late.tar" late:0 >/dev/null 2>"$tmp/.err" || diag_file "$tmp/.err"
used=$((a0 - $(avail)))
"$LAYERFS" rmi late:0 >/dev/null 2>&1
is "$(avail)" "$a0" "rmi gives back the space an import took ($used KiB)"
for short in 4 8 12; do
	fill_to $((used - short))
	before=$(state)
	"$LAYERFS" import "$tmp/in/late.tar" late:1 >/dev/null 2>"$tmp/.err"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'No space left on device' "$tmp/.err"; then
		ok "import $short KiB short of what it needs: fails with ENOSPC"
		diag "  $(tail -1 "$tmp/.err")"
	else
		not_ok "import $short KiB short of what it needs: fails with ENOSPC (exit $rc)"
		diag_file "$tmp/.err"
	fi
	same_store "import $short KiB short: the store is byte for byte as before" "$before"
done
rm -f "$tmp/small/filler"
"$LAYERFS" images >/dev/null 2>"$tmp/.err"
check "the store is usable afterwards (images)" $? || diag_file "$tmp/.err"
done_testing
