#!/bin/bash
# ctr_features.sh — container features that need the runner's side of
# ctr.h: -t (a pty as the controlling terminal, window size), -v (bind
# mounts, read-only ones, no stub left in the upper), -p with the private
# network (a port published on the host), `layerfs exec` (ctr_exec) and
# the init pid reported through on_started; ctr_lifecycle.sh covers the
# rest of the lifecycle.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
command -v script >/dev/null || bail_out "script missing (apt-get install bsdutils)"
ctr_setup

# --- -t: the command's stdin is a terminal, its controlling one, with our size
script -qec "stty cols 123 rows 45; $LAYERFS run --rm -t busybox:latest sh -c 'test -t 0 && echo tty; stty size'" \
	"$tmp/typescript" >"$tmp/t.out" 2>&1
out=$(tr -d '\r' <"$tmp/t.out")
case $out in *tty*) ok "-t: stdin is a terminal" ;; *) not_ok "-t: stdin is a terminal"; diag "$out" ;; esac
case $out in *"45 123"*) ok "-t: the window size is ours (stty size)" ;; *) not_ok "-t: window size"; diag "$out" ;; esac
stty_after=$(script -qec "stty -g; $LAYERFS run --rm -t busybox:latest true; stty -g" /dev/null | tr -d '\r' | sort -u | wc -l)
is "$stty_after" 1 "-t: our terminal's modes are restored afterwards"

# --- -it: a REPL session driven through a pty: typed lines run, exit status passes
printf 'echo repl-$((6 * 7))\nexit 3\n' |
	script -qec "$LAYERFS run --rm -it busybox:latest sh" /dev/null >"$tmp/repl.out" 2>&1
is "$?" 3 "-it: the session's exit status is the shell's (exit 3)"
grep -q 'repl-42' "$tmp/repl.out"
check "-it: a line typed into the session ran in the container's shell" $?

# --- -v
mkdir -p "$tmp/host"
echo from-host >"$tmp/host/in"
out=$(L run --name vol -v "$tmp/host:/data" busybox:latest sh -c 'cat /data/in; echo from-ctr >/data/out' 2>&1)
is "$out" "from-host" "-v: the container reads the host's file"
is "$(cat "$tmp/host/out" 2>/dev/null)" "from-ctr" "-v: the host sees the container's write"
L diff vol >"$tmp/vdiff" 2>&1
if grep -q ' /data' "$tmp/vdiff"; then not_ok "-v: no mount stub left in the upper"; diag_file "$tmp/vdiff"; else ok "-v: no mount stub left in the upper"; fi
out=$(L run --rm -v "$tmp/host:/data:ro" busybox:latest sh -c 'cat /data/in && { echo x >/data/ro || echo refused; }' 2>/dev/null)
is "$(echo $out)" "from-host refused" "-v ...:ro: reads work, writes fail"
[ -e "$tmp/host/ro" ] && not_ok "-v ...:ro: nothing written on the host" || ok "-v ...:ro: nothing written on the host"

# --- -p: the private network, a port published on the host
port=$((20000 + RANDOM % 20000))
L run -d --name web -p "127.0.0.1:$port:8080" busybox:latest sh -c 'mkdir -p /www; echo served >/www/index.html; httpd -f -p 8080 -h /www' >/dev/null
got=
for _ in $(seq 50); do got=$(curl -s --max-time 1 "http://127.0.0.1:$port/") && [ -n "$got" ] && break; sleep 0.1; done
is "$got" "served" "-p 127.0.0.1:$port:8080: the host reaches the container's server"
line=$(L ps | grep ' web ')
case $line in *"127.0.0.1:$port->8080/tcp"*private*) ok "ps: PORTS and the private network" ;; *) not_ok "ps: PORTS and the private network"; diag "$line" ;; esac
ifaces() { awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' | sort | tr '\n' ' '; }
out=$(L run --rm -p "$((port + 1)):80" busybox:latest cat /proc/net/dev | ifaces)
case $out in "lo tap0 " | "eth0 lo ") ok "private network: lo and the slirp interface only ($out)" ;; *) not_ok "private network: lo and the slirp interface only"; diag "got $out; the host has $(ifaces </proc/net/dev)" ;; esac

# --- on_started: the init pid is recorded; exec joins the container
id=$(L run -d --name ex busybox:latest sh -c 'echo mark >/mark; exec sleep 300')
for _ in $(seq 50); do [ -n "$(state init_pid "$id")" ] && [ "$(state init_pid "$id")" != 0 ] && break; sleep 0.1; done
ipid=$(state init_pid "$id")
if [ -n "$ipid" ] && [ "$ipid" != 0 ] && grep -q 'NSpid:.*[[:space:]]1$' "/proc/$ipid/status"; then
	ok "state.json records the init pid (PID 1 of its namespace)"
else
	not_ok "state.json records the init pid ($ipid)"
fi
out=$(L exec ex cat /mark 2>&1)
is "$out" "mark" "exec sees the container's files"
out=$(L exec ex sh -c 'ps -o comm | grep -c sleep' 2>&1)
is "$out" "1" "exec sees the container's processes"
L exec ex sh -c 'exit 5' 2>/dev/null
is "$?" 5 "exec: the exit status is the command's"
out=$(L exec -u 65534 ex id -u 2>&1)
is "$out" "65534" "exec -u"
L rm -f web ex vol >/dev/null 2>&1
if grep -q "$LAYERFS_ROOT" /proc/mounts; then not_ok "nothing left mounted"; else ok "nothing left mounted"; fi

done_testing
