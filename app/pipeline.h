// What the commands that evaluate share: open a run (config, threads, federation, the resolved
// config.yaml, the evaluator over the journal) and run the phases (default, grid, strategies)
// over a set of pairs with one progress bar.
#pragma once
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

// What a command asks of a run.
typedef struct {
    const kdt_config *cfg;     // resolved and checked (copied)
    const char *pairs;         // "0-1,2-5" or NULL for every pair
    bool parallel;             // several pairs at once, one thread each (else one evaluation at a
                               // time on every thread)
} pipeline_request;

// Pre-trains or loads the participants, writes run_dir/config.yaml and opens the store.
// Reports its errors itself.
kdt_status pipeline_open(pipeline *p, const pipeline_request *req);
void pipeline_close(pipeline *p);

typedef struct {
    bool defaults, grid;
    tuner_strategy strategies[TUNER_N_STRATEGIES];
    int n_strategies;
} pipeline_phases;

// Runs the phases on every pair of p, in this order: defaults, grid, each strategy (each phase is
// complete on every pair before the next begins).
kdt_status pipeline_run(pipeline *p, const pipeline_phases *phases);

// One phase of a run over every pair, as pipeline_run (and its MPI form) runs them.
typedef enum { PIPELINE_DEFAULT, PIPELINE_GRID, PIPELINE_TUNE } pipeline_phase_kind;
typedef struct {
    pipeline_phase_kind kind;
    tuner_strategy strategy; // PIPELINE_TUNE
} pipeline_phase;
enum { PIPELINE_MAX_PHASES = 2 + TUNER_N_STRATEGIES };
// The phases in the order they run (defaults, grid, each strategy) into out; their count.
int pipeline_phase_list(const pipeline_phases *phases, pipeline_phase out[PIPELINE_MAX_PHASES]);
// Evaluations per pair that the phases make, free initial points included (the progress total).
size_t pipeline_evals_per_pair(const kdt_config *cfg, const pipeline_phases *phases);

// Parses "gp,random" into strategies (grid is not a tuning strategy here).
kdt_status pipeline_parse_strategies(const char *list, pipeline_phases *out);
// The config's tuner.strategies.
void pipeline_config_strategies(const kdt_config *cfg, pipeline_phases *out);
