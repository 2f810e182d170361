// The default, grid and tuning runs of a pair, over the evaluator and the tuner library.
#include "app/tuning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rng.h"

// The parameters of a KD space, in order.
enum { P_TEMPERATURE, P_ALPHA, P_TRANSFER, P_POSITION, N_PARAMS };

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

static int choice_of(const char *cfg_path, const char *name) {
    for (int c = 0; c < 8; c++)
        if (strcmp(config_choice_name(cfg_path, c), name) == 0) return c;
    return -1;
}

// Adds a continuous parameter on [lo, hi], fixed when lo == hi.
static kdt_status add_range(tuner_space *s, const char *name, double lo, double hi, bool log_scale) {
    if (lo == hi) {
        kdt_status st = tuner_space_add_continuous(s, name, lo, log_scale ? 2 * lo : lo + 1, log_scale);
        return st ? st : tuner_space_fix(s, name, lo);
    }
    return tuner_space_add_continuous(s, name, lo, hi, log_scale);
}

static kdt_status add_choices(tuner_space *s, const char *name, const char *cfg_path, const cfg_ints *list) {
    char names[8][32];
    const char *ptrs[8];
    for (int c = 0; c < list->n; c++) {
        snprintf(names[c], sizeof names[c], "%s", config_choice_name(cfg_path, list->v[c]));
        ptrs[c] = names[c];
    }
    return tuner_space_add_categorical(s, name, ptrs, (size_t)list->n);
}

kdt_status tuning_space_create(tuner_space **out, const kdt_config *cfg, int fixed_position) {
    tuner_space *s;
    kdt_status st = tuner_space_create(&s);
    if (st) return st;
    st = add_range(s, "temperature", cfg->space.temperature.v[0], cfg->space.temperature.v[1],
                   cfg->space.temperature_scale == SCALE_LOG);
    if (!st) st = add_range(s, "alpha", cfg->space.alpha.v[0], cfg->space.alpha.v[1], false);
    if (!st) st = add_choices(s, "transfer_set", "kd.transfer_set", &cfg->space.transfer_sets);
    if (fixed_position >= 0) {
        cfg_ints one = {1, {fixed_position}};
        if (!st) st = add_choices(s, "position", "kd.position", &one);
    } else if (!st) {
        st = add_choices(s, "position", "kd.position", &cfg->space.positions);
    }
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
    if (!st) st = add_choices(s, "transfer_set", "kd.transfer_set", &cfg->grid.transfer_sets);
    if (!st) st = add_choices(s, "position", "kd.position", &cfg->grid.positions);
    if (st) {
        tuner_space_destroy(s);
        return st;
    }
    *out = s;
    return KDT_OK;
}

int tuning_default_size(void) { return 6; }

int tuning_grid_size(const kdt_config *cfg) {
    return cfg->grid.temperatures.n * cfg->grid.alphas.n * cfg->grid.transfer_sets.n * cfg->grid.positions.n;
}

static uint64_t tuner_seed(const kdt_config *cfg, const char *strategy, tuning_pair p, int fixed_position) {
    rng r = rng_stream((uint64_t)cfg->experiment.seed, strategy, (uint64_t)(p.i * 64 + p.j),
                       (uint64_t)(fixed_position + 1));
    return rng_next(&r);
}

static void run_key(char *out, size_t cap, const char *strategy, tuning_pair p, int fixed_position) {
    if (fixed_position < 0) snprintf(out, cap, "%s/%d-%d", strategy, p.i, p.j);
    else snprintf(out, cap, "%s/%d-%d/%s", strategy, p.i, p.j, config_choice_name("kd.position", fixed_position));
}

void tuning_progress_tick(tuning_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    progress_update(p->bar, ++p->done);
    pthread_mutex_unlock(&p->lock);
}

kdt_status tuning_default(evaluator *e, int worker, const kdt_config *cfg, tuning_pair p, tuning_progress *prog) {
    char key[64];
    run_key(key, sizeof key, "default", p, -1);
    int index = 0;
    for (int pos = 0; pos < 2; pos++)
        for (int x = 0; x < 3; x++, index++) {
            if (evaluator_has_line(e, key, index)) {
                tuning_progress_tick(prog);
                continue;
            }
            trial t = {.fixed_position = -1, .index = index};
            snprintf(t.strategy, sizeof t.strategy, "default");
            kdt_status s = evaluator_eval(e, worker, p.i, p.j, cfg->kd.temperature, cfg->kd.alpha, x, pos, &t);
            if (!s) s = evaluator_append(e, &t, key);
            if (s) return s;
            tuning_progress_tick(prog);
        }
    return KDT_OK;
}

// Reads a point of a KD space back into a setting (categoricals by name, so that any subset of
// transfer sets and positions works).
static void point_setting(const tuner_space *s, const double *x, double *T, double *alpha,
                          int *transfer, int *position) {
    *T = x[P_TEMPERATURE];
    *alpha = x[P_ALPHA];
    *transfer = choice_of("kd.transfer_set", tuner_space_choice(s, P_TRANSFER, (size_t)x[P_TRANSFER]));
    *position = choice_of("kd.position", tuner_space_choice(s, P_POSITION, (size_t)x[P_POSITION]));
}

// The index of choice `name` of categorical parameter i, or -1.
static double choice_index(const tuner_space *s, size_t i, const char *name) {
    for (size_t c = 0; c < tuner_space_n_choices(s, i); c++)
        if (strcmp(tuner_space_choice(s, i, c), name) == 0) return (double)c;
    return -1;
}

// Gives the tuner the run's lines that were in the journal when the evaluator read it.
static kdt_status replay_journal(evaluator *e, tuner *tn, const char *key) {
    const json_t *lines, *linenos;
    evaluator_run_lines(e, key, &lines, &linenos);
    size_t n = lines ? json_array_size(lines) : 0;
    if (n == 0) return KDT_OK;
    const tuner_space *space = tuner_get_space(tn);
    double *xs = malloc(n * N_PARAMS * sizeof *xs);
    tuner_record *rec = malloc(n * sizeof *rec);
    kdt_status s = xs && rec ? KDT_OK : kdt_fail(KDT_ERR_NOMEM, "out of memory replaying %s", key);
    for (size_t k = 0; !s && k < n; k++) {
        trial t;
        size_t lineno = (size_t)json_integer_value(json_array_get(linenos, k));
        if ((s = trial_from_json(json_array_get(lines, k), &t))) break;
        double *x = xs + k * N_PARAMS;
        x[P_TEMPERATURE] = t.temperature, x[P_ALPHA] = t.alpha;
        x[P_TRANSFER] = choice_index(space, P_TRANSFER, config_choice_name("kd.transfer_set", t.transfer_set));
        x[P_POSITION] = choice_index(space, P_POSITION, config_choice_name("kd.position", t.position));
        if (t.index != (int)k)
            s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: run '%s': evaluation %d where %zu was expected (lines "
                         "lost or repeated)", evaluator_journal(e), lineno, key, t.index, k);
        rec[k] = (tuner_record){x, t.ok ? t.val_gain : NAN, 0};
    }
    if (!s && (s = tuner_replay(tn, rec, n))) {
        size_t bad = tuner_n_told(tn);
        s = kdt_fail_context(s, "%s:%zu: run '%s'", evaluator_journal(e),
                             (size_t)json_integer_value(json_array_get(linenos, bad < n ? bad : n - 1)), key);
    }
    free(xs), free(rec);
    return s;
}

// The ask / evaluate / tell loop of one tuner; ends with the recommendation line.
static kdt_status drive(evaluator *e, int worker, tuner *tn, const char *strategy, const char *key,
                        tuning_pair p, int fixed_position, tuning_progress *prog) {
    const tuner_space *space = tuner_get_space(tn);
    double x[N_PARAMS];
    kdt_status s = KDT_OK;
    for (size_t q = 0; q < tuner_n_told(tn); q++) tuning_progress_tick(prog); // replayed from the journal
    while (!s && !tuner_done(tn)) {
        if ((s = tuner_ask(tn, x))) break;
        double T, alpha;
        int transfer, position;
        point_setting(space, x, &T, &alpha, &transfer, &position);
        trial t = {.fixed_position = fixed_position, .index = (int)tuner_n_told(tn)};
        snprintf(t.strategy, sizeof t.strategy, "%s", strategy);
        if ((s = evaluator_eval(e, worker, p.i, p.j, T, alpha, transfer, position, &t))) break;
        // Threads append to the one journal at once: each line is one O_APPEND write.
        if ((s = evaluator_append(e, &t, key))) break;
        s = tuner_tell(tn, t.ok ? t.val_gain : NAN);
        tuning_progress_tick(prog);
    }
    if (s || tuner_n_told(tn) == 0) return s;
    // The recommendation: the index of the recommended point among the told ones.
    char rec_key[80];
    snprintf(rec_key, sizeof rec_key, "%s/recommendation", key);
    int told = (int)tuner_n_told(tn);
    if (evaluator_has_line(e, rec_key, told)) return KDT_OK;
    double best[N_PARAMS], value, hx[N_PARAMS], hv;
    if ((s = tuner_recommend(tn, best, &value))) return s;
    trial rec = {.fixed_position = fixed_position, .index = told, .is_recommendation = true, .recommended = -1,
                 .i = p.i, .j = p.j};
    snprintf(rec.strategy, sizeof rec.strategy, "%s", strategy);
    for (int q = 0; q < told && rec.recommended < 0; q++) {
        tuner_history(tn, (size_t)q, hx, &hv);
        if (memcmp(hx, best, sizeof best) == 0) rec.recommended = q;
    }
    if (rec.recommended < 0) return kdt_fail(KDT_ERR_STATE, "%s: the recommended point is not among the evaluated ones", key);
    return evaluator_append(e, &rec, rec_key);
}

static kdt_status default_point(const tuner_space *s, const kdt_config *cfg, double *x, bool *inside) {
    x[P_TEMPERATURE] = cfg->kd.temperature;
    x[P_ALPHA] = cfg->kd.alpha;
    x[P_TRANSFER] = x[P_POSITION] = -1;
    for (size_t c = 0; c < tuner_space_n_choices(s, P_TRANSFER); c++)
        if (choice_of("kd.transfer_set", tuner_space_choice(s, P_TRANSFER, c)) == cfg->kd.transfer_set) x[P_TRANSFER] = (double)c;
    for (size_t c = 0; c < tuner_space_n_choices(s, P_POSITION); c++)
        if (choice_of("kd.position", tuner_space_choice(s, P_POSITION, c)) == cfg->kd.position) x[P_POSITION] = (double)c;
    if (x[P_TRANSFER] < 0) x[P_TRANSFER] = 0;
    if (x[P_POSITION] < 0) x[P_POSITION] = 0;
    *inside = tuner_space_contains(s, x);
    return KDT_OK;
}

kdt_status tuning_tune(evaluator *e, int worker, const kdt_config *cfg, tuner_strategy strategy,
                       tuning_pair p, tuning_progress *prog) {
    const char *name = tuner_strategy_name(strategy);
    int first = cfg->tuner.ordered ? 0 : -1, last = cfg->tuner.ordered ? 1 : -1;
    for (int fixed = first; fixed <= last; fixed++) {
        if (fixed >= 0) { // ordered: only positions the space allows
            bool allowed = false;
            for (int q = 0; q < cfg->space.positions.n; q++) allowed |= cfg->space.positions.v[q] == fixed;
            if (!allowed) continue;
        }
        tuner_space *space;
        kdt_status s = tuning_space_create(&space, cfg, fixed);
        if (s) return s;
        tuner *tn;
        s = tuner_create(&tn, space, strategy, TUNER_MAXIMIZE, (size_t)cfg->tuner.budget,
                         tuner_seed(cfg, name, p, fixed));
        double x0[N_PARAMS];
        bool inside;
        if (!s) s = default_point(space, cfg, x0, &inside);
        if (!s && inside) s = tuner_add_initial_point(tn, x0);
        // Then the default T and alpha in every other transfer set and position: the default phase
        // evaluates them anyway, so they come from the journal at no training cost, and they tell
        // every strategy early which combination is promising.
        size_t nt = tuner_space_n_choices(space, P_TRANSFER), npos = tuner_space_n_choices(space, P_POSITION);
        for (size_t c = 0; !s && inside && c < nt * npos; c++) {
            double xc[N_PARAMS] = {x0[P_TEMPERATURE], x0[P_ALPHA], (double)(c / npos), (double)(c % npos)};
            if (memcmp(xc, x0, sizeof xc) != 0 && tuner_space_contains(space, xc)) s = tuner_add_initial_point(tn, xc);
        }
        if (!s && strategy == TUNER_GP && cfg->tuner.initial_points > 0)
            s = tuner_set_initial_design(tn, (size_t)cfg->tuner.initial_points);
        char key[64];
        run_key(key, sizeof key, name, p, fixed);
        if (!s) s = replay_journal(e, tn, key);
        if (!s) s = drive(e, worker, tn, name, key, p, fixed, prog);
        if (!s) log_debug("%s: %zu evaluations", key, tuner_n_told(tn));
        if (!s) {
            double xb[N_PARAMS], vb;
            if (tuner_recommend(tn, xb, &vb) == KDT_OK) {
                double T, alpha;
                int transfer, position;
                point_setting(space, xb, &T, &alpha, &transfer, &position);
                log_debug("%s: recommends T=%.3g alpha=%.3g %s %s (val gain %+.2f points)", key, T, alpha,
                          config_choice_name("kd.transfer_set", transfer), config_choice_name("kd.position", position),
                          100 * vb);
            }
        }
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
    int n = tuning_grid_size(cfg);
    s = tuner_create(&tn, space, TUNER_GRID, TUNER_MAXIMIZE, (size_t)n, tuner_seed(cfg, "grid", p, -1));
    if (!s) s = tuner_set_grid_values(tn, "temperature", cfg->grid.temperatures.v, (size_t)cfg->grid.temperatures.n);
    if (!s) s = tuner_set_grid_values(tn, "alpha", cfg->grid.alphas.v, (size_t)cfg->grid.alphas.n);
    char key[64];
    run_key(key, sizeof key, "grid", p, -1);
    if (!s) s = replay_journal(e, tn, key);
    if (!s) s = drive(e, worker, tn, "grid", key, p, -1, prog);
    tuner_destroy(tn);
    tuner_space_destroy(space);
    return s;
}
