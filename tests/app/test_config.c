// The YAML config: defaults, malformed and invalid documents (each checked for its exact location
// and message), overrides, relations between keys, and the resolved-config round trip.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "common/fs.h"

static kdt_config *new_default(void) {
    kdt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    config_default(c);
    return c;
}

static void defaults_are_the_documented_ones(void **state) {
    (void)state;
    kdt_config *c = new_default();
    assert_int_equal(c->experiment.seed, 42);
    assert_int_equal(c->data.source, DATA_SYNTHETIC);
    assert_int_equal(c->federation.participants, 10);
    assert_true(c->kd.temperature == 1.0 && c->kd.alpha == 0.5);
    assert_int_equal(c->kd.transfer_set, KD_UNLABELLED);
    assert_int_equal(c->grid.temperatures.n, 5);
    assert_int_equal(c->space.transfer_sets.n, 3);
    assert_int_equal(config_check(c), KDT_OK);
    free(c);
}

// Writes text to a file named bad.yaml in a fresh folder, loads it over the default, and checks
// the status and that the message contains `want` (which starts with "bad.yaml:LINE:COL").
static void expect_file_error(const char *text, kdt_status want_status, const char *want) {
    char dir[] = "/tmp/kdt_cfg_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    assert_int_equal(fs_write_atomic(path, text, strlen(text)), KDT_OK);
    kdt_config *c = new_default(), *before = new_default();
    kdt_status s = config_load_file(c, path);
    if (s != want_status || !strstr(kdt_errmsg(), want))
        fail_msg("for:\n%s\ngot status %d and message:\n  %s\nwanted status %d and:\n  %s", text,
                 s, kdt_errmsg(), want_status, want);
    assert_memory_equal(c, before, sizeof *c); // a failed load changes nothing
    unlink(path);
    rmdir(dir);
    free(c);
    free(before);
}

static void malformed_and_invalid_files(void **state) {
    (void)state;
    const struct { const char *yaml, *want; } cases[] = {
        // 1. unknown key, with a suggestion
        {"kd:\n  temprature: 4.0\n", "bad.yaml:2:3: unknown key 'kd.temprature'; did you mean 'kd.temperature'?"},
        // 2. unknown section, with a suggestion
        {"tunner:\n  budget: 3\n", "bad.yaml:1:1: unknown key 'tunner'; did you mean 'tuner'?"},
        // 3. unknown key with nothing close
        {"data:\n  source: mnist\n  zzzzzzzz: 1\n", "bad.yaml:3:3: unknown key 'data.zzzzzzzz'; `kdtune validate --commented` lists every key"},
        // 4. a string where an integer belongs
        {"experiment:\n  seed: many\n", "bad.yaml:2:9: experiment.seed: expected an integer, got 'many'"},
        // 5. a float where an integer belongs
        {"federation:\n  participants: 2.5\n", "bad.yaml:2:17: federation.participants: expected an integer, got '2.5'"},
        // 6. out of range
        {"kd:\n  alpha: 1.5\n", "bad.yaml:2:10: kd.alpha: 1.5 is out of range; expected a value in [0.0, 1.0]"},
        // 7. integer out of range
        {"federation:\n  participants: 1\n", "bad.yaml:2:17: federation.participants: 1 is out of range; expected a value in [2, 64]"},
        // 8. an unknown enum choice, with a suggestion
        {"kd:\n  transfer_set: unlabeled\n", "bad.yaml:2:17: kd.transfer_set: unknown choice 'unlabeled' (did you mean 'unlabelled'?); expected one of unlabelled|unlabelled_self|student_data"},
        // 9. malformed YAML (bad indentation)
        {"kd:\n  alpha: 0.5\n   temperature: 2.0\n", "bad.yaml:3:15: malformed YAML: mapping values are not allowed in this context"},
        // 10. a bad element in a list
        {"grid:\n  alphas: [0.0, 0.5, high]\n", "bad.yaml:2:22: grid.alphas: expected a number, got 'high'"},
        // 11. a list of the wrong length
        {"space:\n  temperature: [1.0, 5.0, 9.0]\n", "bad.yaml:2:16: space.temperature: expected a list of exactly 2 values, got 3"},
        // 12. a mapping where a value belongs
        {"kd:\n  alpha:\n    value: 0.5\n", "bad.yaml:3:5: kd.alpha: expected a number, got a mapping"},
        // 13. a value where a section belongs
        {"kd: 3\n", "bad.yaml:1:5: 'kd' is a section: expected a mapping of its keys"},
        // 14. a duplicate key
        {"kd:\n  alpha: 0.1\n  alpha: 0.2\n", "bad.yaml:3:3: duplicate key 'kd.alpha' (first at line 2)"},
        // 15. a bad boolean
        {"output:\n  plots: maybe\n", "bad.yaml:2:10: output.plots: expected true or false, got 'maybe'"},
        // 16. a list where one value belongs
        {"kd:\n  alpha: [0.1, 0.2]\n", "bad.yaml:2:10: kd.alpha: expected a number, got a list"},
        // 17. not a mapping at the top
        {"- a\n- b\n", "bad.yaml:1:1: expected a mapping of sections (experiment:, data:, ...) at the top level"},
        // 18. an empty value
        {"kd:\n  alpha:\n", "kd.alpha: expected a number, got nothing"},
        // 19. not a number at all (NaN is refused)
        {"kd:\n  temperature: .nan\n", "bad.yaml:2:16: kd.temperature: expected a number, got '.nan'"},
        // 20. an unterminated flow list
        {"grid:\n  alphas: [0.0, 0.5\n", "bad.yaml:3:1: malformed YAML: did not find expected ',' or ']'"},
        // 21. two documents in one file
        {"kd:\n  alpha: 0.1\n---\nkd:\n  alpha: 0.2\n", "bad.yaml: more than one YAML document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_file_error(cases[i].yaml, KDT_ERR_CONFIG, cases[i].want);
}

static void missing_file(void **state) {
    (void)state;
    kdt_config *c = new_default();
    assert_int_equal(config_load_file(c, "/nonexistent/cfg.yaml"), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "/nonexistent/cfg.yaml: cannot open: No such file or directory"));
    free(c);
}

static void a_good_file_sets_what_it_names(void **state) {
    (void)state;
    const char *yaml = "# a comment\nexperiment:\n  name: study\n  seed: 7\n"
                       "kd:\n  temperature: 4\n  position: reverse\n"
                       "model:\n  arch: resnet8\n"
                       "grid:\n  temperatures: [1, 3.5]\n  transfer_sets: [student_data]\n";
    kdt_config *c = new_default();
    assert_int_equal(config_load_string(c, yaml, strlen(yaml), "mem"), KDT_OK);
    assert_string_equal(c->experiment.name, "study");
    assert_int_equal(c->experiment.seed, 7);
    assert_true(c->kd.temperature == 4.0);
    assert_int_equal(c->kd.position, KD_REVERSE);
    assert_int_equal(c->model.arch.n, 1);
    assert_int_equal(c->model.arch.v[0], MODEL_RESNET8);
    assert_int_equal(c->grid.temperatures.n, 2);
    assert_true(c->grid.temperatures.v[1] == 3.5);
    assert_int_equal(c->grid.transfer_sets.v[0], KD_STUDENT_DATA);
    assert_true(c->kd.alpha == 0.5); // untouched keys keep their defaults
    free(c);
}

static void overrides(void **state) {
    (void)state;
    kdt_config *c = new_default();
    assert_int_equal(config_set(c, "kd.alpha=0.3"), KDT_OK);
    assert_true(c->kd.alpha == 0.3);
    assert_int_equal(config_set(c, "grid.temperatures=[1,2,4]"), KDT_OK);
    assert_int_equal(c->grid.temperatures.n, 3);
    assert_true(c->grid.temperatures.v[2] == 4.0);
    assert_int_equal(config_set(c, "model.arch=[cnn, mlp]"), KDT_OK);
    assert_int_equal(c->model.arch.v[1], MODEL_MLP);
    assert_int_equal(config_set(c, "data.path=../shared/data/mnist"), KDT_OK);
    assert_string_equal(c->data.path, "../shared/data/mnist");
    assert_int_equal(config_set(c, "tuner.ordered=yes"), KDT_OK);
    assert_true(c->tuner.ordered);
    assert_int_equal(config_set(c, "tuner.strategies=[]"), KDT_OK);
    assert_int_equal(c->tuner.strategies.n, 0);

    const struct { const char *assign; kdt_status st; const char *want; } bad[] = {
        {"kd.alpha", KDT_ERR_USAGE, "override 'kd.alpha': expected key.path=value"},
        {"=3", KDT_ERR_USAGE, "expected key.path=value"},
        {"kd.alpha=", KDT_ERR_CONFIG, "override 'kd.alpha=': kd.alpha: missing value after '='"},
        {"kd=3", KDT_ERR_CONFIG, "'kd' is a section; set one of its keys"},
        {"kd.alpah=0.1", KDT_ERR_CONFIG, "unknown key 'kd.alpah'; did you mean 'kd.alpha'?"},
        {"kd.alpha=[0.1", KDT_ERR_CONFIG, "override 'kd.alpha=[0.1': malformed YAML value"},
        {"grid.positions=[forward, backward]", KDT_ERR_CONFIG, "grid.positions: unknown choice 'backward'; expected one of forward|reverse"},
    };
    kdt_config *before = new_default();
    *before = *c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kdt_status s = config_set(c, bad[i].assign);
        if (s != bad[i].st || !strstr(kdt_errmsg(), bad[i].want))
            fail_msg("%s: got %d '%s'", bad[i].assign, s, kdt_errmsg());
        assert_memory_equal(c, before, sizeof *c);
    }
    free(c);
    free(before);
}

static void relations_between_keys(void **state) {
    (void)state;
    const struct { const char *assign[3]; const char *want; } cases[] = {
        {{"model.arch=[cnn, mlp, cnn]"}, "model.arch has 3 entries; give 1 (for all participants) or 10"},
        {{"space.temperature=[5.0, 2.0]"}, "space.temperature is [min, max] with min <= max"},
        {{"grid.positions=[forward, forward]"}, "grid.positions lists a value twice"},
        {{"partition.scheme=from_file"}, "partition.file is empty"},
        {{"data.source=mnist"}, "data.path is empty"},
        {{"data.pool_size=5"}, "data.pool_size (5) is smaller than the number of participants (10)"},
        {{"data.synthetic.image_size=8", "data.augment.crop_padding=8"}, "crop_padding (8) must be smaller"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kdt_config *c = new_default();
        for (int j = 0; j < 3 && cases[i].assign[j]; j++)
            assert_int_equal(config_set(c, cases[i].assign[j]), KDT_OK);
        kdt_status s = config_check(c);
        if (s != KDT_ERR_CONFIG || !strstr(kdt_errmsg(), cases[i].want))
            fail_msg("%s: got %d '%s'", cases[i].assign[0], s, kdt_errmsg());
        free(c);
    }
}

// Printing, reading back and printing again gives the same text and the same config, for the
// default and for a config with awkward values (quotes, yes-like strings, tiny floats).
static void resolved_config_round_trip(void **state) {
    (void)state;
    const char *tweaks[] = {"experiment.name=say \"yes\" \\ no", "data.path=on", "kd.lr=1e-5",
                            "kd.temperature=0.1", "grid.temperatures=[1, 2.5, 1e2]",
                            "model.mlp_hidden=[]", "pretrain.weight_decay=0.0"};
    for (int variant = 0; variant < 2; variant++) {
        kdt_config *a = new_default(), *b = new_default();
        if (variant)
            for (size_t i = 0; i < sizeof tweaks / sizeof tweaks[0]; i++)
                assert_int_equal(config_set(a, tweaks[i]), KDT_OK);
        for (int commented = 0; commented < 2; commented++) {
            char *text = config_to_yaml(a, commented);
            config_default(b);
            if (config_load_string(b, text, strlen(text), "printed") != KDT_OK)
                fail_msg("%s\n---\n%s", kdt_errmsg(), text);
            char *again = config_to_yaml(b, commented);
            assert_string_equal(text, again);
            assert_memory_equal(a, b, sizeof *a);
            free(text);
            free(again);
        }
        free(a);
        free(b);
    }
}

// experiments/default.yaml is `kdtune validate --commented`: it must stay equal to the schema.
static void committed_default_yaml_matches(void **state) {
    (void)state;
    char *text;
    size_t len;
    assert_int_equal(fs_read_all(KDT_SOURCE_DIR "/experiments/default.yaml", &text, &len), KDT_OK);
    kdt_config *c = new_default();
    char *want = config_to_yaml(c, true);
    if (strcmp(text, want) != 0)
        fail_msg("experiments/default.yaml differs from the schema; regenerate it with\n"
                 "  ./build/kdtune validate --commented > experiments/default.yaml");
    kdt_config *d = new_default();
    config_set(d, "kd.alpha=0.9");
    assert_int_equal(config_load_string(d, text, len, "default.yaml"), KDT_OK);
    assert_memory_equal(c, d, sizeof *c);
    free(text);
    free(want);
    free(c);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(malformed_and_invalid_files),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(a_good_file_sets_what_it_names),
        cmocka_unit_test(overrides),
        cmocka_unit_test(relations_between_keys),
        cmocka_unit_test(resolved_config_round_trip),
        cmocka_unit_test(committed_default_yaml_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
