#!/bin/bash
# build_features.sh — Dockerfile features read back from the built image
# (its files through `layerfs cat`, its config through `layerfs inspect`):
# heredocs (RUN <<EOF, COPY <<EOF), ADD of an http URL (busybox httpd on
# 127.0.0.1: mode 0600, Last-Modified as mtime, --checksum), ONBUILD
# triggers run by a child build, HEALTHCHECK, SHELL, the escape directive,
# FILE.dockerignore, --build-arg/--label/-q/--iidfile, the BuildKit-style
# terminal display through a pty, and a rootless build as uid 65534.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
command -v script >/dev/null || bail_out "script missing (apt-get install util-linux)"
command -v setpriv >/dev/null || bail_out "setpriv missing (apt-get install util-linux)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 29

b_base || bail_out "importing the busybox base failed"
c=$tmp/ctx
mkdir -p "$c" "$tmp/www"
lbuild() { "$LAYERFS" build --progress=plain "$@" >"$tmp/log" 2>&1; }

# --- heredocs
cat >"$c/Dockerfile" <<'DOCKERFILE'
FROM busybox:latest
ARG WHO=heredoc
RUN <<EOF
echo "script line 1" > /r1
echo "from $WHO" >> /r1
EOF
RUN cat <<EOT > /r2
unexpanded-by-builder $WHO
EOT
COPY <<EOF /etc/greeting
hello ${WHO}
EOF
COPY <<-"EOF" /etc/literal
	literal ${WHO}
	EOF
COPY <<EOF /etc/quoted
say "hi" 'there' \$HOME C:\path $WHO
EOF
DOCKERFILE
lbuild -t here:1 "$c"
check "a Dockerfile with heredocs builds" $?
is "$("$LAYERFS" cat here:1 /r1 | tr '\n' '|')" "script line 1|from heredoc|" "RUN <<EOF runs the body as a script"
is "$("$LAYERFS" cat here:1 /r2)" "unexpanded-by-builder heredoc" "RUN cmd <<EOT feeds the body to the command"
is "$("$LAYERFS" cat here:1 /etc/greeting)" "hello heredoc" "COPY <<EOF expands an unquoted heredoc"
is "$("$LAYERFS" cat here:1 /etc/literal)" 'literal ${WHO}' 'COPY <<-"EOF": tabs stripped, no expansion'
is "$("$LAYERFS" cat here:1 /etc/quoted)" "say \"hi\" 'there' \$HOME C:\\path heredoc" \
	'COPY <<EOF: quotes and backslashes stay text, \$ is a literal $ (as sh expands a heredoc)'

# --- ADD of a URL, from busybox httpd on loopback
echo "remote content" >"$tmp/www/remote.txt"
touch -d '2020-01-02 03:04:05 UTC' "$tmp/www/remote.txt"
port=$((20000 + RANDOM % 20000))
busybox httpd -f -p "127.0.0.1:$port" -h "$tmp/www" &
httpd_pid=$!
T_PIDS+=("$httpd_pid")
for _ in $(seq 50); do busybox nc -z 127.0.0.1 "$port" 2>/dev/null && break; sleep 0.1; done
sum=$(sha256sum "$tmp/www/remote.txt" | cut -d' ' -f1)
cat >"$c/Dockerfile" <<DOCKERFILE
FROM busybox:latest
ADD http://127.0.0.1:$port/remote.txt /downloads/
ADD --checksum=sha256:$sum http://127.0.0.1:$port/remote.txt /named.txt
DOCKERFILE
lbuild -t url:1 "$c"
check "ADD of http URLs builds" $?
is "$("$LAYERFS" cat url:1 /downloads/remote.txt)" "remote content" "ADD URL DEST/ keeps the URL's file name"
"$LAYERFS" ls -l url:1 /named.txt >"$tmp/ls"
is "$(awk '{ print $1, $6 }' "$tmp/ls")" "-rw------- 2020-01-02" "ADD URL: mode 0600 and the Last-Modified time"
sed -i "s/sha256:$sum/sha256:$(printf '%064d' 0)/" "$c/Dockerfile"
t_fails "ADD --checksum with a wrong digest fails" "digest is sha256:$sum" \
	"$LAYERFS" build --progress=plain -t url:2 "$c"
kill "$httpd_pid" 2>/dev/null

# --- ONBUILD, HEALTHCHECK, SHELL, escape directive
cat >"$c/Dockerfile" <<'DOCKERFILE'
# escape=`
FROM busybox:latest
ONBUILD RUN echo triggered > /onbuild-ran
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
SHELL ["/bin/sh", "-e", "-c"]
RUN echo one `
    two > /escaped
DOCKERFILE
lbuild -t parent:1 "$c"
check "escape directive, ONBUILD, HEALTHCHECK, SHELL build" $?
is "$("$LAYERFS" cat parent:1 /escaped)" "one two" "backtick continues a line with # escape=\`"
"$LAYERFS" cat parent:1 /onbuild-ran >/dev/null 2>&1
check "ONBUILD does not run in the image that declares it" $((!$?))
is "$(b_cfg parent:1 '$j->[0]{Config}{Healthcheck}')" \
	'{"Interval":30000000000,"Retries":3,"Test":["CMD-SHELL","wget -q -O- http://localhost/ || exit 1"],"Timeout":5000000000}' \
	"HEALTHCHECK in the config"
is "$(b_cfg parent:1 '$j->[0]{Config}{Shell}')" '["/bin/sh","-e","-c"]' "SHELL in the config"
printf 'FROM parent:1\nRUN true\n' >"$c/Dockerfile"
lbuild -t child:1 "$c"
is "$("$LAYERFS" cat child:1 /onbuild-ran)" "triggered" "a child build runs the ONBUILD trigger"
is "$(b_cfg child:1 '$j->[0]{Config}{OnBuild} // "none"')" "none" "the child does not inherit the trigger"

# --- FILE.dockerignore, build args, labels, -q, --iidfile
echo keep >"$c/keep.txt"
echo drop >"$c/drop.txt"
printf 'FROM busybox:latest\nARG V\nRUN echo "v=$V" > /v\nCOPY . /ctx/\n' >"$c/app.Dockerfile"
echo 'drop.txt' >"$c/app.Dockerfile.dockerignore"
echo 'keep.txt' >"$c/.dockerignore" # must not apply: FILE.dockerignore wins
id=$("$LAYERFS" build -q --build-arg V=42 --build-arg UNUSED=1 --label team=core \
	--iidfile "$tmp/iid" -f "$c/app.Dockerfile" -t args:1 "$c" 2>"$tmp/err")
is "$id" "$(cat "$tmp/iid")" "-q prints the image ID, --iidfile writes it"
is "$("$LAYERFS" cat args:1 /v)" "v=42" "--build-arg reaches RUN"
"$LAYERFS" ls args:1 /ctx >"$tmp/ls"
grep -qx keep.txt "$tmp/ls" && ! grep -qx drop.txt "$tmp/ls"
check "app.Dockerfile.dockerignore is used instead of .dockerignore" $?
is "$(b_cfg args:1 '$j->[0]{Config}{Labels}{team}')" "core" "--label"

# --- history text of ENV/LABEL: the pairs as set, after substitution
# (docker's builders record "ENV A=1 B=x y" for ENV A=$V B="x y")
printf 'FROM busybox:latest\nARG V=1\nENV A=$V B="x y"\nENV C $V z\nLABEL l=$V "m n"="o p"\n' \
	>"$c/hist.Dockerfile"
lbuild -f "$c/hist.Dockerfile" -t hist:1 "$c"
is "$("$LAYERFS" history --format json hist:1 |
	perl -MJSON::PP -0777 -ne 'print join("|", grep { /^(ENV|LABEL)/ } map { $_->{CreatedBy} // $_->{created_by} } @{decode_json($_)})')" \
	'LABEL l=1 m n=o p|ENV C=1 z|ENV A=1 B=x y' "history shows ENV and LABEL expanded, as key=value"

# --- FROM NAME@sha256:DIGEST and COPY --from=IMAGE (not a stage)
digest=$(b_cfg busybox:latest '$j->[0]{LayerFS}{ManifestDigest}')
printf 'FROM busybox@%s\nCOPY --from=here:1 /etc/greeting /from-image\n' "$digest" >"$c/Dockerfile"
lbuild -t bydigest:1 "$c"
check "FROM busybox@$digest builds" $?
is "$("$LAYERFS" cat bydigest:1 /from-image)" "hello heredoc" "COPY --from an image in the store"

# --- the terminal display (through a pty)
script -qec "'$LAYERFS' build --progress=tty --build-arg V=42 -t tty:1 -f '$c/app.Dockerfile' '$c'" /dev/null >"$tmp/tty" 2>&1
grep -q 'Building .*FINISHED' "$tmp/tty" && grep -q '=> CACHED \[2/3\] RUN echo' "$tmp/tty"
rc=$?
check "tty progress: '[+] Building ... FINISHED' and '=> CACHED [2/3] RUN ...'" $rc
[ "$rc" = 0 ] || diag_file "$tmp/tty" 30

# --- rootless: an ordinary user builds into its own store
home=$tmp/home
mkdir -p "$home"
cp -r "$T_REPO/examples/hello" "$home/hello"
# files the container's root makes: 0:0 in the layer, as in the same build by root
mkdir -p "$home/owners"
printf 'FROM busybox:latest\nRUN echo hi > /f && mkdir -p /d/e && echo x > /d/e/g && chmod 0700 /d /d/e && ln -s f /l\n' \
	>"$home/owners/Dockerfile"
"$LAYERFS" build --progress=plain -t owners:root "$home/owners" >"$tmp/owners.log" 2>&1 ||
	diag_file "$tmp/owners.log" 10
b_tree_layerfs owners:root "$tmp/t-owners-root" && b_listing "$tmp/t-owners-root" >"$tmp/l-owners-root"
cp "$T_TMP/busybox.tar" "$home/"
chown -R 65534:65534 "$home"
chmod o+x "$tmp"
d=$(dirname "$tmp") # our own temporary ancestors (tests/run.sh's) must be reachable
while case "$(basename "$d")" in layerfs-*) true ;; *) false ;; esac; do
	chmod o+x "$d"
	d=$(dirname "$d")
done
fuse_mode=$(stat -c %a /dev/fuse)
trap 'chmod "$fuse_mode" /dev/fuse; _t_cleanup' EXIT
chmod 0666 /dev/fuse
as_user() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LAYERFS_ROOT="$home/store" \
		${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} timeout -k 5 300 "$@"
}
as_user "$LAYERFS" import "$home/busybox.tar" busybox:latest >/dev/null &&
	as_user "$LAYERFS" build --progress=plain -t hello:1 "$home/hello" >"$tmp/rootless.log" 2>&1
rc=$?
check "uid 65534 builds examples/hello (RUN in a user namespace)" $rc
[ "$rc" = 0 ] || diag_file "$tmp/rootless.log" 20
is "$(as_user "$LAYERFS" cat hello:1 /app/build-info.txt 2>&1)" "built by layerfs for $(uname -m)" \
	"the rootless RUN's output is in the image"
as_user "$LAYERFS" build --progress=plain -t owners:user "$home/owners" >"$tmp/owners-user.log" 2>&1
check "uid 65534 builds a RUN that makes files and a 0700 directory" $?
as_user "$LAYERFS" export owners:user >"$tmp/owners-user.tar" &&
	mkdir -p "$tmp/t-owners-user" && tar -C "$tmp/t-owners-user" --numeric-owner -xpf "$tmp/owners-user.tar" &&
	b_listing "$tmp/t-owners-user" >"$tmp/l-owners-user"
if diff -u "$tmp/l-owners-root" "$tmp/l-owners-user" >"$tmp/l-owners.diff"; then
	ok "the rootless build's files are owned as in root's build (0:0, not the user's uid)"
else
	not_ok "the rootless build's files are owned as in root's build (0:0, not the user's uid)"
	diag_file "$tmp/l-owners.diff" 20
fi
chmod "$fuse_mode" /dev/fuse
done_testing
