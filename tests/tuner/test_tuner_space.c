// The search space: encoding to the unit cube and back, fixed parameters, combinations, the JSON
// form of a point, input validation, and strategy names.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/space.h"
#include "tuner/tuner.h"

static tuner_space *make_space(void) {
    tuner_space *s = NULL;
    assert_int_equal(tuner_space_create(&s), KDT_OK);
    const char *ts[] = {"unlabelled", "unlabelled_self", "student_data"}, *pos[] = {"forward", "reverse"};
    assert_int_equal(tuner_space_add_continuous(s, "temperature", 1, 20, true), KDT_OK);
    assert_int_equal(tuner_space_add_continuous(s, "alpha", 0, 1, false), KDT_OK);
    assert_int_equal(tuner_space_add_categorical(s, "transfer_set", ts, 3), KDT_OK);
    assert_int_equal(tuner_space_add_categorical(s, "position", pos, 2), KDT_OK);
    return s;
}

static void encode_decode_round_trip(void **state) {
    (void)state;
    tuner_space *s = make_space();
    assert_int_equal(tuner_space_n_cont(s), 2);
    assert_int_equal(tuner_space_n_cat(s), 2);
    assert_int_equal(tuner_space_n_combos(s), 6);
    double x[4] = {sqrt(20.0), 0.25, 2, 1}, u[2], y[4];
    int c[2];
    tuner_space_encode(s, x, u, c);
    assert_true(fabs(u[0] - 0.5) < 1e-12); // log scale: the geometric middle is 0.5
    assert_true(fabs(u[1] - 0.25) < 1e-12);
    assert_int_equal(c[0], 2);
    assert_int_equal(c[1], 1);
    tuner_space_decode(s, u, c, y);
    for (int i = 0; i < 4; i++) assert_true(fabs(x[i] - y[i]) < 1e-12 * fmax(1, fabs(x[i])));
    // Bounds decode exactly, and out-of-cube values are clamped.
    double lo[2] = {0, -0.5}, hi[2] = {1, 1.5};
    tuner_space_decode(s, lo, c, y);
    assert_true(y[0] == 1 && y[1] == 0);
    tuner_space_decode(s, hi, c, y);
    assert_true(y[0] == 20 && y[1] == 1);
    assert_true(tuner_space_contains(s, y));
    tuner_space_destroy(s);
}

static void fixed_parameters_leave_the_encoding(void **state) {
    (void)state;
    tuner_space *s = make_space();
    assert_int_equal(tuner_space_fix(s, "alpha", 0.5), KDT_OK);
    assert_int_equal(tuner_space_fix_choice(s, "position", "reverse"), KDT_OK);
    assert_int_equal(tuner_space_n_cont(s), 1);
    assert_int_equal(tuner_space_n_cat(s), 1);
    assert_int_equal(tuner_space_n_combos(s), 3);
    double u[1] = {0}, x[4];
    int c[1] = {1};
    tuner_space_decode(s, u, c, x);
    assert_true(x[0] == 1 && x[1] == 0.5 && x[2] == 1 && x[3] == 1);
    x[1] = 0.6;
    assert_false(tuner_space_contains(s, x)); // a fixed value must hold
    assert_int_equal(tuner_space_fix(s, "alpha", 1.5), KDT_ERR_CONFIG);
    assert_int_equal(tuner_space_fix_choice(s, "position", "sideways"), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "sideways"));
    tuner_space_destroy(s);
}

static void combinations_enumerate_all(void **state) {
    (void)state;
    tuner_space *s = make_space();
    int seen[3][2] = {{0}}, c[2];
    for (size_t k = 0; k < 6; k++) {
        tuner_space_combo(s, k, c);
        seen[c[0]][c[1]]++;
        assert_int_equal(tuner_space_combo_index(s, c), k);
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++) assert_int_equal(seen[a][b], 1);
    // The unit-cube decoding bins categoricals evenly.
    double v[4] = {0.5, 0.5, 0.999, 0.0}, x[4];
    tuner_space_decode_cube(s, v, x);
    assert_true(x[2] == 2 && x[3] == 0);
    tuner_space_destroy(s);
}

static void point_text(void **state) {
    (void)state;
    tuner_space *s = make_space();
    double x[4] = {3.7, 0.1, 1, 0}, y;
    char buf[256];
    assert_int_equal(tuner_space_point_format(s, x, buf, sizeof buf), KDT_OK);
    assert_non_null(strstr(buf, "\"transfer_set\":\"unlabelled_self\""));
    assert_non_null(strstr(buf, "\"position\":\"forward\""));
    assert_true(buf[0] == '{' && buf[strlen(buf) - 1] == '}');
    const char *t = strstr(buf, "\"temperature\":");
    assert_non_null(t);
    y = strtod(t + strlen("\"temperature\":"), NULL);
    assert_true(y == 3.7); // 17 significant digits read back exactly
    size_t need = strlen(buf) + 1;
    assert_int_equal(tuner_space_point_format(s, x, buf, need), KDT_OK);
    assert_int_equal(tuner_space_point_format(s, x, buf, need - 1), KDT_ERR_STATE);
    assert_int_equal(tuner_space_point_format(s, x, buf, 10), KDT_ERR_STATE);
    assert_true(buf[0] == '\0');
    tuner_space_destroy(s);
}

static void invalid_definitions_are_refused(void **state) {
    (void)state;
    tuner_space *s = NULL;
    assert_int_equal(tuner_space_create(&s), KDT_OK);
    assert_int_equal(tuner_space_add_continuous(s, "t", 0, 20, true), KDT_ERR_CONFIG);
    assert_int_equal(tuner_space_add_continuous(s, "t", 2, 1, false), KDT_ERR_CONFIG);
    assert_int_equal(tuner_space_add_continuous(s, "t", 1, 2, false), KDT_OK);
    assert_int_equal(tuner_space_add_continuous(s, "t", 1, 2, false), KDT_ERR_CONFIG);
    const char *dup[] = {"a", "a"};
    assert_int_equal(tuner_space_add_categorical(s, "c", dup, 2), KDT_ERR_CONFIG);
    assert_int_equal(tuner_space_add_categorical(s, "c", dup, 0), KDT_ERR_CONFIG);
    tuner_space_destroy(s);
}

static void strategy_names(void **state) {
    (void)state;
    const char *names[] = {"grid", "random", "bobyqa", "cobyla", "neldermead", "sbplx", "direct_l", "gp", "gp_transfer", "screen"};
    for (int i = 0; i < TUNER_N_STRATEGIES; i++) {
        tuner_strategy s;
        assert_int_equal(tuner_strategy_from_name(names[i], &s), KDT_OK);
        assert_int_equal(s, i);
        assert_string_equal(tuner_strategy_name(s), names[i]);
    }
    tuner_strategy s;
    assert_int_equal(tuner_strategy_from_name("bobyq", &s), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "did you mean 'bobyqa'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(fixed_parameters_leave_the_encoding),
        cmocka_unit_test(combinations_enumerate_all),
        cmocka_unit_test(point_text),
        cmocka_unit_test(invalid_definitions_are_refused),
        cmocka_unit_test(strategy_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
