// The screen strategy: multi-fidelity screening in the manner of successive halving / BOHB, one
// rung. After the initial points (full evaluations), it spends part of the budget on screens,
// cheap evaluations at t->screen_fidelity, and the rest on full evaluations of the best screens by
// screened value, the top 1/SCREEN_ETA. The recommendation is the best full evaluation, never a
// screen (tuner_best).
// Screens are proposed BOHB-style by a Gaussian process (gp.h) fitted to everything told, with the
// fidelity as one more categorical input (its learned similarity is how much a screen says about
// the full objective), maximizing the log expected improvement of the full objective over Sobol
// candidates in every categorical combination; told screens are not proposed again.
// The split of the budget is planned from the budget alone, so the fidelity of every ask is known
// from the history (next_is_screen) and a replay asks the same things.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tuner/gp.h"
#include "tuner/strategy.h"

// SCREEN_ETA screens per full evaluation; measured in bench_tuner kd (bench/tuner/FIDELITY.md).
enum { SCREEN_ETA = 3, N_CAND = 128 };

typedef struct {
    tuner_gp *gp;
    strategy_sobol *design, *cand;
    double *U, *f; // (cap, n_cont), (cap)
    int *C;        // (cap, n_cat + 1): the categoricals, then the fidelity level (0 full, 1 screen)
} screen_state;

// The plan: screens and full evaluations after the initial points, within the budget left once
// the initial points and the final replicates are paid for.
static void plan(const tuner *t, size_t *n_screen, size_t *n_full) {
    double paid = (double)t->budget_eff - (double)t->n_init - (double)(t->rep_k * t->rep_r), c = t->screen_cost;
    *n_screen = *n_full = 0;
    if (paid < 1) return;
    *n_full = (size_t)floor(paid / (1 + SCREEN_ETA * c) + 1e-9);
    if (*n_full < 1) *n_full = 1;
    *n_screen = (size_t)floor((paid - (double)*n_full) / c + 1e-9);
}

static size_t n_screens(const tuner *t) {
    size_t s = 0;
    for (size_t i = 0; i < t->n; i++) s += t->fid[i] < 1;
    return s;
}

bool strategy_screen_next_is_screen(const tuner *t) {
    size_t n_screen, n_full;
    plan(t, &n_screen, &n_full);
    return t->n >= t->n_init && n_screens(t) < n_screen;
}

static void screen_destroy(void *state) {
    screen_state *s = state;
    if (!s) return;
    tuner_gp_destroy(s->gp);
    strategy_sobol_destroy(s->design);
    strategy_sobol_destroy(s->cand);
    free(s->U), free(s->f), free(s->C);
    free(s);
}

static kdt_status screen_create(tuner *t, void **state) {
    screen_state *s = calloc(1, sizeof *s);
    if (!s) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    *state = s;
    size_t d = t->n_cont + t->n_cat;
    if (d == 0) return KDT_OK;
    s->gp = tuner_gp_create(t->cap, t->n_cont, t->n_cat + 1);
    s->design = strategy_sobol_create(d, t->seed, "tuner.screen.design");
    s->cand = t->n_cont ? strategy_sobol_create(t->n_cont, t->seed, "tuner.screen.candidates") : NULL;
    s->U = malloc((t->n_cont ? t->n_cont : 1) * t->cap * sizeof *s->U);
    s->f = malloc(t->cap * sizeof *s->f);
    s->C = malloc((t->n_cat + 1) * t->cap * sizeof *s->C);
    if (!s->gp || !s->design || (t->n_cont && !s->cand) || !s->U || !s->f || !s->C)
        return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for the screening model");
    return KDT_OK;
}

// Whether (u, c) is a told screen (the same point screened twice teaches nothing).
static bool screened(const tuner *t, const screen_state *s, const double *u, const int *c) {
    size_t k = t->n_cat + 1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->fid[i] == 1 || memcmp(s->C + i * k, c, t->n_cat * sizeof *c)) continue;
        double dist = 0;
        for (size_t j = 0; j < t->n_cont; j++) dist = fmax(dist, fabs(s->U[i * t->n_cont + j] - u[j]));
        if (dist < 1e-3) return true;
    }
    return false;
}

// The next screen: the candidate of largest log EI of the full objective under the model.
static kdt_status propose_screen(tuner *t, screen_state *s, double *x) {
    size_t k = t->n_cat + 1, n_full = 0;
    strategy_objectives(t, s->f);
    for (size_t i = 0; i < t->n; i++) {
        tuner_space_encode(t->space, t->X + i * t->np, s->U + i * t->n_cont, s->C + i * k);
        s->C[i * k + t->n_cat] = t->fid[i] < 1;
        n_full += t->fid[i] == 1;
    }
    if (t->n < 2 || n_full == 0) { // no model yet: space-filling
        double v[40];
        strategy_sobol_point(s->design, n_screens(t), v);
        tuner_space_decode_cube(t->space, v, x);
        return KDT_OK;
    }
    rng r = rng_stream(t->seed, "tuner.screen.fit", t->n, 0);
    kdt_status st = tuner_gp_fit(s->gp, s->U, s->C, s->f, t->n, &r);
    if (st) return st;
    double best = INFINITY, m, v;
    for (size_t i = 0; i < t->n; i++) {
        if (t->fid[i] < 1) continue;
        tuner_gp_predict(s->gp, s->U + i * t->n_cont, s->C + i * k, &m, &v);
        if (m < best) best = m;
    }
    size_t nc = tuner_space_n_combos(t->space);
    double best_acq = -INFINITY, u[TUNER_MAX_PARAMS] = {0}, ub[TUNER_MAX_PARAMS] = {0};
    int c[TUNER_MAX_PARAMS + 1] = {0}, cb[TUNER_MAX_PARAMS + 1] = {0};
    for (size_t q = 0; q < nc; q++) {
        tuner_space_combo(t->space, q, c);
        c[t->n_cat] = 0; // the full objective
        for (size_t j = 0; j < (t->n_cont ? N_CAND : 1); j++) {
            if (t->n_cont) strategy_sobol_point(s->cand, (t->n * N_CAND + j) % 65536, u);
            if (screened(t, s, u, c)) continue;
            tuner_gp_predict(s->gp, u, c, &m, &v);
            double a = tuner_gp_log_ei(m, v, best);
            if (a > best_acq) {
                best_acq = a;
                memcpy(ub, u, t->n_cont * sizeof *u);
                memcpy(cb, c, t->n_cat * sizeof *c);
            }
        }
    }
    if (!isfinite(best_acq)) { // every candidate screened: space-filling
        double w[40];
        strategy_sobol_point(s->design, n_screens(t), w);
        tuner_space_decode_cube(t->space, w, x);
        return KDT_OK;
    }
    tuner_space_decode(t->space, ub, cb, x);
    return KDT_OK;
}

// The best screen by screened value not yet evaluated in full (failures last); false if none.
static bool promote(const tuner *t, double *x) {
    size_t b = t->n;
    for (size_t i = 0; i < t->n; i++) {
        if (t->fid[i] == 1) continue;
        bool done = false;
        for (size_t j = 0; j < t->n && !done; j++)
            done = t->fid[j] == 1 && !memcmp(t->X + j * t->np, t->X + i * t->np, t->np * sizeof *t->X);
        if (done) continue;
        double vi = t->goal == TUNER_MAXIMIZE ? -t->y[i] : t->y[i];
        double vb = b == t->n ? NAN : t->goal == TUNER_MAXIMIZE ? -t->y[b] : t->y[b];
        if (b == t->n || (isfinite(vi) && (!isfinite(vb) || vi < vb))) b = i;
    }
    if (b == t->n) return false;
    memcpy(x, t->X + b * t->np, t->np * sizeof *x);
    return true;
}

static kdt_status screen_ask(tuner *t, void *state, double *x, bool *exhausted) {
    screen_state *s = state;
    if (t->n < t->n_init) {
        memcpy(x, t->init + t->n * t->np, t->np * sizeof *x);
        return KDT_OK;
    }
    if (t->n_cont + t->n_cat == 0) { // everything fixed: the one point, in full
        tuner_space_decode(t->space, NULL, NULL, x);
        return KDT_OK;
    }
    size_t n_screen, n_full;
    plan(t, &n_screen, &n_full);
    if (n_screens(t) < n_screen) return propose_screen(t, s, x);
    size_t full_after = t->n - t->n_init - n_screens(t);
    if (full_after >= n_full) { // the plan is spent (what is left goes to final replicates)
        *exhausted = true;
        return KDT_OK;
    }
    if (promote(t, x)) return KDT_OK;
    double v[40]; // fewer screens than full evaluations (a tiny budget): space-filling, in full
    strategy_sobol_point(s->design, n_screens(t) + full_after, v);
    tuner_space_decode_cube(t->space, v, x);
    return KDT_OK;
}

const strategy_ops strategy_screen_ops = {screen_create, screen_ask, NULL, screen_destroy};
