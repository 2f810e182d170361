// The evaluation cache over the store, and KD rounds for what it does not hold.
#include "app/evaluator.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/strbuf.h"

struct evaluator {
    setup *setup;
    store *store;
    const char *names[EVALUATOR_N_STRATEGY_NAMES];
    int workers;
    kd_round **rounds;        // (workers) scratch per thread
    pthread_mutex_t lock;     // `trained`
    int trained;
    evaluator_remote remote;  // used when store is NULL
};

void evaluator_strategy_names(const char *names[EVALUATOR_N_STRATEGY_NAMES]) {
    names[0] = "default";
    names[1] = "grid";
    names[2] = "eval";
    for (int k = 0; k < TUNER_N_STRATEGIES; k++) names[3 + k] = tuner_strategy_name((tuner_strategy)k);
}

// Everything a KD round depends on beyond the participants (whose fingerprint covers data,
// partition, federation, model, pre-training and the seed): the KD training and its augmentation.
uint64_t evaluator_identity(const kdt_config *cfg) {
    char fp[17];
    setup_fingerprint(cfg, fp);
    const cfg_sgd *k = &cfg->kd.sgd;
    strbuf sb = {0};
    sb_printf(&sb, "lr %.17g momentum %.17g weight_decay %.17g epochs %d batch_size %d nesterov %d augment %d",
              k->lr, k->momentum, k->weight_decay, k->epochs, k->batch_size, k->nesterov, k->augment);
    if (k->augment)
        sb_printf(&sb, " crop %d padding %d flip %d", cfg->data.augment.crop, cfg->data.augment.crop_padding,
                  cfg->data.augment.flip);
    char *text = sb_take(&sb);
    uint64_t id = store_identity(fp, text ? text : "");
    free(text);
    return id;
}

kdt_status evaluator_open_store(store **out, const kdt_config *cfg, const char *run_dir,
                                const char *names[EVALUATOR_N_STRATEGY_NAMES]) {
    evaluator_strategy_names(names);
    store_options opt = {run_dir, evaluator_identity(cfg), cfg->federation.participants};
    return store_open(out, &opt, names, EVALUATOR_N_STRATEGY_NAMES);
}

static kdt_status create(evaluator **out, setup *s, const kdt_config *cfg, int workers,
                         const evaluator_remote *remote) {
    *out = NULL;
    evaluator *e = calloc(1, sizeof *e);
    if (!e) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    e->setup = s;
    e->workers = workers > 1 ? workers : 1;
    pthread_mutex_init(&e->lock, NULL);
    kdt_status st = KDT_OK;
    if (remote) e->remote = *remote;
    else st = evaluator_open_store(&e->store, cfg, s->run_dir, e->names);
    // Each participant's per-image outcomes before KD, the other half of every paired test (the
    // owner of a remote store records its own).
    for (int c = 0; !st && e->store && c < cfg->federation.participants; c++) {
        store_outcomes o = {kd_federation_correct(s->fed, c, KD_SPLIT_VAL), kd_federation_correct(s->fed, c, KD_SPLIT_TEST),
                            s->splits.val->n, s->splits.test->n};
        st = store_put_participant_outcomes(e->store, c, &o);
    }
    if (!st && !(e->rounds = calloc((size_t)e->workers, sizeof *e->rounds))) st = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    for (int w = 0; !st && s && w < e->workers; w++)
        st = kd_round_create(&e->rounds[w], s->fed);
    // Rounds on several threads only read the logit cache: fill it first.
    if (!st && s && e->workers > 1 && !cfg->kd.sgd.augment) st = kd_federation_cache_logits(s->fed);
    if (st) {
        evaluator_destroy(e);
        return st;
    }
    *out = e;
    return KDT_OK;
}

kdt_status evaluator_create(evaluator **out, setup *s, const kdt_config *cfg, int workers) {
    return create(out, s, cfg, workers, NULL);
}

kdt_status evaluator_create_remote(evaluator **out, setup *s, const kdt_config *cfg, int workers,
                                   const evaluator_remote *remote) {
    return create(out, s, cfg, workers, remote);
}

void evaluator_destroy(evaluator *e) {
    if (!e) return;
    for (int w = 0; e->rounds && w < e->workers; w++) kd_round_destroy(e->rounds[w]);
    free(e->rounds);
    store_close(e->store);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

store *evaluator_store(evaluator *e) { return e->store; }
const char *evaluator_journal_path(evaluator *e) {
    return e->store ? store_journal_path(e->store) : e->remote.journal;
}
int evaluator_trained(const evaluator *e) { return e->trained; }

kdt_status evaluator_run_evals(evaluator *e, int worker, const store_run *run, store_eval **out, size_t *n) {
    if (e->store) return store_run_evals(e->store, run, out, n);
    return e->remote.run_evals(e->remote.ctx, worker, run, out, n);
}

bool evaluator_has_recommendation(evaluator *e, const store_run *run, int evaluations) {
    // A remote owner checks it when the recommendation arrives.
    return e->store && store_has_recommendation(e->store, run, evaluations);
}

kdt_status evaluator_append_recommendation(evaluator *e, int worker, const store_recommendation *r) {
    if (e->store) return store_append_recommendation(e->store, r);
    return e->remote.append_recommendation(e->remote.ctx, worker, r);
}

static void result_from_round(store_result *r, const kd_result *k) {
    memset(r, 0, sizeof *r);
    r->ok = k->ok;
    snprintf(r->reason, sizeof r->reason, "%s", k->reason);
    r->val_gain = k->val_gain;
    r->test_gain = k->test_gain;
    r->forgetting = k->forgetting;
    r->student_val_before = k->student_val_before;
    r->student_val_after = k->student_val_after;
    r->student_test_before = k->student_test_before;
    r->student_test_after = k->student_test_after;
    r->teacher_test = k->teacher_test;
    r->peer_val_gain = k->peer_val_gain;
    r->peer_test_gain = k->peer_test_gain;
    r->peer_forgetting = k->peer_forgetting;
    r->routed_fraction = k->routed_fraction;
    r->seconds = k->seconds;
}

kdt_status evaluator_eval(evaluator *e, int worker, const store_run *run, int index, const store_setting *set,
                          store_eval *out) {
    KDT_ASSERT(worker >= 0 && worker < e->workers);
    KDT_ASSERT(set->i == run->i && set->j == run->j);
    memset(out, 0, sizeof *out);
    out->run = *run;
    out->index = index;
    out->setting = *set;
    if (!e->store) {
        bool found;
        kdt_status st = e->remote.lookup(e->remote.ctx, worker, out, &found);
        if (st || found) return st;
        KDT_ASSERT(e->rounds[worker]); // an evaluator made without a federation never trains
    } else if (store_has(e->store, run, index)) { // a line written before an interruption: as it is
        store_eval *lines;
        size_t n;
        kdt_status st = store_run_evals(e->store, run, &lines, &n);
        if (st) return st;
        if ((size_t)index < n) *out = lines[index];
        free(lines);
        if ((size_t)index < n) return KDT_OK;
    }
    out->cached = e->store && store_lookup(e->store, set, &out->result);
    store_outcomes mine = {0}, peer = {0};
    bool has_outcomes = false;
    if (!out->cached) {
        kd_setting ks = {.student = store_student(set), .teacher = store_teacher(set),
                         .temperature = (float)set->temperature, .alpha = (float)set->alpha,
                         .transfer = set->transfer, .method = set->method, .replicate = set->replicate,
                         .fidelity = (float)set->fidelity};
        kd_result r;
        kd_round *round = e->rounds[worker];
        kdt_status st = kd_round_run(round, &ks, &r);
        if (st) return st;
        result_from_round(&out->result, &r);
        // The per-image outcomes first, so that a journal line always has them (full rounds
        // only: a screening round scores part of the validation split).
        if (r.ok && set->fidelity == 1) {
            const data_splits *sp = &e->setup->splits;
            mine = (store_outcomes){kd_round_correct(round, KD_SPLIT_VAL), kd_round_correct(round, KD_SPLIT_TEST),
                                    sp->val->n, sp->test->n};
            peer = (store_outcomes){kd_round_peer_correct(round, KD_SPLIT_VAL), kd_round_peer_correct(round, KD_SPLIT_TEST),
                                    sp->val->n, sp->test->n};
            has_outcomes = true;
            if (e->store && (st = store_append_outcomes(e->store, set, &mine, peer.val ? &peer : NULL))) return st;
        }
        pthread_mutex_lock(&e->lock);
        e->trained++;
        pthread_mutex_unlock(&e->lock);
    }
    if (e->store) return store_append(e->store, out);
    return e->remote.append(e->remote.ctx, worker, out, has_outcomes ? &mine : NULL,
                            has_outcomes && peer.val ? &peer : NULL);
}
