// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions over the channel-major layout (Lavin & Gray
// 2016): each 2x2 output tile costs 16 multiplies per input channel instead of 36. Inputs are cut
// into overlapping 4x4 tiles and transformed (V = B^T d B), weights too (U = G g G^T); the 16
// element-wise products over channels are 16 GEMMs (OC, C) x (C, tiles); an inverse transform
// (Y = A^T M A) gives the outputs. Used for the forward pass and for the input gradient (a 3x3
// stride-1 convolution of the output gradient with the flipped, transposed weights).
#include "common/check.h"
#include <string.h>

#include "model/gemm.h"
#include "model/ops.h"
#include "model/winograd.h"

// Transformed tiles and products per chunk: 8 Mi floats (32 MiB) at most.
enum { WINO_MAX_FLOATS = 1 << 23 };
// Widest strip of input columns: inputs up to 4096 pixels wide (model_spec_validate) with padding 2.
enum { STRIP_MAX = 4104 };

static int tiles_of(int n) { return (n + 1) / 2; }

static int chunk_images(int B, int C, int OC, int tiles_per_image) {
    size_t per_image = 16 * (size_t)(C + OC) * (size_t)tiles_per_image;
    size_t nb = WINO_MAX_FLOATS / per_image;
    if (nb < 1) nb = 1;
    if (nb > (size_t)B) nb = (size_t)B;
    return (int)nb;
}

// The 16 matrices of V and M are XS_PAD floats further apart than their size: strides that are
// multiples of 4 KiB would put the 16 streams of the transforms into the same cache sets.
enum { XS_PAD = 16 };

size_t winograd_workspace_floats(int B, int C, int OC, int OH, int OW) {
    int tt = tiles_of(OH) * tiles_of(OW);
    return 16 * (size_t)OC * C + 16 * (size_t)(C + OC) * tt * (size_t)chunk_images(B, C, OC, tt) +
           32 * XS_PAD;
}

void winograd_transform_weights(float *U, const float *weight, int OC, int C, bool flip) {
    // U (16, OC', C') with OC' = flip ? C : OC: for the input gradient the kernel is rotated by
    // 180 degrees and its channel axes swapped
    int OCo = flip ? C : OC, Co = flip ? OC : C;
#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < OCo; o++) {
        for (int c = 0; c < Co; c++) {
            float g[3][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    g[i][j] = flip ? weight[((size_t)c * C + o) * 9 + (2 - i) * 3 + (2 - j)]
                                   : weight[((size_t)o * C + c) * 9 + i * 3 + j];
            float t[4][3]; // G g
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) { // (G g) G^T
                float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                              0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; j++)
                    U[((size_t)(i * 4 + j) * OCo + o) * Co + c] = u[j];
            }
        }
    }
}

// V (16, C, P) for images [b0, b0 + nb) of inp (C, B, H, W); P = nb * TH * TW; matrix x starts at
// V + x * xs. A row of tiles at a time: its 4 input rows are copied once, zero-padded and split into
// even and odd columns (no bounds checks after that), then transformed by whole rows in simple
// loops that vectorize (tile tw covers columns 2tw .. 2tw+3 = even[tw], odd[tw], even[tw+1],
// odd[tw+1]).
static void input_transform(float *V, size_t xs, const float *inp, int B, int b0, int nb, int C,
                            int H, int W, int pad, int TH, int TW) {
    size_t P = (size_t)nb * TH * TW;
    KDT_ASSERT(TW + 1 <= STRIP_MAX);
#pragma omp parallel
    {
        // the strip (even and odd columns) and its row transform: 128 KiB on each thread's stack
        float ev[4][STRIP_MAX], od[4][STRIP_MAX], te[4][STRIP_MAX], to[4][STRIP_MAX];
#pragma omp for collapse(2) schedule(static)
        for (int c = 0; c < C; c++) {
            for (int b = 0; b < nb; b++) {
                const float *src = inp + ((size_t)c * B + (size_t)(b0 + b)) * H * W;
                for (int th = 0; th < TH; th++) {
                    for (int i = 0; i < 4; i++) {
                        int h = 2 * th - pad + i;
                        if (h < 0 || h >= H) {
                            memset(ev[i], 0, sizeof(float) * (size_t)(TW + 1));
                            memset(od[i], 0, sizeof(float) * (size_t)(TW + 1));
                            continue;
                        }
                        const float *row = src + (size_t)h * W;
                        // columns k whose pair 2k - pad, 2k - pad + 1 is inside: a plain
                        // de-interleaving copy; the few others (padding) one by one
                        int k_lo = (pad + 1) / 2, k_hi = W + pad - 2 >= 0 ? (W + pad - 2) / 2 : -1;
                        if (k_hi > TW) k_hi = TW; // [k_lo, k_hi] inclusive
                        for (int k = 0; k <= TW; k++) {
                            if (k == k_lo && k_lo <= k_hi) {
                                const float *r = row + 2 * k_lo - pad;
                                for (int q = 0; q <= k_hi - k_lo; q++) {
                                    ev[i][k_lo + q] = r[2 * q];
                                    od[i][k_lo + q] = r[2 * q + 1];
                                }
                                k = k_hi;
                                continue;
                            }
                            int w = 2 * k - pad;
                            ev[i][k] = (w >= 0 && w < W) ? row[w] : 0.0f;
                            od[i][k] = (w + 1 >= 0 && w + 1 < W) ? row[w + 1] : 0.0f;
                        }
                    }
                    // B^T d along the strip's rows, for every column at once: row r of the
                    // result in te[r] (even columns) and to[r] (odd columns)
                    for (int k = 0; k <= TW; k++) {
                        float e0 = ev[0][k], e1 = ev[1][k], e2 = ev[2][k], e3 = ev[3][k];
                        float o0 = od[0][k], o1 = od[1][k], o2 = od[2][k], o3 = od[3][k];
                        te[0][k] = e0 - e2;
                        te[1][k] = e1 + e2;
                        te[2][k] = e2 - e1;
                        te[3][k] = e1 - e3;
                        to[0][k] = o0 - o2;
                        to[1][k] = o1 + o2;
                        to[2][k] = o2 - o1;
                        to[3][k] = o1 - o3;
                    }
                    // (B^T d) B along the columns: tile tw's columns are even[tw], odd[tw],
                    // even[tw + 1], odd[tw + 1]; one simple loop per output matrix vectorizes
                    float *v = V + (size_t)c * P + ((size_t)b * TH + th) * TW;
                    for (int r = 0; r < 4; r++) {
                        const float *e = te[r], *o = to[r];
                        float *v0 = v + (size_t)(r * 4 + 0) * xs, *v1 = v + (size_t)(r * 4 + 1) * xs;
                        float *v2 = v + (size_t)(r * 4 + 2) * xs, *v3 = v + (size_t)(r * 4 + 3) * xs;
                        for (int tw = 0; tw < TW; tw++) v0[tw] = e[tw] - e[tw + 1];
                        for (int tw = 0; tw < TW; tw++) v1[tw] = o[tw] + e[tw + 1];
                        for (int tw = 0; tw < TW; tw++) v2[tw] = e[tw + 1] - o[tw];
                        for (int tw = 0; tw < TW; tw++) v3[tw] = o[tw] - o[tw + 1];
                    }
                }
            }
        }
    }
}

// out (OC, B, OH, OW) (=, or += when accumulate) for images [b0, b0 + nb) from M (16, OC, P),
// matrix x at M + x * xs. A row of tiles at a time: the 2x2 outputs of all its tiles go to four
// short arrays first (a loop that vectorizes), then into the two output rows.
static void output_transform(float *out, const float *M, size_t xs, int B, int b0, int nb, int OC,
                             int OH, int OW, int TH, int TW, bool accumulate) {
    size_t P = (size_t)nb * TH * TW;
    KDT_ASSERT(TW <= STRIP_MAX);
#pragma omp parallel
    {
        float y[4][STRIP_MAX]; // (row, column parity) of each tile's outputs
#pragma omp for collapse(2) schedule(static)
        for (int oc = 0; oc < OC; oc++) {
            for (int b = 0; b < nb; b++) {
                float *dst = out + ((size_t)oc * B + (size_t)(b0 + b)) * OH * OW;
                for (int th = 0; th < TH; th++) {
                    const float *mp = M + (size_t)oc * P + ((size_t)b * TH + th) * TW;
                    for (int tw = 0; tw < TW; tw++) {
                        float m[4][4];
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) m[i][j] = mp[(i * 4 + j) * xs + tw];
                        float t[2][4]; // A^T m
                        for (int j = 0; j < 4; j++) {
                            t[0][j] = m[0][j] + m[1][j] + m[2][j];
                            t[1][j] = m[1][j] - m[2][j] - m[3][j];
                        }
                        for (int i = 0; i < 2; i++) { // (A^T m) A
                            y[2 * i][tw] = t[i][0] + t[i][1] + t[i][2];
                            y[2 * i + 1][tw] = t[i][1] - t[i][2] - t[i][3];
                        }
                    }
                    for (int i = 0; i < 2; i++) {
                        int h = 2 * th + i;
                        if (h >= OH) break;
                        float *o = dst + (size_t)h * OW;
                        const float *ye = y[2 * i], *yo = y[2 * i + 1];
                        int full = OW / 2; // tiles whose two columns are both inside
                        if (accumulate) {
                            for (int tw = 0; tw < full; tw++) {
                                o[2 * tw] += ye[tw];
                                o[2 * tw + 1] += yo[tw];
                            }
                            if (OW % 2) o[OW - 1] += ye[full];
                        } else {
                            for (int tw = 0; tw < full; tw++) {
                                o[2 * tw] = ye[tw];
                                o[2 * tw + 1] = yo[tw];
                            }
                            if (OW % 2) o[OW - 1] = ye[full];
                        }
                    }
                }
            }
        }
    }
}

void winograd_conv3x3(float *out, bool accumulate, float *ws, const float *U, const float *inp,
                      int B, int C, int H, int W, int OC, int pad) {
    int OH = conv_out_size(H, 3, 1, pad), OW = conv_out_size(W, 3, 1, pad);
    int TH = tiles_of(OH), TW = tiles_of(OW), tt = TH * TW;
    int nb = chunk_images(B, C, OC, tt);
    float *V = ws, *M = ws + 16 * ((size_t)C * tt * nb + XS_PAD);
    for (int b0 = 0; b0 < B; b0 += nb) {
        int n = b0 + nb <= B ? nb : B - b0;
        int P = n * tt;
        size_t vxs = (size_t)C * P + XS_PAD, mxs = (size_t)OC * P + XS_PAD;
        input_transform(V, vxs, inp, B, b0, n, C, H, W, pad, TH, TW);
        // the 16 independent products share the threads, each a single-threaded GEMM
#pragma omp parallel for schedule(dynamic)
        for (int x = 0; x < 16; x++)
            gemm_serial(false, false, OC, P, C, 1.0f, U + (size_t)x * OC * C, C, V + x * vxs, P,
                        0.0f, M + x * mxs, P);
        output_transform(out, M, mxs, B, b0, n, OC, OH, OW, TH, TW, accumulate);
    }
}
