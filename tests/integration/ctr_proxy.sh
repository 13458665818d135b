#!/bin/bash
# ctr_proxy.sh — the port proxy of -p (private network) with TCP clients
# that half-close or vanish: a client that shuts down its write side after
# its request still gets the whole reply (a server that answers only at
# EOF, busybox `nc -e wc -c`, and busybox httpd serving a file compared
# with the file itself), and clients that disappear mid-request (closed,
# or reset) leave no descriptor behind in the proxy (/proc/PID/fd); -P
# publishes an image's EXPOSE ports on free host ports.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_ctr.bash
. "$(dirname "$0")/lib_ctr.bash"
command -v python3 >/dev/null || bail_out "python3 missing (apt-get install python3)"
command -v slirp4netns >/dev/null || bail_out "slirp4netns missing (apt-get install slirp4netns)"
ctr_setup

# client.py MODE PORT [ARG] — half: sends ARG bytes, shuts down its write
# side, prints what comes back until EOF; http: GET ARG (HTTP/1.0),
# half-closed, writes the body to stdout; vanish: ARG clients that send
# half a request and go (every other one with a reset).
cat >"$tmp/client.py" <<'XEOF'
import socket, struct, sys
mode, port = sys.argv[1], int(sys.argv[2])
def conn():
    return socket.create_connection(('127.0.0.1', port), timeout=30)
def read_all(s):
    out = b''
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d
if mode == 'half':
    s = conn()
    s.sendall(b'x' * int(sys.argv[3]))
    s.shutdown(socket.SHUT_WR)
    sys.stdout.write(read_all(s).decode().strip())
elif mode == 'http':
    s = conn()
    s.sendall(b'GET ' + sys.argv[3].encode() + b' HTTP/1.0\r\n\r\n')
    s.shutdown(socket.SHUT_WR)
    reply = read_all(s)
    sys.stdout.buffer.write(reply.split(b'\r\n\r\n', 1)[1])
else:
    for i in range(int(sys.argv[3])):
        s = conn()
        s.sendall(b'GET / HT')
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
XEOF
client() { timeout -k 5 60 python3 "$tmp/client.py" "$@"; }

port=$((20000 + RANDOM % 20000))
hport=$((port + 1))
L run -d --name wc -p "127.0.0.1:$port:8080" busybox:latest nc -ll -p 8080 -e wc -c >/dev/null
head -c 1048576 /dev/urandom >"$tmp/blob"
L run -d --name web -v "$tmp/blob:/www/blob:ro" -p "127.0.0.1:$hport:80" busybox:latest httpd -f -p 80 -h /www >/dev/null

got=
for _ in $(seq 100); do got=$(client half "$port" 5 2>/dev/null) && [ -n "$got" ] && break; sleep 0.1; done
is "$got" 5 "a half-closed client gets the reply its EOF asked for (nc -e wc -c: 5)"
is "$(client half "$port" 3000000)" 3000000 "... after 3000000 bytes: all of them went in, the reply came out"

for _ in $(seq 100); do client http "$hport" /blob >"$tmp/got" 2>/dev/null && [ -s "$tmp/got" ] && break; sleep 0.1; done
cmp -s "$tmp/blob" "$tmp/got"
check "httpd, request then SHUT_WR: the whole 1 MiB file comes back (cmp with the host's)" $?

# The proxy's descriptors, before and after 200 clients that vanished
# mid-request (httpd: it forks per connection, nc -ll takes one at a time).
id=$(grep -l '"name": "web"' "$LAYERFS_ROOT"/containers/*/config.json | head -1 | xargs dirname | xargs basename)
proxy=$(pgrep -x -P "$(state monitor_pid "$id")" layerfs-proxy)
fds() { if [ -n "$proxy" ]; then find "/proc/$proxy/fd" -mindepth 1 2>/dev/null | wc -l; else echo none; fi; }
before=$(fds)
if [ -n "$proxy" ] && [ "$before" -gt 0 ]; then ok "the proxy runs (pid $proxy, $before fds)"; else not_ok "the proxy runs"; fi
client vanish "$hport" 200
client http "$hport" /blob >"$tmp/got2"
cmp -s "$tmp/blob" "$tmp/got2"
check "after 200 vanished clients the port still serves the file" $?
# Each vanished connection ends once the container's side has seen the
# end and closed: wait for that, as long as it takes (no timing is tested).
for _ in $(seq 300); do [ "$(fds)" = "$before" ] && break; sleep 0.1; done
is "$(fds)" "$before" "no descriptor left in the proxy after 200 vanished clients"
is "$(find "/proc/$proxy/task" -mindepth 1 -maxdepth 1 | wc -l)" 1 "no connection thread left in the proxy"

# --- -P: the image's EXPOSE 80 on a free host port, shown by ps
L import -c 'EXPOSE 80' -c 'EXPOSE 9/udp' "$tmp/busybox.tar" exposed:1 >/dev/null
L run -d --name pall -P -v "$tmp/blob:/www/blob:ro" exposed:1 httpd -f -p 80 -h /www >/dev/null
line=$(L ps | awk '$(NF-1) == "pall"')
pport=$(echo "$line" | sed -n 's|.*:\([0-9]*\)->80/tcp.*|\1|p')
case $line in *"->80/tcp"*"->9/udp"*) ok "-P: ps shows both exposed ports published" ;; *) not_ok "-P: ps shows both exposed ports published"; diag "$line" ;; esac
for _ in $(seq 100); do client http "${pport:-0}" /blob >"$tmp/got3" 2>/dev/null && [ -s "$tmp/got3" ] && break; sleep 0.1; done
cmp -s "$tmp/blob" "$tmp/got3"
check "-P: the host port ps names (${pport:-none}) reaches the container's port 80" $?

L rm -f wc web pall >/dev/null 2>&1
if grep -q "$LAYERFS_ROOT" /proc/mounts; then not_ok "nothing left mounted"; else ok "nothing left mounted"; fi
if [ -d "/proc/$proxy" ]; then not_ok "the proxy is gone with its container"; else ok "the proxy is gone with its container"; fi

done_testing
