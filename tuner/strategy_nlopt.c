// The NLopt strategies (BOBYQA, COBYLA, Nelder-Mead, Sbplx, DIRECT-L) on the free continuous
// parameters, scaled to the unit cube, with the categorical combinations enumerated outside:
// round 0 gives each combination a local run (or a DIRECT-L run) with an equal share of the budget
// left; budget left over by runs that converged early goes to restarts from seeded random points
// in the best combination found so far.
//
// NLopt drives its objective by callback; ask/tell needs the opposite. We turn one into the other
// by deterministic replay: each ask re-runs the current NLopt run from its start, answering the
// evaluations already told from the history, and stops NLopt (nlopt_force_stop) at the first
// evaluation it has not seen: that point is the suggestion. The alternative, NLopt on its own
// thread blocked in the callback, keeps a live thread per tuner, cannot be written to or restored
// from the journal, and makes destroy-while-waiting delicate; replay costs only NLopt's own
// arithmetic (microseconds per replayed evaluation, nothing against an expensive objective), is
// single-threaded, and makes a journal replay trivially exact.
#include <assert.h>
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tuner/strategy.h"

typedef struct {
    nlopt_algorithm alg;
    size_t n_combos;
    size_t seg_no;       // segments started so far
    size_t seg_start;    // history index of the current segment's first evaluation
    size_t seg_budget;
    bool in_segment;
    int combo[TUNER_MAX_PARAMS];
    double start[TUNER_MAX_PARAMS]; // (n_cont) start point in the unit cube
    size_t first_combo;
    double *f;           // (budget) objective values, frozen when first seen
    double *tmp;         // (budget)
    size_t n_f;
    // replay scratch
    tuner *t;
    nlopt_opt opt;
    size_t calls;
    bool have_new, diverged;
    double unew[TUNER_MAX_PARAMS];
} nlopt_state;

static nlopt_algorithm algorithm_of(tuner_strategy s) {
    switch (s) {
    case TUNER_BOBYQA: return NLOPT_LN_BOBYQA;
    case TUNER_COBYLA: return NLOPT_LN_COBYLA;
    case TUNER_NELDERMEAD: return NLOPT_LN_NELDERMEAD;
    case TUNER_SBPLX: return NLOPT_LN_SBPLX;
    case TUNER_DIRECT_L: return NLOPT_GN_DIRECT_L;
    default: assert(0 && "not an NLopt strategy"); return NLOPT_LN_BOBYQA;
    }
}

static kdt_status nl_create(tuner *t, void **state) {
    nlopt_state *s = calloc(1, sizeof *s);
    if (s) s->f = malloc(t->budget * sizeof *s->f), s->tmp = malloc(t->budget * sizeof *s->f);
    if (!s || !s->f || !s->tmp) {
        if (s) free(s->f), free(s->tmp);
        free(s);
        return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    }
    s->alg = algorithm_of(t->strategy);
    s->n_combos = tuner_space_n_combos(t->space);
    for (size_t j = 0; j < t->n_cont; j++) s->start[j] = 0.5;
    if (t->n_init) { // start from the first initial point, in its combination
        int c[TUNER_MAX_PARAMS];
        tuner_space_encode(t->space, t->init, s->start, c);
        s->first_combo = tuner_space_combo_index(t->space, c);
    }
    *state = s;
    return KDT_OK;
}

// Round 0 visits every combination once, the first initial point's first.
static void start_segment(tuner *t, nlopt_state *s, const double *f) {
    size_t left = t->budget_eff - t->n;
    s->seg_start = t->n;
    s->in_segment = true;
    if (s->seg_no < s->n_combos) {
        size_t k = (s->first_combo + s->seg_no) % s->n_combos;
        tuner_space_combo(t->space, k, s->combo);
        size_t share = left / (s->n_combos - s->seg_no);
        s->seg_budget = share ? share : 1;
    } else {
        // Restart: the best combination so far, a seeded random start, all the budget left.
        size_t b = 0;
        for (size_t i = 1; i < t->n; i++)
            if (f[i] < f[b]) b = i;
        tuner_space_encode(t->space, t->X + b * t->np, NULL, s->combo);
        rng r = rng_stream(t->seed, "tuner.nlopt.restart", s->seg_no, 0);
        for (size_t j = 0; j < t->n_cont; j++) s->start[j] = rng_uniform(&r);
        s->seg_budget = left;
    }
    s->seg_no++;
}

static double replay_objective(unsigned n, const double *u, double *grad, void *data) {
    (void)grad;
    nlopt_state *s = data;
    tuner *t = s->t;
    size_t k = s->seg_start + s->calls++;
    if (k < t->n) {
        double x[TUNER_MAX_PARAMS];
        tuner_space_decode(t->space, u, s->combo, x);
        if (memcmp(x, t->X + k * t->np, t->np * sizeof *x)) s->diverged = true;
        return s->f[k];
    }
    // Some algorithms (DIRECT) evaluate a batch before they look at the stop flag: the first new
    // point is the suggestion, the rest of the batch is answered with a dummy and thrown away.
    if (s->have_new) return 0.0;
    memcpy(s->unew, u, n * sizeof *u);
    s->have_new = true;
    nlopt_force_stop(s->opt);
    return 0.0; // never used: the run is stopped here
}

static nlopt_opt make_opt(tuner *t, nlopt_state *s) {
    unsigned d = (unsigned)t->n_cont;
    nlopt_opt o = nlopt_create(s->alg, d);
    if (!o) return NULL;
    double lo[TUNER_MAX_PARAMS], hi[TUNER_MAX_PARAMS];
    for (unsigned j = 0; j < d; j++) lo[j] = 0, hi[j] = 1;
    nlopt_set_lower_bounds(o, lo);
    nlopt_set_upper_bounds(o, hi);
    nlopt_set_min_objective(o, replay_objective, s);
    nlopt_set_maxeval(o, (int)s->seg_budget);
    nlopt_set_xtol_abs1(o, 1e-6);
    if (s->alg != NLOPT_GN_DIRECT_L) nlopt_set_initial_step1(o, 0.2);
    return o;
}

static kdt_status nl_ask(tuner *t, void *state, double *x, bool *exhausted) {
    nlopt_state *s = state;
    if (s->n_f < t->n) { // freeze the values seen so far (failure imputation moves with new data)
        strategy_objectives(t, s->tmp);
        memcpy(s->f + s->n_f, s->tmp + s->n_f, (t->n - s->n_f) * sizeof *s->f);
        s->n_f = t->n;
    }
    for (int guard = 0; guard < 10000; guard++) {
        if (!s->in_segment) {
            if (t->n_cont == 0 && s->seg_no >= s->n_combos) { // every combination seen
                *exhausted = true;
                return KDT_OK;
            }
            start_segment(t, s, s->f);
        }
        if (t->n_cont == 0) {
            if (t->n == s->seg_start) {
                tuner_space_decode(t->space, NULL, s->combo, x);
                return KDT_OK;
            }
            s->in_segment = false;
            continue;
        }
        nlopt_opt o = make_opt(t, s);
        if (!o) return kdt_fail(KDT_ERR_NOMEM, "tuner: NLopt: out of memory");
        double u[TUNER_MAX_PARAMS], fmin = 0;
        memcpy(u, s->start, t->n_cont * sizeof *u);
        s->t = t, s->opt = o, s->calls = 0, s->have_new = false, s->diverged = false;
        nlopt_optimize(o, u, &fmin); // stopped by force_stop, converged or out of evaluations
        nlopt_destroy(o);
        if (s->diverged)
            return kdt_fail(KDT_ERR_NUMERIC, "tuner: NLopt replay diverged from the history (an "
                            "internal error: NLopt is expected to be deterministic)");
        if (s->have_new) {
            tuner_space_decode(t->space, s->unew, s->combo, x);
            return KDT_OK;
        }
        s->in_segment = false; // converged early or used its share: next segment
        if (t->n >= t->budget_eff) break;
    }
    *exhausted = true;
    return KDT_OK;
}

static void nl_destroy(void *state) {
    nlopt_state *s = state;
    if (s) free(s->f), free(s->tmp);
    free(s);
}

const strategy_ops strategy_nlopt_ops = {nl_create, nl_ask, NULL, nl_destroy};
