// Chance level of a non-default argmax under the null, and the paired null's score distribution.
#include "stats/chance.h"

#include <gsl/gsl_randist.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "common/check.h"

double stats_chance_not_default_continuous(size_t n_settings, size_t k_default) {
    KDT_ASSERT(k_default >= 1 && k_default <= n_settings);
    return (double)(n_settings - k_default) / (double)n_settings;
}

kdt_status stats_chance_not_default(double *p, const double *pmf, size_t n_values,
                                    size_t n_settings, size_t k_default) {
    if (k_default < 1 || k_default > n_settings)
        return kdt_fail(KDT_ERR_CONFIG, "stats: chance level with %zu default setting(s) among %zu: "
                                        "there must be between 1 and all of them", k_default, n_settings);
    double sum = 0.0;
    for (size_t v = 0; v < n_values; v++) {
        if (!(pmf[v] >= 0.0 && isfinite(pmf[v])))
            return kdt_fail(KDT_ERR_NUMERIC, "stats: chance level: pmf[%zu] is %g, not a "
                                             "probability", v, pmf[v]);
        sum += pmf[v];
    }
    if (fabs(sum - 1.0) > 1e-9)
        return kdt_fail(KDT_ERR_NUMERIC, "stats: chance level: the pmf of %zu values sums to %.12g, "
                                         "not 1; pass a normalized distribution", n_values, sum);
    double nk = (double)(n_settings - k_default), k = (double)k_default;
    double total = 0.0, below = 0.0; // below = F(v - 1)
    for (size_t v = 0; v < n_values; v++) {
        double upto = fmin(below + pmf[v], 1.0); // F(v)
        total += (pow(upto, nk) - pow(below, nk)) * pow(below, k);
        below = upto;
    }
    *p = total;
    return KDT_OK;
}

kdt_status stats_pmf_paired_null(double *pmf, size_t n_right, size_t n_wrong, double q_loss,
                                 double q_gain) {
    if (!(q_loss >= 0.0 && q_loss <= 1.0 && q_gain >= 0.0 && q_gain <= 1.0))
        return kdt_fail(KDT_ERR_CONFIG, "stats: paired null model with loss probability %g and gain "
                                        "probability %g: both must be in [0, 1]", q_loss, q_gain);
    KDT_ASSERT(n_right <= UINT_MAX && n_wrong <= UINT_MAX);
    size_t n = n_right + n_wrong;
    double *gain = malloc((n_wrong + 1) * sizeof *gain); // (n_wrong + 1) pmf of the images gained
    if (!gain) return kdt_fail(KDT_ERR_NOMEM, "stats: paired null pmf over %zu images: out of memory", n);
    for (size_t k = 0; k <= n_wrong; k++) gain[k] = gsl_ran_binomial_pdf((unsigned)k, q_gain, (unsigned)n_wrong);
    for (size_t s = 0; s <= n; s++) pmf[s] = 0.0;
    // count = (n_right - lost) + gained: a convolution of the two binomials.
    for (size_t lost = 0; lost <= n_right; lost++) {
        double pl = gsl_ran_binomial_pdf((unsigned)lost, q_loss, (unsigned)n_right);
        if (pl == 0.0) continue;
        for (size_t k = 0; k <= n_wrong; k++) pmf[n_right - lost + k] += pl * gain[k];
    }
    free(gain);
    return KDT_OK;
}
