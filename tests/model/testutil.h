// Helpers shared by the model tests: random fills, finite-difference gradient checks, and the
// naive reference kernels (direct convolution, textbook batch norm) the fast ones are checked
// against.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/rng.h"

void tu_fill(float *x, size_t n, rng *r, float lo, float hi);
// sum_i a[i] * b[i] in double
double tu_dot(const float *a, const float *b, size_t n);
// largest |a[i] - b[i]| and the largest |b[i]|
double tu_max_diff(const float *a, const float *b, size_t n, double *max_ref);

// Checks analytic gradient ana (n) of f with respect to x (n) by central differences on up to
// `samples` elements (all when samples >= n): |numeric - analytic| <= tol * max(1, max|ana|).
// Prints the worst element; returns true when all pass.
typedef double (*tu_loss_fn)(void *ctx);
bool tu_gradcheck(const char *what, float *x, const float *ana, size_t n, tu_loss_fn f, void *ctx,
                  int samples, double eps, double tol);

// Direct 7-loop convolution over the channel-major layout: out (OC, B, OH, OW) from inp
// (C, B, H, W), weight (OC, C, KH, KW), bias (OC) or NULL.
void naive_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, int C, int H, int W, int OC, int KH, int KW, int stride, int pad);
// Its adjoint: dinp +=, dweight +=, dbias += (dinp, dbias may be NULL).
void naive_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B, int C, int H, int W,
                           int OC, int KH, int KW, int stride, int pad);
// Textbook batch norm (training mode) on x (C, N): y, batch mean and biased variance.
void naive_batchnorm_forward(float *y, double *mean, double *var, const float *x,
                             const float *gamma, const float *beta, int C, size_t N, double eps);
// Textbook backward through the variance and mean: dx =, dgamma =, dbeta = (overwrites).
void naive_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *gamma, int C, size_t N, double eps);
