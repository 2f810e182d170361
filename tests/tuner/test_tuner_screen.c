// The screen strategy: asks carry their fidelity, the budget counts full-evaluation equivalents,
// the recommendation is never a screen, a run is deterministic and replays with its fidelities,
// and the settings are checked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/tuner.h"

enum { N_INIT = 2, PAID = 7, B = N_INIT + PAID, MAXN = 64 };
static const double FID = 0.25, COST = 0.4;

// The mixed function (minimized); a screen reads it shifted by -50, so a screen's value, taken
// for a full one, would beat every full evaluation.
static double objective(const double *x, double fidelity) { return testfun_mixed(x) - (fidelity < 1 ? 50 : 0); }

static tuner *make(uint64_t seed) {
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, TUNER_SCREEN, TUNER_MINIMIZE, B, seed), KDT_OK);
    assert_int_equal(tuner_set_screening(t, FID, COST), KDT_OK);
    const double x0[4] = {2, 5, 0, 0}, x1[4] = {2, 5, 1, 1};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    assert_int_equal(tuner_add_initial_point(t, x1), KDT_OK);
    tuner_space_destroy(s);
    return t;
}

typedef struct {
    double x[MAXN][4], y[MAXN], fid[MAXN];
    size_t n;
} run_log;

static void drive(tuner *t, run_log *r) {
    r->n = 0;
    while (!tuner_done(t)) {
        tuner_ask_info info;
        assert_true(r->n < MAXN);
        assert_int_equal(tuner_ask_ex(t, r->x[r->n], &info), KDT_OK);
        assert_int_equal(info.replicate, 0);
        r->fid[r->n] = info.fidelity;
        r->y[r->n] = objective(r->x[r->n], info.fidelity);
        assert_int_equal(tuner_tell(t, r->y[r->n]), KDT_OK);
        assert_true(tuner_history_fidelity(t, r->n) == info.fidelity);
        r->n++;
    }
}

static void budget_counts_equivalents(void **state) {
    (void)state;
    tuner *t = make(3);
    run_log r;
    drive(t, &r);
    size_t screens = 0, full = 0;
    double cost = 0;
    for (size_t i = 0; i < r.n; i++) {
        assert_true(r.fid[i] == 1 || r.fid[i] == FID);
        if (r.fid[i] < 1) screens++, cost += COST;
        else full++, cost += 1;
    }
    for (size_t i = 0; i < N_INIT; i++) assert_true(r.fid[i] == 1); // the initial points, in full
    assert_true(screens > 0 && full > N_INIT);
    assert_true(r.n > B); // screens are cheaper: more evaluations than the budget's count
    assert_true(fabs(tuner_spent(t) - cost) < 1e-9);
    assert_true(cost <= B + 1e-9);
    assert_true(B - cost < COST); // done because not even a screen fits any more
    double x[4];
    assert_int_equal(tuner_ask(t, x), KDT_ERR_STATE);
    // Screens come first, then full evaluations of the best screens: each of those is a screened point.
    size_t i = N_INIT;
    while (i < r.n && r.fid[i] < 1) i++;
    assert_int_equal(i, N_INIT + screens);
    for (size_t j = i; j < r.n; j++) {
        bool screened = false;
        for (size_t k = N_INIT; k < i; k++) screened |= !memcmp(r.x[k], r.x[j], sizeof r.x[j]);
        assert_true(screened);
    }
    tuner_destroy(t);
}

static void recommendation_is_never_a_screen(void **state) {
    (void)state;
    tuner *t = make(5);
    run_log r;
    drive(t, &r);
    double xr[4], yr, xb[4], yb;
    assert_int_equal(tuner_recommend(t, xr, &yr), KDT_OK);
    assert_int_equal(tuner_best(t, xb, &yb), KDT_OK);
    assert_true(yr > -40 && yb > -40); // no screen value (all below -40 here)
    bool found = false;
    for (size_t i = 0; i < r.n; i++)
        found |= r.fid[i] == 1 && !memcmp(r.x[i], xr, sizeof xr) && r.y[i] == yr;
    assert_true(found);
    tuner_destroy(t);
}

static void deterministic_and_replayable(void **state) {
    (void)state;
    tuner *a = make(11), *b = make(11);
    run_log ra, rb;
    drive(a, &ra);
    drive(b, &rb);
    assert_int_equal(ra.n, rb.n);
    assert_memory_equal(ra.x, rb.x, ra.n * sizeof ra.x[0]);
    assert_memory_equal(ra.fid, rb.fid, ra.n * sizeof ra.fid[0]);
    tuner_destroy(b);

    // Replaying the records (fidelity 0 reads as 1) is the same as asking and telling them.
    tuner_record rec[MAXN];
    for (size_t i = 0; i < ra.n; i++) rec[i] = (tuner_record){ra.x[i], ra.y[i], 0, ra.fid[i] == 1 ? 0 : ra.fid[i]};
    tuner *c = make(11);
    size_t half = ra.n / 2;
    assert_int_equal(tuner_replay(c, rec, half), KDT_OK);
    assert_int_equal(tuner_replay(c, rec + half, ra.n - half), KDT_OK);
    assert_true(tuner_done(c));
    assert_true(fabs(tuner_spent(c) - tuner_spent(a)) < 1e-12);
    double xa[4], ya, xc[4], yc;
    assert_int_equal(tuner_recommend(a, xa, &ya), KDT_OK);
    assert_int_equal(tuner_recommend(c, xc, &yc), KDT_OK);
    assert_memory_equal(xa, xc, sizeof xa);
    tuner_destroy(c);

    // A record at another fidelity than the ask's is refused.
    size_t s = N_INIT; // the first screen
    assert_true(ra.fid[s] < 1);
    rec[s].fidelity = 1;
    tuner *d = make(11);
    assert_int_equal(tuner_replay(d, rec, s + 1), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "fidelity"));
    assert_int_equal(tuner_n_told(d), s);
    tuner_destroy(d);
    tuner_destroy(a);
}

static void final_replicates_are_full_evaluations(void **state) {
    (void)state;
    tuner *t = make(7);
    // settings come before the first ask; screening refused elsewhere and out of range
    tuner_space *s = testfun_space(1);
    tuner *g = NULL;
    assert_int_equal(tuner_create(&g, s, TUNER_GP, TUNER_MINIMIZE, B, 1), KDT_OK);
    assert_int_equal(tuner_set_screening(g, FID, COST), KDT_ERR_CONFIG);
    double x[4];
    tuner_ask_info info;
    assert_int_equal(tuner_ask_ex(g, x, &info), KDT_OK);
    assert_true(info.fidelity == 1); // every other strategy asks full evaluations
    tuner_destroy(g);
    tuner_space_destroy(s);
    assert_int_equal(tuner_set_screening(t, 1, COST), KDT_ERR_CONFIG);
    assert_int_equal(tuner_set_screening(t, FID, 1), KDT_ERR_CONFIG);
    assert_int_equal(tuner_set_final_replicates(t, 2, 1), KDT_OK);
    size_t n = 0, reps = 0;
    while (!tuner_done(t)) {
        assert_int_equal(tuner_ask_ex(t, x, &info), KDT_OK);
        if (info.replicate) {
            reps++;
            assert_true(info.fidelity == 1);
            bool full_before = false; // a candidate is a full-fidelity evaluation, not a screen
            for (size_t i = 0; i < n; i++) {
                double xi[4];
                tuner_history(t, i, xi, NULL);
                full_before |= tuner_history_fidelity(t, i) == 1 && !memcmp(xi, x, sizeof x);
            }
            assert_true(full_before);
        }
        assert_int_equal(tuner_tell(t, objective(x, info.fidelity)), KDT_OK);
        n++;
    }
    assert_int_equal(reps, 2);
    assert_int_equal(tuner_set_screening(t, FID, COST), KDT_ERR_STATE);
    assert_true(tuner_spent(t) <= B + 1e-9);
    double xr[4], yr;
    assert_int_equal(tuner_recommend(t, xr, &yr), KDT_OK);
    assert_true(yr > -40);
    tuner_destroy(t);
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_counts_equivalents),
        cmocka_unit_test(recommendation_is_never_a_screen),
        cmocka_unit_test(deterministic_and_replayable),
        cmocka_unit_test(final_replicates_are_full_evaluations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
