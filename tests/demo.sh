#!/bin/bash
# demo.sh — `make demo`: the main job end to end on the built-in base image,
# with no network and no registry.
#
#   1. build the busybox base root filesystem (tools/mkbase.sh)
#   2. import it into the store as layerfs-base:latest; images / ls / cat / inspect
#   3. build a second layer (an /app dir, a replaced file, a whiteout) and
#      mount base + app with `layerfs mount --layer ... --layer ...`
#   4. look at the union, chroot into it (root only)
#   5. mount the stored image, write into it, df / mount table, unmount everything
#   6. make busybox:latest and build examples/hello with `layerfs build`:
#      history, a rebuild that is all CACHED, an edit that reruns one step,
#      and the built app run in a chroot of its mount (root only)
#   7. containers: `layerfs run` of the built image, then a web server with
#      -d -p 8080:8080 answering the host, ps, logs, stop, rm
#
# Each step prints "==> what", the command, and its output.  The first
# failing step stops the demo with a non-zero exit; mounts are always
# removed on the way out.
#
# Environment: LAYERFS (binary, default ./layerfs), LAYERFS_ROOT (store;
# default build/demo-store, recreated on each run).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
LAYERFS=${LAYERFS:-$top/layerfs}
work=$top/build/demo
if [ -z "${LAYERFS_ROOT:-}" ]; then
	LAYERFS_ROOT=$top/build/demo-store
	fresh_store=1
else
	fresh_store=0
fi
export LAYERFS_ROOT

mnt_union=$work/mnt-union
mnt_image=$work/mnt-image
mnt_app=$work/mnt-app
mounts=("$mnt_union" "$mnt_image" "$mnt_app")

is_mounted() {
	local m
	m=$(realpath -m "$1")
	awk -v m="$m" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# Never leave a mount or a container behind: layerfs umount, then
# fusermount3, then a lazy umount.
cleanup() {
	local rc=$? m
	"$LAYERFS" rm -f demo-web >/dev/null 2>&1 || true
	for m in "${mounts[@]}"; do
		is_mounted "$m" || continue
		"$LAYERFS" umount "$m" >/dev/null 2>&1 ||
			fusermount3 -u "$m" >/dev/null 2>&1 ||
			fusermount3 -uz "$m" >/dev/null 2>&1 ||
			umount -l "$m" >/dev/null 2>&1 || true
		if is_mounted "$m"; then
			echo "demo: could not unmount $m; run: fusermount3 -uz $m" >&2
			rc=1
		fi
	done
	if [ "$rc" -ne 0 ]; then
		echo "demo: FAILED (exit $rc)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step WHAT CMD [ARGS...] — print the header and the command, run it.
step() {
	local what=$1 rc
	shift
	printf '\n==> %s\n$ %s\n' "$what" "$*"
	"$@" 2>&1 || {
		rc=$?
		echo "demo: step '$what' failed (exit $rc): $*" >&2
		exit "$rc"
	}
}

# Steps that are more than one command.
check_ready() {
	local m=$1
	if ! is_mounted "$m"; then
		echo "$m is not in /proc/mounts after 'layerfs mount' returned" >&2
		return 1
	fi
	stat -c '%n: %F, mode %a' "$m/."
}

make_app_layer() {
	local out=$1 stage
	stage=$(mktemp -d "$work/app.XXXXXX")
	mkdir -p "$stage/app" "$stage/etc"
	cat >"$stage/app/hello.sh" <<'EOF'
#!/bin/sh
echo "hello from the app layer, running on $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release)"
EOF
	chmod 0755 "$stage/app/hello.sh"
	echo "this file lives only in the app layer" >"$stage/app/README"
	echo "layerfs-demo" >"$stage/etc/hostname" # replaces the base's /etc/hostname
	: >"$stage/etc/.wh.shells"                 # OCI whiteout: hides the base's /etc/shells
	tar -C "$stage" --sort=name --format=gnu --mtime=@1700000000 \
		--owner=0 --group=0 --numeric-owner -cf "$out" app etc
	rm -rf "$stage"
	tar -tvf "$out"
}

show_union() {
	local m=$1
	ls -l "$m" "$m/app"
	echo "--- $m/etc/hostname (replaced by the app layer):"
	cat "$m/etc/hostname"
	if [ -e "$m/etc/shells" ]; then
		echo "$m/etc/shells should have been hidden by the whiteout" >&2
		return 1
	fi
	echo "--- $m/etc/shells: hidden by the whiteout (base still has it)"
	[ -z "$(find "$m" -name '.wh.*' -print -quit)" ] || {
		echo "a .wh.* whiteout file is visible in the mount" >&2
		return 1
	}
	echo "--- no .wh.* names are visible in the union"
}

run_chroot() {
	local m=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "(skipped: chroot needs root; run 'sudo make demo' to see it)"
		return 0
	fi
	# shellcheck disable=SC2016 # expanded by the image's busybox sh
	chroot "$m" /bin/sh -c 'echo hello from $(cat /etc/os-release | head -1); /app/hello.sh; uname -s; ls /bin | wc -l'
}

write_image_mount() {
	local m=$1
	echo "written through the mount" >"$m/tmp/demo-note"
	ls -l "$m/tmp"
	cat "$m/tmp/demo-note"
	echo "--- the image itself is unchanged: layerfs ls layerfs-base /tmp"
	local listing
	listing=$("$LAYERFS" ls layerfs-base /tmp)
	echo "${listing:-(empty, as built by mkbase.sh)}"
}

show_mounts() {
	df -h "$mnt_union" "$mnt_image"
	echo "--- mount table:"
	grep -E "layerfs|$work" /proc/self/mounts
}

hello_ctx=$work/hello
rebuild_cached() {
	"$LAYERFS" build --progress=plain -t hello:1 "$hello_ctx" 2>&1 | tee "$work/rebuild.log"
	local n
	n=$(grep -c '^#[0-9]* CACHED$' "$work/rebuild.log")
	echo "--- $n steps CACHED"
	[ "$n" -ge 4 ]
}

edit_and_rebuild() {
	sed -i 's/^echo "\$GREETING"$/echo "$GREETING (edited)"/' "$hello_ctx/hello.sh"
	"$LAYERFS" build --progress=plain -t hello:2 "$hello_ctx"
}

run_app() {
	local m=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "(skipped: chroot needs root; run 'sudo make demo' to see it)"
		return 0
	fi
	chroot "$m" /usr/bin/env -i GREETING="$("$LAYERFS" inspect hello:2 |
		sed -n 's/.*"GREETING=\(.*\)",*$/\1/p')" /app/hello.sh
}

serve_and_fetch() {
	if [ "$(id -u)" -ne 0 ] && [ ! -w /dev/net/tun ]; then
		echo "(skipped: -p needs /dev/net/tun usable by your user, or root)"
		return 0
	fi
	"$LAYERFS" run -d --name demo-web -p 8080:8080 hello:2 /app/hello.sh serve
	local i
	for i in $(seq 50); do
		busybox wget -q -O- http://127.0.0.1:8080/ 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the container's httpd did not answer on 127.0.0.1:8080" >&2
	return 1
}

stop_and_remove() {
	"$LAYERFS" ps -a
	"$LAYERFS" logs demo-web
	"$LAYERFS" stop -t 2 demo-web
	"$LAYERFS" ps -a
	"$LAYERFS" rm demo-web
}

umount_checked() {
	"$LAYERFS" umount "$1"
	if is_mounted "$1"; then
		echo "$1 is still mounted after 'layerfs umount'" >&2
		return 1
	fi
	echo "unmounted $1"
}

# --- the demo ---------------------------------------------------------------
if [ ! -x "$LAYERFS" ]; then
	echo "demo: $LAYERFS not found; run 'make' first (or 'make demo')" >&2
	exit 1
fi
if [ ! -e /dev/fuse ]; then
	echo "demo: /dev/fuse is missing; load the fuse module (modprobe fuse) or run where FUSE is available" >&2
	exit 1
fi
for m in "${mounts[@]}"; do
	if is_mounted "$m"; then
		echo "demo: $m is still mounted from an earlier run; unmount it: fusermount3 -u $m" >&2
		exit 1
	fi
done
rm -rf --one-file-system "$work"
mkdir -p "$work" "${mounts[@]}"
[ "$fresh_store" -eq 0 ] || rm -rf --one-file-system "$LAYERFS_ROOT"
echo "layerfs demo: store LAYERFS_ROOT=$LAYERFS_ROOT, scratch $work"

step "build the built-in base image (busybox-static root filesystem)" \
	"$top/tools/mkbase.sh" "$work/base.tar"
step "gzip it too: layers may be plain or gzip tars" \
	gzip -n -k -f "$work/base.tar"
step "import it as layerfs-base:latest" \
	"$LAYERFS" import "$work/base.tar.gz" layerfs-base:latest
step "list the images in the store" \
	"$LAYERFS" images
step "list /etc of the image, without mounting" \
	"$LAYERFS" ls -l layerfs-base /etc
step "print a file of the image, without mounting" \
	"$LAYERFS" cat layerfs-base /etc/os-release
step "inspect the image (OCI config and layers)" \
	"$LAYERFS" inspect layerfs-base
step "build a second layer: /app, a new /etc/hostname, a whiteout of /etc/shells" \
	make_app_layer "$work/app.tar"
step "mount base + app layer straight from the tars (lowest first)" \
	"$LAYERFS" mount --layer "$work/base.tar" --layer "$work/app.tar" "$mnt_union"
step "the mount is ready when the command returns" \
	check_ready "$mnt_union"
step "look at the union" \
	show_union "$mnt_union"
step "it is a real root filesystem: chroot into it" \
	run_chroot "$mnt_union"
step "mount the stored image layerfs-base" \
	"$LAYERFS" mount layerfs-base "$mnt_image"
step "the image mount is ready" \
	check_ready "$mnt_image"
step "look inside the image mount" \
	ls "$mnt_image" "$mnt_image/etc"
step "write into it: changes go to a private upper dir, the layers stay as they are" \
	write_image_mount "$mnt_image"
step "both mounts in df and the mount table" \
	show_mounts
step "unmount the union" \
	umount_checked "$mnt_union"
step "unmount the image" \
	umount_checked "$mnt_image"

cp -r "$top/examples/hello" "$hello_ctx"
step "make the busybox:latest base image (tools/base-image.sh busybox)" \
	"$top/tools/base-image.sh" busybox
step "build examples/hello from its Dockerfile: RUN runs rootless in the image's own root" \
	"$LAYERFS" build --progress=plain -t hello:1 "$hello_ctx"
step "the image's history, like docker history" \
	"$LAYERFS" history hello:1
step "build again: every step comes from the cache" \
	rebuild_cached
step "edit hello.sh and build: the steps before its COPY stay CACHED" \
	edit_and_rebuild
step "list the images" \
	"$LAYERFS" images
step "mount hello:2" \
	"$LAYERFS" mount --read-only hello:2 "$mnt_app"
step "run the built app in a chroot of the mount" \
	run_app "$mnt_app"
step "unmount it" \
	umount_checked "$mnt_app"
step "run the image as a container: rootless namespaces, its own upper dir" \
	"$LAYERFS" run --rm hello:2
step "a container with a web server, port 8080 published on the host; fetch the page" \
	serve_and_fetch
step "ps, logs, stop and remove it" \
	stop_and_remove

printf '\n==> demo finished: all steps passed, nothing left mounted\n'
