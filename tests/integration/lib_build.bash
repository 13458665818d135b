# shellcheck shell=bash
# tests/integration/lib_build.bash — helpers for the `layerfs build` tests
# (sourced after lib.sh).
#
#   b_base                 import the busybox base (tools/mkbase.sh) as busybox:latest
#   b_buildah ARGS...      buildah with a private vfs store under $T_TMP
#   b_buildah_base         make busybox:latest known to buildah (from the layerfs store)
#   b_tree_layerfs IMG DIR the merged tree of a layerfs image, extracted by GNU tar
#   b_tree_buildah IMG DIR the same for a buildah image
#   b_listing DIR          a stat listing without times (RUN steps make new ones)
#   b_cfg IMG EXPR         a value of `layerfs inspect IMG` (perl expression on $j)
#   b_store_state          every file of the store (paths, sizes, sha256)

b_base() {
	"$T_REPO/tools/mkbase.sh" "$T_TMP/busybox.tar" 2>/dev/null &&
		"$LAYERFS" import -c 'CMD ["sh"]' \
			-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			"$T_TMP/busybox.tar" busybox:latest >/dev/null
}

b_buildah() {
	buildah --storage-driver vfs --root "$T_TMP/buildah/root" \
		--runroot "$T_TMP/buildah/run" "$@"
}

b_buildah_base() {
	mkdir -p "$T_TMP/buildah" &&
		"$LAYERFS" save -o "$T_TMP/busybox-save.tar" busybox:latest &&
		b_buildah pull -q "docker-archive:$T_TMP/busybox-save.tar" >/dev/null
}

b_tree_layerfs() {
	mkdir -p "$2" && "$LAYERFS" export -o "$T_TMP/.export.tar" "$1" &&
		tar -C "$2" --numeric-owner --xattrs --xattrs-include='*' -xpf "$T_TMP/.export.tar"
}

b_tree_buildah() {
	local c m
	mkdir -p "$2" &&
		c=$(b_buildah from --pull-never "$1") &&
		m=$(b_buildah mount "$c") &&
		tar -C "$m" --numeric-owner --xattrs --xattrs-include='*' -cf - . |
		tar -C "$2" --numeric-owner --xattrs --xattrs-include='*' -xpf - &&
		b_buildah umount "$c" >/dev/null && b_buildah rm "$c" >/dev/null
}

b_listing() {
	(
		cd "$1" || exit 1
		find . -print0 | sort -z |
			xargs -0 -r stat --printf '%n\t%F\t%a\t%u\t%g\t%s\n' |
			awk -F'\t' -v OFS='\t' '$2 == "directory" { $6 = "-" } { print }'
		find . -type l -print0 | sort -z | xargs -0 -r stat --printf '%n\tL\t%N\n'
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum
	) | sort
}

b_cfg() {
	"$LAYERFS" inspect "$1" >"$T_TMP/.inspect.json" 2>/dev/null || return 1
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@; print ref($v) ? JSON::PP->new->canonical->encode($v) : ($v // ""), "\n"' \
		"$T_TMP/.inspect.json" "$2"
}

b_store_state() {
	(cd "$LAYERFS_ROOT" && find . -path ./tmp -prune -o -printf '%p %y %s\n' | sort &&
		find . -path ./tmp -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
}
