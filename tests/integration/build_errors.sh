#!/bin/bash
# build_errors.sh — bad Dockerfiles and contexts fail with one clear line
# (file, line, what to do) and exit status 1, and leave the store exactly
# as it was: syntax errors, unknown instructions and flags, a COPY source
# outside the context or missing, a bad --chown user, a missing target
# stage, a stage used before it is defined, a missing FROM image.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_build.bash
. "$(dirname "$0")/lib_build.bash"
require_root
require_fuse
require_layerfs
t_tmpdir
tmp=$T_TMP
export LAYERFS_ROOT=$tmp/store
plan 25

b_base || bail_out "importing the busybox base failed"
c=$tmp/ctx
mkdir -p "$c/sub"
echo x >"$c/file.txt"
echo outside >"$tmp/outside.txt"
b_store_state >"$tmp/state0"

# bad NAME ERE DOCKERFILE-TEXT [BUILD-ARGS...] — exit 1, one message
# matching ERE, store unchanged.
bad() {
	local name=$1 re=$2 text=$3 rc
	shift 3
	printf '%s\n' "$text" >"$c/Dockerfile"
	"$LAYERFS" build --progress=quiet "$@" "$c" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -Eq -- "$re" "$tmp/err"; then
		ok "$name: exit 1, says /$re/"
	else
		not_ok "$name: exit 1, says /$re/"
		diag "  exit $rc; stderr:"
		diag_file "$tmp/err" 10
	fi
	b_store_state >"$tmp/state1"
	grep -v '\./cache' "$tmp/state0" >"$tmp/s0"
	grep -v '\./cache' "$tmp/state1" >"$tmp/s1"
	if cmp -s "$tmp/s0" "$tmp/s1"; then
		ok "$name: store unchanged"
	else
		not_ok "$name: store unchanged"
		diff "$tmp/s0" "$tmp/s1" | head -5 | sed 's/^/#   /'
	fi
}

bad "unknown instruction" 'Dockerfile:2:1: .*RUNN' $'FROM busybox:latest\nRUNN echo hi'
bad "instruction before FROM" 'Dockerfile:1' $'RUN echo hi\nFROM busybox:latest'
bad "bad substitution" 'Dockerfile:2.*\$\{' $'FROM busybox:latest\nENV A=${B:%x}'
bad "unknown COPY flag" 'Dockerfile:2.*--bogus' $'FROM busybox:latest\nCOPY --bogus=1 file.txt /'
bad "COPY source outside the context" 'outside the build context' $'FROM busybox:latest\nCOPY ../outside.txt /'
bad "missing COPY source" "Dockerfile:2.*'nothere.txt' not found" $'FROM busybox:latest\nCOPY nothere.txt /'
bad "unknown --chown user" "user 'nosuchuser' not found" $'FROM busybox:latest\nCOPY --chown=nosuchuser file.txt /'
bad "missing target stage" "target stage 'nope' could not be found" $'FROM busybox:latest AS a\nRUN true' --target nope
bad "a cycle of stages" "stage 'b' is not defined before" $'FROM busybox:latest AS a\nCOPY --from=b /x /x\nFROM busybox:latest AS b\nCOPY --from=a /y /y'
bad "missing FROM image" "image 'nosuch:1' is not in the store.*layerfs pull" $'FROM nosuch:1\nRUN true'
bad "RUN of a missing program" "not found" $'FROM busybox:latest\nRUN ["/no/such/program"]'
bad "several sources to a non-directory" 'must be a directory and end with a /' $'FROM busybox:latest\nCOPY file.txt Dockerfile /dst'

# A missing CONTEXT or Dockerfile: usage errors.
t_fails "no such context directory" "Dockerfile" "$LAYERFS" build "$tmp/nowhere"
done_testing
