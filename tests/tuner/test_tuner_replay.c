// Replay of a run's past results: a partial run given back to a new tuner continues exactly as an
// uninterrupted run, for every strategy; a record that does not match is refused with its index;
// failed evaluations (NaN) are failures, never numbers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/tuner.h"

enum { B = 16 };

static tuner *make(tuner_strategy st, uint64_t seed, size_t budget) {
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, st, TUNER_MAXIMIZE, budget, seed), KDT_OK);
    double x0[4] = {1, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    tuner_space_destroy(s);
    return t;
}

static double objective(size_t i, const double *x) { return i == 3 ? NAN : -testfun_mixed(x); }

// Asks and tells until n told (or done): points into xs, values into ys.
static void drive(tuner *t, size_t n, double (*xs)[4], double *ys) {
    while (tuner_n_told(t) < n && !tuner_done(t)) {
        size_t i = tuner_n_told(t);
        assert_int_equal(tuner_ask(t, xs[i]), KDT_OK);
        ys[i] = objective(i, xs[i]);
        assert_int_equal(tuner_tell(t, ys[i]), KDT_OK);
    }
}

static void to_records(double (*xs)[4], const double *ys, size_t n, tuner_record *r) {
    for (size_t i = 0; i < n; i++) r[i] = (tuner_record){xs[i], ys[i], 0, 1};
}

// For every strategy and several cut points: a new tuner given the first `cut` results asks
// exactly what the uninterrupted tuner asked next, to the end; its history holds the records
// (NaN kept as NaN); a finished run replays completely and is done.
static void partial_replay_continues_the_same_sequence(void **state) {
    (void)state;
    const size_t cuts[] = {1, 5, 9};
    for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
        if (st == TUNER_SCREEN) continue; // its replay, with fidelities: test_tuner_screen.c
        double ref[B][4], yref[B], got[B][4], ygot[B];
        tuner *a = make((tuner_strategy)st, 11, B);
        drive(a, B, ref, yref);
        size_t total = tuner_n_told(a);
        tuner_destroy(a);
        tuner_record rec[B];
        to_records(ref, yref, total, rec);
        for (size_t q = 0; q < sizeof cuts / sizeof *cuts; q++) {
            size_t cut = cuts[q] < total ? cuts[q] : total;
            tuner *c = make((tuner_strategy)st, 11, B);
            assert_int_equal(tuner_replay(c, rec, cut), KDT_OK);
            assert_int_equal(tuner_n_told(c), cut);
            for (size_t i = 0; i < cut; i++) {
                double x[4], y;
                tuner_history(c, i, x, &y);
                assert_memory_equal(x, ref[i], sizeof x);
                assert_true(i == 3 ? isnan(y) : y == yref[i]);
            }
            memcpy(got, ref, cut * sizeof got[0]);
            drive(c, B, got, ygot);
            assert_int_equal(tuner_n_told(c), total);
            if (memcmp(got, ref, total * sizeof got[0]))
                fail_msg("%s: the replay from %zu diverged", tuner_strategy_name((tuner_strategy)st), cut);
            tuner_destroy(c);
        }
        tuner *d = make((tuner_strategy)st, 11, B);
        assert_int_equal(tuner_replay(d, rec, total), KDT_OK);
        assert_true(tuner_done(d));
        double xr[4], yr, xa[4], ya;
        assert_int_equal(tuner_recommend(d, xr, &yr), KDT_OK);
        tuner_destroy(d);
        // Replaying in two pieces is replaying once.
        tuner *e = make((tuner_strategy)st, 11, B);
        assert_int_equal(tuner_replay(e, rec, 2), KDT_OK);
        assert_int_equal(tuner_replay(e, rec + 2, total - 2), KDT_OK);
        assert_int_equal(tuner_recommend(e, xa, &ya), KDT_OK);
        assert_memory_equal(xa, xr, sizeof xa);
        tuner_destroy(e);
    }
}

// A record made with another configuration is refused, naming the record; the records before it
// stay told. Another seed, another initial point, a smaller budget.
static void mismatching_records_are_refused(void **state) {
    (void)state;
    double xs[B][4], ys[B];
    tuner *a = make(TUNER_GP, 4, B);
    drive(a, 8, xs, ys);
    tuner_destroy(a);
    tuner_record rec[B];
    to_records(xs, ys, 8, rec);

    tuner *t = make(TUNER_GP, 5, B); // another seed: the Sobol design differs after the initial point
    assert_int_equal(tuner_replay(t, rec, 8), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "record 1 "));
    assert_non_null(strstr(kdt_errmsg(), "another configuration"));
    assert_int_equal(tuner_n_told(t), 1);
    tuner_destroy(t);

    tuner_space *s = testfun_space(1);
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MAXIMIZE, B, 4), KDT_OK);
    double x0[4] = {2, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    assert_int_equal(tuner_replay(t, rec, 8), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "record 0 "));
    assert_non_null(strstr(kdt_errmsg(), "\"x1\":1,")); // the record's point, printed
    tuner_destroy(t);
    tuner_space_destroy(s);

    t = make(TUNER_RANDOM, 4, 5); // more records than the budget (random's points do not depend on it)
    double xr[B][4], yr[B];
    tuner *r = make(TUNER_RANDOM, 4, B);
    drive(r, 8, xr, yr);
    tuner_destroy(r);
    tuner_record rr[B];
    to_records(xr, yr, 8, rr);
    assert_int_equal(tuner_replay(t, rr, 8), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "record 5 "));
    assert_int_equal(tuner_n_told(t), 5);
    tuner_destroy(t);

    t = make(TUNER_RANDOM, 4, B); // another strategy
    assert_int_equal(tuner_replay(t, rec, 8), KDT_ERR_CONFIG);
    tuner_destroy(t);

    t = make(TUNER_GP, 4, B); // a record without a point is a usage error
    tuner_record none = {NULL, 1.0, 0, 1};
    assert_int_equal(tuner_replay(t, &none, 1), KDT_ERR_USAGE);
    assert_int_equal(tuner_replay(t, NULL, 0), KDT_OK);
    // settings after a replay are refused like settings after an ask
    assert_int_equal(tuner_replay(t, rec, 1), KDT_OK);
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_ERR_STATE);
    tuner_destroy(t);
}

// NaN (and any non-finite value) is a failure: stored as NaN, never the best, never
// recommended, and it does not stop a strategy; a run of nothing but failures still proceeds and
// its best is a failure.
static void failures_are_failures(void **state) {
    (void)state;
    for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
        tuner *t = make((tuner_strategy)st, 3, 12);
        double x[4], y;
        for (size_t i = 0; !tuner_done(t); i++) {
            assert_int_equal(tuner_ask(t, x), KDT_OK);
            // a failure first, then failures told as +inf: each must read as the worst
            double v = i == 0 || i % 4 == 2 ? (i == 0 ? NAN : INFINITY) : -testfun_mixed(x);
            assert_int_equal(tuner_tell(t, v), KDT_OK);
        }
        for (size_t i = 0; i < tuner_n_told(t); i++) {
            tuner_history(t, i, x, &y);
            if (i == 0 || i % 4 == 2) assert_true(isnan(y));
        }
        assert_int_equal(tuner_best(t, x, &y), KDT_OK);
        assert_true(isfinite(y));
        assert_int_equal(tuner_recommend(t, x, &y), KDT_OK);
        assert_true(isfinite(y));
        tuner_destroy(t);

        t = make((tuner_strategy)st, 3, 6);
        while (!tuner_done(t)) {
            assert_int_equal(tuner_ask(t, x), KDT_OK);
            assert_int_equal(tuner_tell(t, NAN), KDT_OK);
        }
        assert_int_equal(tuner_best(t, x, &y), KDT_OK);
        assert_true(isnan(y));
        tuner_destroy(t);
    }
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partial_replay_continues_the_same_sequence),
        cmocka_unit_test(mismatching_records_are_refused),
        cmocka_unit_test(failures_are_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
