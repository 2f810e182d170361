#!/usr/bin/env bash
# The MPI mode's parallel efficiency and the cost of its master-worker exchange, against one
# process in the same run (bench/mpi/README.md).
# Usage: bench/mpi/run.sh BUILD [--pairs LIST] [key.path=value ...]
#   efficiency(N) = KD round time summed over the run (the journal's "seconds" of trained lines)
#                   / (wall time of the evaluations x worker threads), at N = 2 and 3 ranks (one
#                   worker thread each; rank 0 only hands out work), oversubscribed on this machine;
#                   the anchor is one process with one thread on the same config;
#   overhead      = (wall time of the same command again, every evaluation now in the journal,
#                   over mpirun -np 2  -  in one process) / evaluations, in microseconds; and the
#                   round trip of one exchange with rank 0 as the workers time it (their log line).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
pairs=0-1,0-2,1-3,2-4,3-5,4-6,5-7,6-8,7-9,8-9
if [ "${1:-}" = --pairs ]; then pairs=$2; shift 2; fi
if ! grep -q '^KDTUNE_MPI:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "bench/mpi: skipped: $build is built without KDTUNE_MPI (install Open MPI: KDTUNE_MPI_DEPS=1 scripts/install-deps.sh)"
  exit 0
fi
mpirun=$(sed -n 's/^KDTUNE_MPIEXEC:FILEPATH=//p' "$build/CMakeCache.txt")
cmake --build "$build" --target kdtune -j2 >/dev/null
kdtune=$build/kdtune
work=$(mktemp -d /tmp/kdt_bench_mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT
cores=$(nproc --all)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# The embedded default on a subset of pairs: pre-training, 6 default settings, the 150-point grid
# and gp, random and bobyqa at 15 evaluations per pair. One thread per rank.
args=(run --pairs "$pairs" -o run experiment.threads=1 output.plots=false "$@")
mpi=("$mpirun" --oversubscribe --allow-run-as-root)

# Runs kdtune in directory $1 (so that every run directory is called `run`), its log into $2.log.
one() { local d=$1 log=$2; shift 2; mkdir -p "$d"; (cd "$d" && "$@" >/dev/null 2>"$log.log"); }

# "EVALS WALL" of the evaluation phases, from the pipeline's log line.
phase() {
  sed -n 's/^kdtune: \(MPI: \)\{0,1\}\([0-9]*\) evaluations over [0-9]* pairs in \([0-9.]*\) s.*/\2 \3/p' "$1.log" | tail -1
}
# Seconds of KD rounds trained (lines not read back from the cache).
trained() {
  /usr/bin/python3 -c '
import json, sys
s = n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "eval" and not o.get("cached"):
        s += o["seconds"]; n += 1
print(n, s)' "$1/run/trials.jsonl"
}

echo "bench/mpi: kdtune ${args[*]} (load $(cut -d' ' -f1-3 /proc/loadavg), $cores cores)"
one "$work/p1" "$work/p1" "$kdtune" "${args[@]}"
one "$work/n2" "$work/n2" "${mpi[@]}" -np 2 "$kdtune" "${args[@]}"
one "$work/n3" "$work/n3" "${mpi[@]}" -np 3 "$kdtune" "${args[@]}"
# The same command again on finished runs: every evaluation is read back from the journal.
one "$work/p1" "$work/p1c" "$kdtune" "${args[@]}"
one "$work/n2" "$work/n2c" "${mpi[@]}" -np 2 "$kdtune" "${args[@]}"
echo "bench/mpi: load after $(cut -d' ' -f1-3 /proc/loadavg)"
cmp -s "$work/p1/run/summary.json" "$work/n3/run/summary.json" || echo "bench/mpi: WARNING: summaries differ"

/usr/bin/python3 - "$(phase "$work/p1c")" "$(phase "$work/n2c")" \
  "$(trained "$work/p1")" "$(trained "$work/n2")" "$(trained "$work/n3")" \
  "$(phase "$work/p1" | cut -d' ' -f2)" "$(phase "$work/n2" | cut -d' ' -f2)" "$(phase "$work/n3" | cut -d' ' -f2)" \
  "$(sed -n 's/.* \([0-9]*\) exchanges with rank 0, \([0-9.]*\) us each.*/\1 \2/p' "$work/n2.log" "$work/n3.log" "$work/n2c.log" | tr '\n' ' ')" <<'PY'
import json, sys
(p1c, n2c, t1, t2, t3, w1, w2, w3, ex) = sys.argv[1:10]
ex = ex.split()  # count and microseconds for -np 2, -np 3, -np 2 cached
evals_c, wall_p1c = p1c.split(); _, wall_n2c = n2c.split()
rows = []
for name, workers, t, w in (("1 process", 1, t1, w1), ("mpirun -np 2", 1, t2, w2), ("mpirun -np 3", 2, t3, w3)):
    n, s = t.split()
    w = float(w)
    rows.append((name, workers, int(n), float(s), w, float(s) / (w * workers)))
print(f"{'':14} {'workers':>7} {'trained':>8} {'KD s':>8} {'wall s':>8} {'efficiency':>10} {'vs anchor':>9}")
for name, workers, n, s, w, e in rows:
    print(f"{name:14} {workers:7d} {n:8d} {s:8.2f} {w:8.2f} {e:10.3f} {e / rows[0][5]:9.3f}")
ev = int(evals_c)
over = (float(wall_n2c) - float(wall_p1c)) / ev * 1e6
print(f"every evaluation cached ({ev} evaluations): one process {float(wall_p1c):.2f} s, mpirun -np 2 "
      f"{float(wall_n2c):.2f} s: overhead {over:.0f} us per evaluation")
print(f"exchanges with rank 0 as the workers time them: -np 2 {ex[0]} at {float(ex[1]):.0f} us, -np 3 {ex[2]} at "
      f"{float(ex[3]):.0f} us, -np 2 cached {ex[4]} at {float(ex[5]):.0f} us")
print(json.dumps({"efficiency_np2": round(rows[1][5], 3), "efficiency_np3": round(rows[2][5], 3),
                  "efficiency_anchor": round(rows[0][5], 3), "overhead_us_per_eval": round(over, 1),
                  "exchange_us_np2": float(ex[1]), "exchange_us_np3": float(ex[3]), "exchange_us_cached": float(ex[5]),
                  "speedup_np3": round(rows[0][4] / rows[2][4], 3)}))
PY
