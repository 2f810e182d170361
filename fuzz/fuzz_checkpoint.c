// Fuzz target: checkpoints. The spec is read; when it names a model of modest size, the model is
// built and the checkpoint loaded into it: what loads is finite.
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    fuzz_write(path, sizeof path, "p0.ckpt", data, size);
    model_spec spec;
    size_t bytes;
    if (model_load_spec(path, &spec) != KDT_OK) return 0;
    if (model_bytes_needed(&spec, 1, &bytes) != KDT_OK || bytes > ((size_t)64 << 20)) return 0;
    model *m = model_create(&spec, 1);
    if (!m) return 0;
    if (model_load(m, path) == KDT_OK) {
        const float *p = model_params(m);
        for (size_t i = 0; i < model_num_params(m); i++)
            if (!isfinite(p[i])) __builtin_trap();
    }
    model_destroy(m);
    return 0;
}
