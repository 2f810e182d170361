// Exact McNemar test through GSL's binomial CDF.
#include "stats/mcnemar.h"

#include <gsl/gsl_cdf.h>
#include <limits.h>
#include <math.h>

#include "common/check.h"

void stats_mcnemar_exact(stats_mcnemar *out, size_t b, size_t c) {
    KDT_ASSERT(b <= UINT_MAX - c);
    out->b = b;
    out->c = c;
    if (b + c == 0) {
        out->p_two_sided = out->p_greater = out->p_less = 1.0;
        return;
    }
    unsigned int n = (unsigned int)(b + c), k = (unsigned int)b;
    double le = gsl_cdf_binomial_P(k, 0.5, n);                  // P[X <= b]
    double ge = k == 0 ? 1.0 : gsl_cdf_binomial_Q(k - 1, 0.5, n); // P[X > b - 1] = P[X >= b]
    out->p_less = fmin(le, 1.0);
    out->p_greater = fmin(ge, 1.0);
    // At 1/2 the distribution is symmetric, so doubling the smaller tail is the binomial test's
    // two-sided p-value (SciPy's binomtest gives the same).
    out->p_two_sided = fmin(1.0, 2.0 * fmin(le, ge));
}
