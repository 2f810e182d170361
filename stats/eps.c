// Epsilon in whole images.
#include "stats/eps.h"

#include <math.h>

#include "common/check.h"

size_t stats_eps_images(double eps, size_t n) {
    KDT_ASSERT(eps >= 0.0 && eps <= 1.0);
    size_t k = (size_t)floor(eps * (double)n + 1e-6);
    return k > n ? n : k;
}

bool stats_within_eps(size_t right, size_t best_right, size_t n, double eps) {
    KDT_ASSERT(right <= n && best_right <= n);
    if (right >= best_right) return true;
    return best_right - right <= stats_eps_images(eps, n);
}
