// Layer kernels: every optimized kernel against its naive reference (direct convolution, textbook
// batch norm), and a finite-difference gradient check of every layer's backward.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/ops.h"
#include "testutil.h"

static float *fa(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

// ---- a generic probe: loss = sum(out * R) of a forward that reads the current inputs ----------

typedef struct {
    void (*fwd)(void);
    float *out;
    float *R;
    size_t nout;
} probe;
static probe PR;
static double probe_loss(void *ctx) {
    (void)ctx;
    PR.fwd();
    return tu_dot(PR.out, PR.R, PR.nout);
}

// ---- convolution --------------------------------------------------------------------------------

static struct {
    int B, C, H, W, OC, K, S, P;
    float *x, *w, *b, *ws;
} CV;
static void conv_fwd(void) {
    conv2d_forward(PR.out, CV.ws, CV.x, CV.w, CV.b, CV.B, CV.C, CV.H, CV.W, CV.OC, CV.K, CV.K, CV.S,
                   CV.P, false);
}

static void check_conv_case(int B, int C, int H, int W, int OC, int K, int S, int P, bool bias,
                            bool gradcheck) {
    rng r = rng_stream(1, "conv", (uint64_t)(B * 1000 + C), (uint64_t)(K * 100 + S * 10 + P));
    int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
    size_t nx = (size_t)C * B * H * W, nw = (size_t)OC * C * K * K, ny = (size_t)OC * B * OH * OW;
    float *x = fa(nx), *w = fa(nw), *b = bias ? fa((size_t)OC) : NULL, *y = fa(ny), *yr = fa(ny);
    float *ws = fa(conv2d_workspace_floats(B, C, OC, OH, OW, K, K, S, P));
    tu_fill(x, nx, &r, -1, 1);
    tu_fill(w, nw, &r, -0.5f, 0.5f);
    if (b) tu_fill(b, (size_t)OC, &r, -0.5f, 0.5f);
    conv2d_forward(y, ws, x, w, b, B, C, H, W, OC, K, K, S, P, false);
    naive_conv2d_forward(yr, x, w, b, B, C, H, W, OC, K, K, S, P);
    double ref, d = tu_max_diff(y, yr, ny, &ref);
    printf("  conv B%d C%d %dx%d OC%d k%d s%d p%d bias%d fwd %s bwd %s: forward max diff %.3g "
           "(max |ref| %.3g)\n", B, C, H, W, OC, K, S, P, bias,
           conv2d_uses_winograd(C, K, K, S, P) ? "winograd" : "im2col",
           conv2d_uses_winograd(OC, K, K, S, P) ? "winograd" : "im2col", d, ref);
    assert_true(d <= 1e-5 * (1.0 + ref) * sqrt((double)C * K * K));

    // backward against the naive adjoint, accumulating on top of nonzero gradients
    float *dy = fa(ny), *dx = fa(nx), *dxr = fa(nx), *dw = fa(nw), *dwr = fa(nw);
    float *db = fa((size_t)OC), *dbr = fa((size_t)OC);
    tu_fill(dy, ny, &r, -1, 1);
    for (size_t i = 0; i < nx; i++) dx[i] = dxr[i] = 0.25f;
    for (size_t i = 0; i < nw; i++) dw[i] = dwr[i] = -0.5f;
    conv2d_backward(dx, dw, bias ? db : NULL, ws, dy, NULL, x, w, B, C, H, W, OC, K, K, S, P, false);
    naive_conv2d_backward(dxr, dwr, bias ? dbr : NULL, dy, x, w, B, C, H, W, OC, K, K, S, P);
    double d1 = tu_max_diff(dx, dxr, nx, &ref);
    assert_true(d1 <= 1e-5 * (1.0 + ref) * sqrt((double)OC * K * K));
    double d2 = tu_max_diff(dw, dwr, nw, &ref);
    assert_true(d2 <= 1e-5 * (1.0 + ref) * sqrt((double)ny));
    double d3 = tu_max_diff(db, dbr, (size_t)OC, &ref);
    assert_true(d3 <= 1e-5 * (1.0 + ref) * sqrt((double)ny));
    printf("    backward max diff dinp %.3g dweight %.3g dbias %.3g\n", d1, d2, d3);

    if (gradcheck) {
        CV.B = B; CV.C = C; CV.H = H; CV.W = W; CV.OC = OC; CV.K = K; CV.S = S; CV.P = P;
        CV.x = x; CV.w = w; CV.b = b; CV.ws = ws;
        PR = (probe){conv_fwd, y, dy, ny};
        memset(dx, 0, nx * sizeof(float));
        memset(dw, 0, nw * sizeof(float));
        memset(db, 0, (size_t)OC * sizeof(float));
        conv2d_backward(dx, dw, bias ? db : NULL, ws, dy, NULL, x, w, B, C, H, W, OC, K, K, S, P, false);
        assert_true(tu_gradcheck("conv dinp", x, dx, nx, probe_loss, NULL, 200, 1e-2, 2e-3));
        assert_true(tu_gradcheck("conv dweight", w, dw, nw, probe_loss, NULL, 200, 1e-2, 2e-3));
        if (b) assert_true(tu_gradcheck("conv dbias", b, db, (size_t)OC, probe_loss, NULL, 200, 1e-2, 2e-3));
    }
    free(x); free(w); free(b); free(y); free(yr); free(ws); free(dy); free(dx); free(dxr);
    free(dw); free(dwr); free(db); free(dbr);
}

static void conv_matches_naive(void **state) {
    (void)state;
    // 3x3 stride 1 runs through Winograd: check it, then the same shapes through im2col
    for (int wino = 1; wino >= 0; wino--) {
        conv2d_enable_winograd(wino);
        check_conv_case(2, 16, 8, 8, 16, 3, 1, 1, true, true);  // 3x3 same padding
        check_conv_case(3, 16, 7, 9, 17, 3, 1, 1, false, true); // odd sizes: partial tiles
        check_conv_case(2, 3, 8, 8, 4, 3, 1, 1, true, true);    // few channels: im2col
        check_conv_case(2, 3, 6, 5, 16, 3, 1, 1, true, false);  // Winograd for dinp only
        check_conv_case(2, 16, 6, 5, 16, 3, 1, 0, true, false); // no padding
        check_conv_case(2, 16, 5, 6, 16, 3, 1, 2, true, false); // padding 2
        // many images: im2col and Winograd tiles go in several chunks, the last one short
        check_conv_case(9, 64, 32, 32, 16, 3, 1, 1, false, false);
        check_conv_case(11, 32, 64, 64, 16, 3, 1, 1, false, false);
        check_conv_case(5, 512, 4, 4, 512, 3, 1, 1, false, false); // ResNet-18's last stage
    }
    conv2d_enable_winograd(true);
    check_conv_case(3, 4, 9, 7, 5, 3, 2, 1, false, true);   // stride 2, odd non-square input
    check_conv_case(2, 6, 5, 5, 3, 1, 1, 0, true, true);    // pointwise: no im2col
    check_conv_case(2, 4, 8, 8, 6, 1, 2, 0, false, true);   // 1x1 stride 2 projection shortcut
    check_conv_case(2, 2, 7, 6, 3, 5, 1, 2, true, false);   // 5x5
    check_conv_case(2, 2, 4, 4, 2, 3, 3, 2, true, false);   // padding larger than the stride
}

// ---- batch norm ---------------------------------------------------------------------------------

static struct bn_s {
    int C;
    size_t N;
    bool train, relu;
    float *x, *g, *b, *rm, *rv, *sm, *si;
} BN;
static void bn_fwd(void) {
    // the probe must not drift the running statistics between evaluations
    float rm[16], rv[16];
    memcpy(rm, BN.rm, sizeof(float) * BN.C);
    memcpy(rv, BN.rv, sizeof(float) * BN.C);
    batchnorm_forward(PR.out, BN.sm, BN.si, rm, rv, BN.x, BN.g, BN.b, BN.C, BN.N, 1e-5f, 0.1f,
                      BN.train, BN.relu);
}

static void batchnorm_matches_textbook(void **state) {
    (void)state;
    enum { C = 5 };
    size_t N = 3 * 6 * 6;
    rng r = rng_stream(2, "bn", 0, 0);
    float *x = fa(C * N), *y = fa(C * N), *yr = fa(C * N), g[C], b[C], rm[C], rv[C], sm[C], si[C];
    tu_fill(x, C * N, &r, -2, 3);
    tu_fill(g, C, &r, 0.5f, 1.5f);
    tu_fill(b, C, &r, -0.5f, 0.5f);
    for (int c = 0; c < C; c++) {
        rm[c] = 0.1f * c;
        rv[c] = 1.0f + 0.2f * c;
    }
    float rm0[C], rv0[C];
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    double mean[C], var[C];
    batchnorm_forward(y, sm, si, rm, rv, x, g, b, C, N, 1e-5f, 0.1f, true, false);
    naive_batchnorm_forward(yr, mean, var, x, g, b, C, N, 1e-5);
    double ref, d = tu_max_diff(y, yr, C * N, &ref);
    printf("  bn forward max diff %.3g\n", d);
    assert_true(d < 1e-5 * (1 + ref));
    for (int c = 0; c < C; c++) {
        // PyTorch: running mean/var by momentum 0.1, the variance unbiased
        double want_rm = 0.9 * rm0[c] + 0.1 * mean[c];
        double want_rv = 0.9 * rv0[c] + 0.1 * var[c] * (double)N / (double)(N - 1);
        assert_true(fabs(rm[c] - want_rm) < 1e-6 * (1 + fabs(want_rm)));
        assert_true(fabs(rv[c] - want_rv) < 1e-6 * (1 + fabs(want_rv)));
    }
    // backward against the textbook chain rule
    float *dy = fa(C * N), *dx = fa(C * N), *dxr = fa(C * N), dg[C] = {0}, db[C] = {0}, dgr[C],
          dbr[C];
    tu_fill(dy, C * N, &r, -1, 1);
    batchnorm_backward(dx, dg, db, dy, y, x, g, sm, si, C, N, true, false);
    naive_batchnorm_backward(dxr, dgr, dbr, dy, x, g, C, N, 1e-5);
    double d1 = tu_max_diff(dx, dxr, C * N, &ref);
    assert_true(d1 < 1e-4 * (1 + ref));
    double d2 = tu_max_diff(dg, dgr, C, &ref);
    assert_true(d2 < 1e-4 * (1 + ref));
    double d3 = tu_max_diff(db, dbr, C, &ref);
    assert_true(d3 < 1e-4 * (1 + ref));
    printf("  bn backward max diff dx %.3g dgamma %.3g dbeta %.3g\n", d1, d2, d3);

    // evaluation mode: normalizes with the running statistics and leaves them alone
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    batchnorm_forward(y, sm, si, rm, rv, x, g, b, C, N, 1e-5f, 0.1f, false, false);
    assert_memory_equal(rm, rm0, sizeof rm);
    assert_memory_equal(rv, rv0, sizeof rv);
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < N; i += 17) {
            double want = g[c] * (x[c * N + i] - rm[c]) / sqrt(rv[c] + 1e-5) + b[c];
            assert_true(fabs(y[c * N + i] - want) < 1e-5 * (1 + fabs(want)));
        }
    free(x); free(y); free(yr); free(dy); free(dx); free(dxr);
}

static void batchnorm_gradcheck(void **state) {
    (void)state;
    enum { C = 3 };
    size_t N = 2 * 5 * 5;
    rng r = rng_stream(3, "bn", 0, 0);
    float *x = fa(C * N), *y = fa(C * N), *R = fa(C * N), *dx = fa(C * N);
    float g[C], b[C], rm[C] = {0.1f, -0.2f, 0.3f}, rv[C] = {1.0f, 0.5f, 2.0f}, sm[C], si[C];
    tu_fill(x, C * N, &r, -2, 2);
    tu_fill(g, C, &r, 0.5f, 1.5f);
    tu_fill(b, C, &r, -0.2f, 0.2f);
    tu_fill(R, C * N, &r, -1, 1);
    for (int mode = 0; mode < 4; mode++) {
        bool train = mode < 2, relu = mode % 2 == 1;
        BN = (struct bn_s){C, N, train, relu, x, g, b, rm, rv, sm, si};
        PR = (probe){bn_fwd, y, R, C * N};
        bn_fwd();
        float dg[C] = {0}, db[C] = {0};
        memset(dx, 0, C * N * sizeof(float));
        batchnorm_backward(dx, dg, db, R, y, x, g, sm, si, C, N, train, relu);
        char what[64];
        snprintf(what, sizeof what, "bn %s%s dx", train ? "train" : "eval", relu ? "+relu" : "");
        assert_true(tu_gradcheck(what, x, dx, C * N, probe_loss, NULL, 150, 1e-3, 3e-3));
        snprintf(what, sizeof what, "bn %s%s dgamma", train ? "train" : "eval", relu ? "+relu" : "");
        assert_true(tu_gradcheck(what, g, dg, C, probe_loss, NULL, C, 1e-3, 3e-3));
        snprintf(what, sizeof what, "bn %s%s dbeta", train ? "train" : "eval", relu ? "+relu" : "");
        assert_true(tu_gradcheck(what, b, db, C, probe_loss, NULL, C, 1e-3, 3e-3));
    }
    free(x); free(y); free(R); free(dx);
}

// ---- the small layers ---------------------------------------------------------------------------

static struct sl_s {
    int C, B, H, W, k, s, OC, F, K;
    bool relu;
    float *x, *x2, *w, *b;
} SL;
static void relu_fwd(void) { relu_forward(PR.out, SL.x, PR.nout); }
static void pool_fwd(void) { maxpool_forward(PR.out, SL.x, SL.C, SL.B, SL.H, SL.W, SL.k, SL.s); }
static void gap_fwd(void) { gap_forward(PR.out, SL.x, SL.C, SL.B, SL.H * SL.W); }
static void lin_fwd(void) { linear_forward(PR.out, SL.x, SL.w, SL.b, SL.B, SL.F, SL.K); }
static void add_fwd(void) { add_forward(PR.out, SL.x, SL.x2, PR.nout, SL.relu); }
static void flat_fwd(void) { flatten_forward(PR.out, SL.x, SL.C, SL.B, SL.H * SL.W); }
static void pad_fwd(void) {
    shortcut_pad_forward(PR.out, SL.x, SL.C, SL.B, SL.H, SL.W, SL.OC, SL.s);
}

// Fills x with well separated values so no finite step crosses a ReLU or max-pool kink.
static void fill_separated(float *x, size_t n, rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)rng_below(r, 2000) - 1000) * 0.01f + 0.005f;
}

static void small_layers_gradcheck(void **state) {
    (void)state;
    rng r = rng_stream(4, "layers", 0, 0);
    enum { NMAX = 4096 };
    float *x = fa(NMAX), *x2 = fa(NMAX), *y = fa(NMAX), *R = fa(NMAX), *dx = fa(NMAX),
          *dx2 = fa(NMAX), *w = fa(NMAX), *b = fa(64), *dw = fa(NMAX), *db = fa(64);
    tu_fill(R, NMAX, &r, -1, 1);
    SL = (struct sl_s){.C = 3, .B = 2, .H = 6, .W = 7, .k = 2, .s = 2, .OC = 7, .F = 12, .K = 5,
                      .x = x, .x2 = x2, .w = w, .b = b};
    size_t n = (size_t)SL.C * SL.B * SL.H * SL.W;

    // relu
    fill_separated(x, n, &r);
    PR = (probe){relu_fwd, y, R, n};
    relu_fwd();
    memset(dx, 0, n * sizeof(float));
    relu_backward(dx, R, y, n);
    assert_true(tu_gradcheck("relu", x, dx, n, probe_loss, NULL, 1000, 1e-3, 1e-3));

    // max pool 2x2 stride 2 on 6x7 (floor mode drops the last column), and 3x3 stride 2
    for (int v = 0; v < 2; v++) {
        SL.k = v == 0 ? 2 : 3;
        size_t no = (size_t)SL.C * SL.B * conv_out_size(SL.H, SL.k, SL.s, 0) *
                    conv_out_size(SL.W, SL.k, SL.s, 0);
        fill_separated(x, n, &r);
        PR = (probe){pool_fwd, y, R, no};
        pool_fwd();
        memset(dx, 0, n * sizeof(float));
        maxpool_backward(dx, R, x, SL.C, SL.B, SL.H, SL.W, SL.k, SL.s, true, false);
        assert_true(tu_gradcheck(v == 0 ? "maxpool 2/2" : "maxpool 3/2", x, dx, n, probe_loss,
                                 NULL, 1000, 1e-3, 1e-3));
        // forward against a direct definition
        int OW = conv_out_size(SL.W, SL.k, SL.s, 0);
        float m = -1e30f;
        for (int i = 0; i < SL.k; i++)
            for (int j = 0; j < SL.k; j++) m = fmaxf(m, x[(size_t)(0 + i) * SL.W + 2 + j]);
        assert_true(y[1] == m && OW == (SL.W - SL.k) / 2 + 1);
    }

    // the overwriting 2x2 backward (even sizes) equals the accumulating one on a zeroed gradient
    {
        size_t ne = (size_t)SL.C * SL.B * 6 * 8;
        fill_separated(x, ne, &r);
        for (size_t i = 0; i < ne; i++) dx[i] = 123.0f; // garbage that must disappear
        memset(dx2, 0, ne * sizeof(float));
        maxpool_backward(dx, R, x, SL.C, SL.B, 6, 8, 2, 2, false, false);
        maxpool_backward(dx2, R, x, SL.C, SL.B, 6, 8, 2, 2, true, false);
        assert_memory_equal(dx, dx2, ne * sizeof(float));
        // with the producer's ReLU fused: the same as masking afterwards by inp > 0, also
        // through the generic path (3x3 windows)
        for (size_t i = 0; i < ne; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        for (int k = 2; k <= 3; k++) {
            memset(dx, 0, ne * sizeof(float));
            memset(dx2, 0, ne * sizeof(float));
            maxpool_backward(dx, R, x, SL.C, SL.B, 6, 8, k, 2, true, true);
            maxpool_backward(dx2, R, x, SL.C, SL.B, 6, 8, k, 2, true, false);
            relu_mask_inplace(dx2, x, ne);
            assert_memory_equal(dx, dx2, ne * sizeof(float));
        }
    }

    // global average pool
    tu_fill(x, n, &r, -1, 1);
    PR = (probe){gap_fwd, y, R, (size_t)SL.C * SL.B};
    gap_fwd();
    memset(dx, 0, n * sizeof(float));
    gap_backward(dx, R, SL.C, SL.B, SL.H * SL.W);
    assert_true(tu_gradcheck("gap", x, dx, n, probe_loss, NULL, 1000, 1e-2, 1e-3));

    // linear (F, B) -> (K, B)
    size_t nx = (size_t)SL.F * SL.B, nw = (size_t)SL.K * SL.F;
    tu_fill(x, nx, &r, -1, 1);
    tu_fill(w, nw, &r, -1, 1);
    tu_fill(b, (size_t)SL.K, &r, -1, 1);
    PR = (probe){lin_fwd, y, R, (size_t)SL.K * SL.B};
    lin_fwd();
    for (int k = 0; k < SL.K; k++)
        for (int bb = 0; bb < SL.B; bb++) {
            double s = b[k];
            for (int f = 0; f < SL.F; f++) s += (double)w[k * SL.F + f] * x[f * SL.B + bb];
            assert_true(fabs(y[k * SL.B + bb] - s) < 1e-5);
        }
    memset(dx, 0, nx * sizeof(float));
    memset(dw, 0, nw * sizeof(float));
    memset(db, 0, 64 * sizeof(float));
    linear_backward(dx, dw, db, R, x, w, SL.B, SL.F, SL.K);
    assert_true(tu_gradcheck("linear dinp", x, dx, nx, probe_loss, NULL, 1000, 1e-2, 1e-3));
    assert_true(tu_gradcheck("linear dweight", w, dw, nw, probe_loss, NULL, 1000, 1e-2, 1e-3));
    assert_true(tu_gradcheck("linear dbias", b, db, (size_t)SL.K, probe_loss, NULL, 100, 1e-2, 1e-3));

    // residual add, plain and with the fused ReLU
    for (int v = 0; v < 2; v++) {
        SL.relu = v == 1;
        fill_separated(x, n, &r);
        fill_separated(x2, n, &r);
        for (size_t i = 0; i < n; i++) x2[i] += 0.0025f; // keep x + x2 away from 0
        PR = (probe){add_fwd, y, R, n};
        add_fwd();
        memset(dx, 0, n * sizeof(float));
        memset(dx2, 0, n * sizeof(float));
        add_backward(dx, dx2, R, y, n, SL.relu);
        assert_true(tu_gradcheck(v ? "add+relu a" : "add a", x, dx, n, probe_loss, NULL, 500, 1e-3, 1e-3));
        assert_true(tu_gradcheck(v ? "add+relu b" : "add b", x2, dx2, n, probe_loss, NULL, 500, 1e-3, 1e-3));
    }

    // flatten: PyTorch order, feature c*H*W + h*W + w
    tu_fill(x, n, &r, -1, 1);
    PR = (probe){flat_fwd, y, R, n};
    flat_fwd();
    int HW = SL.H * SL.W;
    assert_true(y[(size_t)(2 * HW + 5) * SL.B + 1] == x[((size_t)2 * SL.B + 1) * HW + 5]);
    memset(dx, 0, n * sizeof(float));
    flatten_backward(dx, R, SL.C, SL.B, HW);
    assert_true(tu_gradcheck("flatten", x, dx, n, probe_loss, NULL, 1000, 1e-2, 1e-3));

    // option-A shortcut: 3 -> 7 channels (2 zero channels below, 2 above), stride 2
    SL.H = SL.W = 6;
    n = (size_t)SL.C * SL.B * 36;
    size_t no = (size_t)SL.OC * SL.B * 9;
    tu_fill(x, n, &r, -1, 1);
    PR = (probe){pad_fwd, y, R, no};
    pad_fwd();
    assert_true(y[0] == 0.0f && y[(size_t)(SL.OC - 1) * SL.B * 9] == 0.0f);
    // out channel 2 = in channel 0, image 1, (1, 2) from (2, 4)
    assert_true(y[((size_t)2 * SL.B + 1) * 9 + 1 * 3 + 2] == x[((size_t)0 * SL.B + 1) * 36 + 2 * 6 + 4]);
    memset(dx, 0, n * sizeof(float));
    shortcut_pad_backward(dx, R, SL.C, SL.B, 6, 6, SL.OC, 2);
    assert_true(tu_gradcheck("shortcut pad", x, dx, n, probe_loss, NULL, 1000, 1e-2, 1e-3));

    free(x); free(x2); free(y); free(R); free(dx); free(dx2); free(w); free(b); free(dw); free(db);
}

// ---- loss and layouts ---------------------------------------------------------------------------

static struct {
    float *z;
    int *y;
    int B, K;
} CE;
static double ce_loss(void *ctx) {
    (void)ctx;
    return loss_cross_entropy(NULL, CE.z, CE.y, CE.B, CE.K);
}

static void cross_entropy_value_and_gradient(void **state) {
    (void)state;
    enum { B = 4, K = 6 };
    rng r = rng_stream(5, "ce", 0, 0);
    float z[B * K], dz[B * K];
    int y[B] = {0, 5, 2, 2};
    tu_fill(z, B * K, &r, -3, 3);
    float l = loss_cross_entropy(dz, z, y, B, K);
    double want = 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp(z[b * K + k]);
        want += -(z[b * K + y[b]] - log(s));
    }
    want /= B;
    assert_true(fabs(l - want) < 1e-6 * (1 + want));
    // large logits stay finite (log-sum-exp)
    float big[2] = {1000.0f, -1000.0f}, dbig[2];
    int y0 = 1;
    assert_true(fabs(loss_cross_entropy(dbig, big, &y0, 1, 2) - 2000.0f) < 1e-2);
    CE.z = z; CE.y = y; CE.B = B; CE.K = K;
    assert_true(tu_gradcheck("cross-entropy", z, dz, B * K, ce_loss, NULL, B * K, 1e-3, 1e-3));
}

static void layouts_round_trip(void **state) {
    (void)state;
    enum { B = 3, C = 4, HW = 5 };
    float x[B * C * HW], t[B * C * HW], back[B * C * HW];
    for (int i = 0; i < B * C * HW; i++) x[i] = (float)i;
    layout_to_channel_major(t, x, B, C, HW);
    assert_true(t[(2 * B + 1) * HW + 3] == x[(1 * C + 2) * HW + 3]);
    layout_to_batch_major(back, t, B, C, HW);
    assert_memory_equal(back, x, sizeof x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_matches_naive),
        cmocka_unit_test(batchnorm_matches_textbook),
        cmocka_unit_test(batchnorm_gradcheck),
        cmocka_unit_test(small_layers_gradcheck),
        cmocka_unit_test(cross_entropy_value_and_gradient),
        cmocka_unit_test(layouts_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
