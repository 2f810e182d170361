// Internal to tuner/: the tuner object's fields and the interface every strategy implements.
// A strategy reads the whole history from the tuner at each ask, so it needs no tell callback,
// and the same history always gives the same next point (replay relies on it).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tuner/tuner.h"

// screen's defaults (tuner_set_screening): kdtune's measured defaults, bench/tuner/FIDELITY.md.
#define TUNER_DEFAULT_SCREEN_FIDELITY 0.5
#define TUNER_DEFAULT_SCREEN_COST 0.69

typedef struct {
    // Allocates the strategy's state; called once, before the first ask.
    kdt_status (*create)(tuner *t, void **state);
    // The next point x (size of the space), or *exhausted = true when the strategy has nothing
    // more to propose.
    kdt_status (*ask)(tuner *t, void *state, double *x, bool *exhausted);
    // Optional: the index of the recommended told point (default: the best told full-fidelity
    // value).
    kdt_status (*recommend)(tuner *t, void *state, size_t *index);
    void (*destroy)(void *state);
} strategy_ops;

extern const strategy_ops strategy_grid_ops, strategy_random_ops, strategy_nlopt_ops,
    strategy_gp_ops, strategy_screen_ops;

struct tuner {
    tuner_space *space;
    tuner_strategy strategy;
    tuner_goal goal;
    size_t budget, budget_eff; // budget_eff: the grid may be smaller than the budget
    double screen_fidelity, screen_cost; // screen: the low fidelity and its cost (budget units)
    size_t cap;               // told points the arrays hold: budget / the cheapest cost
    uint64_t seed;
    size_t np, n_cont, n_cat; // parameters; free continuous; free categorical

    double *init;             // (n_init, np) initial points
    size_t n_init, cap_init;
    double *grid_values[TUNER_MAX_PARAMS]; // per parameter, or NULL for the default list
    size_t grid_n[TUNER_MAX_PARAMS];
    size_t n_design;          // gp: space-filling points; 0 = the default
    double *prior_u;          // gp_transfer: (n_prior, n_cont) earlier tasks' points, encoded
    int *prior_c;             // (n_prior, n_cat)
    double *prior_z;          // (n_prior) their values standardized within their task, lower better
    size_t n_prior, n_prior_tasks;

    // final replicates: the last rep_k * rep_r evaluations re-evaluate the top rep_k told points
    size_t rep_k, rep_r;
    bool rep_phase;
    size_t rep_start, rep_total, n_cand, cand[TUNER_MAX_REPLICATE_K];
    size_t *rep;              // (cap) replicate index of each told point (0: first evaluation)
    size_t rep_pending;
    double *X;                // (cap, np) told points
    double *y;                // (cap) told values as given (NaN = failed)
    double *fid;              // (cap) fidelity of each told point (1: full)
    size_t n;
    double spent;             // the told points' cost in full-evaluation equivalents
    bool pending;
    double *xp;               // (np) the asked, untold point
    double fid_pending;

    bool started, exhausted;
    const strategy_ops *ops;
    void *state;
};

// screen: whether its next ask is a screen (at t->screen_fidelity) rather than a full evaluation,
// from the history alone, so that the budget check knows the ask's cost before asking.
bool strategy_screen_next_is_screen(const tuner *t);

// The told values as a minimization objective, failures replaced by the worst finite value
// (plus a margin) so that every strategy can consume them: f (n).
void strategy_objectives(const tuner *t, double *f);

// The free dimensions' scrambled Sobol sequence (a random shift mod 1 seeded from seed and
// purpose): point k of dimension d into v (d). d <= 40. Deterministic in (seed, purpose, k).
typedef struct strategy_sobol strategy_sobol;
strategy_sobol *strategy_sobol_create(size_t d, uint64_t seed, const char *purpose);
void strategy_sobol_point(strategy_sobol *q, size_t k, double *v);
void strategy_sobol_destroy(strategy_sobol *q);
