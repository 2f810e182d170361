#!/usr/bin/env bash
# Engine benchmark: images/s of kdtune and PyTorch (2 threads, batch 128) and sgemm GFLOP/s.
# Usage: bench/engine/run.sh BUILD [bench_engine options, e.g. --json]
#
# OpenBLAS 0.3.21 does not know recent Xeons (e.g. family 6 model 207) and falls back to its
# generic "Prescott" kernels, 3 to 5 times slower; on a CPU with AVX-512 we ask for its SkylakeX
# kernels unless OPENBLAS_CORETYPE is already set.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
cmake --build "$build" --target bench_engine -j2 >/dev/null
echo "load before: $(uptime)" >&2
"$build/bench/engine/bench_engine" "$@"
echo "load after: $(uptime)" >&2
