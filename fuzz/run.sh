#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer, ASan, UBSan) and runs each for SECONDS (default
# 30) from its committed seeds; prints the executions per target and fails if any target crashes.
# New inputs go to a scratch corpus (not the committed one); a crash leaves its input under
# build-fuzz/fuzz/artifacts/: turn it into a regression test (fuzz/README.md).
# Usage: fuzz/run.sh [SECONDS] [TARGET ...]
set -uo pipefail
secs=${1:-30}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KDTUNE_FUZZ_BUILD:-$root/build-fuzz}
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DKDTUNE_FUZZ=ON -DKDTUNE_NATIVE=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$build" --target fuzzers -j "$(nproc)" >/dev/null || { echo "fuzz: build failed" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < "$build/fuzz/targets.txt"
mkdir -p "$build/fuzz/artifacts"
scratch=$(mktemp -d /tmp/kdt_fuzz_corpus_XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# Leaks are reported by the unit tests under ASan; here a crash, a sanitizer report, a timeout
# (5 s per input) or 2 GB of memory fails the target.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
failed=0
printf '%-12s %10s %8s  %s\n' target executions exec/s result
for t in "${targets[@]}"; do
  [ -n "$t" ] || continue
  mkdir -p "$scratch/$t"
  log="$build/fuzz/$t.log"
  "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" \
      "$scratch/$t" "$root/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (exit $rc; see $log)"; failed=1; fi
  printf '%-12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
  [ $rc -eq 0 ] || grep -m 20 -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | sed 's/^/    /'
done
exit $failed
