// The default, grid and tuning runs of a pair, over the evaluator and the tuner library.
#include "app/tuning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/log.h"
#include "common/rng.h"

// The parameters of a KD space, in order.
enum { P_TEMPERATURE, P_ALPHA, P_TRANSFER, P_POSITION, P_METHOD, N_PARAMS };

kdt_status tuning_parse_pairs(const char *spec, int participants, tuning_pair *pairs, int *n) {
    *n = 0;
    if (!spec || strcmp(spec, "all") == 0) {
        for (int i = 0; i < participants; i++)
            for (int j = i + 1; j < participants; j++) pairs[(*n)++] = (tuning_pair){i, j};
        return KDT_OK;
    }
    const char *p = spec;
    while (*p) {
        int i, j, used;
        if (sscanf(p, "%d-%d%n", &i, &j, &used) != 2 && sscanf(p, "%d:%d%n", &i, &j, &used) != 2)
            return kdt_fail(KDT_ERR_USAGE, "pairs '%s': expected pairs such as 0-1,2-5 (or all)", spec);
        if (i > j) { int t = i; i = j; j = t; }
        if (i < 0 || j >= participants || i == j)
            return kdt_fail(KDT_ERR_USAGE, "pairs '%s': %d-%d is not two different participants in "
                            "[0, %d) (federation.participants)", spec, i, j, participants);
        bool dup = false;
        for (int q = 0; q < *n; q++) dup |= pairs[q].i == i && pairs[q].j == j;
        if (!dup) pairs[(*n)++] = (tuning_pair){i, j};
        p += used;
        if (*p == ',') p++;
        else if (*p)
            return kdt_fail(KDT_ERR_USAGE, "pairs '%s': expected ',' after %d-%d", spec, i, j);
    }
    return KDT_OK;
}

// Adds a continuous parameter on [lo, hi], fixed when lo == hi.
static kdt_status add_range(tuner_space *s, const char *name, double lo, double hi, bool log_scale) {
    if (lo == hi) {
        kdt_status st = tuner_space_add_continuous(s, name, lo, log_scale ? 2 * lo : lo + 1, log_scale);
        return st ? st : tuner_space_fix(s, name, lo);
    }
    return tuner_space_add_continuous(s, name, lo, hi, log_scale);
}

// The categoricals take KD's own names, so a point reads back into a setting by name.
static kdt_status add_transfers(tuner_space *s, const cfg_transfers *list) {
    const char *names[KD_N_TRANSFERS];
    KDT_ASSERT(list->n <= KD_N_TRANSFERS);
    for (int c = 0; c < list->n; c++) names[c] = kd_transfer_name(list->v[c]);
    return tuner_space_add_categorical(s, "transfer_set", names, (size_t)list->n);
}

static kdt_status add_positions(tuner_space *s, const cfg_positions *list) {
    const char *names[KD_N_POSITIONS];
    KDT_ASSERT(list->n <= KD_N_POSITIONS);
    for (int c = 0; c < list->n; c++) names[c] = kd_position_name(list->v[c]);
    return tuner_space_add_categorical(s, "position", names, (size_t)list->n);
}

static kdt_status add_methods(tuner_space *s, const cfg_methods *list) {
    const char *names[KD_N_METHODS];
    KDT_ASSERT(list->n <= KD_N_METHODS);
    for (int c = 0; c < list->n; c++) names[c] = kd_method_name(list->v[c]);
    return tuner_space_add_categorical(s, "method", names, (size_t)list->n);
}

kdt_status tuning_space_create(tuner_space **out, const kdt_config *cfg, int fixed_position) {
    tuner_space *s;
    kdt_status st = tuner_space_create(&s);
    if (st) return st;
    st = add_range(s, "temperature", cfg->space.temperature.v[0], cfg->space.temperature.v[1],
                   cfg->space.temperature_scale == CONFIG_SCALE_LOG);
    if (!st) st = add_range(s, "alpha", cfg->space.alpha.v[0], cfg->space.alpha.v[1], false);
    if (!st) st = add_transfers(s, &cfg->space.transfer_sets);
    if (fixed_position >= 0) {
        cfg_positions one = {1, {(kd_position)fixed_position}};
        if (!st) st = add_positions(s, &one);
    } else if (!st) {
        st = add_positions(s, &cfg->space.positions);
    }
    if (!st) st = add_methods(s, &cfg->space.methods);
    if (st) {
        tuner_space_destroy(s);
        return st;
    }
    *out = s;
    return KDT_OK;
}

// The grid's own space: its value lists, so every grid value is inside it.
static kdt_status grid_space_create(tuner_space **out, const kdt_config *cfg) {
    tuner_space *s;
    kdt_status st = tuner_space_create(&s);
    if (st) return st;
    const cfg_floats *T = &cfg->grid.temperatures, *A = &cfg->grid.alphas;
    double tlo = T->v[0], thi = T->v[0], alo = A->v[0], ahi = A->v[0];
    for (int q = 1; q < T->n; q++) tlo = fmin(tlo, T->v[q]), thi = fmax(thi, T->v[q]);
    for (int q = 1; q < A->n; q++) alo = fmin(alo, A->v[q]), ahi = fmax(ahi, A->v[q]);
    st = add_range(s, "temperature", tlo, thi, false);
    if (!st) st = add_range(s, "alpha", alo, ahi, false);
    if (!st) st = add_transfers(s, &cfg->grid.transfer_sets);
    if (!st) st = add_positions(s, &cfg->grid.positions);
    if (!st) st = add_methods(s, &cfg->grid.methods);
    if (st) {
        tuner_space_destroy(s);
        return st;
    }
    *out = s;
    return KDT_OK;
}

// The methods the default phase evaluates at the default T and alpha: every method the space or
// the grid uses, so that the best non-tuned approach is known for each (kd first).
static int default_methods(const kdt_config *cfg, kd_method *out) {
    int n = 0;
    for (int m = 0; m < KD_N_METHODS; m++) {
        bool used = false;
        for (int q = 0; q < cfg->space.methods.n; q++) used |= cfg->space.methods.v[q] == (kd_method)m;
        for (int q = 0; q < cfg->grid.methods.n; q++) used |= cfg->grid.methods.v[q] == (kd_method)m;
        used |= cfg->kd.method == (kd_method)m;
        if (used) out[n++] = (kd_method)m;
    }
    return n;
}

int tuning_default_size(const kdt_config *cfg) {
    kd_method m[KD_N_METHODS];
    return KD_N_TRANSFERS * KD_N_POSITIONS * default_methods(cfg, m);
}

// The grid's points (each evaluated grid.replicates times).
static int grid_points(const kdt_config *cfg) {
    return cfg->grid.temperatures.n * cfg->grid.alphas.n * cfg->grid.transfer_sets.n * cfg->grid.positions.n *
           cfg->grid.methods.n;
}

int tuning_grid_size(const kdt_config *cfg) { return grid_points(cfg) * cfg->grid.replicates; }

static uint64_t tuner_seed(const kdt_config *cfg, const char *strategy, tuning_pair p, int fixed_position) {
    rng r = rng_stream((uint64_t)cfg->experiment.seed, strategy, (uint64_t)(p.i * 64 + p.j),
                       (uint64_t)(fixed_position + 1));
    return rng_next(&r);
}

static store_run make_run(const char *strategy, tuning_pair p, int fixed_position, int budget) {
    store_run r = {.i = p.i, .j = p.j, .fixed_position = fixed_position, .budget = budget};
    KDT_SNPRINTF(r.strategy, sizeof r.strategy, "%s", strategy);
    return r;
}

void tuning_progress_tick(tuning_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    progress_update(p->bar, ++p->done);
    pthread_mutex_unlock(&p->lock);
}

// The config's default T and alpha on a pair with a method, transfer set and position.
static store_setting default_setting(const kdt_config *cfg, tuning_pair p, kd_method method, kd_transfer transfer,
                                     kd_position position) {
    return (store_setting){.i = p.i, .j = p.j, .position = position, .temperature = cfg->kd.temperature,
                           .alpha = cfg->kd.alpha, .transfer = transfer, .method = method, .fidelity = 1};
}

kdt_status tuning_default(evaluator *e, int worker, const kdt_config *cfg, tuning_pair p, tuning_progress *prog) {
    store_run run = make_run("default", p, -1, 0);
    kd_method methods[KD_N_METHODS];
    int n_methods = default_methods(cfg, methods), index = 0;
    for (int m = 0; m < n_methods; m++)
        for (int pos = 0; pos < KD_N_POSITIONS; pos++)
            for (int x = 0; x < KD_N_TRANSFERS; x++, index++) {
                store_setting set = default_setting(cfg, p, methods[m], (kd_transfer)x, (kd_position)pos);
                store_eval out;
                kdt_status s = evaluator_eval(e, worker, &run, index, &set, &out);
                if (s) return s;
                tuning_progress_tick(prog);
            }
    return KDT_OK;
}

// A point of a KD space as a setting of pair p (categoricals by name, so that any subset of
// transfer sets and positions works).
static store_setting point_setting(const tuner_space *s, const double *x, tuning_pair p) {
    store_setting set = {.i = p.i, .j = p.j, .temperature = x[P_TEMPERATURE], .alpha = x[P_ALPHA],
                         .method = KD_METHOD_KD, .fidelity = 1};
    kdt_status st = kd_transfer_from_name(tuner_space_choice(s, P_TRANSFER, (size_t)x[P_TRANSFER]), &set.transfer);
    st |= kd_position_from_name(tuner_space_choice(s, P_POSITION, (size_t)x[P_POSITION]), &set.position);
    st |= kd_method_from_name(tuner_space_choice(s, P_METHOD, (size_t)x[P_METHOD]), &set.method);
    KDT_ASSERT(st == KDT_OK); // the space's choices are KD's names
    return set;
}

// The index of choice `name` of categorical parameter i, or -1.
static double choice_index(const tuner_space *s, size_t i, const char *name) {
    for (size_t c = 0; c < tuner_space_n_choices(s, i); c++)
        if (strcmp(tuner_space_choice(s, i, c), name) == 0) return (double)c;
    return -1;
}

// A setting as a point of a KD space (the inverse of point_setting); a choice the space lacks is -1,
// which tuner_space_contains refuses.
static void setting_point(const tuner_space *space, const store_setting *set, double *x) {
    x[P_TEMPERATURE] = set->temperature;
    x[P_ALPHA] = set->alpha;
    x[P_TRANSFER] = choice_index(space, P_TRANSFER, kd_transfer_name(set->transfer));
    x[P_POSITION] = choice_index(space, P_POSITION, kd_position_name(set->position));
    x[P_METHOD] = choice_index(space, P_METHOD, kd_method_name(set->method));
}

// Gives the tuner the run's evaluations that the store holds, at most `limit` of them (an
// interrupted run continues; the grid's replicates follow its first pass and are not the tuner's).
static kdt_status replay(evaluator *e, int worker, tuner *tn, const store_run *run, size_t limit) {
    store_eval *lines;
    size_t n;
    kdt_status s = evaluator_run_evals(e, worker, run, &lines, &n);
    if (n > limit) n = limit;
    if (s || n == 0) {
        free(lines);
        return s;
    }
    const tuner_space *space = tuner_get_space(tn);
    double *xs = malloc(n * N_PARAMS * sizeof *xs);
    tuner_record *rec = malloc(n * sizeof *rec);
    if (!xs || !rec) s = kdt_fail(KDT_ERR_NOMEM, "out of memory replaying a run");
    for (size_t k = 0; !s && k < n; k++) {
        double *x = xs + k * N_PARAMS;
        setting_point(space, &lines[k].setting, x);
        rec[k] = (tuner_record){x, lines[k].result.ok ? lines[k].result.val_gain : NAN, (size_t)lines[k].setting.replicate,
                                lines[k].setting.fidelity};
    }
    if (!s && (s = tuner_replay(tn, rec, n))) {
        char key[96];
        store_run_key(run, key, sizeof key);
        s = kdt_fail_context(s, "%s: run %s, evaluation %zu", evaluator_journal_path(e), key,
                             tuner_n_told(tn));
    }
    free(xs);
    free(rec);
    free(lines);
    return s;
}

// The ask / evaluate / tell loop of one tuner; ends with the recommendation line.
static kdt_status drive(evaluator *e, int worker, tuner *tn, const store_run *run, tuning_progress *prog) {
    const tuner_space *space = tuner_get_space(tn);
    tuning_pair p = {run->i, run->j};
    double x[N_PARAMS];
    kdt_status s = KDT_OK;
    for (size_t q = 0; q < tuner_n_told(tn); q++) tuning_progress_tick(prog); // replayed from the store
    while (!s && !tuner_done(tn)) {
        tuner_ask_info info;
        if ((s = tuner_ask_ex(tn, x, &info))) break;
        store_setting set = point_setting(space, x, p);
        set.replicate = (int)info.replicate;
        set.fidelity = info.fidelity; // a screen: KD on part of the transfer set, scored on part of val
        store_eval out;
        if ((s = evaluator_eval(e, worker, run, (int)tuner_n_told(tn), &set, &out))) break;
        // A failed evaluation is told as NaN: the tuner treats it as a failure, never a number.
        s = tuner_tell(tn, out.result.ok ? out.result.val_gain : NAN);
        tuning_progress_tick(prog);
    }
    if (s || tuner_n_told(tn) == 0) return s;
    // The recommendation: the index of the recommended point among the told full evaluations
    // (a screened point's full evaluation comes after its screen).
    int told = (int)tuner_n_told(tn);
    if (evaluator_has_recommendation(e, run, told)) return KDT_OK;
    double best[N_PARAMS], value, hx[N_PARAMS], hv;
    if ((s = tuner_recommend(tn, best, &value))) return s;
    store_recommendation rec = {.run = *run, .evaluations = told, .recommended = -1};
    for (int q = 0; q < told && rec.recommended < 0; q++) {
        tuner_history(tn, (size_t)q, hx, &hv);
        if (tuner_history_fidelity(tn, (size_t)q) == 1 && memcmp(hx, best, sizeof best) == 0) rec.recommended = q;
    }
    KDT_ASSERT(rec.recommended >= 0); // tuner_recommend picks among the told points
    return evaluator_append_recommendation(e, worker, &rec);
}

static kdt_status default_point(const tuner_space *s, const kdt_config *cfg, double *x, bool *inside) {
    x[P_TEMPERATURE] = cfg->kd.temperature;
    x[P_ALPHA] = cfg->kd.alpha;
    x[P_TRANSFER] = choice_index(s, P_TRANSFER, kd_transfer_name(cfg->kd.transfer_set));
    x[P_POSITION] = choice_index(s, P_POSITION, kd_position_name(cfg->kd.position));
    x[P_METHOD] = choice_index(s, P_METHOD, kd_method_name(cfg->kd.method));
    if (x[P_METHOD] < 0) x[P_METHOD] = 0;
    if (x[P_TRANSFER] < 0) x[P_TRANSFER] = 0;
    if (x[P_POSITION] < 0) x[P_POSITION] = 0;
    *inside = tuner_space_contains(s, x);
    return KDT_OK;
}

// gp_transfer: each earlier pair's evaluations of the same run (strategy and fixed position), as
// prior observations in this tuner's space.
// The earlier pairs' runs of the same strategy, position and budget: budget is the run key's
// (tuner.budget, paid evaluations), not the tuner's, which adds the free initial points.
static kdt_status add_priors(evaluator *e, int worker, tuner *tn, const char *strategy, int fixed, int budget,
                             const tuning_pair *earlier, int n_earlier) {
    const tuner_space *space = tuner_get_space(tn);
    kdt_status s = KDT_OK;
    for (int q = 0; q < n_earlier && !s; q++) {
        store_run run = make_run(strategy, earlier[q], fixed, budget);
        store_eval *lines;
        size_t n, m = 0;
        if ((s = evaluator_run_evals(e, worker, &run, &lines, &n)) || n == 0) continue;
        double *xs = malloc(n * N_PARAMS * sizeof *xs), *values = malloc(n * sizeof *values);
        if (!xs || !values) s = kdt_fail(KDT_ERR_NOMEM, "out of memory gathering prior observations");
        for (size_t k = 0; !s && k < n; k++) {
            double *x = xs + m * N_PARAMS;
            setting_point(space, &lines[k].setting, x);
            if (lines[k].result.ok && lines[k].setting.replicate == 0 && tuner_space_contains(space, x))
                values[m++] = lines[k].result.val_gain;
        }
        if (!s && m) s = tuner_set_prior_observations(tn, xs, values, m);
        free(xs);
        free(values);
        free(lines);
    }
    return s;
}

kdt_status tuning_tune(evaluator *e, int worker, const kdt_config *cfg, tuner_strategy strategy,
                       tuning_pair p, const tuning_pair *earlier, int n_earlier, tuning_progress *prog) {
    const char *name = tuner_strategy_name(strategy);
    int first = cfg->tuner.ordered ? 0 : -1, last = cfg->tuner.ordered ? 1 : -1;
    for (int fixed = first; fixed <= last; fixed++) {
        if (fixed >= 0) { // ordered: only positions the space allows
            bool allowed = false;
            for (int q = 0; q < cfg->space.positions.n; q++) allowed |= (int)cfg->space.positions.v[q] == fixed;
            if (!allowed) continue;
        }
        tuner_space *space;
        kdt_status s = tuning_space_create(&space, cfg, fixed);
        if (s) return s;
        // The initial points: the default setting, then the default T and alpha in every other
        // transfer set, position and method. The default phase evaluates them anyway, so they come
        // from the store at no training cost, they are free to every strategy alike (on top of
        // tuner.budget), and they tell every strategy early which combination is promising.
        size_t nt = tuner_space_n_choices(space, P_TRANSFER), npos = tuner_space_n_choices(space, P_POSITION),
               nm = tuner_space_n_choices(space, P_METHOD), n_init = 0;
        double (*init)[N_PARAMS] = malloc((1 + nt * npos * nm) * sizeof *init);
        bool inside = false;
        if (!init) s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
        if (!s) s = default_point(space, cfg, init[0], &inside);
        if (!s && inside) {
            n_init = 1;
            for (size_t c = 0; c < nt * npos * nm; c++) {
                double xc[N_PARAMS] = {init[0][P_TEMPERATURE], init[0][P_ALPHA], (double)(c / npos % nt),
                                       (double)(c % npos), (double)(c / (npos * nt))};
                if (memcmp(xc, init[0], sizeof xc) != 0 && tuner_space_contains(space, xc))
                    memcpy(init[n_init++], xc, sizeof xc);
            }
        }
        size_t budget = (size_t)cfg->tuner.budget + n_init;
        tuner *tn = NULL;
        if (!s) s = tuner_create(&tn, space, strategy, TUNER_MAXIMIZE, budget, tuner_seed(cfg, name, p, fixed));
        for (size_t c = 0; !s && c < n_init; c++) s = tuner_add_initial_point(tn, init[c]);
        free(init);
        if (!s && (strategy == TUNER_GP || strategy == TUNER_GP_TRANSFER) && cfg->tuner.initial_points > 0)
            s = tuner_set_initial_design(tn, (size_t)cfg->tuner.initial_points);
        if (!s && strategy == TUNER_GP_TRANSFER) s = add_priors(e, worker, tn, name, fixed, cfg->tuner.budget, earlier, n_earlier);
        if (!s && strategy == TUNER_SCREEN)
            s = tuner_set_screening(tn, cfg->tuner.screen_fidelity, cfg->tuner.screen_cost);
        if (!s && cfg->tuner.replicates > 1)
            s = tuner_set_final_replicates(tn, (size_t)cfg->tuner.final_candidates, (size_t)cfg->tuner.replicates - 1);
        store_run run = make_run(name, p, fixed, cfg->tuner.budget);
        if (!s) s = replay(e, worker, tn, &run, budget);
        if (!s) s = drive(e, worker, tn, &run, prog);
        tuner_destroy(tn);
        tuner_space_destroy(space);
        if (s) return s;
    }
    return KDT_OK;
}

kdt_status tuning_grid(evaluator *e, int worker, const kdt_config *cfg, tuning_pair p, tuning_progress *prog) {
    tuner_space *space;
    kdt_status s = grid_space_create(&space, cfg);
    if (s) return s;
    tuner *tn;
    int n = grid_points(cfg);
    s = tuner_create(&tn, space, TUNER_GRID, TUNER_MAXIMIZE, (size_t)n, tuner_seed(cfg, "grid", p, -1));
    // A list of one value is a fixed parameter of the grid's space, which takes no value list.
    if (!s && cfg->grid.temperatures.n > 1)
        s = tuner_set_grid_values(tn, "temperature", cfg->grid.temperatures.v, (size_t)cfg->grid.temperatures.n);
    if (!s && cfg->grid.alphas.n > 1) s = tuner_set_grid_values(tn, "alpha", cfg->grid.alphas.v, (size_t)cfg->grid.alphas.n);
    store_run run = make_run("grid", p, -1, 0);
    if (!s) s = replay(e, worker, tn, &run, (size_t)n);
    if (!s) s = drive(e, worker, tn, &run, prog);
    // Replicates: the same points again, each pass with its own draw of the KD randomness, as
    // lines n, 2n, ... of the run.
    for (int r = 1; !s && r < cfg->grid.replicates; r++)
        for (int k = 0; !s && k < n; k++) {
            double x[N_PARAMS], v;
            tuner_history(tn, (size_t)k, x, &v);
            store_setting set = point_setting(space, x, p);
            set.replicate = r;
            store_eval out;
            s = evaluator_eval(e, worker, &run, r * n + k, &set, &out);
            tuning_progress_tick(prog);
        }
    tuner_destroy(tn);
    tuner_space_destroy(space);
    return s;
}
