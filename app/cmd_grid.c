// `kdtune grid`: the exhaustive sweep of the config's grid on every pair (or --pairs), with the
// default setting for comparison.
#include "app/commands.h"
#include "app/pipeline.h"

static int run(const cli_args *args) {
    // --replicates is a shorthand for its config key.
    cli_args a = *args;
    char replicates[64];
    if (args->opt['R']) {
        snprintf(replicates, sizeof replicates, "grid.replicates=%s", args->opt['R']);
        if (a.n_overrides < CLI_MAX_OVERRIDES) a.overrides[a.n_overrides++] = replicates;
    }
    kdt_config cfg;
    kdt_status s = cli_load_config(&a, &cfg);
    if (s) return kdt_exit_code(s);
    pipeline p;
    s = pipeline_open(&p, &(pipeline_request){&cfg, args->opt['p'], true});
    if (!s) s = pipeline_run(&p, &(pipeline_phases){.defaults = true, .grid = true});
    pipeline_close(&p);
    return kdt_exit_code(s);
}

static const struct option options[] = {
    {"pairs", required_argument, NULL, 'p'}, {"replicates", required_argument, NULL, 'R'}, {0}};

const cli_command cmd_grid = {
    .name = "grid",
    .summary = "Run the exhaustive grid (T x alpha x transfer set x position x method) on every pair.",
    .usage = "[-c FILE] [-o DIR] [--pairs I-J,...] [--replicates R] [key.path=value ...]",
    .help = "  -p, --pairs LIST      only these pairs, e.g. 0-1,2-5 (default: all)\n"
            "      --replicates R    evaluate every point R times, each with another draw of the KD\n"
            "                        randomness (grid.replicates); the summary reports the noise\n"
            "\nThe grid is grid.temperatures x grid.alphas x grid.transfer_sets x grid.positions x\n"
            "grid.methods.\n"
            "Every evaluation is appended to DIR/trials.jsonl; run again to continue after an\n"
            "interruption (nothing evaluated is trained twice).\n",
    .options = options,
    .shortopts = "p:",
    .run = run,
};
