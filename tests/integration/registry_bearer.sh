#!/bin/bash
# registry_bearer.sh — the bearer token flow against fake_registry.py: every
# request answered 401 with WWW-Authenticate: Bearer realm=…/token,
# service, scope; the token endpoint checks the Basic credentials that
# `layerfs login` kept (or ~/.docker/config.json holds), or hands out pull
# tokens anonymously; blobs need the token; an expired token is renewed once;
# push asks for scope pull,push and uploads with it, mounts a blob known to
# be in another repository, and uploads after all when the registry answers
# the mount with 202.  What the registry ends up holding is compared with
# what was pushed.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$T_LIB_DIR/lib_registry.bash"
reg_setup
export LAYERFS_ROOT=$tmp/s1

start_fake fake
app_digest=$(fake mkimage img/app 1 2 200000)
AUTH='"auth": "bearer", "users": {"alice": "s3cret"}'

# log_has DESC ERE [MIN] — at least MIN (1) requests.log lines match ERE.
log_has() {
	local n
	n=$(fake_log_count "$2")
	if [ "$n" -ge "${3:-1}" ]; then ok "$1"; else not_ok "$1"; diag "$n lines match /$2/; the log:"; diag_file "$FAKE_DIR/requests.log" 30; fi
}

# --- pull
fake_mode "{$AUTH}"
t_fails "pull without credentials: clear error" "getting a token from http://$FAKE/token: HTTP 401.*layerfs login" \
	timeout 60 "$LAYERFS" pull "$FAKE/img/app:1"
t_fails "login with a wrong password fails" "HTTP 401" timeout 60 "$LAYERFS" login -u alice -p wrong "$FAKE"
echo s3cret | timeout 60 "$LAYERFS" login -u alice --password-stdin "$FAKE" >"$tmp/.out" 2>"$tmp/.err"
check "login --password-stdin" $? || t_diag_err
fake_mode "{$AUTH}"
t_lfs pull "$FAKE/img/app:1"
check "pull with a bearer token" $? || t_diag_err
is "$(t_out | sed -n 's/^Digest: //p')" "$app_digest" "manifest digest as served"
log_has "the manifest answered 401 to the token without scope" '"path": "/v2/img/app/manifests/1", "status": 401, "range": null, "auth": "Bearer"'
layer=$(perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{layers}[0]{digest}' <"$FAKE_DIR/repos/img/app/_manifests/1")
is "$(curl -s -o /dev/null -w '%{http_code}' "http://$FAKE/v2/img/app/blobs/$layer")" 401 "the registry refuses blobs without a token"
log_has "the token endpoint got alice's Basic credentials and scope pull" '"path": "/token\?service=x&scope=repository%3Aimg%2Fapp%3Apull", "status": 200, .*"auth": "Basic".*"user": "alice"'
log_has "both layers fetched with the token" '"path": "/v2/img/app/blobs/sha256:[0-9a-f]+", "status": 200, "range": null, "auth": "Bearer"' 3
timeout 60 "$LAYERFS" cat "$FAKE/img/app:1" /data/1.bin >"$tmp/got" 2>/dev/null
t_run "pulled file equals the one in the tar layer" cmp "$tmp/got" "$FAKE_DIR/expected/img/app/1/data/1.bin"

# --- an expired token is renewed (once per request)
export LAYERFS_ROOT=$tmp/s2
fake_mode "{$AUTH, \"token_uses\": 2}"
t_lfs pull "$FAKE/img/app:1"
check "pull while tokens expire after two uses" $? || t_diag_err
log_has "an expired token was answered 401" '"status": 401, "range": null, "auth": "Bearer"'
log_has "and a new token fetched" '"path": "/token\?[^"]*", "status": 200' 3

# --- credentials from ~/.docker/config.json
t_lfs logout "$FAKE"
check "logout" $? || t_diag_err
mkdir -p "$HOME/.docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$FAKE" "$(printf alice:s3cret | base64)" >"$HOME/.docker/config.json"
export LAYERFS_ROOT=$tmp/s3
fake_mode "{$AUTH}"
t_lfs pull "$FAKE/img/app:1"
check "pull with credentials from ~/.docker/config.json" $? || t_diag_err
log_has "token fetched with those credentials" '"path": "/token[^"]*", "status": 200, .*"user": "alice"'
rm "$HOME/.docker/config.json"

# --- anonymous tokens: pull yes, push no
export LAYERFS_ROOT=$tmp/s4
fake_mode "{$AUTH, \"anonymous\": true}"
t_lfs pull "$FAKE/img/app:1"
check "pull with an anonymous token" $? || t_diag_err
log_has "token requested without credentials" '"path": "/token[^"]*", "status": 200, "range": null, "auth": null'
mkdir -p "$tmp/root/etc"
echo local >"$tmp/root/etc/local"
tar -C "$tmp/root" -cf "$tmp/local.tar" .
t_lfs import "$tmp/local.tar" local:1 || { t_diag_err; bail_out "import failed"; }
t_fails "push with an anonymous (pull-only) token: clear error" "blobs/uploads/: HTTP 401.*layerfs login" timeout 60 "$LAYERFS" push local:1 "$FAKE/img/local:1"

# --- push with scope pull,push
echo s3cret | timeout 60 "$LAYERFS" login -u alice --password-stdin "$FAKE" >/dev/null 2>&1
fake_mode "{$AUTH}"
t_lfs push local:1 "$FAKE/img/local:1"
check "push with a bearer token" $? || t_diag_err
pushed=$(t_out | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
log_has "token asked with scope pull,push" '"path": "/token\?service=x&scope=repository%3Aimg%2Flocal%3Apull%2Cpush", "status": 200'
log_has "the layer uploaded with the token (PUT 201)" '"method": "PUT", "path": "/v2/img/local/blobs/uploads/[0-9a-f]+\?digest=sha256:[0-9a-f]+", "status": 201, "range": null, "auth": "Bearer"'
is "$(fake digest img/local 1)" "$pushed" "the registry holds the manifest push printed"
is "$pushed" "$(jget "$LAYERFS_ROOT/index.json" '(grep { $_->{annotations}{"org.opencontainers.image.ref.name"} eq "local:1" } @{$j->{manifests}})[0]{digest}')" "which is the stored one"

# --- cross-repository mount, and its fallback
t_lfs push "$FAKE/img/app:1" "$FAKE/img/copy:1"
check "push of a pulled image to another repository" $? || t_diag_err
is "$(t_out | grep -c 'Mounted from img/app')" 2 "both layers mounted from img/app"
log_has "with a token for both repositories (two scopes)" '"path": "/token\?service=x&scope=repository%3Aimg%2Fcopy%3Apull%2Cpush&scope=repository%3Aimg%2Fapp%3Apull", "status": 200'

is "$(fake_log_count '"method": "PUT", "path": "/v2/img/copy/blobs/uploads/')" 0 "no blob uploaded"
is "$(fake digest img/copy 1)" "$app_digest" "the registry serves the same manifest"
fake_mode "{$AUTH, \"no_mount\": true}"
t_lfs push "$FAKE/img/app:1" "$FAKE/img/other:1"
check "push when the registry declines mounts (202)" $? || t_diag_err
log_has "mount asked" '"method": "POST", "path": "/v2/img/other/blobs/uploads/\?mount=sha256:[0-9a-f]+&from=img/(app|copy)", "status": 202' 2
log_has "then uploaded" '"method": "PUT", "path": "/v2/img/other/blobs/uploads/[^"]*", "status": 201' 2
is "$(fake digest img/other 1)" "$app_digest" "the registry serves the same manifest"

stop_registries
done_testing
