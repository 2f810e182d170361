// The layer kernels of the engine: free functions, outputs first, raw float pointers and explicit
// sizes (the llm.c style). Activations are channel-major, (C, B, H, W): each channel is one
// contiguous row of B*H*W values, so a convolution over the whole batch is one GEMM and batch
// norm reduces over contiguous rows. Vectors (after global pooling or flattening) are (F, B).
// Every backward ACCUMULATES (+=) into its input and parameter gradients; the caller zeroes them.
#pragma once
#include <stdbool.h>
#include <stddef.h>

// ---- convolution (conv.c) ----------------------------------------------------------------------

// Output size of a convolution or pooling along one axis.
static inline int conv_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

// True when the convolution needs no im2col: 1x1, stride 1, no padding.
static inline bool conv2d_is_pointwise(int KH, int KW, int stride, int pad) {
    return KH == 1 && KW == 1 && stride == 1 && pad == 0;
}

// Floats of workspace conv2d_forward/backward need for these sizes (0 for a pointwise one).
size_t conv2d_workspace_floats(int B, int C, int OC, int OH, int OW, int KH, int KW, int stride,
                               int pad);

// 3x3 stride-1 convolutions (padding <= 2) reducing over C >= 16 channels use Winograd
// F(2x2, 3x3) (winograd.c): the forward pass when the input has C >= 16 channels, the input
// gradient when the output has OC >= 16; the weight gradient always uses im2col. Tests switch it
// off to check the im2col path as well (process-wide; not to be changed while a model runs).
bool conv2d_uses_winograd(int C, int KH, int KW, int stride, int pad);
void conv2d_enable_winograd(bool on);

// out (OC, B, OH, OW) = weight (OC, C, KH, KW) * inp (C, B, H, W) + bias (OC) (bias may be NULL),
// then max(0, .) when relu (fused). ws: conv2d_workspace_floats(...) floats.
void conv2d_forward(float *out, float *ws, const float *inp, const float *weight, const float *bias,
                    int B, int C, int H, int W, int OC, int KH, int KW, int stride, int pad,
                    bool relu);

// dinp (C, B, H, W) += ..., dweight (OC, C, KH, KW) += ..., dbias (OC) += ...; dinp and dbias
// may be NULL (not needed). dout (OC, B, OH, OW); with relu, out is the forward's output and dout
// is first masked in place by out > 0 (the fused ReLU's backward), else out may be NULL.
void conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws, float *dout,
                     const float *out, const float *inp, const float *weight, int B, int C, int H,
                     int W, int OC, int KH, int KW, int stride, int pad, bool relu);

// The im2col of images [b0, b0 + nb): col (C*KH*KW, nb*OH*OW) from inp (C, B, H, W).
void conv2d_im2col(float *col, const float *inp, int B, int b0, int nb, int C, int H, int W,
                   int KH, int KW, int stride, int pad);

// ---- batch norm (norm.c) -----------------------------------------------------------------------

// PyTorch BatchNorm2d semantics. Training: normalize with the batch mean and biased variance,
// update running_mean/var with momentum (the running variance takes the unbiased estimate) and
// save mean and 1/sqrt(var + eps) per channel for the backward. Evaluation: use the running ones.
// relu: apply max(0, .) to the output (fused). x, y (C, B, H, W) with N = B*H*W per channel.
void batchnorm_forward(float *y, float *save_mean, float *save_invstd, float *running_mean,
                       float *running_var, const float *x, const float *gamma, const float *beta,
                       int C, size_t N, float eps, float momentum, bool train, bool relu);

// dx += ..., dgamma += ..., dbeta += ... (dx may be NULL). With relu, y is the fused output and
// dy is masked by y > 0. train selects the batch-statistics backward or the frozen-statistics one.
void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                        const float *x, const float *gamma, const float *save_mean,
                        const float *save_invstd, int C, size_t N, bool train, bool relu);

// ---- other layers (layers.c) -------------------------------------------------------------------

void relu_forward(float *out, const float *inp, size_t n);
// dinp += dout * (out > 0)
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);
// d[i] = 0 where out[i] <= 0: masks a gradient in place for a fused ReLU.
void relu_mask_inplace(float *d, const float *out, size_t n);

// Max pooling (no padding, floor mode): out (C, B, OH, OW) from inp (C, B, H, W).
void maxpool_forward(float *out, const float *inp, int C, int B, int H, int W, int k, int stride);
// dinp += dout routed to the first maximum of each window (recomputed from inp). accumulate
// false overwrites dinp instead (so it needs no zeroing); only for k = stride = 2 and even H, W,
// where the windows tile the input. relu_mask: inp is a ReLU's output and its backward is fused
// here (a maximum of 0 passes no gradient), saving the producer a pass over the gradient.
void maxpool_backward(float *dinp, const float *dout, const float *inp, int C, int B, int H, int W,
                      int k, int stride, bool accumulate, bool relu_mask);

// Global average pooling: out (C, B) from inp (C, B, H, W).
void gap_forward(float *out, const float *inp, int C, int B, int HW);
void gap_backward(float *dinp, const float *dout, int C, int B, int HW);

// Linear: out (K, B) = weight (K, F) * inp (F, B) + bias (K); the PyTorch nn.Linear weight layout.
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int B,
                    int F, int K);
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int B, int F, int K);

// Residual add: out = a + b, then ReLU when relu.
void add_forward(float *out, const float *a, const float *b, size_t n, bool relu);
// da += g, db += g with g = dout (masked by out > 0 when relu).
void add_backward(float *da, float *db, const float *dout, const float *out, size_t n, bool relu);

// Flatten in PyTorch order: out (C*H*W, B) with feature c*H*W + h*W + w, from inp (C, B, H, W).
void flatten_forward(float *out, const float *inp, int C, int B, int HW);
void flatten_backward(float *dinp, const float *dout, int C, int B, int HW);

// The CIFAR ResNet "option A" shortcut (He et al. 2016): out (OC, B, H/s, W/s) is inp subsampled
// by stride s, with (OC - C)/2 zero channels on each side.
void shortcut_pad_forward(float *out, const float *inp, int C, int B, int H, int W, int OC,
                          int stride);
void shortcut_pad_backward(float *dinp, const float *dout, int C, int B, int H, int W, int OC,
                           int stride);

// Layout changes at the API edge: (B, C, H, W) <-> (C, B, H, W). For vectors, HW = 1 turns
// (B, K) into (K, B).
void layout_to_channel_major(float *out, const float *inp, int B, int C, int HW);
void layout_to_batch_major(float *out, const float *inp, int B, int C, int HW);
