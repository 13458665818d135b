#!/bin/bash
# build.sh — `make bench`: `layerfs build` next to `buildah bud --layers
# --isolation chroot` (Debian's buildah, vfs storage) on the same
# Dockerfiles and contexts, in one run, with ratios.  A measurement script,
# never a pass/fail test (it checks that both tools built the same files).
#
# Scenarios (each tool with its own store, both warmed by one build first):
#   cold       a build with the cache emptied (layerfs: a fresh store with
#              the base imported; buildah: --no-cache)
#   cached     a rebuild with nothing changed
#   edit       a rebuild after editing server.js: with DockerfilesOpt the
#              install step stays cached and only COPY . reruns
#   ctx50k     a cached rebuild of `COPY . /app` over a 50k-file context
#              (hashing the context is the whole cost)
# The app is examples/node-app's shape on the busybox base (no network):
# package.json, server.js, a stand-in for `npm install` that writes
# node_modules/ from package.json (2000 files), DockerfilesOpt ordering.
# (The real examples/node-app needs node:18 and the npm registry:
# `make check-slow` runs it.)
#
# Times: wall clock, median of BENCH_REPS (default 5), page cache warm
# (builds are about cache hits, not cold disks).
# Environment: BENCH_REPS, BENCH_DIR (default build/bench), LAYERFS.
# Needs root (buildah chroot isolation, the tests' FUSE mounts).
set -euo pipefail
export LC_ALL=C

NAME=build.sh SUB=build
# shellcheck source-path=SCRIPTDIR source=lib_buildah.sh
. "$(dirname "$0")/lib_buildah.sh"
REPS=${BENCH_REPS:-5}
cleanup() {
	bah rm -a >/dev/null 2>&1 || true
	bah rmi -a -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

app=$B/app
mkdir -p "$app"
cat >"$app/package.json" <<'EOF'
{ "name": "bench-app", "version": "1.0.0", "dependencies": { "express": "^4.19.2" } }
EOF
echo "console.log('v1');" >"$app/server.js"
# `npm install` stand-in: 2000 files under node_modules, from package.json.
cat >"$app/install.sh" <<'EOF'
#!/bin/sh
set -e
i=0
while [ $i -lt 200 ]; do
	mkdir -p node_modules/pkg$i/lib
	for f in 0 1 2 3 4 5 6 7 8 9; do
		cat package.json > node_modules/pkg$i/lib/f$f.js
	done
	i=$((i + 1))
done
EOF
chmod 755 "$app/install.sh"
cat >"$app/DockerfilesOpt" <<'EOF'
FROM busybox:latest
WORKDIR /app
COPY package.json install.sh /app/
RUN ./install.sh
COPY . /app
EXPOSE 80
CMD ["node", "server.js"]
EOF
big=$B/ctx50k
mkdir -p "$big"
(cd "$big" && for d in $(seq 0 499); do
	mkdir -p "d$d"
	for f in $(seq 0 99); do echo "$d/$f" >"d$d/f$f"; done
done)
cat >"$big/Dockerfile" <<'EOF'
FROM busybox:latest
COPY . /app
EOF

# --- timing
lfs_build() { "$LAYERFS" build --progress=plain -t "bench:$1" -f "$2" "$3"; }
bah_build() { bah bud --layers --isolation chroot --pull-never -q -t "bench:$1" -f "$2" "$3"; }
lfs_cold() {
	rm -rf "$LAYERFS_ROOT"
	import_base
	lfs_build cold "$app/DockerfilesOpt" "$app"
}
bah_cold() { bah_build cold "$app/DockerfilesOpt" "$app" --no-cache; }
bah_build_nc() { bah bud --layers --no-cache --isolation chroot --pull-never -q -t bench:cold -f "$app/DockerfilesOpt" "$app"; }
edit() { echo "console.log('v$RANDOM$RANDOM');" >"$app/server.js"; }
lfs_edit() { edit && lfs_build edit "$app/DockerfilesOpt" "$app"; }
bah_edit() { edit && bah_build edit "$app/DockerfilesOpt" "$app"; }

# Warm both: one build each of everything.
lfs_build warm "$app/DockerfilesOpt" "$app" >/dev/null 2>&1
bah_build warm "$app/DockerfilesOpt" "$app" >/dev/null 2>&1
lfs_build big "$big/Dockerfile" "$big" >/dev/null 2>&1
bah_build big "$big/Dockerfile" "$big" >/dev/null 2>&1

: >"$B/t"
for r in $(seq "$REPS"); do
	timed "$B/t.lfs.cached" lfs_build cached "$app/DockerfilesOpt" "$app"
	timed "$B/t.bah.cached" bah_build cached "$app/DockerfilesOpt" "$app"
	timed "$B/t.lfs.edit" lfs_edit
	timed "$B/t.bah.edit" bah_edit
	timed "$B/t.lfs.ctx50k" lfs_build big "$big/Dockerfile" "$big"
	timed "$B/t.bah.ctx50k" bah_build big "$big/Dockerfile" "$big"
	timed "$B/t.bah.cold" bah_build_nc
	timed "$B/t.lfs.cold" lfs_cold
	lfs_build big "$big/Dockerfile" "$big" >/dev/null 2>&1 # re-warm after the fresh store
	echo "rep $r done" >&2
done

# Both built the same files: compare the app trees of the last edit builds.
lfs_tree=$B/tree-lfs
bah_tree=$B/tree-bah
mkdir -p "$lfs_tree" "$bah_tree"
edit
lfs_build final "$app/DockerfilesOpt" "$app" >/dev/null 2>&1
bah_build final "$app/DockerfilesOpt" "$app" >/dev/null 2>&1
"$LAYERFS" export -o "$B/lfs.tar" bench:final
tar -C "$lfs_tree" -xf "$B/lfs.tar" app
c=$(bah from --pull-never bench:final)
m=$(bah mount "$c")
cp -a "$m/app" "$bah_tree/"
bah umount "$c" >/dev/null
bah rm "$c" >/dev/null
if diff -r "$lfs_tree/app" "$bah_tree/app" >/dev/null; then same=yes; else same=NO; fi

printf '\n%s\n' "layerfs build vs buildah bud --layers --isolation chroot (median of $REPS, seconds)"
printf '%-46s %10s %10s %10s\n' scenario layerfs buildah 'buildah/layerfs'
row() {
	local l b
	l=$(median <"$B/t.lfs.$1")
	b=$(median <"$B/t.bah.$1")
	printf '%-46s %10s %10s %10.1fx\n' "$2" "$l" "$b" "$(echo "$b / $l" | bc -l)"
}
row cached "fully cached rebuild"
row edit "rebuild after a source edit (DockerfilesOpt)"
row ctx50k "cached rebuild, COPY . of a 50k-file context"
row cold "cold build (empty cache)"
echo "same /app tree from both tools: $same"
