// The summary's figures on a small hand-made set of trials whose answers are known.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/recommend.h"
#include "app/summary.h"
#include "common/fs.h"

static store_eval make(const char *strategy, int i, int j, int index, double T, double alpha, int transfer,
                       int position, double val, double test, double forget) {
    store_eval t;
    memset(&t, 0, sizeof t);
    snprintf(t.run.strategy, sizeof t.run.strategy, "%s", strategy);
    t.run.i = i, t.run.j = j, t.run.fixed_position = -1, t.index = index;
    t.run.budget = strcmp(strategy, "gp") == 0 ? 15 : 0; // tuner.budget's default
    t.setting = (store_setting){.i = i, .j = j, .position = (kd_position)position, .temperature = T, .alpha = alpha,
                                .transfer = (kd_transfer)transfer, .fidelity = 1};
    t.result.ok = true, t.result.val_gain = val, t.result.test_gain = test, t.result.forgetting = forget;
    return t;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void figures_of_a_small_run(void **state) {
    (void)state;
    kdt_config *cfg = malloc(sizeof *cfg);
    config_default(cfg);
    config_set(cfg, "federation.participants=3");
    enum { U = KD_UNLABELLED, S = KD_STUDENT_DATA, F = KD_FORWARD, R = KD_REVERSE };
    store_eval t[] = {
        // pair (0, 1): default 1 point; best untuned (student_data, reverse) by val
        make("default", 0, 1, 0, 1.0, 0.5, U, F, 0.010, 0.010, 0.00),
        make("default", 0, 1, 0, 1.0, 0.5, S, R, 0.030, 0.020, 0.00),
        // pair (0, 1): grid best T=4, alpha=0.9 forward: val 5, test 4 points
        make("grid", 0, 1, 0, 1.0, 0.5, U, F, 0.010, 0.010, 0.02),
        make("grid", 0, 1, 1, 4.0, 0.9, U, F, 0.050, 0.040, 0.04),
        make("grid", 0, 1, 2, 4.0, 0.9, S, R, 0.020, 0.015, -0.02),
        // pair (0, 2): default 2 points; grid best is the default itself (val 3, test 3)
        make("default", 0, 2, 0, 1.0, 0.5, U, F, 0.020, 0.020, 0.00),
        make("grid", 0, 2, 0, 1.0, 0.5, U, F, 0.030, 0.030, 0.00),
        make("grid", 0, 2, 1, 8.0, 0.1, S, R, 0.025, 0.028, 0.00),
        // gp on (0, 1): recommends index 1 (val 4.8, test 3.5), reached within eps=0.5 at 2
        make("gp", 0, 1, 0, 2.0, 0.7, U, F, 0.030, 0.020, 0.0),
        make("gp", 0, 1, 1, 3.5, 0.9, U, F, 0.048, 0.035, 0.0),
        make("gp", 0, 1, 2, 9.0, 0.2, U, F, 0.000, 0.000, 0.0),
        // gp on (0, 2): recommends index 0 (val 1, test 1), never within eps
        make("gp", 0, 2, 0, 1.5, 0.5, U, F, 0.010, 0.010, 0.0),
    };
    // The runs' recommendation lines.
    store_recommendation rec[] = {{{"gp", 0, 1, -1, 15}, 3, 1}, {{"gp", 0, 2, -1, 15}, 1, 0}};
    size_t n = sizeof t / sizeof t[0], n_rec = sizeof rec / sizeof rec[0];
    summary s;
    assert_int_equal(summary_compute(&s, t, n, rec, n_rec, cfg), KDT_OK);
    assert_int_equal(s.n_pairs, 2);
    NEAR(s.default_mean_test, (0.010 + 0.020) / 2);
    NEAR(s.best_untuned_mean_test, (0.020 + 0.020) / 2);
    assert_true(s.has_grid);
    NEAR(s.grid.mean_test_gain, (0.040 + 0.030) / 2);
    NEAR(s.frac_grid_best_not_default, 0.5);
    // forgetting over grid trials: unlabelled (0.02 + 0.04 + 0) / 3, student_data (-0.02 + 0) / 2
    NEAR(s.forgetting_by_transfer[U], 0.02);
    NEAR(s.forgetting_by_transfer[S], -0.01);
    // position: (0,1) forward best test 4, reverse 1.5 -> matters; (0,2) 3 vs 2.8 -> not
    NEAR(s.frac_position_matters, 0.5);
    assert_int_equal(s.n_strategies, 1);
    summary_strategy *gp = &s.strategies[0];
    assert_string_equal(gp->name, "gp");
    assert_int_equal(gp->pairs, 2);
    NEAR(gp->mean_evals, 2.0);
    NEAR(gp->mean_test_gain, (0.035 + 0.010) / 2);
    NEAR(gp->mean_val_regret, ((0.050 - 0.048) + (0.030 - 0.010)) / 2);
    NEAR(gp->mean_test_regret, ((0.040 - 0.035) + (0.030 - 0.010)) / 2);
    NEAR(gp->frac_within_eps, 0.5);
    NEAR(gp->mean_evals_to_eps, 2.0);
    // improvement over the default, in points over every pair (no ratio over a chosen subset)
    NEAR(gp->improvement_points_mean, ((0.035 - 0.010) + (0.010 - 0.020)) / 2);
    // best-so-far curve: (0,1): 3, 4.8, 4.8; (0,2): 1, then held at 1
    assert_int_equal(gp->curve_len, 3);
    NEAR(gp->curve[0], (0.030 + 0.010) / 2);
    NEAR(gp->curve[1], (0.048 + 0.010) / 2);
    NEAR(gp->curve[2], (0.048 + 0.010) / 2);
    assert_memory_equal(s.pairs[0].tuned[0].best, &t[9], sizeof t[9]);
    // The table names every row; the JSON file is written.
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    summary_print_table(&s, mem);
    fclose(mem);
    assert_non_null(strstr(buf, "default"));
    assert_non_null(strstr(buf, "grid"));
    assert_non_null(strstr(buf, "gp"));
    assert_non_null(strstr(buf, "No per-image outcomes")); // no store here: no tests, and it says so
    free(buf);
    char path[64] = "/tmp/kdt_summary_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(summary_write_json(&s, cfg, path), KDT_OK);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    assert_non_null(root);
    NEAR(json_real_value(json_object_get(json_object_get(root, "findings"), "fraction_position_matters")), 0.5);
    json_decref(root);
    remove(path);

    // recommended.yaml: pair (0, 1) gets the grid's best (val 5 beats gp's 4.8), pair (0, 2) the
    // grid's best too; kdtune's reader and PyYAML both read it back.
    snprintf(path, sizeof path, "/tmp/kdt_recommended_%d.yaml", (int)getpid());
    assert_int_equal(recommend_write(&s, cfg, path), KDT_OK);
    recommend_setting r;
    assert_int_equal(recommend_read(path, 0, 1, &r), KDT_OK);
    assert_true(r.temperature == 4.0 && r.alpha == 0.9);
    assert_int_equal(r.transfer_set, U);
    assert_int_equal(r.position, F);
    assert_int_equal(r.student, 1);
    assert_int_equal(r.teacher, 0);
    assert_int_equal(recommend_read(path, 1, 2, &r), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "no recommendation for pair 1,2"));
    if (system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import yaml,sys; d=yaml.safe_load(open('%s')); "
                 "p=d['pairs'][0]; sys.exit(0 if d['alpha_weights']=='soft_target' and "
                 "p['pair']==[0,1] and p['temperature']==4.0 and isinstance(p['alpha'], float) and "
                 "p['strategy']=='grid' and p['evaluations']==8 and p['tuned_gp']['test_gain']==0.035 "
                 "and d['default']['temperature']==1.0 else 1)\"", path);
        assert_int_equal(system(cmd), 0);
    } else {
        printf("# PyYAML (python3-yaml) not installed: the PyYAML read-back is skipped\n");
    }
    remove(path);
    // A file that is not a recommendation, and a damaged one, are refused with the reason.
    assert_int_equal(fs_write_atomic(path, "a: [1\n", 6), KDT_OK);
    assert_int_equal(recommend_read(path, 0, 1, &r), KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "malformed YAML"));
    assert_int_equal(fs_write_atomic(path, "a: 1\n", 5), KDT_OK);
    assert_int_equal(recommend_read(path, 0, 1, &r), KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "not a kdtune recommended.yaml"));
    remove(path);
    summary_free(&s);

    // With a default the grid does not hold, how often the grid's best is the default is unknown.
    config_set(cfg, "kd.temperature=3.0");
    assert_int_equal(summary_compute(&s, t, n, rec, n_rec, cfg), KDT_OK);
    assert_true(isnan(s.frac_grid_best_not_default));
    summary_free(&s);
    config_set(cfg, "kd.temperature=1.0");

    // A journal from another config (pair beyond the participants) is refused.
    config_set(cfg, "federation.participants=2");
    assert_int_equal(summary_compute(&s, t, n, rec, n_rec, cfg), KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "the journal belongs to another config"));
    free(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(figures_of_a_small_run)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
