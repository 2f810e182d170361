// Checkpoints: a round trip restores every tensor (running statistics included) and the same
// outputs; truncated, corrupted, foreign and mismatched files are refused with a message that says
// which and why, and leave the model untouched.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/fs.h"
#include "model/model.h"
#include "testutil.h"

static char dir[512];

static void path_of(char *out, size_t cap, const char *name) {
    assert_int_equal(fs_join(out, cap, dir, name), KDT_OK);
}

static model *make(model_arch a, int classes, uint64_t seed) {
    model_spec s = {.arch = a, .in_c = 3, .in_h = 8, .in_w = 8, .num_classes = classes};
    model *m = model_create(&s, 4);
    assert_non_null(m);
    rng r = rng_stream(seed, "ckpt", 0, 0);
    model_init_params(m, &r);
    return m;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "%s/test_tmp/model_checkpoint", KDT_BINARY_DIR);
    return fs_mkdir_p(dir) == KDT_OK ? 0 : -1;
}

// Writes bytes to path (plain write: the test damages files on purpose).
static void write_bytes(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void round_trip(void **state) {
    (void)state;
    char path[600];
    path_of(path, sizeof path, "resnet8.ckpt");
    model *a = make(MODEL_RESNET8, 5, 1), *b = make(MODEL_RESNET8, 5, 2);
    float x[4 * 3 * 8 * 8], za[4 * 5];
    rng r = rng_stream(3, "x", 0, 0);
    tu_fill(x, sizeof x / sizeof x[0], &r, -1, 1);
    model_forward(a, x, 4, true); // moves the running statistics, which must be saved too
    assert_int_equal(model_save(a, path), KDT_OK);
    assert_int_equal(model_load(b, path), KDT_OK);
    for (int t = 0; t < model_num_tensors(a); t++) {
        model_tensor ta = model_get_tensor(a, t), tb = model_get_tensor(b, t);
        assert_memory_equal(ta.data, tb.data, ta.numel * sizeof(float));
    }
    memcpy(za, model_forward(a, x, 4, false), sizeof za);
    assert_memory_equal(za, model_forward(b, x, 4, false), sizeof za);
    model_spec s;
    assert_int_equal(model_load_spec(path, &s), KDT_OK);
    assert_int_equal(s.arch, MODEL_RESNET8);
    assert_int_equal(s.num_classes, 5);
    assert_int_equal(s.in_h, 8);
    model_destroy(a);
    model_destroy(b);
}

// Loads path into m expecting KDT_ERR_FORMAT, a message containing `needle`, and no change.
static void expect_refused(model *m, const char *path, const char *needle) {
    size_t n = model_num_params(m);
    float *before = malloc(n * sizeof(float));
    memcpy(before, model_params(m), n * sizeof(float));
    kdt_clear_error();
    assert_int_equal(model_load(m, path), KDT_ERR_FORMAT);
    printf("  refused: %s\n", kdt_errmsg());
    assert_non_null(strstr(kdt_errmsg(), needle));
    assert_non_null(strstr(kdt_errmsg(), path));
    assert_memory_equal(before, model_params(m), n * sizeof(float));
    free(before);
}

static void damaged_files_are_refused(void **state) {
    (void)state;
    char good[600], bad[600];
    path_of(good, sizeof good, "cnn.ckpt");
    path_of(bad, sizeof bad, "damaged.ckpt");
    model *a = make(MODEL_CNN, 4, 4), *b = make(MODEL_CNN, 4, 5);
    assert_int_equal(model_save(a, good), KDT_OK);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(good, &data, &len), KDT_OK);

    // truncated anywhere: in the header, in a tensor, just before the CRC
    size_t cuts[] = {5, 15, 60, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(bad, data, cuts[i]);
        expect_refused(b, bad, "truncated");
    }
    // one flipped byte in the spec, in a tensor name, in the data, in the CRC itself
    size_t flips[] = {30, 90, len / 2, len - 2};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        data[flips[i]] ^= 0x10;
        write_bytes(bad, data, len);
        data[flips[i]] ^= 0x10;
        expect_refused(b, bad, "CRC32 mismatch");
    }
    // extra bytes at the end
    char *longer = malloc(len + 3);
    memcpy(longer, data, len);
    memcpy(longer + len, "xyz", 3);
    write_bytes(bad, longer, len + 3);
    expect_refused(b, bad, "corrupted");
    free(longer);
    // not a checkpoint at all
    write_bytes(bad, "P6\n32 32\n255\n", 13);
    expect_refused(b, bad, "not a kdtune checkpoint");
    // a future version
    char *v2 = malloc(len);
    memcpy(v2, data, len);
    v2[8] = 2;
    write_bytes(bad, v2, len);
    expect_refused(b, bad, "version 2");
    free(v2);

    // a missing file is an I/O error
    path_of(bad, sizeof bad, "missing.ckpt");
    assert_int_equal(model_load(b, bad), KDT_ERR_IO);
    free(data);
    model_destroy(a);
    model_destroy(b);
}

static void mismatched_models_are_refused(void **state) {
    (void)state;
    char path[600];
    path_of(path, sizeof path, "resnet8_for_cnn.ckpt");
    model *r8 = make(MODEL_RESNET8, 4, 6), *cnn = make(MODEL_CNN, 4, 7), *r8k = make(MODEL_RESNET8, 10, 8);
    assert_int_equal(model_save(r8, path), KDT_OK);
    expect_refused(cnn, path, "architecture mismatch");
    assert_non_null(strstr(kdt_errmsg(), "resnet8"));
    assert_non_null(strstr(kdt_errmsg(), "cnn"));
    expect_refused(r8k, path, "10 classes");
    model_destroy(r8);
    model_destroy(cnn);
    model_destroy(r8k);
}

// Rewrites the trailing CRC32 so that only the deeper checks can catch a change.
static void fix_crc(char *data, size_t len) {
    uint32_t c = (uint32_t)crc32(0L, (const Bytef *)data, (uInt)(len - 4));
    memcpy(data + len - 4, &c, 4);
}

static void consistent_but_wrong_files_are_refused(void **state) {
    (void)state;
    char good[600], bad[600];
    path_of(good, sizeof good, "cnn_for_edits.ckpt");
    path_of(bad, sizeof bad, "edited.ckpt");
    model *a = make(MODEL_CNN, 4, 9);
    assert_int_equal(model_save(a, good), KDT_OK);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(good, &data, &len), KDT_OK);
    // a spec no model can have (0 classes), with a valid CRC
    char *v = malloc(len);
    memcpy(v, data, len);
    memset(v + 20 + 16, 0, 4); // spec word 4: num_classes
    fix_crc(v, len);
    write_bytes(bad, v, len);
    expect_refused(a, bad, "invalid model spec");
    // a renamed tensor ("conv1.weight" -> "xonv1.weight"), with a valid CRC
    memcpy(v, data, len);
    char *name = NULL;
    for (size_t i = 0; i + 12 <= len && !name; i++)
        if (memcmp(v + i, "conv1.weight", 12) == 0) name = v + i;
    assert_non_null(name);
    name[0] = 'x';
    fix_crc(v, len);
    write_bytes(bad, v, len);
    expect_refused(a, bad, "'xonv1.weight' where the model has 'conv1.weight'");
    free(v);
    free(data);
    model_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(damaged_files_are_refused),
        cmocka_unit_test(mismatched_models_are_refused),
        cmocka_unit_test(consistent_but_wrong_files_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
