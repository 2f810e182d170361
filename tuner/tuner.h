// The ask/tell tuner: a black-box optimizer over a tuner_space with a budget of evaluations, one
// of several strategies and an explicit goal (minimize or maximize). It does no I/O: the caller
// stores the results (e.g. in a journal) and gives a resumed run its past results back with
// tuner_replay.
//
// Use, in the style of NLopt and GSL objects:
//   tuner *t;  tuner_create(&t, space, TUNER_GP, TUNER_MAXIMIZE, 30, seed);
//   tuner_add_initial_point(t, x_default);            // optional, any number
//   tuner_replay(t, records, n);                      // optional: this run's past results
//   while (!tuner_done(t)) { tuner_ask(t, x); y = f(x); tuner_tell(t, y); }
//   tuner_recommend(t, x_best, &y_best);  tuner_destroy(t);
// Points are arrays of doubles in parameter order (categoricals as choice indices; see space.h).
// A tuner is deterministic: the same space, strategy, budget, seed, settings and told values
// give the same suggestions, which is what makes replaying a run possible.
// Not thread-safe: one tuner per thread (distinct tuners may run on distinct threads).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tuner/space.h"

typedef enum {
    TUNER_GRID,       // the Cartesian product of per-parameter value lists, first parameter
                      // slowest (a budget below the grid's size cuts it short)
    TUNER_RANDOM,     // scrambled Sobol points over the free dimensions (the floor to beat)
    // NLopt on the continuous parameters, successive halving over the categorical combinations
    TUNER_BOBYQA,     // NLopt local, quadratic models
    TUNER_COBYLA,     // NLopt local, linear models
    TUNER_NELDERMEAD, // NLopt local, simplex
    TUNER_SBPLX,      // NLopt local, subspace simplex
    TUNER_DIRECT_L,   // NLopt global, locally biased DIRECT
    TUNER_GP,         // Gaussian-process Bayesian optimization with log expected improvement
    TUNER_GP_TRANSFER, // gp whose space-filling design is replaced by one point, the best of earlier
                      // tasks' observations (tuner_set_prior_observations); gp without them
    TUNER_SCREEN,     // multi-fidelity: cheap screening evaluations at a low fidelity
                      // (tuner_set_screening), the best of them re-evaluated at full fidelity
    TUNER_N_STRATEGIES
} tuner_strategy;

typedef enum { TUNER_MINIMIZE, TUNER_MAXIMIZE } tuner_goal;

enum { TUNER_MAX_REPLICATE_K = 16 };

// "grid", "random", "bobyqa", "cobyla", "neldermead", "sbplx", "direct_l", "gp", "gp_transfer",
// "screen".
const char *tuner_strategy_name(tuner_strategy s);
// The strategy of a name; KDT_ERR_CONFIG with the valid names (and a "did you mean") otherwise.
kdt_status tuner_strategy_from_name(const char *name, tuner_strategy *out);

typedef struct tuner tuner;

// A tuner over a copy of space. budget >= 1 full-fidelity evaluations (or their equivalents in
// cheaper ones, see tuner_set_screening); seed drives every random choice.
kdt_status tuner_create(tuner **out, const tuner_space *space, tuner_strategy strategy,
                        tuner_goal goal, size_t budget, uint64_t seed);
void tuner_destroy(tuner *t);

// ---- settings: before the first tuner_ask or tuner_replay (else KDT_ERR_STATE) ------------------
// A point evaluated before anything else (e.g. the default setting): random and gp evaluate the
// initial points first, in order; the NLopt strategies start the run of every categorical
// combination from the first one's continuous values, its own combination first; grid ignores
// them (the grid is the grid).
kdt_status tuner_add_initial_point(tuner *t, const double *x);
// Grid: the values of one parameter (a categorical takes choice indices). A free parameter
// without a list gets all its choices (categorical) or 5 evenly spaced values on its scale.
kdt_status tuner_set_grid_values(tuner *t, const char *name, const double *values, size_t n);
// GP: the number of space-filling points after the initial points (default: free dimensions + 2,
// at least 4, at most a third of the budget).
kdt_status tuner_set_initial_design(tuner *t, size_t n);
// gp_transfer: the observations of one earlier task on the same kind of problem (e.g. another
// pair of the same federation): n points xs (n, size of the space), each in this tuner's space,
// and their values (same goal; non-finite values are failures and are dropped). Call once per
// earlier task: values are compared only within a task (standardized per call), so tasks whose
// objectives sit at different levels can be pooled. Another strategy refuses them
// (KDT_ERR_CONFIG); a point outside the space is a KDT_ERR_CONFIG naming its index.
kdt_status tuner_set_prior_observations(tuner *t, const double *xs, const double *values, size_t n);
// Noise-aware final picks: the last k * r evaluations of the budget re-evaluate the k best told
// points (distinct, by told value), r more times each (round-robin); asks then carry the
// replicate index (tuner_ask_ex), and tuner_recommend returns the candidate with the best mean
// over its evaluations (a failure makes a candidate's mean a failure), not the luckiest draw.
// 1 <= k <= TUNER_MAX_REPLICATE_K, r >= 1, k * r < the budget. When the strategy runs out before
// its share, the replicates start then.
kdt_status tuner_set_final_replicates(tuner *t, size_t k, size_t r);
// screen: the low fidelity in (0, 1) it screens at and the cost of one such evaluation in
// full-evaluation equivalents, in (0, 1) (the caller's deterministic cost model, e.g. a measured
// ratio of times). The budget counts costs: a screen costs `cost`, everything else 1, and the
// tuner is done when the next ask would exceed the budget. Default 0.5 and 0.69 (the measured
// default of kdtune's tuner.screen_cost). Another strategy refuses it (KDT_ERR_CONFIG).
kdt_status tuner_set_screening(tuner *t, double fidelity, double cost);

// ---- the loop -----------------------------------------------------------------------------------
// The next point to evaluate, into x (size of the space). Asking again before telling returns
// the same point. KDT_ERR_STATE when the tuner is done (budget spent or strategy exhausted).
kdt_status tuner_ask(tuner *t, double *x);
// What an ask is: replicate 0 is a first evaluation of its point, k > 0 its k-th re-evaluation
// (tuner_set_final_replicates): the caller evaluates it again with fresh randomness. fidelity: 1
// for a full evaluation, the screening fidelity for a screen (strategy screen only); the caller
// evaluates the point at that fidelity and tells what it measured there.
typedef struct {
    size_t replicate;
    double fidelity;
} tuner_ask_info;
// tuner_ask, and what the point is for (info may be NULL).
kdt_status tuner_ask_ex(tuner *t, double *x, tuner_ask_info *info);
// The result of the last asked point. A non-finite value (NaN) marks a failed evaluation: it
// counts against the budget and the strategies treat it as the worst value seen, never as a number.
kdt_status tuner_tell(tuner *t, double value);

// One past result of a run, as the caller stored it: the point (size of the space), the value
// told (NaN for a failure), the replicate index the ask gave (0 without final replicates) and
// its fidelity (0 is read as 1, a full evaluation).
typedef struct {
    const double *x;
    double value;
    size_t replicate;
    double fidelity;
} tuner_record;

// Gives a new tuner the past results of its run, in told order (e.g. read back from a journal
// after an interruption). Each record's point is checked against the suggestion the tuner makes
// now: a mismatch, or more records than the budget, is a KDT_ERR_CONFIG naming the record (the
// run was made with another configuration: space, budget, seed, settings or code; the same for a
// fidelity other than the ask's); the records
// before it stay told. Replaying records is the same as asking and telling them, so it may be
// called at any point of the loop, and again to add more.
kdt_status tuner_replay(tuner *t, const tuner_record *records, size_t n);
bool tuner_done(const tuner *t);

// ---- results ------------------------------------------------------------------------------------
size_t tuner_n_told(const tuner *t);
// The budget in full-evaluation equivalents, and what the told evaluations cost so far.
size_t tuner_budget(const tuner *t);
double tuner_spent(const tuner *t);
tuner_strategy tuner_get_strategy(const tuner *t);
tuner_goal tuner_get_goal(const tuner *t);
const tuner_space *tuner_get_space(const tuner *t);
// The i-th told point (x: size of the space) and its value.
void tuner_history(const tuner *t, size_t i, double *x, double *value);
// The replicate index of the i-th told point (0: a first evaluation).
size_t tuner_history_replicate(const tuner *t, size_t i);
// The fidelity of the i-th told point (1: a full evaluation).
double tuner_history_fidelity(const tuner *t, size_t i);
// The values told so far, in order (n_told of them).
const double *tuner_values(const tuner *t);
// The best told full-fidelity point and value (by the goal; a screen is never the best: its value
// is measured on less data); KDT_ERR_STATE when no full evaluation is told yet.
kdt_status tuner_best(const tuner *t, double *x, double *value);
// The recommended point and its told value: with final replicates, the candidate with the best
// mean over its evaluations, and that mean; else for gp, the evaluated point with the best
// posterior mean (robust to noise); for the others, the best told point. Always a full-fidelity
// evaluation.
kdt_status tuner_recommend(tuner *t, double *x, double *value);
