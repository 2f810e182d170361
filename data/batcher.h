// Mini-batches over a subset of a dataset: shuffled per epoch from the caller's rng, optionally
// augmented (random crop after zero padding, horizontal flip) with the batcher's own stream,
// copied into caller-provided buffers. Deterministic given the rng; no allocation per batch.
#pragma once
#include <stdbool.h>

#include "common/rng.h"
#include "data/dataset.h"

typedef struct {
    bool crop;        // random crop of the original size after zero padding
    int crop_padding; // pixels of padding on each side (crop with 0 padding does nothing)
    bool flip;        // horizontal flip with probability 1/2 (see data_flip_resolve)
} augment_spec;

typedef struct batcher batcher;

// A batcher over d's examples indices[0..n) (all of d, in order, when indices is NULL), batches of
// batch_size; aug NULL = no augmentation. d and indices must outlive the batcher (indices is
// copied). Returns NULL (with kdt_errmsg()) on allocation failure. Before the first
// batcher_epoch the order is indices' order and augmentation is off.
batcher *batcher_create(const dataset *d, const int *indices, int n, int batch_size,
                        const augment_spec *aug);
void batcher_destroy(batcher *b);

// Starts an epoch: reshuffles the order with r (advancing it) and derives the augmentation stream
// from it. r NULL: the subset's order, no augmentation (evaluation).
void batcher_epoch(batcher *b, rng *r);

// Fills x (batch_size, C, H, W) and y (batch_size) with the next batch; returns its size, which
// is batch_size except for a short last batch, and 0 at the end of the epoch.
int batcher_next(batcher *b, float *x, int *y);

// The dataset indices of the examples of the last batch (as many as batcher_next returned).
const int *batcher_batch_indices(const batcher *b);

// Examples per epoch, and batches per epoch (the last may be short).
int batcher_size(const batcher *b);
int batcher_batches(const batcher *b);

// Augments one image: out (C, H, W) is img shifted by (dy, dx) with zeros where it leaves the
// image (a crop of the zero-padded image), mirrored left-right when flip. in != out.
void augment_image(float *out, const float *img, int c, int h, int w, int dy, int dx, bool flip);
