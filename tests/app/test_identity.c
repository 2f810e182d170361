// An evaluation's identity covers every KD training setting: the same config gives the same
// identity, and changing any kd.* training key (or what the participants depend on) gives another,
// so that a changed KD configuration never reads back a stale result.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/config.h"
#include "app/evaluator.h"

static void every_kd_training_key_changes_the_identity(void **state) {
    (void)state;
    kdt_config *base = malloc(sizeof *base), *cfg = malloc(sizeof *cfg);
    config_default(base);
    *cfg = *base;
    assert_true(evaluator_identity(cfg) == evaluator_identity(base));
    // The default setting, the space, the grid and the tuner do not change what a setting yields.
    const char *same[] = {"kd.temperature=3.0", "kd.alpha=0.9", "kd.transfer_set=student_data", "tuner.budget=3",
                          "grid.alphas=[0.5]", "space.alpha=[0.2, 0.8]", "output.plots=false"};
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        *cfg = *base;
        assert_int_equal(config_set(cfg, same[k]), KDT_OK);
        if (evaluator_identity(cfg) != evaluator_identity(base)) fail_msg("%s changed the identity", same[k]);
    }
    const char *changed[] = {"kd.epochs=3", "kd.lr=0.02", "kd.batch_size=32", "kd.momentum=0.5",
                             "kd.nesterov=true", "kd.weight_decay=0.001", "kd.augment=true",
                             "experiment.seed=2", "pretrain.epochs=3", "data.val_size=999", "model.mlp_hidden=[64]",
                             "partition.dirichlet_alpha=0.3"};
    for (size_t k = 0; k < sizeof changed / sizeof changed[0]; k++) {
        *cfg = *base;
        assert_int_equal(config_set(cfg, changed[k]), KDT_OK);
        if (evaluator_identity(cfg) == evaluator_identity(base)) fail_msg("%s kept the identity", changed[k]);
    }
    // With augmentation on, its parameters matter too.
    *cfg = *base;
    config_set(cfg, "kd.augment=true");
    uint64_t aug = evaluator_identity(cfg);
    config_set(cfg, "data.augment.crop_padding=3");
    assert_true(evaluator_identity(cfg) != aug);
    free(base);
    free(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_kd_training_key_changes_the_identity)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
