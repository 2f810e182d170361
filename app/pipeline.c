// Opening a run and running its phases.
#include "app/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/timer.h"

#include <omp.h>

kdt_status pipeline_open(pipeline *p, const cli_args *args, const char *pairs_spec, bool parallel) {
    memset(p, 0, sizeof *p);
    if (!(p->cfg = malloc(sizeof *p->cfg))) {
        log_error("out of memory");
        return KDT_ERR_NOMEM;
    }
    kdt_status s = cli_load_config(args, p->cfg);
    if (s) return s; // already reported
    const kdt_config *cfg = p->cfg;
    int P = cfg->federation.participants;
    if (!(p->pairs = malloc(sizeof *p->pairs * (size_t)(P * (P - 1) / 2))))
        s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    if (!s) s = tuning_parse_pairs(pairs_spec, P, p->pairs, &p->n_pairs);
    if (!s) {
        p->workers = parallel ? setup_threads(cfg) : 1;
        s = setup_federation(&p->setup, cfg, p->workers);
    }
    if (!s) { // the resolved config, for `kdtune report` and for people
        char path[4096];
        char *yaml = config_to_yaml(cfg, false);
        s = fs_join(path, sizeof path, p->setup.run_dir, "config.yaml");
        if (!s) s = fs_write_atomic(path, yaml, strlen(yaml));
        free(yaml);
    }
    if (!s) s = evaluator_create(&p->eval, &p->setup, cfg, p->workers);
    if (s) log_error("%s", kdt_errmsg());
    return s;
}

void pipeline_close(pipeline *p) {
    evaluator_destroy(p->eval);
    setup_free(&p->setup);
    free(p->pairs);
    free(p->cfg);
    memset(p, 0, sizeof *p);
}

kdt_status pipeline_parse_strategies(const char *list, pipeline_phases *out) {
    out->n_strategies = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *name = strtok(buf, ", "); name; name = strtok(NULL, ", ")) {
        tuner_strategy s;
        if (tuner_strategy_from_name(name, &s) || s == TUNER_GRID)
            return kdt_fail(KDT_ERR_USAGE, "--strategy: unknown strategy '%s'; expected gp, random, bobyqa, "
                            "cobyla, neldermead, sbplx or direct_l (the grid is `kdtune grid`)", name);
        if (out->n_strategies < TUNER_N_STRATEGIES) out->strategies[out->n_strategies++] = s;
    }
    if (!out->n_strategies) return kdt_fail(KDT_ERR_USAGE, "--strategy: no strategy given");
    return KDT_OK;
}

void pipeline_config_strategies(const kdt_config *cfg, pipeline_phases *out) {
    out->n_strategies = 0;
    for (int k = 0; k < cfg->tuner.strategies.n; k++) {
        tuner_strategy s;
        if (tuner_strategy_from_name(config_choice_name("tuner.strategies", cfg->tuner.strategies.v[k]), &s) == KDT_OK)
            out->strategies[out->n_strategies++] = s;
    }
}

kdt_status pipeline_run(pipeline *p, const pipeline_phases *ph) {
    const kdt_config *cfg = p->cfg;
    int positions = cfg->tuner.ordered ? cfg->space.positions.n : 1;
    size_t per_pair = (ph->defaults ? (size_t)tuning_default_size() : 0) +
                      (ph->grid ? (size_t)tuning_grid_size(cfg) : 0) +
                      (size_t)ph->n_strategies * (size_t)cfg->tuner.budget * (size_t)positions;
    size_t total = per_pair * (size_t)p->n_pairs;
    double t0 = timer_now();
    int trained0 = evaluator_trained(p->eval);
    tuning_progress prog = {progress_create("evaluations", total), 0, PTHREAD_MUTEX_INITIALIZER};
    // Phase by phase over all pairs, so that the grid is complete before the tuners are compared;
    // within a phase the pairs are shared out among the workers. Strategy -1: the default, -2: the grid.
    int phases[2 + TUNER_N_STRATEGIES], n_phases = 0;
    if (ph->defaults) phases[n_phases++] = -1;
    if (ph->grid) phases[n_phases++] = -2;
    for (int k = 0; k < ph->n_strategies; k++) phases[n_phases++] = (int)ph->strategies[k];
    kdt_status s = KDT_OK;
    for (int f = 0; f < n_phases && !s; f++) {
        volatile bool failed = false;
        char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->workers) if (p->workers > 1)
        for (int q = 0; q < p->n_pairs; q++) {
            if (failed) continue;
            int w = omp_get_thread_num();
            kdt_status st;
            if (phases[f] == -1) st = tuning_default(p->eval, w, cfg, p->pairs[q], &prog);
            else if (phases[f] == -2) st = tuning_grid(p->eval, w, cfg, p->pairs[q], &prog);
            else st = tuning_tune(p->eval, w, cfg, (tuner_strategy)phases[f], p->pairs[q], &prog);
            if (st) {
#pragma omp critical(pipeline_error)
                if (!failed) { // the first failure's message, copied out of its thread
                    failed = true;
                    s = st;
                    snprintf(msg, sizeof msg, "%s", kdt_errmsg());
                }
            }
        }
        if (s) kdt_fail(s, "%s", msg);
    }
    progress_finish(prog.bar);
    size_t done = prog.done;
    int trained = evaluator_trained(p->eval) - trained0;
    double secs = timer_now() - t0;
    if (s) log_error("%s", kdt_errmsg());
    log_info("%zu evaluations over %d pairs in %.1f s with %d worker%s: %d KD rounds trained, the rest read "
             "from the journal", done, p->n_pairs, secs, p->workers, p->workers > 1 ? "s" : "", trained);
    return s;
}
