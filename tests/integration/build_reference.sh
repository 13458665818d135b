#!/bin/bash
# build_reference.sh — `layerfs build` against buildah on the same
# Dockerfile and context: a two-stage build that uses ARG/ENV
# substitution, WORKDIR, COPY (directory contents, wildcards, --chmod,
# --chown by name, trailing-slash rule, symlinks kept as links, one
# pointing outside the context), ADD of a local tar.gz (auto-extract),
# .dockerignore with an exception, RUN that creates, deletes (whiteouts)
# and chmods, USER, COPY --from a stage, and every metadata instruction.
# The merged trees of both results (GNU tar extracts of `layerfs export`
# and of `buildah mount`) must be equal in names, types, modes, owners,
# sizes, link targets and bytes (times differ: RUN makes new ones), and
# the image configs must agree.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
command -v buildah >/dev/null || bail_out "buildah missing (apt-get install buildah)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 27

b_base || bail_out "importing the busybox base failed"
b_buildah_base || bail_out "buildah could not take busybox:latest from the layerfs store"

# --- the context
c=$tmp/ctx
mkdir -p "$c/app/lib" "$c/config" "$c/secret" "$c/arch/dir"
printf '#!/bin/sh\necho "main $*"\n' >"$c/app/main.sh"
chmod 755 "$c/app/main.sh"
echo 'util() { :; }' >"$c/app/lib/util.sh"
echo data >"$c/app/data.txt"
echo a >"$c/config/a.conf"
echo b >"$c/config/b.conf"
echo c >"$c/config/c.txt"
echo ignored >"$c/notes.md"
echo secret >"$c/secret/key.pem"
echo keep >"$c/secret/keep.txt"
mkdir -p "$c/links"
ln -s /etc/passwd "$c/links/link-out"
ln -s ../app/data.txt "$c/links/link-rel"
echo inside >"$c/arch/dir/file"
ln -s file "$c/arch/dir/link"
chmod 0640 "$c/arch/dir/file"
tar -C "$c/arch" --owner=1:1 --numeric-owner -czf "$c/archive.tar.gz" dir
rm -rf "$c/arch"
cat >"$c/.dockerignore" <<'IGN'
# docs and secrets stay out
*.md
secret
!secret/keep.txt
IGN
cat >"$c/Dockerfile" <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=busybox:latest
FROM ${BASE} AS build
ARG VERSION=1.0
ENV APP_HOME=/opt/app \
    GREETING="hello world"
WORKDIR $APP_HOME
COPY app/ ./
COPY config/*.conf /etc/app/
COPY --chmod=0600 config/c.txt /etc/app/secret.txt
COPY --chown=daemon:daemon app/data.txt /srv/data.txt
COPY links /opt/links/
ADD archive.tar.gz /opt/extracted/
COPY secret /opt/secret/
RUN mkdir -p /var/lib/app && echo "v$VERSION $GREETING" > /var/lib/app/version \
 && rm -f /etc/shells && chmod 0700 /var/lib/app && ln -s /var/lib/app /app-state
RUN rm -rf /usr/share /etc/profile && touch /etc/newfile && mkdir /usr/share
USER nobody
RUN id -u > /tmp/whoami
USER root

FROM busybox:latest
COPY --from=build /opt/app /app
COPY --from=build /var/lib/app/version /tmp/whoami /
LABEL org.example.name="ref test" version=1
EXPOSE 8080 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
ENV PATH=/app:$PATH
ENTRYPOINT ["/app/main.sh"]
CMD ["--help"]
DF

t_run "layerfs build of a two-stage Dockerfile" \
	"$LAYERFS" build --progress=plain -t ref:lfs "$c"
t_run "layerfs build --target build" \
	"$LAYERFS" build --progress=plain --target build -t ref:lfs-build "$c"
t_run "buildah bud of the same" \
	b_buildah bud --layers --isolation chroot --pull-never --format docker -t ref:bah "$c"
t_run "buildah bud --target build" \
	b_buildah bud --layers --isolation chroot --pull-never --format docker --target build -t ref:bah-build "$c"

for img in ref ref-build; do
	sfx=${img#ref}
	b_tree_layerfs "ref:lfs$sfx" "$tmp/t-lfs$sfx" || bail_out "export of ref:lfs$sfx failed"
	b_tree_buildah "ref:bah$sfx" "$tmp/t-bah$sfx" || bail_out "buildah mount of ref:bah$sfx failed"
	b_listing "$tmp/t-bah$sfx" >"$tmp/l-bah$sfx"
	b_listing "$tmp/t-lfs$sfx" >"$tmp/l-lfs$sfx"
	if diff -u "$tmp/l-bah$sfx" "$tmp/l-lfs$sfx" >"$tmp/l.diff$sfx"; then
		ok "$img: trees equal to buildah's ($(wc -l <"$tmp/l-bah$sfx") lines)"
	else
		not_ok "$img: trees equal to buildah's"
		diag_file "$tmp/l.diff$sfx" 60
	fi
done

# Spot checks that say what the equal trees mean.
b=$tmp/t-lfs-build
is "$(cat "$b/var/lib/app/version")" "v1.0 hello world" "RUN saw ARG and ENV values"
is "$(cat "$b/tmp/whoami")" "65534" "USER nobody applies to RUN"
is "$(stat -c '%a %u:%g' "$b/etc/app/secret.txt" "$b/srv/data.txt" | tr '\n' ' ')" \
	"600 0:0 644 1:1 " "--chmod and --chown by name"
is "$(readlink "$b/opt/links/link-out")" "/etc/passwd" "a link pointing outside the context is copied as a link"
test ! -e "$b/etc/shells" -a ! -e "$b/etc/profile" -a ! -e "$b/usr/share/misc"
check "RUN deletions are gone (whiteouts)" $?
test ! -e "$b/opt/secret/key.pem" -a -f "$b/opt/secret/keep.txt" -a ! -e "$b/opt/app/notes.md"
check ".dockerignore: ignored files absent, the exception present" $?
is "$(stat -c '%a %u' "$b/opt/extracted/dir/file")" "640 1" "ADD extracted the archive with its owners and modes"

# Configs: the fields docker users see.
bah_cfg() {
	b_buildah inspect --type image "$1" >"$tmp/.bah.json" 2>/dev/null
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' \
		"$tmp/.bah.json" "$2"
}
for f in Env Cmd Entrypoint WorkingDir ExposedPorts Labels Volumes StopSignal User; do
	# buildah labels its images with its own version: not part of the Dockerfile
	is "$(b_cfg ref:lfs "\$j->[0]{Config}{$f}")" \
		"$(bah_cfg ref:bah "delete \$j->{Docker}{config}{Labels}{'io.buildah.version'}; \$j->{Docker}{config}{$f}")" \
		"config $f equals buildah's"
done

# The base's entry, then one per instruction of the final stage; layers
# only for the file-changing ones.
"$LAYERFS" history --format json ref:lfs >"$tmp/hist.json" 2>/dev/null
jcount() {
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		print scalar(grep { eval $ARGV[1] } @$j), "\n"' "$tmp/hist.json" "$1"
}
is "$(jcount 1)" 10 "history: the base's entry + 9 instructions"
is "$(jcount '!$_->{empty_layer}') $(b_cfg ref:lfs 'scalar @{$j->[0]{RootFS}{Layers}}')" \
	"3 3" "history entries with a layer match the layers"

# --- FROM scratch: the first steps have no layer below them
s=$tmp/scratch
mkdir -p "$s/bin"
cp /bin/busybox "$s/bin/busybox"
echo hello >"$s/hello.txt"
tar -C "$c/app" -cf "$s/app.tar" .
printf 'FROM scratch\nWORKDIR /work\nCOPY hello.txt bin ./\nADD app.tar /opt/\nRUN ["/work/busybox", "sh", "-c", "echo ran > /work/ran"]\n' \
	>"$s/Dockerfile"
t_run "FROM scratch: WORKDIR, COPY, ADD and RUN build" \
	"$LAYERFS" build --progress=plain -t scratch:lfs "$s"
t_run "buildah bud of the same" \
	b_buildah bud --layers --isolation chroot --pull-never --format docker -t scratch:bah "$s"
# buildah leaves the stubs of its RUN mounts (/dev, /proc, /sys, /run,
# /etc/hosts, ...) in the layer and makes the root 0555; docker's builder
# and layerfs leave neither: those lines are not compared.
stubs='^(\.|\./(dev|proc|sys|run|etc|etc/hostname|etc/hosts|etc/resolv\.conf))'$'\t''|  \./etc/'
b_tree_layerfs scratch:lfs "$tmp/t-scr-lfs" && b_tree_buildah scratch:bah "$tmp/t-scr-bah" &&
	b_listing "$tmp/t-scr-lfs" | grep -Ev "$stubs" >"$tmp/l-scr-lfs" &&
	b_listing "$tmp/t-scr-bah" | grep -Ev "$stubs" >"$tmp/l-scr-bah"
if diff -u "$tmp/l-scr-bah" "$tmp/l-scr-lfs" >"$tmp/l-scr.diff"; then
	ok "FROM scratch: tree equal to buildah's ($(wc -l <"$tmp/l-scr-lfs") lines)"
else
	not_ok "FROM scratch: tree equal to buildah's"
	diag_file "$tmp/l-scr.diff" 40
fi
done_testing
