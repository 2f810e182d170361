// Opening a run and running its phases.
#include "app/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/mpi_run.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/timer.h"

#include <omp.h>

kdt_status pipeline_open(pipeline *p, const pipeline_request *req) {
    memset(p, 0, sizeof *p);
    if (!(p->cfg = malloc(sizeof *p->cfg))) {
        log_error("out of memory");
        return KDT_ERR_NOMEM;
    }
    *p->cfg = *req->cfg;
    const kdt_config *cfg = p->cfg;
    kdt_status s = KDT_OK;
    int P = cfg->federation.participants;
    if (!(p->pairs = malloc(sizeof *p->pairs * (size_t)(P * (P - 1) / 2))))
        s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    if (!s) s = tuning_parse_pairs(req->pairs, P, p->pairs, &p->n_pairs);
    // Under mpirun the workers open the run from here on with rank 0's config.
    if (!s && mpi_run_active() && !mpi_run_is_worker()) s = mpi_run_start(cfg, req->pairs);
    if (!s) {
        p->workers = req->parallel ? setup_threads(cfg) : 1;
        s = setup_federation(&p->setup, cfg, p->workers);
    }
    if (!s && !mpi_run_is_worker()) { // the resolved config, for `kdtune report` and for people
        char path[4096];
        char *yaml = config_to_yaml(cfg, false);
        s = fs_join(path, sizeof path, p->setup.run_dir, "config.yaml");
        if (!s) s = fs_write_atomic(path, yaml, strlen(yaml));
        free(yaml);
    }
    // Over MPI, rank 0 trains nothing (one scratch, no logit cache) and workers ask it for the rest.
    if (!s) s = mpi_run_is_worker() ? mpi_run_create_evaluator(&p->eval, &p->setup, cfg, p->workers)
                                    : evaluator_create(&p->eval, &p->setup, cfg, mpi_run_active() ? 1 : p->workers);
    if (mpi_run_active()) s = mpi_run_opened(s, p->workers);
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
    for (int k = 0; k < cfg->tuner.strategies.n; k++) out->strategies[out->n_strategies++] = cfg->tuner.strategies.v[k];
}

int pipeline_phase_list(const pipeline_phases *ph, pipeline_phase out[PIPELINE_MAX_PHASES]) {
    int n = 0;
    if (ph->defaults) out[n++] = (pipeline_phase){PIPELINE_DEFAULT, 0};
    if (ph->grid) out[n++] = (pipeline_phase){PIPELINE_GRID, 0};
    for (int k = 0; k < ph->n_strategies; k++) out[n++] = (pipeline_phase){PIPELINE_TUNE, ph->strategies[k]};
    return n;
}

size_t pipeline_evals_per_pair(const kdt_config *cfg, const pipeline_phases *ph) {
    int positions = cfg->tuner.ordered ? cfg->space.positions.n : 1;
    return (ph->defaults ? (size_t)tuning_default_size(cfg) : 0) + (ph->grid ? (size_t)tuning_grid_size(cfg) : 0) +
           (size_t)ph->n_strategies * ((size_t)cfg->tuner.budget * (size_t)positions +
                                       (size_t)tuning_default_size(cfg)); // + the free initial points
}

kdt_status pipeline_run(pipeline *p, const pipeline_phases *ph) {
    if (mpi_run_active()) return mpi_run_pipeline(p, ph);
    const kdt_config *cfg = p->cfg;
    size_t total = pipeline_evals_per_pair(cfg, ph) * (size_t)p->n_pairs;
    double t0 = timer_now();
    int trained0 = evaluator_trained(p->eval);
    tuning_progress prog = {progress_create("evaluations", total), 0, PTHREAD_MUTEX_INITIALIZER};
    // Phase by phase over all pairs, so that the grid is complete before the tuners are compared;
    // within a phase the pairs are shared out among the workers.
    pipeline_phase phases[PIPELINE_MAX_PHASES];
    int n_phases = pipeline_phase_list(ph, phases);
    kdt_status s = KDT_OK;
    for (int f = 0; f < n_phases && !s; f++) {
        // gp_transfer learns from the pairs tuned before: the pairs go in fixed waves of
        // tuner.transfer_wave, each seeing only the waves before it, so that the result never
        // depends on the worker count. Every other phase is one wave of all pairs.
        bool waves = phases[f].kind == PIPELINE_TUNE && phases[f].strategy == TUNER_GP_TRANSFER;
        int wave = waves ? cfg->tuner.transfer_wave : p->n_pairs;
        for (int first = 0; first < p->n_pairs && !s; first += wave) {
            int last = first + wave < p->n_pairs ? first + wave : p->n_pairs;
            volatile bool failed = false;
            char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->workers) if (p->workers > 1)
            for (int q = first; q < last; q++) {
                if (failed) continue;
                int w = omp_get_thread_num();
                kdt_status st;
                switch (phases[f].kind) {
                case PIPELINE_DEFAULT: st = tuning_default(p->eval, w, cfg, p->pairs[q], &prog); break;
                case PIPELINE_GRID: st = tuning_grid(p->eval, w, cfg, p->pairs[q], &prog); break;
                default:
                    st = tuning_tune(p->eval, w, cfg, phases[f].strategy, p->pairs[q], p->pairs, waves ? first : 0,
                                     &prog);
                    break;
                }
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
    }
    progress_finish(prog.bar);
    size_t done = prog.done;
    int trained = evaluator_trained(p->eval) - trained0;
    double secs = timer_now() - t0;
    if (s) log_error("%s", kdt_errmsg());
    log_info("%zu evaluations over %d pairs in %.2f s with %d worker%s: %d KD rounds trained, the rest read "
             "from the journal", done, p->n_pairs, secs, p->workers, p->workers > 1 ? "s" : "", trained);
    return s;
}
