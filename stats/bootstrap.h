// Percentile bootstrap intervals over units (pairs of participants, say): of a mean, of a mean
// difference over paired units, and of a ratio of means with numerator and denominator resampled
// together (Efron and Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13).
//
// Each of n_boot replicates draws n units with replacement, indices from rng_below on the stream
// rng_stream(seed, "stats.bootstrap", n, 0): the same seed and n give the same resamples in every
// function, so intervals of related statistics are computed on the same draws. The interval is
// the (1 - level) / 2 and (1 + level) / 2 quantiles of the replicates, quantiles as in GSL's
// gsl_stats_quantile_from_sorted_data (linear interpolation, NumPy's default "linear" method).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
    double estimate; // the statistic on the whole sample
    double lo, hi;   // the percentile interval
    double se;       // the standard deviation of the replicates (divisor n_boot - 1)
    size_t n_boot;
    double level;
} stats_interval;

// Of mean(x), x (n).
kdt_status stats_bootstrap_mean(stats_interval *out, const double *x, size_t n, size_t n_boot,
                                double level, uint64_t seed);

// Of mean(a - b) over paired units, a (n), b (n): unit i is the pair (a_i, b_i).
kdt_status stats_bootstrap_mean_diff(stats_interval *out, const double *a, const double *b,
                                     size_t n, size_t n_boot, double level, uint64_t seed);

// Of mean(num) / mean(den), num (n), den (n): unit i is (num_i, den_i), resampled together.
// KDT_ERR_NUMERIC when mean(den) is 0 on the sample or on any replicate (the ratio is undefined:
// report the difference instead).
kdt_status stats_bootstrap_ratio(stats_interval *out, const double *num, const double *den,
                                 size_t n, size_t n_boot, double level, uint64_t seed);

// Errors of all three: KDT_ERR_STATE when n < 2 or n_boot < 2, KDT_ERR_CONFIG when level is not in
// (0, 1), KDT_ERR_NUMERIC when a value is not finite, KDT_ERR_NOMEM.
