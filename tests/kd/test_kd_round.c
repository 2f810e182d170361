// A KD round end to end on small synthetic data: a teacher that knows every class lifts a student
// that knows three; rounds are deterministic; the cache is reused; a diverging round is a failed
// result, not a crash. The methods (dml, dpkd) and their limits, replicates, fidelity, per-image
// outcomes, bad settings, and rounds on two threads against the same rounds run serially.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

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
static void world_make_arch(world *w, model_arch arch) {
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
        w->specs[c] = (model_spec){.arch = arch, .in_c = 3, .in_h = 8, .in_w = 8, .num_classes = 10,
                                   .num_hidden = 1, .hidden = {64}};
    snprintf(w->dir, sizeof w->dir, "/tmp/kdt_round_%d", (int)getpid());
}

static void world_make(world *w) { world_make_arch(w, MODEL_MLP); }

static kd_federation *federation_with(world *w, double kd_lr, int pretrain_epochs, int kd_epochs, bool augment) {
    kd_federation_spec fs = {
        .participants = 2,
        .specs = w->specs,
        .pretrain = {.sgd = {0.05, 0.9, 5e-4, pretrain_epochs, 64, false, false}, .schedule = LR_COSINE},
        .kd = {kd_lr, 0.9, 5e-4, kd_epochs, 64, false, augment},
        .augment = {.crop = true, .crop_padding = 2, .flip = true},
        .seed = 5,
        .checkpoint_dir = w->dir,
        .workers = 1,
    };
    kd_federation *f = NULL;
    assert_int_equal(kd_federation_create(&f, &fs, &w->splits, &w->part), KDT_OK);
    assert_non_null(f);
    assert_int_equal(kd_federation_pretrain(f), KDT_OK);
    return f;
}

static kd_federation *federation(world *w, double kd_lr) { return federation_with(w, kd_lr, 30, 5, false); }

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
    kd_round *r = NULL;
    assert_int_equal(kd_round_create(&r, f), KDT_OK);
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
    kd_round *r2 = NULL;
    assert_int_equal(kd_round_create(&r2, f), KDT_OK);
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
    kd_round *r = NULL;
    assert_int_equal(kd_round_create(&r, f), KDT_OK);
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

// Bit equality of every measured field (NaN equals NaN); seconds are left out.
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }
static bool same_result(const kd_result *a, const kd_result *b) {
    const double *x[] = {&a->val_gain, &a->test_gain, &a->forgetting, &a->student_val_before,
                         &a->student_val_after, &a->student_test_before, &a->student_test_after,
                         &a->teacher_test, &a->peer_val_gain, &a->peer_test_gain, &a->peer_forgetting,
                         &a->peer_val_before, &a->peer_val_after, &a->peer_test_before,
                         &a->peer_test_after, &a->routed_fraction};
    const double *y[] = {&b->val_gain, &b->test_gain, &b->forgetting, &b->student_val_before,
                         &b->student_val_after, &b->student_test_before, &b->student_test_after,
                         &b->teacher_test, &b->peer_val_gain, &b->peer_test_gain, &b->peer_forgetting,
                         &b->peer_val_before, &b->peer_val_after, &b->peer_test_before,
                         &b->peer_test_after, &b->routed_fraction};
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        if (!same_bits(*x[i], *y[i])) return false;
    return a->ok == b->ok && a->val_images == b->val_images;
}

// The student's outcomes after the last round on r, copied (they live until the next round).
typedef struct {
    uint8_t val[256], test[256];
} outcomes;
static void outcomes_take(outcomes *o, const kd_round *r, const kd_federation *f) {
    const data_splits *sp = kd_federation_splits(f);
    assert_true(kd_bitset_bytes(sp->val->n) <= sizeof o->val && kd_bitset_bytes(sp->test->n) <= sizeof o->test);
    memset(o, 0, sizeof *o);
    assert_non_null(kd_round_correct(r, KD_SPLIT_VAL));
    memcpy(o->val, kd_round_correct(r, KD_SPLIT_VAL), kd_bitset_bytes(sp->val->n));
    memcpy(o->test, kd_round_correct(r, KD_SPLIT_TEST), kd_bitset_bytes(sp->test->n));
}

static void names_round_trip(void **state) {
    (void)state;
    for (int m = 0; m < KD_N_METHODS; m++) {
        kd_method back;
        assert_int_equal(kd_method_from_name(kd_method_name((kd_method)m), &back), KDT_OK);
        assert_int_equal(back, m);
    }
    assert_string_equal(kd_method_name(KD_METHOD_DPKD), "dpkd");
    kd_method m;
    assert_int_not_equal(kd_method_from_name("dkd", &m), KDT_OK);
    assert_non_null(strstr(kdt_errmsg(), "dkd"));
    for (int s = 0; s < KD_SPLIT_COUNT; s++) {
        kd_split back;
        assert_int_equal(kd_split_from_name(kd_split_name((kd_split)s), &back), KDT_OK);
        assert_int_equal(back, s);
    }
    kd_split sp;
    assert_int_equal(kd_split_from_name("train", &sp), KDT_ERR_CONFIG);
}

// Methods, limits, replicates, fidelity, outcomes and bad settings on one federation.
static void methods_replicates_fidelity_and_outcomes(void **state) {
    (void)state;
    model_set_threads(1);
    world w;
    world_make(&w);
    kd_federation *f = federation_with(&w, 0.05, 30, 3, false);
    const data_splits *sp = kd_federation_splits(f);
    kd_round *r = NULL;
    assert_int_equal(kd_round_create(&r, f), KDT_OK);
    assert_non_null(r);
    const kd_setting base = {.student = 1, .teacher = 0, .temperature = 4.0f, .alpha = 0.7f, .transfer = KD_UNLABELLED};
    kd_result kd, res, again;
    assert_int_equal(kd_round_run(r, &base, &kd), KDT_OK);
    assert_true(kd.ok && isnan(kd.peer_val_gain) && isnan(kd.peer_forgetting) && isnan(kd.routed_fraction));
    assert_null(kd_round_peer_correct(r, KD_SPLIT_VAL));

    // Before KD: the federation's outcomes count to its accuracies exactly.
    for (int c = 0; c < 2; c++) {
        const kd_participant *p = kd_federation_participant(f, c);
        assert_true((double)kd_bitset_count(kd_federation_correct(f, c, KD_SPLIT_VAL), sp->val->n) / sp->val->n == p->val_acc);
        assert_true((double)kd_bitset_count(kd_federation_correct(f, c, KD_SPLIT_TEST), sp->test->n) / sp->test->n == p->test_acc);
    }

    for (int x = 0; x < 3; x++) {
        kd_setting s = base;
        s.transfer = (kd_transfer)x;
        // DML: both participants train; both are measured and their outcomes count exactly.
        s.method = KD_METHOD_DML;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        printf("# dml %d: student val %+.3f test %+.3f, peer val %+.3f test %+.3f forgetting %+.3f\n", x,
               res.val_gain, res.test_gain, res.peer_val_gain, res.peer_test_gain, res.peer_forgetting);
        assert_true(res.ok && isfinite(res.peer_val_gain) && isfinite(res.peer_test_gain) && isfinite(res.peer_forgetting));
        assert_true(res.peer_test_before == kd_federation_participant(f, 0)->test_acc);
        assert_true(res.peer_val_gain == res.peer_val_after - res.peer_val_before);
        assert_true(isnan(res.routed_fraction));
        assert_true((double)kd_bitset_count(kd_round_correct(r, KD_SPLIT_VAL), sp->val->n) / sp->val->n == res.student_val_after);
        assert_true((double)kd_bitset_count(kd_round_correct(r, KD_SPLIT_TEST), sp->test->n) / sp->test->n == res.student_test_after);
        assert_true((double)kd_bitset_count(kd_round_peer_correct(r, KD_SPLIT_VAL), sp->val->n) / sp->val->n == res.peer_val_after);
        assert_true((double)kd_bitset_count(kd_round_peer_correct(r, KD_SPLIT_TEST), sp->test->n) / sp->test->n == res.peer_test_after);
        // The peer really trained: its outcomes moved (the pre-trained teacher's are the federation's).
        assert_memory_not_equal(kd_round_peer_correct(r, KD_SPLIT_TEST), kd_federation_correct(f, 0, KD_SPLIT_TEST),
                                kd_bitset_bytes(sp->test->n));
        // DP-KD: a routed fraction; the cache and the per-batch recomputation agree.
        s.method = KD_METHOD_DPKD;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        printf("# dpkd %d: val %+.3f, routed to the teacher %.3f\n", x, res.val_gain, res.routed_fraction);
        assert_true(res.ok && res.routed_fraction > 0.0 && res.routed_fraction < 1.0);
        assert_true(isnan(res.peer_val_gain));
        kd_round_use_cache(r, false);
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        kd_round_use_cache(r, true);
        assert_true(same_result(&res, &again));

        // alpha = 0 is anchor training: dml's student (the peer cannot reach it) is kd's student,
        // and dpkd too where its anchor is kd's (its unlabelled anchor is the routed label).
        kd_setting z = s;
        z.alpha = 0.0f;
        kd_result k0, m0;
        z.method = KD_METHOD_KD;
        assert_int_equal(kd_round_run(r, &z, &k0), KDT_OK);
        z.method = KD_METHOD_DML;
        assert_int_equal(kd_round_run(r, &z, &m0), KDT_OK);
        assert_true(m0.val_gain == k0.val_gain && m0.test_gain == k0.test_gain && m0.forgetting == k0.forgetting);
        z.method = KD_METHOD_DPKD;
        assert_int_equal(kd_round_run(r, &z, &m0), KDT_OK);
        if (x != KD_UNLABELLED)
            assert_true(m0.val_gain == k0.val_gain && m0.test_gain == k0.test_gain && m0.forgetting == k0.forgetting);

        // DML with a frozen peer is KD with the teacher recomputed per batch, bit for bit.
        kd_round_use_cache(r, false);
        kd_round_freeze_peer(r, true);
        s.method = KD_METHOD_KD;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        s.method = KD_METHOD_DML;
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        assert_true(res.val_gain == again.val_gain && res.test_gain == again.test_gain &&
                    res.forgetting == again.forgetting);
        assert_true(again.peer_test_gain == 0.0 && again.peer_val_gain == 0.0); // it did not move
        kd_round_freeze_peer(r, false);
        kd_round_use_cache(r, true);
    }

    // DP-KD's cached routing follows the pair: the reverse pair in between changes nothing.
    {
        kd_setting s = base, rev = base;
        s.method = rev.method = KD_METHOD_DPKD;
        rev.student = 0, rev.teacher = 1;
        kd_round_use_cache(r, false);
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        kd_round_use_cache(r, true);
        assert_int_equal(kd_round_run(r, &rev, &again), KDT_OK);
        assert_true(again.routed_fraction != res.routed_fraction);
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        assert_true(same_result(&res, &again));
    }

    // alpha = 0 on the student's own data, computed by hand: fine-tuning with the true labels on
    // the round's batches (its stream: seed, pair, transfer set), the same optimizer settings.
    {
        const kd_federation_spec *fs = kd_federation_spec_of(f);
        kd_setting z = base;
        z.alpha = 0.0f;
        z.transfer = KD_STUDENT_DATA;
        assert_int_equal(kd_round_run(r, &z, &res), KDT_OK);
        model *m = model_create(&w.specs[1], 64);
        sgd *opt = sgd_create(m, (float)fs->kd.lr, (float)fs->kd.momentum, (float)fs->kd.weight_decay, fs->kd.nesterov);
        int n;
        const int *idx = partition_indices(&w.part, 1, &n);
        batcher *bt = batcher_create(sp->pool, idx, n, 64, NULL);
        float *x = malloc(sizeof *x * 64 * 192), dl[64 * 10];
        int y[64], b;
        model_copy_params(m, kd_federation_model(f, 1));
        rng order = rng_stream(fs->seed, "kd-round", 1 * 64 + 0, KD_STUDENT_DATA);
        for (int e = 0; e < fs->kd.epochs; e++) {
            batcher_epoch(bt, &order);
            while ((b = batcher_next(bt, x, y)) > 0) {
                model_zero_grad(m);
                memset(dl, 0, sizeof dl);
                kd_hard_loss(dl, 1.0f, model_forward(m, x, b, true), y, b, 10);
                model_backward(m, dl);
                sgd_step(opt, (float)fs->kd.lr);
            }
        }
        double val = kd_evaluate(m, sp->val, NULL), test = kd_evaluate(m, sp->test, NULL);
        printf("# alpha 0 on own data: round val %.4f test %.4f, by hand val %.4f test %.4f\n",
               res.student_val_after, res.student_test_after, val, test);
        assert_true(val == res.student_val_after && test == res.student_test_after);
        free(x);
        batcher_destroy(bt);
        sgd_destroy(opt);
        model_destroy(m);
    }

    // Replicates: 0 is the original stream; 1 is another one, itself deterministic; 2 a third.
    {
        kd_setting s = base;
        outcomes o0, o1, o2;
        s.replicate = 0;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        assert_true(same_result(&res, &kd));
        outcomes_take(&o0, r, f);
        s.replicate = 1;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        outcomes_take(&o1, r, f);
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        assert_true(same_result(&res, &again));
        s.replicate = 2;
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        outcomes_take(&o2, r, f);
        printf("# replicates 0, 1, 2: test gain %+.4f %+.4f %+.4f\n", kd.test_gain, res.test_gain, again.test_gain);
        assert_memory_not_equal(o0.test, o1.test, sizeof o0.test);
        assert_memory_not_equal(o1.test, o2.test, sizeof o1.test);
        // Replicates change the KD randomness only: the student and its "before" are the same.
        assert_true(res.student_val_before == kd.student_val_before && res.student_test_before == kd.student_test_before);
    }

    // Fidelity: 1 and 0 (unset) are the full round; 0.5 trains on half the transfer set and scores
    // half the validation images (paired), the test split in full.
    {
        kd_setting s = base;
        outcomes full, one;
        assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
        outcomes_take(&full, r, f);
        int nv;
        assert_null(kd_round_val_images(r, &nv));
        assert_int_equal(nv, sp->val->n);
        s.fidelity = 1.0f;
        assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
        outcomes_take(&one, r, f);
        assert_true(same_result(&res, &again) && same_result(&res, &kd));
        assert_memory_equal(&full, &one, sizeof full);
        for (int x = 0; x < 3; x++) {
            s.transfer = (kd_transfer)x;
            s.fidelity = 0.3f;
            assert_int_equal(kd_round_run(r, &s, &res), KDT_OK);
            assert_true(res.ok);
            const int *vi = kd_round_val_images(r, &nv);
            assert_non_null(vi);
            assert_int_equal(nv, (int)ceil(0.3 * sp->val->n));
            assert_int_equal(res.val_images, nv);
            const uint8_t *after = kd_round_correct(r, KD_SPLIT_VAL);
            const uint8_t *before = kd_federation_correct(f, 1, KD_SPLIT_VAL);
            int a = 0, b = 0;
            for (int i = 0; i < nv; i++) a += kd_bit(after, vi[i]), b += kd_bit(before, vi[i]);
            assert_int_equal(kd_bitset_count(after, sp->val->n), a); // nothing outside the subset
            assert_true((double)a / nv == res.student_val_after && (double)b / nv == res.student_val_before);
            assert_true((double)kd_bitset_count(kd_round_correct(r, KD_SPLIT_TEST), sp->test->n) / sp->test->n ==
                        res.student_test_after);
            assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
            assert_true(same_result(&res, &again));
            s.fidelity = 1.0f;
            assert_int_equal(kd_round_run(r, &s, &again), KDT_OK);
            printf("# fidelity 0.3 / 1, transfer %d: val gain %+.4f / %+.4f, test gain %+.4f / %+.4f\n", x,
                   res.val_gain, again.val_gain, res.test_gain, again.test_gain);
            assert_true(res.test_gain != again.test_gain || res.forgetting != again.forgetting);
        }
    }

    // Bad settings are errors with a message, not crashes.
    const struct {
        kd_setting s;
        const char *says;
    } bad[] = {
        {{1, 0, 0.0f, 0.5f, KD_UNLABELLED, KD_METHOD_KD, 0, 0.0f}, "temperature"},
        {{1, 0, NAN, 0.5f, KD_UNLABELLED, KD_METHOD_KD, 0, 0.0f}, "temperature"},
        {{1, 0, 2.0f, 1.5f, KD_UNLABELLED, KD_METHOD_KD, 0, 0.0f}, "alpha"},
        {{1, 0, 2.0f, 0.5f, (kd_transfer)7, KD_METHOD_KD, 0, 0.0f}, "transfer"},
        {{1, 0, 2.0f, 0.5f, KD_UNLABELLED, (kd_method)9, 0, 0.0f}, "method"},
        {{1, 0, 2.0f, 0.5f, KD_UNLABELLED, KD_METHOD_DML, -1, 0.0f}, "replicate"},
        {{1, 0, 2.0f, 0.5f, KD_UNLABELLED, KD_METHOD_DPKD, 0, 1.5f}, "fidelity"},
        {{1, 0, 2.0f, 0.5f, KD_UNLABELLED, KD_METHOD_DPKD, 0, -0.5f}, "fidelity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(kd_round_run(r, &bad[i].s, &res), KDT_ERR_CONFIG);
        if (!strstr(kdt_errmsg(), bad[i].says)) fail_msg("case %zu: '%s' lacks '%s'", i, kdt_errmsg(), bad[i].says);
        assert_null(kd_round_correct(r, KD_SPLIT_VAL));
    }
    kd_round_destroy(r);
    kd_federation_destroy(f);
    world_free(&w);
}

// DML's result does not depend on the engine's thread count.
static void dml_is_the_same_at_one_and_two_threads(void **state) {
    (void)state;
    world w;
    world_make(&w);
    model_set_threads(1);
    kd_federation *f = federation_with(&w, 0.05, 30, 3, false);
    kd_round *r = NULL;
    assert_int_equal(kd_round_create(&r, f), KDT_OK);
    kd_result one, two;
    for (int x = 0; x < 3; x++) {
        kd_setting s = {.student = 1, .teacher = 0, .temperature = 2.0f, .alpha = 0.5f,
                        .transfer = (kd_transfer)x, .method = KD_METHOD_DML};
        model_set_threads(1);
        assert_int_equal(kd_round_run(r, &s, &one), KDT_OK);
        model_set_threads(2);
        assert_int_equal(kd_round_run(r, &s, &two), KDT_OK);
        assert_true(one.ok && same_result(&one, &two));
    }
    model_set_threads(1);
    kd_round_destroy(r);
    kd_federation_destroy(f);
    world_free(&w);
}

// With augmentation (no cache), two rounds on two threads at once give what they give serially:
// each kd_round runs its own frozen copies, so nothing but read-only data is shared.
static void rounds_on_threads_match_serial(model_arch arch) {
    model_set_threads(1);
    world w;
    world_make_arch(&w, arch);
    kd_federation *f = federation_with(&w, 0.05, arch == MODEL_MLP ? 30 : 4, 2, true);
    kd_round *r[2] = {NULL, NULL};
    assert_int_equal(kd_round_create(&r[0], f), KDT_OK);
    assert_int_equal(kd_round_create(&r[1], f), KDT_OK);
    assert_non_null(r[0]);
    assert_non_null(r[1]);
    const kd_setting set[4] = {
        {1, 0, 4.0f, 0.7f, KD_UNLABELLED, KD_METHOD_KD, 0, 0.0f},
        {0, 1, 2.0f, 0.5f, KD_UNLABELLED_SELF, KD_METHOD_KD, 0, 0.0f},
        {1, 0, 3.0f, 0.5f, KD_UNLABELLED, KD_METHOD_DML, 1, 0.0f},
        {0, 1, 2.0f, 0.6f, KD_UNLABELLED_SELF, KD_METHOD_DPKD, 0, 0.0f},
    };
    kd_result serial[4], parallel[4];
    kdt_status st[4];
    for (int i = 0; i < 4; i++) assert_int_equal(kd_round_run(r[i % 2], &set[i], &serial[i]), KDT_OK);
    for (int pass = 0; pass < 2; pass++) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
        for (int t = 0; t < 2; t++)
            for (int i = t; i < 4; i += 2) st[i] = kd_round_run(r[t], &set[i], &parallel[i]);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(st[i], KDT_OK);
            if (!same_result(&serial[i], &parallel[i]))
                fail_msg("%s round %d: test gain %.17g serially, %.17g on two threads", model_arch_name(arch), i,
                         serial[i].test_gain, parallel[i].test_gain);
        }
    }
    printf("# %s with augmentation: 4 rounds on 2 threads, twice, equal the serial ones\n", model_arch_name(arch));
    kd_round_destroy(r[0]);
    kd_round_destroy(r[1]);
    kd_federation_destroy(f);
    world_free(&w);
}

static void rounds_on_threads_match_serial_mlp(void **state) {
    (void)state;
    rounds_on_threads_match_serial(MODEL_MLP);
}

static void rounds_on_threads_match_serial_cnn(void **state) {
    (void)state;
    rounds_on_threads_match_serial(MODEL_CNN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(teacher_lifts_a_student_that_lacks_classes),
        cmocka_unit_test(a_diverging_round_fails_cleanly),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(methods_replicates_fidelity_and_outcomes),
        cmocka_unit_test(dml_is_the_same_at_one_and_two_threads),
        cmocka_unit_test(rounds_on_threads_match_serial_mlp),
        cmocka_unit_test(rounds_on_threads_match_serial_cnn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
