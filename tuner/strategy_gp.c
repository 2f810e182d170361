// The gp strategy: Bayesian optimization with the Gaussian-process model of gp.c.
// Order of evaluations: the initial points (e.g. the default setting), then a scrambled Sobol
// design over all free dimensions, then, at each ask, a refit of the model on everything told and
// the maximizer of the log expected improvement, searched for each categorical combination by
// many starts (Sobol candidates and perturbations of the best points) and a local polish with
// NLopt. The recommendation is the told point with the best posterior mean.
// gp_transfer is the same strategy with the Sobol design replaced by one point chosen from earlier
// tasks' observations (see prior_seed), the model taking over right after it; without them it is
// gp, suggestion for suggestion.
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rng.h"
#include "tuner/gp.h"
#include "tuner/strategy.h"

enum { N_SOBOL_CAND = 128, N_PERTURB_CENTRES = 5, N_PERTURB = 8, N_POLISH = 2, POLISH_EVALS = 40 };

typedef struct {
    tuner_gp *gp;
    tuner_gp *gp_rec;       // a separate model for tuner_recommend, so that asking for a
                            // recommendation never changes the warm starts of the ask chain
    size_t rec_n;
    strategy_sobol *design; // over all free dimensions
    strategy_sobol *cand;   // over the free continuous dimensions
    size_t n_design, fitted_n;
    double *U;              // (budget, n_cont)
    int *C;                 // (budget, n_cat)
    double *f;              // (budget)
    double *cu;             // (n_cand, n_cont) candidates
    double *cv;             // (n_cand) their log EI
    size_t n_cand_cap;
    // acquisition scratch
    int combo[TUNER_MAX_PARAMS];
    double best;
} gp_state;

static void gp_destroy_state(void *state) {
    gp_state *s = state;
    if (!s) return;
    tuner_gp_destroy(s->gp);
    tuner_gp_destroy(s->gp_rec);
    strategy_sobol_destroy(s->design);
    strategy_sobol_destroy(s->cand);
    free(s->U), free(s->C), free(s->f), free(s->cu), free(s->cv);
    free(s);
}

static kdt_status gp_create(tuner *t, void **state) {
    gp_state *s = calloc(1, sizeof *s);
    if (!s) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    *state = s;
    size_t d = t->n_cont + t->n_cat, B = t->budget;
    if (d == 0) return KDT_OK; // everything fixed: the initial points, then the one point
    s->n_design = t->n_design;
    if (!s->n_design) {
        size_t lo = d + 2 < 4 ? 4 : d + 2, hi = B / 3 < 2 ? 2 : B / 3;
        s->n_design = lo < hi ? lo : hi;
    }
    s->n_cand_cap = N_SOBOL_CAND + N_PERTURB_CENTRES * N_PERTURB;
    s->gp = tuner_gp_create(B, t->n_cont, t->n_cat);
    s->gp_rec = tuner_gp_create(B, t->n_cont, t->n_cat);
    s->design = strategy_sobol_create(d, t->seed, "tuner.gp.design");
    s->cand = t->n_cont ? strategy_sobol_create(t->n_cont, t->seed, "tuner.gp.candidates") : NULL;
    s->U = malloc((t->n_cont ? t->n_cont : 1) * B * sizeof *s->U);
    s->C = malloc((t->n_cat ? t->n_cat : 1) * B * sizeof *s->C);
    s->f = malloc(B * sizeof *s->f);
    s->cu = malloc((t->n_cont ? t->n_cont : 1) * s->n_cand_cap * sizeof *s->cu);
    s->cv = malloc(s->n_cand_cap * sizeof *s->cv);
    if (!s->gp || !s->gp_rec || !s->design || (t->n_cont && !s->cand) || !s->U || !s->C || !s->f || !s->cu ||
        !s->cv)
        return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for the Gaussian process");
    return KDT_OK;
}

// Refits the model on everything told (once per history length).
static kdt_status refit(tuner *t, gp_state *s) {
    if (s->fitted_n == t->n) return KDT_OK;
    strategy_objectives(t, s->f);
    for (size_t i = 0; i < t->n; i++)
        tuner_space_encode(t->space, t->X + i * t->np, s->U + i * t->n_cont, s->C + i * t->n_cat);
    rng r = rng_stream(t->seed, "tuner.gp.fit", t->n, 0);
    kdt_status st = tuner_gp_fit(s->gp, s->U, s->C, s->f, t->n, &r);
    if (st) return st;
    s->fitted_n = t->n;
    return KDT_OK;
}

static double acq(gp_state *s, const double *u) {
    double m, v;
    tuner_gp_predict(s->gp, u, s->combo, &m, &v);
    return tuner_gp_log_ei(m, v, s->best);
}

static double polish_objective(unsigned n, const double *u, double *grad, void *data) {
    (void)n, (void)grad;
    return -acq(data, u);
}

// The best log EI over the continuous dimensions for the combination in s->combo: u (n_cont).
static double maximize_combo(tuner *t, gp_state *s, rng *r, double *u_best) {
    size_t dc = t->n_cont, m = 0;
    for (size_t k = 0; k < N_SOBOL_CAND; k++, m++)
        strategy_sobol_point(s->cand, (t->n * N_SOBOL_CAND + k) % 65536, s->cu + m * dc);
    // Perturbations of the best told points (of any combination: the continuous optimum often
    // carries over) keep the search close to where improvement is likely.
    size_t order[N_PERTURB_CENTRES], no = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t pos = no < N_PERTURB_CENTRES ? no++ : N_PERTURB_CENTRES;
        if (pos == N_PERTURB_CENTRES) {
            if (!(s->f[i] < s->f[order[no - 1]])) continue;
            pos = no - 1;
        }
        while (pos > 0 && s->f[i] < s->f[order[pos - 1]]) order[pos] = order[pos - 1], pos--;
        order[pos] = i;
    }
    for (size_t a = 0; a < no; a++)
        for (size_t k = 0; k < N_PERTURB; k++, m++)
            for (size_t j = 0; j < dc; j++) {
                double v = s->U[order[a] * dc + j] + (k < N_PERTURB / 2 ? 0.02 : 0.1) * rng_normal(r);
                s->cu[m * dc + j] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
    for (size_t k = 0; k < m; k++) s->cv[k] = acq(s, s->cu + k * dc);
    // Polish the best few with a local derivative-free search on the smooth log EI.
    double best = -INFINITY;
    nlopt_opt o = nlopt_create(dc >= 2 ? NLOPT_LN_BOBYQA : NLOPT_LN_SBPLX, (unsigned)dc);
    double lo[TUNER_MAX_PARAMS] = {0}, hi[TUNER_MAX_PARAMS];
    for (size_t j = 0; j < dc; j++) hi[j] = 1;
    if (o) {
        nlopt_set_lower_bounds(o, lo);
        nlopt_set_upper_bounds(o, hi);
        nlopt_set_min_objective(o, polish_objective, s);
        nlopt_set_maxeval(o, POLISH_EVALS);
        nlopt_set_initial_step1(o, 0.02);
        nlopt_set_xtol_abs1(o, 1e-5);
    }
    for (size_t p = 0; p < N_POLISH && p < m; p++) {
        size_t b = 0;
        for (size_t k = 1; k < m; k++)
            if (s->cv[k] > s->cv[b]) b = k;
        double u[TUNER_MAX_PARAMS], v = s->cv[b];
        memcpy(u, s->cu + b * dc, dc * sizeof *u);
        s->cv[b] = -INFINITY;
        if (o) {
            double fmin;
            if (nlopt_optimize(o, u, &fmin) > 0 && -fmin > v) v = -fmin;
            else memcpy(u, s->cu + b * dc, dc * sizeof *u);
        }
        if (v > best) best = v, memcpy(u_best, u, dc * sizeof *u);
    }
    if (o) nlopt_destroy(o);
    return best;
}

// Whether (u, c) lies within 1e-3 (unit cube, max norm) of a told point of the same combination.
static bool near_told(const tuner *t, const gp_state *s, const double *u, const int *c) {
    for (size_t i = 0; i < t->n; i++) {
        if (memcmp(s->C + i * t->n_cat, c, t->n_cat * sizeof *c)) continue;
        double d = 0;
        for (size_t j = 0; j < t->n_cont; j++) d = fmax(d, fabs(s->U[i * t->n_cont + j] - u[j]));
        if (d < 1e-3) return true;
    }
    return false;
}

// The Sobol candidate (over every combination) with the largest posterior variance.
static double explore(tuner *t, gp_state *s, double *ub, int *cb) {
    size_t nc = tuner_space_n_combos(t->space);
    double best = -INFINITY, u[TUNER_MAX_PARAMS] = {0};
    for (size_t k = 0; k < nc; k++) {
        tuner_space_combo(t->space, k, s->combo);
        for (size_t q = 0; q < (t->n_cont ? N_SOBOL_CAND : 1); q++) {
            if (t->n_cont) strategy_sobol_point(s->cand, (t->n * N_SOBOL_CAND + q) % 65536, u);
            double m, v;
            tuner_gp_predict(s->gp, u, s->combo, &m, &v);
            if (v > best) {
                best = v;
                memcpy(ub, u, t->n_cont * sizeof *u);
                memcpy(cb, s->combo, t->n_cat * sizeof *cb);
            }
        }
    }
    return best;
}

// The earlier tasks' standardized value near (u, c): a Nadaraya-Watson average of their
// observations of the same combination (Gaussian weights, bandwidth PRIOR_BANDWIDTH on the unit
// cube) shrunk toward 0 (an average point) by a pseudo-observation of weight 1, so that a region
// seen once, or never, does not look better than it is.
enum { PRIOR_CAND = 64 };
static const double PRIOR_BANDWIDTH = 0.1, PRIOR_EXCLUDE = 0.1;

static double prior_mean(const tuner *t, const double *u, const int *c) {
    double sw = 1, swz = 0;
    for (size_t i = 0; i < t->n_prior; i++) {
        if (memcmp(t->prior_c + i * t->n_cat, c, t->n_cat * sizeof *c)) continue;
        double d2 = 0;
        for (size_t j = 0; j < t->n_cont; j++) {
            double d = t->prior_u[i * t->n_cont + j] - u[j];
            d2 += d * d;
        }
        double w = exp(-d2 / (2 * PRIOR_BANDWIDTH * PRIOR_BANDWIDTH));
        sw += w, swz += w * t->prior_z[i];
    }
    return swz / sw;
}

// Whether (u, c) lies within PRIOR_EXCLUDE (max norm) of a told point of the same combination.
static bool prior_near_told(const tuner *t, const double *u, const int *c) {
    double ut[TUNER_MAX_PARAMS];
    int ct[TUNER_MAX_PARAMS];
    for (size_t i = 0; i < t->n; i++) {
        tuner_space_encode(t->space, t->X + i * t->np, ut, ct);
        if (memcmp(ct, c, t->n_cat * sizeof *c)) continue;
        double d = 0;
        for (size_t j = 0; j < t->n_cont; j++) d = fmax(d, fabs(ut[j] - u[j]));
        if (d < PRIOR_EXCLUDE || t->n_cont == 0) return true;
    }
    return false;
}

// A design point from the earlier tasks: the candidate (their observed points, and Sobol points
// in every combination) with the lowest prior_mean that is not near a told point. Greedy and
// deterministic; false when every candidate is near a told point.
static bool prior_seed(tuner *t, gp_state *s, double *x) {
    // (Measured against anchoring the prior's shape on this task's nearest told point per
    // combination: that was worse at 3 and 7 paid evaluations; bench/tuner/README.md.)
    double best = INFINITY, ub[TUNER_MAX_PARAMS] = {0}, u[TUNER_MAX_PARAMS] = {0};
    int cb[TUNER_MAX_PARAMS] = {0}, cc[TUNER_MAX_PARAMS] = {0};
    size_t nc = tuner_space_n_combos(t->space), n_sobol = t->n_cont ? PRIOR_CAND : 1;
    for (size_t k = 0; k < t->n_prior + nc * n_sobol; k++) {
        const double *uk = u;
        const int *ck = cc;
        if (k < t->n_prior) {
            uk = t->prior_u + k * t->n_cont, ck = t->prior_c + k * t->n_cat;
        } else {
            size_t q = k - t->n_prior;
            tuner_space_combo(t->space, q / n_sobol, cc);
            if (t->n_cont) strategy_sobol_point(s->cand, q % n_sobol, u);
        }
        double m = prior_mean(t, uk, ck);
        if (m < best && !prior_near_told(t, uk, ck)) {
            best = m;
            memcpy(ub, uk, t->n_cont * sizeof *ub);
            memcpy(cb, ck, t->n_cat * sizeof *cb);
        }
    }
    if (!isfinite(best)) return false;
    tuner_space_decode(t->space, ub, cb, x);
    return true;
}

static kdt_status gp_ask(tuner *t, void *state, double *x, bool *exhausted) {
    gp_state *s = state;
    (void)exhausted;
    if (t->n < t->n_init) {
        memcpy(x, t->init + t->n * t->np, t->np * sizeof *x);
        return KDT_OK;
    }
    size_t d = t->n_cont + t->n_cat;
    if (d == 0) {
        tuner_space_decode(t->space, NULL, NULL, x);
        return KDT_OK;
    }
    // With earlier tasks, one design point: their best region. A longer design spends evaluations
    // the initial points and the model already cover (bench/tuner/README.md, "Choosing
    // gp_transfer's mechanism").
    size_t n_design = t->n_prior ? 1 : s->n_design;
    if (t->n < t->n_init + n_design || t->n < 2) {
        if (t->n_prior && prior_seed(t, s, x)) return KDT_OK;
        double v[40];
        strategy_sobol_point(s->design, t->n - t->n_init, v);
        tuner_space_decode_cube(t->space, v, x);
        return KDT_OK;
    }
    kdt_status st = refit(t, s);
    if (st) return st;
    // The incumbent: the best posterior mean among told points (robust to noise).
    s->best = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        double m, v;
        tuner_gp_predict(s->gp, s->U + i * t->n_cont, s->C + i * t->n_cat, &m, &v);
        if (m < s->best) s->best = m;
    }
    rng r = rng_stream(t->seed, "tuner.gp.acq", t->n, 0);
    size_t nc = tuner_space_n_combos(t->space);
    double best = -INFINITY, ub[TUNER_MAX_PARAMS] = {0}, u[TUNER_MAX_PARAMS] = {0};
    int cb[TUNER_MAX_PARAMS] = {0};
    for (size_t k = 0; k < nc; k++) {
        tuner_space_combo(t->space, k, s->combo);
        double v = t->n_cont ? maximize_combo(t, s, &r, u) : acq(s, u);
        if (v > best) {
            best = v;
            memcpy(ub, u, t->n_cont * sizeof *u);
            memcpy(cb, s->combo, t->n_cat * sizeof *cb);
        }
    }
    // EI with an overconfident model can propose (nearly) a told point again and again; a near
    // duplicate teaches nothing in a deterministic objective, so take the candidate of largest
    // posterior variance instead (pure exploration for one step).
    if (near_told(t, s, ub, cb)) {
        best = explore(t, s, ub, cb);
        log_debug("tuner gp: evaluation %zu: EI proposed a told point; exploring instead", t->n);
    }
    tuner_space_decode(t->space, ub, cb, x);
    if (log_enabled(LOG_DEBUG)) {
        char buf[512];
        int len = snprintf(buf, sizeof buf, "noise %.3g, length scales", tuner_gp_noise(s->gp));
        for (size_t j = 0; j < t->n_cont && len < 400; j++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, " %.3g", tuner_gp_lengthscale(s->gp, j));
        len += snprintf(buf + len, sizeof buf - (size_t)len, ", similarities");
        for (size_t k = 0; k < t->n_cat && len < 480; k++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, " %.3g", tuner_gp_similarity(s->gp, k));
        log_debug("tuner gp: evaluation %zu, log EI %.3g, %s", t->n, best, buf);
    }
    return KDT_OK;
}

static kdt_status gp_recommend(tuner *t, void *state, size_t *index) {
    gp_state *s = state;
    *index = 0;
    if (t->n < 2 || t->n_cont + t->n_cat == 0) { // no model: the best told
        for (size_t i = 1; i < t->n; i++)
            if (isfinite(t->y[i]) && (!isfinite(t->y[*index]) ||
                                      (t->goal == TUNER_MAXIMIZE ? t->y[i] > t->y[*index]
                                                                 : t->y[i] < t->y[*index])))
                *index = i;
        return KDT_OK;
    }
    strategy_objectives(t, s->f);
    for (size_t i = 0; i < t->n; i++)
        tuner_space_encode(t->space, t->X + i * t->np, s->U + i * t->n_cont, s->C + i * t->n_cat);
    if (s->rec_n != t->n) {
        rng r = rng_stream(t->seed, "tuner.gp.recommend", t->n, 0);
        kdt_status st = tuner_gp_fit(s->gp_rec, s->U, s->C, s->f, t->n, &r);
        if (st) return st;
        s->rec_n = t->n;
    }
    double best = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        if (!isfinite(t->y[i])) continue; // never recommend a failed evaluation
        double m, v;
        tuner_gp_predict(s->gp_rec, s->U + i * t->n_cont, s->C + i * t->n_cat, &m, &v);
        if (m < best) best = m, *index = i;
    }
    return KDT_OK;
}

const strategy_ops strategy_gp_ops = {gp_create, gp_ask, gp_recommend, gp_destroy_state};
