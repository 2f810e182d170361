// Scrambled Sobol points for space-filling designs: GSL's Sobol sequence with a seeded random
// shift modulo 1 (a Cranley-Patterson rotation), so that different seeds give different designs
// of the same quality. Points are cached so that point k is cheap to ask for again.
#include "common/check.h"
#include <gsl/gsl_qrng.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tuner/strategy.h"

struct strategy_sobol {
    gsl_qrng *q;
    size_t d, n, cap;
    double shift[40];
    double *pts; // (cap, d)
};

strategy_sobol *strategy_sobol_create(size_t d, uint64_t seed, const char *purpose) {
    KDT_ASSERT(d >= 1 && d <= 40);
    strategy_sobol *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)d);
    if (!s->q) {
        free(s);
        return NULL;
    }
    s->d = d;
    rng r = rng_stream(seed, purpose, d, 0);
    for (size_t j = 0; j < d; j++) s->shift[j] = rng_uniform(&r);
    return s;
}

static void next_point(strategy_sobol *s, double *p) {
    gsl_qrng_get(s->q, p);
    for (size_t j = 0; j < s->d; j++) {
        p[j] += s->shift[j];
        if (p[j] >= 1) p[j] -= 1;
    }
}

// Point k without the cache: the sequence from its start (only when the cache cannot grow), then
// the generator put back where the cache ends.
static void point_uncached(strategy_sobol *s, size_t k, double *v) {
    gsl_qrng_init(s->q);
    for (size_t i = 0; i <= k; i++) next_point(s, v);
    gsl_qrng_init(s->q);
    double skip[40];
    for (size_t i = 0; i < s->n; i++) next_point(s, skip);
}

void strategy_sobol_point(strategy_sobol *s, size_t k, double *v) {
    while (s->n <= k) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            double *p = realloc(s->pts, cap * s->d * sizeof *p);
            if (!p) { // out of memory: slower, the same point
                point_uncached(s, k, v);
                return;
            }
            s->pts = p, s->cap = cap;
        }
        next_point(s, s->pts + s->n * s->d);
        s->n++;
    }
    memcpy(v, s->pts + k * s->d, s->d * sizeof *v);
}

void strategy_sobol_destroy(strategy_sobol *s) {
    if (!s) return;
    gsl_qrng_free(s->q);
    free(s->pts);
    free(s);
}
