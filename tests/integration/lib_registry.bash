# shellcheck shell=bash
# tests/integration/lib_registry.bash — a local docker-registry for the
# tests that pull (sourced after lib.sh; not a test itself).
#
#   r_require              fail (not skip) without docker-registry or skopeo
#   r_start DIR            start one on 127.0.0.1 with a free port, data in
#                          DIR: sets REG (host:port) and R_PID
#   r_stop                 stop it (call it from the EXIT trap)
#   r_push SRC NAME:TAG    skopeo copy of SRC (an oci: or other transport
#                          reference) to $REG/NAME:TAG, gzip layers

R_PID=

r_require() {
	R_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)
	[ -x "$R_BIN" ] || bail_out "docker-registry not installed (apt-get install docker-registry)"
	command -v skopeo >/dev/null || bail_out "skopeo not installed (apt-get install skopeo)"
}

r_start() {
	local dir=$1 port code
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$dir"
	printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
		"$dir/data" "$port" >"$dir/config.yml"
	"$R_BIN" serve "$dir/config.yml" >"$dir/log" 2>&1 &
	R_PID=$!
	REG=127.0.0.1:$port
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/") && [ "$code" != 000 ] && return 0
		kill -0 "$R_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag_file "$dir/log"
	bail_out "docker-registry did not start"
}

r_stop() {
	if [ -n "$R_PID" ]; then
		kill "$R_PID" 2>/dev/null
		wait "$R_PID" 2>/dev/null
	fi
	R_PID=
	return 0
}

r_push() {
	skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
		"$1" "docker://$REG/$2" >"$T_TMP/.skopeo" 2>&1 || {
		diag_file "$T_TMP/.skopeo"
		bail_out "skopeo copy $1 to $REG/$2 failed"
	}
}
