// Final replicates: the last k * r evaluations re-evaluate the k best told points, the asks say
// which replicate, the recommendation is the best mean (not the luckiest draw), and replay checks
// the replicate index.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/tuner.h"

enum { B = 20, K = 3, R = 2 };

static tuner *make(tuner_strategy st) {
    tuner_space *s = testfun_space(0);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, st, TUNER_MINIMIZE, B, 9), KDT_OK);
    assert_int_equal(tuner_set_final_replicates(t, K, R), KDT_OK);
    tuner_space_destroy(s);
    return t;
}

// A noisy objective where one point (x1 < -4) has a lucky first draw and a bad mean: a constant
// plus noise that is -100 on the first evaluation of such a point and +100 after.
static double lucky(const double *x, size_t replicate) {
    double f = testfun_branin(x[0], x[1]);
    if (x[0] < -4) f = replicate == 0 ? -100 : 300;
    return f;
}

static void replicates_pick_the_best_mean(void **state) {
    (void)state;
    const tuner_strategy list[] = {TUNER_RANDOM, TUNER_GP, TUNER_BOBYQA};
    for (size_t q = 0; q < sizeof list / sizeof *list; q++) {
        tuner *t = make(list[q]);
        double x[2], xs[B][2], ys[B];
        size_t reps[B], n = 0;
        while (!tuner_done(t)) {
            tuner_ask_info info;
            assert_int_equal(tuner_ask_ex(t, x, &info), KDT_OK);
            double y = lucky(x, info.replicate);
            memcpy(xs[n], x, sizeof x), ys[n] = y, reps[n] = info.replicate;
            assert_int_equal(tuner_tell(t, y), KDT_OK);
            assert_int_equal(tuner_history_replicate(t, n), info.replicate);
            n++;
        }
        assert_int_equal(n, B);
        // The last K * R asks are replicates 1..R of K distinct earlier points.
        for (size_t i = 0; i < B - K * R; i++) assert_int_equal(reps[i], 0);
        for (size_t j = 0; j < K * R; j++) {
            size_t i = B - K * R + j;
            assert_int_equal(reps[i], 1 + j / K);
            bool earlier = false;
            for (size_t e = 0; e < B - K * R; e++) earlier |= !memcmp(xs[e], xs[i], sizeof xs[i]);
            assert_true(earlier);
        }
        double xr[2], yr;
        assert_int_equal(tuner_recommend(t, xr, &yr), KDT_OK);
        // the value is the mean of the recommended point's evaluations
        double sum = 0;
        size_t m = 0;
        for (size_t i = 0; i < B; i++)
            if (!memcmp(xs[i], xr, sizeof xr)) sum += ys[i], m++;
        assert_int_equal(m, 1 + R);
        assert_true(fabs(yr - sum / (double)m) < 1e-12);

        // Replay: the records with their replicates continue exactly; a wrong replicate is refused.
        tuner_record rec[B];
        for (size_t i = 0; i < B; i++) rec[i] = (tuner_record){xs[i], ys[i], reps[i], 1};
        tuner *u = make(list[q]);
        assert_int_equal(tuner_replay(u, rec, B), KDT_OK);
        assert_true(tuner_done(u));
        double xu[2], yu;
        assert_int_equal(tuner_recommend(u, xu, &yu), KDT_OK);
        assert_memory_equal(xu, xr, sizeof xr);
        tuner_destroy(u);
        u = make(list[q]);
        rec[B - 1].replicate = 0;
        assert_int_equal(tuner_replay(u, rec, B), KDT_ERR_CONFIG);
        assert_non_null(strstr(kdt_errmsg(), "replicate"));
        tuner_destroy(u);
        tuner_destroy(t);
    }
}

// The lucky point itself, given as the initial point, is among the candidates and loses.
static void the_luckiest_draw_is_not_recommended(void **state) {
    (void)state;
    tuner *t = make(TUNER_RANDOM);
    tuner_space *s = testfun_space(0);
    tuner_destroy(t);
    assert_int_equal(tuner_create(&t, s, TUNER_RANDOM, TUNER_MINIMIZE, B, 9), KDT_OK);
    double x0[2] = {-5, 1};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    assert_int_equal(tuner_set_final_replicates(t, K, R), KDT_OK);
    double x[2], y;
    while (!tuner_done(t)) {
        tuner_ask_info info;
        assert_int_equal(tuner_ask_ex(t, x, &info), KDT_OK);
        assert_int_equal(tuner_tell(t, lucky(x, info.replicate)), KDT_OK);
    }
    assert_int_equal(tuner_best(t, x, &y), KDT_OK);
    assert_true(x[0] == -5 && y == -100); // the luckiest draw
    assert_int_equal(tuner_recommend(t, x, &y), KDT_OK);
    assert_false(x[0] == -5);
    assert_true(y < 300);
    tuner_destroy(t);
    tuner_space_destroy(s);
}

static void bad_settings_are_refused(void **state) {
    (void)state;
    tuner_space *s = testfun_space(0);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MINIMIZE, 6, 1), KDT_OK);
    assert_int_equal(tuner_set_final_replicates(t, 0, 1), KDT_ERR_CONFIG);
    assert_int_equal(tuner_set_final_replicates(t, 3, 2), KDT_ERR_CONFIG); // 6 >= budget
    assert_int_equal(tuner_set_final_replicates(t, TUNER_MAX_REPLICATE_K + 1, 1), KDT_ERR_CONFIG);
    assert_int_equal(tuner_set_final_replicates(t, 2, 2), KDT_OK);
    tuner_destroy(t);
    tuner_space_destroy(s);
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replicates_pick_the_best_mean),
        cmocka_unit_test(the_luckiest_draw_is_not_recommended),
        cmocka_unit_test(bad_settings_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
