// Batch normalization over the channel-major layout (PyTorch BatchNorm2d semantics), with an
// optional fused ReLU. Each channel is a contiguous row, reduced by one thread in double precision,
// so results do not depend on the thread count.
#include <math.h>
#include <stddef.h>

#include "model/ops.h"
#include "model/vecsum.h"

void batchnorm_forward(float *y, float *save_mean, float *save_invstd, float *running_mean,
                       float *running_var, const float *x, const float *gamma, const float *beta,
                       int C, size_t N, float eps, float momentum, bool train, bool relu) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * N;
        float *yc = y + (size_t)c * N;
        float mean, invstd;
        if (train) {
            double m = vs_sum(xc, N) / (double)N;
            double ss = vs_sum_sq_dev(xc, N, (float)m);
            double var = ss / (double)N; // biased: normalizes the batch
            double unbiased = N > 1 ? ss / (double)(N - 1) : var;
            mean = (float)m;
            invstd = (float)(1.0 / sqrt(var + eps));
            save_mean[c] = mean;
            save_invstd[c] = invstd;
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * m);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        } else {
            mean = running_mean[c];
            invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
            save_mean[c] = mean;
            save_invstd[c] = invstd;
        }
        float scale = gamma[c] * invstd, shift = beta[c] - mean * scale;
        if (relu) {
            for (size_t i = 0; i < N; i++) {
                float v = xc[i] * scale + shift;
                yc[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t i = 0; i < N; i++) yc[i] = xc[i] * scale + shift;
        }
    }
}

void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                        const float *x, const float *gamma, const float *save_mean,
                        const float *save_invstd, int C, size_t N, bool train, bool relu) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * N, *dyc = dy + (size_t)c * N, *yc = y + (size_t)c * N;
        float mean = save_mean[c], invstd = save_invstd[c];
        // sums of g and g * xhat, with g the (ReLU-masked) output gradient, in float lanes
        // flushed into doubles (vs_sum's scheme, two sums at once)
        float a1[VS_LANES] = {0}, a2[VS_LANES] = {0};
        double sg = 0.0, sgx = 0.0;
        size_t i = 0;
        while (i + VS_LANES <= N) {
            size_t end = i + VS_BLOCK < N ? i + VS_BLOCK : N;
            for (; i + VS_LANES <= end; i += VS_LANES)
                for (int j = 0; j < VS_LANES; j++) {
                    float g = (relu && !(yc[i + j] > 0.0f)) ? 0.0f : dyc[i + j];
                    a1[j] += g;
                    a2[j] += g * ((xc[i + j] - mean) * invstd);
                }
            sg += vs_flush(a1);
            sgx += vs_flush(a2);
        }
        for (; i < N; i++) {
            float g = (relu && !(yc[i] > 0.0f)) ? 0.0f : dyc[i];
            sg += g;
            sgx += (double)g * (double)((xc[i] - mean) * invstd);
        }
        dgamma[c] += (float)sgx;
        dbeta[c] += (float)sg;
        if (!dx) continue;
        float *dxc = dx + (size_t)c * N;
        float k = gamma[c] * invstd;
        if (train) {
            // dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat))
            float mg = (float)(sg / (double)N), mgx = (float)(sgx / (double)N);
            for (size_t i = 0; i < N; i++) {
                float g = (relu && !(yc[i] > 0.0f)) ? 0.0f : dyc[i];
                float xhat = (xc[i] - mean) * invstd;
                dxc[i] += k * (g - mg - xhat * mgx);
            }
        } else {
            for (size_t i = 0; i < N; i++) {
                float g = (relu && !(yc[i] > 0.0f)) ? 0.0f : dyc[i];
                dxc[i] += k * g;
            }
        }
    }
}
