// Helpers shared by the model tests: random fills, gradient checks and naive reference kernels.
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"

void tu_fill(float *x, size_t n, rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniformf(r);
}

double tu_dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

double tu_max_diff(const float *a, const float *b, size_t n, double *max_ref) {
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d || isnan(e)) d = isnan(e) ? INFINITY : e;
        if (fabs(b[i]) > r) r = fabs(b[i]);
    }
    if (max_ref) *max_ref = r;
    return d;
}

bool tu_gradcheck(const char *what, float *x, const float *ana, size_t n, tu_loss_fn f, void *ctx,
                  int samples, double eps, double tol) {
    double scale = 1.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(ana[i]) > scale) scale = fabs(ana[i]);
    size_t count = (size_t)samples >= n ? n : (size_t)samples;
    rng r = rng_stream(99, "gradcheck", n, 0);
    double worst = 0.0;
    size_t worst_i = 0;
    double worst_num = 0.0;
    for (size_t s = 0; s < count; s++) {
        size_t i = count == n ? s : (size_t)rng_below(&r, n);
        float keep = x[i];
        x[i] = (float)(keep + eps);
        double lp = f(ctx);
        x[i] = (float)(keep - eps);
        double lm = f(ctx);
        double h = (double)(float)(keep + eps) - (double)(float)(keep - eps);
        x[i] = keep;
        double num = (lp - lm) / h, err = fabs(num - ana[i]);
        if (err > worst) {
            worst = err;
            worst_i = i;
            worst_num = num;
        }
    }
    bool ok = worst <= tol * scale;
    printf("  gradcheck %-28s n=%-7zu checked=%-5zu worst |num-ana|=%.3g (elem %zu: num %.6g ana "
           "%.6g) scale %.3g %s\n", what, n, count, worst, worst_i, worst_num,
           count ? (double)ana[worst_i] : 0.0, scale, ok ? "ok" : "FAIL");
    return ok;
}

void naive_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, int C, int H, int W, int OC, int KH, int KW, int stride, int pad) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = bias ? bias[oc] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += (double)weight[((oc * C + c) * KH + kh) * KW + kw] *
                                     inp[(((size_t)c * B + b) * H + ih) * W + iw];
                            }
                    out[(((size_t)oc * B + b) * OH + oh) * OW + ow] = (float)s;
                }
}

void naive_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B, int C, int H, int W,
                           int OC, int KH, int KW, int stride, int pad) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dout[(((size_t)oc * B + b) * OH + oh) * OW + ow];
                    if (dbias) dbias[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                size_t xi = (((size_t)c * B + b) * H + ih) * W + iw;
                                size_t wi = (size_t)((oc * C + c) * KH + kh) * KW + kw;
                                dweight[wi] += g * inp[xi];
                                if (dinp) dinp[xi] += g * weight[wi];
                            }
                }
}

void naive_batchnorm_forward(float *y, double *mean, double *var, const float *x,
                             const float *gamma, const float *beta, int C, size_t N, double eps) {
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * N;
        double mu = 0.0, v = 0.0;
        for (size_t i = 0; i < N; i++) mu += xc[i];
        mu /= (double)N;
        for (size_t i = 0; i < N; i++) v += (xc[i] - mu) * (xc[i] - mu);
        v /= (double)N;
        mean[c] = mu;
        var[c] = v;
        for (size_t i = 0; i < N; i++)
            y[(size_t)c * N + i] = (float)(gamma[c] * (xc[i] - mu) / sqrt(v + eps) + beta[c]);
    }
}

void naive_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *gamma, int C, size_t N, double eps) {
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * N, *g = dy + (size_t)c * N;
        double mu = 0.0, v = 0.0;
        for (size_t i = 0; i < N; i++) mu += xc[i];
        mu /= (double)N;
        for (size_t i = 0; i < N; i++) v += (xc[i] - mu) * (xc[i] - mu);
        v /= (double)N;
        double sd = sqrt(v + eps), dvar = 0.0, dmu = 0.0, dga = 0.0, dbe = 0.0;
        for (size_t i = 0; i < N; i++) {
            double dxhat = g[i] * (double)gamma[c];
            dvar += dxhat * (xc[i] - mu) * -0.5 * pow(v + eps, -1.5);
            dmu += -dxhat / sd;
            dga += g[i] * (xc[i] - mu) / sd;
            dbe += g[i];
        }
        double s2 = 0.0;
        for (size_t i = 0; i < N; i++) s2 += -2.0 * (xc[i] - mu);
        dmu += dvar * s2 / (double)N;
        for (size_t i = 0; i < N; i++)
            dx[(size_t)c * N + i] = (float)(g[i] * (double)gamma[c] / sd +
                                            dvar * 2.0 * (xc[i] - mu) / (double)N + dmu / (double)N);
        dgamma[c] = (float)dga;
        dbeta[c] = (float)dbe;
    }
}
