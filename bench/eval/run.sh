#!/usr/bin/env bash
# The cost of `kdtune eval` (one-shot new and cached, and through --stdin) against the KD round
# itself, on the embedded default's pair 0 -> 1 on one thread unless key=value overrides say
# otherwise. Usage: bench/eval/run.sh BUILD [--json] [--evals N] [--compare OTHER_KDTUNE] [key.path=value ...]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
here=$(cd "$(dirname "$0")" && pwd)
# As kdtune itself does (app/main.c): OpenBLAS's fast kernels where it does not know the CPU.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
cmake --build "$build" --target kdtune -j2 >/dev/null
/usr/bin/python3 "$here/bench_eval.py" "$build/kdtune" experiment.threads=1 "$@"
