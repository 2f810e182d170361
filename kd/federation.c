// Pre-training of the participants, their checkpoints and accuracies, and the logit cache.
#include "kd/federation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/timer.h"
#include "kd/loss.h"

struct kd_federation {
    kd_federation_spec spec;
    model_spec *specs;              // (P) owned copy
    const data_splits *splits;
    const partition *part;
    int classes;
    model **models;                 // (P) pre-trained
    kd_participant *info;           // (P)
    double *own_props;              // (P, K)
    float *logits[2][64];           // [set][cid] (n, K), lazily
    uint8_t *correct[KD_SPLIT_COUNT][64]; // [split][cid] per-image outcomes after pre-training
    int *argmax[2][64];
    bool recalled[64];              // accuracies derived from spec.recall, not measured
};

const data_splits *kd_federation_splits(const kd_federation *f) { return f->splits; }
const kd_federation_spec *kd_federation_spec_of(const kd_federation *f) { return &f->spec; }
const partition *kd_federation_partition(const kd_federation *f) { return f->part; }
model *kd_federation_model(kd_federation *f, int cid) { return f->models[cid]; }
const double *kd_federation_own_props(const kd_federation *f, int cid) {
    return f->own_props + (size_t)cid * f->classes;
}
const kd_participant *kd_federation_participant(const kd_federation *f, int cid) {
    return &f->info[cid];
}

static const char *const split_names[KD_SPLIT_COUNT] = {"val", "test"};

const char *kd_split_name(kd_split s) {
    return s >= 0 && s < KD_SPLIT_COUNT ? split_names[s] : "?";
}

kdt_status kd_split_from_name(const char *name, kd_split *out) {
    for (int i = 0; i < KD_SPLIT_COUNT; i++)
        if (name && strcmp(name, split_names[i]) == 0) {
            *out = (kd_split)i;
            return KDT_OK;
        }
    return kdt_fail(KDT_ERR_CONFIG, "unknown split '%s': use val or test", name ? name : "(null)");
}

int kd_bitset_count(const uint8_t *bits, int n) {
    int c = 0;
    for (int i = 0; i < n / 8; i++) c += __builtin_popcount(bits[i]);
    for (int i = n / 8 * 8; i < n; i++) c += kd_bit(bits, i);
    return c;
}

const uint8_t *kd_federation_correct(const kd_federation *f, int cid, kd_split split) {
    KDT_ASSERT(cid >= 0 && cid < f->spec.participants && split >= 0 && split < KD_SPLIT_COUNT);
    return f->correct[split][cid];
}

static int max_batch_of(const kd_federation_spec *s) {
    int b = s->pretrain.sgd.batch_size > s->kd.batch_size ? s->pretrain.sgd.batch_size : s->kd.batch_size;
    return b < 64 ? 64 : b; // evaluation runs in batches of at least 64
}

kdt_status kd_federation_create(kd_federation **out, const kd_federation_spec *spec, const data_splits *splits,
                                const partition *part) {
    *out = NULL;
    if (spec->participants < 1 || spec->participants > 64 || part->participants != spec->participants)
        return kdt_fail(KDT_ERR_CONFIG, "the partition has %d participants, the federation %d (at most 64); "
                        "set federation.participants to the partition's", part->participants, spec->participants);
    kd_federation *f = calloc(1, sizeof *f);
    int P = spec->participants, K = splits->pool->classes;
    if (!f) goto nomem;
    f->spec = *spec;
    f->spec.checkpoint_dir = NULL; // the caller's string, never freed here (a copy is made below)
    f->splits = splits;
    f->part = part;
    f->classes = K;
    f->specs = malloc(sizeof *f->specs * P);
    f->models = calloc((size_t)P, sizeof *f->models);
    f->info = calloc((size_t)P, sizeof *f->info);
    f->own_props = malloc(sizeof *f->own_props * (size_t)P * K);
    if (!f->specs || !f->models || !f->info || !f->own_props) goto nomem;
    memcpy(f->specs, spec->specs, sizeof *f->specs * P);
    f->spec.specs = f->specs;
    f->spec.checkpoint_dir = NULL; // the caller's string; kept below as a copy
    if (spec->checkpoint_dir && !(f->spec.checkpoint_dir = strdup(spec->checkpoint_dir))) goto nomem;
    for (int c = 0; c < P; c++) {
        if (!(f->models[c] = model_create(&f->specs[c], max_batch_of(spec)))) {
            kd_federation_destroy(f); // model_create said why
            return KDT_ERR_NOMEM;
        }
        if (!(f->info[c].class_test_acc = calloc((size_t)K, sizeof(double)))) goto nomem;
        partition_class_proportions(f->own_props + (size_t)c * K, part, splits->pool, c);
        int n;
        partition_indices(part, c, &n);
        f->info[c].local_n = n;
        if (!(f->correct[KD_SPLIT_VAL][c] = calloc(kd_bitset_bytes(splits->val->n), 1)) ||
            !(f->correct[KD_SPLIT_TEST][c] = calloc(kd_bitset_bytes(splits->test->n), 1)))
            goto nomem;
    }
    *out = f;
    return KDT_OK;
nomem:
    kd_federation_destroy(f);
    return kdt_fail(KDT_ERR_NOMEM, "out of memory creating the federation");
}

void kd_federation_destroy(kd_federation *f) {
    if (!f) return;
    for (int c = 0; c < f->spec.participants; c++) {
        if (f->models) model_destroy(f->models[c]);
        if (f->info) free(f->info[c].class_test_acc);
        for (int s = 0; s < 2; s++) {
            free(f->logits[s][c]);
            free(f->argmax[s][c]);
            free(f->correct[s][c]);
        }
    }
    free((char *)f->spec.checkpoint_dir);
    free(f->specs);
    free(f->models);
    free(f->info);
    free(f->own_props);
    free(f);
}

double kd_evaluate(model *m, const dataset *d, double *class_acc) {
    return kd_evaluate_images(m, d, NULL, d->n, NULL, class_acc, NULL);
}

double kd_evaluate_images(model *m, const dataset *d, const int *idx, int n, float *xbuf,
                          double *class_acc, uint8_t *correct) {
    int B = model_max_batch(m), K = d->classes, ex = dataset_example_size(d);
    if (!idx) n = d->n;
    int right = 0;
    // On the stack, so that scoring cannot fail: an out-of-memory here used to become a NaN
    // accuracy, journaled as a failed evaluation. K <= 1024 classes, B <= 4096 (the config's bounds).
    KDT_ASSERT(K >= 1 && K <= 1024 && B >= 1 && B <= 4096);
    int hit[2 * 1024] = {0}, pred[4096];
    if (correct) memset(correct, 0, kd_bitset_bytes(d->n));
    for (int start = 0; start < n; start += B) {
        int b = n - start < B ? n - start : B;
        const float *x = d->x + (size_t)start * ex;
        if (idx) { // gather: a subset is scored in the same batches as a contiguous split would be
            for (int i = 0; i < b; i++)
                memcpy(xbuf + (size_t)i * ex, d->x + (size_t)idx[start + i] * ex, sizeof *xbuf * ex);
            x = xbuf;
        }
        kd_argmax(pred, model_forward(m, x, b, false), b, K);
        for (int i = 0; i < b; i++) {
            int j = idx ? idx[start + i] : start + i, y = d->y[j];
            bool ok = pred[i] == y;
            right += ok;
            hit[y] += ok;
            hit[K + y]++;
            if (ok && correct) correct[j >> 3] |= (uint8_t)(1u << (j & 7));
        }
    }
    if (class_acc)
        for (int k = 0; k < K; k++) class_acc[k] = hit[K + k] ? (double)hit[k] / hit[K + k] : NAN;
    return n ? (double)right / n : NAN;
}

double kd_own_accuracy(const double *props, const double *class_acc, int K) {
    double acc = 0, w = 0;
    for (int k = 0; k < K; k++)
        if (props[k] > 0 && !isnan(class_acc[k])) acc += props[k] * class_acc[k], w += props[k];
    return w > 0 ? acc / w : NAN;
}

// Trains participant cid's model from scratch on its local data.
static kdt_status pretrain_one(kd_federation *f, int cid) {
    const kd_pretrain_spec *ps = &f->spec.pretrain;
    model *m = f->models[cid];
    rng init = rng_stream(f->spec.seed, "init", (uint64_t)cid, 0);
    model_init_params(m, &init);
    int n;
    const int *idx = partition_indices(f->part, cid, &n);
    const dataset *pool = f->splits->pool;
    int B = ps->sgd.batch_size, K = f->classes, ex = dataset_example_size(pool);
    batcher *bt = batcher_create(pool, idx, n, B, ps->sgd.augment ? &f->spec.augment : NULL);
    sgd *opt = sgd_create(m, (float)ps->sgd.lr, (float)ps->sgd.momentum, (float)ps->sgd.weight_decay,
                          ps->sgd.nesterov);
    float *x = malloc(sizeof *x * (size_t)B * ex), *dlogits = malloc(sizeof *dlogits * (size_t)B * K);
    int *y = malloc(sizeof *y * (size_t)B);
    kdt_status s = KDT_OK;
    if (!bt || !opt || !x || !dlogits || !y) {
        s = kdt_fail(KDT_ERR_NOMEM, "out of memory pre-training participant %d", cid);
        goto done;
    }
    int per_epoch = batcher_batches(bt), total = per_epoch * ps->sgd.epochs;
    lr_schedule sched = {ps->schedule, (float)ps->sgd.lr, (int)(ps->warmup_epochs * per_epoch),
                         ps->step_epochs * per_epoch, (float)ps->gamma, 0.0f};
    rng order = rng_stream(f->spec.seed, "pretrain", (uint64_t)cid, 0);
    int step = 0;
    for (int e = 0; e < ps->sgd.epochs && !s; e++) {
        batcher_epoch(bt, &order);
        double loss_sum = 0;
        int b, batches = 0;
        while ((b = batcher_next(bt, x, y)) > 0) {
            model_zero_grad(m);
            const float *logits = model_forward(m, x, b, true);
            float loss = loss_cross_entropy(dlogits, logits, y, b, K);
            if (!isfinite(loss)) {
                s = kdt_fail(KDT_ERR_NUMERIC, "pre-training participant %d diverged (loss %g at epoch "
                             "%d); lower pretrain.lr", cid, loss, e + 1);
                break;
            }
            model_backward(m, dlogits);
            sgd_step(opt, lr_schedule_value(&sched, step++, total));
            loss_sum += loss;
            batches++;
        }
        log_debug("participant %d epoch %d/%d: loss %.4f", cid, e + 1, ps->sgd.epochs,
                  batches ? loss_sum / batches : NAN);
    }
done:
    free(x);
    free(dlogits);
    free(y);
    sgd_destroy(opt);
    batcher_destroy(bt);
    return s;
}

static kdt_status write_pretrain_csv(const kd_federation *f) {
    strbuf sb = {0};
    sb_printf(&sb, "participant,architecture,local_examples,val_accuracy,test_accuracy,own_test_accuracy,"
                   "seconds,source");
    for (int k = 0; k < f->classes; k++) sb_printf(&sb, ",test_accuracy_class_%d", k);
    sb_printf(&sb, "\n");
    for (int c = 0; c < f->spec.participants; c++) {
        const kd_participant *p = &f->info[c];
        sb_printf(&sb, "%d,%s,%d,%.6f,%.6f,%.6f,%.3f,%s", c, model_arch_name(f->specs[c].arch),
                  p->local_n, p->val_acc, p->test_acc, p->own_test_acc, p->seconds,
                  p->from_checkpoint ? "checkpoint" : "trained");
        for (int k = 0; k < f->classes; k++) sb_printf(&sb, ",%.6f", p->class_test_acc[k]);
        sb_printf(&sb, "\n");
    }
    char path[4096];
    char *text = sb_take(&sb);
    kdt_status s = fs_join(path, sizeof path, f->spec.checkpoint_dir, "pretrain.csv");
    if (!s) s = fs_write_atomic(path, text, strlen(text));
    free(text);
    return s;
}

// The accuracies that measuring participant c would give, from its recalled outcomes: the same
// counts over the same images (per class as kd_evaluate_images counts them). False when they do
// not fit the splits or memory runs out: then it is measured.
static bool recall_one(kd_federation *f, int c) {
    const uint8_t *val, *test;
    if (!f->spec.recall || !f->spec.recall(f->spec.recall_ctx, c, &val, &test) || !val || !test) return false;
    const dataset *v = f->splits->val, *t = f->splits->test;
    int K = f->classes;
    int *hit = calloc((size_t)K * 2, sizeof *hit);
    if (!hit || !v->n || !t->n) {
        free(hit);
        return false;
    }
    kd_participant *p = &f->info[c];
    memcpy(f->correct[KD_SPLIT_VAL][c], val, kd_bitset_bytes(v->n));
    memcpy(f->correct[KD_SPLIT_TEST][c], test, kd_bitset_bytes(t->n));
    p->val_acc = (double)kd_bitset_count(val, v->n) / v->n;
    int right = 0;
    for (int i = 0; i < t->n; i++) {
        bool ok = kd_bit(test, i);
        right += ok;
        hit[t->y[i]] += ok;
        hit[K + t->y[i]]++;
    }
    p->test_acc = (double)right / t->n;
    for (int k = 0; k < K; k++) p->class_test_acc[k] = hit[K + k] ? (double)hit[k] / hit[K + k] : NAN;
    free(hit);
    return true;
}

// Loads or trains participant c, then measures it. Runs on any thread: it touches only c's model
// and record, and files of its own.
static kdt_status prepare_one(kd_federation *f, int c) {
    const char *dir = f->spec.checkpoint_dir;
    kd_participant *p = &f->info[c];
    char path[4096];
    kdt_status s = KDT_OK;
    p->from_checkpoint = false;
    if (dir) {
        char name[32];
        snprintf(name, sizeof name, "p%d.ckpt", c);
        if ((s = fs_join(path, sizeof path, dir, name))) return s;
        if (fs_exists(path)) {
            kdt_status ls = model_load(f->models[c], path);
            if (ls == KDT_OK) p->from_checkpoint = true;
            else if (ls == KDT_ERR_FORMAT) log_warn("%s; retraining participant %d", kdt_errmsg(), c);
            else return ls; // out of memory, or not a regular file: never overwrite it for that
        }
    }
    if (!p->from_checkpoint) {
        double t0 = timer_now();
        if ((s = pretrain_one(f, c))) return s;
        p->seconds = timer_now() - t0;
        if (dir && (s = model_save(f->models[c], path))) return s;
    }
    f->recalled[c] = p->from_checkpoint && recall_one(f, c);
    if (!f->recalled[c]) {
        p->val_acc = kd_evaluate_images(f->models[c], f->splits->val, NULL, 0, NULL, NULL,
                                        f->correct[KD_SPLIT_VAL][c]);
        p->test_acc = kd_evaluate_images(f->models[c], f->splits->test, NULL, 0, NULL, p->class_test_acc,
                                         f->correct[KD_SPLIT_TEST][c]);
    }
    p->own_test_acc = kd_own_accuracy(kd_federation_own_props(f, c), p->class_test_acc, f->classes);
    log_info("participant %d (%s, %d examples): %s, val %.1f%%, test %.1f%% (own classes %.1f%%)", c,
             model_arch_name(f->specs[c].arch), p->local_n,
             f->recalled[c] ? "checkpoint loaded, accuracies recalled"
                            : p->from_checkpoint ? "checkpoint loaded" : "pre-trained", 100 * p->val_acc,
             100 * p->test_acc, 100 * p->own_test_acc);
    return KDT_OK;
}

// Runs fn on every participant with the spec's workers; returns the first failure (lowest id)
// with its message, which is copied out of the thread that failed.
static kdt_status for_each_participant(kd_federation *f, kdt_status (*fn)(kd_federation *, int)) {
    int P = f->spec.participants, workers = f->spec.workers > 1 ? f->spec.workers : 1;
    kdt_status *status = calloc((size_t)P, sizeof *status);
    char(*msg)[512] = calloc((size_t)P, sizeof *msg);
    if (!status || !msg) {
        free(status);
        free(msg);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers) if (workers > 1)
    for (int c = 0; c < P; c++) {
        status[c] = fn(f, c);
        if (status[c]) snprintf(msg[c], sizeof msg[c], "%s", kdt_errmsg());
    }
    kdt_status s = KDT_OK;
    for (int c = 0; c < P && !s; c++)
        if ((s = status[c])) kdt_fail(s, "%s", msg[c]);
    free(status);
    free(msg);
    return s;
}

kdt_status kd_federation_pretrain(kd_federation *f) {
    kdt_status s = f->spec.checkpoint_dir ? fs_mkdir_p(f->spec.checkpoint_dir) : KDT_OK;
    if (!s) s = for_each_participant(f, prepare_one);
    // Every participant recalled: nothing was measured, so pretrain.csv keeps what it recorded.
    bool all_recalled = true;
    for (int c = 0; c < f->spec.participants; c++) all_recalled &= f->recalled[c];
    char path[4096];
    if (!s && f->spec.checkpoint_dir && all_recalled && !fs_join(path, sizeof path, f->spec.checkpoint_dir, "pretrain.csv") &&
        fs_exists(path))
        return KDT_OK;
    if (!s && f->spec.checkpoint_dir) s = write_pretrain_csv(f);
    return s;
}

static kdt_status cache_one(kd_federation *f, int c) {
    kd_logits unused;
    kdt_status s = kd_federation_logits(f, c, KD_ON_TRANSFER, &unused);
    return s ? s : kd_federation_logits(f, c, KD_ON_POOL, &unused);
}

kdt_status kd_federation_cache_logits(kd_federation *f) { return for_each_participant(f, cache_one); }

kdt_status kd_federation_logits(kd_federation *f, int cid, kd_logit_set set, kd_logits *out) {
    const dataset *d = set == KD_ON_TRANSFER ? f->splits->transfer : f->splits->pool;
    int K = f->classes;
    if (!f->logits[set][cid]) {
        float *z = malloc(sizeof *z * (size_t)d->n * K);
        int *am = malloc(sizeof *am * (size_t)d->n);
        if (!z || !am) {
            free(z);
            free(am);
            return kdt_fail(KDT_ERR_NOMEM, "out of memory caching logits of participant %d", cid);
        }
        model *m = f->models[cid];
        int B = model_max_batch(m), ex = dataset_example_size(d);
        for (int start = 0; start < d->n; start += B) {
            int b = d->n - start < B ? d->n - start : B;
            const float *logits = model_forward(m, d->x + (size_t)start * ex, b, false);
            memcpy(z + (size_t)start * K, logits, sizeof *z * (size_t)b * K);
        }
        kd_argmax(am, z, d->n, K);
        f->logits[set][cid] = z;
        f->argmax[set][cid] = am;
    }
    out->logits = f->logits[set][cid];
    out->argmax = f->argmax[set][cid];
    return KDT_OK;
}

kdt_status kd_federation_train_one(kd_federation *f, int cid, double *seconds) {
    double t0 = timer_now();
    kdt_status s = pretrain_one(f, cid);
    *seconds = timer_now() - t0;
    return s;
}

static kdt_status measure_one(kd_federation *f, int c) {
    kd_participant *p = &f->info[c];
    p->val_acc = kd_evaluate_images(f->models[c], f->splits->val, NULL, 0, NULL, NULL, f->correct[KD_SPLIT_VAL][c]);
    p->test_acc = kd_evaluate_images(f->models[c], f->splits->test, NULL, 0, NULL, p->class_test_acc,
                                     f->correct[KD_SPLIT_TEST][c]);
    p->own_test_acc = kd_own_accuracy(kd_federation_own_props(f, c), p->class_test_acc, f->classes);
    return KDT_OK;
}

kdt_status kd_federation_adopt(kd_federation *f, const bool *from_checkpoint, const double *seconds) {
    for (int c = 0; c < f->spec.participants; c++) {
        f->info[c].from_checkpoint = from_checkpoint[c];
        f->info[c].seconds = seconds[c];
    }
    kdt_status s = for_each_participant(f, measure_one);
    if (!s && f->spec.checkpoint_dir) s = write_pretrain_csv(f);
    return s;
}
