#!/usr/bin/python3
"""Prints the findings table of experiments/README.md from the committed results
(experiments/results/*/summary.json, and evaluations.csv where a run has it), so that every
number there comes from those files:
    /usr/bin/python3 experiments/findings.py
run.sh also calls it to export a journal's evaluations: findings.py --export trials.jsonl out.csv"""
import csv
import glob
import json
import math
import os
import sys

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


def synthetic_paths():
    """The smoke-test tier's summaries: every run but the real-data ones."""
    return [p for p in sorted(glob.glob(os.path.join(here, "results", "*", "summary.json")))
            if not os.path.basename(os.path.dirname(p)).startswith("fmnist")]


def synthetic_tier():
    """The smoke-test tier: every run's findings and strategies tables."""
    rows = []
    for path in synthetic_paths():
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
    for path in synthetic_paths():
        name = os.path.basename(os.path.dirname(path))
        s = json.load(open(path))
        for k, v in s["strategies"].items():
            e = v["mean_evaluations_to_epsilon"]
            print(f"| {name} | {k} | {v['mean_evaluations_per_pair']:.0f} | {pts(v['mean_test_gain'])} | "
                  f"{pts(v['mean_val_regret'])} | {pts(v['mean_test_regret'])} | {pct(v['fraction_within_epsilon'])} | "
                  f"{'-' if e is None else f'{e:.1f}'} |")


# ---------------------------------------------------------------------------------------------
# The real-data tier (results/fmnist*): the statistics object of each summary, and the tests that
# need single evaluations, from the evaluations.csv that run.sh exports from the journal.

def ci(c):
    return "-" if not c or c[0] is None else f"[{100 * c[0]:+.2f}, {100 * c[1]:+.2f}]"


def relci(c):
    return "-" if not c or c[0] is None else f"[{100 * (c[0] - 1):+.0f}%, {100 * (c[1] - 1):+.0f}%]"


def sign_test(wins, n):
    """Two-sided exact sign test: P[|X - n/2| >= |wins - n/2|], X ~ Binomial(n, 1/2)."""
    if n == 0:
        return 1.0
    k = max(wins, n - wins)
    return min(1.0, 2 * sum(math.comb(n, j) for j in range(k, n + 1)) / 2 ** n)


def read_evaluations(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def export_evaluations(journal, out):
    """run.sh: the journal's evaluations (without per-image outcomes) as a CSV beside the summary."""
    cols = ["strategy", "budget", "pair_i", "pair_j", "student", "teacher", "position", "temperature", "alpha",
            "transfer_set", "method", "replicate", "fidelity", "status", "val_gain", "test_gain", "forgetting",
            "student_test_before", "teacher_test", "peer_test_gain", "routed_fraction", "seconds"]
    with open(journal) as f, open(out, "w", newline="") as o:
        w = csv.writer(o)
        w.writerow(cols)
        for line in f:
            d = json.loads(line)
            if d.get("type") != "eval":
                continue
            d["pair_i"], d["pair_j"] = d["pair"]
            w.writerow(["" if d.get(c) is None else d[c] for c in cols])


def experiments_with_evaluations(paths):
    """Each experiment once (its budgets' folders share one journal, so one evaluations.csv will
    do): its name, its folder and its evaluations, read once."""
    seen = set()
    for path in paths:
        folder = os.path.dirname(path)
        base = os.path.basename(folder).split("-b")[0]
        ev = os.path.join(folder, "evaluations.csv")
        if base in seen or not os.path.exists(ev):
            continue
        seen.add(base)
        yield base, folder, read_evaluations(ev)


def all_pairs_position(paths):
    """Position over every pair, from the default phase (evaluated on all pairs): the val-best default
    setting of each position, and whether the better one is the weaker participant learning."""
    for base, d, evaluations in experiments_with_evaluations(paths):
        rows = [r for r in evaluations if r["strategy"] == "default" and r["method"] == "kd"
                and r["status"] == "ok" and r["replicate"] == "0"]
        pairs = sorted({(int(r["pair_i"]), int(r["pair_j"])) for r in rows})
        if len(pairs) < 6:
            continue
        acc = {int(r["participant"]): float(r["test_accuracy"])
               for r in read_evaluations(os.path.join(d, "pretrain.csv"))}
        weaker_wins = n = big = 0
        for p in pairs:
            best = {}
            for pos in ("forward", "reverse"):
                c = [r for r in rows if (int(r["pair_i"]), int(r["pair_j"])) == p and r["position"] == pos]
                if c:
                    best[pos] = max(c, key=lambda r: float(r["val_gain"]))
            if len(best) < 2 or acc[p[0]] == acc[p[1]]:
                continue
            f, r = float(best["forward"]["test_gain"]), float(best["reverse"]["test_gain"])
            if f == r:
                continue
            n += 1
            big += abs(f - r) > 0.01
            winner = best["forward"] if f > r else best["reverse"]
            weaker_wins += acc[int(winner["student"])] < acc[int(winner["teacher"])]
        print()
        print(f"{base}: position over all {len(pairs)} pairs (default phase: T = 1, alpha = 0.5, the val-best transfer set"
              " of each position)")
        print(f"  the better position differs by more than 1 test point in {big} of {n} pairs; it is the one where the"
              f" weaker participant (lower test accuracy before KD) learns in {weaker_wins} of {n}"
              f" (two-sided sign test p = {sign_test(weaker_wins, n):.2g})")


def methods_at_defaults(paths):
    """dml and dpkd against kd at the default T and alpha, on the pairs where the default phase ran
    all three (the grid's pairs): each method's val-best transfer set and position, per pair."""
    for base, _, evaluations in experiments_with_evaluations(paths):
        rows = [r for r in evaluations if r["strategy"] == "default" and r["status"] == "ok"
                and r["replicate"] == "0"]
        pairs = sorted({(int(r["pair_i"]), int(r["pair_j"])) for r in rows if r["method"] != "kd"})
        if not pairs:
            continue
        print()
        print(f"{base}: methods at the default T and alpha (val-best transfer set and position per method; test gain,"
              " points; one gain's paired standard error is about 0.6 points on 10,000 test images)")
        for p in pairs:
            cells = []
            for m in ("kd", "dml", "dpkd"):
                c = [r for r in rows if (int(r["pair_i"]), int(r["pair_j"])) == p and r["method"] == m]
                if not c:
                    continue
                b = max(c, key=lambda r: float(r["val_gain"]))
                extra = ""
                if m == "dml" and b["peer_test_gain"]:
                    extra = f", the peer {pts(float(b['peer_test_gain']))}"
                if m == "dpkd" and b["routed_fraction"]:
                    extra = f", {pct(float(b['routed_fraction']))} routed to the teacher"
                worst = min(float(r["test_gain"]) for r in c)
                cells.append(f"{m} {pts(float(b['test_gain']))} ({b['transfer_set']} {b['position']}{extra};"
                             f" worst of its 6 {pts(worst)})")
            print(f"  pair {p[0]}-{p[1]}: " + "; ".join(cells))


def fmnist_tier():
    paths = sorted(glob.glob(os.path.join(here, "results", "fmnist*", "summary.json")))
    if not paths:
        return
    print()
    print("Real data (Fashion-MNIST, CNN participants): statistics of each summary")
    print()
    print("| run | pairs | se of one gain val / test | grid best not default (chance) | default worse than pick, Holm"
          " | ... than best untuned | selected val gain / held out | default | best untuned | pick"
          " | pick - default [95% CI] | pick - best untuned [95% CI] | relative gain [95% CI] |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        s = json.load(open(path))
        st, d = s["statistics"], s["default"]
        w = st["pairs_default_significantly_worse"]
        iod, iob = st["improvement_over_default"], st["improvement_over_best_untuned"]
        pick = sum(p["recommended_test_gain"] for p in s["per_pair"]) / len(s["per_pair"])
        rg = iob["relative_gain"]
        print(f"| {name} | {s['pairs']} | {pts(st['se_gain']['val'])} / {pts(st['se_gain']['test'])} | "
              f"{pct(st['fraction_grid_best_not_default'])} ({pct(st['chance_non_default'])}) | "
              f"{w['count']} of {st['pairs_tested']} | {w['against_best_untuned_count']} of {st['pairs_tested']} | "
              f"{pts(st['selected_val_gain_mean'])} / {pts(st['heldout_val_gain_mean'])} | "
              f"{pts(d['mean_test_gain'])} | {pts(d['best_untuned_mean_test_gain'])} | {pts(pick)} | "
              f"{pts(iod['points'])} {ci(iod['points_ci95'])} | {pts(iob['points'])} {ci(iob['points_ci95'])} | "
              f"{'-' if rg is None else f'{100 * rg:+.0f}%'} {relci(iob['ratio_ci95'])} |")
    print()
    print("| run | strategy | evals/pair (6 of them free) | test gain | test regret [95% CI] | worse than grid, Holm"
          " | within 0.5 pt |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        s = json.load(open(path))
        for k, v in s["strategies"].items():
            if k == "grid":
                continue
            print(f"| {name} | {k} | {v['mean_evaluations_per_pair']:.1f} | {pts(v['mean_test_gain'])} | "
                  f"{pts(v['mean_test_regret'])} {ci(v.get('test_regret_ci95'))} | "
                  f"{v.get('pairs_significantly_worse_than_grid', '-')} of {v.get('pairs_tested_against_grid', '-')} | "
                  f"{pct(v['fraction_within_epsilon'])} |")
    # Issue 15's transfer target on this data: gp_transfer against gp on every pair both tuned, by
    # the paired difference of their picks' validation gains (= of their regrets; no grid needed).
    sys.path.insert(0, os.path.join(here, "..", "bench", "tuner"))
    from real_targets import paired_diff
    for path in paths:
        s = json.load(open(path))
        if not {"gp", "gp_transfer"} <= set(s["strategies"]):
            continue
        pairs = [p for p in s["per_pair"] if p.get("tuned_val_gain", {}).get("gp") is not None
                 and p["tuned_val_gain"].get("gp_transfer") is not None]
        r = paired_diff(pairs, "gp_transfer", "gp") if pairs else None
        if r:
            print(f"{os.path.basename(os.path.dirname(path))}: gp_transfer minus gp, validation regret {pts(r[0])} points,"
                  f" 95% [{pts(r[1])}, {pts(r[2])}] (paired bootstrap over {len(pairs)} pairs)")
    # The recommendations (recommended.yaml, read with PyYAML, which install-deps.sh installs):
    # listed when there are few, summarized when there are many.
    import yaml
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        rec = yaml.safe_load(open(os.path.join(os.path.dirname(path), "recommended.yaml")))["pairs"]
        print()
        if len(rec) <= 5:
            print(f"{name}: recommendations")
            for r in rec:
                print(f"  pair {r['pair'][0]}-{r['pair'][1]}: {r['strategy']} T={r['temperature']:.2f} "
                      f"alpha={r['alpha']:.2f} {r['transfer_set']} {r['position']}, test {pts(r['test_gain'])}")
            continue
        def count(key):
            c = {}
            for r in rec:
                c[r[key]] = c.get(r[key], 0) + 1
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
        def quartiles(key):
            v = sorted(r[key] for r in rec)
            q = lambda f: v[min(len(v) - 1, int(f * (len(v) - 1) + 0.5))]
            return f"median {q(0.5):.2f}, quartiles {q(0.25):.2f} to {q(0.75):.2f}, range {v[0]:.2f} to {v[-1]:.2f}"
        print(f"{name}: the {len(rec)} recommendations: from {count('strategy')}; transfer set {count('transfer_set')};"
              f" position {count('position')}")
        print(f"  T {quartiles('temperature')}; alpha {quartiles('alpha')}")
    all_pairs_position(paths)
    # Per-evaluation tests, from the grid's evaluations (each budget's folder has the same grid).
    for base, folder, evaluations in experiments_with_evaluations(paths):
        grid = [r for r in evaluations if r["strategy"] == "grid" and r["status"] == "ok"]
        if not grid:
            continue
        print()
        print(f"{base}: forgetting by transfer set over the grid ({len(grid)} evaluations)")
        by = {}
        for r in grid:
            key = (r["pair_i"], r["pair_j"], r["position"], r["temperature"], r["alpha"], r["method"])
            by.setdefault(key, {})[r["transfer_set"]] = float(r["forgetting"])
        sets = ("unlabelled", "unlabelled_self", "student_data")
        pairs = sorted({(r["pair_i"], r["pair_j"]) for r in grid})
        for p in pairs:
            means = []
            for t in sets:
                v = [float(r["forgetting"]) for r in grid if (r["pair_i"], r["pair_j"]) == p and r["transfer_set"] == t]
                means.append(pts(sum(v) / len(v)) if v else "-")
            print(f"  pair {p[0]}-{p[1]}: mean forgetting u / us / sd = {' / '.join(means)} points")
        for a, b in ((0, 1), (0, 2), (2, 1)):
            m = [v for v in by.values() if sets[a] in v and sets[b] in v]
            wins = sum(v[sets[a]] > v[sets[b]] for v in m)
            ties = sum(v[sets[a]] == v[sets[b]] for v in m)
            print(f"  {sets[a]} forgets more than {sets[b]} in {wins} of {len(m) - ties} matched settings "
                  f"(same pair, position, T, alpha; ties left out), sign test p = {sign_test(wins, len(m) - ties):.2g}")
        pre = {r["participant"]: r for r in read_evaluations(os.path.join(folder, "pretrain.csv"))}
        print(f"{base}: participants of the grid's pairs (test accuracy on all classes / on its own classes)")
        for p in pairs:
            print("  " + ", ".join(f"participant {c}: {pct(float(pre[c]['test_accuracy']))} / "
                                   f"{pct(float(pre[c]['own_test_accuracy']))}" for c in p))
        print(f"{base}: best non-tuned setting (default T and alpha, val-best method, transfer set and position) against"
              " the grid's pick, per pair (test gain, points)")
        for p in pairs:
            d = [r for r in evaluations if r["strategy"] == "default" and (r["pair_i"], r["pair_j"]) == p]
            u = max(d, key=lambda r: float(r["val_gain"]))
            g = max((r for r in grid if (r["pair_i"], r["pair_j"]) == p), key=lambda r: float(r["val_gain"]))
            print(f"  pair {p[0]}-{p[1]}: untuned {u['method']} {u['transfer_set']} {u['position']} {pts(float(u['test_gain']))}; "
                  f"grid T={g['temperature']} alpha={g['alpha']} {g['transfer_set']} {g['position']} "
                  f"{pts(float(g['test_gain']))}; difference {pts(float(g['test_gain']) - float(u['test_gain']))}")
        print(f"{base}: position, the val-best setting of each position per pair (test gain, points)")
        for p in pairs:
            best = {}
            for pos in ("forward", "reverse"):
                c = [r for r in grid if (r["pair_i"], r["pair_j"]) == p and r["position"] == pos]
                if c:
                    r = max(c, key=lambda r: float(r["val_gain"]))
                    best[pos] = (float(r["test_gain"]), r["student"], r["teacher"])
            print("  pair " + f"{p[0]}-{p[1]}: " + ", ".join(
                f"{pos} (student {v[1]} learns from {v[2]}) {pts(v[0])}" for pos, v in best.items()))
    methods_at_defaults(paths)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--export":
        export_evaluations(sys.argv[2], sys.argv[3])
        sys.exit(0)
    synthetic_tier()
    fmnist_tier()
