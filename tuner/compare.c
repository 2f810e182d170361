// Comparison helpers: best-so-far curves, regret, evaluations to epsilon, medians.
#include "tuner/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tuner_best_so_far(double *curve, const double *values, size_t n, tuner_goal goal) {
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (isfinite(v) && (!isfinite(best) || (goal == TUNER_MAXIMIZE ? v > best : v < best)))
            best = v;
        curve[i] = best;
    }
}

double tuner_regret(double value, double ref, tuner_goal goal) {
    if (!isfinite(value)) return INFINITY;
    return goal == TUNER_MAXIMIZE ? ref - value : value - ref;
}

size_t tuner_evals_to_within(const double *values, size_t n, double ref, double eps,
                             tuner_goal goal) {
    for (size_t i = 0; i < n; i++)
        if (tuner_regret(values[i], ref, goal) <= eps) return i + 1;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tuner_median(const double *values, size_t n, double *scratch) {
    if (n == 0) return NAN;
    memcpy(scratch, values, n * sizeof *values);
    qsort(scratch, n, sizeof *scratch, cmp_double);
    return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}
