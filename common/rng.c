// xoshiro256** (Blackman and Vigna) with SplitMix64 key derivation and a few distributions.
#include "common/rng.h"

#include "common/check.h"
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_hash_str(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

static rng rng_from_key(uint64_t key) {
    rng r;
    for (int i = 0; i < 4; i++) r.s[i] = splitmix64(&key);
    return r;
}

// Chains ids through SplitMix64 so that (a, b) and (b, a) give different keys.
static uint64_t mix(uint64_t key, uint64_t id) {
    uint64_t x = key ^ (id * 0xD6E8FEB86659FD93ull);
    return splitmix64(&x);
}

rng rng_stream(uint64_t seed, const char *purpose, uint64_t a, uint64_t b) {
    uint64_t key = mix(mix(mix(seed, rng_hash_str(purpose)), a), b);
    return rng_from_key(key);
}

rng rng_split(const rng *r, uint64_t id) {
    uint64_t key = mix(r->s[0] ^ rotl(r->s[1], 17) ^ rotl(r->s[2], 31) ^ rotl(r->s[3], 47), id);
    return rng_from_key(key);
}

uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

float rng_uniformf(rng *r) { return (float)(rng_next(r) >> 40) * 0x1.0p-24f; }

uint64_t rng_below(rng *r, uint64_t n) {
    KDT_ASSERT(n > 0);
    uint64_t limit = -n % n; // 2^64 mod n: values below it would bias the result
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= limit) return x % n;
    }
}

double rng_normal(rng *r) {
    for (;;) {
        double u = 2.0 * rng_uniform(r) - 1.0, v = 2.0 * rng_uniform(r) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0) return u * sqrt(-2.0 * log(s) / s);
    }
}

double rng_gamma(rng *r, double shape) {
    KDT_ASSERT(shape > 0.0);
    if (shape < 1.0) { // boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
        double u = rng_uniform(r);
        return rng_gamma(r, shape + 1.0) * pow(u > 0.0 ? u : 0x1.0p-53, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(r), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

void rng_dirichlet(rng *r, double concentration, double *out, size_t k) {
    double sum = 0.0;
    for (size_t i = 0; i < k; i++) sum += out[i] = rng_gamma(r, concentration);
    if (sum <= 0.0) { // every draw underflowed (tiny concentration): put all mass on one class
        for (size_t i = 0; i < k; i++) out[i] = 0.0;
        out[rng_below(r, k)] = 1.0;
        return;
    }
    for (size_t i = 0; i < k; i++) out[i] /= sum;
}

void rng_shuffle(rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
