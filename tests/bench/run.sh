#!/bin/bash
# run.sh — `make bench`: layerfs next to its anchors, on the same data, in one
# run, with ratios.  A measurement script, never a pass/fail test.
#
#   kernel overlay   mount -t overlay, lowerdir = the layers unpacked with GNU tar
#                    (whiteouts → char 0/0 devices, opaque markers → trusted.overlay.opaque=y)
#   fuse-overlayfs   fuse-overlayfs -o lowerdir=… over the same unpacked layers
#   layerfs          layerfs mount --read-only --layer … straight from the tars
#
# Datasets (cached under build/bench/, so reruns skip the preparation):
#   rootfs  a Debian bookworm minbase (debootstrap) as 2 layers (/usr and the rest);
#           falls back to the busybox base image (tools/mkbase.sh) when debootstrap
#           cannot run, and says so
#   synth   ≥100k files in 5 layers with rewrites, whiteouts, opaque dirs and
#           hardlinks (tests/integration/gen/big.sh; BENCH_GEN=bench or its
#           absence selects tests/bench/gen_big.sh), plus one 256 MiB file
#
# Every timing is the median of BENCH_REPS runs (default 3).  "cold" means the
# file system is freshly mounted and the page/dentry/inode caches are dropped
# (echo 3 > /proc/sys/vm/drop_caches) right before the timed command.
# layerfs's indexes are built by one mount+umount before the timed mounts; that
# build is reported on its own row next to the anchors' unpack time.
#
# Environment:
#   BENCH_QUICK=1      small run for a smoke test (busybox rootfs, 10k synthetic
#                      files, 32 MiB big file, 1 repetition)
#   BENCH_REPS=N       repetitions per measurement
#   BENCH_DATASETS     "rootfs synth" (default) or a subset
#   BENCH_FILES, BENCH_BIG_MIB   synthetic set size (default 125000 files, about
#                      100k of them visible in the merged tree; 256 MiB)
#   BENCH_DIR          cache and scratch dir (default build/bench)
#   LAYERFS            the binary (default ./layerfs)
#   DEBIAN_MIRROR      for debootstrap (default http://deb.debian.org/debian)
# Needs root (kernel overlayfs, drop_caches).
# Functions run through traps and "timed FN" look unreachable to shellcheck.
# shellcheck disable=SC2317
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
B=${BENCH_DIR:-$top/build/bench}
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
	reps=${BENCH_REPS:-1}
	nfiles=${BENCH_FILES:-10000}
	big_mib=${BENCH_BIG_MIB:-32}
else
	reps=${BENCH_REPS:-3}
	nfiles=${BENCH_FILES:-125000}
	big_mib=${BENCH_BIG_MIB:-256}
fi
datasets=${BENCH_DATASETS:-rootfs synth}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tmo=${BENCH_TIMEOUT:-1200} # seconds; a hung mount must not hang the bench

SYSTEMS=(overlay fuseovl layerfs)
declare -A TITLE=([overlay]="kernel overlay" [fuseovl]="fuse-overlayfs" [layerfs]="layerfs")
declare -A R=()    # results: R[ds|metric|sys] = microseconds, kB, bytes or text
declare -A DEAD=() # DEAD[ds|sys]=reason: system failed on this dataset
declare -A NOTE=() # per-dataset notes
status=0

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench: $*"
	exit 1
}

# --- mounts ---------------------------------------------------------------------
mnt_of() { echo "$B/mnt/$1"; }

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

force_umount() {
	local m=$1
	is_mounted "$m" || return 0
	case ${m##*/} in
	overlay) umount "$m" 2>/dev/null || umount -l "$m" ;;
	layerfs) "$LAYERFS" umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
	*) fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
	esac
}

cleanup() {
	local rc=$? s
	for s in "${SYSTEMS[@]}"; do
		force_umount "$(mnt_of "$s")" || log "bench: could not unmount $(mnt_of "$s")"
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# daemon_pid SYS MNT — pid of the FUSE daemon serving MNT (argv has MNT).
daemon_pid() {
	local want p arg args
	case $1 in
	fuseovl) want=fuse-overlayfs ;;
	layerfs) want=layerfs ;;
	*) return 1 ;;
	esac
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" != "$$" ] || continue
		mapfile -d '' -t args 2>/dev/null <"$p/cmdline" || continue
		if [ "${#args[@]}" -eq 0 ] || [ "${args[0]##*/}" != "$want" ]; then continue; fi
		for arg in "${args[@]:1}"; do
			if [ "$arg" = "$2" ] || [ "$(realpath -m -- "$arg" 2>/dev/null)" = "$2" ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done
	done
	return 1
}

# wait_ready MNT — until MNT is in the mount table and answers stat.
wait_ready() {
	local end=$((${EPOCHREALTIME/[.,]/} + 30000000))
	until is_mounted "$1" && stat "$1/." >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/[.,]/}" -lt "$end" ] || return 1
	done
}

# lowers DS [SEP] — unpacked layer dirs, uppermost first, ':'-joined.
lowers() {
	local ds=$1 n=${NL[$1]} i out=""
	for ((i = n - 1; i >= 0; i--)); do out+="${out:+:}$B/unpacked/$ds/$i"; done
	echo "$out"
}

layer_args() {
	local ds=$1 i
	for ((i = 0; i < NL[$ds]; i++)); do printf -- '--layer\0%s\0' "${LAYERS[$ds]}/layer$i.tar"; done
}

# do_mount SYS DS — mount and return once ready; non-zero on failure.
do_mount() {
	local sys=$1 ds=$2 m largs
	m=$(mnt_of "$sys")
	case $sys in
	overlay) mount -t overlay overlay -o "ro,lowerdir=$(lowers "$ds")" "$m" || return 1 ;;
	fuseovl) fuse-overlayfs -o "lowerdir=$(lowers "$ds")" "$m" 2>>"$B/fuse-overlayfs.log" || return 1 ;;
	layerfs)
		mapfile -d '' -t largs < <(layer_args "$ds")
		"$LAYERFS" mount --read-only "${largs[@]}" "$m" || return 1
		;;
	esac
	wait_ready "$m"
}

do_umount() {
	local sys=$1 m pid end
	m=$(mnt_of "$sys")
	pid=$(daemon_pid "$sys" "$m" || true)
	case $sys in
	overlay) umount "$m" ;;
	fuseovl) fusermount3 -u "$m" ;;
	layerfs) "$LAYERFS" umount "$m" ;;
	esac
	# Let the daemon exit so it does not compete with the next measurement.
	if [ -n "$pid" ]; then
		end=$((${EPOCHREALTIME/[.,]/} + 10000000))
		while [ -e "/proc/$pid" ] && [ "${EPOCHREALTIME/[.,]/}" -lt "$end" ]; do :; done
	fi
	! is_mounted "$m"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# --- timing ---------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# timed VAR CMD... — run CMD, store elapsed microseconds in VAR.
timed() {
	local -n _out=$1
	shift
	local t0=${EPOCHREALTIME/[.,]/} rc=0
	"$@" || rc=$?
	_out=$((${EPOCHREALTIME/[.,]/} - t0))
	return "$rc"
}

fail() { # fail DS SYS WHAT
	DEAD[$1|$2]="$3 failed"
	log "bench: ${TITLE[$2]} on $1: $3 failed; skipping its remaining measurements"
	status=1
	force_umount "$(mnt_of "$2")" || true
}

run_find() { timeout "$tmo" find "$1" >/dev/null; }
run_stat() { timeout "$tmo" find "$1" -printf '%s %m %u %g %n %T@\n' >/dev/null; }
run_read() { timeout "$tmo" find "$1" -type f -print0 | timeout "$tmo" xargs -0 -r cat >/dev/null; }
run_big() { timeout "$tmo" dd if="$1/big/blob.bin" of=/dev/null bs=1M status=none; }

# measure DS SYS METRIC FN [warm] — median cold time of FN MNT over $reps fresh
# mounts; with "warm", FN runs again on the same mount (METRIC.warm).
# After the read-all metric, the daemon's VmRSS/VmHWM are recorded.
measure() {
	local ds=$1 sys=$2 metric=$3 fn=$4 warm=${5:-} m t r pid
	local cold=() hot=()
	m=$(mnt_of "$sys")
	[ -z "${DEAD[$ds|$sys]:-}" ] || return 0
	for ((r = 0; r < reps; r++)); do
		do_mount "$sys" "$ds" || {
			fail "$ds" "$sys" mount
			return 0
		}
		drop_caches
		timed t "$fn" "$m" || {
			fail "$ds" "$sys" "$metric"
			return 0
		}
		cold+=("$t")
		if [ -n "$warm" ]; then
			timed t "$fn" "$m" || true
			hot+=("$t")
		fi
		if [ "$metric" = read ] && pid=$(daemon_pid "$sys" "$m"); then
			R[$ds|rss|$sys]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
			R[$ds|hwm|$sys]=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
		fi
		do_umount "$sys" || {
			fail "$ds" "$sys" umount
			return 0
		}
	done
	R[$ds|$metric|$sys]=$(median "${cold[@]}")
	[ -z "$warm" ] || R[$ds|$metric.warm|$sys]=$(median "${hot[@]}")
}

measure_mount() {
	local ds=$1 sys=$2 t r all=()
	[ -z "${DEAD[$ds|$sys]:-}" ] || return 0
	for ((r = 0; r < reps; r++)); do
		drop_caches
		timed t do_mount "$sys" "$ds" || {
			fail "$ds" "$sys" mount
			return 0
		}
		all+=("$t")
		do_umount "$sys" || {
			fail "$ds" "$sys" umount
			return 0
		}
	done
	R[$ds|mount|$sys]=$(median "${all[@]}")
}

# tree_listing MNT — every entry with type, mode, owner, and size for files
# (directory sizes legitimately differ between file systems).
tree_listing() {
	(cd "$1" && find . \( -type f -printf '%p f %s %m %U %G %n\n' \) -o \
		\( -type l -printf '%p l %l %U %G\n' \) -o -printf '%p %y - %m %U %G\n') | sort
}

# verify DS SYS — compare the mount's tree with the kernel overlay's.
verify() {
	local ds=$1 sys=$2 m n
	m=$(mnt_of "$sys")
	[ -z "${DEAD[$ds|$sys]:-}" ] || return 0
	do_mount "$sys" "$ds" || {
		fail "$ds" "$sys" mount
		return 0
	}
	if ! tree_listing "$m" >"$B/tree.$ds.$sys" 2>"$B/tree.$ds.$sys.err"; then
		R[$ds|same|$sys]="find reported errors"
		log "bench: find over ${TITLE[$sys]} on $ds reported errors: $(head -n 3 "$B/tree.$ds.$sys.err")"
		[ "$sys" != layerfs ] || status=1
	fi
	do_umount "$sys" || fail "$ds" "$sys" umount
	[ -z "${R[$ds|same|$sys]:-}" ] || return 0
	if [ "$sys" = overlay ]; then
		R[$ds|same|$sys]="(reference)"
		R[$ds|entries]=$(wc -l <"$B/tree.$ds.$sys")
		return 0
	fi
	n=$(diff "$B/tree.$ds.overlay" "$B/tree.$ds.$sys" | grep -c '^[<>]' || true)
	if [ "$n" -eq 0 ]; then
		R[$ds|same|$sys]=yes
	else
		R[$ds|same|$sys]="NO: $n lines differ"
		log "bench: ${TITLE[$sys]} tree differs from kernel overlay on $ds (diff $B/tree.$ds.overlay $B/tree.$ds.$sys):"
		diff "$B/tree.$ds.overlay" "$B/tree.$ds.$sys" | head -n 10 >&2 || true
		# An anchor's quirk is worth a note; a wrong layerfs tree is an error.
		[ "$sys" != layerfs ] || status=1
	fi
}

# --- datasets ---------------------------------------------------------------------------
declare -A LAYERS=() NL=() DESC=()

# tar_rootfs DIR OUT — 2 layers: everything but /usr, then /usr ("./" names,
# as `tar -C rootfs -c .` writes them).
tar_rootfs() {
	local dir=$1 out=$2
	local common=(--sort=name --format=gnu --numeric-owner --one-file-system)
	rm -rf "$out"
	mkdir -p "$out"
	tar -C "$dir" "${common[@]}" --exclude=./usr --exclude='./dev/*' --exclude='./proc/*' \
		--exclude='./sys/*' --exclude='./var/cache/apt/*.bin' -cf "$out/layer0.tar" .
	tar -C "$dir" "${common[@]}" -cf "$out/layer1.tar" ./usr
}

prepare_busybox() {
	local out=$B/rootfs-busybox tmp
	if [ ! -f "$out/.complete" ]; then
		tmp=$(mktemp -d "$B/busybox.XXXXXX")
		"$top/tools/mkbase.sh" "$tmp/base.tar"
		mkdir "$tmp/root"
		tar -C "$tmp/root" -xpf "$tmp/base.tar"
		tar_rootfs "$tmp/root" "$out"
		rm -rf "$tmp"
		touch "$out/.complete"
	fi
	LAYERS[rootfs]=$out
	DESC[rootfs]="busybox base image (tools/mkbase.sh), 2 layers (/usr, rest)"
}

prepare_debian() {
	local out=$B/rootfs-debian root=$B/debootstrap-root
	if [ ! -f "$out/.complete" ]; then
		if ! grep -q 'Base system installed successfully' "$B/debootstrap.log" 2>/dev/null; then
			if ! command -v debootstrap >/dev/null; then
				log "bench: installing debootstrap"
				apt-get install -y -q --no-install-recommends debootstrap >/dev/null 2>&1 ||
					{ apt-get update -qq && apt-get install -y -q --no-install-recommends debootstrap; } >/dev/null 2>&1 ||
					return 1
			fi
			log "bench: debootstrap --variant=minbase bookworm from $mirror (once; cached in $root)"
			rm -rf "$root"
			debootstrap --variant=minbase bookworm "$root" "$mirror" >"$B/debootstrap.log" 2>&1 || return 1
		fi
		tar_rootfs "$root" "$out"
		touch "$out/.complete"
	fi
	LAYERS[rootfs]=$out
	DESC[rootfs]="Debian bookworm minbase (debootstrap), 2 layers (/usr, rest)"
}

prepare_rootfs() {
	if [ "$quick" = 1 ]; then
		prepare_busybox
		NOTE[rootfs]="BENCH_QUICK=1: busybox base image instead of Debian minbase"
	elif ! prepare_debian; then
		log "bench: debootstrap failed (see $B/debootstrap.log); using the busybox base image instead"
		prepare_busybox
		NOTE[rootfs]="debootstrap failed (see $B/debootstrap.log): busybox base image used instead of Debian minbase"
	fi
	NL[rootfs]=2
}

# prepare_synth — the integration tests' generator (tests/integration/gen/big.sh)
# when it is there, with the big file appended to its top layer; else
# tests/bench/gen_big.sh.  Either way the result is layer0.tar … layer4.tar.
prepare_synth() {
	local gen=$top/tests/integration/gen/big.sh out stamp tmp i
	if [ "${BENCH_GEN:-}" != bench ] && [ -x "$gen" ]; then
		out=$B/synth-int-$nfiles-$big_mib
		stamp="$(md5sum <"$gen" | cut -d' ' -f1) $nfiles $big_mib"
		if [ ! -f "$out/.complete" ] || [ "$(cat "$out/.complete")" != "$stamp" ]; then
			log "bench: generating the synthetic set with $gen ($nfiles files, 5 layers)"
			rm -rf "$out"
			mkdir -p "$out"
			tmp=$(mktemp -d "$B/gen.XXXXXX")
			"$gen" "$nfiles" 5 "$tmp/int" >&2
			for i in 0 1 2 3 4; do
				mv "$tmp/int/$(sed -n "$((i + 1))p" "$tmp/int/layers")" "$out/layer$i.tar"
			done
			mkdir -p "$tmp/big/big"
			head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$tmp/big/big/blob.bin"
			tar -C "$tmp/big" --no-recursion --numeric-owner --owner=0 --group=0 --mtime=@1700000000 \
				-rf "$out/layer4.tar" big big/blob.bin
			rm -rf "$tmp"
			echo "$stamp" >"$out/.complete"
		fi
		DESC[synth]="synthetic (tests/integration/gen/big.sh): $nfiles files in 5 layers (rewrites, whiteouts, opaque dirs, hardlinks; most files one line, every 997th 64 KiB) + one $big_mib MiB file"
	else
		out=$B/synth-$nfiles-$big_mib
		log "bench: synthetic set: $nfiles files, $big_mib MiB big file (cached in $out)"
		"$top/tests/bench/gen_big.sh" "$out" "$nfiles" "$big_mib"
		DESC[synth]="synthetic (tests/bench/gen_big.sh): ~$nfiles files of 0-8 KiB in 5 layers (rewrites, whiteouts, an opaque dir, hardlinks, symlinks) + one $big_mib MiB file"
	fi
	LAYERS[synth]=$out
	NL[synth]=5
}

# unpack DS — the anchors' lower dirs: GNU tar, then OCI whiteouts converted
# to overlayfs form.  Cached; the time it took is kept for the table.
unpack() {
	local ds=$1 dir=$B/unpacked/$1 i t0 f d name key
	local -A opaque=()
	# Keyed by the conversion's version and the tars' names, sizes and mtimes:
	# regenerated data is unpacked again.
	key="v2 $(cd "${LAYERS[$ds]}" && stat -c '%n:%s:%Y' layer*.tar | tr '\n' ' ')"
	if [ ! -f "$dir/.complete" ] || [ "$(sed -n 2p "$dir/.complete")" != "${LAYERS[$ds]} $key" ]; then
		log "bench: unpacking $ds for the anchors"
		rm -rf "$dir"
		drop_caches
		t0=${EPOCHREALTIME/[.,]/}
		for ((i = 0; i < NL[$ds]; i++)); do
			mkdir -p "$dir/$i"
			tar -C "$dir/$i" --numeric-owner -xpf "${LAYERS[$ds]}/layer$i.tar"
			opaque=()
			while IFS= read -r -d '' f; do
				d=${f%/*}
				rm -f "$f"
				setfattr -n trusted.overlay.opaque -v y "$d"
				opaque[$d]=1
			done < <(find "$dir/$i" -name '.wh..wh..opq' -print0)
			# A whiteout next to an opaque marker hides nothing more; kernel
			# overlayfs would list it as a stray entry (an opaque dir of the top
			# layer is read as it is), so it is dropped rather than converted.
			while IFS= read -r -d '' f; do
				d=${f%/*} name=${f##*/.wh.}
				rm -f "$f"
				[ -n "${opaque[$d]:-}" ] || mknod "$d/$name" c 0 0
			done < <(find "$dir/$i" -name '.wh.*' -print0)
		done
		sync
		printf '%s\n%s\n' $((${EPOCHREALTIME/[.,]/} - t0)) "${LAYERS[$ds]} $key" >"$dir/.complete"
	fi
	R[$ds|prep|overlay]=$(sed -n 1p "$dir/.complete")
	R[$ds|prep|fuseovl]=${R[$ds|prep|overlay]}
	R[$ds|disk|overlay]=$(($(du -sk "$dir" | cut -f1) * 1024))
	R[$ds|disk|fuseovl]=${R[$ds|disk|overlay]}
	R[$ds|tars]=$(($(du -skc "${LAYERS[$ds]}"/layer*.tar | tail -n 1 | cut -f1) * 1024))
}

# index_build DS — layerfs's first mounts from an empty store: the index build.
index_build() {
	local ds=$1 t r all=()
	[ -z "${DEAD[$ds|layerfs]:-}" ] || return 0
	for ((r = 0; r < reps; r++)); do
		rm -rf "$LAYERFS_ROOT"
		drop_caches
		timed t do_mount layerfs "$ds" || {
			fail "$ds" layerfs "first mount (index build)"
			return 0
		}
		all+=("$t")
		do_umount layerfs || {
			fail "$ds" layerfs umount
			return 0
		}
	done
	R[$ds|prep|layerfs]=$(median "${all[@]}")
	R[$ds|disk|layerfs]=$(($(du -sk "$LAYERFS_ROOT" | cut -f1) * 1024))
}

# --- report ---------------------------------------------------------------------------------
fmt() { # fmt KIND VALUE
	local v=$2
	case $v in '' | *[!0-9]*)
		echo "${v:--}"
		return
		;;
	esac
	case $1 in
	us) awk -v v="$v" 'BEGIN { if (v >= 10e6) printf "%.1f s", v / 1e6; else if (v >= 1e6) printf "%.2f s", v / 1e6; else printf "%.1f ms", v / 1e3 }' ;;
	kb) awk -v v="$v" 'BEGIN { printf "%.1f MiB", v / 1024 }' ;;
	bytes) awk -v v="$v" 'BEGIN { if (v >= 1073741824) printf "%.2f GiB", v / 1073741824; else printf "%.1f MiB", v / 1048576 }' ;;
	esac
}

ratio() {
	case "$1" in '' | *[!0-9]*) echo "-"; return ;; esac
	case "$2" in '' | *[!0-9]* | 0) echo "-"; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'
}

row() { # row DS METRIC KIND LABEL
	local ds=$1 k=$2 kind=$3 label=$4 s cells=() v
	for s in "${SYSTEMS[@]}"; do
		v=${R[$ds|$k|$s]:-}
		if [ -n "${DEAD[$ds|$s]:-}" ] && [ -z "$v" ]; then v="FAIL"; fi
		cells+=("$(fmt "$kind" "$v")")
	done
	printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "${cells[@]}" \
		"$(ratio "${R[$ds|$k|layerfs]:-}" "${R[$ds|$k|overlay]:-}")" \
		"$(ratio "${R[$ds|$k|layerfs]:-}" "${R[$ds|$k|fuseovl]:-}")"
}

report() {
	local ds=$1
	echo
	echo "### $ds: ${DESC[$ds]}"
	echo
	echo "${R[$ds|entries]:-?} entries in the merged tree; $(fmt bytes "${R[$ds|tars]}") of layer tars; median of $reps cold run(s) unless noted."
	[ -z "${NOTE[$ds]:-}" ] || echo "Note: ${NOTE[$ds]}"
	echo
	echo "| metric | kernel overlay | fuse-overlayfs | layerfs | layerfs/overlay | layerfs/fuse-overlayfs |"
	echo "|---|---:|---:|---:|---:|---:|"
	row "$ds" prep us "prepare: unpack+convert (anchors) / index build in 1st mount (layerfs)"
	row "$ds" disk bytes "extra disk: unpacked tree / index store"
	row "$ds" mount us "mount → ready (indexes cached)"
	row "$ds" find us "find MNT, cold"
	row "$ds" find.warm us "find MNT, warm (same mount again)"
	row "$ds" stat us "stat every entry (find -printf '%s %m %u …'), cold"
	row "$ds" read us "read every file (find -type f -print0, xargs -0 cat), cold"
	if [ "$ds" = synth ]; then
		row "$ds" big us "read one $big_mib MiB file (dd bs=1M), cold"
	fi
	row "$ds" rss kb "daemon VmRSS after read-all"
	row "$ds" hwm kb "daemon VmHWM (peak RSS)"
	row "$ds" same text "tree (names, types, modes, owners, sizes, links) = kernel overlay"
	local s
	for s in "${SYSTEMS[@]}"; do
		[ -z "${DEAD[$ds|$s]:-}" ] || echo "- ${TITLE[$s]}: ${DEAD[$ds|$s]}; its empty cells were not measured"
	done
}

# --- main -------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (kernel overlayfs mounts and drop_caches); run: sudo make bench"
[ -e /dev/fuse ] || die "/dev/fuse is missing; load the fuse module (modprobe fuse)"
command -v fuse-overlayfs >/dev/null || die "fuse-overlayfs is missing; run: apt-get install fuse-overlayfs"
command -v setfattr >/dev/null || die "setfattr is missing; run: apt-get install attr"
have_layerfs=1
if [ ! -x "$LAYERFS" ]; then
	log "bench: $LAYERFS not built; measuring the anchors only (run 'make' first)"
	have_layerfs=0
fi
mkdir -p "$B/mnt"
for s in "${SYSTEMS[@]}"; do
	m=$(mnt_of "$s")
	force_umount "$m" || die "$m is mounted from an earlier run and could not be unmounted"
	mkdir -p "$m"
done
export LAYERFS_ROOT=$B/store
load0=$(cut -d' ' -f1 /proc/loadavg)

for ds in $datasets; do
	case $ds in
	rootfs) prepare_rootfs ;;
	synth) prepare_synth ;;
	*) die "unknown dataset '$ds' in BENCH_DATASETS (known: rootfs synth)" ;;
	esac
	unpack "$ds"
	[ "$have_layerfs" = 1 ] || DEAD[$ds|layerfs]="not built ($LAYERFS)"
	log "bench: $ds: index build"
	index_build "$ds"
	log "bench: $ds: verify trees"
	for s in "${SYSTEMS[@]}"; do verify "$ds" "$s"; done
	for s in "${SYSTEMS[@]}"; do
		log "bench: $ds: ${TITLE[$s]}"
		measure_mount "$ds" "$s"
		measure "$ds" "$s" find run_find warm
		measure "$ds" "$s" stat run_stat
		measure "$ds" "$s" read run_read
		[ "$ds" != synth ] || measure "$ds" "$s" big run_big
	done
done

summary() {
	echo
	echo "## layerfs benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -sr), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
	echo "layerfs: $([ "$have_layerfs" = 1 ] && "$LAYERFS" --version || echo 'not built'); fuse-overlayfs $(fuse-overlayfs --version 2>&1 | sed -n 's/^fuse-overlayfs: //p'); $(tar --version | head -n 1); load average before: $load0"
	echo "Ratios are layerfs time (or size) divided by the anchor's: below 1 means layerfs is faster (smaller)."
	for ds in $datasets; do report "$ds"; done
}
summary | tee "$B/last-run.md"
log "bench: this table is also in $B/last-run.md"
exit "$status"
