// Fuzz target: the CIFAR-10 and CIFAR-100 binary loaders (test split: one file each).
#include <stdint.h>
#include <stdio.h>

#include "data/loaders.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    raw_images r;
    fuzz_write(path, sizeof path, "test_batch.bin", data, size);
    if (data_load_cifar10(fuzz_dir(), false, &r) == KDT_OK) {
        for (int i = 0; i < r.n; i++)
            if (r.y[i] < 0 || r.y[i] >= 10) __builtin_trap();
        raw_images_free(&r);
    }
    fuzz_remove("test_batch.bin");
    fuzz_write(path, sizeof path, "test.bin", data, size);
    for (int coarse = 0; coarse < 2; coarse++)
        if (data_load_cifar100(fuzz_dir(), false, coarse, &r) == KDT_OK) {
            for (int i = 0; i < r.n; i++)
                if (r.y[i] < 0 || r.y[i] >= r.classes) __builtin_trap();
            raw_images_free(&r);
        }
    fuzz_remove("test.bin");
    return 0;
}
