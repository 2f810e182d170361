// A test helper: loads a kdtune checkpoint, runs its model in evaluation mode on a batch read
// from a file of raw little-endian float32 (B, C, H, W), and writes the logits (B, K) the same
// way. Used by test_import_torch.sh to compare kdtune with PyTorch on imported weights.
//   ckpt_logits CKPT INPUT.f32 OUTPUT.f32
#include <stdio.h>
#include <stdlib.h>

#include "common/fs.h"
#include "model/model.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: ckpt_logits CKPT INPUT.f32 OUTPUT.f32\n");
        return 2;
    }
    model_spec spec;
    char *in = NULL;
    size_t len = 0;
    kdt_status s = model_load_spec(argv[1], &spec);
    if (!s) s = fs_read_all(argv[2], &in, &len);
    size_t example = (size_t)spec.in_c * spec.in_h * spec.in_w * sizeof(float);
    if (!s && (len == 0 || len % example != 0))
        s = kdt_fail(KDT_ERR_FORMAT, "%s: %zu bytes is not a whole number of %dx%dx%d float32 "
                     "images", argv[2], len, spec.in_c, spec.in_h, spec.in_w);
    int B = s ? 0 : (int)(len / example);
    model *m = s ? NULL : model_create(&spec, B);
    if (!s && !m) s = KDT_ERR_NOMEM;
    if (!s) s = model_load(m, argv[1]);
    if (!s) {
        const float *logits = model_forward(m, (const float *)in, B, false);
        s = fs_write_atomic(argv[3], logits, (size_t)B * spec.num_classes * sizeof(float));
    }
    if (s) fprintf(stderr, "ckpt_logits: %s\n", kdt_errmsg());
    model_destroy(m);
    free(in);
    return s ? 1 : 0;
}
