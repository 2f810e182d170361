// A KD round end to end on small synthetic data: a teacher that knows every class lifts a student
// that knows three; rounds are deterministic; the cache is reused; a diverging round is a failed
// result, not a crash.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kd/federation.h"
#include "kd/round.h"
#include "model/model.h"

typedef struct {
    data_splits splits;
    partition part;
    model_spec specs[2];
    char dir[64];
} world;

// Participant 0 holds 1,500 pool examples of every class; participant 1 holds the examples of
// classes 0, 1 and 2 among the other 500.
static void world_make(world *w) {
    memset(w, 0, sizeof *w);
    data_spec ds;
    data_spec_default(&ds);
    ds.synthetic = (synthetic_spec){3, 8, 10};
    ds.pool_size = 2000;
    ds.transfer_size = 1000;
    ds.val_size = 500;
    ds.test_size = 1000;
    ds.seed = 5;
    assert_int_equal(data_load_splits(&ds, &w->splits), KDT_OK);
    const dataset *pool = w->splits.pool;
    int n1 = 0;
    for (int i = 1500; i < 2000; i++) n1 += pool->y[i] < 3;
    assert_int_equal(partition_alloc(&w->part, 2, pool->n, pool->classes, 1500 + n1), KDT_OK);
    w->part.start[0] = 0;
    w->part.start[1] = 1500;
    w->part.start[2] = 1500 + n1;
    for (int i = 0; i < 1500; i++) w->part.index[i] = i;
    for (int i = 1500, k = 1500; i < 2000; i++)
        if (pool->y[i] < 3) w->part.index[k++] = i;
    for (int c = 0; c < 2; c++)
        w->specs[c] = (model_spec){.arch = MODEL_MLP, .in_c = 3, .in_h = 8, .in_w = 8, .num_classes = 10,
                                   .num_hidden = 1, .hidden = {64}};
    snprintf(w->dir, sizeof w->dir, "/tmp/kdt_round_%d", (int)getpid());
}

static kd_federation *federation(world *w, double kd_lr) {
    kd_federation_spec fs = {
        .participants = 2,
        .specs = w->specs,
        .pretrain = {.sgd = {0.05, 0.9, 5e-4, 30, 64, false, false}, .schedule = LR_COSINE},
        .kd = {kd_lr, 0.9, 5e-4, 5, 64, false, false},
        .seed = 5,
        .checkpoint_dir = w->dir,
        .workers = 1,
    };
    kd_federation *f = kd_federation_create(&fs, &w->splits, &w->part);
    assert_non_null(f);
    assert_int_equal(kd_federation_pretrain(f), KDT_OK);
    return f;
}

static void world_free(world *w) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    assert_int_equal(system(cmd), 0);
    partition_free(&w->part);
    data_splits_free(&w->splits);
}

static void teacher_lifts_a_student_that_lacks_classes(void **state) {
    (void)state;
    model_set_threads(1);
    world w;
    world_make(&w);
    kd_federation *f = federation(&w, 0.05);
    const kd_participant *teacher = kd_federation_participant(f, 0), *student = kd_federation_participant(f, 1);
    printf("# teacher test accuracy %.3f, student %.3f (3 classes of 10)\n", teacher->test_acc, student->test_acc);
    assert_true(teacher->test_acc > student->test_acc + 0.05);
    kd_round *r = kd_round_create(f);
    assert_non_null(r);
    kd_result res, again;
    kd_setting s = {.student = 1, .teacher = 0, .temperature = 4.0f, .alpha = 0.9f, .transfer = KD_UNLABELLED};
    assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
    printf("# KD T=4 alpha=0.9 unlabelled: test %.3f -> %.3f (gain %+.3f), forgetting %+.3f\n",
           res.student_test_before, res.student_test_after, res.test_gain, res.forgetting);
    assert_true(res.ok);
    assert_true(res.test_gain > 0.05); // a real lift, with a margin
    assert_true(fabs(res.test_gain - (res.student_test_after - res.student_test_before)) < 1e-12);
    // Deterministic: the same round again, and on another scratch object, gives the same numbers.
    assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
    assert_true(again.val_gain == res.val_gain && again.test_gain == res.test_gain &&
                again.forgetting == res.forgetting);
    kd_round *r2 = kd_round_create(f);
    assert_int_equal(kd_round_run(r2, &s, &again), KDT_OK);
    assert_true(again.test_gain == res.test_gain);
    // Every transfer set runs; student_data trains on the student's own three classes.
    for (int x = 0; x < 3; x++) {
        kd_setting sx = s;
        sx.transfer = (kd_transfer)x;
        assert_int_equal(kd_round_run(r, &sx, &again), KDT_OK);
        assert_true(again.ok && isfinite(again.val_gain));
    }
    // The teacher's logits are computed once and reused.
    kd_logits a, b;
    assert_int_equal(kd_federation_logits(f, 0, KD_ON_TRANSFER, &a), KDT_OK);
    assert_int_equal(kd_federation_logits(f, 0, KD_ON_TRANSFER, &b), KDT_OK);
    assert_ptr_equal(a.logits, b.logits);
    // Two different participants are required.
    kd_setting self = s;
    self.teacher = 1;
    assert_int_equal(kd_round_run(r, &self, &again), KDT_ERR_CONFIG);
    kd_round_destroy(r);
    kd_round_destroy(r2);
    kd_federation_destroy(f);
    world_free(&w);
}

static void a_diverging_round_fails_cleanly(void **state) {
    (void)state;
    model_set_threads(1);
    world w;
    world_make(&w);
    kd_federation *f = federation(&w, 1e6); // an absurd KD learning rate
    kd_round *r = kd_round_create(f);
    kd_result res;
    kd_setting s = {.student = 1, .teacher = 0, .temperature = 1.0f, .alpha = 0.5f, .transfer = KD_UNLABELLED};
    assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
    assert_false(res.ok);
    assert_true(isnan(res.val_gain));
    printf("# diverged: %s\n", res.reason);
    assert_true(strstr(res.reason, "loss became") || strstr(res.reason, "not finite"));
    kd_round_destroy(r);
    kd_federation_destroy(f);
    world_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(teacher_lifts_a_student_that_lacks_classes),
        cmocka_unit_test(a_diverging_round_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
