// Fuzz target: `kdtune eval --recommended FILE`'s reader. What it accepts is a valid setting.
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "app/recommend.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    fuzz_write(path, sizeof path, "recommended.yaml", data, size);
    recommend_setting r;
    if (recommend_read(path, 0, 1, &r) == KDT_OK) {
        if (!isfinite(r.temperature) || !(r.alpha >= 0 && r.alpha <= 1) || r.student < 0 || r.teacher < 0)
            __builtin_trap();
    }
    return 0;
}
