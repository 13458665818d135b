#!/bin/bash
# store_zstd.sh — zstd images in and out of the store.  skopeo pushes an
# image with zstd layers (application/vnd.oci.image.layer.v1.tar+zstd) to a
# local docker-registry; `layerfs pull` keeps the blobs byte for byte (same
# digests as the registry's manifest), verifies the diff_ids, says in
# `inspect` how each layer is read (one large frame: a decompressed copy;
# a small one: by frame) and mounts the image equal to GNU tar -x of the
# source tars.  `layerfs push` gives the same blobs back; save/load and an
# OCI layout written by skopeo keep the zstd digests; `layerfs import` of a
# .tar.zst stores the tar whose sha256 is that of `zstd -dc`; gc removes a
# dropped layer's decompressed copy.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$(dirname "$0")/lib_registry.bash"
require_root
require_fuse
require_layerfs
[ -x "$REG_BIN" ] || bail_out "docker-registry not installed (apt-get install docker-registry)"
command -v skopeo >/dev/null || bail_out "skopeo not installed (apt-get install skopeo)"
command -v zstd >/dev/null || bail_out "zstd not installed (apt-get install zstd)"
registry_env

jget() {
	perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>);
		my $v = eval $ARGV[0]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' "$1"
}
# layers_of REF — the layer digests and media types of a registry manifest
layers_of() {
	skopeo inspect --tls-verify=false --raw "docker://$1" | jget 'join("\n", map { "$_->{digest} $_->{mediaType}" } @{$j->{layers}})'
}

# Two layers: one over 4 MiB (a single zstd frame too large to enter in
# the middle), one small.
r1=$tmp/r1 r2=$tmp/r2
mkdir -p "$r1/bin" "$r1/etc" "$r2/etc"
head -c 6000000 /dev/urandom >"$r1/bin/big"
seq 1 100000 >"$r1/etc/seq"
echo two >"$r2/etc/two"
tar --numeric-owner -C "$r1" -cf "$tmp/l1.tar" .
tar --numeric-owner -C "$r2" -cf "$tmp/l2.tar" .
t_lfs import "$tmp/l1.tar" base:1 || { t_diag_err; bail_out "import failed"; }
mkdir -p "$tmp/ref"
tar -C "$tmp/ref" -xf "$tmp/l1.tar"

start_registry reg
SK="--dest-tls-verify=false"
skopeo copy -q $SK --dest-compress-format zstd "oci:$LAYERFS_ROOT:base:1" "docker://$REG/z/base:1" >"$tmp/.sk" 2>&1 ||
	{ diag_file "$tmp/.sk"; bail_out "skopeo push with zstd failed"; }
layers_of "$REG/z/base:1" >"$tmp/z.layers"
grep -q 'tar+zstd$' "$tmp/z.layers" || bail_out "skopeo did not push zstd layers: $(cat "$tmp/z.layers")"
zdigest=$(cut -d' ' -f1 "$tmp/z.layers")

# --- pull: blobs kept as they are
export LAYERFS_ROOT=$tmp/store2
t_run "layerfs pull of a zstd image pushed by skopeo" "$LAYERFS" pull "$REG/z/base:1"
blob=$LAYERFS_ROOT/blobs/sha256/${zdigest#sha256:}
[ -f "$blob" ] && [ "sha256:$(sha256sum <"$blob" | cut -d' ' -f1)" = "$zdigest" ]
check "the zstd blob is stored under the registry's digest, byte for byte" $?
head -c 4 "$blob" | od -An -tx1 | grep -q '28 b5 2f fd'
check "the stored blob is still zstd" $?
t_lfs inspect "$REG/z/base:1"
t_out | jget '$j->[0]{LayerFS}{Layers}[0]{MediaType} . " " . $j->[0]{LayerFS}{Layers}[0]{Compression} . " " . $j->[0]{LayerFS}{Layers}[0]{Access}' >"$tmp/acc"
is "$(cat "$tmp/acc")" "application/vnd.oci.image.layer.v1.tar+zstd zstd decompressed-copy" \
	"inspect: the layer is zstd, read through a decompressed copy"
is "$(t_out | jget '$j->[0]{RootFS}{Layers}[0]')" "sha256:$(sha256sum <"$tmp/l1.tar" | cut -d' ' -f1)" \
	"the diff_id is the sha256 of the source tar"
mnt=$tmp/mnt
t_mount_image "$mnt" "$REG/z/base:1"
t_compare "$mnt" "$tmp/ref" "mounted zstd image vs GNU tar -x of the source"
t_umount "$mnt"
ls "$LAYERFS_ROOT"/indexes/sha256/*.tar >/dev/null 2>&1
check "the first mount left the decompressed copy beside the index" $?

# --- push gives the same blobs back
t_run "layerfs push of the zstd image" "$LAYERFS" push "$REG/z/base:1" "$REG/lf/base:1"
is "$(layers_of "$REG/lf/base:1")" "$(cat "$tmp/z.layers")" "pushed layers: same digests and media types"

# --- save / load keeps the zstd digests
t_run "save" "$LAYERFS" save -o "$tmp/saved.tar" "$REG/z/base:1"
export LAYERFS_ROOT=$tmp/store3
t_run "load of the saved archive" "$LAYERFS" load -i "$tmp/saved.tar"
t_lfs inspect "$REG/z/base:1"
is "$(t_out | jget '$j->[0]{LayerFS}{Layers}[0]{Digest}')" "$zdigest" "load: the zstd layer keeps its digest"
skopeo copy -q "oci-archive:$tmp/saved.tar" "oci:$tmp/skoci:x" >"$tmp/.sk" 2>&1
check "skopeo reads the saved archive" $? || diag_file "$tmp/.sk"
skopeo inspect --raw "oci:$tmp/skoci:x" | jget '$j->{layers}[0]{digest}' >"$tmp/skd"
is "$(cat "$tmp/skd")" "$zdigest" "skopeo sees the same zstd digest in what layerfs saved"

# --- an OCI layout with a small zstd layer, written by skopeo
export LAYERFS_ROOT=$tmp/store4
t_lfs import "$tmp/l2.tar" small:1 || { t_diag_err; bail_out "import failed"; }
skopeo copy -q --dest-compress-format zstd "oci:$LAYERFS_ROOT:small:1" "oci:$tmp/oci2:small:1" >"$tmp/.sk" 2>&1 ||
	{ diag_file "$tmp/.sk"; bail_out "skopeo copy to an OCI layout failed"; }
sdigest=$(skopeo inspect --raw "oci:$tmp/oci2:small:1" | jget '$j->{layers}[0]{digest}')
export LAYERFS_ROOT=$tmp/store5
t_run "load of a skopeo OCI layout with a zstd layer" "$LAYERFS" load -i "$tmp/oci2"
t_lfs inspect small:1
is "$(t_out | jget '$j->[0]{LayerFS}{Layers}[0]{Digest} . " " . $j->[0]{LayerFS}{Layers}[0]{Access}')" "$sdigest frames" \
	"a small zstd layer keeps its digest and is read by frame"
mkdir -p "$tmp/ref2"
tar -C "$tmp/ref2" -xf "$tmp/l2.tar"
t_mount_image "$mnt" small:1
t_compare "$mnt" "$tmp/ref2" "mounted small zstd image vs GNU tar -x"
t_umount "$mnt"
ls "$LAYERFS_ROOT"/indexes/sha256/*.tar >/dev/null 2>&1
check "a layer read by frame has no copy" "$((!$?))"

# --- import of a .tar.zst stores the uncompressed tar
zstd -q -c "$tmp/l1.tar" >"$tmp/l1.tar.zst"
t_run "import of a .tar.zst" "$LAYERFS" import "$tmp/l1.tar.zst" imp:1
t_lfs inspect imp:1
is "$(t_out | jget '$j->[0]{RootFS}{Layers}[0]')" "sha256:$(zstd -q -dc "$tmp/l1.tar.zst" | sha256sum | cut -d' ' -f1)" \
	"import: diff_id is the sha256 of zstd -dc"
head -c 100000 "$tmp/l1.tar.zst" >"$tmp/cut.tar.zst"
t_fails "import of a truncated .tar.zst fails saying so" "cut\.tar\.zst.*truncated" "$LAYERFS" import "$tmp/cut.tar.zst" cut:1

# --- gc drops a removed layer's copy
export LAYERFS_ROOT=$tmp/store2
t_lfs rmi "$REG/z/base:1"
ls "$LAYERFS_ROOT"/indexes/sha256/*.tar >/dev/null 2>&1
check "rmi and gc remove the decompressed copy with the layer" "$((!$?))"
done_testing
