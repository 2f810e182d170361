// The Gaussian-process model: kernel, MAP fit of the hyper-parameters with analytic gradients,
// posterior prediction, and the log expected improvement.
//
// Data: inputs in the unit cube (continuous) and choice indices (categorical); outputs
// standardized, warped by a Yeo-Johnson transform fitted by maximum likelihood, standardized
// again, so that the priors below are scale-free.
// Kernel: s2 (M52(r) + b) prod_k (e^-rate_k if the choices of k differ, else 1), r the ARD
// distance, plus the noise variance on the diagonal. The bias b lets each categorical combination
// have its own offset (the product expands into a shared part plus per-combination parts, each
// with its constant): without it a combination of the same shape moved up or down is poorly
// modelled.
// Hyper-parameters theta (p = dc + dk + 3), all on a log scale, in generous box bounds:
//   theta[j]            log length scale of continuous input j         prior N(log 0.4, 1.2^2)
//   theta[dc + k]       log rate of categorical k (similarity e^-rate)  prior N(0, 1.5^2)
//   theta[dc + dk]      log signal variance s2                          prior N(0, 1.5^2)
//   theta[dc + dk + 1]  log noise variance above the floor              prior N(-7, 3^2)
//   theta[dc + dk + 2]  log bias b (relative to s2)                     prior N(-1, 1.5^2)
// Fit: L-BFGS (NLopt) on the negative log posterior from the previous fit (warm start), from
// the prior's mode and from one draw of the prior; the best wins.
#include "tuner/gp.h"

#include "common/check.h"
#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <nlopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { GP_MAX_HYPER = 2 * 40 + 3 };
static const double NOISE_FLOOR = 1e-6; // in standardized units: keeps the Cholesky stable
static const double SQRT5 = 2.23606797749978969640;
static const double PI = 3.14159265358979323846;

struct tuner_gp {
    size_t max_n, dc, dk, p, n;
    double *U;    // (max_n, dc)
    int *C;       // (max_n, dk)
    double *ys;   // (max_n) standardized outputs
    double *D2;   // (dc, max_n, max_n) squared differences per continuous input
    double *K;    // (max_n, max_n) covariance, then its Cholesky factor L (lower)
    double *Ki;   // (max_n, max_n) inverse of K
    double *T;    // (max_n, max_n) scratch: L^-T
    double *alpha;// (max_n) K^-1 ys
    double *kv;   // (max_n) scratch for predictions
    double theta[GP_MAX_HYPER], lo[GP_MAX_HYPER], hi[GP_MAX_HYPER], mu[GP_MAX_HYPER], sd[GP_MAX_HYPER];
    bool fitted;
};

tuner_gp *tuner_gp_create(size_t max_n, size_t dc, size_t dk) {
    KDT_ASSERT(max_n >= 1 && dc + dk >= 1 && dc <= 40 && dk <= 40);
    gsl_set_error_handler_off(); // failures come back as status codes (Cholesky of a non-PD K)
    tuner_gp *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->max_n = max_n, g->dc = dc, g->dk = dk, g->p = dc + dk + 3;
    size_t nn = max_n * max_n;
    g->U = malloc((dc ? dc : 1) * max_n * sizeof *g->U);
    g->C = malloc((dk ? dk : 1) * max_n * sizeof *g->C);
    g->ys = malloc(max_n * sizeof *g->ys);
    g->D2 = malloc((dc ? dc : 1) * nn * sizeof *g->D2);
    g->K = malloc(nn * sizeof *g->K);
    g->Ki = malloc(nn * sizeof *g->Ki);
    g->T = malloc(nn * sizeof *g->T);
    g->alpha = malloc(max_n * sizeof *g->alpha);
    g->kv = malloc(max_n * sizeof *g->kv);
    if (!g->U || !g->C || !g->ys || !g->D2 || !g->K || !g->Ki || !g->T || !g->alpha || !g->kv) {
        tuner_gp_destroy(g);
        return NULL;
    }
    for (size_t j = 0; j < g->p; j++) {
        if (j < dc) g->mu[j] = log(0.4), g->sd[j] = 1.2, g->lo[j] = log(0.01), g->hi[j] = log(20.0);
        else if (j < dc + dk) g->mu[j] = 0, g->sd[j] = 1.5, g->lo[j] = -6, g->hi[j] = 6;
        else if (j == dc + dk) g->mu[j] = 0, g->sd[j] = 1.5, g->lo[j] = -6, g->hi[j] = 6;
        else if (j == dc + dk + 1) g->mu[j] = -7, g->sd[j] = 3, g->lo[j] = -25, g->hi[j] = 1;
        else g->mu[j] = -1, g->sd[j] = 1.5, g->lo[j] = -9, g->hi[j] = 3;
        g->theta[j] = g->mu[j];
    }
    return g;
}

void tuner_gp_destroy(tuner_gp *g) {
    if (!g) return;
    free(g->U), free(g->C), free(g->ys), free(g->D2), free(g->K), free(g->Ki), free(g->T), free(g->alpha);
    free(g->kv);
    free(g);
}

// Yeo-Johnson power transform of standardized values (monotone increasing for every lambda).
static double yeo_johnson(double y, double lam) {
    if (y >= 0) return fabs(lam) < 1e-9 ? log1p(y) : (pow(y + 1, lam) - 1) / lam;
    return fabs(lam - 2) < 1e-9 ? -log1p(-y) : -(pow(1 - y, 2 - lam) - 1) / (2 - lam);
}

static void standardize(double *y, size_t n) {
    double m = 0, v = 0;
    for (size_t a = 0; a < n; a++) m += y[a];
    m /= (double)n;
    for (size_t a = 0; a < n; a++) v += (y[a] - m) * (y[a] - m);
    double sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
    if (!(sd > 1e-12 * fmax(1, fabs(m)))) sd = 1;
    for (size_t a = 0; a < n; a++) y[a] = (y[a] - m) / sd;
}

// ys = standardize(yeo_johnson(standardize(f), lambda)) with lambda by maximum likelihood of a
// Gaussian on a grid over [-2, 2] (as HEBO does): objectives with a few huge values (the bowl
// of a test function, a diverged training run) otherwise swamp the differences near the optimum.
// Monotone, so the ranking of points, EI's incumbent and the recommendation keep their meaning.
static void output_warp(double *ys, const double *f, size_t n) {
    memcpy(ys, f, n * sizeof *f);
    standardize(ys, n);
    if (n < 3) return;
    double best_ll = -INFINITY, best_lam = 1;
    for (int k = 0; k <= 80; k++) {
        double lam = -2 + 0.05 * k, m = 0, v = 0, jac = 0;
        for (size_t a = 0; a < n; a++) m += yeo_johnson(ys[a], lam);
        m /= (double)n;
        for (size_t a = 0; a < n; a++) {
            double d = yeo_johnson(ys[a], lam) - m;
            v += d * d;
            jac += (ys[a] >= 0 ? 1 : -1) * log1p(fabs(ys[a]));
        }
        double ll = -0.5 * (double)n * log(v / (double)n + 1e-300) + (lam - 1) * jac;
        if (ll > best_ll) best_ll = ll, best_lam = lam;
    }
    for (size_t a = 0; a < n; a++) ys[a] = yeo_johnson(ys[a], best_lam);
    standardize(ys, n);
}

static double matern52(double r) { return (1 + SQRT5 * r + 5.0 / 3.0 * r * r) * exp(-SQRT5 * r); }

// Ki = (L L^T)^-1 (n, n), both triangles, from the lower factor L (n, n); T (n, n) scratch gets
// L^-T (upper), so that every inner loop runs along a row.
static void inverse_from_cholesky(double *Ki, double *T, const double *L, size_t n) {
    for (size_t j = 0; j < n; j++) {
        double *tj = T + j * n; // row j of L^-T = column j of L^-1
        tj[j] = 1 / L[j * n + j];
        for (size_t i = j + 1; i < n; i++) {
            double acc = 0;
            for (size_t k = j; k < i; k++) acc += L[i * n + k] * tj[k];
            tj[i] = -acc / L[i * n + i];
        }
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b <= a; b++) {
            const double *ta = T + a * n, *tb = T + b * n;
            double acc = 0;
            for (size_t k = a; k < n; k++) acc += ta[k] * tb[k];
            Ki[a * n + b] = Ki[b * n + a] = acc;
        }
}

// The negative log posterior of the hyper-parameters and its gradient (grad may be NULL).
// Leaves L in K, K^-1 in Ki (when grad) and alpha.
static double neg_log_posterior(tuner_gp *g, const double *th, double *grad) {
    size_t n = g->n, dc = g->dc, dk = g->dk;
    double il2[40], rate[40], s2 = exp(th[dc + dk]), en = exp(th[dc + dk + 1]);
    double bias = exp(th[dc + dk + 2]);
    double noise = NOISE_FLOOR + en;
    for (size_t j = 0; j < dc; j++) il2[j] = exp(-2 * th[j]);
    for (size_t k = 0; k < dk; k++) rate[k] = exp(th[dc + k]);
    double *K = g->K;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < a; b++) {
            double r2 = 0, lc = 0;
            for (size_t j = 0; j < dc; j++) r2 += g->D2[(j * n + a) * n + b] * il2[j];
            for (size_t k = 0; k < dk; k++)
                if (g->C[a * dk + k] != g->C[b * dk + k]) lc -= rate[k];
            K[a * n + b] = K[b * n + a] = s2 * (matern52(sqrt(r2)) + bias) * exp(lc);
        }
        K[a * n + a] = s2 * (1 + bias) + noise;
    }
    gsl_matrix_view Lv = gsl_matrix_view_array(K, n, n);
    if (gsl_linalg_cholesky_decomp1(&Lv.matrix) != GSL_SUCCESS) {
        if (grad) memset(grad, 0, g->p * sizeof *grad);
        return 1e30;
    }
    gsl_vector_const_view yv = gsl_vector_const_view_array(g->ys, n);
    gsl_vector_view av = gsl_vector_view_array(g->alpha, n);
    gsl_linalg_cholesky_solve(&Lv.matrix, &yv.vector, &av.vector);
    double quad = 0, logdet = 0;
    for (size_t a = 0; a < n; a++) quad += g->ys[a] * g->alpha[a], logdet += log(K[a * n + a]);
    double nlp = 0.5 * quad + logdet + 0.5 * (double)n * log(2 * PI);
    for (size_t j = 0; j < g->p; j++) {
        double z = (th[j] - g->mu[j]) / g->sd[j];
        nlp += 0.5 * z * z;
        if (grad) grad[j] = z / g->sd[j];
    }
    if (!grad) return nlp;

    // d nlp / d theta_j = 1/2 tr((K^-1 - alpha alpha^T) dK/dtheta_j), K^-1 = L^-T L^-1 from the
    // factor by plain loops: gsl_linalg_cholesky_invert goes through BLAS-3 calls whose rounding
    // depends on OpenBLAS's thread count, and the suggestions must not (journal replay).
    inverse_from_cholesky(g->Ki, g->T, K, n);
    const double *Ki = g->Ki, *al = g->alpha;
    double gs[GP_MAX_HYPER] = {0};
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < a; b++) {
            double w = 2 * (Ki[a * n + b] - al[a] * al[b]); // both triangles
            double r2 = 0, lc = 0, d2[40];
            for (size_t j = 0; j < dc; j++) r2 += d2[j] = g->D2[(j * n + a) * n + b] * il2[j];
            for (size_t k = 0; k < dk; k++)
                if (g->C[a * dk + k] != g->C[b * dk + k]) lc -= rate[k];
            double r = sqrt(r2), e = exp(-SQRT5 * r), cat = exp(lc);
            double ks = s2 * ((1 + SQRT5 * r + 5.0 / 3.0 * r2) * e + bias) * cat;
            double dl = s2 * cat * (5.0 / 3.0) * (1 + SQRT5 * r) * e; // times d2_j: d/d log l_j
            for (size_t j = 0; j < dc; j++) gs[j] += w * dl * d2[j];
            for (size_t k = 0; k < dk; k++)
                if (g->C[a * dk + k] != g->C[b * dk + k]) gs[dc + k] -= w * ks * rate[k];
            gs[dc + dk] += w * ks;
            gs[dc + dk + 2] += w * s2 * bias * cat;
        }
        double w = Ki[a * n + a] - al[a] * al[a];
        gs[dc + dk] += w * s2 * (1 + bias);
        gs[dc + dk + 1] += w * en;
        gs[dc + dk + 2] += w * s2 * bias;
    }
    for (size_t j = 0; j < g->p; j++) grad[j] += 0.5 * gs[j];
    return nlp;
}

static double nlopt_objective(unsigned p, const double *th, double *grad, void *data) {
    (void)p;
    return neg_log_posterior(data, th, grad);
}

// One L-BFGS run from th (updated in place); returns the value reached.
static double local_fit(tuner_gp *g, double *th) {
    nlopt_opt o = nlopt_create(NLOPT_LD_LBFGS, (unsigned)g->p);
    double v = 1e30;
    if (!o) return v;
    nlopt_set_lower_bounds(o, g->lo);
    nlopt_set_upper_bounds(o, g->hi);
    nlopt_set_min_objective(o, nlopt_objective, g);
    nlopt_set_maxeval(o, 60);
    nlopt_set_ftol_rel(o, 1e-7);
    nlopt_set_xtol_rel(o, 1e-5);
    if (nlopt_optimize(o, th, &v) < 0) v = neg_log_posterior(g, th, NULL);
    nlopt_destroy(o);
    return isfinite(v) ? v : 1e30;
}

kdt_status tuner_gp_fit(tuner_gp *g, const double *U, const int *C, const double *f, size_t n,
                        rng *r) {
    KDT_ASSERT(n >= 1 && n <= g->max_n);
    size_t dc = g->dc, dk = g->dk;
    g->n = n;
    if (dc) memcpy(g->U, U, n * dc * sizeof *U);
    if (dk) memcpy(g->C, C, n * dk * sizeof *C);
    output_warp(g->ys, f, n);
    for (size_t j = 0; j < dc; j++)
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++) {
                double d = U[a * dc + j] - U[b * dc + j];
                g->D2[(j * n + a) * n + b] = d * d;
            }

    // Starts: the previous fit (warm), the prior's mode, and one draw from the prior.
    double best[GP_MAX_HYPER], th[GP_MAX_HYPER], bestv = 1e30;
    double starts[3][GP_MAX_HYPER];
    size_t ns = 0;
    if (g->fitted) memcpy(starts[ns++], g->theta, g->p * sizeof(double));
    memcpy(starts[ns++], g->mu, g->p * sizeof(double));
    for (size_t j = 0; j < g->p; j++) {
        double x = g->mu[j] + g->sd[j] * rng_normal(r);
        starts[ns][j] = x < g->lo[j] ? g->lo[j] : x > g->hi[j] ? g->hi[j] : x;
    }
    ns++;
    for (size_t s = 0; s < ns; s++) {
        memcpy(th, starts[s], g->p * sizeof *th);
        double val = local_fit(g, th);
        if (val < bestv) bestv = val, memcpy(best, th, g->p * sizeof *th);
    }
    if (bestv >= 1e30) return kdt_fail(KDT_ERR_NUMERIC, "tuner: Gaussian-process fit failed: "
                                       "the covariance is not positive definite");
    memcpy(g->theta, best, g->p * sizeof *best);
    neg_log_posterior(g, g->theta, NULL); // leaves L and alpha of the chosen fit
    g->fitted = true;
    return KDT_OK;
}

void tuner_gp_predict(tuner_gp *g, const double *u, const int *c, double *mean, double *var) {
    size_t n = g->n, dc = g->dc, dk = g->dk;
    double il2[40], s2 = exp(g->theta[dc + dk]), bias = exp(g->theta[dc + dk + 2]), mu = 0;
    for (size_t j = 0; j < dc; j++) il2[j] = exp(-2 * g->theta[j]);
    for (size_t a = 0; a < n; a++) {
        double r2 = 0, lc = 0;
        for (size_t j = 0; j < dc; j++) {
            double d = u[j] - g->U[a * dc + j];
            r2 += d * d * il2[j];
        }
        for (size_t k = 0; k < dk; k++)
            if (g->C[a * dk + k] != c[k]) lc -= exp(g->theta[dc + k]);
        g->kv[a] = s2 * (matern52(sqrt(r2)) + bias) * exp(lc);
        mu += g->kv[a] * g->alpha[a];
    }
    // var = s2 - |L^-1 k|^2
    gsl_matrix_view Lv = gsl_matrix_view_array(g->K, n, n);
    gsl_vector_view kv = gsl_vector_view_array(g->kv, n);
    gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &Lv.matrix, &kv.vector);
    double q = 0;
    for (size_t a = 0; a < n; a++) q += g->kv[a] * g->kv[a];
    double vs = s2 * (1 + bias) - q;
    if (vs < 1e-12 * s2) vs = 1e-12 * s2;
    *mean = mu;
    *var = vs;
}

double tuner_gp_noise(const tuner_gp *g) {
    return (NOISE_FLOOR + exp(g->theta[g->dc + g->dk + 1]));
}

double tuner_gp_lengthscale(const tuner_gp *g, size_t j) {
    KDT_ASSERT(j < g->dc);
    return exp(g->theta[j]);
}

double tuner_gp_similarity(const tuner_gp *g, size_t k) {
    KDT_ASSERT(k < g->dk);
    return exp(-exp(g->theta[g->dc + k]));
}

size_t tuner_gp_n_hyper(const tuner_gp *g) { return g->p; }

double tuner_gp_objective(tuner_gp *g, const double *theta, double *grad) {
    KDT_ASSERT(g->n >= 1);
    return neg_log_posterior(g, theta, grad);
}

double tuner_gp_log_ei(double mean, double var, double best) {
    double s = sqrt(var), z = (best - mean) / s;
    // EI = s * h(z), h(z) = phi(z) + z Phi(z).
    double logphi = -0.5 * z * z - 0.5 * log(2 * PI), h;
    if (z > -1) {
        h = log(exp(logphi) + z * gsl_cdf_ugaussian_P(z));
    } else if (z > -1000) {
        // h = phi(z) (1 + z Phi(z)/phi(z)); Phi(z)/phi(z) = 1/hazard(-z) (the inverse Mills ratio)
        h = logphi + log1p(z / gsl_sf_hazard(-z));
    } else {
        double iz2 = 1 / (z * z); // the asymptotic series h = phi(z)/z^2 (1 - 3/z^2 + 15/z^4 ...)
        h = logphi + log(iz2) + log1p(iz2 * (-3 + iz2 * (15 - 105 * iz2)));
    }
    return log(s) + h;
}
