#!/usr/bin/python3
"""Runs examples/optuna_tpe.py against the real `kdtune eval --stdin` on a tiny federation: a
4-trial study completes, every trial lands in the run's journal as an `eval` line, and the same
study run again (same seed, so the same settings) is answered from the journal: the same trials,
no new line. Usage: test_optuna_real.py PATH/TO/kdtune. Exit 77 (skip) without Optuna."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import optuna  # noqa: F401
except ImportError:
    print("SKIP: Optuna (python3-optuna) is not installed")
    sys.exit(77)

if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
    sys.exit("usage: test_optuna_real.py PATH/TO/kdtune")
kdtune = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(os.path.dirname(here), "optuna_tpe.py")
TINY = ["federation.participants=3", "data.synthetic.image_size=8", "data.pool_size=600",
        "data.transfer_size=200", "data.val_size=200", "data.test_size=300",
        "model.mlp_hidden=[16]", "pretrain.epochs=5", "experiment.threads=1"]
failures = []


def check(cond, what, out=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
        print(out)


def study(run_dir):
    r = subprocess.run([sys.executable, script, "--kdtune", kdtune, "--pair", "0,2", "-o", run_dir,
                        "-n", "4", "--seed", "5", "--timeout", "300", "--"] + TINY,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    trials = [x for x in r.stdout.splitlines() if x.startswith("trial ")]
    return r.returncode, trials, r.stdout + r.stderr


def eval_lines(run_dir):
    with open(os.path.join(run_dir, "trials.jsonl")) as f:
        return [json.loads(x) for x in f if '"strategy":"eval"' in x]


with tempfile.TemporaryDirectory() as d:
    code, trials, out = study(d)
    check(code == 0, "a 4-trial study against kdtune runs (exit %d)" % code, out)
    check(len(trials) == 4 and all("val_gain" in t and "failed" not in t for t in trials),
          "four trials, each with a val_gain", out)
    check(any(x.strip().startswith("optuna-tpe") for x in out.splitlines()),
          "Optuna's best is printed", out)
    lines = eval_lines(d)
    check(len(lines) == 4 and all(x["i"] == k for k, x in enumerate(lines)),
          "each trial is one `eval` line of the journal (%d)" % len(lines))
    check(all(x["pair"] == [0, 2] for x in lines), "the lines are the pair's")
    code2, trials2, out2 = study(d)
    check(code2 == 0 and trials2 == trials, "the same study again gives the same trials", out2)
    check(len(eval_lines(d)) == 4, "and is answered from the journal (no new line)")

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
