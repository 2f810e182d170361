// Reductions that vectorize without -ffast-math: 16 float lanes, each summed in a fixed order and
// flushed into a double every block, so results are accurate and do not depend on thread counts.
// A plain `double s += x[i]` loop is one dependent add per element (latency-bound, 4+ cycles).
#pragma once
#include <stddef.h>

enum { VS_LANES = 16, VS_BLOCK = 1024 };

static inline double vs_flush(float *acc) {
    double s = 0.0;
    for (int j = 0; j < VS_LANES; j++) {
        s += acc[j];
        acc[j] = 0.0f;
    }
    return s;
}

// sum of x[0..n)
static inline double vs_sum(const float *x, size_t n) {
    float acc[VS_LANES] = {0};
    double s = 0.0;
    size_t i = 0;
    while (i + VS_LANES <= n) {
        size_t end = i + VS_BLOCK < n ? i + VS_BLOCK : n;
        for (; i + VS_LANES <= end; i += VS_LANES)
            for (int j = 0; j < VS_LANES; j++) acc[j] += x[i + j];
        s += vs_flush(acc);
    }
    for (; i < n; i++) s += x[i];
    return s;
}

// sum of (x[i] - c)^2
static inline double vs_sum_sq_dev(const float *x, size_t n, float c) {
    float acc[VS_LANES] = {0};
    double s = 0.0;
    size_t i = 0;
    while (i + VS_LANES <= n) {
        size_t end = i + VS_BLOCK < n ? i + VS_BLOCK : n;
        for (; i + VS_LANES <= end; i += VS_LANES)
            for (int j = 0; j < VS_LANES; j++) {
                float d = x[i + j] - c;
                acc[j] += d * d;
            }
        s += vs_flush(acc);
    }
    for (; i < n; i++) s += (double)(x[i] - c) * (double)(x[i] - c);
    return s;
}
