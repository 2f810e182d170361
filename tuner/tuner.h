// The ask/tell tuner: a black-box optimizer over a tuner_space with a budget of evaluations, one
// of several strategies, an explicit goal (minimize or maximize), and an optional journal that
// records every result and lets a new tuner resume where an interrupted one stopped.
//
// Use, in the style of NLopt and GSL objects:
//   tuner *t;  tuner_create(&t, space, TUNER_GP, TUNER_MAXIMIZE, 30, seed);
//   tuner_add_initial_point(t, x_default);            // optional, any number
//   tuner_set_journal(t, "trials.jsonl", "gp/0-3");   // optional, last: replays what is there
//   while (!tuner_done(t)) { tuner_ask(t, x); y = f(x); tuner_tell(t, y, extra_fields); }
//   tuner_recommend(t, x_best, &y_best);  tuner_destroy(t);
// Points are arrays of doubles in parameter order (categoricals as choice indices; see space.h).
// A tuner is deterministic: the same space, strategy, budget, seed, initial points and told
// values give the same suggestions, which is what makes replaying a journal possible.
// Not thread-safe: one tuner per thread (distinct tuners may run on distinct threads).
#pragma once
#include <jansson.h>
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
    TUNER_N_STRATEGIES
} tuner_strategy;

typedef enum { TUNER_MINIMIZE, TUNER_MAXIMIZE } tuner_goal;

// "grid", "random", "bobyqa", "cobyla", "neldermead", "sbplx", "direct_l", "gp".
const char *tuner_strategy_name(tuner_strategy s);
// The strategy of a name; KDT_ERR_CONFIG with the valid names (and a "did you mean") otherwise.
kdt_status tuner_strategy_from_name(const char *name, tuner_strategy *out);

typedef struct tuner tuner;

// A tuner over a copy of space. budget >= 1 evaluations; seed drives every random choice.
kdt_status tuner_create(tuner **out, const tuner_space *space, tuner_strategy strategy,
                        tuner_goal goal, size_t budget, uint64_t seed);
void tuner_destroy(tuner *t);

// ---- settings: before tuner_set_journal and the first tuner_ask (else KDT_ERR_STATE) ------------
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
// Appends every told result to the JSON-lines journal at path under run_key (a tag such as
// "gp/0-3": one file may hold many runs and other fields). Replays the lines of run_key that are
// already there, checking each against the suggestion the tuner makes now; a journal made with a
// different configuration is a KDT_ERR_CONFIG naming the file and line (destroy the tuner then).
// A damaged last line (a crash mid-write) is reported with log_warn and cut off the file; a
// damaged line elsewhere is a KDT_ERR_FORMAT naming the file and line. Appends are one write(2)
// each on O_APPEND, so tuners in several threads or processes may share a file once they are all
// set up; set them up one at a time (the cut of a damaged tail is not synchronized).
kdt_status tuner_set_journal(tuner *t, const char *path, const char *run_key);
// The same for a caller that walks the journal once for many runs: `lines` is a JSON array of
// this run's lines in file order, `linenos` their line numbers (for messages; may be NULL). The
// file is not read; the caller has repaired its end (tuner_journal_repair) before appending.
kdt_status tuner_set_journal_lines(tuner *t, const char *path, const char *run_key,
                                   const json_t *lines, const json_t *linenos);

// ---- the loop -----------------------------------------------------------------------------------
// The next point to evaluate, into x (size of the space). Asking again before telling returns
// the same point. KDT_ERR_STATE when the tuner is done (budget spent or strategy exhausted).
kdt_status tuner_ask(tuner *t, double *x);
// The result of the last asked point. A non-finite value marks a failed evaluation: it counts
// against the budget and the strategies treat it as the worst value seen. extra: NULL or a
// JSON object whose fields are added to the journal line (keys "run", "strategy", "seed", "i",
// "x", "value" are reserved). The journal line is written and fsynced before the strategy sees
// the value.
kdt_status tuner_tell(tuner *t, double value, const json_t *extra);
bool tuner_done(const tuner *t);

// ---- results ------------------------------------------------------------------------------------
size_t tuner_n_told(const tuner *t);
size_t tuner_budget(const tuner *t);
tuner_strategy tuner_get_strategy(const tuner *t);
tuner_goal tuner_get_goal(const tuner *t);
const tuner_space *tuner_get_space(const tuner *t);
// The i-th told point (x: size of the space) and its value.
void tuner_history(const tuner *t, size_t i, double *x, double *value);
// The values told so far, in order (n_told of them).
const double *tuner_values(const tuner *t);
// The best told point and value (by the goal); KDT_ERR_STATE when nothing is told yet.
kdt_status tuner_best(const tuner *t, double *x, double *value);
// The recommended point and its told value: for gp, the evaluated point with the best posterior
// mean (robust to noise); for the others, the best told point.
kdt_status tuner_recommend(tuner *t, double *x, double *value);
