#!/bin/bash
# registry_hostile.sh — pull from a registry that drops connections and
# misbehaves (tests/integration/fake_registry.py, serving an image built
# by python's tarfile and gzip).  A dropped download resumes with Range (or
# starts over when the server ignores Range) and ends verified: the files
# equal the ones python wrote.  Each hostile answer — an announced length
# beyond the descriptor, more bytes than declared, a redirect loop, a slow
# loris, a manifest whose digest does not match, a blob of the wrong size,
# a missing layer, a config naming more layers than the manifest, gzip
# corrupt mid-layer, a huge manifest (announced or not) — fails with an error naming the
# thing, and leaves the store byte for byte as it was.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$T_LIB_DIR/lib_registry.bash"
reg_setup

start_fake fake
app_digest=$(fake mkimage img/app 1 2 600000)
fake mkimage img/small 1 1 1000 >/dev/null
exp=$FAKE_DIR/expected/img/app/1

# same_files STORE-IMAGE TEST-NAME — the layers' files, read back through
# layerfs, equal the bytes python wrote.
same_files() {
	local f bad=
	for f in data/0.bin data/1.bin etc/layer-0 etc/layer-1; do
		timeout 60 "$LAYERFS" cat "$1" "/$f" >"$tmp/got" 2>"$tmp/.err" && cmp -s "$tmp/got" "$exp/$f" || bad="$bad $f"
	done
	if [ -z "$bad" ]; then ok "$2"; else not_ok "$2"; diag "differs:$bad"; t_diag_err; fi
}

# good_pull STORE MODE DESC LOG-ERE LOG-DESC — into a new store with the
# fake in MODE: the pull succeeds with the digest served, ERE matches two
# request log lines (one per layer), and the files come out right.
good_pull() {
	export LAYERFS_ROOT=$tmp/$1
	fake_mode "$2"
	t_lfs pull "$FAKE/img/app:1"
	check "$3" $? || t_diag_err
	is "$(t_out | sed -n 's/^Digest: //p')" "$app_digest" "$3: manifest digest as served"
	if [ -n "$4" ]; then is "$(fake_log_count "$4")" 2 "$5"; fi
	same_files "$FAKE/img/app:1" "$3: files equal the ones in the tar layers"
}
good_pull s0 '{}' "pull from the fake registry" "" ""
# --- resume with Range
good_pull s1 '{"drop_after": 250000}' "pull over connections dropped after 250000 bytes" \
	'"status": 206, "range": "bytes=250000-"' "both layers resumed with Range: bytes=250000- (206)"
good_pull s2 '{"drop_after": 250000, "ignore_range": true}' "pull when the server ignores Range (answers 200)" \
	'"status": 200, "range": "bytes=250000-"' "Range asked, whole blob sent again"

# --- hostile answers: clear error, store unchanged
export LAYERFS_ROOT=$tmp/s3
fake_mode '{}'
t_lfs pull "$FAKE/img/small:1" || { t_diag_err; bail_out "pull of img/small failed"; }
before=$(store_state)
# hostile DESC ERE MODE [IMAGE] [ENV=VALUE...]
hostile() {
	local desc=$1 re=$2 mode=$3 image=${4:-img/app:1}
	shift 4 2>/dev/null || shift $#
	fake_mode "$mode"
	t_fails "$desc: clear error" "$re" env "$@" timeout 120 "$LAYERFS" pull "$FAKE/$image"
	if [ "$(store_state)" = "$before" ]; then
		ok "$desc: store unchanged"
	else
		not_ok "$desc: store unchanged"
		diff <(echo "$before") <(store_state) | head -20 | diag_file /dev/stdin
	fi
}
hostile "dropped on every try" "after 5 attempts: .*blobs/sha256:[0-9a-f]{64}: connection dropped" \
	'{"drop_after": 100000, "drop_count": 100}'
hostile "Content-Length beyond the descriptor" "announces 10000000000000 bytes, but the blob's descriptor says [0-9]+.*refusing it before downloading" \
	'{"content_length": "huge"}'
hostile "more bytes than declared" "blobs/sha256:[0-9a-f]{64}: blob sha256:[0-9a-f]{64} is larger than the [0-9]+ bytes its descriptor gives" \
	'{"content_length": "extra"}'
hostile "redirect loop" "blobs/sha256:[0-9a-f]{64}: more than 5 redirects" '{"redirect_loop": true}'
hostile "slow loris" "less than 1 KiB/s for 1 s" '{"slow": 0.5}' img/app:1 LAYERFS_REGISTRY_STALL_SECONDS=1
fake variant img/app 1 mismatch digest-mismatch >/dev/null
hostile "manifest digest mismatch" "manifests/mismatch: the manifest does not match its digest sha256:" '{}' img/app:mismatch
fake variant img/app 1 wrongsize wrong-size >/dev/null
hostile "blob of the wrong size" "blob sha256:[0-9a-f]{64}: got [0-9]+ bytes, its descriptor says [0-9]+" '{}' img/app:wrongsize
fake variant img/app 1 missing missing-layer >/dev/null
hostile "layer missing on the registry" "blobs/sha256:[0-9a-f]{64}: HTTP 404" '{}' img/app:missing
fake variant img/app 1 extradiff config-extra-diffid >/dev/null
hostile "config naming a layer the manifest lacks" "config lists 3 diff_ids for 2 layers" '{}' img/app:extradiff
fake variant img/app 1 badgz corrupt-gzip >/dev/null
hostile "gzip corrupt mid-layer" "layer sha256:[0-9a-f]{64}.*(gzip|inflate|compress|corrupt)" '{}' img/app:badgz
fake variant img/app 1 huge huge-manifest >/dev/null
hostile "manifest over the size limit" "manifests/huge: the registry announces [0-9]+ bytes, over the 4194304 byte limit" '{}' img/app:huge
hostile "manifest over the size limit, length not announced" "manifests/huge: the answer is larger than 4194304 bytes, the limit for manifests" \
	'{"manifest_no_length": true}' img/app:huge
is "$(find "$tmp/s3" -name '.tmp-*' | wc -l)" 0 "no temp files left by the failed pulls"

# --- still usable afterwards
fake_mode '{}'
t_lfs pull "$FAKE/img/app:1"
check "the same store pulls the image once the registry behaves" $? || t_diag_err
same_files "$FAKE/img/app:1" "and its files are right"

stop_registries
done_testing
