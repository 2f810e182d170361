// Every KD evaluation of a run goes through the evaluator: a setting the run's store already holds
// (evaluated before by any command or strategy, under the same identity) is read back from it; the
// rest are trained, one KD round each, and appended to the store.
#pragma once
#include "app/config.h"
#include "app/setup.h"
#include "kd/round.h"
#include "store/store.h"
#include "tuner/tuner.h"

typedef struct evaluator evaluator;

// Opens run_dir's store under the identity of cfg (store_identity of the run's fingerprint and
// every KD training setting). workers: how many threads may evaluate at once, each with its own
// KD scratch space.
kdt_status evaluator_create(evaluator **out, setup *s, const kdt_config *cfg, int workers);
void evaluator_destroy(evaluator *e);

// The local store (NULL for a remote evaluator).
store *evaluator_store(evaluator *e);
// The journal's path, or what it is for a remote evaluator (for messages).
const char *evaluator_journal_path(evaluator *e);

// Line `index` of `run`: set evaluated (from the store, out->cached = true, or by a KD round) and
// appended to the journal, unless the run already has that line, which is then returned as it is.
// A diverged round is an evaluation with result.ok = false, not an error.
// worker: the calling thread's number in [0, workers). Thread-safe.
kdt_status evaluator_eval(evaluator *e, int worker, const store_run *run, int index, const store_setting *set,
                          store_eval *out);

// An evaluator whose store lives in another process (app/mpi_run.c): it trains KD rounds here and
// asks the owner for everything else. Each call gets the calling thread's worker number.
typedef struct {
    void *ctx;
    const char *journal;  // the owner's journal path (for messages)
    // The owner's answer for out->run, out->index, out->setting: its journal line as it is, or a
    // cached result that it has appended (out->cached); *found = false when it must be trained.
    kdt_status (*lookup)(void *ctx, int worker, store_eval *out, bool *found);
    // A trained evaluation, appended by the owner with its per-image outcomes (NULL: none; peer:
    // DML's other participant); *e gets the line as stored.
    kdt_status (*append)(void *ctx, int worker, store_eval *e, const store_outcomes *mine, const store_outcomes *peer);
    kdt_status (*append_recommendation)(void *ctx, int worker, const store_recommendation *r);
    // The run's lines in index order, as store_run_evals gives them (a malloc'ed copy).
    kdt_status (*run_evals)(void *ctx, int worker, const store_run *run, store_eval **out, size_t *n);
} evaluator_remote;

// As evaluator_create, over `remote` instead of run_dir's store; s = NULL: an evaluator that never
// trains (every lookup must find).
kdt_status evaluator_create_remote(evaluator **out, setup *s, const kdt_config *cfg, int workers,
                                   const evaluator_remote *remote);

// What tuning runs need of the store, local or remote: a run's lines (for a replay), and its
// recommendation. worker: the calling thread's number, as for evaluator_eval.
kdt_status evaluator_run_evals(evaluator *e, int worker, const store_run *run, store_eval **out, size_t *n);
bool evaluator_has_recommendation(evaluator *e, const store_run *run, int evaluations);
kdt_status evaluator_append_recommendation(evaluator *e, int worker, const store_recommendation *r);

// KD rounds trained by this evaluator (the rest came from the store). Read between phases.
int evaluator_trained(const evaluator *e);

// The identity of cfg's evaluations in run_dir (see store/store.h).
uint64_t evaluator_identity(const kdt_config *cfg);

// The strategy names a journal line may carry: default, grid, eval and the tuner's.
enum { EVALUATOR_N_STRATEGY_NAMES = 3 + TUNER_N_STRATEGIES };
void evaluator_strategy_names(const char *names[EVALUATOR_N_STRATEGY_NAMES]);

// Opens run_dir's store for cfg's identity (what evaluator_create does; `kdtune report` reads it
// without training anything). names: filled by evaluator_strategy_names, outliving the store.
kdt_status evaluator_open_store(store **out, const kdt_config *cfg, const char *run_dir,
                                const char *names[EVALUATOR_N_STRATEGY_NAMES]);
