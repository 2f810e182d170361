// Hostile checkpoints and sizes, classes 4 and 3: a checkpoint holding NaN or Inf (its CRC intact)
// is refused and leaves the model unchanged; a model larger than memory is refused before any
// allocation, with the bytes it would need; a FIFO or device checkpoint is refused without blocking.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "model/model.h"

static model_spec small_mlp(void) {
    model_spec s = {.arch = MODEL_MLP, .in_c = 1, .in_h = 4, .in_w = 4, .num_classes = 3, .num_hidden = 1};
    s.hidden[0] = 5;
    return s;
}

static void expect_msg(kdt_status got, kdt_status want, const char *needle) {
    assert_int_equal(got, want);
    if (!strstr(kdt_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", kdt_errmsg(), needle);
}

static void non_finite_weights_are_refused(void **state) {
    (void)state;
    char dir[] = "/tmp/kdt_ckpt_hostile_XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/p0.ckpt", dir);
    model_spec spec = small_mlp();
    model *a = model_create(&spec, 4), *b = model_create(&spec, 4);
    assert_non_null(a);
    assert_non_null(b);
    size_t n = model_num_params(b);
    for (size_t i = 0; i < n; i++) model_params(b)[i] = 0.25f;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *names[] = {"NaN", "Inf", "Inf"};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++) model_params(a)[i] = 0.5f;
        model_params(a)[n - 1 - (size_t)k] = bad[k]; // the CRC is right: only the value is wrong
        assert_int_equal(model_save(a, path), KDT_OK);
        expect_msg(model_load(b, path), KDT_ERR_FORMAT, "non-finite");
        assert_non_null(strstr(kdt_errmsg(), names[k]));
        assert_non_null(strstr(kdt_errmsg(), path));
        for (size_t i = 0; i < n; i++) assert_true(model_params(b)[i] == 0.25f); // unchanged
    }
    for (size_t i = 0; i < n; i++) model_params(a)[i] = 0.5f;
    assert_int_equal(model_save(a, path), KDT_OK);
    assert_int_equal(model_load(b, path), KDT_OK);
    assert_true(model_params(b)[0] == 0.5f);
    // A FIFO where the checkpoint goes: refused, no hang; /dev/zero likewise.
    remove(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_msg(model_load(b, path), KDT_ERR_IO, "FIFO");
    expect_msg(model_load(b, "/dev/zero"), KDT_ERR_IO, "character device");
    remove(path);
    rmdir(dir);
    model_destroy(a);
    model_destroy(b);
}

// Eight hidden layers of 65,536: far more than any machine; refused before allocating, naming
// the bytes (not the batch size).
static void huge_models_are_refused_before_allocation(void **state) {
    (void)state;
    model_spec s = small_mlp();
    s.num_hidden = 8;
    for (int i = 0; i < 8; i++) s.hidden[i] = 65536;
    size_t bytes = 0;
    assert_int_equal(model_bytes_needed(&s, 64, &bytes), KDT_OK);
    assert_true((double)bytes > 7.0 * 65536.0 * 65536.0 * 8.0); // parameters and gradients
    assert_true(bytes > model_memory_limit());
    assert_null(model_create(&s, 64));
    assert_non_null(strstr(kdt_errmsg(), "MiB"));
    assert_non_null(strstr(kdt_errmsg(), "more than this machine's"));
    assert_non_null(strstr(kdt_errmsg(), "hidden 65536"));
    // The small model's estimate matches what it holds, give or take the alignment.
    model_spec m = small_mlp();
    assert_int_equal(model_bytes_needed(&m, 4, &bytes), KDT_OK);
    model *x = model_create(&m, 4);
    assert_non_null(x);
    assert_true(bytes >= model_memory_bytes(x));
    model_destroy(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(non_finite_weights_are_refused),
        cmocka_unit_test(huge_models_are_refused_before_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
