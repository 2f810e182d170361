// KD evaluations driven per pair: the default setting, the grid and the tuning strategies, each a
// run in the journal (run keys such as "default/0-3", "grid/0-3", "gp/0-3", "gp/0-3/reverse"),
// so that an interrupted command continues where it stopped when run again.
#pragma once
#include "app/config.h"
#include "app/evaluator.h"
#include "common/progress.h"
#include "tuner/tuner.h"

#include <pthread.h>

typedef struct {
    int i, j;
} tuning_pair;

// A progress bar shared by the threads that evaluate.
typedef struct {
    progress *bar;
    size_t done;
    pthread_mutex_t lock;
} tuning_progress;

void tuning_progress_tick(tuning_progress *p);

// Parses "0-1,2-5" (or "all") into pairs of participants i < j; NULL spec = all pairs.
// *n gets the count; pairs has room for participants * (participants - 1) / 2.
kdt_status tuning_parse_pairs(const char *spec, int participants, tuning_pair *pairs, int *n);

// The tuner's search space from cfg->space: temperature, alpha, transfer_set, position (fixed
// when fixed_position >= 0).
kdt_status tuning_space_create(tuner_space **out, const kdt_config *cfg, int fixed_position);

// Evaluations each phase adds per pair (for progress bars).
int tuning_default_size(const kdt_config *cfg);
int tuning_grid_size(const kdt_config *cfg);

// Each phase below runs on one pair; `worker` is the calling thread's number for the evaluator,
// and `prog` may be NULL.

// The default setting (kd.temperature, kd.alpha) in both positions with every transfer set.
kdt_status tuning_default(evaluator *e, int worker, const kdt_config *cfg, tuning_pair p, tuning_progress *prog);

// The exhaustive grid of cfg->grid on the pair.
kdt_status tuning_grid(evaluator *e, int worker, const kdt_config *cfg, tuning_pair p, tuning_progress *prog);

// One strategy with cfg->tuner.budget evaluations (per position when cfg->tuner.ordered), ending
// with the run's recommendation line.
// earlier (n_earlier): the pairs tuned before this one, whose runs of the same strategy
// gp_transfer learns from (ignored by the other strategies).
kdt_status tuning_tune(evaluator *e, int worker, const kdt_config *cfg, tuner_strategy strategy,
                       tuning_pair p, const tuning_pair *earlier, int n_earlier, tuning_progress *prog);
