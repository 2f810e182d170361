// Every stats/ routine against reference values computed by SciPy and NumPy
// (tests/stats/make_reference.py, which wrote reference.h), and their errors on bad input.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "stats/bitset.h"
#include "stats/bootstrap.h"
#include "stats/chance.h"
#include "stats/crossfit.h"
#include "stats/eps.h"
#include "stats/holm.h"
#include "stats/mcnemar.h"
#include "stats/paired.h"
#include "tests/stats/reference.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void assert_close(double got, double want, double rel, double abs_tol) {
    if (!(fabs(got - want) <= abs_tol + rel * fabs(want)))
        fail_msg("got %.17g, want %.17g (rel %g, abs %g)", got, want, rel, abs_tol);
}

static void bitsets_count_and_pair(void **state) {
    (void)state;
    const uint8_t *A[] = {REF_BITS_A0, REF_BITS_A1, REF_BITS_A2, REF_BITS_A3};
    const uint8_t *B[] = {REF_BITS_B0, REF_BITS_B1, REF_BITS_B2, REF_BITS_B3};
    const size_t *S[] = {REF_SUB0, REF_SUB1, REF_SUB2, REF_SUB3};
    const size_t M[] = {LEN(REF_SUB0), LEN(REF_SUB1), LEN(REF_SUB2), LEN(REF_SUB3)};
    const size_t *C[] = {REF_COUNTS0, REF_COUNTS1, REF_COUNTS2, REF_COUNTS3};
    const double *SE[] = {REF_SE0, REF_SE1, REF_SE2, REF_SE3};
    const size_t N[] = {1, 8, 37, 1000}; // BITSET_N in make_reference.py; the padding bits are set
    for (int t = 0; t < 4; t++) {
        size_t n = N[t], ab, ba;
        assert_int_equal(stats_bitset_count(A[t], n), C[t][0]);
        assert_int_equal(stats_bitset_count(B[t], n), C[t][1]);
        stats_bitset_discordant(&ab, &ba, A[t], B[t], n, NULL, 0);
        assert_int_equal(ab, C[t][2]);
        assert_int_equal(ba, C[t][3]);
        assert_int_equal(stats_bitset_count_subset(A[t], n, S[t], M[t]), C[t][4]);
        stats_bitset_discordant(&ab, &ba, A[t], B[t], n, S[t], M[t]);
        assert_int_equal(ab, C[t][5]);
        assert_int_equal(ba, C[t][6]);
        double se = -2.0;
        if (SE[t][0] < 0) {
            assert_int_equal(stats_paired_se(&se, A[t], B[t], n), KDT_ERR_STATE);
            assert_non_null(strstr(kdt_errmsg(), "at least 2 images"));
        } else {
            assert_int_equal(stats_paired_se(&se, A[t], B[t], n), KDT_OK);
            assert_close(se, SE[t][0], 1e-12, 0);
            assert_close(stats_paired_se_counts(C[t][2], C[t][3], n), SE[t][0], 1e-12, 0);
        }
    }
    // The paired error is sqrt(discordant fraction / n) when b = c: 230 of 1,000 flip, 1.5 points.
    assert_close(stats_paired_se_counts(115, 115, 1000), sqrt(0.23 / 1000) * sqrt(1000.0 / 999), 1e-12, 0);
    assert_int_equal(stats_bitset_count(NULL, 0), 0);
    uint8_t bits[2] = {0};
    stats_bitset_set(bits, 9, true);
    stats_bitset_set(bits, 3, true);
    stats_bitset_set(bits, 3, false);
    assert_true(bits[0] == 0 && bits[1] == 2 && stats_bitset_get(bits, 9) && !stats_bitset_get(bits, 8));
}

static void mcnemar_matches_scipy(void **state) {
    (void)state;
    for (size_t t = 0; t < LEN(REF_MC_B); t++) {
        stats_mcnemar r;
        stats_mcnemar_exact(&r, REF_MC_B[t], REF_MC_C[t]);
        assert_int_equal(r.b, REF_MC_B[t]);
        assert_int_equal(r.c, REF_MC_C[t]);
        assert_close(r.p_two_sided, REF_MC_TWO[t], 1e-9, 1e-300);
        assert_close(r.p_greater, REF_MC_GREATER[t], 1e-9, 1e-300);
        assert_close(r.p_less, REF_MC_LESS[t], 1e-9, 1e-300);
    }
}

static void holm_matches_definition(void **state) {
    (void)state;
    size_t m = LEN(REF_HOLM_P);
    double adj[LEN(REF_HOLM_P)];
    bool rej[LEN(REF_HOLM_P)];
    assert_int_equal(stats_holm(adj, rej, REF_HOLM_P, m, REF_HOLM_LEVEL), KDT_OK);
    size_t n_rej = 0;
    for (size_t i = 0; i < m; i++) {
        assert_close(adj[i], REF_HOLM_ADJ[i], 1e-14, 0);
        assert_int_equal(rej[i], REF_HOLM_REJ[i] != 0);
        n_rej += rej[i];
    }
    assert_true(n_rej > 0 && n_rej < m); // the reference exercises both outcomes
    // Either output may be omitted; m = 0 is fine.
    assert_int_equal(stats_holm(NULL, rej, REF_HOLM_P, m, REF_HOLM_LEVEL), KDT_OK);
    assert_int_equal(stats_holm(adj, NULL, REF_HOLM_P, 0, REF_HOLM_LEVEL), KDT_OK);
    // Bad input: a clear status and message.
    double bad[3] = {0.1, NAN, 0.2};
    assert_int_equal(stats_holm(adj, rej, bad, 3, 0.05), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "p-value 1 of 3"));
    bad[1] = 1.5;
    assert_int_equal(stats_holm(adj, rej, bad, 3, 0.05), KDT_ERR_NUMERIC);
    assert_int_equal(stats_holm(adj, rej, REF_HOLM_P, m, 0.0), KDT_ERR_CONFIG);
    assert_int_equal(stats_holm(adj, rej, REF_HOLM_P, m, NAN), KDT_ERR_CONFIG);
}

static void check_interval(const stats_interval *got, const double *want, double level) {
    assert_close(got->estimate, want[0], 1e-12, 1e-15);
    assert_close(got->lo, want[1], 1e-10, 1e-15);
    assert_close(got->hi, want[2], 1e-10, 1e-15);
    assert_close(got->se, want[3], 1e-9, 1e-15);
    assert_true(got->lo <= got->estimate + 1e-3 && got->estimate - 1e-3 <= got->hi);
    assert_int_equal(got->n_boot, REF_BOOT_B);
    assert_true(got->level == level);
}

static void bootstrap_matches_numpy_on_the_same_draws(void **state) {
    (void)state;
    const double levels[2] = {0.95, 0.8};
    const double *want[2][3] = {{REF_BOOT_MEAN_95, REF_BOOT_DIFF_95, REF_BOOT_RATIO_95},
                                {REF_BOOT_MEAN_80, REF_BOOT_DIFF_80, REF_BOOT_RATIO_80}};
    for (int l = 0; l < 2; l++) {
        stats_interval r;
        assert_int_equal(stats_bootstrap_mean(&r, REF_BOOT_X, REF_BOOT_N, REF_BOOT_B, levels[l], REF_BOOT_SEED), KDT_OK);
        check_interval(&r, want[l][0], levels[l]);
        assert_int_equal(stats_bootstrap_mean_diff(&r, REF_BOOT_X, REF_BOOT_Y, REF_BOOT_N, REF_BOOT_B, levels[l], REF_BOOT_SEED), KDT_OK);
        check_interval(&r, want[l][1], levels[l]);
        assert_int_equal(stats_bootstrap_ratio(&r, REF_BOOT_X, REF_BOOT_DEN, REF_BOOT_N, REF_BOOT_B, levels[l], REF_BOOT_SEED), KDT_OK);
        check_interval(&r, want[l][2], levels[l]);
    }
    // Another seed: other draws, another interval.
    stats_interval r;
    assert_int_equal(stats_bootstrap_mean(&r, REF_BOOT_X, REF_BOOT_N, REF_BOOT_B, 0.95, REF_BOOT_SEED + 1), KDT_OK);
    assert_true(r.lo != REF_BOOT_MEAN_95[1] && r.estimate == REF_BOOT_MEAN_95[0]);
}

static void bootstrap_rejects_bad_input(void **state) {
    (void)state;
    stats_interval r;
    double x[4] = {1, 2, NAN, 4}, zero[4] = {1, -1, 1, -1}, one[1] = {1};
    assert_int_equal(stats_bootstrap_mean(&r, x, 4, 100, 0.95, 1), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "x[2]"));
    assert_int_equal(stats_bootstrap_mean_diff(&r, zero, x, 4, 100, 0.95, 1), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "b[2]"));
    assert_int_equal(stats_bootstrap_mean(&r, one, 1, 100, 0.95, 1), KDT_ERR_STATE);
    assert_int_equal(stats_bootstrap_mean(&r, zero, 4, 1, 0.95, 1), KDT_ERR_STATE);
    assert_int_equal(stats_bootstrap_mean(&r, zero, 4, 100, 1.0, 1), KDT_ERR_CONFIG);
    // A denominator of mean 0: on the sample, then only in some resamples.
    assert_int_equal(stats_bootstrap_ratio(&r, zero, zero, 4, 100, 0.95, 1), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "undefined"));
    double den[4] = {1, -1, 1, 1};
    assert_int_equal(stats_bootstrap_ratio(&r, zero, den, 4, 200, 0.95, 1), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "resamples"));
}

static void chance_matches_enumeration(void **state) {
    (void)state;
    const double *pmf[] = {REF_CHANCE_PMF0, REF_CHANCE_PMF1, REF_CHANCE_PMF2, REF_CHANCE_PMF3, REF_CHANCE_PMF4};
    const size_t nv[] = {LEN(REF_CHANCE_PMF0), LEN(REF_CHANCE_PMF1), LEN(REF_CHANCE_PMF2),
                         LEN(REF_CHANCE_PMF3), LEN(REF_CHANCE_PMF4)};
    const size_t *nk[] = {REF_CHANCE_NK0, REF_CHANCE_NK1, REF_CHANCE_NK2, REF_CHANCE_NK3, REF_CHANCE_NK4};
    const double *want[] = {REF_CHANCE_P0, REF_CHANCE_P1, REF_CHANCE_P2, REF_CHANCE_P3, REF_CHANCE_P4};
    for (int t = 0; t < 5; t++) {
        double p = -1;
        assert_int_equal(stats_chance_not_default(&p, pmf[t], nv[t], nk[t][0], nk[t][1]), KDT_OK);
        assert_close(p, want[t][0], 1e-12, 1e-15);
        // Ties toward the default only lower the level below the continuous one.
        assert_true(p <= stats_chance_not_default_continuous(nk[t][0], nk[t][1]) + 1e-12);
    }
    assert_close(stats_chance_not_default_continuous(150, 6), 0.96, 1e-15, 0);
    double p, unnormalized[2] = {0.5, 0.4}, negative[2] = {1.5, -0.5};
    assert_int_equal(stats_chance_not_default(&p, REF_CHANCE_PMF0, 3, 4, 0), KDT_ERR_CONFIG);
    assert_int_equal(stats_chance_not_default(&p, REF_CHANCE_PMF0, 3, 4, 5), KDT_ERR_CONFIG);
    assert_int_equal(stats_chance_not_default(&p, unnormalized, 2, 4, 1), KDT_ERR_NUMERIC);
    assert_non_null(strstr(kdt_errmsg(), "sums to"));
    assert_int_equal(stats_chance_not_default(&p, negative, 2, 4, 1), KDT_ERR_NUMERIC);

    double null_pmf[REF_NULL_R + REF_NULL_W + 1];
    assert_int_equal(LEN(REF_NULL_PMF), LEN(null_pmf));
    assert_int_equal(stats_pmf_paired_null(null_pmf, REF_NULL_R, REF_NULL_W, REF_NULL_QL, REF_NULL_QG), KDT_OK);
    for (size_t s = 0; s < LEN(null_pmf); s++) assert_close(null_pmf[s], REF_NULL_PMF[s], 1e-10, 1e-16);
    assert_int_equal(stats_pmf_paired_null(null_pmf, 3, 3, -0.1, 0.5), KDT_ERR_CONFIG);
}

static void crossfit_matches_numpy(void **state) {
    (void)state;
    const uint8_t *after[REF_CF_C] = {REF_CF_AFTER0, REF_CF_AFTER1, REF_CF_AFTER2, REF_CF_AFTER3,
                                      REF_CF_AFTER4, REF_CF_AFTER5, REF_CF_AFTER6};
    size_t ha[REF_CF_N / 2], hb[REF_CF_N - REF_CF_N / 2];
    assert_int_equal(stats_crossfit_halves(ha, hb, REF_CF_N, REF_CF_SEED), KDT_OK);
    assert_memory_equal(ha, REF_CF_HALF_A, sizeof ha);
    assert_memory_equal(hb, REF_CF_HALF_B, sizeof hb);
    stats_crossfit r;
    assert_int_equal(stats_crossfit_gain(&r, after, REF_CF_C, REF_CF_BEFORE, REF_CF_N, REF_CF_SEED), KDT_OK);
    assert_int_equal(r.select[0], REF_CF_SELECT[0]);
    assert_int_equal(r.select[1], REF_CF_SELECT[1]);
    assert_int_equal(r.full_select, REF_CF_SELECT[2]);
    assert_int_equal(r.n_half[0], REF_CF_N / 2);
    assert_int_equal(r.n_half[1], REF_CF_N - REF_CF_N / 2);
    const double got[6] = {r.gain, r.heldout[0], r.heldout[1], r.insample[0], r.insample[1], r.full_gain};
    for (int i = 0; i < 6; i++) assert_close(got[i], REF_CF_GAINS[i], 1e-14, 1e-15);
    // Ties go to the lowest index: with every candidate equal, candidate 0 wins everywhere.
    const uint8_t *same[3] = {REF_CF_AFTER2, REF_CF_AFTER2, REF_CF_AFTER2};
    assert_int_equal(stats_crossfit_gain(&r, same, 3, REF_CF_BEFORE, REF_CF_N, 9), KDT_OK);
    assert_true(r.select[0] == 0 && r.select[1] == 0 && r.full_select == 0);
    // Bad input.
    assert_int_equal(stats_crossfit_gain(&r, after, 0, REF_CF_BEFORE, REF_CF_N, 1), KDT_ERR_STATE);
    assert_int_equal(stats_crossfit_gain(&r, after, REF_CF_C, REF_CF_BEFORE, 1, 1), KDT_ERR_STATE);
    assert_non_null(strstr(kdt_errmsg(), "at least 2"));
}

static void eps_in_whole_images(void **state) {
    (void)state;
    assert_int_equal(stats_eps_images(0.005, 1000), 5);
    assert_int_equal(stats_eps_images(0.29, 100), 29); // 0.29 * 100 = 28.999999999999996 in floats
    assert_int_equal(stats_eps_images(0.005, 999), 4);
    assert_int_equal(stats_eps_images(0.0, 1000), 0);
    assert_int_equal(stats_eps_images(1.0, 7), 7);
    assert_true(stats_within_eps(995, 1000, 1000, 0.005));
    assert_false(stats_within_eps(994, 1000, 1000, 0.005));
    assert_true(stats_within_eps(71, 100, 100, 0.29));
    assert_false(stats_within_eps(70, 100, 100, 0.29));
    assert_true(stats_within_eps(12, 10, 100, 0.0)); // above the best is within
    assert_true(stats_within_eps(10, 10, 100, 0.0));
    assert_false(stats_within_eps(9, 10, 100, 0.0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bitsets_count_and_pair),
        cmocka_unit_test(mcnemar_matches_scipy),
        cmocka_unit_test(holm_matches_definition),
        cmocka_unit_test(bootstrap_matches_numpy_on_the_same_draws),
        cmocka_unit_test(bootstrap_rejects_bad_input),
        cmocka_unit_test(chance_matches_enumeration),
        cmocka_unit_test(crossfit_matches_numpy),
        cmocka_unit_test(eps_in_whole_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
