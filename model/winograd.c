// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions over the channel-major layout (Lavin & Gray
// 2016): each 2x2 output tile costs 16 multiplies per input channel instead of 36. Inputs are cut
// into overlapping 4x4 tiles and transformed (V = B^T d B), weights too (U = G g G^T); the 16
// element-wise products over channels are 16 GEMMs (OC, C) x (C, tiles); an inverse transform
// (Y = A^T M A) gives the outputs. Used for the forward pass and for the input gradient (a 3x3
// stride-1 convolution of the output gradient with the flipped, transposed weights).
#include <assert.h>
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
// even and odd columns, so the tile loop has no bounds checks, reads and writes contiguous memory
// and vectorizes (tile tw covers columns 2tw .. 2tw+3 = even[tw], odd[tw], even[tw+1], odd[tw+1]).
static void input_transform(float *V, size_t xs, const float *inp, int B, int b0, int nb, int C,
                            int H, int W, int pad, int TH, int TW) {
    size_t P = (size_t)nb * TH * TW;
    assert(TW + 1 <= STRIP_MAX);
#pragma omp parallel
    {
        float ev[4][STRIP_MAX], od[4][STRIP_MAX]; // 64 KiB on each thread's stack
#pragma omp for collapse(2) schedule(static)
        for (int c = 0; c < C; c++) {
            for (int b = 0; b < nb; b++) {
                const float *src = inp + ((size_t)c * B + (size_t)(b0 + b)) * H * W;
                for (int th = 0; th < TH; th++) {
                    for (int i = 0; i < 4; i++) {
                        int h = 2 * th - pad + i;
                        bool row_in = h >= 0 && h < H;
                        for (int k = 0; k <= TW; k++) {
                            int w = 2 * k - pad;
                            ev[i][k] = (row_in && w >= 0 && w < W) ? src[(size_t)h * W + w] : 0.0f;
                            od[i][k] = (row_in && w + 1 >= 0 && w + 1 < W) ? src[(size_t)h * W + w + 1] : 0.0f;
                        }
                    }
                    float *v = V + (size_t)c * P + ((size_t)b * TH + th) * TW;
                    for (int tw = 0; tw < TW; tw++) {
                        float t[4][4]; // B^T d, column j of the tile
                        for (int j = 0; j < 4; j++) {
                            const int k = tw + j / 2;
                            float d0 = j % 2 ? od[0][k] : ev[0][k], d1 = j % 2 ? od[1][k] : ev[1][k];
                            float d2 = j % 2 ? od[2][k] : ev[2][k], d3 = j % 2 ? od[3][k] : ev[3][k];
                            t[0][j] = d0 - d2;
                            t[1][j] = d1 + d2;
                            t[2][j] = d2 - d1;
                            t[3][j] = d1 - d3;
                        }
                        for (int i = 0; i < 4; i++) { // (B^T d) B
                            v[(i * 4 + 0) * xs + tw] = t[i][0] - t[i][2];
                            v[(i * 4 + 1) * xs + tw] = t[i][1] + t[i][2];
                            v[(i * 4 + 2) * xs + tw] = t[i][2] - t[i][1];
                            v[(i * 4 + 3) * xs + tw] = t[i][1] - t[i][3];
                        }
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
    assert(TW <= STRIP_MAX);
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
