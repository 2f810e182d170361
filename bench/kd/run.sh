#!/usr/bin/env bash
# KD evaluations per second with and without the teacher-logit cache, against the student alone.
set -euo pipefail
build=${1:-build}
"$build/bench/kd/bench_kd" "${@:2}"
