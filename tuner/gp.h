// A Gaussian-process regression model for mixed inputs, written on GSL: continuous inputs in
// [0, 1] (ARD Matern-5/2), categorical inputs (an overlap kernel: a learned similarity in (0, 1)
// per categorical parameter between different choices), standardized outputs, a learned noise
// variance above a floor, a Yeo-Johnson output warp, and hyper-parameters fitted by maximum a posteriori (log-normal priors,
// analytic gradients, L-BFGS from NLopt, warm start plus restarts).
#pragma once
#include <stddef.h>

#include "common/error.h"
#include "common/rng.h"

typedef struct tuner_gp tuner_gp;

// A model for up to max_n points with dc continuous and dk categorical inputs.
tuner_gp *tuner_gp_create(size_t max_n, size_t dc, size_t dk);
void tuner_gp_destroy(tuner_gp *g);

// Fits on n >= 1 points: U (n, dc) in [0, 1], C (n, dk) choice indices, f (n) finite values.
// The previous fit is the warm start; r drives the restarts. KDT_ERR_NUMERIC if no
// hyper-parameters give a positive-definite covariance (not expected with the noise floor).
kdt_status tuner_gp_fit(tuner_gp *g, const double *U, const int *C, const double *f, size_t n,
                        rng *r);

// The posterior of the latent function at (u (dc), c (dk)), in the model's units: f standardized,
// warped by a fitted Yeo-Johnson transform and standardized again (a monotone map of f, so
// comparisons between points and expected improvement keep their meaning).
void tuner_gp_predict(tuner_gp *g, const double *u, const int *c, double *mean, double *var);

// Fitted hyper-parameters, for tests and logs: the noise variance in the model's units,
// the length scale of continuous input j, the similarity of different choices of categorical k.
double tuner_gp_noise(const tuner_gp *g);
double tuner_gp_lengthscale(const tuner_gp *g, size_t j);
double tuner_gp_similarity(const tuner_gp *g, size_t k);

// The fitted model's negative log posterior at hyper-parameters theta (the
// layout of gp.c: p = dc + dk + 3) and its gradient (grad may be NULL), on the data of the last fit; for
// gradient checks. Leaves the model's factorization changed: refit before predicting.
size_t tuner_gp_n_hyper(const tuner_gp *g);
double tuner_gp_objective(tuner_gp *g, const double *theta, double *grad);

// log(E[max(best - F, 0)]) for F ~ N(mean, var): the log of expected improvement (minimization),
// accurate far into the tail where EI itself underflows.
double tuner_gp_log_ei(double mean, double var, double best);
