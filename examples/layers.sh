#!/bin/bash
# Two hand-made tar layers — a base and an "app" layer that replaces one
# file and deletes another with a whiteout — mounted as one writable tree
# straight from the tars.  A change made in the mount lands in an upper
# directory in the kernel overlayfs format; the tars are never touched.
#
#   examples/layers.sh            (uses ./layerfs, or $LAYERFS)
set -euo pipefail
layerfs=${LAYERFS:-$(cd "$(dirname "$0")/.." && pwd)/layerfs}
work=$(mktemp -d)
export LAYERFS_ROOT=$work/store
cleanup() {
	"$layerfs" umount "$work/mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/base/etc" "$work/app/etc" "$work/app/srv" "$work/mnt"
echo "greeting=hello" >"$work/base/etc/app.conf"
echo "obsolete" >"$work/base/etc/old.conf"
echo "greeting=bonjour" >"$work/app/etc/app.conf"
: >"$work/app/etc/.wh.old.conf"   # deletes etc/old.conf of the base layer
echo '#!/bin/sh' >"$work/app/srv/run.sh"
tar -C "$work/base" -cf "$work/base.tar" .
tar -C "$work/app" -czf "$work/app.tar.gz" .

"$layerfs" mount --layer "$work/base.tar" --layer "$work/app.tar.gz" --upper "$work/upper" "$work/mnt"
echo "== merged tree"
(cd "$work/mnt" && find . | sort)
echo "== etc/app.conf: $(cat "$work/mnt/etc/app.conf")"
echo "changed" >>"$work/mnt/etc/app.conf"
rm "$work/mnt/srv/run.sh"
"$layerfs" umount "$work/mnt"
echo "== upper directory after the change (0/0 char device = whiteout)"
(cd "$work/upper" && find . -printf '%y %p\n' | sort -k2)
