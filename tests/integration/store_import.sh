#!/bin/bash
# store_import.sh — `layerfs import` writes an OCI image layout that other
# tools read unchanged: skopeo inspect sees the digests and layers that
# `layerfs inspect` reports, skopeo copy gets back the exact tar bytes, and
# umoci unpack (when installed) produces the tree GNU tar extracts from the
# original.  Plain, gzip (multi-member) and stdin input give one diff_id;
# -c/-m land in the config; SOURCE_DATE_EPOCH makes the image ID
# reproducible; hostile and truncated tars fail and leave the store as it was.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

# jget FILE PERL-EXPR — a value from a JSON file ($j is the decoded data).
jget() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' "$1" "$2"
}
# store_state — every file of the store with its size and sha256.
store_state() {
	(cd "$LAYERFS_ROOT" && find . -printf '%p %y %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# --- a small root file system, tarred by GNU tar
r=$tmp/rootfs
mkdir -p "$r/etc" "$r/usr/bin" "$r/empty" "$r/var/with space"
echo hello >"$r/etc/motd"
ln "$r/etc/motd" "$r/etc/motd.hard"
printf '#!/bin/sh\necho tool\n' >"$r/usr/bin/tool"
chmod 755 "$r/usr/bin/tool"
ln -s usr/bin "$r/bin"
echo spaced >"$r/var/with space/file name"
head -c 300000 /dev/urandom >"$r/usr/bin/blob"
chmod 1777 "$r/empty"
tar --numeric-owner --sort=name -C "$r" -cf "$tmp/rootfs.tar" . || bail_out "tar failed"
gzip -n -c "$tmp/rootfs.tar" >"$tmp/rootfs.tar.gz"
half=$(($(stat -c %s "$tmp/rootfs.tar") / 2))
{ head -c "$half" "$tmp/rootfs.tar" | gzip -n -1; tail -c +$((half + 1)) "$tmp/rootfs.tar" | gzip -n -9; } >"$tmp/multi.tar.gz"
diff_id=sha256:$(sha256sum <"$tmp/rootfs.tar" | cut -d' ' -f1)

# --- import and what it prints
t_lfs import -m "first import" -c 'CMD ["/usr/bin/tool", "x"]' -c 'ENV A=1 B="two words"' \
	-c 'WORKDIR /var' -c 'EXPOSE 8080' "$tmp/rootfs.tar" app:1
check "import rootfs.tar app:1" $? || t_diag_err
id=$(t_out)
if [[ $id =~ ^sha256:[0-9a-f]{64}$ ]]; then ok "import prints the image ID"; else not_ok "import prints the image ID (got '$id')"; fi
is "$(cat "$LAYERFS_ROOT/oci-layout")" '{"imageLayoutVersion":"1.0.0"}' "oci-layout"
is "$(jget "$LAYERFS_ROOT/index.json" '$j->{manifests}[0]{annotations}{"org.opencontainers.image.ref.name"}')" "app:1" \
	"index.json names the image app:1"

t_lfs inspect app:1
check "inspect app:1" $? || t_diag_err
t_out >"$tmp/inspect.json"
is "$(jget "$tmp/inspect.json" '$j->[0]{Id}')" "$id" "inspect: Id is the printed ID"
is "$(jget "$tmp/inspect.json" '$j->[0]{RootFS}{Layers}[0]')" "$diff_id" "inspect: the layer is the tar's sha256"
is "$(jget "$tmp/inspect.json" '$j->[0]{RepoTags}')" '["app:1"]' "inspect: RepoTags"
is "$(jget "$tmp/inspect.json" '$j->[0]{Config}{Cmd}')" '["/usr/bin/tool","x"]' "inspect: -c CMD"
is "$(jget "$tmp/inspect.json" '$j->[0]{Config}{Env}')" '["A=1","B=two words"]' "inspect: -c ENV"
is "$(jget "$tmp/inspect.json" '$j->[0]{Config}{WorkingDir} . " " . join(",", keys %{$j->[0]{Config}{ExposedPorts}})')" \
	"/var 8080/tcp" "inspect: -c WORKDIR, EXPOSE"
is "$(jget "$tmp/inspect.json" '$j->[0]{Comment}')" "first import" "inspect: -m comment"
is "$(jget "$tmp/inspect.json" '$j->[0]{Size}')" "$(stat -c %s "$tmp/rootfs.tar")" "inspect: Size is the tar size"
blob=$(jget "$tmp/inspect.json" '$j->[0]{LayerFS}{Layers}[0]{BlobPath}')
if cmp -s "$blob" "$tmp/rootfs.tar"; then ok "the layer blob is the tar, byte for byte"; else not_ok "the layer blob is the tar, byte for byte"; fi
manifest=$(jget "$tmp/inspect.json" '$j->[0]{LayerFS}{ManifestDigest}')

# --- gzip, multi-member gzip and stdin give the same layer
for src in rootfs.tar.gz multi.tar.gz; do
	t_lfs import "$tmp/$src" "gz/$src:1"
	check "import $src" $? || t_diag_err
	t_lfs inspect "gz/$src:1"
	t_out >"$tmp/i.json"
	is "$(jget "$tmp/i.json" '$j->[0]{RootFS}{Layers}[0]')" "$diff_id" "$src: stored uncompressed, same diff_id"
done
timeout 60 "$LAYERFS" import - stdin:1 <"$tmp/rootfs.tar.gz" >"$tmp/.out" 2>"$tmp/.err"
check "import - (gzip on stdin)" $? || t_diag_err
t_lfs inspect stdin:1
t_out >"$tmp/i.json"
is "$(jget "$tmp/i.json" '$j->[0]{RootFS}{Layers}[0]')" "$diff_id" "stdin: same diff_id"
nlayers=$(find "$LAYERFS_ROOT/blobs/sha256" -type f -size +100k | wc -l)
is "$nlayers" 1 "the layer blob is stored once"
is "$(find "$LAYERFS_ROOT" -name '.tmp-*' | wc -l)" 0 "no temp files left"

# --- SOURCE_DATE_EPOCH: reproducible image ID
SOURCE_DATE_EPOCH=1700000000 "$LAYERFS" import "$tmp/rootfs.tar" rep:1 >"$tmp/rep1" 2>&1
SOURCE_DATE_EPOCH=1700000000 "$LAYERFS" import "$tmp/rootfs.tar" rep:2 >"$tmp/rep2" 2>&1
if [ -s "$tmp/rep1" ] && cmp -s "$tmp/rep1" "$tmp/rep2"; then ok "SOURCE_DATE_EPOCH: same tar, same image ID"; else not_ok "SOURCE_DATE_EPOCH: same image ID ($(cat "$tmp/rep1") vs $(cat "$tmp/rep2"))"; fi
t_lfs inspect rep:1
t_out >"$tmp/i.json"
is "$(jget "$tmp/i.json" '$j->[0]{Created}')" "2023-11-14T22:13:20Z" "SOURCE_DATE_EPOCH: Created"

# --- other tools read the store as it is
if command -v skopeo >/dev/null; then
	skopeo inspect "oci:$LAYERFS_ROOT:app:1" >"$tmp/sk.json" 2>"$tmp/sk.err"
	check "skopeo inspect oci:\$ROOT:app:1" $? || diag_file "$tmp/sk.err"
	is "$(jget "$tmp/sk.json" '$j->{Digest}')" "$manifest" "skopeo: manifest digest as layerfs inspect says"
	is "$(jget "$tmp/sk.json" '$j->{Layers}')" "[\"$diff_id\"]" "skopeo: layers as layerfs inspect says"
	is "$(jget "$tmp/sk.json" '$j->{Os} . "/" . $j->{Architecture}')" \
		"$(jget "$tmp/inspect.json" '$j->[0]{Os} . "/" . $j->[0]{Architecture}')" "skopeo: platform"
	skopeo copy -q "oci:$LAYERFS_ROOT:app:1" "dir:$tmp/skdir" >"$tmp/sk.err" 2>&1
	check "skopeo copy oci:\$ROOT:app:1 dir:" $? || diag_file "$tmp/sk.err"
	if cmp -s "$tmp/skdir/${diff_id#sha256:}" "$tmp/rootfs.tar"; then ok "skopeo copy: the layer is the original tar"; else not_ok "skopeo copy: the layer is the original tar"; fi
	skopeo inspect --config "oci:$LAYERFS_ROOT:localhost:5000/none:1" >/dev/null 2>&1
	if [ $? -ne 0 ]; then ok "skopeo: an unknown name is not found"; else not_ok "skopeo: an unknown name is not found"; fi
else
	for i in 1 2 3 4 5 6 7; do skip "skopeo not installed (apt-get install skopeo)"; done
fi
if command -v umoci >/dev/null; then
	_t_untar "$tmp/rootfs.tar" "$tmp/ref" || bail_out "tar -xf failed"
	umoci unpack --image "$LAYERFS_ROOT:app:1" "$tmp/bundle" >"$tmp/um.err" 2>&1
	check "umoci unpack \$ROOT:app:1" $? || diag_file "$tmp/um.err"
	if diff -r --no-dereference "$tmp/ref" "$tmp/bundle/rootfs" >"$tmp/um.diff" 2>&1; then
		ok "umoci's rootfs equals tar -xf of the original"
	else
		not_ok "umoci's rootfs equals tar -xf of the original"
		diag_file "$tmp/um.diff"
	fi
	is "$(stat -c %a "$tmp/bundle/rootfs/empty") $(stat -c %h "$tmp/bundle/rootfs/etc/motd")" "1777 2" "umoci: modes and hard links"
	rm -rf "$tmp/bundle" "$tmp/ref"
else
	for i in 1 2 3; do skip "umoci not installed (apt-get install umoci)"; done
fi

# --- bad input fails, names the problem, and leaves the store alone
store_state >"$tmp/state.before"
mkdir -p "$tmp/evil"
echo x >"$tmp/evil/x"
tar -C "$tmp/evil" --transform 's,^x,../escape,' -cPf "$tmp/evil.tar" x
t_fails "a tar with a '../escape' member is refused, naming it" "evil\.tar.*\.\./escape" \
	"$LAYERFS" import "$tmp/evil.tar" evil:1
head -c $(($(stat -c %s "$tmp/rootfs.tar") / 2)) "$tmp/rootfs.tar" >"$tmp/trunc.tar"
t_fails "a truncated tar is refused" "trunc\.tar.*(truncated|corrupt)" "$LAYERFS" import "$tmp/trunc.tar" trunc:1
head -c 5000 "$tmp/rootfs.tar.gz" >"$tmp/trunc.tar.gz"
t_fails "a truncated gzip is refused" "trunc\.tar\.gz.*truncated" "$LAYERFS" import "$tmp/trunc.tar.gz" trunc:2
printf 'not a tar at all, just some text\n' >"$tmp/text.tar"
t_fails "a non-tar is refused" "text\.tar" "$LAYERFS" import "$tmp/text.tar" text:1
t_fails "a missing file is reported" "nonexistent\.tar" "$LAYERFS" import "$tmp/nonexistent.tar" x:1
store_state >"$tmp/state.after"
if cmp -s "$tmp/state.before" "$tmp/state.after"; then ok "failed imports left the store byte-identical"; else
	not_ok "failed imports left the store byte-identical"
	diff "$tmp/state.before" "$tmp/state.after" | head -20 | sed 's/^/# /'
fi
t_lfs images -q
is "$(t_out | wc -l)" 6 "images still lists the 6 good imports"

# --- usage
t_lfs import --help
rc=$?
if [ "$rc" = 0 ] && t_out | grep -q '^Usage: layerfs import'; then ok "import --help: usage on stdout, exit 0"; else not_ok "import --help (exit $rc)"; fi
t_lfs import "$tmp/rootfs.tar"
is "$?" 2 "import with one argument: exit 2"
t_lfs import -c 'FROB x' "$tmp/rootfs.tar" x:1
is "$?" 2 "import -c with an unknown instruction: exit 2"
t_lfs import "$tmp/rootfs.tar" 'Bad:Name'
is "$?" 2 "import to an invalid name: exit 2"

done_testing
