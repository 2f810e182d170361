#!/usr/bin/python3
"""Prints the findings table of experiments/README.md from the committed results
(experiments/results/*/summary.json), so that every number there comes from those files:
    /usr/bin/python3 experiments/findings.py"""
import glob
import json
import os

here = os.path.dirname(os.path.abspath(__file__))


def pts(x):
    return "-" if x is None else f"{100 * x:+.2f}"


def rel(tuned, untuned):
    """The study's measure: tuned gain relative to the best untuned method's."""
    if tuned is None or untuned is None or untuned == 0:
        return "-"
    return f"{100 * (tuned - untuned) / abs(untuned):+.0f}%"


def pct(x):
    return "-" if x is None else f"{100 * x:.0f}%"


rows = []
for path in sorted(glob.glob(os.path.join(here, "results", "*", "summary.json"))):
    name = os.path.basename(os.path.dirname(path))
    s = json.load(open(path))
    f, d, g = s["findings"], s["default"], s["grid"] or {}
    forget = f["mean_forgetting_by_transfer_set"]
    rows.append((name, s["pairs"], pct(f["fraction_grid_best_not_default"]),
                 "-" if f["improvement_factor_mean"] is None else
                 f"{f['improvement_factor_mean']:.2f}x / {f['improvement_factor_median']:.2f}x "
                 f"({f['improvement_factor_pairs']} pairs)",
                 pts(f["improvement_points_mean"]), pts(d["mean_test_gain"]),
                 pts(d["best_untuned_mean_test_gain"]), pts(g.get("mean_test_gain")),
                 rel(g.get("mean_test_gain"), d["best_untuned_mean_test_gain"]),
                 " / ".join(pts(forget[k]) for k in ("unlabelled", "unlabelled_self", "student_data")),
                 pct(f["fraction_position_matters"])))
print("| run | pairs | grid best not default | grid / default gain, mean / median | grid - default | default gain"
      " | best untuned | grid best | grid vs best untuned | forgetting u / us / sd | position > 1 pt |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
print()
print("| run | strategy | evals/pair | test gain | val regret | test regret | within 0.5 pt | evals to 0.5 pt |")
print("|---|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(here, "results", "*", "summary.json"))):
    name = os.path.basename(os.path.dirname(path))
    s = json.load(open(path))
    for k, v in s["strategies"].items():
        e = v["mean_evaluations_to_epsilon"]
        print(f"| {name} | {k} | {v['mean_evaluations_per_pair']:.0f} | {pts(v['mean_test_gain'])} | "
              f"{pts(v['mean_val_regret'])} | {pts(v['mean_test_regret'])} | {pct(v['fraction_within_epsilon'])} | "
              f"{'-' if e is None else f'{e:.1f}'} |")
