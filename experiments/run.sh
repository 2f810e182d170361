#!/usr/bin/env bash
# Reproduces one experiment of the study and commits-ready copies its results:
#   experiments/run.sh small | mnist | partitions | fmnist | fmnist_partitions[-<partition>]
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

# A run directory's files for people into results/<name>/ (replacing what was there).
copy_results() { # out res
  local out=$1 res=$2
  rm -rf "$res" && mkdir -p "$res/plots"
  cp "$out"/summary.json "$out"/report.md "$out"/recommended.yaml "$out"/config.yaml "$res"/
  cp "$out"/partition/report.csv "$res"/partition_report.csv
  cp "$out"/participants/pretrain.csv "$res"/pretrain.csv
  cp "$out"/plots/*.png "$res"/plots/ 2>/dev/null || true
}

run_one() { # name config [overrides...]
  local name=$1 config=$2; shift 2
  local out=experiments/runs/$name res=experiments/results/$name
  local cmd="./build/kdtune run -q -c $config -o $out $*"
  echo "== $name: $cmd"
  local t0=$SECONDS
  $cmd
  local secs=$((SECONDS - t0))
  copy_results "$out" "$res"
  cat > "$res"/RUN.md <<MD
# $name

Command (from the repository root): \`$cmd\`

Wall time: ${secs} s on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),
kdtune $(./build/kdtune --version | cut -d' ' -f2), commit $commit, $(date -u +%Y-%m-%d).
MD
  echo "== $name: ${secs} s, results in $res"
}

# The staged form for the real-data runs, where the whole grid on every pair does not fit: a list
# of kdtune commands (tuners on every pair at each budget, the grid on a fixed subset of pairs), all
# in one run directory, then one report per budget (results/<name>-b<budget>/; results/<name>/ when
# there are no tuners). One journal: the default phase and pre-training are paid once, every later
# command finds them (and any grid point a tuner already asked) in the cache, and a run interrupted
# anywhere continues when run again.
#   run_staged NAME CONFIG "BUDGET[:strategy,...][/pairs] ..." "kdtune-subcommand args" ... -- [overrides...]
run_staged() {
  local name=$1 config=$2 budgets=$3; shift 3
  local -a stages=() over=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do stages+=("$1"); shift; done
  [ $# -gt 0 ] && shift && over=("$@")
  local out=experiments/runs/$name kd=./build/kdtune t0=$SECONDS log=""
  for st in "${stages[@]}"; do
    # kdtune takes its options before key=value overrides: the subcommand, the common options,
    # then the stage's own arguments and the overrides.
    local sub=${st%% *} c t1=$SECONDS
    c="$kd $sub -q -c $config -o $out ${st#"$sub"} ${over[*]}"
    echo "== $name: $c"
    $c
    log+="- \`$c\`: $((SECONDS - t1)) s"$'\n'
  done
  for bs in ${budgets:-none}; do # BUDGET[:strategy,...][/pairs]
    local spec=${bs%%/*} b=${bs%%[:/]*} res=experiments/results/$name set=() sel=()
    if [ "$b" != none ]; then
      res=$res-b$b; set=(tuner.budget=$b)
      [ "$spec" != "$b" ] && set+=("tuner.strategies=[${spec#*:}]")
      [ "$bs" != "$spec" ] && sel=(--pairs "${bs#*/}")
    fi
    local t1=$SECONDS
    $kd report -q -c $config -o $out "${sel[@]}" "${over[@]}" "${set[@]}"
    log+="- \`$kd report -q -c $config -o $out ${sel[*]} ${over[*]} ${set[*]}\`: $((SECONDS - t1)) s"$'\n'
    copy_results "$out" "$res"
    # The single evaluations (no per-image outcomes) for findings.py's tests over the grid.
    /usr/bin/python3 experiments/findings.py --export "$out"/trials.jsonl "$res"/evaluations.csv
    cat > "$res"/RUN.md <<MD
# $name${set:+ (${set[*]})}

Command (from the repository root): \`experiments/run.sh $RUN_ARGS\`, which runs, in one run
directory (one journal: the default phase and pre-training are shared, nothing is trained twice):

$log
Wall time: $((SECONDS - t0)) s in all on $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end:
$(cut -d' ' -f1-3 /proc/loadavg)), kdtune $($kd --version | cut -d' ' -f2), commit $commit,
$(date -u +%Y-%m-%d).
MD
  done
  echo "== $name: $((SECONDS - t0)) s"
}

# Fashion-MNIST pairs (see experiments/README.md), fixed in advance so that no pair is chosen by its
# outcome: the tuners at 5% on all 45 pairs; the grid on the disjoint pairs (i, i + 5) of
# FMNIST_GRID_PAIRS (no participant twice; all five, i = 0..4, would add about 40 minutes); gp
# at 10% on the ring (i, i + 1 mod 10) and the pairs (i, i + 5): 15 pairs, every
# participant in three (all 45 would add about an hour).
FMNIST_GRID_PAIRS=${FMNIST_GRID_PAIRS:-0-5,1-6,2-7}
FMNIST_B12_PAIRS=${FMNIST_B12_PAIRS:-0-1,1-2,2-3,3-4,4-5,5-6,6-7,7-8,8-9,0-9,0-5,1-6,2-7,3-8,4-9}
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
    # 6 and 12 paid evaluations = 5% and 10% of the 120-point grid: gp and gp_transfer at 5%, gp at
    # 10%; random (the floor) at 5% on the grid's pairs only. On the grid's pairs the default phase
    # also evaluates dml and dpkd at the default T and alpha (space.methods is not part of an
    # evaluation's identity: the kd evaluations stay shared).
    run_staged fmnist experiments/fmnist.yaml "6:gp,gp_transfer,random 12:gp/$FMNIST_B12_PAIRS" "pretrain" \
      "tune --budget 6" "grid --pairs $FMNIST_GRID_PAIRS space.methods=[kd,dml,dpkd]" \
      "tune --budget 6 --pairs $FMNIST_GRID_PAIRS tuner.strategies=[random]" \
      "tune --budget 12 --pairs $FMNIST_B12_PAIRS tuner.strategies=[gp]" -- "${@:2}" ;;
  fmnist_partitions|fmnist_partitions-*) KDTUNE_DATA_DEPS=1 bash scripts/install-deps.sh
    # All four partitions, or one: experiments/run.sh fmnist_partitions-pathological2
    p=experiments/fmnist_partitions.yaml which=$1
    shift
    for part in iid dirichlet1.0 dirichlet0.1 pathological2; do
      [ "$which" = fmnist_partitions ] || [ "$which" = "fmnist_partitions-$part" ] || continue
      case $part in
        iid) keys=(partition.scheme=iid) ;;
        dirichlet*) keys=(partition.dirichlet_alpha=${part#dirichlet}) ;;
        pathological2) keys=(partition.scheme=pathological partition.num_classes_per_partition=2) ;;
      esac
      run_staged fmnist_partitions-$part $p "" "grid --pairs $FMNISTP_PAIRS" -- "${keys[@]}" "$@"
    done ;;
  *) echo "usage: experiments/run.sh small|mnist|partitions|fmnist|fmnist_partitions[-iid|-dirichlet1.0|-dirichlet0.1|-pathological2] [key.path=value ...]" >&2
     exit 2 ;;
esac
