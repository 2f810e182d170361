// Thread-count independence of the engine, bit for bit: for mlp, cnn, resnet8, resnet20 and a
// tiny resnet18, the training-mode logits, every parameter gradient, the eval-mode logits, and the
// parameters and running statistics after 3 SGD steps (momentum, weight decay) are compared with
// memcmp at 1, 2, 3 and 4 OpenMP threads. Also the GEMM entry on its own, at shapes that take
// each of its partitions.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gemm.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/sgd.h"
#include "testutil.h"

enum { STEPS = 3 };

// Everything one run produces, each (n) floats as named.
typedef struct {
    float *logits;      // (B, K) training-mode forward of the first batch
    float *grads;       // (num_params) after the first backward
    float *eval_logits; // (B, K) eval-mode forward after the SGD steps
    float *state;       // (num_params + buffers) parameters and running statistics after them
    size_t n_logits, n_params, n_state;
} run_result;

static void result_free(run_result *r) {
    free(r->logits);
    free(r->grads);
    free(r->eval_logits);
    free(r->state);
}

static size_t state_floats(const model *m) {
    size_t n = 0;
    for (int t = 0; t < model_num_tensors(m); t++) n += model_get_tensor(m, t).numel;
    return n;
}

// One training run at `threads` threads: a fresh model from a fixed seed, STEPS SGD steps on
// fixed batches (the last one short), with the first step's logits and gradients and the final state kept.
static run_result run_at(model_spec s, int B, int threads) {
    model_set_threads(threads);
    model *m = model_create(&s, B);
    assert_non_null(m);
    rng init = rng_stream(21, "init", 0, 0);
    model_init_params(m, &init);
    sgd *opt = sgd_create(m, 0.05f, 0.9f, 5e-4f, false);
    assert_non_null(opt);
    int K = s.num_classes;
    size_t nx = (size_t)B * s.in_c * s.in_h * s.in_w;
    float *x = malloc(nx * sizeof(float)), *dz = malloc((size_t)B * K * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    assert_true(x && dz && y);
    run_result r = {.n_logits = (size_t)B * K, .n_params = model_num_params(m),
                    .n_state = state_floats(m)};
    r.logits = malloc(r.n_logits * sizeof(float));
    r.grads = malloc(r.n_params * sizeof(float));
    r.eval_logits = malloc(r.n_logits * sizeof(float));
    r.state = malloc(r.n_state * sizeof(float));
    assert_true(r.logits && r.grads && r.eval_logits && r.state);
    rng data = rng_stream(22, "threads", 0, 0);
    for (int step = 0; step < STEPS; step++) {
        // the last step a short batch, as at the end of an epoch: other GEMM shapes
        int b_step = step == STEPS - 1 && B > 3 ? B - 3 : B;
        tu_fill(x, nx, &data, -1, 1);
        for (int b = 0; b < b_step; b++) y[b] = (b * 7 + step) % K;
        model_zero_grad(m);
        const float *z = model_forward(m, x, b_step, true);
        if (step == 0) memcpy(r.logits, z, r.n_logits * sizeof(float));
        loss_cross_entropy(dz, z, y, b_step, K);
        model_backward(m, dz);
        if (step == 0) memcpy(r.grads, model_grads(m), r.n_params * sizeof(float));
        sgd_step(opt, -1.0f);
    }
    memcpy(r.eval_logits, model_forward(m, x, B, false), r.n_logits * sizeof(float));
    size_t off = 0;
    for (int t = 0; t < model_num_tensors(m); t++) {
        model_tensor tt = model_get_tensor(m, t);
        memcpy(r.state + off, tt.data, tt.numel * sizeof(float));
        off += tt.numel;
    }
    free(x);
    free(dz);
    free(y);
    sgd_destroy(opt);
    model_destroy(m);
    return r;
}

// Index of the first difference of a and b (n floats), or -1.
static long first_diff(const float *a, const float *b, size_t n) {
    if (memcmp(a, b, n * sizeof(float)) == 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) return (long)i;
    return -1;
}

static void check_same(const char *arch, const char *what, int threads, const float *a,
                       const float *b, size_t n) {
    long i = first_diff(a, b, n);
    if (i >= 0) {
        double ref, d = tu_max_diff(b, a, n, &ref);
        printf("  %s: %s differ between 1 and %d threads (first at %ld: %.9g vs %.9g; max diff "
               "%.3g of max %.3g)\n", arch, what, threads, i, a[i], b[i], d, ref);
    }
    assert_true(i < 0);
}

static void check_arch(model_spec s, int B) {
    const char *arch = model_arch_name(s.arch);
    int saved = omp_get_max_threads();
    run_result ref = run_at(s, B, 1);
    for (int t = 2; t <= 4; t++) {
        run_result r = run_at(s, B, t);
        check_same(arch, "training logits", t, ref.logits, r.logits, r.n_logits);
        check_same(arch, "gradients", t, ref.grads, r.grads, r.n_params);
        check_same(arch, "eval logits after SGD", t, ref.eval_logits, r.eval_logits, r.n_logits);
        check_same(arch, "parameters after SGD", t, ref.state, r.state, r.n_state);
        result_free(&r);
    }
    printf("  %s (batch %d, %zu parameters): bit-identical at 1 to 4 threads\n", arch, B,
           ref.n_params);
    result_free(&ref);
    model_set_threads(saved);
}

static model_spec spec_of(model_arch a, int c, int h, int w, int k) {
    model_spec s = {.arch = a, .in_c = c, .in_h = h, .in_w = w, .num_classes = k};
    if (a == MODEL_MLP) {
        s.num_hidden = 2;
        s.hidden[0] = 512;
        s.hidden[1] = 256;
    }
    return s;
}

// Sizes big enough that GEMMs are split (over a million multiply-adds), and the embedded
// default's 1x16x16 at small batches, whose thin GEMMs the old per-thread split cut into blocks
// that OpenBLAS rounded differently (mlp at batch 50, cnn at batch 8 differed at 2 threads).
static void mlp_threads(void **state) {
    (void)state;
    check_arch(spec_of(MODEL_MLP, 3, 32, 32, 10), 64);
    model_spec s = spec_of(MODEL_MLP, 1, 16, 16, 10);
    s.num_hidden = 1;
    s.hidden[0] = 128;
    check_arch(s, 50);
}

static void cnn_threads(void **state) {
    (void)state;
    check_arch(spec_of(MODEL_CNN, 3, 32, 32, 10), 24);
    check_arch(spec_of(MODEL_CNN, 1, 16, 16, 10), 8);
}

static void resnet8_threads(void **state) {
    (void)state;
    check_arch(spec_of(MODEL_RESNET8, 3, 16, 16, 10), 12);
}

static void resnet20_threads(void **state) {
    (void)state;
    check_arch(spec_of(MODEL_RESNET20, 3, 8, 8, 10), 6);
}

static void resnet18_threads(void **state) {
    (void)state;
    check_arch(spec_of(MODEL_RESNET18, 3, 8, 8, 10), 2);
}

// The GEMM entry alone, every transpose, at shapes that split by columns, by rows and not at all,
// with beta 0 and 1: the same bits at any thread count, and inside a parallel region.
static void gemm_threads(void **state) {
    (void)state;
    const int shapes[][3] = {{64, 4096, 300}, {512, 20, 9000}, {7, 3000, 100}, {200, 200, 30},
                             {33, 1000, 2000}, {1000, 16, 1000}};
    int saved = omp_get_max_threads();
    rng r = rng_stream(23, "gemm", 0, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *Bm = malloc(sizeof(float) * (size_t)K * N);
        float *C0 = malloc(sizeof(float) * (size_t)M * N), *C1 = malloc(sizeof(float) * (size_t)M * N);
        float *Cs = malloc(sizeof(float) * (size_t)M * N);
        tu_fill(A, (size_t)M * K, &r, -1, 1);
        tu_fill(Bm, (size_t)K * N, &r, -1, 1);
        tu_fill(Cs, (size_t)M * N, &r, -1, 1);
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                for (int beta = 0; beta < 2; beta++) {
                    int lda = ta ? M : K, ldb = tb ? K : N;
                    model_set_threads(1);
                    memcpy(C0, Cs, sizeof(float) * (size_t)M * N);
                    gemm(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, (float)beta, C0, N);
                    for (int t = 2; t <= 5; t++) {
                        model_set_threads(t);
                        memcpy(C1, Cs, sizeof(float) * (size_t)M * N);
                        gemm(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, (float)beta, C1, N);
                        long i = first_diff(C0, C1, (size_t)M * N);
                        if (i >= 0)
                            printf("  gemm %dx%dx%d ta %d tb %d beta %d: 1 vs %d threads differ "
                                   "at %ld\n", M, N, K, ta, tb, beta, t, i);
                        assert_true(i < 0);
                    }
                    // inside a parallel region (several models at once, one thread each)
                    memcpy(C1, Cs, sizeof(float) * (size_t)M * N);
#pragma omp parallel num_threads(2)
                    {
#pragma omp single
                        gemm(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, (float)beta, C1, N);
                    }
                    assert_true(first_diff(C0, C1, (size_t)M * N) < 0);
                }
            }
        }
        free(A);
        free(Bm);
        free(C0);
        free(C1);
        free(Cs);
    }
    model_set_threads(saved);
}

// The blocks tile C exactly, at most 16 of them, and big products are split (so the tests above
// exercise the threads), along the longer side.
static void gemm_plans_tile_c(void **state) {
    (void)state;
    const int shapes[][3] = {{64, 4096, 300}, {512, 20, 9000}, {7, 3000, 100}, {27, 64, 131072},
                             {576, 64, 7168}, {4608, 512, 896}, {10, 128, 128}, {1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        gemm_plan p = gemm_plan_of(M, N, K);
        int dim = p.by_rows ? M : N;
        assert_true(p.blocks >= 1 && p.blocks <= 16 && p.per >= 1);
        assert_true((p.blocks - 1) * p.per < dim && p.blocks * p.per >= dim);
        if ((double)M * N * K >= 4e6 && (M >= 64 || N >= 64)) assert_true(p.blocks >= 2);
        if (p.blocks > 1) assert_true(p.by_rows == (M > N));
        printf("  gemm %dx%dx%d: %d blocks of %d %s\n", M, N, K, p.blocks, p.per,
               p.by_rows ? "rows" : "columns");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_plans_tile_c), cmocka_unit_test(gemm_threads),
        cmocka_unit_test(mlp_threads),
        cmocka_unit_test(cnn_threads),      cmocka_unit_test(resnet8_threads),
        cmocka_unit_test(resnet20_threads), cmocka_unit_test(resnet18_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
