#!/usr/bin/env bash
# Issue 15's targets on the real objective, in one run directory: the embedded default (45 pairs,
# the 150-point grid, validation and test 5,000 images), every strategy at 2%, 5% and 10% of the
# grid (3, 7, 15 paid evaluations; the 6 default-phase settings free to all), one report per
# budget, then the targets (bench/tuner/real_targets.py). About 10 minutes on 2 free cores.
#   bench/tuner/real_run.sh [BUILD] [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build} dir=${2:-/tmp/kdtune-real-run}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
kd=$build/kdtune
strategies="[gp,gp_transfer,screen,bobyqa,random,direct_l]"
t0=$SECONDS
$kd run -q -o "$dir" tuner.budget=7 "tuner.strategies=$strategies" >/dev/null
for b in 3 15; do $kd tune -q -o "$dir" --budget $b "tuner.strategies=$strategies"; done
for b in 3 7 15; do
  $kd report -q -o "$dir" tuner.budget=$b "tuner.strategies=$strategies" >/dev/null
  cp "$dir/summary.json" "$dir/summary-b$b.json"
done
echo "wall time: $((SECONDS - t0)) s, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 bench/tuner/real_targets.py "$dir"/summary-b3.json "$dir"/summary-b7.json "$dir"/summary-b15.json
