#!/usr/bin/python3
"""Issue 15's targets from the summaries of one run directory (bench/tuner/real_run.sh), one
summary.json per budget: per strategy the mean validation and test regret against the grid's pick,
the 95% interval of the mean test regret (the summary's bootstrap over pairs) and the pairs where
the grid's pick is significantly better on test (Holm); then each strategy's paired difference in
validation regret against gp (a bootstrap over pairs, 10,000 resamples, fixed seed).
    real_targets.py summary-b3.json summary-b7.json summary-b15.json"""
import json
import random
import sys

def paired_diff(pairs, a, b):
    """Mean over pairs of (val regret of a - val regret of b) = val gain of b - val gain of a, with a
    95% percentile bootstrap interval over pairs; None when a pair lacks either."""
    d = []
    for p in pairs:
        va, vb = p.get("tuned_val_gain", {}).get(a), p.get("tuned_val_gain", {}).get(b)
        if va is None or vb is None:
            return None
        d.append(vb - va)
    rng = random.Random(15)
    means = sorted(sum(rng.choice(d) for _ in d) / len(d) for _ in range(10000))
    return sum(d) / len(d), means[249], means[9749]


def pts(x):
    return "-" if x is None else f"{100 * x:+.2f}"


def main(paths):
    for path in paths:
        s = json.load(open(path))
        b = s["strategies"]
        rows = []
        for name, v in b.items():
            if name in ("grid",):
                continue
            ci = v.get("test_regret_ci95") or [None, None]
            rows.append((name, v["mean_val_regret"], v["mean_test_regret"], ci,
                         v.get("pairs_significantly_worse_than_grid"), v.get("pairs_tested_against_grid"),
                         v["mean_evaluations_per_pair"]))
        evals = max(r[6] for r in rows) - 6 # the 6 free default-phase settings
        grid = (s.get("grid") or {}).get("mean_evaluations_per_pair")
        share = f" ({100 * evals / grid:.0f}% of the grid)" if grid else ""
        print(f"\n{path}: about {evals:.0f} paid evaluations per pair{share}")
        print("| strategy | evals/pair | val regret | test regret | test regret 95% | worse than grid |")
        print("| --- | ---: | ---: | ---: | --- | ---: |")
        for name, vr, tr, ci, w, n, ev in rows:
            print(f"| {name} | {ev:.1f} | {pts(vr)} | {pts(tr)} | [{pts(ci[0])}, {pts(ci[1])}] | {w}/{n} |")
        for name, *_ in rows:
            if name == "gp":
                continue
            r = paired_diff(s["per_pair"], name, "gp")
            if r:
                print(f"{name} minus gp, mean validation regret: {pts(r[0])} points, 95% [{pts(r[1])}, {pts(r[2])}]"
                      f" (paired bootstrap over {len(s['per_pair'])} pairs)")


if __name__ == "__main__":
    main(sys.argv[1:])
