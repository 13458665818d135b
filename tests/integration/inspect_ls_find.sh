#!/bin/bash
# inspect_ls_find.sh — `layerfs ls` (merged, -R, -L N, --format json) and
# `layerfs find` over the generated four-layer stack, read from the tars
# without mounting, compared with ls/find on the FLAT reference (GNU tar +
# OCI rules), find on a KERNEL OVERLAY mount of the same layers, and
# `tar -t` of each layer for the per-layer listing.
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
L=()
while IFS= read -r t; do
	tars+=("$tmp/gen/$t")
	L+=(--layer "$tmp/gen/$t")
done <"$tmp/gen/layers"
t_ref_flat "$tmp/flat" "${tars[@]}" || bail_out "building the FLAT reference failed"
t_ref_overlay "$tmp/ovl" "$tmp/ovlwork" "${tars[@]}" || bail_out "mounting the KERNEL OVERLAY reference failed"

# json_paths — the "path" of every object of a JSON array on stdin.
json_paths() {
	perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>); print "$_->{path}\n" for @$j'
}
# cmp_out DESC EXPECTED_FILE GOT_FILE
cmp_out() {
	if diff -u "$2" "$3" >"$tmp/.d"; then
		ok "$1 ($(wc -l <"$2") lines)"
	else
		not_ok "$1"
		diag_file "$tmp/.d" 30
	fi
}

# ---- ls
t_lfs ls "${L[@]}" -R /
check "ls -R exits 0" $? || t_diag_err
t_out | sed -e 's#^/:$#.:#' -e 's#^/\(.*\):$#./\1:#' >"$tmp/ls.got"
(cd "$tmp/flat" && ls -AR .) >"$tmp/ls.ref"
cmp_out "ls -R equals ls -AR of FLAT" "$tmp/ls.ref" "$tmp/ls.got"

t_lfs ls "${L[@]}" /multi
(cd "$tmp/flat/multi" && ls -A) >"$tmp/ls1.ref"
t_out >"$tmp/ls1.got"
cmp_out "ls /multi equals ls -A of FLAT" "$tmp/ls1.ref" "$tmp/ls1.got"

# ls -l --bytes --format json: type, mode, owner, size and mtime of every entry
t_lfs ls "${L[@]}" -R --format json /
check "ls -R --format json exits 0" $?
t_out | perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>);
	my %t = (file => "f", dir => "d", symlink => "l", char => "c", block => "b", fifo => "p");
	for (@$j) { my $p = substr($_->{path}, 1);
		printf "%s\t%s\t%o\t%d\t%d\t%s\t%d.%09d\n", $p, $t{$_->{type}}, oct($_->{mode}), $_->{uid}, $_->{gid},
			$_->{type} eq "dir" ? "-" : $_->{size}, $_->{mtime}, $_->{mtime_ns} }' | sort >"$tmp/lj.got"
(cd "$tmp/flat" && find . -mindepth 1 -printf '%P\t%y\t%m\t%U\t%G\t%s\t%T@\n') |
	awk -F'\t' -v OFS='\t' '{ if ($2 == "d") $6 = "-"; split($7, t, "."); $7 = t[1] "." substr(t[2] "000000000", 1, 9); print }' |
	sort >"$tmp/lj.ref"
cmp_out "ls -R --format json: type/mode/uid/gid/size/mtime equal FLAT" "$tmp/lj.ref" "$tmp/lj.got"

# ls -L N: one layer's own entries as tar -t lists them (.wh. markers
# included); a .wh.X next to a real X of the same layer becomes X's opaque
# marker (OCI: a whiteout never hides its own layer's entry).
for i in 1 2 3 4; do
	t_lfs ls "${L[@]}" -L "$i" -R --format json /
	t_out | json_paths | sed 's#^/##' | sort >"$tmp/l$i.got"
	_t_tar_names "${tars[$((i - 1))]}" | grep -vx '\.' | sort -u |
		awk '{ n[$0] = 1 } END {
			for (p in n) {
				m = p; b = p; sub(/.*\//, "", b); d = (p ~ /\//) ? substr(p, 1, length(p) - length(b)) : ""
				if (b ~ /^\.wh\./ && b != ".wh..wh..opq" && ((d substr(b, 5)) in n)) m = d substr(b, 5) "/.wh..wh..opq"
				print m
			} }' | sort -u >"$tmp/l$i.ref"
	cmp_out "ls -L $i -R lists layer $i's tar members" "$tmp/l$i.ref" "$tmp/l$i.got"
done
t_lfs ls "${L[@]}" -L -1 /
t_out >"$tmp/top.got"
t_lfs ls "${L[@]}" -L 4 /
is "$(t_out)" "$(cat "$tmp/top.got")" "ls -L -1 is the topmost layer"
t_lfs ls "${L[@]}" -L 2 /hard
is "$(t_out | tr '\n' ' ')" ".wh.a1 b1 " "ls -L 2 /hard shows the whiteout as .wh.a1"

# ---- exit codes and help
t_lfs ls "${L[@]}" /no/such
is "$?" 1 "ls of a missing path exits 1"
t_lfs ls "${L[@]}" -L 3 /opq
is "$?" 1 "ls -L of a path missing in that layer exits 1"
t_lfs ls "${L[@]}" -L 9 /
is "$?" 1 "ls -L of a layer that does not exist exits 1"
t_lfs ls --bogus
is "$?" 2 "ls with a bad option exits 2"
t_lfs find "${L[@]}" /no/such
is "$?" 1 "find of a missing path exits 1"
t_lfs find "${L[@]}" / -frobnicate
is "$?" 2 "find with an unknown test exits 2"
for c in ls find grep which layers diff; do
	t_lfs "$c" --help
	rc=$?
	if [ "$rc" = 0 ] && grep -q "^Usage: layerfs $c" "$tmp/.out"; then ok "$c --help"; else not_ok "$c --help (exit $rc)"; fi
done

# ---- find vs find(1) on FLAT and on the kernel overlay mount
# find_cmp DESC PATH TESTS... — same paths (sorted) as find on both references.
find_cmp() {
	local desc=$1 p=$2 ref a prev= refargs=()
	shift 2
	# -newer names a path inside the image: relative to the reference root
	for a; do
		if [ "$prev" = -newer ]; then refargs+=(".$a"); else refargs+=("$a"); fi
		prev=$a
	done
	t_lfs find "${L[@]}" "$p" "$@"
	local rc=$?
	t_out | sort >"$tmp/f.got"
	for ref in flat ovl; do
		(cd "$tmp/$ref" && find ".$p" "${refargs[@]}") | sed -e 's#^\./#/#' -e 's#^\.$#/#' -e 's#^//#/#' | sort >"$tmp/f.ref"
		if [ "$rc" = 0 ] && diff -u "$tmp/f.ref" "$tmp/f.got" >"$tmp/.d"; then
			ok "find $p $* equals find on $ref ($(wc -l <"$tmp/f.ref") paths)"
		else
			not_ok "find $p $* equals find on $ref (exit $rc)"
			diag_file "$tmp/.d" 20
		fi
	done
}
find_cmp all /
find_cmp "type f" / -type f
find_cmp "type d" / -type d
find_cmp "type l,c,p" / -type l,c,p
find_cmp name / -name '*.txt'
find_cmp iname / -iname 'F*'
find_cmp path / -path '*/hard/*'
find_cmp "size +" / -size +1k
find_cmp "size -" / -type f -size -2
find_cmp "size c" / -size 11c
find_cmp newer / -newer /times/old
find_cmp empty / -empty
find_cmp depth / -mindepth 2 -maxdepth 2
find_cmp subdir /multi -type f

t_lfs find "${L[@]}" / -type f -print0
t_out | tr '\0' '\n' | sort >"$tmp/p0.got"
(cd "$tmp/flat" && find . -type f) | sed 's#^\./#/#' | sort >"$tmp/p0.ref"
cmp_out "find -print0" "$tmp/p0.ref" "$tmp/p0.got"
t_lfs find "${L[@]}" --format json / -type f
t_out | json_paths | sort >"$tmp/fj.got"
cmp_out "find --format json" "$tmp/p0.ref" "$tmp/fj.got"

umount "$tmp/ovl"
done_testing
