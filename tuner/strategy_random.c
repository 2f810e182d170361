// The random strategy: the initial points first, then scrambled Sobol points over the unit cube
// of the free dimensions (categoricals binned). Quasi-random rather than pseudo-random: at a small
// budget it covers the space more evenly, so it is the stronger floor to beat.
#include "tuner/strategy.h"

static kdt_status random_create(tuner *t, void **state) {
    size_t d = t->n_cont + t->n_cat;
    *state = NULL;
    if (d == 0) return KDT_OK;
    *state = strategy_sobol_create(d, t->seed, "tuner.random");
    return *state ? KDT_OK : kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for Sobol points");
}

static kdt_status random_ask(tuner *t, void *state, double *x, bool *exhausted) {
    (void)exhausted;
    if (t->n < t->n_init) {
        for (size_t i = 0; i < t->np; i++) x[i] = t->init[t->n * t->np + i];
        return KDT_OK;
    }
    double v[40] = {0};
    if (state) strategy_sobol_point(state, t->n - t->n_init, v);
    tuner_space_decode_cube(t->space, v, x);
    return KDT_OK;
}

static void random_destroy(void *state) { strategy_sobol_destroy(state); }

const strategy_ops strategy_random_ops = {random_create, random_ask, NULL, random_destroy};
