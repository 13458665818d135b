#!/bin/bash
# ctr_lifecycle.sh — containers from `layerfs run` to `rm`: output and exit
# status, ps, names, environment/workdir/user options, --rm, detached runs
# with logs and stop, restart keeping the writable layer, isolation of files
# and processes between containers, commit and diff of a container, prune,
# a monitor killed with -9, and a rootless run as uid 65534.  Facts come
# from the shell inside the container, /proc and the image itself.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
require_root
require_fuse
require_layerfs
command -v setpriv >/dev/null || bail_out "setpriv missing (apt-get install util-linux)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
L() { timeout -k 5 120 "$LAYERFS" "$@"; }
# state FIELD ID — a field of the record's state.json
state() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1; print JSON::PP->new->decode(<$f>)->{$ARGV[1]} // ""' \
		"$LAYERFS_ROOT/containers/$2/state.json" "$1"
}
fullid() { L ps -a -q --no-trunc | while read -r i; do case $i in "$1"*) echo "$i" ;; esac; done; }
idof() { # idof NAME — the full id whose config names NAME
	grep -l "\"name\": \"$1\"" "$LAYERFS_ROOT"/containers/*/config.json 2>/dev/null | head -1 | xargs -r dirname | xargs -r basename
}
# No FUSE mount of the store's containers may stay behind.
no_mounts() { ! grep -q "$LAYERFS_ROOT" /proc/mounts; }

# On any exit: no container of ours may outlive the test.
ctr_cleanup() {
	local st
	for st in "$LAYERFS_ROOT"/containers/*/state.json "$tmp"/home/store/containers/*/state.json; do
		[ -f "$st" ] || continue
		LAYERFS_ROOT=${st%/containers/*} timeout 30 "$LAYERFS" rm -f "$(basename "$(dirname "$st")")" >/dev/null 2>&1
	done
}
trap 'rc_=$?; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT
b_base || bail_out "importing the busybox base failed"

# --- run: output and exit status
out=$(L run busybox:latest sh -c 'echo hello from $(hostname); exit 3' 2>"$tmp/e")
rc=$?
is "$rc" 3 "run ... sh -c 'exit 3' exits 3"
case $out in "hello from "*) ok "the command's output reaches stdout" ;; *) not_ok "the command's output reaches stdout"; diag "$out"; diag_file "$tmp/e" ;; esac
line=$(L ps -a | sed -n 2p)
case $line in *"Exited (3)"*) ok "ps -a shows it Exited (3)" ;; *) not_ok "ps -a shows it Exited (3)"; diag "$line" ;; esac
name=$(echo "$line" | awk '{print $(NF-1)}')
if echo "$name" | grep -Eq '^[a-z]+_[a-z]+[0-9]?$'; then ok "a generated adjective_surname name ($name)"; else not_ok "a generated name"; diag "$line"; fi
id12=$(echo "$line" | awk '{print $1}')
is "$(L ps -a --no-trunc | sed -n 2p | grep -o '"[^"]*"')" "\"sh -c 'echo hello from \$(hostname); exit 3'\"" "ps COMMAND: docker's form, an argument with blanks in single quotes"
full="sh -c 'echo hello from \$(hostname); exit 3'"
is "$(L ps -a | sed -n 2p | grep -o '"[^"]*"')" "\"${full:0:19}…\"" "ps COMMAND: cut to 20 characters, … last (docker's Ellipsis)"
is "$(L container ls -a)" "$(L ps -a)" "container ls -a is ps -a"
# the hostname defaults to the short id, as docker's
is "$out" "hello from $id12" "the hostname is the container's short id"
L run busybox:latest sh -c 'echo out; echo err >&2' >"$tmp/o" 2>"$tmp/e"
is "$(cat "$tmp/o")/$(cat "$tmp/e")" "out/err" "stdout and stderr stay apart"

inspect() { # inspect C EXPR — a value of `layerfs inspect C` (perl on $j)
	L inspect "$1" | perl -MJSON::PP -e 'local $/; my $j = JSON::PP->new->decode(<STDIN>)->[0]; print eval($ARGV[0]) // ""' "$2"
}
is "$(inspect "$name" '$j->{State}{ExitCode}')" 3 "inspect C: State.ExitCode"
# As root with slirp4netns installed, the default is a private network.
is "$(inspect "$name" '$j->{NetworkMode}')" private "inspect C: NetworkMode private (the default here)"
is "$(inspect "$name" '$j->{Config}{Hostname}')" "$id12" "inspect C: the hostname"

# a reader that goes away early: the container still runs to its end
L run --name piped busybox:latest sh -c 'seq 1 20000; exit 4' | head -1 >"$tmp/first"
rc=${PIPESTATUS[0]}
is "$(cat "$tmp/first")/$rc" "1/4" "run | head -1: the first line, and the container's own exit status"
is "$(L logs piped | tail -1)" 20000 "... and its whole output is in the log"

# --- names
L run --name first busybox:latest true
is "$?" 0 "run --name first"
t_fails "a second --name first is refused" "already in use" L run --name first busybox:latest true
is "$(L ps -a | awk 'NR > 1 && $(NF-1) == "first"' | wc -l)" 1 "only one container named first"

# --- environment, workdir, user
printf 'FROMFILE=yes\n# comment\nSECOND=2\n' >"$tmp/envfile"
out=$(L run --rm -e FOO=bar --env-file "$tmp/envfile" busybox:latest sh -c 'echo $FOO $FROMFILE $SECOND')
is "$out" "bar yes 2" "-e and --env-file set the environment"
out=$(L run --rm busybox:latest sh -c 'echo $PATH')
is "$out" "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "the image's Env is the default"
out=$(L run --rm -w /tmp/work busybox:latest pwd)
is "$out" "/tmp/work" "-w sets the working directory"
out=$(L run --rm -u 65534:65534 busybox:latest sh -c 'id -u; id -g')
is "$(echo $out)" "65534 65534" "-u 65534:65534: id -u and id -g inside"
out=$(L run --rm --entrypoint echo busybox:latest a b)
is "$out" "a b" "--entrypoint replaces the entrypoint, the arguments are its arguments"

out=$(echo piped | L run --rm -i busybox:latest cat)
is "$out" "piped" "-i passes standard input"
out=$(echo piped | L run --rm busybox:latest cat)
is "$out" "" "without -i the command's stdin is empty"
L run --rm --network none busybox:latest cat /proc/net/dev | awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' >"$tmp/ifs"
is "$(cat "$tmp/ifs")" "lo" "--network none: only lo inside"
L run --rm busybox:latest cat /proc/net/dev | awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' | sort >"$tmp/ifs"
is "$(cat "$tmp/ifs" | tr '\n' ' ')" "lo tap0 " "the default network is a private one (lo, slirp4netns's tap0)"
L run --rm --network host busybox:latest cat /proc/net/dev | awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' | sort >"$tmp/ifs"
is "$(cat "$tmp/ifs")" "$(awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/net/dev | sort)" "--network host: the host's interfaces"

# --- --rm leaves no record
before=$(ls "$LAYERFS_ROOT/containers" | wc -l)
L run --rm busybox:latest true
after=$(ls "$LAYERFS_ROOT/containers" | wc -l)
is "$after" "$before" "--rm leaves no record"

# --- -d, logs, stop
id=$(L run -d --name bg busybox:latest sh -c 'echo started; trap "echo got TERM; exit 7" TERM; while :; do sleep 0.1; done')
is "${#id}" 64 "run -d prints a 64-hex id"
for _ in $(seq 50); do L logs bg | grep -q started && break; sleep 0.1; done
is "$(L logs bg)" "started" "logs shows the detached container's output"
case $(L ps | grep -c ' bg ') in 1) ok "ps (running only) lists it, Up" ;; *) not_ok "ps lists the running container"; L ps | while read -r l; do diag "$l"; done ;; esac
mon=$(state monitor_pid "$id")
if [ -n "$mon" ] && [ -d "/proc/$mon" ]; then ok "state.json names a live monitor"; else not_ok "state.json names a live monitor ($mon)"; fi
ipid=$(state init_pid "$id")
if [ -n "$ipid" ] && [ "$ipid" != 0 ] && grep -Eq 'NSpid:.*[[:space:]]1$' "/proc/$ipid/status" &&
	[ "$(awk '/^PPid:/ {print $2}' "/proc/$(awk '/^PPid:/ {print $2}' "/proc/$ipid/status")/status")" = "$mon" ]; then
	ok "state.json names the init pid: PID 1 of its namespace, the monitor's grandchild"
else
	not_ok "state.json names the init pid ($ipid)"
fi
L stop bg >/dev/null
is "$(state exit_code "$id")" 7 "stop: SIGTERM reached the command (its trap exits 7)"
is "$(L logs bg | tail -1)" "got TERM" "the trap's output is in the log"
is "$(state status "$id")" exited "state.json says exited"
# (it may still be a zombie for a moment, until its new parent reaps it)
for _ in $(seq 50); do [ -d "/proc/$mon" ] || break; sleep 0.1; done
[ -d "/proc/$mon" ] && not_ok "the monitor is gone" || ok "the monitor is gone"
# a command that cannot be run: run -d says so itself, like docker
t_fails "run -d of a missing command fails with the reason" "/bin/nosuch.*not found" L run -d --name nocmd busybox:latest /bin/nosuch
line=$(L ps -a | grep ' nocmd ')
case $line in *"Exited (127)"*) ok "... and the record shows Exited (127)" ;; *) not_ok "... and the record shows Exited (127)"; diag "$line" ;; esac
L rm nocmd >/dev/null

# start (detached) runs it again; its log grows
out=$(L start bg)
is "$out" "bg" "start C prints the name given"
for _ in $(seq 50); do [ "$(L logs bg | grep -c started)" = 2 ] && break; sleep 0.1; done
is "$(L logs bg | grep -c started)" 2 "start runs the command again (a second 'started' in the log)"
case $(L ps | grep ' bg ') in *"Up "*) ok "ps: Up after start" ;; *) not_ok "ps: Up after start" ;; esac
t_fails "start of a running container is refused" "already running" L start bg
L stop -t 5 bg >/dev/null
is "$(state status "$id")" exited "stopped again"
# -d --rm: the monitor removes the record at the end
rid=$(L run -d --rm busybox:latest true)
for _ in $(seq 100); do [ -d "$LAYERFS_ROOT/containers/$rid" ] || break; sleep 0.1; done
[ -d "$LAYERFS_ROOT/containers/$rid" ] && not_ok "-d --rm: the record is gone after the end" || ok "-d --rm: the record is gone after the end"
# a command that ignores SIGTERM: stop -t 1 kills it after a second
L run -d --name stubborn busybox:latest sh -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null
sleep 0.3
t0=$(date +%s.%N)
L stop -t 1 stubborn >/dev/null
t1=$(date +%s.%N)
sid=$(idof stubborn)
is "$(state exit_code "$sid")" 137 "stop -t 1 of a command that ignores SIGTERM: killed (137)"
if perl -e 'exit !($ARGV[1] - $ARGV[0] >= 0.9 && $ARGV[1] - $ARGV[0] < 8)' "$t0" "$t1"; then ok "stop -t 1 waited about a second"; else not_ok "stop -t 1 waited about a second ($t0 .. $t1)"; fi
line=$(L ps -a | grep ' stubborn ')
case $line in *"Exited (137)"*) ok "ps -a: Exited (137)" ;; *) not_ok "ps -a: Exited (137)"; diag "$line" ;; esac

# a foreground run stopped from elsewhere: its own exit status is 143
: >"$tmp/fg.out"
setsid "$LAYERFS" run --name fg busybox:latest sh -c 'echo up; exec sleep 303' >"$tmp/fg.out" 2>&1 &
fgpid=$!
for _ in $(seq 50); do grep -q up "$tmp/fg.out" && break; sleep 0.1; done
L stop fg >/dev/null
wait "$fgpid"
is "$?" 143 "stop of a foreground run: that run exits 143"
pgrep -f 'sleep 303' >/dev/null && not_ok "no 'sleep 303' left" || ok "no 'sleep 303' left"

# --- kill, logs -f
kid=$(L run -d --name killme busybox:latest sh -c 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.1; done')
for _ in $(seq 50); do L logs killme | grep -q ready && break; sleep 0.1; done
L kill -s USR1 killme >/dev/null
for _ in $(seq 50); do L logs killme | grep -q 'got USR1' && break; sleep 0.1; done
is "$(L logs killme | tail -1)" "got USR1" "kill -s USR1 reaches the command's trap"
L kill killme >/dev/null
for _ in $(seq 50); do [ "$(state status "$kid")" = exited ] && break; sleep 0.1; done
is "$(state exit_code "$kid")" 137 "kill (SIGKILL by default): exit 137"
t_fails "kill of a stopped container is refused" "not running" L kill killme
L run -d --name follow busybox:latest sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.3; done' >/dev/null
timeout 20 "$LAYERFS" logs -f follow >"$tmp/follow"
rc=$?
is "$rc/$(tr '\n' ' ' <"$tmp/follow")" "0/tick 1 tick 2 tick 3 " "logs -f prints everything and returns when the container ends"

# --- start keeps the writable layer
out=$(L run --name keep busybox:latest sh -c 'cat /note 2>/dev/null || echo none; echo kept >/note')
is "$out" "none" "a first run sees no /note"
out=$(L start -a keep)
is "$out" "kept" "start -a: the file written by the first run is still there"

# --- isolation: files and processes
L run --name c1 busybox:latest sh -c 'echo one >/only-c1' >/dev/null
out=$(L run --name c2 busybox:latest sh -c 'cat /only-c1 2>&1 || echo missing')
case $out in *missing*) ok "a second container does not see the first's file" ;; *) not_ok "isolation of files"; diag "$out" ;; esac
if L cat busybox:latest /only-c1 >/dev/null 2>&1; then not_ok "the image is unchanged"; else ok "the image is unchanged (layerfs cat finds no /only-c1)"; fi
# A duration no other test uses, so that the check below sees only this one.
naptime=$((300000 + $$))
L run -d --name sleeper busybox:latest sleep "$naptime" >/dev/null
out=$(L run --rm busybox:latest sh -c 'ps -o pid,comm | tail -n +2')
if echo "$out" | grep -q sleep; then not_ok "processes of another container are invisible"; diag "$out"; else ok "processes of another container are invisible"; fi
out=$(L run --rm busybox:latest sh -c 'echo $$; ls /proc | grep -c "^[0-9]"')
first=$(echo "$out" | head -1)
[ "$first" -le 3 ] && ok "the container's processes have small pids ($first): its own PID namespace" || not_ok "own PID namespace (pid $first)"

# --- commit and diff
L run --name ch busybox:latest sh -c 'echo added >/added; echo x >>/etc/passwd; rm /etc/group' >/dev/null
L diff ch >"$tmp/diff"
expect=$(printf 'A /added\nC /etc\nD /etc/group\nC /etc/passwd')
is "$(grep -E ' /(added|etc|etc/group|etc/passwd)$' "$tmp/diff")" "$expect" "diff C lists A, C and D like docker diff"
L commit ch committed:1 >/dev/null
is "$?" 0 "commit CONTAINER IMAGE"
is "$(L run --rm committed:1 cat /added)" "added" "the committed image has the container's file"
if L run --rm committed:1 test -e /etc/group; then not_ok "the deletion is committed too"; else ok "the deletion is committed too"; fi
# a container keeps its layers when its image is removed
L run --name gcx committed:1 cat /added >/dev/null
L rmi committed:1 >/dev/null
is "$(L start -a gcx 2>&1)" "added" "rmi of its image: the container still starts (its layers are kept)"
L rm gcx >/dev/null
t_fails "commit of a running container is refused" "running" L commit sleeper x:1
L export -o "$tmp/ch.tar" ch
is "$?" 0 "export CONTAINER"
mkdir -p "$tmp/chx" && tar -C "$tmp/chx" -xf "$tmp/ch.tar"
is "$(cat "$tmp/chx/added")" "added" "the export has the container's new file"
[ -e "$tmp/chx/etc/group" ] && not_ok "the export lacks the deleted file" || ok "the export lacks the deleted file"
L export busybox:latest | tar -t | sed 's#^\./##; s#/$##' | grep -v '^$' | sort >"$tmp/img.list"
tar -tf "$tmp/ch.tar" | sed 's#^\./##; s#/$##' | grep -v '^$' | sort >"$tmp/ch.list"
is "$(diff "$tmp/img.list" "$tmp/ch.list" | grep '^[<>]' | sort | tr '\n' ' ')" "< etc/group > added " "the export is the image's tree plus and minus the changes"

# --- rm, rm -f, prune
t_fails "rm of a running container is refused" "rm -f" L rm sleeper
sl=$(idof sleeper)
L rm -f sleeper >/dev/null
is "$?" 0 "rm -f of a running container"
[ -e "$LAYERFS_ROOT/containers/$sl" ] && not_ok "rm -f removed the record" || ok "rm -f removed the record"
pgrep -f "sleep $naptime" >/dev/null && not_ok "no 'sleep' of the container left" || ok "no 'sleep' of the container left"
L rm first >/dev/null
is "$(idof first)" "" "rm removes the record"
L container prune >"$tmp/pruned"
is "$(L ps -a -q | wc -l)" 0 "container prune removed every stopped container"
is "$(ls "$LAYERFS_ROOT/containers" | wc -l)" 0 "containers/ is empty"

# --- a monitor killed with -9
id=$(L run -d --name orphan busybox:latest sleep 301)
for _ in $(seq 50); do pgrep -f 'sleep 301' >/dev/null && break; sleep 0.1; done
mon=$(state monitor_pid "$id")
kill -9 "$mon"
for _ in $(seq 50); do pgrep -f 'sleep 301' >/dev/null || break; sleep 0.1; done
line=$(L ps -a | grep ' orphan ')
case $line in *"Exited (255)"*) ok "a record whose monitor was killed shows Exited (255)" ;; *) not_ok "monitor killed: Exited"; diag "$line" ;; esac
pgrep -f 'sleep 301' >/dev/null && not_ok "its processes are gone" || ok "its processes are gone"
L rm orphan >/dev/null
is "$?" 0 "rm cleans it up"
if no_mounts; then ok "no mount of the store is left in /proc/mounts"; else not_ok "no mounts left"; grep "$LAYERFS_ROOT" /proc/mounts | while read -r l; do diag "$l"; done; fi

# --- rootless: uid 65534 with its own store
home=$tmp/home
mkdir -p "$home"
chmod 755 "$tmp"
d=$(dirname "$tmp")
while case "$(basename "$d")" in layerfs-*) true ;; *) false ;; esac; do chmod o+x "$d"; d=$(dirname "$d"); done
cp "$tmp/busybox.tar" "$home/"
chown -R 65534:65534 "$home"
as_user() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LAYERFS_ROOT="$home/store" \
		timeout -k 5 120 "$@"
}
as_user "$LAYERFS" import -c 'CMD ["sh"]' "$home/busybox.tar" busybox:latest >/dev/null
fuse_mode=$(stat -c %a /dev/fuse)
trap 'rc_=$?; chmod "$fuse_mode" /dev/fuse; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT
# (never made stricter than it is: other tests may be using it)
if [ "$fuse_mode" != 666 ]; then
	t_fails "rootless run -d without access to /dev/fuse: the error says what to fix" "chmod 0666 /dev/fuse" \
		as_user "$LAYERFS" run -d busybox:latest true
	chmod 0666 /dev/fuse
else
	ok "/dev/fuse is already 0666"
fi
out=$(as_user "$LAYERFS" run --name r1 busybox:latest sh -c 'echo uid=$(id -u); echo hi >/f' 2>"$tmp/re")
is "$out" "uid=0" "rootless run as uid 65534: root inside its user namespace"
[ "$out" = uid=0 ] || diag_file "$tmp/re"
owner=$(stat -c %u "$home/store/containers/"*/upper/f 2>/dev/null)
is "$owner" 65534 "the file it wrote is the user's on the host"
uid_id=$(as_user "$LAYERFS" run -d --name r2 busybox:latest sleep 302)
for _ in $(seq 50); do pgrep -f 'sleep 302' >/dev/null && break; sleep 0.1; done
is "$(ps -o uid= -p "$(pgrep -f 'sleep 302' | head -1)" 2>/dev/null | tr -d ' ')" 65534 "the rootless container's process runs as uid 65534 on the host"
as_user "$LAYERFS" stop r2 >/dev/null
is "$(LAYERFS_ROOT=$home/store state exit_code "$uid_id")" 143 "the user stops its container (SIGTERM: 143)"
pgrep -f 'sleep 302' >/dev/null && not_ok "no 'sleep 302' left" || ok "no 'sleep 302' left"
as_user "$LAYERFS" rm r1 r2 >/dev/null
is "$?" 0 "the user removes its containers"

# --- a user created for the test, with a subordinate id range in
# /etc/subuid and /etc/subgid: root inside, ids 1..65536 mapped through
# newuidmap/newgidmap.  The user, its ranges and its files go at exit.
trap 'rc_=$?; chmod "$fuse_mode" /dev/fuse; user_cleanup; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT
ctr_test_user "lfs-test-$$" 300000
cp "$tmp/busybox.tar" "$thome/"
chown -R "$tuid:$tgid" "$thome"
as_tuser "$LAYERFS" import -c 'CMD ["sh"]' "$thome/busybox.tar" busybox:latest >/dev/null
out=$(as_tuser "$LAYERFS" run --name sub busybox:latest sh -c \
	'id -u; mkdir /data && touch /data/f && chown 1000:1000 /data/f && stat -c %u:%g /data/f' 2>"$tmp/se")
is "$(echo $out)" "0 1000:1000" "a test-created user with a subuid range: root inside, chown to 1000 works"
[ "$(echo $out)" = "0 1000:1000" ] || diag_file "$tmp/se"
is "$(stat -c %u "$thome/store/containers/"*/upper/data/f 2>/dev/null)" 300999 \
	"inside uid 1000 is the range's uid 300999 on the host"
# rm of a container whose root gave files to other users: a directory of
# uid 1000 (300999 on the host) with a file in it, which the user cannot
# remove by itself (GNU rm as the user is the reference).
as_tuser "$LAYERFS" run --name subrm busybox:latest sh -c \
	'mkdir -p /owned/deep && touch /owned/deep/g /owned/h && chown -R 1000:1000 /owned && chmod 0555 /owned/deep' >/dev/null 2>"$tmp/se"
subdir=$(grep -l '"name": "subrm"' "$thome"/store/containers/*/config.json | head -1 | xargs -r dirname)
[ -n "$subdir" ] && cp -a "$subdir/upper/owned" "$thome/owned-copy" && chown -R 300999:300999 "$thome/owned-copy"
as_tuser rm -rf "$thome/owned-copy" 2>/dev/null
[ -e "$thome/owned-copy/deep/g" ]
check "reference: the user cannot remove such a tree with rm -rf" $?
as_tuser "$LAYERFS" rm subrm >"$tmp/rmout" 2>&1
is "$?" 0 "rootless rm of a container with files of subordinate ids succeeds"
[ -n "$subdir" ] && [ ! -e "$subdir" ] && [ -z "$(find "$thome/store/containers" -mindepth 1 -maxdepth 1 -name '.rm-*')" ]
rc=$?
check "... and its directory is gone, nothing left behind" $rc
[ $rc = 0 ] || diag_file "$tmp/rmout"
rm -rf "$thome/owned-copy"
as_tuser "$LAYERFS" rm sub >/dev/null 2>&1
user_cleanup
cmp -s /etc/subuid "$tmp/subuid.orig" && cmp -s /etc/subgid "$tmp/subgid.orig"
check "the test user and its ranges are gone" $?
chmod "$fuse_mode" /dev/fuse
if no_mounts; then ok "nothing left mounted"; else not_ok "nothing left mounted"; fi

done_testing
