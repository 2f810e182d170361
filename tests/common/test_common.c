// Error messages, exit codes, float formatting, edit distance and file helpers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/text.h"

static void errors_carry_message_and_context(void **state) {
    (void)state;
    kdt_status s = kdt_fail(KDT_ERR_IO, "%s: cannot open", "x.bin");
    assert_int_equal(s, KDT_ERR_IO);
    assert_string_equal(kdt_errmsg(), "x.bin: cannot open");
    kdt_fail_context(s, "loading %s", "data");
    assert_string_equal(kdt_errmsg(), "loading data: x.bin: cannot open");
    kdt_clear_error();
    assert_string_equal(kdt_errmsg(), "");
}

static void exit_codes(void **state) {
    (void)state;
    assert_int_equal(kdt_exit_code(KDT_OK), 0);
    assert_int_equal(kdt_exit_code(KDT_ERR_USAGE), 2);
    assert_int_equal(kdt_exit_code(KDT_ERR_CONFIG), 2);
    assert_int_equal(kdt_exit_code(KDT_ERR_IO), 1);
    assert_int_equal(kdt_exit_code(KDT_ERR_NUMERIC), 1);
}

static void doubles_look_like_floats_and_round_trip(void **state) {
    (void)state;
    const struct { double x; const char *want; } cases[] = {
        {1.0, "1.0"}, {0.25, "0.25"}, {1e-5, "1.0e-05"}, {-3.0, "-3.0"}, {0.1, "0.1"},
        {123456789.0, "123456789.0"}, {2.5e-10, "2.5e-10"}, {1e20, "1.0e+20"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        text_format_double(buf, sizeof buf, cases[i].x);
        assert_string_equal(buf, cases[i].want);
    }
    const double hard[] = {0.1 + 0.2, 1.0 / 3.0, 5e-324, 1.7976931348623157e308};
    for (size_t i = 0; i < 4; i++) {
        text_format_double(buf, sizeof buf, hard[i]);
        assert_true(strtod(buf, NULL) == hard[i]);
    }
}

static void edit_distance(void **state) {
    (void)state;
    assert_int_equal(text_edit_distance("", ""), 0);
    assert_int_equal(text_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(text_edit_distance("kd.temprature", "kd.temperature"), 1);
    assert_int_equal(text_edit_distance("abc", ""), 3);
}

static void atomic_write_and_read_back(void **state) {
    (void)state;
    char dir[] = "/tmp/kdt_fs_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], path[256];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    assert_int_equal(fs_mkdir_p(sub), KDT_OK);
    assert_int_equal(fs_mkdir_p(sub), KDT_OK); // idempotent
    assert_int_equal(fs_join(path, sizeof path, sub, "f.txt"), KDT_OK);
    assert_int_equal(fs_write_atomic(path, "hello", 5), KDT_OK);
    assert_int_equal(fs_write_atomic(path, "world!", 6), KDT_OK); // replaces
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(path, &data, &len), KDT_OK);
    assert_int_equal(len, 6);
    assert_string_equal(data, "world!");
    free(data);
    assert_int_equal(fs_read_all("/nonexistent/x", &data, &len), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "/nonexistent/x"));
    // A regular file in the way of a directory is refused, not crashed on.
    assert_int_equal(fs_mkdir_p(path), KDT_ERR_IO);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_carry_message_and_context),
        cmocka_unit_test(exit_codes),
        cmocka_unit_test(doubles_look_like_floats_and_round_trip),
        cmocka_unit_test(edit_distance),
        cmocka_unit_test(atomic_write_and_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
