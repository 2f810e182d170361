// The RNG: determinism, independence of streams, and the distributions' moments.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

static void same_ids_same_stream(void **state) {
    (void)state;
    rng a = rng_stream(42, "kd", 3, 7), b = rng_stream(42, "kd", 3, 7);
    for (int i = 0; i < 1000; i++) assert_int_equal(rng_next(&a), rng_next(&b));
}

// Streams that differ in any one of seed, purpose or id share no value in their first draws,
// and (a, b) is not (b, a).
static void different_ids_different_streams(void **state) {
    (void)state;
    rng streams[] = {rng_stream(42, "kd", 3, 7), rng_stream(43, "kd", 3, 7),
                     rng_stream(42, "pretrain", 3, 7), rng_stream(42, "kd", 7, 3),
                     rng_stream(42, "kd", 3, 8), rng_stream(42, "kd", 4, 7)};
    enum { N = sizeof streams / sizeof streams[0], DRAWS = 256 };
    static uint64_t v[N][DRAWS];
    for (int s = 0; s < N; s++)
        for (int i = 0; i < DRAWS; i++) v[s][i] = rng_next(&streams[s]);
    for (int s = 0; s < N; s++)
        for (int t = s + 1; t < N; t++)
            for (int i = 0; i < DRAWS; i++)
                for (int j = 0; j < DRAWS; j++) assert_true(v[s][i] != v[t][j]);
}

// Independence in the statistical sense: the correlation of paired uniforms from neighbouring
// streams is within a few standard errors of zero.
static void neighbouring_streams_uncorrelated(void **state) {
    (void)state;
    enum { N = 20000 };
    for (uint64_t id = 0; id < 8; id++) {
        rng a = rng_stream(1, "kd", id, 0), b = rng_stream(1, "kd", id + 1, 0);
        double sab = 0, sa = 0, sb = 0, saa = 0, sbb = 0;
        for (int i = 0; i < N; i++) {
            double x = rng_uniform(&a), y = rng_uniform(&b);
            sab += x * y; sa += x; sb += y; saa += x * x; sbb += y * y;
        }
        double cov = sab / N - (sa / N) * (sb / N);
        double corr = cov / sqrt((saa / N - sa * sa / N / N) * (sbb / N - sb * sb / N / N));
        assert_true(fabs(corr) < 4.0 / sqrt(N));
    }
}

static void split_is_deterministic_and_leaves_parent(void **state) {
    (void)state;
    rng parent = rng_stream(5, "data", 0, 0), copy = parent;
    rng c1 = rng_split(&parent, 1), c1b = rng_split(&parent, 1), c2 = rng_split(&parent, 2);
    assert_memory_equal(&parent, &copy, sizeof parent);
    uint64_t x = rng_next(&c1);
    assert_int_equal(x, rng_next(&c1b));
    assert_true(x != rng_next(&c2));
}

static void uniform_and_normal_moments(void **state) {
    (void)state;
    enum { N = 200000 };
    rng r = rng_stream(7, "test", 0, 0);
    double su = 0, sn = 0, snn = 0;
    for (int i = 0; i < N; i++) {
        double u = rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        su += u;
        double z = rng_normal(&r);
        sn += z;
        snn += z * z;
    }
    assert_true(fabs(su / N - 0.5) < 0.005);
    assert_true(fabs(sn / N) < 0.01);
    assert_true(fabs(snn / N - 1.0) < 0.02);
}

static void below_is_uniform(void **state) {
    (void)state;
    enum { N = 70000, K = 7 };
    rng r = rng_stream(9, "test", 0, 0);
    int counts[K] = {0};
    for (int i = 0; i < N; i++) counts[rng_below(&r, K)]++;
    for (int k = 0; k < K; k++) assert_true(abs(counts[k] - N / K) < 400); // ~4.3 sd
}

static void gamma_and_dirichlet(void **state) {
    (void)state;
    rng r = rng_stream(11, "test", 0, 0);
    const double shapes[] = {0.1, 0.5, 1.0, 3.0};
    for (size_t s = 0; s < 4; s++) {
        double sum = 0;
        enum { N = 100000 };
        for (int i = 0; i < N; i++) sum += rng_gamma(&r, shapes[s]);
        assert_true(fabs(sum / N - shapes[s]) < 0.03 * shapes[s] + 0.005); // mean = shape
    }
    double p[10];
    for (int t = 0; t < 100; t++) {
        rng_dirichlet(&r, 0.05, p, 10);
        double total = 0;
        for (int k = 0; k < 10; k++) { assert_true(p[k] >= 0.0); total += p[k]; }
        assert_true(fabs(total - 1.0) < 1e-12);
    }
}

static void shuffle_is_a_permutation(void **state) {
    (void)state;
    int a[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) a[i] = i;
    rng r = rng_stream(3, "test", 0, 0);
    rng_shuffle(&r, a, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) { seen[a[i]]++; moved += a[i] != i; }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_ids_same_stream),
        cmocka_unit_test(different_ids_different_streams),
        cmocka_unit_test(neighbouring_streams_uncorrelated),
        cmocka_unit_test(split_is_deterministic_and_leaves_parent),
        cmocka_unit_test(uniform_and_normal_moments),
        cmocka_unit_test(below_is_uniform),
        cmocka_unit_test(gamma_and_dirichlet),
        cmocka_unit_test(shuffle_is_a_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
