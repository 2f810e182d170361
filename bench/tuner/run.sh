#!/usr/bin/env bash
# Tuner benchmark (test functions, then the KD table): median regret of every strategy at budgets 10/20/40 over 10 seeds, as ratios to
# random at the same budget, and the time per suggestion at 40 observations. $1: the build folder.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
cmake --build "$build" --target bench_tuner -j2 >/dev/null
OPENBLAS_NUM_THREADS=1 "$build/bench/tuner/bench_tuner" 10
# The KD mode: strategies on the default grid's table (README.md), 10 tuner seeds.
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 "$build/bench/tuner/bench_tuner" kd --seeds 10
