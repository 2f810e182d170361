#!/usr/bin/env bash
# Runs every benchmark (bench/*/run.sh) against the build folder given as $1 (default: build).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for script in "$here"/*/run.sh; do
  [ -e "$script" ] || continue
  echo "== $(basename "$(dirname "$script")")"
  bash "$script" "$build"
done
