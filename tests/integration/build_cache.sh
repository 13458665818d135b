#!/bin/bash
# build_cache.sh — the build cache reruns exactly what changed: a second
# build is all CACHED with the same image ID; editing a source file keeps
# the install step (copied before it) CACHED and reruns the COPY after it;
# a same-size, same-mtime rewrite is still seen (ctime); --no-cache reruns
# everything; a failing RUN reports its command, exit code and output,
# tags nothing, and the steps before it stay cached; with
# SOURCE_DATE_EPOCH two builds in fresh stores give one image ID.
# Each RUN writes a random marker (/proc/sys/kernel/random/uuid), so
# whether it really ran is read from the image, not from our own output.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 20

b_base || bail_out "importing the busybox base failed"
c=$tmp/ctx
mkdir -p "$c"
echo "dep 1" >"$c/dep.txt"
echo "source 1" >"$c/src.txt"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:latest
WORKDIR /app
COPY dep.txt /app/
RUN cat dep.txt /proc/sys/kernel/random/uuid > installed.txt
COPY . /app
RUN cat /proc/sys/kernel/random/uuid > built.txt
CMD ["cat", "/app/src.txt"]
DF

build() { # build LOG ARGS... — plain progress to LOG, image ID on stdout
	local log=$1
	shift
	"$LAYERFS" build --progress=plain --iidfile "$tmp/iid" "$@" "$c" >"$log" 2>&1 && cat "$tmp/iid"
}
marker() { "$LAYERFS" cat "$1" "/app/$2" 2>/dev/null | tail -1; }
cached() { grep -c '^#[0-9]* CACHED$' "$1"; }
step_cached() { # step_cached LOG TEXT — the step named TEXT was CACHED
	local n
	n=$(grep -m1 -F "] $2" "$1" | sed 's/^#\([0-9]*\) .*/\1/')
	[ -n "$n" ] && grep -qx "#$n CACHED" "$1"
}

id1=$(build "$tmp/b1" -t app:1)
check "first build" $?
inst1=$(marker app:1 installed.txt)
built1=$(marker app:1 built.txt)
is "$(cached "$tmp/b1")" 0 "first build: nothing CACHED"

id2=$(build "$tmp/b2" -t app:2)
check "second build" $?
is "$(cached "$tmp/b2")" 5 "second build: all five steps CACHED"
is "$id2" "$id1" "second build: same image ID"

echo "source 2" >"$c/src.txt"
id3=$(build "$tmp/b3" -t app:3)
check "build after editing src.txt" $?
step_cached "$tmp/b3" "RUN cat dep.txt"
check "the install step stays CACHED" $?
step_cached "$tmp/b3" "COPY . /app"
check "COPY . reruns" $((!$?))
is "$(marker app:3 installed.txt)" "$inst1" "install step output reused"
check "the RUN after the COPY reran" "$(test "$(marker app:3 built.txt)" != "$built1"; echo $?)"
is "$("$LAYERFS" cat app:3 /app/src.txt)" "source 2" "the image has the edited file"

# Same size, same mtime, new bytes: only the ctime tells.
m=$(stat -c %Y "$c/src.txt")
echo "source 3" >"$c/src.txt"
touch -d "@$m" "$c/src.txt"
build "$tmp/b4" -t app:4 >/dev/null
is "$("$LAYERFS" cat app:4 /app/src.txt)" "source 3" "a same-size same-mtime rewrite is detected"

build "$tmp/b5" --no-cache -t app:5 >/dev/null
is "$(cached "$tmp/b5")" 0 "--no-cache: nothing CACHED"
check "--no-cache reran the install step" "$(test "$(marker app:5 installed.txt)" != "$inst1"; echo $?)"

# A failing RUN.
cat >"$c/Dockerfile.fail" <<'DF'
FROM busybox:latest
WORKDIR /app
COPY dep.txt /app/
RUN cat dep.txt /proc/sys/kernel/random/uuid > installed.txt
RUN echo before-fail && echo on-stderr >&2 && exit 3
DF
cp "$LAYERFS_ROOT/index.json" "$tmp/images.before" # the store's names (images' CREATED column ticks)
t_fails "a failing RUN fails the build with its exit code and output" \
	'exit code: 3(.|\n)*' "$LAYERFS" build --progress=plain -t broken:1 -f "$c/Dockerfile.fail" "$c"
grep -q 'before-fail' "$T_TMP/.run.err" && grep -q 'on-stderr' "$T_TMP/.run.err" &&
	grep -q 'Dockerfile.fail:5' "$T_TMP/.run.err"
check "the error names the line and shows the output" $?
cp "$LAYERFS_ROOT/index.json" "$tmp/images.after"
check "nothing was tagged" "$(cmp -s "$tmp/images.before" "$tmp/images.after"; echo $?)"
sed -i 's/exit 3/true/' "$c/Dockerfile.fail"
build "$tmp/b6" -t fixed:1 -f "$c/Dockerfile.fail" >/dev/null
step_cached "$tmp/b6" "RUN cat dep.txt"
check "after the fix, the steps before the failure are CACHED" $?

# Reproducible: fresh stores, SOURCE_DATE_EPOCH, a deterministic Dockerfile.
cat >"$c/Dockerfile.repro" <<'DF'
FROM busybox:latest
WORKDIR /app
COPY . /app
RUN echo hello > /app/hello && rm /app/dep.txt && mkdir -p /var/x && touch /var/x/y
CMD ["sh"]
DF
repro() {
	LAYERFS_ROOT=$tmp/repro-$1 SOURCE_DATE_EPOCH=1700000000 b_base &&
		LAYERFS_ROOT=$tmp/repro-$1 SOURCE_DATE_EPOCH=1700000000 \
			"$LAYERFS" build -q -t repro:1 -f "$c/Dockerfile.repro" "$c" 2>/dev/null
}
r1=$(repro a)
r2=$(repro b)
check "SOURCE_DATE_EPOCH builds succeed" "$(test -n "$r1" -a -n "$r2"; echo $?)"
is "$r2" "$r1" "same Dockerfile and context, cache cleared: same image ID"
done_testing
