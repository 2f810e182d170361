// A deterministic, splittable random number generator (xoshiro256**, seeded by SplitMix64).
// Every random stream in kdtune is derived from the global seed and ids that name what it is for,
// e.g. rng_stream(seed, "kd", pair, trial), never from a thread, a worker or the clock, so results
// are the same whatever the thread or worker count.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng;

// The stream for (seed, purpose, a, b). Different purposes or ids give independent streams.
rng rng_stream(uint64_t seed, const char *purpose, uint64_t a, uint64_t b);

// A child stream of r named by id; r itself is not advanced.
rng rng_split(const rng *r, uint64_t id);

uint64_t rng_next(rng *r);
double rng_uniform(rng *r);                  // [0, 1), 53 random bits
float rng_uniformf(rng *r);                  // [0, 1), 24 random bits
uint64_t rng_below(rng *r, uint64_t n);      // uniform in [0, n), unbiased; n > 0
double rng_normal(rng *r);                   // standard normal (polar Box-Muller, no cache)
double rng_gamma(rng *r, double shape);      // Gamma(shape, 1), shape > 0 (Marsaglia-Tsang)
void rng_dirichlet(rng *r, double concentration, double *out, size_t k); // symmetric Dirichlet
void rng_shuffle(rng *r, int *a, size_t n);  // Fisher-Yates

// 64-bit FNV-1a of a string, used to name streams by purpose.
uint64_t rng_hash_str(const char *s);
