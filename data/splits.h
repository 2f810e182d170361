// From one source (synthetic or a real dataset's files) to the four disjoint splits kdtune uses:
// the participants' pool, the public transfer set (its labels are never handed to KD), the
// validation split (the tuner's objective) and the test split (reports only), normalized per
// channel with the pool's statistics.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "data/dataset.h"
#include "data/synthetic.h"

typedef enum {
    DATA_SYNTHETIC,
    DATA_CIFAR10,
    DATA_CIFAR100,
    DATA_MNIST,
    DATA_FASHION_MNIST,
    DATA_NPY,              // NumPy arrays: train_images.npy, train_labels.npy, test_images.npy, test_labels.npy
    DATA_N_SOURCES
} data_source;

// Horizontal flips in augmentation: auto = where the source's images allow it (not digits).
typedef enum { DATA_FLIP_AUTO, DATA_FLIP_ALWAYS, DATA_FLIP_NEVER, DATA_N_FLIPS } data_flip;

// "auto", "always", "never"; NULL out of range.
const char *data_flip_name(data_flip f);

enum { SYNTHETIC_TEST_SPLIT = 10000 }; // the synthetic source's "whole test split"

typedef struct {
    data_source source;
    const char *path;      // the folder of the dataset's files (real sources); kept by the caller
    bool cifar100_coarse;  // CIFAR-100: 20 coarse labels instead of the 100 fine ones
    int pool_size, transfer_size, val_size; // >= 1 each
    int test_size;         // 0: the source's whole test split (synthetic: SYNTHETIC_TEST_SPLIT)
    bool normalize;        // per-channel (x - mean) / std with the pool's mean and std
    synthetic_spec synthetic;
    uint64_t seed;         // the experiment's seed: synthetic images and the split shuffles
} data_spec;

// The embedded default: synthetic 3x32x32, 10 classes, pool 5000, transfer 1000, val 1000,
// test 2000, normalized, seed 42.
void data_spec_default(data_spec *spec);

typedef struct {
    dataset *pool, *transfer, *val, *test;
    bool normalized;
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS]; // what was subtracted and divided
    bool test_from_source; // true when test is the source's own test split
} data_splits;

// Loads or generates the source and carves the four splits. Real sources: pool, transfer and
// val are disjoint random draws from the training split and test from the test split; when the
// source has only a test split (MNIST's t10k pair alone), all four are disjoint draws from it (a
// test_size of 0 then takes what the other three leave). A source with only a training split
// carves test from it the same way. Errors name the file or the key and what to do.
kdt_status data_load_splits(const data_spec *spec, data_splits *out);
void data_splits_free(data_splits *s);

// The source's name in configs and messages ("cifar10").
const char *data_source_name(data_source s);

// Whether augmentation flips horizontally: always, never, or auto (not for MNIST, whose digits
// are not mirror-symmetric, nor for synthetic, whose class layouts are not; yes for CIFAR-10,
// CIFAR-100 and Fashion-MNIST).
bool data_flip_resolve(data_flip mode, data_source source);

// Per-channel normalization in place: x = (x - mean[c]) / std[c].
void data_normalize(dataset *d, const float *mean, const float *std);

// The per-channel mean and standard deviation of d (std floored at 1e-6 for constant channels).
void data_channel_stats(float *mean, float *std, const dataset *d);
