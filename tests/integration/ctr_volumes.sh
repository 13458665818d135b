#!/bin/bash
# ctr_volumes.sh — anonymous volumes for the image's VOLUMEs (`layerfs
# run`): the volume starts as the image's content at the path (GNU tar -x
# of `layerfs export IMAGE` is the reference: names, types, modes, owners,
# sizes, sha256), keeps what the container writes across stop/start, stays
# out of diff and commit, is the container's own (two containers, two
# volumes), gives way to -v, goes with rm and --rm, and shows in inspect;
# rootless, as a user with a subordinate id range, owners map through it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
command -v setpriv >/dev/null || bail_out "setpriv missing (apt-get install util-linux)"
command -v useradd >/dev/null || bail_out "useradd missing (apt-get install passwd)"
ctr_setup
# chk DESC RC FILE — check, with FILE as the diagnostic when it failed.
chk() {
	check "$1" "$2"
	[ "$2" = 0 ] || diag_file "$3"
}

mkdir -p "$tmp/ctx"
cat >"$tmp/ctx/Dockerfile" <<'XEOF'
FROM busybox:latest
RUN mkdir -p /data/sub/deeper /data/empty && echo hello >/data/a && \
    chmod 640 /data/a && chown 1000:1001 /data/a && ln -s a /data/link && \
    head -c 70000 /dev/urandom >/data/sub/big && echo deep >/data/sub/deeper/c && \
    chown -R 33:34 /data/sub && chmod 2750 /data/sub && chmod 1777 /data/empty && \
    chown 7:8 /data && chmod 0751 /data && mkdir /other && echo o >/other/x
VOLUME /data /other
CMD ["sh"]
XEOF
L build -q -t vimg "$tmp/ctx" >/dev/null 2>"$tmp/be"
chk "build an image with VOLUME /data /other" $? "$tmp/be"
b_tree_layerfs vimg "$tmp/ref"
check "reference: the image exported and extracted by GNU tar" $?

# The record dir of container $1 and its volume for path $2.
cdir() { dirname "$(grep -l "\"name\": \"$1\"" "$LAYERFS_ROOT"/containers/*/config.json | head -1)"; }
vol() { echo "$(cdir "$1")/volumes/$(printf %s "$2" | sha256sum | cut -d' ' -f1)/_data"; }

# --- first start: the volume holds the image's /data
out=$(L run --name c1 vimg sh -c 'find /data | sort; cat /data/a; echo w1 >/data/w1; echo up >/up' 2>"$tmp/e")
chk "run: the command ran" $? "$tmp/e"
is "$(echo "$out" | tail -1)" "hello" "the container reads the image's file in its volume"
is "$(echo "$out" | grep -c '^/data')" "$(cd "$tmp/ref" && find data | wc -l)" \
	"the container lists as many entries in /data as the image has"
v1=$(vol c1 /data)
[ -d "$v1" ]
check "the volume is a directory in the container's record: volumes/<sha256 of /data>/_data" $?
b_listing "$tmp/ref/data" >"$tmp/want"
b_listing "$v1" | grep -v '^\./w1\|/w1$' >"$tmp/got"
if diff "$tmp/want" "$tmp/got" >"$tmp/d"; then
	ok "the volume is the image's /data: names, types, modes, owners, sizes, sha256"
else
	not_ok "the volume is the image's /data"
	diag_file "$tmp/d"
fi
is "$(stat -c '%a %u:%g' "$v1")" "$(stat -c '%a %u:%g' "$tmp/ref/data")" "the volume's top has the image's mode and owner"
is "$(stat -c %Y "$v1/a")" "$(stat -c %Y "$tmp/ref/data/a")" "file times are the image's"
is "$(cat "$v1/w1" 2>/dev/null)" "w1" "the container's write went into the volume"
is "$(cat "$(vol c1 /other)/x" 2>/dev/null)" "o" "each VOLUME gets its own (/other)"

# --- not in diff, not in commit
L diff c1 >"$tmp/diff" 2>&1
grep -q '/up' "$tmp/diff"
check "reference point: diff shows the write outside the volume (/up)" $?
if grep -q '/data' "$tmp/diff"; then not_ok "diff leaves the volume out"; diag_file "$tmp/diff"; else ok "diff leaves the volume out"; fi
L commit c1 vcommit >/dev/null 2>"$tmp/e"
chk "commit c1" $? "$tmp/e"
b_tree_layerfs vcommit "$tmp/committed"
[ -f "$tmp/committed/up" ] && [ ! -e "$tmp/committed/data/w1" ] && [ -f "$tmp/committed/data/a" ]
check "the committed image has /up and the image's /data, not the volume's write" $?

# --- stop/start: the data stays, no copy-up again
L start -a c1 >/dev/null 2>&1
echo changed >"$v1/a"
out=$(L start -a c1 2>&1 | tail -1)
is "$out" "changed" "start reuses the volume: it is not filled from the image again"
[ -f "$v1/w1" ]
check "what the container wrote survives stop/start" $?
is "$(find "$(dirname "$v1")" -mindepth 1 -maxdepth 1 | wc -l)" 1 "no temporary copy left beside the volume"

# --- two containers from one image: separate volumes
L run --name c2 vimg sh -c 'test ! -e /data/w1 && echo w2 >/data/w2' >/dev/null 2>&1
check "a second container gets a fresh volume (no w1 in it)" $?
[ ! -e "$v1/w2" ] && [ -f "$(vol c2 /data)/w2" ]
check "... and its write stays in its own volume" $?

# --- -v wins over the image's volume; the other one stays anonymous
mkdir -p "$tmp/host"
echo from-host >"$tmp/host/h"
out=$(L run --name c3 -v "$tmp/host:/data/" vimg sh -c 'ls /data; echo x >/data/hw' 2>&1)
is "$out" "h" "-v HOSTDIR:/data/ replaces the image's /data volume"
[ -f "$tmp/host/hw" ] && [ ! -e "$(vol c3 /data)" ] && [ -f "$(vol c3 /other)/x" ]
check "... writes reach the host dir; no anonymous /data volume, /other still gets one" $?

# --- inspect: docker's Mounts
L inspect c3 >"$tmp/i.json"
mounts=$(perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>); $j = $j->[0] if ref $j eq "ARRAY";
	print join(" ", map { "$_->{Type}:$_->{Destination}:" . ($_->{Source} =~ s{.*/volumes/}{}r) } @{$j->{Mounts}})' <"$tmp/i.json")
is "$mounts" "bind:/data/:$tmp/host volume:/other:$(printf %s /other | sha256sum | cut -d' ' -f1)/_data" \
	"inspect: Mounts has the bind and the volume (Type, Destination, Source)"

# --- rm and --rm remove the volumes
d1=$(cdir c1)
L rm c1 c2 c3 >/dev/null 2>&1
[ ! -e "$d1" ] && [ ! -e "$v1" ]
check "rm removes the container's volumes with it" $?
L run --rm vimg sh -c 'echo x >/data/y' >/dev/null 2>&1
is "$(find "$LAYERFS_ROOT/containers" -mindepth 1 -maxdepth 1 | wc -l)" 0 "--rm leaves no volume behind"

# --- a VOLUME that is a file in the image: a clear error
mkdir -p "$tmp/ctx2"
printf 'FROM busybox:latest\nRUN echo f >/notdir\nVOLUME /notdir\n' >"$tmp/ctx2/Dockerfile"
L build -q -t vbad "$tmp/ctx2" >/dev/null 2>&1
t_fails "run: a VOLUME that is a file says so and how to fix it" "-v HOSTDIR:/notdir" \
	"$LAYERFS" run --rm vbad true

# --- rootless, as a user created for the test with a subordinate range
# (the user needs /dev/fuse: made 0666 for the test, its mode restored)
fuse_mode=$(stat -c %a /dev/fuse)
trap 'rc_=$?; chmod "$fuse_mode" /dev/fuse; user_cleanup; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT
chmod 0666 /dev/fuse
chmod 755 "$tmp"
d=$(dirname "$tmp")
while case "$(basename "$d")" in layerfs-*) true ;; *) false ;; esac; do chmod o+x "$d"; d=$(dirname "$d"); done
ctr_test_user "lfs-vol-$$" 400000
# The root-built image, loaded into the user's store: a rootless build
# is not the subject here.
L save -o "$thome/vimg.tar" vimg busybox:latest >/dev/null
chown -R "$tuid:$tgid" "$thome"
as_tuser "$LAYERFS" load -i "$thome/vimg.tar" >/dev/null 2>"$tmp/be"
chk "rootless: the user loads the image (layerfs save as root, load as the user)" $? "$tmp/be"
# The same Dockerfile built by the user: RUN's chown 1000:1001 / 33:34 / 7:8
# and the 0751 directory land in the layer as in root's build.
cp -r "$tmp/ctx" "$thome/ctx" && chown -R "$tuid:$tgid" "$thome/ctx"
as_tuser "$LAYERFS" build -q -t vimg-user "$thome/ctx" >/dev/null 2>"$tmp/be"
chk "rootless: the user builds the image (RUN chown to the range's ids)" $? "$tmp/be"
owners() { (cd "$1" && find . -printf '%p %U:%G %m %y\n' | sort); }
as_tuser "$LAYERFS" export vimg-user >"$tmp/user.tar" 2>"$tmp/be" &&
	mkdir -p "$tmp/ref-user" && tar -C "$tmp/ref-user" --numeric-owner -xpf "$tmp/user.tar"
if diff -u <(owners "$tmp/ref") <(owners "$tmp/ref-user") >"$tmp/owners.diff"; then
	ok "rootless: its layer has the owners and modes of root's build"
else
	not_ok "rootless: its layer has the owners and modes of root's build"
	diag_file "$tmp/owners.diff" 20
fi
out=$(as_tuser "$LAYERFS" run --name r1 vimg sh -c 'stat -c "%u:%g %a" /data/a /data/sub; echo r >/data/r' 2>"$tmp/re")
out=$(echo "$out" | tr '\n' ' ')
is "$out" "1000:1001 640 33:34 2750 " "rootless: the volume shows the image's owners and modes inside"
[ "$out" = "1000:1001 640 33:34 2750 " ] || diag_file "$tmp/re"
rv=$(LAYERFS_ROOT=$thome/store vol r1 /data)
is "$(stat -c %u:%g "$rv" "$rv/a" "$rv/sub" "$rv/r" 2>/dev/null | tr '\n' ' ')" \
	"400006:400007 400999:401000 400032:400033 $tuid:$tgid " \
	"rootless: on the host the owners are the range's ids (1000 -> 400999), the container root's the user's"
# the container's own changes, read back by export and commit as the user
as_tuser "$LAYERFS" run --name r2 vimg-user sh -c 'echo u >/u && chown 1000:1001 /u && mkdir -m 0700 /p && echo s >/p/s &&
	mkdir -m 0700 /q && echo qq >/q/x && chown -R 1000:1001 /q' \
	>/dev/null 2>"$tmp/re"
as_tuser "$LAYERFS" commit r2 r2img:1 >/dev/null 2>>"$tmp/re"
for what in r2 r2img:1; do
	is "$(as_tuser "$LAYERFS" export "$what" 2>>"$tmp/re" | tar -tv --numeric-owner 2>/dev/null |
		awk '$NF == "u" || $NF ~ /^p\// { print $1, $2, $NF }' | sort | tr '\n' ' ')" \
		"-rw-r--r-- 0/0 p/s -rw-r--r-- 1000/1001 u drwx------ 0/0 p/ " \
		"rootless: export $what shows the container's owners (chown 1000:1001, root's files 0:0)"
done
# cp out of it: a file in a 0700 directory of the container's uid 1000
# (400999 on the host, unreadable to the user there), and -a keeping ids
as_tuser "$LAYERFS" cp r2:/q/x "$thome/qx" 2>>"$tmp/re" && as_tuser "$LAYERFS" cp -a r2:/u "$thome/u-a" 2>>"$tmp/re"
is "$(cat "$thome/qx" 2>/dev/null) $(stat -c %u "$thome/qx" "$thome/u-a" 2>/dev/null | tr '\n' ' ')" "qq $tuid 400999 " \
	"rootless: cp reads the container's 0700 directory; -a keeps its uid 1000 (400999 on the host)"
as_tuser "$LAYERFS" rm r2 >/dev/null 2>&1
as_tuser "$LAYERFS" rm r1 >/dev/null 2>"$tmp/re"
chk "rootless: rm removes the container with its volume" $? "$tmp/re"
[ -n "$rv" ] && [ "$rv" != "/volumes" ] && [ ! -e "$(dirname "$(dirname "$rv")")" ]
check "... and the volume's directory is gone" $?
user_cleanup
chmod "$fuse_mode" /dev/fuse
cmp -s /etc/subuid "$tmp/subuid.orig" && cmp -s /etc/subgid "$tmp/subgid.orig"
check "the test user and its ranges are gone" $?
if grep -q "$tmp" /proc/mounts; then not_ok "nothing left mounted"; else ok "nothing left mounted"; fi

done_testing
