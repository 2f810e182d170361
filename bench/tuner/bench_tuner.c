// Tuner benchmark: the median regret of every strategy at budgets 10, 20 and 40 over 10 seeds on
// the test functions (Branin, mixed, noisy Branin), as a ratio to `random` at the same budget
// (the anchor, measured in the same run; < 1 beats it), and the tuner's own time per suggestion
// at 40 observations (median over seeds).
// Usage: bench_tuner [seeds (10)] [strategy names... (all)]
//        bench_tuner kd [--seeds N] [--table FILE] [strategy names...]   (bench_kd.c)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/tuner/bench_kd.h"
#include "common/log.h"
#include "common/timer.h"
#include "tests/tuner/testfun.h"
#include "tuner/compare.h"

enum { MAX_SEEDS = 100 };

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "kd")) {
        log_set_level(LOG_WARN);
        return bench_kd_main(argc - 1, argv + 1);
    }
    size_t seeds = argc > 1 ? (size_t)atoi(argv[1]) : 10;
    if (seeds < 1 || seeds > MAX_SEEDS) seeds = 10;
    bool use[TUNER_N_STRATEGIES];
    for (int s = 0; s < TUNER_N_STRATEGIES; s++) use[s] = argc <= 2;
    for (int a = 2; a < argc; a++) {
        tuner_strategy st;
        if (tuner_strategy_from_name(argv[a], &st)) {
            fprintf(stderr, "bench_tuner: %s\n", kdt_errmsg());
            return 2;
        }
        use[st] = true;
    }
    use[TUNER_RANDOM] = true; // the anchor
    log_set_level(LOG_WARN);
    const size_t budgets[3] = {10, 20, 40};
    static double med[TESTFUN_N][3][TUNER_N_STRATEGIES], tsug[TUNER_N_STRATEGIES];
    double reg[MAX_SEEDS], times[MAX_SEEDS], scratch[MAX_SEEDS];
    for (int k = 0; k < TESTFUN_N; k++)
        for (int b = 0; b < 3; b++)
            for (int s = 0; s < TUNER_N_STRATEGIES; s++) {
                if (!use[s]) continue;
                for (size_t i = 0; i < seeds; i++) {
                    size_t B = budgets[b];
                    bool timing = k == TESTFUN_MIXED && b == 2;
                    // timing runs: one more evaluation, so that the ask at 40 observations happens
                    reg[i] = testfun_run(k, s, timing ? B + 1 : B, 1000 + i, NULL,
                                         timing ? timer_now : NULL, 40, &times[i]);
                }
                med[k][b][s] = tuner_median(reg, seeds, scratch);
                if (k == TESTFUN_MIXED && b == 2) tsug[s] = tuner_median(times, seeds, scratch);
            }
    printf("median regret over %zu seeds (ratio to random at the same budget; < 1 beats it)\n",
           seeds);
    for (int k = 0; k < TESTFUN_N; k++) {
        printf("\n%s\n%-11s", testfun_names[k], "strategy");
        for (int b = 0; b < 3; b++) printf("  %21s", budgets[b] == 10 ? "budget 10" : budgets[b] == 20 ? "budget 20" : "budget 40");
        printf("\n");
        for (int s = 0; s < TUNER_N_STRATEGIES; s++) {
            if (!use[s]) continue;
            printf("%-11s", tuner_strategy_name(s));
            for (int b = 0; b < 3; b++) {
                double r = med[k][b][s], a = med[k][b][TUNER_RANDOM];
                printf("  %10.4g (%7.3fx)", r, a > 0 ? r / a : 0.0);
            }
            printf("\n");
        }
    }
    printf("\ntuner time per suggestion at 40 observations (mixed function, median over seeds;\n"
           "the ratio is to random's, and to the 50 ms target)\n");
    for (int s = 0; s < TUNER_N_STRATEGIES; s++)
        if (use[s])
            printf("%-11s %10.1f us  (%8.0fx random, %6.3fx target)\n", tuner_strategy_name(s),
                   1e6 * tsug[s], tsug[TUNER_RANDOM] > 0 ? tsug[s] / tsug[TUNER_RANDOM] : 0.0,
                   tsug[s] / 0.050);
    return 0;
}
