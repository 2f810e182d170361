#!/usr/bin/python3
"""Tunes one pair's KD setting with Optuna's TPE, kdtune doing the evaluations.

Starts `kdtune eval --stdin --pair I,J -o RUN_DIR` once and speaks its line protocol: one JSON
object per line on its stdin, {"temperature": T, "alpha": A, "transfer_set": S, "position": P},
and one JSON result line back per input line (the object `kdtune eval` prints: val_gain,
test_gain, forgetting, ..., status), or {"error": "..."} for a line it refused. Every evaluation
lands in the run's journal like any other, so a setting kdtune has seen before costs nothing.

The search space is kdtune's: temperature in [1, 20] (log), alpha in [0, 1] (kdtune's alpha
weights the teacher's soft term), transfer_set and position categorical. The objective is
val_gain (the test split is never used to choose). At the end it prints Optuna's best beside the
picks of kdtune's own strategies for the same pair, read from RUN_DIR/recommended.yaml and
RUN_DIR/summary.json (made by `kdtune run` or `kdtune tune` + `kdtune report`).

    python3 examples/optuna_tpe.py --pair 0,1 -o runs/default            # 15 trials
    python3 examples/optuna_tpe.py --pair 0,1 -o runs/default -n 40 --seed 3 -- kd.epochs=3

Arguments after `--` go to kdtune (a config with -c FILE, overrides). Needs python3-optuna.
"""
import argparse
import json
import math
import os
import select
import shutil
import subprocess
import sys
import time

TRANSFER_SETS = ("unlabelled", "unlabelled_self", "student_data")
POSITIONS = ("forward", "reverse")


class KdtuneError(RuntimeError):
    pass


class KdtuneEval:
    """One `kdtune eval --stdin` process: evaluate(setting) -> the result object."""

    def __init__(self, cmd, timeout):
        self.cmd, self.timeout = cmd, timeout
        try:
            self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, bufsize=1)
        except OSError as e:
            raise KdtuneError("cannot start %s: %s (give the binary with --kdtune)" % (cmd[0], e))

    def evaluate(self, setting):
        try:
            self.p.stdin.write(json.dumps(setting) + "\n")
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            raise KdtuneError(self._died())
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KdtuneError("kdtune gave no answer within %g s (raise --timeout; the first "
                                  "evaluation also pre-trains the participants)" % self.timeout)
            ready, _, _ = select.select([self.p.stdout], [], [], left)
            if ready:
                break
        line = self.p.stdout.readline()
        if not line:
            raise KdtuneError(self._died())
        try:
            out = json.loads(line)
        except ValueError:
            return {"error": "kdtune answered a line that is not JSON: %r" % line[:200]}
        if not isinstance(out, dict):
            return {"error": "kdtune answered %r, not a JSON object" % line[:200]}
        return out

    def _died(self):
        code = self.p.poll()
        if code is None:
            try:
                code = self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = "still running"
        hint = ""
        if code == 2:
            hint = (" (a usage error: does this kdtune know `eval --stdin`? Its messages are "
                    "above)")
        return "kdtune stopped (exit %s)%s; command: %s" % (code, hint, " ".join(self.cmd))

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def kdtune_picks(run_dir, i, j):
    """{strategy: {setting..., val_gain, test_gain, evaluations}} from the run's files."""
    picks, notes = {}, []
    rec = os.path.join(run_dir, "recommended.yaml")
    try:
        import yaml
        with open(rec) as f:
            doc = yaml.safe_load(f)
        for e in (doc or {}).get("pairs") or []:
            if list(e.get("pair", [])) != [i, j]:
                continue
            for key, v in e.items():
                if isinstance(v, dict) and "temperature" in v:
                    name = {"grid_best": "grid"}.get(key, key[6:] if key.startswith("tuned_") else key)
                    picks[name] = dict(v)
            picks["recommended"] = {k: e[k] for k in ("temperature", "alpha", "transfer_set",
                                                      "position", "val_gain", "test_gain")}
            picks["recommended"]["evaluations"] = e.get("evaluations")
            picks["recommended"]["from"] = e.get("strategy")
    except ImportError:
        notes.append("PyYAML is not installed (python3-yaml): kdtune's picks are not shown")
    except OSError:
        notes.append("no %s: run `kdtune tune --pairs %d-%d --budget N -o %s` and `kdtune report "
                     "-o %s` to compare with kdtune's strategies" % (rec, i, j, run_dir, run_dir))
    try:
        with open(os.path.join(run_dir, "summary.json")) as f:
            summ = json.load(f)
        per_pair = (summ.get("strategies") or {})
        for name, s in per_pair.items():
            if name in picks:
                picks[name]["evaluations"] = s.get("mean_evaluations_per_pair")
        if "grid" in picks and isinstance(summ.get("grid"), dict):
            picks["grid"]["evaluations"] = summ["grid"].get("mean_evaluations_per_pair")
    except (OSError, ValueError):
        pass
    return picks, notes


def fmt(x, spec="%+.2f", scale=100.0):
    return spec % (x * scale) if isinstance(x, (int, float)) and math.isfinite(x) else "-"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[2:]))
    ap.add_argument("--pair", required=True, help="I,J: the pair (forward = I teaches J)")
    ap.add_argument("-o", "--run-dir", required=True, help="kdtune's run directory")
    ap.add_argument("-n", "--trials", type=int, default=15, help="Optuna trials (default 15)")
    ap.add_argument("--seed", type=int, default=0, help="TPE's seed (default 0)")
    ap.add_argument("--kdtune", default=None, help="the kdtune binary (default: kdtune on PATH, "
                    "else ./build/kdtune)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for one answer")
    ap.add_argument("--enqueue-default", action="store_true",
                    help="evaluate the default T=1, alpha=0.5 first, as kdtune's gp does")
    a = ap.parse_args(argv)
    try:
        i, j = (int(v) for v in a.pair.split(","))
        assert i != j and i >= 0 and j >= 0
    except (ValueError, AssertionError):
        ap.error("--pair '%s': expected two different participants, e.g. --pair 0,3" % a.pair)
    if a.trials < 1:
        ap.error("--trials must be at least 1")
    i, j = min(i, j), max(i, j)
    try:
        import optuna
    except ImportError:
        sys.exit("optuna_tpe: Optuna is not installed (apt-get install -y python3-optuna)")
    exe = a.kdtune or shutil.which("kdtune") or os.path.join("build", "kdtune")
    cmd = [exe, "eval", "--stdin", "--pair", "%d,%d" % (i, j), "-o", a.run_dir] + extra

    dist = {"temperature": optuna.distributions.FloatDistribution(1.0, 20.0, log=True),
            "alpha": optuna.distributions.FloatDistribution(0.0, 1.0),
            "transfer_set": optuna.distributions.CategoricalDistribution(TRANSFER_SETS),
            "position": optuna.distributions.CategoricalDistribution(POSITIONS)}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(multivariate=True, seed=a.seed))
    if a.enqueue_default:
        study.enqueue_trial({"temperature": 1.0, "alpha": 0.5, "transfer_set": "unlabelled",
                             "position": "forward"})
    ev = KdtuneEval(cmd, a.timeout)
    results = {}
    try:
        for n in range(a.trials):
            trial = study.ask(dist)
            setting = dict(trial.params)
            r = ev.evaluate(setting)
            bad = r.get("error") or (r.get("status") not in (None, "ok") and
                                     (r.get("reason") or "status %s" % r.get("status")))
            val = r.get("val_gain")
            if not bad and not (isinstance(val, (int, float)) and math.isfinite(val)):
                bad = "no finite val_gain in the answer"
            if bad:
                print("trial %2d: T=%-6.3g alpha=%.3f %-15s %-7s failed: %s" %
                      (n, setting["temperature"], setting["alpha"], setting["transfer_set"],
                       setting["position"], bad), file=sys.stderr)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            results[trial.number] = r
            study.tell(trial, float(val))
            print("trial %2d: T=%-6.3g alpha=%.3f %-15s %-7s val_gain %s test_gain %s points" %
                  (n, setting["temperature"], setting["alpha"], setting["transfer_set"],
                   setting["position"], fmt(val), fmt(r.get("test_gain"))))
    except KdtuneError as e:
        ev.close()
        sys.exit("optuna_tpe: %s" % e)
    except KeyboardInterrupt:
        print("interrupted: the report covers the trials done", file=sys.stderr)
    ev.close()

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        sys.exit("optuna_tpe: no trial completed (see the failures above)")
    best = study.best_trial
    r = results[best.number]
    print("\nPair [%d, %d], objective val_gain (gains in accuracy points; alpha weights the soft "
          "term):" % (i, j))
    print("  %-14s %7s %7s %-15s %-8s %9s %9s" % ("who", "T", "alpha", "transfer_set",
                                                  "position", "val_gain", "test_gain"), end="")
    print("  evals")
    print("  %-14s %7.3f %7.3f %-15s %-8s %9s %9s  %d" %
          ("optuna-tpe", best.params["temperature"], best.params["alpha"],
           best.params["transfer_set"], best.params["position"], fmt(r.get("val_gain")),
           fmt(r.get("test_gain")), len(study.trials)))
    picks, notes = kdtune_picks(a.run_dir, i, j)
    for name in sorted(picks, key=lambda k: (k != "recommended", k)):
        p = picks[name]
        ev_n = p.get("evaluations")
        label = name if name != "recommended" else "recommended*"
        print("  %-14s %7.3f %7.3f %-15s %-8s %9s %9s  %s" %
              (label, p.get("temperature", float("nan")), p.get("alpha", float("nan")),
               p.get("transfer_set", "?"), p.get("position", "?"), fmt(p.get("val_gain")),
               fmt(p.get("test_gain")), "-" if ev_n is None else "%g" % ev_n))
    if "recommended" in picks:
        print("  (* kdtune's recommendation: the best by val_gain among its strategies' picks, "
              "from %s; evals are per pair, means over pairs from summary.json)" %
              picks["recommended"].get("from"))
    budgets = {p.get("evaluations") for k, p in picks.items() if k not in ("recommended", "grid", "default")}
    if picks and budgets and budgets != {len(study.trials)}:
        used = ", ".join("%g" % b for b in sorted(b for b in budgets if b is not None)) or "?"
        print("  note: kdtune's strategies used %s evaluations, Optuna %d: for a like-for-like "
              "comparison run `kdtune tune --pairs %d-%d --budget %d -o %s` and `kdtune report`." %
              (used, len(study.trials), i, j, len(study.trials), a.run_dir))
    for n in notes:
        print("  note: " + n)


if __name__ == "__main__":
    main()
