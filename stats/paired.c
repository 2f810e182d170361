// Paired standard error of an accuracy difference (formula in paired.h).
#include "stats/paired.h"

#include <math.h>

#include "common/check.h"
#include "stats/bitset.h"

double stats_paired_se_counts(size_t b, size_t c, size_t n) {
    KDT_ASSERT(n >= 2 && b + c <= n);
    double nd = (double)n, diff = (double)b - (double)c;
    double ss = (double)(b + c) - diff * diff / nd; // sum of squared deviations of d from its mean
    return sqrt(fmax(ss, 0.0) / (nd * (nd - 1.0)));
}

kdt_status stats_paired_se(double *se, const uint8_t *a, const uint8_t *b, size_t n) {
    if (n < 2)
        return kdt_fail(KDT_ERR_STATE, "stats: paired standard error of %zu image(s): it needs at "
                                       "least 2 images; evaluate on a larger validation split", n);
    size_t nab, nba;
    stats_bitset_discordant(&nab, &nba, a, b, n, NULL, 0);
    *se = stats_paired_se_counts(nab, nba, n);
    return KDT_OK;
}
