// What the commands that evaluate share: open a run (config, threads, federation, the resolved
// config.yaml, the evaluator over the journal) and run the phases (default, grid, strategies)
// over a set of pairs with one progress bar.
#pragma once
#include "app/cli.h"
#include "app/evaluator.h"
#include "app/setup.h"
#include "app/tuning.h"

typedef struct {
    kdt_config *cfg;
    setup setup;
    evaluator *eval;
    tuning_pair *pairs;
    int n_pairs;
    int workers;        // evaluations at once, one thread each
} pipeline;

// Loads the config from the command line, pre-trains or loads the participants, writes
// run_dir/config.yaml and opens the journal. pairs_spec: --pairs (NULL = all pairs). parallel:
// evaluate several pairs at once (else one evaluation at a time on every thread).
kdt_status pipeline_open(pipeline *p, const cli_args *args, const char *pairs_spec, bool parallel);
void pipeline_close(pipeline *p);

typedef struct {
    bool defaults, grid;
    tuner_strategy strategies[TUNER_N_STRATEGIES];
    int n_strategies;
} pipeline_phases;

// Runs the phases on every pair of p, in this order: defaults, grid, each strategy.
kdt_status pipeline_run(pipeline *p, const pipeline_phases *phases);

// Parses "gp,random" into strategies (grid is not a tuning strategy here).
kdt_status pipeline_parse_strategies(const char *list, pipeline_phases *out);
// The config's tuner.strategies.
void pipeline_config_strategies(const kdt_config *cfg, pipeline_phases *out);
