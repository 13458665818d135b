#!/bin/bash
# store_rmi.sh — names and removal, as docker does them: `layerfs tag` adds
# names (replacing one that exists), `images` lists them (columns, filter,
# -q, --no-trunc, --format json), resolution by name, ID and ID prefix,
# `rmi` untags by name, refuses an ID with several names without -f, prints
# Untagged/Deleted, and collects every blob and index nothing refers to,
# checked against the files actually in the store.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

nblobs() { find "$LAYERFS_ROOT/blobs/sha256" -type f | wc -l; }
nindexes() { find "$LAYERFS_ROOT/indexes/sha256" -type f | wc -l; }
# refs — the ref.name annotations of index.json, sorted, space-separated.
refs() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = decode_json(<$f>);
		print join(" ", sort map { $_->{annotations}{"org.opencontainers.image.ref.name"} // "-" } @{$j->{manifests}}), "\n"' \
		"$LAYERFS_ROOT/index.json"
}

mkdir -p "$tmp/a/etc" "$tmp/b/etc"
echo a >"$tmp/a/etc/a"
echo b >"$tmp/b/etc/b"
tar -C "$tmp/a" -cf "$tmp/a.tar" .
tar -C "$tmp/b" -cf "$tmp/b.tar" .

now=$(date +%s)
# Creation times from SOURCE_DATE_EPOCH: b is newer, and CREATED is known.
SOURCE_DATE_EPOCH=$((now - 7200)) t_lfs import "$tmp/a.tar" app:1
check "import a.tar app:1" $? || t_diag_err
ida=$(t_out)
SOURCE_DATE_EPOCH=$((now - 130)) t_lfs import "$tmp/b.tar" localhost:5000/team/b:2.0
check "import b.tar localhost:5000/team/b:2.0" $? || t_diag_err
idb=$(t_out)
is "$(nblobs) $(nindexes)" "6 2" "two images: 3 blobs and 1 index each"

# --- tag
t_run "tag app:1 app:latest" "$LAYERFS" tag app:1 app
t_run "tag by ID prefix" "$LAYERFS" tag "${ida:7:8}" other/app:x
is "$(refs)" "app:1 app:latest localhost:5000/team/b:2.0 other/app:x" "index.json has one entry per name"
t_fails "tag of an unknown image names it" "'nope:1' not found.*layerfs images" "$LAYERFS" tag nope:1 x:1
t_fails "tag to an invalid name" "invalid" "$LAYERFS" tag app:1 'UPPER'

# --- images
t_lfs images
check "images" $? || t_diag_err
t_out >"$tmp/images"
is "$(head -n1 "$tmp/images" | tr -s ' ')" "REPOSITORY TAG IMAGE ID CREATED SIZE" "images: header"
is "$(sed -n 2p "$tmp/images" | awk '{print $1, $2, $3}')" "localhost:5000/team/b 2.0 ${idb:7:12}" \
	"images: newest first, registry port kept in REPOSITORY"
is "$(grep -c "${ida:7:12}" "$tmp/images")" 3 "images: one row per name"
# columns line up: every row's TAG starts where the header's does
col=$(head -n1 "$tmp/images" | awk '{print index($0, "TAG")}')
is "$(awk -v c="$col" 'NR > 1 && substr($0, c - 1, 1) != " " { bad++ } END { print bad + 0 }' "$tmp/images")" 0 "images: aligned columns"
size=$(stat -c %s "$tmp/a.tar")
size=$(awk -v s="$size" 'BEGIN { printf "%.3gkB", s / 1000 }')
if grep -Eq "^app +1 +${ida:7:12} +2 hours ago +$size\$" "$tmp/images" &&
	grep -Eq "^localhost:5000/team/b +2.0 +${idb:7:12} +2 minutes ago +[0-9.]+kB\$" "$tmp/images"; then
	ok "images: CREATED and SIZE as docker prints them"
else
	not_ok "images: CREATED and SIZE as docker prints them (app:1 is $size)"
	diag_file "$tmp/images"
fi
t_lfs images -q
is "$(t_out | sort -u | tr '\n' ' ')" "$(printf '%s\n' "${ida:7:12}" "${idb:7:12}" | sort | tr '\n' ' ')" "images -q"
t_lfs images -q --no-trunc localhost:5000/team/b
is "$(t_out)" "$idb" "images -q --no-trunc REPO"
t_lfs images 'app:l*'
is "$(t_out | awk 'NR > 1 {print $1 ":" $2}')" "app:latest" "images with a TAG pattern"
t_lfs images --format json
is "$(t_out | wc -l)" 4 "images --format json: one object per line"
if t_out | perl -MJSON::PP -ne '$j = decode_json($_); exit 1 unless $j->{ID} && $j->{Repository} && $j->{Size}'; then ok "images --format json: valid objects"; else not_ok "images --format json: valid objects"; fi

# --- rmi
t_lfs rmi "${ida:7:12}"
rc=$?
if [ "$rc" = 1 ] && grep -q "must be forced" "$tmp/.err"; then ok "rmi ID with 3 names: refused without -f"; else not_ok "rmi ID with 3 names: refused without -f (exit $rc)"; t_diag_err; fi
t_lfs rmi app:1
check "rmi app:1" $? || t_diag_err
is "$(t_out)" "Untagged: app:1" "rmi NAME: untags only"
is "$(nblobs) $(nindexes)" "6 2" "rmi NAME of a still-named image: nothing collected"
t_lfs rmi -f "$ida"
check "rmi -f ID" $? || t_diag_err
is "$(t_out | sort | tr '\n' '|')" "Deleted: $ida|Untagged: app:latest|Untagged: other/app:x|" "rmi -f ID: every name, then Deleted"
is "$(nblobs) $(nindexes)" "3 1" "rmi: the image's blobs and index are collected"
ls "$LAYERFS_ROOT/blobs/sha256" >"$tmp/left"
t_lfs inspect localhost:5000/team/b:2.0
t_out >"$tmp/i.json"
want=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>)->[0];
	print join("\n", sort(substr($j->{Id}, 7), substr($j->{LayerFS}{ManifestDigest}, 7), map { substr($_->{Digest}, 7) } @{$j->{LayerFS}{Layers}})), "\n"' <"$tmp/i.json")
is "$(sort "$tmp/left")" "$want" "rmi: exactly the other image's blobs are left"
t_fails "rmi of an unknown image names it" "'app:1' not found.*layerfs images" "$LAYERFS" rmi app:1
t_lfs rmi nope:1 localhost:5000/team/b:2.0
rc=$?
if [ "$rc" = 1 ] && grep -q "Untagged: localhost:5000/team/b:2.0" "$tmp/.out" && grep -q "nope:1" "$tmp/.err"; then
	ok "rmi goes on after an unknown image, then fails"
else
	not_ok "rmi goes on after an unknown image, then fails (exit $rc)"
fi
is "$(nblobs) $(nindexes) $(refs)" "0 0 " "rmi of the last image: the store is empty"
t_lfs images
is "$(t_out | wc -l)" 1 "images on an empty store: the header only"

# --- usage
for c in images tag rmi inspect; do
	t_lfs "$c" --help
	rc=$?
	if [ "$rc" = 0 ] && t_out | grep -q "^Usage: layerfs $c"; then ok "$c --help"; else not_ok "$c --help (exit $rc)"; fi
done
t_lfs tag onlyone
is "$?" 2 "tag with one argument: exit 2"
t_lfs rmi
is "$?" 2 "rmi without arguments: exit 2"
t_lfs images --bogus
is "$?" 2 "images --bogus: exit 2"

done_testing
