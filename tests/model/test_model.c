// Whole models: names and specs, parameter counts, initialization, finite-difference gradient
// checks of small models, short last batches, thread-count independence, parameter copies, SGD
// and learning-rate schedules.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/sgd.h"
#include "testutil.h"

static model_spec spec_of(model_arch a, int c, int h, int w, int k) {
    model_spec s = {.arch = a, .in_c = c, .in_h = h, .in_w = w, .num_classes = k};
    if (a == MODEL_MLP) {
        s.num_hidden = 2;
        s.hidden[0] = 16;
        s.hidden[1] = 8;
    }
    return s;
}

static model *make(model_spec s, int max_batch, uint64_t seed) {
    model *m = model_create(&s, max_batch);
    assert_non_null(m);
    rng r = rng_stream(seed, "init", 0, 0);
    model_init_params(m, &r);
    return m;
}

static void arch_names_round_trip(void **state) {
    (void)state;
    const char *names[] = {"mlp", "cnn", "resnet8", "resnet20", "resnet18"};
    for (int i = 0; i < 5; i++) {
        model_arch a;
        assert_int_equal(model_arch_from_name(names[i], &a), KDT_OK);
        assert_int_equal(a, i);
        assert_string_equal(model_arch_name(a), names[i]);
    }
    model_arch a;
    assert_int_equal(model_arch_from_name("resnet50", &a), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "resnet50"));
    assert_non_null(strstr(kdt_errmsg(), "resnet18"));
}

static void bad_specs_are_refused(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_CNN, 3, 2, 2, 10);
    assert_null(model_create(&s, 4));
    assert_non_null(strstr(kdt_errmsg(), "too small"));
    s = spec_of(MODEL_RESNET8, 3, 32, 32, 0);
    assert_int_equal(model_spec_validate(&s), KDT_ERR_CONFIG);
    s = spec_of(MODEL_MLP, 1, 4, 4, 3);
    s.num_hidden = MODEL_MAX_HIDDEN + 1;
    assert_int_equal(model_spec_validate(&s), KDT_ERR_CONFIG);
    s = spec_of(MODEL_MLP, 1, 4, 4, 3);
    s.hidden[1] = 0;
    assert_int_equal(model_spec_validate(&s), KDT_ERR_CONFIG);
    s = spec_of(MODEL_CNN, 3, 32, 32, 10);
    assert_null(model_create(&s, 0));
}

// Counts as PyTorch reports them for the reference modules (tests/model/make_fixtures.py).
static void parameter_counts(void **state) {
    (void)state;
    struct {
        model_spec s;
        size_t n;
    } cases[] = {
        {spec_of(MODEL_CNN, 3, 32, 32, 10), 545098},
        {spec_of(MODEL_CNN, 1, 28, 28, 10), 421642},
        {spec_of(MODEL_RESNET8, 3, 32, 32, 10), 75290},
        {spec_of(MODEL_RESNET20, 3, 32, 32, 10), 269722},
        {spec_of(MODEL_RESNET18, 3, 32, 32, 10), 11173962},
        {spec_of(MODEL_MLP, 1, 28, 28, 10), 784 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model *m = model_create(&cases[i].s, 2);
        assert_non_null(m);
        printf("  %-8s %dx%dx%d: %zu parameters\n", model_arch_name(cases[i].s.arch),
               cases[i].s.in_c, cases[i].s.in_h, cases[i].s.in_w, model_num_params(m));
        assert_int_equal(model_num_params(m), cases[i].n);
        size_t sum = 0;
        for (int t = 0; t < model_num_tensors(m); t++) {
            model_tensor mt = model_get_tensor(m, t);
            if (!mt.is_buffer) sum += mt.numel;
        }
        assert_int_equal(sum, cases[i].n);
        model_destroy(m);
    }
}

static void init_is_pytorch_like(void **state) {
    (void)state;
    model *m = make(spec_of(MODEL_RESNET8, 3, 16, 16, 10), 2, 1);
    for (int t = 0; t < model_num_tensors(m); t++) {
        model_tensor mt = model_get_tensor(m, t);
        bool bn = strstr(mt.name, "bn") != NULL;
        if (strstr(mt.name, "running_var") || (bn && strstr(mt.name, "weight"))) {
            for (size_t i = 0; i < mt.numel; i++) assert_true(mt.data[i] == 1.0f);
        } else if (strstr(mt.name, "running_mean") || (bn && strstr(mt.name, "bias"))) {
            for (size_t i = 0; i < mt.numel; i++) assert_true(mt.data[i] == 0.0f);
        } else {
            size_t fan_in = mt.ndim == 4 ? mt.numel / (size_t)mt.shape[0]
                                         : (mt.ndim == 2 ? (size_t)mt.shape[1] : 64);
            double bound = 1.0 / sqrt((double)fan_in), s2 = 0.0;
            for (size_t i = 0; i < mt.numel; i++) {
                assert_true(fabs(mt.data[i]) <= bound);
                s2 += (double)mt.data[i] * mt.data[i];
            }
            double sd = sqrt(s2 / mt.numel), want = bound / sqrt(3.0);
            if (mt.numel >= 1000) assert_true(fabs(sd - want) < 0.1 * want);
        }
    }
    model_destroy(m);
}

// ---- whole-model gradient checks ----------------------------------------------------------------

static struct {
    model *m;
    const float *x;
    const int *y;
    int B;
} GC;

static double model_loss(void *ctx) {
    (void)ctx;
    const float *z = model_forward(GC.m, GC.x, GC.B, true);
    return loss_cross_entropy(NULL, z, GC.y, GC.B, model_get_spec(GC.m)->num_classes);
}

// Checks every parameter tensor (or those named in `only`, NULL-terminated).
static void check_model_gradients(model_spec s, int B, double eps, double tol,
                                  const char *const *only) {
    model *m = make(s, B, 7);
    size_t nx = (size_t)B * s.in_c * s.in_h * s.in_w;
    float *x = malloc(nx * sizeof(float)), *dz = malloc((size_t)B * s.num_classes * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    rng r = rng_stream(8, "gc", (uint64_t)s.arch, 0);
    tu_fill(x, nx, &r, -1, 1);
    for (int b = 0; b < B; b++) y[b] = (int)rng_below(&r, (uint64_t)s.num_classes);
    // the running statistics move with every training forward but do not enter the loss
    model_zero_grad(m);
    const float *z = model_forward(m, x, B, true);
    loss_cross_entropy(dz, z, y, B, s.num_classes);
    model_backward(m, dz);
    GC.m = m; GC.x = x; GC.y = y; GC.B = B;
    for (int t = 0; t < model_num_tensors(m); t++) {
        model_tensor mt = model_get_tensor(m, t);
        if (mt.is_buffer) continue;
        bool pick = only == NULL;
        for (int i = 0; only && only[i]; i++) pick = pick || strcmp(mt.name, only[i]) == 0;
        if (!pick) continue;
        char what[96];
        snprintf(what, sizeof what, "%s %s", model_arch_name(s.arch), mt.name);
        assert_true(tu_gradcheck(what, mt.data, mt.grad, mt.numel, model_loss, NULL, 6, eps, tol));
    }
    free(x); free(dz); free(y);
    model_destroy(m);
}

static void whole_model_gradients(void **state) {
    (void)state;
    // double-precision-free float32 models: the tolerance is relative to the largest gradient
    check_model_gradients(spec_of(MODEL_MLP, 1, 5, 5, 4), 3, 1e-2, 1e-2, NULL);
    check_model_gradients(spec_of(MODEL_CNN, 2, 8, 8, 5), 3, 1e-2, 1e-2, NULL);
    check_model_gradients(spec_of(MODEL_RESNET8, 3, 8, 8, 4), 4, 1e-2, 2e-2, NULL);
    // ResNet-18 is large: its stem, a projection shortcut, the last block and the classifier;
    // 16x16 inputs so the last stage's batch norm still sees 16 values per channel; a small
    // step, as a deep ReLU network has kinks close to any point
    const char *const r18[] = {"conv1.weight", "layer2.0.shortcut.0.weight",
                               "layer2.0.shortcut.1.weight", "layer4.1.bn2.bias", "linear.weight",
                               NULL};
    check_model_gradients(spec_of(MODEL_RESNET18, 3, 16, 16, 3), 4, 3e-4, 2e-2, r18);
}

// ---- batches, threads, copies -------------------------------------------------------------------

static void run_step(model *m, const float *x, const int *y, int B, float *logits_out) {
    int K = model_get_spec(m)->num_classes;
    float *dz = malloc((size_t)B * K * sizeof(float));
    model_zero_grad(m);
    const float *z = model_forward(m, x, B, true);
    memcpy(logits_out, z, (size_t)B * K * sizeof(float));
    loss_cross_entropy(dz, z, y, B, K);
    model_backward(m, dz);
    free(dz);
}

static void short_last_batch(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_RESNET8, 3, 12, 12, 6);
    model *big = make(s, 8, 3), *small = make(s, 3, 3);
    size_t nx = 8 * 3 * 12 * 12, np = model_num_params(big);
    float *x = malloc(nx * sizeof(float)), za[8 * 6], zb[8 * 6];
    int y[8] = {0, 1, 2, 3, 4, 5, 0, 1};
    rng r = rng_stream(9, "short", 0, 0);
    tu_fill(x, nx, &r, -1, 1);
    run_step(big, x, y, 8, za); // a full batch first, then a short one in the same memory
    run_step(big, x, y, 3, za);
    run_step(small, x, y, 3, zb);
    // same sizes for every kernel: the results agree to float rounding of the stats update only
    double ref, d = tu_max_diff(za, zb, 3 * 6, &ref);
    printf("  short batch: logits max diff %.3g\n", d);
    assert_true(d <= 1e-5 * (1 + ref));
    float *ga = model_grads(big), *gb = model_grads(small);
    double dg = tu_max_diff(ga, gb, np, &ref);
    printf("  short batch: gradient max diff %.3g (max %.3g)\n", dg, ref);
    assert_true(dg <= 1e-4 * (1 + ref));
    free(x);
    model_destroy(big);
    model_destroy(small);
}

static void one_and_two_threads_agree(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_RESNET8, 3, 16, 16, 10);
    model *a = make(s, 5, 4), *b = make(s, 5, 4);
    size_t nx = 5 * 3 * 16 * 16, np = model_num_params(a);
    float *x = malloc(nx * sizeof(float)), za[50], zb[50];
    int y[5] = {1, 3, 5, 7, 9};
    rng r = rng_stream(10, "threads", 0, 0);
    tu_fill(x, nx, &r, -1, 1);
    model_set_threads(1);
    run_step(a, x, y, 5, za);
    model_set_threads(2);
    run_step(b, x, y, 5, zb);
    double ref, d = tu_max_diff(za, zb, 50, &ref);
    double dg = tu_max_diff(model_grads(a), model_grads(b), np, &ref);
    printf("  1 vs 2 threads: logits max diff %.3g, gradient max diff %.3g (max %.3g)\n", d, dg, ref);
    // the work is cut by problem size only: the same bits (test_threads.c checks more)
    assert_memory_equal(za, zb, sizeof za);
    assert_memory_equal(model_grads(a), model_grads(b), np * sizeof(float));
    free(x);
    model_destroy(a);
    model_destroy(b);
}

static void copy_params_clones(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_RESNET8, 3, 8, 8, 4);
    model *a = make(s, 4, 5), *b = make(s, 2, 6);
    float x[2 * 3 * 8 * 8], z[2 * 4];
    int y[2] = {0, 3};
    rng r = rng_stream(11, "copy", 0, 0);
    tu_fill(x, sizeof x / sizeof x[0], &r, -1, 1);
    run_step(a, x, y, 2, z); // moves a's running statistics away from their initial values
    model_copy_params(b, a);
    for (int t = 0; t < model_num_tensors(a); t++) {
        model_tensor ta = model_get_tensor(a, t), tb = model_get_tensor(b, t);
        assert_string_equal(ta.name, tb.name);
        assert_memory_equal(ta.data, tb.data, ta.numel * sizeof(float));
    }
    const float *za = model_forward(a, x, 2, false);
    memcpy(z, za, sizeof z);
    const float *zb = model_forward(b, x, 2, false);
    assert_memory_equal(z, zb, sizeof z);
    model_destroy(a);
    model_destroy(b);
}

static void eval_mode_keeps_running_stats(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_RESNET8, 3, 8, 8, 4);
    model *m = make(s, 2, 5);
    float x[2 * 3 * 8 * 8];
    rng r = rng_stream(12, "eval", 0, 0);
    tu_fill(x, sizeof x / sizeof x[0], &r, -1, 1);
    int t = 0;
    while (!strstr(model_get_tensor(m, t).name, "running_mean")) t++;
    model_tensor rm = model_get_tensor(m, t);
    float before = rm.data[0];
    model_forward(m, x, 2, false);
    assert_true(rm.data[0] == before);
    model_forward(m, x, 2, true);
    assert_true(rm.data[0] != before);
    model_destroy(m);
}

// ---- SGD and schedules --------------------------------------------------------------------------

static void sgd_matches_pytorch_formula(void **state) {
    (void)state;
    model_spec s = spec_of(MODEL_MLP, 1, 2, 2, 3);
    s.num_hidden = 0; // one linear layer: 4 * 3 + 3 parameters
    for (int nesterov = 0; nesterov < 2; nesterov++) {
        model *m = make(s, 1, 13);
        size_t n = model_num_params(m);
        assert_int_equal(n, 15);
        float *p = model_params(m), *g = model_grads(m);
        double want[15], buf[15] = {0};
        for (size_t i = 0; i < n; i++) want[i] = p[i];
        const float lr = 0.1f, mu = 0.9f, wd = 0.01f;
        sgd *o = sgd_create(m, lr, mu, wd, nesterov);
        assert_non_null(o);
        for (int step = 0; step < 3; step++) {
            for (size_t i = 0; i < n; i++) g[i] = (float)(0.1 * (double)i - 0.5 + step);
            for (size_t i = 0; i < n; i++) {
                double d = g[i] + wd * want[i];
                buf[i] = step == 0 ? d : mu * buf[i] + d; // torch: buf = clone(d) on step 0
                d = nesterov ? d + mu * buf[i] : buf[i];
                want[i] -= lr * d;
            }
            sgd_step(o, -1.0f);
            for (size_t i = 0; i < n; i++) assert_true(fabs(p[i] - want[i]) < 1e-5);
        }
        sgd_destroy(o);
        model_destroy(m);
    }
    model *m = make(s, 1, 13);
    assert_null(sgd_create(m, 0.1f, 1.5f, 0.0f, false));
    assert_null(sgd_create(m, 0.1f, 0.0f, 0.0f, true));
    model_destroy(m);
}

static void lr_schedules(void **state) {
    (void)state;
    lr_schedule c = {.kind = LR_CONSTANT, .base_lr = 0.1f};
    assert_true(lr_schedule_value(&c, 0, 100) == 0.1f && lr_schedule_value(&c, 99, 100) == 0.1f);
    lr_schedule st = {.kind = LR_STEP, .base_lr = 1.0f, .step_size = 10, .gamma = 0.5f};
    assert_true(lr_schedule_value(&st, 9, 100) == 1.0f);
    assert_true(lr_schedule_value(&st, 10, 100) == 0.5f);
    assert_true(lr_schedule_value(&st, 25, 100) == 0.25f);
    lr_schedule cos = {.kind = LR_COSINE, .base_lr = 1.0f, .min_lr = 0.0f};
    assert_true(lr_schedule_value(&cos, 0, 100) == 1.0f);
    assert_true(fabsf(lr_schedule_value(&cos, 50, 100) - 0.5f) < 1e-6f);
    assert_true(fabsf(lr_schedule_value(&cos, 100, 100)) < 1e-6f);
    lr_schedule w = {.kind = LR_COSINE, .base_lr = 1.0f, .warmup_steps = 4};
    assert_true(fabsf(lr_schedule_value(&w, 0, 104) - 0.25f) < 1e-6f);
    assert_true(fabsf(lr_schedule_value(&w, 3, 104) - 1.0f) < 1e-6f);
    assert_true(fabsf(lr_schedule_value(&w, 4, 104) - 1.0f) < 1e-6f);
    assert_true(fabsf(lr_schedule_value(&w, 54, 104) - 0.5f) < 1e-6f);
    lr_kind k;
    assert_int_equal(lr_kind_from_name("cosine", &k), KDT_OK);
    assert_int_equal(k, LR_COSINE);
    assert_int_equal(lr_kind_from_name("linear", &k), KDT_ERR_CONFIG);
}

// A small CNN fits a small, learnable problem: the loss falls well below chance.
static void training_reduces_loss(void **state) {
    (void)state;
    enum { B = 16, K = 2 };
    model_spec s = spec_of(MODEL_CNN, 1, 8, 8, K);
    model *m = make(s, B, 14);
    float x[B * 64], dz[B * K];
    int y[B];
    rng r = rng_stream(15, "train", 0, 0);
    for (int b = 0; b < B; b++) {
        y[b] = b % 2;
        for (int i = 0; i < 64; i++)
            x[b * 64 + i] = 0.3f * (2.0f * rng_uniformf(&r) - 1.0f) + (y[b] ? (i % 8 < 4) : (i / 8 < 4));
    }
    sgd *o = sgd_create(m, 0.05f, 0.9f, 5e-4f, false);
    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < 30; step++) {
        model_zero_grad(m);
        const float *z = model_forward(m, x, B, true);
        last = loss_cross_entropy(dz, z, y, B, K);
        if (step == 0) first = last;
        model_backward(m, dz);
        sgd_step(o, -1.0f);
    }
    printf("  cnn training: loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.2f && last < first);
    sgd_destroy(o);
    model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arch_names_round_trip),
        cmocka_unit_test(bad_specs_are_refused),
        cmocka_unit_test(parameter_counts),
        cmocka_unit_test(init_is_pytorch_like),
        cmocka_unit_test(whole_model_gradients),
        cmocka_unit_test(short_last_batch),
        cmocka_unit_test(one_and_two_threads_agree),
        cmocka_unit_test(copy_params_clones),
        cmocka_unit_test(eval_mode_keeps_running_stats),
        cmocka_unit_test(sgd_matches_pytorch_formula),
        cmocka_unit_test(lr_schedules),
        cmocka_unit_test(training_reduces_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
