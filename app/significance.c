// Paired tests, held-out estimates and intervals over pairs, from per-image outcomes.
#include "app/significance.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "stats/bitset.h"
#include "stats/bootstrap.h"
#include "stats/chance.h"
#include "stats/crossfit.h"
#include "stats/holm.h"
#include "stats/mcnemar.h"
#include "stats/paired.h"

enum { LEVEL_PERCENT = 5 };
#define LEVEL (LEVEL_PERCENT / 100.0)
#define CI_LEVEL 0.95

// An evaluation's outcomes after KD and its student's before, on the full splits; false when the
// store has none (an evaluation made before outcomes were kept, or a low-fidelity screen).
typedef struct {
    store_outcomes after, before;
} paired_view;

static bool view_of(store *st, const store_eval *e, paired_view *v) {
    if (!e || !e->result.ok || e->setting.fidelity != 1) return false;
    if (!store_outcomes_of(st, &e->setting, &v->after, NULL)) return false;
    if (!store_participant_outcomes(st, store_student(&e->setting), &v->before)) return false;
    return v->after.n_val == v->before.n_val && v->after.n_test == v->before.n_test;
}

double significance_p_better(store *st, const store_eval *a, const store_eval *b) {
    paired_view va, vb;
    if (!view_of(st, a, &va) || !view_of(st, b, &vb) || va.after.n_test != vb.after.n_test) return NAN;
    size_t n = (size_t)va.after.n_test;
    if (store_student(&a->setting) == store_student(&b->setting)) { // the same before: exact McNemar
        size_t ab, ba;
        stats_bitset_discordant(&ab, &ba, va.after.test, vb.after.test, n, NULL, 0);
        stats_mcnemar m;
        stats_mcnemar_exact(&m, ab, ba);
        return m.p_greater;
    }
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        int d = (stats_bitset_get(va.after.test, i) - stats_bitset_get(va.before.test, i)) -
                (stats_bitset_get(vb.after.test, i) - stats_bitset_get(vb.before.test, i));
        sum += d;
        sum2 += (double)d * d;
    }
    if (sum2 == 0) return 1.0;
    return gsl_cdf_ugaussian_Q(sum / sqrt(sum2));
}

// The paired standard error of one evaluation's gain on a split.
static double gain_se(const uint8_t *after, const uint8_t *before, int n) {
    size_t ab, ba;
    stats_bitset_discordant(&ab, &ba, after, before, (size_t)n, NULL, 0);
    return stats_paired_se_counts(ab, ba, (size_t)n);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Cross-fitting of "take the pair's best evaluated setting by validation": select on one half of
// the validation images, estimate on the other, both ways (stats/crossfit.h's rule, with each
// candidate's own student's before-KD outcomes). Candidate 0 is the default, so ties go to it.
static double crossfit_pair(store *st, const store_eval *const *cand, size_t n_cand, uint64_t seed,
                            double *insample) {
    paired_view *v = malloc(n_cand * sizeof *v);
    size_t m = 0;
    double out = NAN;
    *insample = NAN;
    if (!v) goto done;
    for (size_t c = 0; c < n_cand; c++)
        m += view_of(st, cand[c], &v[m]);
    if (m == 0) goto done;
    size_t n = (size_t)v[0].after.n_val, *half[2];
    half[0] = malloc(n * sizeof(size_t));
    half[1] = malloc(n * sizeof(size_t));
    if (half[0] && half[1] && stats_crossfit_halves(half[0], half[1], n, seed) == KDT_OK) {
        size_t nh[2] = {n / 2, n - n / 2};
        double sum = 0, in = 0;
        for (int h = 0; h < 2; h++) {
            size_t best = 0;
            double best_gain = -INFINITY;
            for (size_t q = 0; q < m; q++) {
                if ((size_t)v[q].after.n_val != n) continue;
                double g = ((double)stats_bitset_count_subset(v[q].after.val, n, half[h], nh[h]) -
                            (double)stats_bitset_count_subset(v[q].before.val, n, half[h], nh[h])) / (double)nh[h];
                if (g > best_gain) best_gain = g, best = q;
            }
            int o = 1 - h;
            sum += ((double)stats_bitset_count_subset(v[best].after.val, n, half[o], nh[o]) -
                    (double)stats_bitset_count_subset(v[best].before.val, n, half[o], nh[o])) / (double)nh[o];
            in += best_gain;
        }
        out = sum / 2;
        *insample = in / 2;
    }
    free(half[0]);
    free(half[1]);
done:
    free(v);
    return out;
}

// The recommendation's test gain against a baseline's (the default, or the best untuned setting),
// over the pairs that have both. scratch: 2 * np.
static kdt_status improvement(const summary *s, double *scratch, int np, bool untuned, uint64_t seed,
                              stats_interval *points, stats_interval *ratio) {
    size_t m = 0;
    double *rec = scratch, *base = scratch + np;
    for (int q = 0; q < np; q++) {
        const store_eval *r = s->pairs[q].recommended, *b = untuned ? s->pairs[q].best_untuned.best : s->pairs[q].deflt.best;
        if (r && b) rec[m] = r->result.test_gain, base[m++] = b->result.test_gain;
    }
    *points = *ratio = (stats_interval){.estimate = NAN, .lo = NAN, .hi = NAN};
    if (m < 2) return KDT_OK;
    kdt_status rc = stats_bootstrap_mean_diff(points, rec, base, m, SIGNIFICANCE_BOOTSTRAP, CI_LEVEL, seed);
    if (rc) return rc;
    double mean = 0;
    for (size_t k = 0; k < m; k++) mean += base[k];
    if (mean > 0 && stats_bootstrap_ratio(ratio, rec, base, m, SIGNIFICANCE_BOOTSTRAP, CI_LEVEL, seed) != KDT_OK)
        *ratio = (stats_interval){.estimate = NAN, .lo = NAN, .hi = NAN}; // a resample's mean is 0: no ratio
    return KDT_OK;
}

// ---- the noise across replicates: settings evaluated under several draws of the KD randomness ----

static const store_eval *sort_base;
static int cmp_setting(const void *pa, const void *pb) {
    const store_setting *a = &sort_base[*(const size_t *)pa].setting, *b = &sort_base[*(const size_t *)pb].setting;
    int d = a->i != b->i ? a->i - b->i : a->j != b->j ? a->j - b->j : (int)a->position - (int)b->position;
    if (!d) d = (int)a->transfer - (int)b->transfer;
    if (!d) d = (int)a->method - (int)b->method;
    if (!d) d = (a->temperature > b->temperature) - (a->temperature < b->temperature);
    if (!d) d = (a->alpha > b->alpha) - (a->alpha < b->alpha);
    if (!d) d = (a->fidelity > b->fidelity) - (a->fidelity < b->fidelity);
    return d;
}

static double sd(const double *v, size_t n) {
    double m = 0, q = 0;
    for (size_t k = 0; k < n; k++) m += v[k];
    m /= (double)n;
    for (size_t k = 0; k < n; k++) q += (v[k] - m) * (v[k] - m);
    return sqrt(q / (double)(n - 1));
}

// The median over settings with two or more ok replicates of the standard deviation of their
// gains across replicates.
static kdt_status replicate_noise(summary_statistics *x, const store_eval *evals, size_t n) {
    x->replicate_sd_val = x->replicate_sd_test = NAN;
    x->replicate_settings = 0;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), m = 0;
    double *sv = malloc((n ? n : 1) * sizeof *sv), *st = malloc((n ? n : 1) * sizeof *st);
    double *gv = malloc((n ? n : 1) * sizeof *gv), *gt = malloc((n ? n : 1) * sizeof *gt);
    kdt_status rc = KDT_OK;
    if (!idx || !sv || !st || !gv || !gt) rc = kdt_fail(KDT_ERR_NOMEM, "out of memory computing replicate noise");
    bool any = false;
    for (size_t k = 0; !rc && k < n; k++) {
        any |= evals[k].setting.replicate > 0;
        if (evals[k].result.ok) idx[m++] = k;
    }
    if (!rc && any) {
        sort_base = evals; // qsort has no user pointer; this runs on one thread, after the evaluations
        qsort(idx, m, sizeof *idx, cmp_setting);
        size_t groups = 0;
        for (size_t a = 0; a < m;) {
            size_t b = a, reps = 0;
            while (b < m && cmp_setting(&idx[a], &idx[b]) == 0) b++;
            // One value per replicate (a setting evaluated again by another strategy is the same draw).
            for (size_t q = a; q < b; q++) {
                bool seen = false;
                for (size_t r = a; r < q && !seen; r++) seen = evals[idx[r]].setting.replicate == evals[idx[q]].setting.replicate;
                if (!seen) gv[reps] = evals[idx[q]].result.val_gain, gt[reps++] = evals[idx[q]].result.test_gain;
            }
            if (reps >= 2) sv[groups] = sd(gv, reps), st[groups++] = sd(gt, reps);
            a = b;
        }
        x->replicate_settings = (int)groups;
        x->replicate_sd_val = median(sv, groups);
        x->replicate_sd_test = median(st, groups);
    }
    free(idx);
    free(sv);
    free(st);
    free(gv);
    free(gt);
    return rc;
}

kdt_status significance_compute(summary *s, store *st, const store_eval *evals, size_t n, const kdt_config *cfg) {
    summary_statistics *x = &s->stats;
    memset(x, 0, sizeof *x);
    int np = s->n_pairs;
    size_t cap = n ? n : 1;
    double *se_val = malloc(cap * sizeof *se_val), *se_test = malloc(cap * sizeof *se_test);
    double *p_default = malloc((size_t)(np ? np : 1) * sizeof(double) * 2);
    double *a = malloc((size_t)(np ? np : 1) * sizeof(double) * 2);
    const store_eval **cand = malloc(cap * sizeof *cand);
    bool *rej = malloc((size_t)(np ? np : 1) * sizeof *rej);
    kdt_status rc = store_outcomes_ready(st);
    if (rc) goto done;
    if (!se_val || !se_test || !p_default || !a || !cand || !rej) {
        rc = kdt_fail(KDT_ERR_NOMEM, "out of memory computing statistics");
        goto done;
    }
    // The noise of one gain: over the grid's evaluations when there is a grid, else over all.
    size_t n_se = 0;
    for (size_t k = 0; k < n; k++) {
        const store_eval *e = &evals[k];
        if (s->has_grid && strcmp(e->run.strategy, "grid") != 0) continue;
        paired_view v;
        if (!view_of(st, e, &v)) {
            x->evals_without_outcomes += e->result.ok;
            continue;
        }
        se_val[n_se] = gain_se(v.after.val, v.before.val, v.after.n_val);
        se_test[n_se++] = gain_se(v.after.test, v.before.test, v.after.n_test);
    }
    x->available = n_se > 0;
    x->se_gain_val = median(se_val, n_se);
    x->se_gain_test = median(se_test, n_se);
    // The chance level of "the grid's best T or alpha is not the default": with no effect, the
    // argmax is uniform over the grid, and (N - k) / N of it lies off the k default-T/alpha points.
    int grid_n = cfg->grid.temperatures.n * cfg->grid.alphas.n, grid_k = 0;
    for (int t = 0; t < cfg->grid.temperatures.n; t++)
        for (int q = 0; q < cfg->grid.alphas.n; q++)
            grid_k += cfg->grid.temperatures.v[t] == cfg->kd.temperature && cfg->grid.alphas.v[q] == cfg->kd.alpha;
    x->chance_non_default = grid_k ? stats_chance_not_default_continuous((size_t)grid_n, (size_t)grid_k) : NAN;
    if ((rc = replicate_noise(x, evals, n))) goto done;
    if (!x->available) goto done;

    // Per pair: the recommendation against the default and against the best untuned setting;
    // the held-out estimate of selecting the best evaluated setting.
    double *p_untuned = p_default + np;
    int tested = 0;
    double held_sum = 0, in_sum = 0;
    int held_n = 0;
    for (int q = 0; q < np; q++) {
        summary_pair *p = &s->pairs[q];
        p_default[q] = p->recommended && p->deflt.best ? significance_p_better(st, p->recommended, p->deflt.best) : NAN;
        p_untuned[q] = p->recommended && p->best_untuned.best
                           ? significance_p_better(st, p->recommended, p->best_untuned.best) : NAN;
        tested += !isnan(p_default[q]);
        // Candidates: the default first (ties go to it), then every evaluated setting of the pair.
        size_t nc = 0;
        if (p->deflt.best) cand[nc++] = p->deflt.best;
        for (size_t k = 0; k < n; k++) {
            const store_eval *e = &evals[k];
            if (e->run.i != p->i || e->run.j != p->j || !e->result.ok || e->setting.replicate != 0) continue;
            bool dup = false;
            for (size_t c = 0; c < nc && !dup; c++) dup = store_same_point(&cand[c]->setting, &e->setting);
            if (!dup) cand[nc++] = e;
        }
        double in;
        p->heldout_val_gain = crossfit_pair(st, cand, nc, (uint64_t)cfg->experiment.seed, &in);
        if (!isnan(p->heldout_val_gain)) held_sum += p->heldout_val_gain, in_sum += in, held_n++;
    }
    x->tested_pairs = tested;
    x->heldout_val_gain = held_n ? held_sum / held_n : NAN;
    x->selected_val_gain = held_n ? in_sum / held_n : NAN;
    // Holm over the tested pairs, each family on its own.
    double *fam[2] = {p_default, p_untuned};
    int *count[2] = {&x->default_worse_pairs, &x->untuned_worse_pairs};
    for (int f = 0; f < 2; f++) {
        size_t m = 0;
        double pv[np ? np : 1];
        int idx[np ? np : 1];
        for (int q = 0; q < np; q++)
            if (!isnan(fam[f][q])) pv[m] = fam[f][q], idx[m++] = q;
        if (!m) continue;
        double adj[m];
        if ((rc = stats_holm(adj, rej, pv, m, LEVEL))) goto done;
        for (size_t k = 0; k < m; k++) {
            *count[f] += rej[k];
            if (f == 0) {
                s->pairs[idx[k]].p_vs_default = adj[k];
                s->pairs[idx[k]].significant_vs_default = rej[k];
            }
        }
    }
    // Improvement over the default and over the best non-tuned approach on test: in points with
    // an interval over pairs, then as a ratio of means (only when the baseline's mean gain is
    // positive: a ratio to a loss means nothing).
    if ((rc = improvement(s, a, np, false, (uint64_t)cfg->experiment.seed, &x->improvement_points, &x->improvement_ratio)) ||
        (rc = improvement(s, a, np, true, (uint64_t)cfg->experiment.seed, &x->untuned_points, &x->untuned_ratio)))
        goto done;
    // Each strategy against the grid: the interval of its mean test regret, and the pairs where the
    // grid's pick is significantly better on test (Holm).
    for (int k = 0; k < s->n_strategies && s->has_grid; k++) {
        summary_strategy *sg = &s->strategies[k];
        size_t m = 0, mt = 0;
        double pv[np ? np : 1];
        for (int q = 0; q < np; q++) {
            const store_eval *g = s->pairs[q].grid.best, *t = s->pairs[q].tuned[k].best;
            if (!g || !t) continue;
            a[m++] = g->result.test_gain - t->result.test_gain;
            double p = significance_p_better(st, g, t);
            if (!isnan(p)) pv[mt++] = p;
        }
        sg->test_regret_ci.estimate = sg->test_regret_ci.lo = sg->test_regret_ci.hi = NAN;
        if (m >= 2 && (rc = stats_bootstrap_mean(&sg->test_regret_ci, a, m, SIGNIFICANCE_BOOTSTRAP, CI_LEVEL,
                                                 (uint64_t)cfg->experiment.seed)))
            goto done;
        sg->worse_than_grid_tested = (int)mt;
        if (mt) {
            double adj[mt];
            if ((rc = stats_holm(adj, rej, pv, mt, LEVEL))) goto done;
            for (size_t q = 0; q < mt; q++) sg->worse_than_grid_pairs += rej[q];
        }
    }
done:
    free(se_val);
    free(se_test);
    free(p_default);
    free(a);
    free(cand);
    free(rej);
    return rc;
}
