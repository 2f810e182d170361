#!/usr/bin/env bash
# KD evaluations per second per method (kd cached and recomputed, dml, dpkd), against the student alone
# (the embedded default's pair 1 <- 0 unless key=value overrides say otherwise).
# Usage: bench/kd/run.sh BUILD [--json] [--evals N] [key.path=value ...]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
# As kdtune itself does (app/main.c): OpenBLAS's fast kernels where it does not know the CPU.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
cmake --build "$build" --target bench_kd -j2 >/dev/null
"$build/bench/kd/bench_kd" experiment.threads=1 "$@"
