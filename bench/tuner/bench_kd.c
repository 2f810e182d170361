// The KD mode of bench_tuner: every strategy on the real objective, replayed from a table of the
// exhaustive grid of the embedded default (bench/tuner/data/default_grid.csv: 45 pairs x 150
// settings, made once by `kdtune grid`). A point on the grid takes the table's value; off the grid
// the value is the bilinear interpolation in (log2 T, alpha) of the 5 x 5 grid of its transfer
// set and position (T clamped to [1, 16]), so the objective is continuous, as the real one is.
// Each run is one pair: the 6 default settings (T = 1, alpha = 0.5 in each transfer set and
// position) are free initial points, then b paid evaluations, b = 3, 7, 15 (2, 5, 10% of the
// grid). Regrets are against the grid's best setting by validation gain: validation regret of the
// recommended point, and its test regret (the test gain of the grid's best minus its own).
// gp_transfer sees earlier pairs' tuning histories in waves: pairs in table order, waves of 5, a
// pair of wave w given the full gp_transfer histories (not the grid) of the pairs of waves < w, so
// results never depend on the number of threads.
// screen reads its screens from the same grid at the screening fidelity (--screen-fidelity 0.5 or
// 0.25: data/default_grid_f0.5.csv beside the table, or --screen-table), each costing
// --screen-cost of a full evaluation (default: the measured time ratio; bench/tuner/FIDELITY.md).
#include "bench/tuner/bench_kd.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/timer.h"
#include "tuner/tuner.h"

enum { NT = 5, NA = 5, NS = 3, NP = 2, MAX_PAIRS = 64, N_INIT = 6, WAVE = 5, MAX_SEEDS = 200, APP_INITIAL_POINTS = 2 };
static const double grid_T[NT] = {1, 2, 4, 8, 16}, grid_A[NA] = {0, 0.25, 0.5, 0.75, 1};
static const char *const set_names[NS] = {"unlabelled", "unlabelled_self", "student_data"};
static const char *const pos_names[NP] = {"forward", "reverse"};

typedef struct {
    char name[16];
    double val[NS][NP][NT][NA], test[NS][NP][NT][NA];
    double screen_val[NS][NP][NT][NA]; // val gain at the screening fidelity (strategy screen)
    double best_val, best_test; // the grid's best by validation, and its test gain
} pair_table;

static int index_of(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static int index_of_value(const double *v, int n, double x) {
    for (int i = 0; i < n; i++)
        if (fabs(v[i] - x) < 1e-9) return i;
    return -1;
}

// Reads the table; every pair must have all 150 settings.
static int load(const char *path, pair_table *pairs, int *n_pairs) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_tuner kd: cannot open %s (run from the source tree or pass --table)\n", path);
        return 1;
    }
    char line[512];
    int lineno = 1, count[MAX_PAIRS] = {0};
    *n_pairs = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "pair,T,alpha,transfer_set,position,val_gain,test_gain", 52)) {
        fprintf(stderr, "%s:1: expected the header pair,T,alpha,transfer_set,position,val_gain,test_gain\n", path);
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char name[16], set[32], pos[32];
        double T, A, v, t;
        if (sscanf(line, "%15[^,],%lf,%lf,%31[^,],%31[^,],%lf,%lf", name, &T, &A, set, pos, &v, &t) != 7) {
            fprintf(stderr, "%s:%d: expected 7 comma-separated fields\n", path, lineno);
            fclose(f);
            return 1;
        }
        int p = 0;
        while (p < *n_pairs && strcmp(pairs[p].name, name)) p++;
        if (p == *n_pairs) {
            if (p == MAX_PAIRS) {
                fprintf(stderr, "%s:%d: more than %d pairs\n", path, lineno, MAX_PAIRS);
                fclose(f);
                return 1;
            }
            snprintf(pairs[p].name, sizeof pairs[p].name, "%s", name);
            (*n_pairs)++;
        }
        int s = index_of(set_names, NS, set), q = index_of(pos_names, NP, pos);
        int i = index_of_value(grid_T, NT, T), j = index_of_value(grid_A, NA, A);
        if (s < 0 || q < 0 || i < 0 || j < 0 || !isfinite(v) || !isfinite(t)) {
            fprintf(stderr, "%s:%d: a setting off the default grid or a failed value\n", path, lineno);
            fclose(f);
            return 1;
        }
        pairs[p].val[s][q][i][j] = v, pairs[p].test[s][q][i][j] = t;
        count[p]++;
    }
    fclose(f);
    for (int p = 0; p < *n_pairs; p++) {
        if (count[p] != NT * NA * NS * NP) {
            fprintf(stderr, "%s: pair %s has %d settings, expected %d\n", path, pairs[p].name, count[p], NT * NA * NS * NP);
            return 1;
        }
        pair_table *pt = &pairs[p];
        pt->best_val = -INFINITY;
        for (int s = 0; s < NS; s++)
            for (int q = 0; q < NP; q++)
                for (int i = 0; i < NT; i++)
                    for (int j = 0; j < NA; j++)
                        if (pt->val[s][q][i][j] > pt->best_val)
                            pt->best_val = pt->val[s][q][i][j], pt->best_test = pt->test[s][q][i][j];
    }
    return 0;
}

// The table's value at x = (T, alpha, transfer set, position): bilinear in (log2 T, alpha).
static double lookup(const double (*g)[NP][NT][NA], const double *x) {
    int s = (int)x[2], q = (int)x[3];
    double a = log2(fmin(fmax(x[0], 1), 16)), b = fmin(fmax(x[1], 0), 1) * 4;
    int i = a >= 4 ? 3 : (int)a, j = b >= 4 ? 3 : (int)b;
    double fa = a - i, fb = b - j;
    const double(*m)[NA] = g[s][q];
    return (1 - fa) * (1 - fb) * m[i][j] + fa * (1 - fb) * m[i + 1][j] + (1 - fa) * fb * m[i][j + 1] +
           fa * fb * m[i + 1][j + 1];
}

typedef struct {
    double *x, *y; // (budget, 4), (budget): the run's history, for later waves
    size_t n;
    double val_regret, test_regret;
} run_result;

static tuner_space *kd_space(void) {
    tuner_space *s = NULL;
    if (tuner_space_create(&s) || tuner_space_add_continuous(s, "temperature", 1, 20, true) ||
        tuner_space_add_continuous(s, "alpha", 0, 1, false) ||
        tuner_space_add_categorical(s, "transfer_set", set_names, NS) ||
        tuner_space_add_categorical(s, "position", pos_names, NP))
        abort();
    return s;
}

// screen's low fidelity and its cost in full-evaluation equivalents (--screen-fidelity, --screen-cost).
typedef struct {
    double fidelity, cost;
} screening;

// One tuning run of pair p; prior: the histories of earlier pairs (gp_transfer only).
static void run_one(const pair_table *pt, tuner_strategy st, size_t paid, uint64_t seed,
                    const run_result *prior, size_t n_prior, const screening *sc, run_result *out) {
    tuner_space *space = kd_space();
    tuner *t;
    size_t B = N_INIT + paid, cap = st == TUNER_SCREEN ? (size_t)((double)B / sc->cost) + 2 : B;
    if (tuner_create(&t, space, st, TUNER_MAXIMIZE, B, seed)) abort();
    if (st == TUNER_SCREEN && tuner_set_screening(t, sc->fidelity, sc->cost)) abort();
    // As app/tuning.c with the default config (tuner.initial_points: 2): the same gp as a run's.
    if ((st == TUNER_GP || st == TUNER_GP_TRANSFER) && tuner_set_initial_design(t, APP_INITIAL_POINTS)) abort();
    for (size_t c = 0; c < N_INIT; c++) { // the default first (unlabelled, forward), as app/tuning.c
        double x0[4] = {1, 0.5, (double)(c / NP), (double)(c % NP)};
        if (tuner_add_initial_point(t, x0)) abort();
    }
    for (size_t k = 0; k < n_prior; k++)
        if (tuner_set_prior_observations(t, prior[k].x, prior[k].y, prior[k].n)) {
            fprintf(stderr, "bench_tuner kd: %s\n", kdt_errmsg());
            abort();
        }
    out->x = malloc(cap * 4 * sizeof *out->x);
    out->y = malloc(cap * sizeof *out->y);
    out->n = 0;
    double x[4];
    while (!tuner_done(t)) {
        tuner_ask_info info;
        if (tuner_ask_ex(t, x, &info)) {
            fprintf(stderr, "bench_tuner kd: %s\n", kdt_errmsg());
            abort();
        }
        double y = lookup(info.fidelity < 1 ? pt->screen_val : pt->val, x);
        memcpy(out->x + out->n * 4, x, sizeof x);
        out->y[out->n++] = y;
        if (tuner_tell(t, y)) abort();
    }
    double xr[4], yr;
    if (tuner_recommend(t, xr, &yr)) abort();
    out->val_regret = pt->best_val - lookup(pt->val, xr);
    out->test_regret = pt->best_test - lookup(pt->test, xr);
    tuner_destroy(t);
    tuner_space_destroy(space);
}

static uint64_t run_seed(size_t seed, int pair) {
    rng r = rng_stream(1000 + seed, "bench.kd", (uint64_t)pair, 0);
    return rng_next(&r);
}

// Mean and the half-width of its 95% t interval over n values.
static void mean_ci(const double *v, size_t n, double *mean, double *half) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *half = n > 1 ? gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * sqrt(s2 / (double)(n - 1) / (double)n) : 0;
}

// The screening table: the same pairs and settings at the screening fidelity, into screen_val.
static int load_screen(const char *path, pair_table *pairs, int n_pairs) {
    static pair_table low[MAX_PAIRS];
    int n_low;
    if (load(path, low, &n_low)) return 1;
    for (int p = 0; p < n_pairs; p++) {
        if (p >= n_low || strcmp(low[p].name, pairs[p].name)) {
            fprintf(stderr, "bench_tuner kd: %s does not hold the main table's pairs in its order\n", path);
            return 1;
        }
        memcpy(pairs[p].screen_val, low[p].val, sizeof low[p].val);
    }
    return 0;
}

int bench_kd_main(int argc, char **argv) {
    size_t seeds = 10;
    const char *table = KDT_SOURCE_DIR "/bench/tuner/data/default_grid.csv";
    const char *screen_table = NULL;
    screening sc = {0.5, NAN}; // tuner.screen_fidelity's default
    bool use[TUNER_N_STRATEGIES] = {false}, any = false;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--table") && a + 1 < argc) table = argv[++a];
        else if (!strcmp(argv[a], "--screen-table") && a + 1 < argc) screen_table = argv[++a];
        else if (!strcmp(argv[a], "--screen-fidelity") && a + 1 < argc) sc.fidelity = atof(argv[++a]);
        else if (!strcmp(argv[a], "--screen-cost") && a + 1 < argc) sc.cost = atof(argv[++a]);
        else if (!strcmp(argv[a], "--seeds") && a + 1 < argc) seeds = (size_t)atoi(argv[++a]);
        else {
            tuner_strategy st;
            if (tuner_strategy_from_name(argv[a], &st)) {
                fprintf(stderr, "bench_tuner kd: %s\n", kdt_errmsg());
                return 2;
            }
            use[st] = any = true;
        }
    }
    if (seeds < 2 || seeds > MAX_SEEDS) {
        fprintf(stderr, "bench_tuner kd: --seeds takes 2 to %d\n", MAX_SEEDS);
        return 2;
    }
    // The measured time ratios of bench/tuner/fidelity_corr.py --cost-from (bench/tuner/FIDELITY.md).
    if (isnan(sc.cost)) sc.cost = sc.fidelity == 0.25 ? 0.48 : sc.fidelity == 0.5 ? 0.69 : NAN;
    if (!(sc.fidelity > 0 && sc.fidelity < 1) || !(sc.cost > 0 && sc.cost < 1)) {
        fprintf(stderr, "bench_tuner kd: --screen-fidelity and --screen-cost take values in (0, 1) (a cost is "
                        "known for fidelities 0.25 and 0.5 only)\n");
        return 2;
    }
    if (!any)
        use[TUNER_GP] = use[TUNER_BOBYQA] = use[TUNER_DIRECT_L] = use[TUNER_GP_TRANSFER] = use[TUNER_SCREEN] = true;
    use[TUNER_RANDOM] = true; // the anchor
    static pair_table pairs[MAX_PAIRS];
    int n_pairs;
    if (load(table, pairs, &n_pairs)) return 1;
    char screen_path[1024];
    if (!screen_table) { // beside the main table: default_grid_f0.25.csv for default_grid.csv
        const char *dot = strrchr(table, '.');
        int stem = dot ? (int)(dot - table) : (int)strlen(table);
        snprintf(screen_path, sizeof screen_path, "%.*s_f%g.csv", stem, table, sc.fidelity);
        screen_table = screen_path;
    }
    if (use[TUNER_SCREEN] && load_screen(screen_table, pairs, n_pairs)) return 1;
    const size_t paid[3] = {3, 7, 15};
    static double vr[TUNER_N_STRATEGIES][3][MAX_SEEDS], tr[TUNER_N_STRATEGIES][3][MAX_SEEDS];
    double t0 = timer_now();
    for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
        if (!use[st]) continue;
        for (int b = 0; b < 3; b++)
            for (size_t sd = 0; sd < seeds; sd++) {
                run_result res[MAX_PAIRS];
                // Waves: each pair of a wave sees the histories of every earlier wave; within a
                // wave the runs are independent (and may run on any thread).
                for (int w0 = 0; w0 < n_pairs; w0 += WAVE) {
                    int w1 = w0 + WAVE < n_pairs ? w0 + WAVE : n_pairs;
#pragma omp parallel for schedule(dynamic)
                    for (int p = w0; p < w1; p++)
                        run_one(&pairs[p], (tuner_strategy)st, paid[b], run_seed(sd, p), res,
                                st == TUNER_GP_TRANSFER ? (size_t)w0 : 0, &sc, &res[p]);
                }
                double sv = 0, stt = 0;
                for (int p = 0; p < n_pairs; p++) {
                    sv += res[p].val_regret, stt += res[p].test_regret;
                    free(res[p].x), free(res[p].y);
                }
                vr[st][b][sd] = 100 * sv / n_pairs, tr[st][b][sd] = 100 * stt / n_pairs;
            }
    }
    double secs = timer_now() - t0;
    double gbv = 0, gbt = 0;
    for (int p = 0; p < n_pairs; p++) gbv += pairs[p].best_val, gbt += pairs[p].best_test;
    printf("KD table %s: %d pairs x %d settings; grid's best: val gain %+.2f, test gain %+.2f points "
           "(mean over pairs)\n", table, n_pairs, NT * NA * NS * NP, 100 * gbv / n_pairs, 100 * gbt / n_pairs);
    printf("mean regret over pairs in accuracy points, mean over %zu seeds +- 95%% interval; 6 free\n"
           "default settings + b paid evaluations; (x) = ratio to random's mean at the same budget\n",
           seeds);
    if (use[TUNER_SCREEN])
        printf("screen: screens at fidelity %g from %s, each costing %g of a full evaluation\n", sc.fidelity,
               screen_table, sc.cost);
    printf("\n");
    for (int kind = 0; kind < 2; kind++) {
        printf("%s regret of the recommended point\n%-12s", kind ? "test" : "validation", "strategy");
        for (int b = 0; b < 3; b++) printf("   b = %2zu (%2.0f%% of grid)  ", paid[b], 100.0 * (double)paid[b] / 150);
        printf("\n");
        for (int st = 0; st < TUNER_N_STRATEGIES; st++) {
            if (!use[st]) continue;
            printf("%-12s", tuner_strategy_name((tuner_strategy)st));
            for (int b = 0; b < 3; b++) {
                double m, h, ma, ha;
                mean_ci(kind ? tr[st][b] : vr[st][b], seeds, &m, &h);
                mean_ci(kind ? tr[TUNER_RANDOM][b] : vr[TUNER_RANDOM][b], seeds, &ma, &ha);
                printf("   %5.2f +- %4.2f (%5.2fx)", m, h, ma > 0 ? m / ma : 0.0);
            }
            printf("\n");
        }
        if (use[TUNER_GP] && use[TUNER_GP_TRANSFER]) {
            // Paired by seed: both strategies tune the same pairs with the same tuner seeds.
            printf("%-12s", "tr. - gp");
            for (int b = 0; b < 3; b++) {
                double d[MAX_SEEDS], m, h;
                for (size_t sd = 0; sd < seeds; sd++)
                    d[sd] = kind ? tr[TUNER_GP_TRANSFER][b][sd] - tr[TUNER_GP][b][sd]
                                 : vr[TUNER_GP_TRANSFER][b][sd] - vr[TUNER_GP][b][sd];
                mean_ci(d, seeds, &m, &h);
                printf("  %+5.3f [%+5.3f, %+5.3f] ", m, m - h, m + h);
            }
            printf("  (gp_transfer minus gp, paired by seed, 95%%)\n");
        }
        printf("\n");
    }
    printf("%.1f s\n", secs);
    return 0;
}
