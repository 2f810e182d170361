// `kdtune tune`: tune every pair (or --pairs) with one or more strategies.
#include <stdlib.h>

#include "app/commands.h"
#include "app/pipeline.h"
#include "common/log.h"

static int run(const cli_args *args) {
    pipeline_phases ph = {.defaults = true};
    if (args->opt['s'] && pipeline_parse_strategies(args->opt['s'], &ph)) {
        log_error("%s", kdt_errmsg());
        return 2;
    }
    // --budget and --ordered are shorthands for their config keys.
    cli_args a = *args;
    char budget[64], replicates[64], ordered[] = "tuner.ordered=true";
    if (args->opt['b']) {
        snprintf(budget, sizeof budget, "tuner.budget=%s", args->opt['b']);
        if (a.n_overrides < CLI_MAX_OVERRIDES) a.overrides[a.n_overrides++] = budget;
    }
    if (args->opt['O'] && a.n_overrides < CLI_MAX_OVERRIDES) a.overrides[a.n_overrides++] = ordered;
    if (args->opt['R']) {
        snprintf(replicates, sizeof replicates, "tuner.replicates=%s", args->opt['R']);
        if (a.n_overrides < CLI_MAX_OVERRIDES) a.overrides[a.n_overrides++] = replicates;
    }
    kdt_config cfg;
    kdt_status s = cli_load_config(&a, &cfg);
    if (s) return kdt_exit_code(s);
    pipeline p;
    s = pipeline_open(&p, &(pipeline_request){&cfg, args->opt['p'], true});
    if (!s && !args->opt['s']) pipeline_config_strategies(p.cfg, &ph);
    if (!s && ph.n_strategies == 0) {
        s = kdt_fail(KDT_ERR_CONFIG, "no strategy to run: give --strategy or tuner.strategies");
        log_error("%s", kdt_errmsg());
    }
    if (!s) s = pipeline_run(&p, &ph);
    pipeline_close(&p);
    return kdt_exit_code(s);
}

static const struct option options[] = {
    {"strategy", required_argument, NULL, 's'}, {"budget", required_argument, NULL, 'b'},
    {"pairs", required_argument, NULL, 'p'},    {"ordered", no_argument, NULL, 'O'},
    {"replicates", required_argument, NULL, 'R'}, {0}};

const cli_command cmd_tune = {
    .name = "tune",
    .summary = "Tune (T, alpha, transfer set, position) of every pair with NLopt or GP strategies.",
    .usage = "[-c FILE] [-o DIR] [--strategy S[,S...]] [--budget N] [--pairs I-J,...] [--ordered] [--replicates R] "
             "[key.path=value ...]",
    .help = "  -s, --strategy LIST   gp, random, bobyqa, cobyla, neldermead, sbplx, direct_l\n"
            "                        (default: tuner.strategies)\n"
            "  -b, --budget N        evaluations per pair and strategy (tuner.budget)\n"
            "  -p, --pairs LIST      only these pairs, e.g. 0-1,2-5 (default: all)\n"
            "      --ordered         tune each ordered pair with the position fixed (tuner.ordered)\n"
            "      --replicates R    evaluate each final candidate R times, with fresh KD randomness,\n"
            "                        and pick by the mean (tuner.replicates; counts in the budget)\n"
            "\nThe default setting is evaluated for every pair too (both positions, every transfer\n"
            "set). Run again to continue after an interruption.\n",
    .options = options,
    .shortopts = "s:b:p:",
    .run = run,
};
