// The noise behind a summary's figures (DESIGN: "every figure with its noise"), from the per-image
// outcomes the store keeps: the paired standard error of one gain, paired tests of the selected
// setting against the default and of each strategy's pick against the grid's (Holm over pairs),
// held-out (cross-fit) estimates of selected gains, and bootstrap intervals over pairs.
//
// Paired test of two settings A and B of a pair on the test images: with d_i = (right after A -
// right before A's student) - (the same for B), the one-sided question "is A's gain larger?". When
// A and B train the same student, d_i is in {-1, 0, 1} and the test is the exact McNemar test on
// the discordant images; when they train different students (other positions), d_i is in
// {-2, ..., 2} and the test is the sign-flip randomization test in its normal approximation,
// z = sum d_i / sqrt(sum d_i^2). Ties (A no better than B) go to B, the default.
#pragma once
#include <stdbool.h>

#include "app/summary.h"
#include "store/store.h"

enum { SIGNIFICANCE_BOOTSTRAP = 2000 };

// Fills s->stats and the per-pair significance fields from the outcomes in st (evaluations
// without outcomes are left out of the tests, and counted). evals: the evaluations the summary
// was computed from.
kdt_status significance_compute(summary *s, store *st, const store_eval *evals, size_t n, const kdt_config *cfg);

// One-sided p-value that setting a's gain exceeds b's on the test images (see above); NaN when an
// outcome is missing.
double significance_p_better(store *st, const store_eval *a, const store_eval *b);
