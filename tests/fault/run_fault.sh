#!/usr/bin/env bash
# Fault injection driver: runs a short `kdtune run` on a tiny federation with the Nth call of each
# kind failing (tests/fault/fault.c, preloaded), for N along the whole run (every N with --all,
# else up to KDT_FAULT_SAMPLES per kind, evenly spread, first and last included), from two start
# states: an empty run directory, and one holding a pre-trained federation and part of a grid.
# Each faulted run must end with exit 0 (the summary then equal to an undisturbed run's) or 1 or 2
# with a message on stderr, with no signal and no sanitizer report, leaving the files that existed
# before unchanged (checkpoints, partition, fingerprint, complete journal lines); a clean rerun
# in the same directory must then complete with the summary.json of an undisturbed run.
# Usage: run_fault.sh KDTUNE FAULT_SO [--all]
set -uo pipefail
K=$(realpath "$1")
SO=$(realpath "$2")
all=${3:-}
samples=${KDT_FAULT_SAMPLES:-12}
work=$(mktemp -d /tmp/kdt_fault_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Under ASan the shim is preloaded ahead of the runtime; tell ASan that is intended.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0:detect_leaks=0
# Not injected into (tests/fault/README.md says why): functions that abort on exhaustion by design
# (common/strbuf's growth, inlined into sb_printf and sb_take; model/'s table growth, inlined into
# model_add_*; config_default).
export KDT_FAULT_EXCLUDE=${KDT_FAULT_EXCLUDE-sb_printf,sb_take,sb_reserve,sb_reserve.part.0,grow,model_add_named,model_add_act,model_add_layer,config_default}
tiny=(federation.participants=3 data.pool_size=300 data.transfer_size=100 data.val_size=100
      data.test_size=100 'model.mlp_hidden=[16]' pretrain.epochs=2 kd.epochs=1 tuner.budget=3
      'grid.temperatures=[1.0,4.0]' 'grid.alphas=[0.0,0.5]' 'grid.transfer_sets=[unlabelled]'
      'grid.positions=[forward]' 'tuner.strategies=[random,gp]' output.plots=false)
kinds=(malloc calloc realloc aligned_alloc write fsync rename)
failures=0
runs=0

# Start states.
mkdir fresh
mkdir resume
"$K" pretrain -q -o resume "${tiny[@]}" >/dev/null 2>&1 && "$K" grid -q -o resume --pairs 0-1 "${tiny[@]}" >/dev/null 2>&1 \
  || { echo "fault: cannot prepare the resume state"; exit 1; }

# Checksums of what exists before a run: every file but the lock, the config and the two
# append-only files of the store (the journal and the per-image outcomes), which are compared as
# prefixes: what they held before must still be their beginning.
state_sums() { (cd "$1" && find . -type f ! -name lock ! -name config.yaml ! -name trials.jsonl ! -name outcomes.bin ! -name '*.tmp.*' -print0 | sort -z | xargs -0 -r sha256sum); }

bad() { echo "FAIL $1"; [ -f err.txt ] && grep -v '^kdt_fault' err.txt | tail -3 | sed 's/^/    /'; failures=$((failures + 1)); }

for start in fresh resume; do
  rm -rf ref && cp -a "$start" ref
  "$K" run -q -o ref "${tiny[@]}" >/dev/null 2>&1 || { echo "fault: the undisturbed run failed"; exit 1; }
  rm -rf cnt && cp -a "$start" cnt
  KDT_FAULT_REPORT="$work/counts.txt" LD_PRELOAD="$SO" "$K" run -q -o cnt "${tiny[@]}" >/dev/null 2>&1 \
    || { echo "fault: the counting run failed"; exit 1; }
  cmp -s ref/summary.json cnt/summary.json || { echo "fault: the shim alone changes the result"; exit 1; }
  echo "== start: $start; calls made by kdtune's code: $(tr '\n' ' ' < counts.txt)"
  # A shim that sees nothing (the executable not found, say) would pass vacuously.
  for k in malloc write rename; do
    [ "$(awk -v k=$k '$1 == k {print $2}' counts.txt)" -gt 0 ] || { echo "fault: no $k call counted"; exit 1; }
  done
  before=$(state_sums "$start")
  journal_before=$(cat "$start/trials.jsonl" 2>/dev/null || true)
  outcomes_before=$(stat -c %s "$start/outcomes.bin" 2>/dev/null || echo 0)
  for kind in "${kinds[@]}"; do
    total=$(awk -v k="$kind" '$1 == k {print $2}' counts.txt)
    [ "${total:-0}" -gt 0 ] || continue
    if [ "$all" = --all ] || [ "$total" -le "$samples" ]; then ns=$(seq 1 "$total")
    else ns=$(awk -v t="$total" -v s="$samples" 'BEGIN { for (i = 0; i < s; i++) printf "%d\n", 1 + int(i * (t - 1) / (s - 1) + 0.5) }' | uniq); fi
    for n in $ns; do
      runs=$((runs + 1))
      rm -rf d && cp -a "$start" d
      # The shim is preloaded into kdtune alone (timeout has its own mallocs).
      timeout -s KILL 60 env KDT_FAULT=$kind KDT_FAULT_N=$n LD_PRELOAD="$SO" "$K" run -q -o d "${tiny[@]}" >/dev/null 2>err.txt
      rc=$?
      what="$start $kind #$n/$total"
      if [ $rc -ge 128 ]; then bad "$what: signal $((rc - 128))"; continue; fi
      if grep -q "Sanitizer\|runtime error" err.txt; then bad "$what: sanitizer report"; continue; fi
      if [ $rc -eq 0 ]; then
        cmp -s ref/summary.json d/summary.json || { bad "$what: exit 0 with another summary.json"; continue; }
      elif [ $rc -eq 1 ] || [ $rc -eq 2 ]; then
        grep -q "kdtune: error: ." err.txt || { bad "$what: exit $rc without a message"; continue; }
      else
        bad "$what: exit $rc"; continue
      fi
      [ "$(state_sums d | grep -F -f <(echo "$before" | awk '{print $2}') )" = "$before" ] \
        || { [ -z "$before" ] || bad "$what: files that existed before changed"; continue; }
      if [ -n "$journal_before" ]; then
        head -c ${#journal_before} d/trials.jsonl | cmp -s - <(printf '%s' "$journal_before") \
          || { bad "$what: earlier journal lines changed"; continue; }
      fi
      if [ "$outcomes_before" -gt 0 ]; then
        cmp -s -n "$outcomes_before" "$start/outcomes.bin" d/outcomes.bin \
          || { bad "$what: earlier per-image outcomes changed"; continue; }
      fi
      "$K" run -q -o d "${tiny[@]}" >/dev/null 2>err.txt || { bad "$what: the clean rerun failed (exit $?)"; continue; }
      cmp -s ref/summary.json d/summary.json || { bad "$what: the rerun's summary.json differs"; continue; }
    done
  done
done
echo "fault: $runs faulted runs, $failures failure(s)"
[ $failures -eq 0 ]
