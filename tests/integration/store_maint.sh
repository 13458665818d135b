#!/bin/bash
# store_maint.sh — store maintenance: `fsck` finds what was damaged by
# hand (a flipped byte in a layer, a corrupt index, a killed command's
# temp file and scratch dir), names the path and the fix, and --repair
# leaves a store it passes with every sound image exporting as before;
# `system df` totals agree with the files the images' manifests name
# (each blob counted once); `image prune` removes only dangling images,
# `builder prune -a` the cache (the next build runs its steps again),
# `system prune -a` everything nothing uses, reporting the bytes the
# files held; a prune without -f asks first and does nothing on "n".
# A build that runs while its base is removed and prune runs in a loop
# completes, and its image is the base's tree plus what the Dockerfile
# added, compared with GNU tar's extraction of the base.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

# refs — the ref.name annotations of index.json ("-" for none), sorted.
refs() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = decode_json(<$f>);
		print join(" ", sort map { $_->{annotations}{"org.opencontainers.image.ref.name"} // "-" } @{$j->{manifests}}), "\n"' \
		"$LAYERFS_ROOT/index.json"
}
# image_blobs — "NIMAGES BYTES": distinct image IDs of index.json and the
# bytes of the distinct blobs their manifests name (manifest, config, layers).
image_blobs() {
	perl -MJSON::PP -e 'my $r = $ARGV[0]; my %b; my %ids;
		sub rd { local $/; open(my $f, "<", "$r/blobs/sha256/" . substr($_[0], 7)) or die "$_[0]"; decode_json(<$f>) }
		local $/; open(my $f, "<", "$r/index.json") or die; my $j = decode_json(<$f>);
		for my $d (@{$j->{manifests}}) { my $m = rd($d->{digest}); $b{$d->{digest}} = 1;
			$ids{$m->{config}{digest}} = 1; $b{$m->{config}{digest}} = 1; $b{$_->{digest}} = 1 for @{$m->{layers}}; }
		my $n = 0; $n += -s "$r/blobs/sha256/" . substr($_, 7) for keys %b;
		print scalar(keys %ids), " $n\n"' "$LAYERFS_ROOT"
}
si() { awk -v s="$1" 'BEGIN { split("B kB MB GB", u, " "); i = 1; while (s >= 1000 && i < 4) { s /= 1000; i++ } printf "%.3g%s\n", s, u[i] }'; }
export_sum() { "$LAYERFS" export -o "$tmp/.exp.tar" "$1" 2>/dev/null && sha256sum <"$tmp/.exp.tar" | cut -c1-64; }
fsck_ok() { # fsck_ok DESC — the store passes fsck
	if "$LAYERFS" fsck >"$tmp/fsck.out" 2>&1; then ok "$1"; else
		not_ok "$1"
		diag_file "$tmp/fsck.out"
	fi
}

b_base || bail_out "importing the busybox base failed"
mkdir -p "$tmp/a/etc"
echo a >"$tmp/a/etc/a"
tar -C "$tmp/a" -cf "$tmp/a.tar" .
t_lfs import "$tmp/a.tar" app:1 || bail_out "import failed"
c=$tmp/ctx
mkdir -p "$c"
echo one >"$c/one.txt"
printf 'FROM busybox:latest\nCOPY one.txt /one.txt\n' >"$c/Dockerfile"
"$LAYERFS" build -q "$c" >"$tmp/dangling.id" 2>"$tmp/err" || { diag_file "$tmp/err"; bail_out "build failed"; }
is "$(refs)" "- app:1 busybox:latest" "a build without -t leaves a dangling image"

# --- fsck of a sound store; df against the manifests
t_lfs fsck
check "fsck of a sound store" $? || t_diag_err
is "$(t_err)" "no problems found" "fsck says so"
t_lfs system df
read -r nimg nbytes <<<"$(image_blobs)"
row=$(t_out | awk '$1 == "Images" { print $2, $3, $4 }')
is "$row" "$nimg 0 $(si "$nbytes")" "system df: Images TOTAL, ACTIVE and SIZE (shared blobs once)"
is "$(t_out | head -n1 | tr -s ' ')" "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" "system df: docker's header"
is "$(t_out | awk '$1 == "Build" { print $3 }')" 1 "system df: one build cache entry (the COPY)"

# --- prunes ask first
before=$(refs)
echo n | "$LAYERFS" system prune >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'Are you sure you want to continue' "$tmp/out" && [ "$(refs)" = "$before" ]; then
	ok "system prune asks, and 'n' removes nothing"
else
	not_ok "system prune asks, and 'n' removes nothing (rc $rc)"
	diag_file "$tmp/out"
fi

# --- image prune: the dangling image only
app_sum=$(export_sum app:1)
dl=$(cat "$tmp/dangling.id")
t_lfs image prune -f
check "image prune -f" $? || t_diag_err
is "$(refs)" "app:1 busybox:latest" "image prune removed only the dangling image"
t_out | grep -q "^deleted: $dl\$"
check "image prune reports the deleted image ID" $?
[ ! -e "$LAYERFS_ROOT/blobs/sha256/${dl#sha256:}" ]
check "its config blob is collected" $?
t_out | grep -q '^Total reclaimed space: '
check "image prune reports the space reclaimed" $?
fsck_ok "fsck passes after image prune"

# --- builder prune -a: the next build runs the COPY again
t_lfs builder prune -a -f
is "$(find "$LAYERFS_ROOT/cache" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9a-f]{64}' | wc -l)" 0 "builder prune -a removes every cache entry"
"$LAYERFS" build --progress plain -t built:1 "$c" >"$tmp/b.log" 2>&1
if grep -q 'COPY one.txt' "$tmp/b.log" && ! grep -q CACHED "$tmp/b.log"; then ok "the next build runs its steps again"; else
	not_ok "the next build runs its steps again"
	diag_file "$tmp/b.log"
fi

# --- fsck finds damage and --repair fixes what is safe
idx=$LAYERFS_ROOT/indexes/sha256
applayer=$(b_cfg app:1 '$j->[0]{RootFS}{Layers}[0]')
applayer=${applayer#sha256:}
printf 'XXXX' | dd of="$idx/$applayer" bs=1 seek=64 conv=notrunc 2>/dev/null
echo junk >"$LAYERFS_ROOT/blobs/sha256/.tmp-999999999-0"
mkdir -p "$LAYERFS_ROOT/tmp/build-killed"
blayer=$(b_cfg built:1 '$j->[0]{RootFS}{Layers}[1]')
blayer=${blayer#sha256:}
printf 'X' | dd of="$LAYERFS_ROOT/blobs/sha256/$blayer" bs=1 seek=100 conv=notrunc 2>/dev/null
bb_sum=$(export_sum busybox:latest)
t_lfs fsck
is "$?" 1 "fsck finds the damage (exit 1)"
t_out >"$tmp/fsck1"
grep -q "^indexes/sha256/$applayer: the index of layer sha256:$applayer is corrupt.*--repair would rebuild it" "$tmp/fsck1"
check "fsck names the corrupt index and the fix" $? || diag_file "$tmp/fsck1"
grep -q "^blobs/sha256/$blayer: .*hash to .*not to its name; --repair would remove it" "$tmp/fsck1"
check "fsck names the corrupt blob" $?
grep -q "^index.json: image 'built:1' .* is broken: blob sha256:$blayer is corrupt" "$tmp/fsck1"
check "fsck names the image the corrupt blob breaks" $?
grep -q "^blobs/sha256/.tmp-999999999-0: leftover temp file" "$tmp/fsck1" &&
	grep -q "^tmp/build-killed: leftover scratch directory" "$tmp/fsck1"
check "fsck finds what killed commands left" $?
t_run "fsck --repair" "$LAYERFS" fsck --repair
fsck_ok "fsck passes after --repair"
is "$(refs)" "app:1 busybox:latest" "--repair dropped the broken image's name only"
is "$(export_sum app:1)" "$app_sum" "app:1 exports as before (its index rebuilt)"
is "$(export_sum busybox:latest)" "$bb_sum" "busybox:latest exports as before"

# --- system prune -a: everything unused goes; the bytes reported are the files'
"$LAYERFS" build -q -t built:2 "$c" >/dev/null 2>&1 || not_ok "rebuild"
sum_files() { find "$LAYERFS_ROOT/blobs/sha256" "$LAYERFS_ROOT/indexes/sha256" "$LAYERFS_ROOT/cache" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
bytes=$(sum_files)
t_lfs system prune -a -f
check "system prune -a -f" $? || t_diag_err
is "$(refs)" "" "system prune -a removes every image no container uses"
is "$(sum_files)" 0 "and every blob, index and cache entry"
is "$(t_out | tail -n1)" "Total reclaimed space: $(si "$bytes")" "it reports the bytes those files held"
fsck_ok "fsck passes on the emptied store"

# --- a build survives rmi of its base and prune in a loop
b_base || bail_out "importing the busybox base again failed"
mkdir -p "$tmp/ctx2"
echo a >"$tmp/ctx2/a.txt"
echo b >"$tmp/ctx2/b.txt"
cat >"$tmp/ctx2/Dockerfile" <<'DF'
FROM busybox:latest
COPY a.txt /data/a.txt
RUN sleep 1; echo run1 > /data/r1
COPY b.txt /data/b.txt
RUN sleep 1; echo run2 > /data/r2
DF
"$LAYERFS" build --progress plain -t out:1 "$tmp/ctx2" >"$tmp/build2.log" 2>&1 &
bpid=$!
# Once the build is past FROM, take its base away.
for _ in $(seq 500); do
	grep -q 'RUN sleep 1; echo run1' "$tmp/build2.log" && break
	sleep 0.02
done
"$LAYERFS" rmi busybox:latest >/dev/null 2>"$tmp/rmi.err" || diag_file "$tmp/rmi.err"
kill -0 "$bpid" 2>/dev/null
check "the base is removed while the build runs" $?
prunes=0
while kill -0 "$bpid" 2>/dev/null; do
	"$LAYERFS" system prune -f >/dev/null 2>>"$tmp/prune.err" || echo "system prune failed" >>"$tmp/prune.err"
	"$LAYERFS" builder prune -a -f >/dev/null 2>>"$tmp/prune.err" || echo "builder prune failed" >>"$tmp/prune.err"
	prunes=$((prunes + 1))
done
wait "$bpid"
brc=$?
if [ $brc -eq 0 ]; then ok "the build completes while its base is removed and prune runs ($prunes rounds)"; else
	not_ok "the build completes while its base is removed and prune runs (exit $brc)"
	diag_file "$tmp/build2.log"
fi
[ ! -s "$tmp/prune.err" ]
check "every prune beside it succeeded" $? || diag_file "$tmp/prune.err"
mkdir -p "$tmp/ref"
tar -C "$tmp/ref" --numeric-owner -xpf "$tmp/busybox.tar"
mkdir -p "$tmp/ref/data"
cp "$tmp/ctx2/a.txt" "$tmp/ctx2/b.txt" "$tmp/ref/data/"
echo run1 >"$tmp/ref/data/r1"
echo run2 >"$tmp/ref/data/r2"
b_tree_layerfs out:1 "$tmp/got" || not_ok "export of out:1"
b_listing "$tmp/ref" >"$tmp/ref.list"
b_listing "$tmp/got" >"$tmp/got.list"
if diff "$tmp/ref.list" "$tmp/got.list" >"$tmp/tree.diff"; then ok "out:1 is the base plus the Dockerfile's files (GNU tar reference)"; else
	not_ok "out:1 is the base plus the Dockerfile's files (GNU tar reference)"
	diag_file "$tmp/tree.diff"
fi
fsck_ok "fsck passes after the build and the prunes"

# --- help
for sub in "fsck" "system df" "system prune" "image prune" "builder prune"; do
	# shellcheck disable=SC2086
	"$LAYERFS" $sub --help >"$tmp/help" 2>&1 && grep -q "^Usage: layerfs $sub" "$tmp/help"
	check "$sub --help" $?
done

done_testing
