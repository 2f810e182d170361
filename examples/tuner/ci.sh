#!/usr/bin/env bash
# Installs the tuner library into a temporary prefix, builds examples/tuner against the installed
# copy with pkg-config alone (outside the source tree) and runs it. $1: the build folder (default
# build; configured here if it is not yet).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target kdtune_tuner -j2 >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cp "$root/examples/tuner/Makefile" "$root/examples/tuner/branin_mixed.c" "$tmp/"
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" make -s -C "$tmp" branin_mixed
OPENBLAS_NUM_THREADS=1 "$tmp/branin_mixed"
