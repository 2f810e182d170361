#!/usr/bin/env bash
# Installs the Debian packages kdtune needs to build, test, benchmark and plot.
# Does nothing when all are present; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenblas-dev libgsl-dev libnlopt-dev libyaml-dev zlib1g-dev libjansson-dev
  libcmocka-dev gnuplot-nox python3 python3-yaml
)
# Fuzzing only (fuzz/run.sh): clang, libFuzzer's runtime and clang's OpenMP.
if [ "${KDTUNE_FUZZ_DEPS:-0}" = 1 ]; then
  packages+=(clang libclang-rt-14-dev libomp-dev)
fi
# Benchmarks and reference fixtures only: PyTorch 1.13 and NumPy.
if [ "${KDTUNE_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(python3-torch python3-numpy)
fi
# The MPI mode (mpirun -np N kdtune ..., docs/mpi.md): Open MPI. The build turns KDTUNE_MPI on when
# it finds it.
if [ "${KDTUNE_MPI_DEPS:-0}" = 1 ]; then
  packages+=(openmpi-bin libopenmpi-dev)
fi
# Real data for the study (experiments/run.sh fmnist sets it): Fashion-MNIST's IDX files under
# /usr/share/datasets/fashion-mnist. Tests that use it skip, saying so, when it is absent.
if [ "${KDTUNE_DATA_DEPS:-0}" = 1 ]; then
  packages+=(dataset-fashion-mnist)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
