#!/bin/bash
# build_node_app.sh (slow: debootstrap, apt and npm from the network; run by
# `make check-slow`) — the tutorial's lesson on examples/node-app: after an
# edit of server.js, DockerfilesOpt keeps `RUN npm install` CACHED and the
# plain Dockerfile reruns it; both images hold express in node_modules and
# the edited server.js.  node:18 comes from tools/base-image.sh (debian,
# then node) in a fresh store, or from LAYERFS_NODE_STORE (a store that
# already has node:18; it is copied, never written).
set -u
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 9

if [ -n "${LAYERFS_NODE_STORE:-}" ]; then
	cp -a "$LAYERFS_NODE_STORE" "$LAYERFS_ROOT"
	ok "node:18 from $LAYERFS_NODE_STORE"
else
	t_run "node:18 built from debian:bookworm (debootstrap, apt)" \
		bash -c "LAYERFS='$LAYERFS' '$T_REPO/tools/base-image.sh' debian && LAYERFS='$LAYERFS' '$T_REPO/tools/base-image.sh' node"
fi
app=$tmp/node-app
cp -r "$T_REPO/examples/node-app" "$app"
build() { # build LOG ARGS...
	local log=$1
	shift
	timeout 900 "$LAYERFS" build --progress=plain "$@" "$app" >"$log" 2>&1
}
ran() { # ran LOG — "cached" or "ran" for the RUN npm install step
	local n
	n=$(grep -m1 -F '] RUN npm install' "$1" | sed 's/^#\([0-9]*\) .*/\1/')
	if grep -qx "#$n CACHED" "$1"; then echo cached; else echo ran; fi
}
build "$tmp/opt1" -t app:opt -f "$app/DockerfilesOpt"
check "DockerfilesOpt builds (npm install from the registry)" $?
build "$tmp/plain1" -t app:plain
check "Dockerfile builds" $?
echo "// edited" >>"$app/server.js"
build "$tmp/opt2" -t app:opt -f "$app/DockerfilesOpt"
is "$(ran "$tmp/opt2")" cached "after editing server.js, DockerfilesOpt keeps npm install CACHED"
build "$tmp/plain2" -t app:plain
is "$(ran "$tmp/plain2")" ran "after editing server.js, the plain Dockerfile reruns npm install"
for img in app:opt app:plain; do
	"$LAYERFS" cat "$img" /app/node_modules/express/package.json 2>/dev/null | grep -q '"name": "express"'
	check "$img has express in /app/node_modules" $?
	is "$("$LAYERFS" cat "$img" /app/server.js | tail -1)" "// edited" "$img has the edited server.js"
done
done_testing
