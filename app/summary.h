// The figures of a run, computed from its trials alone: per pair the default, the grid's best and
// each strategy's recommendation; per strategy the means, regrets and best-so-far curves; and the
// study's findings. Written as summary.json and printed as the closing table of `kdtune run`.
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "app/config.h"
#include "stats/bootstrap.h"
#include "store/store.h"

enum { SUMMARY_MAX_STRATEGIES = 16 };

// A setting with its gains; `n` = 0 when there is none (e.g. no grid was run).
typedef struct {
    int n;                          // evaluations behind it
    const store_eval *best;              // the chosen trial (NULL when n = 0)
} summary_pick;

typedef struct {
    int i, j;
    summary_pick deflt;             // T, alpha, transfer set and position of the config's kd section
    summary_pick best_untuned;      // the default T and alpha, best transfer set and position by val
    summary_pick grid;              // the grid's best by val
    summary_pick tuned[SUMMARY_MAX_STRATEGIES];
    summary_pick grid_by_position[2]; // the grid's best by val in each position (cfg_position)
    bool grid_has_default;            // the grid evaluated the default T and alpha
    // The recommendation: the best by validation among the best untuned setting, the grid's best
    // and each strategy's pick (ties go to the earlier, so to the default).
    const store_eval *recommended;
    const char *recommended_from;     // "default", "grid" or a strategy's name
    int evaluations;                  // evaluations of the pair behind it
    // significance.c: the held-out (cross-fit) validation gain of taking the pair's best evaluated
    // setting, and the recommendation against the default on test (Holm-adjusted p over pairs).
    double heldout_val_gain;
    double p_vs_default;
    bool significant_vs_default;
} summary_pair;

// The noise behind the figures (significance.c); `available` is false without per-image outcomes.
typedef struct {
    bool available;
    int evals_without_outcomes;
    double se_gain_val, se_gain_test;   // median paired standard error of one gain (fractions)
    int replicate_settings;             // settings evaluated under two or more draws of the KD
    double replicate_sd_val, replicate_sd_test; // randomness, and the median SD of their gains
    double chance_non_default;          // frac_grid_best_not_default if no setting mattered
    int tested_pairs;                   // pairs with outcomes for the tests below
    int default_worse_pairs;            // recommendation significantly better than the default
    int untuned_worse_pairs;            // ... than the best untuned setting (Holm, level 0.05)
    double heldout_val_gain, selected_val_gain; // mean over pairs: cross-fit and in-sample
    stats_interval improvement_points;  // recommendation - default, test gain, 95% over pairs
    stats_interval improvement_ratio;   // mean(recommendation) / mean(default); NaN if undefined
    stats_interval untuned_points;      // the same against the best non-tuned approach (the best
    stats_interval untuned_ratio;       // method, transfer set and position at the default T, alpha)
} summary_statistics;

typedef struct {
    char name[STORE_NAME_MAX];
    int pairs;
    int failures;                             // evaluations that failed (diverged), over all pairs
    double mean_evals;                        // per pair, in full-evaluation equivalents (a screen
                                              // counts as tuner.screen_cost)
    double mean_val_gain, mean_test_gain;
    double mean_val_regret, mean_test_regret; // against the grid's best (NaN without grid)
    double frac_within_eps;                   // pairs whose tuned val gain is within epsilon
    double mean_evals_to_eps;                 // over the pairs that got there (NaN: none did), in
                                              // full-evaluation equivalents
    int screens;                              // low-fidelity evaluations (strategy screen), all pairs
    double screen_fidelity;                   // their fidelity
    double screen_time_ratio;                 // their mean seconds over a full evaluation's (NaN: none)
    double improvement_points_mean;          // tuned - default test gain, over every pair
    stats_interval test_regret_ci;            // mean test regret against the grid's pick, 95%
    int worse_than_grid_pairs;                // pairs whose grid pick is significantly better (Holm)
    int worse_than_grid_tested;
    double *curve;                            // mean over pairs of the best-so-far val gain
    int curve_len;
} summary_strategy;

typedef struct {
    double epsilon;
    int val_images;                   // validation images behind every gain
    double screen_cost;               // what a screen counts for in full evaluations (tuner.screen_cost)
    int n_pairs;
    summary_pair *pairs;
    bool has_default, has_grid;
    int default_failures;             // failed evaluations of the default phase
    double default_mean_val, default_mean_test, best_untuned_mean_test;
    double untuned_evals;             // default evaluations per pair (positions x transfer sets)
    summary_strategy grid;            // the grid as a strategy (its curve follows journal order)
    summary_strategy strategies[SUMMARY_MAX_STRATEGIES];
    int n_strategies;
    // findings
    double frac_grid_best_not_default;  // pairs whose grid-best T or alpha is not the default
                                        // (NaN when the grid does not hold the default)
    double forgetting_by_transfer[3];   // mean forgetting per transfer set (fractions)
    int forgetting_count[3];
    double frac_position_matters;       // pairs whose best positions differ by > 1 point of test
    int position_pairs;
    summary_statistics stats;
    store_eval *evals;                // the evaluations summarized (owned; picks point into it)
    size_t n_evals;
} summary;

// Computes the summary of a run's evaluations and recommendations: the default phase, the grid,
// and the tuners' runs at cfg->tuner.budget (`kdtune eval`'s lines and other budgets are left
// out). Strategies appear in the order of their first evaluation.
kdt_status summary_compute(summary *s, const store_eval *evals, size_t n, const store_recommendation *recs,
                           size_t n_recs, const kdt_config *cfg);
void summary_free(summary *s);

kdt_status summary_write_json(const summary *s, const kdt_config *cfg, const char *path);

// The closing table: default vs grid vs each strategy, in percentage points.
void summary_print_table(const summary *s, FILE *out);
