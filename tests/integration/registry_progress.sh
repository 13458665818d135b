#!/bin/bash
# registry_progress.sh — pull's progress display.  On a terminal (a pty made
# by python3's pty module) every layer gets a line redrawn in place with a
# docker-like bar "<short digest>: Downloading [====>   ]  1.2MB/3.4MB",
# ending "Pull complete", then the final status; the output is replayed on
# a small terminal model to check what the screen shows at the end.  Piped,
# the same pull prints plain lines without escape sequences.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_layerfs
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$T_LIB_DIR/lib_registry.bash"
reg_setup
export LAYERFS_ROOT=$tmp/s1

start_fake fake
digest=$(fake mkimage img/app 1 3 400000)
mapfile -t layers < <(perl -MJSON::PP -e 'local $/; print "$_->{digest}\n" for @{JSON::PP->new->decode(<STDIN>)->{layers}}' \
	<"$FAKE_DIR/repos/img/app/_manifests/1")
fake_mode '{"rate": 800000}'

# pty_run OUT CMD... — CMD with stdout and stderr on a new pty; everything
# it wrote goes to OUT; returns its exit status.
pty_run() {
	python3 - "$@" <<'XEOF'
import os, pty, subprocess, sys
out = sys.argv[1]
m, s = pty.openpty()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=s, stderr=s, close_fds=True)
os.close(s)
data = b""
while True:
    try:
        chunk = os.read(m, 65536)
    except OSError:  # EIO: the other side is closed
        break
    if not chunk:
        break
    data += chunk
open(out, "wb").write(data)
sys.exit(p.wait())
XEOF
}
# screen FILE — the lines a terminal shows after FILE is written to it
# (handles \r, \n, ESC[nA, ESC[nB, ESC[K; the pty turns \n into \r\n).
screen() {
	python3 - "$1" <<'XEOF'
import re, sys
rows, r, c = [[]], 0, 0
data = open(sys.argv[1], "rb").read().decode()
for tok in re.findall(r"\x1b\[(\d*)([ABK])|(\r)|(\n)|([^\x1b\r\n])", data):
    n, cmd, cr, nl, ch = tok
    if cmd == "A":
        r = max(0, r - int(n or 1))
    elif cmd == "B":
        r += int(n or 1)
    elif cmd == "K":
        rows[r] = rows[r][:c]
    elif cr:
        c = 0
    elif nl:
        r += 1
    else:
        while len(rows[r]) < c:
            rows[r].append(" ")
        rows[r][c:c + 1] = [ch]
        c += 1
    while len(rows) <= r:
        rows.append([])
for row in rows:
    print("".join(row).rstrip())
XEOF
}

pty_run "$tmp/tty.out" timeout 120 "$LAYERFS" pull "$FAKE/img/app:1"
check "pull on a terminal" $? || diag_file "$tmp/tty.out"
bars=0 full=0 redraws=0
for l in "${layers[@]}"; do
	short=${l:7:12}
	grep -aEq "$short: Downloading \[=*> *\] +[0-9.]+[kMG]?B/[0-9.]+[kMG]?B" "$tmp/tty.out" && bars=$((bars + 1))
	grep -aEq "$short: Downloading \[={50}>\] +([0-9.]+[kMG]?B)/\1" "$tmp/tty.out" && full=$((full + 1))
	grep -aq $'\e\\[[0-9]*A\r\e\\[K'"$short: " "$tmp/tty.out" && redraws=$((redraws + 1))
done
is "$bars" 3 "every layer got a bar: <short digest>: Downloading [=...>  ] done/total"
is "$full" 3 "every bar reached [==...==>] total/total"
is "$redraws" 3 "each layer's line is redrawn in place (cursor up, erase line)"
screen "$tmp/tty.out" >"$tmp/screen"
final=$(for l in "${layers[@]}"; do grep -c "^${l:7:12}: Pull complete$" "$tmp/screen"; done | tr '\n' ' ')
is "$final" "1 1 1 " "the screen ends with one 'Pull complete' line per layer"
is "$(grep -v '^$' "$tmp/screen" | tail -3 | head -2 | tr '\n' '|')" "Digest: $digest|Status: Downloaded image for $FAKE/img/app:1|" "then the digest and the final status"
is "$(grep -v '^$' "$tmp/screen" | head -1)" "1: Pulling from img/app" "the first line says what is pulled"

export LAYERFS_ROOT=$tmp/s2
t_lfs pull "$FAKE/img/app:1"
check "pull to a pipe" $? || t_diag_err
if grep -q $'\e' "$tmp/.out"; then not_ok "no escape sequences when stdout is not a terminal"; else ok "no escape sequences when stdout is not a terminal"; fi
is "$(grep -c ': Pull complete$' "$tmp/.out")" 3 "one plain 'Pull complete' line per layer"

stop_registries
done_testing
