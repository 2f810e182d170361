// Percentile bootstrap of a mean, a paired mean difference and a ratio of means.
#include "stats/bootstrap.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

#include "common/rng.h"

typedef enum { BOOT_MEAN, BOOT_DIFF, BOOT_RATIO } boot_kind;

static const char *kind_name(boot_kind k) {
    return k == BOOT_MEAN ? "mean" : k == BOOT_DIFF ? "mean difference" : "ratio of means";
}

static kdt_status check_values(const double *v, size_t n, boot_kind kind, const char *which) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return kdt_fail(KDT_ERR_NUMERIC, "stats: bootstrap of a %s: %s[%zu] is %g; every unit "
                                             "needs a finite value (drop failed evaluations first)",
                            kind_name(kind), which, i, v[i]);
    return KDT_OK;
}

// x and, for a difference or a ratio, y: the statistic of the units drawn (or of all when idx
// is NULL) is sum(x) / n, sum(x - y) / n or sum(x) / sum(y).
static kdt_status bootstrap_run(stats_interval *out, const double *x, const double *y, size_t n,
                                size_t n_boot, double level, uint64_t seed, boot_kind kind) {
    if (n < 2 || n_boot < 2)
        return kdt_fail(KDT_ERR_STATE, "stats: bootstrap of a %s over %zu unit(s) with %zu "
                                       "replicate(s): it needs at least 2 of each",
                        kind_name(kind), n, n_boot);
    if (!(level > 0.0 && level < 1.0))
        return kdt_fail(KDT_ERR_CONFIG, "stats: bootstrap interval at level %g: the level must be "
                                        "in (0, 1), e.g. 0.95", level);
    kdt_status st = check_values(x, n, kind, kind == BOOT_RATIO ? "num" : kind == BOOT_DIFF ? "a" : "x");
    if (st == KDT_OK && y) st = check_values(y, n, kind, kind == BOOT_RATIO ? "den" : "b");
    if (st != KDT_OK) return st;

    double sx = 0.0, sy = 0.0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        if (y) sy += y[i];
    }
    if (kind == BOOT_RATIO && sy == 0.0)
        return kdt_fail(KDT_ERR_NUMERIC, "stats: bootstrap of a ratio of means: the denominator's "
                                         "mean is 0, so the ratio is undefined; report the "
                                         "difference in points instead");
    out->estimate = kind == BOOT_MEAN ? sx / (double)n
                  : kind == BOOT_DIFF ? (sx - sy) / (double)n
                                      : sx / sy;
    out->n_boot = n_boot;
    out->level = level;

    double *rep = malloc(n_boot * sizeof *rep); // (n_boot) replicates, sorted below
    if (!rep) return kdt_fail(KDT_ERR_NOMEM, "stats: bootstrap of %zu replicates: out of memory", n_boot);
    rng g = rng_stream(seed, "stats.bootstrap", n, 0);
    size_t undefined = 0;
    for (size_t r = 0; r < n_boot; r++) {
        double ax = 0.0, ay = 0.0;
        for (size_t k = 0; k < n; k++) {
            size_t j = (size_t)rng_below(&g, n);
            ax += x[j];
            if (y) ay += y[j];
        }
        if (kind == BOOT_RATIO) {
            undefined += ay == 0.0;
            rep[r] = ax / ay;
        } else {
            rep[r] = (kind == BOOT_MEAN ? ax : ax - ay) / (double)n;
        }
    }
    if (undefined) {
        free(rep);
        return kdt_fail(KDT_ERR_NUMERIC, "stats: bootstrap of a ratio of means: the denominator's "
                                         "mean is 0 in %zu of %zu resamples, so the ratio is "
                                         "undefined there; report the difference in points instead",
                        undefined, n_boot);
    }
    gsl_sort(rep, 1, n_boot);
    out->lo = gsl_stats_quantile_from_sorted_data(rep, 1, n_boot, 0.5 * (1.0 - level));
    out->hi = gsl_stats_quantile_from_sorted_data(rep, 1, n_boot, 0.5 * (1.0 + level));
    out->se = gsl_stats_sd(rep, 1, n_boot);
    free(rep);
    return KDT_OK;
}

kdt_status stats_bootstrap_mean(stats_interval *out, const double *x, size_t n, size_t n_boot,
                                double level, uint64_t seed) {
    return bootstrap_run(out, x, NULL, n, n_boot, level, seed, BOOT_MEAN);
}

kdt_status stats_bootstrap_mean_diff(stats_interval *out, const double *a, const double *b,
                                     size_t n, size_t n_boot, double level, uint64_t seed) {
    return bootstrap_run(out, a, b, n, n_boot, level, seed, BOOT_DIFF);
}

kdt_status stats_bootstrap_ratio(stats_interval *out, const double *num, const double *den,
                                 size_t n, size_t n_boot, double level, uint64_t seed) {
    return bootstrap_run(out, num, den, n, n_boot, level, seed, BOOT_RATIO);
}
