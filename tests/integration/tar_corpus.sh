#!/bin/bash
# tar_corpus.sh — the hostile tar corpus (gen/tarcorpus.py, plus sparse
# files written by GNU tar) through every way a tar enters or leaves the
# store: `layerfs import`, `mount --layer` (and a read of the whole tree),
# `ADD x.tar /dst/` (auto-extract), `load` of a docker-save archive holding
# it as its layer, `export` and `cp IMAGE:/. DIR` of what was imported; and `commit` of an upper
# directory holding hostile but legal names.  Each case either fails with a
# message naming the member, leaving the store as it was, or gives the
# result documented in fs/index.h ("Tar semantics"), compared with an
# independent extraction: GNU tar -x, bsdtar -x -U (unlinks symlinks in the
# way, as the index replaces them), or a tree written by hand from the rule.
# Around every step: nothing new anywhere under the test's directory
# outside the step's target and the store, the OUTSIDE directory that the
# escaping symlinks point to unchanged, and mounts still answering.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
command -v python3 >/dev/null || bail_out "python3 not installed (tools/install-deps.sh)"
command -v bsdtar >/dev/null || bail_out "bsdtar not installed (apt-get install libarchive-tools)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
outside=$tmp/outside
in=$tmp/in
m=$tmp/meta # the test's own bookkeeping, left out of the outside check
mkdir -p "$outside" "$in" "$tmp/w" "$m"
echo canary >"$outside/canary"
python3 "$T_GEN/tarcorpus.py" "$in" "$outside" >"$m/gen.log" 2>&1 ||
	{ diag_file "$m/gen.log"; bail_out "gen/tarcorpus.py failed"; }

# Sparse files, GNU and pax 1.0 sparse formats, by GNU tar.
mkdir -p "$tmp/sp"
truncate -s 5M "$tmp/sp/holes"
printf 'middle' | dd of="$tmp/sp/holes" bs=1 seek=2097152 conv=notrunc status=none
printf 'end' | dd of="$tmp/sp/holes" bs=1 seek=$((5 * 1048576 - 3)) conv=notrunc status=none
truncate -s 1M "$tmp/sp/empty-sparse"
touch -d @1700000000 "$tmp/sp/holes" "$tmp/sp/empty-sparse"
tar --sparse --format=gnu --numeric-owner --sort=name -C "$tmp/sp" -cf "$in/sparse_gnu.tar" holes empty-sparse
tar --sparse --format=pax --sparse-version=1.0 --numeric-owner --sort=name -C "$tmp/sp" \
	-cf "$in/sparse_pax.tar" holes empty-sparse
rm -rf "$tmp/sp"
printf '%s\n' sparse_gnu sparse_pax >>"$in/cases"

# What each case must give.  refuse:ERE — every importer fails with a
# message matching ERE; gnu / bsdtar — accepted, the tree equals that
# tool's extraction; hand — accepted, the tree equals expect_CASE below.
declare -A want=(
	[long_pax]=gnu [long_gnu]=gnu [sparse_gnu]=gnu [sparse_pax]=gnu
	[path_too_long]='refuse:member .p{200}/.*(4095|PATH_MAX)'
	[name_too_long]='refuse:member .n{300}.*(255|NAME_MAX)'
	[pax_len_short]='refuse:pax_short.*malformed pax'
	[pax_len_long]='refuse:pax_long.*malformed pax'
	[pax_len_negative]='refuse:pax_neg.*malformed pax'
	[pax_len_garbage]='refuse:pax_garbage.*malformed pax'
	[size_negative]='refuse:before.*negative size'
	[size_negative_pax]='refuse:before.*size.*negative'
	[uid_huge]='refuse:uidfile.*uid or gid out of range'
	[uid_huge_pax]='refuse:uidfile.*uid or gid out of range'
	[uid_max32]=gnu [nul_in_name]=gnu [duplicates]=gnu
	[hardlink_self_missing]="refuse:member 'self'.*'self' not found"
	[hardlink_self]=gnu [symlink_self]=gnu [hardlink_chain]=gnu
	[dotdot]="refuse:'\.\./dotdot-evil'.*'\.\.'"
	[dotdot_inner]="refuse:'a/\.\./\.\./dotdot-evil'.*'\.\.'"
	[dotdot_hardlink]="refuse:member 'hl'.*'\.\.'"
	[absolute]=gnu
	[symlink_then_file]=bsdtar [symlink_rel_then_file]=bsdtar
	[dirsymlink_then_file]=hand
	[hardlink_through_symlink]="refuse:member 'hl'.*'esc/canary' not found"
)
# The documented result that no extractor gives: "dd" (a directory with
# "inside") is replaced by a symlink, which drops its children; the file
# "dd/dirsymlink-evil" then needs a directory where the symlink is, and an
# implicit one (0755, mtime 0) replaces it.
# shellcheck disable=SC2317 # called as "expect_$case"
expect_dirsymlink_then_file() {
	mkdir -m 0755 "$1/dd" &&
		printf 'evil\n' >"$1/dd/dirsymlink-evil" &&
		chmod 0644 "$1/dd/dirsymlink-evil" &&
		touch -d @1700000000 "$1/dd/dirsymlink-evil"
}

# ref CASE DIR — the reference tree of an accepted case.
ref() {
	mkdir -p "$2"
	case ${want[$1]} in
	gnu) _t_untar "$in/$1.tar" "$2" ;;
	bsdtar) bsdtar -x -p -U --numeric-owner -f "$in/$1.tar" -C "$2" ;;
	hand) "expect_$1" "$2" ;;
	esac
}

# same_tree GOT REF DESC — stat listing (directory mtimes left out: tar -x
# gives the extraction time to directories it creates, the index mtime 0)
# and diff -r --no-dereference.
same_tree() {
	local got=$1 ref=$2 desc=$3
	t_listing "$got" | awk -F'\t' -v OFS='\t' '$2 == "S" && $3 == "directory" { $8 = "-" } 1' >"$m/cmp.got"
	t_listing "$ref" | awk -F'\t' -v OFS='\t' '$2 == "S" && $3 == "directory" { $8 = "-" } 1' >"$m/cmp.ref"
	if diff -u "$m/cmp.ref" "$m/cmp.got" >"$m/cmp.diff" && diff -r --no-dereference "$ref" "$got" >>"$m/cmp.diff" 2>&1; then
		ok "$desc: same tree as the reference ($(wc -l <"$m/cmp.ref") lines)"
	else
		not_ok "$desc: same tree as the reference"
		diag_file "$m/cmp.diff" 30
	fi
}

store_snap() {
	(cd "$LAYERFS_ROOT" 2>/dev/null && find . ! -name .lock -printf '%P\t%y\t%s\n' | sort &&
		find . -type f ! -name .lock -print0 | sort -z | xargs -0 -r sha256sum)
}
# The files under $tmp outside the store and the step's target (w/), and
# the OUTSIDE directory with its contents.
outside_snap() {
	find "$tmp" -xdev -mindepth 1 \( -path "$LAYERFS_ROOT" -o -path "$tmp/w" -o -path "$m" -o -name '.*' \) -prune \
		-o -printf '%p\t%y\t%s\n' | sort
	sha256sum "$outside"/* "$in"/*
	find / -xdev -maxdepth 3 -name '*-evil' 2>/dev/null
}
# step_begin / step_end DESC — around one step: nothing was written outside
# its target.
step_begin() {
	outside_snap >"$m/outside.before"
}
step_end() {
	outside_snap >"$m/outside.after"
	if diff "$m/outside.before" "$m/outside.after" >"$m/outside.diff"; then
		ok "$1: nothing written outside the target"
	else
		not_ok "$1: nothing written outside the target"
		diag_file "$m/outside.diff" 10
	fi
}
# refused DESC ERE RC — the step failed with a message matching ERE, and the
# store is as it was.
refused() {
	if [ "$3" -ne 0 ] && grep -Eq -- "$2" "$T_TMP/.err"; then
		ok "$1: refused ($(head -n1 "$T_TMP/.err" | cut -c1-160))"
	else
		not_ok "$1: refused with a message matching /$2/ (exit $3)"
		t_diag_err
	fi
	store_snap >"$m/store.after"
	if diff "$m/store.before" "$m/store.after" >"$m/store.diff"; then
		ok "$1: store unchanged"
	else
		not_ok "$1: store unchanged"
		diag_file "$m/store.diff" 10
	fi
}
# mounted_tree MNT DESC CASE — the tree under a live mount equals the
# reference, and the daemon still answers afterwards.
mounted_tree() {
	local mnt=$1 desc=$2 c=$3
	find "$mnt" -xdev >/dev/null 2>"$m/find.err"
	rm -rf "$tmp/w/ref" && ref "$c" "$tmp/w/ref"
	same_tree "$mnt" "$tmp/w/ref" "$desc"
	if t_is_mounted "$mnt" && stat "$mnt/." >/dev/null 2>&1 && ls -a "$mnt" >/dev/null 2>&1; then
		ok "$desc: the daemon still answers"
	else
		not_ok "$desc: the daemon still answers"
	fi
	t_umount "$mnt"
}
# docker_save CASE OUT — a docker-save archive with CASE.tar as its layer.
docker_save() {
	local d=$tmp/w/save diff
	rm -rf "$d" && mkdir -p "$d/layer"
	cp "$in/$1.tar" "$d/layer/layer.tar"
	diff=$(sha256sum <"$in/$1.tar" | cut -d' ' -f1)
	printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$diff" >"$d/config.json"
	cfg=$(sha256sum <"$d/config.json" | cut -d' ' -f1)
	mv "$d/config.json" "$d/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["load:%s"],"Layers":["layer/layer.tar"]}]' "$cfg" "$1" >"$d/manifest.json"
	tar -C "$d" -cf "$2" manifest.json "$cfg.json" layer
	rm -rf "$d"
}

# accepted DESC RC — after a store command of the current case (run_case's
# $w and $re): a case to refuse is checked by refused; returns 0 only for
# a case to accept that the command accepted.
accepted() {
	if [ "$w" != "$re" ]; then
		refused "$1" "$re" "$2"
		return 1
	fi
	[ "$2" -eq 0 ] && return 0
	not_ok "$1"
	t_diag_err
	return 1
}

run_case() {
	local c=$1 w=${want[$1]} re rc
	diag "case $c: ${w}"
	re=${w#refuse:}
	store_snap >"$m/store.before"

	# import, then export what was imported
	step_begin
	t_lfs import "$in/$c.tar" "imp:$c"
	if accepted "$c: import" $?; then
		ok "$c: import"
		t_lfs export -o "$tmp/w/export.tar" "imp:$c"
		check "$c: export" $? || t_diag_err
		if tar -tf "$tmp/w/export.tar" | grep -Eq '^/|(^|/)\.\.(/|$)'; then
			not_ok "$c: export has no absolute or '..' names"
		else
			ok "$c: export has no absolute or '..' names"
		fi
		rm -rf "$tmp/w/x" "$tmp/w/ref"
		_t_untar "$tmp/w/export.tar" "$tmp/w/x" 2>"$tmp/w/untar.err"
		ref "$c" "$tmp/w/ref"
		same_tree "$tmp/w/x" "$tmp/w/ref" "$c: import + export, extracted by GNU tar"
		rm -rf "$tmp/w/x" "$tmp/w/ref" "$tmp/w/export.tar"
	fi
	step_end "$c: import/export"

	# cp IMAGE:/. DIR: the image's links are written as links, never
	# followed; contents and link targets as GNU tar -x gives them
	if [ "$w" = "$re" ]; then
		step_begin
		t_lfs cp "imp:$c:/." "$tmp/w/cp"
		check "$c: cp IMAGE:/. DIR" $? || t_diag_err
		rm -rf "$tmp/w/ref" && ref "$c" "$tmp/w/ref"
		if diff -r --no-dereference "$tmp/w/ref" "$tmp/w/cp" >"$m/cp.diff" 2>&1; then
			ok "$c: cp, same contents and links as the reference"
		else
			not_ok "$c: cp, same contents and links as the reference"
			diag_file "$m/cp.diff" 10
		fi
		rm -rf "$tmp/w/ref" "$tmp/w/cp"
		step_end "$c: cp"
	fi

	# mount --layer
	step_begin
	mkdir -p "$tmp/w/mnt"
	t_lfs mount --read-only --layer "$in/$c.tar" "$tmp/w/mnt"
	rc=$?
	if [ "$w" != "$re" ]; then
		if [ "$rc" -ne 0 ] && grep -Eq -- "$re" "$T_TMP/.err" && ! t_is_mounted "$tmp/w/mnt"; then
			ok "$c: mount --layer refused, nothing mounted"
		else
			not_ok "$c: mount --layer refused with /$re/, nothing mounted (exit $rc)"
			t_diag_err
			t_unmount_all "$tmp/w/mnt"
		fi
	elif [ "$rc" -ne 0 ]; then
		not_ok "$c: mount --layer"
		t_diag_err
	else
		mounted_tree "$tmp/w/mnt" "$c: mount --layer" "$c"
	fi
	step_end "$c: mount --layer"

	# load of a docker-save archive with the tar as its layer
	docker_save "$c" "$tmp/w/save.tar"
	step_begin
	t_lfs load -q -i "$tmp/w/save.tar"
	if accepted "$c: load" $? && t_mount_image "$tmp/w/mnt" "load:$c"; then
		mounted_tree "$tmp/w/mnt" "$c: load, mounted" "$c"
	fi
	step_end "$c: load"

	# ADD CASE.tar /dst/ in a build (auto-extract through the overlay)
	rm -rf "$tmp/w/ctx" && mkdir -p "$tmp/w/ctx"
	cp "$in/$c.tar" "$tmp/w/ctx/x.tar"
	printf 'FROM base:1\nADD x.tar /dst/\n' >"$tmp/w/ctx/Dockerfile"
	w=${add_want[$c]:-$w}
	re=${w#refuse:}
	step_begin
	t_lfs build --progress plain -t "add:$c" "$tmp/w/ctx"
	rc=$?
	if [ "$w" != "$re" ]; then
		if [ "$rc" -ne 0 ] && grep -Eq -- "$re" "$T_TMP/.err"; then
			ok "$c: ADD refused ($(grep -E -- "$re" "$T_TMP/.err" | head -n1 | cut -c1-160))"
		else
			not_ok "$c: ADD refused with a message matching /$re/ (exit $rc)"
			t_diag_err
		fi
		t_lfs images
		if grep -q "add:$c\|^add .*$c" "$T_TMP/.out"; then not_ok "$c: ADD left no image"; else ok "$c: ADD left no image"; fi
	elif [ "$rc" -ne 0 ]; then
		not_ok "$c: ADD"
		t_diag_err
	else
		ok "$c: ADD"
		t_lfs export -o "$tmp/w/export.tar" "add:$c"
		rm -rf "$tmp/w/x" "$tmp/w/ref"
		_t_untar "$tmp/w/export.tar" "$tmp/w/x" 2>"$tmp/w/untar.err"
		ref "$c" "$tmp/w/ref/dst"
		same_tree "$tmp/w/x/dst" "$tmp/w/ref/dst" "$c: ADD, /dst/ of the image"
		rm -rf "$tmp/w/x" "$tmp/w/ref" "$tmp/w/export.tar"
	fi
	step_end "$c: ADD"
	rm -rf "$tmp/w/ctx" "$tmp/w/save.tar"
}

# Where ADD differs from the index: a symlink replacing a directory the
# archive made is refused (the overlay does not remove a directory tree
# while unpacking), naming the member.
declare -A add_want=(
	[dirsymlink_then_file]="refuse:member 'dd'.*Is a directory"
)

# The base image of the ADD builds: an empty root.
mkdir -p "$tmp/w/empty"
tar -C "$tmp/w/empty" -cf "$in/base.tar" .
t_lfs import "$in/base.tar" base:1
check "import of an empty base image" $? || t_diag_err
rm -rf "$tmp/w/empty"

while read -r c; do
	[ -n "${want[$c]:-}" ] || {
		not_ok "case $c has an expectation in this script"
		continue
	}
	run_case "$c"
done <"$in/cases"

# ADD follows symlinks the image already had, inside its root (a merged
# /usr base: lib -> usr/lib), while the archive's own are replaced.
mkdir -p "$tmp/w/mu/usr/lib" "$tmp/w/add/lib" "$tmp/w/ctx"
ln -s usr/lib "$tmp/w/mu/lib"
tar -C "$tmp/w/mu" -cf "$in/merged-usr.tar" .
printf 'x\n' >"$tmp/w/add/lib/libx.so"
tar -C "$tmp/w/add" -cf "$tmp/w/ctx/x.tar" lib/libx.so
printf 'FROM mu:1\nADD x.tar /\n' >"$tmp/w/ctx/Dockerfile"
t_lfs import "$in/merged-usr.tar" mu:1
check "import of a merged-/usr base" $? || t_diag_err
step_begin
t_lfs build --progress plain -t add:mu "$tmp/w/ctx"
check "ADD lib/libx.so onto lib -> usr/lib" $? || t_diag_err
t_lfs cat add:mu /usr/lib/libx.so
is "$(t_out)" x "ADD wrote through the image's symlink: /usr/lib/libx.so"
t_lfs ls -l add:mu /
if grep -q 'lib -> usr/lib' "$T_TMP/.out"; then ok "/lib is still the symlink"; else
	not_ok "/lib is still the symlink"
	diag_file "$T_TMP/.out"
fi
step_end "ADD onto a merged-/usr base"
rm -rf "$tmp/w/mu" "$tmp/w/add" "$tmp/w/ctx"

# commit of an upper directory holding hostile but legal names: symlinks
# out of the tree (absolute and by ".."), a name with a newline, one with a
# backslash, one starting with "-", a 255-byte name, a path near 4095
# bytes, a chain of hard links, a sparse file.  The layer must hold no
# absolute or ".." member, and GNU tar -x of it must give the upper back.
u=$tmp/w/upper
mkdir -p "$u/deep"
ln -s "$outside" "$u/esc"
ln -s ../../../../../../../.. "$u/up"
printf 'nl\n' >"$u/new
line"
printf 'bs\n' >"$u/back\\slash"
printf 'dash\n' >"$u/-rf"
printf 'long\n' >"$u/$(printf 'x%.0s' $(seq 255))"
d=$u/deep
while [ ${#d} -lt $((${#u} + 3800)) ]; do d=$d/$(printf 'd%.0s' $(seq 200)); done
mkdir -p "$d" && printf 'deep\n' >"$d/f"
printf 'chain\n' >"$u/h0"
for i in 1 2 3; do ln "$u/h$((i - 1))" "$u/h$i"; done
truncate -s 3M "$u/sparse" && printf 'mid' | dd of="$u/sparse" bs=1 seek=1048576 conv=notrunc status=none
find "$u" -exec touch -h -d @1700000000 {} +
step_begin
t_lfs commit --upper "$u" -o "$tmp/w/commit.tar"
check "commit --upper of hostile names: exit 0" $? || t_diag_err
if tar -tf "$tmp/w/commit.tar" | grep -Eq '^/|(^|/)\.\.(/|$)'; then
	not_ok "commit: no absolute or '..' member names"
else
	ok "commit: no absolute or '..' member names"
fi
rm -rf "$tmp/w/x" && _t_untar "$tmp/w/commit.tar" "$tmp/w/x"
same_tree "$tmp/w/x" "$u" "commit: GNU tar -x of the layer"
mkdir -p "$tmp/w/mnt"
if t_lfs mount --read-only --layer "$tmp/w/commit.tar" "$tmp/w/mnt"; then
	same_tree "$tmp/w/mnt" "$u" "commit: the layer mounted"
	t_umount "$tmp/w/mnt"
else
	not_ok "commit: the layer mounted"
	t_diag_err
fi
step_end "commit"
rm -rf "$tmp/w/x" "$u" "$tmp/w/commit.tar"

# Everything refused left no image; every mount is gone.
if [ -z "$(_t_mounts_under "$tmp")" ]; then ok "no mount left under the test directory"; else not_ok "no mount left under the test directory"; fi
cmp -s "$outside/canary" <(echo canary)
check "OUTSIDE/canary unchanged" $?
is "$(find "$outside" | wc -l)" 2 "nothing new in OUTSIDE"
done_testing
