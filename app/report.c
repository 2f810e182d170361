// report.md with its plots, summary.json and recommended.yaml, computed from the journal.
#include "app/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/evaluator.h"
#include "app/plot.h"
#include "app/significance.h"
#include "app/recommend.h"
#include "app/summary.h"
#include "app/tuning.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strbuf.h"

static const char *transfer_name(int x) { return kd_transfer_name(x); }

static void md_points(strbuf *sb, double x) {
    if (isnan(x)) sb_printf(sb, " - |");
    else sb_printf(sb, " %+.2f |", 100.0 * x);
}

// Mean validation gain of the grid over T x alpha for one transfer set, over pairs and positions.
static kdt_status plot_grid_heatmap(const char *dir, const kdt_config *cfg, const store_eval *t, size_t n, int x) {
    const cfg_floats *T = &cfg->grid.temperatures, *A = &cfg->grid.alphas;
    int nt = T->n, na = A->n;
    double *sum = calloc((size_t)nt * na, sizeof *sum);
    int *cnt = calloc((size_t)nt * na, sizeof *cnt);
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory plotting");
    }
    for (size_t k = 0; k < n; k++) {
        if (!t[k].result.ok || (int)t[k].setting.transfer != x || strcmp(t[k].run.strategy, "grid") != 0) continue;
        int r = -1, c = -1;
        for (int q = 0; q < nt; q++) if (T->v[q] == t[k].setting.temperature) r = q;
        for (int q = 0; q < na; q++) if (A->v[q] == t[k].setting.alpha) c = q;
        if (r < 0 || c < 0) continue;
        sum[r * na + c] += t[k].result.val_gain;
        cnt[r * na + c]++;
    }
    bool any = false;
    for (int q = 0; q < nt * na; q++) { // in points
        any |= cnt[q] > 0;
        sum[q] = cnt[q] ? 100.0 * sum[q] / cnt[q] : NAN;
    }
    kdt_status s = KDT_OK;
    if (any) {
        char xt[CFG_LIST_MAX][32], yt[CFG_LIST_MAX][32];
        const char *xs[CFG_LIST_MAX], *ys[CFG_LIST_MAX];
        for (int c = 0; c < na; c++) snprintf(xt[c], 32, "%g", A->v[c]), xs[c] = xt[c];
        for (int r = 0; r < nt; r++) snprintf(yt[r], 32, "%g", T->v[r]), ys[r] = yt[r];
        char png[4096], title[128], file[64];
        snprintf(file, sizeof file, "heatmap_%s.png", transfer_name(x));
        snprintf(title, sizeof title, "mean validation gain over pairs, %s", transfer_name(x));
        if (!(s = fs_join(png, sizeof png, dir, file)))
            s = plot_heatmap(png, title, "alpha (weight of the soft term)", "temperature T", xs, na, ys,
                             nt, sum, "validation gain (points)", 1.0);
    }
    free(sum);
    free(cnt);
    return s;
}

// The best test gain (of the val-best setting) for each ordered teacher -> student.
static kdt_status plot_teacher_student(const char *dir, const kdt_config *cfg, const store_eval *t, size_t n) {
    int P = cfg->federation.participants;
    const store_eval **best = calloc((size_t)P * P, sizeof *best);
    double *z = malloc(sizeof *z * (size_t)P * P);
    if (!best || !z) {
        free(best);
        free(z);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory plotting");
    }
    for (size_t k = 0; k < n; k++) {
        const store_eval *tr = &t[k];
        if (!tr->result.ok) continue;
        const store_eval **b = &best[store_student(&tr->setting) * P + store_teacher(&tr->setting)];
        if (!*b || tr->result.val_gain > (*b)->result.val_gain) *b = tr;
    }
    for (int q = 0; q < P * P; q++) z[q] = best[q] ? 100.0 * best[q]->result.test_gain : NAN; // points
    char labels[64][8];
    const char *ticks[64];
    for (int q = 0; q < P && q < 64; q++) snprintf(labels[q], 8, "%d", q), ticks[q] = labels[q];
    char png[4096];
    kdt_status s = fs_join(png, sizeof png, dir, "teacher_student.png");
    if (!s) s = plot_heatmap(png, "test gain of the best setting (by validation), teacher to student",
                             "teacher", "student", ticks, P, ticks, P, z, "test gain (points)", 1.0);
    free(best);
    free(z);
    return s;
}

static kdt_status plot_curves(const char *dir, const summary *s) {
    plot_series series[SUMMARY_MAX_STRATEGIES];
    int ns = 0;
    for (int k = 0; k < s->n_strategies; k++)
        series[ns++] = (plot_series){s->strategies[k].name, s->strategies[k].curve, s->strategies[k].curve_len};
    if (!ns) return KDT_OK;
    double grid_best = NAN;
    if (s->has_grid) {
        double sum = 0;
        int cnt = 0;
        for (int q = 0; q < s->n_pairs; q++)
            if (s->pairs[q].grid.best) sum += s->pairs[q].grid.best->result.val_gain, cnt++;
        if (cnt) grid_best = sum / cnt;
    }
    char png[4096];
    kdt_status st = fs_join(png, sizeof png, dir, "best_so_far.png");
    if (st) return st;
    return plot_lines(png, "best validation gain so far, mean over pairs", "evaluations per pair",
                      "validation gain (fraction)", series, ns, grid_best, "grid best");
}

static kdt_status plot_forgetting(const char *dir, const summary *s) {
    const char *labels[3];
    double v[3];
    int m = 0;
    for (int x = 0; x < 3; x++)
        if (s->forgetting_count[x]) labels[m] = transfer_name(x), v[m++] = 100.0 * s->forgetting_by_transfer[x];
    if (!m) return KDT_OK;
    char png[4096];
    kdt_status st = fs_join(png, sizeof png, dir, "forgetting.png");
    if (st) return st;
    return plot_bars(png, "mean forgetting of the student's own distribution", "points (positive = forgot)",
                     labels, v, NULL, m);
}

static void md_strategy_row(strbuf *sb, const summary_strategy *st, bool tested) {
    sb_printf(sb, "| %s | %d | %.1f |", st->name, st->pairs, st->mean_evals);
    md_points(sb, st->mean_test_gain);
    md_points(sb, st->mean_val_regret);
    md_points(sb, st->mean_test_regret);
    if (isnan(st->test_regret_ci.lo)) sb_printf(sb, " - |");
    else sb_printf(sb, " [%+.2f, %+.2f] |", 100.0 * st->test_regret_ci.lo, 100.0 * st->test_regret_ci.hi);
    if (tested && st->worse_than_grid_tested) sb_printf(sb, " %d/%d |", st->worse_than_grid_pairs, st->worse_than_grid_tested);
    else sb_printf(sb, " - |");
    sb_printf(sb, " %d |", st->failures);
    if (isnan(st->frac_within_eps)) sb_printf(sb, " - |");
    else sb_printf(sb, " %.0f%% |", 100.0 * st->frac_within_eps);
    if (isnan(st->mean_evals_to_eps)) sb_printf(sb, " - |\n");
    else sb_printf(sb, " %.1f |\n", st->mean_evals_to_eps);
}

// Links a plot into the report if it was drawn.
static void md_plot(strbuf *sb, const char *plots_dir, const char *file, const char *caption) {
    char path[4096];
    if (plots_dir && !fs_join(path, sizeof path, plots_dir, file) && fs_exists(path))
        sb_printf(sb, "![%s](plots/%s)\n\n", caption, file);
}

static char *report_markdown(const summary *s, const kdt_config *cfg, const char *plots_dir) {
    strbuf sb = {0};
    sb_printf(&sb, "# kdtune report: %s\n\n", cfg->experiment.name);
    sb_printf(&sb, "%d participants (%s), data `%s`, partition `%s`, seed %d. Objective: validation gain "
                   "of the student; figures below are test gains in accuracy points unless said.\n\n",
              cfg->federation.participants, model_arch_name(cfg->model.arch.v[0]),
              data_source_name(cfg->data.source),
              partition_scheme_name(cfg->partition.scheme), cfg->experiment.seed);
    sb_printf(&sb, "## Default, grid and tuners\n\n| strategy | pairs | evals/pair | test gain | val regret "
                   "| test regret | test regret 95%% | worse than grid | failed | within eps | evals to eps |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|\n");
    if (s->has_default) {
        sb_printf(&sb, "| default (T=%g, alpha=%g, %s, %s) | %d | 1 |", cfg->kd.temperature, cfg->kd.alpha,
                  transfer_name(cfg->kd.transfer_set), kd_position_name(cfg->kd.position),
                  s->n_pairs);
        md_points(&sb, s->default_mean_test);
        // The seven columns after the test gain: regrets, interval, worse than grid, failed, eps.
        sb_printf(&sb, " | | | | %d | | |\n| best untuned (default T and alpha, best method, transfer set and position) | %d "
                  "| %.1f |", s->default_failures, s->n_pairs, s->untuned_evals);
        md_points(&sb, s->best_untuned_mean_test);
        sb_printf(&sb, " | | | | | | |\n");
    }
    const summary_statistics *x = &s->stats;
    if (s->has_grid) md_strategy_row(&sb, &s->grid, false);
    for (int k = 0; k < s->n_strategies; k++) md_strategy_row(&sb, &s->strategies[k], x->available);
    sb_printf(&sb, "\nRegrets are against the grid's best setting per pair (by validation); the interval is a "
                   "bootstrap over pairs; \"worse than grid\" counts the pairs where the grid's pick is significantly "
                   "better on test (one-sided paired test, Holm over pairs, level 0.05); eps = %.2g points, judged in "
                   "whole validation images.\n\n", 100.0 * s->epsilon);
    sb_printf(&sb, "## Findings\n\n");
    if (!x->available) {
        sb_printf(&sb, "- This run directory has no per-image outcomes, so no figure below carries a test or an "
                       "interval: treat every difference as not significant.\n");
    } else {
        sb_printf(&sb, "- Noise: one gain's paired standard error is %.2f points on validation and %.2f on test "
                       "(median over the %s's evaluations). Differences smaller than about twice that are noise.\n",
                  100.0 * x->se_gain_val, 100.0 * x->se_gain_test, s->has_grid ? "grid" : "run");
        if (x->replicate_settings)
            sb_printf(&sb, "- Across replicates (other draws of the KD randomness: batch order, augmentation), a gain "
                           "moves by %.2f points on validation and %.2f on test (median standard deviation over %d "
                           "settings).\n", 100.0 * x->replicate_sd_val, 100.0 * x->replicate_sd_test,
                      x->replicate_settings);
        sb_printf(&sb, "- The recommended setting is significantly better than the default (T=%g, alpha=%g) in "
                       "**%d of %d** pairs, and than the best untuned setting in **%d**: one-sided paired tests on the "
                       "test images, Holm over pairs, level 0.05.\n", cfg->kd.temperature, cfg->kd.alpha,
                  x->default_worse_pairs, x->tested_pairs, x->untuned_worse_pairs);
        sb_printf(&sb, "- Improvement over the default: **%+.2f points** [%+.2f, %+.2f] (95%%, bootstrap over pairs) "
                       "of test gain.", 100.0 * x->improvement_points.estimate, 100.0 * x->improvement_points.lo,
                  100.0 * x->improvement_points.hi);
        if (!isnan(x->improvement_ratio.estimate))
            sb_printf(&sb, " As a ratio of mean gains: %.2fx [%.2f, %.2f] (the study: up to 5x and more).\n",
                      x->improvement_ratio.estimate, x->improvement_ratio.lo, x->improvement_ratio.hi);
        else
            sb_printf(&sb, " No ratio: the default's mean test gain is not positive, so a ratio would mean "
                           "nothing (the study's \"5x\" cannot be compared).\n");
        sb_printf(&sb, "- Against the best non-tuned approach (the best method, transfer set and position at the default "
                       "T and alpha, by validation, as the later study defines it): **%+.2f points** [%+.2f, %+.2f].",
                  100.0 * x->untuned_points.estimate, 100.0 * x->untuned_points.lo, 100.0 * x->untuned_points.hi);
        if (!isnan(x->untuned_ratio.estimate))
            sb_printf(&sb, " Relative gain (ratio of mean gains - 1): %+.0f%% [%+.0f%%, %+.0f%%] (the study: +16%% on "
                           "uniform data, +139%% on average across non-IID partitions).\n",
                      100.0 * (x->untuned_ratio.estimate - 1), 100.0 * (x->untuned_ratio.lo - 1),
                      100.0 * (x->untuned_ratio.hi - 1));
        else
            sb_printf(&sb, " No relative gain: its mean test gain is not positive.\n");
        sb_printf(&sb, "- Selecting each pair's best evaluated setting by validation gains %+.2f points in sample, "
                       "which is optimistic; held out (cross-fit over validation halves) it gains **%+.2f**.\n",
                  100.0 * x->selected_val_gain, 100.0 * x->heldout_val_gain);
    }
    if (!isnan(s->frac_grid_best_not_default))
        sb_printf(&sb, "- Pairs whose grid-best T or alpha is not the default (T=%g, alpha=%g): %.0f%% (the study: "
                       "about 2/3). If no setting mattered, the argmax would land off the default %.0f%% of the "
                       "time, so this raw fraction %s.\n", cfg->kd.temperature, cfg->kd.alpha,
                  100.0 * s->frac_grid_best_not_default, 100.0 * x->chance_non_default,
                  s->frac_grid_best_not_default <= x->chance_non_default ? "is no evidence that T or alpha matter; "
                  "the paired tests above are" : "exceeds the chance level");
    else if (s->has_grid)
        sb_printf(&sb, "- The grid does not hold the default T=%g and alpha=%g, so it cannot say how often the "
                       "default is best: add them to grid.temperatures and grid.alphas.\n",
                  cfg->kd.temperature, cfg->kd.alpha);
    sb_printf(&sb, "- Mean forgetting of the student's own distribution by transfer set:");
    for (int x = 0; x < 3; x++)
        if (s->forgetting_count[x])
            sb_printf(&sb, " %s %+.2f points;", transfer_name(x), 100.0 * s->forgetting_by_transfer[x]);
    sb_printf(&sb, "\n");
    if (s->position_pairs)
        sb_printf(&sb, "- The better position (who teaches whom) beats the other by more than 1 point in "
                       "%.0f%% of pairs (a raw count, not tested).\n", 100.0 * s->frac_position_matters);
    if (plots_dir) {
        sb_printf(&sb, "\n## Plots\n\n");
        for (int x = 0; x < 3; x++) {
            char file[64], caption[64];
            snprintf(file, sizeof file, "heatmap_%s.png", transfer_name(x));
            snprintf(caption, sizeof caption, "validation gain over T and alpha, %s", transfer_name(x));
            md_plot(&sb, plots_dir, file, caption);
        }
        md_plot(&sb, plots_dir, "teacher_student.png", "best gain per teacher and student");
        md_plot(&sb, plots_dir, "best_so_far.png", "best so far per strategy");
        md_plot(&sb, plots_dir, "forgetting.png", "forgetting per transfer set");
    }
    sb_printf(&sb, "\n## Per pair\n\nTest gains in points; \"held out\" is the cross-fit validation gain of "
                   "selecting the pair's best setting; * marks a recommendation significantly better than the default "
                   "(Holm).\n\n| pair | default | recommended | held out | grid best | grid setting |");
    for (int k = 0; k < s->n_strategies; k++) sb_printf(&sb, " %s |", s->strategies[k].name);
    sb_printf(&sb, "\n|---|---|---|---|---|---|");
    for (int k = 0; k < s->n_strategies; k++) sb_printf(&sb, "---|");
    sb_printf(&sb, "\n");
    for (int q = 0; q < s->n_pairs; q++) {
        const summary_pair *p = &s->pairs[q];
        sb_printf(&sb, "| %d-%d |", p->i, p->j);
        md_points(&sb, p->deflt.best ? p->deflt.best->result.test_gain : NAN);
        if (p->recommended)
            sb_printf(&sb, " %+.2f%s (%s) |", 100.0 * p->recommended->result.test_gain,
                      p->significant_vs_default ? "*" : "", p->recommended_from);
        else sb_printf(&sb, " - |");
        md_points(&sb, p->heldout_val_gain);
        const store_eval *g = p->grid.best;
        md_points(&sb, g ? g->result.test_gain : NAN);
        if (g) sb_printf(&sb, " T=%g a=%g %s, %d teaches %d |", g->setting.temperature, g->setting.alpha,
                         transfer_name(g->setting.transfer), store_teacher(&g->setting), store_student(&g->setting));
        else sb_printf(&sb, " - |");
        for (int k = 0; k < s->n_strategies; k++) md_points(&sb, p->tuned[k].best ? p->tuned[k].best->result.test_gain : NAN);
        sb_printf(&sb, "\n");
    }
    sb_printf(&sb, "\nRecommended settings per pair: `recommended.yaml`; every figure: `summary.json`; "
                   "every evaluation: `trials.jsonl`.\n");
    return sb_take(&sb);
}

// The journal's lines in an order that does not depend on the order they were appended in (an MPI
// run appends a grid's lines as its workers finish them, several threads interleave pairs):
// strategies in the vocabulary's order (default, grid, eval, then the tuners'), then budget, pair,
// fixed position and index. A malloc'ed copy.
typedef struct {
    int strategy;
    size_t at;
    const store_eval *e;
} ordered_line;

static int compare_lines(const void *a, const void *b) {
    const ordered_line *x = a, *y = b;
    const store_run *p = &x->e->run, *q = &y->e->run;
    if (x->strategy != y->strategy) return x->strategy < y->strategy ? -1 : 1;
    if (p->budget != q->budget) return p->budget < q->budget ? -1 : 1;
    if (p->i != q->i) return p->i < q->i ? -1 : 1;
    if (p->j != q->j) return p->j < q->j ? -1 : 1;
    if (p->fixed_position != q->fixed_position) return p->fixed_position < q->fixed_position ? -1 : 1;
    if (x->e->index != y->e->index) return x->e->index < y->e->index ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

// Whether a run's pair is among the selected ones (n < 0: no selection, every pair).
static bool selected(const tuning_pair *pairs, int n, int i, int j) {
    if (n < 0) return true;
    for (int q = 0; q < n; q++)
        if (pairs[q].i == i && pairs[q].j == j) return true;
    return false;
}

// The selected pairs' evaluations in canonical order (*n_out of them).
static store_eval *canonical_order(const store_eval *t, size_t n, const char *const *names, const tuning_pair *pairs,
                                   int n_pairs, size_t *n_out) {
    ordered_line *lines = malloc(sizeof *lines * (n ? n : 1));
    store_eval *out = malloc(sizeof *out * (n ? n : 1));
    if (!lines || !out) {
        free(lines);
        free(out);
        return NULL;
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (!selected(pairs, n_pairs, t[k].run.i, t[k].run.j)) continue;
        int r = 0; // the store admits only the vocabulary's names
        while (r < EVALUATOR_N_STRATEGY_NAMES - 1 && strcmp(names[r], t[k].run.strategy) != 0) r++;
        lines[m++] = (ordered_line){r, k, &t[k]};
    }
    qsort(lines, m, sizeof *lines, compare_lines);
    for (size_t k = 0; k < m; k++) out[k] = *lines[k].e;
    free(lines);
    *n_out = m;
    return out;
}

kdt_status report_write(const char *run_dir, const kdt_config *cfg, const char *pairs, FILE *table) {
    char path[4096], plots[4096];
    const char *names[EVALUATOR_N_STRATEGY_NAMES];
    int P = cfg->federation.participants, n_pairs = -1;
    tuning_pair *selection = NULL;
    if (pairs) {
        if (!(selection = malloc(sizeof *selection * (size_t)(P * (P - 1) / 2 + 1))))
            return kdt_fail(KDT_ERR_NOMEM, "out of memory reading --pairs");
        kdt_status st = tuning_parse_pairs(pairs, P, selection, &n_pairs);
        if (st) {
            free(selection);
            return st;
        }
    }
    store *sto;
    kdt_status st = evaluator_open_store(&sto, cfg, run_dir, names);
    if (st) {
        free(selection);
        return st;
    }
    const store_eval *t;
    const store_recommendation *recs;
    size_t n = store_all_evals(sto, &t), n_recs = store_all_recommendations(sto, &recs);
    if (n == 0) {
        st = kdt_fail(KDT_ERR_STATE, "%s has no evaluations of this configuration yet%s: run `kdtune grid`, "
                      "`tune` or `run` first", store_journal_path(sto),
                      store_foreign_lines(sto) ? " (it holds evaluations of other KD settings, kept apart)" : "");
        store_close(sto);
        free(selection);
        return st;
    }
    store_eval *sorted = canonical_order(t, n, names, selection, n_pairs, &n);
    store_recommendation *kept = malloc(sizeof *kept * (n_recs ? n_recs : 1));
    if (!sorted || !kept) {
        free(sorted);
        free(kept);
        free(selection);
        st = kdt_fail(KDT_ERR_NOMEM, "out of memory reading %s", store_journal_path(sto));
        store_close(sto);
        return st;
    }
    size_t n_kept = 0;
    for (size_t k = 0; k < n_recs; k++)
        if (selected(selection, n_pairs, recs[k].run.i, recs[k].run.j)) kept[n_kept++] = recs[k];
    free(selection);
    if (n == 0) {
        free(sorted);
        free(kept);
        st = kdt_fail(KDT_ERR_STATE, "%s has no evaluations of the pairs %s", store_journal_path(sto), pairs);
        store_close(sto);
        return st;
    }
    t = sorted, recs = kept, n_recs = n_kept;
    summary s;
    if ((st = summary_compute(&s, t, n, recs, n_recs, cfg))) {
        free(sorted);
        free(kept);
        store_close(sto);
        return st;
    }
    st = significance_compute(&s, sto, s.evals, s.n_evals, cfg);
    if (!st) st = fs_join(path, sizeof path, run_dir, "summary.json");
    if (!st) st = summary_write_json(&s, cfg, path);
    if (!st) st = fs_join(path, sizeof path, run_dir, "recommended.yaml");
    if (!st) st = recommend_write(&s, cfg, path);
    bool plotted = false;
    if (!st && cfg->output.plots) {
        st = fs_join(plots, sizeof plots, run_dir, "plots");
        if (!st) st = fs_mkdir_p(plots);
        for (int x = 0; x < 3 && !st; x++) st = plot_grid_heatmap(plots, cfg, t, n, x);
        if (!st) st = plot_teacher_student(plots, cfg, t, n);
        if (!st) st = plot_curves(plots, &s);
        if (!st) st = plot_forgetting(plots, &s);
        if (st) { // plots are a nicety: say why they are missing and go on
            log_warn("plots skipped: %s", kdt_errmsg());
            st = KDT_OK;
        } else {
            plotted = true;
        }
    }
    if (!st) {
        char *md = report_markdown(&s, cfg, plotted ? plots : NULL);
        st = fs_join(path, sizeof path, run_dir, "report.md");
        if (!st) st = fs_write_atomic(path, md, strlen(md));
        free(md);
    }
    if (!st && table) summary_print_table(&s, table);
    summary_free(&s);
    free(sorted);
    free(kept);
    store_close(sto);
    return st;
}
