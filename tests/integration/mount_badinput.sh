#!/bin/bash
# mount_badinput.sh — bad tars must be refused cleanly by `layerfs import`
# and `layerfs mount --layer`: non-zero exit, a message (naming the member
# where there is one), the store unchanged, nothing mounted, nothing written
# outside.  Covered: a tar truncated inside a member's data (plain and gzip),
# garbage, a "../evil" and a "sub/../../evil" member (must be refused), an
# absolute "/etc/NAME" member (documented choice: refused, or stored as
# etc/NAME like tar does; never written to the host), a hardlink whose
# target is not in the archive.  Finally a layer truncated AFTER mounting:
# reads of the lost data answer EIO, the daemon stays up, umount works.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
mkdir -p "$tmp/cwd/sub" "$tmp/in"
cd "$tmp/cwd/sub" || bail_out "cd"

# A good layer: small files first, a 1 MiB random file last.
src=$tmp/src
mkdir -p "$src"
echo aa >"$src/aa_small"
echo bb >"$src/bb_small"
perl -e 'srand(9); print pack("N*", map { int(rand(4294967296)) } 1 .. 262144)' >"$src/zz_big"
tar --format=pax --sort=name --numeric-owner -C "$src" -cf "$tmp/in/good.tar" .
gzip -n -c "$tmp/in/good.tar" >"$tmp/in/good.tar.gz"
size=$(stat -c %s "$tmp/in/good.tar")

# The bad inputs.
head -c $((size - 700000)) "$tmp/in/good.tar" >"$tmp/in/trunc.tar"
head -c $(($(stat -c %s "$tmp/in/good.tar.gz") / 2)) "$tmp/in/good.tar.gz" >"$tmp/in/trunc.tar.gz"
perl -e 'srand(7); print pack("N*", map { int(rand(4294967296)) } 1 .. 16384)' >"$tmp/in/garbage.tar"
mkdir -p "$tmp/evilsrc"
echo evil >"$tmp/evilsrc/evil"
tar -P -C "$tmp/evilsrc" --transform='s,^,../,' -cf "$tmp/in/dotdot.tar" evil 2>/dev/null
tar -P -C "$tmp/evilsrc" --transform='s,^,sub/../../,' -cf "$tmp/in/dotdot2.tar" evil 2>/dev/null
absname=layerfs-it-abs-$$
echo abs >"$tmp/evilsrc/$absname"
tar -P -C "$tmp/evilsrc" --transform='s,^,/etc/,' -cf "$tmp/in/abs.tar" "$absname" 2>/dev/null
echo t >"$tmp/evilsrc/hl-target"
ln "$tmp/evilsrc/hl-target" "$tmp/evilsrc/hl-link"
tar -C "$tmp/evilsrc" -cf "$tmp/in/hardlink.tar" hl-target hl-link
tar --delete -f "$tmp/in/hardlink.tar" hl-target
rm -rf "$tmp/evilsrc"

# --- the store before: one good image
t_lfs import "$tmp/in/good.tar" good:1
check "import of the good tar" $? || t_diag_err
store_snap() {
	(cd "$LAYERFS_ROOT" 2>/dev/null && find . -printf '%P\t%y\t%s\n' | sort && cat index.json 2>/dev/null)
}
store_snap >"$tmp/store.before"

# refuse_import TAR DESC ERE — import fails with stderr matching ERE, and
# leaves the store exactly as it was.
refuse_import() {
	local tarf=$1 desc=$2 re=$3 rc
	t_lfs import "$tarf" bad:1
	rc=$?
	if [ "$rc" -ne 0 ] && [ -s "$T_TMP/.err" ] && grep -Eq -- "$re" "$T_TMP/.err"; then
		ok "import $desc: refused ($(head -c 150 "$T_TMP/.err" | head -n1))"
	else
		not_ok "import $desc: refused with a message matching /$re/ (exit $rc)"
		t_diag_err
	fi
	store_snap >"$tmp/store.after"
	if diff "$tmp/store.before" "$tmp/store.after" >"$tmp/store.diff"; then
		ok "import $desc: store unchanged"
	else
		not_ok "import $desc: store unchanged"
		diag_file "$tmp/store.diff" 10
	fi
}
# refuse_mount TAR DESC ERE — mount --layer fails with stderr matching ERE
# and leaves nothing mounted.
refuse_mount() {
	local tarf=$1 desc=$2 re=$3 rc
	mkdir -p "$tmp/mnt"
	t_lfs mount --layer "$tarf" "$tmp/mnt"
	rc=$?
	if [ "$rc" -ne 0 ] && [ -s "$T_TMP/.err" ] && grep -Eq -- "$re" "$T_TMP/.err" && ! t_is_mounted "$tmp/mnt"; then
		ok "mount --layer $desc: refused, nothing mounted"
	else
		not_ok "mount --layer $desc: refused with a message matching /$re/, nothing mounted (exit $rc)"
		t_diag_err
		t_unmount_all "$tmp/mnt"
	fi
}

refuse_import "$tmp/in/trunc.tar" "a tar truncated inside a member" .
refuse_mount "$tmp/in/trunc.tar" "a tar truncated inside a member" .
refuse_import "$tmp/in/trunc.tar.gz" "a truncated .tar.gz" .
refuse_mount "$tmp/in/trunc.tar.gz" "a truncated .tar.gz" .
refuse_import "$tmp/in/garbage.tar" "garbage" .
refuse_mount "$tmp/in/garbage.tar" "garbage" .
refuse_import "$tmp/in/dotdot.tar" "a ../evil member" '\.\./evil'
refuse_mount "$tmp/in/dotdot.tar" "a ../evil member" '\.\./evil'
refuse_import "$tmp/in/dotdot2.tar" "a sub/../../evil member" 'sub/\.\./\.\./evil'
refuse_mount "$tmp/in/dotdot2.tar" "a sub/../../evil member" 'sub/\.\./\.\./evil'
refuse_import "$tmp/in/hardlink.tar" "a hardlink to a missing target" 'hl-link'
refuse_mount "$tmp/in/hardlink.tar" "a hardlink to a missing target" 'hl-link'
found=$(find "$tmp" / -xdev -maxdepth 3 -name evil -newer "$tmp/in/good.tar" 2>/dev/null | head -3)
is "$found" "" "nothing named evil written anywhere"
t_lfs images
if t_out | grep -q bad; then not_ok "images does not list the refused image"; else ok "images does not list the refused image"; fi

# Absolute member: either refused naming it, or stored as etc/NAME.
t_lfs import "$tmp/in/abs.tar" abs:1
rc=$?
if [ "$rc" -ne 0 ]; then
	if grep -q "$absname" "$T_TMP/.err"; then ok "import of /etc/$absname: refused naming the member"; else
		not_ok "import of /etc/$absname: refused naming the member"
		t_diag_err
	fi
else
	diag "  layerfs accepts absolute member names and strips the leading /"
	t_lfs ls abs:1 /etc
	if t_out | grep -qx "$absname"; then ok "import of /etc/$absname: stored as etc/$absname"; else
		not_ok "import of /etc/$absname: stored as etc/$absname"
		diag_file "$T_TMP/.out"
	fi
fi
if [ -e "/etc/$absname" ]; then
	not_ok "/etc/$absname not created on the host"
	rm -f "/etc/$absname"
else
	ok "/etc/$absname not created on the host"
fi
mkdir -p "$tmp/mnt"
if t_lfs mount --layer "$tmp/in/abs.tar" "$tmp/mnt"; then
	t_run "mount --layer of /etc/$absname: shows etc/$absname inside the mount" test -f "$tmp/mnt/etc/$absname"
	t_umount "$tmp/mnt"
else
	if grep -q "$absname" "$T_TMP/.err"; then ok "mount --layer of /etc/$absname: refused naming the member"; else
		not_ok "mount --layer of /etc/$absname: refused naming the member"
		t_diag_err
	fi
	ok "mount --layer of /etc/$absname: nothing to unmount"
fi
[ -e "/etc/$absname" ] && rm -f "/etc/$absname"

# --- a layer truncated after mounting: EIO, the daemon survives
# truncated_after_mount LAYER DESC
truncated_after_mount() {
	local layer=$1 desc=$2 mnt=$tmp/mnt2 copy
	copy=$tmp/copy.${layer##*/}
	cp "$layer" "$copy"
	t_mount_layers "$mnt" "$copy"
	# Cut the copy inside zz_big's data; nothing of zz_big was read before.
	truncate -s $(($(stat -c %s "$copy") / 2)) "$copy"
	t_fails "$desc: reading a file whose data is gone fails with EIO" 'Input/output error' cat "$mnt/zz_big"
	t_run "$desc: the daemon still answers (stat of the root)" stat "$mnt"
	t_run "$desc: other files still readable" cmp "$src/bb_small" "$mnt/bb_small"
	if t_is_mounted "$mnt"; then ok "$desc: still mounted"; else not_ok "$desc: still mounted"; fi
	t_umount "$mnt"
}
truncated_after_mount "$tmp/in/good.tar" "plain layer truncated after mount"
# For gzip, the same cut: zz_big's compressed data is the last ~98% of the file.
truncated_after_mount "$tmp/in/good.tar.gz" "gzip layer truncated after mount"
done_testing
