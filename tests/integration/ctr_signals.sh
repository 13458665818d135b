#!/bin/bash
# ctr_signals.sh — signals and terminals between `layerfs run/exec` and the
# container: a foreground run passes the signals it gets to the command
# (docker's --sig-proxy, default true), a terminal's Ctrl-C included, and
# its exit status is then the command's; --sig-proxy=false stops the
# container instead; `exec -t` and `run -t` give the command our window
# size and pass its changes on (SIGWINCH).  The facts come from the
# command's own trap handlers and `stty size` inside.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
command -v python3 >/dev/null || bail_out "python3 missing (apt-get install python3)"
ctr_setup

# pty_drive.py ACTION CMD... — runs CMD on a new pty (33x111) as its
# foreground process group; once CMD printed "ready", ACTION: "intr"
# types Ctrl-C, "winch" sets the size to 44x122 and, once "44 122" came
# back, types "q".  Prints what CMD wrote, then "exit N".
cat >"$tmp/pty_drive.py" <<'XEOF'
import fcntl, os, pty, select, struct, sys, termios, time
def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
pid, m = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
setsize(m, 33, 111)
out = b''
def read_until(token, seconds):
    global out
    end = time.time() + seconds
    while (token is None or token not in out) and time.time() < end:
        r, _, _ = select.select([m], [], [], 0.2)
        if not r:
            continue
        try:
            d = os.read(m, 4096)
        except OSError:
            return
        if not d:
            return
        out += d
read_until(b'ready', 60)
if sys.argv[1] == 'intr':
    os.write(m, b'\x03')
else:
    setsize(m, 44, 122)
    read_until(b'44 122', 30)
    os.write(m, b'q\n')
read_until(None, 60)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
print('exit', os.waitstatus_to_exitcode(st))
XEOF
pty_run() { timeout -k 5 120 python3 "$tmp/pty_drive.py" "$@"; }

traps='trap "echo got-INT; exit 7" INT; trap "echo got-TERM; exit 8" TERM; trap "echo got-HUP; exit 9" HUP; trap "echo got-USR1; exit 5" USR1'

# --- Ctrl-C on the terminal of a foreground run without -t
out=$(pty_run intr "$LAYERFS" run --name cc busybox:latest sh -c "$traps; echo ready; while :; do sleep 0.1; done")
case $out in *got-INT*"exit 7") ok "Ctrl-C reaches the command's trap; run exits with its status (7)" ;; *) not_ok "Ctrl-C reaches the command"; diag "$out" ;; esac
line=$(L ps -a | awk '$(NF-1) == "cc"')
case $line in *"Exited (7)"*) ok "ps -a: Exited (7), the command's own exit" ;; *) not_ok "ps -a: Exited (7)"; diag "$line" ;; esac

# run_bg NAME ARGS... — a foreground run in the background (not under
# timeout(1), which would take the signals); waits for "ready" in its
# output ($tmp/NAME.out); its pid in $bg.
run_bg() {
	local name=$1
	shift
	"$LAYERFS" run --name "$name" "$@" >"$tmp/$name.out" 2>&1 &
	bg=$!
	for _ in $(seq 300); do grep -q ready "$tmp/$name.out" && return 0; sleep 0.1; done
	return 1
}

# --- kill -TERM / -HUP / -USR1 to `layerfs run`: passed on, the command decides
# trapped SIG STATUS — the trap for SIG ran (got-SIG) and run exits STATUS
trapped() {
	local name=sig-$1
	run_bg "$name" busybox:latest sh -c "$traps; echo ready; while :; do sleep 0.1; done"
	kill "-$1" "$bg"
	wait "$bg"
	is "$?/$(grep -c "got-$1" "$tmp/$name.out")" "$2/1" "SIG$1 to run: the command's trap ran, run exits $2"
}
trapped TERM 8
trapped HUP 9
trapped USR1 5

# --- a command that does not trap it dies of it: 128+15, from the container
run_bg plain busybox:latest sh -c 'echo ready; exec sleep 300'
kill -TERM "$bg"
wait "$bg"
is "$?" 143 "SIGTERM to run, command without a trap: it dies of it, run exits 143"
is "$(L ps -a | awk '$(NF-1) == "plain"' | wc -l)" 1 "... and the container is kept (Exited)"
case $(L ps -a | awk '$(NF-1) == "plain"') in *"Exited (143)"*) ok "ps -a: Exited (143)" ;; *) not_ok "ps -a: Exited (143)"; diag "$(L ps -a)" ;; esac

# --- --sig-proxy=false: the signal stops the container, no trap runs
run_bg noproxy --sig-proxy=false busybox:latest sh -c "$traps; echo ready; while :; do sleep 0.1; done"
kill -TERM "$bg"
wait "$bg"
is "$?/$(grep -c got-TERM "$tmp/noproxy.out")" "130/0" "--sig-proxy=false: SIGTERM stops the container (130), the trap never runs"
t_fails "--sig-proxy=maybe is a usage error" "use true or false" L run --sig-proxy=maybe busybox:latest true

# --- window size: exec -t and run -t, initial and changed (SIGWINCH)
L run -d --name ex busybox:latest sleep 300 >/dev/null
winch='trap "stty size" WINCH; stty size; echo ready; read x; stty size'
out=$(pty_run winch "$LAYERFS" exec -it ex sh -c "$winch")
is "$(echo "$out" | grep -c '^33 111$')" 1 "exec -t: the command starts with our window size"
is "$(echo "$out" | grep -c '44 122$')" 2 "exec -t: a change of our size reaches the command (SIGWINCH and stty size)"
out=$(pty_run winch "$LAYERFS" run --rm -it busybox:latest sh -c "$winch")
is "$(echo "$out" | grep -c '^33 111$')" 1 "run -t: the command starts with our window size"
is "$(echo "$out" | grep -c '44 122$')" 2 "run -t: a change of our size reaches the command"

L rm -f ex >/dev/null 2>&1
if grep -q "$LAYERFS_ROOT" /proc/mounts; then not_ok "nothing left mounted"; else ok "nothing left mounted"; fi
is "$(L ps -q)" "" "no container left running"

done_testing
