// The engine against PyTorch 1.13: fixtures made by tests/model/make_fixtures.py for `cnn`
// (1x28x28) and `resnet8` (3x32x32) with parameters, inputs and labels fixed by a hash formula
// computed identically here. Compares the first step's logits, loss and every parameter gradient,
// a 5-step SGD-with-momentum loss curve and the eval-mode logits after it, printing the largest
// differences. Needs no PyTorch at run time.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "model/model.h"
#include "model/sgd.h"
#include "testutil.h"

enum { BATCH = 4, STEPS = 5 };
static const float LR = 0.05f, MOMENTUM = 0.9f, WEIGHT_DECAY = 5e-4f;

// ---- the hash formula of make_fixtures.py -------------------------------------------------------

static uint32_t fnv1a32(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static double hash_uniform(uint32_t seed, size_t i) {
    uint32_t h = hash32(seed + (uint32_t)((uint64_t)i * 0x9E3779B9u));
    return 2.0 * ((double)h / 4294967296.0) - 1.0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void fixture_fill(model_tensor t) {
    uint32_t seed = fnv1a32(t.name);
    for (size_t i = 0; i < t.numel; i++) {
        double v = hash_uniform(seed, i), out;
        if (ends_with(t.name, "running_mean")) out = 0.1 * v;
        else if (ends_with(t.name, "running_var")) out = 1.0 + 0.25 * (v + 1.0);
        else if (ends_with(t.name, ".bias")) out = 0.1 * v;
        else if (t.ndim >= 2) out = v / sqrt((double)(t.numel / (size_t)t.shape[0]));
        else out = 1.0 + 0.2 * v;
        t.data[i] = (float)out;
    }
}

// ---- fixture files ------------------------------------------------------------------------------

typedef struct {
    char *data;
    size_t len;
    float *copies[64]; // aligned copies of records handed out by need(), freed with the fixture
    int n_copies;
} fixture;

// The record's data and element count, or NULL when absent.
static const float *fixture_get(const fixture *f, const char *name, size_t *numel) {
    const char *p = f->data + 8, *end = f->data + f->len;
    uint32_t count;
    memcpy(&count, p, 4);
    p += 4;
    for (uint32_t r = 0; r < count; r++) {
        uint32_t len, ndim, dim;
        assert_true(p + 4 <= end);
        memcpy(&len, p, 4);
        const char *nm = p + 4;
        p += 4 + len;
        memcpy(&ndim, p, 4);
        p += 4;
        size_t n = 1;
        for (uint32_t d = 0; d < ndim; d++, p += 4) {
            memcpy(&dim, p, 4);
            n *= dim;
        }
        assert_true(p + 4 * n <= end);
        if (strlen(name) == len && memcmp(nm, name, len) == 0) {
            *numel = n;
            return (const float *)p; // unaligned: names have any length; need() copies it
        }
        p += 4 * n;
    }
    return NULL;
}

static const float *need(fixture *f, const char *name, size_t want) {
    size_t n = 0;
    const float *v = fixture_get(f, name, &n);
    if (!v) fail_msg("fixture record '%s' is missing", name);
    assert_int_equal(n, want);
    assert_true(f->n_copies < 64);
    float *copy = malloc(n * sizeof(float));
    memcpy(copy, v, n * sizeof(float));
    f->copies[f->n_copies++] = copy;
    return copy;
}

// ---- the comparison -----------------------------------------------------------------------------

static void compare(const char *what, const float *got, const float *want, size_t n, double rtol) {
    double ref, d = tu_max_diff(got, want, n, &ref);
    printf("  %-34s max |diff| %.3g (max |ref| %.3g, rel %.2g)\n", what, d, ref, d / (ref + 1e-30));
    assert_true(d <= rtol * ref + 1e-7);
}

static void check_against_pytorch(model_arch arch, int C, int H, int W, const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/model/fixtures/%s", KDT_SOURCE_DIR, file);
    fixture f = {0};
    assert_int_equal(fs_read_all(path, &f.data, &f.len), KDT_OK);
    assert_true(f.len > 12 && memcmp(f.data, "KDTFIX1", 8) == 0);

    enum { K = 10 };
    model_spec s = {.arch = arch, .in_c = C, .in_h = H, .in_w = W, .num_classes = K};
    model *m = model_create(&s, BATCH);
    assert_non_null(m);
    for (int t = 0; t < model_num_tensors(m); t++) fixture_fill(model_get_tensor(m, t));
    size_t nx = (size_t)BATCH * C * H * W;
    float *x = malloc(nx * sizeof(float)), dz[BATCH * K];
    // the script picks the first input "input<id>" whose activations keep clear of ReLU kinks
    char xname[32];
    snprintf(xname, sizeof xname, "input%d", (int)need(&f, "input_id", 1)[0]);
    uint32_t xseed = fnv1a32(xname), yseed = fnv1a32("label");
    for (size_t i = 0; i < nx; i++) x[i] = (float)hash_uniform(xseed, i);
    int y[BATCH];
    const float *labels = need(&f, "labels", BATCH);
    for (int b = 0; b < BATCH; b++) {
        y[b] = (int)(hash32(yseed + (uint32_t)((uint64_t)b * 0x9E3779B9u)) % K);
        assert_int_equal(y[b], (int)labels[b]);
    }

    printf(" %s against PyTorch:\n", model_arch_name(arch));
    sgd *o = sgd_create(m, LR, MOMENTUM, WEIGHT_DECAY, false);
    const float *curve = need(&f, "curve", STEPS);
    float losses[STEPS];
    for (int step = 0; step < STEPS; step++) {
        model_zero_grad(m);
        const float *z = model_forward(m, x, BATCH, true);
        losses[step] = loss_cross_entropy(dz, z, y, BATCH, K);
        model_backward(m, dz);
        if (step == 0) {
            compare("logits", z, need(&f, "logits", BATCH * K), BATCH * K, 1e-4);
            compare("loss", &losses[0], need(&f, "loss", 1), 1, 1e-5);
            for (int t = 0; t < model_num_tensors(m); t++) {
                model_tensor mt = model_get_tensor(m, t);
                if (mt.is_buffer) continue;
                char name[96];
                snprintf(name, sizeof name, "grad.%s", mt.name);
                compare(name, mt.grad, need(&f, name, mt.numel), mt.numel, 1e-4);
            }
        }
        sgd_step(o, -1.0f);
    }
    printf("  curve   kdtune");
    for (int i = 0; i < STEPS; i++) printf(" %.6f", losses[i]);
    printf("\n          torch ");
    for (int i = 0; i < STEPS; i++) printf(" %.6f", curve[i]);
    printf("\n");
    compare("5-step loss curve", losses, curve, STEPS, 1e-3);
    const float *ze = model_forward(m, x, BATCH, false);
    compare("eval logits after 5 steps", ze, need(&f, "eval_logits", BATCH * K), BATCH * K, 1e-3);
    sgd_destroy(o);
    model_destroy(m);
    free(x);
    for (int i = 0; i < f.n_copies; i++) free(f.copies[i]);
    free(f.data);
}

static void cnn_matches_pytorch(void **state) {
    (void)state;
    check_against_pytorch(MODEL_CNN, 1, 28, 28, "cnn.bin");
}

static void resnet8_matches_pytorch(void **state) {
    (void)state;
    check_against_pytorch(MODEL_RESNET8, 3, 32, 32, "resnet8.bin");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cnn_matches_pytorch),
        cmocka_unit_test(resnet8_matches_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
