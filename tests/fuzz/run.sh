#!/bin/bash
# Runs one libFuzzer harness: tests/fuzz/run.sh BUILD NAME SECONDS [SEED]
# (SEED: libFuzzer -seed, for a run that repeats the same inputs)
# The seeds in tests/fuzz/corpus/NAME/ are copied to BUILD/fuzz-run/NAME/
# first, so that the inputs the fuzzer adds never touch the committed seeds.
# A crash, leak, timeout or out-of-memory exits non-zero and leaves the input
# in BUILD/crashes/NAME/; the fuzzer's log is BUILD/fuzz-run/NAME.log.
set -euo pipefail

build=$1 name=$2 secs=$3
bin=$build/fuzz/fuzz_$name
seeds=tests/fuzz/corpus/$name
work=$build/fuzz-run/$name
crashes=$build/crashes/$name
log=$build/fuzz-run/$name.log

if [ ! -d "$seeds" ]; then
	echo "fuzz_$name: no seed corpus in $seeds" >&2
	exit 1
fi
# Harnesses that write files (fuzz_image_json: a store per input, fsync'd)
# get a scratch TMPDIR, on tmpfs when there is one.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
TMPDIR=$(mktemp -d "$shm/layerfs-fuzz-$name.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

rm -rf "$work"
mkdir -p "$work" "$crashes"
cp -r "$seeds/." "$work/"

start=$SECONDS
seed=${4:-}
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 ${seed:+-seed="$seed"} \
	-artifact_prefix="$crashes/" -print_final_stats=1 "$work" >"$log" 2>&1; then
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "  FUZZ    fuzz_$name: ok, ${execs:-?} runs in $((SECONDS - start)) s"
	exit 0
fi
echo "  FUZZ    fuzz_$name: FAILED; input kept in $crashes/, log in $log" >&2
grep -E -A40 '^==[0-9]+==|^SUMMARY|Test unit written' "$log" | head -80 >&2 || tail -40 "$log" >&2
exit 1
