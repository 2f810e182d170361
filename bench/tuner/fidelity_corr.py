#!/usr/bin/python3
"""How well low-fidelity evaluations predict full-fidelity ones, from a run directory's journal.

Reads RUN/trials.jsonl: the full-fidelity grid (`kdtune grid`) and the same settings at lower
fidelities (`kdtune eval --stdin` lines with "fidelity": f, replicate 0). Per fidelity f < 1 it
reports, within each pair, the Spearman rank correlation of the val gain at f with the val gain
and with the test gain at fidelity 1 (median and interquartile range over pairs, and pooled over
pairs after centring each pair), how often the top k by val gain at f holds the full-fidelity best
by val gain, and the cost ratio: mean `seconds` of an evaluation at f over one at 1 (only
comparable when both were measured under the same threads; see --cost-from).

Usage: fidelity_corr.py RUN [--csv-dir DIR] [--cost-from RUN2]
  --csv-dir DIR   also write DIR/default_grid.csv (fidelity 1) and DIR/default_grid_f<f>.csv in
                  bench_tuner kd's format (pair,T,alpha,transfer_set,position,val_gain,test_gain)
  --cost-from R   take the cost ratios from R's journal instead (e.g. evaluations of every
                  fidelity made by one command with the same threads)
"""
import json
import sys
from collections import defaultdict

import numpy as np
from scipy import stats

SETS = ["student_data", "unlabelled", "unlabelled_self"]  # the table's row order
POSITIONS = ["forward", "reverse"]
TEMPERATURES = [1, 2, 4, 8, 16]
ALPHAS = [0, 0.25, 0.5, 0.75, 1]
TOP_K = (1, 3, 5, 10)


def read_journal(path):
    """{fidelity: {(pair, T, alpha, set, position): (val, test, seconds)}} of ok replicate-0 kd lines;
    seconds is None for a cache hit (its time is another line's)."""
    tables = defaultdict(dict)
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e.get("type") != "eval" or e["status"] != "ok" or e["replicate"] != 0 or e["method"] != "kd":
                continue
            if e["strategy"] not in ("grid", "eval"):
                continue
            pair = "%d-%d" % tuple(e["pair"])
            key = (pair, e["temperature"], e["alpha"], e["transfer_set"], e["position"])
            if key not in tables[e["fidelity"]] or not e.get("cached"):
                tables[e["fidelity"]][key] = (e["val_gain"], e["test_gain"], None if e.get("cached") else e["seconds"])
    return tables


def iqr(v):
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return "median %+.3f, IQR [%+.3f, %+.3f]" % (med, q1, q3)


def fmt(x):
    return ("%.4f" % x).rstrip("0").rstrip(".") if x != 0 else "0"


def write_csv(path, table, pairs):
    with open(path, "w") as out:
        out.write("pair,T,alpha,transfer_set,position,val_gain,test_gain\n")
        for p in pairs:
            for s in SETS:
                for q in POSITIONS:
                    for t in TEMPERATURES:
                        for a in ALPHAS:
                            v, g, _ = table[(p, float(t), float(a), s, q)]
                            out.write("%s,%s,%s,%s,%s,%s,%s\n" % (p, fmt(t), fmt(a), s, q, fmt(v), fmt(g)))


def cost_ratios(tables):
    """{f: (ratio of mean seconds at f to at 1, 95% bootstrap interval)} over the settings timed at
    both (resampled as pairs of lines, 2,000 draws, seed 1)."""
    out, rng = {}, np.random.default_rng(1)
    for f, tab in tables.items():
        keys = [k for k in tab if f < 1 and tab[k][2] is not None and tables[1.0].get(k, (0, 0, None))[2] is not None]
        if not keys:
            continue
        lo_s = np.array([tab[k][2] for k in keys])
        hi_s = np.array([tables[1.0][k][2] for k in keys])
        draws = rng.integers(0, len(keys), (2000, len(keys)))
        boot = lo_s[draws].mean(axis=1) / hi_s[draws].mean(axis=1)
        out[f] = (lo_s.mean() / hi_s.mean(), np.percentile(boot, [2.5, 97.5]), len(keys))
    return out


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    run, csv_dir, cost_from = argv[1], None, None
    a = 2
    while a < len(argv):
        if argv[a] == "--csv-dir":
            csv_dir, a = argv[a + 1], a + 2
        elif argv[a] == "--cost-from":
            cost_from, a = argv[a + 1], a + 2
        else:
            sys.exit("unknown argument %s\n%s" % (argv[a], __doc__))
    tables = read_journal(run + "/trials.jsonl")
    full = tables.get(1.0)
    if not full:
        sys.exit("%s: no full-fidelity grid lines" % run)
    pairs = sorted({k[0] for k in full}, key=lambda p: tuple(map(int, p.split("-"))))
    n_settings = len(SETS) * len(POSITIONS) * len(TEMPERATURES) * len(ALPHAS)
    if csv_dir:
        write_csv(csv_dir + "/default_grid.csv", full, pairs)
    costs = cost_ratios(read_journal(cost_from + "/trials.jsonl") if cost_from else tables)
    for f in sorted(x for x in tables if x < 1):
        low = tables[f]
        rho_val, rho_test, pooled_low, pooled_val, pooled_test = [], [], [], [], []
        hits = {k: 0 for k in TOP_K}
        used = 0
        for p in pairs:
            keys = [k for k in full if k[0] == p]
            if len(keys) != n_settings or any(k not in low for k in keys):
                continue
            used += 1
            lv = np.array([low[k][0] for k in keys])
            fv = np.array([full[k][0] for k in keys])
            ft = np.array([full[k][1] for k in keys])
            rho_val.append(stats.spearmanr(lv, fv)[0])
            rho_test.append(stats.spearmanr(lv, ft)[0])
            # pooled: ranks within the pair, so that pairs' levels do not make the correlation
            pooled_low += list(stats.rankdata(lv) / len(lv))
            pooled_val += list(stats.rankdata(fv) / len(fv))
            pooled_test += list(stats.rankdata(ft) / len(ft))
            best = int(np.argmax(fv))
            order = np.argsort(-lv, kind="stable")
            for k in TOP_K:
                hits[k] += best in order[:k]
        if not used:
            print("fidelity %g: no pair has all %d settings at both fidelities" % (f, n_settings))
            continue
        if csv_dir:
            write_csv("%s/default_grid_f%g.csv" % (csv_dir, f), low, pairs)
        print("fidelity %g: %d pairs x %d settings" % (f, used, n_settings))
        print("  Spearman(val at f, val at 1) within a pair:  %s; pooled (within-pair ranks) %+.3f"
              % (iqr(rho_val), stats.spearmanr(pooled_low, pooled_val)[0]))
        print("  Spearman(val at f, test at 1) within a pair: %s; pooled (within-pair ranks) %+.3f"
              % (iqr(rho_test), stats.spearmanr(pooled_low, pooled_test)[0]))
        print("  full-fidelity best (by val) in the top k by val at f: " +
              ", ".join("k=%d: %d/%d" % (k, hits[k], used) for k in TOP_K))
        if f in costs:
            r, (lo, hi), n = costs[f]
            print("  cost ratio (mean seconds at f / at 1, %d settings timed at both): %.3f [%.3f, %.3f] (95%%)"
                  % (n, r, lo, hi))
    # the reference: how well the full-fidelity val gain itself ranks the test gain
    rho = [stats.spearmanr([full[k][0] for k in full if k[0] == p], [full[k][1] for k in full if k[0] == p])[0]
           for p in pairs]
    print("reference, Spearman(val at 1, test at 1) within a pair: %s" % iqr(rho))


if __name__ == "__main__":
    main(sys.argv)
