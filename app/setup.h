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

// Loads the data and makes the partition; saves it under run_dir/partition/ and, when `print`,
// prints its class-count table on stdout. First takes the run directory: refuses one that another
// kdtune process is using, or that was made with another config (see setup_check_run_dir).
kdt_status setup_partition(setup *s, const kdt_config *cfg, bool print);

// setup_partition, then the federation with every participant pre-trained or loaded. With
// workers > 1, that many participants (and later KD rounds) run at once, each on one thread;
// with 1, one at a time on every thread of setup_threads. Small models are far faster the first
// way; the results are the same either way.
kdt_status setup_federation(setup *s, const kdt_config *cfg, int workers);

void setup_free(setup *s);

// The participants' checkpoints are only valid for the config that made them: run_dir/fingerprint
// holds a hash of the sections they depend on (experiment seed, data, partition, federation,
// model, pretrain). A different one is refused with advice; a missing one is written.
kdt_status setup_check_run_dir(const kdt_config *cfg, const char *run_dir);

// That hash, as 16 hex digits.
void setup_fingerprint(const kdt_config *cfg, char out[17]);
