#!/bin/bash
# registry_interrupt.sh — pull and push killed with SIGKILL at several points
# of their transfers (fake_registry.py serving slowly) leave the store
# consistent: the images listed before are listed and read back right,
# index.json names only complete images, every blob file hashes to its
# name, and the pull or push done again succeeds with the digests served.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$T_LIB_DIR/lib_registry.bash"
reg_setup
export LAYERFS_ROOT=$tmp/s1

start_fake fake
app_digest=$(fake mkimage img/app 1 3 400000)
fake mkimage img/small 1 1 5000 >/dev/null
fake_mode '{}'
t_lfs pull "$FAKE/img/small:1" || { t_diag_err; bail_out "pull of img/small failed"; }

# consistent WHAT — one test point: the store after WHAT is consistent.
consistent() {
	local bad=() f h line
	t_lfs images --format json
	t_out | grep -q "\"Repository\":\"$FAKE/img/small\"" || bad+=("img/small no longer listed")
	timeout 60 "$LAYERFS" cat "$FAKE/img/small:1" /data/0.bin >"$tmp/got" 2>/dev/null &&
		cmp -s "$tmp/got" "$FAKE_DIR/expected/img/small/1/data/0.bin" || bad+=("img/small reads back wrong")
	# every image in index.json is complete: inspect loads its manifest
	# and config, and each layer can be read
	while IFS= read -r line; do
		timeout 60 "$LAYERFS" layers "$line" >/dev/null 2>&1 || bad+=("index.json entry $line unusable")
	done < <(jget "$LAYERFS_ROOT/index.json" 'join("\n", map { $_->{annotations}{"org.opencontainers.image.ref.name"} } @{$j->{manifests}})')
	for f in "$LAYERFS_ROOT"/blobs/sha256/*; do
		h=${f##*/}
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$h" ] || bad+=("blob $h does not hash to its name")
	done
	if [ ${#bad[@]} = 0 ]; then ok "$1: store consistent"; else not_ok "$1: store consistent"; diag "${bad[@]}"; fi
	diag "$1: $(grep -c '"path": "/v2/img/[a-z]*/blobs/' "$FAKE_DIR/requests.log") blob requests had begun;" \
		"$(find "$LAYERFS_ROOT" -name '.tmp-*' | wc -l) temp files of killed commands (collected by gc after a day)"
}

# killed_at DELAY CMD... — CMD in the background, SIGKILLed after DELAY s.
killed_at() {
	local d=$1 pid
	shift
	: >"$FAKE_DIR/requests.log"
	"$@" >/dev/null 2>&1 &
	pid=$!
	sleep "$d"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# --- killed pulls
fake_mode '{"rate": 400000}'
for d in 0.1 0.4 0.8 1.2; do
	killed_at "$d" "$LAYERFS" pull "$FAKE/img/app:1"
	consistent "pull killed after $d s"
done
fake_mode '{}'
t_lfs pull "$FAKE/img/app:1"
check "pull again after the kills" $? || t_diag_err
is "$(t_out | sed -n 's/^Digest: //p')" "$app_digest" "with the digest served"
timeout 60 "$LAYERFS" cat "$FAKE/img/app:1" /data/2.bin >"$tmp/got" 2>/dev/null
t_run "and the files right" cmp "$tmp/got" "$FAKE_DIR/expected/img/app/1/data/2.bin"

# --- killed pushes (mounts declined, so every layer is uploaded slowly)
index_before=$(sha256sum <"$LAYERFS_ROOT/index.json")
fake_mode '{"rate": 400000, "no_mount": true}'
for d in 0.1 0.5 1.0; do
	killed_at "$d" "$LAYERFS" push "$FAKE/img/app:1" "$FAKE/img/pushed:1"
	consistent "push killed after $d s"
	is "$(sha256sum <"$LAYERFS_ROOT/index.json")" "$index_before" "push killed after $d s: index.json unchanged"
done
fake_mode '{"no_mount": true}'
t_lfs push "$FAKE/img/app:1" "$FAKE/img/pushed:1"
check "push again after the kills" $? || t_diag_err
is "$(fake digest img/pushed 1)" "$app_digest" "the registry serves the manifest pushed"

stop_registries
done_testing
