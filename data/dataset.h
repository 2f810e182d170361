// The in-memory dataset every other module sees: images as float (N, C, H, W) and integer labels,
// plus the small helpers that look at labels (class counts) or copy a subset of examples.
#pragma once
#include <stdint.h>

#include "common/error.h"

enum { DATA_MAX_CHANNELS = 4 }; // CIFAR 3, MNIST 1, synthetic 1..4

typedef struct {
    float *x; // (n, c, h, w); pixels in [0, 1] until normalized
    int *y;   // (n); labels in [0, classes)
    int n, c, h, w, classes;
} dataset;

// A dataset of n examples with uninitialized pixels and labels; NULL (with kdt_errmsg() set) when
// the allocation fails. n may be 0.
dataset *dataset_create(int n, int c, int h, int w, int classes);
void dataset_destroy(dataset *d);

// Floats per example: c * h * w.
static inline int dataset_example_size(const dataset *d) { return d->c * d->h * d->w; }

// A new dataset holding copies of the examples src[idx[0]], ..., src[idx[n-1]], in that order.
dataset *dataset_subset(const dataset *src, const int *idx, int n);

// counts[k] = number of examples of class k among d[idx[0..n)] (all of d when idx is NULL).
void dataset_class_counts(int *counts, const dataset *d, const int *idx, int n); // counts: (classes)
