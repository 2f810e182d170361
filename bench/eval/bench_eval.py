#!/usr/bin/python3
"""The cost of `kdtune eval` to an external tuner, against the KD round itself.

In a fresh run directory of the embedded default (overridden by key=value arguments), after a
first evaluation has pre-trained the participants (not timed), it times, interleaved setting by
setting so that load from other processes falls on all of them alike:
- a new one-shot `kdtune eval` (a setting the journal lacks: a process, the federation built from
  what the run directory kept, one KD round), wall time from spawn to exit;
- a cached one-shot `kdtune eval` (the same setting again), wall time;
- a new and a cached evaluation through one `kdtune eval --stdin` process, from writing the line
  to reading the answer;
- the anchor: the KD round itself, the `seconds` that the new evaluations report (measured inside
  kdtune around the round, in the same run).
Prints medians in milliseconds and each as a multiple of the anchor (the overhead beyond the KD
round is `new - anchor`). With --compare OLD_KDTUNE it also times another binary's one-shot eval
(new and cached) on a run directory of its own, interleaved with the rest.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def one_shot(kdtune, run_dir, pair, extra, t, alpha):
    cmd = [kdtune, "eval", "-q", "-o", run_dir, "--pair", pair] + extra + [
        "kd.temperature=%r" % t, "kd.alpha=%r" % alpha]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit("bench_eval: %s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    return wall, json.loads(r.stdout)


class Stdin:
    def __init__(self, kdtune, run_dir, pair, extra):
        self.p = subprocess.Popen([kdtune, "eval", "-q", "--stdin", "-o", run_dir, "--pair", pair] + extra,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, t, alpha):
        t0 = time.perf_counter()
        self.p.stdin.write(json.dumps({"temperature": t, "alpha": alpha}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        wall = time.perf_counter() - t0
        out = json.loads(line)
        if "error" in out:
            sys.exit("bench_eval: --stdin answered %s" % line)
        return wall, out

    def close(self):
        self.p.stdin.close()
        if self.p.wait() != 0:
            sys.exit("bench_eval: kdtune eval --stdin exited %d" % self.p.returncode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kdtune")
    ap.add_argument("--evals", type=int, default=20, help="settings timed each way (default 20)")
    ap.add_argument("--pair", default="0,1")
    ap.add_argument("--compare", help="another kdtune binary whose one-shot eval is timed too")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("overrides", nargs="*", help="key.path=value for kdtune")
    a = ap.parse_args()
    extra = list(a.overrides)
    tmp = tempfile.mkdtemp(prefix="kdt_bench_eval_")
    try:
        dirs = {"new": os.path.join(tmp, "oneshot"), "stdin": os.path.join(tmp, "stdin"),
                "old": os.path.join(tmp, "old")}
        # Pre-training and the first evaluation (which records what later ones reuse), not timed.
        for name in ("new", "stdin"):
            one_shot(a.kdtune, dirs[name], a.pair, extra, 1.0, 0.5)
        if a.compare:
            one_shot(a.compare, dirs["old"], a.pair, extra, 1.0, 0.5)
        server = Stdin(a.kdtune, dirs["stdin"], a.pair, extra)
        t = {k: [] for k in ("new", "cached", "stdin_new", "stdin_cached", "anchor", "old_new", "old_cached")}
        for k in range(a.evals):
            T, alpha = 1.5 + 0.37 * k, (0.1 + 0.043 * k) % 1.0  # settings no run has seen
            w, r = one_shot(a.kdtune, dirs["new"], a.pair, extra, T, alpha)
            t["new"].append(w)
            t["anchor"].append(r["seconds"])
            t["cached"].append(one_shot(a.kdtune, dirs["new"], a.pair, extra, T, alpha)[0])
            w, r = server.ask(T, alpha)
            t["stdin_new"].append(w)
            t["anchor"].append(r["seconds"])
            t["stdin_cached"].append(server.ask(T, alpha)[0])
            if a.compare:
                t["old_new"].append(one_shot(a.compare, dirs["old"], a.pair, extra, T, alpha)[0])
                t["old_cached"].append(one_shot(a.compare, dirs["old"], a.pair, extra, T, alpha)[0])
        server.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in t.items() if v}
    anchor = med["anchor"]
    if a.json:
        print(json.dumps({"evals": a.evals, "median_seconds": med,
                          "ratio_to_anchor": {k: v / anchor for k, v in med.items()}}))
        return
    rows = [("one-shot eval, new setting", "new"), ("one-shot eval, cached", "cached"),
            ("--stdin, new setting", "stdin_new"), ("--stdin, cached", "stdin_cached")]
    if a.compare:
        rows += [("other binary: one-shot, new", "old_new"), ("other binary: one-shot, cached", "old_cached")]
    print("kdtune eval on pair %s (%s), %d settings each, medians:" %
          (a.pair, " ".join(extra) or "the embedded default", a.evals))
    for label, k in rows:
        over = " (+%.1f ms beyond the round)" % (1e3 * (med[k] - anchor)) if k.endswith("new") else ""
        print("  %-32s %8.1f ms  %6.2f x the anchor%s" % (label, 1e3 * med[k], med[k] / anchor, over))
    print("  %-32s %8.1f ms  (anchor: the KD round, as the new evaluations report it)" % ("KD round", 1e3 * anchor))


if __name__ == "__main__":
    main()
