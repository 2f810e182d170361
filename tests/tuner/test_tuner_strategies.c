// Every strategy on analytic functions: bounds and budget, the grid's enumeration, determinism
// in the seed, NLopt convergence on Branin, explicit goals, initial points, and the comparison
// helpers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/compare.h"
#include "tuner/tuner.h"

#define M_PI_APPROX 3.14159

// Every strategy asks only points of the space (bounds, choices, fixed values) and stops at its
// budget, on the mixed space with and without a fixed parameter.
static void strategies_respect_bounds_and_budget(void **state) {
    (void)state;
    for (int fixed = 0; fixed < 2; fixed++)
        for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
            tuner_space *s = testfun_space(1);
            if (fixed) assert_int_equal(tuner_space_fix(s, "c2", 1), KDT_OK);
            tuner *t = NULL;
            const size_t budget = 14;
            assert_int_equal(tuner_create(&t, s, st, TUNER_MINIMIZE, budget, 3), KDT_OK);
            double x0[4] = {-5, 15, 2, 1};
            assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
            double x[4];
            size_t asked = 0;
            while (!tuner_done(t)) {
                assert_int_equal(tuner_ask(t, x), KDT_OK);
                asked++;
                assert_true(tuner_space_contains(s, x));
                assert_true(x[0] >= -5 && x[0] <= 10 && x[1] >= 0 && x[1] <= 15);
                if (fixed) assert_true(x[3] == 1);
                assert_int_equal(tuner_tell(t, testfun_mixed(x)), KDT_OK);
            }
            // screen's cheap screens make more asks than the budget: its budget counts their cost
            assert_true(st == TUNER_SCREEN ? asked > budget : asked <= budget);
            assert_true(tuner_spent(t) <= (double)budget + 1e-9);
            assert_int_equal(tuner_n_told(t), asked);
            if (st != TUNER_GRID && st != TUNER_SCREEN) assert_int_equal(asked, budget);
            if (st == TUNER_RANDOM || st == TUNER_GP) { // the initial point comes first
                double h[4];
                tuner_history(t, 0, h, NULL);
                assert_memory_equal(h, x0, sizeof h);
            }
            assert_int_equal(tuner_ask(t, x), KDT_ERR_STATE);
            assert_int_equal(tuner_tell(t, 1.0), KDT_ERR_STATE);
            tuner_destroy(t);
            tuner_space_destroy(s);
        }
}

// Degenerate spaces: categoricals only (each strategy covers the 6 combinations without asking
// anything else, and the enumerating ones stop when all are seen), and everything fixed (one
// evaluation, then done).
static void categorical_only_and_all_fixed_spaces(void **state) {
    (void)state;
    for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
        tuner_space *s = testfun_space(1);
        assert_int_equal(tuner_space_fix(s, "x1", M_PI_APPROX), KDT_OK);
        assert_int_equal(tuner_space_fix(s, "x2", 2.275), KDT_OK);
        tuner *t = NULL;
        assert_int_equal(tuner_create(&t, s, st, TUNER_MINIMIZE, 12, 1), KDT_OK);
        double x[4];
        int seen[3][2] = {{0}};
        while (!tuner_done(t)) {
            kdt_status r = tuner_ask(t, x);
            if (r == KDT_ERR_STATE) break; // an enumerating strategy ran out of combinations
            assert_int_equal(r, KDT_OK);
            assert_true(x[0] == M_PI_APPROX && x[1] == 2.275);
            seen[(int)x[2]][(int)x[3]]++;
            assert_int_equal(tuner_tell(t, testfun_mixed(x)), KDT_OK);
        }
        assert_true(tuner_done(t));
        if (st == TUNER_GRID || (st >= TUNER_BOBYQA && st <= TUNER_DIRECT_L)) {
            assert_int_equal(tuner_n_told(t), 6);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 2; b++) assert_int_equal(seen[a][b], 1);
        }
        double y;
        assert_int_equal(tuner_best(t, x, &y), KDT_OK);
        if (st != TUNER_RANDOM) assert_true(x[2] == 0 && x[3] == 0); // the best combination
        tuner_destroy(t);
        assert_int_equal(tuner_space_fix(s, "c1", 1), KDT_OK);
        assert_int_equal(tuner_space_fix(s, "c2", 0), KDT_OK);
        assert_int_equal(tuner_create(&t, s, st, TUNER_MINIMIZE, 12, 1), KDT_OK);
        assert_int_equal(tuner_budget(t), 1);
        assert_int_equal(tuner_ask(t, x), KDT_OK);
        assert_true(x[0] == M_PI_APPROX && x[2] == 1 && x[3] == 0);
        assert_int_equal(tuner_tell(t, 1.0), KDT_OK);
        assert_true(tuner_done(t));
        tuner_destroy(t);
        tuner_space_destroy(s);
    }
}

// The grid visits exactly the Cartesian product of its value lists, each point once.
static void grid_is_the_cartesian_product(void **state) {
    (void)state;
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, TUNER_GRID, TUNER_MAXIMIZE, 1000, 0), KDT_OK);
    double v1[] = {-5, 0, 10}, v2[] = {1, 2}, c1[] = {0, 2};
    assert_int_equal(tuner_set_grid_values(t, "x1", v1, 3), KDT_OK);
    assert_int_equal(tuner_set_grid_values(t, "x2", v2, 2), KDT_OK);
    assert_int_equal(tuner_set_grid_values(t, "c1", c1, 2), KDT_OK);
    assert_int_equal(tuner_set_grid_values(t, "x2", v1, 3), KDT_ERR_CONFIG); // 0 <= x2: -5 is out
    double dup[] = {1, 2, 1};
    assert_int_equal(tuner_set_grid_values(t, "x2", dup, 3), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "lists 1 twice"));
    assert_int_equal(tuner_budget(t), 3 * 2 * 2 * 2); // c2 takes both choices
    int seen[3][2][2][2] = {{{{0}}}};
    double x[4];
    while (!tuner_done(t)) {
        assert_int_equal(tuner_ask(t, x), KDT_OK);
        int a = x[0] == -5 ? 0 : x[0] == 0 ? 1 : 2, b = x[1] == 1 ? 0 : 1, c = x[2] == 0 ? 0 : 1;
        assert_true(x[0] == v1[a] && x[1] == v2[b] && x[2] == c1[c]);
        seen[a][b][c][(int)x[3]]++;
        assert_int_equal(tuner_tell(t, -testfun_mixed(x)), KDT_OK);
    }
    for (int i = 0; i < 24; i++) assert_int_equal((&seen[0][0][0][0])[i], 1);
    // Maximizing -f finds the grid point of least f.
    double xb[4], yb, best = INFINITY;
    assert_int_equal(tuner_best(t, xb, &yb), KDT_OK);
    for (size_t i = 0; i < tuner_n_told(t); i++) best = fmin(best, -tuner_values(t)[i]);
    assert_true(-yb == best);
    tuner_destroy(t);
    tuner_space_destroy(s);
}

// The same seed gives the same suggestions; another seed gives others.
static void strategies_are_deterministic_in_the_seed(void **state) {
    (void)state;
    const tuner_strategy list[] = {TUNER_RANDOM, TUNER_BOBYQA, TUNER_DIRECT_L, TUNER_GP};
    for (size_t k = 0; k < sizeof list / sizeof *list; k++) {
        double xs[3][12][4];
        const uint64_t seeds[3] = {5, 5, 6};
        for (int r = 0; r < 3; r++) {
            tuner_space *s = testfun_space(1);
            tuner *t = NULL;
            assert_int_equal(tuner_create(&t, s, list[k], TUNER_MINIMIZE, 12, seeds[r]), KDT_OK);
            for (int i = 0; i < 12; i++) {
                assert_int_equal(tuner_ask(t, xs[r][i]), KDT_OK);
                assert_int_equal(tuner_tell(t, testfun_mixed(xs[r][i])), KDT_OK);
            }
            tuner_destroy(t);
            tuner_space_destroy(s);
        }
        assert_memory_equal(xs[0], xs[1], sizeof xs[0]);
        if (list[k] == TUNER_RANDOM || list[k] == TUNER_GP) // NLopt is seeded only for restarts
            assert_memory_not_equal(xs[0], xs[2], sizeof xs[0]);
    }
}

// Local NLopt methods started at the centre converge to one of Branin's (global) minima, and
// DIRECT-L finds one, within 100 evaluations (without restarts the seed does not matter).
static void nlopt_strategies_converge_on_branin(void **state) {
    (void)state;
    const tuner_strategy list[] = {TUNER_BOBYQA, TUNER_COBYLA, TUNER_NELDERMEAD, TUNER_SBPLX,
                                   TUNER_DIRECT_L};
    const double tol[] = {1e-6, 1e-3, 1e-6, 1e-5, 1e-3};
    for (size_t k = 0; k < sizeof list / sizeof *list; k++)
        for (uint64_t seed = 0; seed < 2; seed++) {
            double regret = testfun_run(TESTFUN_BRANIN, list[k], 100, seed, NULL, NULL, 0, NULL);
            if (!(regret <= tol[k]))
                print_error("%s seed %llu: regret %g > %g\n", tuner_strategy_name(list[k]),
                            (unsigned long long)seed, regret, tol[k]);
            assert_true(regret <= tol[k]);
        }
}

// Maximizing f and minimizing -f ask the same points.
static void goal_is_explicit_and_symmetric(void **state) {
    (void)state;
    for (int st = TUNER_BOBYQA; st <= TUNER_GP; st++) {
        double xs[2][10][4];
        for (int g = 0; g < 2; g++) {
            tuner_space *s = testfun_space(1);
            tuner *t = NULL;
            assert_int_equal(tuner_create(&t, s, st, g ? TUNER_MAXIMIZE : TUNER_MINIMIZE, 10, 1), KDT_OK);
            for (int i = 0; i < 10; i++) {
                assert_int_equal(tuner_ask(t, xs[g][i]), KDT_OK);
                double f = testfun_mixed(xs[g][i]);
                assert_int_equal(tuner_tell(t, g ? -f : f), KDT_OK);
            }
            double xb[4], yb;
            assert_int_equal(tuner_best(t, xb, &yb), KDT_OK);
            for (int i = 0; i < 10; i++) {
                double f = testfun_mixed(xs[g][i]);
                assert_true(g ? -f <= yb : f >= yb);
            }
            tuner_destroy(t);
            tuner_space_destroy(s);
        }
        assert_memory_equal(xs[0], xs[1], sizeof xs[0]);
    }
}

// A failed evaluation (NaN) counts against the budget, is never the best, and does not stop a
// strategy.
static void failed_evaluations_are_tolerated(void **state) {
    (void)state;
    for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
        tuner_space *s = testfun_space(0);
        tuner *t = NULL;
        assert_int_equal(tuner_create(&t, s, st, TUNER_MINIMIZE, 12, 2), KDT_OK);
        double x[2];
        for (int i = 0; !tuner_done(t); i++) {
            assert_int_equal(tuner_ask(t, x), KDT_OK);
            assert_int_equal(tuner_tell(t, i % 3 == 1 ? NAN : testfun_branin(x[0], x[1])), KDT_OK);
        }
        double y;
        assert_int_equal(tuner_recommend(t, x, &y), KDT_OK);
        assert_true(isfinite(y));
        tuner_destroy(t);
        tuner_space_destroy(s);
    }
}

static void settings_after_start_are_refused(void **state) {
    (void)state;
    tuner_space *s = testfun_space(0);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MINIMIZE, 0, 0), KDT_ERR_CONFIG);
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MINIMIZE, 5, 0), KDT_OK);
    double bad[2] = {11, 0}, x[2];
    assert_int_equal(tuner_add_initial_point(t, bad), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "'x1' = 11 is outside"));
    assert_int_equal(tuner_ask(t, x), KDT_OK);
    double y[2];
    assert_int_equal(tuner_ask(t, y), KDT_OK); // asking again repeats the pending point
    assert_memory_equal(x, y, sizeof x);
    assert_int_equal(tuner_add_initial_point(t, x), KDT_ERR_STATE);
    assert_int_equal(tuner_set_initial_design(t, 3), KDT_ERR_STATE);
    assert_int_equal(tuner_tell(t, 1.0), KDT_OK);
    assert_int_equal(tuner_tell(t, 1.0), KDT_ERR_STATE); // nothing pending
    tuner_destroy(t);
    tuner_space_destroy(s);
}

static void comparison_helpers(void **state) {
    (void)state;
    const double v[] = {5, NAN, 3, 4, 1, 2};
    double curve[6], scratch[6];
    tuner_best_so_far(curve, v, 6, TUNER_MINIMIZE);
    const double want[] = {5, 5, 3, 3, 1, 1};
    for (int i = 0; i < 6; i++) assert_true(curve[i] == want[i]);
    tuner_best_so_far(curve, v, 6, TUNER_MAXIMIZE);
    for (int i = 0; i < 6; i++) assert_true(curve[i] == 5);
    assert_true(tuner_regret(1.5, 1.0, TUNER_MINIMIZE) == 0.5);
    assert_true(tuner_regret(0.5, 1.0, TUNER_MAXIMIZE) == 0.5);
    assert_true(isinf(tuner_regret(NAN, 1.0, TUNER_MAXIMIZE)));
    assert_int_equal(tuner_evals_to_within(v, 6, 1.0, 2.0, TUNER_MINIMIZE), 3);
    assert_int_equal(tuner_evals_to_within(v, 6, 0.0, 0.5, TUNER_MINIMIZE), 0);
    assert_true(tuner_median(v + 2, 4, scratch) == 2.5);
    assert_true(tuner_median(v, 1, scratch) == 5);
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strategies_respect_bounds_and_budget),
        cmocka_unit_test(categorical_only_and_all_fixed_spaces),
        cmocka_unit_test(grid_is_the_cartesian_product),
        cmocka_unit_test(strategies_are_deterministic_in_the_seed),
        cmocka_unit_test(nlopt_strategies_converge_on_branin),
        cmocka_unit_test(goal_is_explicit_and_symmetric),
        cmocka_unit_test(failed_evaluations_are_tolerated),
        cmocka_unit_test(settings_after_start_are_refused),
        cmocka_unit_test(comparison_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
