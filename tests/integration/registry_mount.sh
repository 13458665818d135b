#!/bin/bash
# registry_mount.sh — against Debian's docker-registry (access log on):
# push mounts a blob from another repository of the same registry when the
# store knows the blob is there (it was pushed there, or pulled from
# there), so the registry's access log shows a mount (POST ?mount=&from=,
# 201) and no upload; skopeo reads the result.  Pull by digest stores the
# image as NAME@sha256:… (images: tag <none>, --digests shows the digest),
# two digests of one repository side by side, as docker does.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
command -v skopeo >/dev/null || bail_out "skopeo not installed (tools/install-deps.sh installs it)"
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$T_LIB_DIR/lib_registry.bash"
reg_setup
export LAYERFS_ROOT=$tmp/s1
start_registry reg "" accesslog
LOG=$tmp/reg/log
# uploads REPO — blob uploads (PUT) into REPO in the access log so far
uploads() { grep -c "\"PUT /v2/$1/blobs/uploads/" "$LOG"; }

for v in 1 2; do
	mkdir -p "$tmp/r$v/etc"
	echo "version $v" >"$tmp/r$v/etc/version"
	# over 4 MiB: HEAD answers announce sizes beyond the JSON limit
	head -c 5000000 /dev/urandom >"$tmp/r$v/etc/data"
	tar --numeric-owner -C "$tmp/r$v" -cf "$tmp/l$v.tar" .
	t_lfs import "$tmp/l$v.tar" "app:$v" || { t_diag_err; bail_out "import failed"; }
done

# --- pushed once, mounted afterwards
t_lfs push app:1 "$REG/a/one:1"
check "push to a/one (uploads)" $? || t_diag_err
pushed=$(t_out | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
is "$(uploads a/one)" 2 "layer and config uploaded to a/one"
t_lfs push app:1 "$REG/b/two:1"
check "push the same image to b/two" $? || t_diag_err
is "$(t_out | grep -c '^[0-9a-f]\{12\}: Mounted from a/one$')" 1 "the layer is mounted from a/one"
is "$(uploads b/two)" 0 "nothing uploaded to b/two (access log)"
is "$(grep -c '"POST /v2/b/two/blobs/uploads/?mount=sha256:[0-9a-f]*&from=a/one HTTP/1.1" 201' "$LOG")" 2 "the registry answered the mounts 201"
is "$(sk_digest b/two:1)" "$pushed" "skopeo reads b/two with the digest pushed"
t_run "skopeo copies b/two" skopeo copy -q --src-tls-verify=false "docker://$REG/b/two:1" "oci:$tmp/skout:x"
t_lfs push app:2 "$REG/a/one:2"
check "push app:2 to a/one:2" $? || t_diag_err

# --- pulled, then pushed elsewhere: mounted from where it was pulled
export LAYERFS_ROOT=$tmp/s2
t_lfs pull "$REG/b/two:1"
check "pull b/two into a new store" $? || t_diag_err
t_lfs push "$REG/b/two:1" "$REG/c/three:1"
check "push it to c/three" $? || t_diag_err
is "$(t_out | grep -c '^[0-9a-f]\{12\}: Mounted from b/two$')" 1 "the layer is mounted from b/two, where it was pulled from"
is "$(uploads c/three)" 0 "nothing uploaded to c/three (access log)"
is "$(sk_digest c/three:1)" "$pushed" "skopeo reads c/three with the same digest"

# --- pull by digest
export LAYERFS_ROOT=$tmp/s3
d1=$(sk_digest a/one:1)
d2=$(sk_digest a/one:2)
t_lfs pull "$REG/a/one@$d1"
check "pull a/one@$d1" $? || t_diag_err
is "$(t_out | tail -1)" "$REG/a/one@$d1" "pull prints NAME@digest"
t_lfs pull "$REG/a/one@$d2"
check "pull a second digest of a/one" $? || t_diag_err
t_lfs images
if t_out | grep -Eq "^$REG/a/one +<none> " && [ "$(t_out | grep -c "^$REG/a/one ")" = 2 ]; then
	ok "images: both listed as $REG/a/one with tag <none>"
else
	not_ok "images: both listed as $REG/a/one with tag <none>"
	diag "$(t_out)"
fi
t_lfs images --digests
if t_out | head -1 | grep -q '^REPOSITORY  *TAG  *DIGEST  *IMAGE ID  *CREATED  *SIZE$' &&
	t_out | grep -Eq "^$REG/a/one +<none> +$d1 " && t_out | grep -Eq "^$REG/a/one +<none> +$d2 "; then
	ok "images --digests shows each one's digest"
else
	not_ok "images --digests shows each one's digest"
	diag "$(t_out)"
fi
t_lfs inspect "$REG/a/one@$d2"
t_out >"$tmp/i.json"
is "$(jget "$tmp/i.json" '$j->[0]{RepoDigests}')$(jget "$tmp/i.json" '$j->[0]{RepoTags}')" "[\"$REG/a/one@$d2\"][]" "inspect: NAME@digest in RepoDigests, no RepoTags"
t_lfs cat "$REG/a/one@$d2" /etc/version
is "$(t_out)" "version 2" "cat NAME@digest reads that image"
t_lfs pull "$REG/a/one:1"
check "pull a/one:1 by tag as well" $? || t_diag_err
t_lfs images "$REG/a/one"
is "$(t_out | grep -c "^$REG/a/one ")" 3 "the tag is a third entry; the digest entries stay"
t_lfs rmi "$REG/a/one@$d2"
check "rmi NAME@digest" $? || t_diag_err
t_lfs images --digests "$REG/a/one"
if ! t_out | grep -q "$d2"; then ok "that entry is gone"; else not_ok "that entry is gone"; diag "$(t_out)"; fi
t_run "skopeo reads the store with the digest entries" skopeo inspect "oci:$LAYERFS_ROOT:$REG/a/one:1"

stop_registries
done_testing
