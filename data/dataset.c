// dataset: one allocation per array, subset copies and class counts.
#include "data/dataset.h"

#include "common/check.h"
#include <stdlib.h>
#include <string.h>

dataset *dataset_create(int n, int c, int h, int w, int classes) {
    KDT_ASSERT(n >= 0 && c > 0 && h > 0 && w > 0 && classes > 0);
    dataset *d = calloc(1, sizeof *d);
    size_t floats = (size_t)n * c * h * w;
    if (d) {
        d->x = malloc((floats ? floats : 1) * sizeof *d->x);
        d->y = malloc((n ? (size_t)n : 1) * sizeof *d->y);
    }
    if (!d || !d->x || !d->y) {
        dataset_destroy(d);
        kdt_fail(KDT_ERR_NOMEM, "out of memory for a dataset of %d images of %dx%dx%d (%.1f MB)",
                 n, c, h, w, floats * 4.0 / 1e6);
        return NULL;
    }
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->classes = classes;
    return d;
}

void dataset_destroy(dataset *d) {
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

dataset *dataset_subset(const dataset *src, const int *idx, int n) {
    dataset *d = dataset_create(n, src->c, src->h, src->w, src->classes);
    if (!d) return NULL;
    size_t e = (size_t)dataset_example_size(src);
    for (int i = 0; i < n; i++) {
        KDT_ASSERT(idx[i] >= 0 && idx[i] < src->n);
        memcpy(d->x + i * e, src->x + idx[i] * e, e * sizeof *d->x);
        d->y[i] = src->y[idx[i]];
    }
    return d;
}

void dataset_class_counts(int *counts, const dataset *d, const int *idx, int n) {
    memset(counts, 0, (size_t)d->classes * sizeof *counts);
    if (!idx) n = d->n;
    for (int i = 0; i < n; i++) {
        int y = d->y[idx ? idx[i] : i];
        KDT_ASSERT(y >= 0 && y < d->classes);
        counts[y]++;
    }
}
