// An outside program using the installed tuner library (pkg-config kdtune-tuner): it tunes Branin
// with a categorical "variant" that shifts and lifts the function, and prints the best found by
// each strategy against the known optimum (0.397887, variant "a").
#include <math.h>
#include <stdio.h>

#include "tuner/tuner.h"

static const double shift[3] = {0.0, 1.5, -2.0}, lift[3] = {0.0, 0.8, 0.3};

static double branin(double x1, double x2) {
    const double pi = 3.14159265358979323846, b = 5.1 / (4 * pi * pi), c = 5 / pi;
    double q = x2 - b * x1 * x1 + c * x1 - 6;
    return q * q + 10 * (1 - 1 / (8 * pi)) * cos(x1) + 10;
}

// x = (x1, x2, variant)
static double objective(const double *x) {
    int v = (int)x[2];
    return branin(x[0] - shift[v], x[1]) + lift[v];
}

// Runs one strategy; fails when its best is further than max_regret from the optimum.
static int run(const tuner_space *space, tuner_strategy strategy, size_t budget, double max_regret) {
    tuner *t;
    if (tuner_create(&t, space, strategy, TUNER_MINIMIZE, budget, 42)) {
        fprintf(stderr, "branin_mixed: %s\n", kdt_errmsg());
        return 1;
    }
    double x[3], y;
    while (!tuner_done(t)) {
        if (tuner_ask(t, x) || tuner_tell(t, objective(x))) {
            fprintf(stderr, "branin_mixed: %s\n", kdt_errmsg());
            tuner_destroy(t);
            return 1;
        }
    }
    tuner_best(t, x, &y);
    printf("%-8s %3zu evaluations: best %.6f at x1=%.4f x2=%.4f variant=%s (optimum 0.397887, "
           "regret %.2e)\n", tuner_strategy_name(strategy), tuner_n_told(t), y, x[0], x[1],
           tuner_space_choice(space, 2, (size_t)x[2]), y - 0.39788735772973816);
    tuner_destroy(t);
    if (!(y - 0.39788735772973816 <= max_regret)) {
        fprintf(stderr, "branin_mixed: %s ended %.3g from the optimum (expected within %.3g)\n",
                tuner_strategy_name(strategy), y - 0.39788735772973816, max_regret);
        return 1;
    }
    return 0;
}

int main(void) {
    tuner_space *s;
    const char *variants[] = {"a", "b", "c"};
    if (tuner_space_create(&s) || tuner_space_add_continuous(s, "x1", -5, 10, false) ||
        tuner_space_add_continuous(s, "x2", 0, 15, false) ||
        tuner_space_add_categorical(s, "variant", variants, 3)) {
        fprintf(stderr, "branin_mixed: %s\n", kdt_errmsg());
        return 1;
    }
        // random is the floor to beat; the model-based strategies must come close to the optimum
    int bad = run(s, TUNER_RANDOM, 40, INFINITY) || run(s, TUNER_BOBYQA, 40, 0.1) ||
              run(s, TUNER_GP, 40, 0.1);
    tuner_space_destroy(s);
    return bad;
}
