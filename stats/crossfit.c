// Cross-fitting of a selected gain over two validation halves.
#include "stats/crossfit.h"

#include <limits.h>
#include <stdlib.h>

#include "common/rng.h"
#include "stats/bitset.h"

static int cmp_size(const void *x, const void *y) {
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

static kdt_status check_images(size_t n) {
    if (n < 2)
        return kdt_fail(KDT_ERR_STATE, "stats: cross-fitting over %zu image(s): it needs at least 2 "
                                       "(one per half); evaluate on a larger validation split", n);
    if (n > INT_MAX)
        return kdt_fail(KDT_ERR_CONFIG, "stats: cross-fitting over %zu images: at most %d are "
                                        "supported; use a smaller validation split", n, INT_MAX);
    return KDT_OK;
}

kdt_status stats_crossfit_halves(size_t *half_a, size_t *half_b, size_t n, uint64_t seed) {
    kdt_status st = check_images(n);
    if (st != KDT_OK) return st;
    int *perm = malloc(n * sizeof *perm); // (n)
    if (!perm) return kdt_fail(KDT_ERR_NOMEM, "stats: cross-fitting over %zu images: out of memory", n);
    for (size_t i = 0; i < n; i++) perm[i] = (int)i;
    rng g = rng_stream(seed, "stats.crossfit", n, 0);
    rng_shuffle(&g, perm, n);
    size_t na = n / 2;
    for (size_t i = 0; i < na; i++) half_a[i] = (size_t)perm[i];
    for (size_t i = na; i < n; i++) half_b[i - na] = (size_t)perm[i];
    free(perm);
    // Sorted, so that reading the bitsets walks memory forwards; counts do not depend on order.
    qsort(half_a, na, sizeof *half_a, cmp_size);
    qsort(half_b, n - na, sizeof *half_b, cmp_size);
    return KDT_OK;
}

// The candidate with the most images right over idx (m), ties to the lowest index; idx NULL: all n.
static size_t select_best(const uint8_t *const *after, size_t n_cand, size_t n, const size_t *idx,
                          size_t m) {
    size_t best = 0, best_right = 0;
    for (size_t j = 0; j < n_cand; j++) {
        size_t right = idx ? stats_bitset_count_subset(after[j], n, idx, m)
                           : stats_bitset_count(after[j], n);
        if (j == 0 || right > best_right) {
            best = j;
            best_right = right;
        }
    }
    return best;
}

// (right after - right before) / m over idx (m); idx NULL: over all n (m = n).
static double gain_on(const uint8_t *after, const uint8_t *before, size_t n, const size_t *idx,
                      size_t m) {
    double ra = (double)(idx ? stats_bitset_count_subset(after, n, idx, m) : stats_bitset_count(after, n));
    double rb = (double)(idx ? stats_bitset_count_subset(before, n, idx, m) : stats_bitset_count(before, n));
    return (ra - rb) / (double)m;
}

kdt_status stats_crossfit_gain(stats_crossfit *out, const uint8_t *const *after, size_t n_cand,
                               const uint8_t *before, size_t n, uint64_t seed) {
    if (n_cand == 0)
        return kdt_fail(KDT_ERR_STATE, "stats: cross-fitting a selected gain among 0 candidates: "
                                       "give at least one candidate setting");
    kdt_status st = check_images(n);
    if (st != KDT_OK) return st;
    size_t *idx = malloc(n * sizeof *idx); // (n): half A then half B
    if (!idx) return kdt_fail(KDT_ERR_NOMEM, "stats: cross-fitting over %zu images: out of memory", n);
    st = stats_crossfit_halves(idx, idx + n / 2, n, seed);
    if (st != KDT_OK) {
        free(idx);
        return st;
    }
    const size_t *half[2] = {idx, idx + n / 2};
    out->n_half[0] = n / 2;
    out->n_half[1] = n - n / 2;
    for (int h = 0; h < 2; h++) {
        size_t j = select_best(after, n_cand, n, half[h], out->n_half[h]);
        out->select[h] = j;
        out->insample[h] = gain_on(after[j], before, n, half[h], out->n_half[h]);
        out->heldout[h] = gain_on(after[j], before, n, half[1 - h], out->n_half[1 - h]);
    }
    out->gain = 0.5 * (out->heldout[0] + out->heldout[1]);
    out->full_select = select_best(after, n_cand, n, NULL, n);
    out->full_gain = gain_on(after[out->full_select], before, n, NULL, n);
    free(idx);
    return KDT_OK;
}
