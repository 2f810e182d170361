// The figures of a run, computed from its trials alone: per pair the default, the grid's best and
// each strategy's recommendation; per strategy the means, regrets and best-so-far curves; and the
// study's findings. Written as summary.json and printed as the closing table of `kdtune run`.
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "app/config.h"
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
} summary_pair;

typedef struct {
    char name[STORE_NAME_MAX];
    int pairs;
    int failures;                             // evaluations that failed (diverged), over all pairs
    double mean_evals, mean_val_gain, mean_test_gain;
    double mean_val_regret, mean_test_regret; // against the grid's best (NaN without grid)
    double frac_within_eps;                   // pairs whose tuned val gain is within epsilon
    double mean_evals_to_eps;                 // over the pairs that got there (NaN: none did)
    double improvement_factor_mean, improvement_factor_median, improvement_factor_max; // tuned / default
                                              // over the pairs whose default gain is > 0
    int improvement_pairs;
    double improvement_points_mean;          // tuned - default test gain, over every pair
    double *curve;                            // mean over pairs of the best-so-far val gain
    int curve_len;
} summary_strategy;

typedef struct {
    double epsilon;
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
} summary;

// Computes the summary of the trials (which must outlive it). Strategies appear in the order of
// their first trial.
kdt_status summary_compute(summary *s, const store_eval *evals, size_t n, const store_recommendation *recs,
                           size_t n_recs, const kdt_config *cfg);
void summary_free(summary *s);

kdt_status summary_write_json(const summary *s, const kdt_config *cfg, const char *path);

// The closing table: default vs grid vs each strategy, in percentage points.
void summary_print_table(const summary *s, FILE *out);
