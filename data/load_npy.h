// Reader for NumPy .npy files: bring-your-own data as a train pair and a test pair of files
// (images uint8 (N, H, W) or (N, H, W, C); labels (N,) of an integer dtype), into the same
// raw_images the other loaders produce (bytes, channel-major (n, c, h, w)).
#pragma once
#include <stdbool.h>

#include "data/loaders.h"

enum { NPY_MAX_HEADER = 16384, NPY_MAX_SIDE = 4096, NPY_MAX_COUNT = 100000000,
       NPY_MAX_CLASSES = 100000 };

typedef struct {
    // Paths of the four files; NULL or "" for an absent one. A split needs both of its files.
    const char *train_images, *train_labels;
    const char *test_images, *test_labels;
    // Labels must lie in [0, classes). 0: classes = 1 + the largest label of both splits' label
    // files, so that the train and test splits always agree.
    int classes;
} data_npy_files;

// Reads the training split (train = true) or the test split. As with the other loaders, a split
// whose two files are both absent returns KDT_OK with out->n == 0; one file of a pair without the
// other is KDT_ERR_IO. The header is parsed strictly (magic, versions 1.0, 2.0 and 3.0, a bounded
// length, exactly the keys 'descr', 'fortran_order' and 'shape', fortran_order False, little-endian
// or byte dtypes) and the data size checked against the file size before any allocation. The
// split read must have the image shape of the other split when that one is present. Errors
// (KDT_ERR_FORMAT, KDT_ERR_IO, KDT_ERR_NOMEM) name the file, the problem and the fix.
kdt_status data_load_npy(const data_npy_files *files, bool train, raw_images *out);

// The header of one .npy file, for callers and tests that want to look before reading.
typedef struct {
    char descr[16];       // as written: "|u1", "<i8"
    int ndim;             // 1..4
    long long shape[4];
    long long data_offset; // bytes before the array's data
    int item_size;        // bytes per element
} npy_header;

// Reads and checks the header of path (its dtype among the integer kinds this reader knows).
kdt_status data_npy_read_header(const char *path, npy_header *out);
