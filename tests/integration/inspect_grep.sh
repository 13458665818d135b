#!/bin/bash
# inspect_grep.sh — `layerfs grep` over the generated four-layer stack, read
# from the tars without mounting, equals GNU grep -r on the FLAT reference
# (GNU tar + OCI rules) and on a KERNEL OVERLAY mount: matching lines, -i,
# -l, -n, -E, -F, binary files, a sub-path, exit codes, --format json.
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

# grep_cmp PATH GREP-ARGS... PATTERN — same lines (sorted) as GNU grep -r
# (devices skipped, binary-file notices turned into the classic form).
grep_cmp() {
	local p=$1 ref
	shift
	t_lfs grep "${L[@]}" "$@" "$p"
	local rc=$?
	t_out | sort >"$tmp/g.got"
	for ref in flat ovl; do
		(cd "$tmp/$ref" && grep -r -D skip "$@" ".$p" 2>&1) |
			sed -e 's#^grep: \./\(.*\): binary file matches$#Binary file /\1 matches#' \
				-e 's#^\./#/#' | sort >"$tmp/g.ref"
		if diff -u "$tmp/g.ref" "$tmp/g.got" >"$tmp/.d"; then
			ok "grep $* $p equals grep -r on $ref ($(wc -l <"$tmp/g.ref") lines, exit $rc)"
		else
			not_ok "grep $* $p equals grep -r on $ref"
			diag_file "$tmp/.d" 20
		fi
	done
}
grep_cmp / e
grep_cmp / -i DEEP
grep_cmp / -l region
grep_cmp / -n a
grep_cmp / -E 'l[0-9]+|child'
grep_cmp / -F 'a.b'
grep_cmp / -n '^$'
grep_cmp / one
grep_cmp /replace -n .
grep_cmp /data/seq.txt -n '^99'

t_lfs grep "${L[@]}" 'no such text anywhere' /
is "$?" 1 "grep without a match exits 1"
t_lfs grep "${L[@]}" e /no/such
is "$?" 1 "grep of a missing path exits 1"
t_lfs grep "${L[@]}" 'a\(' /
is "$?" 2 "grep with a bad pattern exits 2"
t_lfs grep
is "$?" 2 "grep without operands exits 2"

t_lfs grep "${L[@]}" --format json -n region /
check "grep --format json exits 0" $?
got=$(t_out | perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>);
	print join(" ", map { $_->{path} . ($_->{binary} ? "=binary" : ":" . $_->{line}) } @$j)')
is "$got" "/sparse/gnu=binary" "grep --format json: a binary match is flagged"
t_lfs grep "${L[@]}" --format json -n 'deep leaf' /
got=$(t_out | perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>);
	print join(" ", map { "$_->{line}:$_->{text}" } @$j)')
is "$got" "1:deep leaf" "grep --format json: line number and text"

umount "$tmp/ovl"
done_testing
