// KD losses: finite-difference gradients, the PyTorch fixture of the soft term at several T, and
// the limits alpha = 0 (the anchor alone) and alpha = 1 (the soft term alone).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kd/loss.h"

enum { B = 5, K = 6 };

static void random_logits(float *z, int n, uint64_t id, float scale) {
    rng r = rng_stream(1, "test-kd-loss", id, 0);
    for (int i = 0; i < n; i++) z[i] = scale * (float)rng_normal(&r);
}

// Central differences of kd_loss in double-precision steps on float inputs; the relative error
// against the analytic gradient is asserted below 1e-2 (float logits, step 1e-2).
static void check_gradient(float T, float alpha, kd_transfer transfer) {
    float zs[B * K], zt[B * K], zs0[B * K], dz[B * K], scratch[B * K];
    int y[B];
    random_logits(zs, B * K, 1, 2.0f);
    random_logits(zt, B * K, 2, 2.0f);
    random_logits(zs0, B * K, 3, 2.0f);
    for (int b = 0; b < B; b++) y[b] = (b * 7) % K;
    kd_loss(dz, zs, zt, zs0, y, B, K, T, alpha, transfer);
    double worst = 0.0;
    for (int i = 0; i < B * K; i++) {
        const float h = 1e-2f;
        float keep = zs[i];
        zs[i] = keep + h;
        double up = kd_loss(scratch, zs, zt, zs0, y, B, K, T, alpha, transfer);
        zs[i] = keep - h;
        double down = kd_loss(scratch, zs, zt, zs0, y, B, K, T, alpha, transfer);
        zs[i] = keep;
        double fd = (up - down) / (2.0 * h);
        double err = fabs(fd - dz[i]) / fmax(1e-3, fabs(fd) + fabs(dz[i]));
        if (err > worst) worst = err;
    }
    if (worst > 1e-2)
        fail_msg("T=%g alpha=%g transfer=%d: relative gradient error %g", T, alpha, transfer, worst);
}

static void gradients_match_finite_differences(void **state) {
    (void)state;
    const float temps[] = {0.5f, 1.0f, 4.0f, 20.0f}, alphas[] = {0.0f, 0.3f, 1.0f};
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < 3; a++)
            for (int s = 0; s < 3; s++) check_gradient(temps[t], alphas[a], (kd_transfer)s);
}

static void soft_term_matches_pytorch(void **state) {
    (void)state;
    FILE *f = fopen(KDT_SOURCE_DIR "/tests/kd/fixtures/kd_soft.txt", "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f)); // comment
    int b, k;
    assert_int_equal(fscanf(f, "%d %d", &b, &k), 2);
    assert_true(b * k <= 64);
    float zs[64], zt[64], dz[64];
    double v;
    for (int i = 0; i < b * k; i++) { assert_int_equal(fscanf(f, "%lf", &v), 1); zs[i] = (float)v; }
    for (int i = 0; i < b * k; i++) { assert_int_equal(fscanf(f, "%lf", &v), 1); zt[i] = (float)v; }
    double T, want_loss, worst_loss = 0, worst_grad = 0;
    int rows = 0;
    while (fscanf(f, "%lf %lf", &T, &want_loss) == 2) {
        memset(dz, 0, sizeof dz);
        double loss = kd_soft_loss(dz, 1.0f, zs, zt, b, k, (float)T);
        worst_loss = fmax(worst_loss, fabs(loss - want_loss) / fmax(1e-6, fabs(want_loss)));
        for (int i = 0; i < b * k; i++) {
            assert_int_equal(fscanf(f, "%lf", &v), 1);
            worst_grad = fmax(worst_grad, fabs(dz[i] - v));
        }
        rows++;
    }
    fclose(f);
    printf("# KD soft term vs PyTorch over %d temperatures: largest relative loss difference %.3g, "
           "largest gradient difference %.3g\n", rows, worst_loss, worst_grad);
    assert_int_equal(rows, 6);
    assert_true(worst_loss < 1e-5); // the fixture is double; inputs are rounded to float
    assert_true(worst_grad < 1e-5);
}

static void alpha_limits(void **state) {
    (void)state;
    float zs[B * K], zt[B * K], zs0[B * K], d1[B * K], d2[B * K];
    int y[B] = {0, 1, 2, 3, 4};
    random_logits(zs, B * K, 4, 1.5f);
    random_logits(zt, B * K, 5, 1.5f);
    random_logits(zs0, B * K, 6, 1.5f);
    // alpha = 0 with student_data is plain fine-tuning: the cross-entropy with the true labels,
    // whatever the teacher says.
    double l1 = kd_loss(d1, zs, zt, NULL, y, B, K, 3.0f, 0.0f, KD_STUDENT_DATA);
    memset(d2, 0, sizeof d2);
    double l2 = kd_hard_loss(d2, 1.0f, zs, y, B, K);
    assert_true(fabs(l1 - l2) < 1e-12);
    assert_memory_equal(d1, d2, sizeof d1);
    // alpha = 1 ignores the anchor: labels and the frozen student do not matter.
    int other[B] = {5, 5, 5, 5, 5};
    for (int s = 0; s < 3; s++) {
        double a = kd_loss(d1, zs, zt, zs0, y, B, K, 2.0f, 1.0f, (kd_transfer)s);
        double c = kd_loss(d2, zs, zt, zt, other, B, K, 2.0f, 1.0f, (kd_transfer)s);
        assert_true(a == c);
        assert_memory_equal(d1, d2, sizeof d1);
    }
    // The soft term vanishes when student and teacher agree, at any temperature.
    assert_true(fabs(kd_soft_loss(NULL, 1.0f, zs, zs, B, K, 7.0f)) < 1e-12);
}

static void argmax_takes_the_first_on_ties(void **state) {
    (void)state;
    const float z[] = {0, 3, 3, 1, /* row 2 */ 5, -1, 2, 5};
    int y[2];
    kd_argmax(y, z, 2, 4);
    assert_int_equal(y[0], 1);
    assert_int_equal(y[1], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(soft_term_matches_pytorch),
        cmocka_unit_test(alpha_limits),
        cmocka_unit_test(argmax_takes_the_first_on_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
