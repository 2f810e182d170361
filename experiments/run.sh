#!/usr/bin/env bash
# Reproduces one experiment of the study and commits-ready copies its results:
#   experiments/run.sh small | mnist | partitions
# Runs `kdtune run` into experiments/runs/<name>/ (ignored by git: checkpoints and journal), then
# copies summary.json, report.md, plots, recommended.yaml, config.yaml, the partition report and
# pretrain.csv into experiments/results/<name>/ with RUN.md (command, time, machine, commit).
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build >/dev/null
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!experiments/results' || echo "+changes")

run_one() { # name config [overrides...]
  local name=$1 config=$2; shift 2
  local out=experiments/runs/$name res=experiments/results/$name
  local cmd="./build/kdtune run -q -c $config -o $out $*"
  echo "== $name: $cmd"
  local t0=$SECONDS
  $cmd
  local secs=$((SECONDS - t0))
  rm -rf "$res" && mkdir -p "$res/plots"
  cp "$out"/summary.json "$out"/report.md "$out"/recommended.yaml "$out"/config.yaml "$res"/
  cp "$out"/partition/report.csv "$res"/partition_report.csv
  cp "$out"/participants/pretrain.csv "$res"/pretrain.csv
  cp "$out"/plots/*.png "$res"/plots/ 2>/dev/null || true
  cat > "$res"/RUN.md <<MD
# $name

Command (from the repository root): \`$cmd\`

Wall time: ${secs} s on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),
kdtune $(./build/kdtune --version | cut -d' ' -f2), commit $commit, $(date -u +%Y-%m-%d).
MD
  echo "== $name: ${secs} s, results in $res"
}

case "${1:-}" in
  small) run_one small experiments/small.yaml "${@:2}" ;;
  mnist) run_one mnist experiments/mnist.yaml "${@:2}" ;;
  partitions)
    run_one partitions-iid experiments/partitions.yaml partition.scheme=iid "${@:2}"
    run_one partitions-dirichlet1.0 experiments/partitions.yaml partition.dirichlet_alpha=1.0 "${@:2}"
    run_one partitions-dirichlet0.5 experiments/partitions.yaml partition.dirichlet_alpha=0.5 "${@:2}"
    run_one partitions-dirichlet0.1 experiments/partitions.yaml partition.dirichlet_alpha=0.1 "${@:2}"
    run_one partitions-pathological2 experiments/partitions.yaml partition.scheme=pathological \
      partition.num_classes_per_partition=2 "${@:2}" ;;
  *) echo "usage: experiments/run.sh small|mnist|partitions [key.path=value ...]" >&2; exit 2 ;;
esac
