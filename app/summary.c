// Summary figures from trials: picks per pair, strategy means and curves, and the findings.
#include "app/summary.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "stats/eps.h"
#include "tuner/compare.h"
#include "kdtune_version.h"
#include "common/fs.h"

static bool better(const store_eval *a, const store_eval *b) { return !b || a->result.val_gain > b->result.val_gain; }

// Picks are made among first evaluations (replicate 0): a re-evaluation under other KD randomness
// is the noise around a setting, not another candidate to select the luckiest from.
static void pick_add(summary_pick *p, const store_eval *t) {
    p->n++;
    if (t->result.ok && t->setting.replicate == 0 && better(t, p->best)) p->best = t;
}

static bool is_default_setting(const store_eval *t, const kdt_config *cfg) {
    return t->setting.temperature == cfg->kd.temperature && t->setting.alpha == cfg->kd.alpha &&
           t->setting.transfer == cfg->kd.transfer_set && t->setting.position == cfg->kd.position &&
           t->setting.method == cfg->kd.method;
}

static double mean_or_nan(double sum, int n) { return n ? sum / n : NAN; }

// Validation images behind a gain (the full split: tuners score at full fidelity).
static int cfg_val_images(const summary *s) { return s->val_images > 0 ? s->val_images : 1; }

// A strategy's runs on one pair: one per fixed position (-1 when the position is tuned too).
// Each keeps its evaluations in index order, so that its recommendation line indexes them.
typedef struct {
    const store_eval **items;
    int n, cap;
    int recommended;  // from the run's recommendation line; -1: none (the best seen is taken)
} run_trials;

// Whether an evaluation is a full one: a screen's gain is measured on part of the data and is
// never a pick.
static bool full(const store_eval *t) { return t->setting.fidelity == 1; }

// The run's pick: its recommendation, or its best successful full evaluation by val.
// A recommendation of a re-evaluated candidate names the setting: its first evaluation reports it.
static const store_eval *run_pick(const run_trials *r) {
    if (r->recommended >= 0 && r->recommended < r->n && r->items[r->recommended]->result.ok &&
        full(r->items[r->recommended])) {
        const store_eval *rec = r->items[r->recommended];
        for (int q = 0; q < r->n && rec->setting.replicate != 0; q++)
            if (r->items[q]->setting.replicate == 0 && full(r->items[q]) && store_same_point(&r->items[q]->setting, &rec->setting))
                rec = r->items[q];
        if (rec->result.ok) return rec;
    }
    const store_eval *best = NULL;
    for (int q = 0; q < r->n; q++)
        if (r->items[q]->result.ok && r->items[q]->setting.replicate == 0 && full(r->items[q]) && better(r->items[q], best))
            best = r->items[q];
    return best;
}

// Fills st and the pairs' tuned[k] pick (k < 0: the grid, whose pick is computed elsewhere).
static kdt_status compute_strategy(summary *s, summary_strategy *st, int k, const store_eval *trials,
                                   size_t n, const store_recommendation *recs, size_t n_recs,
                                   const int *pair_of, const int *slot, int P) {
    int np = s->n_pairs;
    double *values = NULL;      // (np, len) row-major: each pair's validation gains in order (NaN:
                                // failed, or a screen)
    double *best_so_far = NULL; // (np, len): their best so far (tuner/compare.c)
    double *spent = NULL;       // (np, len): full-evaluation equivalents spent up to each evaluation
    int *evals = calloc((size_t)np, sizeof *evals);
    run_trials *runs = calloc((size_t)np * 3, sizeof *runs);
    if (!evals || !runs) goto nomem;
    int len = 0;
    for (size_t t = 0; t < n; t++)
        if (strcmp(trials[t].run.strategy, st->name) == 0) {
            int p = pair_of[t];
            if (++evals[p] > len) len = evals[p];
            st->failures += !trials[t].result.ok;
        }
    for (int r = 0; r < np * 3; r++) runs[r].recommended = -1;
    best_so_far = malloc(sizeof *best_so_far * (size_t)np * (len ? len : 1));
    values = malloc(sizeof *values * (size_t)np * (len ? len : 1));
    spent = malloc(sizeof *spent * (size_t)np * (len ? len : 1));
    if (!best_so_far || !values || !spent) goto nomem;
    // The screens' measured time against full evaluations' (rounds trained here, not cache hits),
    // to set beside the cost the budget assumed.
    double screen_secs = 0, full_secs = 0;
    int screen_n = 0, full_n = 0;
    for (size_t t = 0; t < n; t++) {
        if (trials[t].cached || !isfinite(trials[t].result.seconds)) continue;
        if (full(&trials[t])) full_secs += trials[t].result.seconds, full_n++;
        else if (strcmp(trials[t].run.strategy, st->name) == 0)
            screen_secs += trials[t].result.seconds, screen_n++;
    }
    st->screen_time_ratio = screen_n && full_n && full_secs > 0 ? (screen_secs / screen_n) / (full_secs / full_n) : NAN;
    memset(evals, 0, sizeof *evals * (size_t)np);
    for (size_t t = 0; t < n; t++) {
        const store_eval *tr = &trials[t];
        if (strcmp(tr->run.strategy, st->name) != 0) continue;
        int p = pair_of[t];
        run_trials *r = &runs[p * 3 + tr->run.fixed_position + 1];
        if (r->n == r->cap) {
            int cap = r->cap ? 2 * r->cap : 32;
            const store_eval **grown = realloc(r->items, sizeof *grown * (size_t)cap);
            if (!grown) goto nomem;
            r->items = grown;
            r->cap = cap;
        }
        r->items[r->n++] = tr;
        size_t at = (size_t)p * len + (size_t)evals[p];
        spent[at] = (evals[p] ? spent[at - 1] : 0) + (full(tr) ? 1 : s->screen_cost);
        if (!full(tr)) st->screens++, st->screen_fidelity = tr->setting.fidelity;
        values[at] = tr->result.ok && full(tr) ? tr->result.val_gain : NAN;
        evals[p]++;
    }
    // The pair's best validation gain seen so far, over all its runs.
    for (int p = 0; p < np; p++)
        tuner_best_so_far(best_so_far + (size_t)p * len, values + (size_t)p * len, (size_t)evals[p], TUNER_MAXIMIZE);
    for (size_t q = 0; q < n_recs; q++) {
        const store_recommendation *rec = &recs[q];
        if (strcmp(rec->run.strategy, st->name) != 0) continue;
        int p = slot[rec->run.i * P + rec->run.j];
        if (p >= 0) runs[p * 3 + rec->run.fixed_position + 1].recommended = rec->recommended;
    }
    // The tuned pick per pair: the best (by val) of its runs' picks.
    for (int p = 0; p < np && k >= 0; p++) {
        const store_eval *pick = NULL;
        for (int f = 0; f < 3; f++) {
            const store_eval *c = run_pick(&runs[p * 3 + f]);
            if (c && better(c, pick)) pick = c;
        }
        s->pairs[p].tuned[k].n = evals[p];
        s->pairs[p].tuned[k].best = pick;
    }
    // Means over the pairs the strategy ran on.
    double sum_evals = 0, sum_val = 0, sum_test = 0, sum_rv = 0, sum_rt = 0, sum_to = 0;
    double sum_points = 0;
    int pairs = 0, with_grid = 0, within = 0, reached = 0, points_n = 0;
    // Closeness to the grid's pick is judged in whole validation images, not in floats: a gain
    // difference of k images is within epsilon when k <= eps_images, that is when the difference is
    // below (eps_images + 1/2) / n_val, safely between two whole numbers of images.
    int n_val = cfg_val_images(s);
    double eps_gain = ((double)stats_eps_images(s->epsilon, (size_t)n_val) + 0.5) / n_val;
    st->curve = calloc(len ? (size_t)len : 1, sizeof *st->curve);
    if (!st->curve) goto nomem;
    st->curve_len = len;
    int *curve_n = calloc(len ? (size_t)len : 1, sizeof *curve_n);
    if (!curve_n) goto nomem;
    for (int p = 0; p < np; p++) {
        if (!evals[p]) continue;
        const store_eval *pick = k >= 0 ? s->pairs[p].tuned[k].best : s->pairs[p].grid.best;
        pairs++;
        sum_evals += spent[(size_t)p * len + (size_t)evals[p] - 1];
        double last = NAN;
        for (int e = 0; e < len; e++) { // a pair that stopped early keeps its best
            double v = e < evals[p] ? best_so_far[(size_t)p * len + e] : last;
            if (!isnan(v)) {
                st->curve[e] += v;
                curve_n[e]++;
                last = v;
            }
        }
        if (!pick) continue;
        sum_val += pick->result.val_gain;
        sum_test += pick->result.test_gain;
        const store_eval *g = s->pairs[p].grid.best;
        if (g) {
            with_grid++;
            sum_rv += g->result.val_gain - pick->result.val_gain;
            sum_rt += g->result.test_gain - pick->result.test_gain;
            if (tuner_regret(pick->result.val_gain, g->result.val_gain, TUNER_MAXIMIZE) <= eps_gain) within++;
            size_t to = tuner_evals_to_within(values + (size_t)p * len, (size_t)evals[p], g->result.val_gain, eps_gain,
                                              TUNER_MAXIMIZE);
            if (to) sum_to += spent[(size_t)p * len + to - 1], reached++;
        }
        const store_eval *d = s->pairs[p].deflt.best;
        if (d) {
            sum_points += pick->result.test_gain - d->result.test_gain;
            points_n++;
        }
    }
    for (int e = 0; e < len; e++) st->curve[e] = curve_n[e] ? st->curve[e] / curve_n[e] : NAN;
    free(curve_n);
    st->pairs = pairs;
    st->mean_evals = mean_or_nan(sum_evals, pairs);
    st->mean_val_gain = mean_or_nan(sum_val, pairs);
    st->mean_test_gain = mean_or_nan(sum_test, pairs);
    st->mean_val_regret = mean_or_nan(sum_rv, with_grid);
    st->mean_test_regret = mean_or_nan(sum_rt, with_grid);
    st->frac_within_eps = mean_or_nan(within, with_grid);
    st->mean_evals_to_eps = mean_or_nan(sum_to, reached);
    st->improvement_points_mean = mean_or_nan(sum_points, points_n);
    for (int r = 0; r < np * 3; r++) free(runs[r].items);
    free(runs);
    free(evals);
    free(best_so_far);
    free(values);
    free(spent);
    return KDT_OK;
nomem:
    if (runs)
        for (int r = 0; r < np * 3; r++) free(runs[r].items);
    free(runs);
    free(evals);
    free(best_so_far);
    free(values);
    free(spent);
    return kdt_fail(KDT_ERR_NOMEM, "out of memory computing the summary");
}

static kdt_status compute(summary *s, const store_eval *trials, size_t n, const store_recommendation *recs,
                          size_t n_recs, const kdt_config *cfg) {
    memset(s, 0, sizeof *s);
    s->epsilon = cfg->tuner.epsilon;
    s->val_images = cfg->data.val_size;
    s->screen_cost = cfg->tuner.screen_cost;
    int P = cfg->federation.participants;
    int *slot = malloc(sizeof *slot * (size_t)P * P), *pair_of = malloc(sizeof *pair_of * (n ? n : 1));
    if (!slot || !pair_of) {
        free(slot);
        free(pair_of);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory computing the summary");
    }
    for (int q = 0; q < P * P; q++) slot[q] = -1;
    for (size_t t = 0; t < n; t++) {
        const store_eval *tr = &trials[t];
        if (tr->run.i < 0 || tr->run.j <= tr->run.i || tr->run.j >= P) {
            free(slot);
            free(pair_of);
            return kdt_fail(KDT_ERR_FORMAT, "trial %zu names pair (%d, %d), which does not exist "
                            "with %d participants: the journal belongs to another config", t + 1,
                            tr->run.i, tr->run.j, P);
        }
        slot[tr->run.i * P + tr->run.j] = 0;
    }
    for (int q = 0; q < P * P; q++)
        if (slot[q] == 0) slot[q] = s->n_pairs++;
    s->pairs = calloc(s->n_pairs ? (size_t)s->n_pairs : 1, sizeof *s->pairs);
    if (!s->pairs) {
        free(slot);
        free(pair_of);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory computing the summary");
    }
    for (int q = 0; q < P * P; q++)
        if (slot[q] >= 0) {
            s->pairs[slot[q]].i = q / P;
            s->pairs[slot[q]].j = q % P;
        }
    double fsum[3] = {0};
    int fn[3] = {0}, fgrid[3] = {0};
    double fgsum[3] = {0};
    for (size_t t = 0; t < n; t++) {
        const store_eval *tr = &trials[t];
        pair_of[t] = slot[tr->run.i * P + tr->run.j];
        summary_pair *p = &s->pairs[pair_of[t]];
        if (strcmp(tr->run.strategy, "default") == 0) {
            s->has_default = true;
            s->default_failures += !tr->result.ok;
            pick_add(&p->best_untuned, tr);
            if (is_default_setting(tr, cfg)) pick_add(&p->deflt, tr);
        } else if (strcmp(tr->run.strategy, "grid") == 0) {
            s->has_grid = true;
            pick_add(&p->grid, tr);
            pick_add(&p->grid_by_position[tr->setting.position], tr);
            p->grid_has_default |= tr->setting.temperature == cfg->kd.temperature && tr->setting.alpha == cfg->kd.alpha;
        } else {
            int k = 0;
            while (k < s->n_strategies && strcmp(s->strategies[k].name, tr->run.strategy) != 0) k++;
            if (k == s->n_strategies) {
                if (k == SUMMARY_MAX_STRATEGIES) continue;
                snprintf(s->strategies[k].name, STORE_NAME_MAX, "%s", tr->run.strategy);
                s->n_strategies++;
            }
        }
        if (tr->result.ok) {
            bool grid = strcmp(tr->run.strategy, "grid") == 0;
            (grid ? fgsum : fsum)[tr->setting.transfer] += tr->result.forgetting;
            (grid ? fgrid : fn)[tr->setting.transfer]++;
        }
    }
    // Forgetting: over the grid when there is one (an even design), else over every trial.
    for (int x = 0; x < 3; x++) {
        s->forgetting_count[x] = s->has_grid ? fgrid[x] : fn[x];
        s->forgetting_by_transfer[x] = mean_or_nan(s->has_grid ? fgsum[x] : fsum[x], s->forgetting_count[x]);
    }
    kdt_status st = KDT_OK;
    snprintf(s->grid.name, STORE_NAME_MAX, "grid");
    if (s->has_grid) st = compute_strategy(s, &s->grid, -1, trials, n, recs, n_recs, pair_of, slot, P);
    for (int k = 0; k < s->n_strategies && !st; k++)
        st = compute_strategy(s, &s->strategies[k], k, trials, n, recs, n_recs, pair_of, slot, P);
    // Default means and the findings.
    double dv = 0, dt = 0, ut = 0, ue = 0;
    int dn = 0, un = 0, not_default = 0, gn = 0, matters = 0, posn = 0;
    for (int q = 0; q < s->n_pairs; q++) {
        summary_pair *p = &s->pairs[q];
        if (p->deflt.best) dv += p->deflt.best->result.val_gain, dt += p->deflt.best->result.test_gain, dn++;
        if (p->best_untuned.best) ut += p->best_untuned.best->result.test_gain, un++, ue += p->best_untuned.n;
        // Whether the grid's best is the default T and alpha means something only if the grid
        // holds them (in some transfer set and position).
        const store_eval *g = p->grid.best;
        if (g && p->grid_has_default) {
            gn++;
            not_default += g->setting.temperature != cfg->kd.temperature || g->setting.alpha != cfg->kd.alpha;
        }
        const store_eval *fwd = p->grid_by_position[KD_FORWARD].best, *rev = p->grid_by_position[KD_REVERSE].best;
        if (fwd && rev) {
            posn++;
            matters += fabs(fwd->result.test_gain - rev->result.test_gain) > 0.01;
        }
    }
    // The recommendation per pair: the best untuned setting first, so that ties go to the default.
    for (int q = 0; q < s->n_pairs; q++) {
        summary_pair *p = &s->pairs[q];
        p->heldout_val_gain = p->p_vs_default = NAN;
        p->evaluations = p->grid.n + p->best_untuned.n;
        if (p->best_untuned.best) p->recommended = p->best_untuned.best, p->recommended_from = "default";
        if (p->grid.best && better(p->grid.best, p->recommended)) p->recommended = p->grid.best, p->recommended_from = "grid";
        for (int k = 0; k < s->n_strategies; k++) {
            p->evaluations += p->tuned[k].n;
            const store_eval *t = p->tuned[k].best;
            if (t && better(t, p->recommended)) p->recommended = t, p->recommended_from = s->strategies[k].name;
        }
    }
    s->default_mean_val = mean_or_nan(dv, dn);
    s->default_mean_test = mean_or_nan(dt, dn);
    s->best_untuned_mean_test = mean_or_nan(ut, un);
    s->untuned_evals = mean_or_nan(ue, un);
    s->frac_grid_best_not_default = mean_or_nan(not_default, gn);
    s->frac_position_matters = mean_or_nan(matters, posn);
    s->position_pairs = posn;
    free(slot);
    free(pair_of);
    return st;
}

// The runs a summary speaks of: default, grid, and the tuners at the config's budget (runs of
// other budgets, and `kdtune eval`'s lines, are in the journal but not in this summary).
static bool summarized(const store_run *r, const kdt_config *cfg) {
    if (strcmp(r->strategy, "eval") == 0) return false;
    if (strcmp(r->strategy, "default") == 0 || strcmp(r->strategy, "grid") == 0) return true;
    return r->budget == cfg->tuner.budget;
}

kdt_status summary_compute(summary *s, const store_eval *evals, size_t n, const store_recommendation *recs,
                           size_t n_recs, const kdt_config *cfg) {
    store_eval *e = malloc((n ? n : 1) * sizeof *e);
    store_recommendation *r = malloc((n_recs ? n_recs : 1) * sizeof *r);
    if (!e || !r) {
        free(e);
        free(r);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory computing the summary");
    }
    size_t ne = 0, nr = 0;
    for (size_t k = 0; k < n; k++)
        if (summarized(&evals[k].run, cfg)) e[ne++] = evals[k];
    for (size_t k = 0; k < n_recs; k++)
        if (summarized(&recs[k].run, cfg)) r[nr++] = recs[k];
    kdt_status st = compute(s, e, ne, r, nr, cfg);
    s->evals = e; // the picks point into it
    s->n_evals = ne;
    free(r);
    if (st) summary_free(s);
    return st;
}

void summary_free(summary *s) {
    free(s->evals);
    free(s->grid.curve);
    for (int k = 0; k < s->n_strategies; k++) free(s->strategies[k].curve);
    free(s->pairs);
    memset(s, 0, sizeof *s);
}

// ---- summary.json -----------------------------------------------------------------------------

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *strategy_json(const summary_strategy *st, double screen_cost) {
    json_t *o = json_object();
    json_object_set_new(o, "pairs", json_integer(st->pairs));
    json_object_set_new(o, "failed_evaluations", json_integer(st->failures));
    json_object_set_new(o, "test_regret_ci95", json_pack("[o, o]", num(st->test_regret_ci.lo), num(st->test_regret_ci.hi)));
    json_object_set_new(o, "pairs_significantly_worse_than_grid", json_integer(st->worse_than_grid_pairs));
    json_object_set_new(o, "pairs_tested_against_grid", json_integer(st->worse_than_grid_tested));
    json_object_set_new(o, "mean_evaluations_per_pair", num(st->mean_evals));
    json_object_set_new(o, "mean_val_gain", num(st->mean_val_gain));
    json_object_set_new(o, "mean_test_gain", num(st->mean_test_gain));
    json_object_set_new(o, "mean_val_regret", num(st->mean_val_regret));
    json_object_set_new(o, "mean_test_regret", num(st->mean_test_regret));
    json_object_set_new(o, "fraction_within_epsilon", num(st->frac_within_eps));
    json_object_set_new(o, "mean_evaluations_to_epsilon", num(st->mean_evals_to_eps));
    json_object_set_new(o, "improvement_points_mean", num(st->improvement_points_mean));
    if (st->screens) // the cost the budget assumed beside the time measured
        json_object_set_new(o, "screening", json_pack("{s:i, s:f, s:f, s:o}", "evaluations", st->screens, "fidelity",
                                                      st->screen_fidelity, "assumed_cost", screen_cost,
                                                      "measured_time_ratio", num(st->screen_time_ratio)));
    json_t *curve = json_array();
    for (int e = 0; e < st->curve_len; e++) json_array_append_new(curve, num(st->curve[e]));
    json_object_set_new(o, "best_so_far_val_gain", curve);
    return o;
}

kdt_status summary_write_json(const summary *s, const kdt_config *cfg, const char *path) {
    json_t *root = json_object();
    json_object_set_new(root, "kdtune_version", json_string(KDTUNE_VERSION));
    json_object_set_new(root, "objective", json_string("val_gain"));
    json_object_set_new(root, "units", json_string("fractions of accuracy (0.01 = 1 point)"));
    json_object_set_new(root, "epsilon", json_real(s->epsilon));
    json_object_set_new(root, "pairs", json_integer(s->n_pairs));
    json_t *d = json_object();
    json_object_set_new(d, "temperature", json_real(cfg->kd.temperature));
    json_object_set_new(d, "alpha", json_real(cfg->kd.alpha));
    json_object_set_new(d, "transfer_set", json_string(kd_transfer_name(cfg->kd.transfer_set)));
    json_object_set_new(d, "position", json_string(kd_position_name(cfg->kd.position)));
    json_object_set_new(d, "mean_val_gain", num(s->default_mean_val));
    json_object_set_new(d, "mean_test_gain", num(s->default_mean_test));
    json_object_set_new(d, "best_untuned_mean_test_gain", num(s->best_untuned_mean_test));
    json_object_set_new(d, "failed_evaluations", json_integer(s->default_failures));
    json_object_set_new(root, "default", d);
    json_object_set_new(root, "grid", s->has_grid ? strategy_json(&s->grid, s->screen_cost) : json_null());
    json_t *strategies = json_object();
    for (int k = 0; k < s->n_strategies; k++)
        json_object_set_new(strategies, s->strategies[k].name, strategy_json(&s->strategies[k], s->screen_cost));
    json_object_set_new(root, "strategies", strategies);
    json_t *f = json_object();
    json_object_set_new(f, "fraction_grid_best_not_default", num(s->frac_grid_best_not_default));
    const summary_strategy *tuned = s->has_grid ? &s->grid : s->n_strategies ? &s->strategies[0] : NULL;
    json_object_set_new(f, "improvement_from", json_string(tuned ? tuned->name : ""));
    json_object_set_new(f, "improvement_points_mean", num(tuned ? tuned->improvement_points_mean : NAN));
    json_t *forget = json_object();
    for (int x = 0; x < 3; x++)
        json_object_set_new(forget, kd_transfer_name(x), num(s->forgetting_by_transfer[x]));
    json_object_set_new(f, "mean_forgetting_by_transfer_set", forget);
    json_object_set_new(f, "fraction_position_matters", num(s->frac_position_matters));
    json_object_set_new(f, "position_threshold", json_real(0.01));
    json_object_set_new(root, "findings", f);
    const summary_statistics *x = &s->stats;
    json_t *so = json_object();
    json_object_set_new(so, "available", json_boolean(x->available));
    json_object_set_new(so, "level", json_real(0.05));
    json_object_set_new(so, "evaluations_without_outcomes", json_integer(x->evals_without_outcomes));
    json_object_set_new(so, "se_gain", json_pack("{s:o, s:o}", "val", num(x->se_gain_val), "test", num(x->se_gain_test)));
    json_object_set_new(so, "fraction_grid_best_not_default", num(s->frac_grid_best_not_default));
    json_object_set_new(so, "chance_non_default", num(x->chance_non_default));
    json_object_set_new(so, "replicates", json_pack("{s:i, s:o, s:o}", "settings", x->replicate_settings, "sd_val_gain",
                                                    num(x->replicate_sd_val), "sd_test_gain", num(x->replicate_sd_test)));
    json_object_set_new(so, "pairs_tested", json_integer(x->tested_pairs));
    json_t *worse = json_object();
    json_object_set_new(worse, "count", json_integer(x->default_worse_pairs));
    json_object_set_new(worse, "fraction", num(x->tested_pairs ? (double)x->default_worse_pairs / x->tested_pairs : NAN));
    json_object_set_new(worse, "against_best_untuned_count", json_integer(x->untuned_worse_pairs));
    json_object_set_new(worse, "against_best_untuned_fraction",
                        num(x->tested_pairs ? (double)x->untuned_worse_pairs / x->tested_pairs : NAN));
    json_object_set_new(worse, "test", json_string("one-sided paired test on test images of the recommendation against the "
                                                   "default (exact McNemar for the same student), Holm over pairs"));
    json_object_set_new(so, "pairs_default_significantly_worse", worse);
    json_object_set_new(so, "selected_val_gain_mean", num(x->selected_val_gain));
    json_object_set_new(so, "heldout_val_gain_mean", num(x->heldout_val_gain));
    json_t *imp = json_object();
    json_object_set_new(imp, "points", num(x->improvement_points.estimate));
    json_object_set_new(imp, "points_ci95", json_pack("[o, o]", num(x->improvement_points.lo), num(x->improvement_points.hi)));
    json_object_set_new(imp, "ratio_of_means", num(x->improvement_ratio.estimate));
    json_object_set_new(imp, "ratio_ci95", json_pack("[o, o]", num(x->improvement_ratio.lo), num(x->improvement_ratio.hi)));
    json_object_set_new(imp, "definition", json_string("recommendation's test gain minus the default's, mean over pairs; "
                                                       "ratio: mean of the first over mean of the second, only when that is positive"));
    json_object_set_new(so, "improvement_over_default", imp);
    imp = json_object();
    json_object_set_new(imp, "points", num(x->untuned_points.estimate));
    json_object_set_new(imp, "points_ci95", json_pack("[o, o]", num(x->untuned_points.lo), num(x->untuned_points.hi)));
    json_object_set_new(imp, "ratio_of_means", num(x->untuned_ratio.estimate));
    json_object_set_new(imp, "ratio_ci95", json_pack("[o, o]", num(x->untuned_ratio.lo), num(x->untuned_ratio.hi)));
    json_object_set_new(imp, "relative_gain", num(x->untuned_ratio.estimate - 1));
    json_object_set_new(imp, "definition", json_string("the study's comparison: the recommendation's test gain against the best "
                                                       "non-tuned approach (the best method, transfer set and position at the "
                                                       "default T and alpha, by validation), mean over pairs; relative gain = "
                                                       "ratio of means - 1"));
    json_object_set_new(so, "improvement_over_best_untuned", imp);
    json_object_set_new(root, "statistics", so);
    json_t *pairs = json_array();
    for (int q = 0; q < s->n_pairs; q++) {
        const summary_pair *p = &s->pairs[q];
        json_t *o = json_pack("{s:[i,i]}", "pair", p->i, p->j);
        json_object_set_new(o, "default_test_gain", num(p->deflt.best ? p->deflt.best->result.test_gain : NAN));
        json_object_set_new(o, "grid_best_val_gain", num(p->grid.best ? p->grid.best->result.val_gain : NAN));
        json_object_set_new(o, "grid_best_test_gain", num(p->grid.best ? p->grid.best->result.test_gain : NAN));
        for (int pos = 0; pos < 2; pos++) {
            const store_eval *b = p->grid_by_position[pos].best;
            json_object_set_new(o, pos == KD_FORWARD ? "grid_best_forward_test_gain" : "grid_best_reverse_test_gain",
                                num(b ? b->result.test_gain : NAN));
        }
        json_t *tuned_o = json_object();
        for (int k = 0; k < s->n_strategies; k++) {
            const store_eval *t = p->tuned[k].best;
            json_object_set_new(tuned_o, s->strategies[k].name, num(t ? t->result.test_gain : NAN));
        }
        json_object_set_new(o, "tuned_test_gain", tuned_o);
        json_t *tuned_v = json_object();
        for (int k = 0; k < s->n_strategies; k++) {
            const store_eval *t = p->tuned[k].best;
            json_object_set_new(tuned_v, s->strategies[k].name, num(t ? t->result.val_gain : NAN));
        }
        json_object_set_new(o, "tuned_val_gain", tuned_v);
        json_object_set_new(o, "recommended_from", p->recommended_from ? json_string(p->recommended_from) : json_null());
        json_object_set_new(o, "recommended_val_gain", num(p->recommended ? p->recommended->result.val_gain : NAN));
        json_object_set_new(o, "recommended_test_gain", num(p->recommended ? p->recommended->result.test_gain : NAN));
        json_object_set_new(o, "heldout_val_gain", num(p->heldout_val_gain));
        json_object_set_new(o, "p_vs_default_holm", num(p->p_vs_default));
        json_object_set_new(o, "significant_vs_default", json_boolean(p->significant_vs_default));
        json_array_append_new(pairs, o);
    }
    json_object_set_new(root, "per_pair", pairs);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text) return kdt_fail(KDT_ERR_NOMEM, "out of memory writing %s", path);
    size_t len = strlen(text);
    text[len] = '\0';
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) {
        free(text);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory writing %s", path);
    }
    with_newline[len] = '\n';
    kdt_status st = fs_write_atomic(path, with_newline, len + 1);
    free(with_newline);
    return st;
}

// ---- the closing table --------------------------------------------------------------------------

static void cell_points(FILE *out, double x, int width) {
    if (isnan(x)) fprintf(out, "%*s", width, "-");
    else fprintf(out, "%+*.2f", width, 100.0 * x);
}

static void cell_interval(FILE *out, const stats_interval *ci, int width) {
    char buf[64];
    if (isnan(ci->lo)) snprintf(buf, sizeof buf, "-");
    else snprintf(buf, sizeof buf, "[%+.2f, %+.2f]", 100.0 * ci->lo, 100.0 * ci->hi);
    fprintf(out, "%*s", width, buf);
}

static void row(FILE *out, const char *name, const summary_strategy *st, bool tested) {
    fprintf(out, "  %-10s %6d %8.1f ", name, st->pairs, st->mean_evals);
    cell_points(out, st->mean_test_gain, 10);
    cell_points(out, st->mean_val_regret, 11);
    cell_points(out, st->mean_test_regret, 12);
    cell_interval(out, &st->test_regret_ci, 17);
    if (tested && st->worse_than_grid_tested) fprintf(out, "%6d/%-3d", st->worse_than_grid_pairs, st->worse_than_grid_tested);
    else fprintf(out, "%10s", "-");
    if (isnan(st->frac_within_eps)) fprintf(out, "%8s\n", "-");
    else fprintf(out, "%7.0f%%\n", 100.0 * st->frac_within_eps);
}

void summary_print_table(const summary *s, FILE *out) {
    const summary_statistics *x = &s->stats;
    char eps[32];
    text_format_double(eps, sizeof eps, 100.0 * s->epsilon);
    fprintf(out, "\nSummary over %d pairs (gains in accuracy points on the test split; regret against "
                 "the grid's pick):\n", s->n_pairs);
    fprintf(out, "  %-10s %6s %8s %10s %11s %12s %17s %10s %8s\n", "strategy", "pairs", "evals", "test gain",
            "val regret", "test regret", "test regret", "worse than", "within");
    fprintf(out, "  %-10s %6s %8s %10s %11s %12s %17s %10s %8s\n", "", "", "/pair", "", "", "", "95% interval",
            "grid", "eps");
    if (s->has_default) {
        fprintf(out, "  %-10s %6d %8s ", "default", s->n_pairs, "1");
        cell_points(out, s->default_mean_test, 10);
        fprintf(out, "\n  %-10s %6d %8.1f ", "untuned*", s->n_pairs, s->untuned_evals);
        cell_points(out, s->best_untuned_mean_test, 10);
        fprintf(out, "\n");
    }
    if (s->has_grid) row(out, "grid", &s->grid, false);
    for (int k = 0; k < s->n_strategies; k++) row(out, s->strategies[k].name, &s->strategies[k], x->available);
    fprintf(out, "  (untuned* = the best non-tuned approach: default T and alpha at the best method, transfer set and "
                 "position by validation; a tuner's evals/pair include those settings, which it starts from for free, and "
                 "count a screen as tuner.screen_cost; "
                 "worse than "
                 "grid = pairs where the grid's pick is significantly better on test, Holm, level 0.05; within eps = "
                 "within %s points of the grid's pick on validation, in whole images)\n", eps);
    for (int k = 0; k < s->n_strategies; k++) {
        const summary_strategy *st = &s->strategies[k];
        if (!st->screens) continue;
        fprintf(out, "Screening (%s): %d evaluations at fidelity %g, each counted as %.2f of a full evaluation in "
                     "evals/pair; measured, one took %.2f of a full evaluation's time%s.\n", st->name, st->screens,
                st->screen_fidelity, s->screen_cost, st->screen_time_ratio,
                fabs(st->screen_time_ratio - s->screen_cost) > 0.25 * s->screen_cost
                    ? " (the assumed cost is off by more than a quarter: see tuner.screen_cost)" : "");
    }
    int failed = s->default_failures + s->grid.failures;
    for (int k = 0; k < s->n_strategies; k++) failed += s->strategies[k].failures;
    if (failed) {
        fprintf(out, "Failed evaluations (diverged: never counted as a gain): default %d", s->default_failures);
        if (s->has_grid) fprintf(out, ", grid %d", s->grid.failures);
        for (int k = 0; k < s->n_strategies; k++) fprintf(out, ", %s %d", s->strategies[k].name, s->strategies[k].failures);
        fprintf(out, "\n");
    }
    if (!x->available) {
        fprintf(out, "No per-image outcomes in this run directory: no tests or intervals (re-run the evaluations "
                     "with this kdtune to get them).\n");
        return;
    }
    fprintf(out, "Noise: one gain's paired standard error is %.2f points on validation and %.2f on test (median "
                 "over the %s's evaluations).\n", 100.0 * x->se_gain_val, 100.0 * x->se_gain_test,
            s->has_grid ? "grid" : "run");
    if (x->replicate_settings)
        fprintf(out, "Across replicates (other draws of the KD randomness), a gain moves by %.2f points on validation "
                     "and %.2f on test (median SD over %d settings).\n", 100.0 * x->replicate_sd_val,
                100.0 * x->replicate_sd_test, x->replicate_settings);
    fprintf(out, "Findings (one-sided paired tests on test images, Holm over pairs, level 0.05):\n");
    fprintf(out, "  the recommended setting beats the default significantly in %d of %d pairs, and the best "
                 "untuned setting in %d;\n", x->default_worse_pairs, x->tested_pairs, x->untuned_worse_pairs);
    fprintf(out, "  improvement over the default: %+.2f points [%+.2f, %+.2f] (95%% over pairs)",
            100.0 * x->improvement_points.estimate, 100.0 * x->improvement_points.lo, 100.0 * x->improvement_points.hi);
    if (!isnan(x->improvement_ratio.estimate))
        fprintf(out, ", a ratio of means of %.2fx [%.2f, %.2f];\n", x->improvement_ratio.estimate,
                x->improvement_ratio.lo, x->improvement_ratio.hi);
    else
        fprintf(out, "; no ratio: the default's mean test gain is not positive;\n");
    fprintf(out, "  over the best non-tuned approach (untuned*): %+.2f points [%+.2f, %+.2f]", 100.0 * x->untuned_points.estimate,
            100.0 * x->untuned_points.lo, 100.0 * x->untuned_points.hi);
    if (!isnan(x->untuned_ratio.estimate))
        fprintf(out, ", a relative gain of %+.0f%% [%+.0f%%, %+.0f%%] (ratio of means - 1);\n",
                100.0 * (x->untuned_ratio.estimate - 1), 100.0 * (x->untuned_ratio.lo - 1), 100.0 * (x->untuned_ratio.hi - 1));
    else
        fprintf(out, "; no relative gain: its mean test gain is not positive;\n");
    if (!isnan(s->frac_grid_best_not_default) && !isnan(x->chance_non_default))
        fprintf(out, "  the grid's best T or alpha is not the default in %.0f%% of pairs, against %.0f%% by chance "
                     "if no setting mattered%s;\n", 100.0 * s->frac_grid_best_not_default,
                100.0 * x->chance_non_default,
                s->frac_grid_best_not_default <= x->chance_non_default ? " (so this is no evidence by itself)" : "");
    fprintf(out, "  selecting the best evaluated setting by validation: %+.2f points in sample (optimistic), %+.2f "
                 "held out (cross-fit over validation halves).\n", 100.0 * x->selected_val_gain,
            100.0 * x->heldout_val_gain);
    if (s->position_pairs)
        fprintf(out, "  the better position beats the other by more than 1 point of test in %.0f%% of pairs (not "
                     "tested).\n", 100.0 * s->frac_position_matters);
}
