#!/usr/bin/env bash
# Reproduces one experiment of the study and commits-ready copies its results:
#   experiments/run.sh small | mnist | partitions | fmnist | fmnist_partitions
# Runs `kdtune run` into experiments/runs/<name>/ (ignored by git: checkpoints and journal), then
# copies summary.json, report.md, plots, recommended.yaml, config.yaml, the partition report and
# pretrain.csv into experiments/results/<name>/ with RUN.md (command, time, machine, commit).
set -euo pipefail
cd "$(dirname "$0")/.."
# On a machine shared with other jobs, OpenMP threads that spin at barriers while their partner is
# descheduled waste most of the CPU they get; passive waiting costs little when the cores are free.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
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

# The staged form for the real-data runs, where the whole grid on every pair does not fit: the grid
# on a fixed subset of pairs, then the tuners at each budget on their pairs, then one report per
# budget (results/<name>-b<budget>/; results/<name>/ when there are no tuners). Everything goes
# through one journal, so the tuners find the default phase (and any grid point) already paid for,
# and a run interrupted anywhere continues when run again.
run_staged() { # name config grid-pairs tune-pairs "budgets" [overrides...]
  local name=$1 config=$2 gpairs=$3 tpairs=$4 budgets=$5; shift 5
  local out=experiments/runs/$name kd=./build/kdtune
  # One process pays the federation's set-up (pre-training or loading, the logit cache) once, so
  # the grid and the first budget's tuners run as one `kdtune run`; other budgets and other
  # pairs follow as `kdtune tune`.
  local -a cmds b1=${budgets%% *}
  if [ -z "$budgets" ]; then
    cmds=("$kd grid -q -c $config -o $out --pairs $gpairs $*")
  else
    cmds=("$kd run -q -c $config -o $out --pairs $gpairs $* tuner.budget=$b1")
    for b in $budgets; do
      [ "$b" = "$b1" ] && [ "$tpairs" = "$gpairs" ] && continue
      cmds+=("$kd tune -q -c $config -o $out --pairs $tpairs --budget $b $*")
    done
  fi
  local t0=$SECONDS log=""
  for c in "${cmds[@]}"; do
    echo "== $name: $c"
    local t1=$SECONDS
    $c
    log+="- \`$c\`: $((SECONDS - t1)) s"$'\n'
  done
  for b in ${budgets:-none}; do
    local res=experiments/results/$name set=()
    [ "$b" = none ] || { res=$res-b$b; set=(tuner.budget=$b); }
    local t1=$SECONDS
    $kd report -q -c $config -o $out "$@" "${set[@]}"
    log+="- \`$kd report -q -c $config -o $out $* ${set[*]}\`: $((SECONDS - t1)) s"$'\n'
    rm -rf "$res" && mkdir -p "$res/plots"
    cp "$out"/summary.json "$out"/report.md "$out"/recommended.yaml "$out"/config.yaml "$res"/
    cp "$out"/partition/report.csv "$res"/partition_report.csv
    cp "$out"/participants/pretrain.csv "$res"/pretrain.csv
    cp "$out"/plots/*.png "$res"/plots/ 2>/dev/null || true
    # The single evaluations (no per-image outcomes) for findings.py's tests over the grid.
    /usr/bin/python3 experiments/findings.py --export "$out"/trials.jsonl "$res"/evaluations.csv
    cat > "$res"/RUN.md <<MD
# $name${set:+ (tuner.budget=$b)}

Command (from the repository root): \`experiments/run.sh $RUN_ARGS\`, which runs, in one run
directory (one journal: the default phase and pre-training are shared, nothing is trained twice):

$log
Wall time: $((SECONDS - t0)) s in all on $(nproc) cores shared with other jobs
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),
kdtune $($kd --version | cut -d' ' -f2), commit $commit, $(date -u +%Y-%m-%d).
MD
  done
  echo "== $name: $((SECONDS - t0)) s"
}

# Fashion-MNIST pairs (see experiments/README.md): the grid and the tuners on disjoint pairs
# (i, i + 5), i = 0, 1 (all five, i = 0..4, would take about 2.5 times as long), so that no
# participant appears twice and no pair is chosen by its outcome.
FMNIST_GRID_PAIRS=${FMNIST_GRID_PAIRS:-0-5,1-6}
FMNIST_TUNE_PAIRS=${FMNIST_TUNE_PAIRS:-$FMNIST_GRID_PAIRS}
FMNISTP_PAIRS=${FMNISTP_PAIRS:-0-1,2-3}

RUN_ARGS="$*" # as typed, for RUN.md

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
  fmnist) KDTUNE_DATA_DEPS=1 bash scripts/install-deps.sh
    run_staged fmnist experiments/fmnist.yaml "$FMNIST_GRID_PAIRS" "$FMNIST_TUNE_PAIRS" "6 12" "${@:2}" ;;
  fmnist_partitions) KDTUNE_DATA_DEPS=1 bash scripts/install-deps.sh
    p=experiments/fmnist_partitions.yaml
    run_staged fmnist_partitions-iid $p "$FMNISTP_PAIRS" "" "" partition.scheme=iid "${@:2}"
    run_staged fmnist_partitions-dirichlet1.0 $p "$FMNISTP_PAIRS" "" "" partition.dirichlet_alpha=1.0 "${@:2}"
    run_staged fmnist_partitions-dirichlet0.1 $p "$FMNISTP_PAIRS" "" "" partition.dirichlet_alpha=0.1 "${@:2}"
    run_staged fmnist_partitions-pathological2 $p "$FMNISTP_PAIRS" "" "" partition.scheme=pathological \
      partition.num_classes_per_partition=2 "${@:2}" ;;
  *) echo "usage: experiments/run.sh small|mnist|partitions|fmnist|fmnist_partitions [key.path=value ...]" >&2
     exit 2 ;;
esac
