// Analytic test functions with known optima for the tuner's tests and benchmark (minimization):
// Branin on [-5, 10] x [0, 15]; a mixed version shifted and stretched by two categoricals (3 and 2
// choices, 6 combinations with different optima); a noisy version of either.
// Header-only so that tests/tuner and bench/tuner share it.
#pragma once
#include <math.h>
#include <stdlib.h>

#include "common/rng.h"
#include "tuner/space.h"
#include "tuner/tuner.h"

#define TESTFUN_BRANIN_MIN 0.39788735772973816

static inline double testfun_branin(double x1, double x2) {
    const double a = 1, b = 5.1 / (4 * 3.14159265358979323846 * 3.14159265358979323846),
                 c = 5 / 3.14159265358979323846, r = 6, s = 10,
                 t = 1 / (8 * 3.14159265358979323846);
    double q = x2 - b * x1 * x1 + c * x1 - r;
    return a * q * q + s * (1 - t) * cos(x1) + s;
}

// Combination (c1, c2): Branin moved by (s1[c1], s2[c2]), stretched by m1[c1] >= 1, lifted by
// o1[c1] + o2[c2]. Every moved minimizer stays inside the box; the optima of the combinations
// are 0.398 (0, 0: the global one), 0.898, 1.277, 1.777, 0.857, 1.357. (A stretch below 1 makes a
// combination lower than the best one almost everywhere but near the optimum, a deceptive
// function on which gp ends on that combination's optimum in most seeds at 30 evaluations.)
static const double testfun_s1[3] = {0.0, 1.5, -2.0}, testfun_m1[3] = {1.0, 1.2, 1.4},
                    testfun_o1[3] = {0.0, 0.8, 0.3}, testfun_s2[2] = {0.0, 1.0},
                    testfun_o2[2] = {0.0, 0.5};

// x = (x1, x2, c1, c2).
static inline double testfun_mixed(const double *x) {
    int c1 = (int)x[2], c2 = (int)x[3];
    return testfun_m1[c1] * testfun_branin(x[0] - testfun_s1[c1], x[1] - testfun_s2[c2]) +
           testfun_o1[c1] + testfun_o2[c2];
}

// The optimum of one combination of the mixed function.
static inline double testfun_mixed_combo_min(int c1, int c2) {
    return testfun_m1[c1] * TESTFUN_BRANIN_MIN + testfun_o1[c1] + testfun_o2[c2];
}

static inline tuner_space *testfun_space(int mixed) {
    tuner_space *s = NULL;
    if (tuner_space_create(&s)) return NULL;
    tuner_space_add_continuous(s, "x1", -5, 10, false);
    tuner_space_add_continuous(s, "x2", 0, 15, false);
    if (mixed) {
        const char *a[] = {"a0", "a1", "a2"}, *b[] = {"b0", "b1"};
        tuner_space_add_categorical(s, "c1", a, 3);
        tuner_space_add_categorical(s, "c2", b, 2);
    }
    return s;
}

typedef enum { TESTFUN_BRANIN, TESTFUN_MIXED, TESTFUN_NOISY_BRANIN, TESTFUN_N } testfun_kind;
static const char *const testfun_names[TESTFUN_N] = {"branin", "mixed", "noisy_branin"};
#define TESTFUN_NOISE_SD 1.0

static inline double testfun_true(testfun_kind k, const double *x) {
    return k == TESTFUN_MIXED ? testfun_mixed(x) : testfun_branin(x[0], x[1]);
}

// Runs a minimizing tuner of strategy st with budget and seed on function k to the end and
// returns the regret of its recommendation (true function minus optimum). When ask_time is not
// NULL it gets the seconds taken by the ask at `time_at` observations (0 if not reached), via
// the caller's clock (tests pass NULL: they never time anything).
typedef double (*testfun_clock)(void);
static inline double testfun_run(testfun_kind k, tuner_strategy st, size_t budget, uint64_t seed,
                                 double *curve, testfun_clock clock, size_t time_at,
                                 double *ask_time) {
    tuner_space *s = testfun_space(k == TESTFUN_MIXED);
    tuner *t = NULL;
    if (!s || tuner_create(&t, s, st, TUNER_MINIMIZE, budget, seed)) abort();
    if (st == TUNER_GRID) { // a grid no larger than the budget
        size_t combos = k == TESTFUN_MIXED ? 6 : 1, L = 1;
        while ((L + 1) * (L + 1) * combos <= budget) L++;
        double v1[64], v2[64];
        for (size_t i = 0; i < L; i++) {
            double u = L == 1 ? 0.5 : (double)i / (double)(L - 1);
            v1[i] = -5 + 15 * u, v2[i] = 15 * u;
        }
        tuner_set_grid_values(t, "x1", v1, L);
        tuner_set_grid_values(t, "x2", v2, L);
    }
    rng noise = rng_stream(seed, "testfun.noise", (uint64_t)k, 0);
    double x[4];
    if (ask_time) *ask_time = 0;
    while (!tuner_done(t)) {
        double t0 = clock && tuner_n_told(t) == time_at ? clock() : 0;
        if (tuner_ask(t, x)) abort();
        if (clock && tuner_n_told(t) == time_at) *ask_time = clock() - t0;
        double y = testfun_true(k, x);
        if (k == TESTFUN_NOISY_BRANIN) y += TESTFUN_NOISE_SD * rng_normal(&noise);
        if (curve) curve[tuner_n_told(t)] = y;
        if (tuner_tell(t, y)) abort();
    }
    double xr[4], yr;
    if (tuner_recommend(t, xr, &yr)) abort();
    double regret = testfun_true(k, xr) - TESTFUN_BRANIN_MIN;
    tuner_destroy(t);
    tuner_space_destroy(s);
    return regret;
}
