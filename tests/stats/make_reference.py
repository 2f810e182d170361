#!/usr/bin/python3
"""Makes tests/stats/reference.h: reference values for the stats/ module, computed with SciPy and
NumPy (Debian: apt-get install -y python3-scipy python3-numpy) independently of the C code.

Run from anywhere: /usr/bin/python3 tests/stats/make_reference.py  (rewrites reference.h beside it).

- bitsets: counts, discordant counts (all images and a subset) and the paired standard error as
  numpy.std(d, ddof=1) / sqrt(n), d = a - b;
- McNemar: scipy.stats.binomtest(b, b + c, 0.5) two-sided, greater and less;
- Holm: the step-down rule applied literally, and adjusted p-values from their definition;
- bootstrap: kdtune's RNG (xoshiro256** seeded by SplitMix64, common/rng.c) re-implemented here,
  the same resamples, numpy.percentile(method="linear"); the mean is also checked against
  scipy.stats.bootstrap(method="percentile") loosely, as a sanity check of the definition;
- chance level: brute-force enumeration of every tuple of scores for small cases, and the paired
  null pmf as numpy.convolve of scipy.stats.binom pmfs;
- cross-fitting: the same seeded permutation, selection and held-out gains in NumPy.
"""
import itertools
import os

import numpy as np
import scipy
from scipy import stats

M64 = (1 << 64) - 1


# ---- kdtune's RNG (common/rng.c) -------------------------------------------------------------
def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def hash_str(s):
    h = 0xCBF29CE484222325
    for ch in s.encode():
        h = ((h ^ ch) * 0x100000001B3) & M64
    return h


def mix(key, ident):
    x = key ^ ((ident * 0xD6E8FEB86659FD93) & M64)
    _, z = splitmix64(x)
    return z


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    def __init__(self, seed, purpose, a, b):
        key = mix(mix(mix(seed, hash_str(purpose)), a), b)
        self.s = []
        for _ in range(4):
            key, z = splitmix64(key)
            self.s.append(z)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        limit = ((1 << 64) - n) % n
        while True:
            x = self.next()
            if x >= limit:
                return x % n

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.below(i)
            a[i - 1], a[j] = a[j], a[i - 1]


# ---- C output helpers ------------------------------------------------------------------------
out = []


def c_doubles(name, values):
    body = ", ".join(repr(float(v)) for v in values)
    out.append(f"static const double {name}[{len(values)}] = {{{body}}};")


def c_sizes(name, values):
    body = ", ".join(str(int(v)) for v in values)
    out.append(f"static const size_t {name}[{len(values)}] = {{{body}}};")


def c_bytes(name, values):
    body = ", ".join(str(int(v)) for v in values)
    out.append(f"static const uint8_t {name}[{len(values)}] = {{{body}}};")


def pack(bits, junk=0):
    """bit i in byte i / 8, least significant first; junk fills the padding bits of the last byte."""
    n = len(bits)
    by = np.zeros((n + 7) // 8, dtype=np.uint8)
    for i, v in enumerate(bits):
        if v:
            by[i // 8] |= 1 << (i % 8)
    if n % 8:
        by[-1] |= (junk << (n % 8)) & 0xFF
    return by


gen = np.random.default_rng(20261201)

# ---- bitsets and the paired standard error ----------------------------------------------------
BITSET_N = [1, 8, 37, 1000]
for t, n in enumerate(BITSET_N):
    a = gen.random(n) < 0.7
    b = np.where(gen.random(n) < 0.25, ~a, a)  # about 25% discordant
    c_bytes(f"REF_BITS_A{t}", pack(a, junk=0xFF))
    c_bytes(f"REF_BITS_B{t}", pack(b, junk=0xA5))
    sub = np.sort(gen.choice(n, size=max(1, n // 3), replace=False))
    c_sizes(f"REF_SUB{t}", sub)
    d = a.astype(float) - b.astype(float)
    se = np.std(d, ddof=1) / np.sqrt(n) if n >= 2 else -1.0  # -1: undefined, the C call must fail
    # count_a, count_b, n_ab, n_ba, sub_count_a, sub_n_ab, sub_n_ba
    vals = [a.sum(), b.sum(), (a & ~b).sum(), (b & ~a).sum(), a[sub].sum(), (a[sub] & ~b[sub]).sum(),
            (b[sub] & ~a[sub]).sum()]
    c_sizes(f"REF_COUNTS{t}", vals)
    c_doubles(f"REF_SE{t}", [se])

# ---- exact McNemar -----------------------------------------------------------------------------
MC = [(0, 0), (1, 0), (0, 1), (3, 3), (10, 2), (2, 10), (12, 0), (100, 70), (130, 70), (70, 130),
      (300, 250), (1000, 900), (115, 115), (5, 40)]
c_sizes("REF_MC_B", [b for b, c in MC])
c_sizes("REF_MC_C", [c for b, c in MC])
two, gre, les = [], [], []
for b, c in MC:
    if b + c == 0:
        two.append(1.0), gre.append(1.0), les.append(1.0)
        continue
    two.append(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    gre.append(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue)
    les.append(stats.binomtest(b, b + c, 0.5, alternative="less").pvalue)
c_doubles("REF_MC_TWO", two)
c_doubles("REF_MC_GREATER", gre)
c_doubles("REF_MC_LESS", les)

# ---- Holm ----------------------------------------------------------------------------------------
HOLM_LEVEL = 0.05
HOLM_P = [0.01, 0.04, 0.03, 0.005, 0.2, 0.03, 0.0001, 0.9, 0.0125, 1.0]
p = np.array(HOLM_P)
m = len(p)
order = np.argsort(p, kind="stable")
adj = np.empty(m)
for rank, i in enumerate(order):  # q_(j) = max_{i <= j} min(1, (m - i + 1) p_(i))
    adj[i] = max(min(1.0, (m - r) * p[order[r]]) for r in range(rank + 1))
rej = np.zeros(m, dtype=bool)
for rank, i in enumerate(order):  # the step-down rule, literally
    if p[i] <= HOLM_LEVEL / (m - rank):
        rej[i] = True
    else:
        break
c_doubles("REF_HOLM_P", HOLM_P)
c_doubles("REF_HOLM_ADJ", adj)
c_sizes("REF_HOLM_REJ", rej.astype(int))
out.append(f"#define REF_HOLM_LEVEL {HOLM_LEVEL!r}")


# ---- bootstrap -----------------------------------------------------------------------------------
def resamples(n, n_boot, seed):
    g = Rng(seed, "stats.bootstrap", n, 0)
    return [[g.below(n) for _ in range(n)] for _ in range(n_boot)]


BOOT_N, BOOT_B, BOOT_SEED = 23, 400, 77
x = gen.normal(0.02, 0.03, BOOT_N)
y = gen.normal(0.01, 0.02, BOOT_N)
den = gen.uniform(0.01, 0.05, BOOT_N)
idx = np.array(resamples(BOOT_N, BOOT_B, BOOT_SEED))
c_doubles("REF_BOOT_X", x)
c_doubles("REF_BOOT_Y", y)
c_doubles("REF_BOOT_DEN", den)
out.append(f"#define REF_BOOT_N {BOOT_N}")
out.append(f"#define REF_BOOT_B {BOOT_B}")
out.append(f"#define REF_BOOT_SEED {BOOT_SEED}")
for level, tag in [(0.95, "95"), (0.8, "80")]:
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    reps = {
        "MEAN": (x.mean(), x[idx].mean(axis=1)),
        "DIFF": ((x - y).mean(), (x[idx] - y[idx]).mean(axis=1)),
        "RATIO": (x.mean() / den.mean(), x[idx].sum(axis=1) / den[idx].sum(axis=1)),
    }
    for name, (est, r) in reps.items():
        # estimate, lo, hi, se
        c_doubles(f"REF_BOOT_{name}_{tag}", [est, np.percentile(r, lo_q, method="linear"),
                                              np.percentile(r, hi_q, method="linear"), np.std(r, ddof=1)])
    if tag == "95":  # sanity: SciPy's percentile bootstrap (other draws) agrees roughly
        sp = stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile", confidence_level=level,
                             random_state=1)
        ours = reps["MEAN"][1]
        width = np.ptp(sp.confidence_interval)
        assert abs(np.percentile(ours, lo_q) - sp.confidence_interval.low) < 0.25 * width
        assert abs(np.percentile(ours, hi_q) - sp.confidence_interval.high) < 0.25 * width


# ---- chance level by enumeration -----------------------------------------------------------------
def chance_enumerate(pmf, n_settings, k_default):
    total = 0.0
    for scores in itertools.product(range(len(pmf)), repeat=n_settings):
        prob = np.prod([pmf[s] for s in scores])
        best = max(scores)
        winner = min(i for i, s in enumerate(scores) if s == best)  # ties toward the defaults (first k)
        if winner >= k_default:
            total += prob
    return total


CHANCE = [([0.2, 0.5, 0.3], 4, 1), ([0.1, 0.2, 0.3, 0.4], 5, 2), ([0.25, 0.25, 0.25, 0.25], 3, 1),
          ([0.05, 0.6, 0.35], 6, 3), ([1.0], 4, 1)]
for t, (pmf, nset, k) in enumerate(CHANCE):
    c_doubles(f"REF_CHANCE_PMF{t}", pmf)
    c_sizes(f"REF_CHANCE_NK{t}", [nset, k])
    c_doubles(f"REF_CHANCE_P{t}", [chance_enumerate(pmf, nset, k)])

NULL_R, NULL_W, NULL_QL, NULL_QG = 14, 6, 0.15, 0.35
pmf = np.convolve(stats.binom.pmf(np.arange(NULL_R + 1), NULL_R, NULL_QL)[::-1],
                  stats.binom.pmf(np.arange(NULL_W + 1), NULL_W, NULL_QG))
out.append(f"#define REF_NULL_R {NULL_R}\n#define REF_NULL_W {NULL_W}")
out.append(f"#define REF_NULL_QL {NULL_QL!r}\n#define REF_NULL_QG {NULL_QG!r}")
c_doubles("REF_NULL_PMF", pmf)

# ---- cross-fitting ---------------------------------------------------------------------------------
CF_N, CF_C, CF_SEED = 101, 7, 4242
before = gen.random(CF_N) < 0.6
after = [np.where(gen.random(CF_N) < 0.2, gen.random(CF_N) < 0.62 + 0.02 * j, before) for j in range(CF_C)]
after[3] = after[1].copy()  # a tie: the lower index must win
c_bytes("REF_CF_BEFORE", pack(before))
for j in range(CF_C):
    c_bytes(f"REF_CF_AFTER{j}", pack(after[j], junk=0x55))
perm = list(range(CF_N))
Rng(CF_SEED, "stats.crossfit", CF_N, 0).shuffle(perm)
halves = [np.sort(perm[:CF_N // 2]), np.sort(perm[CF_N // 2:])]
c_sizes("REF_CF_HALF_A", halves[0])
c_sizes("REF_CF_HALF_B", halves[1])


def best(subset):
    right = [after[j][subset].sum() for j in range(CF_C)]
    return int(np.argmax(right))  # the first of the maxima


def gain(j, subset):
    return (after[j][subset].sum() - before[subset].sum()) / len(subset)


sel = [best(halves[0]), best(halves[1])]
held = [gain(sel[0], halves[1]), gain(sel[1], halves[0])]
ins = [gain(sel[0], halves[0]), gain(sel[1], halves[1])]
allimg = np.arange(CF_N)
fsel = best(allimg)
out.append(f"#define REF_CF_N {CF_N}\n#define REF_CF_C {CF_C}\n#define REF_CF_SEED {CF_SEED}")
c_sizes("REF_CF_SELECT", sel + [fsel])
# gain, heldout A, heldout B, insample A, insample B, full gain
c_doubles("REF_CF_GAINS", [(held[0] + held[1]) / 2, held[0], held[1], ins[0], ins[1], gain(fsel, allimg)])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.h")
with open(path, "w") as f:
    f.write("// Generated by tests/stats/make_reference.py (SciPy %s, NumPy %s); do not edit.\n"
            % (scipy.__version__, np.__version__))
    f.write("// Reference values for tests/stats/test_stats_reference.c.\n#pragma once\n")
    f.write("#include <stddef.h>\n#include <stdint.h>\n\n")
    f.write("\n".join(out) + "\n")
print("wrote", path)
