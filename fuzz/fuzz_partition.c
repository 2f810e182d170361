// Fuzz target: saved partitions (partition/indices.bin, what partition.file reads). What loads is
// a partition: sizes add up, indices in range and distinct.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/partition.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    fuzz_write(path, sizeof path, "indices.bin", data, size);
    partition p;
    if (partition_load(path, &p) == KDT_OK) {
        if (p.start[0] != 0) __builtin_trap();
        for (int c = 0; c < p.participants; c++)
            if (p.start[c + 1] < p.start[c]) __builtin_trap();
        unsigned char *seen = calloc((size_t)p.pool_n + 1, 1);
        for (int i = 0; i < p.start[p.participants]; i++) {
            if (p.index[i] < 0 || p.index[i] >= p.pool_n || seen[p.index[i]]) __builtin_trap();
            seen[p.index[i]] = 1;
        }
        free(seen);
        partition_free(&p);
    }
    return 0;
}
