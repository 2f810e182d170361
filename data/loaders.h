// Readers for the real datasets' files: CIFAR-10 and CIFAR-100 binary versions, MNIST and
// Fashion-MNIST IDX (raw or gzip). Each validates what it reads (sizes, magic numbers, record
// counts, label ranges) and names the file, the problem and what to do when something is wrong.
// Images stay as bytes here (CIFAR-10's 60,000 images take 184 MB as bytes, 737 MB as floats);
// splits.c converts only the examples it keeps.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
    uint8_t *x; // (n, c, h, w), 0..255
    int *y;     // (n), in [0, classes)
    int n, c, h, w, classes;
} raw_images;

void raw_images_free(raw_images *r); // frees the arrays and zeroes *r; safe on a zeroed struct

// Each loader reads the training split (train = true) or the test split of the dataset under
// dir. A split whose files are all absent is not an error: it returns KDT_OK with out->n == 0, so
// that a folder holding only the test files (MNIST's t10k pair, say) can still be used. A split
// that is partly present, unreadable or malformed is an error (KDT_ERR_IO or KDT_ERR_FORMAT).

// CIFAR-10 binary: data_batch_1.bin .. data_batch_5.bin and test_batch.bin, 3,073-byte records
// (label byte, then 1024 red, 1024 green, 1024 blue bytes). dir may also be the folder that holds
// cifar-10-batches-bin/.
kdt_status data_load_cifar10(const char *dir, bool train, raw_images *out);

// CIFAR-100 binary: train.bin and test.bin, 3,074-byte records (coarse label, fine label, pixels).
// Fine labels (100 classes) unless coarse (20 superclasses). dir may also be the folder that holds
// cifar-100-binary/.
kdt_status data_load_cifar100(const char *dir, bool train, bool coarse, raw_images *out);

// MNIST or Fashion-MNIST IDX (the same file names): train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with .gz.
// name ("mnist", "fashion_mnist") only labels messages.
kdt_status data_load_idx(const char *dir, const char *name, bool train, raw_images *out);
