// KD losses: finite-difference gradients (kd, both DML losses, DP-KD), the PyTorch fixture of the
// soft term at several T, the limits alpha = 0 (the anchor alone) and alpha = 1 (the soft term
// alone), and DP-KD's routing on hand-made logits, ties included.
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

// The losses of the new methods behind one signature for the finite-difference check: the
// gradient with respect to the first logits argument z, the others held fixed.
typedef struct {
    int which;      // 0: DML, the student's loss; 1: DML, the peer's loss; 2: DP-KD
    const float *other, *z0, *zt;   // DML: the other's current logits, one's own frozen ones
    const unsigned char *route;
    const int *y;
    float T, alpha;
    kd_transfer transfer;
} method_loss;

static double method_loss_eval(const method_loss *L, float *dz, const float *z) {
    float zr[B * K];
    int yr[B];
    if (L->which < 2) return kd_dml_loss(dz, z, L->other, L->z0, L->y, B, K, L->T, L->alpha, L->transfer);
    return kd_dpkd_loss(dz, zr, yr, z, L->zt, L->z0, L->route, L->y, B, K, L->T, L->alpha, L->transfer);
}

static double method_gradient_error(const method_loss *L, float *z) {
    float dz[B * K], scratch[B * K];
    method_loss_eval(L, dz, z);
    double worst = 0.0;
    for (int i = 0; i < B * K; i++) {
        const float h = 1e-2f;
        float keep = z[i];
        z[i] = keep + h;
        double up = method_loss_eval(L, scratch, z);
        z[i] = keep - h;
        double down = method_loss_eval(L, scratch, z);
        z[i] = keep;
        double fd = (up - down) / (2.0 * h);
        worst = fmax(worst, fabs(fd - dz[i]) / fmax(1e-3, fabs(fd) + fabs(dz[i])));
    }
    return worst;
}

static void method_gradients_match_finite_differences(void **state) {
    (void)state;
    float zs[B * K], zp[B * K], zs0[B * K], zp0[B * K];
    int ys[B], yp[B];
    unsigned char route[B];
    random_logits(zs, B * K, 11, 2.0f);
    random_logits(zp, B * K, 12, 2.0f);
    random_logits(zs0, B * K, 13, 2.0f);
    random_logits(zp0, B * K, 14, 3.0f);
    for (int b = 0; b < B; b++) ys[b] = (b * 5) % K, yp[b] = (b * 3 + 1) % K;
    int n = kd_dpkd_route(route, zp0, zs0, B, K);
    assert_true(n > 0 && n < B); // both kinds of rows are checked
    const float temps[] = {0.5f, 1.0f, 4.0f, 20.0f}, alphas[] = {0.0f, 0.3f, 1.0f};
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < 3; a++)
            for (int x = 0; x < 3; x++) {
                method_loss L = {.T = temps[t], .alpha = alphas[a], .transfer = (kd_transfer)x};
                // The student's DML loss: its logits zs, the peer's current zp, its frozen zs0.
                L.which = 0, L.other = zp, L.z0 = zs0, L.y = ys;
                double e0 = method_gradient_error(&L, zs);
                // The peer's: the roles swapped, with its own frozen logits and labels.
                L.which = 1, L.other = zs, L.z0 = zp0, L.y = yp;
                double e1 = method_gradient_error(&L, zp);
                // DP-KD: teacher zp0, frozen student zs0, routed per row.
                L.which = 2, L.zt = zp0, L.z0 = zs0, L.route = route, L.y = ys;
                double e2 = method_gradient_error(&L, zs);
                if (e0 > 1e-2 || e1 > 1e-2 || e2 > 1e-2)
                    fail_msg("T=%g alpha=%g transfer=%d: relative gradient errors dml student %g, "
                             "dml peer %g, dpkd %g", temps[t], alphas[a], x, e0, e1, e2);
            }
}

static void dpkd_routes_by_confidence_with_ties_to_the_student(void **state) {
    (void)state;
    enum { R = 6, C = 3 };
    const float zt[R * C] = {
        4, 0, 0,     // teacher sure, student unsure: teacher
        0, 0.1f, 0,  // teacher unsure, student sure: student
        1, 2, 3,     // identical rows: a tie, the student
        2, 0, 0,     // the same confidence on another class (a permutation): a tie, the student
        8, 9, 10,    // the student's row shifted by an exact constant: a tie, the student
        0, 0, 5,     // both sure, the teacher more so: teacher (whatever the classes)
    };
    const float zs0[R * C] = {
        0, 0.5f, 0,
        0, 6, 0,
        1, 2, 3,
        0, 2, 0,
        0, 1, 2,
        4, 0, 0,
    };
    const unsigned char want[R] = {1, 0, 0, 0, 0, 1};
    unsigned char route[R];
    assert_int_equal(kd_dpkd_route(route, zt, zs0, R, C), 2);
    assert_memory_equal(route, want, sizeof want);
    // The routed targets and pseudo-labels: rows 0 and 5 from the teacher, the rest from the
    // student's frozen model; the loss is kd_loss against that mixed target, bit for bit.
    float zs[R * C], zr[R * C], d1[R * C], d2[R * C], mixed[R * C];
    int yr[R], y[R] = {0, 1, 2, 0, 1, 2};
    for (int i = 0; i < R * C; i++) zs[i] = (float)((i * 7) % 5) - 2.0f;
    for (int b = 0; b < R; b++) memcpy(mixed + b * C, (want[b] ? zt : zs0) + b * C, sizeof(float) * C);
    double l1 = kd_dpkd_loss(d1, zr, yr, zs, zt, zs0, route, y, R, C, 2.0f, 0.4f, KD_UNLABELLED);
    assert_memory_equal(zr, mixed, sizeof mixed);
    const int want_y[R] = {0, 1, 2, 1, 2, 2};
    assert_memory_equal(yr, want_y, sizeof want_y);
    double l2 = kd_loss(d2, zs, mixed, NULL, want_y, R, C, 2.0f, 0.4f, KD_UNLABELLED);
    assert_true(l1 == l2);
    assert_memory_equal(d1, d2, sizeof d1);
}

static void dpkd_and_dml_limits(void **state) {
    (void)state;
    float zs[B * K], zt[B * K], zs0[B * K], zr[B * K], d1[B * K], d2[B * K];
    int y[B] = {0, 1, 2, 3, 4}, yt[B], yr[B];
    unsigned char all[B], none[B];
    random_logits(zs, B * K, 21, 1.5f);
    random_logits(zt, B * K, 22, 1.5f);
    random_logits(zs0, B * K, 23, 1.5f);
    kd_argmax(yt, zt, B, K);
    memset(all, 1, sizeof all);
    memset(none, 0, sizeof none);
    for (int x = 0; x < 3; x++) {
        kd_transfer tr = (kd_transfer)x;
        const int *anchor = tr == KD_UNLABELLED ? yt : y;
        // Everything routed to the teacher: DP-KD is KD.
        double a = kd_dpkd_loss(d1, zr, yr, zs, zt, zs0, all, y, B, K, 3.0f, 0.6f, tr);
        double b = kd_loss(d2, zs, zt, zs0, anchor, B, K, 3.0f, 0.6f, tr);
        assert_true(a == b);
        assert_memory_equal(d1, d2, sizeof d1);
        // Nothing routed: the frozen student is the soft target.
        a = kd_dpkd_loss(d1, zr, yr, zs, zt, zs0, none, y, B, K, 3.0f, 0.6f, tr);
        int ys0[B];
        kd_argmax(ys0, zs0, B, K);
        b = kd_loss(d2, zs, zs0, zs0, tr == KD_UNLABELLED ? ys0 : y, B, K, 3.0f, 0.6f, tr);
        assert_true(a == b);
        assert_memory_equal(d1, d2, sizeof d1);
        // A DML loss against a peer that equals the teacher is the KD loss.
        a = kd_dml_loss(d1, zs, zt, zs0, anchor, B, K, 3.0f, 0.6f, tr);
        b = kd_loss(d2, zs, zt, zs0, anchor, B, K, 3.0f, 0.6f, tr);
        assert_true(a == b);
        assert_memory_equal(d1, d2, sizeof d1);
    }
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
        cmocka_unit_test(method_gradients_match_finite_differences),
        cmocka_unit_test(dpkd_routes_by_confidence_with_ties_to_the_student),
        cmocka_unit_test(dpkd_and_dml_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
