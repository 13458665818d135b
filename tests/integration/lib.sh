# shellcheck shell=bash
# tests/integration/lib.sh — shared helpers for the integration tests.
#
# Source it from a TAP script (bash, set -u, no set -e: a failed check must
# not stop the script):
#   . "$(dirname "$0")/lib.sh"
#   require_root; require_fuse; require_layerfs
#   t_tmpdir; tmp=$T_TMP          # removed, with every mount under it, on exit
#   ok/not_ok/is/t_run/t_fails ... # TAP test points
#   done_testing                  # prints the trailing plan, exits 0/1
#
# References are built independently of layerfs, with GNU tar and kernel
# overlayfs (t_ref_flat, t_ref_overlay), and compared with t_compare.

export LC_ALL=C TZ=UTC
T_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T_REPO=$(cd "$T_LIB_DIR/../.." && pwd)
LAYERFS=${LAYERFS:-$T_REPO/layerfs}
T_GEN=$T_LIB_DIR/gen
T_CMD_TIMEOUT=${T_CMD_TIMEOUT:-120}

_t_n=0
_t_failed=0
_t_planned=
T_TMPDIRS=()
T_PIDS=()
T_TMP=

# ---------------------------------------------------------------- TAP

plan() {
	_t_planned=$1
	echo "1..$1"
}
ok() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n - $*"
}
not_ok() {
	_t_n=$((_t_n + 1))
	_t_failed=$((_t_failed + 1))
	echo "not ok $_t_n - $*"
}
# todo DESC — a known gap that is reported but not counted as a failure.
todo() {
	_t_n=$((_t_n + 1))
	echo "not ok $_t_n - $* # TODO"
}
skip() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n # SKIP $*"
}
# diag LINES... — TAP comments (stdout, so they stay next to their test).
diag() {
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}
# diag_file FILE [MAXLINES]
diag_file() {
	[ -s "$1" ] || return 0
	head -n "${2:-40}" "$1" | sed 's/^/#   /'
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 77
}
bail_out() {
	echo "Bail out! $*"
	exit 1
}
# check DESC STATUS — ok if STATUS is 0.
check() {
	if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1"; fi
}
# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "  got:      '$1'" "  expected: '$2'"
	fi
}
done_testing() {
	if [ -z "$_t_planned" ]; then echo "1..$_t_n"; fi
	if [ "$_t_failed" -ne 0 ]; then exit 1; fi
	exit 0
}

# ------------------------------------------------------- requirements

require_root() {
	if [ "$(id -u)" != 0 ]; then
		if [ "${CI:-}" = true ]; then bail_out "must run as root in CI"; fi
		skip_all "needs root (mknod, chown, trusted.* xattrs, kernel overlayfs)"
	fi
}
# require_fuse — CI on a machine without /dev/fuse must fail, not skip.
require_fuse() {
	if [ ! -c /dev/fuse ]; then
		if [ "${CI:-}" = true ]; then bail_out "/dev/fuse missing while CI=true"; fi
		skip_all "/dev/fuse not available"
	fi
	command -v fusermount3 >/dev/null || bail_out "fusermount3 not installed (apt-get install fuse3)"
}
require_layerfs() {
	[ -x "$LAYERFS" ] || bail_out "no layerfs binary at $LAYERFS (run make, or set LAYERFS)"
}

# ---------------------------------------------------- temp dir, cleanup

# t_tmpdir — create a temp dir in $T_TMP (not via $(...): the cleanup list
# lives in this shell).  On exit every mount under it is unmounted and it
# is removed.
t_tmpdir() {
	T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/layerfs-it.XXXXXX") || bail_out "mktemp failed"
	T_TMPDIRS+=("$T_TMP")
	trap _t_cleanup EXIT
	trap 'exit 130' INT TERM
}

# _t_mounts_under DIR — mount points at or under DIR, deepest first, with fstype.
_t_mounts_under() {
	awk -v d="$1" '{
		m = $2
		gsub(/\\040/, " ", m); gsub(/\\011/, "\t", m); gsub(/\\012/, "\n", m); gsub(/\\134/, "\\", m)
		if (m == d || index(m, d "/") == 1) print length(m) "\t" $3 "\t" m
	}' /proc/self/mounts | sort -rn | cut -f2-
}

# t_unmount_all DIR — unmount everything under DIR: fusermount3 -u / umount,
# then lazily.
t_unmount_all() {
	local fstype m
	while IFS=$'\t' read -r fstype m; do
		case $fstype in
		fuse*) fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null ||
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" ;;
		*) umount "$m" 2>/dev/null || umount -l "$m" ;;
		esac
	done < <(_t_mounts_under "$1")
}

_t_cleanup() {
	local rc=$? pid d
	cd / || true
	for d in "${T_TMPDIRS[@]}"; do t_unmount_all "$d"; done
	for pid in "${T_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		# A foreground daemon exits once its mount is gone; give it a moment.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for d in "${T_TMPDIRS[@]}"; do rm -rf --one-file-system "$d"; done
	exit "$rc"
}

# ------------------------------------------------------------- mounts

# t_is_mounted MNT [FSTYPE] — MNT is a mount point (of FSTYPE) right now.
t_is_mounted() {
	local want=${2:-}
	_t_mounts_under "$1" | awk -F'\t' -v m="$1" -v t="$want" \
		'$2 == m && (t == "" || $1 == t) { found = 1 } END { exit !found }'
}
t_mount_type() {
	_t_mounts_under "$1" | awk -F'\t' -v m="$1" '$2 == m { print $1; exit }'
}
# t_mount_opts MNT — the mount options column of /proc/self/mounts.
t_mount_opts() {
	awk -v m="$1" '$2 == m { print $4; exit }' /proc/self/mounts
}

# t_wait_mount MNT 1|0 [TIMEOUT] — wait until MNT is (1) or is not (0) a
# mount point.  No blind sleeping: poll(2) on /proc/self/mounts wakes up on
# every change of the mount table.
t_wait_mount() {
	perl -e '
		use strict; use IO::Poll qw(POLLPRI POLLERR);
		my ($mnt, $want, $timeout) = @ARGV;
		(my $esc = $mnt) =~ s/([ \t\n\\])/sprintf("\\%03o", ord $1)/ge;
		open(my $fh, "<", "/proc/self/mounts") or die "open /proc/self/mounts: $!\n";
		my $deadline = time + $timeout;
		while (1) {
			seek($fh, 0, 0);
			my $found = 0;
			while (my $l = <$fh>) { $found = 1 if (split / /, $l)[1] eq $esc; }
			exit 0 if $found == $want;
			my $left = $deadline - time;
			exit 1 if $left <= 0;
			my $p = IO::Poll->new;
			$p->mask($fh => POLLPRI | POLLERR);
			$p->poll($left);
		}' "$1" "$2" "${3:-30}"
}

# t_lfs ARGS... — run layerfs with a timeout; stdout in $T_TMP/.out, stderr
# in $T_TMP/.err; returns its exit status.
t_lfs() {
	timeout -k 5 "$T_CMD_TIMEOUT" "$LAYERFS" "$@" >"$T_TMP/.out" 2>"$T_TMP/.err"
}
t_out() { cat "$T_TMP/.out"; }
t_err() { cat "$T_TMP/.err"; }
t_diag_err() {
	diag "  stderr:"
	diag_file "$T_TMP/.err" 20
}

# t_run DESC CMD... — ok if CMD exits 0 (its output is shown on failure).
t_run() {
	local desc=$1 rc
	shift
	"$@" >"$T_TMP/.run" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "  command: $* (exit $rc)"
		diag_file "$T_TMP/.run" 20
	fi
	return "$rc"
}
# t_fails DESC ERE CMD... — ok if CMD exits non-zero and its stderr matches ERE.
t_fails() {
	local desc=$1 re=$2 rc
	shift 2
	"$@" >"$T_TMP/.run" 2>"$T_TMP/.run.err"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -Eq -- "$re" "$T_TMP/.run.err"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "  command: $*" "  exit $rc, expected non-zero with stderr matching /$re/; stderr:"
	diag_file "$T_TMP/.run.err" 10
	return 1
}

# t_mount_layers MNT TAR... — `layerfs mount --read-only --layer ...`, then one test
# point: the command succeeded and the mount was in /proc/mounts the moment
# it returned (readiness is the command's job, not the caller's).
t_mount_layers() {
	local mnt=$1 tarf args=() desc
	shift
	desc="layerfs mount --layer x$#: in /proc/mounts when the command returns"
	for tarf; do args+=(--layer "$tarf"); done
	mkdir -p "$mnt"
	t_lfs mount --read-only "${args[@]}" "$mnt"
	local rc=$?
	if [ "$rc" -eq 0 ] && t_is_mounted "$mnt"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	if [ "$rc" -ne 0 ]; then diag "  exit status $rc"; else diag "  exit 0 but $mnt is not in /proc/mounts yet"; fi
	t_diag_err
	return 1
}
# t_mount_image MNT IMAGE [OPTS...] — read-only, like t_mount_layers
t_mount_image() {
	local mnt=$1 image=$2 desc
	shift 2
	desc="layerfs mount $*${*:+ }$image: in /proc/mounts when the command returns"
	mkdir -p "$mnt"
	t_lfs mount --read-only "$@" "$image" "$mnt"
	local rc=$?
	if [ "$rc" -eq 0 ] && t_is_mounted "$mnt"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "  exit status $rc"
	t_diag_err
	return 1
}
# t_random_reads MNT REF DESC FILE... — one test point per file: 16 reads at
# random offsets and lengths (in random, so also backward, order) equal.
t_random_reads() {
	local mnt=$1 ref=$2 desc=$3 f size off len i bad
	shift 3
	for f; do
		size=$(stat -c %s "$ref/$f")
		bad=0
		for i in $(seq 16); do
			off=$(((RANDOM * 32768 + RANDOM) % (size + 1)))
			len=$((RANDOM % 70000 + 1))
			if [ "$i" = 1 ]; then off=$((size > 5 ? size - 5 : 0)); fi # the tail first
			if ! cmp -s <(dd if="$ref/$f" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none) \
				<(dd if="$mnt/$f" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none); then
				bad=$((bad + 1))
				diag "  $f: $len bytes at offset $off differ"
			fi
		done
		is "$bad" 0 "$desc: random reads of $f"
	done
}
# t_parallel_reads MNT REF FILE DESC — one test point: 8 readers at once,
# 300000 bytes each at offsets spread backwards over FILE, all get REF's bytes.
t_parallel_reads() {
	local mnt=$1 ref=$2 f=$3 desc=$4 i off bad=0 pids=()
	for i in 0 1 2 3 4 5 6 7; do
		off=$(((7 - i) * 393216 + 1234))
		dd if="$mnt/$f" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count=300000 status=none >"$T_TMP/par.$i" &
		pids+=($!)
	done
	for i in 0 1 2 3 4 5 6 7; do
		wait "${pids[$i]}" || bad=$((bad + 1))
		off=$(((7 - i) * 393216 + 1234))
		cmp -s "$T_TMP/par.$i" <(dd if="$ref/$f" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count=300000 status=none) ||
			bad=$((bad + 1))
	done
	is "$bad" 0 "$desc"
}
# t_umount MNT — `layerfs umount`, then one test point: exit 0 and MNT gone
# from /proc/mounts.  Falls back to fusermount3 so nothing stays mounted.
t_umount() {
	local mnt=$1 rc
	t_lfs umount "$mnt"
	rc=$?
	if [ "$rc" -eq 0 ] && ! t_is_mounted "$mnt"; then
		ok "layerfs umount: exit 0 and gone from /proc/mounts"
		return 0
	fi
	not_ok "layerfs umount: exit 0 and gone from /proc/mounts"
	diag "  exit status $rc; still mounted: $(t_is_mounted "$mnt" && echo yes || echo no)"
	t_diag_err
	t_unmount_all "$mnt"
	return 1
}

# ---------------------------------------------------------- references

# _t_tar_names TAR — member names normalised: no leading "./" or "/", no
# trailing "/", the root as ".".
_t_tar_names() {
	tar --quoting-style=literal -tf "$1" | sed -e 's#^/*##' -e 's#^\(\./\)*##' -e 's#/*$##' -e 's#^$#.#'
}
_t_dirname() {
	case $1 in
	*/*) printf '%s\n' "${1%/*}" ;;
	*) echo . ;;
	esac
}
_t_untar() { # _t_untar TAR DIR — GNU tar as root, everything preserved
	mkdir -p "$2"
	tar --xattrs --xattrs-include='*' --same-owner --numeric-owner -p \
		--warning=no-timestamp -xf "$1" -C "$2"
}
_t_clear_xattrs() { # _t_clear_xattrs PATH — drop every xattr of PATH (not followed)
	local name
	getfattr -h -m - --absolute-names "$1" 2>/dev/null | sed -n 's/^\([^#].*\)$/\1/p' |
		while IFS= read -r name; do setfattr -h -x "$name" "$1"; done
}

# t_ref_flat OUT TAR... — the FLAT reference: extract the layers in order
# into OUT with GNU tar, applying OCI whiteouts, opaque markers and type
# changes first.  Each layer is also extracted on its own into a staging
# dir to learn its entries' types; whiteout and opaque markers are removed
# after extraction, and the mtimes of directories they touched are put back.
t_ref_flat() {
	local out=$1 tarf stage i=0
	shift
	mkdir -p "$out"
	for tarf; do
		i=$((i + 1))
		stage=$out.stage$i
		rm -rf "$stage"
		_t_untar "$tarf" "$stage" || return 1
		_t_flat_apply "$out" "$stage" "$tarf" || return 1
		rm -rf "$stage"
	done
}
_t_flat_apply() {
	local out=$1 stage=$2 tarf=$3 name type p d base
	local -A inlayer=() saved=()
	local whs=() others=()
	while IFS= read -r name; do inlayer[$name]=1; done < <(_t_tar_names "$tarf")
	while IFS=$'\t' read -r -d '' type p; do
		base=${p##*/}
		case $base in
		.wh.*) whs+=("$p") ;;
		*) others+=("$type $p") ;;
		esac
		# Parents that are not entries of this layer keep their old metadata.
		d=$p
		while [ "$d" != . ]; do
			d=$(_t_dirname "$d")
			if [ -z "${inlayer[$d]:-}" ] && [ -z "${saved[$d]:-}" ] && [ -d "$out/$d" ] && [ ! -L "$out/$d" ]; then
				saved[$d]=$(stat -c %y "$out/$d")
			fi
		done
	done < <(cd "$stage" && find . -mindepth 1 -printf '%y\t%P\0' | sort -z)
	# 1. whiteouts and opaque markers hide lower entries
	for p in "${whs[@]}"; do
		d=$(_t_dirname "$p")
		base=${p##*/}
		if [ "$base" = .wh..wh..opq ]; then
			if [ -d "$out/$d" ] && [ ! -L "$out/$d" ]; then
				find "$out/$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
			fi
		else
			rm -rf "${out:?}/$d/${base#.wh.}"
		fi
	done
	# 2. an entry replaces the lower one: non-dirs are unlinked first (so
	#    other hardlinked names keep the old inode), dir <-> non-dir changes
	#    remove the old tree, a dir's metadata (xattrs too) is the new layer's.
	local e
	for e in "${others[@]}"; do
		type=${e%% *}
		p=${e#* }
		if [ ! -e "$out/$p" ] && [ ! -L "$out/$p" ]; then continue; fi
		if [ "$type" = d ]; then
			if [ -L "$out/$p" ] || [ ! -d "$out/$p" ]; then
				rm -f "$out/$p"
			else
				_t_clear_xattrs "$out/$p"
			fi
		else
			rm -rf "${out:?}/$p"
		fi
	done
	if [ -n "${inlayer[.]:-}" ]; then _t_clear_xattrs "$out"; fi
	# 3. extract the layer for real
	_t_untar "$tarf" "$out" || return 1
	# 4. drop the markers, restore mtimes of the dirs that held them
	for p in "${whs[@]}"; do
		rm -f "${out:?}/$p"
		d=$(_t_dirname "$p")
		if [ -n "${inlayer[$d]:-}" ]; then
			touch -h -d "$(stat -c %y "$stage/$d")" "$out/$d"
		fi
	done
	for d in "${!saved[@]}"; do
		if [ -d "$out/$d" ]; then touch -h -d "${saved[$d]}" "$out/$d"; fi
	done
}

# t_ref_overlay MNT WORK TAR... — the KERNEL OVERLAY reference: extract each
# layer into WORK/Ln, turn .wh..wh..opq into trusted.overlay.opaque=y and
# .wh.NAME into a 0/0 char device NAME, then mount overlayfs with the top
# layer first in lowerdir.  A .wh.NAME next to a dir NAME of the same layer
# makes that dir opaque instead.  Whiteouts that hide nothing (inside an
# opaque dir, or naming nothing in the layers below) are dropped: overlayfs
# lists whiteout devices in directories it does not merge, while OCI hides
# the marker in every case.
t_ref_overlay() {
	local mnt=$1 work=$2 tarf i=0 l lower=
	shift 2
	mkdir -p "$work" "$mnt"
	for tarf; do
		i=$((i + 1))
		l=$work/L$i
		rm -rf "$l"
		_t_untar "$tarf" "$l" || return 1
		_t_overlay_convert "$work" "$i" || return 1
		lower=$l${lower:+:$lower}
	done
	# overlayfs without an upper dir needs at least two lower dirs.
	if [ "$i" -eq 1 ]; then
		mkdir -p "$work/empty"
		lower=$lower:$work/empty
	fi
	mount -t overlay overlay -o "lowerdir=$lower" "$mnt"
}
_t_overlay_convert() {
	local work=$1 n=$2 l=$1/L$2 p d base target mt j below
	# opaque markers first: whiteouts inside an opaque dir are redundant
	while IFS= read -r -d '' p; do
		d=$(dirname "$p")
		mt=$(stat -c %y "$d")
		rm -f "$p"
		setfattr -n trusted.overlay.opaque -v y "$d"
		touch -h -d "$mt" "$d"
	done < <(find "$l" -name '.wh..wh..opq' -print0)
	while IFS= read -r -d '' p; do
		d=$(dirname "$p")
		base=${p##*/}
		target=$d/${base#.wh.}
		mt=$(stat -c %y "$d")
		rm -f "$p"
		if [ -d "$target" ] && [ ! -L "$target" ]; then
			setfattr -n trusted.overlay.opaque -v y "$target"
		elif [ ! -e "$target" ] && [ ! -L "$target" ] &&
			! getfattr -n trusted.overlay.opaque "$d" >/dev/null 2>&1; then
			below=0
			for ((j = 1; j < n; j++)); do
				if [ -e "$work/L$j/${target#"$l"/}" ] || [ -L "$work/L$j/${target#"$l"/}" ]; then below=1; fi
			done
			if [ "$below" = 1 ]; then mknod "$target" c 0 0; fi
		fi
		touch -h -d "$mt" "$d"
	done < <(find "$l" -name '.wh.*' ! -name '.wh..wh..opq' -print0)
}

# ---------------------------------------------------------- comparison

# t_listing TREE [NLINK_SKIP_FILE] — a sorted, diffable description of TREE
# (nothing followed): for every path its type, mode (octal, with suid/sgid/
# sticky), uid, gid, size (not for dirs), mtime with nanoseconds, nlink (not
# for dirs, nor for the paths in NLINK_SKIP_FILE), rdev (devices), symlink
# target, each xattr (except trusted.overlay.* and security.selinux) and the
# sha256 of regular files.
t_listing() {
	local tree=$1 skip=${2:-/dev/null}
	(
		cd "$tree" || exit 1
		find . -print0 | sort -z |
			xargs -0 -r stat --printf '%n\tS\t%F\t%a\t%u\t%g\t%s\t%y\t%h\t%Hr:%Lr\n' |
			awk -F'\t' -v OFS='\t' -v skip="$skip" '
				BEGIN { while ((getline l < skip) > 0) noln[l] = 1 }
				{
					if ($3 == "directory") { $7 = "-"; $9 = "-" }
					if ($1 in noln) $9 = "-"
					if ($3 !~ /special file/) $10 = "-"
					print
				}'
		find . -type l -print0 | sort -z | xargs -0 -r stat --printf '%n\tL\t%N\n'
		find . -print0 | sort -z | xargs -0 -r getfattr -h -d -m - -e hex 2>"$tree.getfattr.err" |
			awk -v OFS='\t' '/^# file: / { f = substr($0, 9); next }
				/=/ && !/^trusted\.overlay\./ && !/^security\.selinux=/ { print f, "X", $0 }'
		sed 's/^/~getfattr-error\t/' "$tree.getfattr.err"
		rm -f "$tree.getfattr.err"
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum |
			awk -v OFS='\t' '{ h = $1; sub(/^[^ ]*  /, ""); print $0, "H", h }'
	) | sort
}

# t_compare GOT REF DESC [NLINK_SKIP_FILE] — two test points: the t_listing
# of both trees are equal, and `diff -r --no-dereference` finds no difference
# (same-type special files are reported by diff but compared via t_listing).
t_compare() {
	local got=$1 ref=$2 desc=$3 skip=${4:-/dev/null} cmp=$T_TMP/.cmp
	t_listing "$got" "$skip" >"$cmp.got"
	t_listing "$ref" "$skip" >"$cmp.ref"
	if [ ! -s "$cmp.got" ]; then
		not_ok "$desc: stat listing equal"
		diag "  empty listing of $got"
	elif diff -u "$cmp.ref" "$cmp.got" >"$cmp.diff"; then
		ok "$desc: stat listing equal ($(wc -l <"$cmp.ref") lines)"
	else
		not_ok "$desc: stat listing equal"
		diag "  diff -u REF GOT (first 60 lines):"
		diag_file "$cmp.diff" 60
	fi
	diff -r --no-dereference "$ref" "$got" 2>&1 |
		grep -Ev '^File .* is a (fifo|character special file|block special file) while file .* is a \1$' >"$cmp.diffr"
	if [ -s "$cmp.diffr" ]; then
		not_ok "$desc: diff -r --no-dereference"
		diag_file "$cmp.diffr" 30
	else
		ok "$desc: diff -r --no-dereference"
	fi
}

# t_ls_dots DIR DESC — `ls -a DIR` shows both . and ..
t_ls_dots() {
	local l
	# shellcheck disable=SC2010 # ls itself is under test here
	l=$(ls -a "$1" 2>&1 | grep -cxE '\.|\.\.')
	if [ "$l" = 2 ]; then
		ok "ls -a $2 shows . and .."
	else
		not_ok "ls -a $2 shows . and .."
		# shellcheck disable=SC2012
		diag "  ls -a: $(ls -a "$1" 2>&1 | head -5 | tr '\n' ' ')"
	fi
}

# t_layer_set DIR — generate the standard layer set into DIR (see gen/layers.sh).
t_layer_set() {
	"$T_GEN/layers.sh" "$1" >"$T_TMP/.gen" 2>&1 || {
		diag_file "$T_TMP/.gen"
		bail_out "gen/layers.sh failed"
	}
}
