// The chance level of "the argmax of N settings is not one of the k default settings" when no
// setting matters, with ties broken toward the default (as kdtune's argmax does).
//
// Null model: the N settings' scores (correct counts) are independent and identically distributed
// with pmf f over the values 0..V-1, given whatever they share (the images, the model before KD).
// With F(v) = P[S <= v] and F(-1) = 0, the argmax is a non-default setting iff the best of the
// N - k others is strictly above the best of the k defaults:
//     P = sum over v of [F(v)^(N-k) - F(v-1)^(N-k)] F(v-1)^k
// (the best non-default equals v, every default is below v). Without ties (continuous scores) this
// is (N - k) / N; ties, frequent on whole-image counts, lower it. A raw "fraction of pairs whose
// best setting is not the default" is to be read against this level, not against 0.
#pragma once
#include <stddef.h>

#include "common/error.h"

// (N - k) / N: the level for continuous scores (no ties). Asserts 1 <= k <= N.
double stats_chance_not_default_continuous(size_t n_settings, size_t k_default);

// The level for scores with pmf (n_values) over 0..n_values-1. KDT_ERR_CONFIG when k is not in
// [1, N]; KDT_ERR_NUMERIC when the pmf has a negative or non-finite entry or does not sum to 1
// (within 1e-9).
kdt_status stats_chance_not_default(double *p, const double *pmf, size_t n_values,
                                    size_t n_settings, size_t k_default);

// The pmf (n_right + n_wrong + 1) of one setting's correct count in the paired null model: a model
// right on n_right images and wrong on n_wrong before; each setting independently loses each right
// image with probability q_loss and gains each wrong one with probability q_gain, so its count is
// n_right - Binomial(n_right, q_loss) + Binomial(n_wrong, q_gain). Equal accuracy in expectation
// means n_right q_loss = n_wrong q_gain; the discordant fraction against the model before is
// (n_right q_loss + n_wrong q_gain) / n. KDT_ERR_CONFIG when a probability is not in [0, 1];
// KDT_ERR_NOMEM.
kdt_status stats_pmf_paired_null(double *pmf, size_t n_right, size_t n_wrong, double q_loss,
                                 double q_gain);
