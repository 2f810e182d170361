// The grid strategy: the Cartesian product of the per-parameter value lists, the first parameter
// varying slowest. Initial points are not used: the grid is the baseline as configured.
#include <stdlib.h>

#include "tuner/strategy.h"

static kdt_status grid_create(tuner *t, void **state) {
    (void)t;
    *state = NULL;
    return KDT_OK;
}

// The list of parameter i: the given values, all choices, or 5 evenly spaced on its scale.
static size_t grid_list(const tuner *t, size_t i, size_t k, double *value) {
    const tuner_space *s = t->space;
    if (tuner_space_is_fixed(s, i)) return 1; // its value comes from tuner_space_decode
    if (t->grid_values[i]) {
        if (k < t->grid_n[i]) *value = t->grid_values[i][k];
        return t->grid_n[i];
    }
    if (tuner_space_is_categorical(s, i)) {
        *value = (double)k;
        return tuner_space_n_choices(s, i);
    }
    return 5;
}

static kdt_status grid_ask(tuner *t, void *state, double *x, bool *exhausted) {
    (void)state;
    size_t idx = t->n, sizes[TUNER_MAX_PARAMS], total = 1;
    double dummy;
    for (size_t i = 0; i < t->np; i++) total *= sizes[i] = grid_list(t, i, 0, &dummy);
    if (idx >= total) {
        *exhausted = true;
        return KDT_OK;
    }
    size_t pos[TUNER_MAX_PARAMS];
    for (size_t i = t->np; i-- > 0;) pos[i] = idx % sizes[i], idx /= sizes[i];
    // Start from a decoded point so that fixed values are filled in, then overwrite the rest.
    double u[TUNER_MAX_PARAMS] = {0};
    int c[TUNER_MAX_PARAMS] = {0};
    tuner_space_decode(t->space, u, c, x);
    size_t a = 0;
    for (size_t i = 0; i < t->np; i++) {
        if (tuner_space_is_fixed(t->space, i)) continue;
        if (t->grid_values[i] || tuner_space_is_categorical(t->space, i)) {
            grid_list(t, i, pos[i], &x[i]);
        } else {
            double uu[TUNER_MAX_PARAMS] = {0};
            uu[a] = (double)pos[i] / 4.0;
            double tmp[TUNER_MAX_PARAMS];
            tuner_space_decode(t->space, uu, c, tmp);
            x[i] = tmp[i];
        }
        if (!tuner_space_is_categorical(t->space, i)) a++;
    }
    return KDT_OK;
}

static void grid_destroy(void *state) { (void)state; }

const strategy_ops strategy_grid_ops = {grid_create, grid_ask, NULL, grid_destroy};
