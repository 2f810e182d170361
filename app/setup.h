// From a resolved config to a ready federation: the data splits, the partition (saved under
// RUN/partition/), and the participants pre-trained or loaded from RUN/participants/. Shared by
// every command that needs some of it (partition, pretrain, eval, grid, tune, run).
#pragma once
#include "app/config.h"
#include "data/partition.h"
#include "data/splits.h"
#include "kd/federation.h"

typedef struct {
    data_splits splits;
    partition part;
    model_spec specs[CFG_LIST_MAX];
    kd_federation *fed;      // NULL until setup_federation
    char run_dir[CFG_STR_MAX];
    int lock_fd;             // holds an exclusive lock on run_dir/lock while the command runs
} setup;

// The threads to use: experiment.threads, or every core when it is 0.
int setup_threads(const kdt_config *cfg);

// Takes the run directory, what every command does first: refuses one that another kdtune process
// is using (the lock is held until setup_free), or that was made with another config
// (setup_check_run_dir). Nothing else is loaded: a command answered from the store stops here.
kdt_status setup_open_run_dir(setup *s, const kdt_config *cfg);

// Loads the data and makes the partition; saves it under run_dir/partition/ and, when `print`,
// prints its class-count table on stdout. First takes the run directory: refuses one that another
// kdtune process is using, or that was made with another config (see setup_check_run_dir).
kdt_status setup_partition(setup *s, const kdt_config *cfg, bool print);

// setup_partition, then the federation with every participant pre-trained or loaded. With
// workers > 1, that many participants (and later KD rounds) run at once, each on one thread;
// with 1, one at a time on every thread of setup_threads. Small models are far faster the first
// way; the results are the same either way.
kdt_status setup_federation(setup *s, const kdt_config *cfg, int workers);

// After setup_open_run_dir: what setup_federation does next. recall (NULL: none) gives the
// participants' outcomes before KD that the run's store kept, so that loaded participants need
// not be measured again (see kd_federation_spec.recall).
kdt_status setup_build_federation(setup *s, const kdt_config *cfg, int workers, kd_recall_fn recall, void *ctx);

// A synthetic source's splits are kept in run_dir/cache/splits.bin after they are generated once
// (checked against the fingerprint, the sizes and a CRC; regenerated when anything differs), and
// a partition already saved unchanged is not written again.

void setup_free(setup *s);

// The participants' checkpoints are only valid for the config that made them: run_dir/fingerprint
// holds a hash of the sections they depend on (experiment seed, data, partition, federation,
// model, pretrain). A different one is refused with advice; a missing one is written.
kdt_status setup_check_run_dir(const kdt_config *cfg, const char *run_dir);

// That hash, as 16 hex digits.
void setup_fingerprint(const kdt_config *cfg, char out[17]);
