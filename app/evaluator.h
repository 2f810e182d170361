// Every KD evaluation of a run goes through the evaluator: it reads the run's journal
// (trials.jsonl) once, so that a setting evaluated before (by any command or strategy) is served
// from there instead of being trained again, and it runs KD rounds for the rest.
#pragma once
#include <stdbool.h>

#include "app/config.h"
#include "app/setup.h"
#include "app/trial.h"
#include "kd/round.h"

typedef struct evaluator evaluator;

// Reads run_dir/trials.jsonl (a damaged last line is cut off with a warning) into the cache.
// workers: how many threads may evaluate at once (each gets its own KD scratch space).
kdt_status evaluator_create(evaluator **out, setup *s, const kdt_config *cfg, int workers);
void evaluator_destroy(evaluator *e);

const char *evaluator_journal(const evaluator *e);

// The lines of run_key that were in the journal when the evaluator was created (a JSON array, and
// their line numbers), for tuner_replay; NULL when there were none.
void evaluator_run_lines(const evaluator *e, const char *run_key, const json_t **lines, const json_t **linenos);

// Fills t's setting and metrics for pair {i, j} (i < j): position forward = i teaches j.
// The result comes from the cache when (student, teacher, T, alpha, transfer set) was evaluated
// before (t->cached is then true), else from a KD round, which is added to the cache. Leaves
// t->strategy, t->index and t->fixed_position to the caller. A diverged round is a trial with
// ok = false, not an error.
// worker: the calling thread's number in [0, workers). Thread-safe.
kdt_status evaluator_eval(evaluator *e, int worker, int i, int j, double temperature, double alpha,
                          int transfer_set, int position, trial *t);

// Whether the journal already has line i of run_key (for lines the application writes itself).
bool evaluator_has_line(const evaluator *e, const char *run_key, int i);

// Appends a line the application writes itself (default and eval evaluations, recommendations).
// Thread-safe.
kdt_status evaluator_append(evaluator *e, const trial *t, const char *run_key);


// KD rounds trained by this evaluator (the rest of its evaluations came from the journal).
int evaluator_trained(const evaluator *e);
