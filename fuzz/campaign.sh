#!/bin/sh
# fuzz/campaign.sh - a bounded libFuzzer campaign over every fuzz target.
#
#   fuzz/campaign.sh [SECONDS [TARGET...]]
#
# Builds the libFuzzer binaries with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/ (see fuzz/meson.build), then
# runs each target (default: every fuzz/fuzz-*.c) for SECONDS (default
# 120), one at a time, on a copy of its seed corpus fuzz/corpus/NAME/, so
# the checked-in corpus is never touched, with fuzz/NAME.dict as its
# dictionary where there is one.  Each run is bounded in time
# (-max_total_time, and timeout(1) as a backstop), in memory (-rss_limit_mb)
# and per input (-timeout).  libFuzzer stops a target at its first finding;
# the finding is minimized (-minimize_crash) next to the raw reproducer.
# A table is printed at the end and kept in OUT/summary.txt:
#
#   target  seconds  runs  exec/s  corpus (seed -> end)  crashes
#
# "crashes" counts every reproducer libFuzzer wrote (crash-, leak-,
# timeout-, oom-, slow-unit-).  A finding is done when the bug is fixed, the
# minimized input is in fuzz/corpus/NAME/ and a unit test has a row for it
# (docs/fuzzing.md).  The exit status is 1 if anything was found.
#
# Environment:
#   FUZZ_BUILD=DIR   build directory (default build-fuzz; set up if absent)
#   FUZZ_OUT=DIR     results (default FUZZ_BUILD/campaign-YYYYmmdd-HHMMSS)
#   FUZZ_RSS_MB=N    -rss_limit_mb (default 2048)
#   FUZZ_JOBS=N      ninja -j for the build (default 1: shared machines)
#   FUZZ_ARGS=...    more libFuzzer flags (e.g. -max_len=4096)
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-120}
[ $# -gt 0 ] && shift
case $SECS in ''|*[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;; esac
BUILD=${FUZZ_BUILD:-build-fuzz}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
OUT=${FUZZ_OUT:-$BUILD/campaign-$(date -u +%Y%m%d-%H%M%S)}
RSS=${FUZZ_RSS_MB:-2048}
JOBS=${FUZZ_JOBS:-1}

if [ $# -gt 0 ]; then
	TARGETS=$*
else
	TARGETS=
	for f in "$TOP"/fuzz/fuzz-*.c; do
		t=$(basename "$f" .c)
		[ "$t" = fuzz-replay ] || TARGETS="$TARGETS $t"
	done
fi

# Build: only the libFuzzer binaries, not every test with the sanitizers.
if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" "$TOP" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja_targets=
for t in $TARGETS; do
	ninja_targets="$ninja_targets fuzz/$t-libfuzzer"
done
# shellcheck disable=SC2086 # word splitting of the target list is meant
ninja -C "$BUILD" -j "$JOBS" $ninja_targets >/dev/null

# UBSan only warns by default: make undefined behaviour a finding.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

mkdir -p "$OUT"
summary=$OUT/summary.txt
printf '%-22s %7s %11s %8s %15s %7s\n' target seconds runs exec/s \
	'corpus seed->end' crashes >"$summary"
found=0
for t in $TARGETS; do
	name=${t#fuzz-}
	bin=$BUILD/fuzz/$t-libfuzzer
	dir=$OUT/$name
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [ -d "$TOP/fuzz/corpus/$name" ]; then
		cp "$TOP/fuzz/corpus/$name"/* "$dir/corpus/" 2>/dev/null || :
	fi
	dict=
	[ ! -f "$TOP/fuzz/$name.dict" ] || dict=-dict=$TOP/fuzz/$name.dict
	seed=$(find "$dir/corpus" -type f | wc -l)
	echo "== $t: ${SECS}s, $seed seed inputs, log $dir/log" >&2
	start=$(date +%s)
	# shellcheck disable=SC2086 # $dict may be empty, FUZZ_ARGS is a list
	timeout -k 10 $((SECS + 120)) "$bin" -max_total_time="$SECS" \
		-rss_limit_mb="$RSS" -malloc_limit_mb="$RSS" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		$dict ${FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1 || :
	took=$(($(date +%s) - start))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" |
	       tail -1)
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$dir/log" |
				 tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
	end=$(find "$dir/corpus" -type f | wc -l)
	crashes=0
	for a in "$dir"/artifacts/*; do
		[ -f "$a" ] || continue
		case $(basename "$a") in min-*) continue ;; esac
		crashes=$((crashes + 1))
		# -timeout: a timeout- reproducer hangs each run, and
		# libFuzzer's default (1200 s) would stall the campaign.
		timeout -k 10 120 "$bin" -minimize_crash=1 -max_total_time=30 \
			-timeout=10 -rss_limit_mb="$RSS" \
			-exact_artifact_path="$dir/artifacts/min-$(basename "$a")" \
			"$a" >>"$dir/minimize.log" 2>&1 || :
		echo "   finding: $a (minimized: min-$(basename "$a"))" >&2
	done
	[ "$crashes" -eq 0 ] || found=1
	printf '%-22s %7s %11s %8s %15s %7s\n' "$t" "$took" "${runs:-?}" \
		"${eps:-?}" "$seed->$end" "$crashes" >>"$summary"
done
echo >&2
cat "$summary"
echo "results: $OUT" >&2
exit $found
