#!/bin/bash
# write.sh — `make bench` (after run.sh): the write path of layerfs next to its
# anchors, on the same data, in one run, with ratios.  A measurement script,
# never a pass/fail test (it does check that every system got the right result).
#
#   kernel overlay   mount -t overlay -o lowerdir=…,upperdir=U,workdir=W
#                    (redirect_dir=off,metacopy=off, so that the upper is self-contained)
#   fuse-overlayfs   fuse-overlayfs -o lowerdir=…,upperdir=U,workdir=W
#   layerfs          layerfs mount --layer A.tar … --upper U --work W, straight from the tars
#
# The anchors' lower dirs are the same tar layers unpacked with GNU tar
# (whiteouts → char 0/0 devices, opaque markers → trusted.overlay.opaque=y).
# Every measurement gets a fresh mount with a fresh empty upper and work dir,
# all on one file system (build/bench/wscratch, or a tmpfs with
# BENCH_UPPER=tmpfs, for all three alike); the page/dentry/inode caches are
# dropped (sync; echo 3 > /proc/sys/vm/drop_caches) right before each timed
# command.  Times are wall-clock, median of BENCH_REPS; they do not include
# later writeback, except for the dd row (conv=fsync).  Systems are
# interleaved (rep → operation → system) so that drift hits all three alike.
#
# Operations:
#   create   10k small files in a new dir: xargs -n 500 over a name list, each
#            batch one `tee` writing a 29-byte line to 500 new files
#   dd       write and fsync a 1 GiB file (dd bs=1M conv=fsync)
#   copyup   append 1 byte to a 256 MiB file of the lower layers
#   untar    tar -x of a generated source tree (~20k files in ~2k dirs, ~70 MiB)
#   rm       rm -rf of a lower tree of ~22k entries (with a whiteout, an
#            opaque dir and an added file in an upper lower layer)
#   commit   of each system's upper after the untar: `layerfs commit --upper U
#            -o L.tar` next to `tar -C U -cf /dev/null .` (GNU tar does not read
#            file data when writing to /dev/null) and `tar -C U -cf FILE .`
#            (FILE on the upper's file system)
#
# Data (generated once, cached under build/bench/write-data-*):
#   layer0.tar  tree/gNNN/dNNNNN/fK.txt (BENCH_TREE files, 10 per dir)
#   layer1.tar  big/blob.bin (BENCH_COPYUP_MIB MiB of random bytes)
#   layer2.tar  a whiteout, an opaque dir and new files inside tree/
#   src.tar     src/gNNN/dNNNNN/fK.c (BENCH_SRC files, 10 per dir, 1-97 lines)
#
# Environment:
#   BENCH_QUICK=1      smoke test: 1000 small files, 64 MiB dd, 32 MiB copy-up,
#                      2000-file trees, 1 repetition
#   BENCH_REPS=N       repetitions (default 3; quick 1)
#   BENCH_SMALL, BENCH_DD_MIB, BENCH_COPYUP_MIB, BENCH_SRC, BENCH_TREE   sizes
#                      (default 10000, 1024, 256, 20000, 20000)
#   BENCH_UPPER=tmpfs  uppers, work dirs and outputs on a tmpfs (default: disk,
#                      under BENCH_DIR)
#   BENCH_DIR          cache and scratch dir (default build/bench)
#   LAYERFS            the binary (default ./layerfs); it is copied at start,
#                      so a rebuild during the run does not mix binaries
#   BENCH_TIMEOUT      seconds before one timed command counts as hung (1200)
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
	nsmall=${BENCH_SMALL:-1000}
	dd_mib=${BENCH_DD_MIB:-64}
	cu_mib=${BENCH_COPYUP_MIB:-32}
	nsrc=${BENCH_SRC:-2000}
	ntree=${BENCH_TREE:-2000}
else
	reps=${BENCH_REPS:-3}
	nsmall=${BENCH_SMALL:-10000}
	dd_mib=${BENCH_DD_MIB:-1024}
	cu_mib=${BENCH_COPYUP_MIB:-256}
	nsrc=${BENCH_SRC:-20000}
	ntree=${BENCH_TREE:-20000}
fi
upper_fs=${BENCH_UPPER:-disk}
tmo=${BENCH_TIMEOUT:-1200}
if [ "$ntree" -lt 40 ] || [ "$nsrc" -lt 10 ]; then
	echo "write.sh: BENCH_TREE must be >= 40, BENCH_SRC >= 10" >&2
	exit 2
fi

SYSTEMS=(overlay fuseovl layerfs)
read -r -a OPS <<<"${BENCH_OPS:-create dd copyup untar rm}" # BENCH_OPS: a subset, for debugging
declare -A TITLE=([overlay]="kernel overlay" [fuseovl]="fuse-overlayfs" [layerfs]="layerfs")
declare -A T=()   # T[op|sys] = space-separated microseconds, one per rep
declare -A BAD=() # BAD[op|sys] = first problem seen (failed command or wrong result)
declare -A REF=() # reference values of the generated data
status=0

scratch=$B/wscratch # uppers, work dirs, outputs
D=""                # data dir, set by prepare
LFS=""              # the snapshot of $LAYERFS
LARGS=()            # --layer A.tar --layer B.tar ...
LOWERS=""           # the unpacked layers, uppermost first, ':'-joined
declare -A PID=()   # FUSE daemon of each mount
NOTES=()            # remarks for the report

log() { printf '%s\n' "$*" >&2; }
die() {
	log "write.sh: $*"
	exit 1
}

# --- mounts ---------------------------------------------------------------------------
mnt_of() { echo "$B/mnt/w-$1"; }
upper_of() { echo "$scratch/$1/upper"; }
work_of() { echo "$scratch/$1/work"; }

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# wait_gone PID — up to 10 s for a daemon to exit after its unmount; then it
# is ended (it is one this script started).
wait_gone() {
	local pid=$1 end=$((${EPOCHREALTIME/[.,]/} + 10000000))
	[ -n "$pid" ] || return 0
	while [ -e "/proc/$pid" ] && [ "${EPOCHREALTIME/[.,]/}" -lt "$end" ]; do sleep 0.01; done
	if [ -e "/proc/$pid" ]; then
		log "write.sh: daemon $pid still running 10 s after its unmount; killing it"
		kill "$pid" 2>/dev/null || true
		return 1
	fi
}

force_umount() {
	local sys=$1 m
	m=$(mnt_of "$sys")
	if is_mounted "$m"; then
		case $sys in
		overlay) umount "$m" 2>/dev/null || umount -l "$m" ;;
		layerfs) "${LFS:-$LAYERFS}" umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
		*) fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
		esac
	fi
	wait_gone "${PID[$sys]:-}" || true
	PID[$sys]=""
}

cleanup() {
	local rc=$? s
	trap - INT TERM
	for s in "${SYSTEMS[@]}"; do
		force_umount "$s" || log "write.sh: could not unmount $(mnt_of "$s")"
	done
	if [ "$upper_fs" = tmpfs ] && is_mounted "$scratch"; then
		umount "$scratch" 2>/dev/null || umount -l "$scratch" || log "write.sh: could not unmount $scratch"
	fi
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

wait_ready() {
	local end=$((${EPOCHREALTIME/[.,]/} + 30000000))
	until is_mounted "$1" && stat "$1/." >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/[.,]/}" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# fresh_mount SYS — empty upper and work dir, mounted and ready.
fresh_mount() {
	local sys=$1 m u w
	m=$(mnt_of "$sys") u=$(upper_of "$sys") w=$(work_of "$sys")
	rm -rf "${scratch:?}/$sys"
	mkdir -p "$u" "$w"
	case $sys in
	overlay) mount -t overlay overlay -o "lowerdir=$LOWERS,upperdir=$u,workdir=$w,redirect_dir=off,metacopy=off" "$m" || return 1 ;;
	fuseovl) fuse-overlayfs -o "lowerdir=$LOWERS,upperdir=$u,workdir=$w" "$m" 2>>"$B/write-fuse-overlayfs.log" || return 1 ;;
	layerfs) "$LFS" mount "${LARGS[@]}" --upper "$u" --work "$w" "$m" || return 1 ;;
	esac
	wait_ready "$m" || return 1
	PID[$sys]=$(daemon_pid "$sys" "$m" || true)
}

do_umount() {
	local sys=$1 m
	m=$(mnt_of "$sys")
	case $sys in
	overlay) umount "$m" ;;
	fuseovl) fusermount3 -u "$m" ;;
	layerfs) "$LFS" umount "$m" ;;
	esac
	# Let the daemon exit so it does not compete with the next measurement.
	wait_gone "${PID[$sys]:-}" || true
	PID[$sys]=""
	! is_mounted "$m"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# --- timing -----------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

timed() { # timed VAR CMD... — elapsed microseconds of CMD in VAR
	local -n _out=$1
	shift
	local t0=${EPOCHREALTIME/[.,]/} rc=0
	"$@" || rc=$?
	_out=$((${EPOCHREALTIME/[.,]/} - t0))
	return "$rc"
}

bad() { # bad OP SYS WHAT — record the first problem of OP on SYS
	log "write.sh: ${TITLE[$2]}: $1: $3"
	[ -n "${BAD[$1|$2]:-}" ] || BAD[$1|$2]=$3
	[ "$2" != layerfs ] && [ "$1" != commit ] || status=1
}

# --- the timed operations (argument: the mount point) -------------------------------------
# timeout --foreground keeps each command in the script's process group, so
# that Ctrl-C reaches it at once and the cleanup trap runs without waiting.
# shellcheck disable=SC2016 # "$@" is for the inner sh
op_create() {
	mkdir "$1/small" &&
		(cd "$1/small" && timeout --foreground "$tmo" xargs -a "$D/small.list" -n 500 \
			sh -c 'printf "a small file, written by tee\n" | tee -- "$@" >/dev/null' sh)
}
op_dd() { timeout --foreground "$tmo" dd if=/dev/zero of="$1/big.out" bs=1M count="$dd_mib" conv=fsync status=none; }
# shellcheck disable=SC2016
op_copyup() { timeout --foreground "$tmo" sh -c 'printf x >>"$1"' sh "$1/big/blob.bin"; }
op_untar() { timeout --foreground "$tmo" tar -C "$1" -xf "$D/src.tar"; }
op_rm() { timeout --foreground "$tmo" rm -rf "$1/tree"; }

# --- checks: on the mount right after the timed command, then on the upper ---------------
# sample_hash DIR TOP — one sha256 over every 97th file (sorted) under DIR/TOP.
sample_hash() {
	(cd "$1" && find "$2" -type f | sort | awk 'NR % 97 == 1' | xargs -r sha256sum | sha256sum | cut -c1-16)
}

check_create() { # check_create SYS MNT - (on the mount) | check_create SYS MNT UPPER
	local n d=$2/small
	[ "$3" = - ] || d=$3/small
	n=$(find "$d" -type f -name 'f*' | wc -l)
	[ "$n" = "$nsmall" ] || bad create "$1" "$n files in $d, want $nsmall"
	[ "$(cat "$d/f00001")" = "a small file, written by tee" ] || bad create "$1" "wrong content in $d/f00001"
}

check_dd() {
	local want=$((dd_mib * 1048576)) f=$2/big.out
	[ "$3" = - ] || f=$3/big.out
	[ "$(stat -c %s "$f")" = "$want" ] || bad dd "$1" "size of $f is $(stat -c %s "$f"), want $want"
	[ "$3" = - ] || cmp -s -n "$want" /dev/zero "$f" || bad dd "$1" "$f is not all zeros"
}

check_copyup() {
	local want=$((cu_mib * 1048576 + 1)) f=$2/big/blob.bin
	[ "$3" = - ] || f=$3/big/blob.bin
	if [ "$(stat -c %s "$f")" != "$want" ]; then
		bad copyup "$1" "size of $f is $(stat -c %s "$f"), want $want"
		return 0
	fi
	[ "$(tail -c 1 "$f")" = x ] || bad copyup "$1" "last byte of $f is not the appended x"
	[ "$3" = - ] || cmp -s -n $((want - 1)) "$D/unpacked/1/big/blob.bin" "$f" ||
		bad copyup "$1" "copied-up data in $f differs from the lower file"
}

check_untar() {
	[ "$3" = - ] || return 0 # the upper is checked by the commit
	local nf nd h
	nf=$(find "$2/src" -type f | wc -l)
	nd=$(find "$2/src" -type d | wc -l)
	if [ "$nf" != "${REF[src_files]}" ] || [ "$nd" != "${REF[src_dirs]}" ]; then
		bad untar "$1" "$nf files/$nd dirs in the mount, want ${REF[src_files]}/${REF[src_dirs]}"
	fi
	h=$(sample_hash "$2" src)
	[ "$h" = "${REF[src_sample]}" ] || bad untar "$1" "sha256 of a sample of files: $h, want ${REF[src_sample]}"
}

check_rm() {
	if [ "$3" = - ]; then
		if [ -e "$2/tree" ] || [ -L "$2/tree" ]; then bad rm "$1" "tree still visible after rm -rf"; fi
		[ -f "$2/big/blob.bin" ] || bad rm "$1" "big/blob.bin missing after rm -rf tree"
		find "$2" -mindepth 1 -maxdepth 1 -name tree | grep -q . && bad rm "$1" "tree still listed in the root dir"
		return 0
	fi
	if [ ! -c "$3/tree" ] || [ "$(stat -c %t:%T "$3/tree")" != 0:0 ]; then
		bad rm "$1" "no char 0/0 whiteout for tree in the upper"
	fi
}

# --- one measurement ---------------------------------------------------------------------
# run_op OP SYS — fresh mount, drop caches, time OP, check, unmount, check the upper.
run_op() {
	local op=$1 sys=$2 m u t
	m=$(mnt_of "$sys") u=$(upper_of "$sys")
	if ! fresh_mount "$sys"; then
		bad "$op" "$sys" "mount failed"
		force_umount "$sys"
		return 0
	fi
	drop_caches
	if timed t "op_$op" "$m" 2>"$B/write-op.err"; then
		T[$op|$sys]+="$t "
		"check_$op" "$sys" "$m" - 2>>"$B/write-op.err" || true
	else
		bad "$op" "$sys" "command failed: $(head -n 2 "$B/write-op.err" | tr '\n' ' ')"
	fi
	[ -s "$B/write-op.err" ] && [ -z "${BAD[$op|$sys]:-}" ] && bad "$op" "$sys" "stderr: $(head -n 2 "$B/write-op.err" | tr '\n' ' ')"
	if ! do_umount "$sys"; then
		bad "$op" "$sys" "unmount failed"
		force_umount "$sys"
		return 0
	fi
	"check_$op" "$sys" "$m" "$u" || true
	[ "$op" != untar ] || commit_measure "$sys"
}

# tar_listing TAR — "mode owner size date time name" per entry, "./" and "/" stripped.
tar_listing() {
	tar --numeric-owner -tvf "$1" | awk '{ n = $6; sub(/^\.\//, "", n); sub(/\/$/, "", n)
		if (n != "" && n != ".") print n, $1, $2, $3, $4, $5 }' | sort
}

# commit_measure SYS — the upper SYS left after the untar: tar to /dev/null,
# tar to a file, layerfs commit to a file (outputs on the upper's file system).
commit_measure() {
	local sys=$1 u t out=$scratch/out dups nopq
	u=$(upper_of "$sys")
	rm -f "$out".*
	drop_caches
	if timed t timeout --foreground "$tmo" tar -C "$u" -cf /dev/null .; then T[tarnull|$sys]+="$t "; else bad tarnull "$sys" "tar -cf /dev/null failed"; fi
	drop_caches
	if timed t timeout --foreground "$tmo" tar -C "$u" -cf "$out.tar" .; then T[tarfile|$sys]+="$t "; else bad tarfile "$sys" "tar -cf FILE failed"; fi
	rm -f "$out.tar"
	drop_caches
	if timed t timeout --foreground "$tmo" "$LFS" commit --upper "$u" -o "$out.layer.tar" 2>"$B/write-op.err"; then
		T[commit|$sys]+="$t "
		[ ! -s "$B/write-op.err" ] || bad commit "$sys" "stderr: $(head -n 2 "$B/write-op.err" | tr '\n' ' ')"
		tar_listing "$out.layer.tar" >"$B/write-commit.$sys.list"
		# Without the lower layers, commit cannot tell that a new dir hides
		# nothing: opaque markers on new dirs are redundant, not wrong.
		dups=$(cut -d' ' -f1 "$B/write-commit.$sys.list" | uniq -d | wc -l)
		[ "$dups" = 0 ] || bad commit "$sys" "$dups names twice in the layer, e.g. $(cut -d' ' -f1 "$B/write-commit.$sys.list" | uniq -d | head -n 1)"
		grep -v '/\.wh\.\.wh\.\.opq ' "$B/write-commit.$sys.list" | uniq | cmp -s - "$D/src.list" ||
			bad commit "$sys" "layer differs from src.tar: diff $D/src.list $B/write-commit.$sys.list"
		nopq=$(grep -c '/\.wh\.\.wh\.\.opq ' "$B/write-commit.$sys.list" || true)
		[ "$nopq" = 0 ] || NOTES+=("commit of the ${TITLE[$sys]} upper: $nopq opaque markers (.wh..wh..opq) for new dirs (redundant; the check ignores them)")
		REF[digest|$sys]=$(sha256sum <"$out.layer.tar" | cut -c1-16)
	else
		bad commit "$sys" "layerfs commit failed: $(head -n 2 "$B/write-op.err" | tr '\n' ' ')"
	fi
	rm -f "$out".*
}

# --- data --------------------------------------------------------------------------------
# gen_tree DIR TOP N EXT LINES — N files DIR/TOP/gNNN/dNNNNN/fK.EXT, 10 per dir,
# 20 dirs per group; file i has 1 line, or with LINES=var 1 + (i*7919)%97 lines.
gen_tree() {
	local dir=$1 sub=$2 n=$3 ext=$4 lines=$5
	awk -v top="$dir/$sub" -v n="$n" 'BEGIN {
		for (d = 0; d < int((n + 9) / 10); d++) printf "%s/g%03d/d%05d\n", top, int(d / 20), d }' |
		xargs mkdir -p
	awk -v top="$dir/$sub" -v sub_="$sub" -v n="$n" -v ext="$ext" -v var="$lines" 'BEGIN {
		for (i = 0; i < n; i++) {
			d = int(i / 10)
			f = sprintf("%s/g%03d/d%05d/f%d.%s", top, int(d / 20), d, i % 10, ext)
			nl = var == "var" ? 1 + (i * 7919) % 97 : 1
			for (j = 0; j < nl; j++)
				printf "%s line %d of file %d: the quick brown fox jumps over the lazy dog\n", sub_, j, i > f
			close(f)
		} }'
}

mktar() { # mktar DIR OUT [NAMES...] — deterministic GNU tar
	local dir=$1 out=$2
	shift 2
	tar -C "$dir" --sort=name --format=gnu --numeric-owner --owner=0 --group=0 \
		--mtime=@1700000000 --mode=go-w -cf "$out" "${@:-.}"
}

prepare() {
	local stamp tmp i d f name
	local -A opaque=()
	D=$B/write-data-$ntree-$cu_mib-$nsrc
	stamp="write.sh data v1 tree=$ntree copyup=$cu_mib src=$nsrc small=$nsmall"
	if [ ! -f "$D/.complete" ] || [ "$(cat "$D/.complete")" != "$stamp" ]; then
		log "write.sh: generating the data in $D (once)"
		rm -rf "$D"
		mkdir -p "$D"
		tmp=$(mktemp -d "$B/wgen.XXXXXX")
		mkdir -p "$tmp"/{0,1,2,src}
		gen_tree "$tmp/0" tree "$ntree" txt 1
		mktar "$tmp/0" "$D/layer0.tar"
		mkdir "$tmp/1/big"
		head -c $((cu_mib * 1048576)) /dev/urandom >"$tmp/1/big/blob.bin"
		mktar "$tmp/1" "$D/layer1.tar"
		# layer2: a whiteout, an added file, an opaque dir with a new child.
		mkdir -p "$tmp/2/tree/g000/d00001" "$tmp/2/tree/g000/d00002" "$tmp/2/tree/g000/d00003"
		: >"$tmp/2/tree/g000/d00001/.wh.f1.txt"
		echo extra >"$tmp/2/tree/g000/d00002/extra.txt"
		: >"$tmp/2/tree/g000/d00003/.wh..wh..opq"
		echo new >"$tmp/2/tree/g000/d00003/new.txt"
		mktar "$tmp/2" "$D/layer2.tar"
		gen_tree "$tmp/src" src "$nsrc" c var
		mktar "$tmp/src" "$D/src.tar" src
		tar_listing "$D/src.tar" >"$D/src.list"
		{
			echo "src_files=$(find "$tmp/src/src" -type f | wc -l)"
			echo "src_dirs=$(find "$tmp/src/src" -type d | wc -l)"
			echo "src_sample=$(sample_hash "$tmp/src" src)"
			echo "src_bytes=$(du -sb "$tmp/src/src" | cut -f1)"
			# entries under tree/ in the merged view: minus 1 whited out,
			# minus the 10 hidden by the opaque dir, plus 2 new
			echo "tree_entries=$(($(find "$tmp/0/tree" | wc -l) - 1 - 10 + 2))"
		} >"$D/ref"
		seq -f 'f%05g' "$nsmall" >"$D/small.list"
		# The anchors' lowers: GNU tar, whiteouts converted to overlayfs form.
		for i in 0 1 2; do
			mkdir -p "$D/unpacked/$i"
			tar -C "$D/unpacked/$i" --numeric-owner -xpf "$D/layer$i.tar"
			opaque=()
			while IFS= read -r -d '' f; do
				d=${f%/*}
				rm -f "$f"
				setfattr -n trusted.overlay.opaque -v y "$d"
				opaque[$d]=1
			done < <(find "$D/unpacked/$i" -name '.wh..wh..opq' -print0)
			while IFS= read -r -d '' f; do
				d=${f%/*} name=${f##*/.wh.}
				rm -f "$f"
				[ -n "${opaque[$d]:-}" ] || mknod "$d/$name" c 0 0
			done < <(find "$D/unpacked/$i" -name '.wh.*' -print0)
		done
		rm -rf "$tmp"
		sync
		echo "$stamp" >"$D/.complete"
	fi
	while IFS='=' read -r name f; do REF[$name]=$f; done <"$D/ref"
	LARGS=()
	for i in 0 1 2; do LARGS+=(--layer "$D/layer$i.tar"); done
	LOWERS="$D/unpacked/2:$D/unpacked/1:$D/unpacked/0"
}

# --- report ------------------------------------------------------------------------------
fmt_us() {
	case $1 in '' | *[!0-9]*)
		echo "${1:--}"
		return
		;;
	esac
	awk -v v="$1" 'BEGIN { if (v >= 10e6) printf "%.1f s", v / 1e6; else if (v >= 1e6) printf "%.2f s", v / 1e6; else printf "%.1f ms", v / 1e3 }'
}

ratio() {
	case "$1" in '' | *[!0-9]*) echo "-"; return ;; esac
	case "$2" in '' | *[!0-9]* | 0) echo "-"; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'
}

med() { # med OP SYS — median in µs, or FAIL
	local v=${T[$1|$2]:-}
	if [ -n "${BAD[$1|$2]:-}" ]; then
		# shellcheck disable=SC2086 # word splitting of the list is intended
		[ -n "$v" ] && echo "$(median $v) (WRONG)" || echo FAIL
		return 0
	fi
	# shellcheck disable=SC2086
	[ -z "$v" ] || median $v
}

num() { # the number in a med result, or nothing
	local v=${1% (WRONG)}
	case $v in '' | *[!0-9]*) echo "" ;; *) echo "$v" ;; esac
}

row() { # row OP LABEL
	local op=$1 s v cells=() a b c
	for s in "${SYSTEMS[@]}"; do
		v=$(med "$op" "$s")
		case $v in *' (WRONG)') cells+=("$(fmt_us "${v% (WRONG)}") (wrong result)") ;; *) cells+=("$(fmt_us "$v")") ;; esac
	done
	a=$(num "$(med "$op" overlay)") b=$(num "$(med "$op" fuseovl)") c=$(num "$(med "$op" layerfs)")
	printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "${cells[@]}" "$(ratio "$c" "$a")" "$(ratio "$c" "$b")"
}

commit_row() { # commit_row SYS
	local s=$1 n f c
	n=$(num "$(med tarnull "$s")") f=$(num "$(med tarfile "$s")") c=$(med commit "$s")
	case $c in *' (WRONG)') c="$(fmt_us "${c% (WRONG)}") (wrong result)" ;; *) c=$(fmt_us "$c") ;; esac
	printf '| upper of %s | %s | %s | %s | %s | %s |\n' "${TITLE[$s]}" "$(fmt_us "$n")" "$(fmt_us "$f")" "$c" \
		"$(ratio "$(num "$(med commit "$s")")" "$n")" "$(ratio "$(num "$(med commit "$s")")" "$f")"
}

summary() {
	local s op fsdesc sizes digests=() same
	fsdesc="$(findmnt -n -o FSTYPE -T "$scratch") ($(findmnt -n -o SOURCE -T "$scratch"))"
	sizes="lower: 3 tar layers, $(du -sbc "$D"/layer?.tar | awk 'END { printf "%.0f MiB", $1 / 1048576 }') (tree/ of ${REF[tree_entries]} entries with a whiteout and an opaque dir; big/blob.bin $cu_mib MiB)"
	sizes+="; src.tar ${REF[src_files]} files in ${REF[src_dirs]} dirs, $(awk -v b="${REF[src_bytes]}" 'BEGIN { printf "%.0f MiB", b / 1048576 }')"
	echo
	echo "## layerfs write benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -sr), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average before: $load0"
	echo "layerfs: $("$LFS" --version) (sha256 ${lfs_sum:0:12}); fuse-overlayfs $(fuse-overlayfs --version 2>&1 | sed -n 's/^fuse-overlayfs: //p'); $(tar --version | head -n 1)"
	echo "Data: $sizes. Uppers, work dirs and outputs: $fsdesc at $scratch, fresh and empty for every measurement; anchors' lowers unpacked on $(findmnt -n -o FSTYPE -T "$D"). Caches dropped before each timed command; median of $reps run(s); times exclude later writeback except dd (conv=fsync)."
	echo "Ratios: layerfs time divided by the anchor's (below 1: layerfs is faster)."
	echo
	echo "| operation | kernel overlay | fuse-overlayfs | layerfs | layerfs/overlay | layerfs/fuse-overlayfs |"
	echo "|---|---:|---:|---:|---:|---:|"
	row create "1. create $nsmall small files (xargs -n 500 tee)"
	row dd "2. write + fsync a $dd_mib MiB file (dd bs=1M conv=fsync)"
	row copyup "3. copy-up: append 1 byte to a $cu_mib MiB lower file"
	row untar "4. untar ${REF[src_files]} files / ${REF[src_dirs]} dirs (tar -x)"
	row rm "5. rm -rf a lower tree of ${REF[tree_entries]} entries"
	for s in "${SYSTEMS[@]}"; do digests+=("${REF[digest|$s]:-?}"); done
	same=no
	[ "${digests[0]}" = "${digests[1]}" ] && [ "${digests[1]}" = "${digests[2]}" ] && [ "${digests[0]}" != "?" ] && same=yes
	echo
	echo "6. The upper left by step 4 (${REF[src_files]} files), turned into a tar; output on the upper's file system."
	echo
	echo "| upper | tar -cf /dev/null | tar -cf FILE | layerfs commit -o FILE | commit/tar-null | commit/tar-file |"
	echo "|---|---:|---:|---:|---:|---:|"
	for s in "${SYSTEMS[@]}"; do commit_row "$s"; done
	echo
	echo "GNU tar skips reading file data when the archive is /dev/null. The commit's entries (name, mode, owner, size, mtime) match src.tar for: $(for s in "${SYSTEMS[@]}"; do [ -z "${BAD[commit|$s]:-}" ] && [ -n "${REF[digest|$s]:-}" ] && printf '%s; ' "${TITLE[$s]}"; done)same layer digest from all three uppers: $same (sha256 ${digests[*]}, in column order)."
	echo
	local any=0
	for op in "${OPS[@]}" tarnull tarfile commit; do
		for s in "${SYSTEMS[@]}"; do
			if [ -n "${BAD[$op|$s]:-}" ]; then
				[ "$any" = 1 ] || echo "Problems:"
				any=1
				if [ "$op" = commit ]; then
					echo "- layerfs commit of the ${TITLE[$s]} upper: ${BAD[$op|$s]}"
				else
					echo "- ${TITLE[$s]}, $op: ${BAD[$op|$s]}"
				fi
			fi
		done
	done
	[ "$any" = 1 ] || echo "Checks: every system gave the expected result for every operation (file counts, contents, sample sha256, whiteouts, copied-up data, commit entries)."
	local n
	for n in "${NOTES[@]}"; do echo "- note: $n"; done | sort -u
	[ -z "$rebuilt" ] || echo "Note: $LAYERFS was rebuilt during the run; these numbers are for the binary copied at start (sha256 ${lfs_sum:0:12})."
}

# --- main --------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (kernel overlayfs mounts and drop_caches); run: sudo make bench"
[ -e /dev/fuse ] || die "/dev/fuse is missing; load the fuse module (modprobe fuse)"
command -v fuse-overlayfs >/dev/null || die "fuse-overlayfs is missing; run: apt-get install fuse-overlayfs"
command -v setfattr >/dev/null || die "setfattr is missing; run: apt-get install attr"
[ -x "$LAYERFS" ] || die "$LAYERFS is not built; run 'make' first"
case $upper_fs in disk | tmpfs) ;; *) die "BENCH_UPPER must be disk or tmpfs" ;; esac

mkdir -p "$B/mnt" "$B/write-bin" "$scratch"
# A snapshot of the binary: a rebuild during the run must not mix two builds.
cp "$LAYERFS" "$B/write-bin/layerfs.new"
mv "$B/write-bin/layerfs.new" "$B/write-bin/layerfs"
LFS=$B/write-bin/layerfs
"$LFS" --version >/dev/null || die "$LAYERFS does not run (being rebuilt?)"
lfs_sum=$(sha256sum <"$LFS" | cut -d' ' -f1)
rebuilt=""

for s in "${SYSTEMS[@]}"; do
	force_umount "$s" || die "$(mnt_of "$s") is mounted from an earlier run and could not be unmounted"
	mkdir -p "$(mnt_of "$s")"
done
if [ "$upper_fs" = tmpfs ]; then
	is_mounted "$scratch" || mount -t tmpfs -o size=$((dd_mib + 2 * cu_mib + 1024))m write-bench "$scratch"
fi
export LAYERFS_ROOT=$B/write-store
load0=$(cut -d' ' -f1 /proc/loadavg)

prepare
# layerfs builds its indexes on the first mount: once, untimed.
"$LFS" mount --read-only "${LARGS[@]}" "$(mnt_of layerfs)" || die "layerfs cannot mount the layers"
do_umount layerfs || die "layerfs umount failed"

for ((r = 1; r <= reps; r++)); do
	for op in "${OPS[@]}"; do
		for s in "${SYSTEMS[@]}"; do
			log "write.sh: rep $r/$reps: $op: ${TITLE[$s]}"
			run_op "$op" "$s"
		done
	done
done
rm -rf "${scratch:?}"/overlay "${scratch:?}"/fuseovl "${scratch:?}"/layerfs

[ "$(sha256sum <"$LAYERFS" | cut -d' ' -f1)" = "$lfs_sum" ] || rebuilt=yes
# Every sample, for a look at the spread behind the medians.
for op in "${OPS[@]}" tarnull tarfile commit; do
	for s in "${SYSTEMS[@]}"; do printf '%s\t%s\t%s\n' "$op" "$s" "${T[$op|$s]:-}"; done
done >"$B/write-last-run.samples.tsv"
summary | tee "$B/write-last-run.md"
log "write.sh: this table is also in $B/write-last-run.md (every sample, in µs: $B/write-last-run.samples.tsv)"
exit "$status"
