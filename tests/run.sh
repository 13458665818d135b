#!/bin/bash
# tests/run.sh — the `make check` runner.
#
#   tests/run.sh [UNIT_BINARY...] -- [INTEGRATION_SCRIPT...]
#
# Unit binaries are Check suites: their own output ("100%: Checks: N,
# Failures: F, Errors: E") passes through and is counted; a non-zero exit
# without counted failures (a crash) counts as one failure.
# Integration scripts speak TAP: every "ok"/"not ok" line is a test point
# ("# TODO" failures are reported but not counted); a script that exits
# non-zero without a failed point, stops short of its plan, has no plan,
# bails out or times out counts as a failure.  Exit 77 (skip) is a failure
# too unless LAYERFS_ALLOW_SKIP=1: on a machine with /dev/fuse the FUSE
# tests must run.
# A script named lib.sh is the sourced helper library, not a test: ignored.
# Every program gets LAYERFS_TEST_TIMEOUT seconds (default 300).  Scripts run
# with TMPDIR pointing into a fresh directory; after each one, mounts,
# processes and files left behind there are reported, cleaned up and counted
# as a failure.
# The last line of output is exactly "N passed, N failed"; the exit status is
# non-zero when anything failed.
set -u
export LC_ALL=C

timeout_s=${LAYERFS_TEST_TIMEOUT:-300}
repo=$(cd "$(dirname "$0")/.." && pwd)
export LAYERFS=${LAYERFS:-$repo/layerfs}

units=()
scripts=()
after_sep=0
for a in "$@"; do
	if [ "$a" = -- ] && [ "$after_sep" = 0 ]; then
		after_sep=1
	elif [ "$after_sep" = 0 ]; then
		units+=("$a")
	else
		# The shared helper library matches tests/integration/*.sh too.
		case ${a##*/} in lib.sh) continue ;; esac
		scripts+=("$a")
	fi
done

base_tmp=${TMPDIR:-/tmp}
run_tmp=$(mktemp -d "$base_tmp/layerfs-check.XXXXXX") || exit 1
export TMPDIR=$run_tmp
log=$(mktemp "$base_tmp/layerfs-check-log.XXXXXX") || exit 1
trap 'rm -f "$log"; rm -rf --one-file-system "$run_tmp"' EXIT

passed=0
failed=0
todos=0
failures=()

fail() { # fail NAME REASON [COUNT]
	failed=$((failed + ${3:-1}))
	failures+=("$1: $2")
	echo "# FAIL $1: $2"
}

# Mounts under the run's temp dir, deepest first: "FSTYPE<TAB>MOUNTPOINT".
leftover_mounts() {
	awk -v d="$run_tmp" '{
		m = $2; gsub(/\\040/, " ", m); gsub(/\\134/, "\\", m)
		if (index(m, d "/") == 1) print length(m) "\t" $3 "\t" m
	}' /proc/self/mounts | sort -rn | cut -f2-
}

# Processes (not us) whose command line mentions the run's temp dir.
leftover_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$run_tmp/" && echo "$p"
	done
}

# check_leftovers NAME — after each program: nothing may stay behind.
check_leftovers() {
	local name=$1 fstype m p n=0
	while IFS=$'\t' read -r fstype m; do
		echo "# LEAK after $name: $fstype mount at $m; unmounting lazily"
		case $fstype in
		fuse*) fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" ;;
		*) umount -l "$m" ;;
		esac
		n=$((n + 1))
	done < <(leftover_mounts)
	for p in $(leftover_pids); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$p" 2>/dev/null || continue
		echo "# LEAK after $name: process $p still running: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline"); killing it"
		kill -TERM "$p" 2>/dev/null
		n=$((n + 1))
	done
	if [ -n "$(find "$run_tmp" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
		echo "# LEAK after $name: files left in \$TMPDIR:"
		find "$run_tmp" -mindepth 1 -maxdepth 1 | sed 's/^/#   /'
		find "$run_tmp" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
		n=$((n + 1))
	fi
	if [ "$n" -gt 0 ]; then fail "$name" "left mounts, processes or files behind"; fi
}

run_unit() {
	local bin=$1 name rc checks f e
	name=$(basename "$bin")
	echo "=== $name"
	timeout -k 10 "$timeout_s" "$bin" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# Sum over every "Checks: N, Failures: F, Errors: E" summary line.
	read -r checks f e < <(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$log" |
		awk '{ c += $1; f += $2; e += $3 } END { print c + 0, f + 0, e + 0 }')
	passed=$((passed + checks - f - e))
	if [ $((f + e)) -gt 0 ]; then fail "$name" "$((f + e)) of $checks checks failed" $((f + e)); fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name" "timed out after ${timeout_s}s"
	elif [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
		fail "$name" "exit status $rc"
	elif [ "$rc" -eq 0 ] && [ "$checks" -eq 0 ]; then
		passed=$((passed + 1)) # no summary line, but it passed
	fi
	check_leftovers "$name"
}

run_script() {
	local script=$1 name rc plan n_ok n_fail n_todo n
	name=$(basename "$script")
	echo "=== $name"
	timeout -k 10 "$timeout_s" bash "$script" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
	n_ok=$(grep -cE '^ok( |$)' "$log")
	n_todo=$(grep -E '^not ok( |$)' "$log" | grep -ciE '#[[:space:]]*TODO')
	n_fail=$(($(grep -cE '^not ok( |$)' "$log") - n_todo))
	n=$((n_ok + n_fail + n_todo))
	passed=$((passed + n_ok))
	todos=$((todos + n_todo))
	if [ "$n_fail" -gt 0 ]; then fail "$name" "$n_fail test points failed" "$n_fail"; fi
	if [ "$rc" -eq 77 ]; then
		if [ "${LAYERFS_ALLOW_SKIP:-0}" = 1 ]; then
			echo "# SKIP $name (allowed by LAYERFS_ALLOW_SKIP=1)"
		else
			fail "$name" "skipped (exit 77); set LAYERFS_ALLOW_SKIP=1 to allow skips"
		fi
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name" "timed out after ${timeout_s}s"
	elif grep -q '^Bail out!' "$log"; then
		fail "$name" "bailed out: $(grep -m1 '^Bail out!' "$log")"
	elif [ -z "$plan" ]; then
		fail "$name" "no TAP plan (exit status $rc)"
	elif [ "$n" -lt "$plan" ]; then
		fail "$name" "ran $n of $plan planned test points" $((plan - n))
	elif [ "$n" -gt "$plan" ]; then
		fail "$name" "ran $n test points, more than the $plan planned"
	elif [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
		fail "$name" "exit status $rc"
	fi
	check_leftovers "$name"
}

for u in "${units[@]}"; do run_unit "$u"; done
for s in "${scripts[@]}"; do run_script "$s"; done

echo "==="
if [ "${#failures[@]}" -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
if [ "$todos" -gt 0 ]; then echo "$todos TODO test points failed (known gaps, not counted)"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
