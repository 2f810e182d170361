// gp_transfer: without earlier tasks it is gp, suggestion for suggestion; with them its design
// point goes where the earlier tasks were best and it reaches a low regret sooner than gp, over
// seeds; it is deterministic; bad prior observations are refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/tuner.h"

enum { B = 14, N_PRIOR = 60 };

// An earlier task: the mixed function lifted and scaled (another level, the same optimum), on a
// Sobol-like spread of points (a fixed RNG stream), as maximization values.
static void earlier_task(int k, double (*xs)[4], double *ys) {
    rng r = rng_stream(77, "test.transfer", (uint64_t)k, 0);
    for (size_t i = 0; i < N_PRIOR; i++) {
        xs[i][0] = -5 + 15 * rng_uniform(&r), xs[i][1] = 15 * rng_uniform(&r);
        xs[i][2] = (double)(rng_next(&r) % 3), xs[i][3] = (double)(rng_next(&r) % 2);
        ys[i] = i % 17 == 5 ? NAN : -(3.0 + k) * testfun_mixed(xs[i]) + 10.0 * k;
    }
    // the optimum itself was seen (as a tuning history would have it)
    xs[0][0] = 3.14159265358979, xs[0][1] = 2.275, xs[0][2] = 0, xs[0][3] = 0;
    ys[0] = -(3.0 + k) * testfun_mixed(xs[0]) + 10.0 * k;
}

static tuner *make_seeded(tuner_strategy st, int tasks, size_t budget, uint64_t seed) {
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, st, TUNER_MAXIMIZE, budget, seed), KDT_OK);
    double x0[4] = {1, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    for (int k = 0; k < tasks; k++) {
        double xs[N_PRIOR][4], ys[N_PRIOR];
        earlier_task(k, xs, ys);
        assert_int_equal(tuner_set_prior_observations(t, &xs[0][0], ys, N_PRIOR), KDT_OK);
    }
    tuner_space_destroy(s);
    return t;
}

static tuner *make(tuner_strategy st, int tasks) { return make_seeded(st, tasks, B, 5); }

static void drive(tuner *t, double (*xs)[4]) {
    while (!tuner_done(t)) {
        size_t i = tuner_n_told(t);
        assert_int_equal(tuner_ask(t, xs[i]), KDT_OK);
        assert_int_equal(tuner_tell(t, -testfun_mixed(xs[i])), KDT_OK);
    }
}

// The regret of the recommended point after a run of budget evaluations.
static double regret_after(tuner_strategy st, int tasks, size_t budget, uint64_t seed) {
    double xs[B][4], xr[4], yr;
    tuner *t = make_seeded(st, tasks, budget, seed);
    drive(t, xs);
    assert_int_equal(tuner_recommend(t, xr, &yr), KDT_OK);
    tuner_destroy(t);
    return testfun_mixed(xr) - TESTFUN_BRANIN_MIN;
}

// Informative earlier tasks (the same optimum at other levels and scales): at a small budget
// gp_transfer's regret is far below gp's on most seeds and on average.
static void informative_priors_reach_a_low_regret_sooner(void **state) {
    (void)state;
    enum { SEEDS = 8, BUDGET = 6 };
    double sum_t = 0, sum_g = 0;
    int wins = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        double rt = regret_after(TUNER_GP_TRANSFER, 3, BUDGET, seed), rg = regret_after(TUNER_GP, 0, BUDGET, seed);
        sum_t += rt, sum_g += rg, wins += rt < rg;
    }
    print_message("mixed function, %d evaluations, %d seeds: mean regret gp_transfer %.3g, gp %.3g; "
                  "gp_transfer better on %d\n", BUDGET, SEEDS, sum_t / SEEDS, sum_g / SEEDS, wins);
    assert_true(sum_t < 0.25 * sum_g);
    assert_true(wins >= SEEDS - 1);
}

static void without_prior_it_is_gp(void **state) {
    (void)state;
    double a[B][4], b[B][4];
    tuner *g = make(TUNER_GP, 0), *h = make(TUNER_GP_TRANSFER, 0);
    drive(g, a), drive(h, b);
    assert_memory_equal(a, b, sizeof a);
    tuner_destroy(g), tuner_destroy(h);
}

// The first design point (after the initial point) is at the earlier tasks' optimum (the best
// combination, near the Branin minimizer they saw), and the run ends better than gp's.
static void prior_guides_the_design_and_is_deterministic(void **state) {
    (void)state;
    double a[B][4], b[B][4], g[B][4];
    tuner *t = make(TUNER_GP_TRANSFER, 3), *u = make(TUNER_GP_TRANSFER, 3), *p = make(TUNER_GP, 0);
    drive(t, a), drive(u, b), drive(p, g);
    assert_memory_equal(a, b, sizeof a); // same inputs, same suggestions
    assert_true(a[1][2] == 0 && a[1][3] == 0);
    assert_true(fabs(a[1][0] - 3.14159) < 1.5 && fabs(a[1][1] - 2.275) < 1.5);
    double xt[4], yt, xg[4], yg;
    assert_int_equal(tuner_recommend(t, xt, &yt), KDT_OK);
    assert_int_equal(tuner_recommend(p, xg, &yg), KDT_OK);
    assert_true(testfun_mixed(xt) <= testfun_mixed(xg));
    assert_true(testfun_mixed(xt) - TESTFUN_BRANIN_MIN < 0.5);
    // The design does not repeat itself: no two told points coincide.
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < i; j++) assert_false(memcmp(a[i], a[j], sizeof a[i]) == 0);
    tuner_destroy(t), tuner_destroy(u), tuner_destroy(p);
}

static void bad_prior_observations_are_refused(void **state) {
    (void)state;
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    double xs[2][4] = {{0, 0, 0, 0}, {11, 0, 0, 0}}, ys[2] = {1, 2};
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MAXIMIZE, B, 5), KDT_OK);
    assert_int_equal(tuner_set_prior_observations(t, &xs[0][0], ys, 1), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "gp_transfer"));
    tuner_destroy(t);
    assert_int_equal(tuner_create(&t, s, TUNER_GP_TRANSFER, TUNER_MAXIMIZE, B, 5), KDT_OK);
    assert_int_equal(tuner_set_prior_observations(t, &xs[0][0], ys, 2), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "prior observation 1 "));
    assert_int_equal(tuner_set_prior_observations(t, NULL, ys, 2), KDT_ERR_USAGE);
    assert_int_equal(tuner_set_prior_observations(t, &xs[0][0], ys, 1), KDT_OK); // one value: nothing to learn
    double x[4];
    assert_int_equal(tuner_ask(t, x), KDT_OK);
    assert_int_equal(tuner_set_prior_observations(t, &xs[0][0], ys, 1), KDT_ERR_STATE);
    tuner_destroy(t);
    tuner_space_destroy(s);
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_prior_it_is_gp),
        cmocka_unit_test(prior_guides_the_design_and_is_deterministic),
        cmocka_unit_test(informative_priors_reach_a_low_regret_sooner),
        cmocka_unit_test(bad_prior_observations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
