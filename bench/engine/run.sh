#!/usr/bin/env bash
# Engine benchmark: images/s of kdtune and PyTorch (2 threads, batch 128) and sgemm GFLOP/s.
# Usage: bench/engine/run.sh BUILD [bench_engine options, e.g. --json]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
cmake --build "$build" --target bench_engine -j2 >/dev/null
echo "load before: $(uptime)" >&2
"$build/bench/engine/bench_engine" "$@"
