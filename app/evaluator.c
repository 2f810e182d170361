// The evaluation cache over the journal, and KD rounds for what it does not hold.
#include "app/evaluator.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/rng.h"
#include "tuner/journal.h"

// An evaluation is identified by who teaches whom and the setting; the cache is an open-addressing
// hash table over those keys (a few thousand entries per run).
typedef struct {
    int student, teacher, transfer_set;
    double temperature, alpha;
} eval_key;

typedef struct {
    bool used;
    eval_key key;
    trial result;
} cache_slot;

// (run key, line index) pairs already in the journal, for the lines the application writes.
typedef struct {
    uint64_t *hashes;
    size_t n, cap;
} line_set;

struct evaluator {
    setup *setup;
    const kdt_config *cfg;
    int workers;
    kd_round **rounds;           // (workers) scratch per thread
    pthread_mutex_t state_lock;  // the cache, the line set, the counters
    char journal[4096];
    cache_slot *slots;
    size_t cap, used;
    line_set lines;
    json_t *runs;                // run key -> {"lines": [...], "linenos": [...]}, for replays
    int trained;
};

static uint64_t key_hash(const eval_key *k) {
    uint64_t t, a;
    memcpy(&t, &k->temperature, sizeof t);
    memcpy(&a, &k->alpha, sizeof a);
    uint64_t words[] = {(uint64_t)k->student, (uint64_t)k->teacher, (uint64_t)k->transfer_set, t, a};
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        h = (h ^ words[i]) * 0x100000001B3ull ^ (h >> 29);
    return h;
}

static bool key_equal(const eval_key *a, const eval_key *b) {
    return a->student == b->student && a->teacher == b->teacher && a->transfer_set == b->transfer_set &&
           a->temperature == b->temperature && a->alpha == b->alpha;
}

static cache_slot *cache_find(evaluator *e, const eval_key *k) {
    size_t mask = e->cap - 1;
    for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask)
        if (!e->slots[i].used || key_equal(&e->slots[i].key, k)) return &e->slots[i];
}

static kdt_status cache_put(evaluator *e, const eval_key *k, const trial *t) {
    if (2 * (e->used + 1) > e->cap) { // keep the load under one half
        size_t old_cap = e->cap;
        cache_slot *old = e->slots;
        e->cap = 2 * old_cap;
        e->slots = calloc(e->cap, sizeof *e->slots);
        if (!e->slots) {
            e->slots = old;
            e->cap = old_cap;
            return kdt_fail(KDT_ERR_NOMEM, "out of memory growing the evaluation cache");
        }
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].used) *cache_find(e, &old[i].key) = old[i];
        free(old);
    }
    cache_slot *slot = cache_find(e, k);
    if (!slot->used) e->used++;
    slot->used = true;
    slot->key = *k;
    slot->result = *t;
    return KDT_OK;
}

static uint64_t line_hash(const char *run_key, int i) {
    return rng_hash_str(run_key) ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull);
}

static kdt_status lines_add(line_set *l, uint64_t h) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *grown = realloc(l->hashes, cap * sizeof *grown);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory reading the journal");
        l->hashes = grown;
        l->cap = cap;
    }
    l->hashes[l->n++] = h;
    return KDT_OK;
}

bool evaluator_has_line(const evaluator *e, const char *run_key, int i) {
    uint64_t h = line_hash(run_key, i);
    pthread_mutex_lock((pthread_mutex_t *)&e->state_lock);
    bool found = false;
    for (size_t q = 0; q < e->lines.n && !found; q++) found = e->lines.hashes[q] == h;
    pthread_mutex_unlock((pthread_mutex_t *)&e->state_lock);
    return found;
}


static kdt_status load_line(const json_t *line, size_t lineno, void *user) {
    evaluator *e = user;
    json_t *run = json_object_get(line, "run"), *i = json_object_get(line, "i");
    if (json_is_string(run) && json_is_integer(i)) {
        kdt_status s = lines_add(&e->lines, line_hash(json_string_value(run), (int)json_integer_value(i)));
        if (s) return s;
        json_t *r = json_object_get(e->runs, json_string_value(run));
        if (!r) {
            r = json_pack("{s:[], s:[]}", "lines", "linenos");
            json_object_set_new(e->runs, json_string_value(run), r);
        }
        json_array_append(json_object_get(r, "lines"), (json_t *)line);
        json_array_append_new(json_object_get(r, "linenos"), json_integer((json_int_t)lineno));
    }
    trial t;
    kdt_status s = trial_from_json(line, &t);
    if (s)
        return kdt_fail(s, "%s:%zu: not an evaluation line of kdtune (%s); was the file written by "
                        "another tool? Move it away to start the journal over", e->journal, lineno, kdt_errmsg());
    if (t.is_recommendation) return KDT_OK;
    eval_key k = {t.student, t.teacher, t.transfer_set, t.temperature, t.alpha};
    return cache_put(e, &k, &t);
}

kdt_status evaluator_create(evaluator **out, setup *s, const kdt_config *cfg, int workers) {
    *out = NULL;
    evaluator *e = calloc(1, sizeof *e);
    if (!e) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    e->setup = s;
    e->cfg = cfg;
    e->workers = workers > 1 ? workers : 1;
    pthread_mutex_init(&e->state_lock, NULL);

    kdt_status st = fs_join(e->journal, sizeof e->journal, s->run_dir, "trials.jsonl");
    e->cap = 1024;
    e->runs = json_object();
    if (!(e->slots = calloc(e->cap, sizeof *e->slots)) || !e->runs) st = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    tuner_journal_info info;
    if (!st) st = tuner_journal_foreach(e->journal, load_line, e, &info);
    // Cut a torn last line now, so that new lines do not land after it.
    if (!st) st = tuner_journal_repair(e->journal, &info);
    if (!st && !(e->rounds = calloc((size_t)e->workers, sizeof *e->rounds))) st = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    for (int w = 0; !st && w < e->workers; w++)
        if (!(e->rounds[w] = kd_round_create(s->fed))) st = KDT_ERR_NOMEM;
    // Rounds on several threads only read the logit cache: fill it first.
    if (!st && e->workers > 1 && !cfg->kd.sgd.augment) st = kd_federation_cache_logits(s->fed);
    if (st) {
        evaluator_destroy(e);
        return st;
    }
    *out = e;
    return KDT_OK;
}

void evaluator_destroy(evaluator *e) {
    if (!e) return;
    for (int w = 0; e->rounds && w < e->workers; w++) kd_round_destroy(e->rounds[w]);
    free(e->rounds);
    pthread_mutex_destroy(&e->state_lock);

    free(e->slots);
    free(e->lines.hashes);
    json_decref(e->runs);
    free(e);
}

const char *evaluator_journal(const evaluator *e) { return e->journal; }

void evaluator_run_lines(const evaluator *e, const char *run_key, const json_t **lines, const json_t **linenos) {
    json_t *r = json_object_get(e->runs, run_key); // written only while the evaluator is created
    *lines = r ? json_object_get(r, "lines") : NULL;
    *linenos = r ? json_object_get(r, "linenos") : NULL;
}
int evaluator_trained(const evaluator *e) { return e->trained; } // read between phases, not during

kdt_status evaluator_eval(evaluator *e, int worker, int i, int j, double temperature, double alpha,
                          int transfer_set, int position, trial *t) {
    int student = position == POSITION_FORWARD ? j : i, teacher = position == POSITION_FORWARD ? i : j;
    eval_key k = {student, teacher, transfer_set, temperature, alpha};
    trial keep = *t; // the caller's strategy, index and fixed position
    pthread_mutex_lock(&e->state_lock);
    cache_slot *slot = cache_find(e, &k);
    bool hit = slot->used;
    if (hit) {
        *t = slot->result;
        t->cached = true;
    }
    pthread_mutex_unlock(&e->state_lock);
    if (!hit) {
        kd_setting set = {.student = student, .teacher = teacher, .temperature = (float)temperature,
                          .alpha = (float)alpha, .transfer = (kd_transfer)transfer_set};
        kd_result r;
        kdt_status s = kd_round_run(e->rounds[worker], &set, &r);
        if (s) return s;
        memset(t, 0, sizeof *t);
        t->student = student;
        t->teacher = teacher;
        t->temperature = temperature;
        t->alpha = alpha;
        t->transfer_set = transfer_set;
        t->ok = r.ok;
        snprintf(t->reason, sizeof t->reason, "%s", r.reason);
        t->val_gain = r.val_gain;
        t->test_gain = r.test_gain;
        t->forgetting = r.forgetting;
        t->student_val_before = r.student_val_before;
        t->student_val_after = r.student_val_after;
        t->student_test_before = r.student_test_before;
        t->student_test_after = r.student_test_after;
        t->teacher_test = r.teacher_test;
        t->seconds = r.seconds;
        pthread_mutex_lock(&e->state_lock);
        s = cache_put(e, &k, t);
        e->trained++;
        pthread_mutex_unlock(&e->state_lock);
        if (s) return s;
    }
    memcpy(t->strategy, keep.strategy, sizeof t->strategy);
    t->index = keep.index;
    t->fixed_position = keep.fixed_position;
    t->is_recommendation = false;
    t->i = i;
    t->j = j;
    t->position = position;
    return KDT_OK;
}

kdt_status evaluator_append(evaluator *e, const trial *t, const char *run_key) {
    json_t *line = trial_line(t, run_key);
    kdt_status s = tuner_journal_append(e->journal, line); // one O_APPEND write: safe across threads
    json_decref(line);
    if (!s) {
        pthread_mutex_lock(&e->state_lock);
        s = lines_add(&e->lines, line_hash(run_key, t->index));
        pthread_mutex_unlock(&e->state_lock);
    }
    return s;
}
