// The paired standard error of an accuracy difference measured on the same images.
//
// With d_i = a_i - b_i in {-1, 0, 1} (a_i, b_i: image i right under A, under B), the difference of
// accuracies is mean(d) = (b - c) / n, where b = #{a right, b wrong} and c = #{a wrong, b right}.
// Its standard error is the sample standard deviation of d (divisor n - 1) over sqrt(n):
//     se = sqrt((b + c - (b - c)^2 / n) / (n (n - 1)))
// which is sqrt(discordant fraction / n) when b = c. Concordant images carry no information about
// the difference, which is why a paired error is much smaller than two independent ones.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

// The paired standard error (a fraction, not points) from the discordant counts of n >= 2 images.
// Asserts b + c <= n and n >= 2.
double stats_paired_se_counts(size_t b, size_t c, size_t n);

// The same from two outcome bitsets over n images. KDT_ERR_STATE when n < 2 (no spread to measure).
kdt_status stats_paired_se(double *se, const uint8_t *a, const uint8_t *b, size_t n);
