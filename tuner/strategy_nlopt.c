// The NLopt strategies (BOBYQA, COBYLA, Nelder-Mead, Sbplx, DIRECT-L) on the free continuous
// parameters, scaled to the unit cube, with the categorical combinations handled explicitly by a
// bandit: successive halving over "arms", one NLopt run per combination. Round 0 gives every
// combination an equal share of the round's budget (at least its start point); each later round
// keeps the better half of the combinations (by their best value so far) and lets their runs
// continue with a larger allotment; the last combination standing gets everything left. A run
// that converges before its allotment is used frees it; when every surviving run has converged,
// a restart from a seeded random point in the best combination takes the rest of the budget.
// Without categoricals this is one NLopt run (plus restarts) with the whole budget.
//
// NLopt drives its objective by callback; ask/tell needs the opposite. We turn one into the other
// by deterministic replay: each ask re-runs the chosen arm's NLopt run from its start, answering
// the evaluations it has already had from the history, and stops NLopt (nlopt_force_stop) at the
// first evaluation it has not seen: that point is the suggestion. The alternative, NLopt on its
// own thread blocked in the callback, keeps a live thread per tuner (and per arm), cannot be
// saved to or restored from a journal, and makes destroy-while-waiting delicate; replay costs only
// NLopt's own arithmetic (microseconds per replayed evaluation, nothing next to an expensive
// objective), is single-threaded, lets an arm pause and continue (NLopt's steps do not depend on
// its evaluation limit), and makes a journal replay exact. Every replayed point is checked
// against the history, so a divergence is an error, never a silent mix-up.
#include "common/check.h"
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tuner/strategy.h"

typedef struct {
    int combo[TUNER_MAX_PARAMS];
    double start[TUNER_MAX_PARAMS]; // (n_cont) in the unit cube
    size_t n_evals, allot;
    bool converged;
    double best;
} arm;

typedef struct {
    nlopt_algorithm alg;
    size_t n_combos;
    arm *arms;            // (n_combos + budget): one per combination, then restarts
    size_t n_arms;
    size_t *surv;         // (n_combos) surviving arms
    size_t n_surv, round, n_rounds, restarts;
    int *arm_of;          // (budget) the arm that proposed history point i
    double *f;            // (budget) objective values, frozen when first seen
    double *tmp;          // (budget)
    size_t *list;         // (budget) history indices of the arm being replayed
    size_t n_f;
    // replay scratch
    tuner *t;
    nlopt_opt opt;
    size_t calls, n_list;
    const int *combo;
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
    default: KDT_ASSERT(0 && "not an NLopt strategy"); return NLOPT_LN_BOBYQA;
    }
}

static void nl_destroy(void *state) {
    nlopt_state *s = state;
    if (!s) return;
    free(s->arms), free(s->surv), free(s->arm_of), free(s->f), free(s->tmp), free(s->list);
    free(s);
}

static size_t ceil_log2(size_t n) {
    size_t r = 0;
    while (((size_t)1 << r) < n) r++;
    return r;
}

static kdt_status nl_create(tuner *t, void **state) {
    nlopt_state *s = calloc(1, sizeof *s);
    if (!s) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    *state = s;
    size_t B = t->budget, C = tuner_space_n_combos(t->space);
    s->alg = algorithm_of(t->strategy);
    s->n_combos = C;
    s->arms = calloc(C + B, sizeof *s->arms);
    s->surv = malloc(C * sizeof *s->surv);
    s->arm_of = malloc(B * sizeof *s->arm_of);
    s->f = malloc(B * sizeof *s->f);
    s->tmp = malloc(B * sizeof *s->tmp);
    s->list = malloc(B * sizeof *s->list);
    if (!s->arms || !s->surv || !s->arm_of || !s->f || !s->tmp || !s->list)
        return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    // One arm per combination, the first initial point's combination first, all starting from the
    // first initial point's continuous values (or the centre).
    double u0[TUNER_MAX_PARAMS];
    size_t first = 0;
    for (size_t j = 0; j < t->n_cont; j++) u0[j] = 0.5;
    if (t->n_init) {
        int c[TUNER_MAX_PARAMS];
        tuner_space_encode(t->space, t->init, u0, c);
        first = tuner_space_combo_index(t->space, c);
    }
    for (size_t k = 0; k < C; k++) {
        arm *a = &s->arms[k];
        tuner_space_combo(t->space, (first + k) % C, a->combo);
        memcpy(a->start, u0, t->n_cont * sizeof *u0);
        a->best = INFINITY;
        s->surv[k] = k;
    }
    s->n_arms = s->n_surv = C;
    s->n_rounds = C > 1 ? ceil_log2(C) + 1 : 1;
    return KDT_OK;
}

// Starts the next round of successive halving: keep the better half (by best value), and add the
// round's budget to the survivors' allotments; the last round gives everything left.
static void next_round(tuner *t, nlopt_state *s) {
    if (s->round > 0 && s->n_surv > 1) {
        for (size_t i = 1; i < s->n_surv; i++) // insertion sort by best value, stable
            for (size_t j = i; j > 0 && s->arms[s->surv[j]].best < s->arms[s->surv[j - 1]].best; j--) {
                size_t tmp = s->surv[j];
                s->surv[j] = s->surv[j - 1], s->surv[j - 1] = tmp;
            }
        s->n_surv = (s->n_surv + 1) / 2;
    }
    size_t left = t->budget_eff - t->n;
    if (s->n_surv == 1 || s->round + 1 >= s->n_rounds) {
        size_t share = left / s->n_surv, extra = left % s->n_surv;
        for (size_t i = 0; i < s->n_surv; i++)
            s->arms[s->surv[i]].allot = s->arms[s->surv[i]].n_evals + share + (i < extra);
    } else {
        size_t per_round = t->budget_eff / s->n_rounds, share = per_round / s->n_surv;
        if (share < 1) share = 1;
        for (size_t i = 0; i < s->n_surv; i++) s->arms[s->surv[i]].allot += share;
    }
    s->round++;
}

// A restart: a new arm in the best combination from a seeded random point, with all that is left.
static void restart(tuner *t, nlopt_state *s) {
    size_t b = 0;
    for (size_t i = 1; i < t->n; i++)
        if (s->f[i] < s->f[b]) b = i;
    arm *a = &s->arms[s->n_arms];
    tuner_space_encode(t->space, t->X + b * t->np, NULL, a->combo);
    rng r = rng_stream(t->seed, "tuner.nlopt.restart", s->restarts++, 0);
    for (size_t j = 0; j < t->n_cont; j++) a->start[j] = rng_uniform(&r);
    a->best = INFINITY, a->n_evals = 0, a->converged = false;
    a->allot = t->budget_eff - t->n;
    s->surv[0] = s->n_arms++;
    s->n_surv = 1;
}

static double replay_objective(unsigned n, const double *u, double *grad, void *data) {
    (void)grad;
    nlopt_state *s = data;
    tuner *t = s->t;
    size_t k = s->calls++;
    if (k < s->n_list) {
        double x[TUNER_MAX_PARAMS];
        size_t i = s->list[k];
        tuner_space_decode(t->space, u, s->combo, x);
        if (memcmp(x, t->X + i * t->np, t->np * sizeof *x)) s->diverged = true;
        return s->f[i];
    }
    // Some algorithms (DIRECT) evaluate a batch before they look at the stop flag: the first new
    // point is the suggestion, the rest of the batch is answered with a dummy and thrown away.
    if (s->have_new) return 0.0;
    memcpy(s->unew, u, n * sizeof *u);
    s->have_new = true;
    nlopt_force_stop(s->opt);
    return 0.0;
}

// Replays arm a; true with the suggestion in s->unew, false when its run has converged.
static kdt_status play(tuner *t, nlopt_state *s, size_t a, bool *got) {
    arm *ar = &s->arms[a];
    s->n_list = 0;
    for (size_t i = 0; i < t->n; i++)
        if (s->arm_of[i] == (int)a) s->list[s->n_list++] = i;
    KDT_ASSERT(s->n_list == ar->n_evals && ar->n_evals < ar->allot);
    unsigned d = (unsigned)t->n_cont;
    nlopt_opt o = nlopt_create(s->alg, d);
    if (!o) return kdt_fail(KDT_ERR_NOMEM, "tuner: NLopt: out of memory");
    double lo[TUNER_MAX_PARAMS], hi[TUNER_MAX_PARAMS], u[TUNER_MAX_PARAMS], fmin = 0;
    for (unsigned j = 0; j < d; j++) lo[j] = 0, hi[j] = 1;
    nlopt_set_lower_bounds(o, lo);
    nlopt_set_upper_bounds(o, hi);
    nlopt_set_min_objective(o, replay_objective, s);
    nlopt_set_maxeval(o, (int)ar->allot);
    nlopt_set_xtol_abs1(o, 1e-6);
    if (s->alg != NLOPT_GN_DIRECT_L) nlopt_set_initial_step1(o, 0.2);
    memcpy(u, ar->start, d * sizeof *u);
    s->t = t, s->opt = o, s->calls = 0, s->combo = ar->combo, s->have_new = false, s->diverged = false;
    nlopt_optimize(o, u, &fmin); // stopped by force_stop, converged, or out of evaluations
    nlopt_destroy(o);
    if (s->diverged)
        return kdt_fail(KDT_ERR_NUMERIC, "tuner: the NLopt replay of %s diverged from the history "
                        "(an internal error: NLopt is expected to be deterministic)",
                        tuner_strategy_name(t->strategy));
    *got = s->have_new;
    return KDT_OK;
}

static kdt_status nl_ask(tuner *t, void *state, double *x, bool *exhausted) {
    nlopt_state *s = state;
    if (s->n_f < t->n) { // account the new results (failure imputation moves with new data)
        strategy_objectives(t, s->tmp);
        for (size_t i = s->n_f; i < t->n; i++) {
            arm *a = &s->arms[s->arm_of[i]];
            s->f[i] = s->tmp[i];
            a->n_evals++;
            if (s->f[i] < a->best) a->best = s->f[i];
        }
        s->n_f = t->n;
    }
    // Bounded: each pass either proposes, marks an arm converged, starts a round or restarts.
    for (size_t guard = 0; guard < 4 * (s->n_combos + t->budget) + 16; guard++) {
        size_t a = (size_t)-1;
        bool any_open = false;
        for (size_t i = 0; i < s->n_surv; i++) {
            arm *ar = &s->arms[s->surv[i]];
            if (ar->converged) continue;
            any_open = true;
            if (ar->n_evals < ar->allot) {
                a = s->surv[i];
                break;
            }
        }
        if (a == (size_t)-1) {
            if (any_open && (s->n_surv > 1 || s->round < s->n_rounds)) next_round(t, s);
            else if (t->n_cont == 0) break; // every combination seen: nothing more to learn
            else restart(t, s);
            continue;
        }
        arm *ar = &s->arms[a];
        if (t->n_cont == 0) { // no continuous part: an arm is its one point
            if (ar->n_evals > 0) {
                ar->converged = true;
                continue;
            }
            tuner_space_decode(t->space, NULL, ar->combo, x);
            s->arm_of[t->n] = (int)a;
            return KDT_OK;
        }
        bool got = false;
        kdt_status st = play(t, s, a, &got);
        if (st) return st;
        if (!got) {
            ar->converged = true;
            continue;
        }
        tuner_space_decode(t->space, s->unew, ar->combo, x);
        s->arm_of[t->n] = (int)a;
        return KDT_OK;
    }
    *exhausted = true;
    return KDT_OK;
}

const strategy_ops strategy_nlopt_ops = {nl_create, nl_ask, NULL, nl_destroy};
