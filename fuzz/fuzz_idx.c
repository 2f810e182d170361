// Fuzz target: the MNIST IDX loader. The first byte chooses which of the two files the rest
// becomes (the other is a small valid one matching a 2-image 4x4 file), and whether it is gzip'ed.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "data/loaders.h"
#include "fuzz_util.h"

static const uint8_t images[16 + 32] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4};
static const uint8_t labels[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};

static void write_gz(const char *name, const uint8_t *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    gzFile g = gzopen(path, "wb1");
    if (len) gzwrite(g, data, (unsigned)len);
    gzclose(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] & 1, gz = (data[0] >> 1) & 1;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    char path[256];
    fuzz_remove("t10k-images-idx3-ubyte");
    fuzz_remove("t10k-images-idx3-ubyte.gz");
    fuzz_remove("t10k-labels-idx1-ubyte");
    fuzz_remove("t10k-labels-idx1-ubyte.gz");
    const char *fuzzed = which ? "t10k-labels-idx1-ubyte" : "t10k-images-idx3-ubyte";
    if (gz) {
        char name[64];
        snprintf(name, sizeof name, "%s.gz", fuzzed);
        write_gz(name, body, n);
    } else {
        fuzz_write(path, sizeof path, fuzzed, body, n);
    }
    if (which) fuzz_write(path, sizeof path, "t10k-images-idx3-ubyte", images, sizeof images);
    else fuzz_write(path, sizeof path, "t10k-labels-idx1-ubyte", labels, sizeof labels);
    raw_images r;
    if (data_load_idx(fuzz_dir(), "mnist", false, &r) == KDT_OK) {
        // What loaded is consistent: every label in range, the sizes as declared.
        for (int i = 0; i < r.n; i++)
            if (r.y[i] < 0 || r.y[i] >= r.classes) __builtin_trap();
        raw_images_free(&r);
    }
    return 0;
}
