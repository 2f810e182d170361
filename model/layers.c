// The small layers around the convolutions: ReLU, max pooling, global average pooling, linear,
// residual add, flatten, the option-A shortcut, and the layout changes at the API edge.
#include "common/check.h"
#include <float.h>
#include <math.h>
#include <string.h>

#include "model/gemm.h"
#include "model/ops.h"

void relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_mask_inplace(float *d, const float *out, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        if (out[i] <= 0.0f) d[i] = 0.0f;
}

// The common 2x2 stride-2 window, without the generic loops (vectorizes over output columns).
static void maxpool2_forward(float *out, const float *inp, int C, int B, int H, int W) {
    int OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static)
    for (size_t cb = 0; cb < (size_t)C * B; cb++) {
        const float *src = inp + cb * H * W;
        float *dst = out + cb * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = src + (size_t)(2 * oh) * W, *r1 = r0 + W;
            float *d = dst + (size_t)oh * OW;
            for (int ow = 0; ow < OW; ow++) {
                float a = r0[2 * ow] > r0[2 * ow + 1] ? r0[2 * ow] : r0[2 * ow + 1];
                float b = r1[2 * ow] > r1[2 * ow + 1] ? r1[2 * ow] : r1[2 * ow + 1];
                d[ow] = a > b ? a : b;
            }
        }
    }
}

void maxpool_forward(float *out, const float *inp, int C, int B, int H, int W, int k, int stride) {
    if (k == 2 && stride == 2) {
        maxpool2_forward(out, inp, C, B, H, W);
        return;
    }
    int OH = conv_out_size(H, k, stride, 0), OW = conv_out_size(W, k, stride, 0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < B; b++) {
            const float *src = inp + ((size_t)c * B + b) * H * W;
            float *dst = out + ((size_t)c * B + b) * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    float m = -FLT_MAX;
                    for (int i = 0; i < k; i++) {
                        const float *row = src + (size_t)(oh * stride + i) * W + ow * stride;
                        for (int j = 0; j < k; j++)
                            if (row[j] > m) m = row[j];
                    }
                    dst[oh * OW + ow] = m;
                }
            }
        }
    }
}

static void maxpool2_backward(float *dinp, const float *dout, const float *inp, int C, int B, int H,
                              int W, bool accumulate, bool relu_mask) {
    int OH = H / 2, OW = W / 2;
    KDT_ASSERT(OW <= 2048);
    // windows whose maximum is below min_max pass no gradient: with relu_mask, a maximum of 0 came
    // from the ReLU's flat side (m >= the smallest positive float is m > 0)
    const float min_max = relu_mask ? FLT_TRUE_MIN : -INFINITY;
#pragma omp parallel
    {
    float s0[2048], s1[2048], s2[2048], s3[2048]; // one output row's window gradients
#pragma omp for schedule(static)
    for (size_t cb = 0; cb < (size_t)C * B; cb++) {
        const float *src = inp + cb * H * W, *gp = dout + cb * OH * OW;
        float *dsrc = dinp + cb * H * W;
        for (int oh = 0; oh < OH; oh++) {
            const float *restrict r0 = src + (size_t)(2 * oh) * W, *restrict r1 = r0 + W;
            float *restrict d0 = dsrc + (size_t)(2 * oh) * W, *restrict d1 = d0 + W;
            const float *restrict g = gp + (size_t)oh * OW;
            // the first maximum in the window's row-major order (as the generic loop), found with
            // selects only so the loop vectorizes: the maximum m, then the first position equal
            // to it; with relu_mask, a maximum of 0 came from the ReLU's flat side: no gradient.
            // The window's 4 gradients go to a scratch row first (contiguous stores), then to
            // the input rows.
            for (int ow = 0; ow < OW; ow++) { // de-interleave: unit strides below
                s0[ow] = r0[2 * ow];
                s1[ow] = r0[2 * ow + 1];
                s2[ow] = r1[2 * ow];
                s3[ow] = r1[2 * ow + 1];
            }
            for (int ow = 0; ow < OW; ow++) {
                float v0 = s0[ow], v1 = s1[ow], v2 = s2[ow], v3 = s3[ow];
                float m01 = v0 >= v1 ? v0 : v1, m23 = v2 >= v3 ? v2 : v3;
                float m = m01 >= m23 ? m01 : m23;
                // float selects only (no int or bool temporaries), which the vectorizer handles:
                // `rest` is the gradient still to be given to a later position equal to m
                float rest = m >= min_max ? g[ow] : 0.0f;
                s0[ow] = v0 == m ? rest : 0.0f;
                rest = v0 == m ? 0.0f : rest;
                s1[ow] = v1 == m ? rest : 0.0f;
                rest = v1 == m ? 0.0f : rest;
                s2[ow] = v2 == m ? rest : 0.0f;
                rest = v2 == m ? 0.0f : rest;
                s3[ow] = v3 == m ? rest : 0.0f;
            }
            if (accumulate) {
                for (int ow = 0; ow < OW; ow++) {
                    d0[2 * ow] += s0[ow];
                    d0[2 * ow + 1] += s1[ow];
                    d1[2 * ow] += s2[ow];
                    d1[2 * ow + 1] += s3[ow];
                }
            } else {
                // the windows tile the input: each writes its 4 gradients, 3 of them zero
                for (int ow = 0; ow < OW; ow++) {
                    d0[2 * ow] = s0[ow];
                    d0[2 * ow + 1] = s1[ow];
                    d1[2 * ow] = s2[ow];
                    d1[2 * ow + 1] = s3[ow];
                }
            }
        }
    }
    }
}

void maxpool_backward(float *dinp, const float *dout, const float *inp, int C, int B, int H, int W,
                      int k, int stride, bool accumulate, bool relu_mask) {
    KDT_ASSERT(accumulate || (k == 2 && stride == 2 && H % 2 == 0 && W % 2 == 0));
    if (k == 2 && stride == 2) {
        maxpool2_backward(dinp, dout, inp, C, B, H, W, accumulate, relu_mask);
        return;
    }
    int OH = conv_out_size(H, k, stride, 0), OW = conv_out_size(W, k, stride, 0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < B; b++) {
            const float *src = inp + ((size_t)c * B + b) * H * W;
            float *dsrc = dinp + ((size_t)c * B + b) * H * W;
            const float *g = dout + ((size_t)c * B + b) * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    float m = -FLT_MAX;
                    size_t arg = (size_t)(oh * stride) * W + ow * stride;
                    for (int i = 0; i < k; i++) {
                        for (int j = 0; j < k; j++) {
                            size_t idx = (size_t)(oh * stride + i) * W + ow * stride + j;
                            if (src[idx] > m) {
                                m = src[idx];
                                arg = idx;
                            }
                        }
                    }
                    if (!relu_mask || m > 0.0f) dsrc[arg] += g[oh * OW + ow];
                }
            }
        }
    }
}

void gap_forward(float *out, const float *inp, int C, int B, int HW) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < B; b++) {
            const float *src = inp + ((size_t)c * B + b) * HW;
            float s = 0.0f;
            for (int i = 0; i < HW; i++) s += src[i];
            out[(size_t)c * B + b] = s / (float)HW;
        }
    }
}

void gap_backward(float *dinp, const float *dout, int C, int B, int HW) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < B; b++) {
            float g = dout[(size_t)c * B + b] / (float)HW, *d = dinp + ((size_t)c * B + b) * HW;
            for (int i = 0; i < HW; i++) d[i] += g;
        }
    }
}

void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int B,
                    int F, int K) {
    if (bias) {
        for (int k = 0; k < K; k++)
            for (int b = 0; b < B; b++) out[(size_t)k * B + b] = bias[k];
    }
    gemm(false, false, K, B, F, 1.0f, weight, F, inp, B,
                bias ? 1.0f : 0.0f, out, B);
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int B, int F, int K) {
    if (dbias) {
        for (int k = 0; k < K; k++) {
            double s = 0.0;
            for (int b = 0; b < B; b++) s += dout[(size_t)k * B + b];
            dbias[k] += (float)s;
        }
    }
    // dW (K, F) += dout (K, B) * inp^T (B, F); dinp (F, B) += W^T (F, K) * dout (K, B)
    gemm(false, true, K, F, B, 1.0f, dout, B, inp, B, 1.0f,
                dweight, F);
    if (dinp)
        gemm(true, false, F, B, K, 1.0f, weight, F, dout, B, 1.0f,
                    dinp, B);
}

void add_forward(float *out, const float *a, const float *b, size_t n, bool relu) {
    if (relu) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = a[i] + b[i];
            out[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    }
}

void add_backward(float *da, float *db, const float *dout, const float *out, size_t n, bool relu) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = (relu && out[i] <= 0.0f) ? 0.0f : dout[i];
        da[i] += g;
        db[i] += g;
    }
}

void flatten_forward(float *out, const float *inp, int C, int B, int HW) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++)
                out[((size_t)c * HW + i) * B + b] = inp[((size_t)c * B + b) * HW + i];
}

void flatten_backward(float *dinp, const float *dout, int C, int B, int HW) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++)
                dinp[((size_t)c * B + b) * HW + i] += dout[((size_t)c * HW + i) * B + b];
}

void shortcut_pad_forward(float *out, const float *inp, int C, int B, int H, int W, int OC,
                          int stride) {
    int OH = (H + stride - 1) / stride, OW = (W + stride - 1) / stride, lo = (OC - C) / 2;
    size_t plane = (size_t)B * OH * OW;
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < OC; oc++) {
        float *dst = out + (size_t)oc * plane;
        int c = oc - lo;
        if (c < 0 || c >= C) {
            memset(dst, 0, sizeof(float) * plane);
            continue;
        }
        for (int b = 0; b < B; b++) {
            const float *src = inp + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++)
                    dst[((size_t)b * OH + oh) * OW + ow] = src[(size_t)oh * stride * W + ow * stride];
        }
    }
}

void shortcut_pad_backward(float *dinp, const float *dout, int C, int B, int H, int W, int OC,
                           int stride) {
    int OH = (H + stride - 1) / stride, OW = (W + stride - 1) / stride, lo = (OC - C) / 2;
    size_t plane = (size_t)B * OH * OW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *src = dout + (size_t)(c + lo) * plane;
        for (int b = 0; b < B; b++) {
            float *dst = dinp + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++)
                    dst[(size_t)oh * stride * W + ow * stride] += src[((size_t)b * OH + oh) * OW + ow];
        }
    }
}

void layout_to_channel_major(float *out, const float *inp, int B, int C, int HW) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            memcpy(out + ((size_t)c * B + b) * HW, inp + ((size_t)b * C + c) * HW,
                   sizeof(float) * (size_t)HW);
}

void layout_to_batch_major(float *out, const float *inp, int B, int C, int HW) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(out + ((size_t)b * C + c) * HW, inp + ((size_t)c * B + b) * HW,
                   sizeof(float) * (size_t)HW);
}
