# shellcheck shell=bash
# tests/integration/lib_registry.bash — Debian's docker-registry on
# 127.0.0.1 for the tests that pull and push (sourced after lib.sh):
#
#   start_registry NAME [HTPASSWD]   serve $T_TMP/NAME (plain http; Basic
#                                    auth with HTPASSWD); sets REG=host:port
#   stop_registries                  stop them (call it from the EXIT trap:
#                                    trap '_rc=$?; stop_registries; (exit $_rc); _t_cleanup' EXIT)
#   registry_push SRC NAME:TAG       skopeo copy of SRC (e.g. oci:DIR:REF) to
#                                    $REG/NAME:TAG with gzip layers

REG_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME [HTPASSWD] — sets REG (host:port); stopped by the trap
start_registry() {
	local name=$1 htp=${2:-} port
	port=$(free_port)
	mkdir -p "$T_TMP/$name"
	{
		echo "version: 0.1"
		echo "log: {level: error, accesslog: {disabled: true}}"
		echo "storage: {filesystem: {rootdirectory: $T_TMP/$name/data}, delete: {enabled: true}}"
		echo "http: {addr: 127.0.0.1:$port}"
		if [ -n "$htp" ]; then echo "auth: {htpasswd: {realm: test, path: $htp}}"; fi
	} >"$T_TMP/$name/config.yml"
	"$REG_BIN" serve "$T_TMP/$name/config.yml" >"$T_TMP/$name/log" 2>&1 &
	T_PIDS+=($!)
	REG=127.0.0.1:$port
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/") && [ "$code" != 000 ] && return 0
		kill -0 "${T_PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	diag_file "$T_TMP/$name/log"
	bail_out "docker-registry did not start"
}
stop_registries() {
	local p
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# registry_env — a temporary dir ($tmp) holding the store, HOME and the
# runtime dir (no credentials of the caller's leak in), and the EXIT trap
# that stops the registries before lib.sh's cleanup.
registry_env() {
	t_tmpdir
	tmp=$T_TMP
	export LAYERFS_ROOT=$tmp/store HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
	mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
	unset REGISTRY_AUTH_FILE
	trap '_rc=$?; stop_registries; (exit $_rc); _t_cleanup' EXIT
}

registry_push() {
	command -v skopeo >/dev/null || bail_out "skopeo not installed (apt-get install skopeo)"
	skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
		"$1" "docker://$REG/$2" >"$T_TMP/.skopeo" 2>&1 || {
		diag_file "$T_TMP/.skopeo"
		bail_out "skopeo copy $1 to $REG/$2 failed"
	}
}
