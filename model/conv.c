// 2-D convolution as GEMMs over the channel-major layout: a pointwise (1x1, stride 1) convolution
// is one GEMM on the input itself; any other is an im2col of a chunk of images followed by one
// GEMM whose output columns are that chunk's contiguous slice of every output channel's row.
#include "common/check.h"
#include <string.h>

#include "model/gemm.h"
#include "model/ops.h"
#include "model/vecsum.h"
#include "model/winograd.h"

static bool winograd_on = true;

void conv2d_enable_winograd(bool on) { winograd_on = on; }

bool conv2d_uses_winograd(int C, int KH, int KW, int stride, int pad) {
    // with few channels to reduce over, the 16 products are thin GEMMs dominated by writing
    // their outputs: an im2col GEMM is faster (a network's first layer, C = 1 or 3)
    return winograd_on && KH == 3 && KW == 3 && stride == 1 && pad <= 2 && C >= 16;
}

// Largest im2col buffer, in floats: big enough that each GEMM has thousands of columns, small
// enough (16 MiB) to stay in the last-level cache and not dominate the model's memory.
enum { COL_MAX_FLOATS = 1 << 22 };

// Images per im2col chunk.
static int chunk_images(int B, int CKK, int OHW) {
    size_t per_image = (size_t)CKK * (size_t)OHW;
    size_t nb = COL_MAX_FLOATS / per_image;
    if (nb < 1) nb = 1;
    if (nb > (size_t)B) nb = (size_t)B;
    return (int)nb;
}

size_t conv2d_workspace_floats(int B, int C, int OC, int OH, int OW, int KH, int KW, int stride,
                               int pad) {
    if (conv2d_is_pointwise(KH, KW, stride, pad)) return 0;
    int CKK = C * KH * KW;
    // the im2col of a chunk, then the transposed weight gradient (CKK, OC)
    size_t ws = (size_t)CKK * (size_t)(OH * OW) * (size_t)chunk_images(B, CKK, OH * OW) +
                (size_t)CKK * OC;
    // the forward pass, and the input gradient: a convolution from OC to C channels over H x W
    if (conv2d_uses_winograd(C, KH, KW, stride, pad)) {
        size_t f = winograd_workspace_floats(B, C, OC, OH, OW);
        if (f > ws) ws = f;
    }
    if (conv2d_uses_winograd(OC, KH, KW, stride, pad)) {
        int H = OH + 2 - 2 * pad, W = OW + 2 - 2 * pad;
        size_t b = winograd_workspace_floats(B, OC, C, H, W);
        if (b > ws) ws = b;
    }
    return ws;
}

void conv2d_im2col(float *col, const float *inp, int B, int b0, int nb, int C, int H, int W,
                   int KH, int KW, int stride, int pad) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    size_t ncols = (size_t)nb * OH * OW;
    int rows = C * KH * KW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < rows; r++) {
        for (int b = 0; b < nb; b++) {
            int c = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW;
            const float *src = inp + ((size_t)c * B + (size_t)(b0 + b)) * H * W;
            float *dst = col + (size_t)r * ncols + (size_t)b * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                int ih = oh * stride - pad + kh;
                float *d = dst + (size_t)oh * OW;
                if (ih < 0 || ih >= H) {
                    memset(d, 0, sizeof(float) * (size_t)OW);
                    continue;
                }
                const float *s = src + (size_t)ih * W;
                if (stride == 1) {
                    // columns where iw = ow - pad + kw is inside [0, W): ow in [lo, hi)
                    int lo = pad - kw, hi = W + pad - kw;
                    if (lo < 0) lo = 0;
                    if (lo > OW) lo = OW;
                    if (hi > OW) hi = OW;
                    if (hi < lo) hi = lo;
                    for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
                    if (hi > lo) memcpy(d + lo, s + lo - pad + kw, sizeof(float) * (size_t)(hi - lo));
                    for (int ow = hi; ow < OW; ow++) d[ow] = 0.0f;
                } else {
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * stride - pad + kw;
                        d[ow] = (iw >= 0 && iw < W) ? s[iw] : 0.0f;
                    }
                }
            }
        }
    }
}

// dinp[images b0..b0+nb) += col2im(col): the adjoint of conv2d_im2col.
static void col2im_add(float *dinp, const float *col, int B, int b0, int nb, int C, int H, int W,
                       int KH, int KW, int stride, int pad) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    size_t ncols = (size_t)nb * OH * OW;
    // Parallel over (channel, image): each writes its own input plane, so no two threads collide.
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < nb; b++) {
            float *dst = dinp + ((size_t)c * B + (size_t)(b0 + b)) * H * W;
            for (int kh = 0; kh < KH; kh++) {
                for (int kw = 0; kw < KW; kw++) {
                    int r = (c * KH + kh) * KW + kw;
                    const float *src = col + (size_t)r * ncols + (size_t)b * OH * OW;
                    for (int oh = 0; oh < OH; oh++) {
                        int ih = oh * stride - pad + kh;
                        if (ih < 0 || ih >= H) continue;
                        float *d = dst + (size_t)ih * W;
                        const float *s = src + (size_t)oh * OW;
                        for (int ow = 0; ow < OW; ow++) {
                            int iw = ow * stride - pad + kw;
                            if (iw >= 0 && iw < W) d[iw] += s[ow];
                        }
                    }
                }
            }
        }
    }
}

// out += bias per row, then max(0, .) when relu: one pass over the output.
static void bias_relu_rows(float *out, const float *bias, bool relu, int rows, size_t n) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float bv = bias ? bias[r] : 0.0f, *o = out + (size_t)r * n;
        if (relu)
            for (size_t i = 0; i < n; i++) o[i] = o[i] + bv > 0.0f ? o[i] + bv : 0.0f;
        else
            for (size_t i = 0; i < n; i++) o[i] += bv;
    }
}

// The fused ReLU's backward (d masked in place by out > 0) and dbias += row sums of d: one pass.
static void relu_mask_sum_rows(float *dbias, float *d, const float *out, bool relu, int rows,
                               size_t n) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *g = d + (size_t)r * n;
        const float *o = out ? out + (size_t)r * n : NULL;
        if (relu)
            for (size_t i = 0; i < n; i++) g[i] = o[i] > 0.0f ? g[i] : 0.0f;
        if (dbias) {
            dbias[r] += (float)vs_sum(g, n);
        }
    }
}

void conv2d_forward(float *out, float *ws, const float *inp, const float *weight, const float *bias,
                    int B, int C, int H, int W, int OC, int KH, int KW, int stride, int pad,
                    bool relu) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    int CKK = C * KH * KW, OHW = OH * OW;
    size_t N = (size_t)B * OHW;
    if (conv2d_is_pointwise(KH, KW, stride, pad)) {
        gemm(false, false, OC, (int)N, C, 1.0f, weight, C, inp,
                    (int)N, 0.0f, out, (int)N);
    } else if (conv2d_uses_winograd(C, KH, KW, stride, pad)) {
        winograd_transform_weights(ws, weight, OC, C, false);
        winograd_conv3x3(out, false, ws + (size_t)16 * OC * C, ws, inp, B, C, H, W, OC, pad);
    } else {
        int nb = chunk_images(B, CKK, OHW);
        for (int b0 = 0; b0 < B; b0 += nb) {
            int n = b0 + nb <= B ? nb : B - b0;
            conv2d_im2col(ws, inp, B, b0, n, C, H, W, KH, KW, stride, pad);
            gemm(false, false, OC, n * OHW, CKK, 1.0f, weight,
                        CKK, ws, n * OHW, 0.0f, out + (size_t)b0 * OHW, (int)N);
        }
    }
    if (bias || relu) bias_relu_rows(out, bias, relu, OC, N);
}

void conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws, float *dout,
                     const float *out, const float *inp, const float *weight, int B, int C, int H,
                     int W, int OC, int KH, int KW, int stride, int pad, bool relu) {
    int OH = conv_out_size(H, KH, stride, pad), OW = conv_out_size(W, KW, stride, pad);
    int CKK = C * KH * KW, OHW = OH * OW;
    size_t N = (size_t)B * OHW;
    if (dbias || relu) relu_mask_sum_rows(dbias, dout, out, relu, OC, N);
    if (conv2d_is_pointwise(KH, KW, stride, pad)) {
        // dW (OC, C) += dout (OC, N) * inp^T (N, C); dinp (C, N) += W^T (C, OC) * dout (OC, N)
        gemm(false, true, OC, C, (int)N, 1.0f, dout, (int)N, inp,
                    (int)N, 1.0f, dweight, C);
        if (dinp)
            gemm(true, false, C, (int)N, OC, 1.0f, weight, C,
                        dout, (int)N, 1.0f, dinp, (int)N);
        return;
    }
    bool wino = conv2d_uses_winograd(OC, KH, KW, stride, pad); // dinp reduces over OC
    int nb = chunk_images(B, CKK, OHW);
    // dW^T (CKK, OC) = col (CKK, n) * dout^T, summed over the chunks, then added transposed:
    // OpenBLAS runs this orientation 1.1 to 1.7 times faster than dW = dout * col^T
    float *dwt = ws + (size_t)CKK * OHW * nb;
    for (int b0 = 0; b0 < B; b0 += nb) {
        int n = b0 + nb <= B ? nb : B - b0;
        const float *dchunk = dout + (size_t)b0 * OHW; // (OC, n*OHW) with leading dimension N
        conv2d_im2col(ws, inp, B, b0, n, C, H, W, KH, KW, stride, pad);
        gemm(false, true, CKK, OC, n * OHW, 1.0f, ws, n * OHW, dchunk, (int)N, b0 ? 1.0f : 0.0f,
             dwt, OC);
        if (dinp && !wino) {
            // dcol (CKK, n*OHW) = W^T (CKK, OC) * dout chunk, reusing the im2col buffer
            gemm(true, false, CKK, n * OHW, OC, 1.0f, weight,
                        CKK, dchunk, (int)N, 0.0f, ws, n * OHW);
            col2im_add(dinp, ws, B, b0, n, C, H, W, KH, KW, stride, pad);
        }
    }
    // dweight (OC, CKK) += dwt^T in 32 x 32 tiles, so both sides stay in cache
#pragma omp parallel for collapse(2) schedule(static)
    for (int o0 = 0; o0 < OC; o0 += 32)
        for (int r0 = 0; r0 < CKK; r0 += 32)
            for (int oc = o0; oc < o0 + 32 && oc < OC; oc++)
                for (int r = r0; r < r0 + 32 && r < CKK; r++)
                    dweight[(size_t)oc * CKK + r] += dwt[(size_t)r * OC + oc];
    if (dinp && wino) {
        // dinp += the 3x3 stride-1 convolution of dout with the flipped kernel, padding 2 - pad
        winograd_transform_weights(ws, weight, OC, C, true);
        winograd_conv3x3(dinp, true, ws + (size_t)16 * OC * C, ws, dout, B, OC, OH, OW, C, 2 - pad);
    }
}
