#!/bin/bash
# compressed.sh — compressed layers read as they are, and pulls, next to their
# anchors on the same data in one run, with ratios.  A measurement script,
# never a pass/fail test: targets are printed next to the ratios.
#
# One layer of >= BENCH_LAYER_MIB (default 220) MiB of real files (a seeded
# random sample of /usr, files of every size, in path order), stored four ways:
#   plain        the tar
#   gzip         gzip -6                 (read through zlib checkpoints)
#   zstd         zstd -3, one frame      (read through a decompressed copy)
#   zstd-frames  1 MiB pieces, one zstd frame each (read by frame)
# For each, against `gzip -dc` / `zstd -dc` / `cat` of the same file:
#   index        first `layerfs mount --layer` on an empty store (builds the
#                index in one pass; for zstd also the copy) + umount
#   small cold   `cat` of a small file near the end of the layer: fresh mount,
#                caches dropped (target < 5 ms)
#   tree cold    every file read (tar of the mount to /dev/null): fresh mount,
#                caches dropped (target <= 1.5x the decompressor)
# and the same two reads on kernel overlayfs over the tar unpacked.
# Pull: a 4-layer image (BENCH_PULL_MIB, default 100 MiB, gzip) from a local
# Debian docker-registry, `layerfs pull` into an empty store vs `skopeo copy
# docker://… oci:DIR` into an empty dir.
#
# Every timing is the median of BENCH_REPS runs (default 3).
# Environment: BENCH_REPS, BENCH_LAYER_MIB, BENCH_PULL_MIB, BENCH_DIR (cache
# and scratch, default build/bench/compressed), LAYERFS (default ./layerfs).
# Needs root (kernel overlayfs, drop_caches).
# shellcheck disable=SC2317
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
B=${BENCH_DIR:-$top/build/bench/compressed}
reps=${BENCH_REPS:-3}
layer_mib=${BENCH_LAYER_MIB:-220}
pull_mib=${BENCH_PULL_MIB:-100}
REG_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench: $*"
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (kernel overlayfs, drop_caches)"
for c in gzip zstd skopeo curl; do command -v "$c" >/dev/null || die "$c not installed (tools/install-deps.sh)"; done
[ -x "$REG_BIN" ] || die "docker-registry not installed (tools/install-deps.sh)"
[ -x "$LAYERFS" ] || die "$LAYERFS not built (make)"

mkdir -p "$B"
M=$B/mnt
REG_PID=
cleanup() {
	local rc=$?
	is_mounted "$M" && { "$LAYERFS" umount "$M" 2>/dev/null || umount "$M" 2>/dev/null || umount -l "$M"; }
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null
		wait "$REG_PID" 2>/dev/null || true
	fi
	rm -rf "$B/store" "$B/skopeo" "$B/reg" "$B/ovl"
	exit "$rc"
}
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
# timed CMD... — runs CMD, prints its wall time in microseconds
timed() {
	local t0 t1
	t0=$(now_us)
	"$@" >/dev/null
	t1=$(now_us)
	echo $((t1 - t0))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# med FN ARGS... — median over reps of FN's printed microseconds
med() {
	local i
	for ((i = 0; i < reps; i++)); do "$@"; done | median
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# --- data -------------------------------------------------------------------------
L=$B/layer
if [ ! -s "$L.tar" ]; then
	log "bench: collecting >= $layer_mib MiB of files from /usr"
	# A seeded random sample (so every size and kind of file), in path order
	# as a tar of a tree has it.
	find /usr -xdev -type f -size -64M -printf '%s %P\n' 2>/dev/null | sort -k2 |
		awk 'BEGIN { srand(42) } { print rand(), $0 }' | sort -n | cut -d' ' -f2- |
		awk -v lim=$((layer_mib << 20)) 'n < lim { n += $1; sub(/^[0-9]+ /, ""); print }' | sort >"$B/files"
	tar -C /usr --numeric-owner -cf "$L.tar.tmp" -T "$B/files"
	mv "$L.tar.tmp" "$L.tar"
fi
[ -s "$L.tar.gz" ] || { gzip -6 -n -c "$L.tar" >"$L.tmp" && mv "$L.tmp" "$L.tar.gz"; }
[ -s "$L.tar.zst" ] || { zstd -q -3 -c "$L.tar" >"$L.tmp" && mv "$L.tmp" "$L.tar.zst"; }
if [ ! -s "$L.frames.tar.zst" ]; then
	rm -rf "$B/split" && mkdir "$B/split"
	split -b 1M -a 4 "$L.tar" "$B/split/p."
	for p in "$B"/split/p.*; do zstd -q -3 -c "$p"; done >"$L.tmp"
	mv "$L.tmp" "$L.frames.tar.zst"
	rm -rf "$B/split"
fi
if [ ! -d "$B/unpacked" ]; then
	mkdir -p "$B/unpacked.tmp"
	tar -C "$B/unpacked.tmp" --numeric-owner -xf "$L.tar"
	mv "$B/unpacked.tmp" "$B/unpacked"
fi
# A small file near the end of the layer (in tar order).
small=$(tar -tvf "$L.tar" | awk '$1 ~ /^-/ && $3 > 0 && $3 < 8192 { f = $6 } END { print f }')
[ -n "$small" ] || die "no small file in the layer"
tar_mib=$(($(stat -c %s "$L.tar") >> 20))

# --- layer reads -----------------------------------------------------------------
fresh_store() { rm -rf "$B/store" && mkdir -p "$B/store" && export LAYERFS_ROOT=$B/store; }
lfs_mount() { mkdir -p "$M" && "$LAYERFS" mount --read-only --layer "$1" "$M"; }
lfs_umount() { "$LAYERFS" umount "$M"; }
ovl_mount() {
	mkdir -p "$M" "$B/ovl/empty"
	mount -t overlay overlay -o "ro,lowerdir=$B/unpacked:$B/ovl/empty" "$M"
}
ovl_umount() { umount "$M"; }
read_small() { cat "$M/$small"; }
read_tree() { tar -C "$M" -cf - . | cat >/dev/null; }

run_index() { # FILE — index build on an empty store, one pass
	fresh_store
	mkdir -p "$M"
	timed sh -c '"$0" mount --read-only --layer "$1" "$2" && "$0" umount "$2"' "$LAYERFS" "$1" "$M"
}
run_cold() { # MOUNTFN UMOUNTFN ARG READFN
	local t
	"$1" "$3"
	drop_caches
	# The tools' own binaries back in the cache: time the file system only.
	cat /dev/null
	tar --version >/dev/null
	t=$(timed "$4")
	"$2"
	echo "$t"
}
decomp() { # FILE
	case $1 in
	*.gz) gzip -dc "$1" ;;
	*.zst) zstd -q -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
run_decomp() {
	drop_caches
	timed decomp "$1"
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

declare -A T=()
FORMATS=(plain gzip zstd zstd-frames)
declare -A FILE=([plain]=$L.tar [gzip]=$L.tar.gz [zstd]=$L.tar.zst [zstd-frames]=$L.frames.tar.zst)
for f in "${FORMATS[@]}"; do
	log "bench: $f"
	T[$f.decomp]=$(med run_decomp "${FILE[$f]}")
	T[$f.index]=$(med run_index "${FILE[$f]}")
	# The index (and copy) built above stay for the cold reads.
	T[$f.small]=$(med run_cold lfs_mount lfs_umount "${FILE[$f]}" read_small)
	T[$f.tree]=$(med run_cold lfs_mount lfs_umount "${FILE[$f]}" read_tree)
	rm -rf "$B/store"
done
log "bench: kernel overlayfs"
T[ovl.small]=$(med run_cold ovl_mount ovl_umount "" read_small)
T[ovl.tree]=$(med run_cold ovl_mount ovl_umount "" read_tree)

# --- pull ------------------------------------------------------------------------
img=$B/pullimg
if [ ! -s "$img/done" ]; then
	log "bench: making a 4-layer image of ~$pull_mib MiB"
	rm -rf "$img" && mkdir -p "$img/ctx"
	# Four parts of the file list, ~pull_mib/4 MiB each, as COPY steps.
	find /usr/lib -xdev -type f -size -16M -printf '%s %P\n' 2>/dev/null | sort -k2 |
		awk -v part=$(((pull_mib << 20) / 4)) '{ n += $1; sub(/^[0-9]+ /, ""); p = int(n / part); if (p <= 3) print p, $0 }' >"$img/parts"
	for p in 0 1 2 3; do
		mkdir -p "$img/ctx/p$p"
		awk -v p=$p '$1 == p { sub(/^[0-9]+ /, ""); print }' "$img/parts" >"$img/list$p"
		tar -C /usr/lib -cf - -T "$img/list$p" | tar -C "$img/ctx/p$p" -xf -
	done
	printf 'FROM base:1\nCOPY p0 /p0\nCOPY p1 /p1\nCOPY p2 /p2\nCOPY p3 /p3\n' >"$img/ctx/Dockerfile"
	echo base >"$img/base.txt"
	tar -C "$img" -cf "$img/base.tar" base.txt
	touch "$img/done"
fi
fresh_store
"$LAYERFS" import "$img/base.tar" base:1 >/dev/null
"$LAYERFS" build -q -t bench/pull:1 "$img/ctx" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$B/reg"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
	"$B/reg/data" "$port" >"$B/reg/config.yml"
"$REG_BIN" serve "$B/reg/config.yml" >"$B/reg/log" 2>&1 &
REG_PID=$!
REG=127.0.0.1:$port
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/" || true)" = 200 ] && break
	sleep 0.1
done
skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
	"oci:$LAYERFS_ROOT:bench/pull:1" "docker://$REG/bench/pull:1" || die "skopeo push failed"
pull_bytes=$(skopeo inspect --tls-verify=false --raw "docker://$REG/bench/pull:1" |
	perl -MJSON::PP -e 'local $/; my $m = JSON::PP->new->decode(<STDIN>); my $n = 0; $n += $_->{size} for @{$m->{layers}}; print $n, " ", scalar @{$m->{layers}}')
run_pull_layerfs() {
	fresh_store
	timed "$LAYERFS" pull -q "$REG/bench/pull:1"
}
run_pull_skopeo() {
	rm -rf "$B/skopeo"
	timed skopeo copy -q --src-tls-verify=false "docker://$REG/bench/pull:1" "oci:$B/skopeo:x"
}
log "bench: pull"
T[pull.layerfs]=$(med run_pull_layerfs)
T[pull.skopeo]=$(med run_pull_skopeo)

# --- report ----------------------------------------------------------------------
echo
echo "compressed layers: $tar_mib MiB tar, $(wc -l <"$B/files") files; median of $reps; cold = fresh mount, caches dropped"
echo "small file: /$small"
printf '%-12s %9s %10s %8s %10s %8s %10s %8s %8s\n' format "decomp ms" "index ms" "idx/dec" "small ms" "tree ms" "tree/dec" "tree/ovl" "size MiB"
for f in "${FORMATS[@]}"; do
	printf '%-12s %9s %10s %8s %10s %8s %10s %8s %8s\n' "$f" "$(ms "${T[$f.decomp]}")" "$(ms "${T[$f.index]}")" \
		"$(ratio "${T[$f.index]}" "${T[$f.decomp]}")" "$(ms "${T[$f.small]}")" "$(ms "${T[$f.tree]}")" \
		"$(ratio "${T[$f.tree]}" "${T[$f.decomp]}")" "$(ratio "${T[$f.tree]}" "${T[ovl.tree]}")" \
		"$(($(stat -c %s "${FILE[$f]}") >> 20))"
done
printf '%-12s %9s %10s %8s %10s %8s %10s %8s\n' "kernel ovl" - - - "$(ms "${T[ovl.small]}")" "$(ms "${T[ovl.tree]}")" - 1.00x
echo "targets: index <= 1.2x gzip -dc; small file < 5 ms; tree <= 1.5x gzip -dc"
echo
echo "pull of ${pull_bytes% *} bytes in ${pull_bytes#* } gzip layers from a local docker-registry (empty store / dir each time):"
printf '  layerfs pull  %8s ms\n  skopeo copy   %8s ms\n  ratio         %8s\n' "$(ms "${T[pull.layerfs]}")" \
	"$(ms "${T[pull.skopeo]}")" "$(ratio "${T[pull.layerfs]}" "${T[pull.skopeo]}")"
