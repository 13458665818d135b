#!/bin/bash
# registry_pull_push.sh — pull and push against Debian's docker-registry
# started here on 127.0.0.1 (plain http; then with htpasswd Basic auth),
# cross-checked with skopeo both ways: digests must be equal.  Gzip layers
# pushed by skopeo come back byte for byte; layers already stored are
# skipped; a manifest list resolves to this platform; login/logout keep
# and drop credentials; search lists the catalog; a blob whose bytes were
# changed on the server is refused and leaves the store as it was.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$(dirname "$0")/lib_registry.bash"
require_layerfs
[ -x "$REG_BIN" ] || skip_all "docker-registry not installed (apt-get install docker-registry)"
command -v skopeo >/dev/null || skip_all "skopeo not installed"
command -v htpasswd >/dev/null || skip_all "htpasswd not installed (apt-get install apache2-utils)"
registry_env

jget() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' "$1" "$2"
}
store_state() {
	(cd "$LAYERFS_ROOT" && find . ! -name .lock -printf '%p %y %s\n' | sort)
}


# --- test images: a gzip two-layer image built by skopeo from a layerfs import
r=$tmp/rootfs
mkdir -p "$r/etc" "$r/bin"
echo one >"$r/etc/one"
head -c 2000000 /dev/urandom >"$r/bin/big"
tar --numeric-owner -C "$r" -cf "$tmp/l1.tar" .
t_lfs import "$tmp/l1.tar" base:1 || { t_diag_err; bail_out "import failed"; }

start_registry plain
SK="--dest-tls-verify=false"
skopeo copy -q $SK --dest-compress --dest-compress-format gzip "oci:$LAYERFS_ROOT:base:1" "docker://$REG/sk/base:1" >"$tmp/.sk" 2>&1 || { diag_file "$tmp/.sk"; bail_out "skopeo push failed"; }
skdigest=$(skopeo inspect --tls-verify=false "docker://$REG/sk/base:1" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Digest}')

# --- pull what skopeo pushed
export LAYERFS_ROOT=$tmp/store2
t_lfs pull "$REG/sk/base:1"
check "pull $REG/sk/base:1 (loopback: plain http)" $? || t_diag_err
is "$(t_out | tail -1)" "$REG/sk/base:1" "pull prints the name"
if t_out | grep -q "Pull complete"; then ok "plain progress lines when stdout is not a tty"; else not_ok "plain progress lines when stdout is not a tty"; fi
t_lfs inspect "$REG/sk/base:1"
t_out >"$tmp/i.json"
is "$(jget "$tmp/i.json" '$j->[0]{LayerFS}{ManifestDigest}')" "$skdigest" "pulled manifest digest equals skopeo's"
is "$(jget "$tmp/i.json" '$j->[0]{LayerFS}{Layers}[0]{MediaType}')" "application/vnd.oci.image.layer.v1.tar+gzip" "gzip layer stored as gzip"
t_lfs cat "$REG/sk/base:1" /etc/one
is "$(t_out)" "one" "cat from the pulled gzip image"
t_lfs pull "$REG/sk/base:1"
if t_out | grep -q "Already exists"; then ok "second pull skips present layers"; else not_ok "second pull skips present layers"; diag "$(t_out)"; fi

# --- push with layerfs, pull with skopeo; push back what was pulled
t_lfs push "$REG/sk/base:1" "$REG/lfs/copy:2"
check "push to $REG/lfs/copy:2" $? || t_diag_err
t_lfs push "$REG/sk/base:1" "$REG/lfs/copy:2"
if t_out | grep -q "Layer already exists"; then ok "second push skips blobs the registry has (HEAD)"; else not_ok "second push skips blobs the registry has (HEAD)"; diag "$(t_out)"; fi
d2=$(skopeo inspect --tls-verify=false "docker://$REG/lfs/copy:2" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Digest}')
is "$d2" "$skdigest" "pushed manifest digest unchanged (skopeo inspect)"
t_run "skopeo copy of what layerfs pushed" skopeo copy -q --src-tls-verify=false "docker://$REG/lfs/copy:2" "oci:$tmp/skout:x"
export LAYERFS_ROOT=$tmp/store
t_lfs push base:1 "$REG/lfs/plain:1"
check "push an uncompressed imported image" $? || t_diag_err
pushed=$(t_out | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
d3=$(skopeo inspect --tls-verify=false "docker://$REG/lfs/plain:1" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Digest}')
is "$d3" "$pushed" "skopeo sees the digest push printed"
is "$d3" "$(jget "$LAYERFS_ROOT/index.json" '$j->{manifests}[0]{digest}')" "and it is the stored manifest's"

# --- a manifest list: pick this platform
arch=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
skopeo copy -q $SK "oci:$LAYERFS_ROOT:base:1" "docker://$REG/ml/one:1" >/dev/null 2>&1
skopeo copy -q $SK "oci:$tmp/skout:x" "docker://$REG/ml/two:1" >/dev/null 2>&1
m1=$(skopeo inspect --raw --tls-verify=false "docker://$REG/ml/one:1")
m1d=sha256:$(printf '%s' "$m1" | sha256sum | cut -d' ' -f1)
m2=$(skopeo inspect --raw --tls-verify=false "docker://$REG/ml/two:1")
m2d=sha256:$(printf '%s' "$m2" | sha256sum | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"s390x"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"%s"}}]}' \
	"$m1d" ${#m1} "$m2d" ${#m2} "$arch" >"$tmp/list.json"
# put both manifests into repo ml/multi, then the list
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$m1" "http://$REG/v2/ml/multi/manifests/$m1d"
for b in $(printf '%s' "$m1" "$m2" | grep -o 'sha256:[0-9a-f]\{64\}' | sort -u); do
	curl -s -o /dev/null -X POST "http://$REG/v2/ml/multi/blobs/uploads/?mount=$b&from=ml/one"
	curl -s -o /dev/null -X POST "http://$REG/v2/ml/multi/blobs/uploads/?mount=$b&from=ml/two"
done
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$m1" "http://$REG/v2/ml/multi/manifests/$m1d"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$m2" "http://$REG/v2/ml/multi/manifests/$m2d"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary @"$tmp/list.json" "http://$REG/v2/ml/multi/manifests/1")
[ "$code" = 201 ] || diag "PUT index: HTTP $code"
export LAYERFS_ROOT=$tmp/store3
t_lfs pull "$REG/ml/multi:1"
check "pull of an image index" $? || t_diag_err
t_lfs inspect "$REG/ml/multi:1"
t_out >"$tmp/i3.json"
is "$(jget "$tmp/i3.json" '$j->[0]{LayerFS}{ManifestDigest}')" "$m2d" "index resolved to linux/$arch"
t_lfs pull --platform linux/s390x "$REG/ml/multi:1"
t_lfs inspect "$REG/ml/multi:1"
t_out >"$tmp/i4.json"
is "$(jget "$tmp/i4.json" '$j->[0]{LayerFS}{ManifestDigest}')" "$m1d" "--platform linux/s390x picks the other one"
t_fails "--platform with no match: clear error" "no image for platform linux/mips" "$LAYERFS" pull --platform linux/mips "$REG/ml/multi:1"

# --- a corrupted blob on the server: refused, store unchanged
before=$(store_state)
layer=$(printf '%s' "$m2" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{layers}[0]{digest}')
data=$tmp/plain/data/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer#sha256:}/data
export LAYERFS_ROOT=$tmp/store4
if [ -f "$data" ]; then
	printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
	t_fails "blob with wrong bytes: refused" "does not match its digest" "$LAYERFS" pull "$REG/ml/two:1"
	if [ ! -e "$LAYERFS_ROOT/index.json" ] || [ "$(jget "$LAYERFS_ROOT/index.json" 'scalar @{$j->{manifests}}')" = 0 ]; then ok "nothing stored after the failed pull"; else not_ok "nothing stored after the failed pull"; fi
	if [ -z "$(find "$LAYERFS_ROOT/blobs" -type f)" ]; then ok "no blob or temp file left"; else not_ok "no blob or temp file left"; find "$LAYERFS_ROOT/blobs" -type f | diag_file /dev/stdin; fi
else
	skip "registry storage layout not as expected: $data"
	skip "registry storage layout"
	skip "registry storage layout"
fi

# --- search
export LAYERFS_ROOT=$tmp/store
t_lfs search --registry "$REG" lfs
check "search --registry" $? || t_diag_err
if t_out | grep -q "lfs/copy .*2" && ! t_out | grep -q "sk/base"; then ok "search lists matching repositories with tags"; else not_ok "search lists matching repositories with tags"; diag "$(t_out)"; fi

# --- Basic auth registry: login, push, pull, logout
htpasswd -Bbc "$tmp/htpasswd" alice s3cret >/dev/null 2>&1
start_registry auth "$tmp/htpasswd"
t_fails "push without credentials: clear error" "login" "$LAYERFS" push base:1 "$REG/priv/app:1"
t_fails "login with a wrong password fails" "rejected|401" "$LAYERFS" login -u alice -p wrong "$REG"
echo s3cret | timeout 30 "$LAYERFS" login -u alice --password-stdin "$REG" >"$tmp/.out" 2>"$tmp/.err"
check "login --password-stdin" $? || t_diag_err
if [ -f "$XDG_RUNTIME_DIR/containers/auth.json" ] && grep -q "$REG" "$XDG_RUNTIME_DIR/containers/auth.json"; then ok "credentials kept in \$XDG_RUNTIME_DIR/containers/auth.json"; else not_ok "credentials kept in auth.json"; fi
t_lfs push base:1 "$REG/priv/app:1"
check "push with Basic auth" $? || t_diag_err
t_run "skopeo reads it with the same auth file" skopeo inspect --tls-verify=false --authfile "$XDG_RUNTIME_DIR/containers/auth.json" "docker://$REG/priv/app:1"
export LAYERFS_ROOT=$tmp/store5
t_lfs pull "$REG/priv/app:1"
check "pull with Basic auth" $? || t_diag_err
t_lfs logout "$REG"
check "logout" $? || t_diag_err
t_fails "pull after logout: clear error" "login" "$LAYERFS" pull "$REG/priv/app:1"
# credentials from ~/.docker/config.json
mkdir -p "$HOME/.docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf alice:s3cret | base64)" >"$HOME/.docker/config.json"
t_lfs pull "$REG/priv/app:1"
check "pull with credentials from ~/.docker/config.json" $? || t_diag_err

# --- help and usage
for c in pull push login logout search; do
	"$LAYERFS" "$c" --help >/dev/null 2>&1
	check "$c --help exits 0" $?
done
"$LAYERFS" pull >/dev/null 2>&1
is "$?" 2 "pull without a name: usage error"
"$LAYERFS" pull 'Bad/Name' >/dev/null 2>&1
is "$?" 2 "pull of an invalid reference: usage error"
stop_registries
done_testing
