// Simulations under the null and under a planted effect: the exact McNemar test holds its level on
// correlated paired outcomes, Holm holds the family-wise level over 45 pairs, a 3-point effect on
// 2,000 images is found, the cross-fit estimate of the best of 150 null candidates is centred on 0
// while the in-sample best is optimistic, and the chance level of a non-default argmax matches its
// formula. Every stream is seeded, so each run sees the same draws.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "stats/bitset.h"
#include "stats/chance.h"
#include "stats/crossfit.h"
#include "stats/holm.h"
#include "stats/mcnemar.h"
#include "stats/paired.h"

// Two settings on n images: each image is discordant with probability disc, and then right under
// A with probability share_a (1/2: equal accuracy); concordant images are right under both with
// probability 0.7. Returns the discordant counts, and fills a, b ((n + 7) / 8 bytes) when given.
static void simulate_pair(size_t *nab, size_t *nba, rng *g, size_t n, double disc, double share_a,
                          uint8_t *a, uint8_t *b) {
    memset(a, 0, stats_bitset_bytes(n));
    memset(b, 0, stats_bitset_bytes(n));
    for (size_t i = 0; i < n; i++) {
        bool ra, rb;
        if (rng_uniform(g) < disc) {
            ra = rng_uniform(g) < share_a;
            rb = !ra;
        } else {
            ra = rb = rng_uniform(g) < 0.7;
        }
        stats_bitset_set(a, i, ra);
        stats_bitset_set(b, i, rb);
    }
    stats_bitset_discordant(nab, nba, a, b, n, NULL, 0);
}

static void mcnemar_holds_its_level_under_the_null(void **state) {
    (void)state;
    enum { SIMS = 2000, N = 1000 };
    uint8_t a[(N + 7) / 8], b[(N + 7) / 8];
    rng g = rng_stream(1, "test.stats.null", 0, 0);
    size_t rejected = 0;
    double sum_d = 0, sum_d2 = 0, sum_se = 0;
    for (int s = 0; s < SIMS; s++) {
        size_t nab, nba;
        simulate_pair(&nab, &nba, &g, N, 0.23, 0.5, a, b);
        stats_mcnemar r;
        stats_mcnemar_exact(&r, nab, nba);
        rejected += r.p_two_sided <= 0.05;
        double d = ((double)nab - (double)nba) / N, se;
        assert_int_equal(stats_paired_se(&se, a, b, N), KDT_OK);
        sum_d += d;
        sum_d2 += d * d;
        sum_se += se;
    }
    double rate = (double)rejected / SIMS, sd = sqrt((sum_d2 - sum_d * sum_d / SIMS) / (SIMS - 1));
    printf("McNemar under the null: %.2f%% rejected at 0.05; gain sd %.4f, mean paired se %.4f\n",
           100 * rate, sd, sum_se / SIMS);
    // At most about 5% (5% plus two binomial standard errors of 2,000 draws), and not far below:
    // the exact test is a little conservative, not blind.
    assert_true(rate <= 0.05 + 2 * sqrt(0.05 * 0.95 / SIMS));
    assert_true(rate >= 0.025);
    // The paired standard error is the spread of the gain: about 1.5 points at 23% discordant.
    assert_true(fabs(sum_se / SIMS - sd) < 0.07 * sd);
    assert_true(fabs(sum_se / SIMS - 0.0152) < 0.001);
}

static void holm_holds_the_family_level_over_45_pairs(void **state) {
    (void)state;
    enum { FAMILIES = 1000, PAIRS = 45, N = 1000 };
    uint8_t a[(N + 7) / 8], b[(N + 7) / 8];
    rng g = rng_stream(2, "test.stats.null", 0, 0);
    size_t fam_holm = 0, fam_raw = 0;
    for (int f = 0; f < FAMILIES; f++) {
        double p[PAIRS];
        bool rej[PAIRS], any_raw = false, any_holm = false;
        for (int k = 0; k < PAIRS; k++) {
            size_t nab, nba;
            simulate_pair(&nab, &nba, &g, N, 0.23, 0.5, a, b);
            stats_mcnemar r;
            stats_mcnemar_exact(&r, nab, nba);
            p[k] = r.p_two_sided;
            any_raw |= p[k] <= 0.05;
        }
        assert_int_equal(stats_holm(NULL, rej, p, PAIRS, 0.05), KDT_OK);
        for (int k = 0; k < PAIRS; k++) any_holm |= rej[k];
        fam_holm += any_holm;
        fam_raw += any_raw;
    }
    double holm = (double)fam_holm / FAMILIES, raw = (double)fam_raw / FAMILIES;
    printf("45 null pairs: some pair rejected in %.1f%% of families with Holm, %.1f%% uncorrected\n",
           100 * holm, 100 * raw);
    assert_true(holm <= 0.05 + 2 * sqrt(0.05 * 0.95 / FAMILIES));
    assert_true(raw >= 0.6); // uncorrected, some pair "wins" in most families: the point of Holm
}

static void a_planted_effect_is_found(void **state) {
    (void)state;
    // 3 points on 2,000 images with 10% discordant: A is right on 65% of the discordant images.
    enum { SIMS = 500, N = 2000 };
    uint8_t a[(N + 7) / 8], b[(N + 7) / 8];
    rng g = rng_stream(3, "test.stats.null", 0, 0);
    size_t found = 0, found_wrong_way = 0;
    double sum_gain = 0;
    for (int s = 0; s < SIMS; s++) {
        size_t nab, nba;
        simulate_pair(&nab, &nba, &g, N, 0.10, 0.65, a, b);
        stats_mcnemar r;
        stats_mcnemar_exact(&r, nab, nba);
        found += r.p_two_sided <= 0.05 && nab > nba;
        found_wrong_way += r.p_two_sided <= 0.05 && nab < nba;
        sum_gain += ((double)nab - (double)nba) / N;
    }
    double power = (double)found / SIMS;
    printf("planted +%.2f points on %d images: power %.1f%%\n", 100 * sum_gain / SIMS, N, 100 * power);
    assert_true(fabs(sum_gain / SIMS - 0.03) < 0.002);
    assert_true(power >= 0.9);
    assert_int_equal(found_wrong_way, 0);
}

// A model right on the images where before is set: each candidate independently loses a right
// image with probability q_loss and gains a wrong one with probability q_gain.
static void simulate_candidate(uint8_t *after, const uint8_t *before, size_t n, double q_loss,
                               double q_gain, rng *g) {
    memset(after, 0, stats_bitset_bytes(n));
    for (size_t i = 0; i < n; i++) {
        bool r = stats_bitset_get(before, i);
        stats_bitset_set(after, i, r ? rng_uniform(g) >= q_loss : rng_uniform(g) < q_gain);
    }
}

static void crossfit_of_the_best_null_candidate_is_centred(void **state) {
    (void)state;
    // 150 candidates, none better than before KD in expectation: 0.7 q_loss = 0.3 q_gain and 23%
    // of images discordant against the model before.
    enum { SIMS = 400, C = 150, N = 1000, NB = (N + 7) / 8 };
    const double q_loss = 0.115 / 0.7, q_gain = 0.115 / 0.3;
    uint8_t before[NB], *store = malloc((size_t)C * NB);
    const uint8_t *after[C];
    assert_non_null(store);
    for (int j = 0; j < C; j++) after[j] = store + (size_t)j * NB;
    rng g = rng_stream(4, "test.stats.null", 0, 0);
    double sum_cf = 0, sum_cf2 = 0, sum_full = 0;
    for (int s = 0; s < SIMS; s++) {
        memset(before, 0, NB);
        for (size_t i = 0; i < N; i++) stats_bitset_set(before, i, rng_uniform(&g) < 0.7);
        for (int j = 0; j < C; j++) simulate_candidate(store + (size_t)j * NB, before, N, q_loss, q_gain, &g);
        stats_crossfit r;
        assert_int_equal(stats_crossfit_gain(&r, after, C, before, N, (uint64_t)s), KDT_OK);
        sum_cf += r.gain;
        sum_cf2 += r.gain * r.gain;
        sum_full += r.full_gain;
        assert_true(r.insample[0] >= r.heldout[0] - 1.0 && r.select[0] < C && r.select[1] < C);
    }
    free(store);
    double mean = sum_cf / SIMS, se = sqrt((sum_cf2 - sum_cf * sum_cf / SIMS) / (SIMS - 1) / SIMS);
    double full = sum_full / SIMS;
    printf("best of %d null candidates: cross-fit %+.3f points (se %.3f), in-sample %+.3f points\n",
           C, 100 * mean, 100 * se, 100 * full);
    assert_true(fabs(mean) <= 2 * se);
    // The in-sample best of 150 is about 2.5 standard errors of one gain (1.5 points) above 0.
    assert_true(full >= 0.025);
    assert_true(full - mean >= 20 * se);
}

static void chance_level_matches_simulation(void **state) {
    (void)state;
    // N = 30 settings, the first k = 3 default, 100 images: ties are frequent. Every setting
    // follows the paired null model around one shared model before KD (70 right, 30 wrong).
    enum { SIMS = 10000, N_SET = 30, K = 3, NR = 70, NW = 30 };
    const double q_loss = 0.1, q_gain = NR * 0.1 / NW;
    double pmf[NR + NW + 1], p;
    assert_int_equal(stats_pmf_paired_null(pmf, NR, NW, q_loss, q_gain), KDT_OK);
    assert_int_equal(stats_chance_not_default(&p, pmf, NR + NW + 1, N_SET, K), KDT_OK);
    rng g = rng_stream(5, "test.stats.null", 0, 0);
    size_t not_default = 0;
    for (int s = 0; s < SIMS; s++) {
        size_t best = 0, best_score = 0;
        for (size_t j = 0; j < N_SET; j++) {
            size_t score = 0;
            for (int i = 0; i < NR; i++) score += rng_uniform(&g) >= q_loss;
            for (int i = 0; i < NW; i++) score += rng_uniform(&g) < q_gain;
            if (j == 0 || score > best_score) { // ties toward the earlier, so toward the defaults
                best = j;
                best_score = score;
            }
        }
        not_default += best >= K;
    }
    double sim = (double)not_default / SIMS, se = sqrt(p * (1 - p) / SIMS);
    double cont = stats_chance_not_default_continuous(N_SET, K);
    printf("argmax not default, %d of %d settings: formula %.4f, simulated %.4f (se %.4f), "
           "without ties %.4f\n", N_SET - K, N_SET, p, sim, se, cont);
    assert_true(fabs(sim - p) <= 3 * se);
    assert_true(cont - p >= 5 * se); // ties toward the default matter on 100 images
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mcnemar_holds_its_level_under_the_null),
        cmocka_unit_test(holm_holds_the_family_level_over_45_pairs),
        cmocka_unit_test(a_planted_effect_is_found),
        cmocka_unit_test(crossfit_of_the_best_null_candidate_is_centred),
        cmocka_unit_test(chance_level_matches_simulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
