#!/bin/bash
# concurrency.sh — commands that share one store, run at the same time:
# two builds of different Dockerfiles on one base; a build while `rmi`
# removes its base; 20 parallel `run --rm` of one image; the same `pull`
# twice at once from a local docker-registry.  Every command succeeds or
# fails cleanly, and afterwards every blob's sha256 is its name, every
# image in index.json has all its blobs, and no temp file, container,
# mount or process is left (and `layerfs fsck` agrees).  Image contents
# are compared with GNU tar's extraction of the base plus the files each
# Dockerfile adds.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
# shellcheck source-path=SCRIPTDIR source=lib_registry.bash
. "$(dirname "$0")/lib_registry.bash"
require_root
require_fuse
require_layerfs
[ -x "$REG_BIN" ] || bail_out "docker-registry not installed (apt-get install docker-registry)"
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
L() { timeout -k 5 120 "$LAYERFS" "$@"; }

ctr_cleanup() {
	local st
	for st in "$tmp"/store*/containers/*/state.json; do
		[ -f "$st" ] || continue
		LAYERFS_ROOT=${st%/containers/*} timeout 30 "$LAYERFS" rm -f "$(basename "$(dirname "$st")")" >/dev/null 2>&1
	done
	stop_registries
}
trap 'rc_=$?; ctr_cleanup; (exit $rc_); _t_cleanup' EXIT

# store_verify ROOT — prints one line per problem: a blob whose sha256 is
# not its name, a file in blobs/sha256 that is not a blob (a temp file
# left behind), an image whose manifest, config or layer blob is missing.
store_verify() {
	perl -MJSON::PP -MDigest::SHA -e '
		my $root = shift;
		my $bd = "$root/blobs/sha256";
		opendir(my $d, $bd) or do { print "no $bd\n"; exit };
		for my $f (sort readdir $d) {
			next if $f eq "." || $f eq "..";
			if ($f !~ /^[0-9a-f]{64}$/) { print "stray file blobs/sha256/$f\n"; next }
			my $h = Digest::SHA->new(256)->addfile("$bd/$f")->hexdigest;
			print "blob $f has sha256 $h\n" if $h ne $f;
		}
		sub blob { my $g = shift; $g =~ s/^sha256://; "$bd/$g" }
		sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; <$f> }
		my $ix = slurp("$root/index.json") // do { print "no index.json\n"; exit };
		for my $m (@{ JSON::PP->new->decode($ix)->{manifests} }) {
			my $name = $m->{annotations}{"org.opencontainers.image.ref.name"} // $m->{digest};
			my $mt = slurp(blob($m->{digest}));
			if (!defined $mt) { print "$name: manifest $m->{digest} missing\n"; next }
			my $man = JSON::PP->new->decode($mt);
			for my $b ($man->{config}, @{ $man->{layers} }) {
				print "$name: blob $b->{digest} missing\n" unless -f blob($b->{digest});
			}
		}' "$1"
}
# waited PID OUT DESC — one test point: background command PID exited 0
# (its output OUT is shown if not).
waited() {
	local rc
	wait "$1"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$3"; else
		not_ok "$3 (exit $rc)"
		diag_file "$2"
	fi
}
# t_store_ok DESC [ROOT] — two test points: store_verify finds nothing,
# and `layerfs fsck` calls the store sound.
t_store_ok() {
	local root=${2:-$LAYERFS_ROOT}
	store_verify "$root" >"$tmp/.verify" 2>&1
	if [ ! -s "$tmp/.verify" ]; then ok "$1"; else
		not_ok "$1"
		diag_file "$tmp/.verify" 20
	fi
	if LAYERFS_ROOT=$root L fsck -q >"$tmp/.fsck" 2>&1; then ok "$1 (layerfs fsck)"; else
		not_ok "$1 (layerfs fsck)"
		diag_file "$tmp/.fsck" 20
	fi
}

b_base || bail_out "importing the busybox base failed"
mkdir -p "$tmp/ref/base"
tar -C "$tmp/ref/base" --numeric-owner -xpf "$tmp/busybox.tar" || bail_out "tar -x busybox.tar"

# --- two builds of different Dockerfiles sharing the base, at once
for n in a b; do
	mkdir -p "$tmp/ctx$n"
	head -c 300000 /dev/urandom >"$tmp/ctx$n/data"
	printf 'FROM busybox:latest\nRUN mkdir /d%s && echo %s >/d%s/run\nCOPY data /d%s/data\n' \
		"$n" "$n" "$n" "$n" >"$tmp/ctx$n/Dockerfile"
	# the reference: GNU tar's base plus what the Dockerfile adds
	cp -a "$tmp/ref/base" "$tmp/ref/$n"
	mkdir "$tmp/ref/$n/d$n"
	echo "$n" >"$tmp/ref/$n/d$n/run"
	cp "$tmp/ctx$n/data" "$tmp/ref/$n/d$n/data"
	chmod 644 "$tmp/ref/$n/d$n/data"
done
L build -t img-a:1 "$tmp/ctxa" >"$tmp/ba.out" 2>&1 &
pa=$!
L build -t img-b:1 "$tmp/ctxb" >"$tmp/bb.out" 2>&1 &
pb=$!
waited "$pa" "$tmp/ba.out" "parallel build of img-a:1 succeeds"
waited "$pb" "$tmp/bb.out" "parallel build of img-b:1 succeeds"
for n in a b; do
	rm -rf "$tmp/got$n"
	if b_tree_layerfs "img-$n:1" "$tmp/got$n" 2>"$tmp/.exp"; then
		b_listing "$tmp/ref/$n" >"$tmp/ref$n.lst"
		b_listing "$tmp/got$n" >"$tmp/got$n.lst"
		if diff -u "$tmp/ref$n.lst" "$tmp/got$n.lst" >"$tmp/.d"; then
			ok "img-$n:1 is the base plus its own files ($(wc -l <"$tmp/ref$n.lst") lines)"
		else
			not_ok "img-$n:1 is the base plus its own files"
			diag_file "$tmp/.d" 30
		fi
	else
		not_ok "img-$n:1 exports"
		diag_file "$tmp/.exp"
	fi
done
t_store_ok "after the parallel builds: every blob matches its digest, no image misses one"

# --- builds while `rmi` removes their base, a few times with the rmi at
# different points of the build.  Each base has its own layer, so rmi
# really deletes blobs.
printf 'FROM base2:latest\nRUN echo built >/built\n' >"$tmp/ctxa/Dockerfile.rmi"
rmi_ok=1
for i in 1 2 3 4 5 6; do
	mkdir -p "$tmp/b2/r$i"
	tar -C "$tmp/ref/base" -cf - . | tar -C "$tmp/b2/r$i" -xpf -
	echo "$i" >"$tmp/b2/r$i/round"
	tar -C "$tmp/b2/r$i" --numeric-owner -cf "$tmp/b2/r$i.tar" .
	L import -c 'CMD ["sh"]' "$tmp/b2/r$i.tar" base2:latest >/dev/null 2>&1 || bail_out "import base2 round $i"
	L build -t rmi-img:$i -f "$tmp/ctxa/Dockerfile.rmi" "$tmp/ctxa" >"$tmp/br$i.out" 2>&1 &
	pbld=$!
	# rmi right away, or after the build has started its RUN step
	if [ $((i % 2)) = 0 ]; then
		for _ in $(seq 200); do
			grep -q 'RUN' "$tmp/br$i.out" 2>/dev/null && break
			sleep 0.02
		done
	fi
	L rmi base2:latest >"$tmp/rmi$i.out" 2>&1
	rrmi=$?
	wait "$pbld"
	rbld=$?
	if [ "$rrmi" != 0 ]; then
		rmi_ok=0
		diag "round $i: rmi exit $rrmi"
		diag_file "$tmp/rmi$i.out"
	fi
	if [ "$rbld" = 0 ]; then
		# it succeeded: the image must be complete and hold the base's file
		got=$(L cat rmi-img:$i /round 2>&1)$(L cat rmi-img:$i /built 2>&1)
		if [ "$got" != "${i}built" ]; then
			rmi_ok=0
			diag "round $i: build succeeded but the image reads '$got'"
		fi
	elif ! grep -Eq "base2|removed" "$tmp/br$i.out"; then
		rmi_ok=0
		diag "round $i: build failed (exit $rbld) without naming the missing base:"
		diag_file "$tmp/br$i.out"
	fi
	diag "round $i: build exit $rbld, rmi exit $rrmi${rbld:+: $(tail -1 "$tmp/br$i.out")}"
done
check "build during rmi of its base: rmi works, each build succeeds complete or fails naming the base" $((1 - rmi_ok))
t_store_ok "after build/rmi races: every blob matches its digest, no image misses one"

# --- 20 parallel `run --rm` of one image
pids=()
for i in $(seq 20); do
	L run --rm busybox:latest sh -c "echo x$i >/f; cat /f" >"$tmp/run$i.out" 2>"$tmp/run$i.err" &
	pids+=($!)
done
bad=0
for i in $(seq 20); do
	wait "${pids[$((i - 1))]}"
	rc=$?
	out=$(cat "$tmp/run$i.out")
	if [ "$rc" != 0 ] || [ "$out" != "x$i" ]; then
		bad=$((bad + 1))
		diag "run $i: exit $rc, output '$out'"
		diag_file "$tmp/run$i.err" 5
	fi
done
is "$bad" 0 "20 parallel run --rm: all exit 0, each prints its own file"
is "$(L ps -a -q | wc -l)" 0 "no container left (ps -a)"
is "$(find "$LAYERFS_ROOT/containers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" 0 "no container record left"
is "$(grep -c "$LAYERFS_ROOT" /proc/self/mounts)" 0 "no mount of the store left"
left=$(for p in /proc/[0-9]*; do tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "$LAYERFS .*run --rm" && echo "${p#/proc/}"; done)
is "$left" "" "no run process left"
t_store_ok "after the parallel runs: store intact"

# --- the same pull twice at once
start_registry reg
registry_push "oci:$LAYERFS_ROOT:img-a:1" c/app:1
skdigest=$(skopeo inspect --tls-verify=false "docker://$REG/c/app:1" |
	perl -MJSON::PP -e 'local $/; print JSON::PP->new->decode(<STDIN>)->{Digest}')
export LAYERFS_ROOT=$tmp/store2
L pull --tls-verify=false "$REG/c/app:1" >"$tmp/p1.out" 2>&1 &
p1=$!
L pull --tls-verify=false "$REG/c/app:1" >"$tmp/p2.out" 2>&1 &
p2=$!
waited "$p1" "$tmp/p1.out" "first of two parallel pulls succeeds"
waited "$p2" "$tmp/p2.out" "second of two parallel pulls succeeds"
t_store_ok "after the parallel pulls: every blob matches its digest, no temp file"
skopeo inspect --raw --tls-verify=false "docker://$REG/c/app:1" >"$tmp/man.json"
want=$( (
	echo "${skdigest#sha256:}"
	grep -o 'sha256:[0-9a-f]\{64\}' "$tmp/man.json" | sed 's/^sha256://'
) | sort -u)
is "$(find "$LAYERFS_ROOT/blobs/sha256" -mindepth 1 -printf '%f\n' | sort)" "$want" "one copy of each blob: exactly the manifest, config and layers"
is "$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; print scalar @{JSON::PP->new->decode(<$f>)->{manifests}}' "$LAYERFS_ROOT/index.json")" 1 "index.json holds one entry"
got=$(L cat "$REG/c/app:1" /da/run 2>&1)
is "$got" a "the pulled image reads back"
export LAYERFS_ROOT=$tmp/store
done_testing
