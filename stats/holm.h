// Holm's step-down correction of m p-values for the family-wise error rate (Holm 1979, "A simple
// sequentially rejective multiple test procedure"). With p sorted ascending, p_(1) <= ... <= p_(m),
// the adjusted p-values are
//     q_(j) = max over i <= j of min(1, (m - i + 1) p_(i))
// and hypothesis j is rejected at a level iff q_j <= level, which is the step-down rule: reject
// H_(1), H_(2), ... while p_(j) <= level / (m - j + 1), and stop at the first that fails.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

// adjusted (m) and rejected (m), in the order of p (either may be NULL). KDT_ERR_NUMERIC when a
// p-value is not in [0, 1] (NaN included), KDT_ERR_CONFIG when level is not in (0, 1),
// KDT_ERR_NOMEM. m == 0 is fine (nothing to do).
kdt_status stats_holm(double *adjusted, bool *rejected, const double *p, size_t m, double level);
