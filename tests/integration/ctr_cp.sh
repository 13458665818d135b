#!/bin/bash
# ctr_cp.sh — `layerfs cp` between containers/images and the host.
# Reads are compared with `layerfs export` of the same container unpacked
# by GNU tar; writes with what `layerfs export` and `layerfs diff` show
# afterwards (sha256 of the host files, modes, owners).  A hostile
# container tree (/x -> /, /etc/evil -> ../../../../<outside>) must not
# make cp touch anything outside its target (a canary directory).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
ctr_setup
plan 25

# reference TREE C — the container's merged tree unpacked by GNU tar
reference() {
	mkdir -p "$1" && L export "$2" | tar -x --numeric-owner -C "$1"
}
# listing DIR — type, mode, size and target of every entry, sorted
listing() { (cd "$1" && find . -printf '%P %y %m %s %l\n' | sort); }
sha() { sha256sum <"$1" | cut -d' ' -f1; }
# owner C PATH — uid:gid mode of PATH in the container's exported tree
owner() { L export "$1" | tar -tv --numeric-owner 2>/dev/null | awk -v p="$2" '$6 == p { print $2, $1 }'; }

# shellcheck disable=SC2016 # expanded by the shell in the container
L run --name src busybox sh -c 'mkdir -p /data/sub && echo hello >/data/a &&
	printf "x%.0s" $(seq 1 3000) >/data/sub/big && ln -s a /data/link &&
	ln -s /data/sub /abs && chmod 640 /data/a && chown 12:34 /data/a' >/dev/null 2>&1
ref=$tmp/ref
reference "$ref" src

# --- container -> host, against export | tar -x
mkdir -p "$tmp/h1"
L cp src:/data "$tmp/h1/" 2>"$tmp/err"
check "cp C:/data DIR/ copies the directory into DIR" $?
is "$(listing "$tmp/h1/data")" "$(listing "$ref/data")" "the copy matches export | tar -x (types, modes, sizes, links)"
is "$(stat -c %u:%g "$tmp/h1/data/a")" "$(id -u):$(id -g)" "without -a the host files belong to the caller"
mkdir -p "$tmp/h2"
L cp -a src:/data/. "$tmp/h2" 2>"$tmp/err"
check "cp -a C:/data/. DIR copies the contents" $?
is "$(stat -c %u:%g "$tmp/h2/a")" "$(stat -c %u:%g "$ref/data/a")" "-a keeps uid:gid as export shows them"
L cp src:/data/a "$tmp/h3" 2>"$tmp/err" && cmp -s "$tmp/h3" "$ref/data/a"
check "cp C:FILE NEWNAME writes the file under the new name" $?
L cp src:/data/link "$tmp/h4" && [ "$(readlink "$tmp/h4")" = a ]
check "a symlink SRC is copied as the link" $?
L cp -L src:/data/link "$tmp/h5" && cmp -s "$tmp/h5" "$ref/data/a"
check "-L copies what the link points to" $?
L cp src:/abs/. "$tmp/h6" && cmp -s "$tmp/h6/big" "$ref/data/sub/big"
check "an absolute symlink in SRC resolves inside the container's root" $?
mkdir -p "$tmp/t1" "$tmp/t2"
L cp src:/data - | tar -x -C "$tmp/t1" && (cd "$ref" && tar -c data) | tar -x -C "$tmp/t2"
is "$(listing "$tmp/t1")" "$(listing "$tmp/t2")" "cp C:/data - streams a tar equal to tar -c of the reference"
L cp busybox:latest:/bin/busybox "$tmp/bb" && cmp -s "$tmp/bb" "$ref/bin/busybox"
check "IMAGE:PATH works as a source" $?
L cp src:/data/a "$tmp/missing/dir/" 2>"$tmp/err"
is "$?:$(grep -c 'does not exist' "$tmp/err")" "1:1" "a missing DEST directory is refused with a message"

# --- host -> container, checked through export and diff
mkdir -p "$tmp/up/d/e"
head -c 100000 /dev/urandom >"$tmp/up/d/blob"
echo cfg >"$tmp/up/d/e/cfg" && chmod 751 "$tmp/up/d/e/cfg" && chown 7:8 "$tmp/up/d/e/cfg"
ln -s e/cfg "$tmp/up/d/lnk"
L run --name dst busybox mkdir -p /srv >/dev/null 2>&1
L cp "$tmp/up/d" dst:/srv 2>"$tmp/err"
check "cp DIR C:/srv copies into the existing /srv" $?
diag_file "$tmp/err"
got=$tmp/got
reference "$got" dst
is "$(sha "$got/srv/d/blob")" "$(sha "$tmp/up/d/blob")" "the file's content in export equals the host file"
is "$(listing "$got/srv/d")" "$(listing "$tmp/up/d")" "modes, sizes and links in export equal the host tree"
is "$(owner dst srv/d/e/cfg)" "0/0 -rwxr-x--x" "without -a files in the container are owned by 0:0"
L diff dst >"$tmp/diff"
grep -qx 'A /srv/d/e/cfg' "$tmp/diff"
check "layerfs diff C lists the copied files" $?
L cp -a "$tmp/up/d/e/cfg" dst:/etc/cfg2
is "$(owner dst etc/cfg2)" "7/8 -rwxr-x--x" "-a keeps the host uid:gid"
(cd "$tmp/up" && tar -c --owner=5 --group=6 d) | L cp - dst:/opt 2>"$tmp/err"
is "$(sha "$(reference "$tmp/got2" dst && echo "$tmp/got2/opt/d/blob")")" "$(sha "$tmp/up/d/blob")" "cp - C:DIR extracts a tar from stdin"
is "$(owner dst opt/d/blob)" "0/0 -rw-r--r--" "tar members extracted into a container are owned by 0:0"

# --- hostile container tree: nothing outside the target changes
outside=$tmp/outside
mkdir -p "$outside" && echo canary >"$outside/canary"
up=$(realpath --relative-to=/ "$outside")
L run --name evil busybox sh -c "ln -s / /x && mkdir -p /etc /$up && ln -s ../../../../../../$up /etc/evil &&
	mkdir -p /d/sub && ln -s /etc/evil /d/out && ln -s ../../../../../../$up/canary /d/can &&
	echo data >/d/f && echo data >/d/sub/canary" >/dev/null 2>&1
snap() { (find "$outside" -printf '%P %y %m %s\n'; sha256sum "$outside"/*) | sort; }
before=$(snap)
mkdir -p "$tmp/h7"
L cp evil:/d "$tmp/h7" 2>"$tmp/err"
L cp evil:/x/etc/. "$tmp/h7/etc" 2>>"$tmp/err"
echo pwn >"$tmp/pwn"
L cp "$tmp/pwn" evil:/x/etc/evil/canary 2>>"$tmp/err"
L cp "$tmp/pwn" evil:/d/can 2>>"$tmp/err"
# host links in the way of the container's file f and directory sub
mkdir -p "$tmp/h8" && ln -s "$outside/canary" "$tmp/h8/f" && ln -s "$outside" "$tmp/h8/sub"
L cp evil:/d/. "$tmp/h8" 2>>"$tmp/err"
# a tar on stdin whose member climbs out with ".."
python3 -c 'import io, sys, tarfile
t = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
i = tarfile.TarInfo("../../../../../../'"$up"'/canary"); i.size = 3
t.addfile(i, io.BytesIO(b"pwn")); t.close()' | L cp - evil:/d 2>"$tmp/err2"
is "$?:$(grep -c "member '\.\./" "$tmp/err2")" "1:1" "a tar member with '..' on stdin is refused, naming the member"
is "$(snap)" "$before" "cp from/to a hostile container leaves the canary directory unchanged"
[ "$(readlink "$tmp/h7/d/out")" = /etc/evil ] && [ -L "$tmp/h7/etc/evil" ] &&
	[ "$(cat "$tmp/h8/f")" = data ] && [ "$(cat "$tmp/h8/sub/canary")" = data ]
check "links from the container arrive as links; host links in the way are replaced" $?
reference "$tmp/got3" evil
[ "$(cat "$tmp/got3/$up/canary" 2>/dev/null)" = pwn ] && [ ! -L "$tmp/got3/d/can" ] &&
	[ "$(cat "$tmp/got3/d/can")" = pwn ]
check "a write through /x/etc/evil lands inside the root; a link as DEST is replaced" $?
diag_file "$tmp/err"

# --- a running container is refused for writing
L run -d --name live busybox sleep 299 >/dev/null 2>&1
L cp "$tmp/pwn" live:/tmp/ 2>"$tmp/err"
is "$?:$(grep -c 'is running' "$tmp/err")" "1:1" "writing into a running container is refused with a message"
done_testing
