// "Within epsilon of the grid's best", judged in whole images rather than in floats: a gain is a
// count of images over n, so eps (a fraction, tuner.epsilon) becomes the whole number of images
// floor(eps n), and a setting is within eps of the best iff it is right on at most that many
// fewer images. Comparing float gains instead flips on rounding (0.29 * 100 is 28.999999999999996).
#pragma once
#include <stdbool.h>
#include <stddef.h>

// floor(eps * n), with eps * n first nudged up by 1e-6 so that a decimal eps such as 0.29 gives
// the count it names. Asserts 0 <= eps <= 1.
size_t stats_eps_images(double eps, size_t n);

// Whether a setting right on `right` of n images is within eps of one right on `best_right`:
// best_right - right <= stats_eps_images(eps, n) (always when right >= best_right). Both counts
// are of the same n images (asserted).
bool stats_within_eps(size_t right, size_t best_right, size_t n, double eps);
