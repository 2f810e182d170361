// One KD round: the scratch models (trained and frozen copies), the transfer batches, the losses
// of the three methods, replicates and fidelity subsets, and the measurements with their
// per-image outcomes.
#include "kd/round.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/timer.h"

// The models of one architecture a round may need: two that train (the student and the DML peer,
// distinct models even when the two share the architecture), and two frozen copies of pre-trained models (the
// teacher, the pre-KD student) that run when the cache cannot serve. Frozen copies make every
// forward pass write to this round's activations only, never to the federation's shared models.
enum { ROLE_STUDENT, ROLE_PEER, ROLE_FROZEN_TEACHER, ROLE_FROZEN_STUDENT, ROLE_COUNT };

typedef struct {
    const model_spec *spec;
    model *m[ROLE_COUNT];
    sgd *opt[2];            // of ROLE_STUDENT and ROLE_PEER
} arch_slot;

struct kd_round {
    kd_federation *f;
    int P, K, B, ex, max_batch;
    bool use_cache, freeze_peer;
    int *slot_of;           // (P) each participant's architecture slot
    arch_slot *slots;       // (P) at most one per participant
    batcher *on_transfer;
    batcher **on_own;       // (P) each participant's local data, for the student_data transfer set
    float *x, *dlogits, *dpeer, *zt, *zs0, *zp0, *zr;   // (B, C, H, W), then (B, K) each
    int *y, *ys, *yp, *yr;                               // (B) each
    unsigned char *route;                                // (B)
    // DP-KD's routing of every example of a cached logit set for one (student, teacher, set): it
    // depends on the frozen models only, so the rounds of a pair over T and alpha share it.
    unsigned char *route_all;                            // (largest transfer set)
    int route_key[3];                                    // student, teacher, set; -1: none
    double *class_acc;                                   // (K)
    float *evalx;           // (max_batch, C, H, W): gathered validation images at fidelity < 1
    int *fid_order;         // (largest transfer set) a fidelity subset of it
    int *val_order;         // (n_val) the fixed permutation of the validation split
    int val_used;           // images of val_order the last round scored (n_val: all, in order)
    uint8_t *bits[2][KD_SPLIT_COUNT];   // [student, peer][split] outcomes of the last round
    bool have_bits[2];
};

static bool same_spec(const model_spec *a, const model_spec *b) { return memcmp(a, b, sizeof *a) == 0; }

// The model of role for participant cid's architecture, created on first use (NULL: no memory).
static model *slot_model(kd_round *r, int cid, int role) {
    arch_slot *a = &r->slots[r->slot_of[cid]];
    if (a->m[role]) return a->m[role];
    if (!(a->m[role] = model_create(a->spec, r->max_batch))) return NULL;
    if (role <= ROLE_PEER) {
        const kd_sgd_spec *k = &kd_federation_spec_of(r->f)->kd;
        a->opt[role] = sgd_create(a->m[role], (float)k->lr, (float)k->momentum, (float)k->weight_decay, k->nesterov);
        if (!a->opt[role]) {
            model_destroy(a->m[role]);
            a->m[role] = NULL;
        }
    }
    return a->m[role];
}

kdt_status kd_round_create(kd_round **out, kd_federation *f) {
    *out = NULL;
    kd_round *r = calloc(1, sizeof *r);
    if (!r) goto nomem;
    const kd_federation_spec *fs = kd_federation_spec_of(f);
    const data_splits *sp = kd_federation_splits(f);
    r->f = f;
    r->use_cache = true;
    r->P = fs->participants;
    r->K = sp->pool->classes;
    r->B = fs->kd.batch_size;
    r->max_batch = r->B > 64 ? r->B : 64;
    r->ex = dataset_example_size(sp->pool);
    size_t BK = (size_t)r->B * r->K;
    r->slot_of = calloc((size_t)r->P, sizeof *r->slot_of);
    r->slots = calloc((size_t)r->P, sizeof *r->slots);
    r->x = malloc(sizeof *r->x * (size_t)r->B * r->ex);
    r->dlogits = malloc(sizeof(float) * BK);
    r->dpeer = malloc(sizeof(float) * BK);
    r->zt = malloc(sizeof(float) * BK);
    r->zs0 = malloc(sizeof(float) * BK);
    r->zp0 = malloc(sizeof(float) * BK);
    r->zr = malloc(sizeof(float) * BK);
    r->y = malloc(sizeof(int) * (size_t)r->B);
    r->ys = malloc(sizeof(int) * (size_t)r->B);
    r->yp = malloc(sizeof(int) * (size_t)r->B);
    r->yr = malloc(sizeof(int) * (size_t)r->B);
    r->route = malloc((size_t)r->B);
    r->class_acc = malloc(sizeof *r->class_acc * (size_t)r->K);
    r->evalx = malloc(sizeof *r->evalx * (size_t)r->max_batch * r->ex);
    int largest = sp->transfer->n > sp->pool->n ? sp->transfer->n : sp->pool->n;
    r->fid_order = malloc(sizeof *r->fid_order * (size_t)(largest > 0 ? largest : 1));
    r->route_all = malloc((size_t)(largest > 0 ? largest : 1));
    r->route_key[0] = -1;
    r->val_order = malloc(sizeof *r->val_order * (size_t)(sp->val->n > 0 ? sp->val->n : 1));
    for (int w = 0; w < 2; w++) {
        r->bits[w][KD_SPLIT_VAL] = calloc(kd_bitset_bytes(sp->val->n) + 1, 1);
        r->bits[w][KD_SPLIT_TEST] = calloc(kd_bitset_bytes(sp->test->n) + 1, 1);
    }
    const augment_spec *aug = fs->kd.augment ? &fs->augment : NULL;
    r->on_transfer = batcher_create(sp->transfer, NULL, sp->transfer->n, r->B, aug);
    r->on_own = calloc((size_t)r->P, sizeof *r->on_own);
    if (!r->on_own || !r->slot_of || !r->slots || !r->x || !r->dlogits || !r->dpeer || !r->zt ||
        !r->zs0 || !r->zp0 || !r->zr || !r->y || !r->ys || !r->yp || !r->yr || !r->route ||
        !r->class_acc || !r->evalx || !r->fid_order || !r->route_all || !r->val_order || !r->on_transfer)
        goto nomem;
    for (int w = 0; w < 2; w++)
        if (!r->bits[w][KD_SPLIT_VAL] || !r->bits[w][KD_SPLIT_TEST]) goto nomem;
    for (int c = 0; c < r->P; c++) {
        int n;
        const int *idx = partition_indices(kd_federation_partition(f), c, &n);
        if (!(r->on_own[c] = batcher_create(sp->pool, idx, n, r->B, aug))) goto fail;
    }
    // The validation permutation of fidelity, fixed by the seed alone.
    r->val_used = sp->val->n;
    for (int i = 0; i < sp->val->n; i++) r->val_order[i] = i;
    rng vr = rng_stream(fs->seed, "kd-fidelity-val", 0, 0);
    rng_shuffle(&vr, r->val_order, (size_t)sp->val->n);
    // One slot per architecture; every participant's student model now, the rest on first use.
    for (int c = 0; c < r->P; c++) {
        int s = 0;
        while (r->slots[s].spec && !same_spec(r->slots[s].spec, &fs->specs[c])) s++;
        r->slots[s].spec = &fs->specs[c];
        r->slot_of[c] = s;
        if (!slot_model(r, c, ROLE_STUDENT)) goto fail;
    }
    *out = r;
    return KDT_OK;
nomem:
    kdt_fail(KDT_ERR_NOMEM, "out of memory preparing KD rounds");
fail:
    kd_round_destroy(r);
    return KDT_ERR_NOMEM;
}

void kd_round_use_cache(kd_round *r, bool on) { r->use_cache = on; }
void kd_round_freeze_peer(kd_round *r, bool on) { r->freeze_peer = on; }

void kd_round_destroy(kd_round *r) {
    if (!r) return;
    for (int s = 0; r->slots && s < r->P; s++) {
        for (int role = 0; role < ROLE_COUNT; role++) model_destroy(r->slots[s].m[role]);
        for (int o = 0; o < 2; o++) sgd_destroy(r->slots[s].opt[o]);
    }
    free(r->slots);
    free(r->slot_of);
    batcher_destroy(r->on_transfer);
    for (int c = 0; r->on_own && c < r->P; c++) batcher_destroy(r->on_own[c]);
    free(r->on_own);
    float *fl[] = {r->x, r->dlogits, r->dpeer, r->zt, r->zs0, r->zp0, r->zr, r->evalx};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) free(fl[i]);
    int *in[] = {r->y, r->ys, r->yp, r->yr, r->fid_order, r->val_order};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) free(in[i]);
    free(r->route);
    free(r->route_all);
    free(r->class_acc);
    for (int w = 0; w < 2; w++)
        for (int s = 0; s < KD_SPLIT_COUNT; s++) free(r->bits[w][s]);
    free(r);
}

const uint8_t *kd_round_correct(const kd_round *r, kd_split split) {
    KDT_ASSERT(split >= 0 && split < KD_SPLIT_COUNT);
    return r->have_bits[0] ? r->bits[0][split] : NULL;
}

const uint8_t *kd_round_peer_correct(const kd_round *r, kd_split split) {
    KDT_ASSERT(split >= 0 && split < KD_SPLIT_COUNT);
    return r->have_bits[1] ? r->bits[1][split] : NULL;
}

const int *kd_round_val_images(const kd_round *r, int *n) {
    int all = kd_federation_splits(r->f)->val->n;
    *n = r->val_used;
    return r->val_used < all ? r->val_order : NULL;
}

// Copies the rows idx[0..b) of a cached (n, K) logit table into out (b, K).
static void gather_rows(float *out, const float *table, const int *idx, int b, int K) {
    for (int i = 0; i < b; i++) memcpy(out + (size_t)i * K, table + (size_t)idx[i] * K, sizeof *out * K);
}

// A frozen pre-trained model's logits (and, when y is not NULL, its argmax) on the batch: from
// the cache when there is one (c->logits set), else by a forward pass of this round's copy.
typedef struct {
    kd_logits cache;    // logits NULL: no cache
    model *copy;        // the frozen copy, when not cached
} frozen;

static void frozen_logits(float *z, int *y, const frozen *fr, const float *x, const int *idx, int b, int K) {
    if (fr->cache.logits) {
        if (z) gather_rows(z, fr->cache.logits, idx, b, K);
        if (y)
            for (int i = 0; i < b; i++) y[i] = fr->cache.argmax[idx[i]];
        return;
    }
    const float *out = model_forward(fr->copy, x, b, false);
    if (z) memcpy(z, out, sizeof *z * (size_t)b * K);
    if (y) kd_argmax(y, out, b, K);
}

// Sets up fr for participant cid: the cache, or this round's frozen copy of its weights.
static kdt_status frozen_prepare(kd_round *r, frozen *fr, int cid, int role, bool cached, kd_logit_set set) {
    memset(fr, 0, sizeof *fr);
    if (cached) return kd_federation_logits(r->f, cid, set, &fr->cache);
    if (!(fr->copy = slot_model(r, cid, role)))
        return kdt_fail(KDT_ERR_NOMEM, "out of memory for a frozen copy of participant %d", cid);
    model_copy_params(fr->copy, kd_federation_model(r->f, cid));
    return KDT_OK;
}

// DP-KD's routing of the examples idx[0..n) (all n of the set when idx is NULL) from cached logits,
// kept in r->route_all by dataset index for the next rounds of the same student, teacher and set.
static void route_cached(kd_round *r, const frozen *ft, const frozen *fsf, int S, int T, kd_logit_set set,
                         const int *idx, int n) {
    if (r->route_key[0] == S && r->route_key[1] == T && r->route_key[2] == (int)set) return;
    const size_t K = (size_t)r->K;
    if (!idx) kd_dpkd_route(r->route_all, ft->cache.logits, fsf->cache.logits, n, r->K);
    else
        for (int i = 0; i < n; i++)
            kd_dpkd_route(r->route_all + idx[i], ft->cache.logits + idx[i] * K, fsf->cache.logits + idx[i] * K, 1, r->K);
    r->route_key[0] = S, r->route_key[1] = T, r->route_key[2] = (int)set;
}

static int fidelity_count(float fidelity, int n) {
    int m = (int)ceilf(fidelity * (float)n); // in float, so that 0.1f * 500 is 50, not 51
    return m < 1 ? (n > 0 ? 1 : 0) : m > n ? n : m;
}

// Scores model m on the validation split (the fidelity subset when used < n) and the test split,
// writing per-image outcomes into bits; fills the accuracies after KD and the forgetting.
static void measure(kd_round *r, model *m, int cid, int used, uint8_t *const *bits, double *val_before,
                    double *val_after, double *test_after, double *forgetting) {
    const data_splits *sp = kd_federation_splits(r->f);
    const kd_participant *p = kd_federation_participant(r->f, cid);
    if (used < sp->val->n) {
        *val_after = kd_evaluate_images(m, sp->val, r->val_order, used, r->evalx, NULL, bits[KD_SPLIT_VAL]);
        const uint8_t *before = kd_federation_correct(r->f, cid, KD_SPLIT_VAL);
        int right = 0;
        for (int i = 0; i < used; i++) right += kd_bit(before, r->val_order[i]);
        *val_before = (double)right / used;
    } else {
        *val_after = kd_evaluate_images(m, sp->val, NULL, 0, NULL, NULL, bits[KD_SPLIT_VAL]);
        *val_before = p->val_acc;
    }
    *test_after = kd_evaluate_images(m, sp->test, NULL, 0, NULL, r->class_acc, bits[KD_SPLIT_TEST]);
    *forgetting = p->own_test_acc - kd_own_accuracy(kd_federation_own_props(r->f, cid), r->class_acc, r->K);
}

static kdt_status check_setting(const kd_round *r, const kd_setting *s) {
    if (s->student < 0 || s->student >= r->P || s->teacher < 0 || s->teacher >= r->P || s->student == s->teacher)
        return kdt_fail(KDT_ERR_CONFIG, "KD needs two different participants in [0, %d), got "
                        "student %d and teacher %d", r->P, s->student, s->teacher);
    if (!(s->temperature > 0.0f) || !isfinite(s->temperature))
        return kdt_fail(KDT_ERR_CONFIG, "KD temperature must be a finite number > 0, got %g; set "
                        "kd.temperature to e.g. 1 to 20", s->temperature);
    if (!(s->alpha >= 0.0f && s->alpha <= 1.0f))
        return kdt_fail(KDT_ERR_CONFIG, "KD alpha must be in [0, 1], got %g; set kd.alpha", s->alpha);
    if (s->transfer < KD_UNLABELLED || s->transfer > KD_STUDENT_DATA)
        return kdt_fail(KDT_ERR_CONFIG, "unknown KD transfer set id %d: use unlabelled, unlabelled_self "
                        "or student_data", (int)s->transfer);
    if (s->method < 0 || s->method >= KD_N_METHODS)
        return kdt_fail(KDT_ERR_CONFIG, "unknown KD method id %d: use kd, dml or dpkd", (int)s->method);
    if (s->replicate < 0)
        return kdt_fail(KDT_ERR_CONFIG, "KD replicate must be >= 0, got %d; set kd.replicate", s->replicate);
    if (!(s->fidelity >= 0.0f && s->fidelity <= 1.0f))
        return kdt_fail(KDT_ERR_CONFIG, "KD fidelity must be in (0, 1] (1 = the full round), got %g; "
                        "set kd.fidelity", s->fidelity);
    return KDT_OK;
}

kdt_status kd_round_run(kd_round *r, const kd_setting *s, kd_result *out) {
    double t0 = timer_now();
    memset(out, 0, sizeof *out);
    r->have_bits[0] = r->have_bits[1] = false;
    kdt_status st = check_setting(r, s);
    if (st) return st;
    kd_federation *f = r->f;
    const kd_federation_spec *fs = kd_federation_spec_of(f);
    const data_splits *sp = kd_federation_splits(f);
    const int K = r->K, S = s->student, T = s->teacher;
    const kd_method method = s->method;
    const bool dml = method == KD_METHOD_DML, dpkd = method == KD_METHOD_DPKD;
    const float fidelity = s->fidelity > 0.0f ? s->fidelity : 1.0f;
    const kd_participant *ps = kd_federation_participant(f, S), *pt = kd_federation_participant(f, T);
    out->student_test_before = ps->test_acc;
    out->teacher_test = pt->test_acc;
    out->peer_val_gain = out->peer_test_gain = out->peer_forgetting = NAN;
    out->peer_val_before = out->peer_val_after = out->peer_test_before = out->peer_test_after = NAN;
    out->routed_fraction = NAN;

    // The transfer set: the public one, or the student's own data (the pool, its indices).
    bool own = s->transfer == KD_STUDENT_DATA;
    kd_logit_set set = own ? KD_ON_POOL : KD_ON_TRANSFER;
    batcher *bt = own ? r->on_own[S] : r->on_transfer, *subset = NULL;
    if (fidelity < 1.0f) {
        // The first ceil(f n) of a permutation fixed by the seed and the transfer set.
        int n;
        const int *idx = own ? partition_indices(kd_federation_partition(f), S, &n) : NULL;
        if (!own) n = sp->transfer->n;
        for (int i = 0; i < n; i++) r->fid_order[i] = i;
        rng pr = rng_stream(fs->seed, "kd-fidelity", own ? 1 + (uint64_t)S : 0, 0);
        rng_shuffle(&pr, r->fid_order, (size_t)n);
        int m = fidelity_count(fidelity, n);
        if (idx)
            for (int i = 0; i < m; i++) r->fid_order[i] = idx[r->fid_order[i]];
        subset = batcher_create(own ? sp->pool : sp->transfer, r->fid_order, m, r->B,
                                fs->kd.augment ? &fs->augment : NULL);
        if (!subset) return kdt_fail(KDT_ERR_NOMEM, "out of memory for a fidelity subset");
        bt = subset;
    }
    r->val_used = fidelity < 1.0f ? fidelity_count(fidelity, sp->val->n) : sp->val->n;
    out->val_images = r->val_used;

    // Frozen pre-trained logits: the teacher's and the pre-KD student's, where the method and the
    // anchor need them. Cached logits apply only to unaugmented images; else a frozen copy runs.
    bool cached = !fs->kd.augment && r->use_cache;
    bool need_t = !dml || s->transfer != KD_STUDENT_DATA;
    bool need_s = dpkd || s->transfer == KD_UNLABELLED_SELF || (dml && s->transfer == KD_UNLABELLED);
    frozen ft = {0}, fsf = {0};
    if (need_t) st = frozen_prepare(r, &ft, T, ROLE_FROZEN_TEACHER, cached, set);
    if (!st && need_s) st = frozen_prepare(r, &fsf, S, ROLE_FROZEN_STUDENT, cached, set);
    model *m = slot_model(r, S, ROLE_STUDENT), *mp = NULL;
    sgd *opt = r->slots[r->slot_of[S]].opt[ROLE_STUDENT], *optp = NULL;
    // The DML peer trains in its own slot: ROLE_PEER, which differs from the student's model even
    // when both share an architecture.
    if (!st && dml) {
        if (!(mp = slot_model(r, T, ROLE_PEER))) st = kdt_fail(KDT_ERR_NOMEM, "out of memory for the DML peer");
        else optp = r->slots[r->slot_of[T]].opt[ROLE_PEER];
    }
    if (st) {
        batcher_destroy(subset);
        return st;
    }
    if (dpkd && cached) {
        int n;
        const int *idx = own ? partition_indices(kd_federation_partition(f), S, &n) : NULL;
        route_cached(r, &ft, &fsf, S, T, set, idx, own ? n : sp->transfer->n);
    }
    bool peer_trains = dml && !r->freeze_peer;
    model_copy_params(m, kd_federation_model(f, S));
    sgd_reset(opt);
    if (dml) {
        model_copy_params(mp, kd_federation_model(f, T));
        sgd_reset(optp);
    }
    uint64_t pair = (uint64_t)S * 64 + (uint64_t)T;
    rng order = s->replicate == 0
                    ? rng_stream(fs->seed, "kd-round", pair, (uint64_t)s->transfer)
                    : rng_stream(fs->seed, "kd-round-replicate", pair,
                                 (uint64_t)s->transfer << 32 | (uint64_t)s->replicate);
    long routed = 0, seen = 0;
    out->ok = true;
    for (int e = 0; e < fs->kd.epochs && out->ok; e++) {
        batcher_epoch(bt, &order);
        int b, step = 0;
        while ((b = batcher_next(bt, r->x, r->y)) > 0) {
            const int *idx = batcher_batch_indices(bt);
            // Transfer-set labels are never read: y is used only on the student's own data.
            double loss, peer_loss = 0.0;
            model_zero_grad(m);
            if (method == KD_METHOD_KD) {
                frozen_logits(r->zt, s->transfer == KD_UNLABELLED ? r->y : NULL, &ft, r->x, idx, b, K);
                if (s->transfer == KD_UNLABELLED_SELF) frozen_logits(r->zs0, NULL, &fsf, r->x, idx, b, K);
                const float *zs = model_forward(m, r->x, b, true);
                loss = kd_loss(r->dlogits, zs, r->zt, r->zs0, r->y, b, K, s->temperature, s->alpha, s->transfer);
            } else if (dpkd) {
                frozen_logits(r->zt, NULL, &ft, r->x, idx, b, K);
                frozen_logits(r->zs0, NULL, &fsf, r->x, idx, b, K);
                if (cached)
                    for (int i = 0; i < b; i++) routed += r->route[i] = r->route_all[idx[i]];
                else
                    routed += kd_dpkd_route(r->route, r->zt, r->zs0, b, K);
                const float *zs = model_forward(m, r->x, b, true);
                loss = kd_dpkd_loss(r->dlogits, r->zr, r->yr, zs, r->zt, r->zs0, r->route, r->y, b, K,
                                    s->temperature, s->alpha, s->transfer);
            } else {
                // Anchors: the other's frozen pseudo-label, one's own frozen logits, or true labels.
                const int *ys = r->y, *yp = r->y;
                if (s->transfer == KD_UNLABELLED) {
                    frozen_logits(NULL, r->ys, &ft, r->x, idx, b, K);
                    frozen_logits(NULL, r->yp, &fsf, r->x, idx, b, K);
                    ys = r->ys, yp = r->yp;
                } else if (s->transfer == KD_UNLABELLED_SELF) {
                    frozen_logits(r->zs0, NULL, &fsf, r->x, idx, b, K);
                    frozen_logits(r->zp0, NULL, &ft, r->x, idx, b, K);
                }
                if (peer_trains) model_zero_grad(mp);
                const float *zs = model_forward(m, r->x, b, true);
                const float *zp = model_forward(mp, r->x, b, peer_trains);
                // Both losses at the same parameters, before either model steps.
                loss = kd_dml_loss(r->dlogits, zs, zp, r->zs0, ys, b, K, s->temperature, s->alpha, s->transfer);
                if (peer_trains)
                    peer_loss = kd_dml_loss(r->dpeer, zp, zs, r->zp0, yp, b, K, s->temperature, s->alpha,
                                            s->transfer);
            }
            seen += b;
            if (!isfinite(loss) || !isfinite(peer_loss)) {
                out->ok = false;
                snprintf(out->reason, sizeof out->reason, "the %s loss became %g at epoch %d, step %d",
                         isfinite(loss) ? "peer's" : "student's", isfinite(loss) ? peer_loss : loss, e + 1,
                         step + 1);
                break;
            }
            model_backward(m, r->dlogits);
            sgd_step(opt, (float)fs->kd.lr);
            if (peer_trains) {
                model_backward(mp, r->dpeer);
                sgd_step(optp, (float)fs->kd.lr);
            }
            step++;
        }
    }
    batcher_destroy(subset);
    if (dpkd) out->routed_fraction = seen ? (double)routed / seen : NAN;
    if (out->ok) {
        measure(r, m, S, r->val_used, r->bits[0], &out->student_val_before, &out->student_val_after,
                &out->student_test_after, &out->forgetting);
        out->val_gain = out->student_val_after - out->student_val_before;
        out->test_gain = out->student_test_after - out->student_test_before;
        if (dml) {
            out->peer_test_before = pt->test_acc;
            measure(r, mp, T, r->val_used, r->bits[1], &out->peer_val_before, &out->peer_val_after,
                    &out->peer_test_after, &out->peer_forgetting);
            out->peer_val_gain = out->peer_val_after - out->peer_val_before;
            out->peer_test_gain = out->peer_test_after - out->peer_test_before;
        }
        if (!isfinite(out->val_gain) || (dml && !isfinite(out->peer_val_gain))) {
            out->ok = false;
            snprintf(out->reason, sizeof out->reason, "the %s outputs are not finite after KD",
                     isfinite(out->val_gain) ? "peer's" : "student's");
        }
    } else {
        out->student_val_before = ps->val_acc;
    }
    if (!out->ok) {
        out->val_gain = out->test_gain = out->forgetting = NAN;
        out->student_val_after = out->student_test_after = NAN;
        out->peer_val_gain = out->peer_test_gain = out->peer_forgetting = NAN;
        out->peer_val_after = out->peer_test_after = NAN;
    }
    r->have_bits[0] = out->ok;
    r->have_bits[1] = out->ok && dml;
    out->seconds = timer_now() - t0;
    return KDT_OK;
}
