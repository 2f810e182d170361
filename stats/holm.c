// Holm's step-down adjusted p-values and rejections.
#include "stats/holm.h"

#include <stdlib.h>

typedef struct {
    double p;
    size_t i;
} ranked;

// Ascending p, ties by index: a total order, so the result never depends on qsort's whims (and
// tied p-values get the same adjusted value anyway, through the running maximum).
static int cmp_ranked(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    if (a->p != b->p) return a->p < b->p ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

kdt_status stats_holm(double *adjusted, bool *rejected, const double *p, size_t m, double level) {
    if (!(level > 0.0 && level < 1.0))
        return kdt_fail(KDT_ERR_CONFIG, "stats: Holm correction at level %g: the level must be in "
                                        "(0, 1), e.g. 0.05", level);
    for (size_t i = 0; i < m; i++)
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            return kdt_fail(KDT_ERR_NUMERIC, "stats: Holm correction: p-value %zu of %zu is %g, not "
                                             "in [0, 1]; check the test that produced it", i, m, p[i]);
    if (m == 0) return KDT_OK;
    ranked *r = malloc(m * sizeof *r);
    if (!r) return kdt_fail(KDT_ERR_NOMEM, "stats: Holm correction of %zu p-values: out of memory", m);
    for (size_t i = 0; i < m; i++) r[i] = (ranked){p[i], i};
    qsort(r, m, sizeof *r, cmp_ranked);
    double running = 0.0;
    for (size_t j = 0; j < m; j++) {
        double q = (double)(m - j) * r[j].p; // (m - j + 1) p_(j) with j 1-based
        if (q > 1.0) q = 1.0;
        if (q > running) running = q;
        if (adjusted) adjusted[r[j].i] = running;
        if (rejected) rejected[r[j].i] = running <= level;
    }
    free(r);
    return KDT_OK;
}
