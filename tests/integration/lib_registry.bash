# shellcheck shell=bash
# tests/integration/lib_registry.bash — registries for the tests that pull
# and push (sourced after lib.sh): Debian's docker-registry and
# fake_registry.py (python3, stdlib only), both on 127.0.0.1 with a free
# port, stopped by stop_registries (call it from the EXIT trap:
# trap '_rc=$?; stop_registries; (exit $_rc); _t_cleanup' EXIT; reg_setup
# sets that trap).
#
#   reg_setup                        t_tmpdir ($tmp), HOME and XDG_RUNTIME_DIR
#                                    in it, no REGISTRY_AUTH_FILE, and the EXIT
#                                    trap stopping the registries first
#   start_registry NAME [HTPASSWD] [ACCESSLOG]  docker-registry serving
#                                    $T_TMP/NAME (plain http; Basic auth with
#                                    HTPASSWD; an access log in $T_TMP/NAME/log
#                                    with ACCESSLOG non-empty); sets REG
#   start_fake NAME                  fake_registry.py serving $tmp/NAME; sets
#                                    FAKE (host:port) and FAKE_DIR
#   fake_mode JSON                   how the fake misbehaves from now on
#   fake_log_count ERE               requests.log lines matching ERE
#   store_state                      every path under $LAYERFS_ROOT with its
#                                    type, size and sha256 (lock files left out)
#   registry_push SRC NAME:TAG       skopeo copy of SRC (e.g. oci:DIR:REF) to
#                                    $REG/NAME:TAG with gzip layers
#   jget FILE PERL-EXPR              a value out of a JSON file ($j)
#   sk_digest REPO:TAG               the manifest digest skopeo sees at $REG
# Needs lib.sh sourced first.

REG_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)
FAKE_PY=$T_LIB_DIR/fake_registry.py
# These tests must fail, not skip, where the tools are missing.
command -v python3 >/dev/null || bail_out "python3 not installed (tools/install-deps.sh installs it)"

jget() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' "$1" "$2"
}
sk_digest() {
	skopeo inspect --tls-verify=false "docker://$REG/$1" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Digest}'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
store_state() {
	(
		cd "$LAYERFS_ROOT" || exit 1
		find . ! -name .lock ! -name '*.lock' -printf '%p %y %s\n' | sort
		find . -type f ! -name .lock ! -name '*.lock' -print0 | sort -z | xargs -0 -r sha256sum
	)
}

stop_registries() {
	local p
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}
reg_setup() {
	t_tmpdir
	tmp=$T_TMP
	# Stop the registries first, then lib.sh's cleanup with the script's status.
	trap '_rc=$?; stop_registries; (exit $_rc); _t_cleanup' EXIT
	export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
	mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
	unset REGISTRY_AUTH_FILE
}

# _reg_wait URL PID LOG — until URL answers, or bail out.
_reg_wait() {
	local code
	for _ in $(seq 200); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$1") && [ "$code" != 000 ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	diag_file "$3"
	bail_out "registry at $1 did not start"
}

start_registry() {
	local name=$1 htp=${2:-} alog=${3:-} port
	[ -x "$REG_BIN" ] || bail_out "docker-registry not installed (tools/install-deps.sh installs it)"
	port=$(free_port)
	mkdir -p "$T_TMP/$name"
	{
		echo "version: 0.1"
		if [ -n "$alog" ]; then
			echo "log: {level: error, accesslog: {disabled: false}}"
		else
			echo "log: {level: error, accesslog: {disabled: true}}"
		fi
		echo "storage: {filesystem: {rootdirectory: $T_TMP/$name/data}, delete: {enabled: true}}"
		echo "http: {addr: 127.0.0.1:$port}"
		if [ -n "$htp" ]; then echo "auth: {htpasswd: {realm: test, path: $htp}}"; fi
	} >"$T_TMP/$name/config.yml"
	"$REG_BIN" serve "$T_TMP/$name/config.yml" >"$T_TMP/$name/log" 2>&1 &
	T_PIDS+=($!)
	REG=127.0.0.1:$port
	_reg_wait "http://$REG/v2/" "${T_PIDS[-1]}" "$T_TMP/$name/log"
}

start_fake() {
	FAKE_DIR=$tmp/$1
	mkdir -p "$FAKE_DIR"
	rm -f "$FAKE_DIR/port"
	python3 "$FAKE_PY" serve "$FAKE_DIR" "$FAKE_DIR/port" >"$FAKE_DIR/server.log" 2>&1 &
	T_PIDS+=($!)
	for _ in $(seq 200); do
		[ -s "$FAKE_DIR/port" ] && break
		kill -0 "${T_PIDS[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$FAKE_DIR/port" ] || { diag_file "$FAKE_DIR/server.log"; bail_out "fake registry did not start"; }
	FAKE=127.0.0.1:$(cat "$FAKE_DIR/port")
	_reg_wait "http://$FAKE/v2/" "${T_PIDS[-1]}" "$FAKE_DIR/server.log"
}
fake_mode() {
	printf '%s\n' "$1" >"$FAKE_DIR/mode.json.tmp" && mv "$FAKE_DIR/mode.json.tmp" "$FAKE_DIR/mode.json"
	: >"$FAKE_DIR/requests.log"
}
fake_log_count() {
	grep -Ec -- "$1" "$FAKE_DIR/requests.log"
}
fake() { python3 "$FAKE_PY" "$1" "$FAKE_DIR" "${@:2}"; }

# registry_env — reg_setup with the store in it ($tmp/store).
registry_env() {
	reg_setup
	export LAYERFS_ROOT=$tmp/store
}

registry_push() {
	command -v skopeo >/dev/null || bail_out "skopeo not installed (apt-get install skopeo)"
	skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
		"$1" "docker://$REG/$2" >"$T_TMP/.skopeo" 2>&1 || {
		diag_file "$T_TMP/.skopeo"
		bail_out "skopeo copy $1 to $REG/$2 failed"
	}
}
