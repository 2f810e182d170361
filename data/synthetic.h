// The synthetic source, kdtune's embedded default: labelled images generated from the seed alone,
// any channel count, size and class count. See synthetic.c and data/README.md for the process.
#pragma once
#include <stdint.h>

#include "common/error.h"
#include "data/dataset.h"

enum { SYNTHETIC_MIN_SIZE = 4 };

typedef struct {
    int channels;   // 1..DATA_MAX_CHANNELS
    int image_size; // height = width, >= SYNTHETIC_MIN_SIZE
    int classes;    // >= 2
} synthetic_spec;

// Checks the spec; KDT_ERR_CONFIG naming the data.synthetic key that is out of range.
kdt_status synthetic_check(const synthetic_spec *spec);

// Fills d (created with d->c == channels, d->h == d->w == image_size, d->classes == classes)
// with the examples first, ..., first + d->n - 1 of the synthetic split `split` of `seed`.
// Example (seed, split, i) is always the same image and label whatever n or first, and the
// classes (their prototypes) depend on the seed and the spec only, so splits share them.
// Pixels are in [0, 1].
kdt_status synthetic_generate(dataset *d, const synthetic_spec *spec, uint64_t seed, int split,
                              int first);
