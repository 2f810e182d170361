// One KD round: the student copy, the transfer batches, the KD loss, and the measurements.
#include "kd/round.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timer.h"

struct kd_round {
    kd_federation *f;
    int P, K, B, ex;
    bool use_cache;
    model **student;   // (P) scratch student per participant; participants of one spec share it
    sgd **opt;         // (P) its optimizer
    batcher *on_transfer;
    batcher **on_own;  // (P) each participant's local data, for the student_data transfer set
    float *x, *dlogits, *zt, *zs0;   // (B, C, H, W), (B, K), (B, K), (B, K)
    int *y;                          // (B)
    double *class_acc;               // (K)
};

static bool same_spec(const model_spec *a, const model_spec *b) { return memcmp(a, b, sizeof *a) == 0; }

kd_round *kd_round_create(kd_federation *f) {
    kd_round *r = calloc(1, sizeof *r);
    if (!r) goto nomem;
    const kd_federation_spec *fs = kd_federation_spec_of(f);
    const data_splits *sp = kd_federation_splits(f);
    r->f = f;
    r->use_cache = true;
    r->P = fs->participants;
    r->K = sp->pool->classes;
    r->B = fs->kd.batch_size;
    r->ex = dataset_example_size(sp->pool);
    r->student = calloc((size_t)r->P, sizeof *r->student);
    r->opt = calloc((size_t)r->P, sizeof *r->opt);
    r->x = malloc(sizeof *r->x * (size_t)r->B * r->ex);
    r->dlogits = malloc(sizeof *r->dlogits * (size_t)r->B * r->K);
    r->zt = malloc(sizeof *r->zt * (size_t)r->B * r->K);
    r->zs0 = malloc(sizeof *r->zs0 * (size_t)r->B * r->K);
    r->y = malloc(sizeof *r->y * (size_t)r->B);
    r->class_acc = malloc(sizeof *r->class_acc * (size_t)r->K);
    const augment_spec *aug = fs->kd.augment ? &fs->augment : NULL;
    r->on_transfer = batcher_create(sp->transfer, NULL, sp->transfer->n, r->B, aug);
    r->on_own = calloc((size_t)r->P, sizeof *r->on_own);
    if (!r->on_own) goto nomem;
    for (int c = 0; c < r->P; c++) {
        int n;
        const int *idx = partition_indices(kd_federation_partition(f), c, &n);
        if (!(r->on_own[c] = batcher_create(sp->pool, idx, n, r->B, aug))) goto fail;
    }
    if (!r->student || !r->opt || !r->x || !r->dlogits || !r->zt || !r->zs0 || !r->y ||
        !r->class_acc || !r->on_transfer)
        goto nomem;
    for (int c = 0; c < r->P; c++) {
        for (int d = 0; d < c && !r->student[c]; d++)
            if (same_spec(&fs->specs[c], &fs->specs[d])) r->student[c] = r->student[d], r->opt[c] = r->opt[d];
        if (r->student[c]) continue;
        if (!(r->student[c] = model_create(&fs->specs[c], r->B > 64 ? r->B : 64))) goto fail;
        r->opt[c] = sgd_create(r->student[c], (float)fs->kd.lr, (float)fs->kd.momentum,
                               (float)fs->kd.weight_decay, fs->kd.nesterov);
        if (!r->opt[c]) goto fail;
    }
    return r;
nomem:
    kdt_fail(KDT_ERR_NOMEM, "out of memory preparing KD rounds");
fail:
    kd_round_destroy(r);
    return NULL;
}

void kd_round_use_cache(kd_round *r, bool on) { r->use_cache = on; }

void kd_round_destroy(kd_round *r) {
    if (!r) return;
    for (int c = 0; r->student && c < r->P; c++) {
        bool shared = false;
        for (int d = 0; d < c; d++) shared |= r->student[d] == r->student[c];
        if (shared) continue;
        model_destroy(r->student[c]);
        if (r->opt) sgd_destroy(r->opt[c]);
    }
    free(r->student);
    free(r->opt);
    batcher_destroy(r->on_transfer);
    for (int c = 0; r->on_own && c < r->P; c++) batcher_destroy(r->on_own[c]);
    free(r->on_own);
    free(r->x);
    free(r->dlogits);
    free(r->zt);
    free(r->zs0);
    free(r->y);
    free(r->class_acc);
    free(r);
}

// Copies the rows idx[0..b) of a cached (n, K) logit table into out (b, K).
static void gather_rows(float *out, const float *table, const int *idx, int b, int K) {
    for (int i = 0; i < b; i++) memcpy(out + (size_t)i * K, table + (size_t)idx[i] * K, sizeof *out * K);
}

kdt_status kd_round_run(kd_round *r, const kd_setting *s, kd_result *out) {
    double t0 = timer_now();
    memset(out, 0, sizeof *out);
    kd_federation *f = r->f;
    const kd_federation_spec *fs = kd_federation_spec_of(f);
    const data_splits *sp = kd_federation_splits(f);
    const int K = r->K, S = s->student, T = s->teacher;
    if (S < 0 || S >= r->P || T < 0 || T >= r->P || S == T)
        return kdt_fail(KDT_ERR_CONFIG, "KD needs two different participants in [0, %d), got "
                        "student %d and teacher %d", r->P, S, T);
    const kd_participant *ps = kd_federation_participant(f, S), *pt = kd_federation_participant(f, T);
    out->student_val_before = ps->val_acc;
    out->student_test_before = ps->test_acc;
    out->teacher_test = pt->test_acc;

    // The transfer set: the public one, or the student's own data (the pool, its indices).
    bool own = s->transfer == KD_STUDENT_DATA;
    kd_logit_set set = own ? KD_ON_POOL : KD_ON_TRANSFER;
    batcher *bt = own ? r->on_own[S] : r->on_transfer;
    // Cached logits apply only to unaugmented images; with augmentation they are computed per batch.
    bool cached = !fs->kd.augment && r->use_cache;
    kd_logits teacher = {0}, self = {0};
    kdt_status st = KDT_OK;
    if (cached) {
        st = kd_federation_logits(f, T, set, &teacher);
        if (!st && s->transfer == KD_UNLABELLED_SELF) st = kd_federation_logits(f, S, set, &self);
    }
    if (st) return st;

    model *m = r->student[S];
    sgd *opt = r->opt[S];
    model_copy_params(m, kd_federation_model(f, S));
    sgd_reset(opt);
    rng order = rng_stream(fs->seed, "kd-round", (uint64_t)S * 64 + (uint64_t)T, (uint64_t)s->transfer);
    out->ok = true;
    for (int e = 0; e < fs->kd.epochs && out->ok; e++) {
        batcher_epoch(bt, &order);
        int b, step = 0;
        while ((b = batcher_next(bt, r->x, r->y)) > 0) {
            const int *idx = batcher_batch_indices(bt);
            if (!cached) {
                memcpy(r->zt, model_forward(kd_federation_model(f, T), r->x, b, false), sizeof *r->zt * b * K);
                if (s->transfer == KD_UNLABELLED_SELF)
                    memcpy(r->zs0, model_forward(kd_federation_model(f, S), r->x, b, false), sizeof *r->zs0 * b * K);
                if (s->transfer == KD_UNLABELLED) kd_argmax(r->y, r->zt, b, K);
            } else {
                gather_rows(r->zt, teacher.logits, idx, b, K);
                if (s->transfer == KD_UNLABELLED_SELF) gather_rows(r->zs0, self.logits, idx, b, K);
                if (s->transfer == KD_UNLABELLED)
                    for (int i = 0; i < b; i++) r->y[i] = teacher.argmax[idx[i]];
            }
            // Transfer-set labels are never read: y holds pseudo-labels or, on own data, true labels.
            model_zero_grad(m);
            const float *zs = model_forward(m, r->x, b, true);
            double loss = kd_loss(r->dlogits, zs, r->zt, r->zs0, r->y, b, K, s->temperature, s->alpha, s->transfer);
            if (!isfinite(loss)) {
                out->ok = false;
                snprintf(out->reason, sizeof out->reason, "the loss became %g at epoch %d, step %d",
                         loss, e + 1, step + 1);
                break;
            }
            model_backward(m, r->dlogits);
            sgd_step(opt, (float)fs->kd.lr);
            step++;
        }
    }
    if (out->ok) {
        out->student_val_after = kd_evaluate(m, sp->val, NULL);
        out->student_test_after = kd_evaluate(m, sp->test, r->class_acc);
        out->val_gain = out->student_val_after - out->student_val_before;
        out->test_gain = out->student_test_after - out->student_test_before;
        out->forgetting = ps->own_test_acc - kd_own_accuracy(kd_federation_own_props(f, S), r->class_acc, K);
        if (!isfinite(out->val_gain)) {
            out->ok = false;
            snprintf(out->reason, sizeof out->reason, "the student's outputs are not finite after KD");
        }
    }
    if (!out->ok) {
        out->val_gain = out->test_gain = out->forgetting = NAN;
        out->student_val_after = out->student_test_after = NAN;
    }
    out->seconds = timer_now() - t0;
    return KDT_OK;
}
