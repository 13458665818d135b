#!/bin/bash
# images_save_load.sh — gzip layers kept as they come, and images in and out
# as files: `layerfs load` of OCI layouts (gzip blobs stay byte for byte the
# same, diff_ids verified), of what `layerfs save` writes (read back by
# skopeo docker-archive: and oci-archive:, digests compared), of docker-save
# tarballs (skopeo's and a legacy one with a symlinked layer), gzip'd on
# stdin; `layerfs export` equals `umoci unpack` of the saved archive; hostile
# archives fail and leave the store as it was.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
command -v skopeo >/dev/null || skip_all "skopeo not installed (apt-get install skopeo)"
command -v umoci >/dev/null || skip_all "umoci not installed (apt-get install umoci)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

jget() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' "$1" "$2"
}
store_state() {
	(cd "$LAYERFS_ROOT" && find . ! -name .lock -printf '%p %y %s\n' | sort && find . -type f ! -name .lock -print0 | sort -z | xargs -0 -r sha256sum)
}
# lfs_ok DESC ARGS... — one test point: layerfs ARGS exits 0
lfs_ok() {
	local d=$1
	shift
	t_lfs "$@"
	check "$d" $? || t_diag_err
}

# --- a root file system with a hard link, a symlink, a long name, a big file
r=$tmp/rootfs
mkdir -p "$r/etc" "$r/usr/bin" "$r/deep/$(printf 'd%.0s' {1..120})"
echo hello >"$r/etc/motd"
ln "$r/etc/motd" "$r/etc/motd.hard"
ln -s usr/bin "$r/bin"
head -c 3000000 /dev/urandom >"$r/usr/bin/blob"
echo x >"$r/deep/$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..200})"
tar --numeric-owner --sort=name -C "$r" -cf "$tmp/rootfs.tar" . || bail_out "tar failed"
diff_id=sha256:$(sha256sum <"$tmp/rootfs.tar" | cut -d' ' -f1)
lfs_ok "import rootfs.tar app:1" import "$tmp/rootfs.tar" app:1

# --- 1. gzip layers are stored as they are
skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$LAYERFS_ROOT:app:1" "oci:$tmp/gzlayout:app:gz" >"$tmp/.sk" 2>&1 ||
	{ diag_file "$tmp/.sk"; bail_out "skopeo copy to a gzip OCI layout failed"; }
gzman=$(jget "$tmp/gzlayout/index.json" '$j->{manifests}[0]{digest}')
gzlayer=$(jget "$tmp/gzlayout/blobs/sha256/${gzman#sha256:}" '$j->{layers}[0]{digest}')
lfs_ok "load -i OCI layout directory (gzip layer)" load -i "$tmp/gzlayout"
is "$(t_out)" "Loaded image: app:gz" "load prints the name from ref.name"
t_lfs inspect app:gz
t_out >"$tmp/i.json"
is "$(jget "$tmp/i.json" '$j->[0]{LayerFS}{Layers}[0]{MediaType}')" "application/vnd.oci.image.layer.v1.tar+gzip" "gzip layer keeps its media type"
is "$(jget "$tmp/i.json" '$j->[0]{LayerFS}{Layers}[0]{Digest}')" "$gzlayer" "gzip layer keeps its digest"
blob=$(jget "$tmp/i.json" '$j->[0]{LayerFS}{Layers}[0]{BlobPath}')
if cmp -s "$blob" "$tmp/gzlayout/blobs/sha256/${gzlayer#sha256:}"; then ok "the gzip blob is stored byte for byte"; else not_ok "the gzip blob is stored byte for byte"; fi
is "$(jget "$tmp/i.json" '$j->[0]{LayerFS}{ManifestDigest}')" "$gzman" "the manifest keeps its digest"
is "$(jget "$tmp/i.json" '$j->[0]{RootFS}{Layers}[0]')" "$diff_id" "indexed under the verified diff_id"
if [ -f "$LAYERFS_ROOT/indexes/sha256/${diff_id#sha256:}" ]; then ok "index file at indexes/sha256/<diff_id>"; else not_ok "index file at indexes/sha256/<diff_id>"; fi
t_lfs cat app:gz /usr/bin/blob
if cmp -s "$tmp/.out" "$r/usr/bin/blob"; then ok "cat of a file from the gzip layer as it is"; else not_ok "cat of a file from the gzip layer as it is"; t_diag_err; fi

# --- 2. save, read back by skopeo (both transports) and umoci
lfs_ok "save -o app.tar app:1 app:gz" save -o "$tmp/app.tar" app:1 app:gz
rm -rf "$tmp/sk1" "$tmp/sk2"
t_run "skopeo copy docker-archive:app.tar:app:gz" skopeo copy -q "docker-archive:$tmp/app.tar:app:gz" "oci:$tmp/sk1:x"
cfg1=sha256:$(skopeo inspect --config --raw "docker-archive:$tmp/app.tar:app:gz" | sha256sum | cut -d' ' -f1)
is "$cfg1" "$(jget "$tmp/i.json" '$j->[0]{Id}')" "docker-archive: the image ID (config digest) is unchanged"
is "$(skopeo inspect "docker-archive:$tmp/app.tar:app:gz" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Layers}[0]')" \
	"$diff_id" "docker-archive: skopeo sees the layer's diff_id"
t_run "skopeo copy oci-archive:app.tar:gz" skopeo copy -q "oci-archive:$tmp/app.tar:gz" "oci:$tmp/sk2:y"
is "$(jget "$tmp/sk2/index.json" '$j->{manifests}[0]{digest}')" "$gzman" "oci-archive: the manifest digest is unchanged"
mkdir -p "$tmp/saved"
tar -C "$tmp/saved" -xf "$tmp/app.tar"
t_run "umoci unpack of the saved archive" umoci unpack --image "$tmp/saved:gz" "$tmp/bundle"
lfs_ok "export app:gz -o" export -o "$tmp/export.tar" app:gz
mkdir -p "$tmp/exported"
tar --numeric-owner -xpf "$tmp/export.tar" -C "$tmp/exported"
out=$(diff -r --no-dereference "$tmp/bundle/rootfs" "$tmp/exported" 2>&1)
is "$out" "" "umoci unpack rootfs equals layerfs export (diff -r)"
"$LAYERFS" export app:1 >"$tmp/export1.tar" 2>"$tmp/.err"
if cmp -s "$tmp/export1.tar" "$tmp/export.tar"; then ok "export to stdout of the plain image is the same tar"; else not_ok "export to stdout of the plain image is the same tar"; fi
if [ "$(tar -tvf "$tmp/export.tar" | grep -c '^h')" = 1 ]; then ok "export: hard link kept as a link"; else not_ok "export: hard link kept as a link"; fi

# --- 3. load into a fresh store: from the file, gzip'd on stdin, skopeo's docker-archive
export LAYERFS_ROOT=$tmp/store2
lfs_ok "load -i app.tar into a new store" load -i "$tmp/app.tar"
is "$(t_out | sort | tr '\n' ' ')" "Loaded image: app:1 Loaded image: app:gz " "both names loaded"
t_lfs inspect app:gz
t_out >"$tmp/i2.json"
is "$(jget "$tmp/i2.json" '$j->[0]{LayerFS}{ManifestDigest}')" "$gzman" "round trip keeps the manifest digest"
export LAYERFS_ROOT=$tmp/store3
gzip -c "$tmp/app.tar" | timeout 60 "$LAYERFS" load >"$tmp/.out" 2>"$tmp/.err"
check "gzip'd archive on stdin" $? || t_diag_err
rm -f "$tmp/skd.tar"
skopeo copy -q "oci:$tmp/gzlayout:app:gz" "docker-archive:$tmp/skd.tar:sk/app:2" >"$tmp/.sk" 2>&1 || diag_file "$tmp/.sk"
lfs_ok "load skopeo's docker-archive" load -i "$tmp/skd.tar"
is "$(t_out)" "Loaded image: sk/app:2" "docker-archive name from RepoTags"
t_lfs cat sk/app:2 /etc/motd
is "$(t_out)" "hello" "cat from the docker-archive image"
# legacy docker save: <id>/layer.tar, <id>.json, a second image whose layer is a symlink
leg=$tmp/legacy
mkdir -p "$leg/aaaa" "$leg/bbbb"
cp "$tmp/rootfs.tar" "$leg/aaaa/layer.tar"
ln -s ../aaaa/layer.tar "$leg/bbbb/layer.tar"
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' "$diff_id" >"$leg/cfg1.json"
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' "$diff_id" >"$leg/cfg2.json"
printf '[{"Config":"cfg1.json","RepoTags":["leg:1"],"Layers":["aaaa/layer.tar"]},{"Config":"cfg2.json","RepoTags":["leg:2","leg:two"],"Layers":["bbbb/layer.tar"]}]' >"$leg/manifest.json"
echo '{"leg":{"1":"aaaa"}}' >"$leg/repositories"
tar -C "$leg" -cf "$tmp/legacy.tar" .
lfs_ok "load a legacy docker-save tarball (symlinked layer)" load -i "$tmp/legacy.tar"
is "$(t_out | tr '\n' ' ')" "Loaded image: leg:1 Loaded image: leg:2 Loaded image: leg:two " "legacy names"
t_lfs inspect leg:2
t_out >"$tmp/i3.json"
is "$(jget "$tmp/i3.json" '$j->[0]{Id}')" "sha256:$(sha256sum <"$leg/cfg2.json" | cut -d' ' -f1)" "legacy: the image ID is the config's digest"

# --- 4. hostile and broken archives: clear error, store unchanged, nothing outside
# (a fresh store that does not have the gzip layer yet, so its blob is read)
export LAYERFS_ROOT=$tmp/store4
lfs_ok "import into a fresh store" import "$tmp/rootfs.tar" app:1
before=$(store_state)
mkhostile() { # mkhostile OUT KIND
	python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
out, kind = sys.argv[1], sys.argv[2]
t = tarfile.open(out, "w")
def add(name, data=b"x", typ=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = typ; i.linkname = link; i.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
add("manifest.json", b'[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l.tar"]}]')
if kind == "dotdot": add("../escaped", b"pwned")
if kind == "abs": add("/tmp/escaped-abs", b"pwned")
if kind == "symlink": add("c.json", typ=tarfile.SYMTYPE, link="../../etc/passwd")
t.close()
PY
}
for kind in dotdot abs symlink; do
	mkhostile "$tmp/h-$kind.tar" "$kind"
	cd "$tmp/saved" || bail_out "cd"
	t_fails "hostile archive ($kind): refused" "refusing member" "$LAYERFS" load -i "$tmp/h-$kind.tar"
	cd / || bail_out "cd"
done
if [ ! -e "$tmp/escaped" ] && [ ! -e /tmp/escaped-abs ] && [ ! -e "$tmp/saved/../escaped" ]; then ok "nothing written outside the store"; else not_ok "nothing written outside the store"; fi
# OCI layout with a symlinked blobs dir
cp -a "$tmp/gzlayout" "$tmp/symblobs"
mv "$tmp/symblobs/blobs" "$tmp/realblobs"
ln -s "$tmp/realblobs" "$tmp/symblobs/blobs"
t_fails "OCI layout with a symlinked blobs/: refused" "symlink" "$LAYERFS" load -i "$tmp/symblobs"
# manifest pointing at a missing layer
cp -a "$tmp/gzlayout" "$tmp/missing"
rm "$tmp/missing/blobs/sha256/${gzlayer#sha256:}"
t_fails "layer blob missing: clear error" "missing" "$LAYERFS" load -i "$tmp/missing"
# a layer whose bytes do not match its digest
cp -a "$tmp/gzlayout" "$tmp/mismatch"
printf 'garbage' >>"$tmp/mismatch/blobs/sha256/${gzlayer#sha256:}"
t_fails "layer digest mismatch: clear error" "does not match its digest" "$LAYERFS" load -i "$tmp/mismatch"
# a config whose diff_id is wrong (legacy form, so no other digest catches it)
cp "$tmp/gzlayout/blobs/sha256/${gzlayer#sha256:}" "$leg/aaaa/layer.tar"
sed -i "s/${diff_id#sha256:}/$(printf '%064d' 0)/" "$leg/cfg1.json"
tar -C "$leg" -cf "$tmp/baddiff.tar" .
t_fails "diff_id mismatch: clear error" "diff_id" "$LAYERFS" load -i "$tmp/baddiff.tar"
is "$(store_state)" "$before" "store unchanged after every failed load"
if [ -z "$(find "$LAYERFS_ROOT" -name '.tmp-*')" ]; then ok "no temp files left in the store"; else not_ok "no temp files left in the store"; fi

# --- 5. help and usage
for c in export save load; do
	"$LAYERFS" "$c" --help >"$tmp/.out" 2>&1
	check "$c --help exits 0" $?
done
"$LAYERFS" save >/dev/null 2>&1
is "$?" 2 "save without an image: usage error (2)"
"$LAYERFS" export a b >/dev/null 2>&1
is "$?" 2 "export with two images: usage error (2)"
done_testing
