#!/bin/bash
# inspect_layers.sh — `layerfs layers`, `which` and `diff` on images made of
# the generated layers (written into the store as an OCI layout by this
# script, with a docker-style history that has empty_layer entries):
#  - layers: entry counts equal tar -t of each layer, bytes equal the
#    regular files of each layer unpacked, visible bytes equal the FLAT
#    reference, added + replaced = bytes, removed sums to wasted;
#  - which: for every path of any layer, the newest layer listed is the one
#    whose tar provides it in FLAT (or a deletion when FLAT lacks it), and
#    the history lines skip empty_layer entries;
#  - diff: equals the difference of two FLAT references (type, mode, owner,
#    size, rdev, symlink target, xattrs, sha256; mtimes ignored).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store

t_layer_set "$tmp/gen"
tars=()
while IFS= read -r t; do tars+=("$tmp/gen/$t"); done <"$tmp/gen/layers"
t_ref_flat "$tmp/flat" "${tars[@]}" || bail_out "building the FLAT reference failed"

# mk_image REF HISTORY-JSON TAR... — an OCI image of plain tar layers in the store.
mk_image() {
	perl -MJSON::PP -MDigest::SHA -MFile::Copy -e '
		my ($root, $ref, $hist, @tars) = @ARGV;
		my $js = JSON::PP->new->canonical;
		mkdir $root; mkdir "$root/blobs"; mkdir "$root/blobs/sha256";
		sub put { my ($data) = @_; my $h = Digest::SHA::sha256_hex($data);
			open(my $f, ">", "$root/blobs/sha256/$h") or die; print $f $data; close $f;
			return ("sha256:$h", length $data) }
		my (@layers, @diff);
		for my $t (@tars) {
			my $h = Digest::SHA->new(256)->addfile($t)->hexdigest;
			copy($t, "$root/blobs/sha256/$h") or die;
			push @layers, { mediaType => "application/vnd.oci.image.layer.v1.tar", digest => "sha256:$h", size => -s $t };
			push @diff, "sha256:$h";
		}
		my ($cd, $cs) = put($js->encode({ architecture => "amd64", os => "linux", config => {},
			rootfs => { type => "layers", diff_ids => \@diff }, history => $js->decode($hist) }));
		my ($md, $ms) = put($js->encode({ schemaVersion => 2, mediaType => "application/vnd.oci.image.manifest.v1+json",
			config => { mediaType => "application/vnd.oci.image.config.v1+json", digest => $cd, size => $cs },
			layers => \@layers }));
		my $idx = { schemaVersion => 2, mediaType => "application/vnd.oci.image.index.v1+json", manifests => [] };
		if (open(my $f, "<", "$root/index.json")) { local $/; $idx = $js->decode(<$f>); }
		push @{$idx->{manifests}}, { mediaType => "application/vnd.oci.image.manifest.v1+json", digest => $md, size => $ms,
			annotations => { "org.opencontainers.image.ref.name" => $ref } };
		open(my $f, ">", "$root/oci-layout") or die; print $f "{\"imageLayoutVersion\":\"1.0.0\"}"; close $f;
		open($f, ">", "$root/index.json") or die; print $f $js->encode($idx); close $f;
	' "$LAYERFS_ROOT" "$@"
}
jq_() { # jq_ PERL-EXPR — evaluate on the JSON in $T_TMP/.out ($j)
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my @r = eval $ARGV[1]; die $@ if $@; print join(" ", @r), "\n"' "$tmp/.out" "$1"
}

hist='[{"created_by":"ADD l1.tar /"},{"created_by":"ENV A=1","empty_layer":true},
	{"created_by":"RUN make l2"},{"created_by":"CMD [\"sh\"]","empty_layer":true},
	{"created_by":"RUN make l3"},{"created_by":"COPY l4 /"}]'
mk_image app:full "$hist" "${tars[@]}" || bail_out "writing the image failed"
mk_image app:three '[{"created_by":"a"},{"created_by":"b"},{"created_by":"c"}]' "${tars[@]:0:3}"
mk_image app:skip2 '[{"created_by":"a"},{"created_by":"c"}]' "${tars[0]}" "${tars[2]}"

# ---- layers
t_lfs layers --format json -n 0 app:full
check "layers --format json app:full" $? || t_diag_err
is "$(jq_ 'map { $_->{step} . " " . $_->{created_by} } @{$j->{layers}}')" \
	"1 ADD l1.tar / 3 RUN make l2 5 RUN make l3 6 COPY l4 /" "history steps skip empty_layer entries"
is "$(jq_ 'map { $_->{id} } @{$j->{layers}}')" \
	"$(for t in "${tars[@]}"; do printf 'sha256:%s ' "$(sha256sum <"$t" | cut -d' ' -f1)"; done | sed 's/ $//')" \
	"layer ids are the blob digests"
is "$(jq_ 'map { $_->{size} } @{$j->{layers}}')" "$(stat -c %s "${tars[@]}" | tr '\n' ' ' | sed 's/ $//')" \
	"layer sizes are the blob sizes"
# entries: tar -t names without the root and opaque markers, a .wh.X next to
# X counted once (it marks X opaque)
exp=
for t in "${tars[@]}"; do
	n=$(_t_tar_names "$t" | grep -vx '\.' | grep -v '\(^\|/\)\.wh\.\.wh\.\.opq$' | sort -u |
		awk '{ n[$0] = 1 } END { c = 0; for (p in n) { b = p; sub(/.*\//, "", b); d = substr(p, 1, length(p) - length(b))
			if (b ~ /^\.wh\./ && ((d substr(b, 5)) in n)) continue; c++ } print c }')
	exp="$exp${exp:+ }$n"
done
is "$(jq_ 'map { $_->{entries} } @{$j->{layers}}')" "$exp" "entries per layer equal tar -t"
# bytes: regular files of each layer unpacked alone, hard links once, .wh. markers left out
exp=
i=0
for t in "${tars[@]}"; do
	i=$((i + 1))
	_t_untar "$t" "$tmp/u$i"
	n=$(find "$tmp/u$i" -type f ! -name '.wh.*' -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s + 0 }')
	exp="$exp${exp:+ }$n"
done
is "$(jq_ 'map { $_->{bytes} } @{$j->{layers}}')" "$exp" "bytes per layer equal the unpacked layers"
visible=$(find "$tmp/flat" -type f -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s + 0 }')
is "$(jq_ '$j->{visible}')" "$visible" "visible bytes equal the FLAT reference"
is "$(jq_ '$j->{bytes} - $j->{visible} == $j->{wasted} ? "ok" : "bad"')" ok "wasted = bytes - visible"
is "$(jq_ 'my $s = 0; $s += $_->{removed} for @{$j->{layers}}; $s == $j->{wasted} ? "ok" : "bad $s"')" ok \
	"removed bytes sum to the wasted bytes"
is "$(jq_ 'join ",", map { $_->{added} + $_->{replaced} == $_->{bytes} ? "ok" : "bad" } @{$j->{layers}}')" \
	"ok,ok,ok,ok" "added + replaced = bytes in every layer"
is "$(jq_ 'my $s = 0; $s += $_->{wasted} for @{$j->{offenders}}; $s == $j->{wasted} ? "ok" : "bad"')" ok \
	"the offenders (-n 0) account for every wasted byte"
is "$(jq_ 'map { "$_->{path}=$_->{wasted}" } grep { $_->{path} eq "/l2only" } @{$j->{offenders}}')" \
	"/l2only=$(stat -c %s "$tmp/u2/l2only")" "a file whited out later is wasted"
t_lfs layers --bytes app:full
check "layers (text) exits 0" $?
if grep -q '^1 .* #1 ADD l1.tar /$' "$tmp/.out" && grep -q 'efficiency' "$tmp/.out"; then
	ok "layers text table shows history and efficiency"
else
	not_ok "layers text table shows history and efficiency"
	diag_file "$tmp/.out"
fi
t_lfs layers app:nonexistent
is "$?" 1 "layers of a missing image exits 1"

# ---- which: the newest layer that touched each path is FLAT's provider
# layer_of PATH — the topmost layer whose tar names PATH or a .wh. for it.
declare -A names
i=0
for t in "${tars[@]}"; do
	i=$((i + 1))
	while IFS= read -r n; do names[$i:$n]=1; done < <(_t_tar_names "$t")
done
bad=0
checked=0
while IFS= read -r p; do
	[ "$p" = . ] && continue
	top=0
	for i in 4 3 2 1; do
		b=${p##*/}
		d=${p%"$b"}
		if [ -n "${names[$i:$p]:-}" ] || [ -n "${names[$i:$d.wh.$b]:-}" ]; then top=$i; break; fi
	done
	t_lfs which --format json app:full "/$p"
	rc=$?
	got=$(jq_ '$j->[0]{layer} . " " . $j->[0]{action}' 2>/dev/null)
	checked=$((checked + 1))
	if [ -e "$tmp/flat/$p" ] || [ -L "$tmp/flat/$p" ]; then
		case $got in "$top added" | "$top replaced" | "$top modified") continue ;; esac
	else
		case $got in *" deleted" | *" hidden") continue ;; esac
		[ "$top" = 0 ] && [ "$rc" = 1 ] && continue
	fi
	bad=$((bad + 1))
	[ "$bad" -le 5 ] && diag "  /$p: got '$got' (exit $rc), tar of layer $top names it; in FLAT: $([ -e "$tmp/flat/$p" ] && echo yes || echo no)"
done < <(for t in "${tars[@]}"; do _t_tar_names "$t"; done | grep -v '\.wh\.' | sort -u)
is "$bad" 0 "which: newest layer and action agree with the tars and FLAT for $checked paths"

t_lfs which --bytes app:full /wh/file1
got=$(awk 'NR > 1 { print $1, $3, $4, $5 }' "$tmp/.out" | tr '\n' ';')
is "$got" "3 added file 11;2 deleted whiteout #3;1 added file 29;" "which /wh/file1: added, deleted, added again"
grep -q '#5 RUN make l3$' "$tmp/.out" && ok "which shows the history line" || { not_ok "which shows the history line"; diag_file "$tmp/.out"; }
t_lfs which --format json app:full /sl/old
is "$(jq_ 'map { "$_->{layer}:$_->{action}:" . ($_->{via} // "") } @$j')" "2:hidden:/sl 1:added:" \
	"which /sl/old: hidden by the opaque /sl of layer 2"
t_lfs which app:full /no/such/path
is "$?" 1 "which of a path in no layer exits 1"
t_lfs which app:full
is "$?" 2 "which without PATH exits 2"

# ---- diff: against the difference of two FLAT references
# desc TREE — per path: type, mode, owner, size, rdev, target, xattrs, sha256 (no mtime/nlink).
desc() {
	t_listing "$1" | awk -F'\t' -v OFS='\t' '$2 == "S" { $8 = "-"; $9 = "-" } { v = $2; for (i = 3; i <= NF; i++) v = v "," $i
		  p = $1; sub(/^\.\/?/, "", p); d["/" p] = d["/" p] v "|" }
		END { for (p in d) print p "\t" d[p] }' | sort
}
# expected_diff A_DESC B_DESC — "A/D/C PATH" lines sorted by path
expected_diff() {
	join -t $'\t' -a1 -a2 -e '<none>' -o 0,1.2,2.2 "$1" "$2" |
		awk -F'\t' '$2 == "<none>" { print "A", $1; next } $3 == "<none>" { print "D", $1; next } $2 != $3 { print "C", $1 }' |
		sort -k2
}
t_ref_flat "$tmp/flat3" "${tars[@]:0:3}" || bail_out "FLAT of 3 layers failed"
t_ref_flat "$tmp/flat13" "${tars[0]}" "${tars[2]}" || bail_out "FLAT of layers 1+3 failed"
desc "$tmp/flat" >"$tmp/d.full"
desc "$tmp/flat3" >"$tmp/d.three"
desc "$tmp/flat13" >"$tmp/d.skip2"
diff_cmp() {
	t_lfs diff "app:$1" "app:$2"
	local rc=$?
	t_out | sort -k2 >"$tmp/diff.got"
	expected_diff "$tmp/d.$1" "$tmp/d.$2" >"$tmp/diff.ref"
	if [ "$rc" = 0 ] && diff -u "$tmp/diff.ref" "$tmp/diff.got" >"$tmp/.d"; then
		ok "diff app:$1 app:$2 equals the FLAT references' difference ($(wc -l <"$tmp/diff.ref") paths)"
	else
		not_ok "diff app:$1 app:$2 equals the FLAT references' difference (exit $rc)"
		diag_file "$tmp/.d" 30
	fi
}
diff_cmp three full
diff_cmp full three
diff_cmp skip2 three
diff_cmp full skip2
t_lfs diff app:full app:full
is "$?:$(t_out | wc -l)" "0:0" "diff of an image with itself is empty"
t_lfs diff --format json app:three app:full
is "$(jq_ 'map { "$_->{change}:$_->{path}:" . join(",", @{$_->{what} // []}) } grep { $_->{path} eq "/replace/xattr.txt" } @$j')" \
	"changed:/replace/xattr.txt:content,xattrs" "diff --format json says what changed"
t_lfs diff app:full
is "$?" 2 "diff with one image exits 2"
t_lfs diff app:full app:missing
is "$?" 1 "diff with a missing image exits 1"
done_testing
