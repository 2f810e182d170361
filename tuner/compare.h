// Comparing strategies: best-so-far curves, regret against a reference optimum, and the number of
// evaluations needed to come within epsilon of it. Values are raw objective values with a goal;
// non-finite values (failed evaluations) never count as best.
#pragma once
#include <stddef.h>

#include "tuner/tuner.h"

// curve[i] = the best of values[0..i] (NaN until the first finite value): out (n).
void tuner_best_so_far(double *curve, const double *values, size_t n, tuner_goal goal);

// How far value falls short of the reference optimum: ref - value when maximizing, value - ref
// when minimizing (>= 0 when ref is the true optimum). NaN value: +infinity.
double tuner_regret(double value, double ref, tuner_goal goal);

// The number of evaluations (1-based) after which the best so far is within eps of ref
// (regret <= eps), or 0 if never within n.
size_t tuner_evals_to_within(const double *values, size_t n, double ref, double eps,
                             tuner_goal goal);

// The median of n values (sorted copy in scratch (n)); NaN when n == 0.
double tuner_median(const double *values, size_t n, double *scratch);
