// The tuner object: settings, the ask/tell loop, the budget, the replay of a run's past results
// and the best-so-far queries. The strategies live in strategy_*.c.
#include "tuner/tuner.h"

#include "common/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "tuner/strategy.h"

static const char *const strategy_names[TUNER_N_STRATEGIES] = {
    "grid", "random", "bobyqa", "cobyla", "neldermead", "sbplx", "direct_l", "gp", "gp_transfer",
    "screen"};

const char *tuner_strategy_name(tuner_strategy s) {
    KDT_ASSERT(s < TUNER_N_STRATEGIES);
    return strategy_names[s];
}

kdt_status tuner_strategy_from_name(const char *name, tuner_strategy *out) {
    size_t best = 0, best_d = (size_t)-1;
    for (size_t i = 0; i < TUNER_N_STRATEGIES; i++) {
        if (!strcmp(name, strategy_names[i])) {
            *out = (tuner_strategy)i;
            return KDT_OK;
        }
        size_t d = text_edit_distance(name, strategy_names[i]);
        if (d < best_d) best_d = d, best = i;
    }
    char hint[64] = "";
    if (best_d <= 3) snprintf(hint, sizeof hint, " (did you mean '%s'?)", strategy_names[best]);
    return kdt_fail(KDT_ERR_CONFIG, "unknown tuner strategy '%s'%s; valid: grid, random, bobyqa, "
                    "cobyla, neldermead, sbplx, direct_l, gp, gp_transfer, screen", name, hint);
}

static const strategy_ops *ops_of(tuner_strategy s) {
    switch (s) {
    case TUNER_GRID: return &strategy_grid_ops;
    case TUNER_RANDOM: return &strategy_random_ops;
    case TUNER_GP:
    case TUNER_GP_TRANSFER: return &strategy_gp_ops;
    case TUNER_SCREEN: return &strategy_screen_ops;
    default: return &strategy_nlopt_ops;
    }
}

// The grid's size: the product of the per-parameter list lengths (defaults where unset).
static size_t grid_size(const tuner *t) {
    size_t n = 1;
    for (size_t i = 0; i < t->np; i++) {
        if (t->grid_values[i]) n *= t->grid_n[i];
        else if (tuner_space_is_fixed(t->space, i)) continue;
        else if (tuner_space_is_categorical(t->space, i)) n *= tuner_space_n_choices(t->space, i);
        else n *= 5;
    }
    return n;
}

// (Re)allocates the told points' arrays for the most points the budget can pay for: a screen
// costs screen_cost, so a screening tuner may tell more points than its budget.
static kdt_status alloc_history(tuner *t) {
    size_t cap = t->budget;
    if (t->strategy == TUNER_SCREEN) cap = (size_t)ceil((double)t->budget / t->screen_cost) + 1;
    double *X = realloc(t->X, cap * t->np * sizeof *X);
    if (X) t->X = X;
    double *y = X ? realloc(t->y, cap * sizeof *y) : NULL;
    if (y) t->y = y;
    double *fid = y ? realloc(t->fid, cap * sizeof *fid) : NULL;
    if (fid) t->fid = fid;
    size_t *r = fid ? realloc(t->rep, cap * sizeof *r) : NULL;
    if (!r) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for %zu evaluations", cap);
    t->rep = r, t->cap = cap;
    return KDT_OK;
}

kdt_status tuner_create(tuner **out, const tuner_space *space, tuner_strategy strategy,
                        tuner_goal goal, size_t budget, uint64_t seed) {
    KDT_ASSERT(strategy < TUNER_N_STRATEGIES && (goal == TUNER_MINIMIZE || goal == TUNER_MAXIMIZE));
    *out = NULL;
    if (budget < 1) return kdt_fail(KDT_ERR_CONFIG, "tuner: the budget must be at least 1 evaluation");
    if (tuner_space_size(space) == 0) return kdt_fail(KDT_ERR_CONFIG, "tuner: the search space is empty");
    if (tuner_space_n_cont(space) + tuner_space_n_cat(space) > 40)
        return kdt_fail(KDT_ERR_CONFIG, "tuner: at most 40 free parameters are supported");
    tuner *t = calloc(1, sizeof *t);
    if (!t) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    kdt_status st = tuner_space_clone(&t->space, space);
    if (st) {
        free(t);
        return st;
    }
    t->strategy = strategy, t->goal = goal, t->budget = budget, t->seed = seed;
    t->np = tuner_space_size(space);
    t->n_cont = tuner_space_n_cont(space), t->n_cat = tuner_space_n_cat(space);
    t->screen_fidelity = TUNER_DEFAULT_SCREEN_FIDELITY, t->screen_cost = TUNER_DEFAULT_SCREEN_COST;
    t->xp = malloc(t->np * sizeof *t->xp);
    t->ops = ops_of(strategy);
    if (!t->xp || (st = alloc_history(t))) {
        tuner_destroy(t);
        return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for a budget of %zu", budget);
    }
    t->budget_eff = strategy == TUNER_GRID && grid_size(t) < budget ? grid_size(t) : budget;
    if (t->n_cont + t->n_cat == 0) t->budget_eff = 1; // everything fixed: one point to evaluate
    *out = t;
    return KDT_OK;
}

void tuner_destroy(tuner *t) {
    if (!t) return;
    if (t->state) t->ops->destroy(t->state);
    for (size_t i = 0; i < TUNER_MAX_PARAMS; i++) free(t->grid_values[i]);
    free(t->init), free(t->prior_u), free(t->prior_c), free(t->prior_z), free(t->X), free(t->y), free(t->xp), free(t->rep);
    free(t->fid);
    tuner_space_destroy(t->space);
    free(t);
}

static kdt_status check_settable(const tuner *t, const char *what) {
    if (t->started)
        return kdt_fail(KDT_ERR_STATE, "tuner: %s must come before the first tuner_ask or "
                        "tuner_replay", what);
    return KDT_OK;
}

kdt_status tuner_add_initial_point(tuner *t, const double *x) {
    kdt_status st = check_settable(t, "tuner_add_initial_point");
    if (st) return st;
    if (!tuner_space_contains(t->space, x)) {
        char why[512] = "";
        for (size_t i = 0; i < t->np && !*why; i++) {
            const tuner_space *s = t->space;
            if (!(x[i] >= tuner_space_lower(s, i) && x[i] <= tuner_space_upper(s, i)))
                snprintf(why, sizeof why, "'%s' = %g is outside [%g, %g]", tuner_space_name(s, i),
                         x[i], tuner_space_lower(s, i), tuner_space_upper(s, i));
            else if (tuner_space_is_categorical(s, i) && x[i] != floor(x[i]))
                snprintf(why, sizeof why, "'%s' = %g is not a choice index", tuner_space_name(s, i), x[i]);
            else if (tuner_space_is_fixed(s, i) && x[i] != tuner_space_fixed_value(s, i))
                snprintf(why, sizeof why, "'%s' = %g but it is fixed to %g", tuner_space_name(s, i),
                         x[i], tuner_space_fixed_value(s, i));
        }
        return kdt_fail(KDT_ERR_CONFIG, "tuner: the initial point is not in the search space: %s", why);
    }
    if (t->n_init == t->cap_init) {
        size_t cap = t->cap_init ? 2 * t->cap_init : 4;
        double *p = realloc(t->init, cap * t->np * sizeof *p);
        if (!p) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
        t->init = p, t->cap_init = cap;
    }
    memcpy(t->init + t->n_init++ * t->np, x, t->np * sizeof *x);
    return KDT_OK;
}

kdt_status tuner_set_grid_values(tuner *t, const char *name, const double *values, size_t n) {
    kdt_status st = check_settable(t, "tuner_set_grid_values");
    if (st) return st;
    int i = tuner_space_find(t->space, name);
    if (i < 0) return kdt_fail(KDT_ERR_CONFIG, "tuner: grid values for '%s', which is not a parameter", name);
    if (n < 1) return kdt_fail(KDT_ERR_CONFIG, "tuner: the grid of '%s' needs at least one value", name);
    double lo = tuner_space_lower(t->space, (size_t)i), hi = tuner_space_upper(t->space, (size_t)i);
    bool cat = tuner_space_is_categorical(t->space, (size_t)i);
    for (size_t k = 0; k < n; k++) {
        if (!(values[k] >= lo && values[k] <= hi) || (cat && values[k] != floor(values[k])))
            return kdt_fail(KDT_ERR_CONFIG, "tuner: grid value %g of '%s' is outside [%g, %g]%s",
                            values[k], name, lo, hi, cat ? " or not a choice index" : "");
        for (size_t j = 0; j < k; j++)
            if (values[j] == values[k])
                return kdt_fail(KDT_ERR_CONFIG, "tuner: the grid of '%s' lists %g twice", name,
                                values[k]);
    }
    if (tuner_space_is_fixed(t->space, (size_t)i))
        return kdt_fail(KDT_ERR_CONFIG, "tuner: '%s' is fixed, so it takes no grid values", name);
    double *v = malloc(n * sizeof *v);
    if (!v) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory");
    memcpy(v, values, n * sizeof *v);
    free(t->grid_values[i]);
    t->grid_values[i] = v, t->grid_n[i] = n;
    if (t->strategy == TUNER_GRID) t->budget_eff = grid_size(t) < t->budget ? grid_size(t) : t->budget;
    return KDT_OK;
}

kdt_status tuner_set_initial_design(tuner *t, size_t n) {
    kdt_status st = check_settable(t, "tuner_set_initial_design");
    if (st) return st;
    t->n_design = n;
    return KDT_OK;
}

kdt_status tuner_set_prior_observations(tuner *t, const double *xs, const double *values, size_t n) {
    kdt_status st = check_settable(t, "tuner_set_prior_observations");
    if (st) return st;
    if (t->strategy != TUNER_GP_TRANSFER)
        return kdt_fail(KDT_ERR_CONFIG, "tuner: prior observations are for strategy gp_transfer, not "
                        "%s", tuner_strategy_name(t->strategy));
    if (n && (!xs || !values)) return kdt_fail(KDT_ERR_USAGE, "tuner_set_prior_observations: NULL points or values");
    for (size_t i = 0; i < n; i++)
        if (!tuner_space_contains(t->space, xs + i * t->np))
            return kdt_fail(KDT_ERR_CONFIG, "tuner: prior observation %zu is not in the search space "
                            "(bounds, choice indices or fixed values): were they made on another space?", i);
    // Standardize within the task, as a minimization objective: only ranks and spreads carry over
    // between tasks, not levels.
    double sum = 0, sum2 = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i])) sum += values[i], sum2 += values[i] * values[i], m++;
    if (m < 2) return KDT_OK; // nothing to compare within this task
    double mean = sum / (double)m, var = sum2 / (double)m - mean * mean;
    double sd = var > 1e-300 ? sqrt(var) : 0, sign = t->goal == TUNER_MAXIMIZE ? -1 : 1;
    size_t need = t->n_prior + m;
    double *u = realloc(t->prior_u, need * (t->n_cont ? t->n_cont : 1) * sizeof *u);
    if (u) t->prior_u = u;
    int *c = u ? realloc(t->prior_c, need * (t->n_cat ? t->n_cat : 1) * sizeof *c) : NULL;
    if (c) t->prior_c = c;
    double *z = c ? realloc(t->prior_z, need * sizeof *z) : NULL;
    if (!z) return kdt_fail(KDT_ERR_NOMEM, "tuner: out of memory for %zu prior observations", need);
    t->prior_z = z;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        size_t k = t->n_prior++;
        tuner_space_encode(t->space, xs + i * t->np, t->prior_u + k * t->n_cont, t->prior_c + k * t->n_cat);
        t->prior_z[k] = sd > 0 ? sign * (values[i] - mean) / sd : 0;
    }
    t->n_prior_tasks++;
    return KDT_OK;
}

void strategy_objectives(const tuner *t, double *f) {
    double worst = -INFINITY, best = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        double v = t->goal == TUNER_MAXIMIZE ? -t->y[i] : t->y[i];
        f[i] = v;
        if (isfinite(v)) {
            if (v > worst) worst = v;
            if (v < best) best = v;
        }
    }
    double fill = isfinite(worst) ? worst + 0.1 * (worst - best) : 1.0;
    for (size_t i = 0; i < t->n; i++)
        if (!isfinite(f[i])) f[i] = fill;
}

kdt_status tuner_set_final_replicates(tuner *t, size_t k, size_t r) {
    kdt_status st = check_settable(t, "tuner_set_final_replicates");
    if (st) return st;
    if (k < 1 || k > TUNER_MAX_REPLICATE_K || r < 1 || k * r >= t->budget_eff)
        return kdt_fail(KDT_ERR_CONFIG, "tuner: final replicates k = %zu, r = %zu: need 1 <= k <= %d, "
                        "r >= 1 and k * r below the budget (%zu)", k, r, TUNER_MAX_REPLICATE_K, t->budget_eff);
    t->rep_k = k, t->rep_r = r;
    return KDT_OK;
}

kdt_status tuner_set_screening(tuner *t, double fidelity, double cost) {
    kdt_status st = check_settable(t, "tuner_set_screening");
    if (st) return st;
    if (t->strategy != TUNER_SCREEN)
        return kdt_fail(KDT_ERR_CONFIG, "tuner: a screening fidelity is for strategy screen, not %s",
                        tuner_strategy_name(t->strategy));
    if (!(fidelity > 0 && fidelity < 1) || !(cost > 0 && cost < 1))
        return kdt_fail(KDT_ERR_CONFIG, "tuner: screening fidelity %g and cost %g: both must lie in "
                        "(0, 1) (a screen is a cheaper, partial evaluation)", fidelity, cost);
    t->screen_fidelity = fidelity, t->screen_cost = cost;
    return alloc_history(t);
}

// Budget room is compared with a tolerance: costs are sums of fractions.
static const double BUDGET_TOL = 1e-9;

static double room(const tuner *t) { return (double)t->budget_eff - t->spent + BUDGET_TOL; }

// The cost of the next ask in full-evaluation equivalents.
static double next_cost(const tuner *t) {
    bool screen = t->strategy == TUNER_SCREEN && !t->rep_phase && strategy_screen_next_is_screen(t);
    return screen ? t->screen_cost : 1;
}

bool tuner_done(const tuner *t) {
    if (t->rep_phase) return t->n >= t->rep_start + t->rep_total || room(t) < 1;
    return (t->exhausted && !t->rep_k) || room(t) < next_cost(t);
}

// Starts the final replicates: the best rep_k distinct full-fidelity told points by told value
// (failures last).
static void start_replicates(tuner *t) {
    t->rep_phase = true, t->rep_start = t->n, t->n_cand = 0;
    for (size_t i = 0; i < t->n && t->n_cand < t->rep_k; i++) {
        size_t b = (size_t)-1;
        for (size_t j = 0; j < t->n; j++) {
            bool taken = false;
            for (size_t c = 0; c < t->n_cand && !taken; c++)
                taken = !memcmp(t->X + t->cand[c] * t->np, t->X + j * t->np, t->np * sizeof *t->X);
            if (taken || t->fid[j] != 1) continue;
            double vj = t->goal == TUNER_MAXIMIZE ? -t->y[j] : t->y[j];
            double vb = b == (size_t)-1 ? NAN : t->goal == TUNER_MAXIMIZE ? -t->y[b] : t->y[b];
            if (b == (size_t)-1 || (isfinite(vj) && (!isfinite(vb) || vj < vb))) b = j;
        }
        if (b == (size_t)-1) break;
        t->cand[t->n_cand++] = b;
    }
    t->rep_total = t->n_cand * t->rep_r;
    double affordable = floor(room(t));
    if ((double)t->rep_total > affordable) t->rep_total = (size_t)affordable;
}

kdt_status tuner_ask(tuner *t, double *x) { return tuner_ask_ex(t, x, NULL); }

kdt_status tuner_ask_ex(tuner *t, double *x, tuner_ask_info *info) {
    if (t->pending) {
        memcpy(x, t->xp, t->np * sizeof *x);
        if (info) *info = (tuner_ask_info){t->rep_pending, t->fid_pending};
        return KDT_OK;
    }
    if (t->rep_k && !t->rep_phase && t->n > 0 &&
        (t->exhausted || t->spent + (double)(t->rep_k * t->rep_r) >= (double)t->budget_eff - BUDGET_TOL))
        start_replicates(t);
    if (t->rep_phase && !tuner_done(t)) {
        size_t j = t->n - t->rep_start;
        memcpy(t->xp, t->X + t->cand[j % t->n_cand] * t->np, t->np * sizeof *t->xp);
        t->rep_pending = 1 + j / t->n_cand, t->fid_pending = 1;
        t->pending = true;
        memcpy(x, t->xp, t->np * sizeof *x);
        if (info) *info = (tuner_ask_info){t->rep_pending, 1};
        return KDT_OK;
    }
    if (tuner_done(t))
        return kdt_fail(KDT_ERR_STATE, "tuner: done after %zu evaluations (budget %zu)", t->n,
                        t->budget);
    if (!t->started) {
        kdt_status st = t->ops->create(t, &t->state);
        if (st) return st;
        t->started = true;
    }
    bool exhausted = false;
    double fidelity = next_cost(t) < 1 ? t->screen_fidelity : 1; // before the ask: from the history
    kdt_status st = t->ops->ask(t, t->state, t->xp, &exhausted);
    if (st) return st;
    if (exhausted && t->rep_k && t->n > 0) { // the strategy is done early: replicates now
        t->exhausted = true;
        return tuner_ask_ex(t, x, info);
    }
    if (exhausted) {
        t->exhausted = true;
        return kdt_fail(KDT_ERR_STATE, "tuner: strategy %s has nothing more to propose after %zu "
                        "evaluations", tuner_strategy_name(t->strategy), t->n);
    }
    KDT_ASSERT(tuner_space_contains(t->space, t->xp));
    t->pending = true;
    t->rep_pending = 0, t->fid_pending = fidelity;
    memcpy(x, t->xp, t->np * sizeof *x);
    if (info) *info = (tuner_ask_info){0, fidelity};
    return KDT_OK;
}

static void record(tuner *t, double value) {
    memcpy(t->X + t->n * t->np, t->xp, t->np * sizeof *t->X);
    t->rep[t->n] = t->rep_pending;
    t->fid[t->n] = t->fid_pending;
    t->spent += t->fid_pending < 1 ? t->screen_cost : 1;
    t->y[t->n++] = isfinite(value) ? value : NAN; // every failure reads the same
    t->pending = false;
}

kdt_status tuner_tell(tuner *t, double value) {
    if (!t->pending) return kdt_fail(KDT_ERR_STATE, "tuner: tell without a pending ask");
    record(t, value);
    return KDT_OK;
}

// ---- replay -------------------------------------------------------------------------------------
static bool same_point(const tuner *t, const double *a, const double *b) {
    for (size_t i = 0; i < t->np; i++) {
        double d = fabs(a[i] - b[i]), m = fmax(fabs(a[i]), fabs(b[i]));
        if (d > 1e-12 * m && d > 1e-300) return false;
    }
    return true;
}

kdt_status tuner_replay(tuner *t, const tuner_record *records, size_t n) {
    if (n && !records) return kdt_fail(KDT_ERR_USAGE, "tuner_replay: records is NULL");
    size_t first = t->n;
    for (size_t k = 0; k < n; k++) {
        const tuner_record *r = &records[k];
        if (!r->x) return kdt_fail(KDT_ERR_USAGE, "tuner_replay: record %zu has no point", k);
        if (tuner_done(t))
            return kdt_fail(KDT_ERR_CONFIG, "tuner_replay: record %zu is beyond the run's end (%zu "
                            "evaluations of strategy %s): the run was made with another "
                            "configuration", k, t->n, tuner_strategy_name(t->strategy));
        double s[TUNER_MAX_PARAMS];
        tuner_ask_info info;
        kdt_status st = tuner_ask_ex(t, s, &info);
        if (st) return kdt_fail_context(st, "tuner_replay: record %zu", k);
        if (!same_point(t, r->x, s)) {
            char a[1024], b[1024];
            if (tuner_space_point_format(t->space, r->x, a, sizeof a)) snprintf(a, sizeof a, "(unprintable)");
            if (tuner_space_point_format(t->space, s, b, sizeof b)) snprintf(b, sizeof b, "(unprintable)");
            return kdt_fail(KDT_ERR_CONFIG, "tuner_replay: record %zu (evaluation %zu) is %s, but the "
                            "tuner now suggests %s: the run was made with another configuration "
                            "(space, budget, seed, initial points, settings or code); start it over "
                            "under another name", k, t->n, a, b);
        }
        if (r->replicate != info.replicate)
            return kdt_fail(KDT_ERR_CONFIG, "tuner_replay: record %zu (evaluation %zu) is replicate %zu, "
                            "but the tuner now asks for replicate %zu: the run was made with another "
                            "configuration (final replicates); start it over under another name", k,
                            t->n, r->replicate, info.replicate);
        double fidelity = r->fidelity == 0 ? 1 : r->fidelity;
        if (fabs(fidelity - info.fidelity) > 1e-6) // the caller may store fidelities as floats
            return kdt_fail(KDT_ERR_CONFIG, "tuner_replay: record %zu (evaluation %zu) is at fidelity %g, "
                            "but the tuner now asks for fidelity %g: the run was made with another "
                            "configuration (screening); start it over under another name", k, t->n,
                            fidelity, info.fidelity);
        record(t, r->value);
    }
    if (n) log_debug("tuner %s: replayed evaluations %zu to %zu", tuner_strategy_name(t->strategy),
                     first, t->n - 1);
    return KDT_OK;
}

// ---- results ----------------------------------------------------------------------------------
size_t tuner_n_told(const tuner *t) { return t->n; }
size_t tuner_budget(const tuner *t) { return t->budget_eff; }
double tuner_spent(const tuner *t) { return t->spent; }
tuner_strategy tuner_get_strategy(const tuner *t) { return t->strategy; }
tuner_goal tuner_get_goal(const tuner *t) { return t->goal; }
const tuner_space *tuner_get_space(const tuner *t) { return t->space; }
const double *tuner_values(const tuner *t) { return t->y; }

void tuner_history(const tuner *t, size_t i, double *x, double *value) {
    KDT_ASSERT(i < t->n);
    if (x) memcpy(x, t->X + i * t->np, t->np * sizeof *x);
    if (value) *value = t->y[i];
}

static bool better(const tuner *t, double a, double b) {
    if (!isfinite(a)) return false;
    if (!isfinite(b)) return true;
    return t->goal == TUNER_MAXIMIZE ? a > b : a < b;
}

kdt_status tuner_best(const tuner *t, double *x, double *value) {
    size_t b = t->n;
    for (size_t i = 0; i < t->n; i++)
        if (t->fid[i] == 1 && (b == t->n || better(t, t->y[i], t->y[b]))) b = i;
    if (b == t->n) return kdt_fail(KDT_ERR_STATE, "tuner: no full-fidelity evaluation told yet");
    tuner_history(t, b, x, value);
    return KDT_OK;
}

size_t tuner_history_replicate(const tuner *t, size_t i) {
    KDT_ASSERT(i < t->n);
    return t->rep[i];
}

double tuner_history_fidelity(const tuner *t, size_t i) {
    KDT_ASSERT(i < t->n);
    return t->fid[i];
}

// The candidate with the best mean over its full-fidelity evaluations (any failure: a failed
// candidate).
static void recommend_by_mean(const tuner *t, double *x, double *value) {
    size_t best = 0;
    double best_v = NAN;
    for (size_t c = 0; c < t->n_cand; c++) {
        const double *xc = t->X + t->cand[c] * t->np;
        double sum = 0;
        size_t m = 0;
        for (size_t i = 0; i < t->n; i++)
            if (t->fid[i] == 1 && !memcmp(t->X + i * t->np, xc, t->np * sizeof *xc)) sum += t->y[i], m++;
        double v = sum / (double)m; // NaN when any evaluation failed
        if (c == 0 || better(t, v, best_v)) best = c, best_v = v;
    }
    tuner_history(t, t->cand[best], x, NULL);
    *value = best_v;
}

kdt_status tuner_recommend(tuner *t, double *x, double *value) {
    if (t->n == 0) return kdt_fail(KDT_ERR_STATE, "tuner: nothing told yet");
    if (t->rep_phase && t->n_cand) {
        recommend_by_mean(t, x, value);
        return KDT_OK;
    }
    if (t->started && t->ops->recommend) {
        size_t b = 0;
        kdt_status st = t->ops->recommend(t, t->state, &b);
        if (st) return st;
        tuner_history(t, b, x, value);
        return KDT_OK;
    }
    return tuner_best(t, x, value);
}
